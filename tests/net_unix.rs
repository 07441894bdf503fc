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

/// Registers `s` with the calling green thread's reactor: a read that
/// must time out (nothing was sent) waits on it once.
fn register_for_reads(s: &UnixStream) {
    s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
    let err = (&*s).read(&mut [0u8; 1]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    s.set_read_timeout(None).unwrap();
}

/// After a short read the reader parks; the next write wakes it, and so
/// does the peer's close, whose end-of-file then keeps reading as 0.
#[test]
fn short_read_then_park_is_woken_by_write_and_by_close() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (mut peer, conn) = UnixStream::pair().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let reader = rt.spawn(move || {
        let mut conn = conn;
        register_for_reads(&conn);
        tx.send(()).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(conn.read(&mut buf).unwrap(), 10, "short: 10 of 64");
        tx.send(()).unwrap();
        assert_eq!(conn.read(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], &[2; 5]);
        tx.send(()).unwrap();
        for _ in 0..3 {
            assert_eq!(conn.read(&mut buf).unwrap(), 0);
        }
    });
    rx.recv().unwrap();
    peer.write_all(&[1; 10]).unwrap();
    rx.recv().unwrap();
    peer.write_all(&[2; 5]).unwrap();
    rx.recv().unwrap();
    drop(peer);
    reader.join().unwrap();
}

/// The peer's data and hang-up are recorded before the reader runs: its
/// short read must not clear away the end-of-file.
#[test]
fn short_read_after_hang_up_still_reads_eof() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    for _ in 0..20 {
        let (mut peer, conn) = UnixStream::pair().unwrap();
        let (registered_tx, registered_rx) = std::sync::mpsc::channel::<()>();
        let (go_tx, go_rx) = verdant::sync::unbounded::<()>();
        let reader = rt.spawn(move || {
            let mut conn = conn;
            register_for_reads(&conn);
            registered_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            let mut buf = [0u8; 64];
            assert_eq!(conn.read(&mut buf).unwrap(), 10);
            for _ in 0..3 {
                assert_eq!(conn.read(&mut buf).unwrap(), 0);
            }
        });
        registered_rx.recv().unwrap();
        peer.write_all(&[3; 10]).unwrap();
        drop(peer);
        go_tx.send(()).unwrap();
        reader.join().unwrap();
    }
}

/// 100 bytes buffered: a full 64-byte read leaves the stream ready, the
/// short 36-byte one parks the next read until more arrives.
#[test]
fn reads_after_a_partial_read_still_get_the_rest() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (mut peer, conn) = UnixStream::pair().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let reader = rt.spawn(move || {
        let mut conn = conn;
        register_for_reads(&conn);
        tx.send(()).unwrap();
        let mut buf = [0u8; 64];
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(buf, [4; 64]);
        assert_eq!(conn.read(&mut buf).unwrap(), 36);
        tx.send(()).unwrap();
        assert_eq!(conn.read(&mut buf).unwrap(), 7);
        assert_eq!(&buf[..7], &[5; 7]);
    });
    rx.recv().unwrap();
    peer.write_all(&[4; 100]).unwrap();
    rx.recv().unwrap();
    peer.write_all(&[5; 7]).unwrap();
    reader.join().unwrap();
}

/// A short write (socket buffer full) parks the next write until the peer
/// drains; it is woken and finishes.
#[test]
fn short_write_then_peer_drains() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let (mut peer, conn) = UnixStream::pair().unwrap();
    const TOTAL: usize = 16 << 20;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let writer = rt.spawn(move || {
        let mut conn = conn;
        let chunk = vec![9u8; 1 << 20];
        let (mut sent, mut signalled) = (0, false);
        while sent < TOTAL {
            let want = chunk.len().min(TOTAL - sent);
            let n = conn.write(&chunk[..want]).unwrap();
            assert!(n > 0);
            sent += n;
            if n < want && !signalled {
                tx.send(()).unwrap();
                signalled = true;
            }
        }
        signalled
    });
    rx.recv().unwrap();
    let mut got = 0;
    let mut buf = vec![0u8; 256 * 1024];
    while got < TOTAL {
        let n = peer.read(&mut buf).unwrap();
        assert!(n > 0 && buf[..n].iter().all(|&b| b == 9));
        got += n;
    }
    assert!(writer.join().unwrap(), "no write was short");
    assert_eq!(got, TOTAL);
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

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

fn pattern(seed: u64, i: usize) -> u8 {
    (i as u64).wrapping_mul(31).wrapping_add(seed) as u8
}

/// Writes `msgs` random-sized messages of stream `seed`, then shuts down.
fn send_random(s: UnixStream, seed: u64, msgs: usize, max: usize) -> usize {
    let mut rng = Rng(seed | 1);
    let mut off = 0;
    for _ in 0..msgs {
        let len = 1 + rng.below(max);
        let msg: Vec<u8> = (off..off + len).map(|i| pattern(seed, i)).collect();
        (&s).write_all(&msg).unwrap();
        off += len;
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    off
}

/// Reads stream `seed` to end-of-file with random buffer sizes.
fn recv_random(s: UnixStream, seed: u64, max: usize) -> usize {
    let mut rng = Rng(seed.rotate_left(17) | 1);
    let mut buf = vec![0u8; max];
    let mut off = 0;
    loop {
        let len = 1 + rng.below(max);
        let n = (&s).read(&mut buf[..len]).unwrap();
        if n == 0 {
            return off;
        }
        for (k, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, pattern(seed, off + k), "byte {} of stream {seed}", off + k);
        }
        off += n;
    }
}

/// Many stream pairs pass random-sized messages both ways, read with
/// random-sized buffers, across 4 workers; a lost edge would hang here.
#[test]
fn stress_random_sized_messages_both_ways() {
    let _w = watchdog(Duration::from_secs(120));
    let rt = rt(4);
    const PAIRS: u64 = 64;
    let handles: Vec<_> = (0..PAIRS)
        .map(|i| {
            rt.spawn(move || {
                let (a, b) = UnixStream::pair().unwrap();
                let (a2, b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
                let (sa, sb) = (2 * i, 2 * i + 1);
                let hs = [
                    verdant::spawn(move || send_random(a, sa, 200, 8192)),
                    verdant::spawn(move || recv_random(b, sa, 8192)),
                    verdant::spawn(move || send_random(b2, sb, 200, 8192)),
                    verdant::spawn(move || recv_random(a2, sb, 8192)),
                ];
                let [s1, r1, s2, r2] = hs.map(|h| h.join().unwrap());
                assert_eq!((s1, s2), (r1, r2));
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
}
