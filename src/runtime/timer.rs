//! Per-worker timers: a min-heap of deadlines with O(1) cancellation.
//!
//! A green thread has at most one live timer (the deadline of its current
//! `park`), identified by a sequence number stored in its header
//! (`Header::timer_seq`). Cancelling clears that number, nothing more: the
//! heap entry goes stale and is discarded when it surfaces. Deadlines on I/O
//! are usually cancelled, so cancellation must be cheap; to keep stale
//! entries from piling up (say, a million cancelled long timeouts) the heap is
//! rebuilt without them once they outnumber the live ones.
//!
//! Only the home worker touches its timers and the `timer_seq` of its
//! threads (started green threads never move), so no locks are taken.
//!
//! | operation | cost |
//! |-----------|------|
//! | insert    | O(log n) |
//! | cancel    | O(1) (amortised compaction O(1) per cancel) |
//! | fire      | O(log n) per expired or stale entry |

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::runtime::task::{Header, TaskRef};

/// Compaction never runs below this many entries.
const COMPACT_MIN: usize = 1024;

struct Entry {
    deadline: Instant,
    seq: u64,
    task: TaskRef,
}

impl Entry {
    fn is_live(&self) -> bool {
        self.task.timer_seq.load(Ordering::Relaxed) == self.seq
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

/// One worker's pending deadlines.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    next_seq: u64,
    stale: usize,
}

impl Timers {
    /// Arms the one timer of `task` for `deadline`.
    pub(crate) fn insert(&mut self, deadline: Instant, task: &TaskRef) {
        self.cancel(task);
        self.next_seq += 1;
        let seq = self.next_seq;
        task.timer_seq.store(seq, Ordering::Relaxed);
        self.heap.push(Reverse(Entry {
            deadline,
            seq,
            task: task.clone(),
        }));
    }

    /// Disarms the timer of `task`, if it has one.
    pub(crate) fn cancel(&mut self, task: &Header) {
        if task.timer_seq.swap(0, Ordering::Relaxed) != 0 {
            self.stale += 1;
            if self.stale > COMPACT_MIN && self.stale * 2 > self.heap.len() {
                self.compact();
            }
        }
    }

    fn compact(&mut self) {
        let heap = std::mem::take(&mut self.heap);
        self.heap = heap.into_iter().filter(|Reverse(e)| e.is_live()).collect();
        self.stale = 0;
    }

    /// The earliest live deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if top.is_live() {
                return Some(top.deadline);
            }
            self.heap.pop();
            self.stale = self.stale.saturating_sub(1);
        }
        None
    }

    /// Pops every timer due at `now`, calling `wake` for each live one.
    pub(crate) fn fire(&mut self, now: Instant, mut wake: impl FnMut(TaskRef)) -> usize {
        let mut fired = 0;
        while let Some(Reverse(top)) = self.heap.peek() {
            if top.deadline > now {
                break;
            }
            let Reverse(entry) = self.heap.pop().expect("peeked");
            if entry.is_live() {
                entry.task.timer_seq.store(0, Ordering::Relaxed);
                wake(entry.task);
                fired += 1;
            } else {
                self.stale = self.stale.saturating_sub(1);
            }
        }
        fired
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::task::{self, Spec};
    use std::time::Duration;

    fn task() -> TaskRef {
        let spec = Spec {
            name: None,
            stack_size: 0,
            shared: None,
            unjoined_panic: None,
            location: std::panic::Location::caller(),
        };
        let (_unrun, handle) = task::parts(spec, || ());
        handle.task().clone()
    }

    #[test]
    fn fires_in_deadline_order_and_skips_cancelled() {
        let mut t = Timers::default();
        let now = Instant::now();
        let (a, b, c) = (task(), task(), task());
        t.insert(now + Duration::from_millis(30), &a);
        t.insert(now + Duration::from_millis(10), &b);
        t.insert(now + Duration::from_millis(20), &c);
        t.cancel(&c);
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(10)));
        let mut woke = vec![];
        t.fire(now + Duration::from_millis(25), |h| woke.push(h.id));
        assert_eq!(woke, vec![b.id]);
        t.fire(now + Duration::from_millis(30), |h| woke.push(h.id));
        assert_eq!(woke, vec![b.id, a.id]);
        assert!(t.is_empty());
    }

    #[test]
    fn rearming_replaces_the_old_deadline() {
        let mut t = Timers::default();
        let now = Instant::now();
        let a = task();
        t.insert(now + Duration::from_millis(5), &a);
        t.insert(now + Duration::from_millis(50), &a);
        assert_eq!(t.fire(now + Duration::from_millis(10), |_| {}), 0);
        assert_eq!(t.fire(now + Duration::from_millis(50), |_| {}), 1);
    }

    #[test]
    fn cancelled_entries_are_compacted() {
        let mut t = Timers::default();
        let now = Instant::now();
        let tasks: Vec<_> = (0..10_000).map(|_| task()).collect();
        for (i, k) in tasks.iter().enumerate() {
            t.insert(now + Duration::from_secs(100 + i as u64), k);
        }
        for k in &tasks[..9_000] {
            t.cancel(k);
        }
        assert!(t.heap.len() < 5_000, "heap kept {} entries", t.heap.len());
        assert_eq!(t.fire(now + Duration::from_secs(1_000_000), |_| {}), 1_000);
    }
}
