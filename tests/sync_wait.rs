//! The pass-on rule, primitive by primitive: a waiter chosen by a
//! `notify_one` that leaves before it acts on the notification (it is
//! cancelled, or its `verdant::timeout` expires) hands the notification to
//! the next waiter, so no wakeup is lost. And the semaphore's FIFO order.
//!
//! Every scenario runs on one worker, so the order is fixed: waiter A
//! queues, then waiter B; the notifier chooses A while neither runs; A is
//! then made to leave before it runs. Without the pass-on, B would sleep
//! forever (the watchdog aborts).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use verdant::sync::{bounded, unbounded, Condvar, Mutex, Queue, RwLock, Semaphore};

/// How the chosen waiter leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    /// `JoinHandle::cancel` before it runs.
    Cancelled,
    /// Its `verdant::timeout` deadline passes before it runs.
    TimedOut,
}

/// A's `verdant::timeout`.
const LIMIT: Duration = Duration::from_millis(200);

/// Runs `scenario` as a green thread on a one-worker runtime, under a
/// watchdog.
#[track_caller]
fn on_one_worker<F: FnOnce() + Send + 'static>(scenario: F) {
    let _w = support::watchdog(Duration::from_secs(30));
    let rt = support::rt(1);
    rt.block_on(scenario);
}

/// Waiters A then B block in `wait`; `notify_one` chooses A (neither has
/// run since); A leaves as `how` says; B must get through.
fn chosen_waiter_leaves(how: How, wait: impl Fn() + Send + Sync + 'static, notify_one: impl FnOnce()) {
    let wait = Arc::new(wait);
    let (ready_tx, ready_rx) = unbounded::<()>();
    let spawn = |limit: Option<Duration>| {
        let (wait, ready) = (wait.clone(), ready_tx.clone());
        verdant::spawn(move || {
            ready.send(()).unwrap();
            match limit {
                // Err(Elapsed): it left the wait by unwinding.
                Some(limit) => verdant::timeout(limit, || wait()).is_err(),
                None => {
                    wait();
                    false
                }
            }
        })
    };
    let start = Instant::now();
    // One worker: each runs up to its wait (and parks) before `recv` returns.
    let a = spawn((how == How::TimedOut).then_some(LIMIT));
    ready_rx.recv().unwrap();
    let b = spawn(None);
    ready_rx.recv().unwrap();
    notify_one();
    match how {
        How::Cancelled => a.cancel(),
        How::TimedOut => {
            // Keep the only worker until A's deadline has passed, so A
            // finds it expired when it next runs.
            while start.elapsed() < LIMIT + Duration::from_millis(20) {
                std::hint::spin_loop();
            }
        }
    }
    b.join().expect("B was handed the notification");
    match how {
        How::Cancelled => assert!(a.join().unwrap_err().is_cancelled()),
        How::TimedOut => assert!(a.join().unwrap(), "A's timeout should have ended its wait"),
    }
}

fn mutex(how: How) {
    on_one_worker(move || {
        let m = Arc::new(Mutex::new(()));
        let held = m.lock().unwrap();
        let m2 = m.clone();
        chosen_waiter_leaves(how, move || drop(m2.lock().unwrap()), || drop(held));
    });
}

#[test]
fn mutex_lock_cancelled_after_being_chosen_passes_on() {
    mutex(How::Cancelled);
}

#[test]
fn mutex_lock_timed_out_after_being_chosen_passes_on() {
    mutex(How::TimedOut);
}

#[test]
fn rwlock_write_cancelled_after_being_chosen_passes_on() {
    on_one_worker(|| {
        let l = Arc::new(RwLock::new(()));
        let held = l.write().unwrap();
        let l2 = l.clone();
        chosen_waiter_leaves(How::Cancelled, move || drop(l2.write().unwrap()), || drop(held));
    });
}

fn condvar(how: How) {
    on_one_worker(move || {
        let pair = Arc::new((Mutex::new(()), Condvar::new()));
        let p = pair.clone();
        // One `wait` returns on one notification.
        let wait = move || drop(p.1.wait(p.0.lock().unwrap()).unwrap());
        chosen_waiter_leaves(how, wait, || pair.1.notify_one());
    });
}

#[test]
fn condvar_wait_cancelled_after_being_chosen_passes_on() {
    condvar(How::Cancelled);
}

#[test]
fn condvar_wait_timed_out_after_being_chosen_passes_on() {
    condvar(How::TimedOut);
}

#[test]
fn channel_recv_cancelled_after_being_chosen_passes_on() {
    on_one_worker(|| {
        let (tx, rx) = bounded::<u32>(4);
        chosen_waiter_leaves(
            How::Cancelled,
            move || assert_eq!(rx.recv(), Ok(1)),
            || tx.send(1).unwrap(),
        );
    });
}

#[test]
fn channel_send_cancelled_after_being_chosen_passes_on() {
    on_one_worker(|| {
        let (tx, rx) = bounded::<u32>(1);
        tx.send(0).unwrap(); // full
        chosen_waiter_leaves(
            How::Cancelled,
            move || tx.send(1).unwrap(),
            || assert_eq!(rx.recv(), Ok(0)),
        );
    });
}

#[test]
fn queue_get_cancelled_after_being_chosen_passes_on() {
    on_one_worker(|| {
        let q = Arc::new(Queue::<u32>::new());
        let q2 = q.clone();
        chosen_waiter_leaves(How::Cancelled, move || assert_eq!(q2.get(), 1), || q.put(1));
    });
}

#[test]
fn select_cancelled_after_being_chosen_passes_on() {
    on_one_worker(|| {
        let (tx1, rx1) = bounded::<u32>(4);
        let (_tx2, rx2) = bounded::<u32>(4);
        let wait = move || {
            verdant::select! {
                recv(rx2) -> m => m.map(drop),
                recv(rx1) -> m => m.map(drop),
            }
            .unwrap()
        };
        chosen_waiter_leaves(How::Cancelled, wait, || tx1.send(1).unwrap());
    });
}

fn semaphore(how: How) {
    on_one_worker(move || {
        let sem = Arc::new(Semaphore::new(1));
        sem.acquire().forget();
        let s2 = sem.clone();
        // A chosen waiter was handed the permit: leaving, it hands it on.
        chosen_waiter_leaves(how, move || drop(s2.acquire()), || sem.release().unwrap());
        assert_eq!(sem.available_permits(), 1, "a permit was lost");
    });
}

#[test]
fn semaphore_acquire_cancelled_after_being_chosen_passes_the_permit_on() {
    semaphore(How::Cancelled);
}

#[test]
fn semaphore_acquire_timed_out_after_being_chosen_passes_the_permit_on() {
    semaphore(How::TimedOut);
}

/// FIFO: permits go to waiters in arrival order, and a newcomer cannot take
/// a permit released while others wait.
#[test]
fn semaphore_is_fifo_and_a_newcomer_cannot_barge() {
    on_one_worker(|| {
        let sem = Arc::new(Semaphore::new(1));
        let first = sem.acquire();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = unbounded::<()>();
        let waiters: Vec<_> = (0..4)
            .map(|i| {
                let (sem, order, ready) = (sem.clone(), order.clone(), ready_tx.clone());
                let h = verdant::spawn(move || {
                    ready.send(()).unwrap();
                    let _p = sem.acquire();
                    order.lock().unwrap().push(i);
                    verdant::yield_now(); // hold it across a switch
                });
                ready_rx.recv().unwrap(); // waiter i queued before i + 1
                h
            })
            .collect();
        drop(first);
        assert!(
            sem.try_acquire().is_none(),
            "a newcomer took the permit released to the oldest waiter"
        );
        waiters.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3]);
        assert_eq!(sem.available_permits(), 1);
    });
}

/// A `notify_all` (here: the last sender leaving) wakes every waiter; one
/// that then leaves has nothing to pass on, and nothing is lost either.
#[test]
fn a_waiter_woken_by_notify_all_and_cancelled_loses_nothing() {
    on_one_worker(|| {
        let (tx, rx) = bounded::<u32>(1);
        let done = Arc::new(AtomicUsize::new(0));
        let (ready_tx, ready_rx) = unbounded::<()>();
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let (rx, done, ready) = (rx.clone(), done.clone(), ready_tx.clone());
                let h = verdant::spawn(move || {
                    ready.send(()).unwrap();
                    assert!(rx.recv().is_err());
                    done.fetch_add(1, Ordering::SeqCst);
                });
                ready_rx.recv().unwrap();
                h
            })
            .collect();
        drop(tx); // wakes all three
        hs[0].cancel();
        let mut hs = hs.into_iter();
        assert!(hs.next().unwrap().join().unwrap_err().is_cancelled());
        hs.for_each(|h| h.join().unwrap());
        assert_eq!(done.load(Ordering::SeqCst), 2);
    });
}
