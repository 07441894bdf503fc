//! TCP: std-like behaviour from green and OS threads, timeouts, half-close,
//! reset, cancellation, 10 000 concurrent connections, descriptor hygiene.

#[path = "support/net.rs"]
mod net_support;
mod support;

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use net_support::{echo, fd_count, raise_nofile, register_for_reads, round_trip, TestStream};
use support::{rt, watchdog};
use verdant::net::{Shutdown, TcpListener, TcpStream};

/// An echo server on green threads of `rt`; returns its address.
fn echo_server(rt: &verdant::Runtime) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(move || {
        for s in listener.incoming() {
            let s = s.unwrap();
            verdant::spawn(move || echo(s));
        }
    });
    addr
}

#[test]
fn smoke_green_and_os_threads() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let addr = echo_server(&rt);
    // From a plain OS thread (poll(2) path).
    round_trip(TcpStream::connect(addr).unwrap(), b"from an OS thread");
    // From a green thread (reactor path).
    rt.block_on(move || round_trip(TcpStream::connect(addr).unwrap(), b"from a green thread"));
    // By host name: resolved on a spawn_blocking thread.
    rt.block_on(move || round_trip(TcpStream::connect(("localhost", addr.port())).unwrap(), b"by name"));
}

#[test]
fn os_threads_and_green_threads_at_once() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let addr = echo_server(&rt);
    let os: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                for j in 0..200u32 {
                    round_trip(&mut s, format!("os {i} {j}").as_bytes());
                }
            })
        })
        .collect();
    let green: Vec<_> = (0..50)
        .map(|i| {
            rt.spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                for j in 0..200u32 {
                    round_trip(&mut s, format!("green {i} {j}").as_bytes());
                }
            })
        })
        .collect();
    for h in os {
        h.join().unwrap();
    }
    for h in green {
        h.join().unwrap();
    }
}

/// One stream, used by an OS thread (writing) and a green thread (reading).
#[test]
fn one_stream_shared_by_os_and_green_thread() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let addr = echo_server(&rt);
    let s = Arc::new(TcpStream::connect(addr).unwrap());
    const N: usize = 1 << 20;
    let reader = {
        let s = s.clone();
        rt.spawn(move || {
            let mut got = vec![0u8; N];
            (&*s).read_exact(&mut got).unwrap();
            got
        })
    };
    let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
    (&*s).write_all(&data).unwrap();
    assert_eq!(reader.join().unwrap(), data);
}

/// One green thread reads while another writes the same stream: 8 MiB
/// through an echo peer cannot pass unless both can wait at once.
#[test]
fn read_while_write_from_two_green_threads() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let addr = echo_server(&rt);
    const N: usize = 8 << 20;
    let ok = rt.block_on(move || {
        let w = TcpStream::connect(addr).unwrap();
        let r = w.try_clone().unwrap();
        let writer = verdant::spawn(move || {
            let chunk = vec![7u8; 64 * 1024];
            for _ in 0..N / chunk.len() {
                (&w).write_all(&chunk).unwrap();
            }
            w.shutdown(Shutdown::Write).unwrap();
        });
        let reader = verdant::spawn(move || {
            let mut r = r;
            let mut total = 0;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    return total;
                }
                assert!(buf[..n].iter().all(|&b| b == 7));
                total += n;
            }
        });
        writer.join().unwrap();
        reader.join().unwrap() == N
    });
    assert!(ok);
}

#[test]
fn half_close() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = rt.spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut req = Vec::new();
        s.read_to_end(&mut req).unwrap(); // until the client's FIN
        s.write_all(&req).unwrap(); // our half is still open
        s.write_all(b" (done)").unwrap();
    });
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"request").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    assert_eq!(resp, "request (done)");
    server.join().unwrap();
}

#[test]
fn peer_reset() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let kind = rt.block_on(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().unwrap();
        c.write_all(b"unread").unwrap();
        // Linger 0: close sends RST instead of FIN.
        socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO)).unwrap();
        let reader = verdant::spawn(move || c.read(&mut [0u8; 16]).map(|n| n.to_string()));
        verdant::yield_now();
        drop(s);
        reader.join().unwrap().unwrap_err().kind()
    });
    assert_eq!(kind, ErrorKind::ConnectionReset);
}

#[test]
fn connection_refused() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    // The listener is closed now: nothing listens on `addr`.
    let kind = rt.block_on(move || TcpStream::connect(addr).unwrap_err().kind());
    assert_eq!(kind, ErrorKind::ConnectionRefused);
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
}

#[test]
fn read_timeout_is_would_block_like_std() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = Duration::from_millis(50);
    let check = move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(t)).unwrap();
        assert_eq!(c.read_timeout().unwrap(), Some(t));
        let start = Instant::now();
        let e = c.read(&mut [0u8; 8]).unwrap_err();
        assert!(start.elapsed() >= t, "timed out early: {:?}", start.elapsed());
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        assert_eq!(e.raw_os_error(), Some(libc::EAGAIN));
        c
    };
    let green = rt.block_on(check);
    let os = check();
    // The stream still works after a timeout.
    let (mut s, _) = listener.accept().unwrap();
    s.write_all(b"late").unwrap();
    let mut buf = [0u8; 4];
    let mut green = green;
    green.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"late");
    drop(os);
    // std's contract on zero.
    assert_eq!(
        green.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn write_timeout_when_peer_does_not_read() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let kind = rt.block_on(move || {
        let mut c = TcpStream::builder().send_buffer_size(4096).connect(addr).unwrap();
        let (_s, _) = listener.accept().unwrap(); // never read
        c.set_write_timeout(Some(Duration::from_millis(50))).unwrap();
        let chunk = [0u8; 64 * 1024];
        // Bounded: loopback buffers are a few MiB at most.
        for _ in 0..4096 {
            if let Err(e) = c.write(&chunk) {
                return e.kind();
            }
        }
        panic!("256 MiB written to a peer that never reads");
    });
    assert_eq!(kind, ErrorKind::WouldBlock);
}

/// A listener with backlog 1 that never accepts: once its queue is full the
/// kernel drops further SYNs, so connecting hangs until our deadline.
#[test]
fn connect_timeout_against_full_backlog() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let listener = TcpListener::builder().backlog(1).bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = Duration::from_millis(200);
    let (held, err, elapsed) = rt.block_on(move || {
        let mut held = Vec::new();
        for _ in 0..64 {
            let start = Instant::now();
            match TcpStream::connect_timeout(&addr, t) {
                Ok(s) => held.push(s),
                Err(e) => return (held.len(), e, start.elapsed()),
            }
        }
        panic!("64 connections into a backlog of 1");
    });
    assert!(held >= 1);
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(elapsed >= t, "gave up early: {elapsed:?}");
    // From an OS thread too.
    let start = Instant::now();
    assert_eq!(
        TcpStream::connect_timeout(&addr, t).unwrap_err().kind(),
        ErrorKind::TimedOut
    );
    assert!(start.elapsed() >= t);
    assert_eq!(
        TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    drop(listener);
}

/// Cancelling a green thread parked in `read` unwinds it; its stream
/// closes, so the peer reads end-of-file.
#[test]
fn cancel_green_thread_parked_in_read() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = TcpStream::connect(addr).unwrap();
    let (conn, _) = listener.accept().unwrap();
    let h = rt.spawn(move || {
        let mut conn = conn;
        conn.write_all(b"r").unwrap(); // "about to read"
        let mut buf = [0u8; 8];
        let _ = conn.read(&mut buf); // parks until cancelled
        unreachable!("read returned");
    });
    // Once "r" arrives the thread is in (or entering) its read: either way
    // it unwinds from that read's park.
    let mut r = [0u8; 1];
    client.read_exact(&mut r).unwrap();
    h.cancel();
    assert!(h.join().unwrap_err().is_cancelled());
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(client.read(&mut [0u8; 8]).unwrap(), 0, "peer sees EOF");
}

#[test]
fn nonblocking_mode_reports_would_block() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    rt.block_on(move || {
        listener.set_nonblocking(true).unwrap();
        assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_nonblocking(true).unwrap();
        assert_eq!(c.read(&mut [0u8; 4]).unwrap_err().kind(), ErrorKind::WouldBlock);
        c.set_nonblocking(false).unwrap();
        listener.set_nonblocking(false).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"x").unwrap();
        assert_eq!(c.read(&mut [0u8; 4]).unwrap(), 1);
    });
}

#[test]
fn peek_vectored_options_and_conversions() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (s, peer) = listener.accept().unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        assert_eq!(s.local_addr().unwrap(), c.peer_addr().unwrap());
        let sent = (&c)
            .write_vectored(&[io::IoSlice::new(b"ab"), io::IoSlice::new(b"cd")])
            .unwrap();
        assert_eq!(sent, 4);
        let mut p = [0u8; 4];
        let mut n = 0;
        while n < 4 {
            n = s.peek(&mut p).unwrap();
        }
        let (mut x, mut y) = ([0u8; 1], [0u8; 3]);
        let got = (&s)
            .read_vectored(&mut [io::IoSliceMut::new(&mut x), io::IoSliceMut::new(&mut y)])
            .unwrap();
        assert_eq!((got, &x, &y), (4, b"a", b"bcd"));
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        c.set_ttl(33).unwrap();
        assert_eq!(c.ttl().unwrap(), 33);
        assert!(c.take_error().unwrap().is_none());
        // Through a std stream and a raw descriptor and back.
        use std::os::fd::{FromRawFd, IntoRawFd};
        let fd = c.into_raw_fd();
        // SAFETY: `fd` was just released by `into_raw_fd` and is ours.
        let c = unsafe { std::net::TcpStream::from_raw_fd(fd) };
        let c = TcpStream::from(c);
        round_trip_pair(&c, &s);
    });
}

fn round_trip_pair(a: &TcpStream, b: &TcpStream) {
    let (mut a, mut b) = (a, b);
    a.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
}

/// 10 000 connections open at once in one process, each with a server-side
/// green thread, all doing a round trip.
#[test]
fn stress_ten_thousand_concurrent_connections() {
    let _w = watchdog(Duration::from_secs(120));
    let limit = raise_nofile(65_536);
    let want = 10_000usize;
    let n = want.min((limit as usize).saturating_sub(300) / 2);
    if n < want {
        eprintln!("!!! RLIMIT_NOFILE is {limit}: scaled down to {n} concurrent connections (wanted {want}) !!!");
    }
    let rt = rt(2);
    let listener = TcpListener::builder().backlog(4096).bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = rt.block_on(move || verdant::net::serve_background(listener, 2 * want, |s, _| echo(s)).unwrap());
    let per = 100;
    let clients: Vec<_> = (0..n.div_ceil(per))
        .map(|i| {
            let count = per.min(n - i * per);
            rt.spawn(move || {
                let mut conns = Vec::with_capacity(count);
                for _ in 0..count {
                    conns.push(TcpStream::connect(addr).unwrap());
                }
                for (j, c) in conns.iter().enumerate() {
                    round_trip(c, format!("{i}/{j}").as_bytes());
                }
                conns
            })
        })
        .collect();
    let conns: Vec<TcpStream> = clients.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert_eq!(conns.len(), n);
    // Every connection has made its round trip, so every handler is live.
    assert_eq!(server.connections(), n);
    drop(conns);
    server.stop().unwrap();
}

/// Descriptors come back: a child process (so other tests' sockets do not
/// disturb the count) runs a mix of operations and compares.
#[test]
fn no_fd_leaks() {
    const VAR: &str = "VERDANT_TEST_FD_LEAK_CHILD";
    if !support::is_child(VAR) {
        let _w = watchdog(Duration::from_secs(60));
        let out = support::run_child("no_fd_leaks", (VAR, "1"));
        assert!(
            out.status.success(),
            "child failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let rt = rt(2);
    let addr = echo_server(&rt);
    // Warm up: lazily created things (blocking threads for a lookup).
    rt.block_on(move || {
        let mut s = TcpStream::connect(("localhost", addr.port())).unwrap();
        round_trip(&s, b"warm");
        // Read to EOF: the server's end is closed once its FIN arrives.
        s.shutdown(Shutdown::Write).unwrap();
        assert_eq!(s.read_to_end(&mut Vec::new()).unwrap(), 0);
    });
    let before = fd_count();
    for round in 0..3 {
        let hs: Vec<_> = (0..100)
            .map(|i| {
                rt.spawn(move || {
                    let s = TcpStream::connect(addr).unwrap();
                    let s2 = s.try_clone().unwrap();
                    round_trip(&s2, format!("{round} {i}").as_bytes());
                    s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
                    let _ = (&s).read(&mut [0u8; 1]);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        // Cancelled readers, parked in `read` (after a round trip).
        let parked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let hs: Vec<_> = (0..20)
            .map(|_| {
                let parked = parked.clone();
                rt.spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    round_trip(&s, b"x");
                    parked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = s.read(&mut [0u8; 1]);
                })
            })
            .collect();
        while parked.load(std::sync::atomic::Ordering::SeqCst) < 20 {
            std::thread::yield_now();
        }
        hs.iter().for_each(|h| h.cancel());
        hs.into_iter()
            .for_each(|h| assert!(h.join().unwrap_err().is_cancelled()));
        // Failed connects, listeners, UDP.
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        assert!(TcpStream::connect(closed).is_err());
        let u = verdant::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        u.send_to(b"x", u.local_addr().unwrap()).unwrap();
        u.recv_from(&mut [0u8; 4]).unwrap();
    }
    // Server-side handler threads close their ends when they see EOF.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut after = fd_count();
    while after != before && Instant::now() < deadline {
        verdant::sleep(Duration::from_millis(10));
        after = fd_count();
    }
    assert_eq!(after, before, "descriptors leaked");
}

/// A `verdant::timeout` around socket I/O fails the I/O with `TimedOut`
/// carrying `Elapsed`, distinct from the socket's own read timeout (which
/// reports `WouldBlock`, as std does), on green and plain OS threads alike.
#[test]
fn scoped_timeout_on_socket_io_is_timed_out_on_green_and_os_threads() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts two connections and keeps them open without sending: reads
    // on them can only time out.
    let held = rt.spawn(move || (0..2).map(|_| listener.accept().unwrap().0).collect::<Vec<_>>());
    let read_inside_timeout = move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut seen = None;
        let r = verdant::timeout(Duration::from_millis(30), || {
            let e = s.read(&mut [0u8; 16]).unwrap_err();
            seen = Some((e.kind(), e.get_ref().is_some_and(|i| i.is::<verdant::Elapsed>())));
        });
        (r.is_err(), seen)
    };
    let green = rt.block_on(read_inside_timeout);
    let os = read_inside_timeout();
    for (thread, (elapsed, seen)) in [("green", green), ("OS", os)] {
        assert!(elapsed, "{thread} thread: timeout must report Elapsed");
        assert_eq!(
            seen,
            Some((ErrorKind::TimedOut, true)),
            "{thread} thread: the read's error"
        );
    }
    drop(held.join().unwrap());
}

// ---- Readiness: a short read or write marks the socket drained ----------
//
// The cases are shared with `net_unix`: see `support/net.rs`.

#[test]
fn short_read_then_park_is_woken_by_write_and_by_close() {
    net_support::short_read_then_park_is_woken_by_write_and_by_close::<TcpStream>();
}

#[test]
fn short_read_after_hang_up_still_reads_eof() {
    net_support::short_read_after_hang_up_still_reads_eof::<TcpStream>();
}

#[test]
fn reads_after_a_partial_read_still_get_the_rest() {
    net_support::reads_after_a_partial_read_still_get_the_rest::<TcpStream>();
}

#[test]
fn short_write_then_peer_drains() {
    net_support::short_write_then_peer_drains::<TcpStream>();
}

#[test]
fn stress_random_sized_messages_both_ways() {
    net_support::stress_random_sized_messages_both_ways::<TcpStream>();
}

/// A peek that sees fewer bytes than asked consumes nothing: it must not
/// mark the stream drained, or the read after it would park for ever.
#[test]
fn short_peek_does_not_strand_data() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (mut peer, conn) = TcpStream::connected_pair();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let reader = rt.spawn(move || {
        let mut conn = conn;
        register_for_reads(&mut conn);
        tx.send(()).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(conn.peek(&mut buf).unwrap(), 10);
        assert_eq!(conn.read(&mut buf).unwrap(), 10);
        assert_eq!(&buf[..10], &[8; 10]);
    });
    rx.recv().unwrap();
    peer.write_all(&[8; 10]).unwrap();
    reader.join().unwrap();
}

/// A stream first waited on by a green thread of a runtime that then shut
/// down is registered with that runtime's reactor, which no longer polls:
/// a green thread of another runtime gets a clear error instead of
/// parking forever (found by the HTTP client's connection pool).
#[test]
fn stream_from_a_shut_down_runtime_fails_clearly_instead_of_hanging() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stream = Arc::new(TcpStream::connect(addr).unwrap());
    let (_peer, _) = listener.accept().unwrap();
    let first = verdant::Runtime::builder().workers(1).build().unwrap();
    let s = stream.clone();
    first.block_on(move || {
        // Registers with `first`'s reactor: nothing to read, so it parks
        // until the read timeout.
        s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        let err = (&*s).read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    });
    drop(first);
    let second = verdant::Runtime::builder().workers(1).build().unwrap();
    let s = stream.clone();
    let err = second.block_on(move || {
        s.set_read_timeout(None).unwrap();
        (&*s).read(&mut [0u8; 8]).unwrap_err()
    });
    assert!(err.to_string().contains("runtime that has since shut down"), "{err}");
}
