//! A raw HTTP/1.1 client for the server tests (`tests/http_server.rs`,
//! `tests/https_server.rs`): bytes written as given, responses parsed off
//! the wire, so a test sees exactly what the server sent.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A raw HTTP/1.1 client over any stream (TCP, TLS): writes bytes, reads
/// responses off the wire with `httparse`.
pub struct Wire<S> {
    pub s: S,
    /// Bytes read and not consumed yet.
    pub buf: Vec<u8>,
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

impl Wire<TcpStream> {
    /// A TCP connection with a 30 s read timeout.
    pub fn connect(addr: SocketAddr) -> Wire<TcpStream> {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Wire::new(s)
    }
}

impl<S: Read + Write> Wire<S> {
    pub fn new(s: S) -> Wire<S> {
        Wire { s, buf: Vec::new() }
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.s.write_all(bytes.as_ref()).unwrap();
    }

    /// Reads more bytes; false at the end (end-of-file, a reset, a TLS
    /// connection ended without close_notify).
    pub fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.s.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof) => false,
            Err(e) => panic!("client read failed: {e}"),
        }
    }

    pub fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill(), "connection closed {} bytes short", n - self.buf.len());
        }
        self.buf.drain(..n).collect()
    }

    pub fn line(&mut self) -> Vec<u8> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.drain(..i + 2).collect::<Vec<_>>();
                return line[..i].to_vec();
            }
            assert!(self.fill(), "connection closed in the middle of a line");
        }
    }

    /// Reads one response head (an interim 1xx included).
    pub fn head(&mut self) -> Resp {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut r = httparse::Response::new(&mut headers);
            match r.parse(&self.buf).unwrap() {
                httparse::Status::Complete(n) => {
                    assert_eq!(r.version, Some(1), "not an HTTP/1.1 status line");
                    let resp = Resp {
                        status: r.code.unwrap(),
                        headers: r
                            .headers
                            .iter()
                            .map(|h| (h.name.to_string(), String::from_utf8(h.value.to_vec()).unwrap()))
                            .collect(),
                        body: Vec::new(),
                    };
                    self.buf.drain(..n);
                    return resp;
                }
                httparse::Status::Partial => assert!(self.fill(), "connection closed before a response head"),
            }
        }
    }

    /// Reads one final response with its body; `head_request` when it
    /// answers a HEAD (no body follows).
    pub fn response_to(&mut self, head_request: bool) -> Resp {
        let mut resp = self.head();
        assert!(resp.status >= 200, "unexpected interim response {}", resp.status);
        if head_request || resp.status == 204 || resp.status == 304 {
            return resp;
        }
        if let Some(len) = resp.header("content-length") {
            assert!(resp.header("transfer-encoding").is_none(), "both framings in {resp:?}");
            resp.body = self.take(len.parse().unwrap());
        } else if resp.header("transfer-encoding") == Some("chunked") {
            loop {
                let line = self.line();
                let size = usize::from_str_radix(std::str::from_utf8(&line).unwrap(), 16).unwrap();
                if size == 0 {
                    assert_eq!(self.line(), b"", "trailers after the last chunk");
                    break;
                }
                let data = self.take(size);
                resp.body.extend_from_slice(&data);
                assert_eq!(self.take(2), b"\r\n");
            }
        } else {
            while self.fill() {}
            resp.body = std::mem::take(&mut self.buf);
        }
        resp
    }

    pub fn response(&mut self) -> Resp {
        self.response_to(false)
    }

    /// Whether the server has closed the connection, with nothing unread
    /// left.
    pub fn closed(&mut self) -> bool {
        while self.fill() {}
        self.buf.is_empty()
    }
}
