//! `GreenPool` and `GreenPile`: eventlet's bounded pools.
//!
//! A [`GreenPool`] caps how many green threads it runs at once: `spawn`
//! waits while the pool is full, which is the backpressure that keeps a
//! crawler from opening ten thousand sockets at a time. A [`GreenPile`]
//! collects the results of the work it spawns, in spawn order.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::green::JoinHandle;
use crate::runtime::park::{self, Waiter};
use crate::runtime::wait::WaitList;
use crate::runtime::Handle;

struct State {
    size: usize,
    running: usize,
    /// Spawners waiting for a free slot.
    slot_waiters: WaitList,
    /// `waitall` callers waiting for `running == 0`.
    idle_waiters: WaitList,
}

struct Inner {
    state: Mutex<State>,
    handle: Handle,
}

/// A pool of at most `size` concurrently running green threads.
///
/// ```
/// use std::time::Duration;
/// let pool = verdant::GreenPool::new(100);
/// for _ in 0..1000 {
///     pool.spawn(|| verdant::sleep(Duration::from_millis(1))); // waits while 100 run
/// }
/// pool.waitall();
/// assert_eq!(pool.running(), 0);
/// ```
#[derive(Clone)]
pub struct GreenPool {
    inner: Arc<Inner>,
}

impl GreenPool {
    /// A pool that runs at most `size` green threads at once, on the
    /// current runtime.
    ///
    /// # Panics
    ///
    /// Panics if `size` is 0.
    pub fn new(size: usize) -> GreenPool {
        GreenPool::with_handle(size, Handle::current())
    }

    /// A pool on a given runtime.
    ///
    /// # Panics
    ///
    /// Panics if `size` is 0.
    ///
    /// ```
    /// let rt = verdant::Runtime::new().unwrap();
    /// let pool = verdant::GreenPool::with_handle(4, rt.handle().clone());
    /// assert_eq!(pool.spawn(|| 1).join().unwrap(), 1);
    /// ```
    pub fn with_handle(size: usize, handle: Handle) -> GreenPool {
        assert!(size > 0, "GreenPool size must be at least 1");
        GreenPool {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    size,
                    running: 0,
                    slot_waiters: WaitList::new(),
                    idle_waiters: WaitList::new(),
                }),
                handle,
            }),
        }
    }

    /// Spawns `f` in the pool, first waiting (parking a green caller,
    /// blocking an OS thread) while `size` green threads already run.
    ///
    /// ```
    /// let pool = verdant::GreenPool::new(2);
    /// let h = pool.spawn(|| "ran");
    /// assert_eq!(h.join().unwrap(), "ran");
    /// ```
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.acquire();
        let slot = Slot(self.inner.clone());
        self.inner.handle.spawn(move || {
            let _slot = slot;
            f()
        })
    }

    fn acquire(&self) {
        let mut st = self.inner.state.lock();
        while st.running >= st.size {
            let key = st.slot_waiters.push(Waiter::current());
            drop(st);
            let guard = SlotWait(&self.inner, key);
            park::park(None);
            drop(guard);
            st = self.inner.state.lock();
        }
        st.running += 1;
    }

    /// Waits until no green thread of the pool runs.
    ///
    /// ```
    /// let pool = verdant::GreenPool::new(10);
    /// for _ in 0..20 { pool.spawn(|| ()); }
    /// pool.waitall();
    /// assert_eq!(pool.free(), 10);
    /// ```
    pub fn waitall(&self) {
        let mut st = self.inner.state.lock();
        while st.running > 0 {
            let key = st.idle_waiters.push(Waiter::current());
            drop(st);
            let guard = IdleWait(&self.inner, key);
            park::park(None);
            drop(guard);
            st = self.inner.state.lock();
        }
    }

    /// Green threads of the pool running now.
    pub fn running(&self) -> usize {
        self.inner.state.lock().running
    }

    /// Free slots: how many more can be spawned without waiting.
    pub fn free(&self) -> usize {
        let st = self.inner.state.lock();
        st.size.saturating_sub(st.running)
    }

    /// Green threads spawners are waiting to start.
    pub fn waiting(&self) -> usize {
        self.inner.state.lock().slot_waiters.len()
    }

    /// Changes the size. Growing lets waiting spawners in at once;
    /// shrinking lets running threads finish and admits no more until
    /// `running < size`.
    ///
    /// # Panics
    ///
    /// Panics if `size` is 0.
    ///
    /// ```
    /// let pool = verdant::GreenPool::new(1);
    /// pool.resize(8);
    /// assert_eq!(pool.free(), 8);
    /// ```
    pub fn resize(&self, size: usize) {
        assert!(size > 0, "GreenPool size must be at least 1");
        let wake: Vec<_> = {
            let mut st = self.inner.state.lock();
            st.size = size;
            let n = size.saturating_sub(st.running);
            (0..n).map_while(|_| st.slot_waiters.pop()).collect()
        };
        wake.into_iter().for_each(Waiter::unpark);
    }

    /// Applies `f` to every item, at most `size` at a time, yielding results
    /// in input order (eventlet's `imap`). A panic in `f` resumes in the
    /// consumer when its result is reached.
    ///
    /// ```
    /// let pool = verdant::GreenPool::new(4);
    /// let squares: Vec<u64> = pool.imap(1..=5u64, |x| x * x).collect();
    /// assert_eq!(squares, [1, 4, 9, 16, 25]);
    /// ```
    pub fn imap<I, F, T>(&self, items: I, f: F) -> Imap<I::IntoIter, F, T>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        Imap {
            pool: self.clone(),
            items: items.into_iter(),
            f: Arc::new(f),
            pending: VecDeque::new(),
        }
    }
}

/// Frees its pool slot when the green thread ends (also by panic).
struct Slot(Arc<Inner>);

impl Drop for Slot {
    fn drop(&mut self) {
        let mut wake = Vec::new();
        {
            let mut st = self.0.state.lock();
            st.running -= 1;
            if st.running < st.size {
                wake.extend(st.slot_waiters.pop());
            }
            if st.running == 0 {
                wake.extend(st.idle_waiters.take_all());
            }
        }
        wake.into_iter().for_each(Waiter::unpark);
    }
}

/// Dequeues a spawner that stops waiting. If it is unwinding (cancelled)
/// after a `Slot` already dequeued it, the free slot it was woken for is
/// handed on, so none is lost.
struct SlotWait<'a>(&'a Inner, u64);

impl Drop for SlotWait<'_> {
    fn drop(&mut self) {
        let mut st = self.0.state.lock();
        let dequeued = !st.slot_waiters.remove(self.1);
        if dequeued && crate::runtime::interrupt::is_unwinding() && st.running < st.size {
            if let Some(w) = st.slot_waiters.pop() {
                drop(st);
                w.unpark();
            }
        }
    }
}

struct IdleWait<'a>(&'a Inner, u64);

impl Drop for IdleWait<'_> {
    fn drop(&mut self) {
        self.0.state.lock().idle_waiters.remove(self.1);
    }
}

impl fmt::Debug for GreenPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.lock();
        f.debug_struct("GreenPool")
            .field("size", &st.size)
            .field("running", &st.running)
            .finish()
    }
}

/// Iterator returned by [`GreenPool::imap`].
pub struct Imap<I, F, T> {
    pool: GreenPool,
    items: I,
    f: Arc<F>,
    pending: VecDeque<JoinHandle<T>>,
}

impl<I, F, T> Iterator for Imap<I, F, T>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let size = self.pool.inner.state.lock().size;
        while self.pending.len() < size {
            let Some(item) = self.items.next() else { break };
            let f = self.f.clone();
            self.pending.push_back(self.pool.spawn(move || f(item)));
        }
        let h = self.pending.pop_front()?;
        Some(join_or_resume(h))
    }
}

impl<I, F, T> fmt::Debug for Imap<I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Imap").field("in_flight", &self.pending.len()).finish()
    }
}

/// Joins; a panic resumes in the caller, a cancellation becomes one.
fn join_or_resume<T>(h: JoinHandle<T>) -> T {
    match h.join() {
        Ok(v) => v,
        Err(e) => match e.try_into_panic() {
            Ok(payload) => crate::runtime::interrupt::resume_unwind(payload),
            Err(e) => panic!("verdant: pooled green thread did not finish: {e}"),
        },
    }
}

/// Spawns work into a pool and yields the results in spawn order
/// (eventlet's `GreenPile`).
///
/// ```
/// let mut pile = verdant::GreenPile::new(10);
/// for i in 0..5 {
///     pile.spawn(move || i * 10);
/// }
/// assert_eq!(pile.collect::<Vec<_>>(), [0, 10, 20, 30, 40]);
/// ```
pub struct GreenPile<T> {
    pool: GreenPool,
    pending: VecDeque<JoinHandle<T>>,
}

impl<T: Send + 'static> GreenPile<T> {
    /// A pile with its own pool of `size`.
    ///
    /// # Panics
    ///
    /// Panics if `size` is 0.
    pub fn new(size: usize) -> GreenPile<T> {
        GreenPile::with_pool(GreenPool::new(size))
    }

    /// A pile that spawns into an existing pool.
    pub fn with_pool(pool: GreenPool) -> GreenPile<T> {
        GreenPile {
            pool,
            pending: VecDeque::new(),
        }
    }

    /// Spawns `f` (waiting while the pool is full); its result comes after
    /// those spawned before it.
    pub fn spawn<F>(&mut self, f: F)
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.pending.push_back(self.pool.spawn(f));
    }

    /// Results not yet taken.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether every result has been taken.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

impl<T> Iterator for GreenPile<T> {
    type Item = T;

    /// The next result in spawn order (waits for it). A panic in the work
    /// resumes here.
    fn next(&mut self) -> Option<T> {
        self.pending.pop_front().map(join_or_resume)
    }
}

impl<T> fmt::Debug for GreenPile<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenPile")
            .field("pending", &self.pending.len())
            .finish()
    }
}
