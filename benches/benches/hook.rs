//! `verdant::monkey_patch()`: unmodified blocking code, green, side by side.
//!
//! ```text
//! cargo bench -p verdant-benches --features hook --bench hook
//! HOOK_PARTS=fanout,echo,passthrough HOOK_RUNS=3 ECHO_SECS=2 cargo bench -p verdant-benches --features hook --bench hook
//! ```
//!
//! * **fanout**: 5 000 GETs with unmodified `ureq` (a fresh connection
//!   each, as `ureq::get` makes), 500 in flight, against a server (a
//!   verdant runtime of one worker in a child process) that answers each
//!   after 100 ms: ideal 1.0 s. Green: a `GreenPool` of 500 after
//!   `monkey_patch()`, on a runtime with the machine's workers. Peer: 500
//!   OS threads making 10 GETs each (hooks off).
//! * **echo**: 64-byte round trips against three servers in child
//!   processes (one server worker): a `std::net` server written for OS
//!   threads (a thread per connection) run on std threads, the same code
//!   run on green threads after `monkey_patch()`, and a `verdant::net`
//!   server; load from one tokio current-thread client thread.
//! * **passthrough**: one-byte `read`s from `/dev/zero` on a plain thread,
//!   through verdant's `read` (hooks off, then on) and through libc's own
//!   (`dlsym(RTLD_NEXT)`): ns per call.

mod support;

use support::{ChildServer, Stats};

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MSG: usize = 64;
const WARMUP: Duration = Duration::from_millis(300);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

// ---- Servers (child processes) ---------------------------------------

/// The HTTP server of `fanout`: answers every request after 100 ms.
fn slow_http() -> SocketAddr {
    let rt = verdant::Runtime::builder().workers(1).watchdog(None).build().unwrap();
    let server = rt.block_on(|| {
        let l = verdant::net::TcpListener::builder()
            .backlog(4096)
            .bind("127.0.0.1:0")
            .unwrap();
        verdant::net::serve_background(l, 100_000, |c, _| {
            let mut r = std::io::BufReader::new(&c);
            let mut line = String::new();
            loop {
                line.clear();
                if std::io::BufRead::read_line(&mut r, &mut line)? == 0 {
                    return Ok(());
                }
                if line == "\r\n" {
                    verdant::sleep(Duration::from_millis(100));
                    (&c).write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")?;
                }
            }
        })
        .unwrap()
    });
    let addr = server.local_addr();
    std::mem::forget((rt, server));
    addr
}

/// A `std::net` echo server written for OS threads; `spawn` runs each
/// connection's handler.
fn std_echo(spawn: fn(Box<dyn FnOnce() + Send>)) -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    spawn(Box::new(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { break };
            c.set_nodelay(true).unwrap();
            spawn(Box::new(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if c.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            }));
        }
    }));
    addr
}

fn verdant_echo() -> SocketAddr {
    let l = verdant::net::TcpListener::builder()
        .backlog(4096)
        .nodelay(true)
        .bind("127.0.0.1:0")
        .unwrap();
    let server = verdant::net::serve_background(l, 100_000, |mut c, _| {
        let mut buf = [0u8; 4096];
        loop {
            let n = c.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            c.write_all(&buf[..n])?;
        }
    })
    .unwrap();
    let addr = server.local_addr();
    std::mem::forget(server);
    addr
}

fn serve(name: &str) {
    let green = || verdant::Runtime::builder().workers(1).watchdog(None).build().unwrap();
    let addr = match name {
        "slow_http" => slow_http(),
        "std_threads" => std_echo(|f| {
            std::thread::spawn(f);
        }),
        "std_green" => {
            verdant::monkey_patch().unwrap();
            let rt = green();
            let addr = rt.block_on(|| {
                std_echo(|f| {
                    verdant::spawn(f);
                })
            });
            std::mem::forget(rt);
            addr
        }
        "verdant_net" => {
            let rt = green();
            let addr = rt.block_on(verdant_echo);
            std::mem::forget(rt);
            addr
        }
        other => panic!("HOOK_SERVE={other}?"),
    };
    println!("{} {}", std::process::id(), addr.port());
    std::io::stdout().flush().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    std::process::exit(0);
}

fn start(name: &str) -> ChildServer {
    ChildServer::start(support::self_command("HOOK_SERVE", name), name)
}

// ---- fanout -----------------------------------------------------------

const GETS: usize = 5000;
const IN_FLIGHT: usize = 500;

fn get(url: &str) -> bool {
    ureq::get(url).call().is_ok_and(|r| r.status() == 200)
}

/// One agent for every GET (its pool keeps idle connections alive for
/// reuse): how much of the overhead is a fresh agent and connection each.
fn shared_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_idle_connections(IN_FLIGHT)
        .max_idle_connections_per_host(IN_FLIGHT)
        .build()
        .into()
}

fn fanout_threads(url: &str) -> Duration {
    let t = Instant::now();
    let hs: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let url = url.to_string();
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || (0..GETS / IN_FLIGHT).all(|_| get(&url)))
                .unwrap()
        })
        .collect();
    assert!(hs.into_iter().all(|h| h.join().unwrap()), "a GET failed");
    t.elapsed()
}

fn fanout_green(rt: &verdant::Runtime, url: &str, agent: Option<ureq::Agent>) -> Duration {
    let url = url.to_string();
    rt.block_on(move || {
        let t = Instant::now();
        let pool = verdant::GreenPool::new(IN_FLIGHT);
        let hs: Vec<_> = (0..GETS)
            .map(|_| {
                let url = url.clone();
                let agent = agent.clone();
                pool.spawn(move || match agent {
                    Some(a) => a.get(&url).call().is_ok_and(|r| r.status() == 200),
                    None => get(&url),
                })
            })
            .collect();
        assert!(hs.into_iter().all(|h| h.join().unwrap()), "a GET failed");
        t.elapsed()
    })
}

fn fanout(runs: usize) {
    let server = start("slow_http");
    let url = format!("http://{}/", server.addr);
    // OS threads first, with the hooks off; then the green runs.
    let threads: Vec<f64> = (0..runs).map(|_| fanout_threads(&url).as_secs_f64()).collect();
    verdant::monkey_patch().unwrap();
    let rt = verdant::Runtime::builder()
        .workers(support::workers())
        .watchdog(None)
        .build()
        .unwrap();
    fanout_green(&rt, &url, None); // warm-up (stacks)
    let (cpu0, srv0) = (support::threads_cpu("/proc/self/task"), server.cpu());
    let green: Vec<f64> = (0..runs).map(|_| fanout_green(&rt, &url, None).as_secs_f64()).collect();
    // Where the time above the ideal goes: CPU per GET, client and server.
    let per_get = |d: Duration| d.as_secs_f64() * 1e6 / (runs * GETS) as f64;
    let (client_us, server_us) = (
        per_get(support::threads_cpu("/proc/self/task") - cpu0),
        per_get(server.cpu() - srv0),
    );
    let agent = shared_agent();
    fanout_green(&rt, &url, Some(agent.clone())); // fills its pool
    let kept: Vec<f64> = (0..runs)
        .map(|_| fanout_green(&rt, &url, Some(agent.clone())).as_secs_f64())
        .collect();
    let (g, t, k) = (Stats::of(green), Stats::of(threads), Stats::of(kept));
    println!("### hook: 5 000 GETs with unmodified ureq, 500 in flight, server answers after 100 ms (ideal 1.00 s)\n");
    println!(
        "median of {runs} runs (min in parentheses), {} workers\n",
        support::workers()
    );
    println!("| case | wall | / ideal |");
    println!("|---|---:|---:|");
    println!(
        "| GreenPool(500) after monkey_patch() | {:.3} s ({:.3}) | {:.2}× |",
        g.median, g.min, g.median
    );
    println!(
        "| 500 OS threads × 10 GETs | {:.3} s ({:.3}) | {:.2}× |",
        t.median, t.min, t.median
    );
    println!(
        "| GreenPool(500), one shared ureq::Agent (keep-alive) | {:.3} s ({:.3}) | {:.2}× |\n",
        k.median, k.min, k.median
    );
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let round_ms = (client_us + server_us) * IN_FLIGHT as f64 / 1000.0 / cpus;
    println!(
        "green runs: {client_us:.0} µs client CPU + {server_us:.0} µs server CPU per GET, so each 100 ms \
         round of {IN_FLIGHT} GETs needs {round_ms:.0} ms of CPU on {cpus} CPUs: {:.2}× if none of it \
         overlapped the waits (load average {})\n",
        1.0 + round_ms / 100.0,
        support::loadavg()
    );
    server.stop();
}

// ---- echo -------------------------------------------------------------

/// Round trips per second of `conns` connections against `addr` for
/// `secs` after a warm-up (one client OS thread, tokio current-thread).
fn load(addr: SocketAddr, conns: usize, secs: Duration) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let warmup = Instant::now() + WARMUP;
    let end = warmup + secs;
    rt.block_on(async move {
        let tasks: Vec<_> = (0..conns)
            .map(|_| {
                tokio::spawn(async move {
                    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    let req = [7u8; MSG];
                    let mut resp = [0u8; MSG];
                    let mut n = 0usize;
                    loop {
                        let t = Instant::now();
                        if t >= end {
                            return n;
                        }
                        s.write_all(&req).await.unwrap();
                        s.read_exact(&mut resp).await.unwrap();
                        if t >= warmup {
                            n += 1;
                        }
                    }
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total as f64 / secs.as_secs_f64()
    })
}

fn echo(runs: usize) {
    let secs = Duration::from_secs_f64(env_or("ECHO_SECS", 2.0));
    let names = ["std_green", "std_threads", "verdant_net"];
    println!("### hook: echo, a std::net server for OS threads, green after monkey_patch()\n");
    println!("64-byte round trips/s, {secs:?} per run, median of {runs} runs (min), one server worker\n");
    println!("| conns | std code, green | std code, std threads | verdant::net | green / verdant::net |");
    println!("|---:|---:|---:|---:|---:|");
    for conns in [50, 500] {
        let mut samples = vec![Vec::new(); names.len()];
        for _ in 0..runs {
            for (i, name) in names.iter().enumerate() {
                let server = start(name);
                samples[i].push(load(server.addr, conns, secs));
                server.stop();
            }
        }
        let s: Vec<Stats> = samples.into_iter().map(Stats::of).collect();
        let cell = |s: Stats| format!("{:.0} ({:.0})", s.median, s.min);
        println!(
            "| {conns} | {} | {} | {} | {:.2} |",
            cell(s[0]),
            cell(s[1]),
            cell(s[2]),
            s[0].median / s[2].median
        );
    }
    println!();
}

// ---- passthrough --------------------------------------------------------

fn passthrough(runs: usize) {
    const N: usize = 1_000_000;
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&zero);
    // SAFETY: dlsym with a valid name; the result is libc's `read`.
    let libc_read: unsafe extern "C" fn(i32, *mut libc::c_void, usize) -> isize =
        unsafe { std::mem::transmute(libc::dlsym(libc::RTLD_NEXT, c"read".as_ptr())) };
    let mut buf = [0u8; 1];
    let mut time = |f: &dyn Fn(&mut [u8; 1]) -> isize| {
        let t = Instant::now();
        for _ in 0..N {
            assert_eq!(f(&mut buf), 1);
        }
        t.elapsed().as_secs_f64() * 1e9 / N as f64
    };
    // SAFETY (both closures): a valid one-byte buffer and an open fd.
    let hooked = |b: &mut [u8; 1]| unsafe { libc::read(fd, b.as_mut_ptr().cast(), 1) };
    let real = |b: &mut [u8; 1]| unsafe { libc_read(fd, b.as_mut_ptr().cast(), 1) };
    let mut off = Vec::new();
    let mut libc_s = Vec::new();
    for _ in 0..runs {
        off.push(time(&hooked));
        libc_s.push(time(&real));
    }
    verdant::monkey_patch().unwrap();
    let mut on = Vec::new();
    for _ in 0..runs {
        on.push(time(&hooked));
        libc_s.push(time(&real));
    }
    let (off, on, libc_s) = (Stats::of(off), Stats::of(on), Stats::of(libc_s));
    println!("### hook: pass-through cost, 1-byte read(2) of /dev/zero on a plain thread\n");
    println!("ns per call, median of {runs} runs × {N} calls (min)\n");
    println!("| case | ns/call | / libc |");
    println!("|---|---:|---:|");
    println!(
        "| libc's read (dlsym RTLD_NEXT) | {:.1} ({:.1}) | 1.00 |",
        libc_s.median, libc_s.min
    );
    println!(
        "| verdant's read, hooks off | {:.1} ({:.1}) | {:.3} |",
        off.median,
        off.min,
        off.median / libc_s.median
    );
    println!(
        "| verdant's read, hooks on (fd not hooked) | {:.1} ({:.1}) | {:.3} |\n",
        on.median,
        on.min,
        on.median / libc_s.median
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("hook: bench");
        return;
    }
    if let Ok(name) = std::env::var("HOOK_SERVE") {
        return serve(&name);
    }
    support::watchdog();
    let runs: usize = env_or("HOOK_RUNS", 3).max(1);
    let parts = std::env::var("HOOK_PARTS").unwrap_or_else(|_| "passthrough,echo,fanout".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "hook bench, {} CPUs, Linux {}\n",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel.trim()
    );
    // The parts that turn the hooks on in this process come last.
    for part in ["echo", "passthrough", "fanout"] {
        if parts.split(',').any(|p| p.trim() == part) {
            match part {
                "echo" => echo(runs),
                "passthrough" => passthrough(runs),
                _ => fanout(runs),
            }
        }
    }
}
