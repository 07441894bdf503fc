//! Scoped green threads borrow from the caller and are all joined.

#[path = "support/net.rs"]
mod net_support;
mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::watchdog;

/// Counts its drops: a thread holding one ran its destructors.
struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs a closure when dropped (on return and on unwinding).
struct OnExit<F: FnMut()>(F);
impl<F: FnMut()> Drop for OnExit<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

#[test]
fn scoped_threads_borrow_and_mutate_disjoint_data() {
    let _w = watchdog(Duration::from_secs(30));
    let mut data = vec![0u64; 1000];
    let counter = AtomicUsize::new(0);
    verdant::scope(|s| {
        for (i, chunk) in data.chunks_mut(100).enumerate() {
            let counter = &counter;
            s.spawn(move || {
                verdant::sleep(Duration::from_micros(100));
                for x in chunk.iter_mut() {
                    *x = i as u64;
                }
                counter.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    assert_eq!(counter.load(Ordering::SeqCst), 10);
    assert!(data
        .chunks(100)
        .enumerate()
        .all(|(i, c)| c.iter().all(|&x| x == i as u64)));
}

#[test]
fn scope_waits_for_nested_spawns_and_returns_the_value() {
    let _w = watchdog(Duration::from_secs(30));
    let hits = AtomicUsize::new(0);
    let v = verdant::scope(|s| {
        s.spawn(|| {
            s.spawn(|| {
                verdant::sleep(Duration::from_millis(5));
                hits.fetch_add(1, Ordering::SeqCst);
            });
        });
        let h = s.spawn(|| 21);
        h.join().unwrap() * 2
    });
    assert_eq!(v, 42);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn an_unjoined_panic_makes_the_scope_panic_after_all_finish() {
    let _w = watchdog(Duration::from_secs(30));
    let exited = Arc::new(AtomicUsize::new(0));
    let (_tx, rx) = verdant::sync::bounded::<()>(1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        verdant::scope(|s| {
            // Captured: a thread cancelled before it starts drops it too.
            let g = DropCount(exited.clone());
            let rx = &rx;
            s.spawn(move || {
                let _g = g;
                // Never sent to: only the scope's cancellation ends this.
                let _ = rx.recv();
            });
            s.spawn(|| panic!("scoped"));
        })
    }));
    assert!(r.is_err());
    assert_eq!(
        exited.load(Ordering::SeqCst),
        1,
        "scope returned before its threads finished"
    );
}

#[test]
fn a_joined_panic_does_not_make_the_scope_panic() {
    let err = verdant::scope(|s| s.spawn(|| panic!("joined")).join().unwrap_err());
    assert!(err.is_panic());
}

/// Regression: an expired `timeout` around `scope` unwound out of its wait
/// while a scoped thread still borrowed the frame (use after free). Now
/// the expiry cancels the scope's threads, and the scope still waits for
/// them before the expiry unwinds out of it.
#[test]
fn an_enclosing_timeout_cancels_the_scope_which_waits_for_its_threads() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = verdant::Runtime::builder().workers(2).build().unwrap();
    let (result, exited_inside) = rt.block_on(|| {
        // Never sent to: only a cancellation ends the scoped threads' waits.
        let (_tx, rx) = verdant::sync::bounded::<()>(1);
        let exited = Arc::new(AtomicUsize::new(0));
        let deadline = std::time::Instant::now() + Duration::from_millis(20);
        let mut seen_inside = usize::MAX;
        let r = verdant::timeout_at(deadline, || {
            let borrowed = [7u8; 64];
            let _check = OnExit(|| seen_inside = exited.load(Ordering::SeqCst));
            verdant::scope(|s| {
                // Captured: a thread cancelled before it starts drops them.
                let (g, g2) = (DropCount(exited.clone()), DropCount(exited.clone()));
                let (rx, borrowed) = (&rx, &borrowed);
                s.spawn(move || {
                    let _g = g;
                    // Reads the scope's caller's frame on the way out.
                    let _read = OnExit(|| assert_eq!(borrowed[63], 7));
                    // A thread spawned by a scoped thread is cancelled too.
                    s.spawn(move || {
                        let _g = g2;
                        verdant::sleep(Duration::from_secs(3600));
                    });
                    let _ = rx.recv();
                });
            });
        });
        (r, seen_inside)
    });
    assert!(result.is_err(), "the deadline passed before timeout returned");
    assert_eq!(exited_inside, 2, "the scope unwound before its threads finished");
}

/// Regression: cancelling the owner of a scope unwound out of its wait
/// while a scoped thread still borrowed the frame (crashed with SIGSEGV).
/// Now the owner's cancellation cancels the scoped thread, and the scope
/// still waits for it before the cancellation unwinds out of it.
#[test]
fn cancelling_the_owner_cancels_the_scope_which_waits_for_its_threads() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    let owner_saw_at_exit = rt.block_on(|| {
        let child_exited = Arc::new(AtomicUsize::new(0));
        let seen_at_exit = Arc::new(AtomicUsize::new(usize::MAX));
        // Never sent to: only a cancellation ends the scoped thread's wait.
        let (_go_tx, go_rx) = verdant::sync::bounded::<()>(1);
        let (in_tx, in_rx) = verdant::sync::bounded::<()>(1);
        let (ce, seen) = (child_exited.clone(), seen_at_exit.clone());
        let owner = verdant::spawn(move || {
            let _exit = OnExit(move || seen.store(ce.load(Ordering::SeqCst), Ordering::SeqCst));
            let borrowed = [1u8; 64];
            verdant::scope(|s| {
                s.spawn(|| {
                    let _g = DropCount(child_exited.clone());
                    // Reads the scope's caller's frame on the way out.
                    let _read = OnExit(|| assert_eq!(borrowed[0], 1));
                    in_tx.send(()).unwrap();
                    let _ = go_rx.recv();
                });
            });
        });
        in_rx.recv().unwrap(); // the scoped thread runs; the owner waits in scope
        owner.cancel();
        assert!(owner.join().unwrap_err().is_cancelled());
        seen_at_exit.load(Ordering::SeqCst)
    });
    assert_eq!(
        owner_saw_at_exit, 1,
        "the scope's owner left before its scoped thread finished"
    );
}

/// Parks on a timed wait that is answered in time, which leaves a stale
/// timer entry holding the thread's allocation after the thread is done.
fn leave_a_stale_timer() {
    let (ping, pong) = verdant::sync::mpsc::channel();
    // Sends once this thread has parked (one worker: it runs after).
    verdant::spawn(move || ping.send(()).unwrap());
    pong.recv_timeout(Duration::from_secs(3600)).unwrap();
}

#[test]
fn an_unjoined_result_borrowing_from_the_scope_is_dropped_inside_it() {
    let _w = watchdog(Duration::from_secs(30));
    struct Borrower<'a>(&'a AtomicUsize);
    impl Drop for Borrower<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rt = support::rt(1);
    rt.block_on(|| {
        let drops = AtomicUsize::new(0);
        verdant::scope(|s| {
            // Handle dropped before the thread finishes: the thread drops it.
            s.spawn(|| {
                leave_a_stale_timer();
                Borrower(&drops)
            });
            // Handle dropped after: the handle drops it.
            let kept = s.spawn(|| {
                leave_a_stale_timer();
                Borrower(&drops)
            });
            while !kept.is_finished() {
                verdant::yield_now();
            }
            drop(kept);
        });
        // The allocations may outlive the scope (stale timers); the
        // results, which borrow from it, may not.
        assert_eq!(
            drops.load(Ordering::SeqCst),
            2,
            "a result borrowing from the scope outlived it"
        );
    });
}

/// How a thread of the scope fails in [`siblings_parked_everywhere`].
#[derive(Clone, Copy, PartialEq, Debug)]
enum Failure {
    Panic,
    Err,
}

/// Runs a scope (a `try_scope` for `Failure::Err`) whose threads park in
/// `sleep`, a channel's `recv`, a read of a loopback `TcpStream` and a
/// `Mutex` lock, each holding a [`DropCount`]; once all are about to park,
/// one more thread fails. Returns how many destructors ran by the time the
/// scope was over, the open descriptors before the sockets were made and
/// after the scope, and whether the scope reported the failure.
fn siblings_parked_everywhere(how: Failure) -> (usize, usize, usize, bool) {
    use std::io::Read;
    let rt = support::rt(2);
    rt.block_on(move || {
        let fds_before = net_support::fd_count();
        let dropped = Arc::new(AtomicUsize::new(0));
        let listener = verdant::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = verdant::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        drop(listener);
        let (_tx, rx) = verdant::sync::bounded::<()>(1); // never sent to
        let lock = Arc::new(verdant::sync::Mutex::new(()));
        let (ready_tx, ready_rx) = verdant::sync::bounded::<()>(8);
        let (held_tx, held_rx) = verdant::sync::bounded::<()>(1);
        let mut parked: Vec<Box<dyn FnOnce() + Send>> = Vec::new();
        let (d, r) = (dropped.clone(), ready_tx.clone());
        parked.push(Box::new(move || {
            let _g = DropCount(d);
            r.send(()).unwrap();
            verdant::sleep(Duration::from_secs(3600));
        }));
        let (d, r) = (dropped.clone(), ready_tx.clone());
        parked.push(Box::new(move || {
            let _g = DropCount(d);
            r.send(()).unwrap();
            let _ = rx.recv();
        }));
        let (d, r) = (dropped.clone(), ready_tx.clone());
        parked.push(Box::new(move || {
            let _g = DropCount(d);
            let mut client = client; // both ends close on the way out
            let _server = server;
            r.send(()).unwrap();
            let mut buf = [0u8; 16];
            let _ = client.read(&mut buf); // nobody writes
        }));
        let (d, r, l) = (dropped.clone(), ready_tx.clone(), lock.clone());
        parked.push(Box::new(move || {
            let _g = DropCount(d);
            let _held = l.lock().unwrap();
            held_tx.send(()).unwrap();
            r.send(()).unwrap();
            verdant::sleep(Duration::from_secs(3600));
        }));
        let (d, r, l) = (dropped.clone(), ready_tx.clone(), lock.clone());
        parked.push(Box::new(move || {
            let _g = DropCount(d);
            held_rx.recv().unwrap();
            r.send(()).unwrap();
            let _second = l.lock().unwrap(); // held by the thread above
            verdant::sleep(Duration::from_secs(3600));
        }));
        let wait_parked = || {
            for _ in 0..5 {
                ready_rx.recv().unwrap();
            }
        };
        let reported = match how {
            Failure::Panic => catch_unwind(AssertUnwindSafe(|| {
                verdant::scope(|s| {
                    for f in parked {
                        s.spawn(f);
                    }
                    wait_parked();
                    s.spawn(|| panic!("boom"));
                })
            }))
            .is_err(),
            Failure::Err => {
                let r: Result<(), &str> = verdant::try_scope(|s| {
                    for f in parked {
                        s.spawn(move || {
                            f();
                            Ok(())
                        });
                    }
                    wait_parked();
                    s.spawn(|| Err::<(), _>("failed"));
                    Ok(())
                });
                r == Err("failed")
            }
        };
        let dropped_now = dropped.load(Ordering::SeqCst);
        (dropped_now, fds_before, net_support::fd_count(), reported)
    })
}

fn check_siblings_parked_everywhere(how: Failure) {
    let var = "VERDANT_TEST_SIBLINGS";
    if support::is_child(var) {
        let (dropped, before, after, reported) = siblings_parked_everywhere(how);
        assert!(reported, "{how:?}: the scope did not report the failure");
        assert_eq!(dropped, 5, "{how:?}: destructors of the cancelled siblings");
        assert_eq!(after, before, "{how:?}: descriptors left open");
        return;
    }
    let _w = watchdog(Duration::from_secs(60));
    // In a process of its own, so that no other test opens descriptors
    // while this one counts them.
    let name = match how {
        Failure::Panic => "a_panic_cancels_the_siblings_wherever_they_are_parked",
        Failure::Err => "an_err_cancels_the_siblings_wherever_they_are_parked",
    };
    let out = support::run_child(name, (var, "1"));
    assert!(
        out.status.success(),
        "child failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran the test"
    );
}

#[test]
fn a_panic_cancels_the_siblings_wherever_they_are_parked() {
    check_siblings_parked_everywhere(Failure::Panic);
}

#[test]
fn an_err_cancels_the_siblings_wherever_they_are_parked() {
    check_siblings_parked_everywhere(Failure::Err);
}

#[test]
fn the_failed_thread_and_its_siblings_join_as_cancelled() {
    let _w = watchdog(Duration::from_secs(30));
    let (_tx, rx) = verdant::sync::bounded::<()>(1); // never sent to
    let (started_tx, started_rx) = verdant::sync::bounded::<()>(1);
    let r: Result<(), i32> = verdant::try_scope(|s| {
        let sibling = s.spawn(|| {
            started_tx.send(()).unwrap();
            let _ = rx.recv();
            Ok(1)
        });
        started_rx.recv().unwrap();
        let failed = s.spawn(|| Err::<i32, _>(7));
        assert!(failed.join().unwrap_err().is_cancelled());
        assert!(sibling.join().unwrap_err().is_cancelled());
        Ok(())
    });
    assert_eq!(r, Err(7));
}

#[test]
fn the_body_s_err_cancels_the_threads_and_is_returned() {
    let _w = watchdog(Duration::from_secs(30));
    let exited = Arc::new(AtomicUsize::new(0));
    let (_tx, rx) = verdant::sync::bounded::<()>(1); // never sent to
    let r: Result<(), &str> = verdant::try_scope(|s| {
        for _ in 0..3 {
            // Captured, not made inside: a thread cancelled before it
            // started never runs, but its captures are dropped.
            let g = DropCount(exited.clone());
            let rx = &rx;
            s.spawn(move || {
                let _g = g;
                let _ = rx.recv();
                Ok(())
            });
        }
        Err("body failed")
    });
    assert_eq!(r, Err("body failed"));
    assert_eq!(exited.load(Ordering::SeqCst), 3);
}

#[test]
fn try_scope_returns_the_body_s_value_when_nothing_fails() {
    let _w = watchdog(Duration::from_secs(30));
    let data = [1, 2, 3, 4];
    let r: Result<i32, String> = verdant::try_scope(|s| {
        let hs: Vec<_> = data
            .chunks(2)
            .map(|c| s.spawn(move || Ok(c.iter().sum::<i32>())))
            .collect();
        Ok(hs.into_iter().map(|h| h.join().unwrap()).sum())
    });
    assert_eq!(r, Ok(10));
}

#[test]
fn a_thread_s_error_wins_over_the_body_s_later_one() {
    let _w = watchdog(Duration::from_secs(30));
    let r: Result<(), &str> = verdant::try_scope(|s| {
        let h = s.spawn(|| Err::<(), _>("thread"));
        // Joined: the thread has failed (and handed its error over) before
        // the body fails.
        assert!(h.join().unwrap_err().is_cancelled());
        Err("body")
    });
    assert_eq!(r, Err("thread"));
}

#[test]
fn a_panic_of_the_body_cancels_the_threads() {
    let _w = watchdog(Duration::from_secs(30));
    let exited = Arc::new(AtomicUsize::new(0));
    let (_tx, rx) = verdant::sync::bounded::<()>(1); // never sent to
    let r = catch_unwind(AssertUnwindSafe(|| {
        verdant::scope(|s| {
            // Captured: a thread cancelled before it starts drops it too.
            let g = DropCount(exited.clone());
            let rx = &rx;
            s.spawn(move || {
                let _g = g;
                let _ = rx.recv();
            });
            panic!("body");
        })
    }));
    assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "body");
    assert_eq!(exited.load(Ordering::SeqCst), 1);
}

#[test]
fn a_cancelled_thread_does_not_cancel_its_siblings() {
    let _w = watchdog(Duration::from_secs(30));
    let (tx, rx) = verdant::sync::bounded::<i32>(1);
    let v = verdant::scope(|s| {
        let parked = s.spawn(|| verdant::sleep(Duration::from_secs(3600)));
        let sibling = s.spawn(|| rx.recv().unwrap());
        // Cancelling one thread is not a failure of the scope.
        parked.cancel();
        assert!(parked.join().unwrap_err().is_cancelled());
        tx.send(5).unwrap();
        sibling.join().unwrap()
    });
    assert_eq!(v, 5);
}
