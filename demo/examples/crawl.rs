//! The main demo: a crawler of 1 000 green threads against a slow web.
//!
//! It starts an in-process "slow web" on verdant's HTTP server (every page
//! answers after 100 ms and links to other pages), then crawls it with
//! verdant's HTTP client through a `GreenPool` of 1 000: follow links,
//! dedupe, stop at a page count. Each fetch is plain sequential code
//! (`client.get(url)`, read the body, scan it for links), with no `async`
//! and no callbacks. One page at a time, 10 000 pages would take over
//! 1 000 s; here it takes about ten rounds of 100 ms.
//!
//! ```text
//! cargo run --release --example crawl [-- --pages N --pool C --latency-ms D --url URL]
//! ```
//!
//! `--url` crawls a server you name instead (only its own host's links are
//! followed, at most `--pages` pages).

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use verdant::http::{Body, Client, Request, Response, Server, StatusCode};
use verdant::sync::mpsc;
use verdant::GreenPool;

struct Args {
    pages: usize,
    pool: usize,
    latency: Duration,
    url: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        pages: 10_000,
        pool: 1_000,
        latency: Duration::from_millis(100),
        url: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let mut number = || -> u64 {
            let v = value();
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number: {v}")))
        };
        match flag.as_str() {
            "--pages" => args.pages = (number() as usize).max(1),
            "--pool" => args.pool = (number() as usize).clamp(1, 10_000),
            "--latency-ms" => args.latency = Duration::from_millis(number()),
            "--url" => args.url = Some(value()),
            "-h" | "--help" => usage(""),
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    args
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("crawl: {msg}");
    }
    eprintln!("usage: crawl [--pages N (10000)] [--pool C (1000)] [--latency-ms D (100)] [--url URL]");
    std::process::exit(2)
}

/// Links of page `n` of the slow web: its ten children in a tree (so
/// every page below the count is reachable from `/` within a few hops)
/// and two pages linked from elsewhere too (duplicates the crawler skips).
fn links(n: usize) -> impl Iterator<Item = usize> {
    (1..=10).map(move |i| 10 * n + i).chain([n / 10, (n * 7919) % (n + 1)])
}

/// The slow web: `/` and `/page/N`, each after `latency`.
fn slow_web(pages: usize, latency: Duration) -> std::io::Result<verdant::http::ServerHandle> {
    let server = Server::builder().max_connections(20_000).bind("127.0.0.1:0")?;
    server.serve_background(move |req: Request<Body>| {
        verdant::sleep(latency);
        let n = match req.uri().path() {
            "/" => Some(0),
            p => p.strip_prefix("/page/").and_then(|n| n.parse::<usize>().ok()),
        };
        match n {
            Some(n) if n < pages => {
                let mut html = format!("<html><body><h1>page {n}</h1>");
                for l in links(n).filter(|&l| l < pages) {
                    html.push_str(&format!("<a href=\"/page/{l}\">page {l}</a> "));
                }
                html.push_str("</body></html>");
                Response::new(Body::from(html))
            }
            _ => Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Body::from("no such page"))
                .unwrap(),
        }
    })
}

/// The `href="..."` targets of `html` that stay on `origin`, as absolute
/// URLs (a real crawler would use an HTML parser; this one scans).
fn extract_links(html: &str, origin: &str, out: &mut Vec<String>) {
    let mut rest = html;
    while let Some(i) = rest.find("href=\"") {
        rest = &rest[i + 6..];
        let Some(end) = rest.find('"') else { break };
        let href = &rest[..end];
        rest = &rest[end..];
        let href = href.split('#').next().unwrap_or_default();
        if href.starts_with('/') && !href.starts_with("//") {
            out.push(format!("{origin}{href}"));
        } else if href.starts_with(origin) {
            out.push(href.to_string());
        }
    }
}

/// `scheme://host[:port]` of `url`.
fn origin_of(url: &str) -> Option<String> {
    let after = url.find("://")? + 3;
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    Some(url[..end].to_string())
}

/// What one fetch reports back to the crawl loop.
struct Fetched {
    latency: Duration,
    ok: bool,
    links: Vec<String>,
}

fn main() {
    let args = parse_args();
    let (start_url, _server) = match &args.url {
        Some(url) => (url.clone(), None),
        None => {
            let server = slow_web(args.pages, args.latency).unwrap_or_else(|e| {
                eprintln!("crawl: cannot start the slow web: {e}");
                std::process::exit(1)
            });
            let url = format!("http://{}/", server.local_addr());
            println!(
                "slow web on {url}: {} pages, each answers after {} ms",
                args.pages,
                args.latency.as_millis()
            );
            (url, Some(server))
        }
    };
    let Some(origin) = origin_of(&start_url) else {
        usage(&format!("--url: not an absolute http URL: {start_url}"))
    };
    println!("crawling with a pool of {} green threads", args.pool);

    let client = Client::builder()
        .max_idle_per_host(args.pool)
        .max_idle(args.pool)
        .timeout(Duration::from_secs(30))
        .build();
    let pool = GreenPool::new(args.pool);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<Fetched>();
    let mut seen = HashSet::from([start_url.clone()]);
    let mut queue = vec![start_url];
    let mut latencies = Vec::with_capacity(args.pages);
    let mut failed = 0usize;
    let mut outstanding = 0usize;
    let progress = std::io::stderr().is_terminal();
    let mut last_report = Instant::now();
    let t0 = Instant::now();

    loop {
        // Start what the queue holds (the pool's spawn waits while all
        // `args.pool` green threads are busy: backpressure).
        while let Some(url) = queue.pop() {
            outstanding += 1;
            let (client, tx, in_flight, origin) = (client.clone(), tx.clone(), in_flight.clone(), origin.clone());
            pool.spawn(move || {
                in_flight.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let mut links = Vec::new();
                let page = client.get(&url).map_err(std::io::Error::from).and_then(|r| {
                    if !r.status().is_success() {
                        return Err(std::io::Error::other(format!("GET {url}: {}", r.status())));
                    }
                    r.into_body().into_string(1 << 20)
                });
                let ok = match page {
                    Ok(html) => {
                        extract_links(&html, &origin, &mut links);
                        true
                    }
                    Err(e) => {
                        eprintln!("\rcrawl: {e}");
                        false
                    }
                };
                in_flight.fetch_sub(1, Ordering::Relaxed);
                let _ = tx.send(Fetched {
                    latency: t.elapsed(),
                    ok,
                    links,
                });
            });
            // Take in what finished meanwhile, so the queue keeps filling.
            while let Ok(f) = rx.try_recv() {
                take(
                    f,
                    &mut seen,
                    &mut queue,
                    &mut latencies,
                    &mut failed,
                    &mut outstanding,
                    args.pages,
                );
            }
        }
        if outstanding == 0 {
            break;
        }
        let f = rx.recv().expect("the crawl loop holds a sender");
        take(
            f,
            &mut seen,
            &mut queue,
            &mut latencies,
            &mut failed,
            &mut outstanding,
            args.pages,
        );
        if progress && last_report.elapsed() >= Duration::from_millis(100) {
            last_report = Instant::now();
            let secs = t0.elapsed().as_secs_f64();
            eprint!(
                "\r{:>6} pages  {:>8.0} pages/s  {:>5} in flight ",
                latencies.len(),
                latencies.len() as f64 / secs,
                in_flight.load(Ordering::Relaxed)
            );
            let _ = std::io::stderr().flush();
        }
    }
    let wall = t0.elapsed();
    if progress {
        eprint!("\r{:60}\r", "");
    }
    // One at a time, each page costs at least the slow web's latency; for
    // a server named with --url, the fetches' own times back to back.
    let serial = match args.url {
        None => args.latency * latencies.len() as u32,
        Some(_) => latencies.iter().sum(),
    };
    summary(&mut latencies, failed, wall, serial);
    // Against the built-in slow web every fetch must succeed.
    if failed > 0 && args.url.is_none() {
        std::process::exit(1);
    }
}

/// Books one finished fetch: its latency, and the links not seen before
/// (while the page count allows).
fn take(
    f: Fetched,
    seen: &mut HashSet<String>,
    queue: &mut Vec<String>,
    latencies: &mut Vec<Duration>,
    failed: &mut usize,
    outstanding: &mut usize,
    pages: usize,
) {
    *outstanding -= 1;
    if f.ok {
        latencies.push(f.latency);
    } else {
        *failed += 1;
    }
    for link in f.links {
        if seen.len() >= pages {
            break;
        }
        if seen.insert(link.clone()) {
            queue.push(link);
        }
    }
}

fn summary(latencies: &mut [Duration], failed: usize, wall: Duration, serial: Duration) {
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "fetched {} pages ({failed} failed) in {:.2} s",
        latencies.len(),
        wall.as_secs_f64()
    );
    println!("  {:.0} pages/s", latencies.len() as f64 / wall.as_secs_f64());
    println!(
        "  fetch latency p50 {:.1} ms, p99 {:.1} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
    if !serial.is_zero() {
        println!(
            "  {:.0}x faster than one at a time (which would take {:.1} s)",
            serial.as_secs_f64() / wall.as_secs_f64(),
            serial.as_secs_f64()
        );
    }
}
