//! `serve`: per-connection green threads, backpressure, error handling,
//! graceful stop, accept under descriptor exhaustion.

#[path = "support/net.rs"]
mod net_support;
mod support;

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use net_support::{echo, round_trip};
use support::{rt, watchdog};
use verdant::net::{serve_background, TcpListener, TcpStream};

#[test]
fn smoke_echo() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let server =
        rt.block_on(|| serve_background(TcpListener::bind("127.0.0.1:0").unwrap(), 64, |s, _| echo(s)).unwrap());
    let addr = server.local_addr();
    let hs: Vec<_> = (0..32)
        .map(|i| {
            rt.spawn(move || {
                let s = TcpStream::connect(addr).unwrap();
                for j in 0..50 {
                    round_trip(&s, format!("{i}:{j}").as_bytes());
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    server.stop().unwrap();
    // The listener is closed.
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
}

#[test]
fn max_concurrency_applies_backpressure() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let server =
        rt.block_on(|| serve_background(TcpListener::bind("127.0.0.1:0").unwrap(), 2, |s, _| echo(s)).unwrap());
    let addr = server.local_addr();
    let a = TcpStream::connect(addr).unwrap();
    let b = TcpStream::connect(addr).unwrap();
    round_trip(&a, b"a");
    round_trip(&b, b"b");
    assert_eq!(server.connections(), 2);
    // The third connection completes in the kernel's backlog but is not
    // accepted while two handlers run.
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"c").unwrap();
    c.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    assert_eq!(c.read(&mut [0u8; 1]).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(server.connections(), 2);
    drop(a); // its handler sees EOF and ends: a slot frees up
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 1];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"c");
    drop((b, c));
    server.stop().unwrap();
}

#[test]
fn handler_errors_and_panics_end_only_their_connection() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let server = rt.block_on(|| {
        serve_background(TcpListener::bind("127.0.0.1:0").unwrap(), 8, |mut s, _| {
            let mut cmd = [0u8; 1];
            s.read_exact(&mut cmd)?;
            match cmd[0] {
                b'e' => Err(std::io::Error::other("handler failed on purpose")),
                b'p' => panic!("handler panicked on purpose"),
                _ => s.write_all(b"ok"),
            }
        })
        .unwrap()
    });
    let addr = server.local_addr();
    for cmd in [b"e", b"p", b"e"] {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(cmd).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        assert_eq!(s.read(&mut [0u8; 2]).unwrap(), 0);
    }
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"x").unwrap();
    let mut buf = [0u8; 2];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ok");
    server.stop().unwrap();
}

#[test]
fn stop_waits_for_running_handlers() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let server = rt.block_on(|| {
        serve_background(TcpListener::bind("127.0.0.1:0").unwrap(), 8, |mut s, _| {
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf)?;
            verdant::sleep(Duration::from_millis(100));
            s.write_all(&buf)
        })
        .unwrap()
    });
    let mut c = TcpStream::connect(server.local_addr()).unwrap();
    c.write_all(b"slow").unwrap();
    // Wait until the handler runs, then stop: the reply still arrives.
    while server.connections() == 0 {
        std::thread::yield_now();
    }
    server.stop().unwrap();
    let mut buf = [0u8; 4];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"slow");
}

#[test]
fn stop_timeout_cancels_stragglers() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let server =
        rt.block_on(|| serve_background(TcpListener::bind("127.0.0.1:0").unwrap(), 8, |s, _| echo(s)).unwrap());
    let conns: Vec<_> = (0..5)
        .map(|_| {
            let c = TcpStream::connect(server.local_addr()).unwrap();
            round_trip(&c, b"hi"); // handler running, now parked in read
            c
        })
        .collect();
    let drain = Duration::from_millis(100);
    let start = Instant::now();
    server.stop_timeout(drain).unwrap();
    assert!(start.elapsed() >= drain);
    for mut c in conns {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(c.read(&mut [0u8; 4]).unwrap(), 0, "cancelled handler closed its stream");
    }
}

/// In a child process with 64 descriptors: fill them all, let a client
/// connect into the backlog (so `accept` fails with EMFILE and backs off),
/// then free descriptors: the server must accept and serve it, and more.
#[test]
fn accept_under_fd_exhaustion_keeps_serving() {
    const VAR: &str = "VERDANT_TEST_EMFILE_CHILD";
    if !support::is_child(VAR) {
        let _w = watchdog(Duration::from_secs(60));
        let out = support::run_child("accept_under_fd_exhaustion_keeps_serving", (VAR, "1"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "child failed:\n{}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.contains("verdant: serve: accept error"),
            "no EMFILE logged:\n{stderr}"
        );
        return;
    }
    net_support::set_soft_nofile(64);
    let rt = rt(2);
    let server =
        rt.block_on(|| serve_background(TcpListener::bind("127.0.0.1:0").unwrap(), 100, |s, _| echo(s)).unwrap());
    let addr = server.local_addr();
    // One live connection first.
    let first = TcpStream::connect(addr).unwrap();
    round_trip(&first, b"before");
    // Use up every descriptor but one, for the client below.
    let mut fillers = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        fillers.push(f);
        assert!(fillers.len() < 100, "RLIMIT_NOFILE not applied");
    }
    drop(fillers.pop());
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"during").unwrap();
    // The server cannot accept it now: let it fail a few times.
    c.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    assert_eq!(c.read(&mut [0u8; 1]).unwrap_err().kind(), ErrorKind::WouldBlock);
    drop(fillers);
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 6];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"during");
    round_trip(&first, b"still");
    round_trip(TcpStream::connect(addr).unwrap(), b"after");
    drop((first, c));
    server.stop().unwrap();
}

#[test]
fn serve_rejects_zero_concurrency() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    assert_eq!(
        serve_background(l, 0, |_, _| Ok(())).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

/// `stop` right after a handler ended, while the acceptor waits for the
/// only permit: the drain must not wait for a permit nobody holds. (If the
/// acceptor is cancelled after being handed the permit but before it runs,
/// it gives the permit back: the semaphore's pass-on, tested in
/// `sync_wait.rs`. On one worker the woken acceptor runs first, so this
/// test covers the ordinary order.)
#[test]
fn stop_right_after_the_acceptor_was_handed_a_permit_does_not_hang() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    rt.block_on(|| {
        let (gate_tx, gate_rx) = verdant::sync::bounded::<()>(1);
        let server = serve_background(TcpListener::bind("127.0.0.1:0").unwrap(), 1, move |_s, _| {
            gate_rx.recv().unwrap();
            Ok(())
        })
        .unwrap();
        let _c = TcpStream::connect(server.local_addr()).unwrap();
        // One worker: once the handler is counted, the acceptor has gone on
        // to wait for the only permit, which the handler holds.
        while server.connections() == 0 {
            verdant::yield_now();
        }
        gate_tx.send(()).unwrap();
        // The handler ends and hands its permit to the acceptor.
        while server.connections() > 0 {
            verdant::yield_now();
        }
        server.stop().unwrap();
    });
}
