//! `verdant::monkey_patch()`: hooked sleeps (feature `hook`).
//!
//! Each sleeper runs on a ONE-worker runtime beside a second green thread
//! that cancels it once it sleeps: that second thread can run only if the
//! sleep parked the sleeper instead of blocking the worker (an hour-long
//! real sleep would trip the watchdog).

mod support;

use std::time::{Duration, Instant};

use support::{rt, watchdog};

const HOUR: Duration = Duration::from_secs(3600);

fn patch() {
    verdant::monkey_patch().expect("the hooks are linked into this test binary");
}

/// Runs `sleeper` (which signals, then sleeps an hour) and cancels it
/// from a second green thread on the same worker; returns what the sleep
/// call returned before the pending cancellation unwound the thread.
fn cancel_while_sleeping<T: Send + 'static>(sleeper: fn() -> T) -> T {
    let rt = rt(1);
    let (ready_tx, ready_rx) = verdant::sync::unbounded::<()>();
    let (out_tx, out_rx) = std::sync::mpsc::channel();
    let h = rt.spawn(move || {
        ready_tx.send(()).unwrap();
        out_tx.send(sleeper()).unwrap();
        verdant::sleep(HOUR); // the cancellation is still pending: unwinds
    });
    let h = rt
        .spawn(move || {
            ready_rx.recv().unwrap();
            h.cancel();
            h
        })
        .join()
        .unwrap();
    assert!(h.join().unwrap_err().is_cancelled());
    out_rx.recv().unwrap()
}

#[test]
fn std_thread_sleep_parks() {
    let _w = watchdog(Duration::from_secs(30));
    patch();
    // std's sleep loops on EINTR with the time left; the hook leaves none.
    cancel_while_sleeping(|| std::thread::sleep(HOUR));
}

#[test]
fn nanosleep_parks_and_reports_eintr_when_cancelled() {
    let _w = watchdog(Duration::from_secs(30));
    patch();
    let (rc, errno, rem) = cancel_while_sleeping(|| {
        let req = libc::timespec {
            tv_sec: 3600,
            tv_nsec: 0,
        };
        let mut rem = libc::timespec { tv_sec: 9, tv_nsec: 9 };
        // SAFETY: valid timespecs for the call.
        let rc = unsafe { libc::nanosleep(&req, &mut rem) };
        (
            rc,
            std::io::Error::last_os_error().raw_os_error(),
            (rem.tv_sec, rem.tv_nsec),
        )
    });
    assert_eq!((rc, errno, rem), (-1, Some(libc::EINTR), (0, 0)));
}

#[test]
fn clock_nanosleep_relative_and_absolute_park() {
    let _w = watchdog(Duration::from_secs(30));
    patch();
    let rel = cancel_while_sleeping(|| {
        let req = libc::timespec {
            tv_sec: 3600,
            tv_nsec: 0,
        };
        // SAFETY: a valid timespec; no remainder asked for.
        unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &req, std::ptr::null_mut()) }
    });
    assert_eq!(rel, libc::EINTR);
    let abs = cancel_while_sleeping(|| {
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: a valid timespec to fill.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
        let req = libc::timespec {
            tv_sec: now.tv_sec + 3600,
            tv_nsec: 0,
        };
        // SAFETY: as above.
        unsafe { libc::clock_nanosleep(libc::CLOCK_REALTIME, libc::TIMER_ABSTIME, &req, std::ptr::null_mut()) }
    });
    assert_eq!(abs, libc::EINTR);
}

#[test]
fn usleep_sleep_and_empty_poll_park() {
    let _w = watchdog(Duration::from_secs(30));
    patch();
    // SAFETY: usleep takes an integer.
    let u = cancel_while_sleeping(|| unsafe { libc::usleep(999_999) });
    // usleep's argument is below a second, but it still parks: the
    // canceller runs during it.
    assert_eq!(u, -1);
    // SAFETY: sleep takes an integer.
    let s = cancel_while_sleeping(|| unsafe { libc::sleep(3600) });
    assert_eq!(s, 0, "an interrupted hooked sleep reports no time left, so loops end");
    // SAFETY: poll with no descriptors is a sleep.
    let p = cancel_while_sleeping(|| unsafe { libc::poll(std::ptr::null_mut(), 0, 3_600_000) });
    assert_eq!(p, -1);
}

#[test]
fn green_sleeps_last_at_least_as_asked() {
    let _w = watchdog(Duration::from_secs(30));
    patch();
    let rt = rt(1);
    let t = Instant::now();
    let hs: Vec<_> = (0..100)
        .map(|_| rt.spawn(|| std::thread::sleep(Duration::from_millis(20))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    support::assert_not_before(t, Duration::from_millis(20));
}

#[test]
fn timeout_cuts_a_hooked_sleep_short() {
    let _w = watchdog(Duration::from_secs(30));
    patch();
    let r = rt(1)
        .spawn(|| verdant::timeout(Duration::from_millis(20), || std::thread::sleep(HOUR)))
        .join()
        .unwrap();
    assert!(r.is_err(), "the timeout reports Elapsed");
}

#[test]
fn plain_threads_sleep_as_libc() {
    let _w = watchdog(Duration::from_secs(30));
    patch();
    let t = Instant::now();
    std::thread::spawn(|| std::thread::sleep(Duration::from_millis(10)))
        .join()
        .unwrap();
    support::assert_not_before(t, Duration::from_millis(10));
}
