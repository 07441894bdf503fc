//! Resolution errors: one [`ResolveError`] inside every `io::Error` the
//! resolver returns, so the message names the host and the cause and the
//! `io::ErrorKind` says what kind of failure it was.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Why a name could not be resolved: the payload of the `io::Error`s that
/// [`crate::net::lookup_host`] and [`crate::net::Resolver`] return.
///
/// Reach it through [`io::Error::get_ref`]:
///
/// ```
/// use verdant::net::{ResolveError, ResolveErrorKind, Resolver};
///
/// // No nameserver and no hosts file: nothing can answer.
/// let resolver = Resolver::builder().build().unwrap();
/// let err = resolver.lookup_ip("example.invalid").unwrap_err();
/// let dns = err.get_ref().unwrap().downcast_ref::<ResolveError>().unwrap();
/// assert_eq!(dns.host(), "example.invalid");
/// assert!(matches!(dns.kind(), ResolveErrorKind::NoNameservers));
/// assert!(err.to_string().starts_with("failed to resolve \"example.invalid\""));
/// ```
#[derive(Debug, Clone)]
pub struct ResolveError {
    host: String,
    kind: ResolveErrorKind,
}

/// The cause inside a [`ResolveError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveErrorKind {
    /// The name does not exist (`NXDOMAIN`), from `server` or from the
    /// cache. `io::ErrorKind::NotFound`.
    NxDomain {
        /// The nameserver that said so.
        server: SocketAddr,
        /// Whether the answer came from the cache.
        cached: bool,
    },
    /// The name exists but has no address records (`NODATA`).
    /// `io::ErrorKind::NotFound`.
    NoData {
        /// The nameserver that said so.
        server: SocketAddr,
        /// Whether the answer came from the cache.
        cached: bool,
    },
    /// The nameserver could not answer (`SERVFAIL`), typically because an
    /// upstream server failed. `io::ErrorKind::Other`.
    ServFail {
        /// The last nameserver that failed.
        server: SocketAddr,
    },
    /// The nameserver refused to answer (`REFUSED`).
    /// `io::ErrorKind::ConnectionRefused`.
    Refused {
        /// The last nameserver that refused.
        server: SocketAddr,
    },
    /// No nameserver answered in time. `io::ErrorKind::TimedOut`.
    TimedOut {
        /// The nameservers that were asked.
        servers: Vec<SocketAddr>,
        /// Rounds over all servers.
        attempts: u32,
        /// Time allowed for each try.
        timeout: Duration,
    },
    /// No nameserver is configured and the hosts file has no entry.
    /// `io::ErrorKind::Other`: a configuration problem, not an answer about
    /// the name.
    NoNameservers,
    /// The name is not a valid domain name. `io::ErrorKind::InvalidInput`.
    InvalidName {
        /// What was wrong with it.
        reason: String,
    },
    /// Anything else (an unexpected response code, a socket error, a
    /// `getaddrinfo` failure in system mode), described in words.
    Other {
        /// The description.
        message: String,
    },
}

impl ResolveError {
    pub(crate) fn new(host: &str, kind: ResolveErrorKind) -> ResolveError {
        ResolveError {
            host: host.to_owned(),
            kind,
        }
    }

    /// The host name as the caller gave it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The cause.
    pub fn kind(&self) -> &ResolveErrorKind {
        &self.kind
    }

    /// The `io::ErrorKind` this cause maps to.
    pub fn io_kind(&self) -> io::ErrorKind {
        match self.kind {
            ResolveErrorKind::NxDomain { .. } | ResolveErrorKind::NoData { .. } => io::ErrorKind::NotFound,
            ResolveErrorKind::Refused { .. } => io::ErrorKind::ConnectionRefused,
            ResolveErrorKind::TimedOut { .. } => io::ErrorKind::TimedOut,
            ResolveErrorKind::InvalidName { .. } => io::ErrorKind::InvalidInput,
            ResolveErrorKind::ServFail { .. } | ResolveErrorKind::NoNameservers | ResolveErrorKind::Other { .. } => {
                io::ErrorKind::Other
            }
        }
    }
}

impl ResolveErrorKind {
    /// An answer about the name itself (it does not exist or has no
    /// addresses), as opposed to a failure to get an answer.
    pub(crate) fn is_negative_answer(&self) -> bool {
        matches!(
            self,
            ResolveErrorKind::NxDomain { .. } | ResolveErrorKind::NoData { .. }
        )
    }
}

impl From<ResolveError> for io::Error {
    fn from(e: ResolveError) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed to resolve {:?}: {}", self.host, self.kind)
    }
}

impl std::error::Error for ResolveError {}

impl fmt::Display for ResolveErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = |c: bool| if c { ", cached" } else { "" };
        match self {
            ResolveErrorKind::NxDomain { server, cached: c } => {
                write!(f, "no such domain (NXDOMAIN from {server}{})", cached(*c))
            }
            ResolveErrorKind::NoData { server, cached: c } => {
                write!(
                    f,
                    "the name has no address records (NODATA from {server}{})",
                    cached(*c)
                )
            }
            ResolveErrorKind::ServFail { server } => {
                write!(f, "the nameserver failed (SERVFAIL from {server})")
            }
            ResolveErrorKind::Refused { server } => {
                write!(f, "the nameserver refused the query (REFUSED from {server})")
            }
            ResolveErrorKind::TimedOut {
                servers,
                attempts,
                timeout,
            } => {
                write!(f, "timed out: no answer from ")?;
                for (i, s) in servers.iter().enumerate() {
                    write!(f, "{}{s}", if i > 0 { ", " } else { "" })?;
                }
                write!(f, " ({attempts} attempt(s), {timeout:?} each)")
            }
            ResolveErrorKind::NoNameservers => {
                write!(f, "no nameserver configured (and no entry in the hosts file)")
            }
            ResolveErrorKind::InvalidName { reason } => write!(f, "invalid host name: {reason}"),
            ResolveErrorKind::Other { message } => f.write_str(message),
        }
    }
}
