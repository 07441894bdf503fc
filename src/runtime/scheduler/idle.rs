//! Sleeping and waking workers, with no lost wakeup.
//!
//! A worker with nothing to do:
//! 1. sets its `sleeping` flag and increments `num_sleeping`
//!    ([`Idle::sleep_begin`]);
//! 2. full fence, then looks once more at everything it could run (its
//!    inbox, the injector, every deque: `Shared::has_work_for`);
//! 3. finds work: clears its own flag if still set ([`Idle::sleep_end`])
//!    and runs it; else blocks in its reactor's `epoll_wait` until an
//!    event, its next timer, or its `mio::Waker`.
//!
//! Whoever makes work available pushes it, issues a full fence, and then
//! wakes a worker whose flag it manages to clear (`swap(false)`): the
//! targeted home worker for an inbox push ([`Idle::notify_worker`]), any
//! sleeper for new work ([`Idle::notify_one`]). By the two fences, either
//! the sleeper's step 2 sees the work or the pusher sees the flag. The party
//! that clears a flag owns the `num_sleeping` decrement, so each sleep is
//! counted out exactly once; an extra eventfd write only costs a spurious
//! return from `epoll_wait`.
//!
//! # The watchdog's side
//!
//! The watchdog parks while every worker sleeps (see `watchdog`, "Sleeping
//! while the workers sleep"). Here, the one thing that concerns it:
//!
//! 4. the party that counts a sleep out with a `SeqCst` decrement of
//!    `num_sleeping` from *all* workers to one fewer (the end of an idle
//!    spell) bumps `idle_ends` and wakes the watchdog if its `parked` flag
//!    is set ([`Idle::count_out`]). That is once per idle→busy transition
//!    of the whole runtime, never per switch; while some worker is awake,
//!    counting sleeps in and out costs exactly what it did before.

use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::runtime::watchdog::Gate;

/// One worker's side of the protocol.
struct Sleeper {
    sleeping: AtomicBool,
    /// Interrupts the worker's `epoll_wait`.
    waker: mio::Waker,
}

/// The sleeping state of every worker of one runtime.
pub(crate) struct Idle {
    sleepers: Box<[Sleeper]>,
    num_sleeping: AtomicUsize,
    next_victim: AtomicUsize,
    /// Idle spells ended so far: times `num_sleeping` fell from every worker
    /// to one fewer (step 4).
    idle_ends: AtomicU64,
    /// Where the watchdog waits, parked or between samples.
    pub(crate) watchdog: Gate,
}

impl Idle {
    /// One sleeper per worker, each woken through its reactor's waker.
    pub(crate) fn new(wakers: Vec<mio::Waker>) -> Idle {
        Idle {
            sleepers: wakers
                .into_iter()
                .map(|waker| Sleeper {
                    sleeping: AtomicBool::new(false),
                    waker,
                })
                .collect(),
            num_sleeping: AtomicUsize::new(0),
            next_victim: AtomicUsize::new(0),
            idle_ends: AtomicU64::new(0),
            watchdog: Gate::new(),
        }
    }

    /// Step 1 of going to sleep.
    pub(crate) fn sleep_begin(&self, index: usize) {
        self.sleepers[index].sleeping.store(true, Ordering::Relaxed);
        self.num_sleeping.fetch_add(1, Ordering::AcqRel);
        fence(Ordering::SeqCst);
    }

    /// Undoes [`Idle::sleep_begin`] unless a waker already did. Returns
    /// `true` if nobody had: the worker woke by itself (a timer, I/O), not
    /// for work from another thread.
    pub(crate) fn sleep_end(&self, index: usize) -> bool {
        if self.sleepers[index].sleeping.swap(false, Ordering::AcqRel) {
            self.count_out();
            return true;
        }
        false
    }

    /// Whether every worker sleeps now (the watchdog may park).
    pub(crate) fn all_asleep(&self) -> bool {
        self.num_sleeping.load(Ordering::SeqCst) == self.sleepers.len()
    }

    /// Idle spells of the whole runtime ended so far (step 4).
    pub(crate) fn idle_ends(&self) -> u64 {
        self.idle_ends.load(Ordering::Relaxed)
    }

    /// Step 4: counts one sleep out, by the party that cleared its flag.
    #[inline]
    fn count_out(&self) {
        // SeqCst: against the watchdog's store of `parked` and re-check of
        // `all_asleep` (see `watchdog`), one side sees the other.
        if self.num_sleeping.fetch_sub(1, Ordering::SeqCst) == self.sleepers.len() {
            self.idle_ended();
        }
    }

    #[cold]
    fn idle_ended(&self) {
        self.idle_ends.fetch_add(1, Ordering::Relaxed);
        self.watchdog.unpark();
    }

    /// Wakes worker `index` if it sleeps (after work was pushed for it).
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
        let n = self.sleepers.len();
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
        for i in 0..self.sleepers.len() {
            self.wake_if_sleeping(i);
        }
    }

    fn wake_if_sleeping(&self, index: usize) -> bool {
        let s = &self.sleepers[index];
        if s.sleeping.load(Ordering::Relaxed) && s.sleeping.swap(false, Ordering::AcqRel) {
            self.count_out();
            // An error here means the eventfd is gone: the worker is exiting.
            let _ = s.waker.wake();
            return true;
        }
        false
    }
}
