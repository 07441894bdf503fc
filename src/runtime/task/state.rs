//! The state word of a green thread: every flag in one atomic, with
//! documented bits (parking_lot's style).
//!
//! ```text
//!  bit  0-1  PARK      RUNNING (0), PARKED (1) or NOTIFIED (2): the park protocol
//!  bit  2    STARTED   a worker took it to run (it is pinned there from now on)
//!  bit  3    CANCELLED `cancel` was called
//!  bit  4    OUTPUT    its outcome has been stored in the task
//!  bit  5    DETACHED  its join handle is gone
//!  bit  6    COMPLETE  finished (or dropped unrun); joiners are woken
//!  bit  7    FINISHING its function returned: destructors are not interrupted
//!  bit  8    UNWINDING it is unwinding (see `interrupt`)
//!  bit  9    JOINERS   someone has locked its joiners list to wait (set
//!                      under that lock, never cleared)
//! ```
//!
//! Other threads touch only PARK (`notify`), CANCELLED (`cancel`) and
//! DETACHED (dropping the handle); FINISHING and UNWINDING are written only
//! by the thread itself, STARTED by the worker that starts it, OUTPUT by
//! whoever holds its `NewTask`, COMPLETE by whoever completes it. Pairs that
//! race resolve by each side's read-modify-write returning the other's bit:
//!
//! * `cancel` vs start: `cancel` sets CANCELLED and sees STARTED (then it
//!   unparks the thread), start sets STARTED and sees CANCELLED (then it
//!   never runs the function): one of them sees the other.
//! * storing the outcome vs dropping the handle: whoever sets the second
//!   of OUTPUT and DETACHED drops the outcome (see `core`).
//!
//! # The park protocol
//!
//! ```text
//!            unpark (any thread)                 worker, after switch-out
//!  RUNNING ───────────────────────▶ NOTIFIED     RUNNING ──▶ PARKED
//!     ▲                                │            ▲           │
//!     │ park() consumes the token      │            │ unpark: CAS PARKED→RUNNING,
//!     └────────────────────────────────┘            └── then schedule on home worker
//! ```
//!
//! 1. A green thread calls `park`. If PARK is NOTIFIED it consumes the
//!    token and returns at once (like `std::thread::park`).
//! 2. Otherwise it switches out, telling its worker "park". Only *after* the
//!    switch does the worker try RUNNING → PARKED ([`State::finish_park`]);
//!    if an `unpark` raced in meanwhile that fails on NOTIFIED, the worker
//!    resets PARK to RUNNING and requeues the thread (Go's `gopark` finishes
//!    parking on the scheduler side for the same reason).
//! 3. `unpark` turns RUNNING into NOTIFIED, or wins PARKED → RUNNING and then
//!    is the single party that schedules the thread ([`State::notify`]).
//!
//! Wakeups are tokens, so a primitive always re-checks its condition after
//! `park` returns: spurious returns are allowed, lost wakeups are not.

use std::sync::atomic::{AtomicU32, Ordering};

const PARK_MASK: u32 = 0b11;
const RUNNING: u32 = 0;
const PARKED: u32 = 1;
const NOTIFIED: u32 = 2;
pub(super) const STARTED: u32 = 1 << 2;
pub(super) const CANCELLED: u32 = 1 << 3;
pub(super) const OUTPUT: u32 = 1 << 4;
pub(super) const DETACHED: u32 = 1 << 5;
const COMPLETE: u32 = 1 << 6;
const FINISHING: u32 = 1 << 7;
const UNWINDING: u32 = 1 << 8;
pub(super) const JOINERS: u32 = 1 << 9;
/// With UNWINDING: that unwinding is a panic (not a cancellation or an
/// elapsed timeout), which poisons the locks whose guards it drops.
const PANICKING: u32 = 1 << 10;

/// A thread's phase as a dump reports it (see [`State::phase`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not started yet.
    Unstarted,
    /// Running, or queued to run.
    Active,
    /// Parked.
    Parked,
    /// Its function returned (destructors may still run).
    Finishing,
}

/// The state word.
pub(crate) struct State(AtomicU32);

impl State {
    pub(super) const fn new() -> State {
        State(AtomicU32::new(RUNNING))
    }

    fn has(&self, bit: u32, order: Ordering) -> bool {
        self.0.load(order) & bit != 0
    }

    /// Sets `bit`; returns the word as it was.
    pub(super) fn set(&self, bit: u32) -> u32 {
        self.0.fetch_or(bit, Ordering::AcqRel)
    }

    /// Park step 1: consumes a pending wakeup token, if any.
    #[inline]
    pub(crate) fn take_token(&self) -> bool {
        // A plain load first: most parks find no token, and a failing
        // compare-exchange still costs a locked instruction. A token that
        // arrives right after the load is not lost: `finish_park` sees it.
        let mut s = self.0.load(Ordering::Relaxed);
        while s & PARK_MASK == NOTIFIED {
            match self
                .0
                .compare_exchange_weak(s, s & !PARK_MASK, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
        false
    }

    /// Park step 2, on the home worker after the thread switched out.
    /// Returns `false` if a wakeup raced in: requeue the thread.
    #[inline]
    pub(crate) fn finish_park(&self) -> bool {
        let mut s = self.0.load(Ordering::Acquire);
        loop {
            if s & PARK_MASK == NOTIFIED {
                // Only `notify` changes PARK of a running thread, and it
                // only ever sets NOTIFIED: consume it and run again.
                self.0.fetch_and(!PARK_MASK, Ordering::AcqRel);
                return false;
            }
            match self
                .0
                .compare_exchange_weak(s, s | PARKED, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
    }

    /// Park step 3. Returns `true` when the caller won the thread and must
    /// schedule it.
    #[inline]
    pub(crate) fn notify(&self) -> bool {
        let mut s = self.0.load(Ordering::Acquire);
        loop {
            let (to, wins) = match s & PARK_MASK {
                RUNNING => (s | NOTIFIED, false),
                NOTIFIED => return false,
                _ => (s & !PARK_MASK, true),
            };
            match self.0.compare_exchange_weak(s, to, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return wins,
                Err(actual) => s = actual,
            }
        }
    }

    /// Marks the thread started; `false` if it was cancelled first (then
    /// it must not run).
    pub(crate) fn start(&self) -> bool {
        self.set(STARTED) & CANCELLED == 0
    }

    /// Marks the thread cancelled; returns whether it had started (then
    /// the caller unparks it so that it sees the cancellation).
    pub(crate) fn cancel(&self) -> bool {
        self.set(CANCELLED) & STARTED != 0
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.has(CANCELLED, Ordering::Acquire)
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.has(COMPLETE, Ordering::Acquire)
    }

    /// What a dump says of the thread: parked (PARK = PARKED), woken and
    /// queued (NOTIFIED), finishing (FINISHING or COMPLETE), else running
    /// or runnable. Relaxed: a snapshot for reading, not for acting on.
    pub(crate) fn phase(&self) -> Phase {
        let s = self.0.load(Ordering::Relaxed);
        if s & (FINISHING | COMPLETE) != 0 {
            Phase::Finishing
        } else if s & PARK_MASK == PARKED {
            Phase::Parked
        } else if s & STARTED == 0 {
            Phase::Unstarted
        } else {
            Phase::Active
        }
    }

    /// Sets COMPLETE (after the outcome, if any, was stored); returns
    /// whether anyone ever locked the joiners list to wait (JOINERS).
    ///
    /// A waiter sets JOINERS under the joiners lock, then checks COMPLETE
    /// under it before it queues. Both are read-modify-writes of this one
    /// word, so one comes first: if this one does, the waiter's later load
    /// sees COMPLETE and does not queue; if the waiter's does, this one
    /// returns `true` and the caller takes the list under the lock, where
    /// it finds the waiter queued or about to see COMPLETE.
    pub(super) fn set_complete(&self) -> bool {
        self.set(COMPLETE) & JOINERS != 0
    }

    pub(crate) fn is_finishing(&self) -> bool {
        self.has(FINISHING, Ordering::Relaxed)
    }

    pub(super) fn set_finishing(&self) {
        self.0.fetch_or(FINISHING, Ordering::Relaxed);
    }

    pub(crate) fn is_unwinding(&self) -> bool {
        self.has(UNWINDING, Ordering::Relaxed)
    }

    /// Sets or clears UNWINDING (the thread itself only). Clearing is a
    /// load when the bit is already clear, as it is on almost every park.
    pub(crate) fn set_unwinding(&self, on: bool) {
        if on {
            self.0.fetch_or(UNWINDING, Ordering::Relaxed);
        } else if self.is_unwinding() {
            self.0.fetch_and(!(UNWINDING | PANICKING), Ordering::Relaxed);
        }
    }

    /// Whether the unwinding flagged by UNWINDING is a panic.
    pub(crate) fn is_panicking(&self) -> bool {
        self.0.load(Ordering::Relaxed) & (UNWINDING | PANICKING) == UNWINDING | PANICKING
    }

    /// Sets UNWINDING, and PANICKING to `panic` (the thread itself only).
    pub(crate) fn set_unwinding_from(&self, panic: bool) {
        if panic {
            self.0.fetch_or(UNWINDING | PANICKING, Ordering::Relaxed);
        } else {
            self.0.fetch_or(UNWINDING, Ordering::Relaxed);
            self.0.fetch_and(!PANICKING, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn park_protocol_keeps_the_other_bits() {
        let s = State::new();
        s.set(CANCELLED);
        assert!(!s.take_token());
        assert!(!s.notify(), "running: the wakeup is a token");
        assert!(s.take_token());
        assert!(s.finish_park());
        assert!(s.notify(), "parked: the waker wins and schedules");
        assert!(s.is_cancelled(), "PARK transitions never touch other bits");
        assert!(!s.notify());
        assert!(!s.finish_park(), "a token raced the park: requeue");
        assert!(s.finish_park());
    }

    #[test]
    fn cancel_and_start_see_each_other() {
        let s = State::new();
        assert!(!s.cancel(), "not started yet: no unpark needed");
        assert!(!s.start(), "cancelled first: must not run");
        let s = State::new();
        assert!(s.start());
        assert!(s.cancel(), "started: the canceller unparks it");
    }

    #[test]
    fn unwinding_flag_toggles() {
        let s = State::new();
        s.set_unwinding(true);
        assert!(s.is_unwinding());
        s.set_unwinding(false);
        assert!(!s.is_unwinding());
        s.set_unwinding_from(true);
        assert!(s.is_panicking());
        s.set_unwinding_from(false);
        assert!(s.is_unwinding() && !s.is_panicking());
        s.set_unwinding(false);
        assert!(!s.is_unwinding() && !s.is_panicking());
        s.set_finishing();
        assert!(s.is_finishing() && !s.is_complete());
    }
}
