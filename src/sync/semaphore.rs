//! `Semaphore`: counted permits with RAII release (eventlet's
//! `BoundedSemaphore`: releasing beyond the initial count is an error).

use std::fmt;
use std::time::Duration;

use parking_lot::Mutex;

use crate::runtime::wait::WaitList;
use crate::runtime::wait::{self, Until};

#[derive(Debug)]
struct State {
    available: usize,
    waiters: WaitList,
}

fn waiters(s: &mut State) -> &mut WaitList {
    &mut s.waiters
}

/// A counting semaphore. `acquire` waits (parking a green thread) while no
/// permit is available; the returned [`SemaphorePermit`] gives it back when
/// dropped. Wakeups are FIFO, barging allowed.
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
    max: usize,
}

/// One permit of a [`Semaphore`]; released when dropped.
#[must_use = "the permit is released at once if unused"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
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
                available: permits,
                waiters: WaitList::new(),
            }),
            max: permits,
        }
    }

    /// Takes a permit, waiting while none is available. Inside
    /// [`crate::timeout`], an expired deadline unwinds.
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_until(Until::Forever).expect("waits forever")
    }

    /// Takes a permit if one is available now.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut s = self.state.lock();
        if s.available == 0 {
            return None;
        }
        s.available -= 1;
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
        let s = self.state.lock();
        let (mut s, ready) = wait::wait_while(&self.state, s, waiters, until, |s| s.available == 0, None);
        if !ready {
            return None;
        }
        s.available -= 1;
        Some(SemaphorePermit { sem: self })
    }

    /// Permits available now.
    pub fn available_permits(&self) -> usize {
        self.state.lock().available
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
        if s.available >= self.max {
            return Err(ReleaseError(()));
        }
        s.available += 1;
        let w = s.waiters.pop();
        drop(s);
        wait::unpark_all(w);
        Ok(())
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
        f.debug_struct("Semaphore")
            .field("available", &self.available_permits())
            .field("max", &self.max)
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("SemaphorePermit")
    }
}
