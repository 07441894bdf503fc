//! 1 000 green threads each incrementing a shared counter under
//! `verdant::sync::Mutex`, vs 1 000 tokio tasks under `tokio::sync::Mutex`.
//! Medians of several runs, and the ratio.

use std::sync::Arc;
use std::time::{Duration, Instant};

const THREADS: usize = 1_000;
const INCREMENTS: usize = 100;
const RUNS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn verdant_run(rt: &verdant::Runtime) -> Duration {
    rt.block_on(|| {
        let m = Arc::new(verdant::sync::Mutex::new(0usize));
        let t = Instant::now();
        let hs: Vec<_> = (0..THREADS)
            .map(|_| {
                let m = m.clone();
                verdant::spawn(move || {
                    for _ in 0..INCREMENTS {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*m.lock(), THREADS * INCREMENTS);
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
    let workers = 4;
    let vrt = verdant::Runtime::builder().workers(workers).build().unwrap();
    let trt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap();
    let (mut v, mut t) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        v.push(verdant_run(&vrt));
        t.push(tokio_run(&trt));
    }
    let (v, t) = (median(v), median(t));
    let per = (THREADS * INCREMENTS) as f64;
    println!("mutex: {THREADS} threads x {INCREMENTS} increments, median of {RUNS} runs, {workers} workers");
    println!("  verdant {v:>10.2?}  {:>6.0} ns/increment", v.as_nanos() as f64 / per);
    println!(
        "  tokio   {t:>10.2?}  {:>6.0} ns/increment   verdant/tokio = {:.2}x",
        t.as_nanos() as f64 / per,
        v.as_secs_f64() / t.as_secs_f64()
    );
}
