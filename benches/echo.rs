//! Echo round trips: a verdant echo server and a tokio echo server, same
//! worker count, same load generator, side by side in one run.
//!
//! ```text
//! cargo bench --bench echo
//! ECHO_SECS=3 ECHO_WORKERS=1 ECHO_CONNS=50,500 cargo bench --bench echo
//! ```
//!
//! Load generator: one OS thread running a tokio current-thread runtime
//! with C tasks, each on its own connection, each sending a 64-byte request
//! and reading the 64-byte echo back in a loop for a fixed time. It records
//! every round trip's latency. Both servers set `TCP_NODELAY`, as does the
//! client. Reported: round trips per second, p50 and p99 latency, and
//! verdant / tokio.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MSG: usize = 64;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Stats {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// Drives `conns` connections against `addr` for `secs`; one OS thread.
fn load(addr: SocketAddr, conns: usize, secs: Duration) -> Stats {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let warmup = Instant::now() + Duration::from_millis(300);
            let end = warmup + secs;
            let tasks: Vec<_> = (0..conns)
                .map(|_| {
                    tokio::spawn(async move {
                        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                        s.set_nodelay(true).unwrap();
                        let req = [7u8; MSG];
                        let mut resp = [0u8; MSG];
                        let mut lat = Vec::with_capacity(1 << 16);
                        loop {
                            let t = Instant::now();
                            if t >= end {
                                return lat;
                            }
                            s.write_all(&req).await.unwrap();
                            s.read_exact(&mut resp).await.unwrap();
                            if t >= warmup {
                                lat.push(t.elapsed().as_nanos() as u32);
                            }
                        }
                    })
                })
                .collect();
            let mut all: Vec<u32> = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            all.sort_unstable();
            let pct = |p: f64| Duration::from_nanos(all[((all.len() - 1) as f64 * p) as usize] as u64);
            Stats {
                rps: all.len() as f64 / secs.as_secs_f64(),
                p50: pct(0.50),
                p99: pct(0.99),
            }
        })
    })
    .join()
    .unwrap()
}

fn verdant_server(workers: usize) -> (verdant::Runtime, verdant::net::Server) {
    let rt = verdant::Runtime::builder()
        .workers(workers)
        .watchdog(None)
        .build()
        .unwrap();
    let server = rt.block_on(|| {
        let l = verdant::net::TcpListener::builder()
            .backlog(4096)
            .nodelay(true)
            .bind("127.0.0.1:0")
            .unwrap();
        verdant::net::serve_background(l, 100_000, |mut c, _| {
            let mut buf = [0u8; 4096];
            loop {
                let n = c.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                c.write_all(&buf[..n])?;
            }
        })
        .unwrap()
    });
    (rt, server)
}

fn tokio_server(workers: usize) -> (tokio::runtime::Runtime, SocketAddr) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    let l = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = l.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let (mut c, _) = l.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match c.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if c.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (rt, addr)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("echo: bench");
        return;
    }
    let secs = Duration::from_secs_f64(env_or("ECHO_SECS", 3.0));
    let workers: usize = env_or("ECHO_WORKERS", 1);
    let conns: Vec<usize> = std::env::var("ECHO_CONNS")
        .unwrap_or_else(|_| "50,500".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    println!("echo: {MSG}-byte round trips, {secs:?} per run, {workers} server worker(s), 1 client thread");
    println!(
        "{:>6} {:>8} {:>12} {:>10} {:>10}",
        "conns", "server", "round trips/s", "p50", "p99"
    );
    for &c in &conns {
        let (vrt, vserver) = verdant_server(workers);
        let v = load(vserver.local_addr(), c, secs);
        vserver.stop_timeout(Duration::from_secs(1)).unwrap();
        drop(vrt);
        let (trt, taddr) = tokio_server(workers);
        let t = load(taddr, c, secs);
        trt.shutdown_timeout(Duration::from_secs(1));
        for (name, s) in [("verdant", &v), ("tokio", &t)] {
            println!("{c:>6} {name:>8} {:>12.0} {:>10.1?} {:>10.1?}", s.rps, s.p50, s.p99);
        }
        println!("{c:>6} {:>8} {:>12.2}x", "ratio", v.rps / t.rps);
    }
}
