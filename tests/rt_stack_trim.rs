//! After a burst, idle workers give the stacks beyond the keep-resident
//! watermark back to the kernel: a burst does not pin its memory forever.
//! Alone in its binary, since it reads the process's resident set size.

mod support;

use std::time::Duration;

use support::watchdog;

fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn an_idle_runtime_decommits_stacks_beyond_the_watermark() {
    let _w = watchdog(Duration::from_secs(120));
    const N: usize = 20_000;
    let rt = verdant::Runtime::builder()
        .workers(2)
        .keep_resident_stacks(16)
        .build()
        .unwrap();
    let before = rss_kib();
    let peak = rt.block_on(|| {
        let (tx, rx) = verdant::sync::bounded::<()>(0);
        let touched = verdant::sync::WaitGroup::new();
        touched.add(N);
        // N green threads alive at once, each touching 16 KiB of its stack.
        let hs: Vec<_> = (0..N)
            .map(|_| {
                let (rx, touched) = (rx.clone(), touched.clone());
                verdant::spawn(move || {
                    let buf = [1u8; 16 * 1024];
                    std::hint::black_box(&buf);
                    touched.done();
                    rx.recv().unwrap();
                })
            })
            .collect();
        touched.wait();
        let peak = rss_kib();
        for _ in 0..N {
            tx.send(()).unwrap();
        }
        hs.into_iter().for_each(|h| h.join().unwrap());
        peak
    });
    let burst = peak.saturating_sub(before);
    assert!(
        burst > N * 16,
        "the burst should have cost at least 16 KiB per thread, saw {burst} KiB"
    );
    // Idle now: the workers trim in batches until at most 16 stacks each
    // stay resident. Wait (bounded by the watchdog) for most of it to go.
    while rss_kib().saturating_sub(before) > burst / 4 {
        std::thread::sleep(Duration::from_millis(20));
    }
}
