//! A Redis connection over verdant's own streams, and a pool of them.
//!
//! [`Connection`] implements the `redis` crate's [`redis::ConnectionLike`],
//! so every command builder of that crate (`redis::cmd`, `redis::pipe`,
//! `redis::Script`) runs over it and parks only the calling green thread.
//! Bytes go out as the crate packs them and come back through the crate's
//! own RESP parser: verdant writes no RESP.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use redis::{ConnectionLike, IntoConnectionInfo, RedisError, RedisResult, Value};

use crate::net::TcpStream;
use crate::sync::Mutex;

/// Where and how to connect: a parsed `redis://` or `rediss://` URL.
#[derive(Clone)]
pub(crate) struct Target {
    host: String,
    port: u16,
    tls: bool,
    db: i64,
    username: Option<String>,
    password: Option<String>,
    /// The TLS client configuration of `rediss://` (default: Mozilla's
    /// roots, `verdant::tls::client_config`).
    #[cfg(feature = "tls")]
    tls_config: Option<Arc<crate::tls::ClientConfig>>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "rediss" } else { "redis" };
        write!(f, "{scheme}://{}:{}/{}", self.host, self.port, self.db)
    }
}

impl Target {
    /// Parses `redis://[user[:password]@]host[:port][/db]`, or `rediss://`
    /// for TLS (feature `tls`). The `redis` crate parses the URL; `rediss`
    /// is recognised here because its own TLS is not compiled in.
    pub(crate) fn parse(url: &str) -> io::Result<Target> {
        let (tls, plain) = match url.strip_prefix("rediss://") {
            Some(rest) => (true, format!("redis://{rest}")),
            None => (false, url.to_string()),
        };
        if tls && !cfg!(feature = "tls") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{url:?}: rediss:// needs verdant's feature `tls`"),
            ));
        }
        let info = plain
            .as_str()
            .into_connection_info()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{url:?} is not a Redis URL: {e}")))?;
        let (host, port) = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{url:?}: only TCP Redis URLs are supported, not {other:?}"),
                ))
            }
        };
        let settings = info.redis_settings();
        Ok(Target {
            host,
            port,
            tls,
            db: settings.db(),
            username: settings.username().map(str::to_string),
            password: settings.password().map(str::to_string),
            #[cfg(feature = "tls")]
            tls_config: None,
        })
    }
}

enum Stream {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::TlsStream<TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Tcp(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// One connection to a Redis server, usable with every command builder of
/// the `redis` crate (it implements [`redis::ConnectionLike`]).
///
/// Calls block the calling thread in the std way and park a green
/// thread, so a thousand green threads each with a connection run
/// concurrently. A connection whose stream failed says so through
/// [`is_open`](ConnectionLike::is_open) and is not reused by [`Pool`].
///
/// ```no_run
/// use verdant::jobs::Connection;
///
/// let mut con = Connection::open("redis://127.0.0.1:6379/")?;
/// let pong: String = redis::cmd("PING").query(&mut con)?;
/// assert_eq!(pong, "PONG");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connection {
    stream: Stream,
    parser: redis::Parser,
    db: i64,
    open: bool,
    io_timeout: Option<Duration>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("db", &self.db)
            .field("open", &self.open)
            .finish()
    }
}

impl Connection {
    /// Connects to the server of a `redis://` or `rediss://` URL,
    /// authenticates and selects the database the URL names.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a URL that is not a TCP Redis URL; the
    /// connection's error; the server's answer to `AUTH` or `SELECT`.
    ///
    /// ```no_run
    /// let con = verdant::jobs::Connection::open("redis://:secret@127.0.0.1:6379/2")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(url: &str) -> io::Result<Connection> {
        Connection::connect(&Target::parse(url)?)
    }

    pub(crate) fn connect(target: &Target) -> io::Result<Connection> {
        let tcp = TcpStream::connect((target.host.as_str(), target.port))?;
        tcp.set_nodelay(true)?;
        let stream = if target.tls {
            tls_stream(target, tcp)?
        } else {
            Stream::Tcp(tcp)
        };
        let mut con = Connection {
            stream,
            parser: redis::Parser::new(),
            db: target.db,
            open: true,
            io_timeout: None,
        };
        if let Some(password) = &target.password {
            let mut auth = redis::cmd("AUTH");
            if let Some(user) = &target.username {
                auth.arg(user);
            }
            auth.arg(password);
            auth.query::<()>(&mut con).map_err(to_io)?;
        }
        if target.db != 0 {
            redis::cmd("SELECT")
                .arg(target.db)
                .query::<()>(&mut con)
                .map_err(to_io)?;
        }
        Ok(con)
    }

    /// Bounds every read and write of the calls that follow (`None`: no
    /// bound). A call that runs out of time fails and closes the
    /// connection, so that a connection whose peer went silent (a network
    /// cut no FIN or RST ever reports) is not waited on forever.
    /// A no-op when the bound is already `timeout` (the worker's calls all
    /// use one bound: no system call per call).
    pub(crate) fn set_io_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        if timeout == self.io_timeout {
            return Ok(());
        }
        let tcp = self.stream.tcp();
        tcp.set_read_timeout(timeout)?;
        tcp.set_write_timeout(timeout)?;
        self.io_timeout = timeout;
        Ok(())
    }

    fn send(&mut self, bytes: &[u8]) -> RedisResult<()> {
        let r = self.stream.write_all(bytes).and_then(|()| self.stream.flush());
        if r.is_err() {
            self.open = false;
        }
        Ok(r?)
    }

    fn recv(&mut self) -> RedisResult<Value> {
        loop {
            match self.parser.parse_value(&mut self.stream) {
                Ok(Value::Push { .. }) => continue,
                Ok(v) => return Ok(v),
                Err(e) => {
                    self.open = false;
                    return Err(match self.io_timeout {
                        Some(t) if e.is_timeout() => io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("no reply from Redis within {t:?}; the connection is dropped"),
                        )
                        .into(),
                        _ => e,
                    });
                }
            }
        }
    }
}

#[cfg(feature = "tls")]
fn tls_stream(target: &Target, tcp: TcpStream) -> io::Result<Stream> {
    let config = target.tls_config.clone().unwrap_or_else(crate::tls::client_config);
    let tls = crate::tls::TlsStream::connect(config, &target.host, tcp)?;
    Ok(Stream::Tls(Box::new(tls)))
}

#[cfg(not(feature = "tls"))]
fn tls_stream(_target: &Target, _tcp: TcpStream) -> io::Result<Stream> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "rediss:// needs verdant's feature `tls`",
    ))
}

impl ConnectionLike for Connection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.send(cmd)?;
        self.recv()
    }

    fn req_packed_commands(&mut self, cmd: &[u8], offset: usize, count: usize) -> RedisResult<Vec<Value>> {
        self.send(cmd)?;
        let mut out = Vec::with_capacity(count);
        let mut first_err = None;
        for idx in 0..offset + count {
            match self.recv() {
                // Replies of a MULTI's queued commands are skipped; the
                // EXEC reply carries them.
                Ok(v) if idx >= offset => out.push(v),
                Ok(_) => {}
                // A broken stream has no more replies to read.
                Err(e) if !self.open => return Err(e),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(out), Err)
    }

    fn get_db(&self) -> i64 {
        self.db
    }

    fn check_connection(&mut self) -> bool {
        redis::cmd("PING").query::<String>(self).is_ok()
    }

    fn is_open(&self) -> bool {
        self.open
    }
}

/// Turns a `redis` error into an `io::Error` that keeps its message.
pub(crate) fn to_io(e: RedisError) -> io::Error {
    if e.is_io_error() || e.is_connection_dropped() {
        let kind = if e.is_timeout() {
            io::ErrorKind::TimedOut
        } else {
            io::ErrorKind::ConnectionAborted
        };
        return io::Error::new(kind, e);
    }
    io::Error::other(e)
}

/// A pool of [`Connection`]s to one server, shared by clones.
///
/// [`get`](Pool::get) hands out an idle connection or opens a new one;
/// dropping the [`PooledConnection`] returns it unless it broke. At most
/// `max_idle` connections are kept idle; there is no cap on connections in
/// use (a green thread per connection is cheap, and Redis's own
/// `maxclients` is the limit).
///
/// ```no_run
/// let pool = verdant::jobs::Pool::new("redis://127.0.0.1:6379/")?;
/// let mut con = pool.get()?;
/// let n: i64 = redis::cmd("INCR").arg("hits").query(&mut *con)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    target: Target,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("target", &self.inner.target)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool for the server of `url` (see [`Connection::open`]); no
    /// connection is opened until the first [`get`](Pool::get).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a URL that is not a TCP Redis URL.
    ///
    /// ```
    /// assert!(verdant::jobs::Pool::new("http://example.com/").is_err());
    /// ```
    pub fn new(url: &str) -> io::Result<Pool> {
        Ok(Pool::with_target(Target::parse(url)?))
    }

    /// A pool for a `rediss://` URL whose server is checked against
    /// `config` (e.g. `verdant::tls::client_config_with_roots` for a
    /// private CA) instead of Mozilla's roots. Feature `tls`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a URL that is not `rediss://`.
    ///
    /// ```no_run
    /// let roots = std::fs::read("ca.pem")?;
    /// let config = verdant::tls::client_config_with_roots(&roots)?;
    /// let pool = verdant::jobs::Pool::with_tls("rediss://redis.internal:6380/", config)?;
    /// let queue = verdant::jobs::Queue::with_pool(pool, "default")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn with_tls(url: &str, config: Arc<crate::tls::ClientConfig>) -> io::Result<Pool> {
        let mut target = Target::parse(url)?;
        if !target.tls {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{url:?}: a TLS configuration needs a rediss:// URL"),
            ));
        }
        target.tls_config = Some(config);
        Ok(Pool::with_target(target))
    }

    pub(crate) fn with_target(target: Target) -> Pool {
        Pool {
            inner: Arc::new(PoolInner {
                target,
                idle: Mutex::new(Vec::new()),
                max_idle: 64,
            }),
        }
    }

    /// An idle connection, or a new one, with no bound on its reads and
    /// writes.
    ///
    /// # Errors
    ///
    /// As for [`Connection::open`].
    pub fn get(&self) -> io::Result<PooledConnection> {
        let mut con = self.take()?;
        con.set_io_timeout(None)?;
        Ok(con)
    }

    /// An idle connection, or a new one, as the pool has it.
    fn take(&self) -> io::Result<PooledConnection> {
        let idle = self.inner.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let con = match idle {
            Some(con) => con,
            None => Connection::connect(&self.inner.target)?,
        };
        Ok(PooledConnection {
            con: Some(con),
            pool: self.clone(),
        })
    }

    /// Runs `f` on a pooled connection, retrying on a fresh connection
    /// when the pooled one turns out to have been closed by the server
    /// before anything was sent (an idle connection cut by a restart).
    pub(crate) fn with<T>(&self, f: impl Fn(&mut Connection) -> RedisResult<T>) -> io::Result<T> {
        self.with_timeout(None, f)
    }

    /// As [`with`](Pool::with), each attempt's reads and writes bounded by
    /// `timeout` (see [`Connection::set_io_timeout`]; `None`: unbounded).
    /// The connection keeps its bound in the pool, so that the next call
    /// with the same bound makes no system call to set it.
    pub(crate) fn with_timeout<T>(
        &self,
        timeout: Option<Duration>,
        f: impl Fn(&mut Connection) -> RedisResult<T>,
    ) -> io::Result<T> {
        let attempt = |con: &mut PooledConnection| -> RedisResult<T> {
            con.set_io_timeout(timeout)?;
            f(con)
        };
        let mut con = self.take()?;
        match attempt(&mut con) {
            Ok(v) => Ok(v),
            Err(_) if !con.is_open() => {
                drop(con);
                // One retry on a new connection: the old one may have been
                // idle across a server restart.
                let mut con = PooledConnection {
                    con: Some(Connection::connect(&self.inner.target)?),
                    pool: self.clone(),
                };
                attempt(&mut con).map_err(to_io)
            }
            Err(e) => Err(to_io(e)),
        }
    }
}

/// A connection borrowed from a [`Pool`]; it derefs to [`Connection`] and
/// goes back to the pool on drop (unless it broke).
pub struct PooledConnection {
    con: Option<Connection>,
    pool: Pool,
}

impl fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledConnection").field("con", &self.con).finish()
    }
}

impl std::ops::Deref for PooledConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.con.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        self.con.as_mut().expect("present until drop")
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        if let Some(con) = self.con.take() {
            // A green thread cancelled mid-command leaves a reply unread:
            // such a connection is dropped, not reused.
            if con.open && !std::thread::panicking() {
                let mut idle = self.pool.inner.idle.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < self.pool.inner.max_idle {
                    idle.push(con);
                }
            }
        }
    }
}

/// How long a blocking Redis call may wait, as a `BLOCK` argument.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
