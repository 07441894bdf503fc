//! Many idle threads: N green threads each sleeping 2 s (N = 100 000 and
//! 1 000 000). Reports the time to spawn them all (ns per thread), the time
//! until all have started and gone to sleep, and the peak RSS per thread:
//! (`VmHWM` once all are asleep − `VmHWM` just before spawning) / N.
//!
//! Peer: tokio tasks each awaiting `tokio::time::sleep(2 s)` on a
//! multi-thread runtime with the same worker count. Both sides spawn from
//! inside `block_on`; each task increments a counter before it sleeps and the
//! main thread waits for the counter to reach N.
//!
//! `VmHWM` is per process, so every run of every side is a fresh child
//! process (this executable re-run with env `IDLE_SIDE=verdant|tokio`); the
//! parent alternates the sides and prints the table.
//!
//! Run: `cargo bench -p verdant-benches --bench idle_many` (env `IDLE_N` picks one N;
//! `BENCH_RUNS`, default 7; `BENCH_WORKERS`, default the CPU count).

mod support;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};
use std::{env, thread};
use support::Ratio::VerdantOverPeer;

const SLEEP: Duration = Duration::from_secs(2);
const SIDES: [&str; 2] = ["verdant", "tokio"];
/// Tasks that have started and are about to sleep.
static ASLEEP: AtomicUsize = AtomicUsize::new(0);

/// What one child measures, in the order it prints them: case and unit.
const METRICS: [(&str, &str); 3] = [
    ("spawn all", "ns/thread"),
    ("spawn until all asleep", "ms"),
    ("peak RSS per thread", "KiB"),
];

fn main() {
    support::watchdog();
    match env::var("IDLE_SIDE") {
        Ok(side) => child(&side, support::env_usize("IDLE_N", 100_000)),
        Err(_) => parent(),
    }
}

fn parent() {
    let ns = match env::var("IDLE_N") {
        Ok(_) => vec![support::env_usize("IDLE_N", 0)],
        Err(_) => vec![100_000, 1_000_000],
    };
    let mut env = vec![("BENCH_WORKERS", support::workers().to_string())];
    if let [n] = ns[..] {
        env.push(("IDLE_N", n.to_string()));
    }
    support::print_header("idle_many: N threads each sleeping 2 s", "idle_many", &env);
    let mut late = Vec::new();
    for n in ns {
        let mut samples = [Vec::new(), Vec::new()];
        for _ in 0..support::runs() {
            for (side, s) in SIDES.iter().zip(&mut samples) {
                s.push(run_child(side, n));
            }
        }
        for (i, (case, unit)) in METRICS.iter().enumerate() {
            let [v, t] = samples
                .each_ref()
                .map(|s| support::Stats::of(s.iter().map(|m| m[i]).collect()));
            let case = format!("N = {}: {case}", support::grouped(n));
            support::print_row(&case, unit, v, t, VerdantOverPeer("tokio"));
        }
        if samples.iter().flatten().any(|m| m[1] > SLEEP.as_secs_f64() * 1e3) {
            late.push(n);
        }
    }
    for n in late {
        let n = support::grouped(n);
        println!(
            "\nN = {n}: a run needed over 2 s to get all asleep, so early sleepers had woken: RSS is a lower bound."
        );
    }
}

/// Runs one side in a fresh process and parses its `RESULT` line.
fn run_child(side: &str, n: usize) -> [f64; 3] {
    let exe = env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .env("IDLE_SIDE", side)
        .env("IDLE_N", n.to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("RESULT "));
    let nums: Option<Vec<f64>> = line.map(|l| l.split(' ').flat_map(str::parse).collect());
    match (out.status.success(), nums.as_deref()) {
        (true, Some(&[a, b, c])) => [a, b, c],
        _ => panic!("{side} child failed ({}): {stdout}", out.status),
    }
}

/// Builds one side's runtime (workers started) and hands [`measure_idle`]
/// a closure that spawns the N sleepers inside `block_on`.
fn child(side: &str, n: usize) -> ! {
    let workers = support::workers();
    match side {
        "verdant" => {
            let rt = verdant::Runtime::builder()
                .workers(workers)
                .build()
                .expect("build verdant runtime");
            rt.block_on(|| ());
            measure_idle(n, || rt.block_on(move || spawn_verdant(n)))
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .expect("build tokio runtime");
            rt.block_on(async {});
            measure_idle(n, || rt.block_on(spawn_tokio(n)))
        }
        _ => panic!("IDLE_SIDE must be one of {SIDES:?}, not {side:?}"),
    }
}

/// Resets the peak RSS, runs `spawn` (which returns its own duration), waits
/// until all `n` tasks are asleep, prints `RESULT` with the [`METRICS`] and
/// exits at once, so the runtime (still borrowed) is never shut down.
fn measure_idle(n: usize, spawn: impl FnOnce() -> Duration) -> ! {
    support::reset_peak_rss().expect("reset VmHWM");
    let base = support::peak_rss_kib();
    let start = Instant::now();
    let spawn = spawn();
    while ASLEEP.load(Relaxed) < n {
        thread::sleep(Duration::from_millis(1));
    }
    let asleep = start.elapsed();
    let grown = support::peak_rss_kib().saturating_sub(base);
    println!(
        "RESULT {} {} {}",
        spawn.as_secs_f64() * 1e9 / n as f64,
        asleep.as_secs_f64() * 1e3,
        grown as f64 / n as f64
    );
    std::process::exit(0);
}

fn spawn_verdant(n: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        verdant::spawn(|| {
            ASLEEP.fetch_add(1, Relaxed);
            verdant::sleep(SLEEP);
        });
    }
    start.elapsed()
}

async fn spawn_tokio(n: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        tokio::spawn(async {
            ASLEEP.fetch_add(1, Relaxed);
            tokio::time::sleep(SLEEP).await;
        });
    }
    start.elapsed()
}
