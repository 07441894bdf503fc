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
use crate::runtime::interrupt;
use crate::runtime::park::{self, Waiter, Wake};
use crate::runtime::scheduler::NewTask;
use crate::runtime::task::{self, Header, Run, Task, TaskRef};
use crate::runtime::{abort, Handle, Runtime, MAX_STACK_SIZE};
use crate::scope::ScopeData;

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
        let task = self.prepare(handle, f, None)?;
        handle.submit(NewTask { task: task.clone() })?;
        Ok(JoinHandle(JoinInner::new(task)))
    }

    /// Builds a green thread (header and body, one allocation) that runs
    /// `f` and keeps its outcome for `join`.
    pub(crate) fn prepare<'a, F, T>(
        self,
        handle: &Handle,
        f: F,
        scope: Option<Arc<ScopeData>>,
    ) -> io::Result<Arc<Task<dyn Outcome<T> + 'a>>>
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
        let header = Header::new(
            task::next_id(),
            self.name.map(String::into_boxed_str),
            stack_size,
            Some(handle.shared.clone()),
        );
        // The allocation can outlive the thread for a while (stale timer
        // entries, wait lists): a closure with large captures goes in its
        // own box, freed when the thread starts, rather than inline.
        if std::mem::size_of::<F>() > MAX_INLINE_CLOSURE {
            let boxed: Box<dyn FnOnce() -> T + Send + 'a> = Box::new(f);
            return Ok(Packet::task(header, boxed, scope));
        }
        Ok(Packet::task(header, f, scope))
    }
}

/// Closures larger than this (bytes of captures) are boxed, not stored in
/// the green thread's allocation.
const MAX_INLINE_CLOSURE: usize = 256;

/// The body of a green thread: its function until it runs, then its
/// outcome until `join` takes it.
///
/// It lives in the thread's [`Task`] allocation, which wait lists, timers
/// and stale queue entries may keep alive for a while after the thread
/// ended, so the outcome is not left to the allocation's drop. Whoever
/// comes second drops it: the thread finishing after its handle was
/// dropped (on its own stack, where a destructor may still park), or the
/// handle dropped after the thread finished. For a scoped thread both
/// happen within the scope, so values borrowed from it are never dropped
/// after it (and `scope` only returns once every thread is complete, by
/// which time its function has been consumed or dropped).
///
/// `Packet` must not get a `Drop` impl that touches `F` or `T`: the
/// allocation of a scoped thread may be freed after its scope (see
/// `Scope::spawn`). The closure's and the outcome's memory stays allocated
/// as long as the task does; their values do not.
pub(crate) struct Packet<F, T> {
    slot: Mutex<Slot<F, T>>,
    /// The scope of a scoped thread: told when a panic nobody joined is
    /// dropped (it then panics, as `std::thread::scope` does).
    scope: Option<Arc<ScopeData>>,
}

struct Slot<F, T> {
    stage: Stage<F, T>,
    /// The join handle is gone: nobody will take the outcome.
    detached: bool,
}

enum Stage<F, T> {
    /// Not started.
    Unrun(F),
    /// Running, or its function was dropped unrun: no outcome (yet).
    Empty,
    /// Finished; the outcome waits for `join`.
    Done(Result<T, JoinError>),
}

/// The typed view of a green thread's body that its join handle has.
pub(crate) trait Outcome<T>: Run {
    /// The outcome of a finished thread, once.
    fn take(&self) -> Option<Result<T, JoinError>>;
    /// The handle is gone: drop the outcome now or when it comes.
    fn detach(&self);
}

impl<F, T> Packet<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    pub(crate) fn task(header: Header, f: F, scope: Option<Arc<ScopeData>>) -> Arc<Task<Packet<F, T>>> {
        Arc::new(Task {
            header,
            body: Packet {
                slot: Mutex::new(Slot {
                    stage: Stage::Unrun(f),
                    detached: false,
                }),
                scope,
            },
        })
    }

    /// Hands the outcome over, or drops it if nobody will take it.
    fn store(&self, outcome: Result<T, JoinError>) {
        let mut slot = self.slot.lock();
        if slot.detached {
            drop(slot);
            self.discard(outcome);
        } else {
            slot.stage = Stage::Done(outcome);
        }
    }

    /// Drops an outcome nobody joined.
    fn discard(&self, outcome: Result<T, JoinError>) {
        if let Some(scope) = &self.scope {
            if matches!(&outcome, Err(e) if e.is_panic()) {
                scope
                    .a_thread_panicked
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        drop(outcome);
    }
}

impl<F, T> Run for Packet<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self, header: &Header) {
        let f = match std::mem::replace(&mut self.slot.lock().stage, Stage::Empty) {
            Stage::Unrun(f) => f,
            _ => abort("a green thread was started twice (a bug in verdant)"),
        };
        let finish = move || {
            let returned = catch_unwind(AssertUnwindSafe(f));
            // From here on its destructors (result, locals) may park
            // without being interrupted.
            header.set_finishing();
            let outcome = match returned {
                // Cancelled, but its code swallowed the cancellation and
                // returned: still report it as cancelled.
                Ok(_) if header.is_cancelled() => Err(JoinError::cancelled()),
                Ok(v) => Ok(v),
                Err(payload) => Err(JoinError::from_panic(payload)),
            };
            // Its green-thread locals die with it, on its own stack, while
            // it is still the running thread (their destructors may park).
            crate::local::drop_green_locals();
            // With the handle detached this drops the outcome too.
            self.store(outcome);
        };
        // Nothing may unwind into the worker: a destructor that panics
        // here (a result or a local dropped above) ends the process, as a
        // panicking thread result does in std.
        if catch_unwind(AssertUnwindSafe(finish)).is_err() {
            abort("a green thread's result, panic payload or local panicked while being dropped");
        }
    }

    fn drop_unrun(&self) {
        let stage = std::mem::replace(&mut self.slot.lock().stage, Stage::Empty);
        // Its captures are user values: a panic in their destructors is
        // reported, not allowed to unwind into the runtime.
        if catch_unwind(AssertUnwindSafe(move || drop(stage))).is_err() {
            eprintln!("verdant: a value captured by a green thread that never ran panicked while being dropped");
        }
    }
}

impl<F, T> Outcome<T> for Packet<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn take(&self) -> Option<Result<T, JoinError>> {
        let mut slot = self.slot.lock();
        match std::mem::replace(&mut slot.stage, Stage::Empty) {
            Stage::Done(outcome) => Some(outcome),
            other => {
                slot.stage = other;
                None
            }
        }
    }

    fn detach(&self) {
        let mut slot = self.slot.lock();
        slot.detached = true;
        match std::mem::replace(&mut slot.stage, Stage::Empty) {
            Stage::Done(outcome) => {
                drop(slot);
                self.discard(outcome);
            }
            other => slot.stage = other,
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
                interrupt::check_cancelled(&me);
            }
        }
        return done;
    }
    wait_with(task, deadline, park::park)
}

/// Waits for `task` to complete, ignoring cancellation and scoped
/// deadlines meanwhile (the caller re-raises them afterwards with
/// `interrupt::check_interrupts`): for `scope`, which must not unwind while
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

/// The handle half shared by [`JoinHandle`] and scoped handles: the
/// thread's [`Task`], seen through its typed body. Dropping it detaches.
pub(crate) struct JoinInner<'a, T> {
    pub(crate) task: Arc<Task<dyn Outcome<T> + 'a>>,
    /// `join` ran: the thread is complete and its outcome taken, so there
    /// is nothing left to detach.
    joined: bool,
}

impl<'a, T> JoinInner<'a, T> {
    pub(crate) fn new(task: Arc<Task<dyn Outcome<T> + 'a>>) -> Self {
        JoinInner { task, joined: false }
    }

    pub(crate) fn join(mut self) -> Result<T, JoinError> {
        wait_complete(&self.task, None);
        self.joined = true;
        match self.task.body.take() {
            Some(outcome) => outcome,
            None => match self.task.failure.lock().take() {
                Some(e) => Err(JoinError::spawn(e)),
                // Never ran: cancelled before it started, or its runtime
                // shut down first.
                None => Err(JoinError::cancelled()),
            },
        }
    }

    pub(crate) fn header(&self) -> &Header {
        &self.task.header
    }
}

impl<T> JoinInner<'static, T> {
    pub(crate) fn thread(&self) -> GreenThread {
        GreenThread {
            task: self.task.clone(),
        }
    }
}

impl<T> Drop for JoinInner<'_, T> {
    fn drop(&mut self) {
        if !self.joined {
            self.task.body.detach();
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
        let task: TaskRef = self.0.task.clone();
        cancel(&task);
    }
}

pub(crate) fn cancel(task: &TaskRef) {
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
    task: TaskRef,
}

impl GreenThread {
    pub(crate) fn new(task: TaskRef) -> GreenThread {
        GreenThread { task }
    }

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
        Some(true) => interrupt::cancelled_unwind(),
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

// Spawning is the green-thread API's business; the runtime layer below
// knows tasks, not `JoinHandle`s.
impl Runtime {
    /// Spawns a green thread on this runtime (see [`crate::spawn`]).
    ///
    /// ```
    /// let rt = verdant::Runtime::new().unwrap();
    /// assert_eq!(rt.spawn(|| 7).join().unwrap(), 7);
    /// ```
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
