//! `verdant::jobs::gearman` against a real gearmand on loopback, and
//! interoperability with gearmand's own CLI (`gearman`, apt
//! gearman-tools) in both directions. Skipped loudly when missing.
#![cfg(feature = "gearman")]

#[path = "support/servers.rs"]
mod servers;
mod support;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use servers::Gearmand;
use verdant::jobs::gearman::{Client, Priority, Update, Worker};
use verdant::jobs::Error;

fn reverse_worker(addr: &str, n: usize) -> Worker {
    Worker::new(addr)
        .concurrency(n)
        .register("reverse", |job| {
            let mut d = job.data().to_vec();
            d.reverse();
            Ok(d)
        })
        .register("chatty", |job| {
            job.send_status(1, 2)?;
            job.send_data(b"part")?;
            Ok(b"whole".to_vec())
        })
        .register("fail", |_| Err(Error::new("no")))
}

#[test]
fn client_and_worker_round_trip() {
    let Some(g) = Gearmand::start("client_and_worker_round_trip") else {
        return;
    };
    let addr = g.addr();
    support::run(move || {
        let (started_tx, started_rx) = verdant::sync::unbounded();
        let (go_tx, go_rx) = verdant::sync::unbounded::<()>();
        let (done_tx, done_rx) = verdant::sync::unbounded();
        let w = reverse_worker(&addr, 4).register("hold", move |job| {
            job.send_status(1, 3)?;
            started_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            done_tx.send(()).unwrap();
            Ok(Vec::new())
        });
        let stop = w.handle();
        let worker = verdant::spawn(move || w.run().unwrap());
        let c = Client::connect(&addr).unwrap();
        assert_eq!(c.echo(b"hi").unwrap(), b"hi");
        assert_eq!(c.submit_job("reverse", b"abc\0def").unwrap(), b"fed\0cba");
        for p in [Priority::High, Priority::Normal, Priority::Low] {
            assert_eq!(c.submit("reverse", b"xy", p, |_| {}).unwrap(), b"yx");
        }
        let mut updates = Vec::new();
        let r = c
            .submit("chatty", b"", Priority::Normal, |u| {
                updates.push(match u {
                    Update::Data(d) => format!("data {}", String::from_utf8_lossy(d)),
                    Update::Warning(d) => format!("warning {}", String::from_utf8_lossy(d)),
                    Update::Status(n, d) => format!("status {n}/{d}"),
                })
            })
            .unwrap();
        assert_eq!(r, b"whole");
        assert_eq!(updates, ["status 1/2", "data part"]);
        let err = c.submit_job("fail", b"").unwrap_err();
        assert!(err.to_string().contains("WORK_FAIL"), "{err}");
        // Background: get_status sees it running with its progress while
        // the handler holds it; then it completes and the server forgets it.
        let h = c.submit_job_bg("hold", b"bg", Priority::Low).unwrap();
        assert!(h.starts_with(b"H:"), "{:?}", String::from_utf8_lossy(&h));
        started_rx.recv().unwrap();
        let st = c.get_status(&h).unwrap();
        assert!(st.known && st.running, "{st:?}");
        assert_eq!((st.numerator, st.denominator), (1, 3));
        go_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        assert!(!c.get_status(b"H:nosuch:1").unwrap().known);
        stop.stop();
        let (done, failed) = worker.join().unwrap();
        // reverse ×4, chatty, hold (its handler returned before the stop
        // took effect: run joins every connection's thread).
        assert_eq!(done, 6);
        assert_eq!(failed, 1);
    });
}

#[test]
fn many_jobs_in_flight_in_one_worker_process() {
    let Some(g) = Gearmand::start("many_jobs_in_flight") else {
        return;
    };
    let addr = g.addr();
    support::run(move || {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (r2, p2) = (running.clone(), peak.clone());
        let w = Worker::new(&addr).concurrency(100).register("wait", move |job| {
            let now = r2.fetch_add(1, Ordering::SeqCst) + 1;
            p2.fetch_max(now, Ordering::SeqCst);
            verdant::sleep(Duration::from_millis(50));
            r2.fetch_sub(1, Ordering::SeqCst);
            Ok(job.data().to_vec())
        });
        let stop = w.handle();
        let worker = verdant::spawn(move || w.run().unwrap());
        let clients: Vec<_> = (0..100)
            .map(|i| {
                let addr = addr.clone();
                verdant::spawn(move || {
                    let c = Client::connect(&addr).unwrap();
                    c.submit_job("wait", format!("{i}").as_bytes()).unwrap()
                })
            })
            .collect();
        for (i, h) in clients.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), format!("{i}").as_bytes());
        }
        stop.stop();
        assert_eq!(worker.join().unwrap(), (100, 0));
        assert!(peak.load(Ordering::SeqCst) > 1, "jobs ran concurrently");
    });
}

fn gearman_cli(test: &str) -> bool {
    servers::installed("gearman", "gearman-tools", test)
}

#[test]
fn verdant_client_to_gearman_cli_worker() {
    let Some(g) = Gearmand::start("verdant_client_to_gearman_cli_worker") else {
        return;
    };
    if !gearman_cli("verdant_client_to_gearman_cli_worker") {
        return;
    }
    let port = g.port.to_string();
    // The CLI worker runs `tr a-z A-Z` with each job's data on stdin.
    let mut cli = Command::new("gearman")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-w",
            "-f",
            "upper",
            "--",
            "tr",
            "a-z",
            "A-Z",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = g.addr();
    let r = support::run(move || {
        let c = Client::connect(&addr).unwrap();
        c.submit_job("upper", b"hello gearman").unwrap()
    });
    let _ = cli.kill();
    let _ = cli.wait();
    assert_eq!(r, b"HELLO GEARMAN");
}

#[test]
fn gearman_cli_client_to_verdant_worker() {
    let Some(g) = Gearmand::start("gearman_cli_client_to_verdant_worker") else {
        return;
    };
    if !gearman_cli("gearman_cli_client_to_verdant_worker") {
        return;
    }
    let addr = g.addr();
    let port = g.port.to_string();
    support::run(move || {
        let w = reverse_worker(&addr, 2);
        let stop = w.handle();
        let worker = verdant::spawn(move || w.run().unwrap());
        let out = verdant::spawn_blocking(move || {
            Command::new("gearman")
                .args(["-h", "127.0.0.1", "-p", &port, "-f", "reverse", "stressed"])
                .output()
                .unwrap()
        })
        .join()
        .unwrap();
        stop.stop();
        worker.join().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "desserts");
    });
}
