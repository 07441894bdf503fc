//! The runtime: worker threads, their schedulers, reactors and timers.
//!
//! Most programs never name it: [`crate::spawn`] and every blocking call
//! start a default global runtime on first use (one worker per core). Build
//! one explicitly with [`Runtime::builder`] to choose the worker count, the
//! default stack size or the watchdog threshold, or to shut it down.

pub(crate) mod blocking_pool;
pub(crate) mod context;
#[allow(unsafe_code)]
pub(crate) mod coroutine;
pub(crate) mod interrupt;
pub(crate) mod locals;
#[allow(unsafe_code)]
pub(crate) mod overflow;
mod panic_hook;
pub(crate) mod park;
pub(crate) mod reactor;
#[allow(unsafe_code)]
pub(crate) mod sampler;
pub(crate) mod scheduler;
#[allow(unsafe_code)]
pub(crate) mod stack_pool;
#[allow(unsafe_code)]
pub(crate) mod sys;
pub(crate) mod task;
pub(crate) mod timer;
pub(crate) mod wait;
mod watchdog;

use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use crossbeam_deque::Worker as Deque;
use parking_lot::Mutex;

use crate::runtime::blocking_pool::BlockingPool;
use scheduler::{Shared, WorkerShared};
use task::NewTask;

/// Default usable stack size of a green thread: 256 KiB of address space,
/// of which only the touched pages cost memory.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Largest stack a green thread may ask for.
pub(crate) const MAX_STACK_SIZE: usize = 1 << 30;

/// Ends the process after a panic that nothing can report.
#[cold]
pub(crate) fn abort(what: &str) -> ! {
    eprintln!("verdant: fatal: {what}; aborting");
    std::process::abort()
}

/// Runtime settings (see [`RuntimeBuilder`]).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) stack_size: usize,
    pub(crate) thread_name: String,
    pub(crate) watchdog: Option<Duration>,
    pub(crate) keep_resident_stacks: usize,
    pub(crate) max_blocking_threads: usize,
    pub(crate) blocking_keep_alive: Duration,
    /// Per-runtime settings of the layers above (the `net` resolver), by
    /// type: the runtime stores them without knowing what they are.
    pub(crate) extensions: Extensions,
}

/// A small type-indexed map of settings that layers above the runtime
/// attach to it (see `Config::extensions`).
#[derive(Clone, Default)]
pub(crate) struct Extensions(Vec<Arc<dyn std::any::Any + Send + Sync>>);

impl Extensions {
    /// Sets the value of type `T`, replacing any earlier one.
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0.retain(|v| !v.is::<T>());
        self.0.push(Arc::new(value));
    }

    /// The value of type `T`, if one was set.
    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0.iter().find_map(|v| v.downcast_ref::<T>())
    }
}

/// Services of the layers above that start with a runtime and stop with it
/// (the signal-triggered dump): each is started once the workers run, and
/// the guard it returns is dropped first thing when the runtime shuts
/// down. Kept in `Config::extensions` as one list.
#[derive(Clone, Default)]
pub(crate) struct Companions(pub(crate) Vec<Arc<StartCompanion>>);

/// Starts one companion service for a runtime; returns its guard.
pub(crate) type StartCompanion = dyn Fn(&Handle) -> io::Result<Box<dyn Send + Sync>> + Send + Sync;

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Extensions({})", self.0.len())
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            workers: thread::available_parallelism().map_or(1, |n| n.get()),
            stack_size: DEFAULT_STACK_SIZE,
            thread_name: "verdant".into(),
            watchdog: Some(Duration::from_millis(100)),
            keep_resident_stacks: 1024,
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            extensions: Extensions::default(),
        }
    }
}

/// Configures and builds a [`Runtime`].
///
/// ```
/// use std::time::Duration;
/// let rt = verdant::Runtime::builder()
///     .workers(2)
///     .stack_size(128 * 1024)
///     .watchdog(Some(Duration::from_millis(250)))
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(|| 6 * 7), 42);
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a RuntimeBuilder does nothing until `build` is called"]
pub struct RuntimeBuilder {
    config: Config,
}

impl RuntimeBuilder {
    /// Number of worker OS threads (default: one per core).
    pub fn workers(mut self, n: usize) -> Self {
        self.config.workers = n;
        self
    }

    /// Default stack size of green threads (default 256 KiB; see
    /// [`DEFAULT_STACK_SIZE`]). Reserved, not committed.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.config.stack_size = bytes;
        self
    }

    /// Name prefix of the runtime's OS threads (default `verdant`): workers
    /// are `PREFIX-worker-N`, blocking-pool threads `PREFIX-blocking`, the
    /// watchdog `PREFIX-watchdog`.
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.config.thread_name = name.into();
        self
    }

    /// Log a green thread that holds its worker longer than this without
    /// parking or yielding (default 100 ms; `None` turns the watchdog off).
    pub fn watchdog(mut self, threshold: Option<Duration>) -> Self {
        self.config.watchdog = threshold;
        self
    }

    /// How many free stacks each worker keeps resident; stacks freed beyond
    /// this are decommitted (default 1024).
    pub fn keep_resident_stacks(mut self, n: usize) -> Self {
        self.config.keep_resident_stacks = n;
        self
    }

    /// Most OS threads that [`crate::spawn_blocking`] may run at once
    /// (default 512); further jobs queue.
    pub fn max_blocking_threads(mut self, n: usize) -> Self {
        self.config.max_blocking_threads = n;
        self
    }

    /// How long an idle [`crate::spawn_blocking`] thread waits for another
    /// job before it exits (default 10 s).
    pub fn blocking_keep_alive(mut self, idle: Duration) -> Self {
        self.config.blocking_keep_alive = idle;
        self
    }

    /// Adds a companion service (see [`Companions`]).
    pub(crate) fn companion(self, start: Arc<StartCompanion>) -> Self {
        let mut list = self.config.extensions.get::<Companions>().cloned().unwrap_or_default();
        list.0.push(start);
        self.extension(list)
    }

    /// Attaches a per-runtime setting of a layer above the runtime.
    pub(crate) fn extension<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.config.extensions.insert(value);
        self
    }

    /// Builds the runtime and starts its workers.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for zero workers, zero blocking threads or a stack
    /// size outside 4 KiB..=1 GiB; the OS error if a thread or an epoll
    /// instance cannot be created.
    pub fn build(self) -> io::Result<Runtime> {
        Runtime::start(self.config)
    }
}

/// A green-thread runtime: worker OS threads that run green threads.
///
/// Dropping it shuts it down: every green thread still running or queued is
/// cancelled (it unwinds from its next park point, running its
/// destructors), and the drop returns once all of them and all worker and
/// blocking-pool threads have finished. A green thread that never parks
/// (a CPU loop) delays this until it does.
///
/// ```
/// let rt = verdant::Runtime::builder().workers(2).build().unwrap();
/// let h = rt.spawn(|| 1 + 1);
/// assert_eq!(h.join().unwrap(), 2);
/// assert_eq!(rt.block_on(|| verdant::spawn(|| 3).join().unwrap()), 3);
/// drop(rt); // cancels what remains, joins the workers
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
    watchdog: Option<watchdog::Watchdog>,
    /// The guards of its companion services (see [`Companions`]).
    companions: Vec<Box<dyn Send + Sync>>,
}

/// A cloneable reference to a runtime, for spawning onto it from anywhere.
///
/// ```
/// let rt = verdant::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let h = std::thread::spawn(move || handle.spawn(|| 5).join().unwrap());
/// assert_eq!(h.join().unwrap(), 5);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl Runtime {
    /// A runtime with the default settings.
    ///
    /// ```
    /// let rt = verdant::Runtime::new().unwrap();
    /// assert_eq!(rt.block_on(|| "hi"), "hi");
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Runtime::builder().build()
    }

    /// A builder to configure a runtime.
    ///
    /// ```
    /// let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    fn start(config: Config) -> io::Result<Runtime> {
        validate(&config)?;
        let mut polls = Vec::with_capacity(config.workers);
        let mut deques = Vec::with_capacity(config.workers);
        let mut workers = Vec::with_capacity(config.workers);
        for _ in 0..config.workers {
            let poll = mio::Poll::new()?;
            let deque = Deque::new_fifo();
            workers.push(WorkerShared::new(&poll, deque.stealer())?);
            polls.push(poll);
            deques.push(deque);
        }
        overflow::install();
        panic_hook::install();
        let shared = Arc::new(Shared::new(workers, config.clone()));
        let handle = Handle { shared };
        let mut rt = Runtime {
            handle: handle.clone(),
            threads: Mutex::new(Vec::new()),
            watchdog: config
                .watchdog
                .map(|t| watchdog::Watchdog::start(handle.shared.clone(), t, &config.thread_name)),
            companions: Vec::new(),
        };
        for (index, (poll, deque)) in polls.into_iter().zip(deques).enumerate() {
            let shared = handle.shared.clone();
            let thread = thread::Builder::new()
                .name(format!("{}-worker-{index}", config.thread_name))
                .spawn(move || scheduler::worker::main(index, shared, deque, poll))?;
            rt.threads.lock().push(thread);
        }
        if let Some(list) = config.extensions.get::<Companions>() {
            for start in &list.0 {
                rt.companions.push(start(&handle)?);
            }
        }
        Ok(rt)
    }

    /// This runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Shuts the runtime down now (the same as dropping it).
    pub fn shutdown(self) {}

    /// Whether this runtime's watchdog is parked (every worker asleep), and
    /// how many times it has looked at the workers. For tests only; not a
    /// stable API.
    #[doc(hidden)]
    pub fn watchdog_state(&self) -> (bool, u64) {
        self.handle.shared.idle.watchdog.state()
    }
}

fn validate(config: &Config) -> io::Result<()> {
    let invalid = |msg: String| Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
    if config.workers == 0 {
        return invalid("a runtime needs at least one worker".into());
    }
    if config.max_blocking_threads == 0 {
        return invalid("max_blocking_threads must be at least 1".into());
    }
    if !(4096..=MAX_STACK_SIZE).contains(&config.stack_size) {
        return invalid(format!(
            "stack size {} is outside 4096..={} bytes",
            config.stack_size, MAX_STACK_SIZE
        ));
    }
    Ok(())
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let shared = &self.handle.shared;
        if context::worker().is_some_and(|w| Arc::ptr_eq(&w.shared, shared)) {
            // Joining our own worker thread would never return.
            panic!("verdant: a Runtime cannot be dropped from one of its own worker threads");
        }
        self.companions.clear();
        shared.begin_shutdown();
        for t in self.threads.get_mut().drain(..) {
            // A worker thread never unwinds: green panics are caught.
            let _ = t.join();
        }
        // Whatever was queued after the workers left never runs.
        shared.set_stopped();
        shared.drain_unrun();
        shared.blocking.shutdown();
        if let Some(w) = self.watchdog.take() {
            w.stop();
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.handle.shared.workers.len())
            .finish_non_exhaustive()
    }
}

impl Handle {
    /// The runtime of the calling green thread or worker, else the global
    /// default runtime (started now if need be).
    ///
    /// # Panics
    ///
    /// Panics if the global runtime has to be started and cannot be (the OS
    /// refused threads or epoll instances), like `std::thread::spawn`.
    ///
    /// ```
    /// let h = verdant::Handle::current();
    /// assert_eq!(h.spawn(|| 1).join().unwrap(), 1);
    /// ```
    pub fn current() -> Handle {
        Handle::with_current(Handle::clone)
    }

    /// Runs `f` with the current runtime's handle (see [`Handle::current`])
    /// without cloning it: spawning borrows it.
    pub(crate) fn with_current<R>(f: impl FnOnce(&Handle) -> R) -> R {
        match context::worker() {
            Some(local) => f(&local.handle),
            None => f(global()),
        }
    }

    /// Queues a prepared green thread.
    pub(crate) fn submit(&self, new: NewTask) -> io::Result<()> {
        if self.shared.is_shutdown() {
            // Drop its function now, where a panicking capture is caught
            // and reported, not later with the last reference (which may be
            // during the caller's own unwinding, e.g. `scope`'s panic).
            new.drop_unrun(None).complete();
            return Err(io::Error::other("verdant: the runtime has shut down"));
        }
        self.shared.spawn(new);
        if self.shared.is_stopped() {
            // Raced with the runtime's drop: nobody will run it.
            self.shared.drain_unrun();
        }
        Ok(())
    }

    /// Green threads spawned on this runtime that have not finished yet.
    ///
    /// ```
    /// let rt = verdant::Runtime::new().unwrap();
    /// rt.block_on(|| ());
    /// assert_eq!(rt.handle().green_threads(), 0);
    /// ```
    pub fn green_threads(&self) -> usize {
        self.shared.live()
    }

    pub(crate) fn blocking(&self) -> &BlockingPool {
        &self.shared.blocking
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.workers.len())
            .finish_non_exhaustive()
    }
}

/// The default runtime, started on first use and never shut down.
fn global() -> &'static Handle {
    static GLOBAL: OnceLock<Runtime> = OnceLock::new();
    &GLOBAL
        .get_or_init(|| Runtime::new().unwrap_or_else(|e| panic!("verdant: cannot start the global runtime: {e}")))
        .handle
}
