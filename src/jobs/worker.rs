//! The consumer side: [`Worker`] and the [`Job`] its handlers get.
//!
//! A running worker is four kinds of green threads:
//!
//! ```text
//!  fetcher (the caller of run)   XREADGROUP COUNT free BLOCK → START script
//!      │ spawns, one per job, at most `concurrency` at once
//!      ▼
//!  job threads ── Outcome ──► completer: batches of COMPLETE / FAIL / RELEASE
//!  maintenance: PROMOTE delayed jobs, heartbeat (XCLAIM JUSTID), XAUTOCLAIM
//!  signals: SIGTERM/SIGINT → stop
//! ```
//!
//! A slot is taken before an entry is fetched and given back when its
//! handler returns, so the worker never holds more entries than it runs.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Value;
use serde_json::Value as Json;

use super::conn::{millis, Pool};
use super::{epoch_ms, random_u64, scripts, Error, DEFAULT_PREFIX, DEFAULT_RESULT_TTL};
use crate::sync::{Condvar, Mutex, Semaphore};

type Handler = Arc<dyn Fn(&Job) -> Result<Json, Error> + Send + Sync>;

/// A job as its handler sees it.
pub struct Job {
    id: String,
    name: String,
    queue: String,
    payload: Vec<u8>,
    attempt: u32,
    pool: Pool,
    prefix: String,
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("queue", &self.queue)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// The job's id (what `enqueue` returned).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The handler name it was enqueued for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue it came from.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// This attempt's number, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The payload's bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, deserialized from JSON.
    ///
    /// # Errors
    ///
    /// A [permanent](Error::permanent) error naming the job, the expected
    /// type and serde's message: returned with `?` from a handler, it sends
    /// the job to the dead letters at once (retrying cannot fix a payload).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.payload).map_err(|e| {
            Error::permanent(format!(
                "job {} ({}): payload does not deserialize as {}: {e}",
                self.id,
                self.name,
                std::any::type_name::<T>()
            ))
        })
    }

    /// Records progress (any JSON value: a percentage, a message), visible
    /// in [`Queue::status`](super::Queue::status).
    ///
    /// # Errors
    ///
    /// The connection's or the server's error.
    pub fn progress<T: serde::Serialize + ?Sized>(&self, progress: &T) -> io::Result<()> {
        let value = serde_json::to_vec(progress).map_err(io::Error::other)?;
        let key = format!("{}job:{}", self.prefix, self.id);
        self.pool
            .with(|c| redis::cmd("HSET").arg(&key).arg("progress").arg(&value).query::<()>(c))
    }
}

/// A worker process's loop: fetch jobs from Redis, run each on its own
/// green thread, acknowledge, retry, dead-letter. Built with a builder,
/// started with [`run`](Worker::run).
///
/// ```no_run
/// use std::time::Duration;
/// use verdant::jobs::{Error, Worker};
///
/// let stats = Worker::new("redis://127.0.0.1:6379/", &["high", "default"])?
///     .concurrency(1000)
///     .shutdown_timeout(Duration::from_secs(20))
///     .register("fetch", |job| {
///         let url: String = job.json()?;
///         let mut body = Vec::new();
///         let mut s = verdant::net::TcpStream::connect((url.as_str(), 80))?;
///         std::io::Read::read_to_end(&mut s, &mut body)?;
///         Ok(serde_json::json!(body.len()))
///     })
///     .run()?; // until SIGTERM or SIGINT
/// println!("{stats:?}");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Worker {
    pool: Pool,
    queues: Vec<String>,
    weights: Option<Vec<u32>>,
    handlers: HashMap<String, Handler>,
    concurrency: usize,
    batch: usize,
    prefix: String,
    lease: Duration,
    poll: Duration,
    block: Duration,
    shutdown_timeout: Duration,
    backoff: (Duration, Duration),
    result_ttl: Duration,
    signals: bool,
    control: Arc<Control>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("queues", &self.queues)
            .field("concurrency", &self.concurrency)
            .field("handlers", &self.handlers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Control {
    stop: AtomicBool,
}

/// Stops a running [`Worker`] from another thread (what SIGTERM does).
#[derive(Clone)]
pub struct WorkerHandle {
    control: Arc<Control>,
}

impl fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("stopping", &self.control.stop.load(Ordering::Relaxed))
            .finish()
    }
}

impl WorkerHandle {
    /// Begins a graceful stop: no more fetching; jobs in flight get the
    /// worker's [`shutdown_timeout`](Worker::shutdown_timeout) to finish,
    /// the rest are handed back to the queue; then `run` returns.
    pub fn stop(&self) {
        self.control.stop.store(true, Ordering::SeqCst);
    }
}

/// What a worker did, returned by [`Worker::run`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Jobs that finished with a result.
    pub done: u64,
    /// Attempts that failed and were scheduled for a retry.
    pub retried: u64,
    /// Jobs sent to the dead letters.
    pub dead: u64,
    /// Jobs handed back to the queue at a graceful stop.
    pub released: u64,
    /// Entries taken over from workers whose lease expired.
    pub reclaimed: u64,
}

impl Worker {
    /// A worker for `queues` of the Redis server at `url`, read in strict
    /// priority order (the first queue's jobs before any of the second's);
    /// see [`weights`](Worker::weights) for weighted order.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a bad URL or no queues.
    pub fn new(url: &str, queues: &[&str]) -> io::Result<Worker> {
        Worker::with_pool(Pool::new(url)?, queues)
    }

    /// A worker over an existing [`Pool`] (one made with
    /// `Pool::with_tls`, for instance).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for no queues.
    ///
    /// ```no_run
    /// let pool = verdant::jobs::Pool::new("redis://127.0.0.1:6379/")?;
    /// let worker = verdant::jobs::Worker::with_pool(pool, &["default"])?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_pool(pool: Pool, queues: &[&str]) -> io::Result<Worker> {
        if queues.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a worker needs at least one queue",
            ));
        }
        Ok(Worker {
            pool,
            queues: queues.iter().map(|q| q.to_string()).collect(),
            weights: None,
            handlers: HashMap::new(),
            concurrency: 100,
            batch: 256,
            prefix: DEFAULT_PREFIX.to_string(),
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(100),
            block: Duration::from_millis(500),
            shutdown_timeout: Duration::from_secs(10),
            backoff: (Duration::from_secs(1), Duration::from_secs(3600)),
            result_ttl: DEFAULT_RESULT_TTL,
            signals: true,
            control: Arc::default(),
        })
    }

    /// How many jobs run at once (default 100), each on its own green
    /// thread. The worker never fetches more than it has free slots for.
    pub fn concurrency(mut self, n: usize) -> Worker {
        self.concurrency = n.max(1);
        self
    }

    /// Weighted instead of strict priority (Sidekiq's): each fetch orders
    /// the queues by a random draw where queue `i` comes first with
    /// probability `weights[i] / sum`. One weight per queue.
    pub fn weights(mut self, weights: &[u32]) -> Worker {
        self.weights = Some(weights.to_vec());
        self
    }

    /// Runs `handler` for jobs enqueued with this name. Every worker on a
    /// queue must handle every name enqueued on it: a job whose name has
    /// no handler goes to the dead letters.
    pub fn register<F>(mut self, name: &str, handler: F) -> Worker
    where
        F: Fn(&Job) -> Result<Json, Error> + Send + Sync + 'static,
    {
        self.handlers.insert(name.to_string(), Arc::new(handler));
        self
    }

    /// The key prefix (as [`Queue::prefix`](super::Queue::prefix)).
    pub fn prefix(mut self, prefix: &str) -> Worker {
        self.prefix = prefix.to_string();
        self
    }

    /// How long a fetched job stays this worker's without a heartbeat
    /// (default 30 s). The worker renews the lease of its running jobs
    /// every third of it; when a worker dies, its jobs become another's
    /// after this long. Each of the worker's Redis calls is bounded by a
    /// lease plus a blocked fetch's wait (500 ms): a call past that is a
    /// connection cut without notice, dropped and made again.
    pub fn lease(mut self, lease: Duration) -> Worker {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// At a graceful stop, how long jobs in flight get to finish before
    /// they are interrupted and handed back (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Worker {
        self.shutdown_timeout = timeout;
        self
    }

    /// The retry backoff: attempt `n`'s retry waits `base * 2^(n-1)`, capped
    /// at `max`, times a random factor in [0.5, 1) (default 1 s, 1 h).
    pub fn backoff(mut self, base: Duration, max: Duration) -> Worker {
        self.backoff = (base, max);
        self
    }

    /// How long results are kept (default 24 h).
    pub fn result_ttl(mut self, ttl: Duration) -> Worker {
        self.result_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// How often delayed jobs are promoted (default 100 ms): a delayed job
    /// runs at most about this long after its time.
    pub fn poll_interval(mut self, poll: Duration) -> Worker {
        self.poll = poll.max(Duration::from_millis(1));
        self
    }

    /// Whether SIGTERM and SIGINT stop the worker gracefully (default
    /// yes).
    pub fn handle_signals(mut self, yes: bool) -> Worker {
        self.signals = yes;
        self
    }

    /// A handle that stops the worker from another thread.
    pub fn handle(&self) -> WorkerHandle {
        WorkerHandle {
            control: self.control.clone(),
        }
    }

    /// Runs until stopped (SIGTERM, SIGINT or [`WorkerHandle::stop`]), then
    /// stops gracefully and returns what it did.
    ///
    /// # Errors
    ///
    /// Only at start: the consumer groups cannot be created (Redis is
    /// unreachable) or the signal handler cannot be installed. Once
    /// running, Redis errors are retried (the worker reconnects) and job
    /// failures are the jobs'.
    pub fn run(self) -> io::Result<WorkerStats> {
        for q in &self.queues {
            let stream = format!("{}q:{q}", self.prefix);
            self.pool.with_timeout(Some(self.lease + self.block), |c| {
                let created = redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(&stream)
                    .arg(scripts::GROUP)
                    .arg("0")
                    .arg("MKSTREAM")
                    .query::<()>(c);
                match created {
                    Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
                    other => other,
                }
            })?;
        }
        let signals = if self.signals {
            Some(crate::signal::Signals::new([
                crate::signal::SIGTERM,
                crate::signal::SIGINT,
            ])?)
        } else {
            None
        };
        let (tx, rx) = crate::sync::unbounded();
        let inner = Arc::new(Inner {
            consumer: format!("{}-{:x}", std::process::id(), random_u64()),
            slots: Semaphore::new(self.concurrency),
            in_flight: Mutex::new(HashMap::new()),
            drained: Condvar::new(),
            handing_back: AtomicBool::new(false),
            stats: Counters::default(),
            outcomes: tx,
            w: self,
        });
        let signal_handle = signals.map(|mut signals| {
            let handle = signals.handle();
            let control = inner.w.control.clone();
            let thread = crate::spawn(move || {
                if signals.next().is_some() {
                    control.stop.store(true, Ordering::SeqCst);
                }
            });
            (handle, thread)
        });
        let completer = {
            let inner = inner.clone();
            crate::spawn(move || inner.complete_loop(rx))
        };
        let maintenance = {
            let inner = inner.clone();
            crate::spawn(move || inner.maintenance_loop())
        };
        inner.fetch_loop();
        // Graceful stop: nothing more is fetched (maintenance stops too,
        // so nothing is reclaimed); give in-flight jobs their time.
        let _ = maintenance.join();
        inner.drain(Instant::now() + inner.w.shutdown_timeout);
        if !inner.is_drained() {
            inner.handing_back.store(true, Ordering::SeqCst);
            let handles: Vec<_> = inner
                .lock_in_flight()
                .values_mut()
                .filter_map(|f| f.thread.take())
                .collect();
            for h in &handles {
                h.cancel();
            }
            for h in handles {
                let _ = h.join();
            }
            // The hand-backs are in the completer's channel; give it the
            // same time again to write them.
            inner.drain(Instant::now() + inner.w.shutdown_timeout.max(Duration::from_secs(1)));
        }
        inner.handing_back.store(true, Ordering::SeqCst);
        completer.cancel();
        let _ = completer.join();
        if let Some((handle, thread)) = signal_handle {
            handle.close();
            let _ = thread.join();
        }
        Ok(inner.stats.snapshot())
    }
}

#[derive(Default)]
struct Counters {
    done: AtomicU64,
    retried: AtomicU64,
    dead: AtomicU64,
    released: AtomicU64,
    reclaimed: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> WorkerStats {
        WorkerStats {
            done: self.done.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dead: self.dead.load(Ordering::Relaxed),
            released: self.released.load(Ordering::Relaxed),
            reclaimed: self.reclaimed.load(Ordering::Relaxed),
        }
    }
}

/// What the START script returns for a job: name, payload, attempt,
/// max retries, timeout (ms).
type Started = (String, Vec<u8>, u32, u32, u64);

/// A fetched stream entry: its queue, entry id and job id.
#[derive(Debug, Clone)]
struct Entry {
    queue: String,
    entry: String,
    id: String,
}

struct InFlight {
    queue: String,
    thread: Option<crate::JoinHandle<()>>,
}

enum Outcome {
    Done(Entry, Vec<u8>),
    Failed(Entry, String, i64),
    Release(Entry),
}

impl Outcome {
    fn entry(&self) -> &Entry {
        match self {
            Outcome::Done(e, _) | Outcome::Failed(e, _, _) | Outcome::Release(e) => e,
        }
    }
}

struct Inner {
    w: Worker,
    consumer: String,
    slots: Semaphore,
    /// Entry id → its job; an entry leaves when its outcome is written.
    in_flight: Mutex<HashMap<String, InFlight>>,
    drained: Condvar,
    handing_back: AtomicBool,
    stats: Counters,
    outcomes: crate::sync::Sender<Outcome>,
}

impl Inner {
    /// The bound on each Redis call of the worker: a blocked fetch's wait
    /// plus a lease. A call past it is a connection that went silent (a
    /// network cut nobody reported): it fails, the connection is dropped
    /// and the worker reconnects, instead of waiting on it forever.
    fn io_timeout(&self) -> Option<Duration> {
        Some(self.w.lease + self.w.block)
    }

    fn stopping(&self) -> bool {
        self.w.control.stop.load(Ordering::SeqCst)
    }

    fn lock_in_flight(&self) -> crate::sync::MutexGuard<'_, HashMap<String, InFlight>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_drained(&self) -> bool {
        self.lock_in_flight().is_empty()
    }

    fn drain(&self, deadline: Instant) {
        let mut g = self.lock_in_flight();
        while !g.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            g = self
                .drained
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Takes up to `max` free slots, waiting for the first one (bounded by
    /// the poll interval, so that a stop is noticed).
    fn take_slots(&self, max: usize) -> usize {
        match self.slots.acquire_timeout(self.w.poll) {
            Some(p) => p.forget(),
            None => return 0,
        }
        let mut n = 1;
        while n < max {
            match self.slots.try_acquire() {
                Some(p) => p.forget(),
                None => break,
            }
            n += 1;
        }
        n
    }

    fn give_slots(&self, n: usize) {
        for _ in 0..n {
            let _ = self.slots.release();
        }
    }

    fn fetch_loop(self: &Arc<Self>) {
        let mut failing = false;
        let mut last_claim = Instant::now();
        while !self.stopping() {
            let n = self.take_slots(self.w.batch);
            if n == 0 {
                continue;
            }
            // Every third of a lease, entries of dead workers come first.
            let fetched = if last_claim.elapsed() >= self.w.lease / 3 {
                last_claim = Instant::now();
                match self.reclaim(n) {
                    Ok(entries) if entries.is_empty() => self.fetch(n),
                    other => other,
                }
            } else {
                self.fetch(n)
            };
            match fetched {
                Ok(entries) => {
                    failing = false;
                    let started = self.start(entries);
                    // Slots not filled: not fetched, or fetched and not
                    // started.
                    self.give_slots(n - started);
                }
                Err(e) => {
                    self.give_slots(n);
                    if !failing {
                        eprintln!("verdant::jobs worker {}: fetch failed, retrying: {e}", self.consumer);
                    }
                    failing = true;
                    crate::sleep(self.w.poll);
                }
            }
        }
    }

    /// The queues in this fetch's order.
    fn order(&self) -> Vec<&str> {
        let mut queues: Vec<(&str, u32)> = match &self.w.weights {
            None => return self.w.queues.iter().map(String::as_str).collect(),
            Some(w) => self
                .w
                .queues
                .iter()
                .map(String::as_str)
                .zip(w.iter().copied().chain(std::iter::repeat(1)))
                .collect(),
        };
        let mut out = Vec::with_capacity(queues.len());
        while !queues.is_empty() {
            let total: u64 = queues.iter().map(|(_, w)| u64::from(*w).max(1)).sum();
            let mut pick = random_u64() % total;
            let i = queues
                .iter()
                .position(|(_, w)| {
                    let w = u64::from(*w).max(1);
                    if pick < w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .unwrap_or(0);
            out.push(queues.remove(i).0);
        }
        out
    }

    fn fetch(&self, n: usize) -> io::Result<Vec<Entry>> {
        let order = self.order();
        let mut out = Vec::new();
        if order.len() > 1 {
            // Without blocking, in priority order, until the slots are full.
            for q in &order {
                let want = n - out.len();
                if want == 0 {
                    break;
                }
                out.extend(self.read(&[q], want, None)?);
            }
            if !out.is_empty() {
                return Ok(out);
            }
        }
        // Nothing ready: block on the queues (each may answer with up to
        // COUNT entries, so COUNT * queues <= n).
        let listen = &order[..order.len().min(n)];
        let count = (n / listen.len()).max(1);
        self.read(listen, count, Some(self.w.block))
    }

    fn read(&self, queues: &[&str], count: usize, block: Option<Duration>) -> io::Result<Vec<Entry>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(scripts::GROUP)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(count);
        if let Some(b) = block {
            cmd.arg("BLOCK").arg(millis(b).max(1));
        }
        cmd.arg("STREAMS");
        for q in queues {
            cmd.arg(format!("{}q:{q}", self.w.prefix));
        }
        for _ in queues {
            cmd.arg(">");
        }
        let reply: Value = self.w.pool.with_timeout(self.io_timeout(), |c| cmd.query(c))?;
        Ok(self.parse_read(reply))
    }

    /// `[[stream, [[entry, [field, value, ...]], ...]], ...]` → entries.
    fn parse_read(&self, reply: Value) -> Vec<Entry> {
        let mut out = Vec::new();
        let streams: Vec<(Value, Value)> = match reply {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|s| match s {
                    Value::Array(mut kv) if kv.len() == 2 => {
                        let v = kv.pop()?;
                        Some((kv.pop()?, v))
                    }
                    _ => None,
                })
                .collect(),
            Value::Map(kvs) => kvs,
            _ => return out,
        };
        for (stream, entries) in streams {
            let Ok(stream) = redis::from_redis_value::<String>(stream) else {
                continue;
            };
            let queue = stream
                .strip_prefix(&format!("{}q:", self.w.prefix))
                .unwrap_or(&stream)
                .to_string();
            out.extend(parse_entries(&queue, entries));
        }
        out
    }

    /// Marks fetched entries running and spawns their jobs; returns how
    /// many started (the others were cancelled jobs, acknowledged).
    fn start(self: &Arc<Self>, entries: Vec<Entry>) -> usize {
        if entries.is_empty() {
            return 0;
        }
        let reply: io::Result<Vec<Option<Started>>> = self.w.pool.with_timeout(self.io_timeout(), |c| {
            let mut inv = scripts::START.prepare_invoke();
            inv.arg(&self.w.prefix).arg(epoch_ms());
            for e in &entries {
                inv.arg(&e.queue).arg(&e.entry).arg(&e.id);
            }
            inv.invoke(c)
        });
        let jobs = match reply {
            Ok(jobs) => jobs,
            // The entries stay pending for this consumer: when their lease
            // expires, XAUTOCLAIM (ours or another worker's) picks them up.
            Err(e) => {
                eprintln!("verdant::jobs worker {}: could not start jobs: {e}", self.consumer);
                return 0;
            }
        };
        let mut started = 0;
        let mut in_flight = self.lock_in_flight();
        for (entry, job) in entries.into_iter().zip(jobs) {
            let Some((name, payload, attempt, max_retries, timeout_ms)) = job else {
                continue;
            };
            started += 1;
            let job = Job {
                id: entry.id.clone(),
                name,
                queue: entry.queue.clone(),
                payload,
                attempt,
                pool: self.w.pool.clone(),
                prefix: self.w.prefix.clone(),
            };
            let inner = self.clone();
            let key = entry.entry.clone();
            let queue = entry.queue.clone();
            let thread =
                crate::spawn(move || inner.run_job(entry, job, max_retries, Duration::from_millis(timeout_ms)));
            in_flight.insert(
                key,
                InFlight {
                    queue,
                    thread: Some(thread),
                },
            );
        }
        started
    }

    fn run_job(&self, entry: Entry, job: Job, max_retries: u32, timeout: Duration) {
        let outcome = match self.w.handlers.get(&job.name) {
            None => Err(Error::permanent(format!(
                "job {} ({}): no handler is registered for {:?} on this worker",
                job.id, job.name, job.name
            ))),
            Some(handler) => {
                let ran = catch_unwind(AssertUnwindSafe(|| crate::timeout(timeout, || handler(&job))));
                match ran {
                    Ok(Ok(r)) => r,
                    Ok(Err(_elapsed)) => Err(Error::new(format!(
                        "job {} ({}): timed out after {timeout:?}",
                        job.id, job.name
                    ))),
                    Err(panic) => Err(Error::new(format!(
                        "job {} ({}): the handler panicked: {}",
                        job.id,
                        job.name,
                        panic_message(&*panic)
                    ))),
                }
            }
        };
        self.give_slots(1);
        let outcome = if self.handing_back.load(Ordering::SeqCst) {
            Outcome::Release(entry)
        } else {
            match outcome {
                Ok(value) => Outcome::Done(entry, serde_json::to_vec(&value).unwrap_or_else(|_| b"null".to_vec())),
                Err(e) if e.is_permanent() || job.attempt > max_retries => Outcome::Failed(entry, e.message, -1),
                Err(e) => {
                    let retry_at = epoch_ms() + millis(self.backoff(job.attempt));
                    Outcome::Failed(entry, e.message, i64::try_from(retry_at).unwrap_or(i64::MAX))
                }
            }
        };
        let _ = self.outcomes.send(outcome);
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let (base, max) = self.w.backoff;
        let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(30)).min(max);
        // Jitter: a factor in [0.5, 1).
        exp.mul_f64(0.5 + (random_u64() % 1000) as f64 / 2000.0)
    }

    fn complete_loop(&self, rx: crate::sync::Receiver<Outcome>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < 512 {
                match rx.try_recv() {
                    Ok(o) => batch.push(o),
                    Err(_) => break,
                }
            }
            let mut failing = false;
            // Until written: a job's outcome is never dropped while the
            // worker runs (at a hard stop the lease covers it).
            loop {
                match self.write(&batch) {
                    Ok(()) => break,
                    Err(e) => {
                        if !failing {
                            eprintln!(
                                "verdant::jobs worker {}: could not record results, retrying: {e}",
                                self.consumer
                            );
                        }
                        failing = true;
                        crate::sleep(self.w.poll);
                    }
                }
            }
            let mut in_flight = self.lock_in_flight();
            for o in &batch {
                in_flight.remove(&o.entry().entry);
            }
            if in_flight.is_empty() {
                self.drained.notify_all();
            }
        }
    }

    fn write(&self, batch: &[Outcome]) -> io::Result<()> {
        let p = &self.w.prefix;
        let ttl = self.w.result_ttl.as_secs();
        let done: Vec<_> = batch.iter().filter(|o| matches!(o, Outcome::Done(..))).collect();
        if !done.is_empty() {
            let mut inv = scripts::COMPLETE.prepare_invoke();
            inv.arg(p).arg(epoch_ms()).arg(ttl);
            for o in &done {
                if let Outcome::Done(e, result) = o {
                    inv.arg(&e.queue).arg(&e.entry).arg(&e.id).arg(result);
                }
            }
            // EVALSHA, with the script loaded first on a NOSCRIPT.
            self.w.pool.with_timeout(self.io_timeout(), |c| inv.invoke::<()>(c))?;
        }
        // Failures and hand-backs are rare: one script call each.
        for o in batch {
            match o {
                Outcome::Done(..) => {}
                Outcome::Failed(e, err, retry_at) => {
                    self.w.pool.with_timeout(self.io_timeout(), |c| {
                        scripts::FAIL
                            .arg(p)
                            .arg(epoch_ms())
                            .arg(ttl)
                            .arg(&e.queue)
                            .arg(&e.entry)
                            .arg(&e.id)
                            .arg(err)
                            .arg(retry_at)
                            .invoke::<i64>(c)
                    })?;
                }
                Outcome::Release(e) => {
                    self.w.pool.with_timeout(self.io_timeout(), |c| {
                        scripts::RELEASE
                            .arg(p)
                            .arg(&e.queue)
                            .arg(&e.entry)
                            .arg(&e.id)
                            .invoke::<i64>(c)
                    })?;
                }
            }
        }
        self.stats.done.fetch_add(done.len() as u64, Ordering::Relaxed);
        for o in batch {
            match o {
                Outcome::Done(..) => 0,
                Outcome::Failed(_, _, -1) => self.stats.dead.fetch_add(1, Ordering::Relaxed),
                Outcome::Failed(..) => self.stats.retried.fetch_add(1, Ordering::Relaxed),
                Outcome::Release(_) => self.stats.released.fetch_add(1, Ordering::Relaxed),
            };
        }
        Ok(())
    }

    fn maintenance_loop(self: &Arc<Self>) {
        let heartbeat_every = self.w.lease / 3;
        let mut last_heartbeat = Instant::now();
        while !self.stopping() {
            // Errors here are retried on the next round; the fetcher and
            // the completer report a Redis outage.
            let _ = self.w.pool.with_timeout(self.io_timeout(), |c| {
                scripts::PROMOTE
                    .arg(&self.w.prefix)
                    .arg(epoch_ms())
                    .arg(1000)
                    .invoke::<i64>(c)
            });
            if last_heartbeat.elapsed() >= heartbeat_every {
                last_heartbeat = Instant::now();
                let _ = self.heartbeat();
            }
            crate::sleep(self.w.poll);
        }
    }

    /// Renews the lease of every entry in flight: `XCLAIM` to ourselves
    /// with min-idle 0 resets its idle time.
    fn heartbeat(&self) -> io::Result<()> {
        let mut by_queue: HashMap<String, Vec<String>> = HashMap::new();
        for (entry, f) in self.lock_in_flight().iter() {
            by_queue.entry(f.queue.clone()).or_default().push(entry.clone());
        }
        for (queue, entries) in by_queue {
            for chunk in entries.chunks(500) {
                let mut cmd = redis::cmd("XCLAIM");
                cmd.arg(format!("{}q:{queue}", self.w.prefix))
                    .arg(scripts::GROUP)
                    .arg(&self.consumer)
                    .arg(0);
                for e in chunk {
                    cmd.arg(e);
                }
                cmd.arg("JUSTID");
                self.w.pool.with_timeout(self.io_timeout(), |c| cmd.query::<Value>(c))?;
            }
        }
        Ok(())
    }

    /// Takes over up to `n` entries idle longer than a lease (their
    /// worker died or lost its connection for that long), for this worker
    /// to run.
    fn reclaim(&self, n: usize) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for queue in &self.w.queues {
            let want = n - out.len();
            if want == 0 {
                break;
            }
            let stream = format!("{}q:{queue}", self.w.prefix);
            let reply: Value = self.w.pool.with_timeout(self.io_timeout(), |c| {
                redis::cmd("XAUTOCLAIM")
                    .arg(&stream)
                    .arg(scripts::GROUP)
                    .arg(&self.consumer)
                    .arg(millis(self.w.lease))
                    .arg("0-0")
                    .arg("COUNT")
                    .arg(want)
                    .query(c)
            })?;
            // [next cursor, entries, deleted ids (Redis >= 7)]
            if let Value::Array(mut parts) = reply {
                if parts.len() >= 2 {
                    let entries = parse_entries(queue, parts.swap_remove(1));
                    self.stats.reclaimed.fetch_add(entries.len() as u64, Ordering::Relaxed);
                    out.extend(entries);
                }
            }
        }
        Ok(out)
    }
}

/// `[[entry, [field, value, ...]], ...]` → entries (a deleted entry,
/// `[entry, nil]` in XAUTOCLAIM's reply, is skipped).
fn parse_entries(queue: &str, entries: Value) -> Vec<Entry> {
    let Value::Array(entries) = entries else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let Value::Array(mut parts) = e else { continue };
        if parts.len() != 2 {
            continue;
        }
        let fields = parts.pop();
        let Some(Ok(entry)) = parts.pop().map(redis::from_redis_value::<String>) else {
            continue;
        };
        let Some(Value::Array(fields)) = fields else { continue };
        let id = fields
            .chunks(2)
            .find(|kv| redis::from_redis_value_ref::<String>(&kv[0]).ok().as_deref() == Some("id"))
            .and_then(|kv| kv.get(1))
            .and_then(|v| redis::from_redis_value_ref::<String>(v).ok());
        if let Some(id) = id {
            out.push(Entry {
                queue: queue.to_string(),
                entry,
                id,
            });
        }
    }
    out
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_string()
    }
}
