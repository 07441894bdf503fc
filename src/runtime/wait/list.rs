//! `WaitList`: the one waiter queue every primitive uses.
//!
//! A `WaitList` is a plain FIFO of [`Waiter`]s with removal by key. It has no
//! lock of its own: the primitive that owns it keeps it under the same mutex
//! as the state its waiters wait on, so "check the condition, then enqueue"
//! is atomic with respect to "change the condition, then dequeue and
//! unpark", and no wakeup can fall between the two.
//!
//! The usual waiting loop (see [`crate::runtime::park`]):
//!
//! ```text
//! loop {
//!     lock state; if condition holds { take it; return }
//!     key = list.push(Waiter::current()); unlock
//!     park(deadline)                      // may return spuriously
//!     lock; if !list.remove(key) { we were dequeued by a notifier }
//! }
//! ```
//!
//! A waiter that was dequeued by `pop` (a `notify_one`) but then gives up
//! (timeout, cancellation) must pass the notification on, or it is lost.

use std::collections::VecDeque;

use crate::runtime::park::Waiter;

/// A FIFO of parked waiters, each with a key for removal.
///
/// Most lists hold zero or one waiter (a joiner, a lone receiver), so the
/// oldest waiter is stored inline and the queue behind it allocates only
/// when a second one arrives. Invariant: `first` is older than everything
/// in `rest`; a waiter goes to `first` only when `rest` is empty.
#[derive(Debug, Default)]
pub(crate) struct WaitList {
    next_key: u64,
    first: Option<(u64, Waiter)>,
    rest: VecDeque<(u64, Waiter)>,
}

impl WaitList {
    pub(crate) const fn new() -> WaitList {
        WaitList {
            next_key: 0,
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
        // Keys are increasing, so `rest` is sorted by key.
        match self.rest.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => {
                self.rest.remove(i);
                true
            }
            Err(_) => false,
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
        Waiter::Thread(std::thread::current())
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
}
