//! Echo round trips: a verdant echo server, a tokio echo server and a
//! hand-written bare mio loop (no runtime at all), same load generator,
//! side by side in one run.
//!
//! ```text
//! cargo bench -p verdant-benches --bench echo
//! ECHO_SECS=3 ECHO_WORKERS=1 ECHO_CONNS=50,500 ECHO_RUNS=3 cargo bench -p verdant-benches --bench echo
//! ECHO_STRACE=1 ECHO_SERVERS=verdant cargo bench -p verdant-benches --bench echo     # syscall counts
//! ```
//!
//! Each server runs in a child process (this binary, re-run with
//! `ECHO_SERVE=<name>`), so its CPU time is its own: the parent samples the
//! child's threads' on-CPU time (`/proc/<pid>/task/*/schedstat`, in ns) at
//! the end of the warm-up and at the end of the run, and divides by the
//! round trips completed in between. That is server CPU per round trip,
//! user and kernel time together, with neither the client's CPU nor the
//! setup in it. Only 127.0.0.1 is used.
//!
//! Load generator: one OS thread in the parent running a tokio
//! current-thread runtime with C tasks, each on its own connection, each
//! sending a 64-byte request and reading the 64-byte echo back in a loop
//! for a fixed time. It records every round trip's latency. All servers
//! set `TCP_NODELAY`, as does the client. The cases are interleaved over
//! `ECHO_RUNS` runs, and the medians are reported: round trips per
//! second, p50 and p99 latency, server CPU per round trip, and verdant /
//! tokio.
//!
//! With `ECHO_STRACE=1`, each server of `ECHO_SERVERS` instead runs once
//! under `strace -f -c -e trace=recvfrom,sendto,read,write,epoll_wait`
//! (which slows it down: only the counts mean anything), and the bench
//! prints the calls and errors (`EAGAIN`) per syscall and per round trip.

mod support;

use support::ChildServer;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MSG: usize = 64;
const WARMUP: Duration = Duration::from_millis(300);
const TRACED: &str = "recvfrom,sendto,read,write,epoll_wait";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One run against one server.
struct Sample {
    rps: f64,
    p50: Duration,
    p99: Duration,
    /// Round trips after the warm-up.
    measured: usize,
    /// Round trips including the warm-up.
    total: usize,
}

/// Drives `conns` connections against `addr` until `end`, keeping the
/// latencies of round trips started after `warmup`; one OS thread.
fn load(addr: SocketAddr, conns: usize, warmup: Instant, end: Instant) -> std::thread::JoinHandle<Sample> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let tasks: Vec<_> = (0..conns)
                .map(|_| {
                    tokio::spawn(async move {
                        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                        s.set_nodelay(true).unwrap();
                        let req = [7u8; MSG];
                        let mut resp = [0u8; MSG];
                        let mut lat = Vec::with_capacity(1 << 16);
                        let mut total = 0;
                        loop {
                            let t = Instant::now();
                            if t >= end {
                                return (lat, total);
                            }
                            s.write_all(&req).await.unwrap();
                            s.read_exact(&mut resp).await.unwrap();
                            total += 1;
                            if t >= warmup {
                                lat.push(t.elapsed().as_nanos() as u32);
                            }
                        }
                    })
                })
                .collect();
            let mut all: Vec<u32> = Vec::new();
            let mut total = 0;
            for t in tasks {
                let (lat, n) = t.await.unwrap();
                all.extend(lat);
                total += n;
            }
            all.sort_unstable();
            let pct = |p: f64| Duration::from_nanos(all[((all.len() - 1) as f64 * p) as usize] as u64);
            Sample {
                rps: all.len() as f64 / (end - warmup).as_secs_f64(),
                p50: pct(0.50),
                p99: pct(0.99),
                measured: all.len(),
                total,
            }
        })
    })
}

// ---- The servers (run in the child process) --------------------------

fn verdant_server(workers: usize) -> SocketAddr {
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
    let addr = server.local_addr();
    // The child exits with the process.
    std::mem::forget((rt, server));
    addr
}

fn tokio_server(workers: usize) -> SocketAddr {
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
    std::mem::forget(rt);
    addr
}

/// A bare mio echo loop on one thread: edge-triggered, reads until a short
/// read (drained) or `WouldBlock`, writes back, keeps what the socket did
/// not take until it is writable again. The floor a runtime is measured
/// against.
fn mio_server() -> SocketAddr {
    use mio::net::{TcpListener, TcpStream};
    use mio::{Events, Interest, Poll, Token};
    const LISTENER: Token = Token(usize::MAX);
    struct Conn {
        s: TcpStream,
        unsent: Vec<u8>,
    }
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut poll = Poll::new().unwrap();
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .unwrap();
        let mut events = Events::with_capacity(1024);
        let mut conns: Vec<Option<Conn>> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            poll.poll(&mut events, None).unwrap();
            for ev in events.iter() {
                if ev.token() == LISTENER {
                    while let Ok((mut s, _)) = listener.accept() {
                        s.set_nodelay(true).unwrap();
                        let i = free.pop().unwrap_or_else(|| {
                            conns.push(None);
                            conns.len() - 1
                        });
                        poll.registry()
                            .register(&mut s, Token(i), Interest::READABLE | Interest::WRITABLE)
                            .unwrap();
                        conns[i] = Some(Conn { s, unsent: Vec::new() });
                    }
                    continue;
                }
                let i = ev.token().0;
                let Some(c) = conns[i].as_mut() else { continue };
                let mut open = flush(c).is_ok();
                while open {
                    match c.s.read(&mut buf) {
                        Ok(0) => open = false,
                        Ok(n) => {
                            c.unsent.extend_from_slice(&buf[..n]);
                            open = flush(c).is_ok();
                            if n < buf.len() {
                                break; // drained: the next data raises an event
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(_) => open = false,
                    }
                }
                if !open {
                    let mut c = conns[i].take().unwrap();
                    let _ = poll.registry().deregister(&mut c.s);
                    free.push(i);
                }
            }
        }
    });

    /// Writes what it can of `c.unsent`.
    fn flush(c: &mut Conn) -> std::io::Result<()> {
        while !c.unsent.is_empty() {
            match c.s.write(&c.unsent) {
                Ok(n) => drop(c.unsent.drain(..n)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
    addr
}

/// The child: starts server `name`, prints "pid port", serves until its
/// stdin closes.
fn serve(name: &str) {
    let workers: usize = env_or("ECHO_WORKERS", 1);
    let addr = match name {
        "verdant" => verdant_server(workers),
        "tokio" => tokio_server(workers),
        "mio" => mio_server(),
        other => panic!("ECHO_SERVE={other}: not verdant, tokio or mio"),
    };
    println!("{} {}", std::process::id(), addr.port());
    std::io::stdout().flush().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    // No runtime shutdown: `exit` ends the threads (and lets strace
    // write its summary).
    std::process::exit(0);
}

// ---- The parent -------------------------------------------------------

/// Starts server `name` as a child process, under `strace` writing to
/// `trace` if given.
fn start_server(name: &str, trace: Option<&std::path::Path>) -> ChildServer {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match trace {
        Some(out) => {
            let mut c = Command::new("strace");
            c.args(["-f", "-c", "-e", &format!("trace={TRACED}"), "-o"])
                .arg(out)
                .arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.env("ECHO_SERVE", name);
    ChildServer::start(cmd, name)
}

/// One timed run: the load's sample and the server CPU per measured
/// round trip.
fn run(name: &str, conns: usize, secs: Duration) -> (Sample, Duration) {
    let server = start_server(name, None);
    let warmup = Instant::now() + WARMUP;
    let end = warmup + secs;
    let client = load(server.addr, conns, warmup, end);
    std::thread::sleep(warmup.saturating_duration_since(Instant::now()));
    let cpu0 = server.cpu();
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let cpu1 = server.cpu();
    let s = client.join().unwrap();
    server.stop();
    let per = (cpu1 - cpu0) / s.measured.max(1) as u32;
    (s, per)
}

fn median(v: impl Iterator<Item = f64>) -> f64 {
    support::Stats::of(v.collect()).median
}

fn timed(servers: &[String], conns: &[usize], secs: Duration, runs: usize) {
    println!("| conns | server | round trips/s | p50 | p99 | server CPU / round trip | CPU vs tokio |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for &c in conns {
        let mut samples: Vec<Vec<(Sample, Duration)>> = servers.iter().map(|_| Vec::new()).collect();
        for _ in 0..runs {
            for (name, out) in servers.iter().zip(&mut samples) {
                out.push(run(name, c, secs));
            }
        }
        let cpu_of = |v: &Vec<(Sample, Duration)>| median(v.iter().map(|(_, cpu)| cpu.as_nanos() as f64));
        let tokio_cpu = servers.iter().position(|s| s == "tokio").map(|i| cpu_of(&samples[i]));
        for (name, v) in servers.iter().zip(&samples) {
            let rps = median(v.iter().map(|(s, _)| s.rps));
            let p50 = median(v.iter().map(|(s, _)| s.p50.as_nanos() as f64));
            let p99 = median(v.iter().map(|(s, _)| s.p99.as_nanos() as f64));
            let cpu = cpu_of(v);
            let vs = tokio_cpu.map_or("-".into(), |t| format!("{:.2}×", cpu / t));
            println!(
                "| {c} | {name} | {rps:.0} | {:.1?} | {:.1?} | {:.2} µs | {vs} |",
                Duration::from_nanos(p50 as u64),
                Duration::from_nanos(p99 as u64),
                cpu / 1000.0
            );
        }
    }
}

fn traced(servers: &[String], conns: &[usize], secs: Duration) {
    let dir = std::env::temp_dir();
    println!("| conns | server | round trips | syscall | calls | errors (EAGAIN) | calls / round trip |");
    println!("|---:|---|---:|---|---:|---:|---:|");
    for &c in conns {
        for name in servers {
            let out = dir.join(format!("verdant-echo-strace-{}-{name}-{c}.txt", std::process::id()));
            let server = start_server(name, Some(&out));
            let warmup = Instant::now() + WARMUP;
            let s = load(server.addr, c, warmup, warmup + secs).join().unwrap();
            server.stop();
            let report = std::fs::read_to_string(&out).expect("strace wrote its summary");
            let _ = std::fs::remove_file(&out);
            for line in report.lines() {
                // "% time seconds usecs/call calls [errors] syscall"
                let f: Vec<&str> = line.split_whitespace().collect();
                let Some(&sys) = f.last() else { continue };
                if !TRACED.split(',').any(|t| t == sys) || f.len() < 5 {
                    continue;
                }
                let calls: usize = f[3].parse().unwrap_or(0);
                let errors: usize = if f.len() == 6 { f[4].parse().unwrap_or(0) } else { 0 };
                println!(
                    "| {c} | {name} | {} | {sys} | {calls} | {errors} | {:.2} |",
                    s.total,
                    calls as f64 / s.total.max(1) as f64
                );
            }
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("echo: bench");
        return;
    }
    if let Ok(name) = std::env::var("ECHO_SERVE") {
        return serve(&name);
    }
    support::watchdog();
    let secs = Duration::from_secs_f64(env_or("ECHO_SECS", 3.0));
    let workers: usize = env_or("ECHO_WORKERS", 1);
    let runs: usize = env_or("ECHO_RUNS", 3).max(1);
    let list = |var: &str, default: &str| -> Vec<String> {
        std::env::var(var)
            .unwrap_or_else(|_| default.into())
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let conns: Vec<usize> = list("ECHO_CONNS", "50,500")
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
    let servers = list("ECHO_SERVERS", "verdant,tokio,mio");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    if std::env::var_os("ECHO_STRACE").is_some() {
        println!(
            "echo under strace: {MSG}-byte round trips, {secs:?} + {WARMUP:?} warm-up, {workers} server worker(s), Linux {}\n",
            kernel.trim()
        );
        return traced(&servers, &conns, secs);
    }
    println!(
        "echo: {MSG}-byte round trips, {secs:?} per run, median of {runs} runs, {workers} server worker(s) \
         (mio: 1 thread), 1 client thread, Linux {}\n",
        kernel.trim()
    );
    timed(&servers, &conns, secs, runs);
}
