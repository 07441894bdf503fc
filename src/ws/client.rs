//! The client side: [`connect`], [`ClientBuilder`] and the stream they
//! open, [`MaybeTlsStream`].

use std::fmt;
use std::io::{self, Read, Write};
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::time::Duration;

use tungstenite::client::{uri_mode, IntoClientRequest};
use tungstenite::error::UrlError;
use tungstenite::handshake::client::Response;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::{WebSocket, WebSocketConfig};
use tungstenite::stream::Mode;
use tungstenite::Error;

use super::server::handshake_timed_out;
use crate::net::TcpStream;
#[cfg(feature = "tls")]
use crate::tls::{ClientConfig, TlsStream};

/// Opens a WebSocket to `url` (`ws://host[:port]/path`, or `wss://` with
/// feature `tls`): looks the host up with verdant's resolver, connects a
/// [`TcpStream`], does TLS for `wss://` (trusting
/// [`tls::client_config`](crate::tls::client_config)'s roots), then the
/// WebSocket handshake. Each step parks a green caller; on a plain OS
/// thread it blocks.
///
/// `url` is anything tungstenite takes ([`IntoClientRequest`]): a `&str`, a
/// `String`, an [`http::Uri`](crate::http::Uri), or a
/// [`Request<()>`](crate::http::Request) built by
/// [`IntoClientRequest::into_client_request`] with headers of your own
/// (`Sec-WebSocket-Protocol`, `Authorization`).
///
/// No timeout applies: see [`ClientBuilder`] for a connect timeout and the
/// socket's read and write timeouts. A server that answers other than
/// `101` is [`WsError::Http`](super::WsError::Http) with its response;
/// `wss://` without feature `tls` is
/// `WsError::Url(UrlError::TlsFeatureNotEnabled)`.
///
/// ```no_run
/// use verdant::ws::{self, Message};
///
/// let (mut ws, response) = ws::connect("wss://echo.example.com/")?;
/// println!("upgraded: {}", response.status());
/// ws.send(Message::text("hello"))?;
/// println!("{}", ws.read()?);
/// ws.close(None)?;
/// # Ok::<(), verdant::ws::WsError>(())
/// ```
pub fn connect<R: IntoClientRequest>(url: R) -> Result<(WebSocket<MaybeTlsStream>, Response), Error> {
    ClientBuilder::new().connect(url)
}

/// Options for opening a WebSocket: a connect timeout, the socket's read
/// and write timeouts, the TLS config for `wss://`, the protocol config.
///
/// ```no_run
/// use std::time::Duration;
/// use verdant::ws::ClientBuilder;
///
/// let (mut ws, _) = ClientBuilder::new()
///     .connect_timeout(Duration::from_secs(5))
///     .read_timeout(Some(Duration::from_secs(30)))
///     .connect("ws://127.0.0.1:8080/ws")?;
/// let msg = ws.read()?; // fails with `TimedOut`/`WouldBlock` after 30 s
/// # Ok::<(), verdant::ws::WsError>(())
/// ```
#[derive(Clone, Default)]
pub struct ClientBuilder {
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    config: Option<WebSocketConfig>,
    #[cfg(feature = "tls")]
    tls: Option<Arc<ClientConfig>>,
}

impl ClientBuilder {
    /// No timeouts, tungstenite's default protocol config, and for
    /// `wss://` [`tls::client_config`](crate::tls::client_config).
    ///
    /// ```
    /// let builder = verdant::ws::ClientBuilder::new();
    /// # let _ = builder;
    /// ```
    pub fn new() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Bounds the whole of [`connect`](Self::connect): name lookup, TCP
    /// connect, TLS handshake and WebSocket handshake. Past it, `connect`
    /// fails with [`WsError::Io`](super::WsError::Io) of kind `TimedOut`.
    /// It does not apply to the WebSocket once open.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = verdant::ws::ClientBuilder::new().connect_timeout(Duration::from_secs(5));
    /// # let _ = builder;
    /// ```
    pub fn connect_timeout(mut self, dur: Duration) -> ClientBuilder {
        self.connect_timeout = Some(dur);
        self
    }

    /// The socket's read timeout, set before the handshake (so it bounds
    /// each of its reads) and kept on the open WebSocket: a
    /// [`WebSocket::read`] that waits longer fails with
    /// [`WsError::Io`](super::WsError::Io) of kind `WouldBlock` (as std's
    /// sockets on Linux), and the WebSocket stays usable. Change it later
    /// with [`MaybeTlsStream::set_read_timeout`] through
    /// [`WebSocket::get_ref`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = verdant::ws::ClientBuilder::new().read_timeout(Some(Duration::from_secs(30)));
    /// # let _ = builder;
    /// ```
    pub fn read_timeout(mut self, dur: Option<Duration>) -> ClientBuilder {
        self.read_timeout = dur;
        self
    }

    /// The socket's write timeout, as [`read_timeout`](Self::read_timeout)
    /// (a send that times out keeps the unsent bytes buffered; the next
    /// send or flush writes them first).
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = verdant::ws::ClientBuilder::new().write_timeout(Some(Duration::from_secs(10)));
    /// # let _ = builder;
    /// ```
    pub fn write_timeout(mut self, dur: Option<Duration>) -> ClientBuilder {
        self.write_timeout = dur;
        self
    }

    /// The protocol config (message and frame size limits, buffer sizes).
    ///
    /// ```
    /// use verdant::ws::{ClientBuilder, WebSocketConfig};
    /// let builder = ClientBuilder::new().config(WebSocketConfig::default().max_message_size(Some(1 << 20)));
    /// # let _ = builder;
    /// ```
    pub fn config(mut self, config: WebSocketConfig) -> ClientBuilder {
        self.config = Some(config);
        self
    }

    /// The TLS config for `wss://` (feature `tls`): roots of your own (a
    /// private CA, a test certificate), client certificates, ALPN.
    ///
    /// ```
    /// # let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let root_pem = c.cert.pem();
    /// let tls = verdant::tls::client_config_with_roots(root_pem.as_bytes())?;
    /// let builder = verdant::ws::ClientBuilder::new().tls_config(tls);
    /// # let _ = builder;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: Arc<ClientConfig>) -> ClientBuilder {
        self.tls = Some(config);
        self
    }

    /// Opens a WebSocket to `url` with these options (see [`connect`]).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let (ws, _) = verdant::ws::ClientBuilder::new()
    ///     .connect_timeout(Duration::from_secs(5))
    ///     .connect("ws://127.0.0.1:8080/")?;
    /// # let _ = ws;
    /// # Ok::<(), verdant::ws::WsError>(())
    /// ```
    pub fn connect<R: IntoClientRequest>(&self, url: R) -> Result<(WebSocket<MaybeTlsStream>, Response), Error> {
        let request = url.into_client_request()?;
        match self.connect_timeout {
            None => self.open(request),
            Some(dur) => crate::timeout(dur, || self.open(request)).unwrap_or_else(|_elapsed| {
                Err(Error::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "WebSocket connect timed out",
                )))
            }),
        }
    }

    fn open(
        &self,
        request: tungstenite::handshake::client::Request,
    ) -> Result<(WebSocket<MaybeTlsStream>, Response), Error> {
        let uri = request.uri();
        let mode = uri_mode(uri)?;
        // Say so before any lookup or connect.
        #[cfg(not(feature = "tls"))]
        if matches!(mode, Mode::Tls) {
            return Err(Error::Url(UrlError::TlsFeatureNotEnabled));
        }
        let host = match uri.host() {
            None => return Err(Error::Url(UrlError::NoHostName)),
            Some("") => return Err(Error::Url(UrlError::EmptyHostName)),
            Some(host) => host,
        };
        // `[::1]` in a URL is the address `::1`.
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let port = uri.port_u16().unwrap_or(match mode {
            Mode::Plain => 80,
            Mode::Tls => 443,
        });
        let tcp = TcpStream::connect((host, port))?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(self.read_timeout)?;
        tcp.set_write_timeout(self.write_timeout)?;
        let stream = match mode {
            Mode::Plain => MaybeTlsStream::Plain(tcp),
            Mode::Tls => self.wrap_tls(host, tcp)?,
        };
        tungstenite::client::client_with_config(request, stream, self.config).map_err(|e| match e {
            HandshakeError::Failure(e) => e,
            HandshakeError::Interrupted(_) => handshake_timed_out(),
        })
    }

    #[cfg(feature = "tls")]
    fn wrap_tls(&self, host: &str, tcp: TcpStream) -> Result<MaybeTlsStream, Error> {
        let config = self.tls.clone().unwrap_or_else(crate::tls::client_config);
        let tls = TlsStream::connect(config, host, tcp)?;
        Ok(MaybeTlsStream::Tls(Box::new(tls)))
    }

    #[cfg(not(feature = "tls"))]
    fn wrap_tls(&self, _host: &str, _tcp: TcpStream) -> Result<MaybeTlsStream, Error> {
        Err(Error::Url(UrlError::TlsFeatureNotEnabled))
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ClientBuilder");
        d.field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("config", &self.config);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls.as_ref().map(|_| "custom"));
        d.finish()
    }
}

/// The stream under a client [`WebSocket`]: a plain [`TcpStream`] for
/// `ws://`, a [`TlsStream`](crate::tls::TlsStream) over one for `wss://`
/// (feature `tls`).
///
/// Its socket's timeouts are set through the WebSocket:
///
/// ```no_run
/// use std::time::Duration;
/// let (mut ws, _) = verdant::ws::connect("ws://127.0.0.1:8080/")?;
/// ws.get_ref().set_read_timeout(Some(Duration::from_millis(100)))?;
/// match ws.read() {
///     Err(verdant::ws::WsError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
///         // nothing within 100 ms; the WebSocket is still fine
///     }
///     other => println!("{other:?}"),
/// }
/// # Ok::<(), verdant::ws::WsError>(())
/// ```
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// `ws://`: the socket itself.
    Plain(TcpStream),
    /// `wss://`: TLS over the socket.
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP socket (under TLS for `wss://`).
    ///
    /// ```no_run
    /// let (ws, _) = verdant::ws::connect("ws://127.0.0.1:8080/")?;
    /// println!("connected to {}", ws.get_ref().get_ref().peer_addr()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_ref(&self) -> &TcpStream {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.get_ref(),
        }
    }

    /// The TCP socket, mutably. Reading or writing it directly would
    /// corrupt the WebSocket (and the TLS session); it is for socket
    /// options.
    ///
    /// ```no_run
    /// let (mut ws, _) = verdant::ws::connect("ws://127.0.0.1:8080/")?;
    /// ws.get_mut().get_mut().set_nodelay(false)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_mut(&mut self) -> &mut TcpStream {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.get_mut(),
        }
    }

    /// Sets the socket's read timeout (see
    /// [`ClientBuilder::read_timeout`]).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let (ws, _) = verdant::ws::connect("ws://127.0.0.1:8080/")?;
    /// ws.get_ref().set_read_timeout(Some(Duration::from_secs(1)))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.get_ref().set_read_timeout(dur)
    }

    /// Sets the socket's write timeout (see
    /// [`ClientBuilder::write_timeout`]).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let (ws, _) = verdant::ws::connect("ws://127.0.0.1:8080/")?;
    /// ws.get_ref().set_write_timeout(Some(Duration::from_secs(1)))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.get_ref().set_write_timeout(dur)
    }

    /// Whether this is TLS (`wss://`).
    ///
    /// ```no_run
    /// let (ws, _) = verdant::ws::connect("ws://127.0.0.1:8080/")?;
    /// assert!(!ws.get_ref().is_tls());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_tls(&self) -> bool {
        !matches!(self, MaybeTlsStream::Plain(_))
    }
}

impl Read for MaybeTlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.read(buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for MaybeTlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.write(buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.flush(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.flush(),
        }
    }
}

impl fmt::Debug for MaybeTlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaybeTlsStream::Plain(tcp) => f.debug_tuple("Plain").field(tcp).finish(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => f.debug_tuple("Tls").field(tls).finish(),
        }
    }
}
