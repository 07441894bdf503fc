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
