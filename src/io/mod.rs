//! Any file descriptor as a green one: [`GreenFd`]; the standard streams
//! for green threads: [`stdin`], [`stdout`], [`stderr`].
//!
//! verdant's sockets park a green thread on the reactor instead of blocking
//! its worker. `GreenFd<T>` does the same for anything that has a pollable
//! descriptor: a pipe, a std `UnixStream` or `TcpStream`, a terminal, a
//! pidfd, an eventfd, an inotify descriptor, a serial port. It is the green
//! counterpart of async-io's `Async<T>` and tokio's `AsyncFd<T>`.
//!
//! ```text
//! GreenFd<T>
//!   ├─ reg: Registration   the reactor's would-block loop (the one every
//!   │                      verdant socket uses), registered lazily with the
//!   │                      worker of the first green thread that waits
//!   └─ inner: T            put in O_NONBLOCK mode; the mode it had is put
//!                          back when the GreenFd is dropped or unwrapped
//! ```
//!
//! Every operation tries first and parks only when the descriptor would
//! block. It honours [`verdant::timeout`](crate::timeout) (failing with
//! [`io::ErrorKind::TimedOut`]) and cancellation (the green thread unwinds
//! from its park point). On a plain OS thread, waiting is `poll(2)` and
//! blocks that thread.
//!
//! Regular files and directories are always "ready" and the kernel refuses
//! to watch them (`epoll_ctl` fails with `EPERM`): [`GreenFd::new`] rejects
//! them with an error that says so. Read files on the blocking pool
//! ([`spawn_blocking`](crate::spawn_blocking)).
//!
//! The O_NONBLOCK mode belongs to the open file description, so it is
//! shared with every duplicate of the descriptor (a `dup`, a forked
//! process's copy): a descriptor shared with code that expects blocking
//! reads (the terminal of a parent shell, for instance) sees them fail
//! with `EAGAIN` while the `GreenFd` lives.

mod stdio;
#[allow(unsafe_code)]
pub(crate) mod sys;

pub use stdio::{stderr, stdin, stdout, Stderr, StderrLock, Stdin, StdinLock, Stdout, StdoutLock};

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use crate::runtime::reactor::{Interest, Registration};

/// A file descriptor whose blocking operations park the calling green
/// thread instead of blocking its worker.
///
/// `GreenFd::new` puts the descriptor in O_NONBLOCK mode. Then:
///
/// * [`readable`](GreenFd::readable) and [`writable`](GreenFd::writable)
///   wait until an operation may succeed;
/// * [`read_with`](GreenFd::read_with) and [`write_with`](GreenFd::write_with)
///   run a non-blocking operation, waiting and retrying while it fails
///   with [`io::ErrorKind::WouldBlock`];
/// * `Read` and `Write` are implemented for `GreenFd<T>` when `T` has them,
///   and for `&GreenFd<T>` when `&T` has them (so one green thread can
///   read while another writes, as with a socket).
///
/// `T`'s [`AsFd`] must return the same descriptor every time.
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use verdant::io::GreenFd;
///
/// let (a, mut b) = UnixStream::pair()?;
/// let a = GreenFd::new(a)?;
/// let reader = verdant::spawn(move || {
///     let mut buf = [0u8; 5];
///     (&a).read_exact(&mut buf).map(|()| buf) // parks until b writes
/// });
/// b.write_all(b"hello")?;
/// assert_eq!(&reader.join().unwrap()?, b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct GreenFd<T: AsFd> {
    // # Invariant: declared before `inner`, so the descriptor is
    // deregistered before `inner` (which may own it) closes it.
    reg: Registration,
    /// `None` only while `into_inner` takes it out.
    inner: Option<T>,
    /// The O_NONBLOCK mode found by `new`, put back on the way out.
    was_nonblocking: bool,
}

impl<T: AsFd> GreenFd<T> {
    /// Wraps `inner`, putting its descriptor in O_NONBLOCK mode. It is
    /// registered with a reactor lazily, by the first green thread that
    /// has to wait on it.
    ///
    /// # Errors
    ///
    /// * the descriptor is not open (`EBADF`, kind `Uncategorized` as std
    ///   reports it): the message says so;
    /// * the kernel cannot watch it for readiness: a regular file or a
    ///   directory, or a device without poll support (`EPERM` from
    ///   `epoll_ctl`, kind `PermissionDenied`): the message says so.
    ///
    /// ```
    /// use verdant::io::GreenFd;
    ///
    /// let file = std::fs::File::open("Cargo.toml")?;
    /// let err = GreenFd::new(file).unwrap_err();
    /// assert!(err.to_string().contains("regular file"), "{err}");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(inner: T) -> io::Result<GreenFd<T>> {
        let fd = inner.as_fd();
        let raw = fd.as_raw_fd();
        let was_nonblocking = sys::is_nonblocking(fd).map_err(|e| bad_fd(raw, e))?;
        check_pollable(fd)?;
        if !was_nonblocking {
            sys::set_nonblocking(fd, true)?;
        }
        Ok(GreenFd {
            reg: Registration::new(raw),
            inner: Some(inner),
            was_nonblocking,
        })
    }

    /// The wrapped value.
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair()?;
    /// let a = verdant::io::GreenFd::new(a)?;
    /// assert!(a.get_ref().peer_addr().is_ok());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_ref(&self) -> &T {
        self.inner.as_ref().expect("GreenFd holds its value until into_inner")
    }

    /// The wrapped value, mutably. Its operations do not wait: they fail
    /// with `WouldBlock` (use [`read_with_mut`](GreenFd::read_with_mut)).
    ///
    /// Do not replace the value or its descriptor through this reference
    /// (`*fd.get_mut() = other`): the reactor registration keeps the first
    /// descriptor's number, and would then watch, and on drop deregister,
    /// whatever descriptor reuses that number.
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut a = verdant::io::GreenFd::new(a)?;
    /// a.get_mut().set_read_timeout(None)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.as_mut().expect("GreenFd holds its value until into_inner")
    }

    /// Deregisters the descriptor from its reactor, puts back the blocking
    /// mode `new` found, and returns the value.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// # use std::os::unix::net::UnixStream;
    /// let (a, mut b) = UnixStream::pair()?;
    /// let mut a = verdant::io::GreenFd::new(a)?.into_inner(); // blocking again
    /// b.write_all(b"x")?;
    /// assert_eq!(a.read(&mut [0; 1])?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_inner(mut self) -> T {
        let inner = self.inner.take().expect("GreenFd holds its value until into_inner");
        self.restore(&inner);
        // `self` drops here: the registration goes while `inner` (and so
        // the descriptor) is still open.
        drop(self);
        inner
    }

    fn restore(&self, inner: &T) {
        if !self.was_nonblocking {
            // Fails only if the descriptor was closed behind our back.
            let _ = sys::set_nonblocking(inner.as_fd(), false);
        }
    }

    /// Waits until the descriptor is readable (or hung up, or in error:
    /// the next read reports which).
    ///
    /// # Errors
    ///
    /// `TimedOut` if an enclosing [`verdant::timeout`](crate::timeout)
    /// expires; `poll(2)`'s or the reactor's errors.
    ///
    /// ```
    /// use std::io::Write;
    /// # use std::os::unix::net::UnixStream;
    /// let (a, mut b) = UnixStream::pair()?;
    /// let a = verdant::io::GreenFd::new(a)?;
    /// b.write_all(b"x")?;
    /// a.readable()?; // returns at once: a byte is there
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn readable(&self) -> io::Result<()> {
        self.wait_ready(Interest::Read, None)
    }

    /// Waits until the descriptor is writable (or in error).
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair()?;
    /// let a = verdant::io::GreenFd::new(a)?;
    /// a.writable()?; // an empty socket buffer has room
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn writable(&self) -> io::Result<()> {
        self.wait_ready(Interest::Write, None)
    }

    /// Like [`readable`](GreenFd::readable), failing with `TimedOut` after
    /// `dur`.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair()?;
    /// let a = verdant::io::GreenFd::new(a)?;
    /// let err = a.readable_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn readable_timeout(&self, dur: Duration) -> io::Result<()> {
        self.wait_ready(Interest::Read, Instant::now().checked_add(dur))
    }

    /// Like [`writable`](GreenFd::writable), failing with `TimedOut` after
    /// `dur`.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair()?;
    /// let a = verdant::io::GreenFd::new(a)?;
    /// a.writable_timeout(Duration::from_secs(5))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn writable_timeout(&self, dur: Duration) -> io::Result<()> {
        self.wait_ready(Interest::Write, Instant::now().checked_add(dur))
    }

    /// Waits for readiness until `deadline` (`TimedOut` after it).
    pub(crate) fn wait_ready(&self, interest: Interest, deadline: Option<Instant>) -> io::Result<()> {
        let fd = self.get_ref().as_fd();
        let read = interest == Interest::Read;
        self.reg.do_io(interest, deadline, || {
            if sys::ready_now(fd, read)? {
                Ok(())
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            }
        })
    }

    /// Runs `op`, a non-blocking read-side operation on the value, waiting
    /// for readability and retrying while it fails with `WouldBlock`.
    ///
    /// `op` must not block (the descriptor is in O_NONBLOCK mode, so plain
    /// reads do not) and must not report `WouldBlock` unless the
    /// descriptor really is not ready, or the caller waits for an event
    /// that never comes.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// # use std::os::unix::net::UnixStream;
    /// let (a, mut b) = UnixStream::pair()?;
    /// let a = verdant::io::GreenFd::new(a)?;
    /// b.write_all(b"hi")?;
    /// let mut buf = [0u8; 8];
    /// let n = a.read_with(|mut s| s.read(&mut buf))?;
    /// assert_eq!(&buf[..n], b"hi");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let inner = self.get_ref();
        self.reg.do_io(Interest::Read, None, || op(inner))
    }

    /// Like [`read_with`](GreenFd::read_with), with the value mutably.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// # use std::os::unix::net::UnixStream;
    /// let (a, mut b) = UnixStream::pair()?;
    /// let mut a = verdant::io::GreenFd::new(a)?;
    /// b.write_all(b"hi")?;
    /// let mut buf = [0u8; 8];
    /// let n = a.read_with_mut(|s| s.read(&mut buf))?;
    /// assert_eq!(n, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_with_mut<R>(&mut self, mut op: impl FnMut(&mut T) -> io::Result<R>) -> io::Result<R> {
        let GreenFd { reg, inner, .. } = self;
        let inner = inner.as_mut().expect("GreenFd holds its value until into_inner");
        reg.do_io(Interest::Read, None, || op(inner))
    }

    /// Runs `op`, a non-blocking write-side operation on the value, waiting
    /// for writability and retrying while it fails with `WouldBlock`. The
    /// same rules as for [`read_with`](GreenFd::read_with) apply.
    ///
    /// ```
    /// use std::io::Write;
    /// # use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair()?;
    /// let a = verdant::io::GreenFd::new(a)?;
    /// assert_eq!(a.write_with(|mut s| s.write(b"hi"))?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let inner = self.get_ref();
        self.reg.do_io(Interest::Write, None, || op(inner))
    }

    /// Like [`write_with`](GreenFd::write_with), with the value mutably.
    ///
    /// ```
    /// use std::io::Write;
    /// # use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut a = verdant::io::GreenFd::new(a)?;
    /// assert_eq!(a.write_with_mut(|s| s.write(b"hi"))?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_with_mut<R>(&mut self, mut op: impl FnMut(&mut T) -> io::Result<R>) -> io::Result<R> {
        let GreenFd { reg, inner, .. } = self;
        let inner = inner.as_mut().expect("GreenFd holds its value until into_inner");
        reg.do_io(Interest::Write, None, || op(inner))
    }
}

/// An error for a descriptor that is not open.
fn bad_fd(raw: RawFd, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::EBADF) {
        io::Error::new(e.kind(), format!("GreenFd: descriptor {raw} is not open (EBADF): {e}"))
    } else {
        e
    }
}

/// Fails, with a message that says why, if epoll cannot watch `fd`: asks a
/// throwaway epoll set, so the lazy registration later cannot fail so.
fn check_pollable(fd: BorrowedFd<'_>) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    let probe = mio::Poll::new()?;
    let r = probe.registry().register(
        &mut mio::unix::SourceFd(&raw),
        mio::Token(0),
        mio::Interest::READABLE | mio::Interest::WRITABLE,
    );
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            let what = match std::fs::File::from(fd.try_clone_to_owned()?).metadata() {
                Ok(m) if m.is_file() => "a regular file",
                Ok(m) if m.is_dir() => "a directory",
                _ => "a descriptor without poll support",
            };
            Err(io::Error::new(
                e.kind(),
                format!(
                    "GreenFd: descriptor {raw} is {what}, which epoll cannot watch (EPERM): \
                     it is always ready, so read it on the blocking pool (verdant::spawn_blocking)"
                ),
            ))
        }
        Err(e) => Err(bad_fd(raw, e)),
    }
}

impl<T: AsFd> Drop for GreenFd<T> {
    fn drop(&mut self) {
        if let Some(inner) = &self.inner {
            self.restore(inner);
        }
    }
}

impl<T: AsFd> AsFd for GreenFd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> AsRawFd for GreenFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl<T: AsFd + fmt::Debug> fmt::Debug for GreenFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenFd")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<T: AsFd + Read> Read for GreenFd<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with_mut(|inner| inner.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read_with_mut(|inner| inner.read_vectored(bufs))
    }
}

impl<T: AsFd + Write> Write for GreenFd<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_with_mut(|inner| inner.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_with_mut(|inner| inner.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_with_mut(|inner| inner.flush())
    }
}

impl<T: AsFd> Read for &GreenFd<T>
where
    for<'a> &'a T: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(|mut inner| inner.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read_with(|mut inner| inner.read_vectored(bufs))
    }
}

impl<T: AsFd> Write for &GreenFd<T>
where
    for<'a> &'a T: Write,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(|mut inner| inner.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_with(|mut inner| inner.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_with(|mut inner| inner.flush())
    }
}
