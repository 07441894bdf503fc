//! `WaitGroup`: Go's, wait until a count of tasks reaches zero. Cloning
//! shares it. `wait` wakes every waiter at once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::runtime::task::why::Why;
use crate::runtime::wait::WaitList;
use crate::runtime::wait::{self, Queue, Until};

struct State {
    count: usize,
    waiters: WaitList,
}

fn waiters(s: &mut State) -> &mut WaitList {
    &mut s.waiters
}

/// Waits for a group of tasks to finish (Go's `sync.WaitGroup`).
///
/// ```
/// let wg = verdant::sync::WaitGroup::new();
/// for _ in 0..4 {
///     wg.add(1);
///     let wg = wg.clone();
///     verdant::spawn(move || wg.done());
/// }
/// wg.wait();
/// assert_eq!(wg.count(), 0);
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Mutex<State>>,
}

impl WaitGroup {
    /// A group with count 0.
    pub fn new() -> WaitGroup {
        WaitGroup {
            inner: Arc::new(Mutex::new(State {
                count: 0,
                waiters: WaitList::new(),
            })),
        }
    }

    /// Adds `n` to the count.
    pub fn add(&self, n: usize) {
        self.inner.lock().count += n;
    }

    /// Subtracts one; wakes the waiters when the count reaches zero.
    ///
    /// # Panics
    ///
    /// Panics if the count is already zero.
    pub fn done(&self) {
        let mut s = self.inner.lock();
        assert!(s.count > 0, "WaitGroup::done called more times than add");
        s.count -= 1;
        if s.count == 0 {
            let woken: Vec<_> = s.waiters.take_all().collect();
            drop(s);
            wait::unpark_all(woken);
        }
    }

    /// The count now.
    pub fn count(&self) -> usize {
        self.inner.lock().count
    }

    /// Waits until the count is zero. Inside [`crate::timeout`], an expired
    /// deadline unwinds.
    pub fn wait(&self) {
        self.wait_until(Until::Forever);
    }

    /// Waits at most `dur`; whether the count reached zero.
    pub fn wait_timeout(&self, dur: Duration) -> bool {
        self.wait_until(wait::after(dur))
    }

    fn wait_until(&self, until: Until) -> bool {
        let s = self.inner.lock();
        wait::wait_while(&self.inner, s, Queue::new(waiters).named(Why::WaitGroup), until, |s| {
            s.count > 0
        })
        .1
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup").field("count", &self.count()).finish()
    }
}
