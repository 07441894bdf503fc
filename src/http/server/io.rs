//! A connection's reading side: the read buffer, and the request-body
//! decoder behind the handler's [`Body`](crate::http::Body).
//!
//! The connection green thread and the request body share one
//! [`Shared`] per connection: the stream, the read buffer and the body's
//! framing state, under a green-thread [`Mutex`]. The connection thread
//! locks it to read a request head and to write a response; a body read
//! (`Incoming::read`) only *tries* the lock, so a body used from another
//! thread at the wrong moment fails instead of waiting, and a body kept
//! past its exchange (tagged with an older exchange number) fails instead
//! of reading the next request.
//!
//! Body framing, per request:
//!
//! ```text
//! Length(n)  ── read ≤ n bytes ──▶ Done
//! Chunked:   Size ──"hex[;ext]\r\n"──▶ Data(n) ──n bytes──▶ DataEnd ──"\r\n"──▶ Size
//!              └──"0\r\n"──▶ Trailers ──header lines, "\r\n" (ignored)──▶ Done
//! any error (bad framing, over the size limit, I/O, timeout) ──▶ Failed
//! ```

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::transport::Transport;
use crate::http::body::Incoming;
use crate::sync::{Mutex, TryLockError};

/// The interim response sent when a handler first reads a body that the
/// client announced with `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Longest chunk-size line (size and extensions).
const MAX_CHUNK_LINE: usize = 4096;

/// Reads at least this long skip the read buffer when it is empty.
const DIRECT_READ: usize = 8 * 1024;

/// The per-connection state shared by the connection thread and its
/// request bodies.
pub(super) struct Shared<S> {
    pub(super) io: Mutex<ConnIo<S>>,
}

/// The stream and the reading state of one connection.
pub(super) struct ConnIo<S> {
    /// `None` once handed over by an upgrade.
    pub(super) stream: Option<S>,
    pub(super) rbuf: ReadBuf,
    pub(super) body: BodyState,
    pub(super) expect: Expect,
    /// Why the current body failed, if it did.
    pub(super) failure: Option<Failure>,
    /// Numbers the requests on this connection; a body reads only while
    /// its exchange is the current one.
    pub(super) exchange: u64,
    /// Chunked bytes received so far in this body.
    chunked_total: u64,
    limits: Limits,
}

/// The limits the body decoder applies.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub(super) max_body: u64,
    pub(super) max_head: usize,
    pub(super) read_timeout: Option<Duration>,
}

/// Where the current request body stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BodyState {
    Done,
    Length(u64),
    Chunked(Chunk),
    Failed,
}

/// Where a chunked body stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

/// The `Expect: 100-continue` handshake of the current request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expect {
    /// Not asked for (or the body has no bytes).
    No,
    /// Asked for; nobody has read the body yet.
    Pending,
    /// `100 Continue` was sent.
    Sent,
}

/// Why a request body failed: what the server answers if the handler's
/// response has not been sent yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// Broken chunked framing: `400 Bad Request`.
    BadRequest,
    /// Over the body size limit: `413 Content Too Large`.
    TooLarge,
    /// The connection failed or timed out: nothing can be answered.
    Io,
}

impl<S: Transport> Shared<S> {
    pub(super) fn new(stream: S, limits: Limits) -> Shared<S> {
        Shared {
            io: Mutex::new(ConnIo {
                stream: Some(stream),
                rbuf: ReadBuf::new(limits.max_head.min(DIRECT_READ)),
                body: BodyState::Done,
                expect: Expect::No,
                failure: None,
                exchange: 0,
                chunked_total: 0,
                limits,
            }),
        }
    }
}

impl<S: Transport> Incoming for Shared<S> {
    fn read(&self, exchange: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut io = match self.io.try_lock() {
            Ok(io) => io,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Err(io::Error::other(
                    "HTTP request body read while its connection is busy (from two threads at once?)",
                ))
            }
        };
        if io.exchange != exchange {
            return Err(io::Error::other("HTTP request body read after its exchange ended"));
        }
        io.read_body(buf)
    }
}

impl<S: Transport> ConnIo<S> {
    /// The stream; fails once it has been handed over.
    pub(super) fn stream(&mut self) -> io::Result<&mut S> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the connection was upgraded"))
    }

    /// Sets up the body of a new request.
    pub(super) fn start_body(&mut self, body: BodyState, expect_continue: bool) {
        self.body = body;
        self.failure = None;
        self.chunked_total = 0;
        self.expect = if expect_continue && body != BodyState::Done {
            Expect::Pending
        } else {
            Expect::No
        };
    }

    /// Reads from the current request body (0 at its end).
    pub(super) fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.body {
            BodyState::Done => return Ok(0),
            BodyState::Failed => return Err(self.failure_error()),
            _ if buf.is_empty() => return Ok(0),
            _ => {}
        }
        let result = self.send_continue().and_then(|()| self.decode(buf));
        if result.is_err() {
            self.body = BodyState::Failed;
            self.failure.get_or_insert(Failure::Io);
        }
        result
    }

    fn send_continue(&mut self) -> io::Result<()> {
        if self.expect == Expect::Pending {
            self.expect = Expect::Sent;
            self.stream()?.write_all(CONTINUE)?;
        }
        Ok(())
    }

    fn decode(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.body {
                BodyState::Done => return Ok(0),
                BodyState::Failed => return Err(self.failure_error()),
                BodyState::Length(left) => {
                    let n = self.read_data(buf, left)?;
                    self.body = if n as u64 == left {
                        BodyState::Done
                    } else {
                        BodyState::Length(left - n as u64)
                    };
                    return Ok(n);
                }
                BodyState::Chunked(Chunk::Data(left)) => {
                    let n = self.read_data(buf, left)?;
                    self.body = BodyState::Chunked(if n as u64 == left {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left - n as u64)
                    });
                    return Ok(n);
                }
                BodyState::Chunked(Chunk::Size) => {
                    let size = self.chunk_size()?;
                    self.body = BodyState::Chunked(if size == 0 {
                        Chunk::Trailers
                    } else {
                        self.chunked_total = self.chunked_total.saturating_add(size);
                        if self.chunked_total > self.limits.max_body {
                            return Err(self.fail(Failure::TooLarge));
                        }
                        Chunk::Data(size)
                    });
                }
                BodyState::Chunked(Chunk::DataEnd) => {
                    while self.rbuf.len() < 2 {
                        self.fill()?;
                    }
                    if &self.rbuf.data()[..2] != b"\r\n" {
                        return Err(self.fail(Failure::BadRequest));
                    }
                    self.rbuf.consume(2);
                    self.body = BodyState::Chunked(Chunk::Size);
                }
                BodyState::Chunked(Chunk::Trailers) => {
                    self.skip_trailers()?;
                    self.body = BodyState::Done;
                }
            }
        }
    }

    /// Reads up to `left` body bytes: from the buffer, else straight into
    /// `buf` (a large read), else through the buffer.
    fn read_data(&mut self, buf: &mut [u8], left: u64) -> io::Result<usize> {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let buf = &mut buf[..want];
        if self.rbuf.is_empty() {
            if want >= DIRECT_READ {
                let deadline = self.read_deadline();
                let n = read_by(self.stream()?, buf, deadline)?;
                return if n == 0 { Err(early_eof()) } else { Ok(n) };
            }
            self.fill()?;
        }
        let data = self.rbuf.data();
        let n = want.min(data.len());
        buf[..n].copy_from_slice(&data[..n]);
        self.rbuf.consume(n);
        Ok(n)
    }

    /// Parses one chunk-size line (`hex[;extensions]\r\n`, nothing laxer).
    fn chunk_size(&mut self) -> io::Result<u64> {
        loop {
            let data = self.rbuf.data();
            if let Some(nl) = data.iter().position(|&b| b == b'\n') {
                let line = &data[..=nl];
                let well_formed = nl > 0 && line[nl - 1] == b'\r' && line[0].is_ascii_hexdigit();
                return match httparse::parse_chunk_size(line) {
                    Ok(httparse::Status::Complete((n, size))) if well_formed && n == line.len() => {
                        self.rbuf.consume(n);
                        Ok(size)
                    }
                    _ => Err(self.fail(Failure::BadRequest)),
                };
            }
            if data.len() >= MAX_CHUNK_LINE {
                return Err(self.fail(Failure::BadRequest));
            }
            self.fill()?;
        }
    }

    /// Reads the trailer section after the last chunk and drops it.
    fn skip_trailers(&mut self) -> io::Result<()> {
        let mut scanned = 0;
        loop {
            let data = self.rbuf.data();
            if head_ends(data, scanned) {
                let mut headers = [httparse::EMPTY_HEADER; 64];
                match httparse::parse_headers(data, &mut headers) {
                    Ok(httparse::Status::Complete((n, _))) => {
                        self.rbuf.consume(n);
                        return Ok(());
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(_) => return Err(self.fail(Failure::BadRequest)),
                }
            }
            scanned = data.len();
            if scanned >= self.limits.max_head {
                return Err(self.fail(Failure::BadRequest));
            }
            self.fill()?;
        }
    }

    /// Reads more bytes into the buffer; the connection ending here cuts
    /// the body short.
    fn fill(&mut self) -> io::Result<()> {
        let deadline = self.read_deadline();
        let max = self.limits.max_head.max(MAX_CHUNK_LINE);
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        };
        match self.rbuf.fill_from(stream, max, deadline)? {
            0 => Err(early_eof()),
            _ => Ok(()),
        }
    }

    fn read_deadline(&self) -> Option<Instant> {
        self.limits.read_timeout.and_then(|d| Instant::now().checked_add(d))
    }

    /// Records why the body failed; the error to return.
    fn fail(&mut self, why: Failure) -> io::Error {
        self.failure = Some(why);
        self.failure_error()
    }

    fn failure_error(&self) -> io::Error {
        match self.failure {
            Some(Failure::TooLarge) => io::Error::new(
                io::ErrorKind::InvalidData,
                "HTTP request body is larger than the server's limit",
            ),
            Some(Failure::BadRequest) => io::Error::new(
                io::ErrorKind::InvalidData,
                "HTTP request body has broken chunked framing",
            ),
            _ => io::Error::other("HTTP request body failed earlier (connection error or timeout)"),
        }
    }
}

fn early_eof() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "HTTP connection closed in the middle of a body",
    )
}

/// One read, failing with `TimedOut` once `deadline` passes (through
/// [`crate::timeout_at`], so any stream whose reads park is bounded).
pub(super) fn read_by<S: Read>(stream: &mut S, buf: &mut [u8], deadline: Option<Instant>) -> io::Result<usize> {
    let Some(deadline) = deadline else {
        return stream.read(buf);
    };
    match crate::timeout_at(deadline, || stream.read(buf)) {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "HTTP read timed out")),
    }
}

/// Whether `data` holds a complete head (or trailer section): it starts
/// with an empty line, or an empty line follows a line end at or after
/// `from` (less the three bytes an end can straddle). Searching only the
/// new bytes keeps a client that trickles its head from costing a parse
/// of the whole buffer per byte.
pub(super) fn head_ends(data: &[u8], from: usize) -> bool {
    if data.starts_with(b"\r\n") || data.starts_with(b"\n") {
        return true;
    }
    // Jump from one `\n` to the next (a tight byte search) instead of
    // comparing every window: an end is `\n\n` or `\n\r\n`.
    let mut i = from.saturating_sub(3).min(data.len());
    while let Some(off) = data[i..].iter().position(|&b| b == b'\n') {
        let n = i + off;
        match data.get(n + 1) {
            Some(b'\n') => return true,
            Some(b'\r') if data.get(n + 2) == Some(&b'\n') => return true,
            _ => i = n + 1,
        }
    }
    false
}

/// A connection's read buffer: `buf[start..end]` holds bytes read and not
/// consumed yet (the rest of a head, body bytes, pipelined requests). It
/// is allocated once per connection and grows (up to the head limit) only
/// for a large head.
pub(super) struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    fn new(capacity: usize) -> ReadBuf {
        ReadBuf {
            buf: vec![0; capacity.max(64)],
            start: 0,
            end: 0,
        }
    }

    pub(super) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(super) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(super) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub(super) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The unconsumed bytes, taken out (for an upgrade).
    pub(super) fn take(&mut self) -> Vec<u8> {
        let rest = self.data().to_vec();
        self.start = 0;
        self.end = 0;
        rest
    }

    /// Reads once into the free space, first making room (moving the data
    /// to the front, then growing up to `max` bytes). Fails with
    /// `OutOfMemory` if the buffer is full at `max`.
    pub(super) fn fill_from<S: Read>(
        &mut self,
        stream: &mut S,
        max: usize,
        deadline: Option<Instant>,
    ) -> io::Result<usize> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < max {
                let grown = (self.buf.len() * 2).min(max);
                self.buf.resize(grown, 0);
            } else {
                return Err(io::Error::new(io::ErrorKind::OutOfMemory, "HTTP read buffer is full"));
            }
        }
        let n = read_by(stream, &mut self.buf[self.end..], deadline)?;
        self.end += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::head_ends;

    #[test]
    fn head_end_detection() {
        assert!(head_ends(b"GET / HTTP/1.1\r\n\r\n", 0));
        assert!(head_ends(b"GET / HTTP/1.1\n\n", 0));
        assert!(head_ends(b"\r\n", 0));
        assert!(!head_ends(b"GET / HTTP/1.1\r\nHost: x\r\n", 0));
        // An end straddling the previous scan boundary is still found.
        let data = b"GET / HTTP/1.1\r\n\r\n";
        assert!(head_ends(data, data.len() - 1));
        assert!(!head_ends(b"GET / HTTP/1.1\r\n\r", 0));
        // A `\n\r` not followed by `\n`, then a real end further on.
        assert!(!head_ends(b"GET / HTTP/1.1\n\rX: y\r\n", 0));
        assert!(head_ends(b"GET / HTTP/1.1\n\rX: y\r\n\r\n", 0));
        // A scan start past the end of the data finds nothing, not a panic.
        assert!(!head_ends(b"GET", 10));
        // Every split of a head into two reads finds its end exactly once.
        let data = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for cut in 0..data.len() {
            let first = head_ends(&data[..cut], 0);
            assert!(!first, "no end within the first {cut} bytes");
            assert!(head_ends(data, cut), "end found after a read of {cut} bytes");
        }
    }
}
