//! Reading and checking a request head.
//!
//! The head is parsed by `httparse` once its end is in the buffer (so a
//! client trickling bytes costs one scan of the new bytes per read, not a
//! parse of everything so far). The checks that keep a request's framing
//! unambiguous, so that no proxy in front of the server can read a
//! different request boundary than the server does (request smuggling):
//!
//! - `Transfer-Encoding` must be exactly `chunked` (one coding, no list);
//!   anything else is `400`, and so is `Transfer-Encoding` in HTTP/1.0;
//! - `Transfer-Encoding` together with `Content-Length` is `400`;
//! - `Content-Length` must be decimal digits; several values (repeated
//!   headers or a list) must all be equal;
//! - bytes that are not HTTP (httparse's errors, header names or values the
//!   `http` crate refuses) are `400`; more than `max_headers` headers, or a
//!   head longer than `max_header_bytes`, is `431`.

use std::io;
use std::mem::MaybeUninit;
use std::time::Instant;

use super::conn::ConnGuard;
use super::io::{head_ends, BodyState, Chunk, ConnIo};
use super::transport::Transport;
use super::Config;
use crate::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, Version};

/// Header slots kept on the stack; a larger `max_headers` allocates.
const STACK_HEADERS: usize = 100;

/// A parsed request head and what the server needs to know about it.
pub(super) struct Head {
    pub(super) req: Request<()>,
    pub(super) body: BodyState,
    /// The client may keep the connection open after this exchange.
    pub(super) keep_alive: bool,
    pub(super) expect_continue: bool,
    pub(super) is_head: bool,
    pub(super) http11: bool,
}

/// Why no request came.
#[derive(Debug)]
pub(super) enum HeadError {
    /// The connection ended, or stayed idle too long, between requests.
    Closed,
    /// The head did not arrive within the header timeout.
    TimedOut,
    /// A bad request: answer with this status and close.
    Status(StatusCode),
    /// The connection failed in the middle of a head.
    Io,
}

/// Reads the next request head. `accepted` is when the connection was
/// accepted, for its first request (the header timeout then counts from
/// there); later requests may wait `idle_timeout` for their first byte.
pub(super) fn read_head<S: Transport>(
    io: &mut ConnIo<S>,
    cfg: &Config,
    conn: &ConnGuard,
    accepted: Option<Instant>,
) -> Result<Head, HeadError> {
    let mut deadline = accepted.and_then(|t| t.checked_add(cfg.header_timeout));
    let mut scanned = 0;
    loop {
        scanned -= skip_empty_lines(io).min(scanned);
        let data = io.rbuf.data();
        if !data.is_empty() && deadline.is_none() {
            deadline = Instant::now().checked_add(cfg.header_timeout);
        }
        if head_ends(data, scanned) {
            if let Some((n, head)) = parse(data, cfg)? {
                io.rbuf.consume(n);
                return Ok(head);
            }
        }
        scanned = data.len();
        if scanned >= cfg.max_header_bytes {
            return Err(HeadError::Status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
        }
        let Some(stream) = io.stream.as_mut() else {
            return Err(HeadError::Closed);
        };
        // Bytes of the next request may already be inside the stream
        // (decrypted by TLS), where waiting on the socket would not see
        // them: then the connection is not idle.
        let idle = data.is_empty() && !stream.has_buffered();
        if !idle && deadline.is_none() {
            deadline = Instant::now().checked_add(cfg.header_timeout);
        }
        let wait_until = if idle {
            if !conn.set_idle() {
                return Err(HeadError::Closed);
            }
            deadline.or_else(|| Instant::now().checked_add(cfg.idle_timeout))
        } else {
            deadline
        };
        let read = io.rbuf.fill_from(stream, cfg.max_header_bytes, wait_until);
        match read {
            Ok(0) => return Err(HeadError::Closed),
            Ok(_) if idle && !conn.set_busy() => return Err(HeadError::Closed),
            Ok(_) => {}
            Err(_) if idle => return Err(HeadError::Closed),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(HeadError::TimedOut),
            Err(e) if e.kind() == io::ErrorKind::OutOfMemory => {
                return Err(HeadError::Status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE))
            }
            Err(_) => return Err(HeadError::Io),
        }
    }
}

/// Drops the empty lines a client may send before a request line (RFC
/// 9112, section 2.2); returns how many bytes went.
fn skip_empty_lines<S>(io: &mut ConnIo<S>) -> usize {
    let data = io.rbuf.data();
    let mut n = 0;
    loop {
        match &data[n..] {
            [b'\r', b'\n', ..] => n += 2,
            [b'\n', ..] => n += 1,
            _ => break,
        }
    }
    io.rbuf.consume(n);
    n
}

/// Parses a head whose end is in `data`: `Ok(None)` if httparse still
/// wants more.
fn parse(data: &[u8], cfg: &Config) -> Result<Option<(usize, Head)>, HeadError> {
    let mut on_stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let mut on_heap;
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if cfg.max_headers <= STACK_HEADERS {
        &mut on_stack[..cfg.max_headers]
    } else {
        on_heap = (0..cfg.max_headers).map(|_| MaybeUninit::uninit()).collect::<Vec<_>>();
        &mut on_heap
    };
    let mut req = httparse::Request::new(&mut []);
    let n = match req.parse_with_uninit_headers(data, slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)),
        Err(_) => return Err(status(StatusCode::BAD_REQUEST)),
    };
    if n > cfg.max_header_bytes {
        return Err(status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
    }
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes()).map_err(bad)?;
    let uri = Uri::try_from(req.path.unwrap_or("")).map_err(bad)?;
    let http11 = req.version == Some(1);
    let mut framing = Framing::default();
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(bad)?;
        let value = HeaderValue::from_bytes(h.value).map_err(bad)?;
        framing.note(&name, h.value)?;
        headers.append(name, value);
    }
    let body = framing.body(http11, cfg)?;
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = if http11 { Version::HTTP_11 } else { Version::HTTP_10 };
    *request.headers_mut() = headers;
    let head = Head {
        is_head: request.method() == Method::HEAD,
        req: request,
        body,
        keep_alive: if http11 {
            !framing.close
        } else {
            framing.keep_alive && !framing.close
        },
        // HTTP/1.0 clients cannot expect (RFC 9110, section 10.1.1).
        expect_continue: framing.expect_continue && http11,
        http11,
    };
    Ok(Some((n, head)))
}

fn status(code: StatusCode) -> HeadError {
    HeadError::Status(code)
}

fn bad<E>(_: E) -> HeadError {
    status(StatusCode::BAD_REQUEST)
}

/// What the headers say about the body and the connection.
#[derive(Default)]
struct Framing {
    content_length: Option<u64>,
    /// `Transfer-Encoding` was present.
    transfer_encoding: bool,
    /// ... and was exactly one `chunked`.
    chunked: bool,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
    expect_other: bool,
}

impl Framing {
    fn note(&mut self, name: &HeaderName, value: &[u8]) -> Result<(), HeadError> {
        if name == header::CONTENT_LENGTH {
            for item in list(value) {
                let n = parse_decimal(item).ok_or(status(StatusCode::BAD_REQUEST))?;
                if self.content_length.is_some_and(|m| m != n) {
                    return Err(status(StatusCode::BAD_REQUEST));
                }
                self.content_length = Some(n);
            }
            if self.content_length.is_none() {
                return Err(status(StatusCode::BAD_REQUEST));
            }
        } else if name == header::TRANSFER_ENCODING {
            let first = !self.transfer_encoding;
            self.transfer_encoding = true;
            let mut codings = list(value);
            self.chunked =
                first && codings.next().is_some_and(|c| c.eq_ignore_ascii_case(b"chunked")) && codings.next().is_none();
        } else if name == header::CONNECTION {
            for token in list(value) {
                self.close |= token.eq_ignore_ascii_case(b"close");
                self.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name == header::EXPECT {
            if value.eq_ignore_ascii_case(b"100-continue") {
                self.expect_continue = true;
            } else {
                self.expect_other = true;
            }
        }
        Ok(())
    }

    fn body(&self, http11: bool, cfg: &Config) -> Result<BodyState, HeadError> {
        if self.transfer_encoding {
            if !self.chunked || self.content_length.is_some() || !http11 {
                return Err(status(StatusCode::BAD_REQUEST));
            }
        } else if self.content_length.is_some_and(|n| n > cfg.max_body_bytes) {
            return Err(status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        if self.expect_other && http11 {
            return Err(status(StatusCode::EXPECTATION_FAILED));
        }
        Ok(match (self.chunked, self.content_length) {
            (true, _) => BodyState::Chunked(Chunk::Size),
            (false, Some(n)) if n > 0 => BodyState::Length(n),
            _ => BodyState::Done,
        })
    }
}

/// The items of a comma-separated header value, trimmed of blanks; empty
/// items are skipped.
fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim).filter(|s| !s.is_empty())
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// A `Content-Length`: 1 to 19 decimal digits, nothing else.
fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::{list, parse_decimal};

    #[test]
    fn decimal_lengths() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"1234"), Some(1234));
        assert_eq!(parse_decimal(b"9999999999999999999"), Some(9_999_999_999_999_999_999));
        for bad in [&b""[..], b"+1", b"-1", b"1 2", b"0x10", b"12a", b"99999999999999999999"] {
            assert_eq!(parse_decimal(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn lists() {
        let items: Vec<&[u8]> = list(b" chunked ,, identity\t").collect();
        assert_eq!(items, [&b"chunked"[..], b"identity"]);
    }
}
