//! `UnixListener`, `UnixStream`, `UnixDatagram`: std's API, green waits.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use super::fd_impls;
use super::source::{socket, total_len, Source};
use crate::runtime::reactor::Interest;

/// A Unix-domain stream listener, like
/// [`std::os::unix::net::UnixListener`].
///
/// ```
/// use verdant::net::{UnixListener, UnixStream};
/// let dir = std::env::temp_dir().join(format!("verdant-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("listener.sock");
/// # let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let _client = UnixStream::connect(&path)?;
/// let (_conn, _addr) = listener.accept()?;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    inner: Arc<Source<net::UnixListener>>,
}

/// A Unix-domain stream, like [`std::os::unix::net::UnixStream`].
///
/// ```
/// use std::io::{Read, Write};
/// let (mut a, mut b) = verdant::net::UnixStream::pair()?;
/// a.write_all(b"hi")?;
/// let mut buf = [0; 2];
/// b.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"hi");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    inner: Arc<Source<net::UnixStream>>,
}

/// A Unix-domain datagram socket, like
/// [`std::os::unix::net::UnixDatagram`].
///
/// ```
/// let (a, b) = verdant::net::UnixDatagram::pair()?;
/// a.send(b"one")?;
/// let mut buf = [0; 8];
/// assert_eq!(b.recv(&mut buf)?, 3);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixDatagram {
    inner: Arc<Source<net::UnixDatagram>>,
}

/// Iterator over the connections of a [`UnixListener`]; never ends.
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

/// A new Unix socket of type `ty`, non-blocking and close-on-exec.
fn unix_socket(ty: Type) -> io::Result<Socket> {
    socket(Domain::UNIX, ty, None)
}

/// Connects `s` to `path`. A Unix `connect` whose listener's backlog is
/// full fails with `EAGAIN` (there is no handshake to wait for), so that
/// case retries after a sleep, 1 ms doubling to 64 ms.
fn connect_unix<S: std::os::fd::AsRawFd>(s: &Socket, path: &Path, src: &Source<S>) -> io::Result<()> {
    let addr = SockAddr::unix(path)?;
    let mut backoff = Duration::from_millis(1);
    loop {
        match s.connect(&addr) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                crate::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(64));
            }
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                return src.io_deadline(Interest::Write, None, |_| match s.take_error()? {
                    Some(e) => Err(e),
                    None => Ok(()),
                })
            }
            Err(e) => return Err(e),
        }
    }
}

impl UnixListener {
    /// Binds a listener to the socket file `path` (backlog 1024).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("verdant-doc-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let l = verdant::net::UnixListener::bind(&path)?;
    /// assert_eq!(l.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let s = unix_socket(Type::STREAM)?;
        s.bind(&SockAddr::unix(path)?)?;
        s.listen(1024)?;
        Ok(UnixListener::from_nonblocking(net::UnixListener::from(
            std::os::fd::OwnedFd::from(s),
        )))
    }

    pub(crate) fn from_nonblocking(l: net::UnixListener) -> UnixListener {
        UnixListener {
            inner: Arc::new(Source::new(l)),
        }
    }

    /// Accepts a connection, waiting for one.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-doc-acc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let l = verdant::net::UnixListener::bind(&path)?;
    /// let c = verdant::net::UnixStream::connect(&path)?;
    /// let (s, _) = l.accept()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, addr) = self.inner.read(|l| l.accept())?;
        s.set_nonblocking(true)?;
        Ok((UnixStream::from_nonblocking(s), addr))
    }

    /// An iterator accepting connections forever.
    ///
    /// ```no_run
    /// for conn in verdant::net::UnixListener::bind("/tmp/x.sock")?.incoming() {
    ///     drop(conn?);
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    /// Another handle to the same listener (shared, not `dup`ed).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-doc-tc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let l = verdant::net::UnixListener::bind(&path)?;
    /// let l2 = l.try_clone()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: self.inner.clone(),
        })
    }

    /// The local address.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-doc-la-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let l = verdant::net::UnixListener::bind(&path)?;
    /// assert!(l.local_addr()?.as_pathname().is_some());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// With `true`, `accept` returns `WouldBlock` instead of waiting.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-doc-nb-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let l = verdant::net::UnixListener::bind(&path)?;
    /// l.set_nonblocking(true)?;
    /// assert_eq!(l.accept().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-doc-te-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let l = verdant::net::UnixListener::bind(&path)?;
    /// assert!(l.take_error()?.is_none());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }
}

impl<'a> Iterator for UnixIncoming<'a> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner.get(), f)
    }
}

fd_impls!(UnixListener, net::UnixListener);

/// Shared timeout / nonblocking / address methods of the two socket types
/// that have them.
macro_rules! common_methods {
    ($t:ident) => {
        /// Another handle to the same socket (shared, not `dup`ed: see the
        /// [module docs](crate::net)).
        pub fn try_clone(&self) -> io::Result<$t> {
            Ok($t {
                inner: self.inner.clone(),
            })
        }

        /// The local address.
        pub fn local_addr(&self) -> io::Result<SocketAddr> {
            self.inner.get().local_addr()
        }

        /// The peer's address.
        pub fn peer_addr(&self) -> io::Result<SocketAddr> {
            self.inner.get().peer_addr()
        }

        /// Sets the read timeout (expired: kind `WouldBlock`, as std on
        /// Linux; zero: `InvalidInput`).
        pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
            self.inner.set_read_timeout(dur)
        }

        /// Sets the write timeout (as `set_read_timeout`).
        pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
            self.inner.set_write_timeout(dur)
        }

        /// The read timeout.
        pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
            Ok(self.inner.read_timeout())
        }

        /// The write timeout.
        pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
            Ok(self.inner.write_timeout())
        }

        /// With `true`, calls that would wait return `WouldBlock` instead.
        pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
            self.inner.set_nonblocking(nonblocking);
            Ok(())
        }

        /// Takes the pending socket error (`SO_ERROR`), if any.
        pub fn take_error(&self) -> io::Result<Option<io::Error>> {
            self.inner.get().take_error()
        }

        /// Shuts down the read half, the write half or both.
        pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
            self.inner.get().shutdown(how)
        }
    };
}

impl UnixStream {
    /// Connects to the socket file `path`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-doc-conn-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let l = verdant::net::UnixListener::bind(&path)?;
    /// let s = verdant::net::UnixStream::connect(&path)?;
    /// assert_eq!(s.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let s = unix_socket(Type::STREAM)?;
        let stream = UnixStream::from_nonblocking(net::UnixStream::from(std::os::fd::OwnedFd::from(s)));
        connect_unix(
            &socket2::SockRef::from(stream.inner.get()),
            path.as_ref(),
            &stream.inner,
        )?;
        Ok(stream)
    }

    /// A connected pair of streams.
    ///
    /// ```
    /// let (a, b) = verdant::net::UnixStream::pair()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = Socket::pair(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None)?;
        let wrap = |s: Socket| UnixStream::from_nonblocking(net::UnixStream::from(std::os::fd::OwnedFd::from(s)));
        Ok((wrap(a), wrap(b)))
    }

    pub(crate) fn from_nonblocking(s: net::UnixStream) -> UnixStream {
        UnixStream {
            inner: Arc::new(Source::new(s)),
        }
    }

    common_methods!(UnixStream);
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_buf(buf.len(), |mut s| s.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner.read_buf(total_len(bufs), |mut s| s.read_vectored(bufs))
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_buf(buf.len(), |mut s| s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner.write_buf(total_len(bufs), |mut s| s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner.get(), f)
    }
}

fd_impls!(UnixStream, net::UnixStream);

impl UnixDatagram {
    /// A datagram socket bound to the socket file `path`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-doc-dg-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let s = verdant::net::UnixDatagram::bind(&path)?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        let s = unix_socket(Type::DGRAM)?;
        s.bind(&SockAddr::unix(path)?)?;
        Ok(UnixDatagram::from_socket(s))
    }

    /// A datagram socket bound to no address.
    ///
    /// ```
    /// let s = verdant::net::UnixDatagram::unbound()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        Ok(UnixDatagram::from_socket(unix_socket(Type::DGRAM)?))
    }

    /// A connected pair of datagram sockets.
    ///
    /// ```
    /// let (a, b) = verdant::net::UnixDatagram::pair()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = Socket::pair(Domain::UNIX, Type::DGRAM.nonblocking().cloexec(), None)?;
        Ok((UnixDatagram::from_socket(a), UnixDatagram::from_socket(b)))
    }

    fn from_socket(s: Socket) -> UnixDatagram {
        UnixDatagram::from_nonblocking(net::UnixDatagram::from(std::os::fd::OwnedFd::from(s)))
    }

    pub(crate) fn from_nonblocking(s: net::UnixDatagram) -> UnixDatagram {
        UnixDatagram {
            inner: Arc::new(Source::new(s)),
        }
    }

    /// Sets the default peer (`send`/`recv`).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-doc-dgc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = verdant::net::UnixDatagram::bind(&path)?;
    /// let client = verdant::net::UnixDatagram::unbound()?;
    /// client.connect(&path)?;
    /// client.send(b"x")?;
    /// assert_eq!(server.recv(&mut [0; 4])?, 1);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.inner.get().connect(path)
    }

    /// Receives one datagram and its sender's address, waiting for it.
    ///
    /// ```
    /// let (a, b) = verdant::net::UnixDatagram::pair()?;
    /// a.send(b"hey")?;
    /// let (n, _from) = b.recv_from(&mut [0; 8])?;
    /// assert_eq!(n, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read(|s| s.recv_from(buf))
    }

    /// Receives one datagram from the connected peer, waiting for it.
    ///
    /// ```
    /// let (a, b) = verdant::net::UnixDatagram::pair()?;
    /// a.send(b"hey")?;
    /// assert_eq!(b.recv(&mut [0; 8])?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(|s| s.recv(buf))
    }

    /// Sends a datagram to the socket file `path`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-doc-dgs-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = verdant::net::UnixDatagram::bind(&path)?;
    /// verdant::net::UnixDatagram::unbound()?.send_to(b"ab", &path)?;
    /// assert_eq!(server.recv(&mut [0; 4])?, 2);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.inner.write(|s| s.send_to(buf, path))
    }

    /// Sends a datagram to the connected peer (waits while the peer's
    /// queue is full).
    ///
    /// ```
    /// let (a, b) = verdant::net::UnixDatagram::pair()?;
    /// assert_eq!(a.send(b"abc")?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(|s| s.send(buf))
    }

    common_methods!(UnixDatagram);
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner.get(), f)
    }
}

fd_impls!(UnixDatagram, net::UnixDatagram);
