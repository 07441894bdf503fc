//! Work queues (Python's `queue`, eventlet's `Queue`): [`Queue`] (FIFO),
//! [`PriorityQueue`] (smallest first) and [`LifoQueue`], each with an
//! optional capacity (`put` waits while full: backpressure) and
//! JoinableQueue's `task_done`/`join`.
//!
//! Handles are cheap clones sharing one queue. One mutex guards the items,
//! the unfinished-task count and three wait lists (getters, putters,
//! joiners). Getters and putters are woken FIFO, barging allowed; `join`
//! waiters are all woken when the last task is done.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::runtime::task::why::Why;
use crate::runtime::wait::WaitList;
use crate::runtime::wait::{self, Until};

/// How a queue orders its items.
trait Store: Default {
    type Item;
    fn push(&mut self, item: Self::Item);
    fn pop(&mut self) -> Option<Self::Item>;
    fn len(&self) -> usize;
}

struct Fifo<T>(VecDeque<T>);
struct Lifo<T>(Vec<T>);
struct Prio<T>(BinaryHeap<Reverse<T>>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T: Ord> Default for Prio<T> {
    fn default() -> Self {
        Prio(BinaryHeap::new())
    }
}

impl<T> Store for Fifo<T> {
    type Item = T;
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Store for Lifo<T> {
    type Item = T;
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> Store for Prio<T> {
    type Item = T;
    fn push(&mut self, item: T) {
        self.0.push(Reverse(item));
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|r| r.0)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

struct State<S> {
    items: S,
    cap: Option<usize>,
    unfinished: usize,
    getters: WaitList,
    putters: WaitList,
    joiners: WaitList,
}

impl<S: Store> State<S> {
    fn full(&mut self) -> bool {
        self.cap.is_some_and(|c| self.items.len() >= c)
    }
    fn empty(&mut self) -> bool {
        self.items.len() == 0
    }
}

fn getters<S>(s: &mut State<S>) -> &mut WaitList {
    &mut s.getters
}
fn putters<S>(s: &mut State<S>) -> &mut WaitList {
    &mut s.putters
}
fn joiners<S>(s: &mut State<S>) -> &mut WaitList {
    &mut s.joiners
}

struct Core<S> {
    state: Arc<Mutex<State<S>>>,
}

impl<S: Store> Core<S> {
    fn new(cap: Option<usize>) -> Core<S> {
        Core {
            state: Arc::new(Mutex::new(State {
                items: S::default(),
                cap,
                unfinished: 0,
                getters: WaitList::new(),
                putters: WaitList::new(),
                joiners: WaitList::new(),
            })),
        }
    }

    fn put(&self, item: S::Item, until: Until) -> Result<(), Full<S::Item>> {
        let s = self.state.lock();
        let (mut s, ready) = wait::wait_while(
            &self.state,
            s,
            wait::Queue::new(putters).named(Why::QueuePut),
            until,
            State::full,
        );
        if !ready {
            return Err(Full(item));
        }
        s.items.push(item);
        s.unfinished += 1;
        let w = s.getters.pop();
        drop(s);
        wait::unpark_all(w);
        Ok(())
    }

    fn try_put(&self, item: S::Item) -> Result<(), Full<S::Item>> {
        let mut s = self.state.lock();
        if s.full() {
            return Err(Full(item));
        }
        s.items.push(item);
        s.unfinished += 1;
        let w = s.getters.pop();
        drop(s);
        wait::unpark_all(w);
        Ok(())
    }

    fn get(&self, until: Until) -> Result<S::Item, Empty> {
        let s = self.state.lock();
        let (mut s, _) = wait::wait_while(
            &self.state,
            s,
            wait::Queue::new(getters).named(Why::QueueGet),
            until,
            State::empty,
        );
        let item = s.items.pop().ok_or(Empty(()))?;
        let w = s.putters.pop();
        drop(s);
        wait::unpark_all(w);
        Ok(item)
    }

    fn try_get(&self) -> Result<S::Item, Empty> {
        let mut s = self.state.lock();
        let item = s.items.pop().ok_or(Empty(()))?;
        let w = s.putters.pop();
        drop(s);
        wait::unpark_all(w);
        Ok(item)
    }

    fn task_done(&self) {
        let mut s = self.state.lock();
        assert!(
            s.unfinished > 0,
            "Queue::task_done called more times than there were items"
        );
        s.unfinished -= 1;
        if s.unfinished == 0 {
            let woken: Vec<_> = s.joiners.take_all().collect();
            drop(s);
            wait::unpark_all(woken);
        }
    }

    fn join(&self, until: Until) -> bool {
        let s = self.state.lock();
        wait::wait_while(
            &self.state,
            s,
            wait::Queue::new(joiners).named(Why::QueueJoin),
            until,
            |s| s.unfinished > 0,
        )
        .1
    }
}

/// The queue was full (the item is handed back).
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct Full<T>(pub T);

/// The queue was empty.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Empty(());

impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Full(..)")
    }
}
impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("queue is full")
    }
}
impl fmt::Display for Empty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("queue is empty")
    }
}
impl<T> std::error::Error for Full<T> {}
impl std::error::Error for Empty {}

macro_rules! queue_type {
    ($(#[$doc:meta])* $name:ident, $store:ident, [$($bound:tt)*], $example:literal) => {
        $(#[$doc])*
        pub struct $name<T> {
            core: Core<$store<T>>,
        }

        impl<T: $($bound)*> $name<T> {
            /// An unbounded queue.
            pub fn new() -> Self {
                $name { core: Core::new(None) }
            }

            /// A queue holding at most `cap` items: `put` waits while full.
            /// As with Python's `Queue(maxsize=0)`, a `cap` of 0 means no
            /// bound (a queue that could never take an item would only
            /// hang its producers).
            #[doc = $example]
            pub fn bounded(cap: usize) -> Self {
                $name { core: Core::new((cap > 0).then_some(cap)) }
            }

            /// Adds an item, waiting while the queue is full. Inside
            /// [`crate::timeout`], an expired deadline unwinds.
            pub fn put(&self, item: T) {
                if self.core.put(item, Until::Forever).is_err() {
                    unreachable!("put waits forever");
                }
            }

            /// Adds an item if there is room now.
            pub fn try_put(&self, item: T) -> Result<(), Full<T>> {
                self.core.try_put(item)
            }

            /// Adds an item, waiting at most `dur` for room.
            pub fn put_timeout(&self, item: T, dur: Duration) -> Result<(), Full<T>> {
                self.core.put(item, wait::after(dur))
            }

            /// Takes an item, waiting while the queue is empty. Inside
            /// [`crate::timeout`], an expired deadline unwinds.
            pub fn get(&self) -> T {
                self.core.get(Until::Forever).expect("get waits forever")
            }

            /// Takes an item if there is one now.
            pub fn try_get(&self) -> Result<T, Empty> {
                self.core.try_get()
            }

            /// Takes an item, waiting at most `dur`.
            pub fn get_timeout(&self, dur: Duration) -> Result<T, Empty> {
                self.core.get(wait::after(dur))
            }

            /// Marks one item taken by `get` as processed.
            ///
            /// # Panics
            ///
            /// Panics if called more times than items were put.
            pub fn task_done(&self) {
                self.core.task_done()
            }

            /// Waits until every item put has been marked done by
            /// [`task_done`](Self::task_done).
            pub fn join(&self) {
                self.core.join(Until::Forever);
            }

            /// Like [`join`](Self::join), waiting at most `dur`; whether
            /// every task is done.
            pub fn join_timeout(&self, dur: Duration) -> bool {
                self.core.join(wait::after(dur))
            }

            /// Items in the queue now.
            pub fn len(&self) -> usize {
                self.core.state.lock().items.len()
            }

            /// Whether the queue is empty now.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Whether the queue is at capacity now.
            pub fn is_full(&self) -> bool {
                self.core.state.lock().full()
            }

            /// Items put but not yet marked done.
            pub fn unfinished_tasks(&self) -> usize {
                self.core.state.lock().unfinished
            }

            /// The capacity (`None` if unbounded).
            pub fn capacity(&self) -> Option<usize> {
                self.core.state.lock().cap
            }
        }

        impl<T: $($bound)*> Default for $name<T> {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                $name { core: Core { state: self.core.state.clone() } }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let s = self.core.state.lock();
                f.debug_struct(stringify!($name))
                    .field("cap", &s.cap)
                    .field("unfinished", &s.unfinished)
                    .finish_non_exhaustive()
            }
        }
    };
}

queue_type!(
    /// A FIFO work queue; clones share it.
    ///
    /// ```
    /// let q = verdant::sync::Queue::bounded(2);
    /// let worker = {
    ///     let q = q.clone();
    ///     verdant::spawn(move || loop {
    ///         let job: u32 = q.get();
    ///         q.task_done();
    ///         if job == 0 { break; }
    ///     })
    /// };
    /// for j in [3, 2, 1, 0] { q.put(j); }
    /// q.join(); // every job done
    /// worker.join().unwrap();
    /// ```
    Queue, Fifo, [Sized],
    "```\nlet q = verdant::sync::Queue::bounded(1);\nq.put(1);\nassert!(q.try_put(2).is_err());\nassert_eq!(q.get(), 1);\n```"
);

queue_type!(
    /// A queue that yields the smallest item first (Python's
    /// `PriorityQueue`); clones share it.
    ///
    /// ```
    /// let q = verdant::sync::PriorityQueue::new();
    /// for p in [3, 1, 2] { q.put(p); }
    /// assert_eq!([q.get(), q.get(), q.get()], [1, 2, 3]);
    /// ```
    PriorityQueue, Prio, [Ord],
    "```\nlet q = verdant::sync::PriorityQueue::bounded(1);\nq.put(1);\nassert!(q.try_put(0).is_err());\n```"
);

queue_type!(
    /// A last-in first-out queue; clones share it.
    ///
    /// ```
    /// let q = verdant::sync::LifoQueue::new();
    /// q.put(1);
    /// q.put(2);
    /// assert_eq!(q.get(), 2);
    /// ```
    LifoQueue, Lifo, [Sized],
    "```\nlet q = verdant::sync::LifoQueue::bounded(1);\nq.put(1);\nassert!(q.try_put(2).is_err());\n```"
);
