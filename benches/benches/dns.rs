//! Green resolver vs `getaddrinfo` on a pool of OS threads.
//!
//! 10 000 lookups of 100 distinct names, cache disabled, against a private
//! dnsmasq on 127.83.0.1:53 (port 53 because glibc's `resolv.conf` cannot
//! name another port). Green side: one verdant runtime (2 workers),
//! 500 lookups in flight through a `GreenPool`. getaddrinfo side: 64 OS
//! threads, run in a child process under `unshare --mount` with
//! `/etc/resolv.conf`, `/etc/hosts` and `/etc/nsswitch.conf` bind-mounted
//! to files pointing at the private dnsmasq, so no query can reach the
//! machine's real nameserver. If dnsmasq or unshare is unavailable that
//! side is skipped loudly.
//!
//! Run: `cargo bench -p verdant-benches --bench dns`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LOOKUPS: usize = 10_000;
const NAMES: usize = 100;
const IN_FLIGHT: usize = 500;
const GAI_THREADS: usize = 64;
const ROUNDS: usize = 5;
const DNS_IP: &str = "127.83.0.1";

fn name(i: usize) -> String {
    format!("bench{}.test", i % NAMES)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--child") {
        return gai_child();
    }
    if std::env::args().any(|a| a == "--list") {
        return; // cargo bench -- --list
    }
    let dir = std::env::temp_dir().join(format!("verdant-bench-dns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some(mut dnsmasq) = start_dnsmasq(&dir) else {
        eprintln!("SKIPPED: bench dns needs dnsmasq (apt-get install dnsmasq-base) and root to bind {DNS_IP}:53");
        return;
    };
    let server = SocketAddr::from((DNS_IP.parse::<std::net::Ipv4Addr>().unwrap(), 53));

    let (green, ticks) = bench_green(server);
    println!(
        "green resolver   : median {:>8.1} ms for {LOOKUPS} lookups ({IN_FLIGHT} in flight, 2 workers); ticker ticked {ticks} times (min over rounds) during the runs",
        ms(green)
    );
    match bench_gai(&dir) {
        Some(gai) => {
            println!(
                "getaddrinfo pool : median {:>8.1} ms for {LOOKUPS} lookups ({GAI_THREADS} OS threads)",
                ms(gai)
            );
            println!(
                "ratio            : green is {:.2}x the speed of the getaddrinfo pool",
                gai.as_secs_f64() / green.as_secs_f64()
            );
        }
        None => eprintln!("SKIPPED: getaddrinfo side (unshare --mount unavailable or failed); see stderr above"),
    }
    let _ = dnsmasq.kill();
    let _ = dnsmasq.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn start_dnsmasq(dir: &std::path::Path) -> Option<Child> {
    let hosts: String = (0..NAMES)
        .map(|i| format!("10.2.{}.{} {}\n", i / 250, i % 250 + 1, name(i)))
        .collect();
    let hosts_path = dir.join("bench.hosts");
    std::fs::write(&hosts_path, hosts).unwrap();
    let mut child = Command::new("dnsmasq")
        .args([
            "--keep-in-foreground",
            "--no-daemon",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--no-resolv",
            "--no-hosts",
            "--port=53",
            "--bind-interfaces",
            "--local=/test/",
            "--cache-size=0",
            "--dns-forward-max=1000",
            "--local-ttl=60",
        ])
        .arg(format!("--listen-address={DNS_IP}"))
        .arg(format!("--addn-hosts={}", hosts_path.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // Ready when it answers (via the green resolver from this OS thread).
    let probe = verdant::net::Resolver::builder()
        .nameservers([SocketAddr::from((DNS_IP.parse::<std::net::Ipv4Addr>().unwrap(), 53))])
        .timeout(Duration::from_millis(100))
        .attempts(1)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return None;
        }
        if probe.lookup_ip(&name(0)).is_ok() {
            return Some(child);
        }
    }
    let _ = child.kill();
    None
}

fn bench_green(server: SocketAddr) -> (Duration, u64) {
    let rt = verdant::Runtime::builder().workers(2).build().unwrap();
    let resolver = verdant::net::Resolver::builder()
        .nameservers([server])
        .cache(false)
        .timeout(Duration::from_secs(2))
        .attempts(3)
        .build()
        .unwrap();
    let mut times = Vec::new();
    let mut min_ticks = u64::MAX;
    for _ in 0..ROUNDS {
        let r = resolver.clone();
        let ticks = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t2, s2) = (ticks.clone(), stop.clone());
        let ticker = rt.spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                verdant::sleep(Duration::from_millis(1));
                t2.fetch_add(1, Ordering::Relaxed);
            }
        });
        let failures = Arc::new(AtomicUsize::new(0));
        let f2 = failures.clone();
        let elapsed = rt.block_on(move || {
            let start = Instant::now();
            let pool = verdant::GreenPool::new(IN_FLIGHT);
            for i in 0..LOOKUPS {
                let (r, f) = (r.clone(), f2.clone());
                pool.spawn(move || {
                    if r.lookup_ip(&name(i)).map_or(true, |mut it| it.next().is_none()) {
                        f.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            pool.waitall();
            start.elapsed()
        });
        stop.store(true, Ordering::Relaxed);
        ticker.join().unwrap();
        assert_eq!(failures.load(Ordering::Relaxed), 0, "green lookups failed");
        min_ticks = min_ticks.min(ticks.load(Ordering::Relaxed));
        times.push(elapsed);
    }
    (median(times), min_ticks)
}

fn bench_gai(dir: &std::path::Path) -> Option<Duration> {
    std::fs::write(
        dir.join("resolv.conf"),
        format!("nameserver {DNS_IP}\noptions timeout:2 attempts:3\n"),
    )
    .ok()?;
    std::fs::write(dir.join("hosts"), "127.0.0.1 localhost\n").ok()?;
    std::fs::write(dir.join("nsswitch.conf"), "hosts: files dns\n").ok()?;
    let exe = std::env::current_exe().ok()?;
    let script = format!(
        "mount --bind {d}/resolv.conf /etc/resolv.conf && mount --bind {d}/hosts /etc/hosts && \
         mount --bind {d}/nsswitch.conf /etc/nsswitch.conf && exec \"$0\" --child",
        d = dir.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .arg(exe)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| eprintln!("unshare: {e}"))
        .ok()?;
    if !out.status.success() {
        eprintln!("unshare child failed: {}", out.status);
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let nanos: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("GAI_MEDIAN_NS="))?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Inside the mount namespace: getaddrinfo on a pool of 64 OS threads.
fn gai_child() {
    // Refuse to run unless resolv.conf is really ours.
    let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    assert_eq!(
        conf.lines().next(),
        Some(format!("nameserver {DNS_IP}").as_str()),
        "resolv.conf not bind-mounted"
    );
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let next = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let threads: Vec<_> = (0..GAI_THREADS)
            .map(|_| {
                let (next, failures) = (next.clone(), failures.clone());
                std::thread::spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= LOOKUPS {
                        break;
                    }
                    if (name(i).as_str(), 0)
                        .to_socket_addrs()
                        .map_or(true, |mut it| it.next().is_none())
                    {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        times.push(start.elapsed());
        assert_eq!(failures.load(Ordering::Relaxed), 0, "getaddrinfo lookups failed");
    }
    println!("GAI_MEDIAN_NS={}", median(times).as_nanos());
}
