//! The whole programs of `docs/whole-program.md`, run for real: the
//! examples' own code is compiled into this test (`#[path]`), driven over
//! loopback, real child processes and a real SIGINT; and the
//! `echo_server` example's binary is stopped with Ctrl-C (SIGINT).
//!
//! Signals are process-wide: only the chat server test uses SIGINT here.

mod support;

#[allow(dead_code)]
#[path = "../examples/chat_server.rs"]
mod chat_server;
#[allow(dead_code)]
#[path = "../examples/first_error.rs"]
mod first_error;
#[allow(dead_code)]
#[path = "../examples/supervisor.rs"]
mod supervisor;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use first_error::{pipeline, PipelineError};
use supervisor::Outcome;

fn connect(addr: std::net::SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let conn = TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let reader = BufReader::new(conn.try_clone().unwrap());
    (conn, reader)
}

fn line(r: &mut impl BufRead) -> String {
    let mut s = String::new();
    r.read_line(&mut s).expect("read a line");
    s
}

#[test]
fn chat_server_relays_lines_and_stops_cleanly_on_ctrl_c() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = support::rt(2);
    let signals = verdant::signal::Signals::new([verdant::signal::SIGINT]).unwrap();
    let listener = verdant::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = rt.spawn(move || chat_server::run(listener, signals));

    let (mut c1, mut r1) = connect(addr);
    assert_eq!(line(&mut r1), "you are #1\n");
    let (_c2, mut r2) = connect(addr);
    assert_eq!(line(&mut r2), "you are #2\n");
    assert_eq!(line(&mut r1), "#2 joined\n");
    c1.write_all(b"hello\n").unwrap();
    assert_eq!(line(&mut r2), "#1: hello\n");

    signal_hook::low_level::raise(verdant::signal::SIGINT).unwrap();
    for r in [&mut r1, &mut r2] {
        assert_eq!(line(r), "server: shutting down\n");
        // Then at most the other one leaving, and the end: the server
        // closed the connection.
        loop {
            let l = line(r);
            if l.is_empty() {
                break;
            }
            assert!(l.ends_with(" left\n"), "unexpected {l:?}");
        }
    }
    assert_eq!(server.join().unwrap().unwrap(), 2, "two clients served");
}

#[test]
fn first_error_sums_when_every_job_succeeds() {
    let _w = support::watchdog(Duration::from_secs(60));
    let input = ["1", "2", "3", "10"].map(|s| Ok(s.to_string()));
    let r = verdant::spawn(move || pipeline(input, 3)).join().unwrap();
    assert_eq!(r, Ok(1 + 4 + 9 + 100));
}

/// The bad job cancels a worker asleep for an hour and a reader parked in
/// its input: the pipeline returns the error at once (else the watchdog
/// fires), with every thread of it ended.
#[test]
fn first_error_stops_the_pipeline_on_the_first_bad_job() {
    let _w = support::watchdog(Duration::from_secs(60));
    let mut sent = 0;
    let input = std::iter::from_fn(move || {
        sent += 1;
        match sent {
            1 => Some(Ok("sleep 3600".to_string())),
            2 => Some(Ok("5".to_string())),
            3 => Some(Ok("five".to_string())),
            // An input that never ends: the reader parks here.
            _ => {
                verdant::sleep(Duration::from_secs(3600));
                None
            }
        }
    });
    let r = verdant::spawn(move || pipeline(input, 4)).join().unwrap();
    assert_eq!(r, Err(PipelineError::BadJob(3, "five".to_string())));
}

#[test]
fn first_error_reports_a_failed_read() {
    let _w = support::watchdog(Duration::from_secs(60));
    let input = vec![Ok("1".to_string()), Err(std::io::Error::other("disk on fire"))];
    let r = verdant::spawn(move || pipeline(input, 2)).join().unwrap();
    assert_eq!(r, Err(PipelineError::Input("disk on fire".to_string())));
}

/// The process group ids of every live (not zombie) process.
fn process_groups() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        // pid (comm) state ppid pgrp ...: comm may hold spaces, ')' ends it.
        .filter_map(|stat| {
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().take(3).collect();
            (fields[0] != "Z").then(|| fields[2].parse().ok())?
        })
        .collect()
}

#[test]
fn supervisor_restarts_failures_and_stops_the_rest_leaving_no_process() {
    let _w = support::watchdog(Duration::from_secs(60));
    let (events_tx, events_rx) = verdant::sync::mpsc::channel::<String>();
    let stop = std::sync::Arc::new(verdant::sync::Event::new());
    let cmds = ["true", "exit 3", "sleep 1000; true"].map(String::from).to_vec();
    let sup = {
        let stop = stop.clone();
        verdant::spawn(move || supervisor::run(cmds, 2, events_tx, move || stop.wait()))
    };
    // Stop once the first two have settled and the third runs.
    let (mut settled, mut sleeper) = (0, None);
    while settled < 2 || sleeper.is_none() {
        let event = events_rx.recv().expect("the supervisor reports until stopped");
        if event.starts_with("settled ") {
            settled += 1;
        }
        if let Some(rest) = event.strip_prefix("started \"sleep 1000; true\" (pid ") {
            sleeper = Some(rest.split(',').next().unwrap().parse::<i32>().unwrap());
        }
    }
    let pgid = sleeper.unwrap();
    assert!(process_groups().contains(&pgid), "the sleeper's group runs");
    stop.set();
    let outcomes = sup.join().unwrap();
    assert_eq!(
        outcomes,
        [
            Outcome::Succeeded { runs: 1 },
            Outcome::GaveUp { runs: 3, last: Some(3) },
            Outcome::Stopped,
        ]
    );
    // `sh` was reaped by the supervisor; `sleep`, its child, was killed
    // with the group and is reaped by init: nothing tells us when it has
    // died, so look again (bounded) while it is still dying.
    let mut left = 1000;
    while process_groups().contains(&pgid) {
        left -= 1;
        assert!(left > 0, "a process of the stopped command's group {pgid} still runs");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The `echo_server` example's binary (built by `cargo test` with the
/// other examples; `cargo build --examples` when one test file is run).
fn example_binary(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let path = deps.parent().unwrap().parent().unwrap().join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: build the examples first (`cargo build --examples`, which `cargo test` does)",
        path.display()
    );
    path
}

#[test]
fn echo_server_stops_gracefully_on_ctrl_c() {
    let _w = support::watchdog(Duration::from_secs(60));
    let mut server = std::process::Command::new(example_binary("echo_server"))
        .args(["--addr", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let first = line(&mut stderr);
    let addr = first
        .strip_prefix("echo server on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    let (mut conn, mut reader) = connect(addr.parse().unwrap());
    conn.write_all(b"ping\n").unwrap();
    assert_eq!(line(&mut reader), "ping\n");
    let pid = i32::try_from(server.id()).unwrap();
    // SAFETY: kill(2) with integers only; `pid` is our unreaped child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    assert!(line(&mut stderr).starts_with("Ctrl-C: stopping"));
    // The open connection ends, so the server's drain finishes.
    conn.shutdown(std::net::Shutdown::Write).unwrap();
    let status = server.wait().unwrap();
    assert!(status.success(), "the server exited with {status}");
    assert_eq!(line(&mut reader), "", "the connection was closed");
}
