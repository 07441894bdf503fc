//! Interrupts (cancellation, `timeout` deadlines) and unwinding: a thread that
//! is unwinding is never interrupted again (a second unwind out of a
//! destructor aborts the process), and an interrupt held back because a
//! thread only *looks* as if it were unwinding is delayed, never lost.
//! Regressions from review; a failure here is an abort or a hang, which the
//! watchdog turns into a loud test failure.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use support::{rt, watchdog};
use verdant::sync::bounded;

/// Parks in its destructor.
struct SleepOnDrop;
impl Drop for SleepOnDrop {
    fn drop(&mut self) {
        verdant::sleep(Duration::from_millis(5));
    }
}

/// Regression: `scope` caught a cancellation, waited for its thread (which
/// cleared the "unwinding" mark) and re-raised it unmarked; a destructor
/// that parked further up was then interrupted again: process abort.
#[test]
fn a_re_raised_cancellation_lets_parking_destructors_finish() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(|| {
        let (inside_tx, inside_rx) = bounded::<()>(1);
        let (go_tx, go_rx) = bounded::<()>(1);
        let owner = verdant::spawn(move || {
            let _guard = SleepOnDrop;
            verdant::scope(|s| {
                s.spawn(move || go_rx.recv().unwrap());
                inside_tx.send(()).unwrap();
                verdant::sleep(Duration::from_secs(3600));
            });
        });
        inside_rx.recv().unwrap();
        owner.cancel();
        go_tx.send(()).unwrap();
        assert!(owner.join().unwrap_err().is_cancelled());
    });
}

/// Regression: a thread that had caught a panic kept a stale "unwinding"
/// mark; while another thread of its worker was parked mid-unwind, its
/// cancellation was held back and then lost for good.
#[test]
fn a_cancellation_held_back_by_a_stale_unwinding_mark_is_not_lost() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    rt.block_on(|| {
        struct WaitOnDrop(verdant::sync::Receiver<()>);
        impl Drop for WaitOnDrop {
            fn drop(&mut self) {
                let _ = self.0.recv();
            }
        }
        let (release_tx, release_rx) = bounded::<()>(1);
        let (ready_tx, ready_rx) = bounded::<()>(2);
        let r2 = ready_tx.clone();
        let b = verdant::spawn(move || {
            let _d = WaitOnDrop(release_rx);
            r2.send(()).unwrap();
            verdant::sleep(Duration::from_secs(3600));
        });
        ready_rx.recv().unwrap();
        b.cancel(); // B unwinds and parks in its destructor
        verdant::yield_now();
        let a = verdant::spawn(move || {
            let _ = catch_unwind(|| panic!("caught and moved on"));
            ready_tx.send(()).unwrap();
            let (_keep, never) = bounded::<()>(1);
            let _ = never.recv();
        });
        ready_rx.recv().unwrap();
        a.cancel();
        release_tx.send(()).unwrap(); // B finishes unwinding
        assert!(a.join().unwrap_err().is_cancelled(), "A's cancellation was lost");
        assert!(b.join().unwrap_err().is_cancelled());
    });
}

/// Regression: at shutdown a cancelled thread's destructor used `scope`;
/// the spawn failed (runtime shutting down) but the scope still waited for
/// the thread that never existed, and `Runtime` drop hung.
#[test]
fn a_scope_whose_spawn_fails_during_shutdown_returns() {
    let _w = watchdog(Duration::from_secs(30));
    struct ScopeOnDrop;
    impl Drop for ScopeOnDrop {
        fn drop(&mut self) {
            let x = 5;
            let r = catch_unwind(AssertUnwindSafe(|| verdant::scope(|s| s.spawn(|| x + 1).join().ok())));
            assert!(r.is_err(), "spawning on a runtime that shuts down fails");
        }
    }
    let rt = rt(2);
    let (tx, rx) = std::sync::mpsc::channel();
    rt.spawn(move || {
        let _g = ScopeOnDrop;
        tx.send(()).unwrap();
        verdant::sleep(Duration::from_secs(3600));
    });
    rx.recv().unwrap();
    drop(rt); // must return
}

/// Regression: at shutdown a thread that swallowed its cancellation and
/// parked again while a neighbour was mid-unwind was never cancelled again,
/// so `Runtime` drop waited forever.
#[test]
fn shutdown_completes_when_a_thread_swallows_cancellation_beside_an_unwinding_one() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let t1 = tx.clone();
    rt.spawn(move || {
        let _d = SleepOnDrop;
        t1.send(()).unwrap();
        verdant::sleep(Duration::from_secs(3600));
    });
    rt.spawn(move || {
        tx.send(()).unwrap();
        let (_keep, never) = bounded::<()>(1);
        for _ in 0..3 {
            let _ = catch_unwind(AssertUnwindSafe(|| never.recv()));
        }
    });
    rx.recv().unwrap();
    rx.recv().unwrap();
    drop(rt); // must return
}

/// `verdant::panicking()` is per green thread: while one green thread of a
/// worker is parked in a destructor run by its panic, std's
/// `thread::panicking()` is true for the whole OS thread, but another green
/// thread of that worker is not panicking.
#[test]
fn panicking_is_per_green_thread() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    rt.block_on(|| {
        let (inside_tx, inside_rx) = bounded::<bool>(1);
        let (go_tx, go_rx) = bounded::<()>(1);
        struct Parks(verdant::sync::Sender<bool>, verdant::sync::Receiver<()>);
        impl Drop for Parks {
            fn drop(&mut self) {
                self.0.send(verdant::panicking()).unwrap();
                self.1.recv().unwrap(); // parks mid-unwind
            }
        }
        let panicker = verdant::spawn(move || {
            let _p = Parks(inside_tx, go_rx);
            panic!("unwinds through Parks");
        });
        assert!(inside_rx.recv().unwrap(), "the unwinding thread sees itself panicking");
        // Same worker, while the panicker is parked mid-unwind.
        assert!(!verdant::panicking());
        go_tx.send(()).unwrap();
        assert!(panicker.join().is_err());
        assert!(!verdant::panicking());
    });
}
