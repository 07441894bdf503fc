//! Green threads: `spawn`, `Builder`, `JoinHandle`, `current`, `yield_now`.
//!
//! The API is `std::thread`'s, so moving code onto green threads is a change
//! of `use` lines.

use std::fmt;
use std::io;
use std::num::NonZeroU64;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::error::JoinError;
use crate::runtime::coroutine::{self, Suspend};
use crate::runtime::park::{self, Waiter, Wake};
use crate::runtime::scheduler::NewTask;
use crate::runtime::task::{self, Header};
use crate::runtime::Handle;
use crate::scope::ScopeData;

/// Largest stack a green thread may ask for.
pub(crate) const MAX_STACK_SIZE: usize = 1 << 30;

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
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Handle::with_current(|handle| handle.spawn(f))
}

/// Configures a green thread before spawning it, like `std::thread::Builder`.
///
/// ```
/// let h = verdant::Builder::new()
///     .name("worker-7".into())
///     .stack_size(64 * 1024)
///     .spawn(|| verdant::current().unwrap().name().map(str::to_owned))
///     .unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("worker-7"));
/// ```
#[derive(Debug, Default)]
#[must_use = "a Builder does nothing until `spawn` is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    handle: Option<Handle>,
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

    /// Spawns the green thread.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the name contains a NUL byte or the stack size is
    /// outside 4 KiB..=1 GiB; an error if the runtime has shut down.
    pub fn spawn<F, T>(mut self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.handle.take() {
            Some(handle) => self.spawn_on(&handle, f),
            None => Handle::with_current(|handle| self.spawn_on(handle, f)),
        }
    }

    /// [`Builder::spawn`] on `handle`'s runtime.
    pub(crate) fn spawn_on<F, T>(self, handle: &Handle, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (task, packet, run) = self.prepare(handle, f, None)?;
        handle.submit(NewTask {
            task: task.clone(),
            run,
        })?;
        Ok(JoinHandle(JoinInner { task, packet }))
    }

    /// Builds the header and the type-erased body of a green thread. The
    /// body stores `f`'s outcome in the returned packet.
    pub(crate) fn prepare<'a, F, T>(
        self,
        handle: &Handle,
        f: F,
        scope: Option<Arc<ScopeData>>,
    ) -> io::Result<Prepared<'a, T>>
    where
        F: FnOnce() -> T + Send + 'a,
        T: Send + 'a,
    {
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
        let task = Arc::new(Header::new(
            task::next_id(),
            self.name.map(String::into_boxed_str),
            stack_size,
            Some(handle.shared.clone()),
        ));
        let packet = Arc::new(Packet {
            result: Mutex::new(None),
            scope,
        });
        let run = body(task.clone(), packet.clone(), f);
        Ok((task, packet, run))
    }
}

/// A green thread ready to submit: header, packet, type-erased body.
pub(crate) type Prepared<'a, T> = (Arc<Header>, Arc<Packet<T>>, Box<dyn FnOnce() + Send + 'a>);

/// Wraps `f`: catch its panic, apply a pending cancellation, store the
/// outcome. The returned closure never unwinds.
pub(crate) fn body<'a, F, T>(task: Arc<Header>, packet: Arc<Packet<T>>, f: F) -> Box<dyn FnOnce() + Send + 'a>
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    Box::new(move || {
        let finish = move || {
            let returned = catch_unwind(AssertUnwindSafe(f));
            // From here on its destructors (result, locals) may park
            // without being interrupted.
            task.finishing.store(true, std::sync::atomic::Ordering::Relaxed);
            let outcome = match returned {
                // Cancelled, but its code swallowed the cancellation and
                // returned: still report it as cancelled.
                Ok(_) if task.is_cancelled() => Err(JoinError::cancelled()),
                Ok(v) => Ok(v),
                Err(payload) => Err(JoinError::from_panic(payload)),
            };
            // Its green-thread locals die with it, on its own stack, while
            // it is still the running thread (their destructors may park).
            crate::local::drop_green_locals();
            *packet.result.lock() = Some(outcome);
            // With the handle detached this drops the outcome too.
            drop(packet);
        };
        // Nothing may unwind into the worker: a destructor that panics
        // here (a result or a local dropped above) ends the process, as a
        // panicking thread result does in std.
        if catch_unwind(AssertUnwindSafe(finish)).is_err() {
            abort("a green thread's result, panic payload or local panicked while being dropped");
        }
    })
}

/// Ends the process after a panic that nothing can report.
#[cold]
pub(crate) fn abort(what: &str) -> ! {
    eprintln!("verdant: fatal: {what}; aborting");
    std::process::abort()
}

/// Where a green thread leaves its outcome for `join`.
///
/// Two `Arc`s point at it: the thread's body (dropped when the body ends)
/// and the join handle. For a scoped thread the outcome, which may borrow
/// from the scope, is therefore dropped by one of them, within the scope.
pub(crate) struct Packet<T> {
    result: Mutex<Option<Result<T, JoinError>>>,
    scope: Option<Arc<ScopeData>>,
}

impl<T> Default for Packet<T> {
    fn default() -> Self {
        Packet {
            result: Mutex::new(None),
            scope: None,
        }
    }
}

impl<T> Drop for Packet<T> {
    fn drop(&mut self) {
        // A panic nobody joined makes the scope panic (as std's does).
        if let Some(scope) = &self.scope {
            if matches!(self.result.get_mut(), Some(Err(e)) if e.is_panic()) {
                scope
                    .a_thread_panicked
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

impl<T> Packet<T> {
    /// Takes a finished thread's outcome.
    pub(crate) fn take(&self, task: &Header) -> Result<T, JoinError> {
        match self.result.lock().take() {
            Some(outcome) => outcome,
            None => match task.failure.lock().take() {
                Some(e) => Err(JoinError::spawn(e)),
                // Never ran: cancelled before it started, or its runtime
                // shut down first.
                None => Err(JoinError::cancelled()),
            },
        }
    }
}

/// Blocks the caller (green or OS thread) until `task` completes or
/// `deadline` passes. Returns whether it completed.
///
/// Waiting for a `spawn_blocking` job is not interrupted by a cancellation
/// of the caller: the caller is cancelled when the job returns.
pub(crate) fn wait_complete(task: &Header, deadline: Option<Instant>) -> bool {
    // Blocking jobs have no scheduler: a green thread joining one is
    // cancelled only once the blocking call has returned.
    if task.shared.is_none() {
        let done = wait_with(task, deadline, park::park_deferring_cancel);
        if done {
            if let Some(me) = park::current_task() {
                park::check_cancelled(&me);
            }
        }
        return done;
    }
    wait_with(task, deadline, park::park)
}

/// Waits for `task` to complete, ignoring cancellation and scoped
/// deadlines meanwhile (the caller re-raises them afterwards with
/// `park::check_interrupts`): for `scope`, which must not unwind while
/// threads borrowing its caller's stack still run.
pub(crate) fn wait_complete_uninterruptible(task: &Header) {
    wait_with(task, None, park::park_uninterruptible);
}

fn wait_with(task: &Header, deadline: Option<Instant>, park: fn(Option<Instant>) -> Wake) -> bool {
    loop {
        if task.is_complete() {
            return true;
        }
        let key = task.joiners.lock().push(Waiter::current());
        let guard = Deregister { task, key };
        if task.is_complete() {
            continue;
        }
        let wake = park(deadline);
        drop(guard);
        if wake == Wake::TimedOut && !task.is_complete() {
            return false;
        }
    }
}

struct Deregister<'a> {
    task: &'a Header,
    key: u64,
}

impl Drop for Deregister<'_> {
    fn drop(&mut self) {
        self.task.joiners.lock().remove(self.key);
    }
}

/// The handle half shared by [`JoinHandle`] and scoped handles.
pub(crate) struct JoinInner<T> {
    pub(crate) task: Arc<Header>,
    pub(crate) packet: Arc<Packet<T>>,
}

impl<T> JoinInner<T> {
    pub(crate) fn join(self) -> Result<T, JoinError> {
        wait_complete(&self.task, None);
        self.packet.take(&self.task)
    }

    pub(crate) fn thread(&self) -> GreenThread {
        GreenThread {
            task: self.task.clone(),
        }
    }
}

/// An owned permission to join a green thread, like
/// `std::thread::JoinHandle`. Dropping it detaches the thread.
///
/// ```
/// let h = verdant::spawn(|| "done");
/// assert_eq!(h.join().unwrap(), "done");
/// ```
pub struct JoinHandle<T>(pub(crate) JoinInner<T>);

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
        self.0.task.is_complete()
    }

    /// The green thread's id.
    ///
    /// ```
    /// let h = verdant::spawn(|| verdant::current().unwrap().id());
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
        self.0.thread()
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
        cancel(&self.0.task);
    }
}

pub(crate) fn cancel(task: &Arc<Header>) {
    if task.is_complete() {
        return;
    }
    task.cancel();
    if task.is_started() {
        park::unpark_task(task);
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.0.task.id)
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

/// A handle to a green thread, like `std::thread::Thread`.
///
/// ```
/// let me = verdant::spawn(|| verdant::current().unwrap()).join().unwrap();
/// assert!(me.name().is_none());
/// ```
#[derive(Clone)]
pub struct GreenThread {
    task: Arc<Header>,
}

impl GreenThread {
    /// Its id.
    pub fn id(&self) -> GreenId {
        GreenId(NonZeroU64::new(self.task.id).expect("ids start at 1"))
    }

    /// Its name, if it was given one with [`Builder::name`].
    pub fn name(&self) -> Option<&str> {
        self.task.name.as_deref()
    }

    /// Wakes it from [`park()`] (or makes its next `park` return at once),
    /// like `std::thread::Thread::unpark`.
    ///
    /// ```
    /// let h = verdant::spawn(|| verdant::park());
    /// h.thread().unpark();
    /// h.join().unwrap();
    /// ```
    pub fn unpark(&self) {
        park::unpark_task(&self.task);
    }
}

impl fmt::Debug for GreenThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenThread")
            .field("id", &self.task.id)
            .field("name", &self.task.name)
            .finish()
    }
}

/// The green thread that calls this, or `None` on a plain OS thread.
///
/// ```
/// assert!(verdant::current().is_none());
/// let inside = verdant::spawn(|| verdant::current().is_some());
/// assert!(inside.join().unwrap());
/// ```
pub fn current() -> Option<GreenThread> {
    park::current_task().map(|task| GreenThread { task })
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
        Some(true) => park::cancelled_unwind(),
        Some(false) => {}
        None => std::thread::yield_now(),
    }
}

/// Blocks until [`GreenThread::unpark`] is called (or spuriously), like
/// `std::thread::park`; on a plain OS thread it is `std::thread::park`.
///
/// ```
/// let h = verdant::spawn(|| verdant::park());
/// h.thread().unpark();
/// h.join().unwrap();
/// ```
pub fn park() {
    park::park(None);
}
