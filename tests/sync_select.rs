mod support;

use std::time::{Duration, Instant};

use support::{assert_not_before, run};
use verdant::sync::{bounded, unbounded, Select};

#[test]
fn picks_ready_arm() {
    run(|| {
        let (tx1, rx1) = bounded::<u32>(1);
        let (_tx2, rx2) = bounded::<u32>(1);
        tx1.send(1).unwrap();
        let got = verdant::select! {
            recv(rx2) -> m => ("rx2", m.unwrap()),
            recv(rx1) -> m => ("rx1", m.unwrap()),
            default(Duration::from_secs(10)) => ("timeout", 0),
        };
        assert_eq!(got, ("rx1", 1));
    });
}

#[test]
fn honours_timeout() {
    run(|| {
        let (_tx, rx) = bounded::<u32>(1);
        let t = Instant::now();
        let got = verdant::select! {
            recv(rx) -> _m => false,
            default(Duration::from_millis(20)) => true,
        };
        assert!(got);
        assert_not_before(t, Duration::from_millis(20));
        let got = verdant::select! { recv(rx) -> _m => false, default => true };
        assert!(got);
    });
}

#[test]
fn wakes_on_later_message() {
    run(|| {
        let (tx1, rx1) = unbounded::<u32>();
        let (tx2, rx2) = unbounded::<u32>();
        let h = verdant::spawn(move || {
            verdant::select! {
                recv(rx1) -> m => m.unwrap(),
                recv(rx2) -> m => m.unwrap() + 100,
            }
        });
        verdant::sleep(Duration::from_millis(10));
        tx2.send(5).unwrap();
        assert_eq!(h.join().unwrap(), 105);
        drop(tx1);
    });
}

#[test]
fn send_arm_and_rendezvous() {
    run(|| {
        let (tx, rx) = bounded::<u32>(0);
        let h = verdant::spawn(move || rx.recv().unwrap());
        let sent = Select::new()
            .send(&tx, 9, |r| r.is_ok())
            .timeout(Duration::from_secs(10), || false)
            .wait();
        assert!(sent);
        assert_eq!(h.join().unwrap(), 9);
    });
}

#[test]
fn disconnection_fires_arm() {
    run(|| {
        let (tx, rx) = bounded::<u32>(1);
        let h = verdant::spawn(move || verdant::select! { recv(rx) -> m => m.is_err() });
        verdant::sleep(Duration::from_millis(5));
        drop(tx);
        assert!(h.join().unwrap());
    });
}

#[test]
fn no_starvation() {
    // Two always-ready channels: both arms get picked.
    run(|| {
        let (tx1, rx1) = unbounded::<u32>();
        let (tx2, rx2) = unbounded::<u32>();
        for _ in 0..200 {
            tx1.send(1).unwrap();
            tx2.send(2).unwrap();
        }
        let mut counts = [0; 3];
        for _ in 0..200 {
            let i = verdant::select! { recv(rx1) -> m => m.unwrap(), recv(rx2) -> m => m.unwrap() };
            counts[i as usize] += 1;
        }
        assert!(counts[1] > 0 && counts[2] > 0, "{counts:?}");
    });
}

#[test]
fn stress_no_lost_wakeups() {
    // Many selecting receivers over two channels; every message arrives.
    run(|| {
        let n = if cfg!(debug_assertions) { 20_000 } else { 200_000 };
        let (tx1, rx1) = bounded::<u32>(1);
        let (tx2, rx2) = bounded::<u32>(1);
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (rx1, rx2) = (rx1.clone(), rx2.clone());
                verdant::spawn(move || {
                    let mut got = 0u64;
                    loop {
                        let m = verdant::select! {
                            recv(rx1) -> m => (1, m.ok()),
                            recv(rx2) -> m => (2, m.ok()),
                        };
                        match m {
                            (_, Some(_)) => got += 1,
                            // One side is done: drain the other.
                            (1, None) => return got + rx2.iter().count() as u64,
                            _ => return got + rx1.iter().count() as u64,
                        }
                    }
                })
            })
            .collect();
        drop((rx1, rx2));
        let p1 = verdant::spawn(move || (0..n).for_each(|i| tx1.send(i).unwrap()));
        let p2 = std::thread::spawn(move || (0..n).for_each(|i| tx2.send(i).unwrap()));
        p1.join().unwrap();
        support::join_os(p2);
        let total: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 2 * n as u64);
    });
}

/// Regression: a select with a send and a receive arm on the same
/// zero-capacity channel paired with itself (took the send arm, leaving
/// the message stranded in the channel). Go and crossbeam time out.
#[test]
fn zero_capacity_select_does_not_pair_with_itself() {
    fn check() {
        let (s, r) = bounded::<u32>(0);
        let got = verdant::select! {
            send(s, 1) -> _m => "send",
            recv(r) -> _m => "recv",
            default(Duration::from_millis(100)) => "timeout",
        };
        assert_eq!(got, "timeout");
        assert_eq!(s.len(), 0);
        assert!(r.try_recv().is_err());
    }
    run(check);
    let _w = support::watchdog(Duration::from_secs(60));
    check();
}

/// Two selects, each offering to send and to receive on one zero-capacity
/// channel, pair with each other (as in Go).
#[test]
fn zero_capacity_selects_pair_with_each_other() {
    run(|| {
        let (s, r) = bounded::<u32>(0);
        let side = |id: u32, s: verdant::sync::Sender<u32>, r: verdant::sync::Receiver<u32>| {
            move || {
                verdant::select! {
                    send(s, id) -> m => { m.unwrap(); None },
                    recv(r) -> m => Some(m.unwrap()),
                }
            }
        };
        let a = verdant::spawn(side(1, s.clone(), r.clone()));
        let b = std::thread::spawn(side(2, s, r));
        let (a, b) = (a.join().unwrap(), support::join_os(b));
        assert!(matches!((a, b), (Some(2), None) | (None, Some(1))), "{a:?} {b:?}");
    });
}
