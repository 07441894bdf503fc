//! A private, minimal transport for the resolver: a connected UDP socket
//! and a TCP stream, non-blocking `socket2` sockets driven through
//! [`Registration::do_io`], the runtime's one would-block loop.
//!
//! Each call takes a deadline: on a green thread it parks on the worker's
//! reactor until readiness or the deadline; on a plain OS thread `do_io`
//! falls back to `poll(2)`. These are deliberately not the public
//! `verdant::net` types; the resolver must not depend on them.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::runtime::reactor::{Interest, Registration};

fn new_socket(peer: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    Socket::new(Domain::for_address(peer), ty.nonblocking().cloexec(), Some(proto))
}

/// A UDP socket bound to a random local port and connected to one
/// nameserver, so the kernel drops datagrams from any other source.
#[derive(Debug)]
pub(crate) struct UdpSocket {
    // Declared before `sock`: deregisters before the descriptor closes.
    reg: Registration,
    sock: Socket,
}

impl UdpSocket {
    /// A fresh socket (the kernel picks a random ephemeral source port)
    /// connected to `server`.
    pub(crate) fn connect(server: SocketAddr) -> io::Result<UdpSocket> {
        let sock = new_socket(server, Type::DGRAM, Protocol::UDP)?;
        sock.connect(&SockAddr::from(server))?;
        Ok(UdpSocket {
            reg: Registration::new(std::os::fd::AsRawFd::as_raw_fd(&sock)),
            sock,
        })
    }

    /// Sends one datagram.
    pub(crate) fn send(&self, buf: &[u8], deadline: Instant) -> io::Result<usize> {
        self.reg.do_io(Interest::Write, Some(deadline), || self.sock.send(buf))
    }

    /// Receives one datagram (truncated to `buf`'s length).
    pub(crate) fn recv(&self, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
        self.reg
            .do_io(Interest::Read, Some(deadline), || (&self.sock).read(buf))
    }
}

/// A TCP connection to one nameserver.
#[derive(Debug)]
pub(crate) struct TcpStream {
    // Declared before `sock`: deregisters before the descriptor closes.
    reg: Registration,
    sock: Socket,
}

impl TcpStream {
    /// Connects to `server`, giving up at `deadline`.
    pub(crate) fn connect(server: SocketAddr, deadline: Instant) -> io::Result<TcpStream> {
        let sock = new_socket(server, Type::STREAM, Protocol::TCP)?;
        let stream = TcpStream {
            reg: Registration::new(std::os::fd::AsRawFd::as_raw_fd(&sock)),
            sock,
        };
        match stream.sock.connect(&SockAddr::from(server)) {
            Ok(()) => return Ok(stream),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        // Writable once the handshake finished (or failed).
        stream.reg.do_io(Interest::Write, Some(deadline), || {
            if let Some(e) = stream.sock.take_error()? {
                return Err(e);
            }
            match stream.sock.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
                Err(e) => Err(e),
            }
        })?;
        Ok(stream)
    }

    /// Writes all of `buf`.
    pub(crate) fn write_all(&self, mut buf: &[u8], deadline: Instant) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self
                .reg
                .do_io(Interest::Write, Some(deadline), || (&self.sock).write(buf))?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Fills `buf` completely.
    pub(crate) fn read_exact(&self, mut buf: &mut [u8], deadline: Instant) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self
                .reg
                .do_io(Interest::Read, Some(deadline), || (&self.sock).read(buf))?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "nameserver closed the TCP connection mid-answer",
                ));
            }
            buf = &mut buf[n..];
        }
        Ok(())
    }
}
