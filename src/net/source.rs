//! `Source<S>`: a non-blocking std socket plus its reactor registration,
//! the shared inside of every verdant socket.
//!
//! ```text
//! TcpStream ──Arc──▶ Source<std::net::TcpStream>
//!  (clones share it)   ├─ reg: Registration   (dropped first: deregisters)
//!                      ├─ sock: S              (O_NONBLOCK always; closes the fd)
//!                      └─ read/write timeout, user-level non-blocking flag
//! ```
//!
//! Every blocking method of every socket type is one call to
//! [`Source::read`] or [`Source::write`] (a stream's byte transfers:
//! [`Source::read_buf`], [`Source::write_buf`]), which add the socket's
//! timeout to `Registration::do_io_drain`, the one would-block loop.
//!
//! # Short transfers
//!
//! `read_buf`/`write_buf` take the number of bytes asked for: a stream
//! read or write that moves fewer (but not 0) proves the kernel buffer
//! drained or full, so the source is marked not ready and the next call
//! parks without a syscall (see the reactor's readiness protocol). Only
//! stream byte transfers use them: a datagram read is always "short", a
//! peek consumes nothing, an accept is not a byte count.
//!
//! # Timeouts
//!
//! As with std on Linux (`SO_RCVTIMEO`/`SO_SNDTIMEO`), a read or write
//! timeout applies to each call and an expired one fails with the OS error
//! `EAGAIN`, whose kind is [`io::ErrorKind::WouldBlock`]. Connect timeouts
//! fail with `TimedOut`, as std's `connect_timeout` does.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::runtime::reactor::{Interest, Registration};

/// A socket in O_NONBLOCK mode registered (lazily) with a reactor.
pub(crate) struct Source<S: AsRawFd> {
    // # Invariant: declared before `sock`, so the registration is dropped
    // (the fd deregistered) before the fd is closed.
    reg: Registration,
    sock: S,
    /// Nanoseconds, 0 = none.
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
    /// `set_nonblocking(true)`: report `WouldBlock` instead of parking.
    nonblocking: AtomicBool,
}

impl<S: AsRawFd> Source<S> {
    /// `sock` must already be in O_NONBLOCK mode.
    pub(crate) fn new(sock: S) -> Source<S> {
        Source {
            reg: Registration::new(sock.as_raw_fd()),
            sock,
            read_timeout: AtomicU64::new(0),
            write_timeout: AtomicU64::new(0),
            nonblocking: AtomicBool::new(false),
        }
    }

    /// The std socket, for calls that never block (options, addresses).
    #[inline]
    pub(crate) fn get(&self) -> &S {
        &self.sock
    }

    /// Runs a reading operation, waiting for readability as needed.
    #[inline]
    pub(crate) fn read<R>(&self, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.io(Interest::Read, &self.read_timeout, op, |_| false)
    }

    /// Runs a writing operation, waiting for writability as needed.
    #[inline]
    pub(crate) fn write<R>(&self, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.io(Interest::Write, &self.write_timeout, op, |_| false)
    }

    /// Runs a stream read of up to `len` bytes; one that returns fewer (but
    /// not 0) marks the source drained.
    #[inline]
    pub(crate) fn read_buf(&self, len: usize, op: impl FnMut(&S) -> io::Result<usize>) -> io::Result<usize> {
        self.io(Interest::Read, &self.read_timeout, op, move |&n| short(n, len))
    }

    /// Runs a stream write of up to `len` bytes; one that takes fewer (but
    /// not 0) marks the source full.
    #[inline]
    pub(crate) fn write_buf(&self, len: usize, op: impl FnMut(&S) -> io::Result<usize>) -> io::Result<usize> {
        self.io(Interest::Write, &self.write_timeout, op, move |&n| short(n, len))
    }

    /// Runs `op` until it does not would-block or `deadline` passes
    /// (`TimedOut`), ignoring the socket's timeouts and non-blocking flag.
    pub(crate) fn io_deadline<R>(
        &self,
        interest: Interest,
        deadline: Option<Instant>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.reg.do_io(interest, deadline, || op(&self.sock))
    }

    #[inline]
    fn io<R>(
        &self,
        interest: Interest,
        timeout: &AtomicU64,
        mut op: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        if self.nonblocking.load(Ordering::Relaxed) {
            return op(&self.sock);
        }
        match timeout.load(Ordering::Relaxed) {
            0 => self.reg.do_io_drain(interest, None, || op(&self.sock), drained),
            ns => self.io_timeout(interest, Duration::from_nanos(ns), op, drained),
        }
    }

    #[cold]
    fn io_timeout<R>(
        &self,
        interest: Interest,
        timeout: Duration,
        mut op: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        let deadline = Instant::now().checked_add(timeout);
        match self.reg.do_io_drain(interest, deadline, || op(&self.sock), drained) {
            // The socket's own timeout (no OS code, not a `verdant::timeout`
            // deadline, which carries `Elapsed`): report it as std does.
            Err(e)
                if e.kind() == io::ErrorKind::TimedOut
                    && e.raw_os_error().is_none()
                    && !e.get_ref().is_some_and(|inner| inner.is::<crate::Elapsed>()) =>
            {
                Err(io::Error::from_raw_os_error(libc::EAGAIN))
            }
            r => r,
        }
    }

    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        store_timeout(&self.read_timeout, t)
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        store_timeout(&self.write_timeout, t)
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        load_timeout(&self.read_timeout)
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        load_timeout(&self.write_timeout)
    }

    pub(crate) fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, Ordering::Relaxed);
    }

    pub(crate) fn is_nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    /// Deregisters and returns the socket (still O_NONBLOCK).
    pub(crate) fn into_inner(self) -> S {
        let Source { reg, sock, .. } = self;
        drop(reg);
        sock
    }
}

/// Linux moves at most this many bytes in one read or write
/// (`MAX_RW_COUNT`): a transfer capped by it is not short.
const MAX_RW_COUNT: usize = (i32::MAX as usize) & !4095;

/// Whether a transfer of `n` of `len` bytes was short: some, not all that
/// one syscall could move. A 0-byte read is end-of-file, which must keep
/// being reported, not a sign of a drained buffer.
#[inline]
fn short(n: usize, len: usize) -> bool {
    n > 0 && n < len.min(MAX_RW_COUNT)
}

/// The length that one `readv`/`writev` of `bufs` asks for: std passes at
/// most `UIO_MAXIOV` buffers, so only those count.
#[inline]
pub(crate) fn total_len<B: std::ops::Deref<Target = [u8]>>(bufs: &[B]) -> usize {
    bufs.iter()
        .take(libc::UIO_MAXIOV as usize)
        .fold(0usize, |sum, b| sum.saturating_add(b.len()))
}

fn store_timeout(slot: &AtomicU64, t: Option<Duration>) -> io::Result<()> {
    let ns = match t {
        None => 0,
        Some(d) if d.is_zero() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ))
        }
        // At least 1 ns, at most ~584 years.
        Some(d) => d.as_nanos().clamp(1, u64::MAX as u128) as u64,
    };
    slot.store(ns, Ordering::Relaxed);
    Ok(())
}

fn load_timeout(slot: &AtomicU64) -> Option<Duration> {
    match slot.load(Ordering::Relaxed) {
        0 => None,
        ns => Some(Duration::from_nanos(ns)),
    }
}

/// A new socket in O_NONBLOCK | O_CLOEXEC mode.
pub(crate) fn socket(
    domain: socket2::Domain,
    ty: socket2::Type,
    protocol: Option<socket2::Protocol>,
) -> io::Result<socket2::Socket> {
    socket2::Socket::new(domain, ty.nonblocking().cloexec(), protocol)
}

/// Puts an adopted descriptor in O_NONBLOCK mode and reports whether it was
/// already (that becomes the user-level non-blocking flag).
pub(crate) fn adopt(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<bool> {
    let s = socket2::SockRef::from(&fd);
    let was = s.nonblocking()?;
    if !was {
        s.set_nonblocking(true)?;
    }
    Ok(was)
}

/// The owned descriptor of a socket handed out by `into_raw_fd`/`into`.
///
/// If the caller held the last clone: the socket's own descriptor, put back
/// in the blocking mode the user last asked for. Otherwise a `dup` of it,
/// left in O_NONBLOCK mode (the mode is shared by all duplicates, and the
/// remaining clones need it).
///
/// # Panics
///
/// If `dup` fails (out of descriptors): the trait methods this serves
/// cannot report errors.
pub(crate) fn release<S>(src: std::sync::Arc<Source<S>>) -> std::os::fd::OwnedFd
where
    S: AsRawFd + std::os::fd::AsFd + Into<std::os::fd::OwnedFd>,
{
    match std::sync::Arc::try_unwrap(src) {
        Ok(src) => {
            let nonblocking = src.is_nonblocking();
            let fd: std::os::fd::OwnedFd = src.into_inner().into();
            // Fails only for a descriptor that is not open, which an
            // `OwnedFd` cannot be.
            let _ = socket2::SockRef::from(&fd).set_nonblocking(nonblocking);
            fd
        }
        Err(shared) => shared
            .get()
            .as_fd()
            .try_clone_to_owned()
            .unwrap_or_else(|e| panic!("verdant: cannot duplicate a shared socket descriptor: {e}")),
    }
}
