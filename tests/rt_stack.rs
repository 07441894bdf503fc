//! Guarded stacks: an overflow dies with a clear message naming the green
//! thread; deep-but-legal recursion fits a configured stack.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use support::{is_child, run_child, watchdog};

fn recurse(depth: u64, pad: &mut [u8; 512]) -> u64 {
    pad[0] = depth as u8;
    let mut next = [0u8; 512];
    std::hint::black_box(&mut next);
    std::hint::black_box(pad[0] as u64) + if depth == 0 { 0 } else { recurse(depth - 1, &mut next) }
}

#[test]
fn overflow_child() {
    if !is_child("VERDANT_TEST_OVERFLOW") {
        return;
    }
    let h = verdant::Builder::new()
        .name("deep-recursion".into())
        .stack_size(64 * 1024)
        .spawn(|| recurse(u64::MAX, &mut [0; 512]))
        .unwrap();
    let _ = h.join();
    unreachable!("the overflow must abort the process");
}

#[test]
fn stack_overflow_ends_with_a_clear_message() {
    let _w = watchdog(Duration::from_secs(60));
    let out = run_child("overflow_child", ("VERDANT_TEST_OVERFLOW", "1"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("verdant: green thread deep-recursion overflowed its 65536-byte stack (give it a larger stack"),
        "child stderr: {stderr}"
    );
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "status: {:?}", out.status);
}

#[test]
fn deep_recursion_fits_a_large_configured_stack() {
    let _w = watchdog(Duration::from_secs(60));
    // ~1000 frames of >1 KiB: too deep for 256 KiB, fine in 8 MiB.
    let h = verdant::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| recurse(1_000, &mut [0; 512]))
        .unwrap();
    assert!(h.join().is_ok());
}
