//! Shared test helpers: a watchdog so no test can hang, runtimes, and
//! child-process plumbing.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Aborts the whole test process if it is still alive after `limit`: a
/// lost wakeup must fail loudly, not hang CI. Dropping the guard disarms it.
#[must_use = "the watchdog is disarmed when the guard drops"]
pub struct Watchdog {
    _disarm: mpsc::Sender<()>,
}

#[track_caller]
pub fn watchdog(limit: Duration) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    let at = std::panic::Location::caller().to_string();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("WATCHDOG: test started at {at} still running after {limit:?}; aborting");
            std::process::abort();
        }
    });
    Watchdog { _disarm: tx }
}

/// A runtime with `workers` workers (and no watchdog noise).
#[track_caller]
pub fn rt(workers: usize) -> verdant::Runtime {
    verdant::Runtime::builder()
        .workers(workers)
        .watchdog(None)
        .build()
        .expect("runtime builds")
}

/// Re-runs this test binary with only `test` selected and `env` set, and
/// returns its output. The child checks the variable and does the risky
/// part (overflow, fd exhaustion) so the parent can inspect how it died.
#[track_caller]
pub fn run_child(test: &str, env: (&str, &str)) -> Output {
    child_command(test, env).output().expect("child test process runs")
}

/// The command that re-runs this test binary with only `test` selected
/// and `env` set (see [`run_child`]), for a caller that sets up its pipes
/// and spawns it.
pub fn child_command(test: &str, env: (&str, &str)) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(env.0, env.1);
    cmd
}

/// Whether this process is the child started by [`run_child`] with `var`.
pub fn is_child(var: &str) -> bool {
    std::env::var_os(var).is_some()
}

/// A 4-worker runtime.
#[track_caller]
pub fn runtime() -> verdant::Runtime {
    verdant::Runtime::builder().workers(4).build().expect("runtime")
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

/// Runs a std-style program of the `tests/migrate_*.rs` corpora on the
/// calling (plain OS) thread.
pub fn on_os_thread(program: fn()) {
    let _w = watchdog(Duration::from_secs(60));
    program();
}

/// Runs a std-style program of the `tests/migrate_*.rs` corpora inside a
/// green thread.
pub fn in_green_thread(program: fn()) {
    let _w = watchdog(Duration::from_secs(60));
    verdant::spawn(program).join().unwrap();
}

/// Takes dumps until `cond` finds what it wants (at most ~20 s).
#[track_caller]
pub fn dump_until<T>(
    h: &verdant::Handle,
    what: &str,
    mut cond: impl FnMut(&verdant::debug::Dump) -> Option<T>,
) -> (verdant::debug::Dump, T) {
    for _ in 0..4_000 {
        let d = h.dump();
        if let Some(t) = cond(&d) {
            return (d, t);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("no dump showed {what}; the last one:\n{}", h.dump());
}
