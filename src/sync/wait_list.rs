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
#[derive(Debug, Default)]
pub(crate) struct WaitList {
    next_key: u64,
    waiters: VecDeque<(u64, Waiter)>,
}

impl WaitList {
    pub(crate) const fn new() -> WaitList {
        WaitList {
            next_key: 0,
            waiters: VecDeque::new(),
        }
    }

    /// Enqueues `waiter` at the back; returns its key.
    pub(crate) fn push(&mut self, waiter: Waiter) -> u64 {
        let key = self.next_key;
        self.next_key += 1;
        self.waiters.push_back((key, waiter));
        key
    }

    /// Removes the waiter with `key`. Returns `false` if it is no longer
    /// queued, i.e. a notifier already dequeued (and unparked) it.
    pub(crate) fn remove(&mut self, key: u64) -> bool {
        // Keys are increasing, so the list is sorted by key.
        match self.waiters.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => {
                self.waiters.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Dequeues the oldest waiter; the caller unparks it (after unlocking).
    pub(crate) fn pop(&mut self) -> Option<Waiter> {
        self.waiters.pop_front().map(|(_, w)| w)
    }

    /// Dequeues every waiter; the caller unparks them (after unlocking).
    pub(crate) fn take_all(&mut self) -> impl Iterator<Item = Waiter> {
        std::mem::take(&mut self.waiters)
            .into_iter()
            .map(|(_, w)| w)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.waiters.len()
    }
}
