//! The server side: [`upgrade`] a request of [`crate::http::Server`], or
//! [`accept`] over a stream of your own.

use std::io::{self, Read, Write};

use tungstenite::handshake::derive_accept_key;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};

use crate::http::{header, Body, HeaderMap, Method, OnUpgrade, Request, Response, StatusCode, Upgraded, Version};

/// Whether `req` asks for a WebSocket: a `GET` with `Connection: upgrade`
/// and `Upgrade: websocket` (tokens compared without regard to case).
///
/// It does not check the rest of the handshake (the version, the key):
/// [`upgrade`] does, and answers `400 Bad Request` to a request that asks
/// for a WebSocket badly.
///
/// ```
/// use verdant::http::{Body, Request};
/// let req = Request::get("/ws")
///     .header("connection", "keep-alive, Upgrade")
///     .header("upgrade", "websocket")
///     .body(Body::empty())
///     .unwrap();
/// assert!(verdant::ws::is_upgrade_request(&req));
/// let plain = Request::get("/ws").body(Body::empty()).unwrap();
/// assert!(!verdant::ws::is_upgrade_request(&plain));
/// ```
pub fn is_upgrade_request<B>(req: &Request<B>) -> bool {
    req.method() == Method::GET
        && has_token(req.headers(), header::CONNECTION, "upgrade")
        && has_token(req.headers(), header::UPGRADE, "websocket")
}

/// Accepts a WebSocket upgrade request: returns the `101 Switching
/// Protocols` response that makes the server run `f` with the
/// [`WebSocket`] on the connection's own green thread, or a
/// `400 Bad Request` whose body names what is wrong with the request.
///
/// The checks (RFC 6455, section 4.2.1): the method is `GET`, the version
/// HTTP/1.1, `Connection` has the token `upgrade`, `Upgrade` the token
/// `websocket`, `Sec-WebSocket-Version` is `13` (a `400` for another
/// version carries `Sec-WebSocket-Version: 13`, naming the one this server
/// speaks), and `Sec-WebSocket-Key` is 16 bytes in base64. The `101`
/// response carries `Sec-WebSocket-Accept` and an
/// [`OnUpgrade`](crate::http::OnUpgrade) extension; add headers to it
/// (`Sec-WebSocket-Protocol`, cookies) before returning it if you need to.
///
/// `f` runs once the `101` response has been written. The connection is
/// still one of the server's while `f` runs (see
/// [`OnUpgrade`](crate::http::OnUpgrade)): it counts towards
/// `max_connections`, and a graceful stop waits for `f` to return. The
/// connection closes when `f` returns, or when it drops the socket if it
/// moved it elsewhere. The server's read and write timeouts no longer
/// apply once upgraded: bound reads with [`verdant::timeout`](crate::timeout).
///
/// ```
/// use verdant::http::{Response, Server, StatusCode};
/// use verdant::ws::{self, Message};
///
/// let server = Server::bind("127.0.0.1:0")?.serve_background(|req| {
///     ws::upgrade(&req, |mut ws| {
///         let _ = ws.send(Message::text("welcome"));
///     })
/// })?;
/// let url = format!("ws://{}/", server.local_addr());
/// let (mut ws, resp) = ws::connect(url.as_str())?;
/// assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
/// assert_eq!(ws.read()?, Message::text("welcome"));
///
/// // Not a WebSocket request: 400.
/// let resp = verdant::http::get(&format!("http://{}/", server.local_addr()))?;
/// assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
/// server.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn upgrade<B, F>(req: &Request<B>, f: F) -> Response<Body>
where
    F: FnOnce(WebSocket<Upgraded>) + Send + 'static,
{
    upgrade_with_config(req, None, f)
}

/// [`upgrade`] with a protocol config (message and frame size limits, write
/// buffer sizes); `None` is tungstenite's default.
///
/// ```
/// use verdant::http::{Response, Server};
/// use verdant::ws::{self, WebSocketConfig};
///
/// let config = WebSocketConfig::default().max_message_size(Some(64 << 10));
/// let server = Server::bind("127.0.0.1:0")?.serve_background(move |req| {
///     ws::upgrade_with_config(&req, Some(config), |mut ws| {
///         while ws.read().is_ok() {} // a message over 64 KiB ends the loop
///     })
/// })?;
/// server.stop()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn upgrade_with_config<B, F>(req: &Request<B>, config: Option<WebSocketConfig>, f: F) -> Response<Body>
where
    F: FnOnce(WebSocket<Upgraded>) + Send + 'static,
{
    let key = match check(req) {
        Ok(key) => key,
        Err(rejection) => return rejection.response(),
    };
    let on_upgrade = OnUpgrade::new(move |conn: Upgraded| {
        // `Upgraded` itself yields the bytes read past the request first,
        // so the WebSocket starts from a clean stream.
        f(WebSocket::from_raw_socket(conn, Role::Server, config));
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, derive_accept_key(key.as_bytes()))
        .extension(on_upgrade)
        .body(Body::empty())
        .expect("a valid 101 response")
}

/// Does the server side of the handshake over `stream` (read the request,
/// write the `101` response) and returns the [`WebSocket`]: for a server
/// that is not an [`http::Server`](crate::http::Server), over a
/// [`TcpStream`](crate::net::TcpStream), a
/// [`TlsStream`](crate::tls::TlsStream) or anything `Read + Write`.
///
/// A request that is not a valid WebSocket handshake gets an error response
/// from tungstenite and is `Err(WsError::Protocol(..))`. On a stream with a
/// read timeout, a handshake that times out is `Err(WsError::Io(e))` with
/// `e.kind() == TimedOut`.
///
/// ```
/// use verdant::net::TcpListener;
/// use verdant::ws::{self, Message};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let url = format!("ws://{}/", listener.local_addr()?);
/// let server = verdant::spawn(move || -> Result<(), ws::WsError> {
///     let (tcp, _) = listener.accept()?;
///     let mut ws = ws::accept(tcp)?;
///     let msg = ws.read()?;
///     ws.send(msg)
/// });
/// let (mut ws, _) = ws::connect(url.as_str())?;
/// ws.send(Message::binary(vec![1, 2, 3]))?;
/// assert_eq!(ws.read()?, Message::binary(vec![1, 2, 3]));
/// server.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept<S: Read + Write>(stream: S) -> Result<WebSocket<S>, tungstenite::Error> {
    tungstenite::accept(stream).map_err(|e| match e {
        HandshakeError::Failure(e) => e,
        HandshakeError::Interrupted(_) => handshake_timed_out(),
    })
}

/// The error of a blocking handshake whose stream returned `WouldBlock`
/// (a socket read timeout).
pub(super) fn handshake_timed_out() -> tungstenite::Error {
    tungstenite::Error::Io(io::Error::new(io::ErrorKind::TimedOut, "WebSocket handshake timed out"))
}

/// Why a request is not a valid WebSocket handshake.
struct Rejection {
    why: String,
    /// Whether to name the version this server speaks.
    version: bool,
}

impl Rejection {
    fn new(why: impl Into<String>) -> Rejection {
        Rejection {
            why: why.into(),
            version: false,
        }
    }

    /// The `400 Bad Request` naming what is wrong.
    fn response(self) -> Response<Body> {
        let mut resp = Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8");
        if self.version {
            resp = resp.header(header::SEC_WEBSOCKET_VERSION, "13");
        }
        resp.body(Body::from(self.why + "\n")).expect("a valid 400 response")
    }
}

/// The request's `Sec-WebSocket-Key`, or what is wrong with it.
fn check<B>(req: &Request<B>) -> Result<String, Rejection> {
    let headers = req.headers();
    if req.method() != Method::GET {
        return Err(Rejection::new(format!(
            "a WebSocket upgrade must be a GET request, not {}",
            req.method()
        )));
    }
    if req.version() < Version::HTTP_11 {
        return Err(Rejection::new("a WebSocket upgrade needs HTTP/1.1"));
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(Rejection::new("missing `Connection: upgrade`"));
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(Rejection::new("missing `Upgrade: websocket`"));
    }
    let version = headers.get(header::SEC_WEBSOCKET_VERSION);
    if version.is_none_or(|v| v.as_bytes() != b"13") {
        let why = match version {
            None => "missing `Sec-WebSocket-Version: 13`".into(),
            Some(v) => format!(
                "unsupported Sec-WebSocket-Version {:?} (this server speaks 13)",
                String::from_utf8_lossy(v.as_bytes())
            ),
        };
        return Err(Rejection { why, version: true });
    }
    let mut keys = headers.get_all(header::SEC_WEBSOCKET_KEY).iter();
    match (keys.next(), keys.next()) {
        (Some(key), None) => match key.to_str() {
            Ok(key) if is_key(key) => Ok(key.to_owned()),
            _ => Err(Rejection::new("Sec-WebSocket-Key is not 16 bytes in base64")),
        },
        (None, _) => Err(Rejection::new("missing Sec-WebSocket-Key")),
        (Some(_), Some(_)) => Err(Rejection::new("more than one Sec-WebSocket-Key")),
    }
}

/// 16 bytes in padded base64: 22 base64 digits, the last one's two low bits
/// zero, then `==`.
fn is_key(key: &str) -> bool {
    const DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = key.as_bytes();
    b.len() == 24
        && b.ends_with(b"==")
        && b[..22].iter().all(|c| DIGITS.contains(c))
        && DIGITS.iter().position(|&d| d == b[21]).is_some_and(|v| v & 0b1111 == 0)
}

/// Whether any of the `name` headers has `token` in its comma-separated
/// list, compared without regard to case.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(is_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_key("dGhlIHNhbXBsZSBub25jZR=="));
        assert!(!is_key("dGhlIHNhbXBsZSBub25jZQ="));
        assert!(!is_key("dGhlIHNhbXBsZSBub25j*Q=="));
    }
}
