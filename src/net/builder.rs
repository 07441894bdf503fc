//! Builders for the socket options std has no setter for (backlog,
//! `SO_REUSEPORT`, keep-alive, buffer sizes), applied with `socket2` before
//! `bind`/`connect`.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, TcpKeepalive, Type};

use super::addr::{each_addr, ToSocketAddrs};
use super::source::socket;
use super::{TcpListener, TcpStream, UdpSocket};

/// Options shared by the builders; `None` leaves the OS default.
#[derive(Debug, Clone, Default)]
struct Opts {
    reuse_address: Option<bool>,
    reuse_port: Option<bool>,
    recv_buffer_size: Option<usize>,
    send_buffer_size: Option<usize>,
    nodelay: Option<bool>,
    keepalive: Option<Option<Duration>>,
    only_v6: Option<bool>,
    broadcast: Option<bool>,
}

impl Opts {
    fn apply(&self, s: &Socket, addr: &SocketAddr) -> io::Result<()> {
        if let Some(on) = self.reuse_address {
            s.set_reuse_address(on)?;
        }
        if let Some(on) = self.reuse_port {
            s.set_reuse_port(on)?;
        }
        if let Some(n) = self.recv_buffer_size {
            s.set_recv_buffer_size(n)?;
        }
        if let Some(n) = self.send_buffer_size {
            s.set_send_buffer_size(n)?;
        }
        if let Some(on) = self.nodelay {
            s.set_tcp_nodelay(on)?;
        }
        match self.keepalive {
            None => {}
            Some(None) => s.set_keepalive(false)?,
            Some(Some(idle)) => s.set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))?,
        }
        if let (Some(on), SocketAddr::V6(_)) = (self.only_v6, addr) {
            s.set_only_v6(on)?;
        }
        if let Some(on) = self.broadcast {
            s.set_broadcast(on)?;
        }
        Ok(())
    }
}

macro_rules! opt_setters {
    () => {
        /// Sets `SO_REUSEADDR`.
        pub fn reuse_address(mut self, on: bool) -> Self {
            self.opts.reuse_address = Some(on);
            self
        }

        /// Sets `SO_REUSEPORT` (several sockets may bind the same port; the
        /// kernel balances between them).
        pub fn reuse_port(mut self, on: bool) -> Self {
            self.opts.reuse_port = Some(on);
            self
        }

        /// Sets `SO_RCVBUF` (the kernel may double or clamp it).
        pub fn recv_buffer_size(mut self, bytes: usize) -> Self {
            self.opts.recv_buffer_size = Some(bytes);
            self
        }

        /// Sets `SO_SNDBUF` (the kernel may double or clamp it).
        pub fn send_buffer_size(mut self, bytes: usize) -> Self {
            self.opts.send_buffer_size = Some(bytes);
            self
        }

        /// Sets `IPV6_V6ONLY` (IPv6 addresses only).
        pub fn only_v6(mut self, on: bool) -> Self {
            self.opts.only_v6 = Some(on);
            self
        }
    };
}

macro_rules! tcp_setters {
    () => {
        /// Sets `TCP_NODELAY`.
        pub fn nodelay(mut self, on: bool) -> Self {
            self.opts.nodelay = Some(on);
            self
        }

        /// Enables TCP keep-alive probes after `idle` without traffic
        /// (`SO_KEEPALIVE` + `TCP_KEEPIDLE`), or disables them with `None`.
        pub fn keepalive(mut self, idle: Option<Duration>) -> Self {
            self.opts.keepalive = Some(idle);
            self
        }
    };
}

/// Binds a [`TcpListener`] with options std lacks. Defaults: `SO_REUSEADDR`
/// on (as std), backlog 1024. On Linux, accepted streams inherit the
/// listener's `nodelay`, `keepalive` and buffer sizes.
///
/// ```
/// use verdant::net::TcpListener;
/// let l = TcpListener::builder()
///     .reuse_port(true)
///     .backlog(4096)
///     .nodelay(true)
///     .recv_buffer_size(1 << 16)
///     .bind("127.0.0.1:0")?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `bind` is called"]
pub struct TcpListenerBuilder {
    opts: Opts,
    backlog: i32,
}

impl Default for TcpListenerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TcpListenerBuilder {
    /// The defaults (see the type's docs).
    pub fn new() -> Self {
        TcpListenerBuilder {
            opts: Opts {
                reuse_address: Some(true),
                ..Opts::default()
            },
            backlog: 1024,
        }
    }

    /// The `listen(2)` backlog: connections the kernel completes before
    /// `accept` (capped by `net.core.somaxconn`).
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog.min(i32::MAX as u32) as i32;
        self
    }

    opt_setters!();
    tcp_setters!();

    /// Creates the socket, applies the options, binds and listens, trying
    /// each address of `addr` in turn.
    pub fn bind<A: ToSocketAddrs>(&self, addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| {
            let s = socket(Domain::for_address(*a), Type::STREAM, Some(Protocol::TCP))?;
            self.opts.apply(&s, a)?;
            s.bind(&SockAddr::from(*a))?;
            s.listen(self.backlog)?;
            Ok(TcpListener::from_nonblocking(s.into()))
        })
    }
}

/// Connects a [`TcpStream`] with options set before the handshake.
///
/// ```
/// use std::time::Duration;
/// use verdant::net::{TcpListener, TcpStream};
/// let l = TcpListener::bind("127.0.0.1:0")?;
/// let s = TcpStream::builder()
///     .nodelay(true)
///     .send_buffer_size(1 << 16)
///     .local_addr("127.0.0.1:0".parse().unwrap())
///     .connect_timeout(&l.local_addr()?, Duration::from_secs(5))?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `connect` is called"]
pub struct TcpStreamBuilder {
    opts: Opts,
    local: Option<SocketAddr>,
}

impl TcpStreamBuilder {
    /// No options set.
    pub fn new() -> Self {
        Self::default()
    }

    opt_setters!();
    tcp_setters!();

    /// Binds the socket to `addr` before connecting (source address/port).
    pub fn local_addr(mut self, addr: SocketAddr) -> Self {
        self.local = Some(addr);
        self
    }

    /// Connects to the first address of `addr` that accepts.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| self.connect_deadline(a, None))
    }

    /// Connects, failing with `TimedOut` after `timeout`.
    pub fn connect_timeout(&self, addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        self.connect_deadline(addr, Instant::now().checked_add(timeout))
    }

    /// Non-blocking connect, then wait for writability and check
    /// `SO_ERROR`.
    pub(crate) fn connect_deadline(&self, addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let s = socket(Domain::for_address(*addr), Type::STREAM, Some(Protocol::TCP))?;
        self.opts.apply(&s, addr)?;
        if let Some(local) = self.local {
            s.bind(&SockAddr::from(local))?;
        }
        let in_progress = match s.connect(&SockAddr::from(*addr)) {
            Ok(()) => false,
            // EINTR: the handshake goes on asynchronously (POSIX).
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR)) => true,
            Err(e) => return Err(e),
        };
        let stream = TcpStream::from_nonblocking(s.into());
        if in_progress {
            stream.finish_connect(deadline)?;
        }
        Ok(stream)
    }
}

/// Binds a [`UdpSocket`] with options std lacks.
///
/// ```
/// let s = verdant::net::UdpSocket::builder()
///     .reuse_address(true)
///     .broadcast(true)
///     .recv_buffer_size(1 << 20)
///     .bind("127.0.0.1:0")?;
/// assert!(s.broadcast()?);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `bind` is called"]
pub struct UdpSocketBuilder {
    opts: Opts,
}

impl UdpSocketBuilder {
    /// No options set.
    pub fn new() -> Self {
        Self::default()
    }

    opt_setters!();

    /// Sets `SO_BROADCAST`.
    pub fn broadcast(mut self, on: bool) -> Self {
        self.opts.broadcast = Some(on);
        self
    }

    /// Creates the socket, applies the options and binds it to the first
    /// address of `addr` that works.
    pub fn bind<A: ToSocketAddrs>(&self, addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| {
            let s = socket(Domain::for_address(*a), Type::DGRAM, Some(Protocol::UDP))?;
            self.opts.apply(&s, a)?;
            s.bind(&SockAddr::from(*a))?;
            Ok(UdpSocket::from_nonblocking(s.into()))
        })
    }
}
