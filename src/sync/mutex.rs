//! `Mutex`, `RwLock` and `Condvar` that park green threads, with std's
//! signatures and poisoning.
//!
//! # The mutex's lock word
//!
//! A [`Mutex`] is a `lock_api::Mutex` (the data cell) over the lock word
//! of `raw_lock`: a byte with a `LOCKED` and a `PARKED` bit, one CAS to
//! lock and one to unlock while nobody waits, waiters queued through the
//! one wait loop of `runtime::wait`. That module's docs prove, in numbered
//! steps, that no wakeup is lost.
//!
//! The [`RwLock`] keeps its data in a `parking_lot::RwLock` that is only
//! ever *tried*, with readers and writers waiting on two lists, and a
//! `parked` flag so that an unlock takes the list lock only when someone
//! may wait. No wakeup is lost:
//!
//! 1. A waiter, under the list lock, stores `parked = true`, issues a
//!    `SeqCst` fence, then tries the data lock; if that fails it is queued
//!    before the list lock is released.
//! 2. An unlocker releases the data lock, issues a `SeqCst` fence, then
//!    loads `parked`.
//! 3. The two fences are ordered. If the waiter's comes first, the
//!    unlocker's load sees `true` (it is cleared only under the list lock
//!    when both lists are empty, and the waiter is queued before that lock
//!    is free), takes the list lock and wakes it. If the unlocker's comes
//!    first, the waiter's try sees the data lock released and succeeds.
//! 4. A woken waiter that loses to a barger repeats step 1.
//!
//! A guard may be held across a park (sleep, I/O): the green thread never
//! changes OS thread once started, and the `parking_lot` data locks are
//! never contended, so no worker blocks.
//!
//! # Poisoning
//!
//! As in std: a [`MutexGuard`] or [`RwLockWriteGuard`] dropped while its
//! thread unwinds from a *panic* poisons its lock. "Its thread" is the
//! green thread, told by the runtime's own flag
//! (`runtime::interrupt::is_panicking`), not by the OS thread's
//! `std::thread::panicking()`, which every green thread of a worker
//! shares. A *cancellation* or an elapsed [`crate::timeout`] unwinding
//! through a guard does not poison (see the [module docs](crate::sync)).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
use std::time::{Duration, Instant};

use parking_lot::Mutex as RawMutex;

use crate::runtime::interrupt;
use crate::runtime::park::{current_task, Wake};
use crate::runtime::task::why::Why;
use crate::runtime::wait::{self, Queue, Registration, Until, WaitList};

use super::raw_lock::RawLock;

/// The poison flag of a lock.
#[derive(Debug, Default)]
struct Flag(AtomicBool);

impl Flag {
    const fn new() -> Flag {
        Flag(AtomicBool::new(false))
    }

    fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// A guard releases: poisons if its thread started panicking since it
    /// locked (`panicking`: whether it was panicking then).
    #[inline]
    fn done(&self, panicking: bool) {
        if !panicking && interrupt::is_panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    fn result<G>(&self, guard: G) -> LockResult<G> {
        if self.get() {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }
}

/// A mutual-exclusion lock whose `lock` parks a green thread (blocks an OS
/// thread) instead of blocking its worker: std's `Mutex`, poisoning
/// included (see the [module docs](crate::sync)).
///
/// ```
/// use std::sync::Arc;
/// use verdant::sync::Mutex;
///
/// let m = Arc::new(Mutex::new(0));
/// let hs: Vec<_> = (0..10).map(|_| {
///     let m = m.clone();
///     verdant::spawn(move || *m.lock().unwrap() += 1)
/// }).collect();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// assert_eq!(*m.lock().unwrap(), 10);
/// ```
pub struct Mutex<T: ?Sized> {
    poison: Flag,
    inner: lock_api::Mutex<RawLock, T>,
}

impl<T: ?Sized> UnwindSafe for Mutex<T> {}
impl<T: ?Sized> RefUnwindSafe for Mutex<T> {}

/// Access to a [`Mutex`]'s data; releases the lock when dropped (and
/// poisons it if dropped by a panic).
///
/// ```
/// let m = verdant::sync::Mutex::new(vec![1]);
/// m.lock().unwrap().push(2);
/// assert_eq!(*m.lock().unwrap(), [1, 2]);
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    poison: &'a Flag,
    /// Whether the thread was panicking when it locked (std's rule).
    panicking: bool,
    /// Dropped after `Drop::drop` poisoned, as std orders it.
    inner: lock_api::MutexGuard<'a, RawLock, T>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    ///
    /// ```
    /// let m = verdant::sync::Mutex::new(0);
    /// assert_eq!(m.into_inner().unwrap(), 0);
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            poison: Flag::new(),
            inner: lock_api::Mutex::const_new(RawLock::new(), value),
        }
    }

    /// The data, consuming the mutex; `Err` (still carrying the data) if
    /// it is poisoned.
    ///
    /// ```
    /// let m = verdant::sync::Mutex::new(String::from("a"));
    /// assert_eq!(m.into_inner().unwrap(), "a");
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let Mutex { poison, inner } = self;
        poison.result(inner.into_inner())
    }
}

impl<T: ?Sized> Mutex<T> {
    /// `panicking`: whether the thread was panicking when it asked for the
    /// lock, read before taking it so the critical section stays short (it
    /// cannot change while the thread waits: an interrupt unwinds out of
    /// the wait without a guard).
    #[inline]
    fn guard<'a>(
        &'a self,
        inner: lock_api::MutexGuard<'a, RawLock, T>,
        panicking: bool,
    ) -> LockResult<MutexGuard<'a, T>> {
        self.poison.result(MutexGuard {
            poison: &self.poison,
            panicking,
            inner,
        })
    }

    /// Locks, waiting while another thread holds the lock; `Err` (still
    /// holding the lock) if it is poisoned. Inside [`crate::timeout`], an
    /// expired deadline unwinds out of the wait.
    ///
    /// ```
    /// let m = verdant::sync::Mutex::new(1);
    /// *m.lock().unwrap() += 1;
    /// assert_eq!(*m.lock().unwrap(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let panicking = interrupt::is_panicking();
        let inner = self.inner.try_lock_until(Until::Forever).expect("waits forever");
        self.guard(inner, panicking)
    }

    /// Locks if it is free now: `Err(TryLockError::WouldBlock)` if not,
    /// `Err(TryLockError::Poisoned(_))` (holding it) if it is poisoned.
    ///
    /// ```
    /// use verdant::sync::{Mutex, TryLockError};
    /// let m = Mutex::new(());
    /// let g = m.lock().unwrap();
    /// assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock)));
    /// drop(g);
    /// assert!(m.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        let panicking = interrupt::is_panicking();
        match self.inner.try_lock() {
            Some(inner) => Ok(self.guard(inner, panicking)?),
            None => Err(TryLockError::WouldBlock),
        }
    }

    /// Locks, waiting at most `dur` (verdant's own, not in std): like
    /// [`Mutex::try_lock`] that waits, `Err(TryLockError::WouldBlock)` once
    /// `dur` has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use verdant::sync::{Mutex, TryLockError};
    /// let m = Mutex::new(());
    /// let _g = m.lock().unwrap();
    /// let r = m.lock_timeout(Duration::from_millis(5));
    /// assert!(matches!(r, Err(TryLockError::WouldBlock)));
    /// ```
    pub fn lock_timeout(&self, dur: Duration) -> TryLockResult<MutexGuard<'_, T>> {
        let panicking = interrupt::is_panicking();
        match self.inner.try_lock_for(dur) {
            Some(inner) => Ok(self.guard(inner, panicking)?),
            None => Err(TryLockError::WouldBlock),
        }
    }

    /// Whether a thread panicked while holding the lock.
    ///
    /// ```
    /// let m = verdant::sync::Mutex::new(0);
    /// assert!(!m.is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poison: the next `lock` returns `Ok`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(verdant::sync::Mutex::new(0));
    /// let m2 = m.clone();
    /// let _ = std::thread::spawn(move || {
    ///     let _g = m2.lock().unwrap();
    ///     panic!("poisons the lock");
    /// })
    /// .join();
    /// assert!(m.is_poisoned());
    /// m.clear_poison();
    /// assert!(m.lock().is_ok());
    /// ```
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// Mutable access without locking (the borrow proves exclusivity);
    /// `Err` (still giving access) if poisoned.
    ///
    /// ```
    /// let mut m = verdant::sync::Mutex::new(1);
    /// *m.get_mut().unwrap() = 2;
    /// assert_eq!(*m.lock().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.poison.get();
        let data = self.inner.get_mut();
        if poisoned {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    /// Poisons the lock if the thread started panicking since it locked;
    /// the `inner` guard then unlocks.
    #[inline]
    fn drop(&mut self) {
        self.poison.done(self.panicking);
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
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
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(g) => d.field("data", &&*g),
            Err(TryLockError::Poisoned(e)) => d.field("data", &&**e.get_ref()),
            // std prints this placeholder as a string (quoted), though its
            // `RwLock` prints the same placeholder bare.
            Err(TryLockError::WouldBlock) => d.field("data", &"<locked>"),
        };
        d.field("poisoned", &self.is_poisoned()).finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// The waiters of a [`RwLock`] and its poison flag (everything but the
/// data).
#[derive(Debug, Default)]
struct RwShared {
    waiters: RawMutex<Waiters>,
    /// Waiters may be queued: set under the list lock before a waiter's
    /// last try, cleared under it when both lists are empty.
    parked: AtomicBool,
    poison: Flag,
}

/// The waiters of one [`RwLock`].
#[derive(Debug, Default)]
struct Waiters {
    /// `write` callers.
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

const WRITERS: Queue<Waiters> = Queue::new(writers).named(Why::WriteLock);
const READERS: Queue<Waiters> = Queue::new(readers).named(Why::ReadLock);

impl RwShared {
    /// Under the list lock, before a waiter's try: announces it (the
    /// first half of the handshake in the module docs).
    fn announce(&self) {
        self.parked.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// After the data lock was released: whether anyone may wait (the
    /// second half).
    #[inline]
    fn anyone_parked(&self) -> bool {
        fence(Ordering::SeqCst);
        self.parked.load(Ordering::Relaxed)
    }

    /// Under the list lock: clears `parked` once nobody waits.
    fn settle(&self, w: &Waiters) {
        if w.writers.is_empty() && w.readers.is_empty() {
            self.parked.store(false, Ordering::Relaxed);
        }
    }

    /// Maybe the last reader left: let a writer try.
    #[inline]
    fn read_unlocked(&self) {
        if self.anyone_parked() {
            self.wake(false);
        }
    }

    /// The writer left: every reader and one writer may try.
    #[inline]
    fn write_unlocked(&self) {
        if self.anyone_parked() {
            self.wake(true);
        }
    }

    #[cold]
    fn wake(&self, readers: bool) {
        let woken: Vec<_> = {
            let mut w = self.waiters.lock();
            let mut v: Vec<_> = if readers {
                w.readers.take_all().collect()
            } else {
                Vec::new()
            };
            v.extend(w.writers.pop());
            self.settle(&w);
            v
        };
        wait::unpark_all(woken);
    }
}

/// On an OS thread, retries `try_lock` a few times (a short exponential
/// spin, then yields: `parking_lot`'s `SpinWait`) before the caller
/// queues; a green thread does not spin (its park is cheap).
#[cold]
fn spin_os<G>(mut try_lock: impl FnMut() -> Option<G>) -> Option<G> {
    if current_task().is_some() {
        return None;
    }
    for i in 0..10 {
        if i < 3 {
            (0..2u32 << i).for_each(|_| std::hint::spin_loop());
        } else {
            std::thread::yield_now();
        }
        if let Some(g) = try_lock() {
            return Some(g);
        }
    }
    None
}

/// A reader-writer lock: many readers or one writer; std's `RwLock`,
/// poisoning included (a writer's panic poisons it). Waiting parks a green
/// thread. Not fair: a steady stream of readers can delay a writer.
///
/// ```
/// let l = verdant::sync::RwLock::new(5);
/// {
///     let a = l.read().unwrap();
///     let b = l.read().unwrap();
///     assert_eq!(*a + *b, 10);
/// }
/// *l.write().unwrap() += 1;
/// assert_eq!(*l.read().unwrap(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    shared: RwShared,
    data: parking_lot::RwLock<T>,
}

impl<T: ?Sized> UnwindSafe for RwLock<T> {}
impl<T: ?Sized> RefUnwindSafe for RwLock<T> {}

/// Shared access to a [`RwLock`]'s data. Covariant in `T`, as std's.
///
/// ```
/// let l = verdant::sync::RwLock::new(1);
/// let g = l.read().unwrap();
/// assert_eq!(*g, 1);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    shared: &'a RwShared,
    inner: Option<parking_lot::MappedRwLockReadGuard<'a, T>>,
}

/// Exclusive access to a [`RwLock`]'s data; poisons the lock if dropped
/// by a panic.
///
/// ```
/// let l = verdant::sync::RwLock::new(1);
/// *l.write().unwrap() = 2;
/// assert_eq!(*l.read().unwrap(), 2);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    shared: &'a RwShared,
    panicking: bool,
    inner: Option<parking_lot::RwLockWriteGuard<'a, T>>,
}

impl<T> RwLock<T> {
    /// A new unlocked lock.
    ///
    /// ```
    /// let l = verdant::sync::RwLock::new(0);
    /// assert_eq!(l.into_inner().unwrap(), 0);
    /// ```
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            shared: RwShared {
                waiters: RawMutex::new(Waiters {
                    writers: WaitList::new(),
                    readers: WaitList::new(),
                }),
                parked: AtomicBool::new(false),
                poison: Flag::new(),
            },
            data: parking_lot::RwLock::new(value),
        }
    }

    /// The data, consuming the lock; `Err` (still carrying it) if
    /// poisoned.
    ///
    /// ```
    /// let l = verdant::sync::RwLock::new(vec![1]);
    /// assert_eq!(l.into_inner().unwrap(), [1]);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let RwLock { shared, data } = self;
        shared.poison.result(data.into_inner())
    }
}

impl<T: ?Sized> RwLock<T> {
    fn read_guard<'a>(&'a self, g: parking_lot::RwLockReadGuard<'a, T>) -> LockResult<RwLockReadGuard<'a, T>> {
        self.shared.poison.result(RwLockReadGuard {
            shared: &self.shared,
            inner: Some(parking_lot::RwLockReadGuard::map(g, |t| t)),
        })
    }

    fn write_guard<'a>(&'a self, g: parking_lot::RwLockWriteGuard<'a, T>) -> LockResult<RwLockWriteGuard<'a, T>> {
        self.shared.poison.result(RwLockWriteGuard {
            shared: &self.shared,
            panicking: interrupt::is_panicking(),
            inner: Some(g),
        })
    }

    /// Shared access, waiting while a writer holds the lock; `Err` (still
    /// giving access) if poisoned.
    ///
    /// ```
    /// let l = verdant::sync::RwLock::new(3);
    /// assert_eq!(*l.read().unwrap(), 3);
    /// ```
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        if let Some(g) = self.data.try_read() {
            return self.read_guard(g);
        }
        let mut got = spin_os(|| self.data.try_read());
        if let Some(g) = got {
            return self.read_guard(g);
        }
        let w = self.shared.waiters.lock();
        drop(wait::wait_while(
            &self.shared.waiters,
            w,
            READERS,
            Until::Forever,
            |_| {
                self.shared.announce();
                got = self.data.try_read();
                got.is_none()
            },
        ));
        self.read_guard(got.expect("waits forever"))
    }

    /// Exclusive access, waiting while anyone holds the lock; `Err` (still
    /// giving access) if poisoned.
    ///
    /// ```
    /// let l = verdant::sync::RwLock::new(3);
    /// *l.write().unwrap() += 1;
    /// assert_eq!(*l.read().unwrap(), 4);
    /// ```
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        if let Some(g) = self.data.try_write() {
            return self.write_guard(g);
        }
        let mut got = spin_os(|| self.data.try_write());
        if let Some(g) = got {
            return self.write_guard(g);
        }
        let w = self.shared.waiters.lock();
        drop(wait::wait_while(
            &self.shared.waiters,
            w,
            WRITERS,
            Until::Forever,
            |_| {
                self.shared.announce();
                got = self.data.try_write();
                got.is_none()
            },
        ));
        self.write_guard(got.expect("waits forever"))
    }

    /// Shared access if no writer holds the lock now.
    ///
    /// ```
    /// use verdant::sync::{RwLock, TryLockError};
    /// let l = RwLock::new(());
    /// let _w = l.write().unwrap();
    /// assert!(matches!(l.try_read(), Err(TryLockError::WouldBlock)));
    /// ```
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        match self.data.try_read() {
            Some(g) => Ok(self.read_guard(g)?),
            None => Err(TryLockError::WouldBlock),
        }
    }

    /// Exclusive access if nobody holds the lock now.
    ///
    /// ```
    /// let l = verdant::sync::RwLock::new(());
    /// let r = l.read().unwrap();
    /// assert!(l.try_write().is_err());
    /// drop(r);
    /// assert!(l.try_write().is_ok());
    /// ```
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        match self.data.try_write() {
            Some(g) => Ok(self.write_guard(g)?),
            None => Err(TryLockError::WouldBlock),
        }
    }

    /// Whether a writer panicked while holding the lock.
    ///
    /// ```
    /// let l = verdant::sync::RwLock::new(0);
    /// assert!(!l.is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.shared.poison.get()
    }

    /// Clears the poison.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let l = Arc::new(verdant::sync::RwLock::new(0));
    /// let l2 = l.clone();
    /// let _ = std::thread::spawn(move || {
    ///     let _w = l2.write().unwrap();
    ///     panic!("poisons the lock");
    /// })
    /// .join();
    /// assert!(l.read().is_err());
    /// l.clear_poison();
    /// assert!(l.read().is_ok());
    /// ```
    pub fn clear_poison(&self) {
        self.shared.poison.clear();
    }

    /// Mutable access without locking; `Err` (still giving access) if
    /// poisoned.
    ///
    /// ```
    /// let mut l = verdant::sync::RwLock::new(0);
    /// *l.get_mut().unwrap() = 7;
    /// assert_eq!(*l.read().unwrap(), 7);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.shared.poison.get();
        let data = self.data.get_mut();
        if poisoned {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns exclusive access into shared access without letting another
    /// writer in between; waiting readers may then proceed. An associated
    /// function, as std's.
    ///
    /// ```
    /// use verdant::sync::{RwLock, RwLockWriteGuard};
    /// let l = RwLock::new(1);
    /// let mut w = l.write().unwrap();
    /// *w = 2;
    /// let r = RwLockWriteGuard::downgrade(w);
    /// assert_eq!(*r, 2);
    /// assert!(l.try_read().is_ok());
    /// assert!(l.try_write().is_err());
    /// ```
    pub fn downgrade(mut s: Self) -> RwLockReadGuard<'a, T> {
        let shared = s.shared;
        let w = s.inner.take().expect("guard is held");
        let r = parking_lot::RwLockWriteGuard::downgrade(w);
        // Readers waiting for the writer may proceed now.
        let woken: Vec<_> = {
            let mut w = shared.waiters.lock();
            let v = w.readers.take_all().collect();
            shared.settle(&w);
            v
        };
        wait::unpark_all(woken);
        RwLockReadGuard {
            shared,
            inner: Some(parking_lot::RwLockReadGuard::map(r, |t| t)),
        }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        if self.inner.take().is_some() {
            self.shared.read_unlocked();
        }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        if self.inner.take().is_some() {
            self.shared.poison.done(self.panicking);
            self.shared.write_unlocked();
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

impl<T> From<T> for RwLock<T> {
    fn from(v: T) -> Self {
        RwLock::new(v)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.data.try_read() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.is_poisoned()).finish_non_exhaustive()
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

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// A condition variable for [`Mutex`], with std's signatures.
/// `notify_one` wakes waiters in FIFO order; spurious wakeups are
/// possible, so wait in a loop (or use [`Condvar::wait_while`]).
///
/// ```
/// use std::sync::Arc;
/// use verdant::sync::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let p = pair.clone();
/// verdant::spawn(move || {
///     *p.0.lock().unwrap() = true;
///     p.1.notify_one();
/// });
/// let (lock, cv) = &*pair;
/// let ready = cv.wait_while(lock.lock().unwrap(), |ready| !*ready).unwrap();
/// assert!(*ready);
/// ```
#[derive(Default)]
pub struct Condvar {
    waiters: RawMutex<WaitList>,
}

impl fmt::Debug for Condvar {
    /// `Condvar { .. }`, as std's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

impl UnwindSafe for Condvar {}
impl RefUnwindSafe for Condvar {}

/// Whether [`Condvar::wait_timeout`] returned because its time ran out.
///
/// ```
/// use std::time::Duration;
/// let m = verdant::sync::Mutex::new(());
/// let cv = verdant::sync::Condvar::new();
/// let (_g, r) = cv.wait_timeout(m.lock().unwrap(), Duration::ZERO).unwrap();
/// assert!(r.timed_out());
/// ```
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
    ///
    /// ```
    /// let cv = verdant::sync::Condvar::new();
    /// cv.notify_all();
    /// ```
    pub const fn new() -> Condvar {
        Condvar {
            waiters: RawMutex::new(WaitList::new()),
        }
    }

    /// Releases the guard's lock, waits for a notification, relocks;
    /// `Err` (holding the lock) if the mutex is poisoned. Inside
    /// [`crate::timeout`], an expired deadline unwinds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use verdant::sync::{Condvar, Mutex};
    /// let pair = Arc::new((Mutex::new(false), Condvar::new()));
    /// let p = pair.clone();
    /// std::thread::spawn(move || {
    ///     *p.0.lock().unwrap() = true;
    ///     p.1.notify_all();
    /// });
    /// let mut ready = pair.0.lock().unwrap();
    /// while !*ready {
    ///     ready = pair.1.wait(ready).unwrap();
    /// }
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let (guard, _) = self.wait_inner(guard, Until::Forever);
        guard.poison.result(guard)
    }

    /// Waits until `condition` is false, re-checking after each wakeup.
    ///
    /// ```
    /// use verdant::sync::{Condvar, Mutex};
    /// let m = Mutex::new(0);
    /// let cv = Condvar::new();
    /// let g = cv.wait_while(m.lock().unwrap(), |n| *n > 0).unwrap();
    /// assert_eq!(*g, 0);
    /// ```
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Like [`Condvar::wait`], giving up after `dur`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = verdant::sync::Mutex::new(());
    /// let cv = verdant::sync::Condvar::new();
    /// let (_g, r) = cv.wait_timeout(m.lock().unwrap(), Duration::from_millis(5)).unwrap();
    /// assert!(r.timed_out());
    /// ```
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let (guard, r) = self.wait_inner(guard, wait::after(dur));
        if guard.poison.get() {
            Err(PoisonError::new((guard, r)))
        } else {
            Ok((guard, r))
        }
    }

    /// Like [`Condvar::wait_while`], giving up after `dur`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = verdant::sync::Mutex::new(false);
    /// let cv = verdant::sync::Condvar::new();
    /// let (g, r) = cv
    ///     .wait_timeout_while(m.lock().unwrap(), Duration::from_millis(5), |ready| !*ready)
    ///     .unwrap();
    /// assert!(r.timed_out() && !*g);
    /// ```
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = Instant::now().checked_add(dur);
        while condition(&mut guard) {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                return Ok((guard, WaitTimeoutResult(true)));
            }
            guard = self.wait_timeout(guard, left)?.0;
        }
        Ok((guard, WaitTimeoutResult(false)))
    }

    fn wait_inner<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        until: Until,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        // Enqueue first, then unlock: a notify after the unlock finds us
        // queued.
        let mut reg = Registration::enqueue(&self.waiters, self.waiters.lock(), wait::CONDVAR);
        // `unlocked` releases the lock word and re-takes it on every way
        // out, unwinding included, uninterruptibly: a cancellation is
        // acted on once the lock is re-taken (below), an elapsed
        // `verdant::timeout` at the next park point.
        let timed_out = lock_api::MutexGuard::unlocked(&mut guard.inner, || {
            let wake = wait::park_until(until);
            // Chosen by a `notify_one`, the registration holds the
            // notification while we re-lock: unwinding meanwhile hands it
            // on, as POSIX asks of a cancelled `pthread_cond_wait`.
            let chosen = reg.leave();
            // Chosen by a `notify_one`, it has been notified even if its
            // deadline passed meanwhile: reporting a timeout would lose the
            // notification.
            wake != Wake::Unparked && !chosen
        });
        // A cancellation that arrived while re-locking unwinds now (the
        // lock is held again, the guard's drop releases it), handing the
        // notification it holds on to the next waiter.
        if let Some(task) = current_task() {
            interrupt::check_cancelled(&task);
        }
        reg.consume();
        (guard, WaitTimeoutResult(timed_out))
    }

    /// Wakes one waiter.
    ///
    /// ```
    /// verdant::sync::Condvar::new().notify_one();
    /// ```
    pub fn notify_one(&self) {
        let w = self.waiters.lock().pop();
        wait::unpark_all(w);
    }

    /// Wakes every waiter.
    ///
    /// ```
    /// verdant::sync::Condvar::new().notify_all();
    /// ```
    pub fn notify_all(&self) {
        let woken: Vec<_> = self.waiters.lock().take_all().collect();
        wait::unpark_all(woken);
    }
}
