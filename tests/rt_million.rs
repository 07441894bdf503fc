//! 1 000 000 concurrent sleeping green threads, every stack guarded, with the
//! default `vm.max_map_count` (65530): possible only because guard pages
//! are page-table markers (MADV_GUARD_INSTALL), not separate mappings.
//! Alone in its binary: it needs ~5 GB and both cores for a few seconds.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{rt, watchdog};

fn maps() -> usize {
    std::fs::read_to_string("/proc/self/maps").unwrap().lines().count()
}

fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_million_concurrent_guarded_sleepers() {
    let _w = watchdog(Duration::from_secs(400));
    const N: usize = 1_000_000;
    let rt = rt(2);
    let asleep = Arc::new(AtomicUsize::new(0));
    let (maps_before, rss_before) = (maps(), rss_kib());
    let a = asleep.clone();
    let handles = rt.block_on(move || {
        let hs: Vec<_> = (0..N)
            .map(|_| {
                let a = a.clone();
                verdant::spawn(move || {
                    a.fetch_add(1, Ordering::Relaxed);
                    verdant::sleep(Duration::from_secs(3600));
                })
            })
            .collect();
        while a.load(Ordering::Relaxed) < N {
            verdant::sleep(Duration::from_millis(10));
        }
        hs
    });
    // Every one of them is alive and asleep now (they sleep an hour).
    assert_eq!(asleep.load(Ordering::Relaxed), N);
    assert!(handles.iter().all(|h| !h.is_finished()));
    let extra_maps = maps() - maps_before;
    let per_thread_kib = (rss_kib() - rss_before) as f64 / N as f64;
    eprintln!("1M sleepers: {extra_maps} extra mappings, {per_thread_kib:.2} KiB RSS each");
    assert!(
        extra_maps < 10_000,
        "1M stacks took {extra_maps} kernel mappings (limit 65530)"
    );
    assert!(
        per_thread_kib < 8.0,
        "{per_thread_kib:.2} KiB per sleeping green thread"
    );
    // Wake them all by cancellation: each unwinds out of its sleep.
    handles.iter().for_each(verdant::JoinHandle::cancel);
    let cancelled = handles
        .into_iter()
        .map(|h| h.join())
        .filter(|r| matches!(r, Err(e) if e.is_cancelled()))
        .count();
    assert_eq!(cancelled, N);
    assert_eq!(rt.handle().green_threads(), 0);
}
