//! Timers: sleep never wakes early, many timers, sleeping from plain threads.

mod support;

use std::time::{Duration, Instant};

use support::{rt, watchdog};

#[test]
fn sleep_never_wakes_early() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let early = rt.block_on(|| {
        let hs: Vec<_> = (0..2_000u64)
            .map(|i| {
                verdant::spawn(move || {
                    let d = Duration::from_micros(100 + (i * 37) % 5_000);
                    let t = Instant::now();
                    verdant::sleep(d);
                    t.elapsed() < d
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).filter(|&e| e).count()
    });
    assert_eq!(early, 0, "some sleeps returned before their duration");
}

#[test]
fn sleep_until_a_past_deadline_returns_at_once_and_zero_sleeps() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    rt.block_on(|| {
        verdant::sleep_until(Instant::now() - Duration::from_secs(1));
        verdant::sleep(Duration::ZERO);
    });
}

#[test]
fn sleep_on_a_plain_thread_blocks_it() {
    let t = Instant::now();
    verdant::sleep(Duration::from_millis(5));
    assert!(t.elapsed() >= Duration::from_millis(5));
}

#[test]
fn sleepers_park_instead_of_blocking_their_worker() {
    let _w = watchdog(Duration::from_secs(60));
    // One worker, 5 000 green threads asleep for an hour: another green
    // thread on that worker still runs, which it could not if a sleep
    // blocked the OS thread. Then all are cancelled out of their sleep.
    let rt = rt(1);
    rt.block_on(|| {
        let (asleep_tx, asleep_rx) = verdant::sync::unbounded::<()>();
        let sleepers: Vec<_> = (0..5_000)
            .map(|_| {
                let asleep_tx = asleep_tx.clone();
                verdant::spawn(move || {
                    asleep_tx.send(()).unwrap();
                    verdant::sleep(Duration::from_secs(3600));
                })
            })
            .collect();
        for _ in 0..5_000 {
            asleep_rx.recv().unwrap();
        }
        assert_eq!(verdant::spawn(|| "ran").join().unwrap(), "ran");
        sleepers.iter().for_each(verdant::JoinHandle::cancel);
        assert!(sleepers.into_iter().all(|h| h.join().unwrap_err().is_cancelled()));
    });
}

#[test]
fn interleaved_deadlines_fire_in_order() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let order = rt.block_on(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        let hs: Vec<_> = [40u64, 10, 30, 20]
            .into_iter()
            .map(|ms| {
                let tx = tx.clone();
                verdant::spawn(move || {
                    verdant::sleep(Duration::from_millis(ms));
                    tx.send(ms).unwrap();
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        drop(tx);
        rx.iter().collect::<Vec<_>>()
    });
    assert_eq!(order, [10, 20, 30, 40]);
}
