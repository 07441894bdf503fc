//! Hello-world HTTP/1.1 keep-alive servers under `wrk`: verdant's
//! `http::Server` on a 1-worker runtime, hyper 1.x on a tokio
//! current-thread runtime, and may_minihttp with may set to 1 worker,
//! side by side in one run.
//!
//! ```text
//! cargo bench -p verdant-benches --bench http_hello
//! BENCH_RUNS=3 HELLO_CONNS=50,500 HELLO_SECS=3 HELLO_SERVERS=verdant,hyper,may_minihttp \
//!     cargo bench -p verdant-benches --bench http_hello
//! ```
//!
//! Every server answers `GET /` with `Hello, World!` (200, with
//! `Content-Length` and `Date`; may_minihttp adds `Server`). Each runs in a
//! child process (this binary, re-run with `HELLO_SERVE=<name>`) whose
//! threads are all pinned to CPU 0 (`sched_setaffinity` before any thread
//! starts); the load is `taskset -c 1 wrk -t1 -cN -dSs --latency`, on CPU 1.
//! Each run starts a fresh server, warms it with a 1 s wrk run at the same
//! connection count, then measures; the servers alternate (verdant, hyper,
//! may_minihttp, repeated `BENCH_RUNS` times, default 3) so that a noisy
//! moment hurts all alike. Reported: median req/s, p50 and p99 (wrk's
//! latency distribution), and verdant / the best peer. Loopback only.
//!
//! verdant and hyper set `TCP_NODELAY` on accepted sockets; may_minihttp
//! does not (it has no option for it); each response is one write, so
//! Nagle's algorithm does not delay it.
//!
//! Without `wrk` on the PATH the bench prints `SKIPPED` and exits 0.

mod support;

use support::ChildServer;

use std::io::{Read, Write};
use std::net::SocketAddr;

const BODY: &str = "Hello, World!";
const SERVER_CORE: usize = 0;
const WRK_CORE: usize = 1;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

// ---- The servers (run in the child process) --------------------------

fn verdant_server() -> SocketAddr {
    let rt = verdant::Runtime::builder().workers(1).watchdog(None).build().unwrap();
    let server = rt.block_on(|| {
        verdant::http::Server::builder()
            .max_connections(100_000)
            .backlog(4096)
            .bind("127.0.0.1:0")
            .unwrap()
            .serve_background(|_req| verdant::http::Response::new(BODY.into()))
            .unwrap()
    });
    let addr = server.local_addr();
    // Serves until the process exits.
    std::mem::forget((rt, server));
    addr
}

fn hyper_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let listener = socket.listen(4096).unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                stream.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from_static(BODY.as_bytes()),
                        )))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

#[derive(Clone)]
struct MayHello;

impl may_minihttp::HttpService for MayHello {
    fn call(&mut self, _req: may_minihttp::Request, rsp: &mut may_minihttp::Response) -> std::io::Result<()> {
        rsp.body(BODY);
        Ok(())
    }
}

fn may_minihttp_server() -> SocketAddr {
    may::config().set_workers(1).set_worker_pin(false);
    // may_minihttp binds by itself: find a free port first.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = may_minihttp::HttpServer(MayHello).start(addr).unwrap();
    std::mem::forget(server);
    addr
}

/// The child: pins itself to CPU 0, starts server `name`, prints "pid
/// port", serves until its stdin closes.
fn serve(name: &str) {
    support::pin_to_core(SERVER_CORE);
    let addr = match name {
        "verdant" => verdant_server(),
        "hyper" => hyper_server(),
        "may_minihttp" => may_minihttp_server(),
        other => panic!("HELLO_SERVE={other}: not verdant, hyper or may_minihttp"),
    };
    println!("{} {}", std::process::id(), addr.port());
    std::io::stdout().flush().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    std::process::exit(0);
}

// ---- The parent -------------------------------------------------------

fn median(v: impl Iterator<Item = f64>) -> f64 {
    support::Stats::of(v.collect()).median
}

fn ms(s: f64) -> String {
    format!("{:.2} ms", s * 1e3)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("http_hello: bench");
        return;
    }
    if let Ok(name) = std::env::var("HELLO_SERVE") {
        return serve(&name);
    }
    if !support::wrk_installed() {
        println!("SKIPPED: wrk not installed (apt install wrk)");
        eprintln!("SKIPPED: wrk not installed (apt install wrk)");
        return;
    }
    support::watchdog();
    let secs: u32 = env_or("HELLO_SECS", 3);
    let runs = support::runs_or(3);
    let list = |var: &str, default: &str| -> Vec<String> {
        std::env::var(var)
            .unwrap_or_else(|_| default.into())
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let conns: Vec<usize> = list("HELLO_CONNS", "50,500")
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
    let servers = list("HELLO_SERVERS", "verdant,hyper,may_minihttp");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "### http_hello\n\n`BENCH_RUNS={runs} HELLO_SECS={secs} cargo bench -p verdant-benches --bench http_hello`  \n\
         GET / → `{BODY}`, keep-alive; server pinned to CPU {SERVER_CORE} (1 worker), \
         `taskset -c {WRK_CORE} wrk -t1 -cN -d{secs}s --latency` after a 1 s warm-up; \
         median of {runs} runs, Linux {}; load average at start {}\n",
        kernel.trim(),
        support::loadavg()
    );
    let mut per_run = Vec::new();
    let mut summary = Vec::new();
    for &c in &conns {
        let mut samples: Vec<Vec<support::WrkResult>> = servers.iter().map(|_| Vec::new()).collect();
        for run in 0..runs {
            for (name, out) in servers.iter().zip(&mut samples) {
                let server = ChildServer::start(support::self_command("HELLO_SERVE", name), name);
                let url = format!("http://{}/", server.addr);
                let _ = support::wrk(WRK_CORE, c, 1, &url);
                let load = support::loadavg();
                let r = support::wrk(WRK_CORE, c, secs, &url);
                server.stop();
                per_run.push(format!(
                    "| {c} | {} | {name} | {:.0} | {} | {} | {} | {load} |",
                    run + 1,
                    r.rps,
                    ms(r.p50),
                    ms(r.p99),
                    r.errors
                ));
                out.push(r);
            }
        }
        for (name, v) in servers.iter().zip(&samples) {
            let rps = median(v.iter().map(|r| r.rps));
            let p50 = median(v.iter().map(|r| r.p50));
            let p99 = median(v.iter().map(|r| r.p99));
            summary.push((c, name.clone(), rps, p50, p99));
        }
    }
    println!("| conns | server | req/s | p50 | p99 |");
    println!("|---:|---|---:|---:|---:|");
    for (c, name, rps, p50, p99) in &summary {
        println!("| {c} | {name} | {rps:.0} | {} | {} |", ms(*p50), ms(*p99));
    }
    println!();
    if let Some(_v) = servers.iter().position(|s| s == "verdant") {
        println!("| conns | verdant / best peer req/s | verdant p99 / best peer p99 |");
        println!("|---:|---:|---:|");
        for &c in &conns {
            let of = |name: &str| summary.iter().find(|s| s.0 == c && s.1 == name).unwrap();
            let v = of("verdant");
            let peers: Vec<_> = summary.iter().filter(|s| s.0 == c && s.1 != "verdant").collect();
            let Some(best_rps) = peers.iter().max_by(|a, b| a.2.total_cmp(&b.2)) else {
                continue;
            };
            let best_p99 = peers.iter().min_by(|a, b| a.4.total_cmp(&b.4)).unwrap();
            println!(
                "| {c} | {:.2} ({}) | {:.2} ({}) |",
                v.2 / best_rps.2,
                best_rps.1,
                v.4 / best_p99.4,
                best_p99.1
            );
        }
        println!();
    }
    println!("Each run (load average: 1, 5, 15 min, at the start of the timed wrk):\n");
    println!("| conns | run | server | req/s | p50 | p99 | errors | load |");
    println!("|---:|---:|---|---:|---:|---:|---:|---|");
    for line in per_run {
        println!("{line}");
    }
}
