//! The HTTP/1.1 server: [`Server`], [`ServerBuilder`], [`ServerHandle`].
//!
//! One green thread per connection, as Go's `net/http` does: the accept
//! loop is [`crate::net::serve_background`] (its connection limit, accept
//! backoff and drain), and each connection's thread runs `conn.rs`'s loop,
//! generic over the stream (`transport.rs`) so that TLS can plug in. Files:
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the API, configuration, start and stop |
//! | `conn.rs` | one connection: the request/response loop, closing, upgrades, the registry for a graceful stop |
//! | `head.rs` | reading and checking a request head (httparse) |
//! | `io.rs` | the read buffer and the request-body decoder shared with the handler's `Body` |
//! | `write.rs` | response framing and writing, the `Date` cache |
//! | `transport.rs` | the stream trait, for `TcpStream` and `TlsStream<TcpStream>` |
//! | `upgrade.rs` | `OnUpgrade`, `Upgraded` |
//!
//! **How TLS plugs in** (feature `tls`, [`ServerBuilder::tls`]).
//! `serve_background`'s per-connection closure registers the accepted
//! `TcpStream` (the registry shuts that socket to close an idle connection
//! at a stop) and calls `conn::serve_connection(stream, ..)`. With TLS,
//! `conn::handshake` comes between, on the connection's own green thread:
//! it registers the `TcpStream` (counted idle until the handshake is done,
//! so a stop cuts a handshake short), runs `TlsStream::accept` bounded by
//! `header_timeout` (through `crate::timeout_at`), and passes the TLS
//! stream, which implements `Transport` (`set_write_timeout` on the socket
//! underneath, `shutdown_write` sending `close_notify` first,
//! `has_buffered` for decrypted bytes that a wait on the socket could not
//! see), to `serve_connection`. Nothing else in the connection code knows
//! what the stream is; an upgraded TLS connection is handed over as an
//! `Upgraded` whose `downcast` yields the TLS stream type.

mod conn;
mod head;
mod io;
mod transport;
mod upgrade;
mod write;

use std::fmt;
use std::io as stdio;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use self::conn::Registry;
pub use self::upgrade::{OnUpgrade, Upgraded};
use crate::http::{Body, Request, Response};
use crate::net::{TcpListener, ToSocketAddrs};

/// The limits and timeouts of a server; see [`ServerBuilder`] for each.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    max_header_bytes: usize,
    max_headers: usize,
    max_body_bytes: u64,
    max_drain_bytes: u64,
    header_timeout: Duration,
    idle_timeout: Duration,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    max_connections: usize,
    backlog: u32,
    /// Serve HTTPS with this config (ALPN already set to `http/1.1`).
    #[cfg(feature = "tls")]
    tls: Option<Arc<crate::tls::ServerConfig>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_body_bytes: 16 * 1024 * 1024,
            max_drain_bytes: 256 * 1024,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            read_timeout: Some(Duration::from_secs(60)),
            write_timeout: Some(Duration::from_secs(60)),
            max_connections: 10_000,
            backlog: 1024,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl Config {
    fn limits(&self) -> io::Limits {
        io::Limits {
            max_body: self.max_body_bytes,
            max_head: self.max_header_bytes,
            read_timeout: self.read_timeout,
        }
    }
}

/// An HTTP/1.1 server bound to a TCP address, ready to serve.
///
/// Each connection gets its own green thread, which reads requests, calls
/// the handler and writes its responses, in order (keep-alive and
/// pipelining included), so a handler is plain blocking code: it reads the
/// request body as it arrives (a [`Body`] is a [`Read`](std::io::Read)),
/// may block on anything, and returns the [`Response`].
///
/// What the server does for you:
///
/// - **Framing.** Request bodies by `Content-Length` or chunked (trailers
///   accepted and ignored), streamed to the handler, never read whole
///   ahead of it. Response bodies get `Content-Length` when
///   [`Body::len`] is known, else chunked encoding (HTTP/1.1) or the end
///   of the connection (HTTP/1.0); framing is the server's business, so
///   a handler's own `Content-Length`, `Transfer-Encoding` and
///   `Connection` headers are replaced (`Connection: close` is honoured).
///   `HEAD` responses carry the headers a `GET` would, without the body:
///   return what a `GET` would (the body is dropped unsent, its length is
///   sent), or an empty body with your own `Content-Length`.
/// - **Connections.** HTTP/1.1 keep-alive and pipelining; HTTP/1.0 keeps
///   the connection only if asked (`Connection: keep-alive`);
///   `Connection: close` from either side is honoured. A body the handler
///   did not read is drained (up to 256 KiB) so the next request can be
///   read, else the connection closes: it is never desynchronised.
/// - **`Expect: 100-continue`.** `100 Continue` is sent when the handler
///   first reads the body; a handler that never reads it answers without
///   the client having sent it, and the connection then closes.
/// - **Checks.** Ambiguous framing (`Content-Length` with
///   `Transfer-Encoding`, any `Transfer-Encoding` other than `chunked`,
///   differing or non-numeric lengths, broken chunks) is `400` and closes
///   the connection, so requests cannot be smuggled past a proxy; a head
///   over the limits is `431`; a body over its limit is `413`; an
///   `Expect` other than `100-continue` is `417`; a head that does not
///   arrive within the header timeout gets `408`.
/// - **Panics.** A handler that panics gets its client a `500` (and the
///   connection closes); the server goes on. A cancelled connection thread
///   (after a stop's drain timeout) is not a panic and just ends.
/// - **`Date`** on every response, unless the handler set one.
///
/// Upgrades (WebSocket and the like) are [`OnUpgrade`]'s.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use verdant::http::{Response, Server};
///
/// let server = Server::bind("127.0.0.1:0")?
///     .serve_background(|req| Response::new(format!("you asked for {}", req.uri().path()).into()))?;
///
/// let mut conn = verdant::net::TcpStream::connect(server.local_addr())?;
/// conn.write_all(b"GET /hello HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n")?;
/// let mut answer = String::new();
/// conn.read_to_string(&mut answer)?;
/// assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(answer.ends_with("\r\n\r\nyou asked for /hello"));
/// server.stop()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    cfg: Config,
}

impl Server {
    /// Binds a server with the default limits to `addr` (see
    /// [`ServerBuilder`] for them).
    ///
    /// ```
    /// let server = verdant::http::Server::bind("127.0.0.1:0")?;
    /// assert!(server.local_addr().port() != 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> stdio::Result<Server> {
        ServerBuilder::new().bind(addr)
    }

    /// A builder, to set limits and timeouts before binding.
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = verdant::http::Server::builder()
    ///     .header_timeout(Duration::from_secs(10))
    ///     .max_connections(50_000)
    ///     .bind("127.0.0.1:0")?;
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> ServerBuilder {
        ServerBuilder::new()
    }

    /// The address the server is bound to (the port chosen, if it was 0).
    ///
    /// ```
    /// let server = verdant::http::Server::bind("127.0.0.1:0")?;
    /// assert!(server.local_addr().ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves with `handler` until accepting fails for good; blocks the
    /// caller (parks a green one). Use [`Server::serve_background`] for a
    /// server you can stop.
    ///
    /// ```no_run
    /// use verdant::http::{Response, Server};
    ///
    /// Server::bind("127.0.0.1:8080")?.serve(|_req| Response::new("Hello, World!".into()))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn serve<H>(self, handler: H) -> stdio::Result<()>
    where
        H: Fn(Request<Body>) -> Response<Body> + Send + Sync + 'static,
    {
        self.serve_background(handler)?.wait()
    }

    /// Starts serving with `handler` in the background and returns a handle
    /// to stop the server. The acceptor and the connections run on the
    /// current runtime (the caller's, else the global one; call this inside
    /// `Runtime::block_on` to pick one).
    ///
    /// ```
    /// use verdant::http::{Response, Server};
    ///
    /// let server = Server::bind("127.0.0.1:0")?.serve_background(|_req| Response::new("hi".into()))?;
    /// println!("serving on {}", server.local_addr());
    /// server.stop()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn serve_background<H>(self, handler: H) -> stdio::Result<ServerHandle>
    where
        H: Fn(Request<Body>) -> Response<Body> + Send + Sync + 'static,
    {
        let cfg = Arc::new(self.cfg);
        let registry = Arc::new(Registry::default());
        let handler = Arc::new(handler);
        let (c, r) = (cfg.clone(), registry.clone());
        let inner = crate::net::serve_background(self.listener, cfg.max_connections, move |stream, _peer| {
            #[cfg(feature = "tls")]
            if let Some(tls) = &c.tls {
                if let Some((stream, accepted, guard)) = conn::handshake(stream, tls, &c, &r) {
                    conn::serve_connection(stream, accepted, &c, &*handler, &guard);
                }
                return Ok(());
            }
            let accepted = std::time::Instant::now();
            if let Some(guard) = r.register(&stream) {
                conn::serve_connection(stream, accepted, &c, &*handler, &guard);
            }
            Ok(())
        })?;
        Ok(ServerHandle { inner, registry })
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("config", &self.cfg)
            .finish()
    }
}

/// Limits and timeouts for a [`Server`], then [`ServerBuilder::bind`].
///
/// The defaults are meant for a server facing the internet:
///
/// | setting | default | when exceeded |
/// |---|---|---|
/// | [`max_header_bytes`](Self::max_header_bytes) | 64 KiB | `431`, close |
/// | [`max_headers`](Self::max_headers) | 100 | `431`, close |
/// | [`max_body_bytes`](Self::max_body_bytes) | 16 MiB | `413`, close |
/// | [`header_timeout`](Self::header_timeout) | 30 s for the whole head | `408`, close |
/// | [`idle_timeout`](Self::idle_timeout) | 60 s between requests | close |
/// | [`read_timeout`](Self::read_timeout) | 60 s per read of a body | the body read fails, close |
/// | [`write_timeout`](Self::write_timeout) | 60 s per write | close |
/// | [`max_connections`](Self::max_connections) | 10 000 | accepting waits |
///
/// A slow client costs one parked green thread, never a worker.
///
/// ```
/// use std::time::Duration;
/// use verdant::http::{Response, Server};
///
/// let server = Server::builder()
///     .max_body_bytes(1 << 30)
///     .idle_timeout(Duration::from_secs(5))
///     .bind("127.0.0.1:0")?
///     .serve_background(|_req| Response::new("ok".into()))?;
/// server.stop()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ServerBuilder {
    cfg: Config,
}

impl ServerBuilder {
    /// A builder with the default limits.
    ///
    /// ```
    /// let b = verdant::http::ServerBuilder::new();
    /// # drop(b);
    /// ```
    pub fn new() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The longest request head (request line and headers) accepted; a
    /// longer one is answered `431` and the connection closes. Default
    /// 64 KiB.
    ///
    /// ```
    /// let b = verdant::http::Server::builder().max_header_bytes(16 * 1024);
    /// # drop(b);
    /// ```
    pub fn max_header_bytes(mut self, bytes: usize) -> ServerBuilder {
        self.cfg.max_header_bytes = bytes.max(64);
        self
    }

    /// The most header fields a request may have (`431` beyond). Default
    /// 100.
    ///
    /// ```
    /// let b = verdant::http::Server::builder().max_headers(50);
    /// # drop(b);
    /// ```
    pub fn max_headers(mut self, n: usize) -> ServerBuilder {
        self.cfg.max_headers = n;
        self
    }

    /// The largest request body accepted. A larger `Content-Length` is
    /// answered `413` before the handler runs; a chunked body that grows
    /// past it fails the handler's read and is answered `413` (unless the
    /// response has started). Default 16 MiB; `u64::MAX` for no limit.
    ///
    /// ```
    /// let b = verdant::http::Server::builder().max_body_bytes(1024 * 1024);
    /// # drop(b);
    /// ```
    pub fn max_body_bytes(mut self, bytes: u64) -> ServerBuilder {
        self.cfg.max_body_bytes = bytes;
        self
    }

    /// How long a whole request head may take to arrive, from its first
    /// byte (from the accept, for a connection's first request): a client
    /// that trickles its head slower is answered `408` and cut off.
    /// Default 30 s.
    ///
    /// ```
    /// let b = verdant::http::Server::builder().header_timeout(std::time::Duration::from_secs(5));
    /// # drop(b);
    /// ```
    pub fn header_timeout(mut self, dur: Duration) -> ServerBuilder {
        self.cfg.header_timeout = dur;
        self
    }

    /// How long a kept-alive connection may wait for its next request
    /// before the server closes it. Default 60 s.
    ///
    /// ```
    /// let b = verdant::http::Server::builder().idle_timeout(std::time::Duration::from_secs(10));
    /// # drop(b);
    /// ```
    pub fn idle_timeout(mut self, dur: Duration) -> ServerBuilder {
        self.cfg.idle_timeout = dur;
        self
    }

    /// How long each read of a request body may wait for data (the
    /// handler's read then fails with `TimedOut`, and the connection
    /// closes); `None` waits forever. Default 60 s.
    ///
    /// ```
    /// let b = verdant::http::Server::builder().read_timeout(Some(std::time::Duration::from_secs(20)));
    /// # drop(b);
    /// ```
    pub fn read_timeout(mut self, dur: Option<Duration>) -> ServerBuilder {
        self.cfg.read_timeout = dur;
        self
    }

    /// How long each write to a client may wait (a client that does not
    /// read its responses is then dropped); `None` waits forever. Default
    /// 60 s.
    ///
    /// ```
    /// let b = verdant::http::Server::builder().write_timeout(None);
    /// # drop(b);
    /// ```
    pub fn write_timeout(mut self, dur: Option<Duration>) -> ServerBuilder {
        self.cfg.write_timeout = dur;
        self
    }

    /// The most connections served at once; further clients wait in the
    /// listen backlog until one closes. Default 10 000 (at least 1).
    ///
    /// ```
    /// let b = verdant::http::Server::builder().max_connections(100_000);
    /// # drop(b);
    /// ```
    pub fn max_connections(mut self, n: usize) -> ServerBuilder {
        self.cfg.max_connections = n.max(1);
        self
    }

    /// The listen backlog. Default 1024.
    ///
    /// ```
    /// let b = verdant::http::Server::builder().backlog(4096);
    /// # drop(b);
    /// ```
    pub fn backlog(mut self, backlog: u32) -> ServerBuilder {
        self.cfg.backlog = backlog;
        self
    }

    /// Serves HTTPS (feature `tls`): every connection starts with a TLS
    /// handshake presenting `config`'s certificate, then HTTP/1.1 runs
    /// inside it exactly as over plain TCP (keep-alive, pipelining,
    /// limits, upgrades, graceful stop).
    ///
    /// - The config's ALPN protocols are replaced by `http/1.1`, the only
    ///   protocol the server speaks (on a copy; your `Arc` is untouched):
    ///   a client that offers ALPN without `http/1.1` (only `h2`) fails
    ///   its handshake, one that offers none is served.
    /// - The handshake runs on the connection's own green thread, never
    ///   the acceptor's, and must finish within
    ///   [`header_timeout`](Self::header_timeout) (counted from the
    ///   accept, together with the first request's head): a client that
    ///   connects and sends nothing is cut off then.
    /// - A failed handshake (plain HTTP sent to the port, a client that
    ///   rejects the certificate) just closes that connection; nothing is
    ///   logged.
    /// - A graceful stop closes connections still in their handshake at
    ///   once, as it closes idle ones.
    /// - An upgraded connection ([`Upgraded::downcast`]) is a
    ///   [`TlsStream<TcpStream>`](crate::tls::TlsStream).
    ///
    /// Make the config with [`crate::tls::server_config`] from PEM files,
    /// or with [`rustls`](crate::tls::rustls) itself.
    ///
    /// ```
    /// use std::io::Read;
    /// use verdant::http::{Client, Response, Server};
    /// use verdant::tls;
    ///
    /// # let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    /// # let (cert_pem, key_pem) = (c.cert.pem(), c.signing_key.serialize_pem());
    /// // A real server reads its certificate chain and key from files.
    /// let config = tls::server_config(cert_pem.as_bytes(), key_pem.as_bytes())?;
    /// let server = Server::builder()
    ///     .tls(config)
    ///     .bind("127.0.0.1:0")?
    ///     .serve_background(|_req| Response::new("secret".into()))?;
    ///
    /// // A client that trusts the (here self-signed) certificate.
    /// let client = Client::builder()
    ///     .tls_config(tls::client_config_with_roots(cert_pem.as_bytes())?)
    ///     .build();
    /// let url = format!("https://{}/", server.local_addr());
    /// let mut resp = client.get(&url).expect("https works");
    /// let mut text = String::new();
    /// resp.body_mut().read_to_string(&mut text)?;
    /// assert_eq!(text, "secret");
    /// server.stop()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: Arc<crate::tls::ServerConfig>) -> ServerBuilder {
        let mut config = Arc::unwrap_or_clone(config);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        self.cfg.tls = Some(Arc::new(config));
        self
    }

    /// Binds the listener (with `TCP_NODELAY` for the connections, since
    /// each response is written whole) and returns the server.
    ///
    /// ```
    /// let server = verdant::http::Server::builder().bind("127.0.0.1:0")?;
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(self, addr: A) -> stdio::Result<Server> {
        let listener = TcpListener::builder()
            .backlog(self.cfg.backlog)
            .nodelay(true)
            .bind(addr)?;
        Ok(Server {
            local_addr: listener.local_addr()?,
            listener,
            cfg: self.cfg,
        })
    }
}

/// A running server (see [`Server::serve_background`]).
///
/// Dropping the handle **detaches** the server: it keeps serving, like a
/// dropped [`JoinHandle`](crate::JoinHandle)'s thread keeps running, until
/// the process (or, for a [`Runtime`](crate::Runtime) of its own, that
/// runtime) ends. Call [`ServerHandle::stop`] or
/// [`ServerHandle::stop_timeout`] to end it.
///
/// ```
/// use verdant::http::{Response, Server};
/// let server = Server::bind("127.0.0.1:0")?.serve_background(|_| Response::new(().into()))?;
/// assert_eq!(server.connections(), 0);
/// server.stop()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "dropping a ServerHandle detaches the server; call `stop` to end it"]
pub struct ServerHandle {
    inner: crate::net::Server,
    registry: Arc<Registry>,
}

impl ServerHandle {
    /// The address the server listens on.
    ///
    /// ```
    /// use verdant::http::{Response, Server};
    /// let server = Server::bind("127.0.0.1:0")?.serve_background(|_| Response::new(().into()))?;
    /// let addr = server.local_addr();
    /// # server.stop()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    /// Connections open now (busy or idle).
    ///
    /// ```
    /// use verdant::http::{Response, Server};
    /// let server = Server::bind("127.0.0.1:0")?.serve_background(|_| Response::new(().into()))?;
    /// assert_eq!(server.connections(), 0);
    /// # server.stop()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connections(&self) -> usize {
        self.inner.connections()
    }

    /// Stops gracefully, waiting as long as it takes: stops accepting (the
    /// listener closes, so new connections are refused), closes idle
    /// keep-alive connections at once, and lets requests in flight finish
    /// (their responses say `Connection: close`). Returns the error that
    /// had ended the accept loop already, if one did. Must not be called
    /// from one of the server's own handlers (it would wait for itself).
    ///
    /// ```
    /// use verdant::http::{Response, Server};
    /// let server = Server::bind("127.0.0.1:0")?.serve_background(|_| Response::new(().into()))?;
    /// server.stop()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(self) -> stdio::Result<()> {
        self.registry.close_idle();
        self.inner.stop()
    }

    /// Like [`ServerHandle::stop`], but connections still busy after
    /// `drain` are cancelled: their green threads unwind from their next
    /// blocking call (sockets close) and are waited for.
    ///
    /// ```
    /// use std::time::Duration;
    /// use verdant::http::{Response, Server};
    /// let server = Server::bind("127.0.0.1:0")?.serve_background(|_| Response::new(().into()))?;
    /// server.stop_timeout(Duration::from_secs(5))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop_timeout(self, drain: Duration) -> stdio::Result<()> {
        self.registry.close_idle();
        self.inner.stop_timeout(drain)
    }

    /// Waits until the accept loop ends by itself (a non-temporary accept
    /// error) and the connections have closed; returns that error.
    ///
    /// ```no_run
    /// use verdant::http::{Response, Server};
    /// let server = Server::bind("127.0.0.1:8080")?.serve_background(|_| Response::new(().into()))?;
    /// server.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(self) -> stdio::Result<()> {
        self.inner.wait()
    }
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr())
            .field("connections", &self.connections())
            .finish()
    }
}
