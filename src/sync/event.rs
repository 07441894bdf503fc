//! `Event` (set once, wait many) and `AsyncResult<T>` (a value set once,
//! read by many): eventlet/gevent's, usable from green and OS threads.
//! Setting wakes every waiter at once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::runtime::task::why::Why;
use crate::runtime::wait::WaitList;
use crate::runtime::wait::{self, Queue, Until};

struct Slot<T> {
    value: Option<T>,
    /// How many times it was set: a waiter returns once it changes, even if
    /// `Event::clear` came right after (eventlet's and Python's pulse).
    sets: u64,
    waiters: WaitList,
}

fn waiters<T>(s: &mut Slot<T>) -> &mut WaitList {
    &mut s.waiters
}

/// A value set once and awaited by many (a promise). Cloning shares it.
///
/// ```
/// let r = verdant::sync::AsyncResult::new();
/// let r2 = r.clone();
/// let h = verdant::spawn(move || r2.get() * 2);
/// r.set(21).unwrap();
/// assert_eq!(h.join().unwrap(), 42);
/// assert!(r.set(0).is_err()); // set once
/// ```
pub struct AsyncResult<T> {
    inner: Arc<Mutex<Slot<T>>>,
}

impl<T> AsyncResult<T> {
    /// An unset result.
    pub fn new() -> AsyncResult<T> {
        AsyncResult {
            inner: Arc::new(Mutex::new(Slot {
                value: None,
                sets: 0,
                waiters: WaitList::new(),
            })),
        }
    }

    /// Sets the value and wakes every waiter. `Err(value)` if it was set
    /// already.
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut s = self.inner.lock();
        if s.value.is_some() {
            return Err(value);
        }
        s.value = Some(value);
        s.sets += 1;
        let woken: Vec<_> = s.waiters.take_all().collect();
        drop(s);
        wait::unpark_all(woken);
        Ok(())
    }

    /// Whether the value is set.
    pub fn is_set(&self) -> bool {
        self.inner.lock().value.is_some()
    }

    /// Waits until the value is set. Inside [`crate::timeout`], an expired
    /// deadline unwinds.
    pub fn wait(&self) {
        self.wait_until(Until::Forever);
    }

    /// Waits at most `dur`; whether the value is set.
    pub fn wait_timeout(&self, dur: Duration) -> bool {
        self.wait_until(wait::after(dur))
    }

    fn wait_until(&self, until: Until) -> bool {
        let s = self.inner.lock();
        let seen = s.sets;
        wait::wait_while(&self.inner, s, Queue::new(waiters).named(Why::Event), until, |s| {
            s.value.is_none() && s.sets == seen
        })
        .1
    }
}

impl<T: Clone> AsyncResult<T> {
    /// Waits for the value and returns a clone of it.
    pub fn get(&self) -> T {
        self.wait();
        self.try_get().expect("set once, never unset")
    }

    /// The value, if set.
    pub fn try_get(&self) -> Option<T> {
        self.inner.lock().value.clone()
    }

    /// Waits at most `dur` for the value.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = verdant::sync::AsyncResult::<u8>::new();
    /// assert_eq!(r.get_timeout(Duration::from_millis(5)), None);
    /// ```
    pub fn get_timeout(&self, dur: Duration) -> Option<T> {
        self.wait_timeout(dur);
        self.try_get()
    }
}

impl<T> Default for AsyncResult<T> {
    fn default() -> Self {
        AsyncResult::new()
    }
}

impl<T> Clone for AsyncResult<T> {
    fn clone(&self) -> Self {
        AsyncResult {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult").field("set", &self.is_set()).finish()
    }
}

/// A flag set once and awaited by many (eventlet/gevent's `Event`).
/// Cloning shares it.
///
/// ```
/// let ev = verdant::sync::Event::new();
/// let hs: Vec<_> = (0..3).map(|_| {
///     let ev = ev.clone();
///     verdant::spawn(move || ev.wait())
/// }).collect();
/// ev.set();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// ```
#[derive(Clone, Default)]
pub struct Event {
    inner: AsyncResult<()>,
}

impl Event {
    /// An unset event.
    pub fn new() -> Event {
        Event::default()
    }

    /// Sets the event and wakes every waiter (no effect if already set).
    pub fn set(&self) {
        let _ = self.inner.set(());
    }

    /// Unsets the event (gevent's `clear`): later waits wait again.
    pub fn clear(&self) {
        self.inner.inner.lock().value = None;
    }

    /// Whether it is set.
    pub fn is_set(&self) -> bool {
        self.inner.is_set()
    }

    /// Waits until set. Inside [`crate::timeout`], an expired deadline
    /// unwinds.
    pub fn wait(&self) {
        self.inner.wait();
    }

    /// Waits at most `dur`; whether it is set.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(!verdant::sync::Event::new().wait_timeout(Duration::from_millis(5)));
    /// ```
    pub fn wait_timeout(&self, dur: Duration) -> bool {
        self.inner.wait_timeout(dur)
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("set", &self.is_set()).finish()
    }
}
