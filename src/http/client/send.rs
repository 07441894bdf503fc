//! One request, start to finish: check the URL, send with ureq (one hop),
//! follow redirects under verdant's own policy, hand back the response with
//! its body as a verdant [`Body`].
//!
//! ureq is configured to follow no redirect itself (`max_redirects(0)`): it
//! neither detects loops nor knows whether a body can be sent again, and
//! its own redirect count restarts the whole-request budget per call. Here
//! the policy is:
//!
//! 1. 301, 302 and 303 with a `Location` are followed with `GET` (a `HEAD`
//!    stays `HEAD`; a 301 or 302 keeps a method other than `POST`, as
//!    browsers do), dropping the body and its `Content-*` headers.
//! 2. 307 and 308 keep the method and the body. A body is replayable when
//!    its length was known and at most [`REPLAY_LIMIT`]: such a body is read
//!    into memory before the first send. A longer or unknown-length body is
//!    streamed once, and a 307/308 that asks for it again is an error.
//! 3. Each hop's target (method, URL) is remembered; coming back to one is a
//!    loop, reported as such. More than `max_redirects` hops is an error
//!    naming the limit.
//! 4. Leaving the origin (scheme, host, port) drops `Authorization`,
//!    `Cookie` and `Proxy-Authorization`; `Host` is always recomputed.
//! 5. The redirect response's body is drained (up to [`DRAIN_LIMIT`]) so its
//!    connection goes back to the pool; a longer one is closed.
//!
//! The whole-request timeout is one deadline across all hops and the
//! reading of the final body: each hop runs with ureq's global timeout set
//! to what is left of it.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use ureq::RequestExt;

use super::error::{from_ureq, Error, ErrorKind, Timeouts};
use crate::http::{header, Body, HeaderMap, Method, Request, Response, StatusCode, Uri, Version};

/// The message of the error for an `https` URL without the `tls` feature
/// (and for ureq's own TLS errors, which its connectors, never used here,
/// would raise).
pub(super) const TLS_NEEDED: &str = "https needs the `tls` feature of verdant, which this build lacks";

/// A request body of known length up to this many bytes is kept in memory,
/// so that a 307 or 308 redirect can send it again.
pub(super) const REPLAY_LIMIT: u64 = 1024 * 1024;

/// A redirect response's body up to this many bytes is read and discarded
/// so that its connection can be reused; a longer one closes it.
const DRAIN_LIMIT: u64 = 64 * 1024;

/// The client's settings that act per request (the others are ureq's
/// agent configuration).
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub(super) max_redirects: u32,
    pub(super) timeouts: Timeouts,
    pub(super) status_as_error: bool,
}

/// The request line and headers, kept to build each hop.
struct Head {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
}

impl Head {
    fn url(&self) -> String {
        self.uri.to_string()
    }

    fn error(&self, kind: ErrorKind) -> Error {
        Error::new(kind, &self.method, self.url())
    }

    fn request<B>(&self, body: B) -> Request<B> {
        let mut req = Request::new(body);
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.version_mut() = self.version;
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// The request body as it will be sent, possibly more than once.
enum Payload {
    /// No body at all (no `Content-Length` either).
    None,
    /// A body held in memory: sent with `Content-Length`, replayable.
    Bytes(Vec<u8>),
    /// A body streamed from a reader (`Content-Length` if its length is
    /// known, else chunked); `None` once sent.
    Stream(Option<Body>),
}

impl Payload {
    fn new(body: Body, head: &Head) -> Result<Payload, Error> {
        let may_have_body = matches!(head.method, Method::POST | Method::PUT | Method::PATCH);
        match body.len() {
            Some(0) if may_have_body => Ok(Payload::Bytes(Vec::new())),
            Some(0) => Ok(Payload::None),
            Some(len) if len <= REPLAY_LIMIT => match body.into_bytes(len as usize) {
                Ok(bytes) => Ok(Payload::Bytes(bytes)),
                Err(e) => Err(head
                    .error(ErrorKind::Io)
                    .detail("cannot read the request body")
                    .source(e)),
            },
            _ => Ok(Payload::Stream(Some(body))),
        }
    }
}

/// Sends `req`, following redirects, and returns the final response.
pub(super) fn send(agent: &ureq::Agent, settings: &Settings, req: Request<Body>) -> Result<Response<Body>, Error> {
    let (parts, body) = req.into_parts();
    let mut head = Head {
        method: parts.method,
        uri: parts.uri,
        version: parts.version,
        headers: parts.headers,
    };
    check_url(&head)?;
    let deadline = settings.timeouts.whole.and_then(|d| Instant::now().checked_add(d));
    let mut payload = Payload::new(body, &head)?;
    // At most max_redirects + 1 entries: every turn either returns or adds one.
    let mut visited: Vec<(Method, Uri)> = Vec::new();
    loop {
        let resp = send_once(agent, settings, &head, &mut payload, deadline)?;
        let status = resp.status();
        let location = resp.headers().get(header::LOCATION).cloned();
        let location = match location {
            Some(location) if settings.max_redirects > 0 && is_redirect(status) => location,
            _ => return finish(resp, &head, settings),
        };
        let next = next_uri(&head.uri, &location)
            .map_err(|detail| head.error(ErrorKind::Redirect).detail(detail).with_status(status))?;
        let method = next_method(&head.method, status);
        visited.push((head.method.clone(), head.uri.clone()));
        if let Some(i) = visited.iter().position(|(m, u)| *m == method && *u == next) {
            let mut path: Vec<String> = visited[i..].iter().map(|(_, u)| u.to_string()).collect();
            path.push(next.to_string());
            let detail = format!("redirect loop: {}", path.join(" -> "));
            return Err(head.error(ErrorKind::Redirect).detail(detail).with_status(status));
        }
        if visited.len() > settings.max_redirects as usize {
            let detail = format!(
                "too many redirects: stopped at the limit of {} (the next was {status} to {next})",
                settings.max_redirects
            );
            return Err(head.error(ErrorKind::Redirect).detail(detail).with_status(status));
        }
        drain(resp.into_body());
        if method != head.method {
            payload = Payload::None;
            for h in [
                header::CONTENT_LENGTH,
                header::CONTENT_TYPE,
                header::CONTENT_ENCODING,
                header::TRANSFER_ENCODING,
            ] {
                head.headers.remove(h);
            }
        } else if let Payload::Stream(None) = payload {
            let detail = format!(
                "{status} asks to send the request body again to {next}, but it was streamed \
                 (of unknown length, or over {REPLAY_LIMIT} bytes) and cannot be replayed"
            );
            return Err(head.error(ErrorKind::Redirect).detail(detail).with_status(status));
        }
        if !same_origin(&head.uri, &next) {
            for h in [header::AUTHORIZATION, header::COOKIE, header::PROXY_AUTHORIZATION] {
                head.headers.remove(h);
            }
        }
        head.headers.remove(header::HOST);
        head.method = method;
        head.uri = next;
        check_url(&head)?;
    }
}

/// Refuses what cannot be fetched: no scheme or host, `https` without the
/// `tls` feature, other schemes.
fn check_url(head: &Head) -> Result<(), Error> {
    let uri = &head.uri;
    match (uri.scheme_str(), uri.host()) {
        (Some("http"), Some(host)) if !host.is_empty() => Ok(()),
        // TLS is the connector chain's (transport.rs, "TLS").
        #[cfg(feature = "tls")]
        (Some("https"), Some(host)) if !host.is_empty() => Ok(()),
        #[cfg(not(feature = "tls"))]
        (Some("https"), _) => Err(head.error(ErrorKind::Unsupported).detail(TLS_NEEDED)),
        (Some(other), _) if other != "http" && other != "https" => Err(head
            .error(ErrorKind::Unsupported)
            .detail(format!("the scheme {other:?} is not supported (only http and https)"))),
        _ => Err(head
            .error(ErrorKind::InvalidUrl)
            .detail("invalid URL: it needs a scheme and a host, as in http://host/path")),
    }
}

/// Parses `url` for a request with `method`.
pub(super) fn parse_url(url: &str, method: &Method) -> Result<Uri, Error> {
    url.parse::<Uri>().map_err(|e| {
        Error::new(ErrorKind::InvalidUrl, method, url)
            .detail("invalid URL")
            .source(e)
    })
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn next_method(method: &Method, status: StatusCode) -> Method {
    match status.as_u16() {
        303 if *method != Method::HEAD => Method::GET,
        301 | 302 if *method == Method::POST => Method::GET,
        _ => method.clone(),
    }
}

/// The target of a `Location` header, resolved against `base` (RFC 9110
/// allows a relative reference).
fn next_uri(base: &Uri, location: &header::HeaderValue) -> Result<Uri, String> {
    let invalid = || format!("the Location header {location:?} is not a valid URL");
    let loc = location.to_str().map_err(|_| invalid())?.trim();
    if loc.is_empty() {
        return Err(invalid());
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    let joined = if loc.contains("://") {
        loc.to_owned()
    } else if let Some(rest) = loc.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if loc.starts_with('/') {
        format!("{scheme}://{authority}{loc}")
    } else {
        // Relative to the base's directory (dot segments are left to the
        // server, as many clients do).
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let dir = if dir.is_empty() { "/" } else { dir };
        if let Some(query) = loc.strip_prefix('?') {
            format!("{scheme}://{authority}{path}?{query}")
        } else {
            format!("{scheme}://{authority}{dir}{loc}")
        }
    };
    // A fragment is for the user agent, not the request.
    let joined = joined.split('#').next().unwrap_or_default();
    joined.parse::<Uri>().map_err(|_| invalid())
}

fn same_origin(a: &Uri, b: &Uri) -> bool {
    a.scheme() == b.scheme() && a.host() == b.host() && a.port_u16() == b.port_u16()
}

/// How many times one hop is sent again after meeting a stale kept-alive
/// connection (each try discards the one it met).
const MAX_STALE_RETRIES: usize = 8;

/// Sends one hop and returns ureq's response. A request that met a kept-alive
/// connection the server had closed (it never reached the server) is sent
/// again when that is safe: an idempotent method (RFC 9110 9.2.2) and a
/// body that can be replayed. This is the race every keep-alive client
/// meets when a server's idle timeout fires just as a request goes out.
fn send_once(
    agent: &ureq::Agent,
    settings: &Settings,
    head: &Head,
    payload: &mut Payload,
    deadline: Option<Instant>,
) -> Result<Response<ureq::Body>, Error> {
    let idempotent = matches!(
        head.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    );
    let mut tries = 0;
    loop {
        match try_once(agent, settings, head, payload, deadline) {
            Err(e) if e.stale && idempotent && tries < MAX_STALE_RETRIES && !matches!(payload, Payload::Stream(_)) => {
                tries += 1
            }
            result => return result,
        }
    }
}

fn try_once(
    agent: &ureq::Agent,
    settings: &Settings,
    head: &Head,
    payload: &mut Payload,
    deadline: Option<Instant>,
) -> Result<Response<ureq::Body>, Error> {
    let left = match deadline {
        None => None,
        Some(d) => match d.checked_duration_since(Instant::now()).filter(|t| !t.is_zero()) {
            Some(left) => Some(left),
            None => {
                let e = ureq::Error::Timeout(ureq::Timeout::Global);
                return Err(from_ureq(e, &head.method, &head.url(), settings.timeouts));
            }
        },
    };
    let result = match payload {
        Payload::None => run(agent, head.request(()), left),
        Payload::Bytes(bytes) => run(agent, head.request(&bytes[..]), left),
        Payload::Stream(body) => {
            let Some(body) = body.take() else {
                // `send` refuses a redirect that would need it again.
                return Err(head
                    .error(ErrorKind::Redirect)
                    .detail("the streamed request body was already sent"));
            };
            let mut req = head.request(());
            let has_framing = req.headers().contains_key(header::CONTENT_LENGTH)
                || req.headers().contains_key(header::TRANSFER_ENCODING);
            if let (Some(len), false) = (body.len(), has_framing) {
                req.headers_mut().insert(header::CONTENT_LENGTH, len.into());
            }
            let (parts, ()) = req.into_parts();
            run(
                agent,
                Request::from_parts(parts, ureq::SendBody::from_owned_reader(body)),
                left,
            )
        }
    };
    result.map_err(|e| from_ureq(e, &head.method, &head.url(), settings.timeouts))
}

fn run<B: ureq::AsSendBody>(
    agent: &ureq::Agent,
    req: Request<B>,
    left: Option<Duration>,
) -> Result<Response<ureq::Body>, ureq::Error> {
    req.with_agent(agent).configure().timeout_global(left).run()
}

/// The final response, its body turned into a verdant [`Body`].
fn finish(resp: Response<ureq::Body>, head: &Head, settings: &Settings) -> Result<Response<Body>, Error> {
    let status = resp.status();
    if settings.status_as_error && (status.is_client_error() || status.is_server_error()) {
        drain(resp.into_body());
        return Err(head
            .error(ErrorKind::Status)
            .detail(format!("the server answered {status}"))
            .with_status(status));
    }
    let no_body = head.method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let (mut parts, body) = resp.into_parts();
    // ureq's own bookkeeping types stay out of verdant's API.
    parts.extensions = Default::default();
    let len = if no_body { Some(0) } else { body.content_length() };
    let reader = BodyReader {
        remaining: len,
        inner: body.into_reader(),
        method: head.method.clone(),
        url: head.url(),
        timeouts: settings.timeouts,
    };
    Ok(Response::from_parts(parts, Body::from_reader(reader, len)))
}

/// Reads and discards a body of at most [`DRAIN_LIMIT`] bytes, so that
/// ureq returns its connection to the pool; a longer one (or one that
/// fails) is dropped, which closes the connection.
fn drain(body: ureq::Body) {
    let mut reader = body.into_reader().take(DRAIN_LIMIT + 1);
    let _ = io::copy(&mut reader, &mut io::sink());
}

/// The response body: ureq's reader, with its errors turned into ours
/// (naming the URL) inside the `io::Error`s it returns.
struct BodyReader {
    /// Bytes still to come, for a length-delimited body: once the last one
    /// is read, ureq is asked for the end at once, so the connection goes
    /// back to the pool even if the caller stops reading right there
    /// (`read_exact` of the whole length, say) and never sees the 0.
    remaining: Option<u64>,
    inner: ureq::BodyReader<'static>,
    method: Method,
    url: String,
    timeouts: Timeouts,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.read_inner(buf)?;
        if let Some(remaining) = &mut self.remaining {
            *remaining = remaining.saturating_sub(n as u64);
            if *remaining == 0 && n > 0 {
                // ureq's reader ignores an empty buffer: probe with one byte.
                // At the end of the body it reads nothing and finishes the
                // exchange; an error shows again on the next read.
                let mut probe = [0u8; 1];
                let _ = self.read_inner(&mut probe);
            }
        }
        Ok(n)
    }
}

impl BodyReader {
    fn read_inner(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let ureq_error = match e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
                true => match e.into_inner().map(|inner| inner.downcast::<ureq::Error>()) {
                    Some(Ok(u)) => *u,
                    Some(Err(other)) => ureq::Error::Other(other),
                    None => ureq::Error::Io(io::ErrorKind::Other.into()),
                },
                false => ureq::Error::Io(e),
            };
            let ours = from_ureq(ureq_error, &self.method, &self.url, self.timeouts);
            io::Error::from(ours.context("while reading the response body"))
        })
    }
}
