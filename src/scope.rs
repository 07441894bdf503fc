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
use crate::runtime::task::{self, JoinInner, TaskRef};
use crate::runtime::Handle;

/// What a scope shares with its threads.
#[derive(Debug, Default)]
pub(crate) struct ScopeData {
    /// Every thread spawned in the scope (to wait for, and to cancel), and
    /// whether the scope is cancelled.
    tasks: Mutex<Tasks>,
    /// Set when a panic nobody joined is dropped (see `runtime::task`'s
    /// stage protocol).
    pub(crate) a_thread_panicked: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
struct Tasks {
    list: Vec<TaskRef>,
    /// Once set, every thread of the scope is cancelled, also those
    /// spawned afterwards (by the scope's threads).
    cancelled: bool,
}

impl ScopeData {
    /// Cancels every thread of the scope, and those spawned into it later.
    fn cancel_all(&self) {
        let mut tasks = self.tasks.lock();
        tasks.cancelled = true;
        // `cancel` only sets a bit and schedules: it never parks.
        for task in &tasks.list {
            crate::green::cancel(task);
        }
    }

    /// The `i`th thread spawned, if there is one yet.
    fn task(&self, i: usize) -> Option<TaskRef> {
        self.tasks.lock().list.get(i).cloned()
    }
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
/// after all have finished. Unlike it, a scope is cancelled as a whole
/// (Trio's nurseries):
///
/// * when a scoped thread panics, or `f` panics, the scope cancels its
///   other threads at once: each unwinds from its next blocking call,
///   running its destructors, and its join reports
///   [`JoinError::is_cancelled`];
/// * when the green thread that runs `scope` is cancelled, or the deadline
///   of a [`crate::timeout`] around it passes, the scope cancels its
///   threads, waits for them, and only then lets the interrupt unwind out
///   of `scope` (the threads borrow its caller's stack, so it never
///   returns or unwinds before they have finished).
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
///
/// A panicking thread takes its siblings with it:
///
/// ```
/// use std::time::Duration;
/// let r = std::panic::catch_unwind(|| {
///     verdant::scope(|s| {
///         s.spawn(|| verdant::sleep(Duration::from_secs(3600))); // cancelled
///         s.spawn(|| panic!("boom"));
///     })
/// });
/// assert!(r.is_err()); // at once, not in an hour
/// ```
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope::new();
    run(&scope, || f(&scope), |_| false)
}

/// Runs a scope's body, then waits for its threads: the whole of
/// [`scope`] and [`try_scope`]. `fails(&value)` says whether what the body
/// returned cancels the threads (`try_scope`'s `Err`).
fn run<T>(scope: &Scope<'_, '_>, body: impl FnOnce() -> T, fails: impl FnOnce(&T) -> bool) -> T {
    let result = catch_unwind(AssertUnwindSafe(body));
    // A panicking body, an interrupted one (its owner was cancelled, or a
    // `timeout` around the scope elapsed) and a failed one take the
    // scope's threads with them.
    if result.as_ref().map_or(true, fails) {
        scope.data.cancel_all();
    }
    wait_for_threads(&scope.data);
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

/// Waits until every thread of the scope has finished, including those
/// spawned by its threads meanwhile (each is pushed before its spawner
/// finishes, so none is missed).
///
/// Nothing may unwind out of this wait: not a cancellation of the caller,
/// not an expired `timeout` around it (either would free the stack the
/// threads borrow). Either wakes the caller, though (a cancellation
/// unparks it; the `timeout` deadline is its park's deadline), and it then
/// cancels the scope's threads and goes on waiting: cancellation flows
/// down to the threads the scope owns.
fn wait_for_threads(data: &ScopeData) {
    use crate::runtime::interrupt::{interrupt_deadline, interrupted};
    let mut passed_down = false;
    let mut i = 0;
    while let Some(task) = data.task(i) {
        loop {
            // Looked at before every park, not only after a wakeup: the
            // wakeup of a cancellation may have been taken by an earlier
            // park (one that returned because its thread completed).
            if !passed_down && interrupted() {
                data.cancel_all();
                passed_down = true;
            }
            let deadline = if passed_down { None } else { interrupt_deadline() };
            if task::wait_complete_once(&task, deadline) {
                break;
            }
        }
        i += 1;
    }
}

impl<'scope> Scope<'scope, '_> {
    fn new() -> Self {
        Scope {
            handle: Handle::current(),
            data: Arc::new(ScopeData::default()),
            scope: PhantomData,
            env: PhantomData,
        }
    }

    /// Spawns a green thread that may borrow from outside the scope.
    ///
    /// If it panics, the scope cancels its other threads (see [`scope`]).
    ///
    /// # Panics
    ///
    /// Panics if the runtime has shut down; use
    /// [`Builder::spawn_scoped`](crate::Builder::spawn_scoped) to get an
    /// error instead.
    ///
    /// ```
    /// let v = verdant::scope(|s| s.spawn(|| 6 * 7).join().unwrap());
    /// assert_eq!(v, 42);
    /// ```
    #[track_caller]
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
    #[track_caller]
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
        // A panic cancels the other threads at once, then goes on to the
        // thread's top frame (and from there to its join, or the scope).
        let data: &'scope ScopeData = &self.data;
        let f = move || match catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => v,
            Err(payload) => {
                if !crate::runtime::interrupt::is_interrupt(&*payload) {
                    data.cancel_all();
                }
                crate::runtime::interrupt::resume_unwind(payload)
            }
        };
        let handle = handle.as_ref().unwrap_or(&self.handle);
        let spec = builder.spec(handle, Some(self.data.a_thread_panicked.clone()))?;
        // SAFETY: the contract of `parts_unchecked` is that the thread's
        // `NewTask` is consumed and its handle joined or dropped within
        // `'scope`. The handle is a `ScopedJoinHandle<'scope, _>`, which the
        // borrow checker keeps within `'scope` (on an error it is dropped
        // here). The `NewTask` is consumed
        // when the thread completes (it ran, or its function was dropped
        // unrun), and `scope` does not return or unwind before
        // `wait_for_threads` saw every thread it queued complete (that wait
        // never unwinds: it parks uninterruptibly and only looks at its
        // caller's interrupts in between). A spawn the runtime refuses
        // consumes the `NewTask` inside
        // `submit`, within `'scope`. What may outlive `'scope` is the
        // allocation itself (a stale timer entry), whose drop never touches
        // `F` or `T` (see `runtime::task`'s stage protocol).
        let (new, inner) = unsafe {
            if std::mem::size_of_val(&f) > MAX_INLINE_CLOSURE {
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
        let mut tasks = self.data.tasks.lock();
        if tasks.cancelled {
            crate::green::cancel(&task);
        }
        tasks.list.push(task);
        drop(tasks);
        Ok(ScopedJoinHandle {
            inner,
            scope: PhantomData,
        })
    }
}

/// A scope for fallible green threads; see [`try_scope`].
pub struct TryScope<'scope, 'env, E> {
    scope: Scope<'scope, 'env>,
    /// The first error a thread returned.
    error: Mutex<Option<E>>,
}

/// Runs `f` with a [`TryScope`] whose green threads return `Result`s; the
/// first `Err` cancels the scope and is returned (Go's `errgroup`, Java's
/// `StructuredTaskScope.ShutdownOnFailure`).
///
/// Like [`scope`], `try_scope` returns only once every thread has
/// finished, and its threads may borrow anything that outlives the call.
/// Then:
///
/// * When a thread returns `Err(e)`, the scope cancels all its threads at
///   once (they unwind from their next blocking call, running their
///   destructors), and `try_scope` returns `Err(e)` once they have
///   finished, whatever `f` returned. Only the first error is kept; later
///   ones are dropped. The failed thread's own join reports
///   [`JoinError::is_cancelled`], like its siblings': its error went to the
///   scope.
/// * When `f` itself returns `Err`, the threads are cancelled too, and
///   that error is returned (unless a thread's came first).
/// * Otherwise `f`'s `Ok` value is returned.
///
/// Panics, and the cancellation of the caller, behave as in [`scope`]; a
/// panic wins over an error.
///
/// ```
/// use std::time::Duration;
/// let r: Result<(), String> = verdant::try_scope(|s| {
///     s.spawn(|| {
///         verdant::sleep(Duration::from_secs(3600)); // cancelled at once
///         Ok(())
///     });
///     s.spawn(|| Err::<(), _>("no route to host".to_string()));
///     Ok(())
/// });
/// assert_eq!(r.unwrap_err(), "no route to host");
///
/// let words = ["a", "bb", "ccc"];
/// let total = verdant::try_scope(|s| {
///     let hs: Vec<_> = words.iter().map(|w| s.spawn(move || Ok::<_, String>(w.len()))).collect();
///     Ok(hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>())
/// });
/// assert_eq!(total, Ok(6));
/// ```
pub fn try_scope<'env, F, R, E>(f: F) -> Result<R, E>
where
    F: for<'scope> FnOnce(&'scope TryScope<'scope, 'env, E>) -> Result<R, E>,
    E: Send,
{
    let scope = TryScope {
        scope: Scope::new(),
        error: Mutex::new(None),
    };
    let r = run(&scope.scope, || f(&scope), Result::is_err);
    // Taken, not `into_inner`: `scope` stays borrowed for its `'scope`.
    let first = scope.error.lock().take();
    match first {
        Some(e) => Err(e),
        None => r,
    }
}

impl<'scope, E: Send> TryScope<'scope, '_, E> {
    /// Spawns a fallible green thread that may borrow from outside the
    /// scope. If it returns `Err`, the scope is cancelled and
    /// [`try_scope`] returns that error; the handle's join then reports a
    /// cancellation. `Ok(v)` joins as `v`.
    ///
    /// # Panics
    ///
    /// Panics if the runtime has shut down.
    ///
    /// ```
    /// let r = verdant::try_scope(|s| {
    ///     let h = s.spawn(|| "42".parse::<i32>());
    ///     Ok(h.join().unwrap() + 1)
    /// });
    /// assert_eq!(r, Ok(43));
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> Result<T, E> + Send + 'scope,
        T: Send + 'scope,
    {
        let error: &'scope Mutex<Option<E>> = &self.error;
        let data: &'scope ScopeData = &self.scope.data;
        self.scope.spawn(move || match f() {
            Ok(v) => v,
            Err(e) => {
                let later = {
                    let mut first = error.lock();
                    match *first {
                        None => {
                            *first = Some(e);
                            None
                        }
                        Some(_) => Some(e),
                    }
                };
                // Dropped outside the lock: its destructor may park.
                drop(later);
                data.cancel_all();
                crate::runtime::interrupt::unwind_as_cancelled()
            }
        })
    }
}

impl<E> fmt::Debug for TryScope<'_, '_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryScope")
            .field("scope", &self.scope)
            .field("failed", &self.error.lock().is_some())
            .finish()
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
    ///
    /// ```
    /// let n = 20;
    /// verdant::scope(|s| assert_eq!(s.spawn(|| n + 1).join().unwrap(), 21));
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        self.inner.join()
    }

    /// Whether it has finished.
    ///
    /// ```
    /// verdant::scope(|s| {
    ///     let h = s.spawn(|| ());
    ///     while !h.is_finished() {
    ///         verdant::yield_now();
    ///     }
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner.task().is_complete()
    }

    /// The green thread.
    ///
    /// ```
    /// verdant::scope(|s| {
    ///     let h = s.spawn(verdant::park);
    ///     h.thread().unpark();
    ///     h.join().unwrap();
    /// });
    /// ```
    pub fn thread(&self) -> GreenThread {
        GreenThread::new(self.inner.task().clone())
    }

    /// Cancels the green thread, as [`JoinHandle::cancel`](crate::JoinHandle::cancel)
    /// does: it unwinds from its next blocking call. This is not a failure
    /// of the scope: its other threads go on.
    ///
    /// ```
    /// use std::time::Duration;
    /// verdant::scope(|s| {
    ///     let h = s.spawn(|| verdant::sleep(Duration::from_secs(3600)));
    ///     h.cancel();
    ///     assert!(h.join().unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn cancel(&self) {
        crate::green::cancel(self.inner.task());
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.inner.task().id)
            .finish()
    }
}
