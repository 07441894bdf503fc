//! Scoped green threads borrow from the caller and are all joined.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::watchdog;

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
    let finished = AtomicUsize::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        verdant::scope(|s| {
            s.spawn(|| panic!("scoped"));
            s.spawn(|| {
                verdant::sleep(Duration::from_millis(10));
                finished.fetch_add(1, Ordering::SeqCst);
            });
        })
    }));
    assert!(r.is_err());
    assert_eq!(
        finished.load(Ordering::SeqCst),
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
/// while a scoped thread still borrowed the frame (use after free).
#[test]
fn scope_waits_for_its_threads_even_when_an_enclosing_timeout_expires() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = verdant::Runtime::builder().workers(2).build().unwrap();
    let (result, child_done_first) = rt.block_on(|| {
        let (tx, rx) = verdant::sync::bounded::<()>(1);
        let deadline = std::time::Instant::now() + Duration::from_millis(20);
        // Releases the scoped thread only after the deadline has passed.
        verdant::spawn(move || {
            verdant::sleep_until(deadline + Duration::from_millis(20));
            tx.send(()).unwrap();
        });
        let done = AtomicUsize::new(0);
        let r = verdant::timeout_at(deadline, || {
            let borrowed = [7u8; 64];
            verdant::scope(|s| {
                s.spawn(|| {
                    rx.recv().unwrap();
                    assert_eq!(borrowed[63], 7);
                    done.store(1, Ordering::SeqCst);
                });
            });
        });
        (r, done.load(Ordering::SeqCst) == 1)
    });
    assert!(child_done_first, "scope returned while its thread still ran");
    assert!(result.is_err(), "the deadline passed before timeout returned");
}

/// Regression: cancelling the owner of a scope unwound out of its wait
/// while a scoped thread still borrowed the frame (crashed with SIGSEGV).
#[test]
fn scope_waits_for_its_threads_even_when_its_owner_is_cancelled() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    let owner_left_after_child = rt.block_on(|| {
        let child_done = std::sync::Arc::new(AtomicUsize::new(0));
        let seen_at_exit = std::sync::Arc::new(AtomicUsize::new(usize::MAX));
        let (go_tx, go_rx) = verdant::sync::bounded::<()>(1);
        let (in_tx, in_rx) = verdant::sync::bounded::<()>(1);
        struct OnExit(std::sync::Arc<AtomicUsize>, std::sync::Arc<AtomicUsize>);
        impl Drop for OnExit {
            fn drop(&mut self) {
                self.1.store(self.0.load(Ordering::SeqCst), Ordering::SeqCst);
            }
        }
        let (cd, seen) = (child_done.clone(), seen_at_exit.clone());
        let owner = verdant::spawn(move || {
            let _exit = OnExit(cd.clone(), seen);
            let borrowed = [1u8; 64];
            verdant::scope(|s| {
                s.spawn(|| {
                    in_tx.send(()).unwrap();
                    go_rx.recv().unwrap();
                    assert_eq!(borrowed[0], 1);
                    cd.store(1, Ordering::SeqCst);
                });
            });
        });
        in_rx.recv().unwrap(); // the scoped thread runs; the owner waits in scope
        owner.cancel();
        // One worker: the cancelled owner runs before we continue, and must
        // go back to waiting rather than unwind.
        verdant::yield_now();
        verdant::yield_now();
        go_tx.send(()).unwrap();
        assert!(owner.join().unwrap_err().is_cancelled());
        seen_at_exit.load(Ordering::SeqCst)
    });
    assert_eq!(
        owner_left_after_child, 1,
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
