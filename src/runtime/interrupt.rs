//! Interrupts: what may end a green thread's wait early, in one place.
//!
//! Three things can interrupt a wait besides its own wakeup, and all three
//! are decided here, at the park point (`park` calls in; nothing else
//! does):
//!
//! * **Cancellation** (`JoinHandle::cancel`): the thread unwinds from its
//!   next park point with the private payload [`Cancelled`], which its top
//!   frame turns into `JoinError::Cancelled` (see `docs/architecture.md`,
//!   "Cancellation unwinds").
//! * **The timeout deadline** of [`crate::timeout`]: a field of the green
//!   thread's `Header` (a thread-local in `context` on a plain OS thread).
//!   Calls that can report a timeout error see it as `Wake::Elapsed`;
//!   calls whose std-mirroring signature has none unwind with the private
//!   payload [`ElapsedUnwind`], which only `timeout` catches (eventlet's
//!   `Timeout` exception, in Rust).
//! * **Unwinding**: while a green thread is already unwinding (a destructor
//!   that parks on the way out), neither of the above applies: a second
//!   unwind from inside a destructor would abort the process.
//!
//! # How unwinding is tracked
//!
//! `std::thread::panicking()` alone cannot tell whether a *green* thread
//! unwinds: its count belongs to the OS thread, so while one green thread
//! of a worker is parked in a destructor halfway through its unwinding,
//! every other green thread of that worker would look as if it were
//! unwinding too. The runtime therefore flags the thread itself where an
//! unwinding starts (its own unwinds here, user panics in the panic hook,
//! see `panic_hook`); the flag counts only while some unwinding is in
//! progress on this OS thread, so a panic the thread caught and moved on
//! from clears itself. An interrupt held back only because of a stale flag
//! is deferred, never dropped (see `park::park_green`).

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::runtime::context;
use crate::runtime::park::current_task;
use crate::runtime::task::Header;

/// Payload of the unwinding that cancellation starts at a park point.
/// Private: only a green thread's top frame ever sees it.
pub(crate) struct Cancelled;

/// Payload of the unwinding that an elapsed [`crate::timeout`] starts at a
/// park point whose call has no timeout error. Private: only
/// [`crate::timeout`] catches it.
pub(crate) struct ElapsedUnwind;

/// Whether the green thread `task` is unwinding (a panic, a cancellation,
/// an elapsed timeout), or finishing (its function has returned: dropping
/// its result and locals is not interrupted either).
pub(crate) fn unwinding(task: &Header) -> bool {
    if task.is_finishing() {
        return true;
    }
    if !std::thread::panicking() {
        task.set_unwinding(false);
        return false;
    }
    task.is_unwinding()
}

/// [`unwinding`] for the caller: its green thread's flag, or on a plain OS
/// thread `std::thread::panicking()` (exact there).
pub(crate) fn is_unwinding() -> bool {
    match current_task() {
        Some(task) => unwinding(&task),
        None => std::thread::panicking(),
    }
}

/// Whether the caller is unwinding now (a panic, a cancellation, an elapsed
/// `verdant::timeout`): `verdant::panicking`, std's `thread::panicking`
/// per green thread (the OS thread's flag is shared by the green threads
/// of its worker while one of them unwinds).
pub(crate) fn is_unwinding_now() -> bool {
    match current_task() {
        Some(task) => std::thread::panicking() && task.is_unwinding(),
        None => std::thread::panicking(),
    }
}

/// Whether the caller is unwinding from a *panic*: what poisons a lock
/// whose guard it drops (`crate::sync`'s module docs). A cancellation or
/// an elapsed [`crate::timeout`] unwinding is not a panic and returns
/// `false`. On a green thread this is its own flag, not the OS thread's
/// `std::thread::panicking()`, which other green threads of the worker
/// share.
#[inline]
pub(crate) fn is_panicking() -> bool {
    // Fast path: no unwinding at all on this OS thread.
    std::thread::panicking() && is_panicking_slow()
}

#[cold]
fn is_panicking_slow() -> bool {
    match current_task() {
        Some(task) => task.is_panicking(),
        None => !OS_INTERRUPTED.try_with(Cell::get).unwrap_or(false),
    }
}

thread_local! {
    /// On a plain OS thread: its latest unwinding was started by the
    /// runtime (an elapsed `timeout`), not by a panic.
    static OS_INTERRUPTED: Cell<bool> = const { Cell::new(false) };
}

/// Clears the flag once the caller has caught its own unwinding
/// (`timeout` catching its elapsed deadline).
pub(crate) fn clear_unwinding() {
    match current_task() {
        Some(task) => task.set_unwinding(false),
        None => {
            let _ = OS_INTERRUPTED.try_with(|c| c.set(false));
        }
    }
}

/// Marks the calling green thread as unwinding from a panic (see
/// [`unwinding`], [`is_panicking`]). Never panics: it also runs inside the
/// panic hook.
pub(crate) fn mark_unwinding() {
    mark(true);
}

/// Marks the caller as unwinding, from a panic or (`panic == false`) from
/// an interrupt of the runtime's. Never panics.
fn mark(panic: bool) {
    match context::try_worker().and_then(|w| w.current_task()) {
        Some(task) => task.set_unwinding_from(panic),
        None => {
            let _ = OS_INTERRUPTED.try_with(|c| c.set(!panic));
        }
    }
}

/// Re-raises a caught unwinding (a panic, a cancellation, an elapsed
/// timeout) after marking the thread as unwinding: `std::panic::
/// resume_unwind` skips the panic hook, so without this a destructor that
/// parks on the way out could be interrupted and abort the process.
pub(crate) fn resume_unwind(payload: Box<dyn std::any::Any + Send>) -> ! {
    mark(!(payload.is::<Cancelled>() || payload.is::<ElapsedUnwind>()));
    std::panic::resume_unwind(payload)
}

/// Unwinds out of the green thread if it has been cancelled.
#[inline]
pub(crate) fn check_cancelled(task: &Header) {
    if task.is_cancelled() {
        cancelled_unwind();
    }
}

/// Unwinds if the calling green thread was cancelled or its timeout
/// deadline has passed (after an uninterruptible wait).
pub(crate) fn check_interrupts() {
    if let Some(task) = current_task() {
        check_cancelled(&task);
    }
    if timeout_deadline().is_some_and(|d| Instant::now() >= d) && !is_unwinding() {
        elapsed_unwind();
    }
}

/// Whether [`check_interrupts`] would unwind now: the calling green thread
/// was cancelled, or its timeout deadline has passed, and it is not
/// unwinding already. A wait that must not unwind (`verdant::scope`)
/// asks this to pass the interrupt down to the threads it owns.
pub(crate) fn interrupted() -> bool {
    if is_unwinding() {
        return false;
    }
    current_task().is_some_and(|t| t.is_cancelled()) || timeout_deadline().is_some_and(|d| Instant::now() >= d)
}

/// The caller's timeout deadline, if it could still interrupt it (it is
/// not unwinding): when a wait that must notice [`interrupted`] should
/// wake up to look.
pub(crate) fn interrupt_deadline() -> Option<Instant> {
    timeout_deadline().filter(|_| !is_unwinding())
}

/// Whether a caught unwinding is one of the runtime's interrupts (a
/// cancellation, an elapsed timeout) rather than a panic.
pub(crate) fn is_interrupt(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<Cancelled>() || payload.is::<ElapsedUnwind>()
}

/// Unwinds the calling green thread as if it had been cancelled, now: a
/// thread of `verdant::try_scope` whose function returned an error it
/// handed to the scope (its join then reports a cancellation).
#[cold]
pub(crate) fn unwind_as_cancelled() -> ! {
    mark(false);
    std::panic::resume_unwind(Box::new(Cancelled))
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
    mark(false);
    // `resume_unwind` skips the panic hook: a cancellation is not a panic
    // and prints nothing. The thread's top frame turns it into
    // `JoinError::Cancelled`.
    std::panic::resume_unwind(Box::new(Cancelled))
}

/// Unwinds out of the innermost [`crate::timeout`] whose deadline passed.
#[cold]
pub(crate) fn elapsed_unwind() -> ! {
    mark(false);
    // Like cancellation: `resume_unwind` skips the panic hook.
    std::panic::resume_unwind(Box::new(ElapsedUnwind))
}

/// Records that a call of the caller was cut short by its timeout deadline
/// (it returned [`Wake::Elapsed`](crate::runtime::park::Wake) or the
/// equivalent error): the innermost [`crate::timeout`] then reports
/// `Elapsed` even if its closure returns normally. The mark is the
/// deadline slot set to [`elapsed_mark`], an instant in the past, so every
/// later call inside the same `timeout` elapses at once, as it would have.
pub(crate) fn note_elapsed() {
    set_timeout_deadline(Some(elapsed_mark()));
}

/// The deadline value [`note_elapsed`] stores.
pub(crate) fn elapsed_mark() -> Instant {
    epoch()
}

/// The caller's timeout deadline (set by [`crate::timeout`]), if any.
pub(crate) fn timeout_deadline() -> Option<Instant> {
    match current_task() {
        Some(task) => task.timeout_deadline(),
        None => context::timeout_deadline(),
    }
}

/// Replaces the caller's timeout deadline; returns the previous one.
pub(crate) fn set_timeout_deadline(deadline: Option<Instant>) -> Option<Instant> {
    match current_task() {
        Some(task) => task.set_timeout_deadline(deadline),
        None => context::set_timeout_deadline(deadline),
    }
}

/// The instant deadlines stored in a `Header` are counted from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Encodes a deadline into one word: nanoseconds since [`epoch`] plus one,
/// so that 0 means "none". A deadline before the epoch is in the past
/// anyway and becomes the epoch itself.
pub(crate) fn encode_deadline(deadline: Option<Instant>) -> u64 {
    match deadline {
        None => 0,
        Some(d) => {
            let nanos = d.saturating_duration_since(epoch()).as_nanos();
            u64::try_from(nanos).unwrap_or(u64::MAX - 1).saturating_add(1)
        }
    }
}

/// The inverse of [`encode_deadline`].
pub(crate) fn decode_deadline(raw: u64) -> Option<Instant> {
    match raw {
        0 => None,
        n => Some(epoch() + Duration::from_nanos(n - 1)),
    }
}
