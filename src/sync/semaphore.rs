//! `Semaphore`: counted permits with RAII release (eventlet's
//! `BoundedSemaphore`: releasing beyond the initial count is an error),
//! handed out in arrival order.
//!
//! # Hand-over (why it is FIFO)
//!
//! 1. `acquire` takes a permit at once only while fewer than `size` are
//!    held. Whenever a waiter is queued, all `size` are held (step 2
//!    keeps it so), so a newcomer cannot take a permit a waiter waits for.
//! 2. A release with waiters queued does not make the permit free: it
//!    stays held, and the oldest waiter is dequeued (`pop`) and unparked as
//!    its new owner. Growing the size (`resize`) hands the new permits
//!    over the same way.
//! 3. The woken waiter finds that a `notify_one` chose it and proceeds
//!    with the permit it was given.
//! 4. If it leaves before (cancelled, or unwinding from an expired
//!    `timeout`), its registration gives the permit back, which hands it to
//!    the next waiter: the pass-on rule of the runtime's wait module, with
//!    [`Queue::handing_over`].
//!
//! The crate builds its other limiters on this one: `GreenPool` (an owned
//! permit per running green thread, `resize`, `waitall` = [`Semaphore::
//! wait_idle`]), the resolver's in-flight limit and `serve`'s connection
//! limit.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::runtime::park::Waiter;
use crate::runtime::task::why::Why;
use crate::runtime::wait::{self, Queue, Until, WaitList};

#[derive(Debug)]
struct State {
    /// Permits in all.
    size: usize,
    /// Permits held, including those handed to waiters not yet running.
    /// May exceed `size` after a shrinking `resize`.
    held: usize,
    /// `acquire` callers. Only ever `pop`ped (a permit goes with each).
    waiters: WaitList,
    /// `wait_idle` callers, waiting for `held == 0`.
    idle: WaitList,
}

impl State {
    /// Hands a free permit to the oldest waiter, if both exist.
    fn hand_over(&mut self) -> Option<Waiter> {
        if self.held >= self.size {
            return None;
        }
        let w = self.waiters.pop()?;
        self.held += 1;
        Some(w)
    }

    /// Gives back the permit a chosen waiter leaves without (step 4).
    fn give_back(&mut self) -> Option<Waiter> {
        self.held -= 1;
        self.hand_over()
    }

    /// Whoever to wake now that `held` went down by one.
    fn released(&mut self) -> Vec<Waiter> {
        let mut woken: Vec<Waiter> = self.hand_over().into_iter().collect();
        if self.held == 0 {
            woken.extend(self.idle.take_all());
        }
        woken
    }
}

fn waiters(s: &mut State) -> &mut WaitList {
    &mut s.waiters
}

fn idle(s: &mut State) -> &mut WaitList {
    &mut s.idle
}

const WAITERS: Queue<State> = Queue::new(waiters).handing_over(State::give_back).named(Why::Semaphore);
const IDLE: Queue<State> = Queue::new(idle).named(Why::Semaphore);

/// A counting semaphore. `acquire` waits (parking a green thread) while no
/// permit is available; the returned [`SemaphorePermit`] gives it back when
/// dropped. Fair: permits go to waiters in arrival order, and a later
/// `acquire` (or `try_acquire`) never takes one a waiter is queued for.
///
/// ```
/// let sem = verdant::sync::Semaphore::new(2);
/// let a = sem.acquire();
/// let _b = sem.acquire();
/// assert!(sem.try_acquire().is_none());
/// drop(a);
/// assert!(sem.try_acquire().is_some());
/// ```
pub struct Semaphore {
    state: Mutex<State>,
}

/// One permit of a [`Semaphore`]; released when dropped.
#[must_use = "the permit is released at once if unused"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

/// A permit that owns a reference to its semaphore, so it can move into a
/// spawned green thread; released when dropped.
#[must_use = "the permit is released at once if unused"]
pub(crate) struct OwnedPermit {
    sem: Arc<Semaphore>,
}

/// [`Semaphore::release`] would exceed the initial count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseError(());

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore released too many times")
    }
}

impl std::error::Error for ReleaseError {}

impl Semaphore {
    /// A semaphore with `permits` permits (also its maximum).
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            state: Mutex::new(State {
                size: permits,
                held: 0,
                waiters: WaitList::new(),
                idle: WaitList::new(),
            }),
        }
    }

    /// Takes a permit, waiting while none is available. Inside
    /// [`crate::timeout`], an expired deadline unwinds.
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_until(Until::Forever).expect("waits forever")
    }

    /// Takes a permit if one is available now (and nobody waits for it).
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut s = self.state.lock();
        if s.held >= s.size {
            return None;
        }
        s.held += 1;
        Some(SemaphorePermit { sem: self })
    }

    /// Takes a permit, waiting at most `dur`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = verdant::sync::Semaphore::new(0);
    /// assert!(sem.acquire_timeout(Duration::from_millis(5)).is_none());
    /// ```
    pub fn acquire_timeout(&self, dur: Duration) -> Option<SemaphorePermit<'_>> {
        self.acquire_until(wait::after(dur))
    }

    fn acquire_until(&self, until: Until) -> Option<SemaphorePermit<'_>> {
        self.take(until).then_some(SemaphorePermit { sem: self })
    }

    /// Takes a permit (steps 1 and 3 of the module docs); `false` if the
    /// deadline passed first.
    fn take(&self, until: Until) -> bool {
        let s = self.state.lock();
        let (_s, got) = wait::wait_while_chosen(&self.state, s, WAITERS, until, |s, chosen| {
            if chosen {
                return false; // handed over: already counted in `held`
            }
            if s.held < s.size {
                s.held += 1;
                return false;
            }
            true
        });
        got
    }

    /// Permits available now.
    pub fn available_permits(&self) -> usize {
        let s = self.state.lock();
        s.size.saturating_sub(s.held)
    }

    /// Gives back a permit taken with [`SemaphorePermit::forget`].
    ///
    /// # Errors
    ///
    /// [`ReleaseError`] if every permit is already available (the
    /// semaphore is bounded by its initial count).
    ///
    /// ```
    /// let sem = verdant::sync::Semaphore::new(1);
    /// assert!(sem.release().is_err());
    /// sem.acquire().forget();
    /// assert!(sem.release().is_ok());
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        let mut s = self.state.lock();
        if s.held == 0 {
            return Err(ReleaseError(()));
        }
        s.held -= 1;
        let woken = s.released();
        drop(s);
        wait::unpark_all(woken);
        Ok(())
    }

    /// Takes a permit that can move into another green thread (waiting
    /// like [`Semaphore::acquire`]).
    pub(crate) fn acquire_owned(self: &Arc<Self>) -> OwnedPermit {
        assert!(self.take(Until::Forever), "waits forever");
        OwnedPermit { sem: self.clone() }
    }

    /// Changes the number of permits. Growing hands the new ones to
    /// waiters at once; shrinking lets holders finish and hands out no
    /// permit until fewer than `size` are held.
    pub(crate) fn resize(&self, size: usize) {
        let mut s = self.state.lock();
        s.size = size;
        let woken: Vec<Waiter> = std::iter::from_fn(|| s.hand_over()).collect();
        drop(s);
        wait::unpark_all(woken);
    }

    /// Waits until no permit is held; `false` if `until` ended it first.
    pub(crate) fn wait_idle(&self, until: Until) -> bool {
        let s = self.state.lock();
        wait::wait_while(&self.state, s, IDLE, until, |s| s.held > 0).1
    }

    /// The number of permits.
    pub(crate) fn size(&self) -> usize {
        self.state.lock().size
    }

    /// Permits held now (including those handed to waiters not running yet).
    pub(crate) fn held(&self) -> usize {
        self.state.lock().held
    }

    /// Callers waiting for a permit.
    pub(crate) fn waiting(&self) -> usize {
        self.state.lock().waiters.len()
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        // Cannot fail: this permit is counted in `held`.
        let _ = self.sem.release();
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("OwnedPermit")
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken (give it back with [`Semaphore::release`]).
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        // Fails only if the count was already restored by hand
        // (`Semaphore::release` while this permit was held); a destructor
        // must not panic, so the surplus release is simply dropped.
        let _ = self.sem.release();
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.lock();
        f.debug_struct("Semaphore")
            .field("available", &s.size.saturating_sub(s.held))
            .field("max", &s.size)
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("SemaphorePermit")
    }
}
