//! `verdant::jobs` throughput, side by side with its floors and peers.
//!
//! 1. No-op jobs end to end (a producer enqueues N while one worker
//!    *process* runs them; the clock stops when the last is acknowledged):
//!    jobs/s, Redis commands per job (client round trips, and every command
//!    incl. those inside Lua), Redis's CPU; beside it the floor
//!    `redis-benchmark` sets for the same Redis commands a job runs
//!    (pipelined, no Lua), and a Python RQ worker (forking, and its
//!    non-forking SimpleWorker) on the same Redis.
//! 2. 10 000 jobs that each wait 100 ms (a green sleep, standing for I/O)
//!    in one worker process at concurrency 1 000: wall time, ideal 1 s.
//! 3. Gearman: jobs/s through gearmand with a verdant worker process vs
//!    the `gearman` CLI worker (`gearman -w -f F`, which echoes).
//!
//! Every server is private, on a free loopback port; a missing one is
//! skipped loudly. Bounded: each phase has a deadline.
//!
//! Run: `cargo bench -p verdant-benches --bench jobs`
//! (`BENCH_RUNS`, default 3; `BENCH_JOBS`, default 50 000).

mod support;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use verdant::jobs::{Connection, NewJob, Queue, Worker};

const CHILD: &str = "VERDANT_BENCH_JOBS_CHILD";
const PHASE_LIMIT: Duration = Duration::from_secs(120);

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        return child(&spec);
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    support::watchdog();
    let runs = support::runs_or(3);
    let n = support::env_usize("BENCH_JOBS", 50_000);
    let Some(redis) = Server::redis() else { return };
    let url = format!("redis://127.0.0.1:{}/", redis.port);

    println!("### Jobs on Redis: no-op jobs end to end\n");
    println!("`BENCH_RUNS={runs} BENCH_JOBS={n} cargo bench -p verdant-benches --bench jobs`  ");
    println!(
        "{} CPUs; redis-server {} (no persistence), one worker process (concurrency 1000, 2 workers), producer in the bench process (128 green threads); median of {runs} runs (min in parentheses)\n",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        redis_version()
    );
    let rt = verdant::Runtime::builder().workers(2).build().unwrap();
    let mut rates = Vec::new();
    let mut trips = Vec::new();
    let mut cmds = Vec::new();
    let mut cpu = Vec::new();
    for run in 0..runs {
        let url = url.clone();
        let (rate, t, c, busy) = rt.block_on(move || end_to_end(&url, &format!("noop{run}"), n));
        rates.push(rate);
        trips.push(t);
        cmds.push(c);
        cpu.push(busy);
    }
    let rate = support::Stats::of(rates);
    println!("| case | median | min |");
    println!("|---|---:|---:|");
    println!(
        "| verdant: no-op jobs end to end | {:.0} jobs/s | {:.0} |",
        rate.median, rate.min
    );
    let t = support::Stats::of(trips);
    let c = support::Stats::of(cmds);
    let busy = support::Stats::of(cpu.iter().map(|c| c[0]).collect());
    let worker_busy = support::Stats::of(cpu.iter().map(|c| c[1]).collect());
    let producer_busy = support::Stats::of(cpu.iter().map(|c| c[2]).collect());
    println!("| Redis client round trips per job | {:.2} | |", t.median);
    println!("| Redis commands per job (incl. inside Lua) | {:.1} | |", c.median);
    println!("| CPU while running, in cores: Redis | {:.2} | |", busy.median);
    println!(
        "| CPU while running, in cores: the worker process | {:.2} | |",
        worker_busy.median
    );
    println!(
        "| CPU while running, in cores: the producer (bench process) | {:.2} | |",
        producer_busy.median
    );
    match redis_benchmark_floor(redis.port) {
        Some(floor) => {
            println!("| floor: redis-benchmark, the same commands pipelined (-P 32, no Lua) | {floor:.0} jobs/s | |")
        }
        None => println!("| floor: redis-benchmark | SKIPPED (redis-benchmark not installed) | |"),
    }
    for (label, worker_class, jobs) in [
        ("RQ worker (forks per job)", None, 2_000),
        ("RQ SimpleWorker (no fork)", Some("rq.worker.SimpleWorker"), 10_000),
    ] {
        match rq(&url, worker_class, jobs) {
            Ok(rate) => println!("| peer: {label}, {jobs} jobs | {rate:.0} jobs/s | |"),
            Err(e) => println!("| peer: {label} | SKIPPED ({e}) | |"),
        }
    }

    println!("\n### Jobs on Redis: 10 000 jobs of 100 ms at concurrency 1 000\n");
    let mut walls = Vec::new();
    for run in 0..runs {
        let url = url.clone();
        walls.push(rt.block_on(move || waits(&url, &format!("wait{run}"), 10_000)));
    }
    let w = support::Stats::of(walls);
    println!("| case | median | min |");
    println!("|---|---:|---:|");
    println!(
        "| verdant, one worker process, concurrency 1000 | {:.2} s | {:.2} s |",
        w.median, w.min
    );
    println!("| ideal (10 rounds of 100 ms) | 1.00 s | |");
    println!("| an RQ worker (one job at a time), computed: 10 000 × 100 ms | 1000 s | |");
    drop(redis);

    println!("\n### Gearman: jobs/s through gearmand\n");
    match Server::gearmand() {
        None => println!("SKIPPED: gearmand not installed (apt-get install gearman-job-server)"),
        Some(g) => gearman_bench(&rt, g.port, runs),
    }
}

/// One run of the end-to-end case: (jobs/s, round trips per job, commands
/// per job, CPU shares of Redis, the worker process and the producer).
fn end_to_end(url: &str, queue: &str, n: usize) -> (f64, f64, f64, [f64; 3]) {
    let mut con = Connection::open(url).unwrap();
    redis::cmd("CONFIG").arg("RESETSTAT").query::<()>(&mut con).unwrap();
    let cpu0 = redis_cpu(&mut con);
    let q = Queue::connect(url, queue).unwrap();
    let done0 = done(&mut con);
    let mut worker = spawn_worker(url, queue, 1000);
    let producer_cpu0 = support::threads_cpu("/proc/self/task").as_secs_f64();
    let start = Instant::now();
    let producers = 128;
    let q = Arc::new(q);
    let hs: Vec<_> = (0..producers)
        .map(|p| {
            let q = q.clone();
            verdant::spawn(move || {
                for _ in (p..n).step_by(producers) {
                    q.enqueue(NewJob::new("noop")).unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    wait_done(&mut con, done0 + n as u64);
    let secs = start.elapsed().as_secs_f64();
    let cpu = redis_cpu(&mut con) - cpu0;
    let worker_cpu = support::threads_cpu(&format!("/proc/{}/task", worker.id())).as_secs_f64();
    let producer_cpu = support::threads_cpu("/proc/self/task").as_secs_f64() - producer_cpu0;
    stop_worker(&mut worker);
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut con).unwrap();
    let total: u64 = info
        .lines()
        .filter_map(|l| l.split("calls=").nth(1)?.split(',').next()?.parse::<u64>().ok())
        .sum();
    // Round trips: the commands only clients send (scripts call none of
    // these); each is one request of a client.
    let processed: u64 = info
        .lines()
        .filter(|l| {
            [
                "cmdstat_evalsha:",
                "cmdstat_eval:",
                "cmdstat_xreadgroup:",
                "cmdstat_xclaim:",
                "cmdstat_xautoclaim:",
                "cmdstat_get:",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .filter_map(|l| l.split("calls=").nth(1)?.split(',').next()?.parse::<u64>().ok())
        .sum();
    // Every command Redis ran, counting those inside scripts (Redis 7's
    // commandstats counts both). The polling of this bench (GET every
    // 2 ms) is included: a few hundred commands, negligible per job.
    (
        n as f64 / secs,
        processed as f64 / n as f64,
        total as f64 / n as f64,
        [cpu / secs, worker_cpu / secs, producer_cpu / secs],
    )
}

fn waits(url: &str, queue: &str, n: usize) -> f64 {
    let mut con = Connection::open(url).unwrap();
    let q = Queue::connect(url, queue).unwrap();
    let done0 = done(&mut con);
    for _ in 0..n {
        q.enqueue(NewJob::new("wait100")).unwrap();
    }
    let start = Instant::now();
    let mut worker = spawn_worker(url, queue, 1000);
    wait_done(&mut con, done0 + n as u64);
    let secs = start.elapsed().as_secs_f64();
    stop_worker(&mut worker);
    secs
}

fn done(con: &mut Connection) -> u64 {
    redis::cmd("GET")
        .arg("verdant:jobs:stat:done")
        .query::<Option<u64>>(con)
        .unwrap()
        .unwrap_or(0)
}

fn wait_done(con: &mut Connection, target: u64) {
    let start = Instant::now();
    while done(con) < target {
        assert!(start.elapsed() < PHASE_LIMIT, "jobs not done within {PHASE_LIMIT:?}");
        verdant::sleep(Duration::from_millis(2));
    }
}

fn redis_cpu(con: &mut Connection) -> f64 {
    let info: String = redis::cmd("INFO").arg("cpu").query(con).unwrap();
    info.lines()
        .filter(|l| l.starts_with("used_cpu_sys:") || l.starts_with("used_cpu_user:"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .sum()
}

fn redis_version() -> String {
    let out = Command::new("redis-server").arg("--version").output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .find_map(|w| w.strip_prefix("v=").map(str::to_string))
        })
        .unwrap_or_default()
}

/// The worker child: `redis URL QUEUE CONCURRENCY` or `gearman ADDR
/// CONCURRENCY`; runs until its stdin closes.
fn child(spec: &str) {
    let parts: Vec<&str> = spec.split(' ').collect();
    let rt = verdant::Runtime::builder().workers(2).build().unwrap();
    match parts[0] {
        "redis" => {
            let w = Worker::new(parts[1], &[parts[2]])
                .unwrap()
                .concurrency(parts[3].parse().unwrap())
                .handle_signals(false)
                .register("noop", |_| Ok(serde_json::Value::Null))
                .register("wait100", |_| {
                    verdant::sleep(Duration::from_millis(100));
                    Ok(serde_json::Value::Null)
                });
            let h = w.handle();
            std::thread::spawn(move || {
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
                h.stop();
            });
            rt.block_on(move || w.run().unwrap());
        }
        "gearman" => {
            let w = verdant::jobs::gearman::Worker::new(parts[1])
                .concurrency(parts[2].parse().unwrap())
                .register("noop", |job| Ok(job.data().to_vec()));
            let h = w.handle();
            std::thread::spawn(move || {
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
                h.stop();
            });
            rt.block_on(move || w.run().unwrap());
        }
        other => panic!("unknown child {other}"),
    }
}

fn spawn_worker(url: &str, queue: &str, concurrency: usize) -> Child {
    support::self_command(CHILD, &format!("redis {url} {queue} {concurrency}"))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap()
}

fn stop_worker(c: &mut Child) {
    drop(c.stdin.take());
    let c = std::mem::replace(c, Command::new("true").spawn().unwrap());
    verdant::spawn_blocking(move || {
        let mut c = c;
        c.wait().unwrap()
    })
    .join()
    .unwrap();
}

/// jobs/s if Redis ran only the commands of one job, pipelined, no Lua:
/// 1 / Σ (1 / rate of each command), each rate from redis-benchmark.
fn redis_benchmark_floor(port: u16) -> Option<f64> {
    if Command::new("redis-benchmark").arg("--version").output().is_err() {
        return None;
    }
    let p = port.to_string();
    let per_job: &[&[&str]] = &[
        &[
            "HSET",
            "bj:__rand_int__",
            "name",
            "noop",
            "queue",
            "q",
            "payload",
            "",
            "state",
            "queued",
        ],
        &["SADD", "bq", "q"],
        &["XADD", "bs", "*", "id", "__rand_int__"],
        &[
            "HMGET",
            "bj:__rand_int__",
            "name",
            "payload",
            "state",
            "max_retries",
            "timeout_ms",
        ],
        &["HINCRBY", "bj:__rand_int__", "attempts", "1"],
        &["HSET", "bj:__rand_int__", "state", "running", "started_at", "1"],
        &["XACK", "bs", "workers", "1-1"],
        &["XDEL", "bs", "1-1"],
        &[
            "HSET",
            "bj:__rand_int__",
            "state",
            "done",
            "result",
            "null",
            "finished_at",
            "1",
        ],
        &["EXPIRE", "bj:__rand_int__", "86400"],
        &["HGET", "bj:__rand_int__", "unique"],
        &["RPUSH", "bd:__rand_int__", "done"],
        &["EXPIRE", "bd:__rand_int__", "86400"],
    ];
    let mut secs_per_job = 0.0;
    for cmd in per_job {
        let out = Command::new("redis-benchmark")
            .args(["-p", &p, "-n", "200000", "-P", "32", "-c", "8", "-r", "100000", "-q"])
            .args(*cmd)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        // "...: 123456.79 requests per second, p50=..."; the last such figure.
        let rate: f64 = text
            .rsplit("requests per second")
            .nth(1)?
            .rsplit([' ', '\r'])
            .find(|w| !w.is_empty())?
            .parse()
            .ok()?;
        secs_per_job += 1.0 / rate;
    }
    let _ = Command::new("redis-cli").args(["-p", &p, "FLUSHALL"]).output();
    Some(1.0 / secs_per_job)
}

/// An RQ worker (`rq worker --burst`) on `jobs` no-op jobs enqueued first:
/// jobs/s of the worker alone (enqueueing is not timed).
fn rq(url: &str, worker_class: Option<&str>, jobs: usize) -> Result<f64, String> {
    let dir = std::env::temp_dir().join(format!("verdant-bench-rq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("rqnoop.py"), "def noop():\n    return None\n").map_err(|e| e.to_string())?;
    let enqueue = format!(
        "import sys, rq, redis\nfrom rqnoop import noop\nq = rq.Queue('bench', connection=redis.Redis.from_url('{url}'))\nq.empty()\nfor _ in range({jobs}):\n    q.enqueue(noop)\n"
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&enqueue)
        .current_dir(&dir)
        .env("PYTHONPATH", &dir)
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(format!(
                "python3 rq: {}",
                String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")
            ))
        }
        Err(e) => return Err(format!("python3: {e}")),
    }
    let mut cmd = Command::new("rq");
    cmd.args(["worker", "--burst", "--url", url, "--quiet", "bench"]);
    if let Some(class) = worker_class {
        cmd.args(["-w", class]);
    }
    let start = Instant::now();
    let status = cmd
        .current_dir(&dir)
        .env("PYTHONPATH", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("rq: {e} (pip install rq)"))?;
    let secs = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        return Err(format!("rq worker exited with {status}"));
    }
    Ok(jobs as f64 / secs)
}

fn gearman_bench(rt: &verdant::Runtime, port: u16, runs: usize) {
    let addr = format!("127.0.0.1:{port}");
    let n = 20_000;
    let clients = 64;
    let mut results = Vec::new();
    for side in ["verdant", "cli"] {
        let mut rates = Vec::new();
        for _ in 0..runs {
            let mut worker = match side {
                "verdant" => support::self_command(CHILD, &format!("gearman {addr} {clients}"))
                    .stdin(Stdio::piped())
                    .spawn()
                    .unwrap(),
                _ => match Command::new("gearman")
                    .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-w", "-f", "noop"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                {
                    Ok(c) => c,
                    Err(_) => {
                        println!("SKIPPED: the gearman CLI is not installed (apt-get install gearman-tools)");
                        return;
                    }
                },
            };
            let addr = addr.clone();
            let rate = rt.block_on(move || {
                let start = Instant::now();
                let hs: Vec<_> = (0..clients)
                    .map(|_| {
                        let addr = addr.clone();
                        verdant::spawn(move || {
                            let c = verdant::jobs::gearman::Client::connect(&addr).unwrap();
                            for _ in 0..n / clients {
                                c.submit_job("noop", b"x").unwrap();
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
                (n / clients * clients) as f64 / start.elapsed().as_secs_f64()
            });
            rates.push(rate);
            if side == "verdant" {
                drop(worker.stdin.take());
            } else {
                let _ = worker.kill();
            }
            let _ = worker.wait();
        }
        results.push(support::Stats::of(rates));
    }
    println!("`{clients} verdant client green threads, {n} foreground no-op jobs per run`\n");
    println!("| case | verdant worker ({clients} slots) | gearman CLI worker | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| jobs/s, median (min) | {:.0} ({:.0}) | {:.0} ({:.0}) | verdant/cli = {:.2} |",
        results[0].median,
        results[0].min,
        results[1].median,
        results[1].min,
        results[0].median / results[1].median
    );
}

/// A private server on a free loopback port, killed on drop.
struct Server {
    port: u16,
    child: Child,
}

impl Server {
    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn wait_up(port: u16) {
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "server on {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn redis() -> Option<Server> {
        let port = Server::free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            println!("SKIPPED: bench jobs needs redis-server (apt-get install redis-server)");
            return None;
        };
        Server::wait_up(port);
        Some(Server { port, child })
    }

    fn gearmand() -> Option<Server> {
        let port = Server::free_port();
        let child = Command::new("gearmand")
            .args([
                "--listen",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--log-file",
                "none",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Server::wait_up(port);
        Some(Server { port, child })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
