//! Scoped green threads: borrow from the caller's stack, like
//! `std::thread::scope`.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::JoinError;
use crate::green::{wait_complete_uninterruptible, GreenThread, JoinInner};
use crate::runtime::scheduler::NewTask;
use crate::runtime::task::{Run, Task, TaskRef};
use crate::runtime::Handle;

/// What a scope shares with the packets of its threads.
#[derive(Debug, Default)]
pub(crate) struct ScopeData {
    /// Every thread spawned in the scope, to wait for.
    tasks: Mutex<Vec<TaskRef>>,
    /// Set when a panic nobody joined is dropped (`green::Packet`).
    pub(crate) a_thread_panicked: AtomicBool,
}

/// A scope to spawn green threads that borrow from outside it; see
/// [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    handle: Handle,
    data: Arc<ScopeData>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// Runs `f` with a [`Scope`] whose green threads may borrow anything that
/// outlives the call; returns once all of them have finished.
///
/// Like `std::thread::scope`: if a green thread panicked and was not
/// joined, `scope` panics after all have finished; a panic of `f` resumes
/// after all have finished.
///
/// ```
/// let mut words = vec!["green", "threads"];
/// let total = std::sync::atomic::AtomicUsize::new(0);
/// verdant::scope(|s| {
///     for w in &words {
///         s.spawn(|| total.fetch_add(w.len(), std::sync::atomic::Ordering::Relaxed));
///     }
/// });
/// words.push("done"); // the borrows have ended
/// assert_eq!(total.into_inner(), 12);
/// ```
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        handle: Handle::current(),
        data: Arc::new(ScopeData::default()),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    // Every spawned thread, including those spawned by spawned threads,
    // must finish before any borrow they hold can end. Nothing may unwind
    // out of this wait: not a cancellation of the caller, not an expired
    // `timeout` around it (either would free the stack the threads borrow).
    loop {
        let batch = std::mem::take(&mut *scope.data.tasks.lock());
        if batch.is_empty() {
            break;
        }
        for task in batch {
            wait_complete_uninterruptible(&task);
        }
    }
    // Now that nothing borrows from us, what was deferred may unwind.
    if result.is_ok() {
        crate::runtime::interrupt::check_interrupts();
    }
    match result {
        Err(payload) => crate::runtime::interrupt::resume_unwind(payload),
        Ok(_) if scope.data.a_thread_panicked.load(Ordering::Relaxed) => {
            panic!("a scoped green thread panicked")
        }
        Ok(v) => v,
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a green thread that may borrow from outside the scope.
    ///
    /// # Panics
    ///
    /// Panics if the runtime has shut down.
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let typed = crate::Builder::new()
            .prepare(&self.handle, f, Some(self.data.clone()))
            .unwrap_or_else(|e| panic!("verdant::scope: spawn failed: {e}"));
        let scoped: Arc<Task<dyn Run + 'scope>> = typed.clone();
        // SAFETY: this only erases the lifetime `'scope` of the body's trait
        // object (same allocation, vtable and layout), so the scheduler can
        // hold it. Nothing borrowed for `'scope` is used after `'scope`
        // ends: `scope` does not return or unwind before
        // `wait_complete_uninterruptible` saw this thread complete (that
        // wait ignores cancellation and scoped deadlines, so unwinding
        // cannot cut it short), and a thread is marked complete only after
        // its function has been consumed (`Run::run`) or dropped
        // (`Run::drop_unrun`, called by every path that completes a thread
        // unrun). Its outcome, which may borrow too, is dropped within
        // `'scope` by the thread or by the handle (see `green::Packet`),
        // never by the allocation's drop, which may come later and then
        // finds nothing borrowed left to drop (`Packet` has no `Drop` impl
        // of its own that could touch `F` or `T`). A spawn the runtime
        // refuses drops its function inside `submit`, within `'scope`.
        let task: TaskRef = unsafe { std::mem::transmute::<Arc<Task<dyn Run + 'scope>>, TaskRef>(scoped) };
        self.handle
            .submit(NewTask { task: task.clone() })
            .unwrap_or_else(|e| panic!("verdant::scope: spawn failed: {e}"));
        // Only once queued: a thread that was never submitted (the runtime
        // has shut down) must not be waited for, or `scope` never returns.
        // A thread spawned by a scoped thread is pushed by that thread,
        // which is itself waited for, so none is missed.
        self.data.tasks.lock().push(task.clone());
        ScopedJoinHandle {
            inner: JoinInner::new(typed),
            task,
            scope: PhantomData,
        }
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

/// A handle to join a scoped green thread.
///
/// ```
/// let data = vec![1, 2, 3];
/// let sum = verdant::scope(|s| s.spawn(|| data.iter().sum::<i32>()).join().unwrap());
/// assert_eq!(sum, 6);
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    inner: JoinInner<'scope, T>,
    /// The same thread, as the runtime sees it (for [`Self::thread`]).
    task: TaskRef,
    scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the green thread and returns its value.
    pub fn join(self) -> Result<T, JoinError> {
        self.inner.join()
    }

    /// Whether it has finished.
    pub fn is_finished(&self) -> bool {
        self.task.is_complete()
    }

    /// The green thread.
    pub fn thread(&self) -> GreenThread {
        GreenThread::new(self.task.clone())
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle").field("id", &self.task.id).finish()
    }
}
