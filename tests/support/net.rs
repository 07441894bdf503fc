//! Networking test helpers (included with `#[path]` by the `net_*` tests,
//! next to the shared `support` module).
#![allow(dead_code)]

use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use crate::support::{rt, watchdog};
use verdant::net::{TcpListener, TcpStream, UnixStream};

/// Raises `RLIMIT_NOFILE` to at least `want` if possible (soft up to hard;
/// as root, hard too). Returns the soft limit now in force.
pub fn raise_nofile(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the valid pointer.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if lim.rlim_cur >= want {
        return lim.rlim_cur;
    }
    let raised = libc::rlimit {
        rlim_cur: want.max(lim.rlim_cur),
        rlim_max: want.max(lim.rlim_max),
    };
    // SAFETY: setrlimit reads one valid rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return raised.rlim_cur;
    }
    let soft = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) };
    // SAFETY: as above.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    lim.rlim_cur
}

/// Sets the soft `RLIMIT_NOFILE` (child processes only).
pub fn set_soft_nofile(n: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on valid rlimit structs.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = n;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0, "setrlimit");
    }
}

/// Open descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

/// Echoes until end-of-file.
pub fn echo<S: Read + Write>(mut s: S) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n])?;
    }
}

/// Writes `msg` and reads the same number of bytes back.
#[track_caller]
pub fn round_trip<S: Read + Write>(mut s: S, msg: &[u8]) {
    s.write_all(msg).expect("write");
    let mut back = vec![0u8; msg.len()];
    s.read_exact(&mut back).expect("read echo");
    assert_eq!(back, msg);
}

// ---- Readiness: a short read or write marks the stream drained ----------
//
// A stream read that returns fewer bytes than asked (but not 0) clears the
// socket's read readiness, so the next read parks without a syscall; a
// short write does the same for writes. These tests check that nothing is
// stranded by that: every byte and every end-of-file still wakes a parked
// green thread. Each is written once, over any [`TestStream`]; `net_tcp`
// and `net_unix` run it with their stream type under the same name.

/// A connected stream type the shared readiness tests run over.
pub trait TestStream: Read + Write + Send + Sized + 'static {
    /// A connected pair: (peer, conn).
    fn connected_pair() -> (Self, Self);
    fn try_clone(&self) -> io::Result<Self>;
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
    fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()>;
}

impl TestStream for TcpStream {
    /// Over loopback: (accepted, connected).
    fn connected_pair() -> (Self, Self) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (s, _) = listener.accept().unwrap();
        (s, c)
    }

    fn try_clone(&self) -> io::Result<Self> {
        TcpStream::try_clone(self)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }

    fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, dur)
    }
}

impl TestStream for UnixStream {
    fn connected_pair() -> (Self, Self) {
        UnixStream::pair().unwrap()
    }

    fn try_clone(&self) -> io::Result<Self> {
        UnixStream::try_clone(self)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        UnixStream::shutdown(self, how)
    }

    fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, dur)
    }
}

/// Registers `s` with the calling green thread's reactor: a read that
/// must time out (nothing was sent) waits on it once.
pub fn register_for_reads<S: TestStream>(s: &mut S) {
    s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
    let err = s.read(&mut [0u8; 1]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    s.set_read_timeout(None).unwrap();
}

/// After a short read the reader parks; the next write wakes it, and so
/// does the peer's close, whose end-of-file then keeps reading as 0.
pub fn short_read_then_park_is_woken_by_write_and_by_close<S: TestStream>() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (mut peer, conn) = S::connected_pair();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let reader = rt.spawn(move || {
        let mut conn = conn;
        register_for_reads(&mut conn);
        tx.send(()).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(conn.read(&mut buf).unwrap(), 10, "short: 10 of 64");
        assert_eq!(&buf[..10], &[1; 10]);
        tx.send(()).unwrap();
        // Known drained: parks without trying, until the next write.
        assert_eq!(conn.read(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], &[2; 5]);
        tx.send(()).unwrap();
        // Parks again, until the peer's close; then 0 for good.
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

/// The peer's data and hang-up are both recorded before the reader runs:
/// its short read must not clear away the end-of-file (which is final).
pub fn short_read_after_hang_up_still_reads_eof<S: TestStream>() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    for _ in 0..20 {
        let (mut peer, conn) = S::connected_pair();
        let (registered_tx, registered_rx) = std::sync::mpsc::channel::<()>();
        let (go_tx, go_rx) = verdant::sync::unbounded::<()>();
        let reader = rt.spawn(move || {
            let mut conn = conn;
            register_for_reads(&mut conn);
            registered_tx.send(()).unwrap();
            // Parked on the channel, not the socket: the worker records
            // the socket's events meanwhile, with no reader waiting.
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

/// A read that fills its buffer leaves the stream ready (more may be
/// buffered); only the short read that empties it parks the next one.
pub fn reads_after_a_partial_read_still_get_the_rest<S: TestStream>() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (mut peer, conn) = S::connected_pair();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let reader = rt.spawn(move || {
        let mut conn = conn;
        register_for_reads(&mut conn);
        tx.send(()).unwrap();
        let mut buf = [0u8; 64];
        // 100 bytes sent as one message: 64 (full, stays ready), then 36.
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(buf, [4; 64]);
        assert_eq!(conn.read(&mut buf).unwrap(), 36, "the rest, short");
        assert_eq!(&buf[..36], &[4; 36]);
        tx.send(()).unwrap();
        // Drained: parks until more arrives.
        assert_eq!(conn.read(&mut buf).unwrap(), 7);
        assert_eq!(&buf[..7], &[5; 7]);
        // A vectored read: 64 + 64 asked, 30 buffered: short too.
        tx.send(()).unwrap();
        let (mut x, mut y) = ([0u8; 64], [0u8; 64]);
        let mut bufs = [io::IoSliceMut::new(&mut x), io::IoSliceMut::new(&mut y)];
        assert_eq!(conn.read_vectored(&mut bufs).unwrap(), 30);
        assert_eq!(&x[..30], &[6; 30]);
        tx.send(()).unwrap();
        assert_eq!(conn.read(&mut buf).unwrap(), 0);
    });
    rx.recv().unwrap();
    peer.write_all(&[4; 100]).unwrap();
    rx.recv().unwrap();
    peer.write_all(&[5; 7]).unwrap();
    rx.recv().unwrap();
    peer.write_all(&[6; 30]).unwrap();
    rx.recv().unwrap();
    drop(peer);
    reader.join().unwrap();
}

/// A write that takes only part of its buffer (send buffer full) parks
/// the next write until the peer drains; it is woken and finishes.
pub fn short_write_then_peer_drains<S: TestStream>() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let (mut peer, conn) = S::connected_pair();
    // More than any loopback send and receive buffers hold together.
    const TOTAL: usize = 32 << 20;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let writer = rt.spawn(move || {
        let mut conn = conn;
        let chunk = vec![9u8; 1 << 20];
        let mut sent = 0;
        let mut signalled = false;
        while sent < TOTAL {
            let want = chunk.len().min(TOTAL - sent);
            let n = conn.write(&chunk[..want]).unwrap();
            assert!(n > 0);
            sent += n;
            if n < want && !signalled {
                // The first short write: the peer has read nothing yet,
                // so the next write parks until it starts draining.
                tx.send(()).unwrap();
                signalled = true;
            }
        }
        conn.shutdown(Shutdown::Write).unwrap();
        signalled
    });
    rx.recv().unwrap();
    let mut got = 0;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = peer.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(buf[..n].iter().all(|&b| b == 9));
        got += n;
    }
    assert!(writer.join().unwrap(), "no write was short");
    assert_eq!(got, TOTAL);
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

/// The byte at stream offset `i` of the stream seeded `seed`.
fn pattern(seed: u64, i: usize) -> u8 {
    (i as u64).wrapping_mul(31).wrapping_add(seed) as u8
}

/// Writes `msgs` messages of random sizes (a pattern of `seed`), then
/// shuts down writing. Returns the bytes sent.
fn send_random<S: TestStream>(mut s: S, seed: u64, msgs: usize, max: usize) -> usize {
    let mut rng = Rng(seed | 1);
    let mut off = 0;
    for _ in 0..msgs {
        let len = 1 + rng.below(max);
        let msg: Vec<u8> = (off..off + len).map(|i| pattern(seed, i)).collect();
        s.write_all(&msg).unwrap();
        off += len;
    }
    s.shutdown(Shutdown::Write).unwrap();
    off
}

/// Reads to end-of-file with random buffer sizes, checking the pattern of
/// `seed`. Returns the bytes received.
fn recv_random<R: Read>(mut r: R, seed: u64, max: usize) -> usize {
    let mut rng = Rng(seed.rotate_left(17) | 1);
    let mut buf = vec![0u8; max];
    let mut off = 0;
    loop {
        let len = 1 + rng.below(max);
        let n = r.read(&mut buf[..len]).unwrap();
        if n == 0 {
            return off;
        }
        for (k, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, pattern(seed, off + k), "byte {} of stream {seed}", off + k);
        }
        off += n;
    }
}

/// Many connections pass random-sized messages both ways at once, read
/// with random-sized buffers (full, short and partial reads of every
/// kind), across 4 workers; a lost edge would hang here.
pub fn stress_random_sized_messages_both_ways<S: TestStream>() {
    let _w = watchdog(Duration::from_secs(120));
    let rt = rt(4);
    const CONNS: u64 = 64;
    const MSGS: usize = 200;
    const MAX: usize = 8192;
    let handles: Vec<_> = (0..CONNS)
        .map(|i| {
            rt.spawn(move || {
                let (a, b) = S::connected_pair();
                let (a2, b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
                // One stream each way, each with its own writer and reader.
                let (sa, sb) = (2 * i, 2 * i + 1);
                let hs = [
                    verdant::spawn(move || send_random(a, sa, MSGS, MAX)),
                    verdant::spawn(move || recv_random(b, sa, MAX)),
                    verdant::spawn(move || send_random(b2, sb, MSGS, MAX)),
                    verdant::spawn(move || recv_random(a2, sb, MAX)),
                ];
                let [s1, r1, s2, r2] = hs.map(|h| h.join().unwrap());
                assert!(s1 > 0 && s2 > 0);
                assert_eq!((s1, s2), (r1, r2));
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
}
