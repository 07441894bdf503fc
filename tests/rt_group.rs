//! `Group`: green threads joined in completion order, cancelled together.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::run;
use verdant::sync::bounded;
use verdant::Group;

/// Counts its drops: a thread holding one ran its destructors.
struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn join_next_returns_in_completion_order() {
    run(|| {
        let mut group = Group::new();
        let mut gates = Vec::new();
        for i in 0..3 {
            let (tx, rx) = bounded::<()>(1);
            gates.push(tx);
            group.spawn(move || {
                rx.recv().unwrap();
                i
            });
        }
        assert_eq!(group.len(), 3);
        for i in [2, 0, 1] {
            gates[i].send(()).unwrap();
            assert_eq!(group.join_next().unwrap().unwrap(), i);
        }
        assert!(group.is_empty());
        assert!(group.join_next().is_none());
    });
}

#[test]
fn join_next_on_an_empty_group_is_none() {
    let _w = support::watchdog(Duration::from_secs(30));
    let mut group = Group::<u8>::new();
    assert!(group.join_next().is_none());
    assert!(matches!(group.join_next_timeout(Duration::from_secs(60)), Ok(None)));
    assert!(group.join_all().is_empty());
    run(|| assert!(Group::<()>::default().join_next().is_none()));
}

#[test]
fn join_next_timeout_both_outcomes() {
    run(|| {
        let mut group = Group::new();
        let (tx, rx) = bounded::<u32>(1);
        group.spawn(move || rx.recv().unwrap());
        assert!(group.join_next_timeout(Duration::from_millis(10)).is_err());
        assert_eq!(group.len(), 1, "a timeout keeps the thread in the group");
        tx.send(9).unwrap();
        let r = group.join_next_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(r.unwrap().unwrap(), 9);
        assert!(group.is_empty());
    });
}

#[test]
fn outcomes_report_panics_and_cancellations() {
    run(|| {
        let mut group = Group::new();
        group.spawn(|| -> u8 { panic!("in a group") });
        let r = group.join_next().unwrap();
        assert!(r.unwrap_err().is_panic());
        let (_tx, rx) = bounded::<u8>(1);
        group.spawn(move || rx.recv().unwrap());
        group.cancel_all();
        assert!(group.is_empty());
    });
}

#[test]
fn dropping_a_group_cancels_its_threads_and_waits_for_them() {
    run(|| {
        let dropped = Arc::new(AtomicUsize::new(0));
        let (_tx, rx) = bounded::<()>(1); // never sent to
        let (ready_tx, ready_rx) = bounded::<()>(8);
        let mut group = Group::new();
        for _ in 0..4 {
            let (d, rx, ready) = (dropped.clone(), rx.clone(), ready_tx.clone());
            group.spawn(move || {
                let _g = DropCount(d);
                ready.send(()).unwrap();
                let _ = rx.recv();
            });
        }
        for _ in 0..4 {
            ready_rx.recv().unwrap();
        }
        drop(group);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            4,
            "the drop returned before its threads ended"
        );
    });
}

#[test]
fn cancel_all_cancels_and_waits_and_the_group_can_be_reused() {
    run(|| {
        let dropped = Arc::new(AtomicUsize::new(0));
        let mut group = Group::new();
        for _ in 0..3 {
            let g = DropCount(dropped.clone());
            group.spawn(move || {
                let _g = g;
                verdant::sleep(Duration::from_secs(3600));
            });
        }
        group.cancel_all();
        assert_eq!(dropped.load(Ordering::SeqCst), 3);
        assert!(group.is_empty());
        group.spawn(|| ());
        assert!(group.join_next().unwrap().is_ok());
        assert!(
            group.join_next().is_none(),
            "no stale completion left from the cancelled ones"
        );
    });
}

#[test]
fn join_all_collects_every_outcome() {
    run(|| {
        let mut group = Group::new();
        for i in 0..200u32 {
            group.spawn(move || {
                verdant::yield_now();
                i
            });
        }
        let mut all: Vec<u32> = group.join_all().into_iter().map(Result::unwrap).collect();
        all.sort_unstable();
        assert_eq!(all, (0..200).collect::<Vec<_>>());
        assert!(group.is_empty());
    });
}

#[test]
fn a_group_is_send_joined_from_an_os_thread_and_from_another_green_thread() {
    fn assert_send<T: Send>(_: &T) {}
    let _w = support::watchdog(Duration::from_secs(30));
    let rt = support::rt(2);
    let (tx, rx) = bounded::<u8>(1);
    let mut group = Group::new();
    rt.block_on(move || {
        let mut g = Group::new();
        g.spawn(move || rx.recv().unwrap());
        g
    })
    .join_next_timeout(Duration::from_millis(1))
    .expect_err("nothing sent yet");
    // That group was filled in a green thread, joined (timing out) on this
    // OS thread, and dropped here (cancelling its thread). This one moves
    // into a green thread to be joined there.
    let (tx2, rx2) = bounded::<u8>(1);
    group.spawn(move || rx2.recv().unwrap());
    assert_send(&group);
    let moved = verdant::spawn(move || {
        tx2.send(3).unwrap();
        group.join_next().unwrap().unwrap()
    });
    assert_eq!(moved.join().unwrap(), 3);
    drop(tx);
}
