//! 4 producers x 4 consumers, 1 000 000 messages total over a bounded
//! channel: verdant green threads vs tokio tasks vs crossbeam-channel on std
//! threads. Medians of several runs (Mmsg/s), and ratios.

use std::time::{Duration, Instant};

const MESSAGES: usize = 1_000_000;
const P: usize = 4;
const C: usize = 4;
const CAP: usize = 128;
const RUNS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn verdant_run(rt: &verdant::Runtime) -> Duration {
    rt.block_on(|| {
        let (tx, rx) = verdant::sync::bounded::<usize>(CAP);
        let t = Instant::now();
        let producers: Vec<_> = (0..P)
            .map(|_| {
                let tx = tx.clone();
                verdant::spawn(move || (0..MESSAGES / P).for_each(|i| tx.send(i).unwrap()))
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..C)
            .map(|_| {
                let rx = rx.clone();
                verdant::spawn(move || rx.iter().count())
            })
            .collect();
        producers.into_iter().for_each(|h| h.join().unwrap());
        let n: usize = consumers.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(n, MESSAGES);
        t.elapsed()
    })
}

fn tokio_run(rt: &tokio::runtime::Runtime) -> Duration {
    // tokio's mpsc has one receiver: share it behind a tokio Mutex, the
    // usual way to get several consumers.
    rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::channel::<usize>(CAP);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        let t = Instant::now();
        let producers: Vec<_> = (0..P)
            .map(|_| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for i in 0..MESSAGES / P {
                        tx.send(i).await.unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..C)
            .map(|_| {
                let rx = rx.clone();
                tokio::spawn(async move {
                    let mut n = 0;
                    while rx.lock().await.recv().await.is_some() {
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        for p in producers {
            p.await.unwrap();
        }
        let mut n = 0;
        for c in consumers {
            n += c.await.unwrap();
        }
        assert_eq!(n, MESSAGES);
        t.elapsed()
    })
}

fn crossbeam_run() -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<usize>(CAP);
    let t = Instant::now();
    let producers: Vec<_> = (0..P)
        .map(|_| {
            let tx = tx.clone();
            std::thread::spawn(move || (0..MESSAGES / P).for_each(|i| tx.send(i).unwrap()))
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..C)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || rx.iter().count())
        })
        .collect();
    producers.into_iter().for_each(|h| h.join().unwrap());
    let n: usize = consumers.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(n, MESSAGES);
    t.elapsed()
}

fn mmsg(d: Duration) -> f64 {
    MESSAGES as f64 / d.as_secs_f64() / 1e6
}

fn main() {
    let workers = 4;
    let vrt = verdant::Runtime::builder().workers(workers).build().unwrap();
    let trt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap();
    let (mut v, mut t, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        v.push(verdant_run(&vrt));
        t.push(tokio_run(&trt));
        c.push(crossbeam_run());
    }
    let (vm, tm, cm) = (median(v), median(t), median(c));
    println!("mpmc: {P} producers x {C} consumers, {MESSAGES} messages, cap {CAP}, median of {RUNS} runs");
    println!("  verdant   {:>8.1?}  {:>6.2} Mmsg/s", vm, mmsg(vm));
    println!(
        "  tokio     {:>8.1?}  {:>6.2} Mmsg/s   verdant throughput / tokio     = {:.2}x",
        tm,
        mmsg(tm),
        mmsg(vm) / mmsg(tm)
    );
    println!(
        "  crossbeam {:>8.1?}  {:>6.2} Mmsg/s   verdant throughput / crossbeam = {:.2}x",
        cm,
        mmsg(cm),
        mmsg(vm) / mmsg(cm)
    );
}
