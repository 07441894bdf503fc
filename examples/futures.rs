//! The App Engine NDB guestbook pattern with green threads as futures:
//! start two lookups, do other work meanwhile, then collect both; and
//! `wait_any` for the first answer among several mirrors.
//!
//! Run: `cargo run --example futures`

use std::time::{Duration, Instant};

/// A pretend datastore lookup.
fn lookup(what: &'static str, ms: u64) -> String {
    verdant::sleep(Duration::from_millis(ms));
    format!("<{what}>")
}

fn main() {
    let rt = verdant::Runtime::builder().workers(2).build().expect("runtime");
    rt.block_on(|| {
        let start = Instant::now();

        // Start both lookups: they run concurrently with what follows.
        let account = verdant::spawn(|| lookup("account", 50));
        let greetings = verdant::spawn(|| lookup("recent greetings", 60));

        // Other work meanwhile (rendering the page header, say).
        let header = "<h1>Guestbook</h1>".to_string();

        // Collect both.
        let page = format!(
            "{header}{}{}",
            account.join().expect("account"),
            greetings.join().expect("greetings")
        );
        println!("{page}  [{:?}, not 110 ms]", start.elapsed());

        // The first of several mirrors to answer wins.
        let mirrors = [("eu", 80), ("us", 30), ("asia", 120)];
        let handles: Vec<_> = mirrors
            .iter()
            .map(|&(name, ms)| verdant::spawn(move || lookup(name, ms)))
            .collect();
        let first = verdant::wait_any(&handles);
        println!("fastest mirror: {}", mirrors[first].0);
        for (i, h) in handles.into_iter().enumerate() {
            if i == first {
                println!("answer: {}", h.join().expect("mirror"));
            } else {
                h.cancel(); // no longer needed
            }
        }

        // Everything in completion order (gevent's iwait).
        let hs = (1..=3u64).rev().map(|i| verdant::spawn(move || lookup("item", i * 10)));
        for h in verdant::iwait(hs) {
            println!("done: {}", h.join().expect("item"));
        }
    });
}
