//! `Mutex`, `RwLock` and `Condvar` that park green threads.
//!
//! The data lives in a `parking_lot` lock that is only ever *tried*
//! (`try_lock`), never waited on, so no OS thread blocks on it. When the try
//! fails, the caller enqueues itself on a [`WaitList`] kept under a small
//! state mutex, tries again (the holder may have released meanwhile), and
//! parks. Releasing unlocks the data first, then dequeues and unparks one
//! waiter: either the waiter's second try sees the lock free, or the
//! releaser sees the waiter. The woken waiter competes with newcomers
//! (barging); a waiter that loses simply waits again.
//!
//! A guard may be held across a park (sleep, I/O): the green thread never
//! changes OS thread once started, and the `parking_lot` guard is never
//! contended, so no worker blocks.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use parking_lot::Mutex as RawMutex;

use crate::runtime::park::Wake;
use crate::runtime::wait::{self, Queue, Registration, Until, WaitList};

/// The waiters of one lock (and what they wait for).
#[derive(Debug, Default)]
struct Waiters {
    /// `lock` (and `write`) callers.
    writers: WaitList,
    /// `read` callers.
    readers: WaitList,
}

fn writers(w: &mut Waiters) -> &mut WaitList {
    &mut w.writers
}

fn readers(w: &mut Waiters) -> &mut WaitList {
    &mut w.readers
}

const WRITERS: Queue<Waiters> = Queue::new(writers);
const READERS: Queue<Waiters> = Queue::new(readers);

/// A mutual-exclusion lock whose `lock` parks a green thread (blocks an OS
/// thread) instead of blocking its worker. No poisoning: see the
/// [module docs](crate::sync).
///
/// ```
/// use std::sync::Arc;
/// let m = Arc::new(verdant::sync::Mutex::new(0));
/// let hs: Vec<_> = (0..10).map(|_| {
///     let m = m.clone();
///     verdant::spawn(move || *m.lock() += 1)
/// }).collect();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// assert_eq!(*m.lock(), 10);
/// ```
pub struct Mutex<T: ?Sized> {
    waiters: RawMutex<Waiters>,
    data: RawMutex<T>,
}

/// Access to a [`Mutex`]'s data; releases the lock when dropped.
///
/// ```
/// let m = verdant::sync::Mutex::new(vec![1]);
/// m.lock().push(2);
/// assert_eq!(*m.lock(), [1, 2]);
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    lock: &'a Mutex<T>,
    inner: Option<parking_lot::MutexGuard<'a, T>>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            waiters: RawMutex::new(Waiters {
                writers: WaitList::new(),
                readers: WaitList::new(),
            }),
            data: RawMutex::new(value),
        }
    }

    /// The data, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, waiting while another thread holds the lock. Inside
    /// [`crate::timeout`], an expired deadline unwinds out of the wait.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.lock_until(Until::Forever).expect("waits forever")
    }

    /// Locks if it is free now.
    ///
    /// ```
    /// let m = verdant::sync::Mutex::new(());
    /// let g = m.lock();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.data.try_lock().map(|g| MutexGuard {
            lock: self,
            inner: Some(g),
        })
    }

    /// Locks, waiting at most `dur`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = verdant::sync::Mutex::new(());
    /// let _g = m.lock();
    /// assert!(m.lock_timeout(Duration::from_millis(5)).is_none());
    /// ```
    pub fn lock_timeout(&self, dur: Duration) -> Option<MutexGuard<'_, T>> {
        self.lock_until(wait::after(dur))
    }

    fn lock_until(&self, until: Until) -> Option<MutexGuard<'_, T>> {
        if let Some(g) = self.try_lock() {
            return Some(g);
        }
        self.lock_slow(until)
    }

    #[cold]
    fn lock_slow(&self, until: Until) -> Option<MutexGuard<'_, T>> {
        let mut got = None;
        let w = self.waiters.lock();
        let (_w, _) = wait::wait_while(&self.waiters, w, WRITERS, until, |_| {
            got = self.data.try_lock();
            got.is_none()
        });
        got.map(|g| MutexGuard {
            lock: self,
            inner: Some(g),
        })
    }

    /// Mutable access without locking (the borrow proves exclusivity).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Wakes one waiting locker (after the data was unlocked).
    fn unlocked(&self) {
        let w = self.waiters.lock().writers.pop();
        wait::unpark_all(w);
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        if self.inner.take().is_some() {
            self.lock.unlocked();
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner.as_ref().expect("guard is held")
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.inner.as_mut().expect("guard is held")
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(v: T) -> Self {
        Mutex::new(v)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_lock() {
            Some(g) => f.debug_struct("Mutex").field("data", &&*g).finish(),
            None => f.debug_struct("Mutex").field("data", &"<locked>").finish(),
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A reader-writer lock: many readers or one writer. Waiting parks a green
/// thread. Not fair: a steady stream of readers can delay a writer.
///
/// ```
/// let l = verdant::sync::RwLock::new(5);
/// {
///     let a = l.read();
///     let b = l.read();
///     assert_eq!(*a + *b, 10);
/// }
/// *l.write() += 1;
/// assert_eq!(*l.read(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    waiters: RawMutex<Waiters>,
    data: parking_lot::RwLock<T>,
}

/// Shared access to a [`RwLock`]'s data.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    inner: Option<parking_lot::RwLockReadGuard<'a, T>>,
}

/// Exclusive access to a [`RwLock`]'s data.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    inner: Option<parking_lot::RwLockWriteGuard<'a, T>>,
}

impl<T> RwLock<T> {
    /// A new unlocked lock.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            waiters: RawMutex::new(Waiters {
                writers: WaitList::new(),
                readers: WaitList::new(),
            }),
            data: parking_lot::RwLock::new(value),
        }
    }

    /// The data, consuming the lock.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Shared access, waiting while a writer holds the lock.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        if let Some(g) = self.try_read() {
            return g;
        }
        let mut got = None;
        let w = self.waiters.lock();
        drop(wait::wait_while(&self.waiters, w, READERS, Until::Forever, |_| {
            got = self.data.try_read();
            got.is_none()
        }));
        RwLockReadGuard { lock: self, inner: got }
    }

    /// Exclusive access, waiting while anyone holds the lock.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        if let Some(g) = self.try_write() {
            return g;
        }
        let mut got = None;
        let w = self.waiters.lock();
        drop(wait::wait_while(&self.waiters, w, WRITERS, Until::Forever, |_| {
            got = self.data.try_write();
            got.is_none()
        }));
        RwLockWriteGuard { lock: self, inner: got }
    }

    /// Shared access if no writer holds the lock now.
    ///
    /// ```
    /// let l = verdant::sync::RwLock::new(());
    /// let _w = l.write();
    /// assert!(l.try_read().is_none());
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.data.try_read().map(|g| RwLockReadGuard {
            lock: self,
            inner: Some(g),
        })
    }

    /// Exclusive access if nobody holds the lock now.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.data.try_write().map(|g| RwLockWriteGuard {
            lock: self,
            inner: Some(g),
        })
    }

    /// Mutable access without locking.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        if self.inner.take().is_some() {
            // Maybe the last reader: let a writer try.
            let w = {
                let mut w = self.lock.waiters.lock();
                if w.writers.is_empty() {
                    return;
                }
                w.writers.pop()
            };
            wait::unpark_all(w);
        }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        if self.inner.take().is_some() {
            let woken: Vec<_> = {
                let mut w = self.lock.waiters.lock();
                let mut v: Vec<_> = w.readers.take_all().collect();
                v.extend(w.writers.pop());
                v
            };
            wait::unpark_all(woken);
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner.as_ref().expect("guard is held")
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner.as_ref().expect("guard is held")
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.inner.as_mut().expect("guard is held")
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_read() {
            Some(g) => f.debug_struct("RwLock").field("data", &&*g).finish(),
            None => f.debug_struct("RwLock").field("data", &"<locked>").finish(),
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A condition variable for [`Mutex`]. `notify_one` wakes waiters in FIFO
/// order; spurious wakeups are possible, so wait in a loop (or use
/// [`Condvar::wait_while`]).
///
/// ```
/// use std::sync::Arc;
/// use verdant::sync::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let p = pair.clone();
/// verdant::spawn(move || {
///     *p.0.lock() = true;
///     p.1.notify_one();
/// });
/// let (lock, cv) = &*pair;
/// let ready = cv.wait_while(lock.lock(), |ready| !*ready);
/// assert!(*ready);
/// ```
#[derive(Debug, Default)]
pub struct Condvar {
    waiters: RawMutex<WaitList>,
}

/// Whether [`Condvar::wait_timeout`] returned because its time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// The wait timed out.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A new condition variable.
    pub const fn new() -> Condvar {
        Condvar {
            waiters: RawMutex::new(WaitList::new()),
        }
    }

    /// Releases the guard's lock, waits for a notification, relocks.
    /// Inside [`crate::timeout`], an expired deadline unwinds.
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_inner(guard, Until::Forever).0
    }

    /// Waits until `condition` is false, re-checking after each wakeup.
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Like [`Condvar::wait`], giving up after `dur`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = verdant::sync::Mutex::new(());
    /// let cv = verdant::sync::Condvar::new();
    /// let (_g, r) = cv.wait_timeout(m.lock(), Duration::from_millis(5));
    /// assert!(r.timed_out());
    /// ```
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        self.wait_inner(guard, wait::after(dur))
    }

    /// Like [`Condvar::wait_while`], giving up after `dur`.
    pub fn wait_timeout_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let until = wait::after(dur);
        while condition(&mut guard) {
            let (g, r) = self.wait_inner(guard, until);
            guard = g;
            if r.timed_out() {
                let still = condition(&mut guard);
                return (guard, WaitTimeoutResult(still));
            }
        }
        (guard, WaitTimeoutResult(false))
    }

    fn wait_inner<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        until: Until,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let mutex = guard.lock;
        // Enqueue first, then unlock the mutex: a notify after the unlock
        // finds us queued.
        let mut reg = Registration::enqueue(&self.waiters, self.waiters.lock(), wait::LONE);
        drop(guard);
        let wake = wait::park_until(until);
        // Chosen by a `notify_one`, the registration holds the notification
        // while we re-lock: unwinding meanwhile (cancelled, or its `timeout`
        // expired) hands it on, as POSIX asks of a cancelled
        // `pthread_cond_wait`.
        let chosen = reg.leave();
        let guard = mutex.lock();
        reg.consume();
        // Chosen by a `notify_one`, it has been notified even if its deadline
        // passed meanwhile: reporting a timeout would lose the notification.
        (guard, WaitTimeoutResult(wake != Wake::Unparked && !chosen))
    }

    /// Wakes one waiter.
    pub fn notify_one(&self) {
        let w = self.waiters.lock().pop();
        wait::unpark_all(w);
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        let woken: Vec<_> = self.waiters.lock().take_all().collect();
        wait::unpark_all(woken);
    }
}
