//! GreenPool and GreenPile: backpressure, waitall, imap order, resize.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{rt, watchdog};

#[test]
fn pool_never_runs_more_than_its_size() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(4);
    let (max_seen, ran) = rt.block_on(|| {
        let pool = verdant::GreenPool::new(50);
        let now = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        for i in 0..5_000u64 {
            let (now, max, ran) = (now.clone(), max.clone(), ran.clone());
            pool.spawn(move || {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                if i % 2 == 0 {
                    verdant::sleep(Duration::from_micros(100));
                } else {
                    verdant::yield_now();
                }
                now.fetch_sub(1, Ordering::SeqCst);
                ran.fetch_add(1, Ordering::SeqCst);
            });
            assert!(pool.running() <= 50);
        }
        pool.waitall();
        assert_eq!(pool.running(), 0);
        assert_eq!(pool.free(), 50);
        (max.load(Ordering::SeqCst), ran.load(Ordering::SeqCst))
    });
    assert!(max_seen <= 50, "{max_seen} ran at once in a pool of 50");
    assert!(max_seen > 1, "the pool never ran anything concurrently");
    assert_eq!(ran, 5_000);
}

#[test]
fn pool_backpressure_from_a_plain_thread_and_panics_free_their_slot() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let pool = verdant::GreenPool::with_handle(3, rt.handle().clone());
    let hs: Vec<_> = (0..30)
        .map(|i| pool.spawn(move || if i % 3 == 0 { panic!("task {i}") } else { i }))
        .collect();
    pool.waitall();
    let panics = hs.into_iter().map(|h| h.join()).filter(|r| r.is_err()).count();
    assert_eq!(panics, 10);
    assert_eq!(pool.free(), 3);
}

#[test]
fn imap_yields_results_in_input_order() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let out: Vec<u64> = rt.block_on(|| {
        let pool = verdant::GreenPool::new(16);
        // Later items finish first.
        pool.imap(0..200u64, |i| {
            verdant::sleep(Duration::from_micros((200 - i) * 20));
            i * 3
        })
        .collect()
    });
    assert_eq!(out, (0..200u64).map(|i| i * 3).collect::<Vec<_>>());
}

#[test]
fn imap_keeps_at_most_size_in_flight() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let max_seen = rt.block_on(|| {
        let pool = verdant::GreenPool::new(5);
        let now = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let (n2, m2) = (now.clone(), max.clone());
        let total: usize = pool
            .imap(0..100usize, move |i| {
                let n = n2.fetch_add(1, Ordering::SeqCst) + 1;
                m2.fetch_max(n, Ordering::SeqCst);
                verdant::yield_now();
                n2.fetch_sub(1, Ordering::SeqCst);
                i
            })
            .sum();
        assert_eq!(total, 4950);
        max.load(Ordering::SeqCst)
    });
    assert!(max_seen <= 5, "{max_seen} in flight");
}

#[test]
fn resize_admits_waiting_spawners() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    rt.block_on(|| {
        let pool = verdant::GreenPool::new(1);
        let gate = Arc::new(AtomicUsize::new(0));
        let g = gate.clone();
        // Occupies the only slot until the gate opens.
        pool.spawn(move || {
            while g.load(Ordering::SeqCst) == 0 {
                verdant::sleep(Duration::from_millis(1));
            }
        });
        let p2 = pool.clone();
        let spawner = verdant::spawn(move || p2.spawn(|| 5).join().unwrap());
        while pool.waiting() == 0 {
            verdant::yield_now();
        }
        pool.resize(2);
        assert_eq!(spawner.join().unwrap(), 5);
        gate.store(1, Ordering::SeqCst);
        pool.waitall();
    });
}

#[test]
fn green_pile_returns_results_in_spawn_order() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let v: Vec<u64> = rt.block_on(|| {
        let mut pile = verdant::GreenPile::new(8);
        for i in 0..50u64 {
            pile.spawn(move || {
                verdant::sleep(Duration::from_micros((50 - i) * 30));
                i
            });
        }
        assert_eq!(pile.len(), 50);
        pile.collect()
    });
    assert_eq!(v, (0..50).collect::<Vec<_>>());
}

/// Regression: a spawner handed a free slot that is cancelled before it
/// runs gives the slot back to the next spawner (it used to pass it on only
/// if it happened to notice it was unwinding, and the pool's loop was its
/// own).
#[test]
fn a_spawner_cancelled_after_being_handed_a_slot_passes_it_on() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    rt.block_on(|| {
        let pool = verdant::GreenPool::new(1);
        let (gate_tx, gate_rx) = verdant::sync::bounded::<()>(1);
        pool.spawn(move || gate_rx.recv().unwrap());
        let (ready_tx, ready_rx) = verdant::sync::unbounded::<()>();
        let spawner = || {
            let (pool, ready) = (pool.clone(), ready_tx.clone());
            verdant::spawn(move || {
                ready.send(()).unwrap();
                pool.spawn(|| 7).join().unwrap()
            })
        };
        // One worker: each spawner queues for the slot before `recv` returns.
        let a = spawner();
        ready_rx.recv().unwrap();
        let b = spawner();
        ready_rx.recv().unwrap();
        assert_eq!(pool.waiting(), 2);
        // One more slot, handed to A, which has not run when it is cancelled.
        pool.resize(2);
        a.cancel();
        assert!(a.join().unwrap_err().is_cancelled());
        assert_eq!(b.join().unwrap(), 7, "B was handed the slot");
        gate_tx.send(()).unwrap();
        pool.waitall();
        assert_eq!(pool.free(), 2);
    });
}
