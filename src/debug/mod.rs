//! Seeing inside a running program: a dump of every green thread (what it
//! waits on, for how long, where it was spawned).
//!
//! [`dump`] (or [`Handle::dump`](crate::Handle::dump)) takes a
//! [`Dump`]: its `Display` groups identical waits the way Go's goroutine
//! dump does, [`Dump::to_json`] gives the same as JSON.
//! [`Handle::metrics`](crate::Handle::metrics) counts what the workers
//! did, for a dashboard ([`Metrics::to_prometheus`]). The guide's
//! chapter `docs/debugging.md` shows how to read one.
//!
//! # What it costs
//!
//! Nothing per spawn but one pointer in the thread (its spawn location,
//! from `#[track_caller]`). A wait writes two words into the thread (why,
//! and since when, from its worker's coarse clock); a thread is listed
//! with its worker at its first park only, so threads that never park
//! (most of a spawn-and-join loop) are never listed. Words are made only
//! when a dump is taken.

mod dump;
mod fd;
mod metrics;
mod on_signal;

pub use dump::{Dump, GreenThreadInfo, ThreadState, WorkerInfo};
pub use metrics::{Metrics, WorkerMetrics};

/// Takes a [`Dump`] of the current runtime (the one whose green thread
/// calls it, else the default runtime).
///
/// ```
/// let h = verdant::spawn(|| verdant::sleep(std::time::Duration::from_secs(60)));
/// let dump = verdant::dump();
/// println!("{dump}");
/// # h.cancel();
/// # let _ = h.join();
/// ```
pub fn dump() -> Dump {
    crate::runtime::Handle::with_current(|h| h.dump())
}
