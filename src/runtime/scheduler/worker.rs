//! One worker: an OS thread that runs green threads, its reactor and its
//! timers, in one loop.
//!
//! # The loop
//!
//! Each turn picks one thing to run, in this order:
//!
//! 1. every [`FAIRNESS_TICKS`] turns, a *new* green thread first (own deque,
//!    injector, then stealing), so threads that keep yielding cannot starve
//!    unstarted ones or the injector;
//! 2. the LIFO slot: the thread most recently woken by a thread of this
//!    worker (message-passing locality), a few times in a row at most
//!    (see `queue`);
//! 3. the run queue (woken and yielded threads, FIFO);
//! 4. the inbox (threads woken from other OS threads);
//! 5. new green threads: own deque, the injector, other workers' deques;
//! 6. due timers and ready I/O (a non-blocking reactor poll);
//! 7. nothing: sleep in `epoll_wait` until the next timer deadline
//!    (see the sleeping protocol in `idle`).
//!
//! Every [`MAINTENANCE_TICKS`] turns a busy worker also drains its inbox,
//! fires due timers and polls its reactor without blocking, so I/O and
//! timers make progress under load.
//!
//! # Ownership
//!
//! A started green thread's coroutine lives in this worker's slab (`slab`)
//! and only this thread touches it: the worker resumes it in place, by slot,
//! after checking the slot's occupant. No `RefCell` borrow of this struct
//! is held across a resume except the coroutine's own cell, which
//! green-thread code never touches: the green thread itself calls back
//! into the worker (spawn, timers, the reactor).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_deque::Worker as Deque;

use super::queue::RunQueue;
use super::slab::{Entry, Slab};
use super::{counters, Shared};
use crate::runtime::coroutine::{Green, Resumed, Suspend};
use crate::runtime::locals::LocalMap;
use crate::runtime::park::Waiter;
use crate::runtime::reactor::{IoSlab, WAKE_TOKEN};
use crate::runtime::stack_pool::StackPool;

use crate::runtime::task::{why, Done, Header, NewTask, TaskRef};
use crate::runtime::timer::Timers;
use crate::runtime::{context, overflow};

/// A busy worker looks at timers, inbox and reactor this often.
const MAINTENANCE_TICKS: u32 = 61;
/// A busy worker prefers a new green thread this often.
const FAIRNESS_TICKS: u32 = 31;
/// Rounds of ~32 pause instructions a worker spins before it sleeps, at
/// most (see `Local::spin_for_work`).
const SPIN_ROUNDS: u32 = 16;
/// Free stacks an idle worker decommits per pass, and how soon it comes
/// back for the next batch.
const TRIM_BATCH: usize = 256;
const TRIM_PAUSE: Duration = Duration::from_millis(5);
/// Reactor events taken per poll.
const EVENTS: usize = 1024;

enum Next {
    Resume(TaskRef),
    Start(NewTask),
}

/// The worker's own state; reached from green threads via `context::worker`.
pub(crate) struct Local {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    /// The same runtime as a `Handle`, lent to spawns without cloning.
    pub(crate) handle: crate::runtime::Handle,
    queue: RunQueue,
    /// The green thread running now and its slot (`Cell`s: read on every
    /// switch, never borrowed).
    current: Cell<Option<TaskRef>>,
    current_slot: Cell<Option<u32>>,
    deferred: RefCell<Vec<TaskRef>>,
    slab: RefCell<Slab>,
    stacks: RefCell<StackPool>,
    timers: RefCell<Timers>,
    poll: RefCell<mio::Poll>,
    events: RefCell<mio::Events>,
    /// Turns left until the next maintenance / fairness turn.
    maintenance_in: Cell<u32>,
    fairness_in: Cell<u32>,
    /// Rounds the next spin before sleeping may take.
    spin_rounds: Cell<u32>,
    cancelled_all: Cell<bool>,
    /// A coarse clock in `task::why` ms, read by every park (which stamps
    /// its thread with it) and set wherever the worker reads the time
    /// anyway: each maintenance turn and each wakeup from sleep. A park's
    /// stamp is thus early by at most the time since the last of those.
    clock: Cell<u64>,
}

impl Local {
    pub(crate) fn new(index: usize, shared: Arc<Shared>, deque: Deque<NewTask>, poll: mio::Poll) -> Local {
        let keep = shared.config.keep_resident_stacks;
        Local {
            index,
            handle: crate::runtime::Handle { shared: shared.clone() },
            shared,
            queue: RunQueue::new(deque),
            current: Cell::new(None),
            current_slot: Cell::new(None),
            deferred: RefCell::new(Vec::new()),
            slab: RefCell::new(Slab::default()),
            stacks: RefCell::new(StackPool::new(keep)),
            timers: RefCell::new(Timers::default()),
            poll: RefCell::new(poll),
            events: RefCell::new(mio::Events::with_capacity(EVENTS)),
            maintenance_in: Cell::new(MAINTENANCE_TICKS),
            fairness_in: Cell::new(FAIRNESS_TICKS),
            spin_rounds: Cell::new(SPIN_ROUNDS),
            cancelled_all: Cell::new(false),
            clock: Cell::new(why::clock_ms(Instant::now())),
        }
    }

    /// The green thread running on this worker now, if any. Never panics
    /// (the panic hook calls it).
    pub(crate) fn current_task(&self) -> Option<TaskRef> {
        self.with_current(TaskRef::clone)
    }

    /// Runs `f` on the green thread running on this worker now, if any,
    /// without touching its reference count.
    #[inline]
    pub(crate) fn with_current<R>(&self, f: impl FnOnce(&TaskRef) -> R) -> Option<R> {
        let task = self.current.take();
        let r = task.as_ref().map(f);
        self.current.set(task);
        r
    }

    /// Remembers a thread whose cancellation or timeout deadline `park` held
    /// back because it looked as if it were unwinding (see
    /// `park::park_green`); it is woken again to re-check once no thread of
    /// this worker is halfway through an unwinding.
    pub(crate) fn defer_interrupt(&self, task: &TaskRef) {
        self.deferred.borrow_mut().push(task.clone());
    }

    /// Wakes the deferred threads if no thread of this worker is mid-unwind
    /// (between resumes, `std::thread::panicking()` on a worker counts
    /// exactly the suspended ones).
    fn release_deferred(&self) {
        if self.deferred.borrow().is_empty() || std::thread::panicking() {
            return;
        }
        let deferred = std::mem::take(&mut *self.deferred.borrow_mut());
        for task in deferred {
            crate::runtime::park::unpark_task(&task);
        }
    }

    /// The worker's coarse clock (see the field).
    #[inline]
    pub(crate) fn clock_ms(&self) -> u64 {
        self.clock.get()
    }

    fn tick_clock(&self, now: Instant) {
        self.clock.set(why::clock_ms(now));
    }

    /// Lists `task` for dumps, once it has parked for the first time (so a
    /// thread that never parks costs nothing here); called by the worker
    /// after the switch out. Its slot indexes the list;
    /// [`Local::switch_to`] unlists it when it finishes.
    #[cold]
    #[inline(never)]
    fn list(&self, task: &TaskRef) {
        let slot = task.slot.load(Ordering::Relaxed) as usize;
        let mut listed = self.shared.workers[self.index].listed.lock();
        if listed.len() <= slot {
            listed.resize(slot + 1, None);
        }
        listed[slot] = Some(task.clone());
        drop(listed);
        task.listed.store(true, Ordering::Relaxed);
    }

    /// Runs `f` on the green-thread-local map of the running green thread.
    pub(crate) fn with_locals<R>(&self, f: impl FnOnce(&mut LocalMap) -> R) -> Option<R> {
        let slot = self.current_slot.get()?;
        let entry = self.slab.borrow().entry(slot);
        let mut locals = entry.locals.borrow_mut();
        Some(f(&mut locals))
    }

    pub(crate) fn push_new(&self, new: NewTask) {
        self.queue.push_new(new);
    }

    /// Queues a green thread of this worker that was just woken here.
    pub(crate) fn push_woken(&self, task: TaskRef) {
        self.queue.push_woken(task, self.current_slot.get().is_some());
    }

    pub(crate) fn add_timer(&self, deadline: Instant, task: &TaskRef) {
        self.timers.borrow_mut().insert(deadline, task);
    }

    pub(crate) fn cancel_timer(&self, task: &Header) {
        self.timers.borrow_mut().cancel(task);
    }

    /// Registers `source` with this worker's reactor.
    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
        io: Arc<crate::runtime::reactor::ScheduledIo>,
    ) -> std::io::Result<mio::Token> {
        let token = self.shared.workers[self.index].io.lock().insert(io);
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        if let Err(e) = self.poll.borrow().registry().register(source, token, interest) {
            self.shared.workers[self.index].io.lock().remove(token);
            return Err(e);
        }
        Ok(token)
    }

    /// The worker loop; returns after shutdown, once nothing is left to run.
    pub(crate) fn run(&self) {
        loop {
            match self.next() {
                Some(Next::Resume(task)) => self.resume(task),
                Some(Next::Start(new)) => self.start(new),
                None if self.shared.is_shutdown() && !self.cancelled_all.get() => {
                    // Unparks every thread here onto the run queue: run them.
                    self.cancel_all();
                }
                // Leave only once the whole runtime is done: a thread still
                // unwinding elsewhere may be waiting on a socket registered
                // with this worker's reactor.
                None if self.shared.is_shutdown() && self.slab.borrow().len() == 0 && self.shared.live() == 0 => return,
                None => self.sleep(),
            }
        }
    }

    fn next(&self) -> Option<Next> {
        if countdown(&self.maintenance_in, MAINTENANCE_TICKS) {
            self.maintenance();
        }
        if countdown(&self.fairness_in, FAIRNESS_TICKS) {
            if let Some(new) = self.find_new() {
                return Some(Next::Start(new));
            }
        }
        if let Some(task) = self.next_woken() {
            return Some(Next::Resume(task));
        }
        if let Some(new) = self.find_new() {
            return Some(Next::Start(new));
        }
        if self.maintenance() > 0 {
            return self.next_woken().map(Next::Resume);
        }
        None
    }

    fn next_woken(&self) -> Option<TaskRef> {
        self.queue.next_woken(&self.shared.workers[self.index].inbox)
    }

    fn find_new(&self) -> Option<NewTask> {
        let (new, stolen) = self.queue.find_new(&self.shared, self.index);
        if stolen {
            counters::bump(&self.counters().steals, 1);
        }
        new
    }

    fn counters(&self) -> &counters::Counters {
        &self.shared.workers[self.index].counters
    }

    /// Mirrors the stack pool's and the slab's sizes into the counters.
    fn count_stacks(&self) {
        let (cached, decommitted) = self.stacks.borrow().free_counts();
        let c = self.counters();
        c.stacks_in_use
            .store(self.slab.borrow().len() as u64, Ordering::Relaxed);
        c.stacks_cached.store(cached as u64, Ordering::Relaxed);
        c.stacks_decommitted.store(decommitted as u64, Ordering::Relaxed);
    }

    /// Drains the inbox, fires due timers and polls the reactor without
    /// blocking. Returns how many green threads became ready.
    ///
    /// With no I/O source registered the poll is skipped, idle or not: the
    /// only event left is the waker's, which wakes a *sleeping* worker (the
    /// blocking poll in `sleep` takes it) and is otherwise noise.
    fn maintenance(&self) -> usize {
        if self.shared.is_shutdown() {
            self.cancel_all();
        }
        let now = Instant::now();
        self.tick_clock(now);
        self.count_stacks();
        let mut n = self.queue.drain_inbox(&self.shared.workers[self.index].inbox);
        if !self.timers.borrow().is_empty() {
            n += self.fire_timers(now);
        }
        if self.shared.workers[self.index].io.lock().len() > 0 {
            n += self.poll_reactor(Some(Duration::ZERO));
        }
        n
    }

    /// Wakes the threads whose timers are due at `now`.
    fn fire_timers(&self, now: Instant) -> usize {
        let mut woken = Vec::new();
        self.timers.borrow_mut().fire(now, |task| woken.push(task));
        let n = woken.len();
        counters::bump(&self.counters().timers_fired, n as u64);
        for task in woken {
            crate::runtime::park::unpark_task(&task);
        }
        n
    }

    /// Polls the reactor; returns how many I/O events woke waiters.
    fn poll_reactor(&self, timeout: Option<Duration>) -> usize {
        let mut events = self.events.borrow_mut();
        if let Err(e) = self.poll.borrow_mut().poll(&mut events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                eprintln!("verdant: worker {} reactor poll failed: {e}", self.index);
            }
            return 0;
        }
        let mut ready = Vec::new();
        counters::bump(&self.counters().polls, 1);
        {
            let io: parking_lot::MutexGuard<'_, IoSlab> = self.shared.workers[self.index].io.lock();
            for event in events.iter() {
                if event.token() == WAKE_TOKEN {
                    continue;
                }
                if let Some(sched) = io.get(event.token()) {
                    ready.push((sched.clone(), crate::runtime::reactor::Ready::from_event(event)));
                }
            }
        }
        counters::bump(&self.counters().events, ready.len() as u64);
        let mut n = 0;
        for (sched, r) in ready {
            n += sched.wake(r);
        }
        n
    }

    /// Step 7: nothing to run. Sleep until work, I/O or the next timer.
    fn sleep(&self) {
        if self.queue.has_woken() {
            return;
        }
        if self.spin_for_work() {
            return;
        }
        // Nothing to run: a good time to give excess free stacks back. If a
        // batch leaves more, come back soon rather than sleep on it.
        let trimming = self.stacks.borrow_mut().trim(TRIM_BATCH);
        let mut deadline = self.timers.borrow_mut().next_deadline();
        if trimming {
            let soon = Instant::now() + TRIM_PAUSE;
            deadline = Some(deadline.map_or(soon, |d| d.min(soon)));
        }
        self.shared.idle.sleep_begin(self.index);
        if self.shared.has_work_for(self.index, self.cancelled_all.get()) {
            // Work from another thread, just too late for the spin.
            self.shared.idle.sleep_end(self.index);
            self.spin_rounds.set(SPIN_ROUNDS);
            return;
        }
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        self.poll_reactor(timeout);
        let now = Instant::now();
        self.tick_clock(now);
        self.count_stacks();
        if !self.shared.idle.sleep_end(self.index) {
            // Woken for work from another thread: spinning might have
            // caught it without the wakeup.
            self.spin_rounds.set(SPIN_ROUNDS);
        }
        self.fire_timers(now);
    }

    /// Before sleeping, look again for a few microseconds (Go's "spinning"
    /// worker): work that arrives in a steady stream from other threads is
    /// then picked up without a wakeup syscall on either side. Returns
    /// whether work came.
    ///
    /// The budget adapts: a spin that finds nothing halves the next one, so
    /// a worker woken only by its own timers and I/O (a ticker, an idle
    /// server) soon stops spinning at all; a spin that finds work, or a
    /// wakeup by another thread, restores the full [`SPIN_ROUNDS`].
    fn spin_for_work(&self) -> bool {
        let rounds = self.spin_rounds.get();
        for _ in 0..rounds {
            for _ in 0..32 {
                std::hint::spin_loop();
            }
            if self.shared.has_work_for(self.index, self.cancelled_all.get()) {
                self.spin_rounds.set(SPIN_ROUNDS);
                return true;
            }
        }
        self.spin_rounds.set(rounds / 2);
        false
    }

    /// Cancels every green thread of this worker, once.
    fn cancel_all(&self) {
        if !self.cancelled_all.replace(true) {
            let tasks = self.slab.borrow().tasks();
            for task in tasks {
                task.state.cancel();
                Waiter::Green(task).unpark();
            }
        }
    }

    fn start(&self, new: NewTask) {
        let task = new.task().clone();
        if self.shared.is_shutdown() {
            // It never runs its function: its run drops it (below, on its
            // own stack, where a parking destructor is fine).
            task.state.cancel();
        }
        let stack = match self.stacks.borrow_mut().get(task.stack_size) {
            Ok(stack) => stack,
            Err(e) => {
                // No stack, so its captures are dropped on this worker's
                // own stack: a destructor that parks here would block the
                // worker (`park` reports it).
                let done = new.drop_unrun(Some(e));
                self.finish(done);
                return;
            }
        };
        task.home.store(self.index, Ordering::Relaxed);
        counters::bump(&self.counters().started, 1);
        // A thread cancelled before this runs, but only to drop its
        // function (see `task::core`, step 1).
        task.state.start();
        let green = Green::new(stack, move || new.run());
        let (slot, entry) = self.slab.borrow_mut().insert(task.clone(), green);
        task.slot.store(slot, Ordering::Relaxed);
        self.switch_to(task, slot, &entry);
    }

    fn resume(&self, task: TaskRef) {
        let slot = task.slot.load(Ordering::Relaxed);
        let entry = self.slab.borrow().get(slot, &task);
        self.switch_to(task, slot, &entry);
    }

    fn switch_to(&self, task: TaskRef, slot: u32, entry: &Entry) {
        let me = &self.shared.workers[self.index];
        me.running.store(task.id, Ordering::Relaxed);
        me.running_at.set(Some(task.location));
        // Single writer: a plain store, no locked read-modify-write.
        let switches = me.switches.load(Ordering::Relaxed);
        me.switches.store(switches.wrapping_add(1), Ordering::Relaxed);
        let cancelled = task.is_cancelled();
        let mut cell = entry.green.borrow_mut();
        // A thread is queued only when suspended (park protocol), so its
        // coroutine is here; anything else is a bug worth failing loudly on.
        let green = cell
            .as_mut()
            .expect("verdant: resumed a green thread that is not suspended");
        let (lo, hi) = green.guard;
        overflow::enter(lo, hi, task.id, task.name.as_deref(), green.stack_size);
        // Entered on the worker's own stack, around the resume: a span
        // guard never lives on a green stack across a switch.
        #[cfg(feature = "tracing")]
        let _span = task
            .span
            .get_or_init(
                || tracing::info_span!(target: "verdant", "green_thread", id = task.id, name = task.name.as_deref()),
            )
            .clone()
            .entered();
        self.current.set(Some(task));
        self.current_slot.set(Some(slot));
        let resumed = green.resume(cancelled);
        self.current_slot.set(None);
        let task = self.current.take().expect("current task");
        overflow::leave();
        me.running.store(0, Ordering::Relaxed);
        self.release_deferred();
        match resumed {
            Resumed::Suspended(why) => {
                drop(cell);
                if why == Suspend::Yield || !task.finish_park() {
                    self.queue.push_back(task);
                } else {
                    counters::bump(&me.counters.parks, 1);
                    if !task.listed.load(Ordering::Relaxed) {
                        // Here, on the worker's stack: on the green stack
                        // the lock and the list's growth would deepen every
                        // thread's stack at its first park (a page more per
                        // sleeping thread).
                        self.list(&task);
                    }
                }
            }
            Resumed::Finished(done) => {
                let stack = cell.take().expect("coroutine present").into_stack();
                drop(cell);
                self.stacks.borrow_mut().put(stack);
                self.slab.borrow_mut().remove(slot);
                if why::backtraces_on() {
                    why::forget_backtrace(task.id);
                }
                if task.listed.load(Ordering::Relaxed) {
                    if let Some(entry) = self.shared.workers[self.index].listed.lock().get_mut(slot as usize) {
                        *entry = None;
                    }
                }
                self.finish(done);
            }
        }
    }

    /// Bookkeeping first, then completion: whoever `join` wakes sees the
    /// runtime's counts already updated.
    fn finish(&self, done: Done) {
        counters::bump(&self.counters().finished, 1);
        self.shared.task_done(done.task());
        done.complete();
    }
}

/// Counts `left` down; on reaching zero resets it to `every` and returns
/// `true` (once per `every` calls, without a division).
#[inline]
fn countdown(left: &Cell<u32>, every: u32) -> bool {
    let n = left.get() - 1;
    if n == 0 {
        left.set(every);
        true
    } else {
        left.set(n);
        false
    }
}

/// Body of a worker OS thread.
pub(crate) fn main(index: usize, shared: Arc<Shared>, deque: Deque<NewTask>, poll: mio::Poll) {
    overflow::ensure_altstack();
    *shared.workers[index].os_thread.lock() = crate::runtime::sampler::this_thread();
    let local = Rc::new(Local::new(index, shared, deque, poll));
    context::set_worker(Some(local.clone()));
    // Green threads catch their own panics; anything unwinding this far is
    // a runtime bug, and a worker that silently died would strand every
    // green thread pinned to it. Fail loudly instead.
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| local.run())).is_err() {
        crate::runtime::abort(&format!("worker {index} of the runtime panicked (a bug in verdant)"));
    }
    *local.shared.workers[index].os_thread.lock() = 0;
    context::set_worker(None);
}
