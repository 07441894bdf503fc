//! Verdant's own promises about its std-mirroring locks: poisoning as std
//! defines it, per *green* thread (a neighbour's panic on the same worker
//! does not poison, a cancellation or an elapsed `timeout` does not
//! either), std's auto traits and variance, and `downgrade` waking parked
//! green readers. The std-style programs that used to live here moved to
//! `tests/migrate_sync.rs`, which also compiles them against std.

mod support;

use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use verdant::sync::{Condvar, Mutex, PoisonError, RwLock, RwLockReadGuard};

#[test]
fn a_panicking_green_thread_poisons_and_into_inner_keeps_the_value() {
    support::run(|| {
        let m = Arc::new(Mutex::new(vec![1]));
        let l = Arc::new(RwLock::new(1));
        let (m2, l2) = (m.clone(), l.clone());
        let h = verdant::spawn(move || {
            let _r = l2.read().unwrap(); // a read guard never poisons
            let mut g = m2.lock().unwrap();
            g.push(2);
            panic!("poison");
        });
        assert!(h.join().unwrap_err().is_panic());
        assert!(m.is_poisoned() && !l.is_poisoned());
        let l2 = l.clone();
        let h = verdant::spawn(move || {
            let _w = l2.write().unwrap();
            panic!("poison the RwLock");
        });
        assert!(h.join().is_err());
        assert!(l.is_poisoned());
        assert!(l.read().is_err() && l.try_write().is_err());
        let l = Arc::try_unwrap(l).unwrap();
        assert_eq!(l.into_inner().unwrap_err().into_inner(), 1);
        let mut m = Arc::try_unwrap(m).unwrap();
        assert_eq!(*m.get_mut().unwrap_err().into_inner(), [1, 2]);
        let e: PoisonError<Vec<i32>> = m.into_inner().unwrap_err();
        assert_eq!(e.into_inner(), [1, 2]);
    });
}

#[test]
fn clear_poison_and_condvar_reports_poison() {
    support::run(|| {
        let pair = Arc::new((Mutex::new(0), Condvar::new()));
        let p = pair.clone();
        let _ = verdant::spawn(move || {
            let _g = p.0.lock().unwrap();
            panic!("poison");
        })
        .join();
        let (m, cv) = &*pair;
        let g = m.lock().unwrap_err().into_inner();
        let e = cv.wait_timeout(g, Duration::ZERO).unwrap_err();
        let (g, r) = e.into_inner();
        assert!(r.timed_out());
        drop(g);
        m.clear_poison();
        assert!(!m.is_poisoned());
        let (g, _) = cv.wait_timeout(m.lock().unwrap(), Duration::ZERO).unwrap();
        drop(g);
        assert!(!m.is_poisoned(), "a guard dropped normally does not poison");
    });
}

/// Parks in its destructor: its green thread stays halfway through its
/// unwinding until `go` receives.
struct ParkOnDrop {
    parked: verdant::sync::Sender<()>,
    go: verdant::sync::Receiver<()>,
}

impl Drop for ParkOnDrop {
    fn drop(&mut self) {
        self.parked.send(()).unwrap();
        let _ = self.go.recv();
    }
}

#[test]
fn a_neighbours_panic_does_not_poison() {
    let _w = support::watchdog(Duration::from_secs(60));
    // One worker: every green thread shares its OS thread.
    support::rt(1).block_on(|| {
        let (parked_tx, parked) = verdant::sync::bounded(1);
        let (go, go_rx) = verdant::sync::bounded(1);
        let a = verdant::spawn(move || {
            let _p = ParkOnDrop {
                parked: parked_tx,
                go: go_rx,
            };
            panic!("unwinds, then parks in a destructor");
        });
        parked.recv().unwrap();
        assert!(
            std::thread::panicking(),
            "the worker's OS thread is mid-unwind on behalf of the neighbour"
        );
        let m = Arc::new(Mutex::new(0));
        *m.lock().unwrap() += 1;
        let m2 = m.clone();
        verdant::spawn(move || *m2.lock().unwrap() += 1).join().unwrap();
        let l = RwLock::new(0);
        *l.write().unwrap() += 1;
        assert!(!m.is_poisoned() && !l.is_poisoned());
        go.send(()).unwrap();
        assert!(a.join().unwrap_err().is_panic());
    });
}

#[test]
fn cancellation_does_not_poison() {
    support::run(|| {
        let m = Arc::new(Mutex::new(0));
        let l = Arc::new(RwLock::new(0));
        let (locked_tx, locked) = verdant::sync::bounded(1);
        let (_never_tx, never) = verdant::sync::bounded::<()>(1);
        let (m2, l2, never2) = (m.clone(), l.clone(), never.clone());
        let h = verdant::spawn(move || {
            let never = never2;
            let _g = m2.lock().unwrap();
            let _w = l2.write().unwrap();
            locked_tx.send(()).unwrap();
            let _ = never.recv(); // cancelled here, holding both guards
        });
        locked.recv().unwrap();
        h.cancel();
        assert!(h.join().unwrap_err().is_cancelled());
        assert!(!m.is_poisoned() && !l.is_poisoned());
        assert!(m.lock().is_ok() && l.write().is_ok());
        // An elapsed `timeout` unwinding through a guard does not either.
        let r = verdant::timeout(Duration::from_millis(1), || {
            let _g = m.lock().unwrap();
            let _ = never.recv();
        });
        assert!(r.is_err());
        assert!(!m.is_poisoned());
    });
}

#[test]
fn unwind_safe_like_std() {
    fn both<T: ?Sized + UnwindSafe + RefUnwindSafe>() {}
    both::<Mutex<std::cell::Cell<i32>>>();
    both::<RwLock<std::cell::Cell<i32>>>();
    both::<Condvar>();
    let m = Mutex::new(1);
    let r = std::panic::catch_unwind(|| *m.lock().unwrap());
    assert_eq!(r.unwrap(), 1);
    fn send_sync<T: Send + Sync>() {}
    fn sync<T: Sync>() {}
    send_sync::<Mutex<std::cell::Cell<i32>>>();
    send_sync::<RwLock<i32>>();
    sync::<verdant::sync::MutexGuard<'static, i32>>();
    sync::<RwLockReadGuard<'static, i32>>();
    sync::<verdant::sync::RwLockWriteGuard<'static, i32>>();
}

/// Compiles only if `RwLockReadGuard` is covariant in `T`, as std's is.
#[allow(dead_code)]
fn read_guard_is_covariant<'a>(g: RwLockReadGuard<'a, &'static str>) -> RwLockReadGuard<'a, &'a str> {
    g
}

#[test]
fn downgrade_lets_readers_in() {
    support::run(|| {
        let l = Arc::new(RwLock::new(0));
        let mut w = l.write().unwrap();
        let l2 = l.clone();
        let reader = verdant::spawn(move || *l2.read().unwrap());
        verdant::yield_now();
        *w = 5;
        let r = verdant::sync::RwLockWriteGuard::downgrade(w);
        assert_eq!(reader.join().unwrap(), 5);
        assert!(l.try_write().is_err());
        drop(r);
        assert!(l.try_write().is_ok());
    });
}
