//! TLS: full handshakes per second (a new connection per request) and
//! keep-alive hello-world over https, a verdant TLS server against tokio +
//! tokio-rustls ones, side by side in one run. The same rustls
//! `ServerConfig` (from `verdant::tls::server_config`: rustls 0.23 with the
//! ring provider) and the same ECDSA P-256 certificate (made by rcgen at
//! start) on every side.
//!
//! ```text
//! cargo bench -p verdant-benches --bench tls_hello
//! BENCH_RUNS=3 TLS_SECS=3 TLS_CONNS=50,500 TLS_CLIENTS=16 TLS_SERVERS=verdant,tokio,hyper \
//!     cargo bench -p verdant-benches --bench tls_hello
//! ```
//!
//! The servers, each in a child process (this binary, re-run with
//! `TLS_SERVE=<name>`) with all of its threads pinned to CPU 0:
//!
//! - `verdant`: `verdant::net::serve_background` on a 1-worker runtime,
//!   each connection `verdant::tls::TlsStream::accept`, then a fixed
//!   response loop (read until a blank line, answer a canned
//!   `200 OK` with `Hello, World!`). `Server::builder().tls(..)` is not on
//!   main yet, so verdant's HTTP server cannot be used over TLS here.
//! - `tokio`: the same fixed loop over `tokio_rustls::TlsAcceptor` on a
//!   tokio current-thread runtime: like for like with `verdant`.
//! - `hyper`: hyper 1.x `http1` over `tokio_rustls`, tokio current-thread:
//!   a full HTTP server, which does more per request than the fixed loops.
//!
//! Loads, on CPU 1:
//!
//! - handshakes: `TLS_CLIENTS` OS threads (default 16), each connecting,
//!   doing a full TLS 1.3 handshake (client-side resumption disabled, so
//!   never resumed), sending one `GET` and reading the response, then
//!   closing; for `TLS_SECS` after a 0.5 s warm-up. Reported: connections
//!   per second and the server's CPU time per connection (its threads'
//!   `/proc/<pid>/task/*/schedstat`, over the timed part): the client also
//!   pays a handshake (and verifies a signature), so with one core each the
//!   rate may be the client's limit, and the CPU per connection is the
//!   server's own cost.
//! - keep-alive: `taskset -c 1 wrk -t1 -cN -dSs --latency https://...`
//!   (wrk with OpenSSL; its handshakes happen before the timing), after a
//!   1 s warm-up. Skipped, loudly, if `wrk` is missing.
//!
//! Medians of `BENCH_RUNS` (default 3) runs, the servers alternating, a
//! fresh server process per run. Loopback only.

mod support;

use support::ChildServer;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
const BODY: &str = "Hello, World!";
const SERVER_CORE: usize = 0;
const CLIENT_CORE: usize = 1;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// How many complete request heads (ending in a blank line) `buf` holds;
/// removes them from it. GETs only: no bodies.
fn take_requests(buf: &mut Vec<u8>) -> usize {
    let mut n = 0;
    let mut start = 0;
    while let Some(i) = buf[start..].windows(4).position(|w| w == b"\r\n\r\n") {
        start += i + 4;
        n += 1;
    }
    buf.drain(..start);
    n
}

// ---- The servers (run in the child process) --------------------------

fn server_config() -> Arc<rustls::ServerConfig> {
    let cert = std::fs::read(std::env::var("TLS_CERT").unwrap()).unwrap();
    let key = std::fs::read(std::env::var("TLS_KEY").unwrap()).unwrap();
    verdant::tls::server_config(&cert, &key).unwrap()
}

fn verdant_server(cfg: Arc<rustls::ServerConfig>) -> SocketAddr {
    let rt = verdant::Runtime::builder().workers(1).watchdog(None).build().unwrap();
    let server = rt.block_on(move || {
        let l = verdant::net::TcpListener::builder()
            .backlog(4096)
            .nodelay(true)
            .bind("127.0.0.1:0")
            .unwrap();
        verdant::net::serve_background(l, 100_000, move |tcp, _| {
            // A client that goes away (wrk at the end of a run) is not
            // worth a log line: errors end the connection quietly, as
            // on the tokio side.
            let _ = fixed_loop(cfg.clone(), tcp);
            Ok(())
        })
        .unwrap()
    });
    let addr = server.local_addr();
    std::mem::forget((rt, server));
    addr
}

/// verdant's connection: the handshake, then the fixed response loop.
fn fixed_loop(cfg: Arc<rustls::ServerConfig>, tcp: verdant::net::TcpStream) -> std::io::Result<()> {
    let mut tls = verdant::tls::TlsStream::accept(cfg, tcp)?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let mut out = Vec::with_capacity(1024);
    loop {
        let n = tls.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        for _ in 0..take_requests(&mut buf) {
            out.extend_from_slice(RESPONSE);
        }
        if !out.is_empty() {
            tls.write_all(&out)?;
            out.clear();
        }
    }
}

/// A tokio current-thread server: `hyper` or the fixed loop.
fn tokio_server(cfg: Arc<rustls::ServerConfig>, hyper: bool) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let listener = socket.listen(4096).unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                stream.set_nodelay(true).unwrap();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    if hyper {
                        let service = hyper::service::service_fn(|_req| async {
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                                bytes::Bytes::from_static(BODY.as_bytes()),
                            )))
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                            .await;
                        return;
                    }
                    let mut buf = Vec::with_capacity(4096);
                    let mut chunk = [0u8; 4096];
                    let mut out = Vec::with_capacity(1024);
                    loop {
                        let n = match tls.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        for _ in 0..take_requests(&mut buf) {
                            out.extend_from_slice(RESPONSE);
                        }
                        if !out.is_empty() {
                            if tls.write_all(&out).await.is_err() {
                                return;
                            }
                            out.clear();
                        }
                    }
                });
            }
        });
    });
    rx.recv().unwrap()
}

fn serve(name: &str) {
    support::pin_to_core(SERVER_CORE);
    let cfg = server_config();
    let addr = match name {
        "verdant" => verdant_server(cfg),
        "tokio" => tokio_server(cfg, false),
        "hyper" => tokio_server(cfg, true),
        other => panic!("TLS_SERVE={other}: not verdant, tokio or hyper"),
    };
    println!("{} {}", std::process::id(), addr.port());
    std::io::stdout().flush().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    std::process::exit(0);
}

// ---- The parent -------------------------------------------------------

/// Starts server `name` as a child process serving `cert`/`key`.
fn start_server(name: &str, cert: &std::path::Path, key: &std::path::Path) -> ChildServer {
    let mut cmd = support::self_command("TLS_SERVE", name);
    cmd.env("TLS_CERT", cert).env("TLS_KEY", key);
    ChildServer::start(cmd, name)
}

/// One request on a fresh connection with a full handshake.
fn one_connection(addr: SocketAddr, cfg: &Arc<rustls::ClientConfig>) -> std::io::Result<()> {
    let tcp = std::net::TcpStream::connect(addr)?;
    tcp.set_nodelay(true)?;
    let conn =
        rustls::ClientConnection::new(cfg.clone(), "localhost".try_into().unwrap()).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let mut got = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    while !got.ends_with(BODY.as_bytes()) {
        let n = tls.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got.extend_from_slice(&chunk[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    Ok(())
}

/// Handshake load: returns (connections/s, server CPU per connection, errors).
fn handshakes(
    server: &ChildServer,
    cfg: &Arc<rustls::ClientConfig>,
    clients: usize,
    secs: f64,
) -> (f64, Duration, usize) {
    let done = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (done, errors, stop, cfg, addr) =
                (done.clone(), errors.clone(), stop.clone(), cfg.clone(), server.addr);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match one_connection(addr, &cfg) {
                        Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (n0, cpu0, t0) = (done.load(Ordering::Relaxed), server.cpu(), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (n1, cpu1, t1) = (done.load(Ordering::Relaxed), server.cpu(), Instant::now());
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let n = (n1 - n0).max(1);
    (
        n as f64 / (t1 - t0).as_secs_f64(),
        (cpu1 - cpu0) / n as u32,
        errors.load(Ordering::Relaxed),
    )
}

fn median(v: impl Iterator<Item = f64>) -> f64 {
    support::Stats::of(v.collect()).median
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("tls_hello: bench");
        return;
    }
    if let Ok(name) = std::env::var("TLS_SERVE") {
        return serve(&name);
    }
    support::watchdog();
    let secs: u32 = env_or("TLS_SECS", 3);
    let clients: usize = env_or("TLS_CLIENTS", 16);
    let runs = support::runs_or(3);
    let list = |var: &str, default: &str| -> Vec<String> {
        std::env::var(var)
            .unwrap_or_else(|_| default.into())
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let conns: Vec<usize> = list("TLS_CONNS", "50,500")
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
    let servers = list("TLS_SERVERS", "verdant,tokio,hyper");

    // The certificate, for every server, and a client that trusts it.
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir();
    let cert = dir.join(format!("verdant-tls-bench-{}-cert.pem", std::process::id()));
    let key = dir.join(format!("verdant-tls-bench-{}-key.pem", std::process::id()));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let mut client_cfg = (*verdant::tls::client_config_with_roots(ck.cert.pem().as_bytes()).unwrap()).clone();
    client_cfg.resumption = rustls::client::Resumption::disabled();
    let client_cfg = Arc::new(client_cfg);

    // The handshake clients (OS threads) on CPU 1.
    support::pin_to_core(CLIENT_CORE);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "### tls_hello\n\n`BENCH_RUNS={runs} TLS_SECS={secs} TLS_CLIENTS={clients} cargo bench -p verdant-benches --bench tls_hello`  \n\
         rustls 0.23 + ring on every side, ECDSA P-256 certificate (rcgen); servers pinned to CPU {SERVER_CORE} \
         (1 worker / current-thread), load on CPU {CLIENT_CORE}; median of {runs} runs, Linux {}; \
         load average at start {}\n",
        kernel.trim(),
        support::loadavg()
    );

    // Handshakes.
    let mut hs: Vec<Vec<(f64, Duration, usize)>> = servers.iter().map(|_| Vec::new()).collect();
    let mut per_run = Vec::new();
    for run in 0..runs {
        for (name, out) in servers.iter().zip(&mut hs) {
            let server = start_server(name, &cert, &key);
            let load = support::loadavg();
            let r = handshakes(&server, &client_cfg, clients, secs as f64);
            server.stop();
            per_run.push(format!(
                "| handshakes | {} | {name} | {:.0} conn/s | {:.1} µs | {} | {load} |",
                run + 1,
                r.0,
                r.1.as_secs_f64() * 1e6,
                r.2
            ));
            out.push(r);
        }
    }
    println!("Full handshake + one request per connection, {clients} client threads:\n");
    println!("| server | connections/s | server CPU / connection |");
    println!("|---|---:|---:|");
    let mut hs_med = Vec::new();
    for (name, v) in servers.iter().zip(&hs) {
        let rate = median(v.iter().map(|r| r.0));
        let cpu = median(v.iter().map(|r| r.1.as_secs_f64() * 1e6));
        hs_med.push((name.clone(), rate, cpu));
        println!("| {name} | {rate:.0} | {cpu:.1} µs |");
    }
    if let Some(v) = hs_med.iter().find(|s| s.0 == "verdant") {
        for p in hs_med.iter().filter(|s| s.0 != "verdant") {
            println!(
                "\nverdant / {}: rate {:.2}, server CPU per connection {:.2}",
                p.0,
                v.1 / p.1,
                v.2 / p.2
            );
        }
    }
    println!();

    // Keep-alive under wrk.
    if !support::wrk_installed() {
        println!("SKIPPED (keep-alive part): wrk not installed (apt install wrk)");
        eprintln!("SKIPPED (keep-alive part): wrk not installed (apt install wrk)");
    } else {
        let mut summary = Vec::new();
        for &c in &conns {
            let mut samples: Vec<Vec<support::WrkResult>> = servers.iter().map(|_| Vec::new()).collect();
            for run in 0..runs {
                for (name, out) in servers.iter().zip(&mut samples) {
                    let server = start_server(name, &cert, &key);
                    let url = format!("https://localhost:{}/", server.addr.port());
                    let _ = support::wrk(CLIENT_CORE, c, 1, &url);
                    let load = support::loadavg();
                    let r = support::wrk(CLIENT_CORE, c, secs, &url);
                    server.stop();
                    per_run.push(format!(
                        "| keep-alive {c} conns | {} | {name} | {:.0} req/s | p99 {:.2} ms | {} | {load} |",
                        run + 1,
                        r.rps,
                        r.p99 * 1e3,
                        r.errors
                    ));
                    out.push(r);
                }
            }
            for (name, v) in servers.iter().zip(&samples) {
                summary.push((
                    c,
                    name.clone(),
                    median(v.iter().map(|r| r.rps)),
                    median(v.iter().map(|r| r.p50)),
                    median(v.iter().map(|r| r.p99)),
                ));
            }
        }
        println!("Keep-alive https under `taskset -c {CLIENT_CORE} wrk -t1 -cN -d{secs}s --latency`:\n");
        println!("| conns | server | req/s | p50 | p99 | req/s vs verdant |");
        println!("|---:|---|---:|---:|---:|---:|");
        for (c, name, rps, p50, p99) in &summary {
            let v = summary.iter().find(|s| s.0 == *c && s.1 == "verdant").map(|s| s.2);
            let vs = v.map_or("-".into(), |v| format!("verdant/{name} = {:.2}", v / rps));
            println!(
                "| {c} | {name} | {rps:.0} | {:.2} ms | {:.2} ms | {vs} |",
                p50 * 1e3,
                p99 * 1e3
            );
        }
        println!();
    }
    println!("Each run (load average: 1, 5, 15 min):\n");
    println!("| load | run | server | rate | latency / CPU | errors | load avg |");
    println!("|---|---:|---|---:|---:|---:|---|");
    for line in per_run {
        println!("{line}");
    }
    let _ = std::fs::remove_file(&cert);
    let _ = std::fs::remove_file(&key);
}
