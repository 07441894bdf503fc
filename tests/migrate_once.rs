//! std's once-cells, mirrored: `Once`, `OnceLock` and `LazyLock` code moves
//! onto `verdant::sync` by changing its `use` lines, and waiting for
//! another thread's initialiser parks a green thread instead of blocking
//! its worker.
//!
//! The programs in `programs!` (std's documented uses, in our own words)
//! are compiled against std, and with only their `use` lines changed
//! against verdant, run on a plain OS thread and inside a green thread.
//! Each compilation is a module of its own, so each has its own statics.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{in_green_thread, on_os_thread, rt, watchdog};
use verdant::sync::{Event, Once, OnceLock};

macro_rules! programs {
    (run = $run:path; $($uses:item)*) => {
        $($uses)*

        fn once_runs_one_initialiser() {
            static SETUP: Once = Once::new();
            static RUNS: AtomicUsize = AtomicUsize::new(0);
            assert!(!SETUP.is_completed());
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    thread::spawn(|| {
                        SETUP.call_once(|| {
                            RUNS.fetch_add(1, Ordering::SeqCst);
                        });
                        // Whoever ran it, it has completed for everyone.
                        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            assert!(SETUP.is_completed());
            SETUP.wait();
        }

        fn once_poisoned_then_forced() {
            static INIT: Once = Once::new();
            // The first initialiser panics: the Once is poisoned.
            let first = thread::spawn(|| INIT.call_once(|| panic!("first attempt fails")));
            assert!(first.join().is_err());
            assert!(!INIT.is_completed());
            // `call_once` on a poisoned Once panics.
            let second = thread::spawn(|| INIT.call_once(|| {}));
            assert!(second.join().is_err());
            // `call_once_force` runs, and learns about the poison.
            let mut saw_poison = false;
            INIT.call_once_force(|state| saw_poison = state.is_poisoned());
            assert!(saw_poison);
            assert!(INIT.is_completed());
            INIT.call_once_force(|_| unreachable!("completed already"));
            INIT.wait_force();
        }

        fn once_lock_static_initialised_once() {
            static CELL: OnceLock<String> = OnceLock::new();
            assert!(CELL.get().is_none());
            thread::spawn(|| {
                let value = CELL.get_or_init(|| "from a thread".to_string());
                assert_eq!(value, "from a thread");
            })
            .join()
            .unwrap();
            assert_eq!(CELL.get().map(String::as_str), Some("from a thread"));
            assert_eq!(CELL.get_or_init(|| unreachable!()), "from a thread");
        }

        fn once_lock_set_take_and_friends() {
            let mut cell: OnceLock<Vec<u32>> = OnceLock::new();
            assert_eq!(cell.set(vec![1]), Ok(()));
            assert_eq!(cell.set(vec![2]), Err(vec![2]));
            cell.get_mut().unwrap().push(3);
            assert_eq!(cell.get(), Some(&vec![1, 3]));
            assert_eq!(cell.take(), Some(vec![1, 3]));
            assert_eq!(cell.get(), None);
            assert_eq!(cell.get_or_init(|| vec![4]), &vec![4]);
            let copy = cell.clone();
            assert_eq!(copy, cell);
            assert_eq!(copy.into_inner(), Some(vec![4]));
            assert_eq!(OnceLock::from(5).into_inner(), Some(5));
            assert_eq!(OnceLock::<u8>::default().into_inner(), None);
            assert_eq!(format!("{:?}", OnceLock::<u8>::new()), "OnceLock(<uninit>)");
        }

        fn once_lock_panicking_initialiser_leaves_it_empty() {
            let cell: OnceLock<u32> = OnceLock::new();
            let r = panic::catch_unwind(|| *cell.get_or_init(|| panic!("not today")));
            assert!(r.is_err());
            assert_eq!(cell.get(), None);
            assert_eq!(*cell.get_or_init(|| 11), 11);
        }

        fn once_lock_wait_sees_another_threads_value() {
            let cell: OnceLock<u64> = OnceLock::new();
            thread::scope(|s| {
                let readers: Vec<_> = (0..4).map(|_| s.spawn(|| *cell.wait())).collect();
                cell.set(99).unwrap();
                for r in readers {
                    assert_eq!(r.join().unwrap(), 99);
                }
            });
        }

        fn lazy_lock_computes_on_first_use() {
            static TABLE: LazyLock<HashMap<u32, &'static str>> = LazyLock::new(|| {
                BUILT.fetch_add(1, Ordering::SeqCst);
                HashMap::from([(1, "one"), (2, "two")])
            });
            static BUILT: AtomicUsize = AtomicUsize::new(0);
            assert_eq!(BUILT.load(Ordering::SeqCst), 0);
            let handles: Vec<_> = (0..4).map(|_| thread::spawn(|| TABLE[&2])).collect();
            for h in handles {
                assert_eq!(h.join().unwrap(), "two");
            }
            assert_eq!(TABLE.len(), 2);
            assert_eq!(LazyLock::force(&TABLE)[&1], "one");
            assert_eq!(BUILT.load(Ordering::SeqCst), 1);

            let local = LazyLock::new(|| vec![1, 2, 3]);
            assert_eq!(local.iter().sum::<i32>(), 6);
        }

        fn lazy_lock_panic_poisons_it() {
            let lazy: LazyLock<u32> = LazyLock::new(|| panic!("cannot compute"));
            assert!(panic::catch_unwind(|| *lazy).is_err());
            // Poisoned: every later use panics too.
            assert!(panic::catch_unwind(|| *lazy).is_err());
        }

        #[test]
        fn once_runs_one_initialiser_runs() {
            $run(once_runs_one_initialiser)
        }
        #[test]
        fn once_poisoned_then_forced_runs() {
            $run(once_poisoned_then_forced)
        }
        #[test]
        fn once_lock_static_initialised_once_runs() {
            $run(once_lock_static_initialised_once)
        }
        #[test]
        fn once_lock_set_take_and_friends_runs() {
            $run(once_lock_set_take_and_friends)
        }
        #[test]
        fn once_lock_panicking_initialiser_leaves_it_empty_runs() {
            $run(once_lock_panicking_initialiser_leaves_it_empty)
        }
        #[test]
        fn once_lock_wait_sees_another_threads_value_runs() {
            $run(once_lock_wait_sees_another_threads_value)
        }
        #[test]
        fn lazy_lock_computes_on_first_use_runs() {
            $run(lazy_lock_computes_on_first_use)
        }
        #[test]
        fn lazy_lock_panic_poisons_it_runs() {
            $run(lazy_lock_panic_poisons_it)
        }
    };
}

/// The programs as written, against std.
mod with_std {
    programs! {
        run = crate::on_os_thread;
        use std::collections::HashMap;
        use std::panic;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::{LazyLock, Once, OnceLock};
        use std::thread;
    }
}

/// The same programs, their `use` lines changed, on a plain OS thread.
mod verdant_on_os_thread {
    programs! {
        run = crate::on_os_thread;
        use std::collections::HashMap;
        use std::panic;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use verdant as thread;
        use verdant::sync::{LazyLock, Once, OnceLock};
    }
}

/// The same programs, their `use` lines changed, inside a green thread.
mod verdant_in_green_thread {
    programs! {
        run = crate::in_green_thread;
        use std::collections::HashMap;
        use std::panic;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use verdant as thread;
        use verdant::sync::{LazyLock, Once, OnceLock};
    }
}

/// 1 000 green threads on ONE worker call `get_or_init` on one cell whose
/// initialiser parks; a ticker green thread on the same worker keeps
/// running meanwhile. The initialiser finishes only once the ticker has
/// ticked and every caller has arrived (signals, not timing), so a
/// `OnceLock` that blocked the worker (std's) would never finish.
#[test]
fn a_thousand_green_waiters_park_while_the_initialiser_parks() {
    const CALLERS: usize = 1000;
    const TICKS: usize = 10;
    let _w = watchdog(Duration::from_secs(120));
    let rt = rt(1);
    rt.block_on(|| {
        let cell = Arc::new(OnceLock::<usize>::new());
        let inits = Arc::new(AtomicUsize::new(0));
        let arrived = Arc::new(AtomicUsize::new(0));
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticked = Event::new();
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (cell, inits, arrived, ticks, ticked) = (
                    cell.clone(),
                    inits.clone(),
                    arrived.clone(),
                    ticks.clone(),
                    ticked.clone(),
                );
                verdant::spawn(move || {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    *cell.get_or_init(|| {
                        inits.fetch_add(1, Ordering::SeqCst);
                        verdant::sleep(Duration::from_millis(1)); // parks
                        ticked.wait(); // parks until the ticker says so
                        ticks.load(Ordering::SeqCst)
                    })
                })
            })
            .collect();
        let ticker = {
            let (ticks, arrived, ticked) = (ticks.clone(), arrived.clone(), ticked.clone());
            verdant::spawn(move || {
                while ticks.load(Ordering::SeqCst) < TICKS || arrived.load(Ordering::SeqCst) < CALLERS {
                    verdant::sleep(Duration::from_millis(1));
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
                ticked.set();
            })
        };
        let values: Vec<usize> = callers.into_iter().map(|h| h.join().unwrap()).collect();
        ticker.join().unwrap();
        assert_eq!(inits.load(Ordering::SeqCst), 1);
        assert!(values[0] >= TICKS, "the ticker ran while the initialiser was parked");
        assert!(values.iter().all(|&v| v == values[0]), "everyone got the one value");
        assert_eq!(cell.get(), Some(&values[0]));
    });
}

/// A green waiter parked on a `Once` whose initialiser panics wakes and
/// panics (poisoned); `call_once_force` recovers; all on one worker.
#[test]
fn a_panicking_initialiser_poisons_once_for_its_parked_waiters() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(1);
    rt.block_on(|| {
        let once = Arc::new(Once::new());
        let go = Event::new();
        let in_init = Event::new();
        let first = {
            let (once, go, in_init) = (once.clone(), go.clone(), in_init.clone());
            verdant::spawn(move || {
                once.call_once(|| {
                    in_init.set();
                    go.wait(); // parks while holding the Once
                    panic!("initialiser fails");
                })
            })
        };
        in_init.wait();
        let waiter = {
            let once = once.clone();
            verdant::spawn(move || once.call_once(|| unreachable!("poisoned before it may run")))
        };
        // Let the waiter run and park on the Once (on one worker it runs
        // now). Had it not yet, it would find the Once poisoned all the
        // same: the assertions below hold either way.
        verdant::yield_now();
        go.set();
        assert!(first.join().unwrap_err().is_panic());
        let e = waiter.join().unwrap_err();
        assert!(e.downcast_ref::<&str>().is_some_and(|m| m.contains("poisoned")));
        let forced = AtomicBool::new(false);
        once.call_once_force(|state| forced.store(state.is_poisoned(), Ordering::SeqCst));
        assert!(forced.load(Ordering::SeqCst));
        assert!(once.is_completed());
        once.call_once(|| unreachable!("completed"));
    });
}

/// An OS thread and green threads wait on one cell that a green thread
/// initialises; a cancelled initialiser leaves it empty and a waiter takes
/// over.
#[test]
fn os_and_green_waiters_share_a_cell_and_survive_a_cancelled_initialiser() {
    let _w = watchdog(Duration::from_secs(60));
    let cell = Arc::new(OnceLock::<&'static str>::new());
    let in_init = Event::new();
    let stuck = {
        let (cell, in_init) = (cell.clone(), in_init.clone());
        verdant::spawn(move || {
            cell.get_or_init(|| {
                in_init.set();
                verdant::sleep(Duration::from_secs(3600));
                "never"
            });
        })
    };
    in_init.wait();
    let os = {
        let cell = cell.clone();
        std::thread::spawn(move || *cell.get_or_init(|| "from the OS thread or a green one"))
    };
    let green = {
        let cell = cell.clone();
        verdant::spawn(move || *cell.get_or_init(|| "from the OS thread or a green one"))
    };
    stuck.cancel();
    assert!(stuck.join().unwrap_err().is_cancelled());
    let g = green.join().unwrap();
    let o = os.join().unwrap();
    assert_eq!(g, "from the OS thread or a green one");
    assert_eq!(o, g);
    assert_eq!(cell.get(), Some(&g));
}
