//! spawn_blocking parks the green caller, not its worker.

mod support;

use std::time::Duration;

use support::{rt, watchdog};

#[test]
fn a_blocking_job_parks_only_its_caller() {
    let _w = watchdog(Duration::from_secs(30));
    // One worker. The blocking job waits for a message that only another
    // green thread of that same worker sends: if the caller blocked the
    // worker instead of parking, the sender could never run.
    let rt = rt(1);
    let got = rt.block_on(|| {
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        let job = verdant::spawn_blocking(move || rx.recv().unwrap() + 1);
        let sender = verdant::spawn(move || tx.send(41).unwrap());
        sender.join().unwrap();
        job.join().unwrap()
    });
    assert_eq!(got, 42);
}

#[test]
fn blocking_panics_reach_join_and_many_jobs_complete() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    rt.block_on(|| {
        let e = verdant::spawn_blocking(|| panic!("in the pool")).join().unwrap_err();
        assert!(e.is_panic());
        let hs: Vec<_> = (0..2_000u64).map(|i| verdant::spawn_blocking(move || i * 2)).collect();
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 2 * (0..2_000u64).sum::<u64>());
    });
}

#[test]
fn spawn_blocking_from_a_plain_thread() {
    let h = verdant::spawn_blocking(|| std::thread::current().name().map(str::to_owned));
    assert_eq!(h.join().unwrap().as_deref(), Some("verdant-blocking"));
}

#[test]
fn idle_blocking_threads_retire() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = verdant::Runtime::builder()
        .workers(1)
        .thread_name("retire")
        .blocking_keep_alive(Duration::from_millis(20))
        .build()
        .unwrap();
    let hs: Vec<_> = (0..4)
        .map(|i| rt.block_on(move || verdant::spawn_blocking(move || i)))
        .collect();
    drop(hs);
    let count = || {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|n| n.starts_with("retire-blocking"))
            .count()
    };
    // Eventually (bounded by the watchdog) every idle pool thread exits.
    while count() > 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
}
