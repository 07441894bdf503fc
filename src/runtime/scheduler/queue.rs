//! One worker's run queues, and stealing.
//!
//! ```text
//!   unstarted: deque (FIFO, this worker pushes) ◀── stolen by idle workers
//!   woken here by a running green thread ──▶ LIFO slot (runs next, ≤ MAX_LIFO_STREAK in a row)
//!   woken here otherwise, yielded, raced park ──▶ run queue (FIFO)
//!   woken by another OS thread ──▶ inbox (MPSC, in `WorkerShared`) ──drained──▶ run queue
//! ```
//!
//! Only unstarted green threads are ever stolen (the deque holds
//! `NewTask`s, whose stage holds a `Send` closure); woken threads go back to
//! their home worker, whose slab holds their coroutine.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use crossbeam_deque::{Injector, Steal, Worker as Deque};

use super::Shared;
use crate::runtime::task::NewTask;
use crate::runtime::task::TaskRef;

/// How many times in a row the LIFO slot may jump the run queue.
const MAX_LIFO_STREAK: u32 = 3;

/// The queues only this worker's OS thread touches.
pub(crate) struct RunQueue {
    /// Unstarted green threads spawned here (others steal from it).
    deque: Deque<NewTask>,
    /// Woken and yielded threads, in order.
    queue: RefCell<VecDeque<TaskRef>>,
    /// The thread most recently woken by a green thread of this worker
    /// (message-passing locality: it runs next).
    lifo: RefCell<Option<TaskRef>>,
    lifo_streak: Cell<u32>,
}

impl RunQueue {
    pub(crate) fn new(deque: Deque<NewTask>) -> RunQueue {
        RunQueue {
            deque,
            queue: RefCell::new(VecDeque::new()),
            lifo: RefCell::new(None),
            lifo_streak: Cell::new(0),
        }
    }

    /// Queues a green thread spawned on this worker (stealable).
    #[inline]
    pub(crate) fn push_new(&self, new: NewTask) {
        self.deque.push(new);
    }

    /// Queues a green thread of this worker that was just woken here:
    /// into the LIFO slot if a green thread woke it, else at the back.
    #[inline]
    pub(crate) fn push_woken(&self, task: TaskRef, by_green_thread: bool) {
        if by_green_thread {
            if let Some(prev) = self.lifo.borrow_mut().replace(task) {
                self.queue.borrow_mut().push_back(prev);
            }
        } else {
            self.queue.borrow_mut().push_back(task);
        }
    }

    /// Queues a thread at the back (it yielded, or a wakeup raced its park).
    #[inline]
    pub(crate) fn push_back(&self, task: TaskRef) {
        self.queue.borrow_mut().push_back(task);
    }

    /// Whether a woken thread is waiting here (the inbox aside).
    #[inline]
    pub(crate) fn has_woken(&self) -> bool {
        !self.queue.borrow().is_empty() || self.lifo.borrow().is_some()
    }

    /// The next woken thread to resume: the LIFO slot (bounded streak),
    /// the run queue, then the inbox.
    #[inline]
    pub(crate) fn next_woken(&self, inbox: &Injector<TaskRef>) -> Option<TaskRef> {
        if self.lifo_streak.get() < MAX_LIFO_STREAK {
            if let Some(task) = self.lifo.borrow_mut().take() {
                self.lifo_streak.set(self.lifo_streak.get() + 1);
                return Some(task);
            }
        }
        self.lifo_streak.set(0);
        if let Some(task) = self.queue.borrow_mut().pop_front() {
            return Some(task);
        }
        if let Some(task) = self.lifo.borrow_mut().take() {
            return Some(task);
        }
        self.drain_inbox(inbox);
        self.queue.borrow_mut().pop_front()
    }

    /// Moves everything in the inbox to the run queue; returns how many.
    pub(crate) fn drain_inbox(&self, inbox: &Injector<TaskRef>) -> usize {
        let mut n = 0;
        let mut queue = self.queue.borrow_mut();
        loop {
            match inbox.steal() {
                Steal::Success(task) => {
                    queue.push_back(task);
                    n += 1;
                }
                Steal::Retry => continue,
                Steal::Empty => return n,
            }
        }
    }

    /// An unstarted green thread for worker `index`: its own deque, the
    /// injector, then the other workers' deques. The flag says whether it
    /// came from elsewhere than its own deque (a steal, for metrics).
    pub(crate) fn find_new(&self, shared: &Shared, index: usize) -> (Option<NewTask>, bool) {
        if let Some(new) = self.deque.pop() {
            return (Some(new), false);
        }
        let n = shared.workers.len();
        let steal = || {
            std::iter::once(shared.injector.steal_batch_and_pop(&self.deque))
                .chain((1..n).map(|k| shared.workers[(index + k) % n].stealer.steal_batch_and_pop(&self.deque)))
                .collect::<Steal<NewTask>>()
        };
        loop {
            match steal() {
                Steal::Success(new) => return (Some(new), true),
                Steal::Empty => return (None, false),
                Steal::Retry => std::thread::yield_now(),
            }
        }
    }
}
