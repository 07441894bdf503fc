//! [`Error`]: why a request failed, naming the method, the URL and the
//! cause; [`ErrorKind`] tells the failures apart.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use super::transport::{ConnectFailed, ResolveFailed, Stale};
use crate::http::{Method, StatusCode};

/// What kind of failure an [`Error`] is.
///
/// ```
/// use verdant::http::{Client, ErrorKind};
///
/// let err = Client::new().get("not a url").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidUrl);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The URL could not be parsed, or has no `http://` scheme or no host.
    InvalidUrl,
    /// The URL needs something this build lacks: `https` without the `tls`
    /// feature, or a scheme other than `http` and `https`.
    Unsupported,
    /// The host name could not be resolved.
    Resolve,
    /// No connection could be made (refused, unreachable, ...).
    Connect,
    /// A deadline passed: the connect timeout, the whole-request timeout,
    /// or a `verdant::timeout` around the call.
    Timeout,
    /// The server answered 4xx or 5xx and the client was built with
    /// [`ClientBuilder::http_status_as_error`](super::ClientBuilder::http_status_as_error).
    Status,
    /// Redirects could not be followed: too many, a loop, a `Location`
    /// that is missing or invalid, or a streamed body a 307/308 would
    /// have to send again.
    Redirect,
    /// The server's answer broke HTTP/1.1 (a malformed status line or
    /// header, headers over the size limit, a truncated chunk), or the
    /// request could not be written as HTTP/1.1.
    Protocol,
    /// The connection failed during the exchange (reset, closed early).
    Io,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            ErrorKind::InvalidUrl => "invalid URL",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Resolve => "cannot resolve the host",
            ErrorKind::Connect => "cannot connect",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Status => "error status",
            ErrorKind::Redirect => "cannot follow the redirect",
            ErrorKind::Protocol => "HTTP protocol error",
            ErrorKind::Io => "connection error",
        }
    }

    /// The `io::ErrorKind` an [`Error`] of this kind converts to when it has
    /// no I/O error of its own.
    fn io_kind(self) -> io::ErrorKind {
        match self {
            ErrorKind::InvalidUrl => io::ErrorKind::InvalidInput,
            ErrorKind::Unsupported => io::ErrorKind::Unsupported,
            ErrorKind::Resolve => io::ErrorKind::NotFound,
            ErrorKind::Connect => io::ErrorKind::ConnectionRefused,
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            ErrorKind::Protocol => io::ErrorKind::InvalidData,
            ErrorKind::Status | ErrorKind::Redirect | ErrorKind::Io => io::ErrorKind::Other,
        }
    }
}

/// Why an HTTP request failed.
///
/// The message names the method, the URL and the cause:
///
/// ```text
/// GET http://127.0.0.1:9/: cannot connect to 127.0.0.1:9: Connection refused (os error 111)
/// GET http://example.test/slow: timed out: the whole-request timeout of 2s passed
/// ```
///
/// [`Error::kind`] classifies it. It converts into an [`io::Error`] (whose
/// kind is the underlying I/O error's when there is one, else the closest
/// match: `TimedOut` for a timeout, `InvalidInput` for a bad URL, ...), so
/// `?` works in functions returning `io::Result`, and the `io::Error`'s
/// `get_ref` gives this `Error` back.
///
/// ```
/// use verdant::http::{get, ErrorKind};
///
/// let err = get("ftp://example.test/file").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Unsupported);
/// assert_eq!(err.url(), "ftp://example.test/file");
/// assert!(err.to_string().contains("ftp://example.test/file"), "{err}");
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::Unsupported);
/// ```
pub struct Error {
    kind: ErrorKind,
    method: Method,
    url: String,
    /// What went wrong, when the source alone does not say it.
    detail: Option<String>,
    status: Option<StatusCode>,
    source: Option<Box<dyn StdError + Send + Sync>>,
    /// The request died on a stale kept-alive connection before the server
    /// saw it (`transport::Stale`): safe to send again if idempotent.
    pub(super) stale: bool,
}

impl Error {
    pub(super) fn new(kind: ErrorKind, method: &Method, url: impl Into<String>) -> Error {
        Error {
            kind,
            method: method.clone(),
            url: url.into(),
            detail: None,
            status: None,
            source: None,
            stale: false,
        }
    }

    pub(super) fn detail(mut self, detail: impl Into<String>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    pub(super) fn source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Error {
        self.source = Some(source.into());
        self
    }

    /// Says what was being done: `GET url: while X: cause`.
    pub(super) fn context(mut self, doing: &str) -> Error {
        let detail = match self.detail.take() {
            Some(d) => format!("{doing}: {d}"),
            None => format!("{doing}: {}", self.kind.describe()),
        };
        self.detail = Some(detail);
        self
    }

    pub(super) fn with_status(mut self, status: StatusCode) -> Error {
        self.status = Some(status);
        self
    }

    /// What kind of failure this is.
    ///
    /// ```
    /// # use verdant::http::{get, ErrorKind};
    /// assert_eq!(get("http://").unwrap_err().kind(), ErrorKind::InvalidUrl);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The URL of the request that failed (after redirects, the one that
    /// was being fetched).
    ///
    /// ```
    /// # use verdant::http::get;
    /// assert_eq!(get("gopher://x/").unwrap_err().url(), "gopher://x/");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The status of the response, for an error of kind
    /// [`ErrorKind::Status`] (and for a redirect that could not be
    /// followed).
    ///
    /// ```
    /// # use verdant::http::get;
    /// assert_eq!(get("gopher://x/").unwrap_err().status(), None);
    /// ```
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// Whether this is a timeout (the same as `kind() == ErrorKind::Timeout`).
    ///
    /// ```
    /// # use verdant::http::get;
    /// assert!(!get("gopher://x/").unwrap_err().is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// The I/O error at the root of this one, if any.
    fn io(&self) -> Option<&io::Error> {
        let mut cause: Option<&(dyn StdError + 'static)> = self.source.as_deref().map(|s| s as _);
        // A chain of a few links (ConnectFailed -> io::Error): bounded.
        for _ in 0..8 {
            let c = cause?;
            if let Some(io) = c.downcast_ref::<io::Error>() {
                return Some(io);
            }
            cause = c.source();
        }
        None
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.method, self.url)?;
        match (&self.detail, &self.source) {
            (Some(detail), Some(source)) => write!(f, "{detail}: {source}"),
            (Some(detail), None) => f.write_str(detail),
            (None, Some(source)) => write!(f, "{}: {source}", self.kind.describe()),
            (None, None) => f.write_str(self.kind.describe()),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("detail", &self.detail)
            .field("status", &self.status)
            .field("source", &self.source)
            .finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match (e.kind, e.io()) {
            (ErrorKind::Timeout, _) => io::ErrorKind::TimedOut,
            (_, Some(io)) => io.kind(),
            (kind, None) => kind.io_kind(),
        };
        io::Error::new(kind, e)
    }
}

/// The request's timeouts, to name the one that passed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    pub(super) connect: Option<Duration>,
    pub(super) whole: Option<Duration>,
}

/// Turns a ureq error into ours, for `method url`.
pub(super) fn from_ureq(e: ureq::Error, method: &Method, url: &str, timeouts: Timeouts) -> Error {
    use ureq::Error as U;
    let new = |kind| Error::new(kind, method, url);
    match e {
        U::Timeout(t) => {
            let which = match t {
                ureq::Timeout::Connect => match timeouts.connect {
                    Some(d) => format!("the connect timeout of {d:?} passed"),
                    None => "the connection was not made in time".to_owned(),
                },
                ureq::Timeout::Resolve => match timeouts.connect {
                    Some(d) => format!("resolving the host took longer than the connect timeout of {d:?}"),
                    None => "the host was not resolved in time".to_owned(),
                },
                ureq::Timeout::Global => match timeouts.whole {
                    Some(d) => format!("the whole-request timeout of {d:?} passed"),
                    None => "the request's deadline passed".to_owned(),
                },
                other => format!("the deadline passed ({other})"),
            };
            new(ErrorKind::Timeout).detail(format!("timed out: {which}"))
        }
        U::Io(io) => match io.kind() {
            io::ErrorKind::TimedOut => new(ErrorKind::Timeout).source(io),
            io::ErrorKind::UnexpectedEof => new(ErrorKind::Io)
                .detail("the server closed the connection before the response was complete")
                .source(io),
            _ => new(ErrorKind::Io).source(io),
        },
        U::Other(other) => {
            let other = match other.downcast::<ConnectFailed>() {
                Ok(c) => {
                    let detail = match c.addr {
                        Some(addr) => format!("cannot connect to {addr}"),
                        None => "cannot connect".to_owned(),
                    };
                    return new(ErrorKind::Connect).detail(detail).source(c.error);
                }
                Err(other) => other,
            };
            let other = match other.downcast::<Stale>() {
                Ok(s) => {
                    let mut e = new(ErrorKind::Io).source(*s);
                    e.stale = true;
                    return e;
                }
                Err(other) => other,
            };
            match other.downcast::<ResolveFailed>() {
                Ok(r) => new(ErrorKind::Resolve).source(r.0),
                Err(other) => new(ErrorKind::Io).source(other),
            }
        }
        U::HostNotFound => new(ErrorKind::Resolve).detail("the host has no address"),
        U::ConnectionFailed => new(ErrorKind::Connect),
        U::BadUri(msg) => new(ErrorKind::InvalidUrl).detail(format!("invalid URL: {msg}")),
        U::Http(e) => new(ErrorKind::Protocol).detail("invalid request").source(e),
        U::Protocol(e) => new(ErrorKind::Protocol).source(e),
        U::LargeResponseHeader(got, limit) => new(ErrorKind::Protocol).detail(format!(
            "the response head is larger than the limit of {limit} bytes (got {got})"
        )),
        U::StatusCode(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            new(ErrorKind::Status)
                .detail(format!("the server answered {status}"))
                .with_status(status)
        }
        U::TooManyRedirects | U::RedirectFailed => new(ErrorKind::Redirect),
        U::TlsRequired | U::Tls(_) => new(ErrorKind::Unsupported).detail(super::send::TLS_NEEDED),
        // ureq's error is non-exhaustive (and grows with its features).
        other => new(ErrorKind::Io).detail(other.to_string()),
    }
}
