mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{assert_not_before, run};
use verdant::sync::{bounded, unbounded, RecvError, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};

#[test]
fn smoke() {
    run(|| {
        let (tx, rx) = bounded(1);
        tx.send(7).unwrap();
        assert_eq!(rx.recv(), Ok(7));
        let (tx, rx) = unbounded();
        tx.send(8).unwrap();
        assert_eq!(rx.try_recv(), Ok(8));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn zero_capacity_rendezvous() {
    run(|| {
        let (tx, rx) = bounded::<u32>(0);
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        let h = verdant::spawn(move || {
            for i in 0..100 {
                tx.send(i).unwrap();
            }
        });
        for i in 0..100 {
            assert_eq!(rx.recv(), Ok(i));
        }
        h.join().unwrap();
        assert_eq!(rx.recv(), Err(RecvError));
    });
}

#[test]
fn mpmc() {
    const N: usize = 10_000;
    const T: usize = 4;
    run(|| {
        let (tx, rx) = bounded::<usize>(3);
        let seen = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let mut hs = Vec::new();
        for _ in 0..T {
            let tx = tx.clone();
            hs.push(verdant::spawn(move || {
                for i in 0..N {
                    tx.send(i).unwrap();
                }
            }));
        }
        for _ in 0..T {
            let rx = rx.clone();
            let seen = seen.clone();
            hs.push(verdant::spawn(move || {
                for _ in 0..N {
                    let i = rx.recv().unwrap();
                    seen[i].fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == T));
    });
}

/// 1 000 000 messages per capacity (200 000 in debug builds) between green threads and
/// OS threads on both sides, over bounded and zero-capacity channels.
#[test]
fn stress() {
    let total: usize = if cfg!(debug_assertions) { 100_000 } else { 1_000_000 };
    for cap in [0, 1, 16] {
        run(move || {
            let (tx, rx) = bounded::<usize>(cap);
            let per = total / 4;
            let mut green = Vec::new();
            let mut os = Vec::new();
            for p in 0..4 {
                let tx = tx.clone();
                let f = move || (0..per).for_each(|i| tx.send(i).unwrap());
                if p % 2 == 0 {
                    green.push(verdant::spawn(f));
                } else {
                    os.push(std::thread::spawn(f));
                }
            }
            drop(tx);
            let mut sums_g = Vec::new();
            let mut sums_o = Vec::new();
            for c in 0..4 {
                let rx = rx.clone();
                let f = move || rx.iter().fold((0usize, 0usize), |(n, s), i| (n + 1, s + i));
                if c % 2 == 0 {
                    sums_g.push(verdant::spawn(f));
                } else {
                    sums_o.push(std::thread::spawn(f));
                }
            }
            drop(rx);
            green.into_iter().for_each(|h| h.join().unwrap());
            os.into_iter().for_each(support::join_os);
            let mut n = 0;
            let mut s = 0;
            for h in sums_g {
                let (a, b) = h.join().unwrap();
                n += a;
                s += b;
            }
            for h in sums_o {
                let (a, b) = support::join_os(h);
                n += a;
                s += b;
            }
            assert_eq!(n, per * 4);
            assert_eq!(s, 4 * (per * (per - 1) / 2));
        });
    }
}

#[test]
fn no_starvation() {
    // Every one of many contending receivers gets to finish its share.
    run(|| {
        let (tx, rx) = bounded::<u32>(1);
        let hs: Vec<_> = (0..50)
            .map(|_| {
                let rx = rx.clone();
                verdant::spawn(move || (0..100).filter(|_| rx.recv().is_ok()).count())
            })
            .collect();
        for i in 0..50 * 100 {
            tx.send(i).unwrap();
        }
        assert!(hs.into_iter().all(|h| h.join().unwrap() == 100));
    });
}

#[test]
fn destructors() {
    struct D(Arc<AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    run(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = bounded(10);
        for _ in 0..10 {
            tx.send(D(drops.clone())).unwrap();
        }
        drop(rx.recv().unwrap());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(rx); // last receiver: the 9 queued messages are dropped
        assert_eq!(drops.load(Ordering::SeqCst), 10);
        let e = tx.send(D(drops.clone())).unwrap_err();
        drop(e);
        assert_eq!(drops.load(Ordering::SeqCst), 11);
    });
}

#[test]
fn drop_senders_wakes_receivers() {
    run(|| {
        let (tx, rx) = bounded::<u32>(1);
        let green: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                verdant::spawn(move || rx.recv())
            })
            .collect();
        let os: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || rx.recv_timeout(Duration::from_secs(3600)))
            })
            .collect();
        // Let them block (a sleep here is not synchronisation: the test
        // passes whether they blocked yet or not).
        verdant::sleep(Duration::from_millis(20));
        drop(tx);
        for h in green {
            assert_eq!(h.join().unwrap(), Err(RecvError));
        }
        for h in os {
            assert_eq!(support::join_os(h), Err(RecvTimeoutError::Disconnected));
        }
    });
}

#[test]
fn drop_receivers_wakes_senders() {
    run(|| {
        let (tx, rx) = bounded::<u32>(0);
        let h = verdant::spawn(move || tx.send(1));
        verdant::sleep(Duration::from_millis(10));
        drop(rx);
        assert_eq!(h.join().unwrap().unwrap_err().0, 1);
    });
}

#[test]
fn drop_while_waiting() {
    // A receiver cancelled while parked in recv must not eat a message.
    run(|| {
        let (tx, rx) = bounded::<u32>(1);
        let rx2 = rx.clone();
        let victim = verdant::spawn(move || rx2.recv());
        verdant::sleep(Duration::from_millis(10));
        victim.cancel();
        assert!(victim.join().unwrap_err().is_cancelled());
        let other = verdant::spawn(move || rx.recv());
        tx.send(5).unwrap();
        assert_eq!(other.join().unwrap(), Ok(5));
    });
}

#[test]
fn timeout_then_notify() {
    run(|| {
        let (tx, rx) = bounded::<u32>(1);
        let t = Instant::now();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)),
            Err(RecvTimeoutError::Timeout)
        );
        assert_not_before(t, Duration::from_millis(20));
        tx.send(1).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_millis(20)), Ok(1));
        tx.send(2).unwrap();
        assert_eq!(
            tx.send_timeout(3, Duration::from_millis(5)),
            Err(SendTimeoutError::Timeout(3))
        );
        assert_eq!(rx.recv(), Ok(2));
        tx.send(4).unwrap();
        assert_eq!(rx.recv(), Ok(4));
    });
}

#[test]
fn os_threads_only() {
    let _w = support::watchdog(Duration::from_secs(60));
    let (tx, rx) = bounded::<u32>(2);
    let h = std::thread::spawn(move || (0..1000).for_each(|i| tx.send(i).unwrap()));
    assert_eq!(rx.iter().count(), 1000);
    h.join().unwrap();
}

#[test]
fn mpsc_mirror() {
    use verdant::sync::mpsc;
    run(|| {
        let (tx, rx) = mpsc::channel();
        let (stx, srx) = mpsc::sync_channel(0);
        let sender = verdant::spawn(move || {
            tx.send(1).unwrap();
            stx.send(2).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(srx.recv(), Ok(2));
        assert_eq!(rx.recv(), Err(mpsc::RecvError));
        // `tx` and `stx` are dropped one after the other when the closure
        // ends: `rx` seeing the disconnect says nothing yet about `srx`
        // (`try_recv` could still see `Empty`). After the join both are gone.
        sender.join().unwrap();
        assert_eq!(srx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
    });
}

/// Runs `f` once in a green thread and once on a plain OS thread.
fn both(f: fn()) {
    run(f);
    let _w = support::watchdog(Duration::from_secs(60));
    f();
}

/// Regression: a zero-capacity `send` returned before a receiver had the
/// message (it sat in the channel, where the sender's own receiver could
/// take it back).
#[test]
fn zero_capacity_send_returns_once_received() {
    both(|| {
        let (tx, rx) = bounded::<u32>(0);
        let rx2 = rx.clone();
        let taker = std::thread::spawn(move || rx2.iter().count());
        for i in 0..200 {
            tx.send(i).unwrap();
            assert_eq!(tx.len(), 0);
            assert_eq!(
                rx.try_recv(),
                Err(TryRecvError::Empty),
                "message {i} still in the channel"
            );
        }
        drop(tx);
        drop(rx);
        assert_eq!(support::join_os(taker), 200);
    });
}

/// A zero-capacity sender that times out or is cancelled gets its message
/// back (or drops it): no receiver ever sees it.
#[test]
fn zero_capacity_abandoned_send_is_withdrawn() {
    struct D(Arc<AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    run(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = bounded::<D>(0);
        let e = tx.send_timeout(D(drops.clone()), Duration::from_millis(5)).unwrap_err();
        assert!(e.is_timeout());
        drop(e.into_inner());
        let victim = verdant::spawn(move || tx.send(D(drops.clone())).is_ok());
        verdant::sleep(Duration::from_millis(10));
        victim.cancel();
        match victim.join() {
            Ok(sent) => assert!(sent),
            Err(e) => assert!(e.is_cancelled()),
        }
        let got = rx.try_recv();
        assert!(got.is_err(), "a cancelled send must not leave its message behind");
    });
}

/// Regression: `try_recv` on a zero-capacity channel never took a blocked
/// sender's message, so a polling receiver livelocked.
#[test]
fn zero_capacity_try_recv_takes_blocked_senders_message() {
    both(|| {
        let (tx, rx) = bounded::<u32>(0);
        let h = std::thread::spawn(move || {
            for i in 0..50 {
                tx.send(i).unwrap();
            }
        });
        let mut got = Vec::new();
        while got.len() < 50 {
            match rx.try_recv() {
                Ok(m) => got.push(m),
                Err(TryRecvError::Empty) => verdant::yield_now(),
                Err(TryRecvError::Disconnected) => panic!("disconnected early"),
            }
        }
        assert_eq!(got, (0..50).collect::<Vec<_>>());
        support::join_os(h);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

/// `try_send` on a zero-capacity channel hands the message to a blocked
/// receiver.
#[test]
fn zero_capacity_try_send_hands_to_blocked_receiver() {
    both(|| {
        let (tx, rx) = bounded::<u32>(0);
        let h = std::thread::spawn(move || rx.recv());
        let mut m = 7;
        loop {
            match tx.try_send(m) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => {
                    m = back;
                    verdant::yield_now();
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(support::join_os(h), Ok(7));
    });
}

/// Regression: when the last receiver dropped two queued messages whose
/// `Drop` panics, the second panic happened while unwinding from the first
/// and aborted the process. Now the first panic propagates once and every
/// message is still dropped.
#[test]
fn panicking_drops_unwind_once() {
    struct Bomb(Arc<AtomicUsize>);
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            panic!("boom");
        }
    }
    both(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = unbounded();
        for _ in 0..3 {
            tx.send(Bomb(drops.clone())).unwrap();
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(rx)));
        assert!(r.is_err());
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        drop(tx);
    });
}

#[test]
fn is_full_and_same_channel() {
    let (tx, rx) = bounded::<u32>(2);
    assert!(!tx.is_full() && !rx.is_full());
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert!(tx.is_full() && rx.is_full());
    let (utx, urx) = unbounded::<u32>();
    utx.send(1).unwrap();
    assert!(!utx.is_full() && !urx.is_full());
    let (ztx, zrx) = bounded::<u32>(0);
    assert!(ztx.is_full() && zrx.is_full());
    assert!(tx.same_channel(&tx.clone()) && rx.same_channel(&rx.clone()));
    assert!(!tx.same_channel(&utx) && !rx.same_channel(&urx));
}

#[test]
fn never_delivers_nor_disconnects() {
    both(|| {
        let rx = verdant::sync::never::<u32>();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError::Timeout)
        );
        let rx2 = rx.clone();
        drop(rx);
        assert_eq!(rx2.try_recv(), Err(TryRecvError::Empty));
        let got = verdant::select! {
            recv(rx2) -> _m => false,
            default(Duration::from_millis(5)) => true,
        };
        assert!(got);
    });
}

#[test]
fn after_delivers_once() {
    both(|| {
        let start = Instant::now();
        let rx = verdant::sync::after(Duration::from_millis(10));
        let at = rx.recv().unwrap();
        assert!(at >= start + Duration::from_millis(10));
        assert_not_before(start, Duration::from_millis(10));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError::Timeout)
        );
        // Already due: no wait.
        let rx = verdant::sync::after(Duration::ZERO);
        assert!(rx.is_full());
        assert_eq!(rx.len(), 1);
        assert!(rx.try_recv().is_ok());
        assert_eq!(rx.len(), 0);
    });
}

/// A timer notifies nobody: a waiting select and a waiting `recv_timeout`
/// wake when it is due.
#[test]
fn after_wakes_a_select() {
    both(|| {
        let (_tx, rx) = bounded::<u32>(1);
        let start = Instant::now();
        let timeout = verdant::sync::after(Duration::from_millis(10));
        let got = verdant::select! {
            recv(rx) -> _m => "message",
            recv(timeout) -> at => { assert!(at.unwrap() >= start + Duration::from_millis(10)); "after" }
        };
        assert_eq!(got, "after");
        let timeout = verdant::sync::after(Duration::from_millis(5));
        assert!(timeout.recv_timeout(Duration::from_secs(60)).is_ok());
    });
}

#[test]
fn tick_delivers_periodically() {
    both(|| {
        let period = Duration::from_millis(3);
        let ticks = verdant::sync::tick(period);
        let mut last = ticks.recv().unwrap();
        for _ in 0..3 {
            let at = verdant::select! { recv(ticks) -> at => at.unwrap() };
            assert!(at >= last + period);
            last = at;
        }
        assert!(ticks.try_iter().count() <= 1, "at most one tick is pending");
    });
}
