//! The shared half of a green thread: identity, the park state word, and
//! its body.
//!
//! A green thread is split in two. The [`Task`] (this file) is shared
//! through an `Arc` ([`TaskRef`]) with everyone who may wake it: wait lists,
//! timers, the reactor, join handles. The coroutine (stack and saved
//! registers) is owned by the worker that started it and never leaves that
//! worker's slab (see `scheduler::worker`), so no started stack is ever sent
//! to another thread.
//!
//! A `Task` is one allocation: the non-generic [`Header`] followed by the
//! thread's [`Run`] body (its function until it runs, then its outcome
//! until `join` takes it; see `green::Packet`). The scheduler sees the body
//! as `dyn Run`, the join handle as `dyn Outcome<T>`, both pointing at the
//! same allocation, so a spawn allocates once.
//!
//! # The park protocol
//!
//! `state` holds one of three values:
//!
//! ```text
//!            unpark (any thread)                 worker, after switch-out
//!  RUNNING ───────────────────────▶ NOTIFIED     RUNNING ──▶ PARKED
//!     ▲                                │            ▲           │
//!     │ park() consumes the token      │            │ unpark: CAS PARKED→RUNNING,
//!     └────────────────────────────────┘            └── then schedule on home worker
//! ```
//!
//! 1. A green thread calls `park`. If the state is `NOTIFIED` it consumes the
//!    token and returns at once (like `std::thread::park`).
//! 2. Otherwise it switches out, telling its worker "park". Only *after* the
//!    switch does the worker try `RUNNING → PARKED`; if an `unpark` raced in
//!    meanwhile the CAS fails on `NOTIFIED`, the worker resets the state to
//!    `RUNNING` and requeues the thread. (Go's `gopark` finishes parking on
//!    the scheduler side for the same reason.)
//! 3. `unpark` turns `RUNNING` into `NOTIFIED`, or wins `PARKED → RUNNING`
//!    and then is the single party that schedules the thread.
//!
//! Wakeups are tokens, so a primitive always re-checks its condition after
//! `park` returns: spurious returns are allowed, lost wakeups are not.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::runtime::interrupt;
use crate::runtime::scheduler::Shared;
use crate::runtime::wait::WaitList;

/// Running, or queued to run. No wakeup pending.
const RUNNING: u8 = 0;
/// Switched out and waiting for `unpark`; nobody holds it in a run queue.
const PARKED: u8 = 1;
/// Running (or queued) with one wakeup token pending.
const NOTIFIED: u8 = 2;

/// `home` before the thread first runs: it may still be stolen.
pub(crate) const UNSTARTED: usize = usize::MAX;

/// A green thread: its [`Header`] and its body, in one allocation.
pub(crate) struct Task<B: ?Sized = dyn Run> {
    pub(crate) header: Header,
    pub(crate) body: B,
}

/// How the runtime holds a green thread.
pub(crate) type TaskRef = Arc<Task>;

impl<B: ?Sized> Deref for Task<B> {
    type Target = Header;

    fn deref(&self) -> &Header {
        &self.header
    }
}

/// The body of a green thread, as the runtime sees it.
pub(crate) trait Run: Send + Sync {
    /// Runs the thread's function (on its own stack) and keeps its outcome
    /// for `join`, or drops it if nobody will join. Never unwinds. Called
    /// at most once, by whoever took the thread's `NewTask`.
    fn run(&self, header: &Header);

    /// Drops the function of a thread that will never run. A panic in a
    /// captured value's destructor is reported, not propagated.
    fn drop_unrun(&self);
}

/// The shared, non-generic part of a green thread.
pub(crate) struct Header {
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    pub(crate) stack_size: usize,
    /// The scheduler that runs this thread; `None` for `spawn_blocking` jobs.
    pub(crate) shared: Option<Arc<Shared>>,
    state: AtomicU8,
    /// Index of the worker that runs this thread, fixed at first run.
    pub(crate) home: AtomicUsize,
    /// Index of the coroutine in its home worker's slab (home worker only).
    pub(crate) slot: AtomicU32,
    /// Sequence number of the live timer of this thread, 0 when none
    /// (home worker only; see `runtime::time`).
    pub(crate) timer_seq: AtomicU64,
    /// The timeout deadline of `verdant::timeout`, encoded by
    /// `interrupt::encode_deadline` (0 = none). Only the thread itself
    /// touches it.
    timeout_deadline: AtomicU64,
    cancelled: AtomicBool,
    complete: AtomicBool,
    /// Set where this thread starts unwinding (see `interrupt::unwinding`).
    unwinding: AtomicBool,
    /// Set once its function has returned: what remains (dropping its
    /// result and locals) is not interrupted by cancellation or deadlines.
    finishing: AtomicBool,
    /// Who waits for `complete`: joiners, `wait_any`, scopes.
    pub(crate) joiners: Mutex<WaitList>,
    /// Why the thread never ran (no stack could be had), for `join`.
    pub(crate) failure: Mutex<Option<std::io::Error>>,
}

impl Header {
    pub(crate) fn new(id: u64, name: Option<Box<str>>, stack_size: usize, shared: Option<Arc<Shared>>) -> Header {
        Header {
            id,
            name,
            stack_size,
            shared,
            state: AtomicU8::new(RUNNING),
            home: AtomicUsize::new(UNSTARTED),
            slot: AtomicU32::new(0),
            timer_seq: AtomicU64::new(0),
            timeout_deadline: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
            complete: AtomicBool::new(false),
            unwinding: AtomicBool::new(false),
            finishing: AtomicBool::new(false),
            joiners: Mutex::new(WaitList::new()),
            failure: Mutex::new(None),
        }
    }

    /// Consumes a pending wakeup token, if any (step 1 of the protocol).
    #[inline]
    pub(crate) fn take_token(&self) -> bool {
        // A plain load first: most parks find no token, and a failing
        // compare-exchange still costs a locked instruction. A token that
        // arrives right after the load is not lost: `finish_park` sees it.
        self.state.load(Ordering::Relaxed) == NOTIFIED
            && self
                .state
                .compare_exchange(NOTIFIED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// Called by the home worker after the thread switched out to park
    /// (step 2). Returns `false` if a wakeup raced in: requeue the thread.
    #[inline]
    pub(crate) fn finish_park(&self) -> bool {
        match self
            .state
            .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(_) => {
                // Only `unpark` changes the state of a running thread, and it
                // only ever sets NOTIFIED.
                self.state.store(RUNNING, Ordering::Release);
                false
            }
        }
    }

    /// Step 3. Returns `true` when the caller won the thread and must
    /// schedule it.
    #[inline]
    pub(crate) fn notify(&self) -> bool {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            let (to, wins) = match s {
                RUNNING => (NOTIFIED, false),
                NOTIFIED => return false,
                _ => (RUNNING, true),
            };
            match self
                .state
                .compare_exchange_weak(s, to, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return wins,
                Err(actual) => s = actual,
            }
        }
    }

    /// `cancel` stores `cancelled` then loads `home`; the worker stores
    /// `home` then loads `cancelled` before the first resume. All four are
    /// SeqCst, so at least one side sees the other's store (no lost
    /// cancellation of a thread that is just starting).
    pub(crate) fn is_started(&self) -> bool {
        self.home.load(Ordering::SeqCst) != UNSTARTED
    }

    pub(crate) fn set_home(&self, worker: usize) {
        self.home.store(worker, Ordering::SeqCst);
    }

    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Whether the thread's function has returned (see `interrupt`).
    pub(crate) fn is_finishing(&self) -> bool {
        self.finishing.load(Ordering::Relaxed)
    }

    pub(crate) fn set_finishing(&self) {
        self.finishing.store(true, Ordering::Relaxed);
    }

    /// The thread's own unwinding flag (see `interrupt::unwinding`).
    pub(crate) fn is_unwinding(&self) -> bool {
        self.unwinding.load(Ordering::Relaxed)
    }

    pub(crate) fn set_unwinding(&self, on: bool) {
        self.unwinding.store(on, Ordering::Relaxed);
    }

    /// The thread's `verdant::timeout` deadline.
    pub(crate) fn timeout_deadline(&self) -> Option<Instant> {
        interrupt::decode_deadline(self.timeout_deadline.load(Ordering::Relaxed))
    }

    /// Replaces it; returns the previous one.
    pub(crate) fn set_timeout_deadline(&self, deadline: Option<Instant>) -> Option<Instant> {
        let old = self
            .timeout_deadline
            .swap(interrupt::encode_deadline(deadline), Ordering::Relaxed);
        interrupt::decode_deadline(old)
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    /// Marks the thread finished and wakes everyone waiting for it.
    pub(crate) fn set_complete(&self) {
        self.complete.store(true, Ordering::Release);
        let waiters = self.joiners.lock().take_all();
        for w in waiters {
            w.unpark();
        }
    }
}

impl<B: ?Sized> std::fmt::Debug for Task<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.header.fmt(f)
    }
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Allocates green thread ids, starting at 1 (0 means "none").
pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
