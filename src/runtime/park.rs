//! Park and unpark: the single way anything in verdant waits.
//!
//! A [`Waiter`] is whoever is waiting: a green thread (unpark = schedule it
//! on its home worker) or a plain OS thread (unpark = `Thread::unpark`).
//! Every primitive is written once against `Waiter` + [`park`], so each
//! works from both worlds, and cancellation and deadlines are checked here
//! and nowhere else.
//!
//! Wakeups are tokens (see `task` for the green protocol, `std::thread::park`
//! for the OS one): `park` may return spuriously, so callers loop on their
//! condition.
//!
//! # Interrupts
//!
//! Cancellation, the timeout deadline of [`crate::timeout`] and the
//! "already unwinding" exemption are decided here, at the park point, by
//! the rules of `interrupt`. A cancelled green thread does not return from
//! [`park`]: it unwinds. Code that registered a waiter before parking must
//! therefore deregister it in a destructor (a guard), not only on the
//! normal path, or a later `notify_one` could be spent on a thread that is
//! gone.
//!
//! [`park`] unwinds when the caller's timeout deadline elapses (for calls
//! whose std-mirroring signature has no timeout error: `recv()`,
//! `Mutex::lock`, `join`); [`park_reporting`] returns [`Wake::Elapsed`]
//! instead (for `recv_timeout`, `sleep`, socket I/O).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::Instant;

use crate::runtime::coroutine::{self, Suspend};
use crate::runtime::interrupt::{self, check_cancelled, unwinding};
use crate::runtime::task::{why, TaskRef};
use crate::runtime::{context, scheduler};

/// Something that can be parked and unparked.
#[derive(Clone)]
pub(crate) enum Waiter {
    Green(TaskRef),
    Thread(Arc<OsParker>),
}

impl Waiter {
    /// The caller: the running green thread, or else this OS thread.
    pub(crate) fn current() -> Waiter {
        match current_task() {
            Some(task) => Waiter::Green(task),
            None => Waiter::Thread(context::os_parker()),
        }
    }

    /// Wakes the waiter (a token if it is not parked yet). Consumes it: a
    /// green waiter's reference moves to the run queue, no count changes.
    pub(crate) fn unpark(self) {
        match self {
            Waiter::Green(task) => wake_task(task),
            Waiter::Thread(parker) => parker.unpark(),
        }
    }
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Waiter::Green(t) => write!(f, "Waiter::Green({})", t.id),
            Waiter::Thread(p) => write!(f, "Waiter::Thread({:?})", p.thread.id()),
        }
    }
}

/// Why `park` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Unparked, or spuriously: re-check the condition.
    Unparked,
    /// The deadline given to `park` has passed.
    TimedOut,
    /// The timeout deadline of an enclosing [`crate::timeout`] has passed
    /// (only [`park_reporting`] returns this).
    Elapsed,
}

/// The running green thread, if the caller is one.
pub(crate) fn current_task() -> Option<TaskRef> {
    context::current_task()
}

/// Blocks the caller until unparked or until `deadline`.
///
/// A green thread switches out and its worker runs others; an OS thread
/// blocks. Unwinds instead of returning if the green thread is cancelled,
/// or if the caller's timeout deadline ([`crate::timeout`]) elapses: returns
/// only [`Wake::Unparked`] or [`Wake::TimedOut`].
pub(crate) fn park(deadline: Option<Instant>) -> Wake {
    match park_inner(deadline, true, OnElapsed::Unwind) {
        Wake::Elapsed => interrupt::elapsed_unwind(),
        wake => wake,
    }
}

/// What a park does with the caller's timeout deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnElapsed {
    /// Not at all.
    Ignore,
    /// Stops at it and unwinds (the caller cannot report it): not while the
    /// thread unwinds already.
    Unwind,
    /// Stops at it and returns [`Wake::Elapsed`] (the caller reports
    /// an error), which is safe even while unwinding.
    Return,
}

/// Like [`park`], but returns [`Wake::Elapsed`] when the timeout
/// deadline expires (first), for calls that report timeouts as errors.
pub(crate) fn park_reporting(deadline: Option<Instant>) -> Wake {
    park_inner(deadline, true, OnElapsed::Return)
}

/// Like [`park`], but a cancellation does not interrupt it: the caller
/// checks for it once its wait is over (joining a `spawn_blocking` job:
/// the green thread is cancelled when the blocking call returns).
pub(crate) fn park_deferring_cancel(deadline: Option<Instant>) -> Wake {
    match park_inner(deadline, false, OnElapsed::Unwind) {
        Wake::Elapsed => interrupt::elapsed_unwind(),
        wake => wake,
    }
}

/// Like [`park`], but neither a cancellation nor a timeout deadline
/// interrupts it: for waits that must finish before the caller may unwind
/// (`verdant::scope` waiting for the threads that borrow its caller's
/// stack). The caller re-raises either with `interrupt::check_interrupts` once the wait is over.
pub(crate) fn park_uninterruptible(deadline: Option<Instant>) -> Wake {
    park_inner(deadline, false, OnElapsed::Ignore)
}

// Inlined: fewer returns across the switch (see `coroutine::try_suspend`).
#[inline]
fn park_inner(deadline: Option<Instant>, cancellable: bool, on_elapsed: OnElapsed) -> Wake {
    let wake = park_any(deadline, cancellable, on_elapsed);
    if wake == Wake::Elapsed {
        // The innermost `verdant::timeout` reports it, whatever the
        // caller makes of it.
        interrupt::note_elapsed();
    }
    wake
}

#[inline]
fn park_any(deadline: Option<Instant>, cancellable: bool, on_elapsed: OnElapsed) -> Wake {
    if let Some(local) = context::worker() {
        if let Some(task) = local.current_task() {
            return park_green(&local, &task, deadline, cancellable, on_elapsed);
        }
        worker_blocks(local.index);
    }
    let timeout = match on_elapsed {
        OnElapsed::Ignore => None,
        OnElapsed::Unwind if std::thread::panicking() => None,
        _ => context::timeout_deadline(),
    };
    park_thread(deadline, timeout)
}

/// A park on a worker's own stack, outside any green thread: only the
/// destructor of a value captured by a green thread that could not start
/// (no stack could be had) can get here, and it blocks the whole worker.
/// Said loudly, since every green thread of that worker waits meanwhile.
#[cold]
#[inline(never)]
fn worker_blocks(index: usize) {
    eprintln!(
        "verdant: a destructor parked on worker {index} outside any green thread (a value captured by a \
         green thread that could not start); the worker is blocked until it is woken"
    );
}

/// Which deadline, if any, has passed at `now` (the explicit one wins).
fn expired(now: Instant, deadline: Option<Instant>, timeout: Option<Instant>) -> Option<Wake> {
    if deadline.is_some_and(|d| now >= d) {
        Some(Wake::TimedOut)
    } else if timeout.is_some_and(|t| now >= t) {
        Some(Wake::Elapsed)
    } else {
        None
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

// Inlined: fewer returns across the switch (see `coroutine::try_suspend`).
#[inline]
fn park_green(
    local: &scheduler::worker::Local,
    task: &TaskRef,
    deadline: Option<Instant>,
    cancellable: bool,
    mode: OnElapsed,
) -> Wake {
    let finishing = task.is_finishing();
    let unwinding = finishing || unwinding(task);
    if cancellable && !unwinding {
        check_cancelled(task);
    }
    let timeout = task.timeout_deadline();
    // An interrupt that applies but is held back only because this thread
    // looks as if it were unwinding is deferred, never dropped: the flag
    // can be stale while another thread of the worker is mid-unwind (see
    // `unwinding`), and the worker re-wakes deferred threads once none is.
    let held_back = (cancellable && task.is_cancelled()) || (mode == OnElapsed::Unwind && timeout.is_some());
    if unwinding && !finishing && held_back {
        local.defer_interrupt(task);
    }
    if task.take_token() {
        task.clear_why();
        return Wake::Unparked;
    }
    let elapses_at = match mode {
        OnElapsed::Ignore => None,
        OnElapsed::Unwind if unwinding => None,
        _ => timeout,
    };
    let wait_until = earliest(deadline, elapses_at);
    if let Some(d) = wait_until {
        if let Some(why) = expired(Instant::now(), deadline, elapses_at) {
            return why;
        }
        local.add_timer(d, task);
    }
    task.set_since(local.clock_ms());
    if why::backtraces_on() {
        why::capture_backtrace(task.id);
    }
    // The worker also reports a cancellation here; `check_cancelled` below
    // reads the same flag.
    let _ = coroutine::suspend(Suspend::Park);
    task.clear_why();
    let wake = match wait_until {
        Some(_) => {
            local.cancel_timer(task);
            expired(Instant::now(), deadline, elapses_at).unwrap_or(Wake::Unparked)
        }
        None => Wake::Unparked,
    };
    if cancellable && !unwinding {
        check_cancelled(task);
    }
    wake
}

fn park_thread(deadline: Option<Instant>, timeout: Option<Instant>) -> Wake {
    let until = earliest(deadline, timeout);
    if let Some(why) = until.and_then(|_| expired(Instant::now(), deadline, timeout)) {
        return why;
    }
    context::os_parker().park(until);
    match until {
        None => Wake::Unparked,
        Some(_) => expired(Instant::now(), deadline, timeout).unwrap_or(Wake::Unparked),
    }
}

/// Steps of exponential spinning before a parking OS thread starts
/// yielding its CPU, and before it sleeps (crossbeam's `Backoff`).
const SPIN_LIMIT: u32 = 6;
const YIELD_LIMIT: u32 = 10;

/// A plain OS thread's side of park and unpark: std's parker, plus a flag
/// that lets the thread spin a little before it sleeps.
///
/// A futex sleep and wakeup costs tens of microseconds here; between two
/// OS threads handing messages back and forth, the wakeup usually comes
/// within a few. So a parking OS thread first watches `notified` for a
/// short, bounded while (spinning, then yielding its CPU, as crossbeam's
/// `Backoff` does), and only then sleeps in `std::thread::park`. Green
/// threads never spin: their park is a cheap switch.
///
/// 1. `unpark` sets `notified` (Release), then calls `Thread::unpark`,
///    which costs no syscall unless the thread sleeps in `park`.
/// 2. `park` consumes `notified` (Acquire) if set, during the spin or
///    before and after it sleeps. The std token an `unpark` leaves behind
///    while the thread was spinning makes a later `std::thread::park`
///    return at once: a spurious wakeup, which every caller allows.
pub(crate) struct OsParker {
    notified: AtomicBool,
    thread: Thread,
    /// The OS thread's id in the green threads' id space (so a
    /// `verdant::current()` handle of an OS thread has one, never reused).
    id: u64,
}

impl OsParker {
    /// The parker of the calling OS thread (see `context::os_parker`).
    pub(crate) fn new() -> OsParker {
        OsParker {
            notified: AtomicBool::new(false),
            thread: std::thread::current(),
            id: crate::runtime::task::next_id(),
        }
    }

    /// The OS thread this parker belongs to.
    pub(crate) fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Its id, from the same counter as green threads' ids.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Wakes the OS thread from a park (or makes its next one return).
    pub(crate) fn unpark(&self) {
        self.notified.store(true, Ordering::Release);
        self.thread.unpark();
    }

    fn take(&self) -> bool {
        self.notified.load(Ordering::Relaxed) && self.notified.swap(false, Ordering::Acquire)
    }

    /// Returns once unparked, at `until`, or spuriously.
    fn park(&self, until: Option<Instant>) {
        for step in 0..=YIELD_LIMIT {
            if self.take() {
                return;
            }
            if step <= SPIN_LIMIT {
                for _ in 0..1u32 << step {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
        }
        if self.take() {
            return;
        }
        match until {
            None => std::thread::park(),
            Some(d) => std::thread::park_timeout(d.saturating_duration_since(Instant::now())),
        }
        self.take();
    }
}

/// Schedules `task` if this unpark is the one that wakes it.
pub(crate) fn unpark_task(task: &TaskRef) {
    if task.notify() {
        scheduler::Shared::schedule_woken(task.clone());
    }
}

/// [`unpark_task`] for an owned reference (no extra count traffic).
fn wake_task(task: TaskRef) {
    if task.notify() {
        scheduler::Shared::schedule_woken(task);
    }
}
