//! The main demo: crawl 10 000 URLs through a pool of 1 000 green threads.
//!
//! An in-process HTTP/1.0 server on 127.0.0.1 answers every request after
//! 100 ms, the way a slow site keeps a crawler waiting. Each fetch is plain
//! sequential code over `verdant::net::TcpStream` (connect, write the
//! request, read to the end, parse with `httparse`), with no `async` and no
//! callbacks; the pool keeps 1 000 in flight. One at a time this would
//! take 1 000 s; here it takes about ten rounds of 100 ms.
//!
//! ```text
//! cargo run --release --example crawl [-- --urls N --concurrency C --delay-ms D]
//! ```

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use verdant::net::{TcpListener, TcpStream};
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
            "--concurrency" => args.concurrency = (value() as usize).clamp(1, 5_000),
            "--delay-ms" => args.delay = Duration::from_millis(value()),
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    args
}

fn usage(msg: &str) -> ! {
    eprintln!("crawl: {msg}\nusage: crawl [--urls N] [--concurrency C (max 5000)] [--delay-ms D]");
    std::process::exit(2)
}

/// The slow site: read a request, wait, answer with a small page.
fn handle(mut conn: TcpStream, delay: Duration) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    let mut len = 0;
    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf[len..])?;
        if n == 0 || len + n == buf.len() {
            return Ok(()); // gave up, or not a request we serve
        }
        len += n;
    }
    let path = std::str::from_utf8(&buf[..len])
        .unwrap_or("")
        .split(' ')
        .nth(1)
        .unwrap_or("/");
    verdant::sleep(delay);
    let body = format!("<html><body>page {path}</body></html>\n");
    write!(
        conn,
        "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// One fetch, written as ordinary blocking code.
fn fetch(server: SocketAddr, path: &str) -> io::Result<usize> {
    let mut conn = TcpStream::connect(server)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: crawl.test\r\n\r\n")?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response)?;
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Response::new(&mut headers);
    let bad = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
    let head_len = match parsed.parse(&response) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(bad(format!("{path}: truncated response"))),
        Err(e) => return Err(bad(format!("{path}: {e}"))),
    };
    match parsed.code {
        Some(200) => Ok(response.len() - head_len),
        code => Err(bad(format!("{path}: status {code:?}"))),
    }
}

fn main() -> io::Result<()> {
    let args = parse_args();
    let delay = args.delay;
    let listener = TcpListener::builder().backlog(4096).bind("127.0.0.1:0")?;
    let server = verdant::net::serve_background(listener, 10_000, move |conn, _peer| handle(conn, delay))?;
    let addr = server.local_addr();
    println!(
        "crawling {} urls on http://{addr}, {} at a time, each taking {:?} to answer...",
        args.urls, args.concurrency, args.delay
    );

    let start = Instant::now();
    let pool = GreenPool::new(args.concurrency);
    let results: Vec<io::Result<usize>> = pool
        .imap(0..args.urls, move |i| fetch(addr, &format!("/page/{i}")))
        .collect();
    let took = start.elapsed();
    server.stop()?;

    let bytes: usize = results.iter().filter_map(|r| r.as_ref().ok()).sum();
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let sequential = args.delay * args.urls as u32;
    println!(
        "fetched {} urls ({bytes} body bytes) in {took:.2?}",
        args.urls - failed.len()
    );
    println!(
        "one at a time this would take at least {sequential:.0?}: {:.0}x faster with green threads",
        sequential.as_secs_f64() / took.as_secs_f64()
    );
    if let Some(e) = failed.first() {
        eprintln!("{} fetches failed; first error: {e}", failed.len());
        std::process::exit(1);
    }
    Ok(())
}
