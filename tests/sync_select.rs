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
        let mut sel = Select::new();
        let i = sel.send(&tx);
        let op = sel.select_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(op.index(), i);
        op.send(&tx, 9).unwrap();
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

/// Arm bodies are ordinary code: `break` and `continue` act on the
/// enclosing loop.
#[test]
fn break_and_continue_from_arms() {
    fn check() {
        let (tx, rx) = unbounded::<u32>();
        for i in 0..10 {
            tx.send(i).unwrap();
        }
        drop(tx);
        let mut odd = Vec::new();
        loop {
            verdant::select! {
                recv(rx) -> m => {
                    let Ok(m) = m else { break };
                    if m % 2 == 0 {
                        continue;
                    }
                    odd.push(m);
                }
            }
        }
        assert_eq!(odd, [1, 3, 5, 7, 9]);
    }
    run(check);
    let _w = support::watchdog(Duration::from_secs(60));
    check();
}

/// `return` in an arm returns from the enclosing function.
#[test]
fn return_from_arm() {
    fn first_even(rx: &verdant::sync::Receiver<u32>) -> Option<u32> {
        loop {
            verdant::select! {
                recv(rx) -> m => match m {
                    Ok(m) if m % 2 == 0 => return Some(m),
                    Ok(_) => {}
                    Err(_) => return None,
                },
                default(Duration::from_secs(10)) => panic!("timed out"),
            }
        }
    }
    run(|| {
        let (tx, rx) = unbounded();
        for i in [1, 3, 4, 5] {
            tx.send(i).unwrap();
        }
        assert_eq!(first_even(&rx), Some(4));
        drop(tx);
        assert_eq!(first_even(&rx), None);
    });
}

/// Two arms may mutate the same local.
#[test]
fn arms_mutate_one_local() {
    run(|| {
        let (tx1, rx1) = unbounded::<u32>();
        let (tx2, rx2) = unbounded::<u32>();
        for i in 0..5 {
            tx1.send(i).unwrap();
            tx2.send(i * 10).unwrap();
        }
        let mut total = 0;
        let mut n = 0;
        while n < 10 {
            verdant::select! {
                recv(rx1) -> m => { total += m.unwrap(); n += 1; }
                recv(rx2) -> m => { total += m.unwrap(); n += 1; }
            }
        }
        assert_eq!(total, 10 + 100);
    });
}

/// A send arm's message is evaluated only when that arm is chosen.
#[test]
fn send_message_evaluated_only_when_chosen() {
    run(|| {
        let (full_tx, _full_rx) = bounded::<u32>(0);
        let (tx, rx) = bounded::<u32>(1);
        let mut evaluated = Vec::new();
        let mut make = |name: &'static str, v: u32| {
            evaluated.push(name);
            v
        };
        verdant::select! {
            send(full_tx, make("full", 1)) -> _r => panic!("nobody receives on it"),
            send(tx, make("room", 2)) -> r => r.unwrap(),
        }
        assert_eq!(evaluated, ["room"]);
        assert_eq!(rx.try_recv(), Ok(2));
        let mut evaluated = 0;
        let got = verdant::select! {
            send(full_tx, { evaluated += 1; 3 }) -> _r => false,
            default => true,
        };
        assert!(got);
        assert_eq!(evaluated, 0);
    });
}

/// crossbeam's syntax: commas optional after block bodies, trailing comma
/// optional, `default` with a block.
#[test]
fn crossbeam_syntax() {
    run(|| {
        let (tx, rx) = bounded::<u32>(1);
        tx.send(1).unwrap();
        let a = verdant::select! {
            recv(rx) -> m => { m.unwrap() }
            default => { 0 }
        };
        assert_eq!(a, 1);
        let b = verdant::select! {
            send(tx, 2) -> r => { r.unwrap(); 2 }
            default(Duration::from_secs(10)) => { 0 }
        };
        assert_eq!(b, 2);
        let c = verdant::select! { recv(rx) -> m => m.unwrap() };
        assert_eq!(c, 2);
        let d = verdant::select! { default => 7 };
        assert_eq!(d, 7);
    });
}

/// `select_biased!` and `Select::new_biased` always take the first ready
/// arm.
#[test]
fn biased_prefers_first_arm() {
    run(|| {
        let (tx1, rx1) = unbounded::<u32>();
        let (tx2, rx2) = unbounded::<u32>();
        for i in 0..20 {
            tx1.send(i).unwrap();
            tx2.send(i).unwrap();
        }
        for i in 0..20 {
            let got = verdant::select_biased! {
                recv(rx1) -> m => ("rx1", m.unwrap()),
                recv(rx2) -> m => ("rx2", m.unwrap()),
            };
            assert_eq!(got, ("rx1", i));
        }
        let got = verdant::select_biased! {
            recv(rx1) -> m => ("rx1", m.unwrap()),
            recv(rx2) -> m => ("rx2", m.unwrap()),
        };
        assert_eq!(got, ("rx2", 0));
    });
}

/// The index-based API: add operations, select, complete.
#[test]
fn index_based_select() {
    run(|| {
        let (tx1, rx1) = bounded::<u32>(1);
        let (tx2, rx2) = bounded::<u32>(1);
        let mut sel = Select::new();
        let r1 = sel.recv(&rx1);
        let r2 = sel.recv(&rx2);
        assert_eq!((r1, r2), (0, 1));
        assert!(sel.try_select().is_err());
        assert!(sel.try_ready().is_err());
        let tx2b = tx2.clone();
        let h = verdant::spawn(move || tx2b.send(5).unwrap());
        let op = sel.select();
        assert_eq!(op.index(), r2);
        assert_eq!(op.recv(&rx2), Ok(5));
        h.join().unwrap();
        drop(tx1);
        let op = sel.select_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(op.index(), r1);
        assert!(op.recv(&rx1).is_err());
        drop(tx2);
    });
}

/// Completing with a channel that was not selected panics.
#[test]
#[should_panic(expected = "not selected")]
fn completing_with_the_wrong_channel_panics() {
    let (tx, rx) = unbounded::<u32>();
    let (_tx2, rx2) = unbounded::<u32>();
    tx.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let _ = sel.select().recv(&rx2);
}

/// A selected operation dropped without being completed passes its wakeup
/// on: the other receiver still gets the message.
///
/// One worker, so the selecting thread (spawned first, unstarted threads run
/// in spawn order) is parked before the plain receiver and is the one the
/// send wakes. On several workers the plain receiver could be stolen and
/// park first; the send then woke it and the select waited forever (a hang
/// of the test, not of the channel).
#[test]
fn dropped_selected_operation_passes_wakeup_on() {
    let _w = support::watchdog(Duration::from_secs(60));
    support::rt(1).block_on(|| {
        let (tx, rx) = bounded::<u32>(1);
        let rx2 = rx.clone();
        let rx3 = rx.clone();
        let selecting = verdant::spawn(move || {
            let mut sel = Select::new();
            sel.recv(&rx2);
            drop(sel.select());
        });
        let plain = verdant::spawn(move || rx3.recv());
        verdant::sleep(Duration::from_millis(10));
        tx.send(1).unwrap();
        selecting.join().unwrap();
        assert_eq!(plain.join().unwrap(), Ok(1));
        drop(rx);
    });
}

/// Two selects, each offering to send and to receive on one zero-capacity
/// channel, pair with each other (as in Go): exactly one sends, the other
/// receives. Regression: both could check their send arm ready at once
/// (each counted the other's receive arm) and both send, each then waiting
/// for a receiver forever; a send arm now reserves its place under the
/// channel's lock when it is chosen. Many rounds, green/green and green/OS,
/// so the race is hit.
#[test]
fn zero_capacity_selects_pair_with_each_other() {
    run(|| {
        for round in 0..300u32 {
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
            let (a, b) = if round % 2 == 0 {
                let b = verdant::spawn(side(2, s, r));
                (a.join().unwrap(), b.join().unwrap())
            } else {
                let b = std::thread::spawn(side(2, s, r));
                (a.join().unwrap(), support::join_os(b))
            };
            assert!(
                matches!((a, b), (Some(2), None) | (None, Some(1))),
                "round {round}: {a:?} {b:?}"
            );
        }
    });
}

/// `Select::remove` (crossbeam-channel's): a disconnected receive is
/// removed and the selection goes on with the rest; the removed operation
/// is never selected again, even though it stays ready.
#[test]
fn remove_drops_a_disconnected_operation() {
    run(|| {
        let (tx1, rx1) = unbounded::<u32>();
        let (tx2, rx2) = unbounded::<u32>();
        drop(tx2);
        let mut sel = Select::new();
        let r1 = sel.recv(&rx1);
        let r2 = sel.recv(&rx2);
        let op = sel.select();
        assert_eq!(op.index(), r2);
        assert!(op.recv(&rx2).is_err());
        sel.remove(r2);
        // Only the removed operation is ready: nothing is.
        assert!(sel.try_select().is_err());
        assert!(sel.try_ready().is_err());
        let sender = verdant::spawn(move || {
            for i in 0..50 {
                tx1.send(i).unwrap();
            }
        });
        for i in 0..50 {
            let op = sel.select();
            assert_eq!(op.index(), r1);
            assert_eq!(op.recv(&rx1), Ok(i));
        }
        sender.join().unwrap();
    });
}

/// Removing keeps the other operations' indices, and indices are never
/// reused by operations added later.
#[test]
fn remove_keeps_the_other_indices() {
    run(|| {
        let (tx, rx) = unbounded::<u32>();
        let (_tx_b, rx_b) = unbounded::<u32>();
        let (tx_c, rx_c) = unbounded::<u32>();
        let mut sel = Select::new_biased();
        let a = sel.recv(&rx);
        let b = sel.recv(&rx_b);
        let c = sel.recv(&rx_c);
        assert_eq!((a, b, c), (0, 1, 2));
        sel.remove(a);
        sel.remove(b);
        tx.send(1).unwrap();
        tx_c.send(3).unwrap();
        let op = sel.select();
        assert_eq!(op.index(), c);
        assert_eq!(op.recv(&rx_c), Ok(3));
        // Re-adding the same receiver gets a new index.
        let again = sel.recv(&rx);
        assert_eq!(again, 3);
        let op = sel.select();
        assert_eq!(op.index(), again);
        assert_eq!(op.recv(&rx), Ok(1));
        // A send operation too.
        let s = sel.send(&tx);
        assert_eq!(s, 4);
        sel.remove(again);
        sel.remove(c);
        assert_eq!(sel.ready(), s);
    });
}

/// An index never returned panics, as crossbeam's `remove` does.
#[test]
#[should_panic(expected = "index out of bounds")]
fn remove_of_an_unknown_index_panics() {
    let (_tx, rx) = unbounded::<u32>();
    let mut sel = Select::new();
    sel.recv(&rx);
    sel.remove(1);
}

/// Removing twice panics, as crossbeam's `remove` does.
#[test]
#[should_panic(expected = "no operation with this index")]
fn remove_twice_panics() {
    let (_tx, rx) = unbounded::<u32>();
    let mut sel = Select::new();
    let r = sel.recv(&rx);
    sel.recv(&rx);
    sel.remove(r);
    sel.remove(r);
}

/// A send and a receive of one selection on a zero-capacity channel, the
/// receive removed: the send pairs with a real receiver, green or OS.
/// (`remove` also recounts the receives the send must not pair with; a
/// stale count would matter only if the receiver arrived between the
/// selection's first check and its enlisted check, a window these rounds
/// do not reliably hit, so this checks the outcome, not the recount.)
#[test]
fn remove_of_a_receive_lets_the_own_channel_send_pair() {
    run(|| {
        for round in 0..200u32 {
            let (s, r) = bounded::<u32>(0);
            let r2 = r.clone();
            let receiver: Box<dyn FnOnce() -> u32 + Send> = if round % 2 == 0 {
                let h = verdant::spawn(move || r2.recv().unwrap());
                Box::new(move || h.join().unwrap())
            } else {
                let h = std::thread::spawn(move || r2.recv().unwrap());
                Box::new(move || support::join_os(h))
            };
            let mut sel = Select::new();
            let sent = sel.send(&s);
            let own = sel.recv(&r);
            sel.remove(own);
            let op = sel.select_timeout(Duration::from_secs(30)).expect("the receiver pairs");
            assert_eq!(op.index(), sent);
            op.send(&s, round).unwrap();
            assert_eq!(receiver(), round, "round {round}");
        }
    });
}

/// `Select::ready_deadline` (crossbeam-channel's): the index of a ready
/// operation, which it does not perform; an error once the deadline
/// passes with none ready.
#[test]
fn ready_deadline_reports_without_performing() {
    run(|| {
        let (tx, rx) = bounded::<u32>(1);
        let (tx2, _rx2) = bounded::<u32>(1);
        let mut sel = Select::new();
        let r = sel.recv(&rx);
        let soon = Instant::now() + Duration::from_millis(10);
        assert_eq!(sel.ready_deadline(soon), Err(verdant::sync::ReadyTimeoutError));
        // Ready beats an expired deadline.
        tx.send(1).unwrap();
        assert_eq!(sel.ready_deadline(Instant::now()), Ok(r));
        assert_eq!(sel.ready_deadline(Instant::now() - Duration::from_secs(1)), Ok(r));
        // Not performed: the message is still there.
        assert_eq!(rx.try_recv(), Ok(1));
        // A send: ready while there is room; nothing is sent.
        let mut sel = Select::new();
        let s = sel.send(&tx2);
        assert_eq!(sel.ready_deadline(Instant::now() + Duration::from_secs(60)), Ok(s));
        assert!(tx2.is_empty());
    });
}

/// A waiting `ready_deadline` is woken by a message from another thread.
#[test]
fn ready_deadline_wakes_on_a_later_message() {
    run(|| {
        let (tx, rx) = bounded::<u32>(1);
        let (_tx2, rx2) = bounded::<u32>(1);
        let (started_tx, started_rx) = bounded::<()>(0);
        let sender = verdant::spawn(move || {
            started_rx.recv().unwrap();
            tx.send(5).unwrap();
        });
        let mut sel = Select::new();
        sel.recv(&rx2);
        let r = sel.recv(&rx);
        started_tx.send(()).unwrap();
        assert_eq!(sel.ready_deadline(Instant::now() + Duration::from_secs(60)), Ok(r));
        assert_eq!(rx.try_recv(), Ok(5));
        sender.join().unwrap();
        // From a plain OS thread too.
        let (tx, rx) = bounded::<u32>(1);
        let os = std::thread::spawn(move || {
            let mut sel = Select::new();
            let r = sel.recv(&rx);
            let got = sel.ready_deadline(Instant::now() + Duration::from_secs(60));
            (got == Ok(r), rx.try_recv())
        });
        tx.send(6).unwrap();
        assert_eq!(support::join_os(os), (true, Ok(6)));
    });
}

/// A removed operation is not waited on by `ready_deadline` either.
#[test]
fn ready_deadline_ignores_removed_operations() {
    run(|| {
        let (tx, rx) = unbounded::<u32>();
        let (_tx2, rx2) = unbounded::<u32>();
        tx.send(1).unwrap();
        let mut sel = Select::new();
        let r = sel.recv(&rx);
        sel.recv(&rx2);
        sel.remove(r);
        let soon = Instant::now() + Duration::from_millis(10);
        assert_eq!(sel.ready_deadline(soon), Err(verdant::sync::ReadyTimeoutError));
    });
}
