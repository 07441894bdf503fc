//! `verdant::signal`: signals reach green threads without blocking workers.
//!
//! Signals are process-wide, and the tests of this file run in parallel in
//! one process: each test uses its own signal numbers.

mod support;

use std::time::Duration;

use signal_hook::low_level::raise;
use support::{rt, watchdog};
use verdant::signal::{ctrl_c, Signals, SIGINT, SIGKILL, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use verdant::sync::bounded;

#[test]
fn a_green_thread_receives_a_signal_while_others_run() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let mut signals = Signals::new([SIGUSR1]).unwrap();
    let (waiting_tx, waiting_rx) = bounded::<()>(1);
    let waiter = rt.spawn(move || {
        waiting_tx.send(()).unwrap();
        signals.next()
    });
    // The waiter parks; a ticker on the same (only) worker keeps running.
    let (ping_tx, ping_rx) = bounded::<u32>(0);
    let (pong_tx, pong_rx) = bounded::<u32>(0);
    let ticker = rt.spawn(move || {
        for n in ping_rx.iter() {
            pong_tx.send(n * 2).unwrap();
        }
    });
    waiting_rx.recv().unwrap();
    for n in 0..50 {
        ping_tx.send(n).unwrap();
        assert_eq!(pong_rx.recv().unwrap(), n * 2);
    }
    assert!(!waiter.is_finished(), "no signal was sent yet");
    raise(SIGUSR1).unwrap();
    assert_eq!(waiter.join().unwrap(), Some(SIGUSR1));
    drop(ping_tx);
    ticker.join().unwrap();
}

#[test]
fn a_signal_raised_before_the_wait_is_delivered() {
    let _w = watchdog(Duration::from_secs(30));
    let mut signals = Signals::new([SIGUSR2]).unwrap();
    raise(SIGUSR2).unwrap();
    // No runtime has run this `Signals` yet; the wait starts afterwards.
    let rt = rt(1);
    let got = rt.spawn(move || signals.next()).join().unwrap();
    assert_eq!(got, Some(SIGUSR2));
}

#[test]
fn ctrl_c_returns_on_sigint() {
    let _w = watchdog(Duration::from_secs(30));
    // A handler first, so that a SIGINT raised before ctrl_c() registers
    // its own cannot kill the test process.
    let _guard = Signals::new([SIGINT]).unwrap();
    let rt = rt(1);
    let waiter = rt.spawn(ctrl_c);
    // ctrl_c() sees only SIGINTs after its own registration, which this
    // thread cannot observe: raise until it returns (the pacing sleep is
    // not synchronisation; any number of rounds is correct).
    while !waiter.is_finished() {
        raise(SIGINT).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    waiter.join().unwrap().unwrap();
}

#[test]
fn os_thread_waits_and_timeouts() {
    let _w = watchdog(Duration::from_secs(30));
    let mut signals = Signals::new([SIGWINCH]).unwrap();
    assert_eq!(signals.try_next(), None);
    assert_eq!(signals.wait_timeout(Duration::from_millis(10)), None);
    assert!(verdant::timeout(Duration::from_millis(10), || signals.next()).is_err());
    raise(SIGWINCH).unwrap();
    // Kept while nobody waited, delivered once.
    assert_eq!(signals.next(), Some(SIGWINCH));
    assert_eq!(signals.try_next(), None);
}

#[test]
fn close_ends_a_parked_iteration() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let mut signals = Signals::new([SIGTERM]).unwrap();
    let handle = signals.handle();
    let (waiting_tx, waiting_rx) = bounded::<()>(1);
    let waiter = rt.spawn(move || {
        waiting_tx.send(()).unwrap();
        signals.by_ref().count()
    });
    waiting_rx.recv().unwrap();
    handle.close();
    assert_eq!(waiter.join().unwrap(), 0);
}

#[test]
fn forbidden_signals_are_errors_not_panics() {
    let e = Signals::new([SIGKILL]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(Signals::new([0]).is_err());
    assert!(Signals::new([1000]).is_err());
}
