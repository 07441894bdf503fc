//! The byte stream a connection runs over: [`Transport`].
//!
//! The connection code (`conn.rs`) is generic over this one small trait, so
//! a TLS stream (a `rustls` connection wrapping a [`TcpStream`]) plugs in by
//! implementing it: reads and writes go through the TLS session, the write
//! timeout goes to the socket underneath, and `shutdown_write` sends the
//! TLS `close_notify` before shutting the socket's write half.

use std::any::Any;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use crate::net::TcpStream;

/// A connection's byte stream, as the HTTP server needs it.
pub(crate) trait Transport: Read + Write + Send + 'static {
    /// Bounds each later write (`None`: no bound). An expired write fails,
    /// and the server closes the connection.
    fn set_write_timeout(&mut self, dur: Option<Duration>) -> io::Result<()>;

    /// Ends the sending direction: the peer reads end-of-file after what
    /// was written. Reading still works.
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// Whether bytes already received wait inside the stream, where a
    /// read returns them without waiting on the socket (a TLS stream's
    /// decrypted bytes). Such a connection is not idle: a pipelined
    /// request is there.
    fn has_buffered(&mut self) -> bool {
        false
    }

    /// The stream as `Any`, for [`Upgraded::downcast`](super::Upgraded::downcast).
    fn as_any(&self) -> &dyn Any;

    /// The stream as `Any`, for [`Upgraded::downcast`](super::Upgraded::downcast).
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl Transport for TcpStream {
    fn set_write_timeout(&mut self, dur: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, dur)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

#[cfg(feature = "tls")]
impl Transport for crate::tls::TlsStream<TcpStream> {
    fn set_write_timeout(&mut self, dur: Option<Duration>) -> io::Result<()> {
        self.get_ref().set_write_timeout(dur)
    }

    /// `close_notify` (so the client can tell the end from a truncation),
    /// then the socket's write half.
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown()?;
        self.get_ref().shutdown(Shutdown::Write)
    }

    fn has_buffered(&mut self) -> bool {
        !self.buffered().is_empty()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}
