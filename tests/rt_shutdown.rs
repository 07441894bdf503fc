//! Dropping a runtime cancels what remains, runs destructors, leaks no
//! threads; the watchdog reports a green thread that hogs its worker.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{is_child, run_child, watchdog};

struct Bump(Arc<AtomicUsize>);
impl Drop for Bump {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// OS threads of this process whose name starts with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

#[test]
fn drop_cancels_parked_and_queued_threads_and_joins_every_thread() {
    let _w = watchdog(Duration::from_secs(60));
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = verdant::Runtime::builder()
        .workers(3)
        .thread_name("sdtest")
        .build()
        .unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..300 {
        let (d, s) = (dropped.clone(), started.clone());
        handles.push(rt.spawn(move || {
            let _g = Bump(d);
            s.fetch_add(1, Ordering::SeqCst);
            verdant::sleep(Duration::from_secs(3600));
        }));
    }
    rt.block_on(|| verdant::spawn_blocking(|| 1).join().unwrap());
    while started.load(Ordering::SeqCst) < 300 {
        std::thread::yield_now();
    }
    // Workers, watchdog, and the blocking thread. A new thread names
    // itself once it first runs (std sets the name from inside it), and
    // under load the watchdog may not have run yet: wait, bounded.
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while threads_named("sdtest-") < 5 && std::time::Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        threads_named("sdtest-") >= 5,
        "3 workers, the watchdog and a blocking thread"
    );
    drop(rt);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        300,
        "destructors of cancelled threads ran"
    );
    assert!(handles.into_iter().all(|h| h.join().unwrap_err().is_cancelled()));
    // Every runtime thread was joined, but the kernel may list a joined
    // thread in /proc for a moment longer (pthread_join returns when the
    // thread clears its tid, before the task is released): a leak is a
    // thread that stays, so wait a bounded time for the list to empty.
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while threads_named("sdtest-") > 0 && std::time::Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(threads_named("sdtest-"), 0, "the runtime left OS threads behind");
}

#[test]
fn spawning_on_a_dropped_runtime_errors() {
    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    let handle = rt.handle().clone();
    drop(rt);
    let e = verdant::Builder::new().runtime(&handle).spawn(|| ()).unwrap_err();
    assert!(e.to_string().contains("shut down"), "{e}");
}

#[test]
fn a_refused_spawn_drops_its_closure_at_once_and_catches_a_panicking_capture() {
    struct PanicOnDrop(Arc<AtomicUsize>);
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            panic!("a captured value panics in drop");
        }
    }
    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    let handle = rt.handle().clone();
    drop(rt);
    let dropped = Arc::new(AtomicUsize::new(0));
    let capture = PanicOnDrop(dropped.clone());
    // Regression: the closure used to be dropped only with the thread's
    // last reference, so its panic escaped `spawn` (or, inside `scope`,
    // which panics on a refused spawn, aborted the process).
    let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        verdant::Builder::new().runtime(&handle).spawn(move || drop(capture))
    }));
    let result = spawned.expect("the capture's panic escaped `spawn`");
    assert!(result.unwrap_err().to_string().contains("shut down"));
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn watchdog_child() {
    if !is_child("VERDANT_TEST_WATCHDOG") {
        return;
    }
    let rt = verdant::Runtime::builder()
        .workers(1)
        .watchdog(Some(Duration::from_millis(40)))
        .build()
        .unwrap();
    let h = verdant::Builder::new()
        .name("hog".into())
        .runtime(rt.handle())
        .spawn(|| std::thread::sleep(Duration::from_millis(600)))
        .unwrap();
    h.join().unwrap();
}

#[test]
fn the_watchdog_names_a_thread_that_holds_its_worker() {
    let _w = watchdog(Duration::from_secs(60));
    let out = run_child("watchdog_child", ("VERDANT_TEST_WATCHDOG", "1"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("green thread #") && stderr.contains("(hog)") && stderr.contains("has held worker 0"),
        "stderr: {stderr}"
    );
}
