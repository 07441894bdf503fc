//! Context-switch cost: two green threads on a 1-worker runtime each call
//! `yield_now` 1 000 000 times, so control alternates between them;
//! reports ns per switch (one yield handing over to the other thread).
//!
//! Peer: two tokio tasks each doing `tokio::task::yield_now().await` the same
//! number of times on a `current_thread` runtime.
//!
//! Run: `cargo bench -p verdant-benches --bench yield_switch` (env `BENCH_RUNS`, default 7).

mod support;

use std::time::{Duration, Instant};

const YIELDS: usize = 1_000_000;

fn main() {
    support::watchdog();
    let vrt = verdant::Runtime::builder()
        .workers(1)
        .build()
        .expect("build verdant runtime");
    let trt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build tokio runtime");

    let mut verdant = || vrt.block_on(verdant_pair);
    let mut tokio = || trt.block_on(tokio_pair());
    let s = support::measure(&mut [&mut verdant, &mut tokio]);
    let switches = 2 * YIELDS;

    let title = "yield_switch: two threads alternate `yield_now` 1 000 000 times each, one worker";
    support::print_header(title, "yield_switch", &[]);
    support::print_row(
        "yield_now, vs tokio yield_now().await (current_thread)",
        "ns/switch",
        s[0].per(switches),
        s[1].per(switches),
        support::Ratio::VerdantOverPeer("tokio"),
    );
}

fn verdant_pair() -> Duration {
    let start = Instant::now();
    let a = verdant::spawn(verdant_yielder);
    let b = verdant::spawn(verdant_yielder);
    a.join().expect("green thread failed");
    b.join().expect("green thread failed");
    start.elapsed()
}

fn verdant_yielder() {
    for _ in 0..YIELDS {
        verdant::yield_now();
    }
}

async fn tokio_pair() -> Duration {
    let start = Instant::now();
    let a = tokio::spawn(tokio_yielder());
    let b = tokio::spawn(tokio_yielder());
    a.await.expect("tokio task failed");
    b.await.expect("tokio task failed");
    start.elapsed()
}

async fn tokio_yielder() {
    for _ in 0..YIELDS {
        tokio::task::yield_now().await;
    }
}
