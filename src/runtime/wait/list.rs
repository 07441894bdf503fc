//! `WaitList`: the one waiter queue every primitive uses.
//!
//! A `WaitList` is a plain FIFO of [`Waiter`]s with removal by key. It has no
//! lock of its own: the primitive that owns it keeps it under the same mutex
//! as the state its waiters wait on, so "check the condition, then enqueue"
//! is atomic with respect to "change the condition, then dequeue and
//! unpark", and no wakeup can fall between the two.
//!
//! The waiting loop built on it is the parent module's (`wait_while`):
//!
//! ```text
//! loop {
//!     lock state; if condition holds { take it; return }
//!     key = list.push(Waiter::current()); unlock      (Registration::enqueue)
//!     park(until)                                     // may return spuriously
//!     lock; list.leave(key): Queued, Chosen or Broadcast
//! }
//! ```
//!
//! A waiter that was dequeued by `pop` (a `notify_one`) but then gives up
//! (timeout, cancellation) must pass the notification on, or it is lost;
//! one dequeued by `take_all` (a `notify_all`) need not. [`WaitList::leave`]
//! tells the two apart (see [`Left`]); the `Registration` guard of the
//! parent module acts on it, so primitives never do.

use std::collections::VecDeque;

use crate::runtime::park::Waiter;

/// How a waiter left its list (see [`WaitList::leave`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Left {
    /// It was still queued and removed itself: it holds no notification.
    Queued,
    /// A `pop` (`notify_one`) chose it, and no `take_all` woke the whole
    /// list since: it holds a notification nobody else received.
    Chosen,
    /// A `take_all` (`notify_all`) woke it, or woke everyone queued after
    /// a `pop` chose it: every waiter that could use the notification was
    /// woken too.
    Broadcast,
}

/// A FIFO of parked waiters, each with a key for removal.
///
/// Most lists hold zero or one waiter (a joiner, a lone receiver), so the
/// oldest waiter is stored inline and the queue behind it allocates only
/// when a second one arrives. Invariant: `first` is older than everything
/// in `rest`; a waiter goes to `first` only when `rest` is empty.
#[derive(Debug, Default)]
pub(crate) struct WaitList {
    next_key: u64,
    /// Keys below this were queued when the last `take_all` ran.
    broadcast_below: u64,
    first: Option<(u64, Waiter)>,
    rest: VecDeque<(u64, Waiter)>,
}

impl WaitList {
    pub(crate) const fn new() -> WaitList {
        WaitList {
            next_key: 0,
            broadcast_below: 0,
            first: None,
            rest: VecDeque::new(),
        }
    }

    /// Enqueues `waiter` at the back; returns its key.
    pub(crate) fn push(&mut self, waiter: Waiter) -> u64 {
        let key = self.next_key;
        self.next_key += 1;
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some((key, waiter));
        } else {
            self.rest.push_back((key, waiter));
        }
        key
    }

    /// Removes the waiter with `key`. Returns `false` if it is no longer
    /// queued, i.e. a notifier already dequeued (and unparked) it.
    pub(crate) fn remove(&mut self, key: u64) -> bool {
        if self.first.as_ref().is_some_and(|(k, _)| *k == key) {
            self.first = None;
            return true;
        }
        if self.rest.is_empty() {
            // The common case: the lone waiter was popped by a notifier.
            return false;
        }
        // Keys are increasing, so `rest` is sorted by key.
        match self.rest.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => {
                self.rest.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Removes the waiter with `key` and says how it left: by itself, or
    /// dequeued earlier by a `pop` or a `take_all`.
    ///
    /// A waiter chosen by `pop` and then caught by a later `take_all` counts
    /// as [`Left::Broadcast`]: that `take_all` woke everyone queued behind
    /// it, and later arrivals check the state before they queue, so there
    /// is nobody left to hand a notification to.
    pub(crate) fn leave(&mut self, key: u64) -> Left {
        if self.remove(key) {
            Left::Queued
        } else if key < self.broadcast_below {
            Left::Broadcast
        } else {
            Left::Chosen
        }
    }

    /// Dequeues the oldest waiter; the caller unparks it (after unlocking).
    pub(crate) fn pop(&mut self) -> Option<Waiter> {
        match self.first.take() {
            Some((_, w)) => Some(w),
            None => self.rest.pop_front().map(|(_, w)| w),
        }
    }

    /// Dequeues every waiter; the caller unparks them (after unlocking).
    pub(crate) fn take_all(&mut self) -> impl Iterator<Item = Waiter> {
        self.broadcast_below = self.next_key;
        let rest = if self.rest.is_empty() {
            VecDeque::new()
        } else {
            std::mem::take(&mut self.rest)
        };
        self.first.take().into_iter().chain(rest).map(|(_, w)| w)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w() -> Waiter {
        Waiter::current()
    }

    #[test]
    fn fifo_order_and_removal_across_the_inline_slot() {
        let mut l = WaitList::new();
        let a = l.push(w());
        let b = l.push(w());
        let c = l.push(w());
        assert_eq!(l.len(), 3);
        assert!(l.remove(a));
        assert!(!l.remove(a));
        // `first` is empty but `rest` is not: a new waiter queues behind.
        let d = l.push(w());
        assert!(l.remove(c));
        assert_eq!(l.len(), 2);
        assert!(l.pop().is_some()); // b
        assert!(!l.remove(b));
        assert!(l.remove(d));
        assert!(l.is_empty());
        l.push(w());
        l.push(w());
        assert_eq!(l.take_all().count(), 2);
        assert!(l.is_empty());
    }

    #[test]
    fn leave_tells_notify_one_from_notify_all() {
        let mut l = WaitList::new();
        let a = l.push(w());
        let b = l.push(w());
        let c = l.push(w());
        assert!(l.pop().is_some()); // a
        assert_eq!(l.leave(b), Left::Queued);
        assert_eq!(l.leave(a), Left::Chosen);
        let d = l.push(w());
        assert!(l.pop().is_some()); // c
        assert_eq!(l.take_all().count(), 1); // d
        assert_eq!(l.leave(d), Left::Broadcast);
        // Chosen before the broadcast, which woke everyone behind it.
        assert_eq!(l.leave(c), Left::Broadcast);
        let e = l.push(w());
        assert!(l.pop().is_some());
        assert_eq!(l.leave(e), Left::Chosen);
    }
}
