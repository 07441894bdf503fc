//! Counters of a runtime and its workers: [`Handle::metrics`] and
//! [`Metrics::to_prometheus`].

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::runtime::scheduler::counters::{read, Counters};
use crate::runtime::Handle;

/// The counters of one worker (see [`Metrics`]). Counts since the runtime
/// started, except the `stacks_*` gauges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Green threads spawned by green threads of this worker.
    pub spawned: u64,
    /// Green threads this worker started.
    pub started: u64,
    /// Green threads that finished on this worker.
    pub finished: u64,
    /// Times a green thread of this worker parked.
    pub parks: u64,
    /// Wakeups of its green threads from this worker itself.
    pub wakeups_local: u64,
    /// Wakeups of its green threads from other OS threads.
    pub wakeups_remote: u64,
    /// Unstarted green threads taken from the injector or other workers.
    pub steals: u64,
    /// Reactor polls.
    pub reactor_polls: u64,
    /// I/O events those polls returned.
    pub reactor_events: u64,
    /// Timers fired.
    pub timers_fired: u64,
    /// Stacks in use (gauge, as of the worker's last maintenance turn).
    pub stacks_in_use: u64,
    /// Free stacks kept resident (gauge, likewise).
    pub stacks_cached: u64,
    /// Free stacks decommitted (gauge, likewise).
    pub stacks_decommitted: u64,
}

impl WorkerMetrics {
    fn read(c: &Counters) -> WorkerMetrics {
        WorkerMetrics {
            spawned: read(&c.spawned),
            started: read(&c.started),
            finished: read(&c.finished),
            parks: read(&c.parks),
            wakeups_local: read(&c.wakeups_local),
            wakeups_remote: read(&c.wakeups_remote),
            steals: read(&c.steals),
            reactor_polls: read(&c.polls),
            reactor_events: read(&c.events),
            timers_fired: read(&c.timers_fired),
            stacks_in_use: read(&c.stacks_in_use),
            stacks_cached: read(&c.stacks_cached),
            stacks_decommitted: read(&c.stacks_decommitted),
        }
    }

    fn add(&mut self, o: &WorkerMetrics) {
        self.spawned += o.spawned;
        self.started += o.started;
        self.finished += o.finished;
        self.parks += o.parks;
        self.wakeups_local += o.wakeups_local;
        self.wakeups_remote += o.wakeups_remote;
        self.steals += o.steals;
        self.reactor_polls += o.reactor_polls;
        self.reactor_events += o.reactor_events;
        self.timers_fired += o.timers_fired;
        self.stacks_in_use += o.stacks_in_use;
        self.stacks_cached += o.stacks_cached;
        self.stacks_decommitted += o.stacks_decommitted;
    }
}

/// A snapshot of a runtime's counters ([`Handle::metrics`]).
///
/// Each worker counts in its own relaxed atomics (a load and a store, no
/// locked instruction), and this snapshot sums them: the counts are cheap
/// enough to stay on, and a snapshot taken while the runtime runs may be a
/// moment old per worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// The workers' counters summed.
    pub total: WorkerMetrics,
    /// Each worker's counters.
    pub workers: Vec<WorkerMetrics>,
    /// Green threads spawned from outside the workers (plain OS threads).
    pub spawned_outside: u64,
    /// Green threads spawned and not yet complete.
    pub live: u64,
    /// Threads of the blocking pool (`spawn_blocking`).
    pub blocking_threads: u64,
    /// Of those, idle.
    pub blocking_idle: u64,
    /// Blocking jobs queued, not yet running.
    pub blocking_queue_depth: u64,
    /// Times the watchdog reported a green thread holding its worker.
    pub watchdog_firings: u64,
}

impl Handle {
    /// Takes a snapshot of this runtime's counters.
    ///
    /// ```
    /// let rt = verdant::Runtime::new().unwrap();
    /// rt.block_on(|| verdant::spawn(|| ()).join().unwrap());
    /// let m = rt.handle().metrics();
    /// assert_eq!(m.spawned_outside, 1); // block_on's thread
    /// assert_eq!(m.total.spawned, 1); // the one it spawned
    /// assert_eq!(m.total.finished, 2);
    /// ```
    pub fn metrics(&self) -> Metrics {
        let shared = &self.shared;
        let workers: Vec<WorkerMetrics> = shared
            .workers
            .iter()
            .map(|w| WorkerMetrics::read(&w.counters))
            .collect();
        let mut total = WorkerMetrics::default();
        for w in &workers {
            total.add(w);
        }
        let (threads, idle, queued) = shared.blocking.stats();
        Metrics {
            total,
            workers,
            spawned_outside: shared.spawned_outside.load(Ordering::Relaxed),
            live: shared.live() as u64,
            blocking_threads: threads as u64,
            blocking_idle: idle as u64,
            blocking_queue_depth: queued as u64,
            watchdog_firings: shared.watchdog_firings.load(Ordering::Relaxed),
        }
    }
}

impl Metrics {
    /// The counters in Prometheus' text exposition format (version
    /// 0.0.4): `verdant_*` metrics, per worker with a `worker` label.
    ///
    /// ```
    /// let rt = verdant::Runtime::new().unwrap();
    /// let text = rt.handle().metrics().to_prometheus();
    /// assert!(text.contains("# TYPE verdant_green_threads_started_total counter"));
    /// ```
    pub fn to_prometheus(&self) -> String {
        let mut o = String::new();
        type Field = fn(&WorkerMetrics) -> u64;
        let per_worker: [(&str, &str, &str, Field); 13] = [
            (
                "green_threads_spawned_total",
                "counter",
                "Green threads spawned by green threads of the worker.",
                |w| w.spawned,
            ),
            (
                "green_threads_started_total",
                "counter",
                "Green threads started on the worker.",
                |w| w.started,
            ),
            (
                "green_threads_finished_total",
                "counter",
                "Green threads that finished on the worker.",
                |w| w.finished,
            ),
            ("parks_total", "counter", "Parks of the worker's green threads.", |w| {
                w.parks
            }),
            (
                "wakeups_local_total",
                "counter",
                "Wakeups from the worker itself.",
                |w| w.wakeups_local,
            ),
            (
                "wakeups_remote_total",
                "counter",
                "Wakeups from other OS threads.",
                |w| w.wakeups_remote,
            ),
            (
                "steals_total",
                "counter",
                "Unstarted green threads taken from the injector or other workers.",
                |w| w.steals,
            ),
            ("reactor_polls_total", "counter", "Reactor polls.", |w| w.reactor_polls),
            (
                "reactor_events_total",
                "counter",
                "I/O events returned by reactor polls.",
                |w| w.reactor_events,
            ),
            ("timers_fired_total", "counter", "Timers fired.", |w| w.timers_fired),
            ("stacks_in_use", "gauge", "Green-thread stacks in use.", |w| {
                w.stacks_in_use
            }),
            ("stacks_cached", "gauge", "Free stacks kept resident.", |w| {
                w.stacks_cached
            }),
            ("stacks_decommitted", "gauge", "Free stacks decommitted.", |w| {
                w.stacks_decommitted
            }),
        ];
        for (name, kind, help, get) in per_worker {
            let _ = writeln!(o, "# HELP verdant_{name} {help}\n# TYPE verdant_{name} {kind}");
            for (i, w) in self.workers.iter().enumerate() {
                let _ = writeln!(o, "verdant_{name}{{worker=\"{i}\"}} {}", get(w));
            }
        }
        let runtime: [(&str, &str, &str, u64); 6] = [
            (
                "green_threads_spawned_outside_total",
                "counter",
                "Green threads spawned from plain OS threads.",
                self.spawned_outside,
            ),
            (
                "green_threads_live",
                "gauge",
                "Green threads spawned and not yet complete.",
                self.live,
            ),
            (
                "blocking_threads",
                "gauge",
                "Threads of the blocking pool.",
                self.blocking_threads,
            ),
            (
                "blocking_threads_idle",
                "gauge",
                "Idle threads of the blocking pool.",
                self.blocking_idle,
            ),
            (
                "blocking_queue_depth",
                "gauge",
                "Blocking jobs queued.",
                self.blocking_queue_depth,
            ),
            (
                "watchdog_firings_total",
                "counter",
                "Times the watchdog reported a held worker.",
                self.watchdog_firings,
            ),
        ];
        for (name, kind, help, v) in runtime {
            let _ = writeln!(
                o,
                "# HELP verdant_{name} {help}\n# TYPE verdant_{name} {kind}\nverdant_{name} {v}"
            );
        }
        o
    }
}
