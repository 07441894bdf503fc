//! `GreenPool` and `GreenPile`: eventlet's bounded pools.
//!
//! A [`GreenPool`] caps how many green threads it runs at once: `spawn`
//! waits while the pool is full, which is the backpressure that keeps a
//! crawler from opening ten thousand sockets at a time. A [`GreenPile`]
//! collects the results of the work it spawns, in spawn order.
//!
//! The cap is a [`Semaphore`] (FIFO: spawners get free slots in arrival
//! order): `spawn` takes an owned permit, which moves into the spawned
//! green thread and is released when it ends (also by panic or
//! cancellation); `resize` resizes the semaphore; `waitall` waits until no
//! permit is held.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use crate::green::JoinHandle;
use crate::runtime::wait::Until;
use crate::runtime::Handle;
use crate::sync::Semaphore;

struct Inner {
    slots: Arc<Semaphore>,
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
                slots: Arc::new(Semaphore::new(size)),
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
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = self.inner.slots.acquire_owned();
        self.inner.handle.spawn(move || {
            let _slot = slot;
            f()
        })
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
        self.inner.slots.wait_idle(Until::Forever);
    }

    /// Green threads of the pool running now.
    pub fn running(&self) -> usize {
        self.inner.slots.held()
    }

    /// Free slots: how many more can be spawned without waiting.
    pub fn free(&self) -> usize {
        self.inner.slots.available_permits()
    }

    /// Green threads spawners are waiting to start.
    pub fn waiting(&self) -> usize {
        self.inner.slots.waiting()
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
        self.inner.slots.resize(size);
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

impl fmt::Debug for GreenPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenPool")
            .field("size", &self.inner.slots.size())
            .field("running", &self.running())
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
        let size = self.pool.inner.slots.size();
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
    #[track_caller]
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
