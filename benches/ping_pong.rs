//! 200 000 round trips over bounded channels: verdant (two green threads)
//! vs tokio mpsc (two tasks) vs crossbeam-channel (two std threads).
//! Prints medians of several runs in ns per round trip, and ratios.

use std::time::{Duration, Instant};

const ROUND_TRIPS: usize = 200_000;
const RUNS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn verdant_run(rt: &verdant::Runtime) -> Duration {
    rt.block_on(|| {
        let (ping_tx, ping_rx) = verdant::sync::bounded::<usize>(1);
        let (pong_tx, pong_rx) = verdant::sync::bounded::<usize>(1);
        let t = Instant::now();
        let echo = verdant::spawn(move || {
            for m in ping_rx.iter() {
                pong_tx.send(m).unwrap();
            }
        });
        for i in 0..ROUND_TRIPS {
            ping_tx.send(i).unwrap();
            assert_eq!(pong_rx.recv().unwrap(), i);
        }
        drop(ping_tx);
        echo.join().unwrap();
        t.elapsed()
    })
}

fn tokio_run(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<usize>(1);
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<usize>(1);
        let t = Instant::now();
        let echo = tokio::spawn(async move {
            while let Some(m) = ping_rx.recv().await {
                pong_tx.send(m).await.unwrap();
            }
        });
        let driver = tokio::spawn(async move {
            for i in 0..ROUND_TRIPS {
                ping_tx.send(i).await.unwrap();
                assert_eq!(pong_rx.recv().await.unwrap(), i);
            }
        });
        driver.await.unwrap();
        echo.await.unwrap();
        t.elapsed()
    })
}

fn crossbeam_run() -> Duration {
    let (ping_tx, ping_rx) = crossbeam_channel::bounded::<usize>(1);
    let (pong_tx, pong_rx) = crossbeam_channel::bounded::<usize>(1);
    let t = Instant::now();
    let echo = std::thread::spawn(move || {
        for m in ping_rx.iter() {
            pong_tx.send(m).unwrap();
        }
    });
    for i in 0..ROUND_TRIPS {
        ping_tx.send(i).unwrap();
        assert_eq!(pong_rx.recv().unwrap(), i);
    }
    drop(ping_tx);
    echo.join().unwrap();
    t.elapsed()
}

fn ns_per(d: Duration) -> f64 {
    d.as_nanos() as f64 / ROUND_TRIPS as f64
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
    let (v, t, c) = (ns_per(median(v)), ns_per(median(t)), ns_per(median(c)));
    println!("ping_pong: {ROUND_TRIPS} round trips, median of {RUNS} runs, {workers} workers");
    println!("  verdant   {v:>8.0} ns/round trip");
    println!("  tokio     {t:>8.0} ns/round trip   verdant/tokio     = {:.2}x", v / t);
    println!("  crossbeam {c:>8.0} ns/round trip   verdant/crossbeam = {:.2}x", v / c);
}
