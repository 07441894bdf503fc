//! Many lookups at once against a private dnsmasq: no failure, and the
//! worker keeps running other green threads throughout.

mod dns_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dns_support::{watchdog, Dnsmasq};
use verdant::net::Resolver;

#[test]
fn ten_thousand_lookups_from_a_thousand_green_threads_no_worker_stalled() {
    let _w = watchdog("ten_thousand_lookups", Duration::from_secs(120));
    let Some(d) = Dnsmasq::start("ten_thousand_lookups", 60) else {
        return;
    };
    let r = Resolver::builder()
        .nameservers([d.addr])
        .cache(false) // every lookup is a real exchange
        .timeout(Duration::from_secs(2))
        .attempts(3)
        .build()
        .unwrap();
    // One worker: a lookup that blocked its OS thread would stop the ticker.
    let rt = verdant::Runtime::builder().workers(1).build().unwrap();
    let ticks = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (t2, s2) = (ticks.clone(), stop.clone());
    let ticker = rt.spawn(move || {
        while !s2.load(Ordering::SeqCst) {
            verdant::sleep(Duration::from_millis(1));
            t2.fetch_add(1, Ordering::SeqCst);
        }
    });
    let t3 = ticks.clone();
    let seen = rt.block_on(move || {
        let names = ["a.test", "dual.test", "alias1.test", "v6only.test", "host.test"];
        let handles: Vec<_> = (0..1000)
            .map(|i| {
                let (r, ticks) = (r.clone(), t3.clone());
                verdant::spawn(move || {
                    let mut seen = Vec::with_capacity(10);
                    for j in 0..10 {
                        let n = r.lookup_ip(names[(i + j) % names.len()]).unwrap().count();
                        assert!(n >= 1);
                        seen.push(ticks.load(Ordering::SeqCst));
                    }
                    seen
                })
            })
            .collect();
        let mut seen: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        seen.sort_unstable();
        seen.dedup();
        seen
    });
    stop.store(true, Ordering::SeqCst);
    ticker.join().unwrap();
    // The ticker advanced while lookups completed: lookups saw many
    // different tick counts, not one frozen value.
    assert!(
        seen.len() >= 5,
        "ticker did not keep ticking during the lookups: saw tick values {seen:?}"
    );
    eprintln!(
        "10000 lookups done; ticker saw {} distinct values up to {}",
        seen.len(),
        ticks.load(Ordering::SeqCst)
    );
}
