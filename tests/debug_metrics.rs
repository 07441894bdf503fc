//! `Handle::metrics()` adds up after a known workload.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

#[test]
fn metrics_add_up_after_a_known_workload() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = support::rt(2);
    let before = rt.handle().metrics();
    assert_eq!(before.total.started, 0);
    assert_eq!(before.live, 0);

    const N: u64 = 100;
    rt.block_on(|| {
        // N threads that each park once on a timer.
        let hs: Vec<_> = (0..N)
            .map(|_| verdant::spawn(|| verdant::sleep(Duration::from_millis(20))))
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        // One TCP round trip: the reactor sees events.
        let l = verdant::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let echo = verdant::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            s.write_all(&b).unwrap();
        });
        let mut c = verdant::net::TcpStream::connect(addr).unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        echo.join().unwrap();
        // One blocking job.
        verdant::spawn_blocking(|| ()).join().unwrap();
    });

    let m = rt.handle().metrics();
    assert_eq!(m.spawned_outside, 1, "block_on's thread");
    assert_eq!(m.total.spawned, N + 1, "the sleepers and the echo thread");
    assert_eq!(m.total.started, N + 2);
    assert_eq!(m.total.finished, N + 2);
    assert_eq!(m.live, 0);
    assert!(m.total.parks >= N, "each sleeper parked: {}", m.total.parks);
    assert!(m.total.timers_fired >= 1, "{m:?}");
    assert!(m.total.reactor_polls >= 1 && m.total.reactor_events >= 1, "{m:?}");
    assert!(m.blocking_threads >= 1, "{m:?}");
    assert_eq!(m.workers.len(), 2);
    let started: u64 = m.workers.iter().map(|w| w.started).sum();
    assert_eq!(started, m.total.started, "the total is the workers' sum");
    let wakeups = m.total.wakeups_local + m.total.wakeups_remote;
    assert!(wakeups >= N, "each sleeper was woken: {wakeups}");

    let text = m.to_prometheus();
    assert!(
        text.contains(&format!("verdant_green_threads_spawned_outside_total {}", 1)),
        "{text}"
    );
    let started_lines: u64 = text
        .lines()
        .filter(|l| l.starts_with("verdant_green_threads_started_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(started_lines, N + 2);
}
