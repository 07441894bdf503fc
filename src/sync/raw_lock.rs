//! The lock word of [`crate::sync::Mutex`]: a `lock_api::RawMutex`, so
//! that `lock_api::Mutex` keeps the data cell (no `UnsafeCell` here).
//!
//! The byte has two bits (`parking_lot`'s design):
//!
//! * `LOCKED`: somebody holds the lock.
//! * `PARKED`: the wait list may be non-empty. Set and cleared only under
//!   the list lock (the small `parking_lot` lock around the [`WaitList`]);
//!   set whenever a waiter is queued.
//!
//! Locking is one CAS `0 → LOCKED`; else (slow path) the caller first
//! tries to take `LOCKED` keeping `PARKED` (barging past queued waiters
//! without the list lock, as step 5 allows), then an OS thread spins
//! briefly on the byte (a green thread does not: its park is cheap), then
//! runs the one wait loop of `runtime::wait`, whose predicate, under the
//! list lock, either takes `LOCKED` (barging is allowed; `PARKED` is kept
//! while other waiters remain) or sets `PARKED`, after which the loop
//! queues the caller under that same lock and parks. Unlocking is one CAS
//! `LOCKED → 0`; it fails only when `PARKED` is set, and then (slow path)
//! the unlocker takes the list lock, pops one waiter, stores `0` or
//! `PARKED` (if waiters remain) and unparks the waiter after releasing the
//! list lock.
//!
//! # No lost wakeup
//!
//! 1. Every change of the byte is a read-modify-write, or (slow unlock) a
//!    store made under the list lock by the holder while nobody else can
//!    change it (`LOCKED` and `PARKED` are set: fast lockers and `try_lock`
//!    fail, other unlockers do not exist, predicates need the list lock),
//!    so all changes fall into one total order.
//! 2. A waiter `W` sets `PARKED` by a CAS that reads `LOCKED` set, under the
//!    list lock, and is queued before that lock is released.
//! 3. The holder's unlock CAS `LOCKED → 0` either comes before `W`'s CAS in
//!    the order of step 1 — then `W`'s CAS reads `LOCKED` clear and `W`
//!    takes the lock instead of queueing — or after it: then it reads
//!    `PARKED` and fails, and the holder takes the list lock, which `W`
//!    releases only once queued, so the holder finds `W` (or another
//!    queued waiter) and unparks it.
//! 4. `PARKED` is cleared only under the list lock when the list is empty
//!    (the slow unlock after its pop, a waiter taking the lock), so while
//!    anyone is queued every unlock takes the slow path and pops one.
//! 5. The popped waiter re-runs the predicate of step 2: it takes the lock,
//!    or (a barger took it first) sets `PARKED` again and re-queues, so the
//!    barger's unlock wakes the next one. A popped waiter that leaves
//!    without acting (cancelled, timed out) hands its wakeup on
//!    (`Registration`'s rule); `PARKED` stays set, so at worst one later
//!    unlock takes the slow path for nothing.
//! 6. Park/unpark are tokens: an unpark that comes before the park is not
//!    lost.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::runtime::park::current_task;
use crate::runtime::task::why::Why;
use crate::runtime::wait::{self, Until, WaitList};

/// The lock's one wait list, named for dumps.
const LOCK: wait::Queue<WaitList> = wait::LONE.named(Why::Lock);

/// The lock is held.
const LOCKED: u8 = 1;
/// Waiters may be queued (set under the list lock).
const PARKED: u8 = 2;
/// Rounds of an OS thread's spin before it queues.
const SPINS: u32 = 10;

/// A lock word and its waiters.
#[derive(Debug, Default)]
pub(crate) struct RawLock {
    state: AtomicU8,
    waiters: Mutex<WaitList>,
}

impl RawLock {
    pub(crate) const fn new() -> RawLock {
        RawLock {
            state: AtomicU8::new(0),
            waiters: Mutex::new(WaitList::new()),
        }
    }

    /// Takes `LOCKED` if it is clear (keeping `PARKED`).
    #[inline]
    fn try_acquire(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & LOCKED == 0 {
            match self
                .state
                .compare_exchange_weak(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
        false
    }

    /// Takes `LOCKED`, waiting as `until` says; `false`: its deadline
    /// passed first. Unwinds (before taking it) if `until` lets an
    /// interrupt end the wait.
    #[inline]
    pub(crate) fn acquire(&self, until: Until) -> bool {
        self.state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            || self.acquire_slow(until)
    }

    #[cold]
    fn acquire_slow(&self, until: Until) -> bool {
        // Free but `PARKED` (waiters queued): barge without the list lock;
        // the next unlock still wakes one of them.
        if self.try_acquire() {
            return true;
        }
        if current_task().is_none() {
            // An OS thread: a short exponential spin, then a few yields
            // (`parking_lot`'s `SpinWait`), while nobody is queued.
            for i in 0..SPINS {
                if self.try_acquire() {
                    return true;
                }
                if self.state.load(Ordering::Relaxed) & PARKED != 0 {
                    break;
                }
                if i < 3 {
                    (0..2u32 << i).for_each(|_| std::hint::spin_loop());
                } else {
                    std::thread::yield_now();
                }
            }
        }
        let list = self.waiters.lock();
        let (_list, got) = wait::wait_while(&self.waiters, list, LOCK, until, |list| {
            !self.acquire_or_mark_parked(list)
        });
        got
    }

    /// Under the list lock (step 2): takes `LOCKED`, keeping `PARKED` only
    /// if waiters remain, or sets `PARKED` (the caller then queues before
    /// releasing the list lock).
    fn acquire_or_mark_parked(&self, list: &WaitList) -> bool {
        let parked = if list.is_empty() { 0 } else { PARKED };
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let (to, got) = if s & LOCKED == 0 {
                (LOCKED | parked, true)
            } else {
                (s | PARKED, false)
            };
            match self
                .state
                .compare_exchange_weak(s, to, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return got,
                Err(now) => s = now,
            }
        }
    }

    /// Releases `LOCKED`, waking one waiter if `PARKED` is set.
    #[inline]
    fn release(&self) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.release_slow();
        }
    }

    #[cold]
    fn release_slow(&self) {
        let woken = {
            let mut list = self.waiters.lock();
            let woken = list.pop();
            // Nobody else changes the byte now (step 1).
            let rest = if list.is_empty() { 0 } else { PARKED };
            self.state.store(rest, Ordering::Release);
            woken
        };
        wait::unpark_all(woken);
    }
}

// SAFETY: mutual exclusion: `LOCKED` is only ever set by a CAS that reads
// it clear (`acquire`, `try_acquire`, `acquire_or_mark_parked`), and only
// cleared by `release` (`unlock`), which lock_api calls only for the
// holder; the slow release's plain store happens while the holder still
// holds `LOCKED` and the list lock, when no other party may change the
// byte (module docs, step 1). Every way of taking it has `Acquire` and
// every release `Release` ordering, so the holders' accesses to the data
// are ordered. `lock` returns only once `LOCKED` is taken: its wait is
// `Until::Uninterruptible`, which nothing but the condition ends.
unsafe impl lock_api::RawMutex for RawLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawLock = RawLock::new();

    // A guard stays on its thread, as std's.
    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    fn lock(&self) {
        self.acquire(Until::Uninterruptible);
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.try_acquire()
    }

    #[inline]
    unsafe fn unlock(&self) {
        self.release();
    }

    fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }
}

// SAFETY: both functions return `true` only once `acquire` took `LOCKED`
// (see `RawMutex` above); `false` means it was not taken. They may unwind
// (a cancellation, an elapsed `verdant::timeout`) only before taking it.
unsafe impl lock_api::RawMutexTimed for RawLock {
    type Duration = Duration;
    /// How long to wait: `Until::Forever` for `Mutex::lock`.
    type Instant = Until;

    #[inline]
    fn try_lock_for(&self, timeout: Duration) -> bool {
        self.acquire(wait::after(timeout))
    }

    #[inline]
    fn try_lock_until(&self, until: Until) -> bool {
        self.acquire(until)
    }
}
