//! [`Body`]: the body of a request or a response, read as a stream.

use std::fmt;
use std::io::{self, Cursor, Read};
use std::sync::Arc;

/// The body of an HTTP request or response: a stream of bytes, read with
/// [`Read`].
///
/// A body is never slurped behind your back: a request body arriving on the
/// server is read from the connection as the handler reads it, and a body
/// given to a response is written as the writer reads it. [`Body::into_bytes`]
/// and [`Body::into_string`] read it whole, up to a limit you name.
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use verdant::http::Body;
///
/// let mut body = Body::from("Hello, World!");
/// assert_eq!(body.len(), Some(13));
/// let mut text = String::new();
/// body.read_to_string(&mut text)?;
/// assert_eq!(text, "Hello, World!");
///
/// let body = Body::from_reader(&b"streamed"[..], None);
/// assert_eq!(body.into_string(1024)?, "streamed");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Body {
    kind: Kind,
}

enum Kind {
    Empty,
    Static(Cursor<&'static [u8]>),
    Owned(Cursor<Vec<u8>>),
    Reader {
        reader: Box<dyn Read + Send>,
        len: Option<u64>,
    },
    /// A request body arriving on a server connection: reads go to the
    /// connection (one shared source per connection, so no allocation per
    /// request), tagged with the exchange they belong to.
    Incoming {
        source: Arc<dyn Incoming>,
        exchange: u64,
        len: Option<u64>,
    },
}

/// Where an incoming request body is read from: a server connection.
/// `exchange` tells which request the body belongs to, so a body kept
/// past its exchange fails instead of reading the next request's bytes.
pub(crate) trait Incoming: Send + Sync {
    fn read(&self, exchange: u64, buf: &mut [u8]) -> io::Result<usize>;
}

impl Body {
    /// A body with no bytes.
    ///
    /// ```
    /// let body = verdant::http::Body::empty();
    /// assert_eq!(body.len(), Some(0));
    /// ```
    pub const fn empty() -> Body {
        Body { kind: Kind::Empty }
    }

    /// A body read from `reader`. `len` is its length in bytes when known
    /// (it is sent as `Content-Length`); `None` means unknown (a response
    /// is then sent chunked, or delimited by closing the connection to an
    /// HTTP/1.0 client).
    ///
    /// ```
    /// let file_like = std::io::Cursor::new(vec![7u8; 100]);
    /// let body = verdant::http::Body::from_reader(file_like, Some(100));
    /// assert_eq!(body.len(), Some(100));
    /// ```
    pub fn from_reader<R>(reader: R, len: Option<u64>) -> Body
    where
        R: Read + Send + 'static,
    {
        Body {
            kind: Kind::Reader {
                reader: Box::new(reader),
                len,
            },
        }
    }

    /// A request body read from a server connection (`len`: its
    /// `Content-Length`, if it had one).
    pub(crate) fn incoming(source: Arc<dyn Incoming>, exchange: u64, len: Option<u64>) -> Body {
        Body {
            kind: Kind::Incoming { source, exchange, len },
        }
    }

    /// The bytes still to be read, when the body holds them in memory (a
    /// writer sends them without copying them through `read`).
    pub(crate) fn as_slice(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Empty => Some(&[]),
            Kind::Static(c) => Some(&c.get_ref()[c.position() as usize..]),
            Kind::Owned(c) => Some(&c.get_ref()[c.position() as usize..]),
            Kind::Reader { .. } | Kind::Incoming { .. } => None,
        }
    }

    /// The number of bytes still to be read, when known.
    ///
    /// ```
    /// assert_eq!(verdant::http::Body::from("abc").len(), Some(3));
    /// ```
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> Option<u64> {
        match &self.kind {
            Kind::Empty => Some(0),
            Kind::Static(c) => Some(c.get_ref().len() as u64 - c.position()),
            Kind::Owned(c) => Some(c.get_ref().len() as u64 - c.position()),
            Kind::Reader { len, .. } | Kind::Incoming { len, .. } => *len,
        }
    }

    /// Reads the whole body into a vector, failing with
    /// [`io::ErrorKind::InvalidData`] if it is longer than `limit` bytes.
    ///
    /// ```
    /// let body = verdant::http::Body::from(vec![1u8; 10]);
    /// assert!(verdant::http::Body::from(vec![1u8; 10]).into_bytes(9).is_err());
    /// assert_eq!(body.into_bytes(10)?.len(), 10);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_bytes(self, limit: usize) -> io::Result<Vec<u8>> {
        if let Kind::Owned(c) = &self.kind {
            if c.position() == 0 && c.get_ref().len() <= limit {
                let Kind::Owned(c) = self.kind else { unreachable!() };
                return Ok(c.into_inner());
            }
        }
        if let Some(len) = self.len() {
            if len > limit as u64 {
                return Err(too_long(limit));
            }
        }
        let mut out = Vec::with_capacity(self.len().unwrap_or(0).min(limit as u64) as usize);
        let mut taken = self.take(limit as u64 + 1);
        taken.read_to_end(&mut out)?;
        if out.len() > limit {
            return Err(too_long(limit));
        }
        Ok(out)
    }

    /// Reads the whole body as UTF-8 text, failing with
    /// [`io::ErrorKind::InvalidData`] if it is longer than `limit` bytes or
    /// is not UTF-8.
    ///
    /// ```
    /// let body = verdant::http::Body::from("hi");
    /// assert_eq!(body.into_string(16)?, "hi");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_string(self, limit: usize) -> io::Result<String> {
        let bytes = self.into_bytes(limit)?;
        String::from_utf8(bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("HTTP body is not UTF-8: {}", e.utf8_error()),
            )
        })
    }
}

fn too_long(limit: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("HTTP body is longer than the limit of {limit} bytes"),
    )
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.kind {
            Kind::Empty => Ok(0),
            Kind::Static(c) => c.read(buf),
            Kind::Owned(c) => c.read(buf),
            Kind::Reader { reader, len } => {
                let n = reader.read(buf)?;
                if let Some(len) = len {
                    *len = len.saturating_sub(n as u64);
                }
                Ok(n)
            }
            Kind::Incoming { source, exchange, len } => {
                let n = source.read(*exchange, buf)?;
                if let Some(len) = len {
                    *len = len.saturating_sub(n as u64);
                }
                Ok(n)
            }
        }
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body").field("len", &self.len()).finish()
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::from(s.as_bytes())
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Body {
            kind: Kind::Static(Cursor::new(s)),
        }
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::from(s.into_bytes())
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body {
            kind: Kind::Owned(Cursor::new(v)),
        }
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Body {
        Body::empty()
    }
}
