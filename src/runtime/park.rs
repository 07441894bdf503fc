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

use std::sync::Arc;
use std::thread::Thread;
use std::time::Instant;

use crate::runtime::coroutine::{self, Suspend};
use crate::runtime::task::Header;
use crate::runtime::{context, scheduler};

/// Something that can be parked and unparked.
#[derive(Clone)]
pub(crate) enum Waiter {
    Green(Arc<Header>),
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

    /// Wakes the waiter (a token if it is not parked yet).
    pub(crate) fn unpark(&self) {
        match self {
            Waiter::Green(task) => unpark_task(task),
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
    /// The deadline has passed.
    TimedOut,
}

/// The running green thread, if the caller is one.
pub(crate) fn current_task() -> Option<Arc<Header>> {
    context::worker().and_then(|w| w.current_task())
}

/// Blocks the caller until unparked or until `deadline`.
///
/// A green thread switches out and its worker runs others; an OS thread
/// blocks. Unwinds instead of returning if the green thread is cancelled.
pub(crate) fn park(deadline: Option<Instant>) -> Wake {
    if let Some(local) = context::worker() {
        if let Some(task) = local.current_task() {
            return park_green(&local, &task, deadline);
        }
    }
    park_thread(deadline)
}

fn park_green(local: &scheduler::worker::Local, task: &Arc<Header>, deadline: Option<Instant>) -> Wake {
    check_cancelled(task);
    if task.take_token() {
        return Wake::Unparked;
    }
    if let Some(d) = deadline {
        if Instant::now() >= d {
            return Wake::TimedOut;
        }
        local.add_timer(d, task);
    }
    let cancelled = coroutine::suspend(Suspend::Park);
    let wake = match deadline {
        Some(d) => {
            local.cancel_timer(task);
            if Instant::now() >= d {
                Wake::TimedOut
            } else {
                Wake::Unparked
            }
        }
        None => Wake::Unparked,
    };
    if cancelled {
        cancelled_unwind();
    }
    wake
}

fn park_thread(deadline: Option<Instant>) -> Wake {
    match deadline {
        None => {
            std::thread::park();
            Wake::Unparked
        }
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                return Wake::TimedOut;
            }
            std::thread::park_timeout(d - now);
            if Instant::now() >= d {
                Wake::TimedOut
            } else {
                Wake::Unparked
            }
        }
    }
}

/// Schedules `task` if this unpark is the one that wakes it.
pub(crate) fn unpark_task(task: &Arc<Header>) {
    if task.notify() {
        if let Some(shared) = &task.shared {
            shared.schedule_woken(task.clone());
        }
    }
}

/// Unwinds out of the green thread if it has been cancelled.
#[inline]
pub(crate) fn check_cancelled(task: &Header) {
    if task.is_cancelled() {
        cancelled_unwind();
    }
}

/// Starts the unwinding of a cancelled green thread, unless it is unwinding
/// already: a destructor that parks during that unwinding (closing a
/// socket, releasing a lock) must be allowed to finish, since a second
/// unwind from inside it would abort the process.
#[cold]
pub(crate) fn cancelled_unwind() {
    if std::thread::panicking() {
        return;
    }
    // `resume_unwind` skips the panic hook: a cancellation is not a panic
    // and prints nothing. The thread's top frame turns it into
    // `JoinError::Cancelled`.
    std::panic::resume_unwind(Box::new(crate::error::Cancelled))
}
