//! The HTTP/1.1 client: [`get`], [`Client`], [`ClientBuilder`], [`Error`].
//!
//! A request parks the calling green thread, never its worker: it runs
//! [ureq](https://docs.rs/ureq)'s HTTP/1.1 machinery over verdant's own
//! [`TcpStream`](crate::net::TcpStream) and resolver (`transport.rs`), so
//! the same code works on a plain OS thread, where each call blocks that
//! thread. ureq's types never appear in this API.
//!
//! # How a request goes
//!
//! 1. The URL is checked (`http://host...`, or `https://host...` with the
//!    `tls` feature: see [HTTPS](#https)).
//! 2. The client's pool (shared by every clone) is asked for an idle
//!    connection to the same scheme, host and port that still looks open
//!    (a non-blocking peek finds nothing to read). Otherwise the host is
//!    resolved with verdant's resolver and a new connection is made, so
//!    concurrent requests to one host each get a connection of their own.
//! 3. The request is written (`Content-Length` when the body's length is
//!    known, else chunked) and the response head read.
//! 4. Redirects are followed by the client's policy (`send.rs`): bounded,
//!    loops detected, 303 (and 301/302 after `POST`) turns into `GET`,
//!    307/308 resend the body when it can be replayed.
//! 5. The response is returned as soon as its head has arrived; its
//!    [`Body`] streams from the connection (length-delimited, chunked or
//!    delimited by the server closing). Reading it to the end (until `read`
//!    returns 0) puts the connection back in the pool; dropping it earlier
//!    closes the connection.
//!
//! The pool keeps at most [`ClientBuilder::max_idle_per_host`] idle
//! connections per host and [`ClientBuilder::max_idle`] in all, each for at
//! most [`ClientBuilder::idle_timeout`]. A green thread reuses only
//! connections made on its own runtime (a socket stays registered with the
//! reactor of the runtime that first waited on it), so one client used from
//! several runtimes keeps their connections apart. Its lock (ureq's, a
//! `std::sync::Mutex`) is held only around list operations and a
//! non-blocking probe: nothing under it parks, so a green thread never
//! switches out holding it.
//!
//! # HTTPS
//!
//! With the `tls` feature, `https` URLs work: a new connection does its
//! TLS handshake with [`verdant::tls::TlsStream`](crate::tls::TlsStream)
//! (rustls, ring provider) within the connect timeout, and is then pooled
//! and reused like a plain one. The server's certificate is checked
//! against Mozilla's roots ([`crate::tls::client_config`]) unless
//! [`ClientBuilder::tls_config`] gives another rustls config, e.g. one that
//! also trusts a private CA ([`crate::tls::client_config_with_roots`]). A
//! failed handshake is an error of kind [`ErrorKind::Connect`] naming the
//! host and the cause. Without the feature, an `https` URL is an error of
//! kind [`ErrorKind::Unsupported`].

mod error;
mod send;
mod transport;

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use self::error::Timeouts;
pub use self::error::{Error, ErrorKind};
use self::send::Settings;
use crate::http::{Body, Method, Request, Response};

/// The `User-Agent` sent unless the request has one.
const USER_AGENT: &str = concat!("verdant/", env!("CARGO_PKG_VERSION"));

/// Fetches `url` with a `GET` through a default [`Client`] shared by the
/// whole process (so its connections are reused across calls).
///
/// ```
/// use std::io::{Read, Write};
/// use verdant::net::TcpListener;
///
/// // A one-shot server on loopback.
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let url = format!("http://{}/hello", listener.local_addr()?);
/// verdant::spawn(move || -> std::io::Result<()> {
///     let (mut conn, _) = listener.accept()?;
///     let mut head = [0u8; 1024];
///     let _ = conn.read(&mut head)?;
///     conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
/// });
///
/// let resp = verdant::http::get(&url)?;
/// assert_eq!(resp.status(), 200);
/// assert_eq!(resp.into_body().into_string(1024)?, "hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// See [`Client::request`].
pub fn get(url: &str) -> Result<Response<Body>, Error> {
    static DEFAULT: OnceLock<Client> = OnceLock::new();
    DEFAULT.get_or_init(Client::new).get(url)
}

/// An HTTP/1.1 client with a keep-alive connection pool.
///
/// Cheap to clone: clones share one pool and one configuration, and a
/// client is `Send + Sync`, so one client can serve any number of green
/// threads at once (each concurrent request gets its own connection).
///
/// ```
/// use std::io::{Read, Write};
/// use std::time::Duration;
/// use verdant::http::Client;
/// use verdant::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let url = format!("http://{}/", listener.local_addr()?);
/// verdant::spawn(move || -> std::io::Result<()> {
///     let (mut conn, _) = listener.accept()?;
///     let mut head = [0u8; 1024];
///     let _ = conn.read(&mut head)?;
///     conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
/// });
///
/// let client = Client::builder().timeout(Duration::from_secs(10)).build();
/// let fetcher = client.clone(); // the same pool
/// let body = verdant::spawn(move || -> std::io::Result<String> {
///     fetcher.get(&url)?.into_body().into_string(64) // `?`: Error converts to io::Error
/// })
/// .join()
/// .unwrap()?;
/// assert_eq!(body, "ok");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    agent: ureq::Agent,
    settings: Settings,
}

// What `Client: Send + Sync` rests on.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<ureq::Agent>();
    send_sync::<Client>();
};

impl Client {
    /// A client with the default settings (see [`ClientBuilder`]).
    ///
    /// ```
    /// let client = verdant::http::Client::new();
    /// # drop(client);
    /// ```
    pub fn new() -> Client {
        ClientBuilder::new().build()
    }

    /// A builder to set timeouts, redirect and pool limits, the user agent.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = verdant::http::Client::builder()
    ///     .connect_timeout(Some(Duration::from_secs(2)))
    ///     .timeout(Duration::from_secs(30))
    ///     .max_redirects(5)
    ///     .build();
    /// # drop(client);
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// Fetches `url` with a `GET`.
    ///
    /// ```
    /// let err = verdant::http::Client::new().get("http://[::1").unwrap_err();
    /// assert_eq!(err.kind(), verdant::http::ErrorKind::InvalidUrl);
    /// ```
    ///
    /// # Errors
    ///
    /// See [`Client::request`].
    pub fn get(&self, url: &str) -> Result<Response<Body>, Error> {
        self.send_to(Method::GET, url, Body::empty())
    }

    /// Sends `body` to `url` with a `POST`. A body of known length (bytes,
    /// a string, [`Body::from_reader`] with a length) goes with
    /// `Content-Length`; one of unknown length is sent chunked.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use verdant::net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let url = format!("http://{}/echo-length", listener.local_addr()?);
    /// verdant::spawn(move || -> std::io::Result<()> {
    ///     let (mut conn, _) = listener.accept()?;
    ///     let mut request = Vec::new();
    ///     let mut buf = [0u8; 1024];
    ///     // Head and the 5-byte body.
    ///     while !request.ends_with(b"\r\n\r\nhello") {
    ///         let n = conn.read(&mut buf)?;
    ///         if n == 0 { break; }
    ///         request.extend_from_slice(&buf[..n]);
    ///     }
    ///     let text = String::from_utf8_lossy(&request).to_lowercase();
    ///     let reply = if text.contains("content-length: 5") { "yes" } else { "no!" };
    ///     write!(conn, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{reply}")
    /// });
    ///
    /// let resp = verdant::http::Client::new().post(&url, "hello")?;
    /// assert_eq!(resp.into_body().into_string(16)?, "yes");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// See [`Client::request`].
    pub fn post(&self, url: &str, body: impl Into<Body>) -> Result<Response<Body>, Error> {
        self.send_to(Method::POST, url, body.into())
    }

    fn send_to(&self, method: Method, url: &str, body: Body) -> Result<Response<Body>, Error> {
        let uri = send::parse_url(url, &method)?;
        let mut req = Request::new(body);
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        self.request(req)
    }

    /// Sends `req` (its URI must be absolute: `http://host[:port]/path`)
    /// and returns the response once its head has arrived; the body
    /// streams from the connection as it is read.
    ///
    /// The request's headers are sent as given, plus `Host`, `User-Agent`
    /// and `Accept` unless present, and `Content-Length` or
    /// `Transfer-Encoding: chunked` for a body. Its extensions are not
    /// looked at, and the response carries none.
    ///
    /// ```no_run
    /// use verdant::http::{Body, Client, Request};
    ///
    /// let req = Request::put("http://127.0.0.1:8080/item/7")
    ///     .header("content-type", "text/plain")
    ///     .body(Body::from("seven"))?;
    /// let resp = Client::new().request(req)?;
    /// println!("{}", resp.status());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// An [`Error`] naming the method, the URL and the cause; its
    /// [`kind`](Error::kind) tells an invalid or unsupported URL, a failed
    /// lookup or connection, a timeout, a redirect that could not be
    /// followed, a protocol violation and a broken connection apart. A 4xx
    /// or 5xx status is a response like any other, unless the client was
    /// built with [`ClientBuilder::http_status_as_error`].
    pub fn request(&self, req: Request<Body>) -> Result<Response<Body>, Error> {
        send::send(&self.inner.agent, &self.inner.settings, req)
    }
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`Client`], from [`Client::builder`].
///
/// | setting | default |
/// |---|---|
/// | [`connect_timeout`](Self::connect_timeout) | 30 s |
/// | [`timeout`](Self::timeout) (whole request, body included) | none |
/// | [`max_redirects`](Self::max_redirects) | 10 |
/// | [`max_idle_per_host`](Self::max_idle_per_host) | 32 |
/// | [`max_idle`](Self::max_idle) | 256 |
/// | [`idle_timeout`](Self::idle_timeout) | 15 s |
/// | [`user_agent`](Self::user_agent) | `verdant/VERSION` |
/// | [`http_status_as_error`](Self::http_status_as_error) | `false` |
///
/// ```
/// use std::time::Duration;
/// let client = verdant::http::Client::builder()
///     .max_idle_per_host(64)
///     .idle_timeout(Duration::from_secs(60))
///     .user_agent("crawler/1.0")
///     .build();
/// # drop(client);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ClientBuilder {
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    max_redirects: u32,
    max_idle_per_host: usize,
    max_idle: usize,
    idle_timeout: Duration,
    user_agent: String,
    status_as_error: bool,
    #[cfg(feature = "tls")]
    tls_config: Option<Arc<crate::tls::ClientConfig>>,
}

impl ClientBuilder {
    /// The defaults (see the table above).
    ///
    /// ```
    /// let client = verdant::http::ClientBuilder::new().build();
    /// # drop(client);
    /// ```
    pub fn new() -> ClientBuilder {
        ClientBuilder {
            connect_timeout: Some(Duration::from_secs(30)),
            timeout: None,
            max_redirects: 10,
            max_idle_per_host: 32,
            max_idle: 256,
            idle_timeout: Duration::from_secs(15),
            user_agent: USER_AGENT.to_owned(),
            status_as_error: false,
            #[cfg(feature = "tls")]
            tls_config: None,
        }
    }

    /// How long opening a connection may take, and, separately, how long
    /// resolving the host name may take before that (`None`: no limit but
    /// the whole-request timeout's). A request that reuses a pooled
    /// connection does neither.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let b = verdant::http::Client::builder().connect_timeout(Some(Duration::from_secs(1)));
    /// # drop(b);
    /// ```
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// How long a whole request may take, from the call to the last byte of
    /// the response body, across redirects. Past it, the call or the body's
    /// next `read` fails with [`ErrorKind::Timeout`] (as an `io::Error` of
    /// kind `TimedOut` from the body). No limit by default; a
    /// `verdant::timeout` around the call works too.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let b = verdant::http::Client::builder().timeout(Duration::from_secs(10));
    /// # drop(b);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = Some(timeout);
        self
    }

    /// How many redirects one request follows (0: none; a 3xx is then
    /// returned as the response). Going over the limit is an error of kind
    /// [`ErrorKind::Redirect`].
    ///
    /// ```
    /// let b = verdant::http::Client::builder().max_redirects(0);
    /// # drop(b);
    /// ```
    pub fn max_redirects(mut self, max: u32) -> ClientBuilder {
        self.max_redirects = max;
        self
    }

    /// How many idle connections to one host (scheme, host, port) the pool
    /// keeps. Connections in use are not limited: 500 concurrent requests to
    /// one host open up to 500 connections, and once they are done, this
    /// many stay open for reuse.
    ///
    /// ```
    /// let b = verdant::http::Client::builder().max_idle_per_host(4);
    /// # drop(b);
    /// ```
    pub fn max_idle_per_host(mut self, max: usize) -> ClientBuilder {
        self.max_idle_per_host = max;
        self
    }

    /// How many idle connections the pool keeps in all (the oldest go
    /// first).
    ///
    /// ```
    /// let b = verdant::http::Client::builder().max_idle(1000);
    /// # drop(b);
    /// ```
    pub fn max_idle(mut self, max: usize) -> ClientBuilder {
        self.max_idle = max;
        self
    }

    /// How long an idle connection stays in the pool.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let b = verdant::http::Client::builder().idle_timeout(Duration::from_secs(5));
    /// # drop(b);
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.idle_timeout = timeout;
        self
    }

    /// The `User-Agent` header sent when the request has none (`""`: send
    /// none).
    ///
    /// ```
    /// let b = verdant::http::Client::builder().user_agent("my-bot/2");
    /// # drop(b);
    /// ```
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> ClientBuilder {
        self.user_agent = user_agent.into();
        self
    }

    /// Whether a 4xx or 5xx response is an error of kind
    /// [`ErrorKind::Status`] (whose [`status`](Error::status) says which)
    /// instead of a response. Off by default.
    ///
    /// ```
    /// let b = verdant::http::Client::builder().http_status_as_error(true);
    /// # drop(b);
    /// ```
    pub fn http_status_as_error(mut self, on: bool) -> ClientBuilder {
        self.status_as_error = on;
        self
    }

    /// The rustls config for `https` connections (feature `tls`): its root
    /// certificates, client certificate and verifier are used as they are;
    /// its ALPN protocols are replaced by `http/1.1`, the only protocol the
    /// client speaks. By default, [`crate::tls::client_config`] (Mozilla's
    /// roots).
    ///
    /// ```
    /// use verdant::http::Client;
    /// use verdant::tls;
    ///
    /// # let ca_pem = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap().cert.pem();
    /// // Trust a private CA as well as Mozilla's roots.
    /// let config = tls::client_config_with_roots(ca_pem.as_bytes())?;
    /// let client = Client::builder().tls_config(config).build();
    /// # drop(client);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: Arc<crate::tls::ClientConfig>) -> ClientBuilder {
        self.tls_config = Some(config);
        self
    }

    /// Makes the client.
    ///
    /// ```
    /// let client = verdant::http::Client::builder().build();
    /// # drop(client);
    /// ```
    pub fn build(self) -> Client {
        let config = ureq::Agent::config_builder()
            // verdant follows redirects itself (send.rs) and reports
            // statuses itself; no proxy from the environment (the connector
            // only speaks plain TCP to the target).
            .max_redirects(0)
            .http_status_as_error(false)
            .proxy(None)
            .timeout_resolve(self.connect_timeout)
            .timeout_connect(self.connect_timeout)
            .timeout_global(self.timeout)
            .max_idle_connections(self.max_idle)
            .max_idle_connections_per_host(self.max_idle_per_host)
            .max_idle_age(self.idle_timeout)
            .user_agent(self.user_agent.as_str())
            // Per connection, allocated on first use: 32 KiB in (the
            // response head must fit), 16 KiB out; ureq's 128 KiB each
            // would cost 128 MiB for 500 concurrent connections.
            .input_buffer_size(INPUT_BUFFER)
            .max_response_header_size(INPUT_BUFFER)
            .output_buffer_size(16 * 1024)
            .no_delay(true)
            .build();
        #[cfg(not(feature = "tls"))]
        let connector = transport::connector();
        #[cfg(feature = "tls")]
        let connector = {
            let mut tls = (*self.tls_config.unwrap_or_else(crate::tls::client_config)).clone();
            tls.alpn_protocols = vec![b"http/1.1".to_vec()];
            transport::connector(Arc::new(tls))
        };
        let agent = ureq::Agent::with_parts(config, connector, transport::GreenResolver);
        let settings = Settings {
            max_redirects: self.max_redirects,
            timeouts: Timeouts {
                connect: self.connect_timeout,
                whole: self.timeout,
            },
            status_as_error: self.status_as_error,
        };
        Client {
            inner: Arc::new(Inner { agent, settings }),
        }
    }
}

/// The per-connection input buffer, and so the largest response head.
const INPUT_BUFFER: usize = 32 * 1024;

impl Default for ClientBuilder {
    fn default() -> ClientBuilder {
        ClientBuilder::new()
    }
}
