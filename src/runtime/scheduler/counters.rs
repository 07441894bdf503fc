//! Per-worker counters for metrics: plain relaxed atomics, each written
//! by one thread only (its worker) except `wakeups_remote`, and summed by
//! whoever reads them (`Handle::metrics`).
//!
//! A single writer needs no locked read-modify-write: [`bump`] is a load
//! and a store, as cheap as a plain increment; readers may see a count a
//! moment old, never a torn one.

use std::sync::atomic::{AtomicU64, Ordering};

/// The counters of one worker.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Green threads spawned by this worker's green threads (queued on its
    /// deque).
    pub(crate) spawned: AtomicU64,
    /// Green threads this worker started.
    pub(crate) started: AtomicU64,
    /// Green threads that finished on this worker.
    pub(crate) finished: AtomicU64,
    /// Parks of its green threads (switches out that stayed parked).
    pub(crate) parks: AtomicU64,
    /// Wakeups of its green threads by its own green threads or loop.
    pub(crate) wakeups_local: AtomicU64,
    /// Wakeups of its green threads from other OS threads (through its
    /// inbox). The one counter with several writers: `fetch_add`.
    pub(crate) wakeups_remote: AtomicU64,
    /// Unstarted green threads it took from the injector or another
    /// worker's deque.
    pub(crate) steals: AtomicU64,
    /// Reactor polls, and the I/O events they returned (wakeups excluded).
    pub(crate) polls: AtomicU64,
    pub(crate) events: AtomicU64,
    /// Timers that fired.
    pub(crate) timers_fired: AtomicU64,
    /// Stacks in use, free and resident, free and decommitted, as of the
    /// worker's last maintenance turn or sleep.
    pub(crate) stacks_in_use: AtomicU64,
    pub(crate) stacks_cached: AtomicU64,
    pub(crate) stacks_decommitted: AtomicU64,
}

/// Adds `n` to a counter that only the calling thread writes.
#[inline]
pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// Reads a counter.
pub(crate) fn read(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}
