//! Scoped green threads: borrow from the caller's stack, like
//! `std::thread::scope`.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::JoinError;
use crate::green::{boxed, GreenThread, MAX_INLINE_CLOSURE};
use crate::runtime::task::{self, JoinInner, TaskRef, Wait};
use crate::runtime::Handle;

/// What a scope shares with the packets of its threads.
#[derive(Debug, Default)]
pub(crate) struct ScopeData {
    /// Every thread spawned in the scope, to wait for.
    tasks: Mutex<Vec<TaskRef>>,
    /// Set when a panic nobody joined is dropped (see `runtime::task`'s
    /// stage protocol).
    pub(crate) a_thread_panicked: Arc<AtomicBool>,
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
            task::wait_complete(&task, None, Wait::Uninterruptible);
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
    /// Panics if the runtime has shut down; use
    /// [`Builder::spawn_scoped`](crate::Builder::spawn_scoped) to get an
    /// error instead.
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.spawn_with(crate::Builder::new(), None, f)
            .unwrap_or_else(|e| panic!("verdant::scope: spawn failed: {e}"))
    }

    /// Spawns with `builder`'s settings, on `handle`'s runtime if given
    /// (else the scope's).
    pub(crate) fn spawn_with<F, T>(
        &'scope self,
        builder: crate::Builder,
        handle: Option<Handle>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let handle = handle.as_ref().unwrap_or(&self.handle);
        let spec = builder.spec(handle, Some(self.data.a_thread_panicked.clone()))?;
        // SAFETY: the contract of `parts_unchecked` is that the thread's
        // `NewTask` is consumed and its handle joined or dropped within
        // `'scope`. The handle is a `ScopedJoinHandle<'scope, _>`, which the
        // borrow checker keeps within `'scope` (on an error it is dropped
        // here). The `NewTask` is consumed
        // when the thread completes (it ran, or its function was dropped
        // unrun), and `scope` does not return or unwind before
        // `wait_complete` saw every thread it queued complete (that wait
        // ignores cancellation and timeouts, so unwinding cannot cut it
        // short). A spawn the runtime refuses consumes the `NewTask` inside
        // `submit`, within `'scope`. What may outlive `'scope` is the
        // allocation itself (a stale timer entry), whose drop never touches
        // `F` or `T` (see `runtime::task`'s stage protocol).
        let (new, inner) = unsafe {
            if std::mem::size_of::<F>() > MAX_INLINE_CLOSURE {
                task::parts_unchecked(spec, boxed(f))
            } else {
                task::parts_unchecked(spec, f)
            }
        };
        let task = inner.task().clone();
        handle.submit(new)?;
        // Only once queued: a thread that was never submitted (the runtime
        // has shut down) must not be waited for, or `scope` never returns.
        // A thread spawned by a scoped thread is pushed by that thread,
        // which is itself waited for, so none is missed.
        self.data.tasks.lock().push(task);
        Ok(ScopedJoinHandle {
            inner,
            scope: PhantomData,
        })
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
    scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the green thread and returns its value.
    pub fn join(self) -> Result<T, JoinError> {
        self.inner.join()
    }

    /// Whether it has finished.
    pub fn is_finished(&self) -> bool {
        self.inner.task().is_complete()
    }

    /// The green thread.
    pub fn thread(&self) -> GreenThread {
        GreenThread::new(self.inner.task().clone())
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.inner.task().id)
            .finish()
    }
}
