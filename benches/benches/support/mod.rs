//! A small shared harness for the benches (all `harness = false`).
//!
//! The machine is shared and noisy, so a bench never reports a single time:
//! [`measure`] runs every case once to warm up, then [`runs`] more times
//! (env `BENCH_RUNS`, default 7), interleaving the cases so that a noisy
//! moment hurts verdant and its peer alike, and keeps the median and the
//! minimum. Results are printed as a markdown table ([`print_header`],
//! [`print_row`]) ready to paste into `docs/benchmarks.md`.
//!
//! Every bench starts a [`watchdog`], so a hang (a lost wakeup) ends the
//! process with an error instead of running forever.
#![allow(dead_code)] // each bench uses a different subset

use std::time::Duration;
use std::{env, fs, io, thread};

/// Median and minimum of the samples of one case, in the unit they were taken.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    /// The median (mean of the two middle samples for an even count).
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
}

impl Stats {
    /// Summarises `samples`, which must not be empty.
    pub fn of(mut samples: Vec<f64>) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        samples.sort_by(f64::total_cmp);
        let mid = samples.len() / 2;
        let median = if samples.len() % 2 == 0 {
            (samples[mid - 1] + samples[mid]) / 2.0
        } else {
            samples[mid]
        };
        Stats {
            median,
            min: samples[0],
        }
    }

    /// Both numbers divided by `n` (e.g. total ns → ns per task).
    pub fn per(self, n: usize) -> Stats {
        let n = n as f64;
        Stats {
            median: self.median / n,
            min: self.min / n,
        }
    }
}

/// Parses env `name` as a number, or returns `default` when it is unset.
pub fn env_usize(name: &str, default: usize) -> usize {
    match env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// Timed runs per case: env `BENCH_RUNS`, default 7.
pub fn runs() -> usize {
    env_usize("BENCH_RUNS", 7).max(1)
}

/// Worker threads for multi-threaded runtimes: env `BENCH_WORKERS`,
/// default the available parallelism.
pub fn workers() -> usize {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    env_usize("BENCH_WORKERS", cpus).max(1)
}

/// Runs each case once untimed, then [`runs`] times interleaved; each call
/// returns the time it measured itself (so setup stays out of it). The
/// result is in nanoseconds, one [`Stats`] per case in order.
/// A verdant runtime and a tokio multi-thread runtime, `workers` each.
pub fn runtimes(workers: usize) -> (verdant::Runtime, tokio::runtime::Runtime) {
    let verdant = verdant::Runtime::builder().workers(workers).build().unwrap();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap();
    (verdant, tokio)
}

pub fn measure(cases: &mut [&mut dyn FnMut() -> Duration]) -> Vec<Stats> {
    for case in cases.iter_mut() {
        case();
    }
    let mut samples = vec![Vec::new(); cases.len()];
    for _ in 0..runs() {
        for (case, s) in cases.iter_mut().zip(&mut samples) {
            s.push(case().as_secs_f64() * 1e9);
        }
    }
    samples.into_iter().map(Stats::of).collect()
}

/// Ends the process if the bench is still running after env
/// `BENCH_TIMEOUT` seconds (default 300): a hang must not go unnoticed.
pub fn watchdog() {
    let secs = env_usize("BENCH_TIMEOUT", 300) as u64;
    thread::spawn(move || {
        thread::sleep(Duration::from_secs(secs));
        eprintln!("bench still running after {secs} s (BENCH_TIMEOUT): aborting");
        std::process::exit(2);
    });
}

/// Prints the title, the command line that reproduces the run (with the
/// effective `BENCH_RUNS` and the given `env` settings), the machine, and
/// the table header.
pub fn print_header(title: &str, bench: &str, env: &[(&str, String)]) {
    let mut cmd = format!("BENCH_RUNS={}", runs());
    for (k, v) in env {
        cmd += &format!(" {k}={v}");
    }
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    println!("### {title}\n");
    println!("`{cmd} cargo bench -p verdant-benches --bench {bench}`  ");
    println!(
        "{cpus} CPUs, Linux {}; median of {} runs (min in parentheses)\n",
        kernel.trim(),
        runs()
    );
    println!("| case | verdant median | peer median | ratio |");
    println!("|---|---:|---:|---:|");
}

/// Which way round the ratio column divides; the string names the peer.
#[derive(Clone, Copy, Debug)]
pub enum Ratio<'a> {
    /// verdant / peer: below 1 means verdant is faster (or smaller).
    VerdantOverPeer(&'a str),
    /// peer / verdant: above 1 means verdant is faster (or smaller).
    PeerOverVerdant(&'a str),
}

/// Prints one table row: medians with mins, and the ratio of the medians.
pub fn print_row(case: &str, unit: &str, verdant: Stats, peer: Stats, ratio: Ratio<'_>) {
    let ratio = match ratio {
        Ratio::VerdantOverPeer(p) => format!("verdant/{p} = {}", num(verdant.median / peer.median)),
        Ratio::PeerOverVerdant(p) => format!("{p}/verdant = {}", num(peer.median / verdant.median)),
    };
    println!("| {case} | {} | {} | {ratio} |", cell(verdant, unit), cell(peer, unit));
}

fn cell(s: Stats, unit: &str) -> String {
    format!("{} {unit} ({})", num(s.median), num(s.min))
}

fn num(x: f64) -> String {
    match x.abs() {
        a if a >= 100.0 => format!("{x:.0}"),
        a if a >= 10.0 => format!("{x:.1}"),
        _ => format!("{x:.2}"),
    }
}

/// `n` with its digits in groups of three: 1000000 → "1 000 000".
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Peak resident set size of this process (`VmHWM`), in KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

/// Current resident set size of this process (`VmRSS`), in KiB.
pub fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

fn status_kib(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Resets `VmHWM` to the current RSS (writes "5" to `/proc/self/clear_refs`,
/// Linux ≥ 4.0), and checks that it did.
pub fn reset_peak_rss() -> io::Result<()> {
    fs::write("/proc/self/clear_refs", "5")?;
    let (peak, rss) = (peak_rss_kib(), rss_kib());
    if peak > rss + 1024 {
        return Err(io::Error::other(format!(
            "clear_refs did not reset VmHWM ({peak} kB, RSS {rss} kB)"
        )));
    }
    Ok(())
}

/// Pins the calling thread, and every thread it starts afterwards, to CPU
/// `core` (`sched_setaffinity`). Call it first thing in a server child
/// process so that all of its threads share that one core.
pub fn pin_to_core(core: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes
    // within it; sched_setaffinity reads it for the calling thread (0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(rc, 0, "sched_setaffinity to CPU {core}: {}", io::Error::last_os_error());
    }
}

/// The system load averages (`/proc/loadavg`'s first three fields), to
/// print next to a measurement on a shared machine.
pub fn loadavg() -> String {
    let s = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// What one `wrk --latency` run reported.
#[derive(Clone, Copy, Debug)]
pub struct WrkResult {
    /// `Requests/sec`.
    pub rps: f64,
    /// The 50% and 99% lines of the latency distribution, in seconds.
    pub p50: f64,
    pub p99: f64,
    /// Connect, read, write and timeout errors, and non-2xx responses.
    pub errors: u64,
}

/// Whether `wrk` is on the `PATH`.
pub fn wrk_installed() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// Runs `taskset -c CORE wrk -t1 -cCONNS -dSECSs --latency URL` and parses
/// its report; panics with wrk's output if it cannot.
pub fn wrk(core: usize, conns: usize, secs: u32, url: &str) -> WrkResult {
    let out = std::process::Command::new("taskset")
        .args(["-c", &core.to_string(), "wrk", "-t1"])
        .arg(format!("-c{conns}"))
        .arg(format!("-d{secs}s"))
        .args(["--latency", url])
        .output()
        .expect("run taskset wrk");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    parse_wrk(&text).unwrap_or_else(|| {
        panic!(
            "could not parse wrk's output:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut rps = None;
    let (mut p50, mut p99) = (None, None);
    let mut errors = 0u64;
    for line in text.lines() {
        let l = line.trim();
        if let Some(v) = l.strip_prefix("Requests/sec:") {
            rps = v.trim().parse().ok();
        } else if let Some(v) = l.strip_prefix("50%") {
            p50 = wrk_duration(v.trim());
        } else if let Some(v) = l.strip_prefix("99%") {
            p99 = wrk_duration(v.trim());
        } else if let Some(v) = l.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            errors += v
                .split(',')
                .filter_map(|f| f.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        } else if let Some(v) = l.strip_prefix("Non-2xx or 3xx responses:") {
            errors += v.trim().parse::<u64>().unwrap_or(0);
        }
    }
    Some(WrkResult {
        rps: rps?,
        p50: p50?,
        p99: p99?,
        errors,
    })
}

/// "1.23ms" → 0.00123 (wrk's units: us, ms, s, m).
fn wrk_duration(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "us" => n * 1e-6,
        "ms" => n * 1e-3,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    })
}

/// Timed runs for a bench whose own default is `default`: env
/// `BENCH_RUNS` if set.
pub fn runs_or(default: usize) -> usize {
    env_usize("BENCH_RUNS", default).max(1)
}

/// A server child process of a networking bench: the bench's own
/// executable (or a wrapper such as strace around it) run by `cmd`, whose
/// first stdout line is `PID PORT` and which serves on 127.0.0.1:PORT
/// until its stdin closes.
pub struct ChildServer {
    child: std::process::Child,
    /// The server process (not a wrapper around it).
    pub pid: u32,
    pub addr: std::net::SocketAddr,
}

impl ChildServer {
    /// Starts `cmd` with piped stdin and stdout and waits for its
    /// `PID PORT` line; `name` names it in the panic if it does not start.
    pub fn start(mut cmd: std::process::Command, name: &str) -> ChildServer {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start the {name} server process: {e}"));
        let mut line = String::new();
        io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let mut it = line.split_whitespace().map(|w| w.parse::<u32>().ok());
        let (Some(Some(pid)), Some(Some(port))) = (it.next(), it.next()) else {
            panic!("server {name} did not start: {line:?}");
        };
        ChildServer {
            child,
            pid,
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], port as u16)),
        }
    }

    /// On-CPU time of all the server's threads so far.
    pub fn cpu(&self) -> Duration {
        threads_cpu(&format!("/proc/{}/task", self.pid))
    }

    /// Closes its stdin and waits for it to exit.
    pub fn stop(mut self) {
        drop(self.child.stdin.take());
        self.child.wait().unwrap();
    }
}

/// The bench's own executable with `var=value` set: how a bench runs one
/// of its servers as a child process.
pub fn self_command(var: &str, value: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(env::current_exe().unwrap());
    cmd.env(var, value);
    cmd
}

/// On-CPU time so far of the threads listed in `task_dir`
/// (`/proc/<pid>/task` or `/proc/self/task`), from their `schedstat`.
pub fn threads_cpu(task_dir: &str) -> Duration {
    let mut ns = 0u64;
    for task in fs::read_dir(task_dir).unwrap_or_else(|e| panic!("read {task_dir}: {e}")) {
        let path = task.unwrap().path().join("schedstat");
        // A thread may exit between the listing and the read.
        if let Ok(s) = fs::read_to_string(path) {
            ns += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(ns)
}
