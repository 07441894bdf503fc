//! Shared test helpers: a watchdog and an explicit runtime.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Aborts the whole test process with a message if the returned guard is
/// not dropped within `limit` (a hang is a lost wakeup: fail loudly).
#[track_caller]
pub fn watchdog(limit: Duration) -> Watchdog {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let at = std::panic::Location::caller().to_string();
    std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < limit {
            if d.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("watchdog: test started at {at} still running after {limit:?}; aborting");
        std::process::abort();
    });
    Watchdog(done)
}

/// Dropping it disarms the watchdog.
pub struct Watchdog(Arc<AtomicBool>);

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A 4-worker runtime.
#[track_caller]
pub fn runtime() -> verdant::Runtime {
    verdant::Runtime::builder()
        .workers(4)
        .build()
        .expect("runtime")
}

/// Runs `f` as a green thread on a fresh 4-worker runtime under a 60 s
/// watchdog.
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let _w = watchdog(Duration::from_secs(60));
    let rt = runtime();
    rt.block_on(f)
}

/// Asserts that at least `min` passed since `start`.
#[track_caller]
pub fn assert_not_before(start: Instant, min: Duration) {
    let e = start.elapsed();
    assert!(e >= min, "returned after {e:?}, earlier than {min:?}");
}

/// Joins an OS thread from a green thread without blocking its worker
/// (a plain `join` there would stall the worker's other green threads).
#[track_caller]
pub fn join_os<T: Send + 'static>(h: std::thread::JoinHandle<T>) -> T {
    verdant::spawn_blocking(move || h.join().expect("OS thread panicked"))
        .join()
        .expect("spawn_blocking")
}
