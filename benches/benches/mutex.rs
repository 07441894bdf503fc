//! 1 000 green threads each incrementing a shared counter under
//! `verdant::sync::Mutex`, vs 1 000 tokio tasks under `tokio::sync::Mutex`.
//! Medians of several runs, and the ratio.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

const THREADS: usize = 1_000;
const INCREMENTS: usize = 100;

fn verdant_run(rt: &verdant::Runtime) -> Duration {
    rt.block_on(|| {
        let m = Arc::new(verdant::sync::Mutex::new(0usize));
        let t = Instant::now();
        let hs: Vec<_> = (0..THREADS)
            .map(|_| {
                let m = m.clone();
                verdant::spawn(move || {
                    for _ in 0..INCREMENTS {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*m.lock().unwrap(), THREADS * INCREMENTS);
        t.elapsed()
    })
}

fn tokio_run(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let m = Arc::new(tokio::sync::Mutex::new(0usize));
        let t = Instant::now();
        let hs: Vec<_> = (0..THREADS)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move {
                    for _ in 0..INCREMENTS {
                        *m.lock().await += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(*m.lock().await, THREADS * INCREMENTS);
        t.elapsed()
    })
}

fn main() {
    support::watchdog();
    let workers = support::env_usize("BENCH_WORKERS", 4);
    let (vrt, trt) = support::runtimes(workers);
    let stats = support::measure(&mut [&mut || verdant_run(&vrt), &mut || tokio_run(&trt)]);
    let [v, t] = [0, 1].map(|i| stats[i].per(THREADS * INCREMENTS));
    let title = format!("mutex: {THREADS} green threads x {INCREMENTS} increments, {workers} workers");
    support::print_header(&title, "mutex", &[("BENCH_WORKERS", workers.to_string())]);
    let ratio = support::Ratio::VerdantOverPeer("tokio");
    support::print_row("verdant Mutex vs tokio Mutex", "ns/increment", v, t, ratio);
}
