//! `TcpListener` and `TcpStream`: std's API, green waits.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{self, Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::addr::{each_addr, ToSocketAddrs};
use super::builder::{TcpListenerBuilder, TcpStreamBuilder};
use super::fd_impls;
use super::source::{total_len, Source};
use crate::runtime::reactor::Interest;

/// A TCP socket server, listening for connections, like
/// [`std::net::TcpListener`]; `accept` parks a green thread instead of
/// blocking its worker.
///
/// ```
/// use verdant::net::{TcpListener, TcpStream};
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let _client = TcpStream::connect(addr)?;
/// let (_conn, peer) = listener.accept()?;
/// assert!(peer.ip().is_loopback());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    inner: Arc<Source<net::TcpListener>>,
}

/// A TCP stream between a local and a remote socket, like
/// [`std::net::TcpStream`]. `Read` and `Write` are implemented for both
/// `TcpStream` and `&TcpStream`, so one green thread can read while
/// another writes.
///
/// ```
/// use std::io::{Read, Write};
/// use verdant::net::{TcpListener, TcpStream};
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let mut a = TcpStream::connect(listener.local_addr()?)?;
/// let (mut b, _) = listener.accept()?;
/// a.write_all(b"ping")?;
/// let mut buf = [0; 4];
/// b.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpStream {
    inner: Arc<Source<net::TcpStream>>,
}

/// Iterator over the connections of a [`TcpListener`]
/// ([`TcpListener::incoming`]); never returns `None`.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl TcpListener {
    /// Binds a listener to `addr` (the first address that works), with
    /// `SO_REUSEADDR` and a backlog of 1024. Use [`TcpListener::builder`]
    /// for other settings.
    ///
    /// ```
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert_ne!(l.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        TcpListenerBuilder::new().bind(addr)
    }

    /// A builder for the options std lacks: backlog, `SO_REUSEPORT`,
    /// buffer sizes, options inherited by accepted streams.
    ///
    /// ```
    /// let l = verdant::net::TcpListener::builder()
    ///     .reuse_port(true)
    ///     .backlog(4096)
    ///     .bind("127.0.0.1:0")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> TcpListenerBuilder {
        TcpListenerBuilder::new()
    }

    /// Wraps a listening socket already in O_NONBLOCK mode.
    pub(crate) fn from_nonblocking(l: net::TcpListener) -> TcpListener {
        TcpListener {
            inner: Arc::new(Source::new(l)),
        }
    }

    /// The local address this listener is bound to.
    ///
    /// ```
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(l.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// Another handle to the same listener (shared, not `dup`ed: see the
    /// [module docs](crate::net)).
    ///
    /// ```
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let l2 = l.try_clone()?;
    /// assert_eq!(l.local_addr()?, l2.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: self.inner.clone(),
        })
    }

    /// Accepts a connection, waiting for one (parking a green caller).
    /// The stream is non-blocking underneath and close-on-exec.
    ///
    /// ```
    /// use verdant::net::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0")?;
    /// let c = TcpStream::connect(l.local_addr()?)?;
    /// let (s, peer) = l.accept()?;
    /// assert_eq!(peer, c.local_addr()?);
    /// assert_eq!(s.peer_addr()?, peer);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        let (sock, addr) = self.inner.read(|l| SockRef::from(l).accept4(flags))?;
        let addr = addr
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "accepted a non-IP address"))?;
        Ok((TcpStream::from_nonblocking(sock.into()), addr))
    }

    /// An iterator accepting connections forever (each item is
    /// `accept().map(|(s, _)| s)`).
    ///
    /// ```no_run
    /// for stream in verdant::net::TcpListener::bind("127.0.0.1:7000")?.incoming() {
    ///     let stream = stream?;
    ///     verdant::spawn(move || drop(stream));
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Sets `IP_TTL` for packets sent from this socket.
    ///
    /// ```
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// l.set_ttl(100)?;
    /// assert_eq!(l.ttl()?, 100);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_ttl(ttl)
    }

    /// `IP_TTL` of this socket.
    ///
    /// ```
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(l.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// ```
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(l.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// With `true`, `accept` returns `WouldBlock` instead of waiting.
    ///
    /// ```
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// l.set_nonblocking(true)?;
    /// assert_eq!(l.accept().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }
}

impl<'a> Iterator for Incoming<'a> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl std::iter::FusedIterator for Incoming<'_> {}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner.get(), f)
    }
}

fd_impls!(TcpListener, net::TcpListener);

impl TcpStream {
    /// Opens a TCP connection to `addr`, trying each resolved address in
    /// turn. Parks a green caller while the handshake is in flight.
    ///
    /// ```
    /// use verdant::net::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0")?;
    /// let s = TcpStream::connect(l.local_addr()?)?;
    /// assert_eq!(s.peer_addr()?, l.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| TcpStreamBuilder::new().connect_deadline(a, None))
    }

    /// Opens a TCP connection to `addr`, failing with `TimedOut` if it is
    /// not established within `timeout` (`InvalidInput` for a zero timeout,
    /// as std).
    ///
    /// ```
    /// use std::time::Duration;
    /// use verdant::net::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0")?;
    /// let s = TcpStream::connect_timeout(&l.local_addr()?, Duration::from_secs(5))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStreamBuilder::new().connect_deadline(addr, Instant::now().checked_add(timeout))
    }

    /// A builder for connecting with options std lacks (keep-alive, buffer
    /// sizes, `TCP_NODELAY` before the handshake, a local address).
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = verdant::net::TcpStream::builder()
    ///     .nodelay(true)
    ///     .keepalive(Some(Duration::from_secs(30)))
    ///     .connect(l.local_addr()?)?;
    /// assert!(s.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> TcpStreamBuilder {
        TcpStreamBuilder::new()
    }

    /// Wraps a stream already in O_NONBLOCK mode.
    pub(crate) fn from_nonblocking(s: net::TcpStream) -> TcpStream {
        TcpStream {
            inner: Arc::new(Source::new(s)),
        }
    }

    /// Waits until a non-blocking `connect` has finished (or `deadline`).
    pub(crate) fn finish_connect(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.inner.io_deadline(Interest::Write, deadline, |s| {
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
                Err(e) => Err(e),
            }
        })
    }

    /// The remote address.
    ///
    /// ```
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// assert_eq!(s.peer_addr()?, l.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().peer_addr()
    }

    /// The local address.
    ///
    /// ```
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// assert!(s.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// Shuts down the read half, the write half or both (all clones see
    /// it). After `Shutdown::Write` the peer reads end-of-file.
    ///
    /// ```
    /// use std::io::Read;
    /// use verdant::net::{Shutdown, TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0")?;
    /// let c = TcpStream::connect(l.local_addr()?)?;
    /// let (mut s, _) = l.accept()?;
    /// c.shutdown(Shutdown::Write)?;
    /// assert_eq!(s.read(&mut [0; 8])?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get().shutdown(how)
    }

    /// Another handle to the same stream (shared, not `dup`ed: see the
    /// [module docs](crate::net)); use one to read and one to write.
    ///
    /// ```
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// let s2 = s.try_clone()?;
    /// assert_eq!(s.local_addr()?, s2.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: self.inner.clone(),
        })
    }

    /// Sets the read timeout: a read waiting longer fails with kind
    /// `WouldBlock` (OS error `EAGAIN`, as std on Linux). `None` waits
    /// forever; a zero duration is `InvalidInput`.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// s.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let err = s.read(&mut [0; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.set_read_timeout(dur)
    }

    /// Sets the write timeout (as [`TcpStream::set_read_timeout`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// s.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(s.write_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.set_write_timeout(dur)
    }

    /// The read timeout.
    ///
    /// ```
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// assert_eq!(s.read_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.read_timeout())
    }

    /// The write timeout.
    ///
    /// ```
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// assert_eq!(s.write_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout())
    }

    /// Reads without removing the data from the queue, waiting for some.
    ///
    /// ```
    /// use std::io::Write;
    /// use verdant::net::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0")?;
    /// let mut c = TcpStream::connect(l.local_addr()?)?;
    /// let (s, _) = l.accept()?;
    /// c.write_all(b"x")?;
    /// let mut buf = [0; 1];
    /// assert_eq!(s.peek(&mut buf)?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(|s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    ///
    /// ```
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// s.set_nodelay(true)?;
    /// assert!(s.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// assert!(!s.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get().nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// s.set_ttl(64)?;
    /// assert_eq!(s.ttl()?, 64);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_ttl(ttl)
    }

    /// `IP_TTL` of this socket.
    ///
    /// ```
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// assert!(s.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// ```
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// assert!(s.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// With `true`, reads and writes that would wait return `WouldBlock`
    /// instead (all clones share the flag).
    ///
    /// ```
    /// use std::io::Read;
    /// # let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut s = verdant::net::TcpStream::connect(l.local_addr()?)?;
    /// s.set_nonblocking(true)?;
    /// assert_eq!(s.read(&mut [0; 8]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }
}

impl Read for &TcpStream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_buf(buf.len(), |mut s| s.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner.read_buf(total_len(bufs), |mut s| s.read_vectored(bufs))
    }
}

impl Write for &TcpStream {
    #[inline]
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

impl Read for TcpStream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for TcpStream {
    #[inline]
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

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner.get(), f)
    }
}

fd_impls!(TcpStream, net::TcpStream);
