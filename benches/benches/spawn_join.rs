//! Spawn-and-join cost: spawn 100 000 tasks that each return a small
//! integer, then join them all; reports ns per task (median of runs).
//!
//! Cases, all timed around the spawn loop and the joins only:
//! - verdant, spawning from a green thread (`verdant::spawn` inside `rt.block_on`);
//! - verdant, spawning from the outside OS thread (`rt.spawn`, joined there);
//! - tokio multi-thread runtime with the same worker count (`tokio::spawn`
//!   inside `block_on`, then awaiting every handle);
//! - `std::thread::spawn`, only 2 000 threads, scaled per task.
//!
//! Run: `cargo bench -p verdant-benches --bench spawn_join`
//! (env `BENCH_RUNS`, default 7; `BENCH_WORKERS`, default the CPU count).

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};
use support::Ratio::{PeerOverVerdant, VerdantOverPeer};

const TASKS: usize = 100_000;
const STD_THREADS: usize = 2_000;

fn main() {
    support::watchdog();
    let workers = support::workers();
    let vrt = verdant::Runtime::builder()
        .workers(workers)
        .build()
        .expect("build verdant runtime");
    let trt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("build tokio runtime");

    let s = support::measure(&mut [
        &mut || vrt.block_on(|| verdant_inside(TASKS)),
        &mut || verdant_outside(&vrt, TASKS),
        &mut || trt.block_on(tokio_inside(TASKS)),
        &mut || std_threads(STD_THREADS),
    ]);
    let (inside, outside, tokio, std) = (s[0].per(TASKS), s[1].per(TASKS), s[2].per(TASKS), s[3].per(STD_THREADS));

    let title = "spawn_join: spawn 100 000 tasks returning an integer, join all";
    let env = [("BENCH_WORKERS", workers.to_string())];
    support::print_header(title, "spawn_join", &env);
    let rows = [
        (
            "spawn from a green thread, vs tokio::spawn",
            inside,
            tokio,
            VerdantOverPeer("tokio"),
        ),
        (
            "`rt.spawn` from outside, vs tokio::spawn",
            outside,
            tokio,
            VerdantOverPeer("tokio"),
        ),
        (
            "spawn from a green thread, vs std::thread (2 000)",
            inside,
            std,
            PeerOverVerdant("std"),
        ),
    ];
    for (case, verdant, peer, ratio) in rows {
        support::print_row(case, "ns/task", verdant, peer, ratio);
    }
}

/// Runs on a green thread: spawns `n` green threads, joins them all.
fn verdant_inside(n: usize) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| verdant::spawn(move || i % 7)).collect();
    let sum: usize = handles
        .into_iter()
        .map(|h| h.join().expect("green thread failed"))
        .sum();
    black_box(sum);
    start.elapsed()
}

/// Spawns `n` green threads from this OS thread, which then joins them.
fn verdant_outside(rt: &verdant::Runtime, n: usize) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| rt.spawn(move || i % 7)).collect();
    let sum: usize = handles
        .into_iter()
        .map(|h| h.join().expect("green thread failed"))
        .sum();
    black_box(sum);
    start.elapsed()
}

async fn tokio_inside(n: usize) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i % 7 })).collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await.expect("tokio task failed");
    }
    black_box(sum);
    start.elapsed()
}

fn std_threads(n: usize) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| std::thread::spawn(move || i % 7)).collect();
    let sum: usize = handles.into_iter().map(|h| h.join().expect("thread failed")).sum();
    black_box(sum);
    start.elapsed()
}
