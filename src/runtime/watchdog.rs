//! The watchdog: notices a green thread that holds its worker too long.
//!
//! Green threads are cooperative: one that makes a real blocking syscall or
//! computes without parking stalls every other green thread of its worker
//! (gevent's `max_blocking_time` addresses the same hazard). Every
//! `threshold / 4` the watchdog samples each worker's resume counter; a
//! worker whose counter has not moved for four samples while a green thread
//! runs on it is reported once per episode, with the thread's id and name.
//! If that worker has unstarted green threads queued, an idle worker is
//! woken to steal them.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::scheduler::Shared;

pub(crate) struct Watchdog {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    pub(crate) fn start(shared: Arc<Shared>, threshold: Duration, prefix: &str) -> Watchdog {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = stop.clone();
        let thread = thread::Builder::new()
            .name(format!("{prefix}-watchdog"))
            .spawn(move || watch(&shared, threshold, &stop2))
            .ok();
        Watchdog { stop, thread }
    }

    pub(crate) fn stop(mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
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
}

fn watch(shared: &Shared, threshold: Duration, stop: &(Mutex<bool>, Condvar)) {
    let period = (threshold / 4).max(Duration::from_millis(1));
    let mut samples = vec![Sample::default(); shared.workers.len()];
    let mut stopped = stop.0.lock();
    while !*stopped {
        stop.1.wait_for(&mut stopped, period);
        for (index, (w, s)) in shared.workers.iter().zip(&mut samples).enumerate() {
            let switches = w.switches.load(std::sync::atomic::Ordering::Relaxed);
            let running = w.running.load(std::sync::atomic::Ordering::Relaxed);
            if running == 0 || switches != s.switches || running != s.running {
                *s = Sample {
                    switches,
                    running,
                    ..Sample::default()
                };
                continue;
            }
            s.still += 1;
            if s.still >= 4 && !s.reported {
                s.reported = true;
                let name = shared.name_of(running).map(|n| format!(" ({n})")).unwrap_or_default();
                eprintln!(
                    "verdant: green thread #{running}{name} has held worker {index} for more than {threshold:?} \
                     without parking or yielding (a blocking call or a CPU loop? see spawn_blocking)"
                );
                if !w.stealer.is_empty() {
                    shared.idle.notify_one();
                }
            }
        }
    }
}
