//! WebSocket on green threads (feature `ws`): server upgrades over
//! [`http::Server`](crate::http::Server) and a client for `ws://` and
//! `wss://` URLs.
//!
//! [tungstenite](https://docs.rs/tungstenite) does the protocol (frames,
//! masking, fragmentation, the close handshake, the handshake's bytes);
//! verdant supplies the streams. A [`WebSocket`] is blocking code, as
//! everything in verdant: [`WebSocket::read`] parks the calling green
//! thread until a message arrives (on a plain OS thread it blocks that
//! thread), [`WebSocket::send`] parks while the socket is full.
//!
//! - **Server**: a handler calls [`upgrade`] on a request to accept it; the
//!   returned `101 Switching Protocols` response makes the server run the
//!   given function with the [`WebSocket`] on the connection's own green
//!   thread. [`is_upgrade_request`] tells whether a request asks for one;
//!   [`accept`] does the server handshake over a stream of your own.
//! - **Client**: [`connect`] (or a [`ClientBuilder`] for a connect timeout,
//!   socket timeouts, a TLS config, a protocol config) opens a
//!   [`WebSocket<MaybeTlsStream>`](MaybeTlsStream). `wss://` goes through
//!   [`verdant::tls`](crate::tls) and needs feature `tls`.
//!
//! ```
//! use verdant::http::{Response, Server};
//! use verdant::ws::{self, Message};
//!
//! // An echo server: every text or binary message goes back.
//! let server = Server::bind("127.0.0.1:0")?.serve_background(|req| {
//!     if req.uri().path() != "/echo" {
//!         return Response::new("try /echo".into());
//!     }
//!     ws::upgrade(&req, |mut ws| {
//!         while let Ok(msg) = ws.read() {
//!             if (msg.is_text() || msg.is_binary()) && ws.send(msg).is_err() {
//!                 break;
//!             }
//!         }
//!     })
//! })?;
//!
//! let url = format!("ws://{}/echo", server.local_addr());
//! let (mut ws, _response) = ws::connect(url.as_str())?;
//! ws.send(Message::text("hello"))?;
//! assert_eq!(ws.read()?, Message::text("hello"));
//! ws.close(None)?;
//! server.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Reading and writing from one green thread
//!
//! tungstenite's [`WebSocket`] is one object for both directions: it is not
//! split into a reader and a writer. A green thread that must both wait for
//! the peer's messages and send messages that come from elsewhere (a chat
//! room's broadcasts) interleaves the two with a bounded read: a
//! [`verdant::timeout`](crate::timeout) around [`WebSocket::read`] (any
//! stream, the server's [`Upgraded`](crate::http::Upgraded) included) or a
//! socket read timeout (a client's
//! [`MaybeTlsStream::set_read_timeout`]). A read cut short that way fails
//! with [`WsError::Io`] (`WouldBlock` for the socket timeout; under
//! `verdant::timeout` the socket read fails with `TimedOut` and `timeout`
//! returns `Err(Elapsed)`) and leaves the WebSocket intact: a partly
//! received frame stays buffered, and the next `read` carries on. Between
//! reads, the thread drains a channel of outgoing messages.
//! `examples/chat_ws.rs` does exactly this.
//!
//! A read that completes before the deadline cuts it short keeps its
//! message even if the deadline passes meanwhile (`timeout` reports
//! `Elapsed` only for a call it cut short):
//!
//! ```
//! # use std::time::Duration;
//! # use verdant::ws::{Message, WebSocket};
//! fn read_or_tick<S: std::io::Read + std::io::Write>(ws: &mut WebSocket<S>) -> Option<Message> {
//!     verdant::timeout(Duration::from_millis(20), || ws.read()).ok()?.ok()
//!     // `None`: nothing within the tick (or the socket failed)
//! }
//! ```
//!
//! # Versions
//!
//! The types are tungstenite's, re-exported so that no direct dependency on
//! it is needed; [`tungstenite`] itself is re-exported too, at the version
//! verdant is built with (0.30), for what is not re-exported by name (raw
//! frames, handshake details).

mod client;
mod server;

pub use self::client::{connect, ClientBuilder, MaybeTlsStream};
pub use self::server::{accept, is_upgrade_request, upgrade, upgrade_with_config};
/// tungstenite, at the version verdant is built with.
pub use tungstenite;
pub use tungstenite::client::IntoClientRequest;
pub use tungstenite::protocol::frame::coding::CloseCode;
pub use tungstenite::protocol::{CloseFrame, Role, WebSocket, WebSocketConfig};
pub use tungstenite::{Bytes, Error as WsError, Message, Utf8Bytes};
