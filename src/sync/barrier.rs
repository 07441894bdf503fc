//! `Barrier`: `std::sync::Barrier`, green. The last arrival wakes all.

use std::fmt;

use parking_lot::Mutex;

use crate::runtime::task::why::Why;
use crate::runtime::wait::WaitList;
use crate::runtime::wait::{self, Queue, Until};

struct State {
    arrived: usize,
    generation: u64,
    waiters: WaitList,
}

fn waiters(s: &mut State) -> &mut WaitList {
    &mut s.waiters
}

/// Lets `n` threads wait until all of them have arrived, like
/// `std::sync::Barrier`. Reusable.
///
/// ```
/// use std::sync::Arc;
/// let b = Arc::new(verdant::sync::Barrier::new(3));
/// let hs: Vec<_> = (0..3).map(|_| {
///     let b = b.clone();
///     verdant::spawn(move || b.wait().is_leader())
/// }).collect();
/// let leaders = hs.into_iter().filter(|_| true).map(|h| h.join().unwrap()).filter(|l| *l).count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    n: usize,
    state: Mutex<State>,
}

/// What [`Barrier::wait`] returns: exactly one waiter per round is the
/// leader.
#[derive(Clone, Copy)]
pub struct BarrierWaitResult(bool);

impl fmt::Debug for BarrierWaitResult {
    /// `BarrierWaitResult { is_leader: .. }`, as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitResult").field("is_leader", &self.0).finish()
    }
}

impl BarrierWaitResult {
    /// Whether this waiter is the round's leader (the last to arrive).
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` threads.
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            n,
            state: Mutex::new(State {
                arrived: 0,
                generation: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Waits until `n` threads have called `wait`. A waiter that is
    /// cancelled (or whose `timeout` deadline expires) withdraws its arrival.
    pub fn wait(&self) -> BarrierWaitResult {
        let mut s = self.state.lock();
        s.arrived += 1;
        if s.arrived >= self.n {
            s.arrived = 0;
            s.generation += 1;
            let woken: Vec<_> = s.waiters.take_all().collect();
            drop(s);
            wait::unpark_all(woken);
            return BarrierWaitResult(true);
        }
        let gen = s.generation;
        let withdraw = Withdraw(self, gen);
        drop(wait::wait_while(
            &self.state,
            s,
            Queue::new(waiters).named(Why::Barrier),
            Until::Forever,
            |s| s.generation == gen,
        ));
        std::mem::forget(withdraw);
        BarrierWaitResult(false)
    }
}

/// Takes back the arrival of a waiter that unwinds out of `wait`.
struct Withdraw<'a>(&'a Barrier, u64);

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state.lock();
        if s.generation == self.1 {
            s.arrived -= 1;
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Barrier { .. }`, as std's.
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}
