//! `verdant::io::{stdin, stdout, stderr}`: this test binary runs itself as
//! a child with its stdin a pipe (or a file), and reads the child's
//! stdout. The child reads with green threads on a one-worker runtime, so
//! a read that blocked the worker would stop the child's other green
//! threads, and the parent would never hear from them.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Stdio};
use std::sync::Arc;
use std::time::Duration;

const CHILD: &str = "VERDANT_STDIO_CHILD";

/// Starts this test binary running `test` as a child in role `role`.
fn child(test: &str, role: &str, stdin: Stdio, stdout: Stdio) -> Child {
    support::child_command(test, (CHILD, role))
        .stdin(stdin)
        .stdout(stdout)
        .spawn()
        .expect("start the child")
}

/// What follows `OUT:` on the child's next line that has it (the test
/// harness writes its own text too, `test name ... ` before the first);
/// `None` at the end.
fn next_out(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> Option<String> {
    for line in lines {
        let line = line.expect("read the child's stdout");
        if let Some((_, rest)) = line.split_once("OUT:") {
            return Some(rest.to_owned());
        }
    }
    None
}

fn out(line: &str) {
    writeln!(verdant::io::stdout(), "OUT:{line}").expect("write to stdout");
}

/// The child of `stdin_from_a_pipe_parks_while_others_run`.
fn pipe_child() {
    let rt = support::rt(1);
    let first = Arc::new(verdant::sync::Event::new());
    let reader = {
        let first = first.clone();
        rt.spawn(move || {
            let stdin = verdant::io::stdin();
            let mut line = String::new();
            // Nothing written yet: a timeout cuts the read short.
            let cut = verdant::timeout(Duration::from_millis(20), || stdin.read_line(&mut line));
            assert!(matches!(cut, Err(_) | Ok(Err(_))), "nothing to read yet: {cut:?}");
            out("timed out");
            let mut n = 0;
            for line in verdant::io::stdin().lines() {
                out(&format!("line {}", line.expect("read a line")));
                n += 1;
                if n == 1 {
                    first.set();
                }
            }
            out("eof");
        })
    };
    // Runs only if the reader, parked for the next line, left the worker.
    let ticker = rt.spawn(move || {
        first.wait();
        for _ in 0..3 {
            verdant::sleep(Duration::from_millis(1));
        }
        out("ticked");
    });
    ticker.join().unwrap();
    reader.join().unwrap();
    verdant::io::stdout().flush().unwrap();
}

#[test]
fn stdin_from_a_pipe_parks_while_others_run() {
    if std::env::var(CHILD).as_deref() == Ok("pipe") {
        return pipe_child();
    }
    let _w = support::watchdog(Duration::from_secs(60));
    let mut c = child(
        "stdin_from_a_pipe_parks_while_others_run",
        "pipe",
        Stdio::piped(),
        Stdio::piped(),
    );
    let mut stdin = c.stdin.take().unwrap();
    let mut lines = BufReader::new(c.stdout.take().unwrap()).lines();
    assert_eq!(next_out(&mut lines).as_deref(), Some("timed out"));
    stdin.write_all(b"one\n").unwrap();
    assert_eq!(next_out(&mut lines).as_deref(), Some("line one"));
    // The reader now waits for line two; the ticker must still run.
    assert_eq!(next_out(&mut lines).as_deref(), Some("ticked"));
    stdin.write_all(b"two\nthree").unwrap();
    drop(stdin);
    assert_eq!(next_out(&mut lines).as_deref(), Some("line two"));
    assert_eq!(next_out(&mut lines).as_deref(), Some("line three"));
    assert_eq!(next_out(&mut lines).as_deref(), Some("eof"));
    assert!(c.wait().unwrap().success());
}

/// The child of `stdin_and_stdout_as_regular_files`: the first line on
/// this OS thread, the rest in a green thread (on the blocking pool: the
/// files are regular), all echoed to stdout, a file too.
fn file_child() {
    let mut first = String::new();
    verdant::io::stdin().read_line(&mut first).unwrap();
    out(&format!("os {}", first.trim_end()));
    let h = verdant::spawn(|| {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut verdant::io::stdin(), &mut rest).unwrap();
        for line in rest.lines() {
            out(&format!("green {line}"));
        }
        writeln!(verdant::io::stderr(), "to stderr").unwrap();
    });
    h.join().unwrap();
    verdant::io::stdout().flush().unwrap();
}

#[test]
fn stdin_and_stdout_as_regular_files() {
    if std::env::var(CHILD).as_deref() == Ok("file") {
        return file_child();
    }
    let _w = support::watchdog(Duration::from_secs(60));
    let dir = std::env::temp_dir();
    let (input, output) = (
        dir.join(format!("verdant-stdio-in-{}", std::process::id())),
        dir.join(format!("verdant-stdio-out-{}", std::process::id())),
    );
    let big: String = (0..2000).map(|i| format!("line{i}\n")).collect();
    std::fs::write(&input, format!("first\n{big}")).unwrap();
    let c = child(
        "stdin_and_stdout_as_regular_files",
        "file",
        std::fs::File::open(&input).unwrap().into(),
        std::fs::File::create(&output).unwrap().into(),
    );
    let status = c.wait_with_output().unwrap().status;
    let text = std::fs::read_to_string(&output).unwrap();
    let _ = (std::fs::remove_file(&input), std::fs::remove_file(&output));
    assert!(status.success());
    let got: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once("OUT:").map(|(_, r)| r))
        .collect();
    assert_eq!(got.len(), 2001, "{text}");
    assert_eq!(got[0], "os first");
    for (i, line) in got[1..].iter().enumerate() {
        assert_eq!(*line, format!("green line{i}"));
    }
}

/// The child of `stdin_from_dev_null_is_at_its_end`.
fn null_child() {
    let h = verdant::spawn(|| verdant::io::stdin().lines().count());
    out(&format!("lines {}", h.join().unwrap()));
}

#[test]
fn stdin_from_dev_null_is_at_its_end() {
    if std::env::var(CHILD).as_deref() == Ok("null") {
        return null_child();
    }
    let _w = support::watchdog(Duration::from_secs(60));
    let mut c = child(
        "stdin_from_dev_null_is_at_its_end",
        "null",
        Stdio::null(),
        Stdio::piped(),
    );
    let stdout: ChildStdout = c.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    assert_eq!(next_out(&mut lines).as_deref(), Some("lines 0"));
    assert!(c.wait().unwrap().success());
}

/// Many green threads writing lines at once through one locked stdout:
/// no line is torn.
#[test]
fn concurrent_lines_are_not_torn() {
    if std::env::var(CHILD).as_deref() == Ok("lines") {
        let hs: Vec<_> = (0..50)
            .map(|t| {
                verdant::spawn(move || {
                    for i in 0..40 {
                        writeln!(verdant::io::stdout(), "OUT:{t}-{i}-{}", "x".repeat(100)).unwrap();
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        return;
    }
    let _w = support::watchdog(Duration::from_secs(60));
    let mut c = child("concurrent_lines_are_not_torn", "lines", Stdio::null(), Stdio::piped());
    let mut lines = BufReader::new(c.stdout.take().unwrap()).lines();
    let mut seen = std::collections::HashSet::new();
    while let Some(line) = next_out(&mut lines) {
        let mut parts = line.splitn(3, '-');
        let (t, i, x) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        assert_eq!(x, "x".repeat(100), "a torn line: {line}");
        assert!(seen.insert((t.to_owned(), i.to_owned())), "twice: {line}");
    }
    assert_eq!(seen.len(), 50 * 40);
    assert!(c.wait().unwrap().success());
}
