mod support;

use std::time::Duration;

use support::run;
use verdant::sync::{AsyncResult, Event};

#[test]
fn event_wakes_green_and_os_waiters() {
    run(|| {
        let ev = Event::new();
        let green: Vec<_> = (0..10)
            .map(|_| {
                let ev = ev.clone();
                verdant::spawn(move || ev.wait())
            })
            .collect();
        let os: Vec<_> = (0..3)
            .map(|_| {
                let ev = ev.clone();
                std::thread::spawn(move || ev.wait())
            })
            .collect();
        assert!(!ev.wait_timeout(Duration::from_millis(5)));
        ev.set();
        green.into_iter().for_each(|h| h.join().unwrap());
        os.into_iter().for_each(support::join_os);
        assert!(ev.is_set());
        ev.wait();
        ev.clear();
        assert!(!ev.is_set());
    });
}

#[test]
fn async_result_set_once_read_by_many() {
    run(|| {
        let r = AsyncResult::<String>::new();
        let hs: Vec<_> = (0..5)
            .map(|_| {
                let r = r.clone();
                verdant::spawn(move || r.get())
            })
            .collect();
        assert_eq!(r.try_get(), None);
        r.set("v".into()).unwrap();
        assert_eq!(r.set("w".into()), Err("w".to_string()));
        assert!(hs.into_iter().all(|h| h.join().unwrap() == "v"));
        assert_eq!(r.get_timeout(Duration::from_millis(1)).as_deref(), Some("v"));
    });
}

#[test]
fn futures_wait_any_all_iwait() {
    run(|| {
        let gate = Event::new();
        let g = gate.clone();
        let slow = verdant::spawn(move || {
            g.wait();
            1
        });
        let fast = verdant::spawn(|| 2);
        assert_eq!(verdant::wait_any([&slow, &fast]), 1);
        assert_eq!(verdant::wait_any_timeout([&slow], Duration::from_millis(5)), None);
        gate.set();
        verdant::wait_all([&slow, &fast]);
        assert!(slow.is_finished());

        let gates: Vec<Event> = (0..4).map(|_| Event::new()).collect();
        let hs: Vec<_> = gates
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let g = g.clone();
                verdant::spawn(move || {
                    g.wait();
                    i
                })
            })
            .collect();
        let mut it = verdant::iwait(hs);
        for i in [2, 0, 3, 1] {
            gates[i].set();
            assert_eq!(it.next().unwrap().join().unwrap(), i);
        }
        assert!(it.next().is_none());
    });
}

/// Regression: `set()` then `clear()` at once sent the waiters it had woken
/// back to sleep, so the pulse was lost. Like eventlet's and Python's
/// `Event`, everyone waiting when `set()` happened returns.
#[test]
fn a_set_then_immediate_clear_still_releases_the_waiters() {
    let _w = support::watchdog(Duration::from_secs(30));
    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    rt.block_on(|| {
        let ev = Event::new();
        let (parked_tx, parked_rx) = verdant::sync::bounded::<()>(4);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let (ev, parked_tx) = (ev.clone(), parked_tx.clone());
                verdant::spawn(move || {
                    parked_tx.send(()).unwrap();
                    ev.wait();
                })
            })
            .collect();
        for _ in 0..3 {
            parked_rx.recv().unwrap();
        }
        verdant::yield_now(); // one worker: the waiters are parked in wait() now
        ev.set();
        ev.clear(); // before any woken waiter has run
        for w in waiters {
            w.join().unwrap();
        }
        assert!(!ev.is_set());
    });
}
