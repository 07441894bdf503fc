//! The dump: a snapshot of every listed green thread, rendered to words.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::fd::Sockets;
use crate::runtime::scheduler::Shared;
use crate::runtime::task::why::{self, Why};
use crate::runtime::task::{Phase, TaskRef};
use crate::runtime::Handle;

/// What a green thread was doing when the dump was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ThreadState {
    /// Running on its worker right now.
    Running,
    /// Woken (or yielded), waiting in its worker's run queue.
    Runnable,
    /// Parked: waiting for something (see [`GreenThreadInfo::wait`]).
    Parked,
    /// Its function has returned; its destructors may still run.
    Finishing,
}

impl ThreadState {
    /// The state as one lowercase word.
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadState::Running => "running",
            ThreadState::Runnable => "runnable",
            ThreadState::Parked => "parked",
            ThreadState::Finishing => "finishing",
        }
    }
}

impl fmt::Display for ThreadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One green thread in a [`Dump`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GreenThreadInfo {
    /// Its id (as [`GreenThread::id`](crate::GreenThread::id)).
    pub id: u64,
    /// Its name, if it was given one.
    pub name: Option<String>,
    /// The worker it is pinned to.
    pub worker: usize,
    /// What it was doing.
    pub state: ThreadState,
    /// The kind of its wait in one word (`"sleep"`, `"read"`, `"accept"`,
    /// `"recv"`, `"lock"`, `"join"`, ...), when parked.
    pub wait_kind: Option<&'static str>,
    /// Its wait in words (`"recv on channel 0x…"`, `"read on 127.0.0.1:8080
    /// ← 127.0.0.1:51234 (fd 17)"`), when parked.
    pub wait: Option<String>,
    /// How long it has been parked, at least (measured from its worker's
    /// coarse clock, which may lag by the length of one scheduling turn).
    pub waited: Option<Duration>,
    /// The [`Group`](crate::Group) it belongs to (an address), if any.
    pub group: Option<String>,
    /// Where it was spawned.
    pub spawned_at: &'static Location<'static>,
    /// Its stack when it parked, if the program runs with
    /// `VERDANT_BACKTRACE=1` (captured at every park; see
    /// `docs/debugging.md` for the cost).
    pub backtrace: Option<String>,
}

/// One worker in a [`Dump`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// The worker's index.
    pub index: usize,
    /// The id of the green thread running on it, if any.
    pub running: Option<u64>,
}

/// A snapshot of a runtime's green threads (see [`crate::debug::dump`]).
///
/// It lists every green thread that has parked at least once and is not
/// complete; threads that never parked (new ones, or ones running since
/// they started) are counted, not listed. Taking a dump locks each
/// worker's list for as long as it takes to copy it, never the workers
/// themselves, so a dump works while every worker is busy.
///
/// ```
/// use std::time::Duration;
/// let rt = verdant::Runtime::new().unwrap();
/// let h = rt.spawn(|| verdant::sleep(Duration::from_secs(60)));
/// let id = h.thread().id().as_u64();
/// // Wait (bounded) until the thread has parked: a dump is a snapshot.
/// let dump = (0..10_000)
///     .map(|_| {
///         std::thread::sleep(std::time::Duration::from_millis(1));
///         rt.handle().dump()
///     })
///     .find(|d| d.threads.iter().any(|t| t.id == id && t.wait_kind.is_some()))
///     .expect("the thread parks");
/// let t = dump.threads.iter().find(|t| t.id == id).unwrap();
/// assert_eq!(t.wait_kind, Some("sleep"));
/// assert!(dump.to_string().contains("sleep"));
/// h.cancel();
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Dump {
    /// Green threads spawned and not yet complete.
    pub live: usize,
    /// The workers.
    pub workers: Vec<WorkerInfo>,
    /// The listed green threads, by worker, then by id.
    pub threads: Vec<GreenThreadInfo>,
}

impl Handle {
    /// Takes a [`Dump`] of this runtime's green threads.
    ///
    /// ```
    /// let rt = verdant::Runtime::builder().workers(2).build().unwrap();
    /// let dump = rt.handle().dump();
    /// assert_eq!(dump.workers.len(), 2);
    /// ```
    pub fn dump(&self) -> Dump {
        Dump::take(&self.shared)
    }
}

impl Dump {
    fn take(shared: &Shared) -> Dump {
        let now = Instant::now();
        let now_ms = why::clock_ms(now);
        let mut sockets = Sockets::default();
        let mut workers = Vec::with_capacity(shared.workers.len());
        let mut threads = Vec::new();
        for (index, w) in shared.workers.iter().enumerate() {
            let running = w.running.load(Ordering::Relaxed);
            workers.push(WorkerInfo {
                index,
                running: (running != 0).then_some(running),
            });
            let tasks: Vec<TaskRef> = w.listed.lock().iter().flatten().cloned().collect();
            let first = threads.len();
            for t in tasks {
                threads.push(info(&t, index, running, now, now_ms, &mut sockets));
            }
            threads[first..].sort_by_key(|t| t.id);
        }
        Dump {
            live: shared.live(),
            workers,
            threads,
        }
    }

    /// The dump as JSON: `{"live": N, "workers": [...], "threads": [...]}`,
    /// each thread with the fields of [`GreenThreadInfo`] (`waited` as
    /// `waited_ms`, `spawned_at` as `{"file", "line", "column"}`).
    ///
    /// ```
    /// let json = verdant::dump().to_json();
    /// assert!(json.starts_with("{\"live\":"));
    /// ```
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(64 + self.threads.len() * 200);
        let _ = write!(o, "{{\"live\":{},\"workers\":[", self.live);
        for (i, w) in self.workers.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let running = w.running.map_or("null".to_owned(), |r| r.to_string());
            let _ = write!(o, "{sep}{{\"index\":{},\"running\":{running}}}", w.index);
        }
        o.push_str("],\"threads\":[");
        for (i, t) in self.threads.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "{{\"id\":{},\"name\":", t.id);
            json_opt_str(&mut o, t.name.as_deref());
            let _ = write!(o, ",\"worker\":{},\"state\":\"{}\",\"wait_kind\":", t.worker, t.state);
            json_opt_str(&mut o, t.wait_kind);
            o.push_str(",\"wait\":");
            json_opt_str(&mut o, t.wait.as_deref());
            o.push_str(",\"waited_ms\":");
            match t.waited {
                Some(d) => {
                    let _ = write!(o, "{}", d.as_millis());
                }
                None => o.push_str("null"),
            }
            o.push_str(",\"group\":");
            json_opt_str(&mut o, t.group.as_deref());
            o.push_str(",\"backtrace\":");
            json_opt_str(&mut o, t.backtrace.as_deref());
            o.push_str(",\"spawned_at\":{\"file\":");
            json_str(&mut o, t.spawned_at.file());
            let _ = write!(
                o,
                ",\"line\":{},\"column\":{}}}}}",
                t.spawned_at.line(),
                t.spawned_at.column()
            );
        }
        o.push_str("]}");
        o
    }
}

fn info(t: &TaskRef, worker: usize, running: u64, now: Instant, now_ms: u64, socks: &mut Sockets) -> GreenThreadInfo {
    let state = match t.state.phase() {
        Phase::Finishing => ThreadState::Finishing,
        Phase::Parked => ThreadState::Parked,
        Phase::Unstarted | Phase::Active if running == t.id => ThreadState::Running,
        Phase::Unstarted | Phase::Active => ThreadState::Runnable,
    };
    let (note, since) = t.why();
    let (wait_kind, wait, waited) = if state == ThreadState::Parked {
        let (kind, mut text) = match note {
            Some((why, datum)) => render(why, datum, now, socks),
            None => ("parked", "parked (its wait did not say why)".to_owned()),
        };
        if let Some(label) = why::label_of(t.id) {
            text = format!("{label}: {text}");
        }
        (
            Some(kind),
            Some(text),
            Some(Duration::from_millis(now_ms.saturating_sub(since))),
        )
    } else {
        (None, None, None)
    };
    GreenThreadInfo {
        id: t.id,
        name: t.name.as_deref().map(str::to_owned),
        worker,
        state,
        wait_kind,
        wait,
        waited,
        group: t.completion_addr().map(|a| format!("{a:#x}")),
        spawned_at: t.location,
        backtrace: (state == ThreadState::Parked)
            .then(|| why::backtrace_of(t.id))
            .flatten()
            .map(|b| b.to_string()),
    }
}

/// A note in words: its kind in one word, and the whole sentence.
fn render(why: Why, datum: u64, now: Instant, socks: &mut Sockets) -> (&'static str, String) {
    let at = |what: &str| format!("{what} {datum:#x}");
    match why {
        Why::Sleep if datum == u64::MAX => ("sleep", "sleep forever".to_owned()),
        Why::Sleep => {
            let due = why::clock_instant(datum);
            let text = match due.checked_duration_since(now) {
                Some(left) => format!("sleep until +{:.3} s", left.as_secs_f64()),
                None => "sleep, due now".to_owned(),
            };
            ("sleep", text)
        }
        Why::Read => socks.describe(datum, true),
        Why::Write => socks.describe(datum, false),
        Why::ChannelSend => ("send", at("send on channel")),
        Why::ChannelRecv => ("recv", at("recv on channel")),
        Why::Lock => ("lock", at("lock Mutex")),
        Why::ReadLock => ("lock", at("read lock RwLock")),
        Why::WriteLock => ("lock", at("write lock RwLock")),
        Why::Condvar => ("condvar", at("wait on Condvar")),
        Why::Event => ("event", at("wait on Event")),
        Why::Join => ("join", format!("join #{datum}")),
        Why::QueuePut => ("queue", at("put on Queue")),
        Why::QueueGet => ("queue", at("get on Queue")),
        Why::QueueJoin => ("queue", at("join Queue")),
        Why::Semaphore => ("semaphore", at("acquire Semaphore")),
        Why::WaitGroup => ("wait_group", at("wait on WaitGroup")),
        Why::Barrier => ("barrier", at("wait on Barrier")),
        Why::Once => ("once", at("wait for Once")),
        Why::Group => ("group", at("join_next on Group")),
        Why::Park => ("park", "verdant::park()".to_owned()),
        Why::Child => ("child", format!("child pid {datum}")),
    }
}

fn json_opt_str(o: &mut String, s: Option<&str>) {
    match s {
        Some(s) => json_str(o, s),
        None => o.push_str("null"),
    }
}

fn json_str(o: &mut String, s: &str) {
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
}

/// Samples shown per group in `Display`.
const SAMPLES: usize = 3;

/// Go's layout: identical waits (state, kind of wait, spawn location)
/// collapsed into one group with a count, largest groups first, a few
/// threads of each shown in full.
impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unlisted = self.live.saturating_sub(self.threads.len());
        writeln!(
            f,
            "verdant dump: {} green threads live, {} listed ({unlisted} not listed: not parked since they started)",
            self.live,
            self.threads.len()
        )?;
        for w in &self.workers {
            match w.running {
                Some(id) => writeln!(f, "worker {}: running #{id}", w.index)?,
                None => writeln!(f, "worker {}: idle", w.index)?,
            }
        }
        type Key = (ThreadState, &'static str, &'static str, u32, u32);
        let mut groups: BTreeMap<Key, Vec<&GreenThreadInfo>> = BTreeMap::new();
        for t in &self.threads {
            let l = t.spawned_at;
            let key = (t.state, t.wait_kind.unwrap_or(""), l.file(), l.line(), l.column());
            groups.entry(key).or_default().push(t);
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        for ((state, kind, file, line, _), members) in groups {
            writeln!(f)?;
            let kind = if kind.is_empty() {
                String::new()
            } else {
                format!(", {kind}")
            };
            let n = members.len();
            let noun = if n == 1 { "green thread" } else { "green threads" };
            writeln!(f, "{n} {noun}: {state}{kind}, spawned at {file}:{line}")?;
            for t in members.iter().take(SAMPLES) {
                write!(f, "    #{}", t.id)?;
                if let Some(name) = &t.name {
                    write!(f, " \"{name}\"")?;
                }
                write!(f, " (worker {})", t.worker)?;
                if let Some(g) = &t.group {
                    write!(f, " in group {g}")?;
                }
                if let Some(w) = &t.wait {
                    write!(f, ": {w}")?;
                }
                if let Some(d) = t.waited {
                    write!(f, ", for {:.1} s", d.as_secs_f64())?;
                }
                writeln!(f)?;
                if let Some(bt) = &t.backtrace {
                    for line in bt.lines() {
                        writeln!(f, "        {line}")?;
                    }
                }
            }
            if n > SAMPLES {
                writeln!(f, "    ... and {} more", n - SAMPLES)?;
            }
        }
        Ok(())
    }
}
