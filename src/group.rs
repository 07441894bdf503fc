//! [`Group`]: a set of green threads joined in completion order, and
//! cancelled together (gevent's `Group`, tokio's `JoinSet`).
//!
//! # The completion queue
//!
//! `join_next` must not scan its threads for a finished one. Each thread
//! of a group carries the group's [`Finished`] as its completion hook
//! (`runtime::task::Completion`): when the thread completes (its outcome
//! can be taken), the hook pushes its id onto the group's queue and wakes
//! the group's waiter, under the queue's lock. `join_next` waits on that
//! queue with the one wait loop (`runtime::wait::wait_while`), pops an id
//! and takes that thread's handle out of a map: O(1) per thread.
//!
//! # No orphans
//!
//! Dropping a group cancels the threads still in it and waits for them,
//! uninterruptibly, so no thread outlives its group. A green thread that is
//! cancelled while it owns a group unwinds, and the unwinding drops the
//! group: cancellation flows down to the group's threads.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Elapsed, JoinError};
use crate::green::{GreenThread, JoinHandle};
use crate::runtime::task::why::Why;
use crate::runtime::task::{self, Completion, Header, Wait};
use crate::runtime::wait::{self, Queue, Until, WaitList};
use crate::runtime::Handle;

/// A set of green threads that are joined in the order they finish and
/// cancelled together: gevent's `Group`, tokio's `JoinSet`.
///
/// Dropping a group cancels the threads still in it and waits for them to
/// finish (they unwind from their next blocking call, running their
/// destructors), so no thread outlives its group. A green thread that owns
/// a group and is cancelled drops it as it unwinds, which cancels the
/// group's threads too.
///
/// ```
/// let mut group = verdant::Group::new();
/// for i in 0..4 {
///     group.spawn(move || i * 10);
/// }
/// let mut sum = 0;
/// while let Some(r) = group.join_next() {
///     sum += r.unwrap();
/// }
/// assert_eq!(sum, 60);
/// assert!(group.is_empty());
/// ```
pub struct Group<T> {
    /// The threads not joined yet, by id.
    handles: HashMap<u64, JoinHandle<T>>,
    finished: Arc<Finished>,
}

/// The completion queue of a group (module docs).
#[derive(Debug, Default)]
struct Finished {
    state: Mutex<FinishedState>,
}

#[derive(Debug, Default)]
struct FinishedState {
    /// Ids of the threads that completed, in that order.
    ids: VecDeque<u64>,
    /// Who waits in `join_next` (the group's owner).
    waiters: WaitList,
}

fn waiters(s: &mut FinishedState) -> &mut WaitList {
    &mut s.waiters
}

/// The group's one wait list.
const WAITERS: Queue<FinishedState> = Queue::new(waiters).named(Why::Group);

impl Completion for Finished {
    fn completed(&self, task: &Header) {
        let woken: Vec<_> = {
            let mut s = self.state.lock();
            s.ids.push_back(task.id);
            s.waiters.take_all().collect()
        };
        wait::unpark_all(woken);
    }
}

impl<T> Group<T> {
    /// An empty group.
    ///
    /// ```
    /// let group = verdant::Group::<()>::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn new() -> Group<T> {
        Group {
            handles: HashMap::new(),
            finished: Arc::default(),
        }
    }

    /// Spawns a green thread into the group, on the current runtime (as
    /// [`crate::spawn`]); returns it (its id, name, `unpark`).
    ///
    /// # Panics
    ///
    /// Panics if the runtime has shut down.
    ///
    /// ```
    /// let mut group = verdant::Group::new();
    /// let t = group.spawn(|| verdant::current().id());
    /// assert_eq!(group.join_next().unwrap().unwrap(), t.id());
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, f: F) -> GreenThread
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let completion: Arc<dyn Completion> = self.finished.clone();
        let at = std::panic::Location::caller();
        let h = Handle::with_current(|handle| crate::Builder::new().at(at).spawn_watched(handle, Some(completion), f))
            .unwrap_or_else(|e| panic!("verdant::Group::spawn failed: {e}"));
        let thread = h.thread();
        self.handles.insert(h.0.task().id, h);
        thread
    }

    /// Waits for the next thread of the group to finish and returns its
    /// outcome, in completion order; `None` if the group is empty (every
    /// thread has been joined). Parks a green caller; blocks an OS-thread
    /// caller. Inside [`crate::timeout`], an expired deadline unwinds.
    ///
    /// ```
    /// let mut group = verdant::Group::new();
    /// assert!(group.join_next().is_none());
    /// group.spawn(|| "done");
    /// assert_eq!(group.join_next().unwrap().unwrap(), "done");
    /// assert!(group.join_next().is_none());
    /// ```
    pub fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.next(None).ok().flatten()
    }

    /// Like [`join_next`](Group::join_next), waiting at most `dur`:
    /// `Err(Elapsed)` if no thread finished in time, `Ok(None)` if the group
    /// is empty.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut group = verdant::Group::new();
    /// group.spawn(|| verdant::sleep(Duration::from_secs(3600)));
    /// assert!(group.join_next_timeout(Duration::from_millis(5)).is_err());
    /// group.cancel_all();
    /// assert!(matches!(group.join_next_timeout(Duration::from_millis(5)), Ok(None)));
    /// ```
    pub fn join_next_timeout(&mut self, dur: Duration) -> Result<Option<Result<T, JoinError>>, Elapsed> {
        match Instant::now().checked_add(dur) {
            Some(deadline) => self.next(Some(deadline)),
            None => Ok(self.join_next()),
        }
    }

    fn next(&mut self, deadline: Option<Instant>) -> Result<Option<Result<T, JoinError>>, Elapsed> {
        loop {
            if self.handles.is_empty() {
                return Ok(None);
            }
            let id = {
                let guard = self.finished.state.lock();
                let (mut guard, ready) =
                    wait::wait_while(&self.finished.state, guard, WAITERS, Until::Within(deadline), |s| {
                        s.ids.is_empty()
                    });
                if !ready {
                    return Err(Elapsed::new());
                }
                guard.ids.pop_front().expect("woken with an id")
            };
            // An id without a handle is one whose spawn failed after its
            // thread was made (the runtime shut down): skip it.
            if let Some(h) = self.handles.remove(&id) {
                // Complete already: `join` takes the outcome at once.
                return Ok(Some(h.join()));
            }
        }
    }

    /// Waits for every thread of the group and returns their outcomes, in
    /// completion order; the group is empty afterwards.
    ///
    /// ```
    /// let mut group = verdant::Group::new();
    /// group.spawn(|| 1);
    /// group.spawn(|| 2);
    /// let mut all: Vec<i32> = group.join_all().into_iter().map(Result::unwrap).collect();
    /// all.sort();
    /// assert_eq!(all, [1, 2]);
    /// ```
    pub fn join_all(&mut self) -> Vec<Result<T, JoinError>> {
        let mut all = Vec::with_capacity(self.handles.len());
        while let Some(r) = self.join_next() {
            all.push(r);
        }
        all
    }

    /// Cancels every thread of the group and waits until all have finished
    /// (gevent's `Group.kill`); their outcomes are dropped and the group is
    /// empty afterwards. The wait is not cut short by a cancellation of the
    /// caller or an expired [`crate::timeout`]: those unwind once it is over.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut group = verdant::Group::new();
    /// for _ in 0..3 {
    ///     group.spawn(|| verdant::sleep(Duration::from_secs(3600)));
    /// }
    /// group.cancel_all();
    /// assert!(group.is_empty());
    /// ```
    pub fn cancel_all(&mut self) {
        self.cancel_and_wait();
        crate::runtime::interrupt::check_interrupts();
    }

    /// [`cancel_all`](Group::cancel_all) without raising the caller's
    /// interrupts afterwards (the drop: they unwind from the next blocking
    /// call instead).
    fn cancel_and_wait(&mut self) {
        for h in self.handles.values() {
            h.cancel();
        }
        for (_, h) in self.handles.drain() {
            task::wait_complete(h.0.header(), None, Wait::Uninterruptible);
        }
        self.finished.state.lock().ids.clear();
    }

    /// How many threads the group holds: running, or finished and not
    /// joined yet.
    ///
    /// ```
    /// let mut group = verdant::Group::new();
    /// group.spawn(|| ());
    /// assert_eq!(group.len(), 1);
    /// group.join_next();
    /// assert_eq!(group.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Whether the group holds no thread.
    ///
    /// ```
    /// assert!(verdant::Group::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }
}

impl<T> Default for Group<T> {
    fn default() -> Group<T> {
        Group::new()
    }
}

/// Cancels the threads still in the group and waits for them.
impl<T> Drop for Group<T> {
    fn drop(&mut self) {
        self.cancel_and_wait();
    }
}

impl<T> fmt::Debug for Group<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("len", &self.handles.len())
            .field("finished", &self.finished.state.lock().ids.len())
            .finish()
    }
}
