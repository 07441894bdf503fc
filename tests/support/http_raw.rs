//! A raw HTTP/1.1 responder on `verdant::net::TcpListener` for the client
//! tests (included with `#[path]`): it parses requests with `httparse`,
//! decodes their bodies (length-delimited or chunked), hands them to a
//! handler and writes the handler's bytes as they are, so a test controls
//! the exact framing. It counts accepted connections.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use verdant::net::{TcpListener, TcpStream};

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Which request this is on its connection (0 for the first).
    pub nth_on_connection: usize,
}

impl RawRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
}

/// What to do with a request.
pub enum Reply {
    /// Write these bytes and go on reading the next request.
    Bytes(Vec<u8>),
    /// Write these bytes and close the connection.
    ThenClose(Vec<u8>),
    /// Never answer: keep the connection open until the client closes it.
    Never,
}

/// `200 OK` with `Content-Length`.
pub fn ok(body: &str) -> Reply {
    Reply::Bytes(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes())
}

/// A response with `status` and `headers` (each `"Name: value"`), with a
/// `Content-Length` body.
pub fn response(status: &str, headers: &[&str], body: &str) -> Reply {
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    Reply::Bytes(format!("{head}Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes())
}

/// A redirect to `location`.
pub fn redirect(status: &str, location: &str) -> Reply {
    response(status, &[&format!("Location: {location}")], "moved")
}

/// `200 OK`, `Transfer-Encoding: chunked`, one chunk per part.
pub fn chunked(parts: &[&str]) -> Reply {
    let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for p in parts {
        out.extend_from_slice(format!("{:x}\r\n{p}\r\n", p.len()).as_bytes());
    }
    out.extend_from_slice(b"0\r\n\r\n");
    Reply::Bytes(out)
}

/// `200 OK` with neither length nor chunking: the body ends when the
/// server closes.
pub fn close_delimited(body: &str) -> Reply {
    Reply::ThenClose(format!("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{body}").into_bytes())
}

pub type Handler = dyn Fn(&RawRequest) -> Reply + Send + Sync + 'static;

/// A running responder. It lives until its runtime is dropped.
pub struct RawServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    /// One message each time a connection's serving thread ends.
    closed: verdant::sync::Receiver<()>,
}

impl RawServer {
    /// Binds 127.0.0.1:0 and serves each connection on its own green
    /// thread of the runtime it is called on (call it inside `block_on` or
    /// through `rt.block_on(|| RawServer::start(..))`).
    pub fn start(handler: impl Fn(&RawRequest) -> Reply + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let count = accepted.clone();
        let (closing, closed) = verdant::sync::unbounded();
        verdant::spawn(move || loop {
            let Ok((conn, _)) = listener.accept() else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            let closing = closing.clone();
            verdant::spawn(move || {
                let _ = serve_connection(conn, &*handler);
                let _ = closing.send(());
            });
        });
        RawServer { addr, accepted, closed }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits (at most `limit`, as a guard against a hang) until one more
    /// connection has ended on the server's side; `false` if none did.
    pub fn wait_closed(&self, limit: std::time::Duration) -> bool {
        self.closed.recv_timeout(limit).is_ok()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Serves requests on `conn` until the client closes it, a reply closes it,
/// or a request is malformed. At most 10 000 requests per connection.
fn serve_connection(mut conn: TcpStream, handler: &Handler) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    for nth in 0..10_000 {
        let Some(mut req) = read_request(&mut conn, &mut buf)? else {
            return Ok(());
        };
        req.nth_on_connection = nth;
        match handler(&req) {
            Reply::Bytes(bytes) => conn.write_all(&bytes)?,
            Reply::ThenClose(bytes) => {
                conn.write_all(&bytes)?;
                return Ok(());
            }
            Reply::Never => {
                // Read (and drop) until the client goes away.
                let mut sink = [0u8; 1024];
                while conn.read(&mut sink)? > 0 {}
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Fills `buf` from `conn` until `done(buf)` says how much it needs, or end
/// of file (`Ok(None)`).
fn fill_until(conn: &mut TcpStream, buf: &mut Vec<u8>, mut done: impl FnMut(&[u8]) -> bool) -> io::Result<bool> {
    let mut chunk = [0u8; 8192];
    // Bounded: each turn reads at least one byte, and requests are small.
    for _ in 0..100_000 {
        if done(buf) {
            return Ok(true);
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(false);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Err(io::Error::other("request too long"))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request (head and body) from `conn`, leaving any bytes after
/// it in `buf`. `Ok(None)` at a clean end of file.
fn read_request(conn: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<RawRequest>> {
    if !fill_until(conn, buf, |b| find(b, b"\r\n\r\n").is_some())? {
        return Ok(None);
    }
    let head_len = find(buf, b"\r\n\r\n").unwrap() + 4;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    let status = parsed
        .parse(&buf[..head_len])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    assert!(status.is_complete());
    let mut req = RawRequest {
        method: parsed.method.unwrap().to_owned(),
        path: parsed.path.unwrap().to_owned(),
        headers: parsed
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
        body: Vec::new(),
        nth_on_connection: 0,
    };
    buf.drain(..head_len);
    if let Some(len) = req.header("content-length") {
        let len: usize = len.trim().parse().map_err(|_| io::Error::other("bad content-length"))?;
        if !fill_until(conn, buf, |b| b.len() >= len)? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        req.body = buf.drain(..len).collect();
    } else if req.header("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        // At most 100 000 chunks.
        for _ in 0..100_000 {
            if !fill_until(conn, buf, |b| find(b, b"\r\n").is_some())? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let line_end = find(buf, b"\r\n").unwrap();
            let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
            let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16)
                .map_err(|_| io::Error::other(format!("bad chunk size line {line:?}")))?;
            buf.drain(..line_end + 2);
            if !fill_until(conn, buf, |b| b.len() >= size + 2)? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            req.body.extend(buf.drain(..size));
            buf.drain(..2); // CRLF after the chunk (or the empty trailer section)
            if size == 0 {
                break;
            }
        }
    }
    Ok(Some(req))
}
