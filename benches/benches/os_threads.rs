//! verdant's channels and locks used from plain OS threads (no green thread
//! involved), side by side with crossbeam-channel, std's mpsc, std's
//! `Mutex` and parking_lot's. Every blocking call of verdant also works on
//! an OS thread; this measures what it costs there.
//!
//! Channels: producers send `MESSAGES` integers in total to one consumer,
//! for `bounded(0)`, `bounded(1)`, `bounded(1000)` and unbounded, with one
//! and with four producers. Locks: four OS threads each increment a shared
//! counter `INCREMENTS` times, and one thread locks and unlocks alone
//! (the uncontended fast path). Medians of several runs, in ns per message
//! or per increment; ratios against crossbeam (channels) and std (locks).
//! `LOCKS_ONLY=1` skips the channels.

mod support;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::{Ratio, Stats};

/// Messages per run, in total over all producers (fewer for rendezvous-like
/// capacities, where every message may cost a wakeup).
fn messages(cap: Option<usize>) -> usize {
    match cap {
        Some(0) | Some(1) => 20_000,
        _ => 200_000,
    }
}

const LOCK_THREADS: usize = 4;
const INCREMENTS: usize = 100_000;

/// Runs `producers` threads sending through `send` and one receiving
/// through `recv` until every message is in; returns the wall time.
fn pump<S, R>(
    n: usize,
    producers: usize,
    make: impl FnOnce() -> (S, R),
    send: fn(&S, usize),
    recv: fn(&R) -> usize,
) -> Duration
where
    S: Clone + Send + 'static,
    R: Send + 'static,
{
    let (tx, rx) = make();
    let per = n / producers;
    let t = Instant::now();
    let hs: Vec<_> = (0..producers)
        .map(|_| {
            let tx = tx.clone();
            thread::spawn(move || (0..per).for_each(|i| send(&tx, i)))
        })
        .collect();
    drop(tx);
    let mut sum = 0usize;
    for _ in 0..per * producers {
        sum = sum.wrapping_add(recv(&rx));
    }
    for h in hs {
        h.join().unwrap();
    }
    std::hint::black_box(sum);
    t.elapsed()
}

fn verdant_chan(cap: Option<usize>, producers: usize) -> Duration {
    let make = || match cap {
        Some(c) => verdant::sync::bounded::<usize>(c),
        None => verdant::sync::unbounded::<usize>(),
    };
    pump(
        messages(cap),
        producers,
        make,
        |s, i| s.send(i).unwrap(),
        |r| r.recv().unwrap(),
    )
}

fn crossbeam_chan(cap: Option<usize>, producers: usize) -> Duration {
    let make = || match cap {
        Some(c) => crossbeam_channel::bounded::<usize>(c),
        None => crossbeam_channel::unbounded::<usize>(),
    };
    pump(
        messages(cap),
        producers,
        make,
        |s, i| s.send(i).unwrap(),
        |r| r.recv().unwrap(),
    )
}

fn std_chan(cap: Option<usize>, producers: usize) -> Duration {
    match cap {
        Some(c) => pump(
            messages(cap),
            producers,
            || std::sync::mpsc::sync_channel::<usize>(c),
            |s, i| s.send(i).unwrap(),
            |r| r.recv().unwrap(),
        ),
        None => pump(
            messages(cap),
            producers,
            std::sync::mpsc::channel::<usize>,
            |s, i| s.send(i).unwrap(),
            |r| r.recv().unwrap(),
        ),
    }
}

/// `LOCK_THREADS` threads each run `inc` `INCREMENTS` times.
fn contend<L: Send + Sync + 'static>(lock: L, inc: fn(&L)) -> Duration {
    let lock = Arc::new(lock);
    let t = Instant::now();
    let hs: Vec<_> = (0..LOCK_THREADS)
        .map(|_| {
            let lock = lock.clone();
            thread::spawn(move || (0..INCREMENTS).for_each(|_| inc(&lock)))
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    t.elapsed()
}

/// Lock and unlock `UNCONTENDED` times on one thread: the fast path alone
/// (poisoning's bookkeeping included).
fn alone<L>(lock: L, inc: fn(&L)) -> Duration {
    let t = Instant::now();
    (0..UNCONTENDED).for_each(|_| inc(std::hint::black_box(&lock)));
    t.elapsed()
}

const UNCONTENDED: usize = 2_000_000;

fn main() {
    support::watchdog();
    support::print_header("Channels and locks on plain OS threads", "os_threads", &[]);
    for producers in [1, 4] {
        if std::env::var_os("LOCKS_ONLY").is_some() {
            break;
        }
        for cap in [Some(0), Some(1), Some(1000), None] {
            let stats = support::measure(&mut [
                &mut || verdant_chan(cap, producers),
                &mut || crossbeam_chan(cap, producers),
                &mut || std_chan(cap, producers),
            ]);
            let n = messages(cap) / producers * producers;
            let [v, c, s]: [Stats; 3] = [0, 1, 2].map(|i| stats[i].per(n));
            let what = match cap {
                Some(c) => format!("bounded({c})"),
                None => "unbounded".into(),
            };
            let case = format!("{what}, {producers} producer(s) → 1 consumer");
            support::print_row(
                &format!("{case}, vs crossbeam"),
                "ns/msg",
                v,
                c,
                Ratio::VerdantOverPeer("crossbeam"),
            );
            support::print_row(
                &format!("{case}, vs std mpsc"),
                "ns/msg",
                v,
                s,
                Ratio::VerdantOverPeer("std"),
            );
        }
    }
    let stats = support::measure(&mut [
        &mut || contend(verdant::sync::Mutex::new(0u64), |m| *m.lock().unwrap() += 1),
        &mut || contend(std::sync::Mutex::new(0u64), |m| *m.lock().unwrap() += 1),
        &mut || contend(parking_lot::Mutex::new(0u64), |m| *m.lock() += 1),
        &mut || contend(verdant::sync::RwLock::new(0u64), |m| *m.write().unwrap() += 1),
        &mut || contend(std::sync::RwLock::new(0u64), |m| *m.write().unwrap() += 1),
    ]);
    let n = LOCK_THREADS * INCREMENTS;
    let [vm, sm, pm, vr, sr]: [Stats; 5] = [0, 1, 2, 3, 4].map(|i| stats[i].per(n));
    let case = format!("Mutex, {LOCK_THREADS} threads contending");
    support::print_row(
        &format!("{case}, vs std"),
        "ns/lock",
        vm,
        sm,
        Ratio::VerdantOverPeer("std"),
    );
    support::print_row(
        &format!("{case}, vs parking_lot"),
        "ns/lock",
        vm,
        pm,
        Ratio::VerdantOverPeer("parking_lot"),
    );
    let stats = support::measure(&mut [
        &mut || alone(verdant::sync::Mutex::new(0u64), |m| *m.lock().unwrap() += 1),
        &mut || alone(std::sync::Mutex::new(0u64), |m| *m.lock().unwrap() += 1),
    ]);
    let [va, sa]: [Stats; 2] = [0, 1].map(|i| stats[i].per(UNCONTENDED));
    support::print_row(
        "Mutex uncontended lock+unlock, one thread, vs std",
        "ns/lock",
        va,
        sa,
        Ratio::VerdantOverPeer("std"),
    );
    let case = format!("RwLock writes, {LOCK_THREADS} threads contending");
    support::print_row(
        &format!("{case}, vs std"),
        "ns/lock",
        vr,
        sr,
        Ratio::VerdantOverPeer("std"),
    );
}
