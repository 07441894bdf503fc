//! The producer side: [`Queue`], [`NewJob`], [`Status`].

use std::collections::HashMap;
use std::io;
use std::time::{Duration, SystemTime};

use redis::Value;

use super::conn::{millis, Pool};
use super::{epoch_ms, new_id, scripts, DEFAULT_PREFIX};

/// A job to enqueue: its name (the handler a worker registered), its
/// payload, and its options.
///
/// ```
/// use std::time::Duration;
/// use verdant::jobs::NewJob;
///
/// let job = NewJob::new("resize")
///     .json(&serde_json::json!({"path": "a.png", "width": 640}))
///     .max_retries(5)
///     .timeout(Duration::from_secs(30))
///     .delay(Duration::from_secs(10))
///     .unique("resize:a.png");
/// assert_eq!(job.name(), "resize");
/// ```
#[derive(Debug, Clone)]
pub struct NewJob {
    name: String,
    payload: Vec<u8>,
    queue: Option<String>,
    run_at_ms: u64,
    max_retries: u32,
    timeout: Duration,
    unique: Option<String>,
}

impl NewJob {
    /// A job for the handler registered as `name`, with an empty payload,
    /// 3 retries, a 30-minute timeout, to run now.
    pub fn new(name: impl Into<String>) -> NewJob {
        NewJob {
            name: name.into(),
            payload: Vec::new(),
            queue: None,
            run_at_ms: 0,
            max_retries: 3,
            timeout: Duration::from_secs(30 * 60),
            unique: None,
        }
    }

    /// The handler's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The payload, as JSON (what [`Job::json`](super::Job::json) reads).
    ///
    /// # Panics
    ///
    /// If `value`'s `Serialize` impl fails (a map with non-string keys);
    /// use [`bytes`](NewJob::bytes) with `serde_json::to_vec` to handle
    /// that error yourself.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> NewJob {
        self.payload = serde_json::to_vec(value).expect("the payload serializes to JSON");
        self
    }

    /// The payload, as raw bytes (what [`Job::payload`](super::Job::payload)
    /// returns).
    pub fn bytes(mut self, payload: impl Into<Vec<u8>>) -> NewJob {
        self.payload = payload.into();
        self
    }

    /// Enqueues on `queue` instead of the [`Queue`]'s own (priorities are
    /// queues: a worker reads its queues strictly in order, or weighted).
    pub fn queue(mut self, queue: impl Into<String>) -> NewJob {
        self.queue = Some(queue.into());
        self
    }

    /// Runs no earlier than `delay` from now.
    pub fn delay(mut self, delay: Duration) -> NewJob {
        self.run_at_ms = epoch_ms() + millis(delay);
        self
    }

    /// Runs no earlier than `when`.
    pub fn run_at(mut self, when: SystemTime) -> NewJob {
        self.run_at_ms = when.duration_since(SystemTime::UNIX_EPOCH).map(millis).unwrap_or(0);
        self
    }

    /// How many times a failed attempt is retried (so at most
    /// `max_retries + 1` attempts) before the job goes to the dead letters.
    pub fn max_retries(mut self, n: u32) -> NewJob {
        self.max_retries = n;
        self
    }

    /// How long one attempt may run; past it the attempt fails (its green
    /// thread is interrupted at its next blocking call) and is retried.
    pub fn timeout(mut self, timeout: Duration) -> NewJob {
        self.timeout = timeout;
        self
    }

    /// At most one pending (not yet finished) job holds `key`: enqueueing
    /// another while one does returns the holder's id and adds nothing.
    pub fn unique(mut self, key: impl Into<String>) -> NewJob {
        self.unique = Some(key.into());
        self
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Waiting for its run-at time.
    Scheduled,
    /// Ready, waiting for a worker.
    Queued,
    /// A worker runs it.
    Running,
    /// An attempt failed; waiting for the retry's backoff.
    Retrying,
    /// Finished with a result.
    Done,
    /// Failed its last retry (or failed permanently): in the dead letters.
    Dead,
    /// Cancelled before it started.
    Cancelled,
}

impl State {
    fn parse(s: &str) -> Option<State> {
        Some(match s {
            "scheduled" => State::Scheduled,
            "queued" => State::Queued,
            "running" => State::Running,
            "retrying" => State::Retrying,
            "done" => State::Done,
            "dead" => State::Dead,
            "cancelled" => State::Cancelled,
            _ => return None,
        })
    }

    /// Whether the job will not change any more (done, dead, cancelled).
    pub fn is_final(self) -> bool {
        matches!(self, State::Done | State::Dead | State::Cancelled)
    }
}

/// What [`Queue::status`] found about a job.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Status {
    /// Where the job is.
    pub state: State,
    /// The handler's name.
    pub name: String,
    /// The queue it is on.
    pub queue: String,
    /// Attempts started so far.
    pub attempts: u32,
    /// The last progress the job reported ([`Job::progress`](super::Job::progress)).
    pub progress: Option<serde_json::Value>,
    /// The result, once done.
    pub result: Option<serde_json::Value>,
    /// The last attempt's error, if one failed.
    pub error: Option<String>,
}

/// The producer's handle on a queue: enqueue, wait for results, ask for a
/// job's status, cancel, and manage the dead letters. Cheap to clone (the
/// clones share a connection [`Pool`]).
///
/// ```no_run
/// use verdant::jobs::{NewJob, Queue};
///
/// let queue = Queue::connect("redis://127.0.0.1:6379/", "default")?;
/// let id = queue.enqueue(NewJob::new("resize").json(&("a.png", 640)))?;
/// println!("{:?}", queue.status(&id)?);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Queue {
    pool: Pool,
    name: String,
    prefix: String,
    result_ttl: Duration,
}

impl Queue {
    /// A handle on queue `name` of the Redis server at `url`
    /// (`redis://` or `rediss://`, see [`Connection::open`](super::Connection::open)).
    /// Checks that the server answers.
    ///
    /// # Errors
    ///
    /// A bad URL, or the server cannot be reached.
    pub fn connect(url: &str, name: &str) -> io::Result<Queue> {
        Queue::with_pool(Pool::new(url)?, name)
    }

    /// A handle on queue `name` over an existing [`Pool`] (one made with
    /// `Pool::with_tls`, or shared with your own Redis commands). Checks
    /// that the server answers.
    ///
    /// # Errors
    ///
    /// The server cannot be reached.
    ///
    /// ```no_run
    /// let pool = verdant::jobs::Pool::new("redis://127.0.0.1:6379/")?;
    /// let queue = verdant::jobs::Queue::with_pool(pool, "default")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_pool(pool: Pool, name: &str) -> io::Result<Queue> {
        let queue = Queue {
            pool,
            name: name.to_string(),
            prefix: DEFAULT_PREFIX.to_string(),
            result_ttl: super::DEFAULT_RESULT_TTL,
        };
        queue.pool.with(|c| redis::cmd("PING").query::<()>(c))?;
        Ok(queue)
    }

    /// Uses `prefix` instead of `verdant:jobs:` for every key (to run
    /// separate job systems on one Redis database); workers must use the
    /// same prefix ([`Worker::prefix`](super::Worker::prefix)).
    pub fn prefix(mut self, prefix: &str) -> Queue {
        self.prefix = prefix.to_string();
        self
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The connection pool (for your own Redis commands).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Enqueues `job` and returns its id. With a [unique
    /// key](NewJob::unique) already held by a pending job, returns that
    /// job's id and enqueues nothing.
    ///
    /// # Errors
    ///
    /// The connection's or the server's error.
    pub fn enqueue(&self, job: NewJob) -> io::Result<String> {
        let id = new_id();
        let queue = job.queue.as_deref().unwrap_or(&self.name);
        let (_added, id): (i64, String) = self.pool.with(|c| {
            scripts::ENQUEUE
                .arg(&self.prefix)
                .arg(&id)
                .arg(queue)
                .arg(&job.name)
                .arg(&job.payload)
                .arg(job.max_retries)
                .arg(millis(job.timeout))
                .arg(job.unique.as_deref().unwrap_or(""))
                .arg(job.run_at_ms)
                .arg(epoch_ms())
                .invoke(c)
        })?;
        Ok(id)
    }

    /// Enqueues `job` and waits up to `timeout` for its result: Gearman's
    /// foreground job.
    ///
    /// # Errors
    ///
    /// `TimedOut` if the job has not finished in time (it stays queued or
    /// running); an error naming the job's last error if it went to the
    /// dead letters, or `Interrupted` if it was cancelled; the
    /// connection's or the server's error.
    pub fn enqueue_and_wait(&self, job: NewJob, timeout: Duration) -> io::Result<serde_json::Value> {
        let id = self.enqueue(job)?;
        self.wait(&id, timeout)
    }

    /// Waits up to `timeout` for job `id` to finish and returns its result
    /// (errors as for [`enqueue_and_wait`](Queue::enqueue_and_wait)).
    pub fn wait(&self, id: &str, timeout: Duration) -> io::Result<serde_json::Value> {
        let key = format!("{}done:{id}", self.prefix);
        // Ask for a wake-up, then look: the scripts that end a job check
        // for the `waiter` field atomically, so either the job ended before
        // the field was set (and the status says so) or its end pushes to
        // the list.
        let job = format!("{}job:{id}", self.prefix);
        let known: bool = self.pool.with(|c| {
            redis::pipe()
                .exists(&job)
                .cmd("HSETNX")
                .arg(&job)
                .arg("waiter")
                .arg(1)
                .ignore()
                .query::<(bool,)>(c)
                .map(|(e,)| e)
        })?;
        if !known {
            // HSETNX created the hash: take it away again.
            self.pool.with(|c| redis::cmd("DEL").arg(&job).query::<()>(c))?;
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no job {id}")));
        }
        let got = match self.status(id)? {
            Some(s) if s.state.is_final() => None,
            _ => {
                // BLPOP's timeout is in seconds (a float); 0 would mean forever.
                let secs = timeout.as_secs_f64().max(0.001);
                let got: Option<(String, String)> =
                    self.pool.with(|c| redis::cmd("BLPOP").arg(&key).arg(secs).query(c))?;
                match got {
                    // Put the marker back for other waiters on the same job.
                    Some((_, marker)) => {
                        self.pool
                            .with(|c| redis::cmd("RPUSH").arg(&key).arg(&marker).query::<()>(c))?;
                        Some(())
                    }
                    None => None,
                }
            }
        };
        let status = self.status(id)?;
        match status {
            Some(Status {
                state: State::Done,
                result,
                ..
            }) => Ok(result.unwrap_or(serde_json::Value::Null)),
            Some(Status {
                state: State::Dead,
                error,
                ..
            }) => Err(io::Error::other(format!(
                "job {id} failed: {}",
                error.unwrap_or_default()
            ))),
            Some(Status {
                state: State::Cancelled,
                ..
            }) => Err(io::Error::new(
                io::ErrorKind::Interrupted,
                format!("job {id} was cancelled"),
            )),
            Some(_) if got.is_none() => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("job {id} did not finish within {timeout:?}"),
            )),
            Some(_) => Err(io::Error::other(format!(
                "job {id} is still {:?} after its end was signalled",
                status.map(|s| s.state)
            ))),
            None => Err(io::Error::other(format!("job {id} ended but its record expired"))),
        }
    }

    /// The status of job `id`, or `None` if there is no such job (or its
    /// result expired).
    ///
    /// # Errors
    ///
    /// The connection's or the server's error.
    pub fn status(&self, id: &str) -> io::Result<Option<Status>> {
        let key = format!("{}job:{id}", self.prefix);
        let h: HashMap<String, Vec<u8>> = self.pool.with(|c| redis::cmd("HGETALL").arg(&key).query(c))?;
        if h.is_empty() {
            return Ok(None);
        }
        let text = |k: &str| h.get(k).map(|v| String::from_utf8_lossy(v).into_owned());
        let json = |k: &str| h.get(k).and_then(|v| serde_json::from_slice(v).ok());
        let state = text("state")
            .and_then(|s| State::parse(&s))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("job {id} has no valid state")))?;
        Ok(Some(Status {
            state,
            name: text("name").unwrap_or_default(),
            queue: text("queue").unwrap_or_default(),
            attempts: text("attempts").and_then(|a| a.parse().ok()).unwrap_or(0),
            progress: json("progress"),
            result: json("result"),
            error: text("error"),
        }))
    }

    /// Cancels job `id` if it has not started: returns `true` if it was
    /// cancelled, `false` if it is running or already finished (a running
    /// job is not interrupted).
    ///
    /// # Errors
    ///
    /// `NotFound` for an unknown id; the connection's or the server's error.
    pub fn cancel(&self, id: &str) -> io::Result<bool> {
        let r: i64 = self.pool.with(|c| {
            scripts::CANCEL
                .arg(&self.prefix)
                .arg(id)
                .arg(self.result_ttl.as_secs().max(1))
                .invoke(c)
        })?;
        match r {
            -1 => Err(io::Error::new(io::ErrorKind::NotFound, format!("no job {id}"))),
            n => Ok(n == 1),
        }
    }

    /// The ids in the dead letter list, newest first (at most `limit`).
    ///
    /// # Errors
    ///
    /// The connection's or the server's error.
    pub fn dead(&self, limit: usize) -> io::Result<Vec<String>> {
        let key = format!("{}dead", self.prefix);
        let stop = i64::try_from(limit).unwrap_or(i64::MAX) - 1;
        self.pool
            .with(|c| redis::cmd("LRANGE").arg(&key).arg(0).arg(stop).query(c))
    }

    /// Puts dead job `id` back on its queue with its attempts reset;
    /// `false` if it is not in the dead letters.
    ///
    /// # Errors
    ///
    /// The connection's or the server's error.
    pub fn requeue(&self, id: &str) -> io::Result<bool> {
        let r: i64 = self
            .pool
            .with(|c| scripts::REQUEUE.arg(&self.prefix).arg(id).invoke(c))?;
        Ok(r == 1)
    }

    /// Counts for monitoring: ready, in flight, delayed (incl. retries),
    /// dead, and done so far, over every queue.
    ///
    /// # Errors
    ///
    /// The connection's or the server's error.
    pub fn stats(&self) -> io::Result<Stats> {
        let p = &self.prefix;
        let queues: Vec<String> = self
            .pool
            .with(|c| redis::cmd("SMEMBERS").arg(format!("{p}queues")).query(c))?;
        let mut stats = Stats::default();
        for q in queues {
            let stream = format!("{p}q:{q}");
            let groups: Value = self
                .pool
                .with(|c| redis::cmd("XINFO").arg("GROUPS").arg(&stream).query(c))?;
            let (pending, lag) = group_counts(&groups);
            stats.in_flight += pending;
            stats.queues.push((q, lag));
        }
        let (delayed, dead, done): (u64, u64, Option<u64>) = self.pool.with(|c| {
            redis::pipe()
                .zcard(format!("{p}delayed"))
                .llen(format!("{p}dead"))
                .get(format!("{p}stat:done"))
                .query(c)
        })?;
        stats.delayed = delayed;
        stats.dead = dead;
        stats.done = done.unwrap_or(0);
        Ok(stats)
    }
}

/// The `pending` and `lag` fields of the `workers` group in an `XINFO
/// GROUPS` reply (lag: entries not yet delivered to any worker).
fn group_counts(groups: &Value) -> (u64, u64) {
    let Value::Array(groups) = groups else { return (0, 0) };
    for g in groups {
        let fields: Vec<(String, Value)> = match g {
            Value::Array(items) => items
                .chunks(2)
                .filter_map(|kv| Some((redis::from_redis_value_ref::<String>(&kv[0]).ok()?, kv.get(1)?.clone())))
                .collect(),
            Value::Map(kvs) => kvs
                .iter()
                .filter_map(|(k, v)| Some((redis::from_redis_value_ref::<String>(k).ok()?, v.clone())))
                .collect(),
            _ => continue,
        };
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| redis::from_redis_value_ref::<u64>(v).ok())
        };
        let is_ours = fields.iter().any(|(k, v)| {
            k == "name" && redis::from_redis_value_ref::<String>(v).ok().as_deref() == Some(scripts::GROUP)
        });
        if is_ours {
            return (get("pending").unwrap_or(0), get("lag").unwrap_or(0));
        }
    }
    (0, 0)
}

/// What [`Queue::stats`] counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Per queue: jobs ready and not yet fetched by any worker.
    pub queues: Vec<(String, u64)>,
    /// Jobs fetched by a worker and not yet acknowledged.
    pub in_flight: u64,
    /// Delayed jobs and retries waiting for their time.
    pub delayed: u64,
    /// Jobs in the dead letters.
    pub dead: u64,
    /// Jobs done since the counter was created.
    pub done: u64,
}
