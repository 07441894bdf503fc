//! [`TlsStream`]: a rustls connection driven over a blocking stream.
//!
//! # How the loop goes
//!
//! rustls is a state machine with two buffers: TLS records to send and
//! decrypted bytes to hand out. Every operation here is a loop over the
//! underlying stream's own blocking calls (which park a green thread):
//!
//! 1. **Handshake** (eagerly, in [`TlsStream::connect`] and
//!    [`TlsStream::accept`]): while rustls is handshaking, send what it
//!    wants sent, else read records and feed them to it. Then send the
//!    last flight (the client's `Finished`).
//! 2. **Read**: hand out decrypted bytes if there are any; otherwise read
//!    records from the stream and decrypt them, sending anything rustls
//!    wants sent in between (a key update's answer), until there are bytes,
//!    the peer's `close_notify` (end of file: `Ok(0)`), or the stream's end
//!    without one (`UnexpectedEof`).
//! 3. **Write**: send what is pending, give rustls the plaintext, send the
//!    records it makes.
//!
//! An error of the stream (a timeout, a reset) comes back as it is; a TLS
//! protocol error comes back as `InvalidData`, after the alert rustls
//! queued for it was sent (best effort).

use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use crate::net::TcpStream;

/// A TLS connection over a stream `S` (by default a verdant
/// [`TcpStream`]), client or server side: [`Read`], [`BufRead`] and
/// [`Write`] carry plaintext, encrypted on the way through.
///
/// Every wait is a call on `S`, so over a verdant socket a handshake, read
/// or write parks the green thread (or blocks a plain OS thread), honours
/// the socket's read and write timeouts (set through
/// [`get_ref`](Self::get_ref)), and is interrupted by a
/// [`verdant::timeout`](crate::timeout) around it.
///
/// `TlsStream<TcpStream>` is `Send + Sync`, so a server can accept on one
/// green thread and serve on another.
///
/// ```
/// use std::io::{Read, Write};
/// use verdant::net::{TcpListener, TcpStream};
/// use verdant::tls::{self, TlsStream};
///
/// # let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let (cert_pem, key_pem, root_pem) = (c.cert.pem(), c.signing_key.serialize_pem(), c.cert.pem());
/// // A server config from PEM (a real server reads its files).
/// let server = tls::server_config(cert_pem.as_bytes(), key_pem.as_bytes())?;
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let echo = verdant::spawn(move || -> std::io::Result<()> {
///     let (tcp, _) = listener.accept()?;
///     let mut tls = TlsStream::accept(server, tcp)?;
///     let mut buf = [0u8; 5];
///     tls.read_exact(&mut buf)?;
///     tls.write_all(&buf)?;
///     tls.shutdown() // close_notify: the client reads end of file
/// });
///
/// let client = tls::client_config_with_roots(root_pem.as_bytes())?;
/// let mut tls = TlsStream::connect(client, "localhost", TcpStream::connect(addr)?)?;
/// tls.write_all(b"hello")?;
/// let mut back = String::new();
/// tls.read_to_string(&mut back)?;
/// assert_eq!(back, "hello");
/// echo.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TlsStream<S = TcpStream> {
    conn: Connection,
    stream: S,
    /// The server name a client connected to (for errors and `Debug`).
    server_name: Option<String>,
}

// What the HTTP server's generic connection loop rests on.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<TlsStream<TcpStream>>();
};

/// How many `EINTR`s in a row one call tolerates before giving up.
const MAX_INTERRUPTS: usize = 16;

impl<S: Read + Write> TlsStream<S> {
    /// Connects as a client: does the whole TLS handshake over `stream`
    /// with `server_name` (a DNS name, or an IP address literal), checking
    /// the server's certificate against `config`'s roots and that name.
    ///
    /// ```no_run
    /// use verdant::net::TcpStream;
    /// use verdant::tls::{self, TlsStream};
    ///
    /// let tcp = TcpStream::connect("example.com:443")?;
    /// let tls = TlsStream::connect(tls::client_config(), "example.com", tcp)?;
    /// println!("ALPN: {:?}", tls.alpn_protocol());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a `server_name` that is neither a DNS name nor an
    /// IP address. Otherwise an error naming the server and the cause: the
    /// stream's own (a read timeout reads as `WouldBlock` or `TimedOut`, as
    /// with std sockets), `UnexpectedEof` if the server closed during the
    /// handshake, `InvalidData` for a TLS failure (an untrusted
    /// certificate, one for another name, no common cipher suite).
    pub fn connect(config: Arc<ClientConfig>, server_name: &str, stream: S) -> io::Result<TlsStream<S>> {
        let name = ServerName::try_from(server_name.to_owned()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid TLS server name {server_name:?}: {e}"),
            )
        })?;
        let conn = ClientConnection::new(config, name)
            .map_err(|e| handshake_error(Some(server_name), io::Error::new(io::ErrorKind::InvalidInput, e)))?;
        let mut tls = TlsStream {
            conn: conn.into(),
            stream,
            server_name: Some(server_name.to_owned()),
        };
        tls.handshake().map_err(|e| handshake_error(Some(server_name), e))?;
        Ok(tls)
    }

    /// Accepts as a server: does the whole TLS handshake over `stream`
    /// (typically from [`TcpListener::accept`](crate::net::TcpListener::accept)),
    /// presenting `config`'s certificate.
    ///
    /// ```no_run
    /// use verdant::net::TcpListener;
    /// use verdant::tls::{self, TlsStream};
    ///
    /// let config = tls::server_config(&std::fs::read("cert.pem")?, &std::fs::read("key.pem")?)?;
    /// let listener = TcpListener::bind("0.0.0.0:8443")?;
    /// for tcp in listener.incoming() {
    ///     let (tcp, config) = (tcp?, config.clone());
    ///     verdant::spawn(move || -> std::io::Result<()> {
    ///         let mut tls = TlsStream::accept(config, tcp)?;
    ///         // ... read and write `tls`
    ///         tls.shutdown()
    ///     });
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`connect`](Self::connect): the stream's errors (timeouts
    /// included), `UnexpectedEof` if the client closed during the
    /// handshake, `InvalidData` for a TLS failure (not TLS at all, no
    /// common protocol version, the client rejected the certificate).
    pub fn accept(config: Arc<ServerConfig>, stream: S) -> io::Result<TlsStream<S>> {
        let conn = ServerConnection::new(config)
            .map_err(|e| handshake_error(None, io::Error::new(io::ErrorKind::InvalidInput, e)))?;
        let mut tls = TlsStream {
            conn: conn.into(),
            stream,
            server_name: None,
        };
        tls.handshake().map_err(|e| handshake_error(None, e))?;
        Ok(tls)
    }

    /// Sends the TLS `close_notify` alert (and anything still pending):
    /// the peer reads end of file. The stream stays open for reading the
    /// peer's own `close_notify`; dropping the `TlsStream` (or
    /// [`TcpStream::shutdown`](crate::net::TcpStream::shutdown) through
    /// [`get_ref`](Self::get_ref)) closes the socket. Writing after this
    /// fails.
    ///
    /// ```no_run
    /// # use verdant::tls::{self, TlsStream};
    /// # let tcp = verdant::net::TcpStream::connect("example.com:443")?;
    /// let mut tls = TlsStream::connect(tls::client_config(), "example.com", tcp)?;
    /// tls.shutdown()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The stream's, if sending fails.
    pub fn shutdown(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.send_pending()?;
        self.stream.flush()
    }

    /// The handshake loop (step 1 of the module docs).
    fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            if self.conn.wants_write() {
                self.send_pending()?;
            } else if self.receive()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection during the handshake",
                ));
            }
        }
        self.send_pending()
    }

    /// Reads one batch of records from the stream and processes them.
    /// Returns how many bytes were read (0: the stream's end).
    fn receive(&mut self) -> io::Result<usize> {
        let mut interrupts = 0;
        let n = loop {
            match self.conn.read_tls(&mut self.stream) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted && interrupts < MAX_INTERRUPTS => interrupts += 1,
                Err(e) => return Err(e),
            }
        };
        if let Err(e) = self.conn.process_new_packets() {
            // rustls queued an alert saying why; the peer may as well know.
            let _ = self.send_pending();
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        Ok(n)
    }

    /// Sends every TLS record rustls has ready.
    fn send_pending(&mut self) -> io::Result<()> {
        let mut interrupts = 0;
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.stream) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => interrupts = 0,
                Err(e) if e.kind() == io::ErrorKind::Interrupted && interrupts < MAX_INTERRUPTS => interrupts += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Waits until decrypted bytes are there, or the peer's end (step 2).
    /// `Ok` means a read of the plaintext now returns at once: bytes, or
    /// `Ok(0)` after the peer's `close_notify`.
    fn fill(&mut self) -> io::Result<()> {
        loop {
            match self.conn.reader().into_first_chunk() {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            self.send_pending()?;
            self.receive()?;
        }
    }
}

impl<S> TlsStream<S> {
    /// The underlying stream, e.g. to set its timeouts or read its
    /// addresses. Reading or writing it directly would corrupt the TLS
    /// session.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use verdant::tls::{self, TlsStream};
    /// # let tcp = verdant::net::TcpStream::connect("example.com:443")?;
    /// let tls = TlsStream::connect(tls::client_config(), "example.com", tcp)?;
    /// tls.get_ref().set_read_timeout(Some(Duration::from_secs(30)))?;
    /// println!("talking to {}", tls.get_ref().peer_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The underlying stream, mutably (see [`get_ref`](Self::get_ref)).
    ///
    /// ```no_run
    /// # use verdant::tls::{self, TlsStream};
    /// # let tcp = verdant::net::TcpStream::connect("example.com:443")?;
    /// let mut tls = TlsStream::connect(tls::client_config(), "example.com", tcp)?;
    /// let _tcp: &mut verdant::net::TcpStream = tls.get_mut();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The underlying stream, ending the TLS session without a
    /// `close_notify` (call [`shutdown`](Self::shutdown) first for a clean
    /// end). Decrypted bytes not yet read are lost.
    ///
    /// ```no_run
    /// # use verdant::tls::{self, TlsStream};
    /// # let tcp = verdant::net::TcpStream::connect("example.com:443")?;
    /// let mut tls = TlsStream::connect(tls::client_config(), "example.com", tcp)?;
    /// tls.shutdown()?;
    /// let tcp = tls.into_inner();
    /// tcp.shutdown(std::net::Shutdown::Both)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// The rustls connection, for what is not wrapped here (the protocol
    /// version, the cipher suite, keying material export).
    ///
    /// ```no_run
    /// # use verdant::tls::{self, TlsStream};
    /// # let tcp = verdant::net::TcpStream::connect("example.com:443")?;
    /// let tls = TlsStream::connect(tls::client_config(), "example.com", tcp)?;
    /// println!("{:?}", tls.connection().protocol_version());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The ALPN protocol the handshake agreed on (`Some(b"h2")`,
    /// `Some(b"http/1.1")`), `None` if none was (either side offered
    /// none, configured through the config's `alpn_protocols`).
    ///
    /// ```no_run
    /// # use verdant::tls::{self, TlsStream};
    /// # let tcp = verdant::net::TcpStream::connect("example.com:443")?;
    /// let tls = TlsStream::connect(tls::client_config(), "example.com", tcp)?;
    /// assert_eq!(tls.alpn_protocol(), None); // client_config() offers none
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// The peer's certificate chain (DER, the peer's own first): on a
    /// client, the server's; on a server, the client's if it sent one.
    ///
    /// ```no_run
    /// # use verdant::tls::{self, TlsStream};
    /// # let tcp = verdant::net::TcpStream::connect("example.com:443")?;
    /// let tls = TlsStream::connect(tls::client_config(), "example.com", tcp)?;
    /// let chain = tls.peer_certificates().expect("a server always sends one");
    /// println!("{} certificates, the first {} bytes", chain.len(), chain[0].len());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }

    /// On a server, the name the client asked for (SNI), if it sent one;
    /// on a client, the name it connected to.
    ///
    /// ```no_run
    /// # use verdant::tls::{self, TlsStream};
    /// # let tcp = verdant::net::TcpStream::connect("example.com:443")?;
    /// let tls = TlsStream::connect(tls::client_config(), "example.com", tcp)?;
    /// assert_eq!(tls.server_name(), Some("example.com"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn server_name(&self) -> Option<&str> {
        match &self.conn {
            Connection::Client(_) => self.server_name.as_deref(),
            Connection::Server(s) => s.server_name(),
        }
    }

    /// The decrypted bytes already received and not yet read, without any
    /// I/O (empty if none). A server uses it to tell whether a pipelined
    /// request is already here: such bytes are inside rustls, invisible to
    /// a peek or a readiness check on the socket.
    ///
    /// This is one contiguous part of what is buffered (a record's worth);
    /// [`BufRead::fill_buf`] waits for bytes if there are none.
    ///
    /// ```no_run
    /// # use verdant::tls::{self, TlsStream};
    /// # let tcp = verdant::net::TcpStream::connect("example.com:443")?;
    /// let mut tls = TlsStream::connect(tls::client_config(), "example.com", tcp)?;
    /// assert!(tls.buffered().is_empty()); // nothing was sent yet
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn buffered(&mut self) -> &[u8] {
        self.conn.reader().into_first_chunk().unwrap_or_default()
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    /// Reads decrypted bytes, waiting on the stream if none are buffered.
    /// `Ok(0)` once the peer sent `close_notify`; `UnexpectedEof` if the
    /// stream ended without one (a truncation, or a peer that does not
    /// send it).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.fill()?;
        self.conn.reader().read(buf)
    }
}

impl<S: Read + Write> BufRead for TlsStream<S> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.fill()?;
        self.conn.reader().into_first_chunk()
    }

    fn consume(&mut self, amt: usize) {
        self.conn.reader().consume(amt);
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    /// Encrypts `buf` (or as much as rustls takes at once) and sends the
    /// records before returning.
    ///
    /// If sending times out (the socket's write timeout, as `WouldBlock`
    /// or `TimedOut`) after rustls took the bytes, the write reports them
    /// written: they are queued, and the next `write`, `flush` or
    /// [`shutdown`](TlsStream::shutdown) sends them first or reports the
    /// error. Other errors are returned as they are.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.send_pending()?;
        let n = self.conn.writer().write(buf)?;
        match self.send_pending() {
            Ok(()) => Ok(n),
            Err(e) if n > 0 && matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Ok(n),
            Err(e) => Err(e),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.writer().flush()?;
        self.send_pending()?;
        self.stream.flush()
    }
}

impl<S: fmt::Debug> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.conn {
            Connection::Client(_) => "client",
            Connection::Server(_) => "server",
        };
        f.debug_struct("TlsStream")
            .field("side", &side)
            .field("server_name", &self.server_name())
            .field("protocol_version", &self.conn.protocol_version())
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

/// A handshake's error, naming the server (client side) and the cause; the
/// kind is the cause's, so a timeout is still a timeout.
fn handshake_error(server: Option<&str>, cause: io::Error) -> io::Error {
    let kind = cause.kind();
    io::Error::new(
        kind,
        HandshakeError {
            server: server.map(str::to_owned),
            cause,
        },
    )
}

#[derive(Debug)]
struct HandshakeError {
    server: Option<String>,
    cause: io::Error,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cause = match self.cause.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timed out (the socket's timeout)".to_owned(),
            _ => self.cause.to_string(),
        };
        match &self.server {
            Some(name) => write!(f, "TLS handshake with {name:?} failed: {cause}"),
            None => write!(f, "TLS handshake with a client failed: {cause}"),
        }
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}
