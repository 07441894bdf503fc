//! `serve`: one green thread per connection, with backpressure, accept
//! error backoff and a graceful stop.
//!
//! ```text
//! acceptor (a green thread)                     handlers (one green thread each)
//! loop {                                         handler(stream, peer)
//!   take a permit (of max_concurrency) ◀───────── on exit (return, error, panic,
//!   accept()                                      cancellation): the permit is
//!     Ok  ─▶ spawn handler with the permit ───▶  released (to the acceptor)
//!     EMFILE/ENFILE/ENOBUFS/ENOMEM ─▶ log, sleep 5 ms·2ⁿ (≤ 1 s), retry
//!     ECONNABORTED/EPROTO/EINTR/… (one peer's trouble) ─▶ retry at once
//!     other ─▶ log, end the accept loop
//! }
//! Server::stop: cancel the acceptor (the listener closes), wait until no
//! permit is held (the handlers are done); after the drain timeout, cancel
//! the rest and wait for them.
//! ```
//!
//! The permits are the crate's FIFO `Semaphore`, so the limit, the
//! backpressure and the drain are its `acquire`, `release` and
//! `wait_idle`; a permit handed to an acceptor that is cancelled before it
//! runs goes back, so the drain cannot wait for it forever.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{TcpListener, TcpStream};
use crate::green::JoinHandle;
use crate::runtime::interrupt::Cancelled;
use crate::runtime::wait::Until;
use crate::sync::{OwnedPermit, Semaphore};

/// First backoff after a resource error in `accept` (Go's `http.Server`).
const BACKOFF_MIN: Duration = Duration::from_millis(5);
/// Longest backoff.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Serves `listener` until accepting fails for good, running
/// `handler(stream, peer)` in a green thread per connection, at most
/// `max_concurrency` at once (further connections wait in the listen
/// backlog). Blocks the caller (parks a green one); returns the error that
/// ended the accept loop, after the running handlers have finished.
///
/// Handler errors and panics are logged to stderr (`verdant: serve: ...`)
/// and end only their connection. Use [`serve_background`] for a handle
/// that can stop the server.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use verdant::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:7000")?;
/// verdant::net::serve(listener, 10_000, |mut conn, _peer| {
///     let mut buf = [0u8; 4096];
///     loop {
///         let n = conn.read(&mut buf)?;
///         if n == 0 {
///             return Ok(());
///         }
///         conn.write_all(&buf[..n])?;
///     }
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn serve<H>(listener: TcpListener, max_concurrency: usize, handler: H) -> io::Result<()>
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    serve_background(listener, max_concurrency, handler)?.wait()
}

/// Starts serving `listener` as [`serve`] does, in the background, and
/// returns a handle to stop it. The acceptor and the handlers run on the
/// current runtime (the caller's, else the global one; call this inside
/// `Runtime::block_on` to pick a runtime).
///
/// Fails with `InvalidInput` if `max_concurrency` is 0.
///
/// ```
/// use std::io::{Read, Write};
/// use verdant::net::{TcpListener, TcpStream};
///
/// let server = verdant::net::serve_background(TcpListener::bind("127.0.0.1:0")?, 100, |mut c, _| {
///     let mut buf = [0; 4];
///     c.read_exact(&mut buf)?;
///     c.write_all(&buf)
/// })?;
/// let mut client = TcpStream::connect(server.local_addr())?;
/// client.write_all(b"ping")?;
/// let mut buf = [0; 4];
/// client.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"ping");
/// server.stop()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn serve_background<H>(listener: TcpListener, max_concurrency: usize, handler: H) -> io::Result<Server>
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    if max_concurrency == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "max_concurrency must be at least 1",
        ));
    }
    let local_addr = listener.local_addr()?;
    let tracker = Arc::new(Tracker {
        slots: Arc::new(Semaphore::new(max_concurrency)),
        state: Mutex::default(),
    });
    let t = tracker.clone();
    let handler = Arc::new(handler);
    let acceptor = crate::Builder::new()
        .name(format!("verdant-serve {local_addr}"))
        .spawn(move || accept_loop(&listener, &handler, &t))?;
    Ok(Server {
        tracker,
        acceptor,
        local_addr,
    })
}

/// A server started by [`serve_background`]. Dropping it detaches the
/// server (it keeps running); [`Server::stop`] ends it gracefully.
#[must_use = "dropping a Server detaches it; call `stop` to end it"]
pub struct Server {
    tracker: Arc<Tracker>,
    acceptor: JoinHandle<io::Result<()>>,
    local_addr: SocketAddr,
}

impl Server {
    /// The address the listener is bound to.
    ///
    /// ```
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = l.local_addr()?;
    /// let server = verdant::net::serve_background(l, 1, |_, _| Ok(()))?;
    /// assert_eq!(server.local_addr(), addr);
    /// server.stop()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections being handled now.
    ///
    /// ```
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let server = verdant::net::serve_background(l, 1, |_, _| Ok(()))?;
    /// assert_eq!(server.connections(), 0);
    /// server.stop()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connections(&self) -> usize {
        self.tracker.state.lock().active
    }

    /// Stops accepting (the listener closes) and waits for every running
    /// handler to return. Returns the error that had ended the accept loop
    /// already, if one did. Must not be called from one of the server's
    /// own handlers (it would wait for itself).
    ///
    /// ```
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let server = verdant::net::serve_background(l, 8, |_, _| Ok(()))?;
    /// server.stop()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(self) -> io::Result<()> {
        self.shutdown(None)
    }

    /// Like [`Server::stop`], but handlers still running after `drain` are
    /// cancelled: each unwinds from its next blocking call (its streams
    /// close, so peers see end-of-file) and is waited for.
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:0")?;
    /// let server = verdant::net::serve_background(l, 8, |_, _| Ok(()))?;
    /// server.stop_timeout(Duration::from_secs(5))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop_timeout(self, drain: Duration) -> io::Result<()> {
        self.shutdown(Some(drain))
    }

    /// Waits until the accept loop ends by itself (a non-temporary accept
    /// error) and the handlers have finished; returns that error.
    ///
    /// ```no_run
    /// let l = verdant::net::TcpListener::bind("127.0.0.1:7000")?;
    /// verdant::net::serve_background(l, 8, |_, _| Ok(()))?.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(self) -> io::Result<()> {
        let result = flatten(self.acceptor.join());
        self.tracker.slots.wait_idle(Until::Forever);
        result
    }

    fn shutdown(self, drain: Option<Duration>) -> io::Result<()> {
        self.acceptor.cancel();
        let result = match self.acceptor.join() {
            Err(e) if e.is_cancelled() => Ok(()),
            other => flatten(other),
        };
        let deadline = drain.and_then(|d| Instant::now().checked_add(d));
        if !self.tracker.slots.wait_idle(Until::Within(deadline)) {
            for h in self.tracker.state.lock().conns.values() {
                h.cancel();
            }
            self.tracker.slots.wait_idle(Until::Forever);
        }
        result
    }
}

fn flatten(r: Result<io::Result<()>, crate::JoinError>) -> io::Result<()> {
    r.map_err(io::Error::from)?
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

fn accept_loop<H>(listener: &TcpListener, handler: &Arc<H>, tracker: &Arc<Tracker>) -> io::Result<()>
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    let mut backoff: Option<Duration> = None;
    loop {
        let permit = tracker.slots.acquire_owned();
        match listener.accept() {
            Ok((stream, peer)) => {
                backoff = None;
                tracker.spawn_conn(stream, peer, handler, permit)?;
            }
            Err(e) if is_peer_error(&e) => {}
            Err(e) if is_resource_error(&e) => {
                let d = backoff.map_or(BACKOFF_MIN, |d| (d * 2).min(BACKOFF_MAX));
                backoff = Some(d);
                eprintln!("verdant: serve: accept error: {e}; retrying in {d:?}");
                #[cfg(feature = "tracing")]
                tracing::warn!(target: "verdant::serve", error = %e, backoff = ?d, "accept failed; backing off");
                crate::sleep(d);
            }
            Err(e) => {
                eprintln!("verdant: serve: accept loop ends: {e}");
                return Err(e);
            }
        }
    }
}

/// Out of descriptors, buffers or memory: retry later.
fn is_resource_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// One pending connection's trouble (accept(2) asks to retry these at once).
fn is_peer_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNABORTED
                | libc::EINTR
                | libc::EPROTO
                | libc::ENETDOWN
                | libc::ENOPROTOOPT
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::EHOSTUNREACH
                | libc::EOPNOTSUPP
                | libc::ENETUNREACH
                | libc::EPERM
        )
    )
}

fn run_handler<H>(handler: &H, stream: TcpStream, peer: SocketAddr)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()>,
{
    match catch_unwind(AssertUnwindSafe(|| handler(stream, peer))) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("verdant: serve: connection from {peer}: {e}"),
        // Cancellation must keep unwinding to the green thread's top frame.
        Err(payload) if payload.is::<Cancelled>() => crate::runtime::interrupt::resume_unwind(payload),
        // The panic hook has printed the message.
        Err(_) => eprintln!("verdant: serve: handler for {peer} panicked"),
    }
}

struct Tracker {
    /// One permit per running handler (and the one the acceptor waits for
    /// before it accepts).
    slots: Arc<Semaphore>,
    state: Mutex<TrackerState>,
}

#[derive(Default)]
struct TrackerState {
    active: usize,
    next_id: u64,
    /// Running handlers, to cancel them after a drain timeout.
    conns: HashMap<u64, JoinHandle<()>>,
    /// Handlers that ended before their handle was stored.
    finished: HashSet<u64>,
}

impl Tracker {
    /// Counts the connection in and spawns its handler. A handler may end
    /// before its handle is stored: its exit then leaves its id in
    /// `finished` instead of removing the handle.
    fn spawn_conn<H>(
        self: &Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        handler: &Arc<H>,
        permit: OwnedPermit,
    ) -> io::Result<()>
    where
        H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
    {
        let id = {
            let mut st = self.state.lock();
            st.active += 1;
            st.next_id += 1;
            st.next_id
        };
        let done = Done {
            tracker: self.clone(),
            id,
            _permit: permit,
        };
        let handler = handler.clone();
        let spawned = crate::Builder::new().spawn(move || {
            let _done = done;
            run_handler(&*handler, stream, peer);
        });
        let mut st = self.state.lock();
        match spawned {
            Ok(h) => {
                if !st.finished.remove(&id) {
                    st.conns.insert(id, h);
                }
                Ok(())
            }
            // The closure, and with it `done`, has been dropped.
            Err(e) => {
                st.finished.remove(&id);
                Err(e)
            }
        }
    }
}

/// Dropped when a handler's green thread ends, however it ends. Its permit
/// is released after the connection is counted out.
struct Done {
    tracker: Arc<Tracker>,
    id: u64,
    _permit: OwnedPermit,
}

impl Drop for Done {
    fn drop(&mut self) {
        let handle = {
            let mut st = self.tracker.state.lock();
            st.active -= 1;
            let handle = st.conns.remove(&self.id);
            if handle.is_none() {
                st.finished.insert(self.id);
            }
            handle
        };
        drop(handle);
    }
}
