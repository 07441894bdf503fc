//! An idle runtime costs nothing: its watchdog parks while every worker
//! sleeps, and wakes when one of them does.

mod support;

use std::fs;
use std::time::Duration;

use support::{is_child, run_child, watchdog};

const PREFIX: &str = "idlewd";

/// Voluntary context switches so far of each thread of this process whose
/// name starts with `prefix`, by name.
fn context_switches(prefix: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for task in fs::read_dir("/proc/self/task").expect("read /proc/self/task") {
        let dir = task.expect("task entry").path();
        let Ok(comm) = fs::read_to_string(dir.join("comm")) else {
            continue; // exited since the listing
        };
        if !comm.starts_with(prefix) {
            continue;
        }
        let status = fs::read_to_string(dir.join("status")).expect("read task status");
        let switches = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("voluntary_ctxt_switches in task status");
        out.push((comm.trim().to_owned(), switches));
    }
    out.sort();
    out
}

/// Polls `rt`'s watchdog until it is parked (bounded by the test watchdog).
fn until_parked(rt: &verdant::Runtime) {
    while !rt.watchdog_state().0 {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn idle_watchdog_child() {
    if !is_child("VERDANT_TEST_IDLE_WATCHDOG") {
        return;
    }
    let rt = verdant::Runtime::builder()
        .workers(2)
        .watchdog(Some(Duration::from_millis(40)))
        .thread_name(PREFIX)
        .build()
        .unwrap();
    assert_eq!(rt.block_on(|| 7), 7);

    // Every worker sleeps (nothing is left to run, no timer is armed): the
    // watchdog parks, and then neither it nor any worker wakes, over a
    // window of ten watchdog periods.
    until_parked(&rt);
    let (_, looks) = rt.watchdog_state();
    let threads = context_switches(PREFIX);
    assert!(
        threads.iter().any(|(name, _)| name.ends_with("-watchdog")),
        "no watchdog thread among {threads:?}"
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(rt.watchdog_state(), (true, looks), "the watchdog looked while parked");
    assert_eq!(context_switches(PREFIX), threads, "a runtime thread woke while idle");

    // A green thread that holds its worker after the idle spell wakes the
    // watchdog, which reports it (the parent checks stderr)...
    let hog = verdant::Builder::new()
        .name("hog".into())
        .runtime(rt.handle())
        .spawn(|| std::thread::sleep(Duration::from_millis(600)))
        .unwrap();
    hog.join().unwrap();
    assert!(rt.watchdog_state().1 > looks, "the watchdog never woke");

    // ...and once the runtime is idle again, it parks again.
    until_parked(&rt);
    println!("idle child done");
}

#[test]
fn an_idle_runtime_parks_its_watchdog_which_wakes_for_a_hog() {
    let _w = watchdog(Duration::from_secs(60));
    let out = run_child("idle_watchdog_child", ("VERDANT_TEST_IDLE_WATCHDOG", "1"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("idle child done"), "stdout: {stdout}");
    assert!(
        stderr.contains("(hog)") && stderr.contains("has held worker"),
        "no report of the hog:\n{stderr}"
    );
}
