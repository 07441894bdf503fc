//! `verdant::jobs` against a real redis-server on loopback (AOF on),
//! started by each test. Skipped loudly when redis-server is missing.
#![cfg(feature = "redis")]

#[path = "support/servers.rs"]
mod servers;
mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use servers::Redis;
use verdant::jobs::{Error, NewJob, Queue, State, Worker, WorkerHandle, WorkerStats};

const WAIT: Duration = Duration::from_secs(20);

/// A worker with test-friendly timings (short lease, fast backoff), no
/// signal handling (the test process's signals are not the worker's).
fn worker(url: &str, queues: &[&str]) -> Worker {
    Worker::new(url, queues)
        .unwrap()
        .concurrency(50)
        .lease(Duration::from_secs(1))
        .poll_interval(Duration::from_millis(20))
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
        .shutdown_timeout(Duration::from_secs(2))
        .handle_signals(false)
}

/// Runs `w` on a green thread; returns its stop handle and the thread.
fn start(w: Worker) -> (WorkerHandle, verdant::JoinHandle<WorkerStats>) {
    let h = w.handle();
    (h, verdant::spawn(move || w.run().expect("worker runs")))
}

fn stop(w: (WorkerHandle, verdant::JoinHandle<WorkerStats>)) -> WorkerStats {
    w.0.stop();
    w.1.join().expect("worker thread")
}

#[test]
fn round_trip_json_bytes_and_background() {
    let Some(redis) = Redis::start("round_trip_json_bytes_and_background") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let seen = Arc::new(AtomicU32::new(0));
        let seen2 = seen.clone();
        let w = start(
            worker(&url, &["default"])
                .register("add", |job| {
                    let (a, b): (i64, i64) = job.json()?;
                    job.progress(&json!({"half": true}))?;
                    Ok(json!(a + b))
                })
                .register("upper", |job| {
                    Ok(json!(String::from_utf8_lossy(job.payload()).to_uppercase()))
                })
                .register("count", move |_| {
                    seen2.fetch_add(1, Ordering::SeqCst);
                    Ok(json!(null))
                }),
        );
        let q = Queue::connect(&url, "default").unwrap();
        // Foreground (Gearman's submit_job): the result comes back.
        assert_eq!(
            q.enqueue_and_wait(NewJob::new("add").json(&(2, 3)), WAIT).unwrap(),
            json!(5)
        );
        assert_eq!(
            q.enqueue_and_wait(NewJob::new("upper").bytes(&b"abc"[..]), WAIT)
                .unwrap(),
            json!("ABC")
        );
        // Background: enqueue, then ask for the status.
        let id = q.enqueue(NewJob::new("count")).unwrap();
        assert_eq!(q.wait(&id, WAIT).unwrap(), json!(null));
        let st = q.status(&id).unwrap().expect("the record is kept");
        assert_eq!(st.state, State::Done);
        assert_eq!(st.attempts, 1);
        assert_eq!(seen.load(Ordering::SeqCst), 1);
        let id = q.enqueue(NewJob::new("add").json(&(1, 1))).unwrap();
        q.wait(&id, WAIT).unwrap();
        assert_eq!(q.status(&id).unwrap().unwrap().progress, Some(json!({"half": true})));
        assert!(q.status("no-such-job").unwrap().is_none());
        let err = q.wait("no-such-job", Duration::from_secs(1)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(q.status("no-such-job").unwrap().is_none(), "wait left no record behind");
        let stats = stop(w);
        assert_eq!(stats.done, 4);
        assert_eq!(q.stats().unwrap().done, 4);
    });
}

#[test]
fn priorities_strict_order() {
    let Some(redis) = Redis::start("priorities_strict_order") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let low = Queue::connect(&url, "low").unwrap();
        let high = Queue::connect(&url, "high").unwrap();
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(low.enqueue(NewJob::new("log").json(&format!("low{i}"))).unwrap());
        }
        for i in 0..5 {
            ids.push(high.enqueue(NewJob::new("log").json(&format!("high{i}"))).unwrap());
        }
        let order = Arc::new(Mutex::new(Vec::new()));
        let order2 = order.clone();
        // One slot: jobs run one at a time, in the order fetched.
        let w = start(
            worker(&url, &["high", "low"])
                .concurrency(1)
                .register("log", move |job| {
                    order2.lock().unwrap().push(job.json::<String>()?);
                    Ok(json!(null))
                }),
        );
        for id in &ids {
            high.wait(id, WAIT).unwrap();
        }
        stop(w);
        let order = order.lock().unwrap().clone();
        assert_eq!(order.len(), 10);
        assert!(order[..5].iter().all(|s| s.starts_with("high")), "{order:?}");
    });
}

#[test]
fn priorities_weighted_serve_both_queues() {
    let Some(redis) = Redis::start("priorities_weighted") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let heavy = Queue::connect(&url, "heavy").unwrap();
        let light = Queue::connect(&url, "light").unwrap();
        // Both queues stay full for the whole run: 300 each, about 100 run.
        for i in 0..300 {
            heavy.enqueue(NewJob::new("log").json(&i)).unwrap();
            light.enqueue(NewJob::new("log").json(&i)).unwrap();
        }
        let ran = Arc::new(Mutex::new(Vec::new()));
        let (enough_tx, enough_rx) = verdant::sync::unbounded();
        let r2 = ran.clone();
        // One slot: every fetch takes one job, from the queue drawn first
        // (heavy with probability 3/4).
        let w = start(
            worker(&url, &["heavy", "light"])
                .weights(&[3, 1])
                .concurrency(1)
                .register("log", move |job| {
                    let mut ran = r2.lock().unwrap();
                    ran.push(job.queue().to_string());
                    if ran.len() == 100 {
                        enough_tx.send(()).unwrap();
                    }
                    Ok(json!(null))
                }),
        );
        enough_rx.recv().unwrap();
        stop(w);
        let ran = ran.lock().unwrap().clone();
        let count = |q: &str| ran.iter().filter(|r| *r == q).count();
        let (h, l) = (count("heavy"), count("light"));
        assert_eq!(h + l, ran.len(), "{ran:?}");
        // Expected 75:25 of 100; either bound failing by chance is below
        // 1e-7 (binomial tails: 7e-8 and 3e-13), so these cannot flake.
        assert!(l >= 1, "the light queue was starved: {h} heavy, {l} light");
        assert!(h > l, "the heavy queue got no more: {h} heavy, {l} light");
        assert!(h < 300 && l < 300, "neither queue ran dry: {h} heavy, {l} light");
    });
}

#[test]
fn retries_then_dead_letter_then_requeue() {
    let Some(redis) = Redis::start("retries_then_dead_letter_then_requeue") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let healthy = Arc::new(AtomicBool::new(false));
        let attempts = Arc::new(AtomicU32::new(0));
        let (h2, a2) = (healthy.clone(), attempts.clone());
        let w = start(worker(&url, &["default"]).register("flaky", move |job| {
            a2.fetch_add(1, Ordering::SeqCst);
            if h2.load(Ordering::SeqCst) {
                Ok(json!(job.attempt()))
            } else {
                Err(Error::new("the backend said no"))
            }
        }));
        let q = Queue::connect(&url, "default").unwrap();
        let err = q
            .enqueue_and_wait(NewJob::new("flaky").max_retries(2), WAIT)
            .unwrap_err();
        assert!(err.to_string().contains("the backend said no"), "{err}");
        assert_eq!(attempts.load(Ordering::SeqCst), 3, "1 attempt + 2 retries");
        let dead = q.dead(10).unwrap();
        assert_eq!(dead.len(), 1);
        let st = q.status(&dead[0]).unwrap().unwrap();
        assert_eq!((st.state, st.attempts), (State::Dead, 3));
        assert_eq!(st.error.as_deref(), Some("the backend said no"));
        // Requeued after the fix: it runs again, from attempt 1.
        healthy.store(true, Ordering::SeqCst);
        assert!(q.requeue(&dead[0]).unwrap());
        assert!(!q.requeue(&dead[0]).unwrap(), "no longer dead");
        assert_eq!(q.wait(&dead[0], WAIT).unwrap(), json!(1));
        assert!(q.dead(10).unwrap().is_empty());
        let stats = stop(w);
        assert_eq!((stats.retried, stats.dead, stats.done), (2, 1, 1));
    });
}

#[test]
fn bad_payload_goes_to_dead_letters_and_the_worker_goes_on() {
    let Some(redis) = Redis::start("bad_payload") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let w = start(
            worker(&url, &["default"])
                .register("add", |job| {
                    let (a, b): (i64, i64) = job.json()?;
                    Ok(json!(a + b))
                })
                .register("boom", |_| panic!("handler bug")),
        );
        let q = Queue::connect(&url, "default").unwrap();
        let bad = q
            .enqueue(NewJob::new("add").bytes(&b"{not json"[..]).max_retries(5))
            .unwrap();
        let err = q.wait(&bad, WAIT).unwrap_err();
        assert!(err.to_string().contains("does not deserialize"), "{err}");
        let st = q.status(&bad).unwrap().unwrap();
        assert_eq!(
            (st.state, st.attempts),
            (State::Dead, 1),
            "no retries for a bad payload"
        );
        // A panicking handler is a failed attempt, not a dead worker.
        let boom = q.enqueue(NewJob::new("boom").max_retries(0)).unwrap();
        let err = q.wait(&boom, WAIT).unwrap_err();
        assert!(err.to_string().contains("handler bug"), "{err}");
        // An unknown name: dead, with the reason.
        let unknown = q.enqueue(NewJob::new("nope")).unwrap();
        assert!(q.wait(&unknown, WAIT).unwrap_err().to_string().contains("no handler"));
        // The worker still works.
        assert_eq!(
            q.enqueue_and_wait(NewJob::new("add").json(&(1, 2)), WAIT).unwrap(),
            json!(3)
        );
        stop(w);
    });
}

#[test]
fn delayed_job_runs_not_before_its_time() {
    let Some(redis) = Redis::start("delayed_job_runs_not_before_its_time") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let ran_at = Arc::new(Mutex::new(None));
        let r2 = ran_at.clone();
        let w = start(worker(&url, &["default"]).register("tick", move |_| {
            *r2.lock().unwrap() = Some(Instant::now());
            Ok(json!(null))
        }));
        let q = Queue::connect(&url, "default").unwrap();
        let start_at = Instant::now();
        let id = q
            .enqueue(NewJob::new("tick").delay(Duration::from_millis(800)))
            .unwrap();
        assert_eq!(q.status(&id).unwrap().unwrap().state, State::Scheduled);
        q.wait(&id, WAIT).unwrap();
        let ran = ran_at.lock().unwrap().expect("ran");
        assert!(ran.duration_since(start_at) >= Duration::from_millis(800));
        stop(w);
    });
}

#[test]
fn unique_key_holds_one_pending_job() {
    let Some(redis) = Redis::start("unique_key_holds_one_pending_job") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let q = Queue::connect(&url, "default").unwrap();
        let a = q.enqueue(NewJob::new("once").unique("report:7")).unwrap();
        let b = q.enqueue(NewJob::new("once").unique("report:7")).unwrap();
        assert_eq!(a, b, "the second enqueue returns the holder");
        let other = q.enqueue(NewJob::new("once").unique("report:8")).unwrap();
        assert_ne!(a, other);
        let runs = Arc::new(AtomicU32::new(0));
        let r2 = runs.clone();
        let w = start(worker(&url, &["default"]).register("once", move |_| {
            r2.fetch_add(1, Ordering::SeqCst);
            Ok(json!(null))
        }));
        q.wait(&a, WAIT).unwrap();
        q.wait(&other, WAIT).unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // Done: the key is free again.
        let c = q.enqueue(NewJob::new("once").unique("report:7")).unwrap();
        assert_ne!(a, c);
        q.wait(&c, WAIT).unwrap();
        stop(w);
    });
}

#[test]
fn cancel_before_start() {
    let Some(redis) = Redis::start("cancel_before_start") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let q = Queue::connect(&url, "default").unwrap();
        let doomed = q.enqueue(NewJob::new("run")).unwrap();
        let later = q.enqueue(NewJob::new("run").delay(Duration::from_secs(3600))).unwrap();
        let after = q.enqueue(NewJob::new("run")).unwrap();
        assert!(q.cancel(&doomed).unwrap());
        assert!(q.cancel(&later).unwrap());
        assert_eq!(q.status(&doomed).unwrap().unwrap().state, State::Cancelled);
        assert_eq!(
            q.cancel("no-such-job").unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
        assert_eq!(
            q.wait(&doomed, WAIT).unwrap_err().kind(),
            std::io::ErrorKind::Interrupted
        );
        let ran = Arc::new(Mutex::new(Vec::new()));
        let r2 = ran.clone();
        let w = start(worker(&url, &["default"]).concurrency(1).register("run", move |job| {
            r2.lock().unwrap().push(job.id().to_string());
            Ok(json!(null))
        }));
        // `after` was enqueued after `doomed` on the same stream: once it
        // ran, the worker has passed the cancelled entry.
        q.wait(&after, WAIT).unwrap();
        assert_eq!(*ran.lock().unwrap(), std::slice::from_ref(&after));
        assert!(!q.cancel(&after).unwrap(), "done jobs cannot be cancelled");
        stop(w);
    });
}

#[test]
fn graceful_stop_finishes_short_jobs_and_hands_back_long_ones() {
    let Some(redis) = Redis::start("graceful_stop") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let q = Queue::connect(&url, "default").unwrap();
        let short = q.enqueue(NewJob::new("sleep").json(&200)).unwrap();
        let long = q.enqueue(NewJob::new("sleep").json(&3_600_000)).unwrap();
        let (started_tx, started_rx) = verdant::sync::unbounded();
        let w = start(
            worker(&url, &["default"])
                .shutdown_timeout(Duration::from_millis(600))
                .register("sleep", move |job| {
                    let ms: u64 = job.json()?;
                    started_tx.send(()).unwrap();
                    verdant::sleep(Duration::from_millis(ms));
                    Ok(json!(ms))
                }),
        );
        started_rx.recv().unwrap();
        started_rx.recv().unwrap();
        let stats = stop(w);
        assert_eq!((stats.done, stats.released), (1, 1));
        assert_eq!(q.status(&short).unwrap().unwrap().state, State::Done);
        let st = q.status(&long).unwrap().unwrap();
        assert_eq!(
            (st.state, st.attempts),
            (State::Queued, 0),
            "handed back, the attempt not counted"
        );
        // Another worker picks the handed-back job up.
        let w = start(worker(&url, &["default"]).register("sleep", |_| Ok(json!("again"))));
        assert_eq!(q.wait(&long, WAIT).unwrap(), json!("again"));
        stop(w);
    });
}

// ---- worker child processes (kill -9, SIGTERM) ----

const CHILD_URL: &str = "VERDANT_JOBS_CHILD_URL";

/// Not a test of its own: the body of the worker child process that the
/// kill -9 and SIGTERM tests start (it returns at once otherwise).
#[test]
fn child_worker() {
    let Ok(url) = std::env::var(CHILD_URL) else { return };
    let stats = Worker::new(&url, &["default"])
        .unwrap()
        .lease(Duration::from_secs(1))
        .poll_interval(Duration::from_millis(20))
        .shutdown_timeout(Duration::from_millis(500))
        .register("slow", |job| {
            let pool = verdant::jobs::Pool::new(&std::env::var(CHILD_URL).unwrap())?;
            let mut con = pool.get()?;
            redis::cmd("INCR")
                .arg(format!("runs:{}", job.id()))
                .query::<i64>(&mut *con)
                .map_err(|e| e.to_string())?;
            redis::cmd("RPUSH")
                .arg("started")
                .arg(job.id())
                .query::<i64>(&mut *con)
                .map_err(|e| e.to_string())?;
            let ms: u64 = job.json()?;
            verdant::sleep(Duration::from_millis(ms));
            Ok(json!("child"))
        })
        .run()
        .unwrap();
    println!("CHILD STATS {} {}", stats.done, stats.released);
}

fn spawn_child(url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_worker", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_URL, url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("child worker starts")
}

fn blpop(url: &str, key: &str) -> Option<String> {
    let mut con = verdant::jobs::Connection::open(url).unwrap();
    redis::cmd("BLPOP")
        .arg(key)
        .arg(20)
        .query::<Option<(String, String)>>(&mut con)
        .unwrap()
        .map(|(_, v)| v)
}

#[test]
fn kill_9_mid_job_then_it_completes_once_elsewhere() {
    let Some(redis) = Redis::start("kill_9_mid_job") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let q = Queue::connect(&url, "default").unwrap();
        let id = q.enqueue(NewJob::new("slow").json(&3_600_000u64)).unwrap();
        let mut child = spawn_child(&url);
        assert_eq!(
            blpop(&url, "started").as_deref(),
            Some(id.as_str()),
            "the child started the job"
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert_eq!(
            q.status(&id).unwrap().unwrap().state,
            State::Running,
            "its lease still holds it"
        );
        let runs_here = Arc::new(AtomicU32::new(0));
        let r2 = runs_here.clone();
        let w = start(worker(&url, &["default"]).register("slow", move |_| {
            r2.fetch_add(1, Ordering::SeqCst);
            Ok(json!("here"))
        }));
        assert_eq!(q.wait(&id, WAIT).unwrap(), json!("here"));
        let stats = stop(w);
        assert_eq!(runs_here.load(Ordering::SeqCst), 1, "exactly once more");
        assert_eq!((stats.done, stats.reclaimed), (1, 1));
        let st = q.status(&id).unwrap().unwrap();
        assert_eq!((st.state, st.attempts), (State::Done, 2));
        assert_eq!(q.stats().unwrap().in_flight, 0);
    });
}

#[test]
fn sigterm_stops_a_worker_process_gracefully() {
    let Some(redis) = Redis::start("sigterm_graceful") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let q = Queue::connect(&url, "default").unwrap();
        let short = q.enqueue(NewJob::new("slow").json(&300u64)).unwrap();
        let long = q.enqueue(NewJob::new("slow").json(&3_600_000u64)).unwrap();
        let child = spawn_child(&url);
        let mut started = [blpop(&url, "started").unwrap(), blpop(&url, "started").unwrap()];
        started.sort();
        let mut both = [short.clone(), long.clone()];
        both.sort();
        assert_eq!(started, both);
        let r = unsafe_free_kill(child.id(), "TERM");
        assert!(r, "kill -TERM");
        let out = verdant::spawn_blocking(move || child.wait_with_output().unwrap())
            .join()
            .unwrap();
        assert!(out.status.success(), "the child exits cleanly: {:?}", out.status);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("CHILD STATS 1 1"), "{stdout}");
        assert_eq!(q.status(&short).unwrap().unwrap().state, State::Done);
        assert_eq!(q.status(&long).unwrap().unwrap().state, State::Queued);
    });
}

/// `kill -SIG pid` through the kill(1) command (no unsafe libc call).
fn unsafe_free_kill(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn redis_restart_with_aof_loses_no_job() {
    let Some(mut redis) = Redis::start("redis_restart_with_aof") else {
        return;
    };
    let url = redis.url();
    let q = Queue::connect(&url, "default").unwrap();
    let n = 200;
    let ids: Vec<String> = (0..n)
        .map(|i| q.enqueue(NewJob::new("work").json(&i)).unwrap())
        .collect();
    let runs: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let r2 = runs.clone();
    let first_tx = Mutex::new(first_tx);
    let rt = support::rt(2);
    let _wd = support::watchdog(Duration::from_secs(90));
    let w = worker(&url, &["default"])
        .concurrency(20)
        .lease(Duration::from_secs(2))
        .register("work", move |job| {
            *r2.lock().unwrap().entry(job.id().to_string()).or_insert(0) += 1;
            let _ = first_tx.lock().unwrap().send(());
            verdant::sleep(Duration::from_millis(20));
            Ok(json!(job.json::<u32>()?))
        });
    let handle = w.handle();
    let worker_thread = rt.spawn(move || w.run().unwrap());
    // Some jobs ran; now the server dies and comes back from its AOF.
    for _ in 0..30 {
        first_rx.recv().unwrap();
    }
    redis.restart();
    for (i, id) in ids.iter().enumerate() {
        let v = rt.block_on({
            let q = q.clone();
            let id = id.clone();
            move || q.wait(&id, Duration::from_secs(30))
        });
        assert_eq!(v.unwrap(), json!(i), "job {i} ({id})");
    }
    handle.stop();
    rt.block_on(move || worker_thread.join().unwrap());
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), n, "every job ran");
    assert!(runs.values().all(|&r| r >= 1));
    assert_eq!(q.stats().unwrap().in_flight, 0);
}

#[test]
fn heartbeats_keep_a_long_job_from_being_reclaimed() {
    let Some(redis) = Redis::start("heartbeats_keep_a_long_job") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let runs = Arc::new(AtomicU32::new(0));
        let make = |runs: Arc<AtomicU32>| {
            // Lease 300 ms; the job runs 5 leases long.
            worker(&url, &["default"])
                .lease(Duration::from_millis(300))
                .register("long", move |_| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    verdant::sleep(Duration::from_millis(1500));
                    Ok(json!("ok"))
                })
        };
        let a = start(make(runs.clone()));
        let b = start(make(runs.clone()));
        let q = Queue::connect(&url, "default").unwrap();
        assert_eq!(q.enqueue_and_wait(NewJob::new("long"), WAIT).unwrap(), json!("ok"));
        let (sa, sb) = (stop(a), stop(b));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the lease was renewed, nobody took the job over"
        );
        assert_eq!(sa.reclaimed + sb.reclaimed, 0);
    });
}

#[test]
fn a_job_past_its_timeout_fails_and_is_retried() {
    let Some(redis) = Redis::start("a_job_past_its_timeout") else {
        return;
    };
    let url = redis.url();
    support::run(move || {
        let attempts = Arc::new(AtomicU32::new(0));
        let a2 = attempts.clone();
        let w = start(worker(&url, &["default"]).register("stuck", move |_| {
            a2.fetch_add(1, Ordering::SeqCst);
            // Parks far past the job's timeout: the timeout interrupts it.
            verdant::sleep(Duration::from_secs(3600));
            Ok(json!(null))
        }));
        let q = Queue::connect(&url, "default").unwrap();
        let job = NewJob::new("stuck").timeout(Duration::from_millis(100)).max_retries(1);
        let err = q.enqueue_and_wait(job, WAIT).unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
        assert_eq!(attempts.load(Ordering::SeqCst), 2, "1 attempt + 1 retry");
        let stats = stop(w);
        assert_eq!((stats.retried, stats.dead), (1, 1));
    });
}

#[test]
fn network_cut_mid_job_loses_no_job_and_the_worker_reconnects() {
    network_cut_mid_job("network_cut_mid_job", servers::Proxy::cut);
}

/// The cut is never heard of by the worker: its connections stay open and
/// silent forever (a partition that outlasts the server's retransmissions,
/// a firewall that forgets the flow). Without a read deadline its calls
/// would wait forever: the worker would never fetch again.
#[test]
fn silent_network_cut_mid_job_loses_no_job_and_the_worker_reconnects() {
    network_cut_mid_job("silent_network_cut_mid_job", servers::Proxy::go_silent);
}

/// A worker (A) reaches Redis through a proxy and holds 4 jobs when the
/// network goes (`cut`); (a) another worker (B) takes them over after their
/// lease and completes them; (b) after the network is back, A reconnects,
/// writes its late outcomes and runs new jobs; (c) every job completed.
fn network_cut_mid_job(test: &str, cut: fn(&servers::Proxy)) {
    let Some(redis) = Redis::start(test) else {
        return;
    };
    let direct = redis.url();
    // Worker A talks to Redis only through the proxy; B, the producer and
    // the checks talk to it directly.
    let proxy = servers::Proxy::start(redis.port);
    let via_proxy = proxy.url();
    support::run(move || {
        let q = Queue::connect(&direct, "default").unwrap();
        // Handler runs: job id -> which workers completed it.
        let runs: Arc<Mutex<HashMap<String, Vec<&'static str>>>> = Arc::default();
        let record = |runs: &Arc<Mutex<HashMap<String, Vec<&'static str>>>>, id: &str, by| {
            runs.lock().unwrap().entry(id.to_string()).or_default().push(by);
        };
        let gate = verdant::sync::Event::new();
        let (started_tx, started_rx) = verdant::sync::unbounded();
        let (r2, g2) = (runs.clone(), gate.clone());
        // More slots than held jobs: A's fetcher keeps reading (a blocked
        // XREADGROUP) while its jobs run, and the cut hits that read too.
        let a = start(
            worker(&via_proxy, &["default"])
                .concurrency(8)
                .register("hold", move |job| {
                    started_tx.send(job.id().to_string()).unwrap();
                    // Until the test opens the gate (bounded: WAIT).
                    assert!(g2.wait_timeout(WAIT), "the gate opens");
                    record(&r2, job.id(), "A");
                    Ok(json!("A"))
                })
                .register("quick", {
                    let runs = runs.clone();
                    move |job| {
                        record(&runs, job.id(), "A");
                        Ok(json!("A"))
                    }
                }),
        );
        let held: Vec<String> = (0..4)
            .map(|i| q.enqueue(NewJob::new("hold").json(&i)).unwrap())
            .collect();
        let mut started: Vec<String> = (0..4).map(|_| started_rx.recv().unwrap()).collect();
        started.sort();
        let mut expect = held.clone();
        expect.sort();
        assert_eq!(started, expect, "A holds every job");
        for id in &held {
            assert_eq!(q.status(id).unwrap().unwrap().state, State::Running);
        }

        // (a) The network goes; A's jobs become B's after their lease.
        cut(&proxy);
        let b = start(worker(&direct, &["default"]).register("hold", {
            let runs = runs.clone();
            move |job| {
                record(&runs, job.id(), "B");
                Ok(json!("B"))
            }
        }));
        for id in &held {
            assert_eq!(q.wait(id, WAIT).unwrap(), json!("B"), "job {id} reclaimed by B");
        }
        let sb = stop(b);
        assert_eq!((sb.reclaimed, sb.done), (4, 4), "B took over exactly A's jobs");
        // A notices the cut (at once, or after its call's deadline on a
        // silent connection) and tries new connections, which the cut
        // network refuses. Bounded: 20 s in 10 ms steps.
        let mut polls = 0;
        while proxy.refused() == 0 && polls < 2000 {
            verdant::sleep(Duration::from_millis(10));
            polls += 1;
        }
        assert!(proxy.refused() > 0, "A tried to reach Redis during the cut");

        // (b) The network comes back: A reconnects, writes the outcomes of
        // the jobs it held (duplicates: at least once) and runs new jobs,
        // alone now.
        proxy.restore();
        gate.set();
        let fresh: Vec<String> = (0..20)
            .map(|i| q.enqueue(NewJob::new("quick").json(&i)).unwrap())
            .collect();
        for id in &fresh {
            assert_eq!(q.wait(id, WAIT).unwrap(), json!("A"), "job {id} after the cut");
        }
        // A's late outcomes of the held jobs are written too (B's 4, A's 4
        // late ones, the 20 new): a signal from Redis, polled, bounded.
        let mut polls = 0;
        while q.stats().unwrap().done < 4 + 4 + 20 && polls < 2000 {
            verdant::sleep(Duration::from_millis(10));
            polls += 1;
        }
        assert_eq!(q.stats().unwrap().done, 4 + 4 + 20, "every outcome written");
        let sa = stop(a);
        assert_eq!(sa.done, 4 + 20, "A wrote its held outcomes and the new jobs' ones");

        // (c) Every job completed, at least once; nothing is pending.
        let runs = runs.lock().unwrap();
        for id in held.iter().chain(&fresh) {
            assert!(!runs.get(id).is_none_or(Vec::is_empty), "job {id} never completed");
            assert_eq!(q.status(id).unwrap().unwrap().state, State::Done, "job {id}");
        }
        for id in &held {
            assert_eq!(runs[id], ["B", "A"], "job {id}: B's run, then A's late one");
        }
        for id in &fresh {
            assert_eq!(runs[id], ["A"], "job {id}");
        }
        assert_eq!(q.stats().unwrap().in_flight, 0);
    });
}
