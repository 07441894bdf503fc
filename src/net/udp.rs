//! `UdpSocket`: std's API, green waits.

use std::fmt;
use std::io;
use std::net::{self, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::addr::{each_addr, resolve, ToSocketAddrs};
use super::builder::UdpSocketBuilder;
use super::fd_impls;
use super::source::Source;

/// A UDP socket, like [`std::net::UdpSocket`]; receiving (and sending into
/// a full buffer) parks a green thread instead of blocking its worker.
///
/// ```
/// use verdant::net::UdpSocket;
/// let a = UdpSocket::bind("127.0.0.1:0")?;
/// let b = UdpSocket::bind("127.0.0.1:0")?;
/// a.send_to(b"hi", b.local_addr()?)?;
/// let mut buf = [0; 8];
/// let (n, from) = b.recv_from(&mut buf)?;
/// assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr()?));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    inner: Arc<Source<net::UdpSocket>>,
}

/// One-line doc'd delegations to the std socket (options never block).
macro_rules! delegate {
    ($(#[$m:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty) => {
        $(#[$m])*
        pub fn $name(&self $(, $arg: $ty)*) -> $ret {
            self.inner.get().$name($($arg),*)
        }
    };
}

impl UdpSocket {
    /// Binds a socket to the first address of `addr` that works.
    ///
    /// ```
    /// let s = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_ne!(s.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        UdpSocketBuilder::new().bind(addr)
    }

    /// A builder for options std lacks (`SO_REUSEPORT`, buffer sizes).
    ///
    /// ```
    /// let s = verdant::net::UdpSocket::builder().reuse_port(true).bind("127.0.0.1:0")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> UdpSocketBuilder {
        UdpSocketBuilder::new()
    }

    pub(crate) fn from_nonblocking(s: net::UdpSocket) -> UdpSocket {
        UdpSocket {
            inner: Arc::new(Source::new(s)),
        }
    }

    /// Receives one datagram, waiting for it; returns its size and sender.
    /// A datagram longer than `buf` is truncated.
    ///
    /// ```
    /// # use verdant::net::UdpSocket;
    /// # let a = UdpSocket::bind("127.0.0.1:0")?;
    /// # let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.send_to(b"abc", b.local_addr()?)?;
    /// let (n, _) = b.recv_from(&mut [0; 16])?;
    /// assert_eq!(n, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read(|s| s.recv_from(buf))
    }

    /// Like [`UdpSocket::recv_from`], leaving the datagram queued.
    ///
    /// ```
    /// # use verdant::net::UdpSocket;
    /// # let a = UdpSocket::bind("127.0.0.1:0")?;
    /// # let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.send_to(b"abc", b.local_addr()?)?;
    /// let mut buf = [0; 16];
    /// assert_eq!(b.peek_from(&mut buf)?.0, 3);
    /// assert_eq!(b.recv_from(&mut buf)?.0, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read(|s| s.peek_from(buf))
    }

    /// Sends a datagram to the first address `addr` resolves to.
    ///
    /// ```
    /// # use verdant::net::UdpSocket;
    /// # let a = UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(a.send_to(b"abc", "127.0.0.1:9")?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let to = resolve(addr)?[0];
        self.inner.write(|s| s.send_to(buf, to))
    }

    /// Sets the default peer: `send`/`recv` use it, and datagrams from
    /// other addresses are dropped.
    ///
    /// ```
    /// # use verdant::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// b.connect(a.local_addr()?)?;
    /// a.send(b"x")?;
    /// assert_eq!(b.recv(&mut [0; 4])?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.inner.get().connect(a))
    }

    /// Sends to the connected peer.
    ///
    /// ```
    /// # use verdant::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect("127.0.0.1:9")?;
    /// assert_eq!(a.send(b"abc")?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(|s| s.send(buf))
    }

    /// Receives from the connected peer, waiting for a datagram.
    ///
    /// ```
    /// # use verdant::net::UdpSocket;
    /// # let a = UdpSocket::bind("127.0.0.1:0")?;
    /// # let b = UdpSocket::bind("127.0.0.1:0")?;
    /// b.connect(a.local_addr()?)?;
    /// a.send_to(b"ok", b.local_addr()?)?;
    /// assert_eq!(b.recv(&mut [0; 4])?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(|s| s.recv(buf))
    }

    /// Like [`UdpSocket::recv`], leaving the datagram queued.
    ///
    /// ```
    /// # use verdant::net::UdpSocket;
    /// # let a = UdpSocket::bind("127.0.0.1:0")?;
    /// # let b = UdpSocket::bind("127.0.0.1:0")?;
    /// b.connect(a.local_addr()?)?;
    /// a.send_to(b"ok", b.local_addr()?)?;
    /// assert_eq!(b.peek(&mut [0; 4])?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(|s| s.peek(buf))
    }

    /// Another handle to the same socket (shared, not `dup`ed).
    ///
    /// ```
    /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = a.try_clone()?;
    /// assert_eq!(a.local_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: self.inner.clone(),
        })
    }

    /// Sets the receive timeout (expired: kind `WouldBlock`, as std on
    /// Linux; zero: `InvalidInput`).
    ///
    /// ```
    /// use std::time::Duration;
    /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.set_read_timeout(Some(Duration::from_millis(5)))?;
    /// assert_eq!(a.recv_from(&mut [0; 4]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.set_read_timeout(dur)
    }

    /// Sets the send timeout (as [`UdpSocket::set_read_timeout`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(a.write_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.set_write_timeout(dur)
    }

    /// The receive timeout.
    ///
    /// ```
    /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(a.read_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.read_timeout())
    }

    /// The send timeout.
    ///
    /// ```
    /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(a.write_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout())
    }

    /// With `true`, calls that would wait return `WouldBlock` instead.
    ///
    /// ```
    /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.set_nonblocking(true)?;
    /// assert_eq!(a.recv(&mut [0; 4]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }

    delegate! {
        /// The connected peer's address (`NotConnected` if none).
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
        /// assert!(a.peer_addr().is_err());
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn peer_addr(&self) -> io::Result<SocketAddr>
    }
    delegate! {
        /// The local address.
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
        /// assert!(a.local_addr()?.ip().is_loopback());
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn local_addr(&self) -> io::Result<SocketAddr>
    }
    delegate! {
        /// Sets `SO_BROADCAST`.
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
        /// a.set_broadcast(true)?;
        /// assert!(a.broadcast()?);
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn set_broadcast(&self, on: bool) -> io::Result<()>
    }
    delegate! {
        /// Whether `SO_BROADCAST` is set.
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
        /// assert!(!a.broadcast()?);
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn broadcast(&self) -> io::Result<bool>
    }
    delegate! {
        /// Sets `IP_MULTICAST_LOOP`.
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
        /// a.set_multicast_loop_v4(false)?;
        /// assert!(!a.multicast_loop_v4()?);
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()>
    }
    delegate! {
        /// `IP_MULTICAST_LOOP`.
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
        /// assert!(a.multicast_loop_v4()?);
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn multicast_loop_v4(&self) -> io::Result<bool>
    }
    delegate! {
        /// Sets `IP_MULTICAST_TTL`.
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
        /// a.set_multicast_ttl_v4(4)?;
        /// assert_eq!(a.multicast_ttl_v4()?, 4);
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()>
    }
    delegate! {
        /// `IP_MULTICAST_TTL`.
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
        /// assert_eq!(a.multicast_ttl_v4()?, 1);
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn multicast_ttl_v4(&self) -> io::Result<u32>
    }
    delegate! {
        /// Sets `IPV6_MULTICAST_LOOP`.
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("[::1]:0");
        /// # if let Ok(a) = a { a.set_multicast_loop_v6(false)?; }
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()>
    }
    delegate! {
        /// `IPV6_MULTICAST_LOOP`.
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("[::1]:0");
        /// # if let Ok(a) = a { let _ = a.multicast_loop_v6()?; }
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn multicast_loop_v6(&self) -> io::Result<bool>
    }
    delegate! {
        /// Sets `IP_TTL`.
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
        /// a.set_ttl(42)?;
        /// assert_eq!(a.ttl()?, 42);
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn set_ttl(&self, ttl: u32) -> io::Result<()>
    }
    delegate! {
        /// `IP_TTL`.
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
        /// assert!(a.ttl()? > 0);
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn ttl(&self) -> io::Result<u32>
    }
    delegate! {
        /// Joins an IPv4 multicast group (`IP_ADD_MEMBERSHIP`).
        ///
        /// ```no_run
        /// # let a = verdant::net::UdpSocket::bind("0.0.0.0:0")?;
        /// a.join_multicast_v4(&"239.1.2.3".parse().unwrap(), &std::net::Ipv4Addr::UNSPECIFIED)?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()>
    }
    delegate! {
        /// Joins an IPv6 multicast group (`IPV6_ADD_MEMBERSHIP`).
        ///
        /// ```no_run
        /// # let a = verdant::net::UdpSocket::bind("[::]:0")?;
        /// a.join_multicast_v6(&"ff02::123".parse().unwrap(), 0)?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()>
    }
    delegate! {
        /// Leaves an IPv4 multicast group.
        ///
        /// ```no_run
        /// # let a = verdant::net::UdpSocket::bind("0.0.0.0:0")?;
        /// a.leave_multicast_v4(&"239.1.2.3".parse().unwrap(), &std::net::Ipv4Addr::UNSPECIFIED)?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()>
    }
    delegate! {
        /// Leaves an IPv6 multicast group.
        ///
        /// ```no_run
        /// # let a = verdant::net::UdpSocket::bind("[::]:0")?;
        /// a.leave_multicast_v6(&"ff02::123".parse().unwrap(), 0)?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()>
    }
    delegate! {
        /// Takes the pending socket error (`SO_ERROR`), if any.
        ///
        /// ```
        /// # let a = verdant::net::UdpSocket::bind("127.0.0.1:0")?;
        /// assert!(a.take_error()?.is_none());
        /// # Ok::<(), std::io::Error>(())
        /// ```
        fn take_error(&self) -> io::Result<Option<io::Error>>
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner.get(), f)
    }
}

fd_impls!(UdpSocket, net::UdpSocket);
