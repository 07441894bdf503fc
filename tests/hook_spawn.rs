//! `verdant::monkey_patch()`: a child process handed a hooked socket as
//! its stdin sees it blocking (feature `hook`), on both of std's spawn
//! paths: `posix_spawn` and `fork`+`exec` (forced by a `pre_exec` hook).

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

use support::watchdog;

const CHILD: &str = "VERDANT_HOOK_SPAWN_CHILD";

/// In the child: reports its stdin's O_NONBLOCK (a raw system call, no
/// hooks involved) and echoes one line read from it.
#[test]
fn child_reports_its_stdin() {
    if !support::is_child(CHILD) {
        return;
    }
    // SAFETY: F_GETFL on descriptor 0 touches no memory.
    let fl = unsafe { libc::syscall(libc::SYS_fcntl, 0, libc::F_GETFL) };
    assert!(fl >= 0);
    println!("stdin O_NONBLOCK={}", fl as i32 & libc::O_NONBLOCK != 0);
    let mut buf = [0u8; 5];
    std::io::stdin().read_exact(&mut buf).unwrap();
    println!("read {}", String::from_utf8_lossy(&buf));
}

fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    (a, b)
}

fn run(fork_path: bool) -> String {
    let (ours, theirs) = pair();
    // SAFETY: F_GETFL on an open descriptor (a raw system call).
    let fl = unsafe { libc::syscall(libc::SYS_fcntl, std::os::fd::AsRawFd::as_raw_fd(&theirs), libc::F_GETFL) };
    assert!(
        fl as i32 & libc::O_NONBLOCK != 0,
        "a hooked socket is non-blocking in the kernel"
    );
    let mut cmd = support::child_command("child_reports_its_stdin", (CHILD, "1"));
    cmd.stdin(Stdio::from(OwnedFd::from(theirs))).stdout(Stdio::piped());
    if fork_path {
        // SAFETY: the closure does nothing (async-signal-safe); its only
        // purpose is to make std take its fork+exec path.
        unsafe { cmd.pre_exec(|| Ok(())) };
    }
    let child = cmd.spawn().unwrap();
    (&ours).write_all(b"hello").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_child_sees_an_inherited_socket_blocking() {
    let _w = watchdog(Duration::from_secs(60));
    if support::is_child(CHILD) {
        return;
    }
    verdant::monkey_patch().expect("the hooks are linked into this test binary");
    for fork_path in [false, true] {
        let out = run(fork_path);
        assert!(out.contains("stdin O_NONBLOCK=false"), "fork path {fork_path}: {out}");
        assert!(out.contains("read hello"), "fork path {fork_path}: {out}");
    }
}
