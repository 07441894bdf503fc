//! The standard streams for green threads: [`stdin`], [`stdout`] and
//! [`stderr`], with std's shapes.
//!
//! Descriptors 0, 1 and 2 are shared with the parent shell and every other
//! process of the session, so their O_NONBLOCK mode is left alone (setting
//! it would make the shell's own reads fail with `EAGAIN`). Instead each
//! call waits first and acts second:
//!
//! ```text
//! green thread, a pipe, a terminal, a socket:
//!   poll(fd, 0) ready? ── no ──▶ park on the worker's reactor (readiness of fd)
//!        │ yes                        │ woken
//!        ▼ ◀──────────────────────────┘
//!   read(2) / write(2) of at most PIPE_BUF bytes: does not block
//!
//! green thread, a regular file, a directory, a block device (always
//! "ready", and epoll refuses them):
//!   read(2) / write(2) on the blocking pool while the green thread parks
//!
//! OS thread: wait in poll(2), then read(2) / write(2)
//! ```
//!
//! A write after `POLLOUT` of at most `PIPE_BUF` (4096) bytes does not
//! block on a pipe or a terminal (the kernel reports `POLLOUT` only with
//! that much room). A read after `POLLIN` can block only if another
//! process reads the same bytes first (two readers of one terminal), and
//! then only until more input comes.
//!
//! Waits honour [`verdant::timeout`](crate::timeout) and cancellation as
//! [`GreenFd`](crate::io::GreenFd)'s do (a read or write cut short fails
//! with `TimedOut`).
//!
//! These streams have their own buffers, not std's: output written with
//! `println!` and with [`stdout`] is not ordered between the two (flush
//! std's before switching). [`Stdout`] is line-buffered as std's is, and,
//! unlike std's, is not flushed at exit: end a program's output with a
//! newline or a `flush`. [`Stderr`] is unbuffered.

use std::fmt;
use std::io::{self, BufRead, BufReader, IoSliceMut, LineWriter, Lines, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, LazyLock, OnceLock};

use crate::blocking::offload;
use crate::io::sys;
use crate::runtime::reactor::{Interest, Registration};
use crate::sync::{Mutex, MutexGuard};

/// Bytes per read or write once the descriptor is ready (`PIPE_BUF`).
const CHUNK: usize = 4096;

/// How a stream's descriptor is waited on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// On the reactor (pipes, terminals, sockets, character devices).
    Poll,
    /// On the blocking pool (regular files, directories, block devices,
    /// and anything epoll refuses).
    Pool,
}

/// One of the three descriptors, with its lazily made reactor
/// registration.
struct StdFd {
    n: u8,
    mode: OnceLock<Mode>,
    /// Replaced when the runtime it was registered with has shut down.
    reg: parking_lot::Mutex<Option<Arc<Registration>>>,
}

static FDS: [StdFd; 3] = [StdFd::new(0), StdFd::new(1), StdFd::new(2)];

impl StdFd {
    const fn new(n: u8) -> StdFd {
        StdFd {
            n,
            mode: OnceLock::new(),
            reg: parking_lot::Mutex::new(None),
        }
    }

    /// Runs `f` with the descriptor, borrowed from std's handle (no lock
    /// of std's is taken).
    fn with_fd<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> R {
        match self.n {
            0 => f(io::stdin().as_fd()),
            1 => f(io::stdout().as_fd()),
            _ => f(io::stderr().as_fd()),
        }
    }

    fn mode(&self) -> io::Result<Mode> {
        if let Some(mode) = self.mode.get() {
            return Ok(*mode);
        }
        let file = std::fs::File::from(self.with_fd(|fd| fd.try_clone_to_owned())?);
        let t = file.metadata()?.file_type();
        use std::os::unix::fs::FileTypeExt;
        let mode = if t.is_file() || t.is_dir() || t.is_block_device() {
            Mode::Pool
        } else {
            Mode::Poll
        };
        Ok(*self.mode.get_or_init(|| mode))
    }

    fn registration(&self) -> Arc<Registration> {
        let mut slot = self.reg.lock();
        match &*slot {
            Some(reg) if !reg.is_stale() => reg.clone(),
            _ => {
                // The descriptor stays in blocking mode: the only operation
                // `do_io` runs on it is a zero-timeout poll.
                let reg = Arc::new(Registration::new(i32::from(self.n)));
                *slot = Some(reg.clone());
                reg
            }
        }
    }

    /// Waits until the descriptor is ready for `interest`. `Ok(false)` if
    /// epoll refused it (then the caller goes to the pool, from now on).
    fn wait(&self, interest: Interest) -> io::Result<bool> {
        let reg = self.registration();
        let read = interest == Interest::Read;
        let r = reg.do_io(interest, None, || {
            if self.with_fd(|fd| sys::ready_now(fd, read))? {
                Ok(())
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            }
        });
        match r {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                // Too late to change `mode`'s first answer for everyone at
                // once; this descriptor's later calls see it.
                let _ = self.mode.set(Mode::Pool);
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn read(&'static self, buf: &mut [u8]) -> io::Result<usize> {
        let green = crate::runtime::park::current_task().is_some();
        if self.mode()? == Mode::Poll && self.wait(Interest::Read)? {
            let len = buf.len().min(CHUNK);
            return self.with_fd(|fd| sys::read(fd, &mut buf[..len]));
        }
        if !green {
            return self.with_fd(|fd| sys::read(fd, buf));
        }
        let len = buf.len();
        let data = offload(move || {
            let mut data = vec![0; len];
            let n = self.with_fd(|fd| sys::read(fd, &mut data))?;
            data.truncate(n);
            Ok(data)
        })?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    fn write(&'static self, buf: &[u8]) -> io::Result<usize> {
        let green = crate::runtime::park::current_task().is_some();
        if self.mode()? == Mode::Poll && self.wait(Interest::Write)? {
            let len = buf.len().min(CHUNK);
            return self.with_fd(|fd| sys::write(fd, &buf[..len]));
        }
        if !green {
            return self.with_fd(|fd| sys::write(fd, buf));
        }
        let data = buf.to_vec();
        offload(move || self.with_fd(|fd| sys::write(fd, &data)))
    }
}

/// A standard stream's descriptor, unbuffered: what the buffers wrap.
struct Raw(&'static StdFd);

impl Read for Raw {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Raw {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

static STDIN: LazyLock<Mutex<BufReader<Raw>>> = LazyLock::new(|| Mutex::new(BufReader::new(Raw(&FDS[0]))));
static STDOUT: LazyLock<Mutex<LineWriter<Raw>>> = LazyLock::new(|| Mutex::new(LineWriter::new(Raw(&FDS[1]))));
static STDERR: Mutex<Raw> = Mutex::new(Raw(&FDS[2]));

/// Locks `m`, ignoring poisoning: a thread cancelled mid-read leaves the
/// buffer consistent (a `BufReader` or `LineWriter` never holds a
/// half-updated state across a read or write call).
fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process's standard input, read by green threads without blocking
/// their worker: see [`stdin`].
pub struct Stdin {
    _private: (),
}

/// A locked [`Stdin`]: `BufRead`, so `read_line`, `lines`, `read_until`.
pub struct StdinLock<'a> {
    inner: MutexGuard<'a, BufReader<Raw>>,
}

/// The standard input, shared by the process and buffered, as
/// [`std::io::stdin`]; reads park the green thread until input comes.
///
/// Read through one of the two only (verdant's or std's): each has its
/// own buffer.
///
/// ```no_run
/// use std::io::Write;
/// // Echo lines until the end of input.
/// let h = verdant::spawn(|| -> std::io::Result<()> {
///     for line in verdant::io::stdin().lines() {
///         writeln!(verdant::io::stdout(), "{}", line?)?;
///     }
///     Ok(())
/// });
/// h.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn stdin() -> Stdin {
    Stdin { _private: () }
}

impl Stdin {
    /// Locks the stream for this thread's reads (others wait), as
    /// [`std::io::Stdin::lock`].
    ///
    /// ```no_run
    /// use std::io::BufRead;
    /// let mut first = String::new();
    /// verdant::io::stdin().lock().read_line(&mut first)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lock(&self) -> StdinLock<'static> {
        StdinLock { inner: lock(&STDIN) }
    }

    /// Reads a line, newline included, onto `buf`; `Ok(0)` at the end of
    /// input. As [`std::io::Stdin::read_line`].
    ///
    /// ```no_run
    /// let mut line = String::new();
    /// let n = verdant::io::stdin().read_line(&mut line)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_line(&self, buf: &mut String) -> io::Result<usize> {
        self.lock().read_line(buf)
    }

    /// The lines of the input, without their newlines, as
    /// [`std::io::Stdin::lines`].
    ///
    /// ```no_run
    /// let count = verdant::io::stdin().lines().count();
    /// ```
    pub fn lines(self) -> Lines<StdinLock<'static>> {
        self.lock().lines()
    }
}

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stdin").finish_non_exhaustive()
    }
}

impl Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.lock().read_vectored(bufs)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.lock().read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.lock().read_to_string(buf)
    }
}

impl Read for &Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }
}

impl Read for StdinLock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl BufRead for StdinLock<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
    }
}

impl fmt::Debug for StdinLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdinLock").finish_non_exhaustive()
    }
}

/// The process's standard output, line-buffered: see [`stdout`].
pub struct Stdout {
    _private: (),
}

/// A locked [`Stdout`]: several writes with no other thread's between.
pub struct StdoutLock<'a> {
    inner: MutexGuard<'a, LineWriter<Raw>>,
}

/// The standard output, shared by the process and line-buffered, as
/// [`std::io::stdout`]; writes park the green thread while the terminal or
/// pipe is full. Not flushed at exit: end with a newline or `flush`.
///
/// ```
/// use std::io::Write;
/// verdant::spawn(|| writeln!(verdant::io::stdout(), "hello from a green thread"))
///     .join()
///     .unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn stdout() -> Stdout {
    Stdout { _private: () }
}

impl Stdout {
    /// Locks the stream for this thread's writes (others wait), as
    /// [`std::io::Stdout::lock`].
    ///
    /// ```
    /// use std::io::Write;
    /// let mut out = verdant::io::stdout().lock();
    /// writeln!(out, "one")?;
    /// writeln!(out, "two")?; // no other thread's line between
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lock(&self) -> StdoutLock<'static> {
        StdoutLock { inner: lock(&STDOUT) }
    }
}

impl fmt::Debug for Stdout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stdout").finish_non_exhaustive()
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.lock().write_all(buf)
    }

    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        self.lock().write_fmt(args)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock().flush()
    }
}

impl Write for &Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().write(buf)
    }

    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        self.lock().write_fmt(args)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock().flush()
    }
}

impl Write for StdoutLock<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl fmt::Debug for StdoutLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdoutLock").finish_non_exhaustive()
    }
}

/// The process's standard error, unbuffered: see [`stderr`].
pub struct Stderr {
    _private: (),
}

/// A locked [`Stderr`]: several writes with no other thread's between.
pub struct StderrLock<'a> {
    inner: MutexGuard<'a, Raw>,
}

/// The standard error, unbuffered, as [`std::io::stderr`]; writes park
/// the green thread while the terminal or pipe is full.
///
/// ```
/// use std::io::Write;
/// verdant::spawn(|| writeln!(verdant::io::stderr(), "a warning"))
///     .join()
///     .unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn stderr() -> Stderr {
    Stderr { _private: () }
}

impl Stderr {
    /// Locks the stream for this thread's writes, as
    /// [`std::io::Stderr::lock`].
    ///
    /// ```
    /// use std::io::Write;
    /// writeln!(verdant::io::stderr().lock(), "one line")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lock(&self) -> StderrLock<'static> {
        StderrLock { inner: lock(&STDERR) }
    }
}

impl fmt::Debug for Stderr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stderr").finish_non_exhaustive()
    }
}

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.lock().write_all(buf)
    }

    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        self.lock().write_fmt(args)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().write(buf)
    }

    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        self.lock().write_fmt(args)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for StderrLock<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for StderrLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StderrLock").finish_non_exhaustive()
    }
}
