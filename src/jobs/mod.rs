//! Jobs across processes: a reliable work queue on Redis (feature
//! `redis`) and a Gearman client and worker (feature `gearman`).
//!
//! A producer enqueues with a [`Queue`]; any number of worker processes,
//! on any number of machines, run [`Worker`]s against the same Redis, each
//! running up to [`concurrency`](Worker::concurrency) jobs at once on
//! green threads. The guide chapter `docs/jobs.md` maps RQ, Celery,
//! Sidekiq and Gearman onto these types and states the delivery guarantees.
//!
//! ```no_run
//! use std::time::Duration;
//! use verdant::jobs::{NewJob, Queue, Worker};
//!
//! // A worker process:
//! Worker::new("redis://127.0.0.1:6379/", &["default"])?
//!     .concurrency(1000)
//!     .register("add", |job| {
//!         let (a, b): (i64, i64) = job.json()?;
//!         Ok(serde_json::json!(a + b))
//!     })
//!     .run()?;
//!
//! // A producer:
//! let queue = Queue::connect("redis://127.0.0.1:6379/", "default")?;
//! let sum = queue.enqueue_and_wait(NewJob::new("add").json(&(2, 3)), Duration::from_secs(5))?;
//! assert_eq!(sum, 5);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How a job travels (Redis)
//!
//! 1. `enqueue` runs one Lua script: unique-key check, the job's hash,
//!    then an entry on the queue's stream (or the delayed zset).
//! 2. A worker's fetcher reads with `XREADGROUP ... COUNT n BLOCK`, `n`
//!    being its free slots: the entries are now *pending* for that worker
//!    (its lease), and one script marks the batch running.
//! 3. Each job runs on its own green thread. Results are acknowledged in
//!    batches: one script call `XACK`s, stores results with a TTL and wakes
//!    `enqueue_and_wait` callers.
//! 4. While a job runs, its worker renews the lease (`XCLAIM ... JUSTID`
//!    resets the entry's idle time). A worker that died stops renewing;
//!    after the lease, any worker takes the entry over with `XAUTOCLAIM`.
//! 5. A failed attempt goes to the delayed zset with an exponential
//!    backoff and jitter, or after the last retry to the dead letters.

// Helpers below serve the Redis side; with `gearman` alone they are idle.
#![cfg_attr(not(feature = "redis"), allow(dead_code, unused_imports))]

#[cfg(feature = "redis")]
mod conn;
#[cfg(feature = "gearman")]
pub mod gearman;
#[cfg(feature = "redis")]
mod queue;
#[cfg(feature = "redis")]
mod scripts;
#[cfg(feature = "redis")]
mod worker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

#[cfg(feature = "redis")]
pub use conn::{Connection, Pool, PooledConnection};
#[cfg(feature = "redis")]
pub use queue::{NewJob, Queue, State, Stats, Status};
#[cfg(feature = "redis")]
pub use worker::{Job, Worker, WorkerHandle, WorkerStats};

/// Every key starts with this, unless a [`Queue::prefix`] says otherwise.
pub(crate) const DEFAULT_PREFIX: &str = "verdant:jobs:";

/// How long results (and the records of cancelled jobs) are kept.
pub(crate) const DEFAULT_RESULT_TTL: Duration = Duration::from_secs(24 * 3600);

/// A job's failure, as its handler returns it.
///
/// A *retryable* error ([`Error::new`], and every `From` conversion except
/// the ones below) sends the job back for a retry after a backoff; a
/// *permanent* one ([`Error::permanent`], and a payload that does not
/// deserialize, see [`Job::json`]) sends it to the dead letters at once.
///
/// ```
/// use verdant::jobs::Error;
///
/// let e = Error::permanent("no such image");
/// assert!(e.is_permanent());
/// assert_eq!(e.to_string(), "no such image");
/// let e: Error = std::io::Error::other("disk full").into();
/// assert!(!e.is_permanent());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
    permanent: bool,
}

impl Error {
    /// A retryable failure.
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            permanent: false,
        }
    }

    /// A failure that retrying cannot fix: the job goes to the dead
    /// letters without further attempts.
    pub fn permanent(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            permanent: true,
        }
    }

    /// Whether the failure is permanent.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(e.to_string())
    }
}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error::new(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Error {
        Error::new(message)
    }
}

#[cfg(feature = "redis")]
/// Milliseconds since the Unix epoch (the scores of the delayed zset are
/// wall-clock times, shared by every machine).
pub(crate) fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(conn::millis)
        .unwrap_or(0)
}

#[cfg(feature = "redis")]
/// A job id unique across processes and machines: time, a random number
/// per process, and a counter.
pub(crate) fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PROCESS: std::sync::LazyLock<u64> = std::sync::LazyLock::new(random_u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}-{:016x}-{n:x}", epoch_ms(), *PROCESS)
}

/// A random number from std's randomly keyed hasher (no RNG dependency;
/// good enough for ids and jitter, not for secrets).
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}
