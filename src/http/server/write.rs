//! Writing a response: the head into a reused buffer, the body framed by
//! what is known of its length.
//!
//! | the response | framing |
//! |---|---|
//! | to `HEAD`; status 1xx, 204, 304 | no body (for `HEAD` the length a `GET` would have: the handler's `Content-Length`, else the body's length) |
//! | [`Body::len`] known | `Content-Length` |
//! | length unknown, HTTP/1.1 client | `Transfer-Encoding: chunked`, a chunk per read of the body |
//! | length unknown, HTTP/1.0 client | the connection closes after the body |
//!
//! The head is written together with the first piece of the body: a small
//! body with a known length goes out in the same single write, and a body
//! that reads the request body (an echo) reads it, and so sends any
//! `100 Continue`, before the final head leaves. The handler's own framing
//! headers (`Content-Length`, `Transfer-Encoding`, `Connection`) are
//! replaced by the server's, except on a `101` response, whose headers go
//! out as they are. A `Date` header is added unless the handler set one;
//! its text is formatted once per second per worker.

use std::cell::Cell;
use std::io::{self, Read};
use std::sync::PoisonError;
use std::time::{SystemTime, UNIX_EPOCH};

use super::io::Shared;
use super::transport::Transport;
use crate::http::{header, Body, Response, StatusCode};

/// A write buffer reaching this size is written out.
const WRITE_BUF: usize = 16 * 1024;
/// A body held in memory up to this size is copied after the head, for
/// one write.
const COALESCE: usize = 64 * 1024;
/// The most one read of a streamed body asks for.
const CHUNK: usize = 16 * 1024;

/// What the server knows of the request a response answers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Answering {
    pub(super) is_head: bool,
    pub(super) http11: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    NoBody,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Writes `resp`; returns whether the connection may carry another
/// request (`keep_alive` as the server decided it, less what the response
/// itself asks). An error leaves the connection unusable.
pub(super) fn write_response<S: Transport>(
    shared: &Shared<S>,
    out: &mut Vec<u8>,
    resp: Response<Body>,
    req: Answering,
    mut keep_alive: bool,
) -> io::Result<bool> {
    let (parts, mut body) = resp.into_parts();
    let status = parts.status;
    let switching = status == StatusCode::SWITCHING_PROTOCOLS;
    if parts
        .headers
        .get_all(header::CONNECTION)
        .iter()
        .any(|v| has_token(v.as_bytes(), b"close"))
    {
        keep_alive = false;
    }
    let len = body.len();
    let bodyless = req.is_head || status.is_informational() || status == StatusCode::NO_CONTENT;
    let framing = match len {
        _ if bodyless || status == StatusCode::NOT_MODIFIED => Framing::NoBody,
        Some(n) => Framing::Length(n),
        None if req.http11 => Framing::Chunked,
        None => Framing::UntilClose,
    };
    if framing == Framing::UntilClose {
        keep_alive = false;
    }

    out.clear();
    push_status(out, status);
    // A handler's Content-Length stands where no body is sent: the length
    // a GET would have had (HEAD) or the selected representation's (304).
    let own_length_kept = req.is_head || status == StatusCode::NOT_MODIFIED;
    let mut has_length = false;
    let mut has_date = false;
    for (name, value) in &parts.headers {
        if name == header::CONTENT_LENGTH {
            if !own_length_kept {
                continue;
            }
            has_length = true;
        } else if name == header::TRANSFER_ENCODING || (name == header::CONNECTION && !switching) {
            continue;
        } else if name == header::DATE {
            has_date = true;
        }
        push_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if !has_date {
        push_date(out);
    }
    match (framing, len) {
        (Framing::Length(n), _) => push_length(out, n),
        (Framing::Chunked, _) => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        (Framing::NoBody, Some(n)) if req.is_head && !has_length => push_length(out, n),
        _ => {}
    }
    if !switching {
        if !keep_alive {
            out.extend_from_slice(b"connection: close\r\n");
        } else if !req.http11 {
            out.extend_from_slice(b"connection: keep-alive\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");

    match framing {
        Framing::NoBody => {
            drop(body);
            flush(shared, out)?;
        }
        Framing::Length(n) => write_length(shared, out, &mut body, n)?,
        Framing::Chunked => write_chunked(shared, out, &mut body)?,
        Framing::UntilClose => write_until_close(shared, out, &mut body)?,
    }
    Ok(keep_alive)
}

/// A body of `n` bytes, `Content-Length`-framed. A body that ends early
/// fails the connection (the client would otherwise wait for the rest);
/// bytes past `n` are not sent.
fn write_length<S: Transport>(shared: &Shared<S>, out: &mut Vec<u8>, body: &mut Body, n: u64) -> io::Result<()> {
    if let Some(bytes) = body.as_slice() {
        if out.len() + bytes.len() <= COALESCE {
            out.extend_from_slice(bytes);
            return flush(shared, out);
        }
        flush(shared, out)?;
        return write_all(shared, bytes);
    }
    let mut left = n;
    while left > 0 {
        let room = WRITE_BUF.saturating_sub(out.len()).max(4096);
        let got = read_into(body, out, room.min(usize::try_from(left).unwrap_or(usize::MAX)))?;
        if got == 0 {
            flush(shared, out)?;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "HTTP response body ended before its length",
            ));
        }
        left -= got as u64;
        if left == 0 || out.len() >= WRITE_BUF {
            flush(shared, out)?;
        }
    }
    flush(shared, out)
}

/// A body of unknown length to an HTTP/1.1 client: one chunk per read,
/// written as it comes (so a streamed body streams), then the last chunk.
fn write_chunked<S: Transport>(shared: &Shared<S>, out: &mut Vec<u8>, body: &mut Body) -> io::Result<()> {
    loop {
        // Room for the size line, filled in once the size is known.
        const SIZE_LINE: usize = 18;
        let at = out.len();
        out.resize(at + SIZE_LINE, 0);
        let got = read_into(body, out, CHUNK)?;
        if got == 0 {
            out.truncate(at);
            out.extend_from_slice(b"0\r\n\r\n");
            return flush(shared, out);
        }
        let (line, len) = size_line(got);
        // Move the data down to sit right after its size line.
        let data_at = at + SIZE_LINE;
        out.copy_within(data_at..data_at + got, at + len);
        out[at..at + len].copy_from_slice(&line[..len]);
        out.truncate(at + len + got);
        out.extend_from_slice(b"\r\n");
        flush(shared, out)?;
    }
}

/// A body of unknown length to an HTTP/1.0 client: raw bytes; the
/// connection then closes.
fn write_until_close<S: Transport>(shared: &Shared<S>, out: &mut Vec<u8>, body: &mut Body) -> io::Result<()> {
    loop {
        let got = read_into(body, out, CHUNK)?;
        flush(shared, out)?;
        if got == 0 {
            return Ok(());
        }
    }
}

/// One read of `body` appended to `out` (at most `max` bytes).
fn read_into(body: &mut Body, out: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    let at = out.len();
    out.resize(at + max, 0);
    let result = loop {
        match body.read(&mut out[at..]) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => break other,
        }
    };
    let got = *result.as_ref().unwrap_or(&0);
    out.truncate(at + got);
    result
}

/// Writes `out` to the connection and empties it.
pub(super) fn flush<S: Transport>(shared: &Shared<S>, out: &mut Vec<u8>) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    write_all(shared, out)?;
    out.clear();
    Ok(())
}

fn write_all<S: Transport>(shared: &Shared<S>, bytes: &[u8]) -> io::Result<()> {
    shared
        .io
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .stream()?
        .write_all(bytes)
}

/// A complete error response that closes the connection.
pub(super) fn error_response(status: StatusCode) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    push_status(&mut out, status);
    push_date(&mut out);
    out.extend_from_slice(b"content-length: 0\r\nconnection: close\r\n\r\n");
    out
}

fn push_status(out: &mut Vec<u8>, status: StatusCode) {
    if status == StatusCode::OK {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn push_length(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(b"content-length: ");
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

/// `HEX\r\n` for a chunk of `n` bytes.
fn size_line(n: usize) -> ([u8; 18], usize) {
    let mut line = [0u8; 18];
    let digits = (usize::BITS - n.leading_zeros()).div_ceil(4).max(1) as usize;
    for (i, d) in line[..digits].iter_mut().enumerate() {
        let nibble = (n >> (4 * (digits - 1 - i))) & 0xf;
        *d = b"0123456789abcdef"[nibble];
    }
    line[digits] = b'\r';
    line[digits + 1] = b'\n';
    (line, digits + 2)
}

/// Whether the comma-separated `value` holds `token` (ASCII case ignored).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

thread_local! {
    /// The `Date` value of the current second: (seconds since the epoch,
    /// its IMF-fixdate text). Only read and replaced whole, never held.
    static DATE: Cell<(u64, [u8; 29])> = const { Cell::new((u64::MAX, [0; 29])) };
}

fn push_date(out: &mut Vec<u8>) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (secs, mut text) = DATE.get();
    if secs != now {
        text = imf_fixdate(now);
        DATE.set((now, text));
    }
    push_header(out, b"date", &text);
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for `secs` since the Unix epoch (the
/// civil-from-days algorithm of Howard Hinnant's date library).
fn imf_fixdate(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = (yoe + era * 400 + u64::from(month <= 2)).min(9999);

    let mut t = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    t[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two(&mut t[5..7], day);
    t[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    two(&mut t[12..14], year / 100);
    two(&mut t[14..16], year % 100);
    two(&mut t[17..19], rem / 3600);
    two(&mut t[20..22], rem / 60 % 60);
    two(&mut t[23..25], rem % 60);
    t
}

fn two(dst: &mut [u8], n: u64) {
    dst[0] = b'0' + (n / 10 % 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}

#[cfg(test)]
mod tests {
    use super::{imf_fixdate, size_line};

    #[test]
    fn dates() {
        assert_eq!(&imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&imf_fixdate(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&imf_fixdate(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&imf_fixdate(1_700_000_000), b"Tue, 14 Nov 2023 22:13:20 GMT");
    }

    #[test]
    fn chunk_size_lines() {
        let (line, n) = size_line(0x1a2);
        assert_eq!(&line[..n], b"1a2\r\n");
        let (line, n) = size_line(1);
        assert_eq!(&line[..n], b"1\r\n");
        let (line, n) = size_line(16 * 1024);
        assert_eq!(&line[..n], b"4000\r\n");
    }
}
