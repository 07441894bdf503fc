//! The main demo: crawl 10 000 "URLs" through a pool of 1 000 green threads.
//!
//! Each request is simulated as a 100 ms wait (`verdant::sleep`), the way a
//! slow server keeps a crawler waiting. Sequentially that is 1 000 s; with
//! 1 000 green threads at a time it is about 10 rounds of 100 ms. The code
//! in the pool is plain sequential code: no `async`, no callbacks.
//!
//! ```text
//! cargo run --release --example crawl [-- --urls N --concurrency C --delay-ms D]
//! ```

use std::time::{Duration, Instant};

use verdant::GreenPool;

struct Args {
    urls: usize,
    concurrency: usize,
    delay: Duration,
}

fn parse_args() -> Args {
    let mut args = Args {
        urls: 10_000,
        concurrency: 1_000,
        delay: Duration::from_millis(100),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || -> u64 {
            let v = it.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number: {v}")))
        };
        match flag.as_str() {
            "--urls" => args.urls = value() as usize,
            "--concurrency" => args.concurrency = (value() as usize).max(1),
            "--delay-ms" => args.delay = Duration::from_millis(value()),
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    args
}

fn usage(msg: &str) -> ! {
    eprintln!("crawl: {msg}\nusage: crawl [--urls N] [--concurrency C] [--delay-ms D]");
    std::process::exit(2)
}

/// A "request": waits like a slow server would, then returns a body size.
fn fetch(url: &str, delay: Duration) -> usize {
    verdant::sleep(delay);
    url.len() * 100
}

fn main() {
    let args = parse_args();
    println!(
        "crawling {} urls, {} at a time, each taking {:?}...",
        args.urls, args.concurrency, args.delay
    );
    let start = Instant::now();
    let pool = GreenPool::new(args.concurrency);
    let delay = args.delay;
    let bytes: usize = pool
        .imap(0..args.urls, move |i| {
            fetch(&format!("http://example.test/page/{i}"), delay)
        })
        .sum();
    let took = start.elapsed();
    let sequential = args.delay * args.urls as u32;
    println!("fetched {} urls ({bytes} bytes) in {took:.2?}", args.urls);
    println!(
        "one at a time this would take {sequential:.0?}: {:.0}x faster with green threads",
        sequential.as_secs_f64() / took.as_secs_f64()
    );
}
