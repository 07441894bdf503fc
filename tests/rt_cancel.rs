mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::run;
use verdant::sync::{bounded, Event, Mutex};

struct SetOnDrop(Arc<AtomicBool>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn cancel_parked_in_recv() {
    run(|| {
        let (_tx, rx) = bounded::<u32>(1);
        let dropped = Arc::new(AtomicBool::new(false));
        let d = SetOnDrop(dropped.clone());
        let started = Event::new();
        let s = started.clone();
        let h = verdant::spawn(move || {
            let _d = d;
            s.set();
            rx.recv()
        });
        started.wait();
        h.cancel();
        assert!(h.join().unwrap_err().is_cancelled());
        assert!(dropped.load(Ordering::SeqCst), "destructors ran");
    });
}

#[test]
fn cancel_parked_in_sleep() {
    run(|| {
        let dropped = Arc::new(AtomicBool::new(false));
        let d = SetOnDrop(dropped.clone());
        let h = verdant::spawn(move || {
            let _d = d;
            verdant::sleep(Duration::from_secs(3600));
        });
        verdant::sleep(Duration::from_millis(5));
        h.cancel();
        assert!(h.join().unwrap_err().is_cancelled());
        assert!(dropped.load(Ordering::SeqCst));
    });
}

#[test]
fn cancel_parked_in_lock_releases_held_guards() {
    run(|| {
        let held = Arc::new(Mutex::new(0));
        let wanted = Arc::new(Mutex::new(0));
        let g = wanted.lock().unwrap();
        let (h2, w2) = (held.clone(), wanted.clone());
        let h = verdant::spawn(move || {
            let _mine = h2.lock().unwrap();
            *w2.lock().unwrap() += 1; // parks: `wanted` is held
        });
        verdant::sleep(Duration::from_millis(5));
        h.cancel();
        assert!(h.join().unwrap_err().is_cancelled());
        drop(g);
        assert!(held.try_lock().is_ok(), "the cancelled thread's guard was released");
        assert_eq!(*wanted.lock().unwrap(), 0);
    });
}

#[test]
fn swallowed_cancellation_still_reports_cancelled() {
    run(|| {
        let (_tx, rx) = bounded::<u32>(1);
        let parks = Arc::new(AtomicUsize::new(0));
        let p = parks.clone();
        let h = verdant::spawn(move || {
            // Code that catches the unwinding and goes on: it must not spin
            // forever, and join must still say cancelled.
            for _ in 0..3 {
                let r = catch_unwind(AssertUnwindSafe(|| rx.recv()));
                p.fetch_add(1, Ordering::SeqCst);
                assert!(r.is_err());
            }
            "returned normally"
        });
        verdant::sleep(Duration::from_millis(5));
        h.cancel();
        assert!(h.join().unwrap_err().is_cancelled());
        assert_eq!(parks.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn cancel_before_start_never_runs() {
    // One worker: the new thread cannot start before this one parks.
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    rt.block_on(|| {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let gate = Event::new();
        let g = gate.clone();
        let captured = Arc::new(());
        let c = captured.clone();
        let h = verdant::spawn(move || {
            let _c = c;
            g.wait();
            r.store(true, Ordering::SeqCst);
        });
        h.cancel();
        gate.set();
        assert!(h.join().unwrap_err().is_cancelled());
        assert!(!ran.load(Ordering::SeqCst));
        // Its function, captures and all, was dropped before it counted as
        // complete, though the thread's allocation is still referenced.
        assert_eq!(Arc::strong_count(&captured), 1);
    });
}

/// Parks in its destructor, and records whether that ran on a green thread.
struct ParksOnDrop {
    on_green: Arc<AtomicBool>,
    dropped: Arc<AtomicBool>,
}

impl Drop for ParksOnDrop {
    fn drop(&mut self) {
        self.on_green.store(verdant::current().is_green(), Ordering::SeqCst);
        verdant::sleep(Duration::from_millis(1));
        self.dropped.store(true, Ordering::SeqCst);
    }
}

/// Regression: the captures of a thread cancelled before it started were
/// dropped on the worker loop itself, outside any green thread, so a
/// destructor that parks blocked the worker's OS thread.
#[test]
fn captures_of_a_thread_cancelled_before_start_are_dropped_on_a_green_thread() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    rt.block_on(|| {
        let on_green = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicBool::new(false));
        let capture = ParksOnDrop {
            on_green: on_green.clone(),
            dropped: dropped.clone(),
        };
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        // One worker: it cannot start before this thread parks in `join`.
        let h = verdant::spawn(move || {
            let _c = capture;
            r.store(true, Ordering::SeqCst);
        });
        h.cancel();
        assert!(h.join().unwrap_err().is_cancelled());
        assert!(!ran.load(Ordering::SeqCst), "a thread cancelled before it started ran");
        assert!(
            dropped.load(Ordering::SeqCst),
            "its captures were dropped before join returned"
        );
        assert!(
            on_green.load(Ordering::SeqCst),
            "its captures were dropped outside a green thread"
        );
    });
}

#[test]
fn cancel_while_joining_spawn_blocking_waits_for_the_call() {
    // Documented choice: the green thread is cancelled when the blocking
    // call returns (the call's effects are complete when its destructors run).
    run(|| {
        let finished = Arc::new(AtomicBool::new(false));
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let f = finished.clone();
        let observed = Arc::new(AtomicBool::new(false));
        let o = observed.clone();
        let h = verdant::spawn(move || {
            struct Check(Arc<AtomicBool>, Arc<AtomicBool>);
            impl Drop for Check {
                fn drop(&mut self) {
                    // At unwinding time, the blocking call has returned.
                    self.1.store(self.0.load(Ordering::SeqCst), Ordering::SeqCst);
                }
            }
            let _c = Check(f.clone(), o);
            verdant::spawn_blocking(move || {
                go_rx.recv().unwrap();
                f.store(true, Ordering::SeqCst);
            })
            .join()
            .unwrap();
            "not reached"
        });
        verdant::sleep(Duration::from_millis(10));
        h.cancel();
        verdant::sleep(Duration::from_millis(10));
        assert!(!h.is_finished(), "still waiting for the blocking call");
        go_tx.send(()).unwrap();
        assert!(h.join().unwrap_err().is_cancelled());
        assert!(observed.load(Ordering::SeqCst));
    });
}

#[test]
fn blocking_destructor_during_cancellation_still_waits() {
    run(|| {
        let (tx, rx) = bounded::<u32>(1);
        let got = Arc::new(AtomicUsize::new(0));
        let g = got.clone();
        struct RecvOnDrop(verdant::sync::Receiver<u32>, Arc<AtomicUsize>);
        impl Drop for RecvOnDrop {
            fn drop(&mut self) {
                // Parks while unwinding: must neither abort nor spin.
                let v = self.0.recv().unwrap_or(0);
                self.1.store(v as usize, Ordering::SeqCst);
            }
        }
        let h = verdant::spawn(move || {
            let _d = RecvOnDrop(rx, g);
            verdant::sleep(Duration::from_secs(3600));
        });
        verdant::sleep(Duration::from_millis(5));
        h.cancel();
        verdant::sleep(Duration::from_millis(5));
        tx.send(9).unwrap();
        assert!(h.join().unwrap_err().is_cancelled());
        assert_eq!(got.load(Ordering::SeqCst), 9);
    });
}

/// A green thread that, once cancelled, parks in a destructor until
/// released: while it waits there it is halfway through its unwinding.
fn parked_mid_unwind(rt: &verdant::Runtime) -> (verdant::JoinHandle<()>, verdant::sync::Sender<()>) {
    struct WaitOnDrop(verdant::sync::Receiver<()>, std::sync::mpsc::Sender<()>);
    impl Drop for WaitOnDrop {
        fn drop(&mut self) {
            self.1.send(()).unwrap();
            let _ = self.0.recv();
        }
    }
    let (release_tx, release_rx) = bounded::<()>(1);
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let a = rt.spawn(move || {
        let _d = WaitOnDrop(release_rx, entered_tx);
        started_tx.send(()).unwrap();
        verdant::sleep(Duration::from_secs(3600));
    });
    started_rx.recv().unwrap();
    a.cancel();
    entered_rx.recv().unwrap(); // A now waits inside its destructor
    (a, release_tx)
}

/// Regression: `std::thread::panicking()` counts per OS thread, so while
/// one green thread was parked mid-unwind every other green thread of its
/// worker looked as if it were unwinding, and its cancellation was ignored.
#[test]
fn cancellation_works_while_another_thread_of_the_worker_is_mid_unwind() {
    let _w = support::watchdog(Duration::from_secs(30));
    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    let (a, release) = parked_mid_unwind(&rt);
    let b = rt.spawn(|| verdant::sleep(Duration::from_secs(3600)));
    b.cancel();
    assert!(b.join().unwrap_err().is_cancelled());
    release.send(()).unwrap();
    assert!(a.join().unwrap_err().is_cancelled());
}

/// Regression: same leak; a `timeout` started by another thread of the
/// worker while one was parked mid-unwind never fired.
#[test]
fn timeouts_fire_while_another_thread_of_the_worker_is_mid_unwind() {
    let _w = support::watchdog(Duration::from_secs(30));
    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    let (a, release) = parked_mid_unwind(&rt);
    let (_keep, rx) = bounded::<()>(1);
    let b = rt.spawn(move || verdant::timeout(Duration::from_millis(20), || rx.recv()).is_err());
    assert!(b.join().unwrap(), "the timeout did not expire");
    release.send(()).unwrap();
    assert!(a.join().unwrap_err().is_cancelled());
}

/// Counts its drops: a thread holding one ran its destructors.
struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A thread that signals `ready`, then parks until cancelled, counting its
/// exit in `exits`.
fn parked_child(exits: &Arc<AtomicUsize>, ready: &verdant::sync::Sender<()>) -> impl FnOnce() + Send + 'static {
    let (g, ready) = (DropCount(exits.clone()), ready.clone());
    move || {
        let _g = g;
        ready.send(()).unwrap();
        verdant::sleep(Duration::from_secs(3600));
    }
}

#[test]
fn a_cancelled_parent_takes_its_group_with_it() {
    run(|| {
        let exits = Arc::new(AtomicUsize::new(0));
        let (ready_tx, ready_rx) = bounded::<()>(8);
        let (e, r) = (exits.clone(), ready_tx.clone());
        let parent = verdant::spawn(move || {
            let mut group = verdant::Group::new();
            for _ in 0..3 {
                group.spawn(parked_child(&e, &r));
            }
            group.join_next(); // parks: the cancellation unwinds from here
        });
        for _ in 0..3 {
            ready_rx.recv().unwrap();
        }
        parent.cancel();
        assert!(parent.join().unwrap_err().is_cancelled());
        assert_eq!(
            exits.load(Ordering::SeqCst),
            3,
            "the group's threads outlived their cancelled owner"
        );
    });
}

#[test]
fn a_cancelled_parent_takes_its_scope_with_it() {
    // Cancelled while its scope's body parks elsewhere, and while the scope
    // waits for its threads (the body has returned).
    for body_parks in [true, false] {
        run(move || {
            let exits = Arc::new(AtomicUsize::new(0));
            let (ready_tx, ready_rx) = bounded::<()>(8);
            let (e, r) = (exits.clone(), ready_tx.clone());
            let parent = verdant::spawn(move || {
                let (_tx, rx) = bounded::<()>(1); // never sent to
                verdant::scope(|s| {
                    for _ in 0..3 {
                        s.spawn(parked_child(&e, &r));
                    }
                    if body_parks {
                        r.send(()).unwrap();
                        let _ = rx.recv();
                    }
                });
            });
            let expected = if body_parks { 4 } else { 3 };
            for _ in 0..expected {
                ready_rx.recv().unwrap();
            }
            parent.cancel();
            assert!(parent.join().unwrap_err().is_cancelled());
            assert_eq!(exits.load(Ordering::SeqCst), 3, "body_parks = {body_parks}");
        });
    }
}

#[test]
fn cancellation_flows_down_through_groups_and_scopes() {
    run(|| {
        let exits = Arc::new(AtomicUsize::new(0));
        let (ready_tx, ready_rx) = bounded::<()>(16);
        let (e, r) = (exits.clone(), ready_tx.clone());
        // parent -> group -> two threads, each -> scope -> two threads
        let parent = verdant::spawn(move || {
            let mut group = verdant::Group::new();
            for _ in 0..2 {
                let (e, r) = (e.clone(), r.clone());
                group.spawn(move || {
                    let _g = DropCount(e.clone());
                    verdant::scope(|s| {
                        for _ in 0..2 {
                            s.spawn(parked_child(&e, &r));
                        }
                    });
                });
            }
            group.join_all();
        });
        for _ in 0..4 {
            ready_rx.recv().unwrap();
        }
        parent.cancel();
        assert!(parent.join().unwrap_err().is_cancelled());
        assert_eq!(exits.load(Ordering::SeqCst), 2 + 4);
    });
}

#[test]
fn join_timeout_gives_the_handle_back_or_the_outcome() {
    run(|| {
        let (tx, rx) = bounded::<u32>(1);
        let h = verdant::spawn(move || rx.recv().unwrap());
        let h = h.join_timeout(Duration::from_millis(10)).expect_err("still parked");
        assert!(!h.is_finished());
        tx.send(4).unwrap();
        assert_eq!(h.join_timeout(Duration::from_secs(60)).unwrap().unwrap(), 4);
        let h = verdant::spawn(|| -> u8 { panic!("x") });
        assert!(h.join_timeout(Duration::from_secs(60)).unwrap().unwrap_err().is_panic());
        let h = verdant::spawn(|| 1);
        assert_eq!(h.join_timeout(Duration::MAX).unwrap().unwrap(), 1);
    });
}

#[test]
fn wait_any_and_wait_all_take_any_iterable_of_handles() {
    run(|| {
        let (tx, rx) = bounded::<()>(1);
        let parked = verdant::spawn(move || rx.recv().unwrap());
        let done = verdant::spawn(|| ());
        assert_eq!(verdant::wait_any([&parked, &done]), 1);
        assert_eq!(verdant::wait_any(vec![&done, &parked]), 0);
        assert_eq!(verdant::wait_any_timeout([&parked], Duration::from_millis(5)), None);
        let hs = vec![parked, done];
        assert_eq!(verdant::wait_any(&hs), 1);
        assert_eq!(verdant::wait_any(hs.iter().rev()), 0);
        assert_eq!(verdant::wait_any_timeout(&hs, Duration::from_secs(60)), Some(1));
        tx.send(()).unwrap();
        verdant::wait_all(&hs);
        verdant::wait_all(hs.iter());
        assert!(hs.iter().all(|h| h.is_finished()));
        assert_eq!(verdant::wait_any(&hs), 0);
    });
}

#[test]
fn join_any_joins_the_first_to_finish_and_returns_the_rest() {
    run(|| {
        let mut gates = Vec::new();
        let mut hs = Vec::new();
        for i in 0..3u32 {
            let (tx, rx) = bounded::<()>(1);
            gates.push(tx);
            hs.push(verdant::spawn(move || {
                rx.recv().unwrap();
                i
            }));
        }
        gates[1].send(()).unwrap();
        let (first, index, rest) = verdant::join_any(hs);
        assert_eq!((first.unwrap(), index), (1, 1));
        assert_eq!(rest.len(), 2);
        gates[2].send(()).unwrap();
        let (first, index, rest) = verdant::join_any(rest);
        assert_eq!((first.unwrap(), index), (2, 1));
        gates[0].send(()).unwrap();
        let (first, index, rest) = verdant::join_any(rest);
        assert_eq!((first.unwrap(), index, rest.len()), (0, 0, 0));
    });
}
