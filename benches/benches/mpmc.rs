//! 4 producers x 4 consumers, 1 000 000 messages total over a bounded
//! channel: verdant green threads vs tokio tasks vs crossbeam-channel on std
//! threads. Medians of several runs (Mmsg/s), and ratios.

mod support;

use std::time::{Duration, Instant};

const MESSAGES: usize = 1_000_000;
const P: usize = 4;
const C: usize = 4;
const CAP: usize = 128;

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

fn main() {
    support::watchdog();
    let workers = support::env_usize("BENCH_WORKERS", 4);
    let (vrt, trt) = support::runtimes(workers);
    let stats = support::measure(&mut [&mut || verdant_run(&vrt), &mut || tokio_run(&trt), &mut crossbeam_run]);
    let [v, t, c] = [0, 1, 2].map(|i| stats[i].per(MESSAGES));
    let title = format!("mpmc: {P} producers x {C} consumers, {MESSAGES} messages, capacity {CAP}, {workers} workers");
    support::print_header(&title, "mpmc", &[("BENCH_WORKERS", workers.to_string())]);
    let unit = "ns/message";
    support::print_row("vs tokio", unit, v, t, support::Ratio::VerdantOverPeer("tokio"));
    support::print_row(
        "vs crossbeam (OS threads)",
        unit,
        v,
        c,
        support::Ratio::VerdantOverPeer("crossbeam"),
    );
}
