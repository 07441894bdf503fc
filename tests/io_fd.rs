//! `verdant::io::GreenFd`: any pollable descriptor parks green threads.

mod support;

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use support::{rt, watchdog};
use verdant::io::GreenFd;
use verdant::sync::bounded;

/// A pipe: (read end, write end), both blocking, close-on-exec.
fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 just returned two new descriptors that nobody owns.
    unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
}

fn is_nonblocking(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: `fd` is open (BorrowedFd); F_GETFL touches no memory.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0);
    flags & libc::O_NONBLOCK != 0
}

/// On a one-worker runtime, `reader` (given a "waiting" sender) reads from a
/// descriptor nobody writes to yet. A ticker green thread on the same worker
/// must keep answering pings meanwhile, which it cannot if the reader
/// blocks the worker (the test would then hang and the watchdog fail it).
/// Then `feed` makes data arrive and the reader must return it.
fn reader_parks_while_ticker_ticks<R>(reader: R, feed: impl FnOnce())
where
    R: FnOnce(verdant::sync::Sender<()>) -> Vec<u8> + Send + 'static,
{
    let rt = rt(1);
    let (waiting_tx, waiting_rx) = bounded::<()>(1);
    let reader = rt.spawn(move || reader(waiting_tx));
    let (ping_tx, ping_rx) = bounded::<u32>(0);
    let (pong_tx, pong_rx) = bounded::<u32>(0);
    let ticker = rt.spawn(move || {
        let mut ticks = 0u32;
        for n in ping_rx.iter() {
            ticks += 1;
            pong_tx.send(n + 1).unwrap();
        }
        ticks
    });
    waiting_rx.recv().unwrap(); // the reader is about to read
    for n in 0..100 {
        ping_tx.send(n).unwrap();
        assert_eq!(pong_rx.recv().unwrap(), n + 1);
        assert!(!reader.is_finished(), "the reader returned without data");
    }
    drop(ping_tx);
    assert_eq!(
        ticker.join().unwrap(),
        100,
        "the ticker advanced while the reader waited"
    );
    feed();
    assert_eq!(reader.join().unwrap(), b"hello");
}

#[test]
fn pipe_reader_parks_while_ticker_ticks() {
    let _w = watchdog(Duration::from_secs(30));
    let (r, mut w) = pipe();
    reader_parks_while_ticker_ticks(
        move |waiting| {
            let r = GreenFd::new(r).unwrap();
            waiting.send(()).unwrap();
            let mut buf = [0u8; 5];
            (&r).read_exact(&mut buf).unwrap();
            buf.to_vec()
        },
        move || w.write_all(b"hello").unwrap(),
    );
}

#[test]
fn unix_stream_reader_parks_while_ticker_ticks() {
    let _w = watchdog(Duration::from_secs(30));
    let (a, mut b) = UnixStream::pair().unwrap();
    reader_parks_while_ticker_ticks(
        move |waiting| {
            let mut a = GreenFd::new(a).unwrap(); // the owned `Read` impl
            waiting.send(()).unwrap();
            let mut buf = [0u8; 5];
            a.read_exact(&mut buf).unwrap();
            buf.to_vec()
        },
        move || b.write_all(b"hello").unwrap(),
    );
}

#[test]
fn readable_waits_on_the_reactor() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let (r, mut w) = pipe();
    let (waiting_tx, waiting_rx) = bounded::<()>(1);
    let h = rt.spawn(move || {
        let r = GreenFd::new(r).unwrap();
        waiting_tx.send(()).unwrap();
        r.readable().unwrap();
        let mut s = String::new();
        (&r).read_to_string(&mut s).unwrap();
        s
    });
    waiting_rx.recv().unwrap();
    w.write_all(b"data").unwrap();
    drop(w);
    assert_eq!(h.join().unwrap(), "data");
}

#[test]
fn timeout_around_readable_elapses_green_and_os() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let (r, mut w) = pipe();
    let r = std::sync::Arc::new(GreenFd::new(r).unwrap());
    let r2 = r.clone();
    let green = rt
        .spawn(move || verdant::timeout(Duration::from_millis(20), || r2.readable()))
        .join()
        .unwrap();
    assert!(green.is_err(), "green: {green:?}");
    let os = verdant::timeout(Duration::from_millis(20), || r.readable());
    assert!(os.is_err(), "OS thread: {os:?}");
    // The call's own timeout, too.
    let e = r.readable_timeout(Duration::from_millis(10)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    // Still usable afterwards.
    w.write_all(b"x").unwrap();
    let r2 = r.clone();
    rt.spawn(move || r2.readable()).join().unwrap().unwrap();
    r.readable().unwrap();
}

#[test]
fn cancel_a_parked_reader() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let (r, _w_end) = pipe();
    let (waiting_tx, waiting_rx) = bounded::<()>(1);
    let h = rt.spawn(move || {
        let r = GreenFd::new(r).unwrap();
        waiting_tx.send(()).unwrap();
        r.readable()
    });
    waiting_rx.recv().unwrap();
    h.cancel();
    assert!(h.join().unwrap_err().is_cancelled());
}

#[test]
fn os_thread_reads_block_until_data() {
    let _w = watchdog(Duration::from_secs(30));
    let (r, mut w) = pipe();
    let r = GreenFd::new(r).unwrap();
    let writer = std::thread::spawn(move || w.write_all(b"from a thread").unwrap());
    let mut s = String::new();
    (&r).read_to_string(&mut s).unwrap();
    writer.join().unwrap();
    assert_eq!(s, "from a thread");
}

#[test]
fn writer_parks_on_a_full_pipe() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let (r, w) = pipe();
    const LEN: usize = 1 << 20; // far more than a pipe holds (64 KiB)
    let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    let expect = data.clone();
    let writer = rt.spawn(move || {
        let mut w = GreenFd::new(w).unwrap();
        w.write_all(&data).unwrap();
    });
    let reader = rt.spawn(move || {
        let mut r = GreenFd::new(r).unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        got
    });
    writer.join().unwrap();
    assert!(reader.join().unwrap() == expect);
}

#[test]
fn into_inner_restores_the_blocking_mode() {
    let (a, b) = UnixStream::pair().unwrap();
    let g = GreenFd::new(a).unwrap();
    assert!(is_nonblocking(g.as_fd()));
    let a = g.into_inner();
    assert!(!is_nonblocking(a.as_fd()), "was blocking: blocking again");

    b.set_nonblocking(true).unwrap();
    let b = GreenFd::new(b).unwrap().into_inner();
    assert!(is_nonblocking(b.as_fd()), "was non-blocking: left so");

    // Dropping a GreenFd over a borrowed descriptor restores it too.
    let (c, _d) = UnixStream::pair().unwrap();
    drop(GreenFd::new(&c).unwrap());
    assert!(!is_nonblocking(c.as_fd()));
}

/// A descriptor number that is not open.
#[derive(Debug)]
struct Closed;

impl AsFd for Closed {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: deliberately breaks BorrowedFd's promise (the number is
        // far above any open descriptor) to check that `GreenFd::new`
        // reports it; nothing but fcntl/epoll_ctl, which fail with EBADF,
        // ever sees it.
        unsafe { BorrowedFd::borrow_raw(1 << 29) }
    }
}

#[test]
fn closed_fd_is_a_clear_error() {
    let e = GreenFd::new(Closed).unwrap_err();
    assert!(e.to_string().contains("not open (EBADF)"), "{e}");
}

#[test]
fn regular_file_and_directory_are_clear_errors() {
    let file = File::open(env!("CARGO_MANIFEST_DIR").to_string() + "/Cargo.toml").unwrap();
    let e = GreenFd::new(&file).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    let msg = e.to_string();
    assert!(msg.contains("regular file") && msg.contains("EPERM"), "{msg}");
    assert!(!is_nonblocking(file.as_fd()), "a rejected descriptor is left as found");

    let dir = File::open(env!("CARGO_MANIFEST_DIR")).unwrap();
    let e = GreenFd::new(dir).unwrap_err();
    assert!(e.to_string().contains("directory"), "{e}");
}

#[test]
fn read_with_retries_would_block() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let (a, b) = UnixStream::pair().unwrap();
    let (waiting_tx, waiting_rx) = bounded::<()>(1);
    let h = rt.spawn(move || {
        let a = GreenFd::new(a).unwrap();
        let mut attempts = 0;
        waiting_tx.send(()).unwrap();
        let mut buf = [0u8; 16];
        let n = a
            .read_with(|mut s| {
                attempts += 1;
                s.read(&mut buf)
            })
            .unwrap();
        (buf[..n].to_vec(), attempts)
    });
    waiting_rx.recv().unwrap();
    (&b).write_all(b"late").unwrap();
    let (got, attempts) = h.join().unwrap();
    assert_eq!(got, b"late");
    assert!(attempts >= 1);
}
