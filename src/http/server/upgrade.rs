//! Protocol upgrades (WebSocket and the like): [`OnUpgrade`] and
//! [`Upgraded`].
//!
//! The protocol is in [`OnUpgrade`]'s docs.

use std::any::Any;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use parking_lot::Mutex;

use super::transport::Transport;

type UpgradeFn = Box<dyn FnOnce(Upgraded) + Send>;

/// What to do with the connection once a `101 Switching Protocols`
/// response has been sent: a response extension.
///
/// A handler that accepts an upgrade returns a `101 Switching Protocols`
/// response carrying an [`OnUpgrade`] extension. The server then:
///
/// 1. writes the 101 response head (its body, if any, is dropped unsent);
/// 2. finishes the request: its unread body is drained as after any
///    response (if that fails, the connection closes and the function is
///    dropped uncalled);
/// 3. calls the [`OnUpgrade`] function **on the connection's own green
///    thread** with the [`Upgraded`] connection: the stream and the bytes
///    the server had already read past the request;
/// 4. ends the connection's green thread when the function returns. The
///    connection closes when the `Upgraded` is dropped; a function may
///    move it to a green thread of its own instead, which takes it out of
///    the server's accounting below.
///
/// The upgraded connection stays one of the server's: it holds its place
/// under `max_connections`, a graceful stop waits for the function (and
/// cancels it after the drain timeout), and a panic in it is caught and
/// logged like a handler's. A `101` response without an `OnUpgrade` closes
/// the connection after the head; an `OnUpgrade` on any other status is
/// dropped uncalled.
///
/// It is `Clone` (as the `http` crate asks of extensions); the clones share
/// the one function, which runs at most once.
///
/// # Examples
///
/// A toy protocol: after the upgrade, the server echoes bytes back.
///
/// ```
/// use std::io::{Read, Write};
/// use verdant::http::{header, OnUpgrade, Response, Server, StatusCode};
///
/// let server = Server::bind("127.0.0.1:0")?.serve_background(|req| {
///     if req.headers().get(header::UPGRADE).is_some_and(|v| v == "echo") {
///         let on_upgrade = OnUpgrade::new(|mut conn| {
///             let mut buf = [0u8; 64];
///             while let Ok(n @ 1..) = conn.read(&mut buf) {
///                 if conn.write_all(&buf[..n]).is_err() {
///                     break;
///                 }
///             }
///         });
///         return Response::builder()
///             .status(StatusCode::SWITCHING_PROTOCOLS)
///             .header(header::CONNECTION, "upgrade")
///             .header(header::UPGRADE, "echo")
///             .extension(on_upgrade)
///             .body(().into())
///             .unwrap();
///     }
///     Response::new("no upgrade asked".into())
/// })?;
///
/// let mut conn = verdant::net::TcpStream::connect(server.local_addr())?;
/// conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nhello")?;
/// let mut got = Vec::new();
/// let mut byte = [0u8];
/// while !got.ends_with(b"\r\n\r\nhello") {
///     conn.read_exact(&mut byte)?;
///     got.push(byte[0]);
/// }
/// assert!(got.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
/// drop(conn); // the echo loop reads end-of-file and returns
/// server.stop()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct OnUpgrade {
    f: Arc<Mutex<Option<UpgradeFn>>>,
}

impl OnUpgrade {
    /// An upgrade that runs `f` with the connection once the `101`
    /// response has been written.
    ///
    /// ```
    /// use std::io::Write;
    /// let on_upgrade = verdant::http::OnUpgrade::new(|mut conn| {
    ///     let _ = conn.write_all(b"now speaking my protocol");
    /// });
    /// let resp = verdant::http::Response::builder()
    ///     .status(101)
    ///     .extension(on_upgrade)
    ///     .body(verdant::http::Body::empty())
    ///     .unwrap();
    /// assert!(resp.extensions().get::<verdant::http::OnUpgrade>().is_some());
    /// ```
    pub fn new<F>(f: F) -> OnUpgrade
    where
        F: FnOnce(Upgraded) + Send + 'static,
    {
        OnUpgrade {
            f: Arc::new(Mutex::new(Some(Box::new(f)))),
        }
    }

    /// Takes the function out (the first taker gets it).
    pub(super) fn take(&self) -> Option<UpgradeFn> {
        self.f.lock().take()
    }
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnUpgrade")
            .field("pending", &self.f.lock().is_some())
            .finish()
    }
}

/// A connection handed over after a `101 Switching Protocols` response
/// (see [`OnUpgrade`]): reading returns first the bytes the server had
/// already received past the request, then reads the stream.
///
/// ```
/// # use verdant::http::Upgraded;
/// fn speak(mut conn: Upgraded) -> std::io::Result<()> {
///     use std::io::{Read, Write};
///     let mut hello = [0u8; 5];
///     conn.read_exact(&mut hello)?;
///     conn.write_all(&hello)
/// }
/// let _ = verdant::http::OnUpgrade::new(|conn| speak(conn).unwrap_or(()));
/// ```
pub struct Upgraded {
    io: Box<dyn Transport>,
    buf: Vec<u8>,
    pos: usize,
}

impl Upgraded {
    pub(super) fn new(io: Box<dyn Transport>, buf: Vec<u8>) -> Upgraded {
        Upgraded { io, buf, pos: 0 }
    }

    /// The bytes received past the request and not read yet.
    ///
    /// ```
    /// # fn f(conn: verdant::http::Upgraded) {
    /// let early: &[u8] = conn.read_buffer();
    /// # let _ = early; }
    /// ```
    pub fn read_buffer(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// The underlying stream, if it is a `T` (a [`crate::net::TcpStream`]
    /// for a plain-TCP server, a `verdant::tls::TlsStream<TcpStream>` for
    /// an HTTPS one), with the bytes of [`Upgraded::read_buffer`];
    /// `Err(self)` otherwise. Over TLS, decrypted bytes not yet read stay
    /// inside the `TlsStream`, where its next read returns them.
    ///
    /// ```
    /// # fn f(conn: verdant::http::Upgraded) {
    /// match conn.downcast::<verdant::net::TcpStream>() {
    ///     Ok((stream, early)) => { let _ = (stream.set_nodelay(true), early); }
    ///     Err(_conn) => unreachable!("a plain-TCP server hands over TcpStreams"),
    /// }
    /// # }
    /// ```
    pub fn downcast<T: Any>(self) -> Result<(T, Vec<u8>), Upgraded> {
        if !self.io.as_any().is::<T>() {
            return Err(self);
        }
        let Upgraded { io, mut buf, pos } = self;
        buf.drain(..pos);
        match io.into_any().downcast::<T>() {
            Ok(stream) => Ok((*stream, buf)),
            Err(_) => unreachable!("the type was checked above"),
        }
    }
}

impl Read for Upgraded {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.buf.len() {
            let n = out.len().min(self.buf.len() - self.pos);
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.io.read(out)
    }
}

impl Write for Upgraded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.io.flush()
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded")
            .field("buffered", &(self.buf.len() - self.pos))
            .finish_non_exhaustive()
    }
}
