//! `verdant::monkey_patch()`: unmodified blocking crates run green.
//!
//! A slow HTTP server (std::net code written for OS threads, answering
//! after 100 ms) and 1 000 GETs made with unmodified `ureq`, 200 in
//! flight through a `GreenPool`, all on ONE worker, while a ticker green
//! thread on that worker keeps ticking with `std::thread::sleep`.
//!
//! ```sh
//! cargo run --release --features hook --example monkey_patch
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    verdant::monkey_patch()?;
    let rt = verdant::Runtime::builder().workers(1).build()?;

    // The server: a thread per connection, as written for std threads;
    // here its "threads" are green.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/", listener.local_addr()?);
    rt.spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break }; // ECANCELED at shutdown
            verdant::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone()?);
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 {
                        return Ok::<_, std::io::Error>(());
                    }
                    if line == "\r\n" {
                        std::thread::sleep(Duration::from_millis(100)); // a slow backend
                        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")?;
                    }
                }
            });
        }
    });

    let ticks = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (t, s) = (ticks.clone(), stop.clone());
    rt.spawn(move || {
        while !s.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
            t.fetch_add(1, Ordering::Relaxed);
        }
    });

    let start = Instant::now();
    let ok = rt.block_on(move || {
        let pool = verdant::GreenPool::new(200);
        let hs: Vec<_> = (0..1000)
            .map(|_| {
                let url = url.clone();
                pool.spawn(move || ureq::get(&url).call().map(|r| r.status() == 200).unwrap_or(false))
            })
            .collect();
        hs.into_iter().filter_map(|h| h.join().ok()).filter(|&ok| ok).count()
    });
    stop.store(true, Ordering::Relaxed);
    println!(
        "{ok} of 1000 GETs answered, 100 ms each, 200 in flight on one worker: {:?} (ideal 0.5 s); the ticker ticked {} times meanwhile",
        start.elapsed(),
        ticks.load(Ordering::Relaxed)
    );
    Ok(())
}
