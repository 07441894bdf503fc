//! The watchdog names where a green thread that holds its worker was
//! spawned and what it is executing (sampled from the worker), and, once it
//! lets go, how long it held the worker in all.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CHILD: &str = "VERDANT_TEST_WATCHDOG_CHILD";

/// The function the watchdog must catch holding its worker. Its loop is
/// a block of `pause`/`yield` instructions in the function itself, so that
/// the sampled instruction is in it nearly always, even in a debug build
/// (where `AtomicBool::load` and `spin_loop` are calls of their own).
#[inline(never)]
fn spinner_for_the_watchdog(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let n: u64 = 1 << 20;
        // SAFETY: a counted loop of pause/yield instructions on one
        // register; no memory, no stack, no flags the compiler relies on.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            std::arch::asm!("2:", "pause", "dec {0}", "jnz 2b", inout(reg) n => _, options(nomem, nostack));
        }
        // SAFETY: as above.
        #[cfg(target_arch = "aarch64")]
        unsafe {
            std::arch::asm!("2:", "yield", "subs {0}, {0}, #1", "b.ne 2b", inout(reg) n => _, options(nomem, nostack));
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        std::hint::black_box(n);
    }
}

/// The child: a spinner on a runtime with a 50 ms watchdog; stops
/// spinning on a line from stdin, exits at its end.
#[test]
fn watchdog_child() {
    if !support::is_child(CHILD) {
        return;
    }
    let rt = verdant::Runtime::builder()
        .workers(1)
        .watchdog(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    eprintln!("SPAWN LINE {}", line!() + 1);
    let spinner = rt.spawn(move || spinner_for_the_watchdog(&s));
    let mut stdin = std::io::stdin().lock();
    let mut line = String::new();
    stdin.read_line(&mut line).unwrap();
    stop.store(true, Ordering::Relaxed);
    spinner.join().unwrap();
    line.clear();
    while stdin.read_line(&mut line).unwrap() > 0 {
        line.clear();
    }
}

#[test]
#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
fn watchdog_names_the_spawn_site_and_the_total_hold() {
    let _w = support::watchdog(Duration::from_secs(60));
    let mut child = support::child_command("watchdog_child", (CHILD, "1"))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut spawn_line = None;
    let mut held = None;
    let mut released = None;
    let mut frames = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("SPAWN LINE ") {
            spawn_line = Some(n.trim().to_owned());
        } else if line.contains("has held worker 0") && held.is_none() {
            held = Some(line);
            stdin.write_all(b"stop\n").unwrap();
        } else if held.is_some() && released.is_none() && line.starts_with("    ") {
            frames.push(line);
        } else if line.contains("released worker 0") {
            released = Some(line);
            break;
        }
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let at = format!(
        "spawned at tests/debug_watchdog.rs:{}",
        spawn_line.expect("the child said its line")
    );
    let held = held.expect("the watchdog reported the spinner");
    assert!(held.contains(&at), "{held}");
    // The sample taken from the worker names the spinning function.
    assert!(held.contains("it is executing"), "{held}");
    let frame0 = frames.first().expect("at least frame 0");
    assert!(frame0.contains("spinner_for_the_watchdog"), "{frames:#?}");
    let released = released.expect("the watchdog reported the release");
    assert!(released.contains(&at), "{released}");
    assert!(released.contains("after holding it for about"), "{released}");
}
