//! Green threads: `spawn`, `Builder`, `JoinHandle`, `current`, `yield_now`.
//!
//! The API is `std::thread`'s, so moving code onto green threads is a change
//! of `use` lines.

use std::fmt;
use std::io;
use std::num::{NonZeroU64, NonZeroUsize};
use std::panic::Location;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::JoinError;
use crate::runtime::context;
use crate::runtime::coroutine::{self, Suspend};
use crate::runtime::interrupt;
use crate::runtime::park::{self, OsParker};
use crate::runtime::task::{self, Completion, Header, JoinInner, Spec, TaskRef, Wait};
use crate::runtime::{Handle, Runtime, MAX_STACK_SIZE};
use crate::scope::{Scope, ScopedJoinHandle};

/// Spawns a green thread running `f` on the current runtime, returning a
/// handle to join it.
///
/// "Current runtime" is the one whose green thread calls `spawn`, else the
/// default global runtime, started on first use. Like
/// `std::thread::spawn`, dropping the handle detaches the green thread.
///
/// ```
/// let h = verdant::spawn(|| 40 + 2);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let at = Location::caller();
    Handle::with_current(|handle| {
        crate::Builder::new()
            .at(at)
            .spawn_on(handle, f)
            .unwrap_or_else(|e| panic!("verdant::spawn failed: {e}"))
    })
}

/// Configures a green thread before spawning it, like `std::thread::Builder`.
///
/// ```
/// let h = verdant::Builder::new()
///     .name("worker-7".into())
///     .stack_size(64 * 1024)
///     .spawn(|| verdant::current().name().map(str::to_owned))
///     .unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("worker-7"));
/// ```
#[derive(Debug, Default)]
#[must_use = "a Builder does nothing until `spawn` is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    handle: Option<Handle>,
    /// Where the spawn was called, when a closure stood in between (else
    /// `#[track_caller]` finds it).
    at: Option<&'static Location<'static>>,
}

impl Builder {
    /// A builder with the runtime's defaults.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the green thread (shown by [`current`], the watchdog and the
    /// stack-overflow message).
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Stack size in bytes (rounded up to whole pages). The memory is
    /// reserved, not committed: pages are touched as the stack grows.
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Spawns on `handle`'s runtime rather than the current one.
    pub fn runtime(mut self, handle: &Handle) -> Builder {
        self.handle = Some(handle.clone());
        self
    }

    /// The spawn location a dump shows, captured by a caller that reaches
    /// the spawn through a closure.
    pub(crate) fn at(mut self, at: &'static Location<'static>) -> Builder {
        self.at = Some(at);
        self
    }

    /// Spawns the green thread.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the name contains a NUL byte or the stack size is
    /// outside 4 KiB..=1 GiB; an error if the runtime has shut down.
    #[track_caller]
    pub fn spawn<F, T>(mut self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.at.is_none() {
            self.at = Some(Location::caller());
        }
        match self.handle.take() {
            Some(handle) => self.spawn_on(&handle, f),
            None => Handle::with_current(|handle| self.spawn_on(handle, f)),
        }
    }

    /// Spawns a green thread in `scope` with these settings, like
    /// `std::thread::Builder::spawn_scoped` (see [`crate::scope`]).
    ///
    /// # Errors
    ///
    /// As [`Builder::spawn`].
    ///
    /// ```
    /// let mut hits = 0;
    /// verdant::scope(|s| {
    ///     verdant::Builder::new()
    ///         .name("counter".into())
    ///         .spawn_scoped(s, || hits += 1)
    ///         .unwrap();
    /// });
    /// assert_eq!(hits, 1);
    /// ```
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        mut self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let handle = self.handle.take();
        scope.spawn_with(self, handle, f)
    }

    /// [`Builder::spawn`] on `handle`'s runtime.
    #[track_caller]
    pub(crate) fn spawn_on<F, T>(self, handle: &Handle, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_watched(handle, None, f)
    }

    /// [`Builder::spawn_on`], telling `completion` when the thread
    /// completes (a [`crate::Group`]'s completion queue).
    #[track_caller]
    pub(crate) fn spawn_watched<F, T>(
        self,
        handle: &Handle,
        completion: Option<Arc<dyn Completion>>,
        f: F,
    ) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let spec = self.spec(handle, None)?;
        let (new, join) = if std::mem::size_of::<F>() > MAX_INLINE_CLOSURE {
            task::parts(spec, boxed(f))
        } else {
            task::parts(spec, f)
        };
        if let Some(c) = completion {
            // Before it is submitted: it cannot have completed yet.
            join.header().set_completion(c);
        }
        handle.submit(new)?;
        Ok(JoinHandle(join))
    }

    /// Checks the settings and turns them into a task's [`Spec`].
    #[track_caller]
    pub(crate) fn spec(self, handle: &Handle, unjoined_panic: Option<Arc<AtomicBool>>) -> io::Result<Spec> {
        if self.name.as_deref().is_some_and(|n| n.contains('\0')) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "green thread name may not contain NUL bytes",
            ));
        }
        let stack_size = self.stack_size.unwrap_or(handle.shared.config.stack_size);
        if !(4096..=MAX_STACK_SIZE).contains(&stack_size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("green thread stack size {stack_size} is outside 4096..={MAX_STACK_SIZE} bytes"),
            ));
        }
        Ok(Spec {
            name: self.name.map(String::into_boxed_str),
            stack_size,
            shared: Some(handle.shared.clone()),
            unjoined_panic,
            location: match self.at {
                Some(at) => at,
                None => Location::caller(),
            },
        })
    }
}

/// Closures larger than this (bytes of captures) are boxed, not stored in
/// the green thread's allocation: the allocation can outlive the thread for
/// a while (stale timer entries, wait lists), a boxed closure is freed when
/// the thread starts.
pub(crate) const MAX_INLINE_CLOSURE: usize = 256;

/// `f` in a box of its own (see [`MAX_INLINE_CLOSURE`]).
pub(crate) fn boxed<'a, F, T>(f: F) -> Box<dyn FnOnce() -> T + Send + 'a>
where
    F: FnOnce() -> T + Send + 'a,
{
    Box::new(f)
}

/// Blocks the caller (green or OS thread) until `task` completes or
/// `deadline` passes. Returns whether it completed.
pub(crate) fn wait_complete(task: &Header, deadline: Option<Instant>) -> bool {
    task::wait_complete(task, deadline, Wait::Interruptible)
}

/// An owned permission to join a green thread, like
/// `std::thread::JoinHandle`. Dropping it detaches the thread.
///
/// ```
/// let h = verdant::spawn(|| "done");
/// assert_eq!(h.join().unwrap(), "done");
/// ```
pub struct JoinHandle<T>(pub(crate) JoinInner<'static, T>);

impl<T> JoinHandle<T> {
    /// Waits for the green thread to finish and returns its value, or why
    /// there is none. Parks a green caller; blocks an OS-thread caller.
    ///
    /// ```
    /// let h = verdant::spawn(|| panic!("oops"));
    /// assert!(h.join().unwrap_err().is_panic());
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        self.0.join()
    }

    /// Whether the green thread has finished (its outcome is ready).
    ///
    /// ```
    /// let h = verdant::spawn(|| ());
    /// while !h.is_finished() {
    ///     verdant::yield_now();
    /// }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.0.task().is_complete()
    }

    /// Like [`join`](JoinHandle::join), waiting at most `dur`: the thread's
    /// outcome if it finished in time, else the handle back (`Err`), to
    /// join later, [`cancel`](JoinHandle::cancel) or drop (gevent's
    /// `join(timeout)`; std has none). Inside [`crate::timeout`], an
    /// expired deadline unwinds, as for `join`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = verdant::spawn(|| verdant::sleep(Duration::from_secs(3600)));
    /// let h = h.join_timeout(Duration::from_millis(5)).unwrap_err(); // still running
    /// h.cancel();
    /// let outcome = h.join_timeout(Duration::from_secs(60)).unwrap();
    /// assert!(outcome.unwrap_err().is_cancelled());
    /// ```
    pub fn join_timeout(self, dur: Duration) -> Result<Result<T, JoinError>, JoinHandle<T>> {
        match Instant::now().checked_add(dur) {
            Some(deadline) => self.join_deadline(deadline),
            None => Ok(self.join()),
        }
    }

    /// Like [`join_timeout`](JoinHandle::join_timeout), waiting until
    /// `deadline` at most.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let h = verdant::spawn(|| 7);
    /// let r = h.join_deadline(Instant::now() + Duration::from_secs(60));
    /// assert_eq!(r.unwrap().unwrap(), 7);
    /// ```
    pub fn join_deadline(self, deadline: Instant) -> Result<Result<T, JoinError>, JoinHandle<T>> {
        if wait_complete(self.0.header(), Some(deadline)) {
            Ok(self.join())
        } else {
            Err(self)
        }
    }

    /// The green thread's id.
    ///
    /// ```
    /// let h = verdant::spawn(|| verdant::current().id());
    /// let id = h.id();
    /// assert_eq!(h.join().unwrap(), id);
    /// ```
    pub fn id(&self) -> GreenId {
        self.thread().id()
    }

    /// The green thread (id, name; `unpark`).
    ///
    /// ```
    /// let h = verdant::Builder::new().name("x".into()).spawn(|| ()).unwrap();
    /// assert_eq!(h.thread().name(), Some("x"));
    /// ```
    pub fn thread(&self) -> GreenThread {
        GreenThread::new(self.0.task().clone())
    }

    /// Asks the green thread to stop: it unwinds from its next park point
    /// (at once if it is parked now), running its destructors; `join` then
    /// reports [`JoinError::is_cancelled`]. A thread that has not started
    /// never runs. No effect once it has finished.
    ///
    /// ```
    /// let h = verdant::spawn(|| verdant::sleep(std::time::Duration::from_secs(3600)));
    /// h.cancel();
    /// assert!(h.join().unwrap_err().is_cancelled());
    /// ```
    pub fn cancel(&self) {
        cancel(self.0.task());
    }
}

/// Cancels `task`: marks it, and wakes it if it has started so that it
/// sees the mark at its park point (an unstarted one never runs).
pub(crate) fn cancel(task: &TaskRef) {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "verdant::cancel", thread = task.id, "green thread cancelled");
    if !task.is_complete() && task.state.cancel() {
        park::unpark_task(task);
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.0.task().id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// A green thread's unique id (never reused in a process).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct GreenId(NonZeroU64);

impl GreenId {
    /// The id as a number (starting at 1).
    ///
    /// ```
    /// let id = verdant::spawn(|| ()).id();
    /// assert!(id.as_u64() >= 1);
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for GreenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A handle to a thread, like `std::thread::Thread`: a green thread, or
/// (from [`current()`] on a plain OS thread) that OS thread.
///
/// Both kinds have an id, a name and [`unpark`](GreenThread::unpark);
/// [`is_green`](GreenThread::is_green) tells them apart.
///
/// ```
/// let me = verdant::spawn(verdant::current).join().unwrap();
/// assert!(me.is_green());
/// assert!(me.name().is_none());
/// ```
#[derive(Clone)]
pub struct GreenThread {
    inner: Kind,
}

#[derive(Clone)]
enum Kind {
    Green(TaskRef),
    Os(Arc<OsParker>),
}

impl GreenThread {
    pub(crate) fn new(task: TaskRef) -> GreenThread {
        GreenThread {
            inner: Kind::Green(task),
        }
    }

    /// Its id: unique among green threads and the OS threads that called
    /// [`current()`], never reused.
    ///
    /// ```
    /// assert_eq!(verdant::current().id(), verdant::current().id());
    /// ```
    pub fn id(&self) -> GreenId {
        let id = match &self.inner {
            Kind::Green(task) => task.id,
            Kind::Os(parker) => parker.id(),
        };
        GreenId(NonZeroU64::new(id).expect("ids start at 1"))
    }

    /// Its name: for a green thread the one given with [`Builder::name`];
    /// for an OS thread std's (`std::thread::current().name()`).
    ///
    /// ```
    /// let name = std::thread::Builder::new()
    ///     .name("plain".into())
    ///     .spawn(|| verdant::current().name().map(str::to_owned))
    ///     .unwrap()
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(name.as_deref(), Some("plain"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        match &self.inner {
            Kind::Green(task) => task.name.as_deref(),
            Kind::Os(parker) => parker.thread().name(),
        }
    }

    /// Whether this is a green thread (`false`: a plain OS thread).
    ///
    /// ```
    /// assert!(!verdant::current().is_green());
    /// assert!(verdant::spawn(|| verdant::current().is_green()).join().unwrap());
    /// ```
    pub fn is_green(&self) -> bool {
        matches!(self.inner, Kind::Green(_))
    }

    /// Wakes it from [`park()`] (or makes its next `park` return at once),
    /// like `std::thread::Thread::unpark`; an OS thread parked in
    /// [`park()`] or [`park_timeout`] is woken too.
    ///
    /// ```
    /// let h = verdant::spawn(|| verdant::park());
    /// h.thread().unpark();
    /// h.join().unwrap();
    /// ```
    pub fn unpark(&self) {
        match &self.inner {
            Kind::Green(task) => park::unpark_task(task),
            Kind::Os(parker) => parker.unpark(),
        }
    }
}

impl fmt::Debug for GreenThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenThread")
            .field("id", &self.id().as_u64())
            .field("name", &self.name())
            .field("green", &self.is_green())
            .finish()
    }
}

/// `std::thread::Thread`'s name here, so that `use verdant::Thread` is
/// the whole change.
///
/// ```
/// let t: verdant::Thread = verdant::current();
/// t.unpark();
/// ```
pub type Thread = GreenThread;

/// `std::thread::ThreadId`'s name here (see [`GreenId`]).
///
/// ```
/// let id: verdant::ThreadId = verdant::current().id();
/// assert!(id.as_u64() >= 1);
/// ```
pub type ThreadId = GreenId;

/// A handle to the calling thread, like `std::thread::current()`: the green
/// thread that calls it, or on a plain OS thread that OS thread (its name
/// is std's; see [`GreenThread::is_green`]).
///
/// ```
/// let inside = verdant::spawn(|| verdant::current().is_green());
/// assert!(inside.join().unwrap());
/// assert!(!verdant::current().is_green());
/// ```
pub fn current() -> GreenThread {
    match park::current_task() {
        Some(task) => GreenThread::new(task),
        None => GreenThread {
            inner: Kind::Os(context::os_parker()),
        },
    }
}

/// Lets other green threads of this worker run, then continues. On a plain
/// OS thread: `std::thread::yield_now`.
///
/// ```
/// verdant::spawn(|| for _ in 0..3 { verdant::yield_now() }).join().unwrap();
/// ```
// Inlined for the same reason as `coroutine::try_suspend`.
#[inline]
pub fn yield_now() {
    match coroutine::try_suspend(Suspend::Yield) {
        Some(true) => interrupt::cancelled_unwind(),
        Some(false) => {}
        None => std::thread::yield_now(),
    }
}

/// Blocks until [`GreenThread::unpark`] is called (or spuriously), like
/// `std::thread::park`: a green thread parks (its worker runs others), a
/// plain OS thread blocks.
///
/// ```
/// let h = verdant::spawn(|| verdant::park());
/// h.thread().unpark();
/// h.join().unwrap();
/// ```
pub fn park() {
    task::why::note(task::why::Why::Park, 0);
    park::park(None);
}

/// Like [`park()`], but returns after at most `dur` too, like
/// `std::thread::park_timeout`: on green and on plain OS threads.
///
/// ```
/// use std::time::Duration;
/// verdant::park_timeout(Duration::from_millis(1)); // nobody unparks: times out
/// verdant::spawn(|| verdant::park_timeout(Duration::from_millis(1))).join().unwrap();
/// ```
pub fn park_timeout(dur: Duration) {
    task::why::note(task::why::Why::Park, 0);
    park::park(Instant::now().checked_add(dur));
}

/// An estimate of the parallelism available to the program: exactly
/// `std::thread::available_parallelism` (the runtime's worker count is
/// [`RuntimeBuilder::workers`](crate::RuntimeBuilder::workers)'s business).
///
/// # Errors
///
/// As std's: the platform could not tell.
///
/// ```
/// let n = verdant::available_parallelism().map_or(1, |n| n.get());
/// assert!(n >= 1);
/// ```
pub fn available_parallelism() -> io::Result<NonZeroUsize> {
    std::thread::available_parallelism()
}

/// Whether the calling thread is unwinding, like `std::thread::panicking`
/// (true in a destructor run by a panic, and, on a green thread, by a
/// cancellation or an elapsed [`crate::timeout`], which unwind too).
///
/// On a green thread this is that green thread's own state: std's
/// `thread::panicking()` reports the worker OS thread, which is also true
/// for the other green threads of the worker while one of them unwinds
/// through a blocking call.
///
/// ```
/// assert!(!verdant::panicking());
/// struct Check;
/// impl Drop for Check {
///     fn drop(&mut self) {
///         assert!(verdant::panicking());
///     }
/// }
/// let h = verdant::spawn(|| {
///     let _c = Check;
///     panic!("unwinds through Check");
/// });
/// assert!(h.join().is_err());
/// ```
pub fn panicking() -> bool {
    crate::runtime::interrupt::is_unwinding_now()
}

// Spawning is the green-thread API's business; the runtime layer below
// knows tasks, not `JoinHandle`s.
impl Runtime {
    /// Spawns a green thread on this runtime (see [`crate::spawn`]).
    ///
    /// ```
    /// let rt = verdant::Runtime::new().unwrap();
    /// assert_eq!(rt.spawn(|| 7).join().unwrap(), 7);
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.handle().spawn(f)
    }

    /// Runs `f` as a green thread of this runtime and blocks the caller
    /// until it returns; a panic in `f` resumes in the caller.
    ///
    /// ```
    /// let rt = verdant::Runtime::new().unwrap();
    /// let sum = rt.block_on(|| {
    ///     let hs: Vec<_> = (0..10).map(|i| verdant::spawn(move || i)).collect();
    ///     hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
    /// });
    /// assert_eq!(sum, 45);
    /// ```
    #[track_caller]
    pub fn block_on<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.handle().block_on(f)
    }
}

impl Handle {
    /// Spawns a green thread on this runtime.
    ///
    /// # Panics
    ///
    /// Panics if the runtime has shut down; use [`crate::Builder::spawn`]
    /// to get an error instead.
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        crate::Builder::new()
            .spawn_on(self, f)
            .unwrap_or_else(|e| panic!("verdant::spawn failed: {e}"))
    }

    /// See [`Runtime::block_on`].
    #[track_caller]
    pub fn block_on<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.spawn(f).join() {
            Ok(v) => v,
            Err(e) => match e.try_into_panic() {
                Ok(payload) => interrupt::resume_unwind(payload),
                Err(e) => panic!("verdant: block_on: {e}"),
            },
        }
    }
}
