//! The glue that runs ureq on verdant: a [`GreenConnector`] that opens a
//! `verdant::net::TcpStream`, the [`GreenTransport`] ureq speaks HTTP/1.1
//! over, and a [`GreenResolver`] that asks verdant's resolver.
//!
//! Nothing here blocks a worker: every wait is a verdant socket call (the
//! green thread parks on its worker's reactor; a plain OS thread waits in
//! `poll(2)`), and name lookups go to [`crate::net::lookup_host_port`]
//! (green DNS, or `getaddrinfo` on the blocking pool). ureq's own
//! `TcpConnector` (std sockets) and `DefaultResolver` (`getaddrinfo`, on a
//! spawned OS thread when a timeout applies) are never constructed.
//!
//! # TLS (feature `tls`)
//!
//! ureq's connectors form a chain: each gets the transport the previous one
//! made and may wrap it. [`connector`] returns the chain: `GreenConnector`,
//! then (feature `tls`) [`TlsConnector`], which for an `https` URL runs
//! verdant's own [`TlsStream`](crate::tls::TlsStream) handshake over the
//! new [`TcpStream`] and hands on a [`GreenTransport`] over the
//! `TlsStream`. The same transport code (timeouts, stale connections, the
//! reuse probe) serves both: it is generic over the [`Socket`] it talks
//! through, and every wait is still a verdant socket call, so a handshake
//! parks exactly like plain HTTP does.
//!
//! Why not ureq's own `RustlsConnector` (feature `rustls-no-provider`): it
//! builds its rustls `ClientConfig` itself from ureq's `TlsConfig`, so it
//! cannot take the caller's `ClientConfig` (the one
//! [`ClientBuilder::tls_config`](super::ClientBuilder::tls_config) and
//! `verdant::tls` hand out); its root store is either webpki's roots or a
//! given list instead of them, never both (adding a private CA to
//! Mozilla's roots would need another crate of root certificates); its
//! crypto provider is set through a function ureq calls unversioned; and
//! its handshake errors are fixed strings that do not name the host. With
//! verdant's `TlsStream` the client and a hand-made TLS connection share
//! one config type, one provider and one error style.
//!
//! # Timeouts
//!
//! ureq hands each I/O call a [`NextTimeout`]: the time left before the
//! nearest of the request's deadlines (connect, whole request, ...). It is
//! applied as the verdant socket's read or write timeout, set only when it
//! changed (a cheap field store in verdant, but kept minimal anyway). An
//! expired socket timeout reads as `WouldBlock` (std's `EAGAIN`), which is
//! reported to ureq as `Error::Timeout` with the deadline's reason.

use std::fmt;
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport};
#[cfg(feature = "tls")]
use ureq::unversioned::transport::{ChainedConnector, Either};

use crate::net::TcpStream;
use crate::runtime::scheduler::Shared;
#[cfg(feature = "tls")]
use crate::tls::{ClientConfig, TlsStream};

/// The connector chain ureq's agent uses: plain TCP only.
#[cfg(not(feature = "tls"))]
pub(super) fn connector() -> GreenConnector {
    GreenConnector
}

/// The connector chain ureq's agent uses: TCP, then TLS for `https` with
/// `config` (see the module docs).
#[cfg(feature = "tls")]
pub(super) fn connector(config: Arc<ClientConfig>) -> ChainedConnector<(), GreenConnector, TlsConnector> {
    GreenConnector.chain(TlsConnector { config })
}

/// A connection's byte stream: a verdant [`TcpStream`], or (feature `tls`)
/// a [`TlsStream`] over one.
pub(super) trait Socket: Read + Write + fmt::Debug + Send + Sync + 'static {
    /// Whether this stream encrypts (ureq's `Transport::is_tls`).
    const TLS: bool;

    /// The TCP socket underneath: its timeouts, the reuse probe.
    fn tcp(&self) -> &TcpStream;

    /// Whether bytes were received and not read above the socket (inside
    /// TLS), where a peek on the socket cannot see them.
    fn has_buffered(&mut self) -> bool;
}

impl Socket for TcpStream {
    const TLS: bool = false;

    fn tcp(&self) -> &TcpStream {
        self
    }

    fn has_buffered(&mut self) -> bool {
        false
    }
}

#[cfg(feature = "tls")]
impl Socket for TlsStream<TcpStream> {
    const TLS: bool = true;

    fn tcp(&self) -> &TcpStream {
        self.get_ref()
    }

    fn has_buffered(&mut self) -> bool {
        !self.buffered().is_empty()
    }
}

/// Opens a verdant [`TcpStream`] to the first resolved address that
/// accepts within the connect deadline.
#[derive(Debug)]
pub(super) struct GreenConnector;

/// A connection failure, carried through ureq as `Error::Other` so that
/// [`super::error`] can tell "could not connect" from an I/O error later in
/// the exchange.
#[derive(Debug)]
pub(super) struct ConnectFailed {
    pub(super) addr: Option<SocketAddr>,
    pub(super) error: io::Error,
}

impl std::fmt::Display for ConnectFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr {
            Some(addr) => write!(f, "cannot connect to {addr}: {}", self.error),
            None => write!(f, "cannot connect: {}", self.error),
        }
    }
}

impl std::error::Error for ConnectFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// A kept-alive connection that the server had closed: the request was
/// begun on a connection that already carried one, and it ended (or broke)
/// before a single byte of the response. The request never reached the
/// server's application, so an idempotent one may be sent again on another
/// connection (`super::send`).
#[derive(Debug)]
pub(super) struct Stale(pub(super) io::Error);

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server closed the kept-alive connection before answering: {}",
            self.0
        )
    }
}

impl std::error::Error for Stale {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A name lookup failure (the verdant resolver's `io::Error`, whose
/// payload names the host), carried through ureq as `Error::Other`.
#[derive(Debug)]
pub(super) struct ResolveFailed(pub(super) io::Error);

impl std::fmt::Display for ResolveFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ResolveFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The deadline `timeout` stands for, `None` if none applies.
fn deadline(timeout: &NextTimeout) -> Option<Instant> {
    if timeout.after.is_not_happening() {
        None
    } else {
        Instant::now().checked_add(*timeout.after)
    }
}

/// `Err(Timeout)` if `timeout` has already run out.
fn check(timeout: NextTimeout) -> Result<NextTimeout, ureq::Error> {
    if !timeout.after.is_not_happening() && timeout.after.is_zero() {
        Err(ureq::Error::Timeout(timeout.reason))
    } else {
        Ok(timeout)
    }
}

impl Connector<()> for GreenConnector {
    type Out = GreenTransport;

    fn connect(
        &self,
        details: &ConnectionDetails<'_>,
        chained: Option<()>,
    ) -> Result<Option<GreenTransport>, ureq::Error> {
        debug_assert!(chained.is_none(), "GreenConnector is the first of the chain");
        let timeout = check(details.timeout)?;
        let deadline = deadline(&timeout);
        let mut last = None;
        // At most 16 addresses (ureq's ResolvedSocketAddrs): bounded.
        for addr in details.addrs.iter() {
            let attempt = match deadline {
                None => TcpStream::builder().nodelay(true).connect(addr),
                Some(d) => match d.checked_duration_since(Instant::now()).filter(|t| !t.is_zero()) {
                    Some(left) => TcpStream::builder().nodelay(true).connect_timeout(addr, left),
                    None => return Err(ureq::Error::Timeout(timeout.reason)),
                },
            };
            match attempt {
                Ok(stream) => {
                    let config = details.config;
                    let buffers = LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
                    return Ok(Some(GreenTransport::new(stream, buffers)));
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(ureq::Error::Timeout(timeout.reason)),
                Err(e) => last = Some((*addr, e)),
            }
        }
        let (addr, error) = match last {
            Some((addr, e)) => (Some(addr), e),
            None => (None, io::Error::new(io::ErrorKind::NotFound, "the host has no address")),
        };
        Err(ureq::Error::Other(Box::new(ConnectFailed { addr, error })))
    }
}

/// One HTTP/1.1 connection: a [`Socket`] (a verdant [`TcpStream`], or TLS
/// over one) and ureq's buffers.
#[derive(Debug)]
pub(super) struct GreenTransport<S: Socket = TcpStream> {
    stream: S,
    buffers: LazyBuffers,
    /// The socket's read and write timeouts as last set, so that they are
    /// set again only when ureq's deadline moved.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// Requests begun on this connection: a write after reads (or the
    /// first write) begins one.
    exchanges: u32,
    /// Whether the last call was a write.
    writing: bool,
    /// Whether any byte of the current exchange's response has arrived.
    answered: bool,
    /// The runtime of the first green thread that used the connection: its
    /// socket may be registered with that runtime's reactor (see
    /// [`GreenTransport::is_open`]). `None` while only plain OS threads used it.
    home: Option<Weak<Shared>>,
}

/// The runtime of the calling green thread (or worker), `None` on a plain
/// OS thread.
fn current_runtime() -> Option<Weak<Shared>> {
    crate::runtime::context::worker().map(|w| Arc::downgrade(&w.shared))
}

impl<S: Socket> GreenTransport<S> {
    fn new(stream: S, buffers: LazyBuffers) -> GreenTransport<S> {
        GreenTransport {
            stream,
            buffers,
            read_timeout: None,
            write_timeout: None,
            exchanges: 0,
            writing: false,
            answered: false,
            home: None,
        }
    }

    /// Records the runtime of a green caller, before its first wait could
    /// register the socket with that runtime's reactor.
    fn note_caller(&mut self) {
        if self.home.is_none() {
            self.home = current_runtime();
        }
    }

    /// `e` (or end of file) on a reused connection before any byte of the
    /// answer: the server had closed it (see [`Stale`]).
    fn is_stale(&self) -> bool {
        self.exchanges > 1 && !self.answered
    }

    fn stale_or(&self, e: io::Error, timeout: &NextTimeout) -> ureq::Error {
        // `UnexpectedEof` comes only from TLS: the server closed the TCP
        // connection without a `close_notify` (a plain socket reads `Ok(0)`).
        let broken = matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        );
        if broken && self.is_stale() {
            ureq::Error::Other(Box::new(Stale(e)))
        } else {
            io_error(e, timeout)
        }
    }
}

/// The socket timeout for `timeout`: `None` if no deadline applies.
fn socket_timeout(timeout: &NextTimeout) -> Option<Duration> {
    timeout.not_zero().map(|d| *d)
}

/// An I/O error as ureq wants it: an expired socket timeout becomes
/// `Error::Timeout` with the deadline's reason.
fn io_error(e: io::Error, timeout: &NextTimeout) -> ureq::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ureq::Error::Timeout(timeout.reason),
        _ => ureq::Error::Io(e),
    }
}

/// How many `EINTR`s in a row one read or write tolerates before giving up
/// (verdant's sockets are non-blocking underneath, so this is not expected).
const MAX_INTERRUPTS: usize = 16;

impl<S: Socket> Transport for GreenTransport<S> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = check(timeout.for_write())?;
        self.note_caller();
        if !self.writing {
            self.writing = true;
            self.exchanges += 1;
            self.answered = false;
        }
        let t = socket_timeout(&timeout);
        if t != self.write_timeout {
            self.stream.tcp().set_write_timeout(t)?;
            self.write_timeout = t;
        }
        let mut output = &self.buffers.output()[..amount];
        let mut interrupts = 0;
        while !output.is_empty() {
            match self.stream.write(output) {
                Ok(0) => return Err(ureq::Error::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => output = &output[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted && interrupts < MAX_INTERRUPTS => interrupts += 1,
                Err(e) => return Err(self.stale_or(e, &timeout)),
            }
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = check(timeout.for_read())?;
        self.note_caller();
        self.writing = false;
        let t = socket_timeout(&timeout);
        if t != self.read_timeout {
            self.stream.tcp().set_read_timeout(t)?;
            self.read_timeout = t;
        }
        let input = self.buffers.input_append_buf();
        let mut interrupts = 0;
        let n = loop {
            match self.stream.read(input) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted && interrupts < MAX_INTERRUPTS => interrupts += 1,
                Err(e) => return Err(self.stale_or(e, &timeout)),
            }
        };
        if n == 0 && self.is_stale() {
            return Err(ureq::Error::Other(Box::new(Stale(io::ErrorKind::UnexpectedEof.into()))));
        }
        self.answered |= n > 0;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    /// Whether the idle connection can be reused by the caller (ureq asks
    /// under its pool lock, so nothing here waits):
    ///
    /// 1. A green caller may reuse only a connection of its own runtime (or
    ///    one only plain OS threads have used): a socket stays registered
    ///    with the reactor of the runtime that first waited on it, and
    ///    waiting on it after that runtime is dropped would never wake. One
    ///    client shared by several runtimes therefore does not share their
    ///    connections (a connection of another runtime is closed). A plain
    ///    OS thread waits in `poll(2)` and may reuse any.
    /// 2. Over TLS, no decrypted byte may be waiting unread (a stray byte
    ///    after the response: the connection's framing is lost).
    /// 3. A non-blocking `MSG_PEEK` must find nothing to read: end of file
    ///    (the server closed), stray bytes or an error mean it must not be
    ///    reused. One system call that never waits. (Over TLS, a record
    ///    the server sent after the response, such as its `close_notify`,
    ///    counts as stray bytes too: the connection is not reused.)
    fn is_open(&mut self) -> bool {
        if let (Some(home), Some(caller)) = (&self.home, current_runtime()) {
            if !Weak::ptr_eq(home, &caller) {
                return false;
            }
        }
        if self.stream.has_buffered() {
            return false;
        }
        let mut byte = [MaybeUninit::<u8>::uninit(); 1];
        let probe =
            socket2::SockRef::from(self.stream.tcp()).recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT);
        matches!(probe, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    fn is_tls(&self) -> bool {
        S::TLS
    }
}

/// Wraps the chain's new TCP connection in TLS when the URL is `https`
/// (see the module docs): the handshake runs here, within the connect
/// deadline, with the client's rustls config.
#[cfg(feature = "tls")]
#[derive(Debug)]
pub(super) struct TlsConnector {
    config: Arc<ClientConfig>,
}

#[cfg(feature = "tls")]
impl Connector<GreenTransport> for TlsConnector {
    type Out = Either<GreenTransport, GreenTransport<TlsStream<TcpStream>>>;

    fn connect(
        &self,
        details: &ConnectionDetails<'_>,
        chained: Option<GreenTransport>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(plain) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() {
            return Ok(Some(Either::A(plain)));
        }
        let host = details
            .uri
            .host()
            .ok_or_else(|| ureq::Error::BadUri(format!("{} has no host", details.uri)))?;
        // An IPv6 literal comes bracketed ("[::1]"); rustls wants it bare.
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        // What is left of the connect deadline after the TCP connect.
        let timeout = details.timeout;
        let left = if timeout.after.is_not_happening() {
            None
        } else {
            use ureq::unversioned::transport::time::Instant as At;
            let spent = match (details.now, (details.current_time)()) {
                (At::Exact(start), At::Exact(now)) => now.saturating_duration_since(start),
                _ => Duration::ZERO,
            };
            match timeout.after.checked_sub(spent) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Err(ureq::Error::Timeout(timeout.reason)),
            }
        };
        let GreenTransport { stream, buffers, .. } = plain;
        let addr = stream.peer_addr().ok();
        stream.set_read_timeout(left)?;
        stream.set_write_timeout(left)?;
        match TlsStream::connect(self.config.clone(), host, stream) {
            Ok(tls) => {
                let mut transport = GreenTransport::new(tls, buffers);
                transport.read_timeout = left;
                transport.write_timeout = left;
                Ok(Some(Either::B(transport)))
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                Err(ureq::Error::Timeout(timeout.reason))
            }
            // `e` names the host and the cause ("invalid peer certificate").
            Err(error) => Err(ureq::Error::Other(Box::new(ConnectFailed { addr, error }))),
        }
    }
}

/// Resolves the URL's host with verdant's resolver (that of the calling
/// green thread's runtime, or the global one), so a lookup parks the green
/// thread instead of blocking its worker.
#[derive(Debug)]
pub(super) struct GreenResolver;

impl Resolver for GreenResolver {
    fn resolve(
        &self,
        uri: &::http::Uri,
        _config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let timeout = check(timeout)?;
        let host = uri
            .host()
            .ok_or_else(|| ureq::Error::BadUri(format!("{uri} has no host")))?;
        // An IPv6 literal comes bracketed ("[::1]").
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let port = match uri.port_u16() {
            Some(port) => port,
            None if uri.scheme_str() == Some("https") => 443,
            None => 80,
        };
        let lookup = || crate::net::lookup_host_port(host, port);
        let found = if timeout.after.is_not_happening() {
            lookup()
        } else {
            match crate::time::timeout(*timeout.after, lookup) {
                Ok(found) => found,
                Err(_elapsed) => return Err(ureq::Error::Timeout(timeout.reason)),
            }
        };
        // The resolver's own timeout (no nameserver answered) is a lookup
        // failure, not the request's deadline: that one is `Elapsed` above.
        let found = found.map_err(|e| ureq::Error::Other(Box::new(ResolveFailed(e))))?;
        let mut addrs = self.empty();
        for addr in found {
            if addrs.try_push(addr).is_err() {
                break; // ureq keeps at most 16
            }
        }
        if addrs.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(addrs)
    }
}
