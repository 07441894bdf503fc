//! `verdant::process`: children waited through pidfds, pipes as green
//! streams.

mod support;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use support::{is_child, rt, run_child, watchdog};
use verdant::process::{Command, Stdio};
use verdant::sync::bounded;

fn os_threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

const MANY: &str = "VERDANT_TEST_MANY_CHILDREN";

/// 500 children waited by 500 green threads on 2 workers use no thread per
/// child. Runs in a child test process of its own, so that the thread
/// count is not inflated by the other tests running in parallel.
#[test]
fn five_hundred_children_few_threads() {
    if !is_child(MANY) {
        let _w = watchdog(Duration::from_secs(120));
        let out = run_child("five_hundred_children_few_threads", (MANY, "1"));
        assert!(
            out.status.success(),
            "child test failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    const N: usize = 500;
    let rt = rt(2);
    let (spawned_tx, spawned_rx) = bounded::<()>(N);
    let (go_tx, go_rx) = bounded::<()>(0);
    let waiters: Vec<_> = (0..N)
        .map(|_| {
            let spawned_tx = spawned_tx.clone();
            let go_rx = go_rx.clone();
            rt.spawn(move || {
                let mut child = Command::new("sleep").arg("0.2").spawn().unwrap();
                spawned_tx.send(()).unwrap();
                // Everyone waits until all have spawned and the threads are
                // counted: then all 500 children exist (exited or not) and
                // none has been waited for yet.
                let _ = go_rx.recv();
                child.wait().unwrap()
            })
        })
        .collect();
    for _ in 0..N {
        spawned_rx.recv().unwrap();
    }
    let before = os_threads();
    drop(go_tx); // release all waiters at once
    drop(go_rx);
    // Sample while the 500 waits are in progress: some still parked on
    // their pidfds, some done.
    let mut max = before;
    let mut statuses = Vec::with_capacity(N);
    for h in waiters {
        max = max.max(os_threads());
        statuses.push(h.join().unwrap());
    }
    eprintln!("{N} waits: {before} OS threads before, at most {max} during");
    assert!(statuses.iter().all(|s| s.success()), "every sleep exits 0");
    assert!(
        before < 20 && max < 20,
        "{before} then up to {max} OS threads for {N} waits"
    );
}

#[test]
fn child_killed_mid_read() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let mut child = Command::new("sh")
        .args(["-c", "echo ready; exec sleep 30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = bounded::<String>(1);
    let reader = rt.spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        line_tx.send(line).unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap(); // parks until the child dies
        rest
    });
    assert_eq!(line_rx.recv().unwrap(), "ready\n");
    assert_eq!(child.try_wait().unwrap(), None, "sleeping");
    child.kill().unwrap();
    let status = rt.spawn(move || child.wait()).join().unwrap().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(reader.join().unwrap().is_empty(), "EOF after the kill");
}

#[test]
fn piped_stdin_round_trip_through_cat() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(1);
    const LEN: usize = 1 << 20; // far more than two pipes hold
    let data: Vec<u8> = (0..LEN).map(|i| (i * 7 % 256) as u8).collect();
    let expect = data.clone();
    let got = rt
        .spawn(move || {
            let mut child = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let writer = verdant::spawn(move || stdin.write_all(&data)); // then EOF
            let mut out = Vec::new();
            child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
            writer.join().unwrap().unwrap();
            assert!(child.wait().unwrap().success());
            out
        })
        .join()
        .unwrap();
    assert_eq!(got.len(), expect.len());
    assert!(got == expect);
}

/// Writes 1.5 MB to stderr *first*, then 1.5 MB to stdout: reading stdout
/// to its end before stderr would deadlock (the child blocks on a full
/// stderr pipe).
fn big_output() -> std::process::Output {
    Command::new("sh")
        .args([
            "-c",
            "head -c 1500000 /dev/zero | tr '\\0' e >&2; head -c 1500000 /dev/zero | tr '\\0' o",
        ])
        .output()
        .unwrap()
}

fn check_big(out: &std::process::Output) {
    assert!(out.status.success());
    assert_eq!((out.stdout.len(), out.stderr.len()), (1_500_000, 1_500_000));
    assert!(out.stdout.iter().all(|&b| b == b'o'));
    assert!(out.stderr.iter().all(|&b| b == b'e'));
}

#[test]
fn output_reads_both_pipes_concurrently() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(1); // both readers on one worker
    check_big(&rt.spawn(big_output).join().unwrap());
    check_big(&big_output()); // and from a plain OS thread
}

#[test]
fn wait_timeout_then_kill() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let status = rt
        .spawn(|| {
            let mut child = Command::new("sleep").arg("5").spawn().unwrap();
            assert_eq!(child.wait_timeout(Duration::from_millis(20)).unwrap(), None);
            // A `verdant::timeout` around `wait` expires too, as an error.
            assert!(verdant::timeout(Duration::from_millis(20), || child.wait()).is_err());
            child.kill().unwrap();
            child.wait().unwrap()
        })
        .join()
        .unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn status_of_false_is_failure() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let status = rt.spawn(|| Command::new("false").status().unwrap()).join().unwrap();
    assert!(!status.success());
    assert_eq!(status.code(), Some(1));
    assert!(Command::new("true").status().unwrap().success());
}

#[test]
fn missing_program_is_not_found_naming_it() {
    let e = Command::new("verdant-no-such-program").spawn().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("verdant-no-such-program"), "{e}");
    let e = Command::new("verdant-no-such-program").output().unwrap_err();
    assert!(e.to_string().contains("verdant-no-such-program"), "{e}");
}

#[test]
fn a_childs_stdout_feeds_another_child() {
    let _w = watchdog(Duration::from_secs(30));
    let mut first = Command::new("echo")
        .arg("shout")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = Command::new("tr")
        .args(["a-z", "A-Z"])
        .stdin(first.stdout.take().unwrap()) // back in blocking mode for tr
        .output()
        .unwrap();
    assert!(first.wait().unwrap().success());
    assert_eq!(out.stdout, b"SHOUT\n");
}

const NO_PIDFD: &str = "VERDANT_PROCESS_NO_PIDFD";

/// The fallback of kernels without pidfd (`VERDANT_PROCESS_NO_PIDFD=1`):
/// waits on the blocking pool give the same answers, and honour their
/// timeouts. Runs in a child test process with the variable set (it is
/// read once per process).
#[test]
fn without_pidfd_waits_run_on_the_blocking_pool() {
    if !is_child(NO_PIDFD) {
        let _w = watchdog(Duration::from_secs(60));
        let out = run_child("without_pidfd_waits_run_on_the_blocking_pool", (NO_PIDFD, "1"));
        assert!(
            out.status.success(),
            "child test failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "the child ran the test"
        );
        return;
    }
    let rt = rt(1);
    rt.spawn(|| {
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        assert!(format!("{child:?}").contains("pidfd: false"), "{child:?}");
        assert_eq!(child.wait_timeout(Duration::from_millis(20)).unwrap(), None);
        child.kill().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        let out = Command::new("echo").arg("fallback").output().unwrap();
        assert_eq!(out.stdout, b"fallback\n");
        assert_eq!(Command::new("false").status().unwrap().code(), Some(1));
    })
    .join()
    .unwrap();
}

/// A `try_scope` whose thread fails cancels a sibling parked in a child's
/// wait: the sibling's destructor kills and reaps the child.
#[test]
fn an_error_cancels_a_sibling_parked_in_a_child_wait() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    struct KillOnDrop(verdant::process::Child, verdant::sync::mpsc::Sender<Option<i32>>);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let status = self.0.wait().ok().and_then(|s| s.signal());
            let _ = self.1.send(status);
        }
    }
    let (status_tx, status_rx) = verdant::sync::mpsc::channel();
    let r = rt
        .spawn(move || {
            verdant::try_scope(|s| {
                let (started_tx, started_rx) = bounded::<()>(1);
                s.spawn(move || {
                    let mut child = KillOnDrop(Command::new("sleep").arg("1000").spawn().unwrap(), status_tx);
                    started_tx.send(()).unwrap();
                    child.0.wait().map_err(|e| e.to_string())?; // parks until cancelled
                    Ok(())
                });
                s.spawn(move || {
                    started_rx.recv().unwrap(); // the sibling's child runs
                    Err::<(), _>("failed".to_string())
                });
                Ok(())
            })
        })
        .join()
        .unwrap();
    assert_eq!(r, Err("failed".to_string()));
    assert_eq!(
        status_rx.recv().unwrap(),
        Some(libc::SIGKILL),
        "killed and reaped by its destructor"
    );
}
