//! The watchdog: notices a green thread that holds its worker too long.
//!
//! Green threads are cooperative: one that makes a real blocking syscall or
//! computes without parking stalls every other green thread of its worker
//! (gevent's `max_blocking_time` addresses the same hazard). While some
//! worker is awake, every `threshold / 4` the watchdog samples each
//! worker's resume counter; a worker whose counter has not moved for four
//! samples while a green thread runs on it is reported once per episode,
//! with the thread's id and name. If that worker has unstarted green
//! threads queued, an idle worker is woken to steal them.
//!
//! # Sleeping while the workers sleep
//!
//! A runtime with nothing to do must cost nothing, so the watchdog does
//! not wake on a fixed period. After each look at the workers it picks its
//! next wait:
//!
//! 1. **watch** (`threshold / 4`): some worker is awake;
//! 2. **doze** (`threshold`): every worker sleeps now, but some worker woke
//!    since the previous look (`Idle::idle_ends` moved). A thread that
//!    holds a worker must have started after this look, so the next look
//!    comes within `threshold` of it, and four more watch periods report
//!    it: within `2 × threshold` of its start, against `1.25 × threshold`
//!    while the runtime is busy. Dozing costs no worker anything, so a
//!    worker that wakes briefly every few milliseconds (a ticker) gets a
//!    look only once per `threshold` instead of four times;
//! 3. **park** (no timeout): every worker sleeps and none woke during a
//!    whole doze. Parking, under the gate's mutex:
//!    1. store `parked = true` (`SeqCst`);
//!    2. re-check that every worker still sleeps (`Idle::all_asleep`, a
//!       `SeqCst` load of `num_sleeping`); if not, clear `parked` and watch;
//!    3. wait on the condvar until `parked` is false or the runtime stops.
//!
//!    The end of an idle spell (`idle`, step 4: the `SeqCst` decrement that
//!    takes `num_sleeping` from every worker to one fewer) then loads
//!    `parked` and, if set, clears it under the mutex and notifies
//!    ([`Gate::unpark`]).
//!
//! No lost wakeup: all four accesses are `SeqCst`, so either the re-check
//! (3.2) comes after the decrement in their single total order and sees a
//! worker awake, or the decrement comes after it and its load of `parked`
//! comes after the store (3.1) and sees it set. `num_sleeping` never
//! exceeds the worker count, so the first decrement after a re-check that
//! saw every worker asleep is such an end of an idle spell. The waker takes
//! the mutex, which the watchdog holds from 3.1 until it waits, so the
//! notification cannot fall between its check and its wait. A worker that
//! wakes and sleeps again before the watchdog runs leaves nothing to
//! report (only a running green thread can hold its worker); the watchdog
//! then dozes once and parks again.
//!
//! A busy worker's switches touch none of this: the resume counter and the
//! running id are plain stores, as before.

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::sampler;
use super::scheduler::{Shared, WorkerShared};

/// Where the watchdog thread waits: between looks, and parked while every
/// worker sleeps (steps 3.1–3.3).
pub(crate) struct Gate {
    /// Set (under `stopped`'s mutex) while the watchdog parks; whoever ends
    /// an idle spell clears it and notifies.
    parked: AtomicBool,
    /// Whether the runtime has stopped the watchdog.
    stopped: Mutex<bool>,
    cv: Condvar,
    /// Times the watchdog has looked at the workers.
    looks: AtomicU64,
}

impl Gate {
    pub(crate) fn new() -> Gate {
        Gate {
            parked: AtomicBool::new(false),
            stopped: Mutex::new(false),
            cv: Condvar::new(),
            looks: AtomicU64::new(0),
        }
    }

    /// Wakes the watchdog if it is parked (the end of an idle spell).
    #[inline]
    pub(crate) fn unpark(&self) {
        if self.parked.load(Ordering::SeqCst) {
            self.unpark_slow();
        }
    }

    #[cold]
    fn unpark_slow(&self) {
        let _stopped = self.stopped.lock();
        self.parked.store(false, Ordering::SeqCst);
        self.cv.notify_one();
    }

    /// Whether the watchdog is parked, and how many times it has looked at
    /// the workers.
    pub(crate) fn state(&self) -> (bool, u64) {
        (self.parked.load(Ordering::SeqCst), self.looks.load(Ordering::Relaxed))
    }

    fn stop(&self) {
        *self.stopped.lock() = true;
        self.cv.notify_all();
    }

    /// Waits `timeout` or until stopped; returns whether stopped.
    fn wait(&self, timeout: Duration) -> bool {
        let mut stopped = self.stopped.lock();
        if !*stopped {
            self.cv.wait_for(&mut stopped, timeout);
        }
        *stopped
    }

    /// Steps 3.1–3.3: parks until an idle spell ends, unless one already
    /// has; returns whether stopped.
    fn park(&self, all_asleep: impl Fn() -> bool) -> bool {
        let mut stopped = self.stopped.lock();
        if *stopped {
            return true;
        }
        self.parked.store(true, Ordering::SeqCst);
        if !all_asleep() {
            self.parked.store(false, Ordering::SeqCst);
            return false;
        }
        while self.parked.load(Ordering::SeqCst) && !*stopped {
            self.cv.wait(&mut stopped);
        }
        self.parked.store(false, Ordering::SeqCst);
        *stopped
    }
}

pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    pub(crate) fn start(shared: Arc<Shared>, threshold: Duration, prefix: &str) -> Watchdog {
        let shared2 = shared.clone();
        let thread = thread::Builder::new()
            .name(format!("{prefix}-watchdog"))
            .spawn(move || watch(&shared2, threshold))
            .ok();
        Watchdog { shared, thread }
    }

    pub(crate) fn stop(mut self) {
        self.shared.idle.watchdog.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Sample {
    switches: u64,
    running: u64,
    still: u32,
    reported: bool,
    /// When this (switches, running) pair was first seen.
    since: Option<Instant>,
    /// The reported thread's name and spawn location, for the release
    /// message.
    at: Option<&'static Location<'static>>,
}

/// The next wait of the watchdog (steps 1–3).
enum Wait {
    For(Duration),
    Park,
}

fn watch(shared: &Shared, threshold: Duration) {
    let period = (threshold / 4).max(Duration::from_millis(1));
    let idle = &shared.idle;
    let gate = &idle.watchdog;
    let mut samples = vec![Sample::default(); shared.workers.len()];
    let mut wait = Wait::For(period);
    let mut seen_ends = idle.idle_ends();
    loop {
        let stopped = match wait {
            Wait::For(timeout) => gate.wait(timeout),
            Wait::Park => gate.park(|| idle.all_asleep()),
        };
        if stopped {
            return;
        }
        gate.looks.fetch_add(1, Ordering::Relaxed);
        look(shared, threshold, &mut samples);
        let ends = idle.idle_ends();
        wait = if !idle.all_asleep() {
            Wait::For(period)
        } else if ends != seen_ends {
            Wait::For(threshold)
        } else {
            Wait::Park
        };
        seen_ends = ends;
    }
}

/// One look at every worker: reports those held by one green thread for
/// four samples in a row.
fn look(shared: &Shared, threshold: Duration, samples: &mut [Sample]) {
    let now = Instant::now();
    for (index, (w, s)) in shared.workers.iter().zip(samples).enumerate() {
        let switches = w.switches.load(Ordering::Relaxed);
        let running = w.running.load(Ordering::Relaxed);
        if running == 0 || switches != s.switches || running != s.running {
            if s.reported {
                released(index, s, now);
            }
            *s = Sample {
                switches,
                running,
                since: Some(now),
                ..Sample::default()
            };
            continue;
        }
        s.still += 1;
        if s.still >= 4 && !s.reported {
            s.reported = true;
            shared.watchdog_firings.fetch_add(1, Ordering::Relaxed);
            let name = shared.name_of(running).map(|n| format!(" ({n})")).unwrap_or_default();
            s.at = w.running_at.get();
            let at = s.at.map(|l| format!(", spawned at {l}")).unwrap_or_default();
            let stack = sample_stack(w, running, switches);
            #[cfg(feature = "tracing")]
            tracing::warn!(
                target: "verdant::watchdog",
                thread = running,
                worker = index,
                spawned_at = %s.at.map(|l| l.to_string()).unwrap_or_default(),
                "green thread holds its worker without parking"
            );
            eprintln!(
                "verdant: green thread #{running}{name}{at} has held worker {index} for more than {threshold:?} \
                 without parking or yielding (a blocking call or a CPU loop? see spawn_blocking){stack}"
            );
            if !w.stealer.is_empty() {
                shared.idle.notify_one();
            }
        }
    }
}

/// The end of a reported episode: how long, about, the thread held its
/// worker in all (from the first look that saw it running to this one).
fn released(index: usize, s: &Sample, now: Instant) {
    let held = s.since.map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
    let at = s.at.map(|l| format!(" (spawned at {l})")).unwrap_or_default();
    eprintln!(
        "verdant: green thread #{}{at} released worker {index} after holding it for about {:.3} s in total",
        s.running,
        held.as_secs_f64()
    );
}

/// What the held worker executes now, as lines to append to the report
/// (empty if it cannot be had, or if the thread let go meanwhile: the
/// sample would then show something else).
fn sample_stack(w: &WorkerShared, running: u64, switches: u64) -> String {
    let pcs = {
        let thread = w.os_thread.lock();
        if *thread == 0 {
            return String::new();
        }
        sampler::sample(*thread)
    };
    let still = w.running.load(Ordering::Relaxed) == running && w.switches.load(Ordering::Relaxed) == switches;
    let Some(pcs) = pcs.filter(|_| still) else {
        return String::new();
    };
    let mut out = String::from("; it is executing (frame 0 sampled, callers from frame pointers where kept):");
    for (i, f) in sampler::symbolise(&pcs).iter().enumerate() {
        out.push_str(&format!("\n    {i}: {f}"));
    }
    out
}
