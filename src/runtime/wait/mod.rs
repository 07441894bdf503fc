//! The waiting loop every primitive shares, written once.
//!
//! A primitive keeps its state and its [`WaitList`]s under one
//! `parking_lot::Mutex`. [`wait_while`] is the loop of `list`'s module
//! docs: check the condition under the lock, enqueue the caller, unlock,
//! park, relock, dequeue, re-check. A [`Registration`] guard dequeues the
//! waiter if `park` unwinds (cancellation, scoped deadline) and, if a
//! notifier had already dequeued it, passes the notification on to the next
//! waiter, so no wakeup is lost.

use std::time::Instant;

use parking_lot::{Mutex, MutexGuard};

use crate::runtime::park::{self, Waiter, Wake};
mod list;

pub(crate) use list::WaitList;

/// Selects one wait list of a primitive's state.
pub(crate) type ListOf<S> = fn(&mut S) -> &mut WaitList;

/// `(on_park, on_leave)` hooks of [`wait_while`].
pub(crate) type Hooks<S> = Option<(fn(&mut S), fn(&mut S))>;

/// How a wait may end early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// No deadline; an expired scoped deadline unwinds (`recv()`, `lock()`).
    Forever,
    /// A deadline (or none), and the scoped deadline ends the wait too: the
    /// call reports its timeout error (`recv_timeout`).
    Deadline(Option<Instant>),
}

/// Waits while `blocked(state)` holds. Returns the relocked guard and
/// whether the condition cleared (`false`: the deadline passed first).
///
/// `on_park` runs under the lock each time the caller is about to park and
/// `on_unpark` each time it stops waiting (also when unwinding): zero-capacity
/// channels count their waiting receivers with them.
pub(crate) fn wait_while<'a, S>(
    mutex: &'a Mutex<S>,
    mut guard: MutexGuard<'a, S>,
    list: ListOf<S>,
    until: Until,
    mut blocked: impl FnMut(&mut S) -> bool,
    hooks: Hooks<S>,
) -> (MutexGuard<'a, S>, bool) {
    while blocked(&mut guard) {
        let key = list(&mut guard).push(Waiter::current());
        if let Some((on_park, _)) = hooks {
            on_park(&mut guard);
        }
        drop(guard);
        let reg = Registration {
            mutex,
            list,
            key,
            on_leave: hooks.map(|h| h.1),
        };
        let wake = match until {
            Until::Forever => park::park(None),
            Until::Deadline(d) => park::park_reporting(d),
        };
        guard = reg.finish();
        if wake != Wake::Unparked && blocked(&mut guard) {
            return (guard, false);
        }
    }
    (guard, true)
}

/// One waiter enqueued on one wait list. Dropping it (when `park` unwinds)
/// dequeues the waiter and passes on a notification it had received.
pub(crate) struct Registration<'a, S> {
    pub(crate) mutex: &'a Mutex<S>,
    pub(crate) list: ListOf<S>,
    pub(crate) key: u64,
    pub(crate) on_leave: Option<fn(&mut S)>,
}

impl<'a, S> Registration<'a, S> {
    /// Relocks and dequeues (normal path). Returns the guard.
    pub(crate) fn finish(self) -> MutexGuard<'a, S> {
        self.finish_notified().0
    }

    /// Like [`Registration::finish`], and also says whether a notifier had
    /// already dequeued this waiter, i.e. whether it holds a notification
    /// (which a `notify_one` spent on it and nobody else received).
    pub(crate) fn finish_notified(self) -> (MutexGuard<'a, S>, bool) {
        let mut guard = self.mutex.lock();
        let notified = !(self.list)(&mut guard).remove(self.key);
        if let Some(leave) = self.on_leave {
            leave(&mut guard);
        }
        std::mem::forget(self);
        (guard, notified)
    }
}

impl<S> Drop for Registration<'_, S> {
    fn drop(&mut self) {
        let mut guard = self.mutex.lock();
        if let Some(leave) = self.on_leave {
            leave(&mut guard);
        }
        let list = (self.list)(&mut guard);
        if !list.remove(self.key) {
            // A notifier chose us, but we are leaving: hand it on.
            if let Some(next) = list.pop() {
                drop(guard);
                next.unpark();
            }
        }
    }
}

/// Wakes the waiters `woken` returned, after the caller released its lock.
pub(crate) fn unpark_all(woken: impl IntoIterator<Item = Waiter>) {
    for w in woken {
        w.unpark();
    }
}

/// `Until` for a `*_timeout(dur)` call.
pub(crate) fn after(dur: std::time::Duration) -> Until {
    Until::Deadline(Instant::now().checked_add(dur))
}
