//! `verdant::monkey_patch()`: hooked socket calls (feature `hook`).
//!
//! Green-thread tests run on a ONE-worker runtime: a waiter green thread
//! signals, then makes a blocking call; a waker green thread on the same
//! worker acts only once it got the signal. If the hooked call blocked the
//! worker instead of parking, the waker could never run: the waiter's
//! 10-second socket timeout (`SO_RCVTIMEO`/`SO_SNDTIMEO`, honoured by the
//! kernel as much as by the hooks) would then fail the test with
//! `WouldBlock`, and the watchdog catches anything else.

mod support;

use std::io::{ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use support::{rt, watchdog};

const LIMIT: Duration = Duration::from_secs(10);

fn patch() {
    verdant::monkey_patch().expect("the hooks are linked into this test binary");
}

/// A connected loopback TCP pair, made with the hooks on (so hooked), and
/// both sides' blocking timeouts at `LIMIT`.
fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(LIMIT)).unwrap();
        s.set_write_timeout(Some(LIMIT)).unwrap();
    }
    (a, b)
}

fn cvt(r: isize) -> std::io::Result<usize> {
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// The program-visible O_NONBLOCK bit (the hooked `fcntl`).
fn user_nonblocking(fd: RawFd) -> bool {
    // SAFETY: F_GETFL on a descriptor number touches no memory.
    let f = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    assert!(f >= 0, "F_GETFL: {}", std::io::Error::last_os_error());
    f & libc::O_NONBLOCK != 0
}

/// The kernel's O_NONBLOCK bit: a raw system call, past the hooks.
fn kernel_nonblocking(fd: RawFd) -> bool {
    // SAFETY: F_GETFL on a descriptor number touches no memory.
    let f = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL) };
    assert!(f >= 0);
    f as i32 & libc::O_NONBLOCK != 0
}

type ReadOp = fn(&TcpStream, &mut [u8]) -> std::io::Result<usize>;
type WriteOp = fn(&TcpStream, &[u8]) -> std::io::Result<usize>;

fn op_read(s: &TcpStream, b: &mut [u8]) -> std::io::Result<usize> {
    (&mut &*s).read(b)
}
fn op_readv(s: &TcpStream, b: &mut [u8]) -> std::io::Result<usize> {
    (&mut &*s).read_vectored(&mut [IoSliceMut::new(b)])
}
fn op_recv(s: &TcpStream, b: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: `b` is a valid writable buffer of its length.
    cvt(unsafe { libc::recv(s.as_raw_fd(), b.as_mut_ptr().cast(), b.len(), 0) })
}
fn op_recvfrom(s: &TcpStream, b: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: as `op_recv`; no address is asked for.
    cvt(unsafe {
        libc::recvfrom(
            s.as_raw_fd(),
            b.as_mut_ptr().cast(),
            b.len(),
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    })
}
fn op_recvmsg(s: &TcpStream, b: &mut [u8]) -> std::io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: b.as_mut_ptr().cast(),
        iov_len: b.len(),
    };
    // SAFETY: msghdr is plain data; zeroes are a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: `msg` points at one valid iovec over `b`.
    cvt(unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, 0) })
}
fn op_write(s: &TcpStream, b: &[u8]) -> std::io::Result<usize> {
    (&mut &*s).write(b)
}
fn op_writev(s: &TcpStream, b: &[u8]) -> std::io::Result<usize> {
    (&mut &*s).write_vectored(&[IoSlice::new(b)])
}
fn op_send(s: &TcpStream, b: &[u8]) -> std::io::Result<usize> {
    // SAFETY: `b` is a valid buffer of its length.
    cvt(unsafe { libc::send(s.as_raw_fd(), b.as_ptr().cast(), b.len(), libc::MSG_NOSIGNAL) })
}
fn op_sendto(s: &TcpStream, b: &[u8]) -> std::io::Result<usize> {
    // SAFETY: as `op_send`; no address (connected).
    cvt(unsafe { libc::sendto(s.as_raw_fd(), b.as_ptr().cast(), b.len(), 0, std::ptr::null(), 0) })
}
fn op_sendmsg(s: &TcpStream, b: &[u8]) -> std::io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: b.as_ptr() as *mut _,
        iov_len: b.len(),
    };
    // SAFETY: as `op_recvmsg`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: `msg` points at one valid iovec over `b` (only read).
    cvt(unsafe { libc::sendmsg(s.as_raw_fd(), &msg, 0) })
}

const READS: [(&str, ReadOp); 5] = [
    ("read", op_read),
    ("readv", op_readv),
    ("recv", op_recv),
    ("recvfrom", op_recvfrom),
    ("recvmsg", op_recvmsg),
];
const WRITES: [(&str, WriteOp); 5] = [
    ("write", op_write),
    ("writev", op_writev),
    ("send", op_send),
    ("sendto", op_sendto),
    ("sendmsg", op_sendmsg),
];

/// Whether the caller should run the waiter on a green thread.
#[derive(Clone, Copy, Debug)]
enum Side {
    Green,
    Plain,
}

/// Runs `waiter` and `waker` concurrently: on one worker (Green) or on two
/// OS threads (Plain). `waiter` gets a sender to signal just before it
/// blocks; `waker` runs once it has.
fn together<T: Send + 'static>(
    side: Side,
    waiter: impl FnOnce(&dyn Fn()) -> T + Send + 'static,
    waker: impl FnOnce() + Send + 'static,
) -> T {
    let (tx, rx) = verdant::sync::unbounded::<()>();
    match side {
        Side::Green => {
            let rt = rt(1);
            let w = rt.spawn(move || waiter(&|| tx.send(()).unwrap()));
            let k = rt.spawn(move || {
                rx.recv().unwrap();
                waker()
            });
            k.join().unwrap();
            w.join().unwrap()
        }
        Side::Plain => {
            let w = std::thread::spawn(move || waiter(&|| tx.send(()).unwrap()));
            rx.recv().unwrap();
            waker();
            w.join().unwrap()
        }
    }
}

#[test]
fn monkey_patch_succeeds_and_is_idempotent() {
    patch();
    patch();
}

#[test]
fn blocking_reads_park_on_green_and_block_on_plain_threads() {
    let _w = watchdog(Duration::from_secs(120));
    patch();
    for side in [Side::Green, Side::Plain] {
        for (name, op) in READS {
            let (a, b) = pair();
            assert!(
                !user_nonblocking(a.as_raw_fd()),
                "{name}: the program sees a blocking socket"
            );
            assert!(
                kernel_nonblocking(a.as_raw_fd()),
                "{name}: the kernel's is non-blocking"
            );
            let got = together(
                side,
                move |ready| {
                    let mut buf = [0u8; 16];
                    ready();
                    op(&a, &mut buf).map(|n| buf[..n].to_vec())
                },
                move || (&b).write_all(b"ping").unwrap(),
            );
            assert_eq!(got.unwrap_or_else(|e| panic!("{name} on {side:?}: {e}")), b"ping");
        }
    }
}

#[test]
fn blocking_writes_park_on_green_and_block_on_plain_threads() {
    let _w = watchdog(Duration::from_secs(120));
    patch();
    const TOTAL: usize = 8 << 20; // far more than both socket buffers
    for side in [Side::Green, Side::Plain] {
        for (name, op) in WRITES {
            let (a, b) = pair();
            let sent = together(
                side,
                move |ready| {
                    let chunk = vec![7u8; 1 << 16];
                    let mut sent = 0;
                    ready();
                    while sent < TOTAL {
                        sent += op(&a, &chunk[..(TOTAL - sent).min(chunk.len())])?;
                    }
                    Ok::<_, std::io::Error>(sent)
                },
                move || {
                    let mut got = 0;
                    let mut buf = vec![0u8; 1 << 16];
                    while got < TOTAL {
                        let n = (&b).read(&mut buf).unwrap();
                        assert!(n > 0 && buf[..n].iter().all(|&x| x == 7));
                        got += n;
                    }
                },
            );
            assert_eq!(sent.unwrap_or_else(|e| panic!("{name} on {side:?}: {e}")), TOTAL);
        }
    }
}

#[test]
fn program_set_nonblocking_sockets_do_not_wait() {
    let _w = watchdog(LIMIT);
    patch();
    let run = |side: Side| {
        let work = move || {
            for (name, op) in READS {
                let (a, _b) = pair();
                a.set_nonblocking(true).unwrap(); // ioctl(FIONBIO)
                assert!(user_nonblocking(a.as_raw_fd()), "{name}");
                let e = op(&a, &mut [0; 4]).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::WouldBlock, "{name} on {side:?}");
                a.set_nonblocking(false).unwrap();
                assert!(!user_nonblocking(a.as_raw_fd()), "{name}");
                assert!(kernel_nonblocking(a.as_raw_fd()), "{name}");
            }
            // fcntl(F_SETFL) records the mode as ioctl(FIONBIO) does.
            let (a, _b) = pair();
            // SAFETY: F_GETFL/F_SETFL with an int on an open descriptor.
            unsafe {
                let fl = libc::fcntl(a.as_raw_fd(), libc::F_GETFL);
                assert_eq!(libc::fcntl(a.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK), 0);
            }
            assert!(user_nonblocking(a.as_raw_fd()));
            assert_eq!(op_read(&a, &mut [0; 4]).unwrap_err().kind(), ErrorKind::WouldBlock);
        };
        match side {
            Side::Green => rt(1).spawn(work).join().unwrap(),
            Side::Plain => std::thread::spawn(work).join().unwrap(),
        }
    };
    run(Side::Green);
    run(Side::Plain);
}

#[test]
fn accept_and_connect_park() {
    let _w = watchdog(LIMIT);
    patch();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let got = together(
        Side::Green,
        move |ready| {
            ready();
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0; 2];
            s.read_exact(&mut buf).unwrap();
            assert!(!user_nonblocking(s.as_raw_fd()));
            buf
        },
        move || TcpStream::connect(addr).unwrap().write_all(b"hi").unwrap(),
    );
    assert_eq!(&got, b"hi");
}

#[test]
fn udp_recv_from_and_send_to() {
    let _w = watchdog(LIMIT);
    patch();
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.set_read_timeout(Some(LIMIT)).unwrap();
    let to = a.local_addr().unwrap();
    let from = b.local_addr().unwrap();
    let (n, peer) = together(
        Side::Green,
        move |ready| {
            let mut buf = [0; 8];
            ready();
            let (n, peer) = a.recv_from(&mut buf).unwrap();
            (buf[..n].to_vec(), peer)
        },
        move || assert_eq!(b.send_to(b"dgram", to).unwrap(), 5),
    );
    assert_eq!((n.as_slice(), peer), (&b"dgram"[..], from));
}

#[test]
fn so_rcvtimeo_expires_with_would_block() {
    let _w = watchdog(LIMIT);
    patch();
    for side in [Side::Green, Side::Plain] {
        let (a, _b) = pair();
        a.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        let read = move || op_read(&a, &mut [0; 4]).unwrap_err().kind();
        let kind = match side {
            Side::Green => rt(1).spawn(read).join().unwrap(),
            Side::Plain => std::thread::spawn(read).join().unwrap(),
        };
        assert_eq!(kind, ErrorKind::WouldBlock, "{side:?}");
    }
}

#[test]
fn connect_refused() {
    let _w = watchdog(LIMIT);
    patch();
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = rt(1)
        .spawn(move || TcpStream::connect(addr).unwrap_err())
        .join()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
}

/// A listener whose accept queue is full: a further connect's SYN is
/// dropped, so that connect waits until something gives up.
fn full_listener() -> (OwnedFd, SocketAddr, Vec<TcpStream>) {
    // SAFETY: plain socket calls on a fresh descriptor and local buffers.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let fd = OwnedFd::from_raw_fd(fd);
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd.as_raw_fd(), (&sin as *const libc::sockaddr_in).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd.as_raw_fd(), 0), 0);
        let mut got = len;
        libc::getsockname(fd.as_raw_fd(), (&mut sin as *mut libc::sockaddr_in).cast(), &mut got);
        let addr = SocketAddr::from(([127, 0, 0, 1], u16::from_be(sin.sin_port)));
        // Fill the queue: connects that complete (bounded).
        let mut held = Vec::new();
        for _ in 0..8 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => held.push(s),
                Err(e) if e.kind() == ErrorKind::TimedOut => return (fd, addr, held),
                Err(e) => panic!("filling the accept queue: {e}"),
            }
        }
        panic!("the accept queue never filled");
    }
}

#[test]
fn connect_timed_out() {
    let _w = watchdog(LIMIT);
    patch();
    let (_l, addr, _held) = full_listener();
    let r = rt(1)
        .spawn(move || {
            // std's connect_timeout: FIONBIO on, connect, poll(timeout).
            let own = TcpStream::connect_timeout(&addr, Duration::from_millis(50))
                .unwrap_err()
                .kind();
            // A plain blocking connect under verdant::timeout.
            let scoped = verdant::timeout(Duration::from_millis(50), || TcpStream::connect(addr));
            (own, scoped.map(|r| r.map(|_| ())))
        })
        .join()
        .unwrap();
    assert_eq!(r.0, ErrorKind::TimedOut);
    assert!(r.1.is_err(), "verdant::timeout reports Elapsed: {:?}", r.1);
}

#[test]
fn poll_waits_on_several_descriptors() {
    let _w = watchdog(LIMIT);
    patch();
    let pairs: Vec<_> = (0..3).map(|_| pair()).collect();
    let fds: Vec<RawFd> = pairs.iter().map(|(a, _)| a.as_raw_fd()).collect();
    let (ours, theirs): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
    // The waker writes to one peer; all of them stay open until the end
    // (a closed peer would make its side readable too).
    let second = theirs[1].try_clone().unwrap();
    let revents = together(
        Side::Green,
        move |ready| {
            let mut p: Vec<libc::pollfd> = fds
                .iter()
                .map(|&fd| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            // Nothing ready: a timeout runs out.
            // SAFETY: `p` is a valid array of `p.len()` pollfds.
            assert_eq!(unsafe { libc::poll(p.as_mut_ptr(), p.len() as _, 20) }, 0);
            ready();
            // SAFETY: as above.
            let n = unsafe { libc::poll(p.as_mut_ptr(), p.len() as _, 10_000) };
            drop(ours);
            (n, p.iter().map(|x| x.revents).collect::<Vec<_>>())
        },
        move || (&second).write_all(b"x").unwrap(),
    );
    assert_eq!(revents, (1, vec![0, libc::POLLIN, 0]));
    drop(theirs);
}

#[test]
fn fd_reuse_after_close_and_dup2() {
    let _w = watchdog(LIMIT);
    patch();
    let pipe = || {
        let mut p = [0; 2];
        // SAFETY: `p` is a valid array of two ints.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: two new descriptors nobody owns.
        unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) }
    };
    // close: a pipe reusing the number of a program-non-blocking socket
    // must not inherit its entry.
    let mut reused = false;
    for _ in 0..20 {
        let (a, _b) = pair();
        a.set_nonblocking(true).unwrap();
        let n = a.as_raw_fd();
        drop(a);
        let (r, _w2) = pipe();
        // The lowest free number at or above n: n itself, unless a test
        // running in parallel took it meanwhile (then try again).
        // SAFETY: F_DUPFD_CLOEXEC on an open descriptor.
        let again = unsafe { libc::fcntl(r.as_raw_fd(), libc::F_DUPFD_CLOEXEC, n) };
        assert!(again >= 0);
        // SAFETY: a new descriptor nobody owns.
        let again = unsafe { OwnedFd::from_raw_fd(again) };
        if [r.as_raw_fd(), _w2.as_raw_fd(), again.as_raw_fd()].contains(&n) {
            assert!(!user_nonblocking(n), "a stale entry would show O_NONBLOCK");
            reused = true;
            break;
        }
    }
    assert!(reused, "never got the closed number back");

    // dup2 over an open hooked socket: the target takes the source's state.
    let (c, _d) = pair();
    c.set_nonblocking(true).unwrap();
    let (pr, _pw) = pipe();
    // SAFETY: both descriptors are open; `c` keeps owning its number.
    assert_eq!(unsafe { libc::dup2(pr.as_raw_fd(), c.as_raw_fd()) }, c.as_raw_fd());
    assert!(
        !user_nonblocking(c.as_raw_fd()),
        "dup2 replaced the socket by a blocking pipe"
    );

    // dup2 of a hooked blocking socket: the copy parks like the original.
    let (e, f) = pair();
    let (spare, _sw) = pipe();
    // SAFETY: as above.
    let copy = unsafe { libc::dup2(e.as_raw_fd(), spare.as_raw_fd()) };
    assert_eq!(copy, spare.as_raw_fd());
    assert!(!user_nonblocking(copy) && kernel_nonblocking(copy));
    let got = together(
        Side::Green,
        move |ready| {
            let mut buf = [0; 3];
            ready();
            // SAFETY: `buf` is a valid writable buffer; `copy` is open
            // while `spare` lives, which this closure owns.
            let n = unsafe { libc::read(copy, buf.as_mut_ptr().cast(), 3) };
            drop(spare);
            (n, buf)
        },
        move || (&f).write_all(b"dup").unwrap(),
    );
    assert_eq!(got, (3, *b"dup"));
    drop(e);
}

#[test]
fn cancelling_a_hooked_recv() {
    let _w = watchdog(LIMIT);
    patch();
    let rt = rt(1);
    let (a, _b) = pair();
    let (tx, rx) = std::sync::mpsc::channel();
    let (started_tx, started_rx) = verdant::sync::unbounded::<()>();
    let h = rt.spawn(move || {
        started_tx.send(()).unwrap();
        let r = op_recv(&a, &mut [0; 4]);
        tx.send(r.map_err(|e| e.raw_os_error())).unwrap();
        // The cancellation stays pending: the next verdant park unwinds.
        verdant::sleep(Duration::from_secs(3600));
        unreachable!("the pending cancellation unwinds from sleep");
    });
    // Cancel once it is parked in recv: a green thread on the same worker
    // runs only when the receiver has parked.
    rt.spawn(move || started_rx.recv().unwrap()).join().unwrap();
    h.cancel();
    assert!(h.join().unwrap_err().is_cancelled());
    assert_eq!(rx.recv().unwrap(), Err(Some(libc::ECANCELED)));
}

#[test]
fn timeout_of_a_hooked_recv() {
    let _w = watchdog(LIMIT);
    patch();
    let (a, _b) = pair();
    let (inner, outer) = rt(1)
        .spawn(move || {
            let mut inner = None;
            let outer = verdant::timeout(Duration::from_millis(30), || {
                inner = Some(op_recv(&a, &mut [0; 4]).map_err(|e| e.raw_os_error()));
            });
            (inner, outer.is_err())
        })
        .join()
        .unwrap();
    assert_eq!(inner, Some(Err(Some(libc::ETIMEDOUT))));
    assert!(outer, "verdant::timeout reports Elapsed");
}
