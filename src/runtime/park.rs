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
//! # Cancellation
//!
//! When a green thread has been cancelled, `park` does not return: it
//! unwinds with a private payload that the thread's top frame recognises
//! (DESIGN.md decision 7). Code that registered a waiter before parking must
//! therefore deregister it in a destructor (a guard), not only on the normal
//! path, or a later `notify_one` could be spent on a thread that is gone.
//!
//! # Scoped deadlines
//!
//! [`crate::timeout`] sets a *scoped deadline* on the caller: a field of the
//! green thread's `Header`, or a thread-local (`context`) on a plain OS
//! thread. `park` waits until the earlier of its own deadline and the scoped
//! one, and reports which one expired:
//!
//! * [`park_scoped`] returns [`Wake::ScopeExpired`]; calls that can report a
//!   timeout (`recv_timeout`, `sleep`, socket I/O) use it and map it to their
//!   timeout error (`sleep` simply returns).
//! * [`park`] instead unwinds with the private payload
//!   [`crate::error::ScopeExpired`], which only [`crate::timeout`] catches;
//!   calls whose std-mirroring signature has no timeout error (`recv()`,
//!   `Mutex::lock`, `join`) use it. This is eventlet's `Timeout` exception,
//!   in Rust.
//!
//! While the thread is already unwinding (a destructor that blocks), neither
//! cancellation nor the scoped deadline applies: unwinding again would abort
//! the process.

use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::Instant;

use crate::runtime::coroutine::{self, Suspend};
use crate::runtime::task::{Header, TaskRef};
use crate::runtime::{context, scheduler};

/// Something that can be parked and unparked.
#[derive(Clone)]
pub(crate) enum Waiter {
    Green(TaskRef),
    Thread(Thread),
}

impl Waiter {
    /// The caller: the running green thread, or else this OS thread.
    pub(crate) fn current() -> Waiter {
        match current_task() {
            Some(task) => Waiter::Green(task),
            None => Waiter::Thread(std::thread::current()),
        }
    }

    /// Wakes the waiter (a token if it is not parked yet). Consumes it: a
    /// green waiter's reference moves to the run queue, no count changes.
    pub(crate) fn unpark(self) {
        match self {
            Waiter::Green(task) => wake_task(task),
            Waiter::Thread(thread) => thread.unpark(),
        }
    }
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Waiter::Green(t) => write!(f, "Waiter::Green({})", t.id),
            Waiter::Thread(t) => write!(f, "Waiter::Thread({:?})", t.id()),
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
    /// The scoped deadline of [`crate::timeout`] has passed (only
    /// [`park_scoped`] returns this).
    ScopeExpired,
}

/// The running green thread, if the caller is one.
pub(crate) fn current_task() -> Option<TaskRef> {
    context::worker().and_then(|w| w.current_task())
}

/// Blocks the caller until unparked or until `deadline`.
///
/// A green thread switches out and its worker runs others; an OS thread
/// blocks. Unwinds instead of returning if the green thread is cancelled,
/// or if the caller's scoped deadline ([`crate::timeout`]) expires: returns
/// only [`Wake::Unparked`] or [`Wake::TimedOut`].
pub(crate) fn park(deadline: Option<Instant>) -> Wake {
    match park_inner(deadline, true, Scope::Unwind) {
        Wake::ScopeExpired => scope_expired_unwind(),
        wake => wake,
    }
}

/// What a park does with the caller's scoped deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Not at all.
    Ignore,
    /// Stops at it and unwinds (the caller cannot report it): not while the
    /// thread unwinds already.
    Unwind,
    /// Stops at it and returns [`Wake::ScopeExpired`] (the caller reports
    /// an error), which is safe even while unwinding.
    Return,
}

/// Like [`park`], but returns [`Wake::ScopeExpired`] when the scoped
/// deadline expires (first), for calls that report timeouts as errors.
pub(crate) fn park_scoped(deadline: Option<Instant>) -> Wake {
    park_inner(deadline, true, Scope::Return)
}

/// Like [`park`], but a cancellation does not interrupt it: the caller
/// checks for it once its wait is over (joining a `spawn_blocking` job:
/// the green thread is cancelled when the blocking call returns).
pub(crate) fn park_deferring_cancel(deadline: Option<Instant>) -> Wake {
    match park_inner(deadline, false, Scope::Unwind) {
        Wake::ScopeExpired => scope_expired_unwind(),
        wake => wake,
    }
}

/// Like [`park`], but neither a cancellation nor a scoped deadline
/// interrupts it: for waits that must finish before the caller may unwind
/// (`scope` waiting for the threads that borrow its caller's stack). The
/// caller re-raises either with [`check_interrupts`] once the wait is over.
pub(crate) fn park_uninterruptible(deadline: Option<Instant>) -> Wake {
    park_inner(deadline, false, Scope::Ignore)
}

/// Unwinds if the calling green thread was cancelled or its scoped
/// deadline has passed (after a [`park_uninterruptible`] wait).
pub(crate) fn check_interrupts() {
    if let Some(task) = current_task() {
        check_cancelled(&task);
    }
    if scope_deadline().is_some_and(|d| Instant::now() >= d) && !is_unwinding() {
        scope_expired_unwind();
    }
}

// Inlined: fewer returns across the switch (see `coroutine::try_suspend`).
#[inline]
fn park_inner(deadline: Option<Instant>, cancellable: bool, scope: Scope) -> Wake {
    if let Some(local) = context::worker() {
        if let Some(task) = local.current_task() {
            return park_green(&local, &task, deadline, cancellable, scope);
        }
    }
    let scope = match scope {
        Scope::Ignore => None,
        Scope::Unwind if std::thread::panicking() => None,
        _ => context::scope_deadline(),
    };
    park_thread(deadline, scope)
}

/// Whether the green thread `task` is unwinding (a panic, a cancellation,
/// a scoped deadline).
///
/// `std::thread::panicking()` alone cannot tell: its count belongs to the
/// OS thread, so while one green thread of a worker is parked in a
/// destructor halfway through its unwinding, every other green thread of
/// that worker would look as if it were unwinding too. The runtime flags
/// the thread itself where an unwinding starts (its own unwinds here, user
/// panics in the panic hook, see `runtime::panic_hook`); the flag counts only
/// while some unwinding is in progress on this OS thread, so a panic the
/// thread caught and moved on from clears itself.
fn unwinding(task: &Header) -> bool {
    if task.finishing.load(Ordering::Relaxed) {
        return true;
    }
    if !std::thread::panicking() {
        task.unwinding.store(false, Ordering::Relaxed);
        return false;
    }
    task.unwinding.load(Ordering::Relaxed)
}

/// [`unwinding`] for the caller: its green thread's flag, or on a plain OS
/// thread `std::thread::panicking()` (exact there).
pub(crate) fn is_unwinding() -> bool {
    match current_task() {
        Some(task) => unwinding(&task),
        None => std::thread::panicking(),
    }
}

/// Clears the flag once the caller has caught its own unwinding
/// (`timeout` catching its expired deadline).
pub(crate) fn clear_unwinding() {
    if let Some(task) = current_task() {
        task.unwinding.store(false, Ordering::Relaxed);
    }
}

/// Marks the calling green thread as unwinding (see [`unwinding`]). Never
/// panics: it also runs inside the panic hook.
pub(crate) fn mark_unwinding() {
    if let Some(task) = context::try_worker().and_then(|w| w.current_task()) {
        task.unwinding.store(true, Ordering::Relaxed);
    }
}

/// Re-raises a caught unwinding (a panic, a cancellation, an expired
/// deadline) after marking the thread as unwinding: `std::panic::
/// resume_unwind` skips the panic hook, so without this a destructor that
/// parks on the way out could be interrupted and abort the process.
pub(crate) fn resume_unwind(payload: Box<dyn std::any::Any + Send>) -> ! {
    mark_unwinding();
    std::panic::resume_unwind(payload)
}

/// Which deadline, if any, has passed at `now` (the explicit one wins).
fn expired(now: Instant, deadline: Option<Instant>, scope: Option<Instant>) -> Option<Wake> {
    if deadline.is_some_and(|d| now >= d) {
        Some(Wake::TimedOut)
    } else if scope.is_some_and(|s| now >= s) {
        Some(Wake::ScopeExpired)
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
    mode: Scope,
) -> Wake {
    let finishing = task.finishing.load(Ordering::Relaxed);
    let unwinding = finishing || unwinding(task);
    if cancellable && !unwinding {
        check_cancelled(task);
    }
    let scoped = decode(task.scope_deadline.load(Ordering::Relaxed));
    // An interrupt that applies but is held back only because this thread
    // looks as if it were unwinding is deferred, never dropped: the flag
    // can be stale while another thread of the worker is mid-unwind (see
    // `unwinding`), and the worker re-wakes deferred threads once none is.
    let held_back = (cancellable && task.is_cancelled()) || (mode == Scope::Unwind && scoped.is_some());
    if unwinding && !finishing && held_back {
        local.defer_interrupt(task);
    }
    if task.take_token() {
        return Wake::Unparked;
    }
    let scope = match mode {
        Scope::Ignore => None,
        Scope::Unwind if unwinding => None,
        _ => scoped,
    };
    let wait_until = earliest(deadline, scope);
    if let Some(d) = wait_until {
        if let Some(why) = expired(Instant::now(), deadline, scope) {
            return why;
        }
        local.add_timer(d, task);
    }
    // The worker also reports a cancellation here; `check_cancelled` below
    // reads the same flag.
    let _ = coroutine::suspend(Suspend::Park);
    let wake = match wait_until {
        Some(_) => {
            local.cancel_timer(task);
            expired(Instant::now(), deadline, scope).unwrap_or(Wake::Unparked)
        }
        None => Wake::Unparked,
    };
    if cancellable && !unwinding {
        check_cancelled(task);
    }
    wake
}

fn park_thread(deadline: Option<Instant>, scope: Option<Instant>) -> Wake {
    match earliest(deadline, scope) {
        None => {
            std::thread::park();
            Wake::Unparked
        }
        Some(d) => {
            let now = Instant::now();
            if let Some(why) = expired(now, deadline, scope) {
                return why;
            }
            std::thread::park_timeout(d - now);
            expired(Instant::now(), deadline, scope).unwrap_or(Wake::Unparked)
        }
    }
}

/// The caller's scoped deadline (set by [`crate::timeout`]), if any.
pub(crate) fn scope_deadline() -> Option<Instant> {
    match current_task() {
        Some(task) => decode(task.scope_deadline.load(Ordering::Relaxed)),
        None => context::scope_deadline(),
    }
}

/// Replaces the caller's scoped deadline; returns the previous one.
pub(crate) fn set_scope_deadline(deadline: Option<Instant>) -> Option<Instant> {
    match current_task() {
        Some(task) => decode(task.scope_deadline.swap(encode(deadline), Ordering::Relaxed)),
        None => context::set_scope_deadline(deadline),
    }
}

/// The instant scoped deadlines are counted from (nanoseconds, plus one so
/// that 0 means "none"; see `Header::scope_deadline`).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Encodes a deadline for `Header::scope_deadline`. A deadline before the
/// epoch is in the past anyway and becomes the epoch itself.
pub(crate) fn encode(deadline: Option<Instant>) -> u64 {
    match deadline {
        None => 0,
        Some(d) => {
            let nanos = d.saturating_duration_since(epoch()).as_nanos();
            u64::try_from(nanos).unwrap_or(u64::MAX - 1).saturating_add(1)
        }
    }
}

fn decode(raw: u64) -> Option<Instant> {
    match raw {
        0 => None,
        n => Some(epoch() + std::time::Duration::from_nanos(n - 1)),
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

/// Unwinds out of the green thread if it has been cancelled.
#[inline]
pub(crate) fn check_cancelled(task: &Header) {
    if task.is_cancelled() {
        cancelled_unwind();
    }
}

/// Unwinds out of the innermost [`crate::timeout`] whose deadline passed.
#[cold]
pub(crate) fn scope_expired_unwind() -> ! {
    mark_unwinding();
    // Like cancellation: `resume_unwind` skips the panic hook.
    std::panic::resume_unwind(Box::new(crate::error::ScopeExpired))
}

/// Starts the unwinding of a cancelled green thread, unless it is unwinding
/// already: a destructor that parks during that unwinding (closing a
/// socket, releasing a lock) must be allowed to finish, since a second
/// unwind from inside it would abort the process.
#[cold]
pub(crate) fn cancelled_unwind() {
    if is_unwinding() {
        return;
    }
    mark_unwinding();
    // `resume_unwind` skips the panic hook: a cancellation is not a panic
    // and prints nothing. The thread's top frame turns it into
    // `JoinError::Cancelled`.
    std::panic::resume_unwind(Box::new(crate::error::Cancelled))
}
