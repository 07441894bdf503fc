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
fn sleepers_on_one_worker_do_not_block_each_other() {
    let _w = watchdog(Duration::from_secs(60));
    // 1 worker, 5 000 green threads each sleeping 50 ms: they overlap, so
    // the wall time is a small multiple of 50 ms, never 5 000 of them. (Not
    // a timing assertion on speed: only that they did not run one by one,
    // which would take over four minutes.)
    let rt = rt(1);
    let t = Instant::now();
    rt.block_on(|| {
        let hs: Vec<_> = (0..5_000)
            .map(|_| verdant::spawn(|| verdant::sleep(Duration::from_millis(50))))
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    assert!(
        t.elapsed() < Duration::from_secs(5_000 * 50 / 1000),
        "sleeps ran serially"
    );
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
