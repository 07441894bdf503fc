//! `RuntimeBuilder::dump_on_signal`: a signal writes the dump to stderr
//! while every worker is busy, and the program goes on.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CHILD: &str = "VERDANT_TEST_SIGNAL_DUMP_CHILD";

/// Holds its worker until `stop` is set (never parks).
#[inline(never)]
fn spin_until(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::hint::spin_loop();
    }
}

/// The child's side: a parked sleeper, both workers held by spinners, a
/// SIGUSR1; then it waits for the parent to close its stdin.
#[test]
fn signal_dump_child() {
    if !support::is_child(CHILD) {
        return;
    }
    let rt = verdant::Runtime::builder()
        .workers(2)
        .watchdog(None)
        .dump_on_signal(verdant::signal::SIGUSR1)
        .build()
        .unwrap();
    let sleeper = rt.spawn(|| verdant::sleep(Duration::from_secs(3600)));
    let id = sleeper.thread().id().as_u64();
    support::dump_until(rt.handle(), "the sleeper parked", |d| {
        d.threads
            .iter()
            .any(|t| t.id == id && t.wait_kind == Some("sleep"))
            .then_some(())
    });
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            rt.spawn(move || spin_until(&stop))
        })
        .collect();
    support::dump_until(rt.handle(), "both workers running a spinner", |d| {
        d.workers
            .iter()
            .all(|w| w.running.is_some_and(|r| r != id))
            .then_some(())
    });
    signal_hook::low_level::raise(verdant::signal::SIGUSR1).unwrap();
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest).unwrap();
    stop.store(true, Ordering::Relaxed);
    for s in spinners {
        s.join().unwrap();
    }
    sleeper.cancel();
    assert!(sleeper.join().unwrap_err().is_cancelled());
}

#[test]
fn a_signal_dumps_while_every_worker_is_busy() {
    let _w = support::watchdog(Duration::from_secs(60));
    let mut child = support::child_command("signal_dump_child", (CHILD, "1"))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let mut in_dump = false;
    for line in stderr.lines() {
        let line = line.unwrap();
        in_dump |= line.starts_with("verdant dump:");
        if in_dump {
            seen.push(line.clone());
        }
        if in_dump && line.contains("parked, sleep, spawned at tests/debug_signal.rs") {
            break;
        }
    }
    let text = seen.join("\n");
    assert!(text.contains("worker 0: running #"), "{text}");
    assert!(text.contains("worker 1: running #"), "{text}");
    assert!(text.contains("1 green thread: parked, sleep"), "{text}");
    // The program goes on: it ends normally once told to.
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}
