//! TLS over verdant's sockets (feature `tls`): [`TlsStream`], and configs
//! from [`client_config`] and [`server_config`].
//!
//! [rustls](https://docs.rs/rustls) does the protocol; verdant adds a small
//! blocking stream type around it. A [`TlsStream`] wraps any `Read + Write`
//! stream, usually a [`verdant::net::TcpStream`](crate::net::TcpStream): a
//! handshake, a read or a write that waits on the socket parks the calling
//! green thread (on a plain OS thread it blocks that thread, as the socket
//! does), so a TLS server or client is ordinary sequential code.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use verdant::net::TcpStream;
//! use verdant::tls::{self, TlsStream};
//!
//! let tcp = TcpStream::connect("example.com:443")?;
//! let mut tls = TlsStream::connect(tls::client_config(), "example.com", tcp)?;
//! tls.write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")?;
//! let mut page = Vec::new();
//! tls.read_to_end(&mut page)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Crypto provider: ring
//!
//! rustls is built with the `ring` provider, not its default `aws-lc-rs`:
//! ring compiles from Rust plus a little C and assembly (through `cc`, about
//! 20 seconds on a fresh machine, no cmake), where aws-lc-rs needs cmake and
//! takes minutes. ring offers every cipher suite and key exchange verdant's
//! defaults use; what only aws-lc-rs has (post-quantum key exchange, FIPS)
//! can be had by building a config with another provider from
//! [`rustls`] itself, which is re-exported here at the exact version
//! verdant uses.
//!
//! # Roots
//!
//! [`client_config`] trusts Mozilla's root certificates, compiled in from
//! the `webpki-roots` crate: no OS certificate store is read, so a client
//! behaves the same on every machine. [`client_config_with_roots`] adds
//! roots of your own (a private CA, a test certificate).
//!
//! # Timeouts
//!
//! A [`TlsStream`] does no timing of its own: the underlying socket's read
//! and write timeouts apply to the handshake and to every read and write
//! (set them through [`TlsStream::get_ref`]), and so does a
//! [`verdant::timeout`](crate::timeout) around any of them.

mod config;
mod stream;

pub use self::config::{client_config, client_config_with_roots, crypto_provider, server_config};
pub use self::stream::TlsStream;
/// rustls, at the version verdant is built with, to build configs of your
/// own (ALPN, client certificates, other verifiers).
pub use rustls;
pub use rustls::{ClientConfig, ServerConfig};
