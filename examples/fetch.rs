//! Five HTTP/1.0 GETs at once over raw `TcpStream`s, against a tiny slow
//! HTTP server started in-process on 127.0.0.1 (never an outside address).
//!
//! ```text
//! cargo run --example fetch
//! ```
//!
//! Each response takes the server 200 ms; fetched concurrently from green
//! threads, all five take about 200 ms, not one second.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use verdant::net::{serve_background, TcpListener, TcpStream};

const DELAY: Duration = Duration::from_millis(200);

/// Answers every GET with a small page naming its path, after `DELAY`.
fn handle(mut conn: TcpStream, _peer: SocketAddr) -> io::Result<()> {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf)?;
        if n == 0 || req.len() > 16 * 1024 {
            return Ok(());
        }
        req.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&req);
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    verdant::sleep(DELAY); // a slow backend: parks this green thread only
    let body = format!("<html><body>you asked for {path}</body></html>\n");
    write!(
        conn,
        "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// One GET: returns the status code and the body.
fn get(addr: SocketAddr, path: &str) -> io::Result<(u16, String)> {
    let mut conn = TcpStream::connect(addr)?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut resp = Vec::new();
    conn.read_to_end(&mut resp)?; // HTTP/1.0: the server closes at the end
    let text = String::from_utf8_lossy(&resp);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no end of headers"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    Ok((status, body.to_owned()))
}

fn main() -> io::Result<()> {
    let server = serve_background(TcpListener::bind("127.0.0.1:0")?, 100, handle)?;
    let addr = server.local_addr();
    let paths = ["/", "/news", "/about", "/search?q=green+threads", "/contact"];
    let start = Instant::now();
    let handles: Vec<_> = paths
        .iter()
        .map(|&path| {
            verdant::spawn(move || {
                let t = Instant::now();
                get(addr, path).map(|r| (path, r, t.elapsed()))
            })
        })
        .collect();
    for h in handles {
        let (path, (status, body), took) = h.join().map_err(io::Error::from)??;
        println!("{status} {path:<28} {:>3} bytes in {took:?}", body.len());
    }
    println!("5 requests in {:?} (each takes the server {DELAY:?})", start.elapsed());
    server.stop()
}
