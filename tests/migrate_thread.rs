//! Moving `std::thread` code onto verdant is a change of `use` lines.
//!
//! The programs in `programs!` are ordinary std-style code (std's
//! documented uses of spawn, join, scope, `Builder`, `current`, park, in
//! our own words). They are compiled three times with nothing changed but
//! their `use` lines: against std (proving they are std programs), and
//! against verdant, run on a plain OS thread and inside a green thread.
//! After them, what only verdant promises: `current()` on an OS thread,
//! `park_timeout` on both kinds, and `GreenThread::unpark` waking an OS
//! thread.

mod support;

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{in_green_thread, on_os_thread, watchdog};

macro_rules! programs {
    (run = $run:path; $($uses:item)*) => {
        $($uses)*

        fn spawn_and_join() {
            let (tx, rx) = mpsc::channel();
            let handles: Vec<thread::JoinHandle<u64>> = (1..=10u64)
                .map(|i| {
                    let tx = tx.clone();
                    thread::spawn(move || {
                        tx.send(i).unwrap();
                        i * i
                    })
                })
                .collect();
            drop(tx);
            let squares: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(squares, 385);
            assert_eq!(rx.iter().sum::<u64>(), 55);
        }

        fn builder_names_and_sizes() {
            let handle = thread::Builder::new()
                .name("indexer".to_string())
                .stack_size(128 * 1024)
                .spawn(|| thread::current().name().map(|n| n.to_string()))
                .expect("spawn");
            assert_eq!(handle.thread().name(), Some("indexer"));
            assert_eq!(handle.join().unwrap().as_deref(), Some("indexer"));
        }

        fn join_hands_back_the_panic() {
            let handle = thread::spawn(|| -> u8 { panic!("disk on fire") });
            match handle.join() {
                Ok(_) => unreachable!("it panicked"),
                Err(e) => {
                    assert!(e.is::<&str>());
                    assert_eq!(e.downcast_ref::<&str>(), Some(&"disk on fire"));
                    assert!(e.downcast_ref::<String>().is_none());
                }
            }
            let code = 7;
            let handle = thread::spawn(move || -> u8 { panic!("code {code}") });
            let payload = handle.join().unwrap_err().downcast::<String>().unwrap();
            assert_eq!(*payload, "code 7");
            assert!(thread::spawn(|| ()).join().is_ok());
        }

        fn scope_borrows_the_stack() {
            let mut words = vec!["alpha", "beta", "gamma"];
            let mut letters = 0;
            thread::scope(|s| {
                s.spawn(|| assert_eq!(words.len(), 3));
                s.spawn(|| letters = words.iter().map(|w| w.len()).sum());
            });
            words.push("delta");
            assert_eq!(letters, 14);
            let first = thread::scope(|s| s.spawn(|| words[0]).join().unwrap());
            assert_eq!(first, "alpha");
        }

        fn builder_spawns_scoped() {
            let total = AtomicUsize::new(0);
            let name = thread::scope(|s| {
                for n in 1..=4 {
                    let total = &total;
                    thread::Builder::new()
                        .spawn_scoped(s, move || total.fetch_add(n, Ordering::Relaxed))
                        .unwrap();
                }
                thread::Builder::new()
                    .name("scoped-one".into())
                    .spawn_scoped(s, || thread::current().name().map(String::from))
                    .unwrap()
                    .join()
                    .unwrap()
            });
            assert_eq!(total.into_inner(), 10);
            assert_eq!(name.as_deref(), Some("scoped-one"));
        }

        fn current_has_an_id() {
            let me: thread::Thread = thread::current();
            let my_id: thread::ThreadId = me.id();
            assert_eq!(thread::current().id(), my_id);
            let theirs = thread::spawn(|| thread::current().id()).join().unwrap();
            assert_ne!(theirs, my_id);
            let handle = thread::spawn(|| ());
            assert_eq!(handle.thread().id(), handle.thread().id());
            handle.join().unwrap();
        }

        fn park_until_flagged() {
            let flag = Arc::new(AtomicBool::new(false));
            let seen = Arc::clone(&flag);
            let parked = thread::spawn(move || {
                // `park` may return spuriously: loop on the condition.
                while !seen.load(Ordering::Acquire) {
                    thread::park();
                }
            });
            flag.store(true, Ordering::Release);
            parked.thread().unpark();
            parked.join().unwrap();
        }

        fn park_timeout_until_flagged() {
            let flag = Arc::new(AtomicBool::new(false));
            let seen = Arc::clone(&flag);
            let parked = thread::spawn(move || {
                while !seen.load(Ordering::Acquire) {
                    thread::park_timeout(Duration::from_secs(3600));
                }
            });
            flag.store(true, Ordering::Release);
            parked.thread().unpark();
            parked.join().unwrap();
            // Nobody unparks us: this returns once the time is up (or sooner).
            thread::park_timeout(Duration::from_millis(1));
        }

        fn unpark_before_park_is_kept() {
            thread::current().unpark();
            thread::park(); // returns at once: the token was there
        }

        fn finished_and_yield() {
            let handle = thread::spawn(|| 5);
            while !handle.is_finished() {
                thread::yield_now();
            }
            assert_eq!(handle.join().unwrap(), 5);
            thread::sleep(Duration::from_millis(1));
        }

        fn parallelism_is_known() {
            let n = thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            assert!(n >= 1);
        }

        #[test]
        fn spawn_and_join_runs() {
            $run(spawn_and_join)
        }
        #[test]
        fn builder_names_and_sizes_runs() {
            $run(builder_names_and_sizes)
        }
        #[test]
        fn join_hands_back_the_panic_runs() {
            $run(join_hands_back_the_panic)
        }
        #[test]
        fn scope_borrows_the_stack_runs() {
            $run(scope_borrows_the_stack)
        }
        #[test]
        fn builder_spawns_scoped_runs() {
            $run(builder_spawns_scoped)
        }
        #[test]
        fn current_has_an_id_runs() {
            $run(current_has_an_id)
        }
        #[test]
        fn park_until_flagged_runs() {
            $run(park_until_flagged)
        }
        #[test]
        fn park_timeout_until_flagged_runs() {
            $run(park_timeout_until_flagged)
        }
        #[test]
        fn unpark_before_park_is_kept_runs() {
            $run(unpark_before_park_is_kept)
        }
        #[test]
        fn finished_and_yield_runs() {
            $run(finished_and_yield)
        }
        #[test]
        fn parallelism_is_known_runs() {
            $run(parallelism_is_known)
        }
    };
}

/// The programs as written, against std.
mod with_std {
    programs! {
        run = crate::on_os_thread;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::{mpsc, Arc};
        use std::thread;
        use std::time::Duration;
    }
}

/// The same programs, their `use` lines changed, on a plain OS thread.
mod verdant_on_os_thread {
    programs! {
        run = crate::on_os_thread;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Arc;
        use std::time::Duration;
        use verdant as thread;
        use verdant::sync::mpsc;
    }
}

/// The same programs, their `use` lines changed, inside a green thread.
mod verdant_in_green_thread {
    programs! {
        run = crate::in_green_thread;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Arc;
        use std::time::Duration;
        use verdant as thread;
        use verdant::sync::mpsc;
    }
}

#[test]
fn current_on_an_os_thread_has_std_name_and_an_id() {
    let _w = watchdog(Duration::from_secs(60));
    let (name, green, id, again) = std::thread::Builder::new()
        .name("plain-os-thread".into())
        .spawn(|| {
            let me = verdant::current();
            (
                me.name().map(str::to_owned),
                me.is_green(),
                me.id(),
                verdant::current().id(),
            )
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(name.as_deref(), Some("plain-os-thread"));
    assert!(!green);
    assert_eq!(id, again);
    let unnamed = std::thread::spawn(|| verdant::current().name().map(str::to_owned));
    assert_eq!(unnamed.join().unwrap(), None);
    let green_id = verdant::spawn(|| verdant::current().id()).join().unwrap();
    assert_ne!(green_id, id);
}

#[test]
fn green_unpark_wakes_an_os_thread_parked_in_verdant_park() {
    let _w = watchdog(Duration::from_secs(60));
    let (tx, rx) = verdant::sync::bounded(1);
    let flag = Arc::new(AtomicBool::new(false));
    let seen = flag.clone();
    let os = std::thread::spawn(move || {
        tx.send(verdant::current()).unwrap();
        while !seen.load(Ordering::Acquire) {
            verdant::park();
        }
    });
    // A green thread gets the OS thread's handle and wakes it.
    verdant::spawn(move || {
        let handle: verdant::GreenThread = rx.recv().unwrap();
        assert!(!handle.is_green());
        flag.store(true, Ordering::Release);
        handle.unpark();
    })
    .join()
    .unwrap();
    os.join().unwrap();
}

#[test]
fn park_timeout_returns_on_both_kinds_of_thread() {
    let _w = watchdog(Duration::from_secs(60));
    // Nobody unparks: both return once the time is up.
    verdant::park_timeout(Duration::from_millis(1));
    verdant::spawn(|| verdant::park_timeout(Duration::from_millis(1)))
        .join()
        .unwrap();
    // Unparked long before the (hour-long) timeout, on both.
    for green in [false, true] {
        let flag = Arc::new(AtomicBool::new(false));
        let seen = flag.clone();
        let (tx, rx) = verdant::sync::bounded(1);
        let body = move || {
            tx.send(verdant::current()).unwrap();
            while !seen.load(Ordering::Acquire) {
                verdant::park_timeout(Duration::from_secs(3600));
            }
        };
        let done: Box<dyn FnOnce() + Send> = if green {
            let h = verdant::spawn(body);
            Box::new(move || h.join().unwrap())
        } else {
            let h = std::thread::spawn(body);
            Box::new(move || h.join().unwrap())
        };
        let handle = rx.recv().unwrap();
        assert_eq!(handle.is_green(), green);
        flag.store(true, Ordering::Release);
        handle.unpark();
        done();
    }
}

#[test]
fn join_error_converts_to_std_payload() {
    let _w = watchdog(Duration::from_secs(60));
    let e = verdant::spawn(|| panic!("payload")).join().unwrap_err();
    let payload: Box<dyn Any + Send> = e.into();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"payload"));
    // `resume_unwind(e.into())` re-raises the green thread's panic.
    let caught = std::panic::catch_unwind(|| {
        let e = verdant::spawn(|| std::panic::panic_any(3u32)).join().unwrap_err();
        std::panic::resume_unwind(e.into())
    })
    .unwrap_err();
    assert_eq!(caught.downcast_ref::<u32>(), Some(&3));
    // A cancellation has no std payload: the JoinError itself is boxed.
    let h = verdant::spawn(|| verdant::sleep(Duration::from_secs(3600)));
    h.cancel();
    let e = h.join().unwrap_err();
    assert!(e.downcast_ref::<&str>().is_none());
    let boxed: Box<dyn Any + Send> = e.into();
    assert!(boxed.downcast_ref::<verdant::JoinError>().unwrap().is_cancelled());
}
