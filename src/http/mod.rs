//! HTTP/1.1 on green threads (feature `http`, on by default).
//!
//! The types are the [`http`](https://docs.rs/http) crate's ([`Request`],
//! [`Response`], [`StatusCode`], [`Method`], [`header`]) with verdant's
//! streaming [`Body`]. The server: [`Server`] (one green thread per
//! connection, as Go's `net/http`). The client: [`get`] and [`Client`]
//! (keep-alive pool, redirects, timeouts; errors are [`Error`]).
//!
//! ```
//! use verdant::http::{Body, Request, Response, StatusCode};
//!
//! let req: Request<Body> = Request::get("/").body(Body::empty()).unwrap();
//! assert_eq!(req.method(), verdant::http::Method::GET);
//! let resp = Response::builder().status(StatusCode::OK).body(Body::from("ok")).unwrap();
//! assert_eq!(resp.body().len(), Some(2));
//! ```

mod body;
mod client;
mod debug;
mod server;

pub use self::body::Body;
pub use self::client::{get, Client, ClientBuilder, Error, ErrorKind};
pub use self::debug::debug_handler;
pub use self::server::{OnUpgrade, Server, ServerBuilder, ServerHandle, Upgraded};
pub use ::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
