mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{assert_not_before, run};
use verdant::sync::{Barrier, Condvar, Mutex, RwLock, Semaphore};

#[test]
fn smoke() {
    run(|| {
        let m = Mutex::new(1);
        *m.lock().unwrap() += 1;
        assert_eq!(*m.lock().unwrap(), 2);
        let g = m.lock().unwrap();
        assert!(m.try_lock().is_err());
        drop(g);
        assert!(m.try_lock().is_ok());
    });
}

#[test]
fn contended_green_and_os() {
    run(|| {
        let m = Arc::new(Mutex::new(0u64));
        let n = if cfg!(debug_assertions) { 2_000 } else { 20_000 };
        let mut green = Vec::new();
        for _ in 0..100 {
            let m = m.clone();
            green.push(verdant::spawn(move || {
                for _ in 0..n / 100 {
                    let mut g = m.lock().unwrap();
                    *g += 1;
                    if *g % 7 == 0 {
                        verdant::yield_now(); // hold the lock across a switch
                    }
                }
            }));
        }
        let os: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || (0..n).for_each(|_| *m.lock().unwrap() += 1))
            })
            .collect();
        green.into_iter().for_each(|h| h.join().unwrap());
        os.into_iter().for_each(support::join_os);
        assert_eq!(*m.lock().unwrap(), n + 4 * n);
    });
}

#[test]
fn no_starvation() {
    run(|| {
        let m = Arc::new(Mutex::new(()));
        let hs: Vec<_> = (0..200)
            .map(|_| {
                let m = m.clone();
                verdant::spawn(move || {
                    for _ in 0..50 {
                        let _g = m.lock().unwrap();
                        verdant::yield_now();
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
}

#[test]
fn drop_while_waiting() {
    run(|| {
        let m = Arc::new(Mutex::new(0));
        let g = m.lock().unwrap();
        let m2 = m.clone();
        let victim = verdant::spawn(move || *m2.lock().unwrap() += 100);
        let m3 = m.clone();
        let other = verdant::spawn(move || *m3.lock().unwrap() += 1);
        verdant::sleep(Duration::from_millis(10));
        victim.cancel();
        assert!(victim.join().unwrap_err().is_cancelled());
        drop(g);
        other.join().unwrap();
        assert_eq!(*m.lock().unwrap(), 1);
    });
}

#[test]
fn timeout_then_notify() {
    run(|| {
        let m = Arc::new(Mutex::new(()));
        let g = m.lock().unwrap();
        let t = Instant::now();
        assert!(m.lock_timeout(Duration::from_millis(20)).is_err());
        assert_not_before(t, Duration::from_millis(20));
        drop(g);
        assert!(m.lock_timeout(Duration::from_millis(20)).is_ok());
    });
}

#[test]
fn rwlock() {
    run(|| {
        let l = Arc::new(RwLock::new(0));
        let hs: Vec<_> = (0..20)
            .map(|i| {
                let l = l.clone();
                verdant::spawn(move || {
                    for _ in 0..100 {
                        if i % 4 == 0 {
                            *l.write().unwrap() += 1;
                        } else {
                            let r = l.read().unwrap();
                            verdant::yield_now();
                            assert!(*r <= 500);
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*l.read().unwrap(), 500);
    });
}

#[test]
fn condvar() {
    run(|| {
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        let hs: Vec<_> = (0..10)
            .map(|_| {
                let p = pair.clone();
                verdant::spawn(move || {
                    let g = p.1.wait_while(p.0.lock().unwrap(), |n| *n == 0).unwrap();
                    *g
                })
            })
            .collect();
        let p = pair.clone();
        support::join_os(std::thread::spawn(move || {
            *p.0.lock().unwrap() = 1;
            p.1.notify_all();
        }));
        assert!(hs.into_iter().all(|h| h.join().unwrap() == 1));
        let (g, r) = pair
            .1
            .wait_timeout(pair.0.lock().unwrap(), Duration::from_millis(5))
            .unwrap();
        assert!(r.timed_out());
        drop(g);
    });
}

#[test]
fn semaphore() {
    run(|| {
        let sem = Arc::new(Semaphore::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..50)
            .map(|_| {
                let (sem, inside) = (sem.clone(), inside.clone());
                verdant::spawn(move || {
                    let _p = sem.acquire();
                    assert!(inside.fetch_add(1, Ordering::SeqCst) < 3);
                    verdant::yield_now();
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(sem.available_permits(), 3);
        assert!(sem.release().is_err(), "bounded: no release beyond the initial count");
        let p = sem.acquire();
        p.forget();
        assert_eq!(sem.available_permits(), 2);
        sem.release().unwrap();
        let _all: Vec<_> = (0..3).map(|_| sem.acquire()).collect();
        assert!(sem.acquire_timeout(Duration::from_millis(5)).is_none());
    });
}

#[test]
fn barrier() {
    run(|| {
        let b = Arc::new(Barrier::new(5));
        let hs: Vec<_> = (0..5)
            .map(|_| {
                let b = b.clone();
                verdant::spawn(move || (0..10).filter(|_| b.wait().is_leader()).count())
            })
            .collect();
        let leaders: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(leaders, 10);
    });
}

/// Regression: a `wait_timeout` waiter chosen by `notify_one` after its
/// deadline had passed (but before its timer fired) reported a timeout, so
/// the notification was spent on it and nobody else was woken.
#[test]
fn notify_one_is_not_lost_on_a_waiter_whose_deadline_passed() {
    let _w = support::watchdog(Duration::from_secs(30));
    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    let m = Arc::new(Mutex::new(()));
    let cv = Arc::new(Condvar::new());
    let (m1, cv1) = (m.clone(), cv.clone());
    // One worker, FIFO: A queues on the condvar first.
    let a = rt.spawn(move || {
        let g = m1.lock().unwrap();
        cv1.wait_timeout(g, Duration::from_millis(5)).unwrap().1.timed_out()
    });
    let cv2 = cv.clone();
    let c = rt.spawn(move || {
        // Hold the only worker past A's deadline, so A's timer cannot fire
        // before the notification reaches it.
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(30) {
            std::hint::spin_loop();
        }
        cv2.notify_one();
    });
    c.join().unwrap();
    assert!(
        !a.join().unwrap(),
        "a notified waiter reported a timeout (the notification was lost)"
    );
}

/// Regression: a waiter chosen by `notify_one` that was cancelled while
/// re-locking the mutex took the notification with it; the other waiter
/// slept on although the condition held.
#[test]
fn a_notified_waiter_cancelled_while_relocking_passes_the_notification_on() {
    let _w = support::watchdog(Duration::from_secs(30));
    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    rt.block_on(|| {
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        let (ready_tx, ready_rx) = verdant::sync::bounded::<()>(2);
        let waiter = |p: Arc<(Mutex<u32>, Condvar)>, ready: verdant::sync::Sender<()>| {
            verdant::spawn(move || {
                let (m, c) = &*p;
                let mut g = m.lock().unwrap();
                ready.send(()).unwrap();
                while *g == 0 {
                    g = c.wait(g).unwrap();
                }
                *g -= 1;
            })
        };
        let w1 = waiter(pair.clone(), ready_tx.clone());
        ready_rx.recv().unwrap();
        let _ = pair.0.lock().unwrap(); // acquired only once w1 waits (it released it)
        let w2 = waiter(pair.clone(), ready_tx);
        ready_rx.recv().unwrap();
        {
            let (m, c) = &*pair;
            let mut g = m.lock().unwrap(); // both wait now, w1 first
            *g = 1;
            c.notify_one(); // w1
            verdant::yield_now(); // w1 runs and parks re-locking the mutex we hold
            w1.cancel();
        }
        assert!(w1.join().unwrap_err().is_cancelled());
        w2.join().unwrap(); // must have been handed the notification
        assert_eq!(*pair.0.lock().unwrap(), 0);
    });
}

/// Readers and writers on green and OS threads at once: no lost wakeup
/// (an unlock skips the wait list only when nobody announced waiting).
#[test]
fn rwlock_contended_green_and_os() {
    run(|| {
        let l = Arc::new(RwLock::new(0u64));
        let n = if cfg!(debug_assertions) { 2_000 } else { 20_000 };
        let green: Vec<_> = (0..50)
            .map(|i| {
                let l = l.clone();
                verdant::spawn(move || {
                    for _ in 0..n / 50 {
                        if i % 2 == 0 {
                            *l.write().unwrap() += 1;
                        } else {
                            let _r = l.read().unwrap();
                        }
                    }
                })
            })
            .collect();
        let os: Vec<_> = (0..4)
            .map(|i| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..n {
                        if i % 2 == 0 {
                            *l.write().unwrap() += 1;
                        } else {
                            drop(l.read().unwrap());
                        }
                    }
                })
            })
            .collect();
        green.into_iter().for_each(|h| h.join().unwrap());
        os.into_iter().for_each(support::join_os);
        assert_eq!(*l.read().unwrap(), n / 50 * 25 + 2 * n);
    });
}
