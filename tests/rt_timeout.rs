mod support;

use std::io;
use std::time::{Duration, Instant};

use support::{assert_not_before, run};
use verdant::sync::{bounded, Mutex, Queue, RecvTimeoutError};
use verdant::Elapsed;

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn sleep_returns_at_the_deadline() {
    run(|| {
        let t = Instant::now();
        let r = verdant::timeout(Duration::from_millis(20), || verdant::sleep(LONG));
        assert_eq!(r, Err(Elapsed::default()));
        assert_not_before(t, Duration::from_millis(20));
    });
}

#[test]
fn ok_when_fast() {
    run(|| {
        assert_eq!(verdant::timeout(LONG, || 5), Ok(5));
        // The deadline is gone afterwards.
        let (_tx, rx) = bounded::<u8>(1);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError::Timeout)
        );
    });
}

#[test]
fn calls_with_timeout_errors_report_them() {
    run(|| {
        let (_tx, rx) = bounded::<u8>(1);
        let r = verdant::timeout(Duration::from_millis(10), || {
            let e = rx.recv_timeout(LONG).unwrap_err();
            assert_eq!(e, RecvTimeoutError::Timeout);
            // Every later blocking call fails at once too.
            let e2 = rx.recv_timeout(LONG).unwrap_err();
            (e, e2)
        });
        assert!(r.is_err(), "Err(Elapsed) even though f returned");
    });
}

#[test]
fn calls_without_timeout_errors_unwind_to_timeout() {
    run(|| {
        let (_tx, rx) = bounded::<u8>(1);
        assert!(verdant::timeout(Duration::from_millis(10), || rx.recv()).is_err());
        let m = Mutex::new(());
        let _g = m.lock().unwrap();
        // Not reentrant: this lock would wait forever without the deadline.
        assert!(verdant::timeout(Duration::from_millis(10), || drop(m.lock())).is_err());
        let q = Queue::<u8>::new();
        assert!(verdant::timeout(Duration::from_millis(10), || q.get()).is_err());
        let h = verdant::spawn(|| verdant::sleep(LONG));
        assert!(verdant::timeout(Duration::from_millis(10), || verdant::wait_all([&h])).is_err());
        assert!(verdant::timeout(Duration::from_millis(10), || verdant::wait_any([&h])).is_err());
        h.cancel();
        assert!(h.join().unwrap_err().is_cancelled());
    });
}

#[test]
fn io_error_conversion() {
    let e: io::Error = Elapsed::default().into();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    fn f() -> io::Result<()> {
        verdant::timeout(Duration::from_millis(1), || verdant::sleep(LONG))?;
        Ok(())
    }
    assert_eq!(f().unwrap_err().kind(), io::ErrorKind::TimedOut);
}

#[test]
fn nested_inner_shorter() {
    run(|| {
        let outer = verdant::timeout(LONG, || {
            let inner = verdant::timeout(Duration::from_millis(10), || verdant::sleep(LONG));
            assert!(inner.is_err());
            "outer continues"
        });
        assert_eq!(outer, Ok("outer continues"));
    });
}

#[test]
fn nested_outer_shorter() {
    run(|| {
        let (_tx, rx) = bounded::<u8>(1);
        let t = Instant::now();
        let mut inner_returned = false;
        let outer = verdant::timeout(Duration::from_millis(10), || {
            // The inner deadline is later: the earlier outer one applies,
            // and its expiry passes through the inner timeout.
            let inner = verdant::timeout(LONG, || rx.recv());
            inner_returned = true;
            inner
        });
        assert!(outer.is_err());
        assert!(!inner_returned);
        assert_not_before(t, Duration::from_millis(10));
    });
}

#[test]
fn user_panics_are_not_swallowed() {
    run(|| {
        let r = std::panic::catch_unwind(|| verdant::timeout(LONG, || panic!("mine")));
        assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "mine");
    });
}

#[test]
fn works_on_os_threads() {
    let _w = support::watchdog(Duration::from_secs(60));
    let (_tx, rx) = bounded::<u8>(1);
    let t = Instant::now();
    assert!(verdant::timeout(Duration::from_millis(10), || rx.recv()).is_err());
    assert!(verdant::timeout(Duration::from_millis(10), || verdant::sleep(LONG)).is_err());
    assert_not_before(t, Duration::from_millis(20));
}

#[test]
fn spawn_after_runs_later_or_never() {
    run(|| {
        let t = Instant::now();
        let h = verdant::spawn_after(Duration::from_millis(10), || 1);
        assert_eq!(h.join().unwrap(), 1);
        assert_not_before(t, Duration::from_millis(10));
        let h = verdant::spawn_after(LONG, || 2);
        h.cancel();
        assert!(h.join().unwrap_err().is_cancelled());
    });
}

/// A closure that returns with nothing cut short keeps its value even if
/// the deadline passed meanwhile: a message it received is not lost
/// (found writing the WebSocket chat example, which lost a message that
/// arrived at its read deadline).
#[test]
fn a_value_obtained_without_being_cut_short_is_kept_past_the_deadline() {
    let body = || {
        let (tx, rx) = verdant::sync::bounded::<u32>(1);
        tx.send(7).unwrap();
        let r = verdant::timeout(Duration::from_millis(1), || {
            let past = std::time::Instant::now() + Duration::from_millis(3);
            while std::time::Instant::now() < past {
                std::hint::spin_loop(); // no blocking call: nothing to cut short
            }
            rx.recv() // a message is ready: no wait
        });
        assert_eq!(r, Ok(Ok(7)));
        // A call that was cut short still reports Elapsed, whatever the
        // closure made of it.
        let r = verdant::timeout(Duration::from_millis(1), || {
            verdant::sleep(Duration::from_secs(60));
            "slept"
        });
        assert!(r.is_err());
        let r = verdant::timeout(Duration::from_millis(1), || {
            rx.recv_timeout(Duration::from_secs(60)).is_err()
        });
        assert!(r.is_err());
    };
    body();
    verdant::spawn(body).join().unwrap();
}
