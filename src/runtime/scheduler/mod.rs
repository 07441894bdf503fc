//! The scheduler: where green threads wait to run, and who wakes whom.
//!
//! ```text
//!            spawn (outside)        spawn (on a worker)
//!                 │                        │
//!                 ▼                        ▼
//!   ┌───────── Injector ──────┐   ┌── deque (FIFO) ──┐ ◀── stolen by idle workers
//!   │ unstarted, any worker   │   │ unstarted, local │     (unstarted threads only)
//!   └─────────────────────────┘   └──────────────────┘
//!                                   first run: a stack is taken, `home` is fixed
//!   unpark (other thread) ──▶ inbox (MPSC) ─┐
//!   unpark (same worker)  ──▶ LIFO slot / run queue ──▶ resume ──▶ park/yield/finish
//! ```
//!
//! Only *unstarted* green threads move between workers (a `NewTask` whose
//! stage holds a `Send` closure, nothing more). A started green thread lives
//! on its home worker until it finishes: its stack may hold addresses of
//! that OS thread's thread-locals, so wakeups are routed home through the
//! worker's inbox (`docs/architecture.md`, "Why started threads never
//! migrate").
//!
//! The files: `worker` (the loop), `queue` (run queues and stealing),
//! `idle` (sleeping and waking workers), `slab` (the coroutines a worker
//! owns, resumed by slot).

pub(crate) mod counters;
mod idle;
mod queue;
#[allow(unsafe_code)]
pub(crate) mod running_at;
mod slab;
pub(crate) mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_deque::{Injector, Stealer};
use parking_lot::Mutex;

use crate::runtime::blocking_pool::BlockingPool;
use crate::runtime::context;
use crate::runtime::reactor::IoSlab;
use crate::runtime::task::{Header, NewTask, TaskRef};
use crate::runtime::Config;
use idle::Idle;

/// What other threads may touch of one worker.
pub(crate) struct WorkerShared {
    /// Woken green threads whose home is this worker (MPSC).
    pub(crate) inbox: Injector<TaskRef>,
    /// Steals unstarted green threads from this worker's deque.
    pub(crate) stealer: Stealer<NewTask>,
    /// This worker's epoll set (for deregistration from any thread).
    pub(crate) registry: mio::Registry,
    /// The I/O sources registered with this worker's reactor, by token.
    pub(crate) io: Mutex<IoSlab>,
    /// Resumes so far (the watchdog watches it move).
    pub(crate) switches: AtomicU64,
    /// Id of the green thread running now, 0 when none.
    pub(crate) running: AtomicU64,
    /// The started green threads of this worker that have parked at least
    /// once, by slab slot, for dumps (see `Local::list`).
    pub(crate) listed: Mutex<Vec<Option<TaskRef>>>,
    /// Metrics (see `counters`).
    pub(crate) counters: counters::Counters,
    /// Spawn location of the green thread running now (for the watchdog).
    pub(crate) running_at: running_at::RunningAt,
    /// The worker's OS thread for the watchdog's sampler
    /// (`runtime::sampler`), 0 before it starts and once it has exited:
    /// the worker clears it under this lock before it exits, and the
    /// watchdog holds the lock while it signals the thread, so it never
    /// signals a thread that is gone.
    pub(crate) os_thread: Mutex<usize>,
}

/// State shared by all workers of one runtime.
pub(crate) struct Shared {
    pub(crate) workers: Box<[WorkerShared]>,
    pub(crate) injector: Injector<NewTask>,
    /// Which workers sleep, and how to wake them.
    pub(crate) idle: Idle,
    shutdown: AtomicBool,
    /// Set once every worker has exited (after `shutdown`).
    stopped: AtomicBool,
    /// Green threads spawned and not yet complete.
    live: AtomicUsize,
    pub(crate) config: Config,
    pub(crate) blocking: BlockingPool,
    /// Named green threads not yet complete, by id, so the watchdog can
    /// name a culprit (unnamed threads cost nothing here).
    named: Mutex<HashMap<u64, TaskRef>>,
    /// Green threads spawned from outside the workers (the injector).
    pub(crate) spawned_outside: AtomicU64,
    /// Times the watchdog reported a held worker.
    pub(crate) watchdog_firings: AtomicU64,
}

impl Shared {
    pub(crate) fn new(workers: Vec<(WorkerShared, mio::Waker)>, config: Config) -> Shared {
        let (workers, wakers): (Vec<_>, Vec<_>) = workers.into_iter().unzip();
        Shared {
            workers: workers.into_boxed_slice(),
            injector: Injector::new(),
            idle: Idle::new(wakers),
            shutdown: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            blocking: BlockingPool::new(&config),
            named: Mutex::new(HashMap::new()),
            spawned_outside: AtomicU64::new(0),
            watchdog_firings: AtomicU64::new(0),
            config,
        }
    }

    /// Queues a new green thread: on the caller's own worker when the caller
    /// is one of ours (cheap, and stealable), else on the injector.
    pub(crate) fn spawn(self: &Arc<Self>, new: NewTask) {
        self.live.fetch_add(1, Ordering::Relaxed);
        if new.task().name.is_some() {
            self.named.lock().insert(new.task().id, new.task().clone());
        }
        match context::worker() {
            Some(local) if Arc::ptr_eq(&local.shared, self) => {
                counters::bump(&self.workers[local.index].counters.spawned, 1);
                local.push_new(new);
            }
            _ => {
                self.spawned_outside.fetch_add(1, Ordering::Relaxed);
                self.injector.push(new);
            }
        }
        self.idle.notify_one();
    }

    /// Routes a woken green thread to its home worker. Takes the task
    /// alone, so the common case, a wakeup on the home worker itself,
    /// touches no reference count. A `spawn_blocking` job has no scheduler
    /// (and is never parked on one): nothing to do.
    pub(crate) fn schedule_woken(task: TaskRef) {
        let Some(shared) = task.shared.as_deref() else {
            return;
        };
        let home = task.home.load(Ordering::Relaxed);
        if let Some(local) = context::worker() {
            if local.index == home && std::ptr::eq(&*local.shared, shared) {
                counters::bump(&shared.workers[home].counters.wakeups_local, 1);
                local.push_woken(task);
                return;
            }
        }
        // Another thread: the inbox, then a wakeup if the worker sleeps.
        // The task moves into the inbox, so hold the scheduler by a
        // reference of its own (only this cross-thread path pays for it).
        if let Some(shared) = task.shared.clone() {
            shared.workers[home]
                .counters
                .wakeups_remote
                .fetch_add(1, Ordering::Relaxed);
            shared.workers[home].inbox.push(task);
            shared.idle.notify_worker(home);
        }
    }

    /// Whether worker `index` should stay awake: a queue it can take from
    /// holds work, or a shutdown is under way that it has not acted on yet
    /// (`seen_shutdown`) or that has finished (no green thread left).
    pub(crate) fn has_work_for(&self, index: usize, seen_shutdown: bool) -> bool {
        !self.workers[index].inbox.is_empty()
            || !self.injector.is_empty()
            || self.workers.iter().any(|w| !w.stealer.is_empty())
            || (self.is_shutdown() && (!seen_shutdown || self.live() == 0))
    }

    /// Bookkeeping once `task` has completed.
    pub(crate) fn task_done(&self, task: &Header) {
        if task.name.is_some() {
            self.named.lock().remove(&task.id);
        }
        // SeqCst both: against `begin_shutdown`'s store and a worker's read
        // of `live`, one side sees the other (no worker sleeps through it).
        if self.live.fetch_sub(1, Ordering::SeqCst) == 1 && self.shutdown.load(Ordering::SeqCst) {
            // The last one: every worker may leave now.
            self.idle.notify_all();
        }
    }

    /// The name of live green thread `id`, if it has one.
    pub(crate) fn name_of(&self, id: u64) -> Option<Box<str>> {
        self.named.lock().get(&id).and_then(|t| t.name.clone())
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        self.idle.notify_all();
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Completes, without running them, the green threads left in the
    /// injector once the workers are gone. Both the runtime's drop (after
    /// setting `stopped`) and a spawner that pushed late (after seeing
    /// `stopped`) call it; with SeqCst on both sides one of them sees the
    /// other, so no late spawn is left unfinished.
    pub(crate) fn drain_unrun(&self) {
        loop {
            match self.injector.steal() {
                crossbeam_deque::Steal::Success(new) => {
                    let done = new.drop_unrun(None);
                    self.task_done(done.task());
                    done.complete();
                }
                crossbeam_deque::Steal::Retry => continue,
                crossbeam_deque::Steal::Empty => return,
            }
        }
    }

    pub(crate) fn set_stopped(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

impl WorkerShared {
    /// The shared half of a worker whose reactor is `poll`, and the waker
    /// that interrupts that reactor.
    pub(crate) fn new(poll: &mio::Poll, stealer: Stealer<NewTask>) -> std::io::Result<(WorkerShared, mio::Waker)> {
        let waker = mio::Waker::new(poll.registry(), crate::runtime::reactor::WAKE_TOKEN)?;
        let shared = WorkerShared {
            inbox: Injector::new(),
            stealer,
            registry: poll.registry().try_clone()?,
            io: Mutex::new(IoSlab::default()),
            switches: AtomicU64::new(0),
            running: AtomicU64::new(0),
            listed: Mutex::new(Vec::new()),
            counters: counters::Counters::default(),
            running_at: running_at::RunningAt::default(),
            os_thread: Mutex::new(0),
        };
        Ok((shared, waker))
    }
}
