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
//! **Decision 1 of DESIGN.md**: only *unstarted* green threads move between
//! workers (a `Task` whose body holds a `Send` closure, nothing more). A
//! started green thread lives on its home worker until it finishes: its
//! stack may hold addresses of that OS thread's thread-locals, so wakeups
//! are routed home through the worker's inbox.
//!
//! # Sleeping and waking workers (no lost wakeups)
//!
//! A worker with nothing to do:
//! 1. sets its `sleeping` flag and increments `num_sleeping`;
//! 2. full fence, then looks once more at everything it could run (its inbox,
//!    the injector, every deque);
//! 3. finds work: clears its own flag (if still set) and runs it; else blocks
//!    in its reactor's `epoll_wait` until an event, its next timer, or its
//!    `mio::Waker`.
//!
//! Whoever makes work available pushes it, issues a full fence, and then
//! wakes a worker whose flag it manages to clear (`swap(false)`): the
//! targeted home worker for an inbox push, any sleeper for new work. By the
//! two fences, either the sleeper's step 2 sees the work or the pusher sees
//! the flag. The party that clears a flag owns the `num_sleeping` decrement,
//! so each sleep is counted out exactly once; an extra eventfd write only
//! costs a spurious return from `epoll_wait`.

pub(crate) mod worker;

use std::collections::HashMap;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_deque::{Injector, Stealer};
use parking_lot::Mutex;

use crate::runtime::blocking_pool::BlockingPool;
use crate::runtime::context;
use crate::runtime::reactor::IoSlab;
use crate::runtime::task::{Header, TaskRef};
use crate::runtime::Config;

/// A green thread that has not run yet (its function is in its body).
/// Whoever holds it runs the thread or drops it unrun: exactly once.
pub(crate) struct NewTask {
    pub(crate) task: TaskRef,
}

/// What other threads may touch of one worker.
pub(crate) struct WorkerShared {
    /// Woken green threads whose home is this worker (MPSC).
    pub(crate) inbox: Injector<TaskRef>,
    /// Steals unstarted green threads from this worker's deque.
    pub(crate) stealer: Stealer<NewTask>,
    sleeping: AtomicBool,
    waker: mio::Waker,
    /// This worker's epoll set (for deregistration from any thread).
    pub(crate) registry: mio::Registry,
    /// The I/O sources registered with this worker's reactor, by token.
    pub(crate) io: Mutex<IoSlab>,
    /// Resumes so far (the watchdog watches it move).
    pub(crate) switches: AtomicU64,
    /// Id of the green thread running now, 0 when none.
    pub(crate) running: AtomicU64,
}

/// State shared by all workers of one runtime.
pub(crate) struct Shared {
    pub(crate) workers: Box<[WorkerShared]>,
    pub(crate) injector: Injector<NewTask>,
    num_sleeping: AtomicUsize,
    next_victim: AtomicUsize,
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
}

impl Shared {
    pub(crate) fn new(workers: Vec<WorkerShared>, config: Config) -> Shared {
        Shared {
            workers: workers.into_boxed_slice(),
            injector: Injector::new(),
            num_sleeping: AtomicUsize::new(0),
            next_victim: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            blocking: BlockingPool::new(&config),
            named: Mutex::new(HashMap::new()),
            config,
        }
    }

    /// Queues a new green thread: on the caller's own worker when the caller
    /// is one of ours (cheap, and stealable), else on the injector.
    pub(crate) fn spawn(self: &Arc<Self>, new: NewTask) {
        self.live.fetch_add(1, Ordering::Relaxed);
        if new.task.name.is_some() {
            self.named.lock().insert(new.task.id, new.task.clone());
        }
        match context::worker() {
            Some(local) if Arc::ptr_eq(&local.shared, self) => local.push_new(new),
            _ => self.injector.push(new),
        }
        self.notify_one();
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
                local.push_woken(task);
                return;
            }
        }
        // Another thread: the inbox, then a wakeup if the worker sleeps.
        // The task moves into the inbox, so hold the scheduler by a
        // reference of its own (only this cross-thread path pays for it).
        if let Some(shared) = task.shared.clone() {
            shared.workers[home].inbox.push(task);
            shared.notify_worker(home);
        }
    }

    /// Wakes worker `index` if it sleeps.
    pub(crate) fn notify_worker(&self, index: usize) {
        fence(Ordering::SeqCst);
        self.wake_if_sleeping(index);
    }

    /// Wakes one sleeping worker, if any, to look for new work.
    pub(crate) fn notify_one(&self) {
        fence(Ordering::SeqCst);
        if self.num_sleeping.load(Ordering::Relaxed) == 0 {
            return;
        }
        let n = self.workers.len();
        let start = self.next_victim.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if self.wake_if_sleeping((start + i) % n) {
                return;
            }
        }
    }

    /// Wakes every worker (shutdown).
    pub(crate) fn notify_all(&self) {
        fence(Ordering::SeqCst);
        for i in 0..self.workers.len() {
            self.wake_if_sleeping(i);
        }
    }

    fn wake_if_sleeping(&self, index: usize) -> bool {
        let w = &self.workers[index];
        if w.sleeping.load(Ordering::Relaxed) && w.sleeping.swap(false, Ordering::AcqRel) {
            self.num_sleeping.fetch_sub(1, Ordering::AcqRel);
            // An error here means the eventfd is gone: the worker is exiting.
            let _ = w.waker.wake();
            return true;
        }
        false
    }

    /// Step 1 of going to sleep (see the module docs).
    pub(crate) fn sleep_begin(&self, index: usize) {
        self.workers[index].sleeping.store(true, Ordering::Relaxed);
        self.num_sleeping.fetch_add(1, Ordering::AcqRel);
        fence(Ordering::SeqCst);
    }

    /// Undoes `sleep_begin` unless a waker already did.
    pub(crate) fn sleep_end(&self, index: usize) {
        if self.workers[index].sleeping.swap(false, Ordering::AcqRel) {
            self.num_sleeping.fetch_sub(1, Ordering::AcqRel);
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
            self.notify_all();
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
        self.notify_all();
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
                    new.task.body.drop_unrun();
                    self.task_done(&new.task);
                    new.task.set_complete();
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
    pub(crate) fn new(poll: &mio::Poll, stealer: Stealer<NewTask>) -> std::io::Result<WorkerShared> {
        Ok(WorkerShared {
            inbox: Injector::new(),
            stealer,
            sleeping: AtomicBool::new(false),
            waker: mio::Waker::new(poll.registry(), crate::runtime::reactor::WAKE_TOKEN)?,
            registry: poll.registry().try_clone()?,
            io: Mutex::new(IoSlab::default()),
            switches: AtomicU64::new(0),
            running: AtomicU64::new(0),
        })
    }
}
