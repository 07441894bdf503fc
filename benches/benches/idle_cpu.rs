//! What an idle runtime costs: process CPU time, verdant vs tokio.
//!
//! 1. **Idle.** N green threads (env `IDLE_CPU_N`, default 1 000) each
//!    sleep an hour; once all are asleep and the runtime has settled
//!    (`SETTLE`), the process CPU time is measured over a window (env
//!    `IDLE_CPU_WINDOW_MS`, default 2 000). Peer: tokio tasks awaiting
//!    `tokio::time::sleep` of an hour.
//! 2. **Ticker.** One green thread sleeps 10 ms, `TICKS` times in a row;
//!    the process CPU time of the whole run divided by `TICKS` is the cost
//!    of one tick. Peer: one tokio task awaiting `tokio::time::sleep(10 ms)`
//!    in a loop. Both are spawned from the main thread, which then blocks
//!    in a join.
//!
//! Each case builds a fresh runtime with `BENCH_WORKERS` workers (verdant
//! with its default watchdog on) and drops it before the next case starts,
//! so one side's threads never run during the other's window. The process
//! CPU time is the sum of `/proc/self/task/*/schedstat` (nanoseconds on CPU
//! of every thread alive), read before and after.
//!
//! Run: `cargo bench -p verdant-benches --bench idle_cpu` (`BENCH_RUNS`, default 7).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use support::Ratio::VerdantOverPeer;

const LONG: Duration = Duration::from_secs(3600);
const TICK: Duration = Duration::from_millis(10);
const TICKS: usize = 200;
/// Time given to a runtime, once all its threads are asleep, to finish
/// what an idle runtime does once (trimming stacks, parking its helpers).
const SETTLE: Duration = Duration::from_millis(300);

fn main() {
    support::watchdog();
    let workers = support::workers();
    let n = support::env_usize("IDLE_CPU_N", 1_000);
    let window = Duration::from_millis(support::env_usize("IDLE_CPU_WINDOW_MS", 2_000) as u64);
    let env = [
        ("BENCH_WORKERS", workers.to_string()),
        ("IDLE_CPU_N", n.to_string()),
        ("IDLE_CPU_WINDOW_MS", window.as_millis().to_string()),
    ];
    support::print_header("idle_cpu: process CPU time of an idle runtime", "idle_cpu", &env);
    let stats = support::measure(&mut [
        &mut || idle_verdant(workers, n, window),
        &mut || idle_tokio(workers, n, window),
        &mut || ticker_verdant(workers),
        &mut || ticker_tokio(workers),
    ]);
    let us = |s: support::Stats| support::Stats {
        median: s.median / 1e3,
        min: s.min / 1e3,
    };
    let idle_case = format!(
        "{} threads asleep: CPU per {} ms window",
        support::grouped(n),
        window.as_millis()
    );
    print_idle_row(&idle_case, us(stats[0]), us(stats[1]));
    let tick_case = format!("ticker, {} ms × {TICKS}: CPU per tick", TICK.as_millis());
    support::print_row(
        &tick_case,
        "µs",
        us(stats[2]).per(TICKS),
        us(stats[3]).per(TICKS),
        VerdantOverPeer("tokio"),
    );
}

/// The idle row: tokio's figure is often 0, so the last column is the
/// difference rather than a ratio.
fn print_idle_row(case: &str, verdant: support::Stats, tokio: support::Stats) {
    println!(
        "| {case} | {:.0} µs ({:.0}) | {:.0} µs ({:.0}) | verdant − tokio = {:.0} µs |",
        verdant.median,
        verdant.min,
        tokio.median,
        tokio.min,
        verdant.median - tokio.median
    );
}

/// CPU time consumed so far by the threads of this process now alive.
fn process_cpu() -> Duration {
    support::threads_cpu("/proc/self/task")
}

/// CPU time the process uses over `window`, starting now.
fn cpu_over(window: Duration) -> Duration {
    let before = process_cpu();
    thread::sleep(window);
    process_cpu().saturating_sub(before)
}

/// Waits until `asleep` reaches `n` (bounded by the bench's watchdog).
fn wait_for(asleep: &AtomicUsize, n: usize) {
    while asleep.load(Relaxed) < n {
        thread::sleep(Duration::from_millis(1));
    }
}

fn verdant_runtime(workers: usize) -> verdant::Runtime {
    verdant::Runtime::builder()
        .workers(workers)
        .build()
        .expect("build verdant runtime")
}

fn tokio_runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("build tokio runtime")
}

fn idle_verdant(workers: usize, n: usize, window: Duration) -> Duration {
    let rt = verdant_runtime(workers);
    let asleep = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let asleep = asleep.clone();
        rt.spawn(move || {
            asleep.fetch_add(1, Relaxed);
            verdant::sleep(LONG);
        });
    }
    wait_for(&asleep, n);
    thread::sleep(SETTLE);
    cpu_over(window)
}

fn idle_tokio(workers: usize, n: usize, window: Duration) -> Duration {
    let rt = tokio_runtime(workers);
    let asleep = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let asleep = asleep.clone();
        rt.spawn(async move {
            asleep.fetch_add(1, Relaxed);
            tokio::time::sleep(LONG).await;
        });
    }
    wait_for(&asleep, n);
    thread::sleep(SETTLE);
    cpu_over(window)
}

fn ticker_verdant(workers: usize) -> Duration {
    let rt = verdant_runtime(workers);
    rt.block_on(|| ()); // workers up
    let before = process_cpu();
    let start = Instant::now();
    rt.spawn(|| {
        for _ in 0..TICKS {
            verdant::sleep(TICK);
        }
    })
    .join()
    .expect("ticker");
    assert_ticked(start);
    process_cpu().saturating_sub(before)
}

fn ticker_tokio(workers: usize) -> Duration {
    let rt = tokio_runtime(workers);
    rt.block_on(async {}); // workers up
    let before = process_cpu();
    let start = Instant::now();
    rt.block_on(async {
        tokio::spawn(async {
            for _ in 0..TICKS {
                tokio::time::sleep(TICK).await;
            }
        })
        .await
        .expect("ticker");
    });
    assert_ticked(start);
    process_cpu().saturating_sub(before)
}

#[track_caller]
fn assert_ticked(start: Instant) {
    let took = start.elapsed();
    assert!(took >= TICK * TICKS as u32, "{TICKS} ticks took only {took:?}");
}
