//! Spawning, joining, panics, ids and names, and the scheduler's promises:
//! every thread runs exactly once, started threads never change worker,
//! yielding threads cannot starve others, a spinning thread does not strand
//! the unstarted ones queued behind it.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{rt, watchdog};

#[test]
fn smoke_spawn_join() {
    let _w = watchdog(Duration::from_secs(30));
    let h = verdant::spawn(|| 40 + 2);
    assert_eq!(h.join().unwrap(), 42);
}

#[test]
fn every_thread_runs_exactly_once_under_a_mix_of_yields_sleeps_and_joins() {
    let _w = watchdog(Duration::from_secs(120));
    const N: usize = 100_000;
    let rt = rt(4);
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let r = runs.clone();
    rt.block_on(move || {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let r = r.clone();
                verdant::spawn(move || {
                    match i % 4 {
                        0 => (0..3).for_each(|_| verdant::yield_now()),
                        1 => verdant::sleep(Duration::from_micros(200)),
                        2 => assert_eq!(verdant::spawn(move || i).join().unwrap(), i),
                        _ => {}
                    }
                    r[i].fetch_add(1, Ordering::Relaxed);
                    i
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), i);
        }
    });
    let bad: Vec<_> = (0..N).filter(|&i| runs[i].load(Ordering::Relaxed) != 1).collect();
    assert!(
        bad.is_empty(),
        "threads not run exactly once: {:?}",
        &bad[..bad.len().min(10)]
    );
    assert_eq!(rt.handle().green_threads(), 0);
}

#[test]
fn panics_reach_join_and_leave_the_runtime_running() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    for _ in 0..10 {
        let err = rt.spawn(|| -> u32 { panic!("deliberate") }).join().unwrap_err();
        assert!(err.is_panic());
        assert!(!err.is_cancelled());
        assert_eq!(err.to_string(), "green thread panicked: deliberate");
        assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "deliberate");
    }
    assert_eq!(rt.spawn(|| 7).join().unwrap(), 7);
    let code = std::hint::black_box(42);
    let formatted = rt.spawn(move || -> () { panic!("code {code}") }).join().unwrap_err();
    assert_eq!(*formatted.into_panic().downcast::<String>().unwrap(), "code 42");
}

#[test]
fn block_on_resumes_a_panic_in_the_caller() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(|| panic!("inside"))));
    assert_eq!(*caught.unwrap_err().downcast::<&str>().unwrap(), "inside");
    assert_eq!(rt.block_on(|| 1), 1);
}

#[test]
fn started_threads_never_change_worker() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(4);
    let moved = Arc::new(AtomicUsize::new(0));
    let m = moved.clone();
    rt.block_on(move || {
        let hs: Vec<_> = (0..2_000)
            .map(|i| {
                let m = m.clone();
                verdant::spawn(move || {
                    let home = std::thread::current().id();
                    for k in 0..20 {
                        match (i + k) % 3 {
                            0 => verdant::yield_now(),
                            1 => verdant::sleep(Duration::from_micros(50)),
                            _ => verdant::spawn(|| ()).join().unwrap(),
                        }
                        if std::thread::current().id() != home {
                            m.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    assert_eq!(
        moved.load(Ordering::Relaxed),
        0,
        "a started green thread changed OS thread"
    );
}

#[test]
fn a_spinning_thread_does_not_strand_the_new_threads_queued_behind_it() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let done = rt.block_on(|| {
        // Spawned from this green thread, the children sit in this worker's
        // own deque; this thread then spins without ever parking, so only
        // the other worker can run them, by stealing.
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let d = done.clone();
            verdant::spawn(move || d.fetch_add(1, Ordering::SeqCst));
        }
        let give_up = Instant::now() + Duration::from_secs(30);
        while done.load(Ordering::SeqCst) < 100 && Instant::now() < give_up {
            std::hint::spin_loop();
        }
        done.load(Ordering::SeqCst)
    });
    assert_eq!(done, 100, "new green threads were stranded behind a spinning one");
}

#[test]
fn a_yielding_thread_cannot_starve_others() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(1);
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let yielder = rt.spawn(move || {
        let mut n = 0u64;
        while !s.load(Ordering::SeqCst) {
            verdant::yield_now();
            n += 1;
        }
        n
    });
    // Spawned from outside (the injector) while the only worker is busy
    // yielding: it must still get to run.
    let s = stop.clone();
    rt.spawn(move || s.store(true, Ordering::SeqCst)).join().unwrap();
    assert!(yielder.join().unwrap() > 0);
}

#[test]
fn current_names_and_ids() {
    let _w = watchdog(Duration::from_secs(30));
    assert!(!verdant::current().is_green());
    let h = verdant::Builder::new()
        .name("fetcher-3".into())
        .spawn(|| {
            let me = verdant::current();
            assert!(me.is_green());
            (me.id(), me.name().map(str::to_owned))
        })
        .unwrap();
    let id = h.id();
    assert_eq!(h.thread().name(), Some("fetcher-3"));
    let (seen, name) = h.join().unwrap();
    assert_eq!(seen, id);
    assert_eq!(name.as_deref(), Some("fetcher-3"));
    let other = verdant::spawn(|| ()).id();
    assert_ne!(other, id);
}

#[test]
fn builder_rejects_bad_input_with_clear_errors() {
    let e = verdant::Builder::new().stack_size(10).spawn(|| ()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("stack size 10"), "{e}");
    let e = verdant::Builder::new().name("a\0b".into()).spawn(|| ()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = verdant::Runtime::builder().workers(0).build().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn join_from_a_plain_thread_while_the_green_thread_is_parked() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let h = rt.spawn(|| {
        verdant::sleep(Duration::from_millis(20));
        "slept"
    });
    assert_eq!(h.join().unwrap(), "slept");
}

#[test]
fn park_and_unpark_like_std() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let h = rt.spawn(move || {
        while !f.load(Ordering::SeqCst) {
            verdant::park();
        }
    });
    flag.store(true, Ordering::SeqCst);
    h.thread().unpark();
    h.join().unwrap();
}

#[test]
fn cancel_stops_a_parked_thread_and_runs_its_destructors() {
    let _w = watchdog(Duration::from_secs(30));
    struct Bump(Arc<AtomicUsize>);
    impl Drop for Bump {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rt = rt(2);
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = rt.spawn(move || {
        let _guard = Bump(d);
        tx.send(()).unwrap();
        verdant::sleep(Duration::from_secs(3600));
        "never"
    });
    rx.recv().unwrap();
    h.cancel();
    let err = h.join().unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn destructors_may_park_while_a_cancelled_thread_unwinds() {
    let _w = watchdog(Duration::from_secs(30));
    // Regression: the second park point, inside a destructor run by the
    // cancellation's own unwinding, must not start another unwind (that
    // aborts the process); it parks and returns like any other.
    struct SlowClose(Arc<AtomicUsize>);
    impl Drop for SlowClose {
        fn drop(&mut self) {
            verdant::sleep(Duration::from_millis(2));
            verdant::yield_now();
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rt = rt(1);
    let closed = Arc::new(AtomicUsize::new(0));
    let c = closed.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = rt.spawn(move || {
        let _conn = SlowClose(c);
        tx.send(()).unwrap();
        verdant::sleep(Duration::from_secs(3600));
    });
    rx.recv().unwrap();
    h.cancel();
    assert!(h.join().unwrap_err().is_cancelled());
    assert_eq!(closed.load(Ordering::SeqCst), 1);
}

#[test]
fn result_drop_panic_child() {
    if !support::is_child("VERDANT_TEST_RESULT_DROP") {
        return;
    }
    struct Boom;
    impl Drop for Boom {
        fn drop(&mut self) {
            panic!("boom in drop");
        }
    }
    let rt = rt(1);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let h = rt.spawn(move || {
        rx.recv().unwrap();
        Boom
    });
    drop(h); // detached: the green thread itself drops its result
    tx.send(()).unwrap();
    std::thread::sleep(Duration::from_secs(30));
    unreachable!("the process must have aborted");
}

/// Regression: a detached thread's result that panicked in `Drop` unwound
/// into the worker loop and silently killed the worker (every green thread
/// pinned there was lost). Like std's "thread result panicked on drop", it
/// now ends the process with a clear message.
#[test]
fn a_result_that_panics_on_drop_aborts_loudly_instead_of_killing_a_worker() {
    let _w = watchdog(Duration::from_secs(60));
    let out = support::run_child("result_drop_panic_child", ("VERDANT_TEST_RESULT_DROP", "1"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("verdant: fatal: a green thread's result"),
        "stderr: {stderr}"
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGABRT));
}

/// Reports on drop whether it was dropped on a green thread.
struct Recorded(std::sync::mpsc::Sender<bool>);

impl Drop for Recorded {
    fn drop(&mut self) {
        let _ = self.0.send(verdant::current().is_green());
    }
}

#[test]
fn a_finished_threads_result_is_dropped_with_its_handle() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let (tx, dropped) = std::sync::mpsc::channel();
    let h = rt.spawn(move || {
        // A timed wait that is answered in time leaves a stale timer entry
        // holding the thread's allocation after it finishes: the result
        // must still go when the handle does, not with the allocation.
        let (ping, pong) = verdant::sync::mpsc::channel();
        // Sends once this thread has parked (same worker: it runs after).
        verdant::spawn(move || ping.send(()).unwrap());
        pong.recv_timeout(Duration::from_secs(3600)).unwrap();
        Recorded(tx)
    });
    while !h.is_finished() {
        std::thread::yield_now();
    }
    assert!(
        dropped.try_recv().is_err(),
        "the result was dropped before anyone could join it"
    );
    drop(h);
    let on_green = dropped.try_recv().expect("dropping the handle did not drop the result");
    assert!(!on_green, "dropped by the handle's owner, an OS thread here");
}

#[test]
fn a_detached_threads_result_is_dropped_by_the_thread_itself() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let (tx, dropped) = std::sync::mpsc::channel();
    let (go, gate) = std::sync::mpsc::channel::<()>();
    let h = rt.spawn(move || {
        gate.recv().unwrap();
        Recorded(tx)
    });
    drop(h);
    go.send(()).unwrap();
    let on_green = dropped.recv().expect("the detached result was never dropped");
    assert!(on_green, "a detached result must be dropped on its own green thread");
}

#[test]
fn threads_with_large_captures_run_and_drop_them() {
    // Captures above the inline limit take a separate path (boxed).
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let big = [7u8; 4096];
    let h = rt.spawn(move || big.iter().map(|&b| b as usize).sum::<usize>());
    assert_eq!(h.join().unwrap(), 7 * 4096);
    let counted = rt.block_on(move || {
        let data = [1u8; 2048];
        verdant::scope(|s| s.spawn(|| (data, data.len())).join().unwrap().1)
    });
    assert_eq!(counted, 2048);
    // Cancelled at once (run or not): its captures are dropped by the time
    // `join` returns.
    let token = Arc::new(());
    let (t, pad) = (token.clone(), [0u8; 1024]);
    let h = rt.spawn(move || (t, pad).1.len());
    h.cancel();
    let _ = h.join();
    assert_eq!(Arc::strong_count(&token), 1);
}

/// Regression: a blocking call made inside a coroutine that user code runs
/// within a green thread (its own corosensei coroutine, on its own stack)
/// would switch the green thread out from the wrong stack. It fails
/// clearly instead, and the green thread and its worker carry on.
#[test]
fn a_blocking_call_on_a_nested_coroutine_stack_fails_clearly() {
    use corosensei::stack::DefaultStack;
    use corosensei::{Coroutine, CoroutineResult};

    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    let message = rt.block_on(|| {
        let mut nested = Coroutine::with_stack(
            DefaultStack::new(64 * 1024).unwrap(),
            |_: &corosensei::Yielder<(), ()>, ()| {
                verdant::sleep(std::time::Duration::from_millis(1));
            },
        );
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| nested.resume(())));
        let payload = match outcome {
            Err(payload) => payload,
            Ok(CoroutineResult::Return(())) => panic!("the nested coroutine parked its green thread"),
            Ok(CoroutineResult::Yield(())) => unreachable!(),
        };
        // The green thread still parks normally on its own stack.
        verdant::sleep(std::time::Duration::from_millis(1));
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
    });
    let message = message.expect("a panic message");
    assert!(message.contains("not its green thread's own"), "{message}");
}
