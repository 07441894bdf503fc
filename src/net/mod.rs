//! Networking that looks blocking: TCP, UDP and Unix sockets mirroring
//! `std::net` and `std::os::unix::net`.
//!
//! Code written against std moves over by changing its `use` lines:
//!
//! ```
//! use std::io::{Read, Write};
//! use verdant::net::{TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = verdant::spawn(move || -> std::io::Result<()> {
//!     let (mut conn, _peer) = listener.accept()?;   // parks this green thread
//!     let mut buf = [0u8; 5];
//!     conn.read_exact(&mut buf)?;
//!     conn.write_all(&buf)
//! });
//! let mut client = TcpStream::connect(addr)?;      // from a plain OS thread: blocks it
//! client.write_all(b"hello")?;
//! let mut echo = [0u8; 5];
//! client.read_exact(&mut echo)?;
//! assert_eq!(&echo, b"hello");
//! server.join().unwrap()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How a call waits
//!
//! Every socket is in O_NONBLOCK mode underneath. Each blocking method is
//! one call into the runtime's would-block loop: try the system call; on
//! `EAGAIN` a green thread parks on its worker's reactor (the socket is
//! registered, edge-triggered, the first time a green thread waits on it)
//! and a plain OS thread waits in `poll(2)`. Readers and writers wait
//! separately, so one green thread can read a stream while another writes
//! it. A cancelled green thread unwinds out of the wait and its sockets
//! close as their owners drop.
//!
//! # Semantics chosen where std leaves room
//!
//! - **Timeouts** (`set_read_timeout`, `set_write_timeout`) apply to each
//!   call, like `SO_RCVTIMEO`, and an expired one fails with the OS error
//!   `EAGAIN` (kind [`std::io::ErrorKind::WouldBlock`]), exactly what std
//!   returns on Linux. `connect_timeout` fails with `TimedOut`, as std's.
//! - **`set_nonblocking(true)`** is a user-level flag: calls that would
//!   block return `WouldBlock` instead of waiting. The descriptor itself is
//!   always non-blocking.
//! - **`try_clone`** returns a second handle to the *same* socket (an
//!   `Arc`, not a `dup`): no descriptor is spent, and clones share
//!   timeouts and the non-blocking flag, as `dup`ed descriptors share
//!   `SO_RCVTIMEO` and `O_NONBLOCK` under std. The socket closes when the
//!   last clone drops.
//! - **Name resolution** ([`resolve`]) never blocks a worker: literal
//!   addresses are parsed in place and host names go to the runtime's
//!   resolver (green DNS on the reactor by default, or `getaddrinfo` on a
//!   [`crate::spawn_blocking`] thread; see [`Resolver`]). Address arguments take this
//!   module's [`ToSocketAddrs`], implemented for the same types as std's.
//! - **Options std lacks** (backlog, `SO_REUSEPORT`, keep-alive, buffer
//!   sizes) come through [`TcpListener::builder`], [`TcpStream::builder`]
//!   and [`UdpSocket::builder`]; any other option through
//!   `socket2::SockRef::from(&socket)`.

mod addr;
mod builder;
mod dns;
#[allow(unsafe_code)]
mod raw_fd;
mod serve;
mod source;
mod tcp;
mod udp;
#[cfg(unix)]
mod unix;

pub use addr::{resolve, AddrQuery, ToSocketAddrs};
pub use builder::{TcpListenerBuilder, TcpStreamBuilder, UdpSocketBuilder};
/// The resolver a lookup from the caller would use (the hooked
/// `getaddrinfo` of `monkey_patch`).
#[cfg(feature = "hook")]
pub(crate) use dns::with_current as with_current_resolver;
pub use dns::{
    lookup_host, lookup_host_port, LookupHost, ResolveError, ResolveErrorKind, Resolver, ResolverBuilder, ResolverMode,
    DEFAULT_CACHE_SIZE, DEFAULT_MAX_IN_FLIGHT,
};
pub use serve::{serve, serve_background, Server};
/// std's address types and `Shutdown`, re-exported so that
/// `use std::net::{SocketAddr, TcpStream}` becomes
/// `use verdant::net::{SocketAddr, TcpStream}`.
///
/// ```
/// use verdant::net::{IpAddr, Ipv4Addr, SocketAddr};
/// let a: SocketAddr = "127.0.0.1:80".parse().unwrap();
/// assert_eq!(a.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
/// assert_eq!(a, std::net::SocketAddr::from(([127, 0, 0, 1], 80)));
/// ```
pub use std::net::{AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixDatagram, UnixIncoming, UnixListener, UnixStream};

/// `AsFd`, `AsRawFd`, `IntoRawFd`, `From<OwnedFd>` and back, and
/// `From<std type>` for a socket type `$t` wrapping `Arc<Source<$std>>`.
macro_rules! fd_impls {
    ($t:ident, $std:ty) => {
        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(self.inner.get())
            }
        }

        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(self.inner.get())
            }
        }

        /// The descriptor comes back in the blocking mode last set with
        /// `set_nonblocking`. If other clones are alive it is a `dup`
        /// (left non-blocking, since they share the mode); that panics if
        /// no descriptor is free.
        impl std::os::fd::IntoRawFd for $t {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                std::os::fd::IntoRawFd::into_raw_fd(std::os::fd::OwnedFd::from(self))
            }
        }

        /// See the `IntoRawFd` impl.
        impl From<$t> for std::os::fd::OwnedFd {
            fn from(s: $t) -> std::os::fd::OwnedFd {
                crate::net::source::release(s.inner)
            }
        }

        /// Adopts the descriptor and switches it to O_NONBLOCK; if it was
        /// non-blocking already, the socket starts with
        /// `set_nonblocking(true)`.
        ///
        /// # Panics
        ///
        /// If the descriptor's mode cannot be read or set (not an open
        /// descriptor).
        impl From<std::os::fd::OwnedFd> for $t {
            fn from(fd: std::os::fd::OwnedFd) -> $t {
                let was = crate::net::source::adopt(std::os::fd::AsFd::as_fd(&fd))
                    .unwrap_or_else(|e| panic!("verdant: cannot adopt descriptor: {e}"));
                let s = $t::from_nonblocking(<$std>::from(fd));
                s.inner.set_nonblocking(was);
                s
            }
        }

        /// Adopts a std socket (see `From<OwnedFd>`).
        impl From<$std> for $t {
            fn from(s: $std) -> $t {
                $t::from(std::os::fd::OwnedFd::from(s))
            }
        }
    };
}
pub(crate) use fd_impls;
