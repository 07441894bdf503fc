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
