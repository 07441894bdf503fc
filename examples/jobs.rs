//! A small CLI for `verdant::jobs` on Redis.
//!
//! ```text
//! cargo run --example jobs --features redis -- [--url redis://127.0.0.1:6379/] COMMAND
//!
//!   enqueue NAME [JSON] [--queue Q] [--delay-ms N] [--retries N] [--unique KEY] [--wait]
//!   worker [--concurrency N] [QUEUE...]     run the built-in handlers until SIGTERM/Ctrl-C
//!   status ID
//!   cancel ID
//!   dead [list | requeue ID]
//!   stats
//! ```
//!
//! The worker's handlers: `echo` (returns its payload), `sleep` (payload:
//! milliseconds, waits that long on a green thread), `fail` (always fails,
//! so it ends in the dead letters).

use std::io;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use verdant::jobs::{Error, NewJob, Queue, Worker};

fn usage() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "usage: jobs [--url URL] (enqueue NAME [JSON] [--queue Q] [--delay-ms N] [--retries N] [--unique KEY] [--wait] \
         | worker [--concurrency N] [QUEUE...] | status ID | cancel ID | dead [list | requeue ID] | stats)",
    )
}

/// Takes `--flag VALUE` out of `args`.
fn flag(args: &mut Vec<String>, name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    if i + 1 >= args.len() {
        return None;
    }
    let v = args.remove(i + 1);
    args.remove(i);
    Some(v)
}

fn switch(args: &mut Vec<String>, name: &str) -> bool {
    match args.iter().position(|a| a == name) {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    }
}

fn number(s: Option<String>, default: u64) -> io::Result<u64> {
    s.map_or(Ok(default), |s| s.parse().map_err(|_| usage()))
}

fn main() -> io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let url = flag(&mut args, "--url").unwrap_or_else(|| "redis://127.0.0.1:6379/".to_string());
    if args.is_empty() {
        return Err(usage());
    }
    let command = args.remove(0);
    match command.as_str() {
        "enqueue" => enqueue(&url, args),
        "worker" => worker(&url, args),
        "status" => {
            let q = Queue::connect(&url, "default")?;
            let id = args.first().ok_or_else(usage)?;
            match q.status(id)? {
                Some(s) => println!("{s:?}"),
                None => println!("no job {id}"),
            }
            Ok(())
        }
        "cancel" => {
            let q = Queue::connect(&url, "default")?;
            let id = args.first().ok_or_else(usage)?;
            println!(
                "{}",
                if q.cancel(id)? {
                    "cancelled"
                } else {
                    "already running or finished"
                }
            );
            Ok(())
        }
        "dead" => {
            let q = Queue::connect(&url, "default")?;
            match args.first().map(String::as_str) {
                None | Some("list") => {
                    for id in q.dead(100)? {
                        let error = q.status(&id)?.and_then(|s| s.error).unwrap_or_default();
                        println!("{id}\t{error}");
                    }
                }
                Some("requeue") => {
                    let id = args.get(1).ok_or_else(usage)?;
                    println!(
                        "{}",
                        if q.requeue(id)? {
                            "requeued"
                        } else {
                            "not in the dead letters"
                        }
                    );
                }
                _ => return Err(usage()),
            }
            Ok(())
        }
        "stats" => stats(&url),
        _ => Err(usage()),
    }
}

fn enqueue(url: &str, mut args: Vec<String>) -> io::Result<()> {
    let queue = flag(&mut args, "--queue").unwrap_or_else(|| "default".to_string());
    let delay = number(flag(&mut args, "--delay-ms"), 0)?;
    let retries = number(flag(&mut args, "--retries"), 3)?;
    let unique = flag(&mut args, "--unique");
    let wait = switch(&mut args, "--wait");
    let name = args.first().ok_or_else(usage)?;
    let payload: Value = match args.get(1) {
        Some(s) => serde_json::from_str(s).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        None => Value::Null,
    };
    let mut job = NewJob::new(name.as_str())
        .json(&payload)
        .max_retries(u32::try_from(retries).unwrap_or(u32::MAX));
    if delay > 0 {
        job = job.delay(Duration::from_millis(delay));
    }
    if let Some(key) = unique {
        job = job.unique(key);
    }
    let q = Queue::connect(url, &queue)?;
    if wait {
        println!("{}", q.enqueue_and_wait(job, Duration::from_secs(60))?);
    } else {
        println!("{}", q.enqueue(job)?);
    }
    Ok(())
}

fn worker(url: &str, mut args: Vec<String>) -> io::Result<()> {
    let concurrency = number(flag(&mut args, "--concurrency"), 100)?;
    let queues: Vec<&str> = if args.is_empty() {
        vec!["default"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    eprintln!("worker on {queues:?}, concurrency {concurrency}; SIGTERM or Ctrl-C stops it gracefully");
    let stats = Worker::new(url, &queues)?
        .concurrency(usize::try_from(concurrency).unwrap_or(usize::MAX))
        .register("echo", |job| job.json::<Value>())
        .register("sleep", |job| {
            let ms: u64 = job.json()?;
            verdant::sleep(Duration::from_millis(ms));
            Ok(json!(ms))
        })
        .register("fail", |job| {
            Err(Error::new(format!("job {} fails on purpose", job.id())))
        })
        .run()?;
    eprintln!("stopped: {stats:?}");
    Ok(())
}

fn stats(url: &str) -> io::Result<()> {
    let q = Queue::connect(url, "default")?;
    let first = q.stats()?;
    let start = Instant::now();
    verdant::sleep(Duration::from_secs(1));
    let second = q.stats()?;
    for (queue, ready) in &second.queues {
        println!("queue {queue}: {ready} ready");
    }
    println!("in flight: {}", second.in_flight);
    println!("delayed (incl. retries): {}", second.delayed);
    println!("dead: {}", second.dead);
    let rate = (second.done - first.done) as f64 / start.elapsed().as_secs_f64();
    println!("done: {} ({rate:.0}/s over the last second)", second.done);
    Ok(())
}
