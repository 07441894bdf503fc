//! Unix-domain sockets: streams, listeners, datagrams.

#[path = "support/net.rs"]
mod net_support;
mod support;

use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use net_support::{echo, round_trip};
use support::{rt, watchdog};
use verdant::net::{UnixDatagram, UnixListener, UnixStream};

/// A fresh socket path, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> TempPath {
        let p = std::env::temp_dir().join(format!("verdant-test-{}-{tag}.sock", std::process::id()));
        let _ = std::fs::remove_file(&p);
        TempPath(p)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn listener_echo_green_and_os_threads() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let path = TempPath::new("echo");
    let listener = UnixListener::bind(&path.0).unwrap();
    rt.spawn(move || {
        for s in listener.incoming() {
            let s = s.unwrap();
            verdant::spawn(move || echo(s));
        }
    });
    let p = path.0.clone();
    let os: Vec<_> = (0..3)
        .map(|i| {
            let p = p.clone();
            std::thread::spawn(move || {
                let s = UnixStream::connect(&p).unwrap();
                for j in 0..100 {
                    round_trip(&s, format!("os {i} {j}").as_bytes());
                }
            })
        })
        .collect();
    let green: Vec<_> = (0..20)
        .map(|i| {
            let p = p.clone();
            rt.spawn(move || {
                let s = UnixStream::connect(&p).unwrap();
                for j in 0..100 {
                    round_trip(&s, format!("green {i} {j}").as_bytes());
                }
            })
        })
        .collect();
    os.into_iter().for_each(|h| h.join().unwrap());
    green.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn pair_read_while_write() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    const N: usize = 4 << 20;
    let ok = rt.block_on(|| {
        let (a, b) = UnixStream::pair().unwrap();
        verdant::spawn(move || echo(b));
        let r = a.try_clone().unwrap();
        let writer = verdant::spawn(move || {
            let chunk = vec![3u8; 32 * 1024];
            for _ in 0..N / chunk.len() {
                (&a).write_all(&chunk).unwrap();
            }
            a.shutdown(std::net::Shutdown::Write).unwrap();
        });
        let mut total = 0;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = (&r).read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n;
        }
        writer.join().unwrap();
        total == N
    });
    assert!(ok);
}

#[test]
fn stream_timeout_and_cancel() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (a, mut b) = UnixStream::pair().unwrap();
    let t = Duration::from_millis(50);
    let h = rt.spawn(move || {
        a.set_read_timeout(Some(t)).unwrap();
        let start = Instant::now();
        let kind = (&a).read(&mut [0u8; 4]).unwrap_err().kind();
        assert!(start.elapsed() >= t);
        assert_eq!(kind, ErrorKind::WouldBlock);
        a.set_read_timeout(None).unwrap();
        (&a).write_all(b"r").unwrap();
        let _ = (&a).read(&mut [0u8; 4]); // parks until cancelled
        unreachable!();
    });
    let mut r = [0u8; 1];
    b.read_exact(&mut r).unwrap();
    h.cancel();
    assert!(h.join().unwrap_err().is_cancelled());
    assert_eq!(b.read(&mut [0u8; 4]).unwrap(), 0, "peer sees EOF");
}

#[test]
fn datagrams() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let path = TempPath::new("dgram");
    let server = UnixDatagram::bind(&path.0).unwrap();
    let h = rt.spawn(move || {
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        for _ in 0..100 {
            let (n, _) = server.recv_from(&mut buf).unwrap();
            got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        got
    });
    let p = path.0.clone();
    rt.block_on(move || {
        let c = UnixDatagram::unbound().unwrap();
        for i in 0..50 {
            c.send_to(format!("u{i}").as_bytes(), &p).unwrap();
        }
        let c2 = UnixDatagram::unbound().unwrap();
        c2.connect(&p).unwrap();
        for i in 0..50 {
            c2.send(format!("c{i}").as_bytes()).unwrap();
        }
    });
    let got = h.join().unwrap();
    assert_eq!(got.len(), 100);
    let (a, b) = UnixDatagram::pair().unwrap();
    b.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(b.recv(&mut [0u8; 4]).unwrap_err().kind(), ErrorKind::WouldBlock);
    a.send(b"x").unwrap();
    assert_eq!(b.recv(&mut [0u8; 4]).unwrap(), 1);
}

// ---- Readiness: a short read or write marks the stream drained ----------
//
// The stream cases are shared with `net_tcp`: see `support/net.rs`.

#[test]
fn short_read_then_park_is_woken_by_write_and_by_close() {
    net_support::short_read_then_park_is_woken_by_write_and_by_close::<UnixStream>();
}

#[test]
fn short_read_after_hang_up_still_reads_eof() {
    net_support::short_read_after_hang_up_still_reads_eof::<UnixStream>();
}

#[test]
fn reads_after_a_partial_read_still_get_the_rest() {
    net_support::reads_after_a_partial_read_still_get_the_rest::<UnixStream>();
}

#[test]
fn short_write_then_peer_drains() {
    net_support::short_write_then_peer_drains::<UnixStream>();
}

#[test]
fn stress_random_sized_messages_both_ways() {
    net_support::stress_random_sized_messages_both_ways::<UnixStream>();
}

/// Every datagram read looks short: none may clear readiness, or the
/// second queued datagram would be stranded.
#[test]
fn datagram_reads_never_count_as_short() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (a, b) = UnixDatagram::pair().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let reader = rt.spawn(move || {
        b.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        assert_eq!(b.recv(&mut [0u8; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
        b.set_read_timeout(None).unwrap();
        tx.send(()).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(b.recv(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"one");
        assert_eq!(b.recv(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"two");
    });
    rx.recv().unwrap();
    a.send(b"one").unwrap();
    a.send(b"two").unwrap();
    reader.join().unwrap();
}
