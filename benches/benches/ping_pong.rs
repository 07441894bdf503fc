//! 200 000 round trips over bounded channels: verdant (two green threads)
//! vs tokio mpsc (two tasks) vs may (two stackful coroutines, the closest
//! peer in design) vs crossbeam-channel (two std threads). may's channels
//! are unbounded only; with one message in flight at a time that makes no
//! difference to a ping-pong.
//! Prints medians of several runs in ns per round trip, and ratios.

mod support;

use std::time::{Duration, Instant};

const ROUND_TRIPS: usize = 200_000;

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

fn may_run() -> Duration {
    let driver = move || {
        let (ping_tx, ping_rx) = may::sync::mpsc::channel::<usize>();
        let (pong_tx, pong_rx) = may::sync::mpsc::channel::<usize>();
        let t = Instant::now();
        let echo = go(move || {
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
    };
    go(driver).join().unwrap()
}

/// Spawns a may coroutine.
fn go<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> may::coroutine::JoinHandle<T> {
    // SAFETY: may's spawn is `unsafe` because a coroutine may migrate
    // between OS threads (its thread-locals would then be another
    // thread's); these closures touch no thread-local of their own.
    unsafe { may::coroutine::spawn(f) }
}

fn main() {
    support::watchdog();
    let workers = support::env_usize("BENCH_WORKERS", 4);
    let (vrt, trt) = support::runtimes(workers);
    may::config().set_workers(workers);
    let stats = support::measure(&mut [
        &mut || verdant_run(&vrt),
        &mut || tokio_run(&trt),
        &mut crossbeam_run,
        &mut may_run,
    ]);
    let [v, t, c, m] = [0, 1, 2, 3].map(|i| stats[i].per(ROUND_TRIPS));
    let title = format!("ping_pong: {ROUND_TRIPS} round trips over two bounded(1) channels, {workers} workers");
    support::print_header(&title, "ping_pong", &[("BENCH_WORKERS", workers.to_string())]);
    let unit = "ns/round trip";
    support::print_row(
        "vs tokio mpsc, two tasks",
        unit,
        v,
        t,
        support::Ratio::VerdantOverPeer("tokio"),
    );
    support::print_row(
        "vs may mpsc, two coroutines",
        unit,
        v,
        m,
        support::Ratio::VerdantOverPeer("may"),
    );
    support::print_row(
        "vs crossbeam, two OS threads",
        unit,
        v,
        c,
        support::Ratio::VerdantOverPeer("crossbeam"),
    );
}
