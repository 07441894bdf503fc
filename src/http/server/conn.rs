//! One connection's green thread: requests in, responses out, in order,
//! until either side closes.
//!
//! ```text
//! loop {
//!   read_head (idle: wait ≤ idle_timeout for a first byte; then the whole head ≤ header_timeout)
//!     closed/idle timeout ─▶ close quietly      bad head ─▶ 400/408/413/417/431, close
//!   handler(request)   (panic ─▶ 500, close; cancellation keeps unwinding)
//!     body failed meanwhile ─▶ 400 (framing) / 413 (size), close
//!   write the response (head with the first piece of the body)
//!   101 + OnUpgrade ─▶ drain, hand the stream over, end
//!   keep-alive? drain the unread body (≤ max_drain_bytes; never if a 100-continue
//!               was not sent) ─▶ next request;  else close
//! }
//! ```
//!
//! Closing after a response or an error shuts the write side down and
//! reads (and drops) what the client still sends for a short while, so the
//! kernel does not answer those bytes with a reset that could destroy the
//! response in flight (Go's `closeWriteAndWait`, nginx's lingering close).
//!
//! Graceful stop: each connection is registered with a state word, `IDLE`
//! while it waits for the first byte of a request, `BUSY` from then until
//! it waits again. `stop` sets `stopping` and moves every `IDLE`
//! connection to `CLOSED`, shutting its socket (its read returns, and it
//! ends); a connection going idle stores `IDLE` and then checks
//! `stopping` (both sequentially consistent), so either it sees the flag
//! or `stop` sees it idle. A busy one finishes its exchange with
//! `Connection: close`.

use std::collections::HashMap;
use std::net::Shutdown;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::head::{read_head, Head, HeadError};
use super::io::{read_by, BodyState, ConnIo, Expect, Failure, Shared};
use super::transport::Transport;
use super::upgrade::{OnUpgrade, Upgraded};
use super::write::{error_response, write_response, Answering};
use super::Config;
use crate::http::body::Incoming;
use crate::http::{Body, Request, Response, StatusCode};
use crate::net::TcpStream;
use crate::runtime::interrupt::{self, Cancelled, ElapsedUnwind};

/// How long a closing connection keeps reading what the client still sends.
const LINGER: Duration = Duration::from_secs(1);
/// How much a closing connection reads before it gives up lingering.
const LINGER_BYTES: usize = 256 * 1024;

/// Serves requests on `stream` until the connection ends.
/// `accepted` is when the connection was accepted: the first request's
/// head must arrive within the header timeout from then.
pub(super) fn serve_connection<S, H>(mut stream: S, accepted: Instant, cfg: &Config, handler: &H, conn: &ConnGuard)
where
    S: Transport,
    H: Fn(Request<Body>) -> Response<Body>,
{
    if stream.set_write_timeout(cfg.write_timeout).is_err() {
        return;
    }
    let shared = Arc::new(Shared::new(stream, cfg.limits()));
    let source: Arc<dyn Incoming> = shared.clone();
    let mut out = Vec::with_capacity(1024);
    let mut first = Some(accepted);
    loop {
        let head = read_head(
            &mut shared.io.lock().unwrap_or_else(PoisonError::into_inner),
            cfg,
            conn,
            first.take(),
        );
        let next = match head {
            Ok(head) => exchange(&shared, &source, &mut out, head, cfg, handler, conn),
            Err(HeadError::Closed | HeadError::Io) => return,
            Err(HeadError::TimedOut) => Next::Close(Some(StatusCode::REQUEST_TIMEOUT)),
            Err(HeadError::Status(status)) => Next::Close(Some(status)),
        };
        match next {
            Next::KeepAlive => {}
            Next::Close(status) => return close(&mut shared.io.lock().unwrap_or_else(PoisonError::into_inner), status),
            Next::Abort => return,
            Next::Upgrade(f) => return upgrade(&shared, f),
        }
    }
}

/// Starts an HTTPS connection on its own green thread: registers the TCP
/// socket (a stop shuts it, which ends a handshake as it ends an idle
/// wait: the connection counts as idle until its handshake is done) and
/// runs the TLS handshake, bounded by the header timeout from now (the
/// first request's head then gets what is left of it, see
/// [`serve_connection`]). `None`: the handshake failed (nothing to log) or
/// the server is stopping; the connection is closed.
#[cfg(feature = "tls")]
pub(super) fn handshake(
    tcp: TcpStream,
    tls: &Arc<crate::tls::ServerConfig>,
    cfg: &Config,
    registry: &Arc<Registry>,
) -> Option<(crate::tls::TlsStream<TcpStream>, Instant, ConnGuard)> {
    let accepted = Instant::now();
    tcp.set_write_timeout(cfg.write_timeout).ok()?;
    let guard = registry.register(&tcp)?;
    if !guard.set_idle() {
        return None;
    }
    let deadline = accepted.checked_add(cfg.header_timeout);
    let accept = || crate::tls::TlsStream::accept(tls.clone(), tcp);
    let stream = match deadline {
        Some(deadline) => crate::timeout_at(deadline, accept).ok()?.ok()?,
        None => accept().ok()?,
    };
    guard.set_busy().then_some((stream, accepted, guard))
}

/// What follows an exchange.
enum Next {
    KeepAlive,
    /// Close, first answering with this status if one is given.
    Close(Option<StatusCode>),
    /// The connection failed: drop it.
    Abort,
    Upgrade(Box<dyn FnOnce(Upgraded) + Send>),
}

/// One request and its response.
fn exchange<S, H>(
    shared: &Shared<S>,
    source: &Arc<dyn Incoming>,
    out: &mut Vec<u8>,
    head: Head,
    cfg: &Config,
    handler: &H,
    conn: &ConnGuard,
) -> Next
where
    S: Transport,
    H: Fn(Request<Body>) -> Response<Body>,
{
    let number = {
        let mut io = shared.io.lock().unwrap_or_else(PoisonError::into_inner);
        io.start_body(head.body, head.expect_continue);
        io.exchange
    };
    let body = match head.body {
        BodyState::Done => Body::empty(),
        BodyState::Length(n) => Body::incoming(source.clone(), number, Some(n)),
        _ => Body::incoming(source.clone(), number, None),
    };
    let resp = match catch_unwind(AssertUnwindSafe(|| handler(head.req.map(|()| body)))) {
        Ok(resp) => resp,
        // Cancellation and timeouts are not the handler's panics: they keep
        // unwinding to the green thread's top frame.
        Err(payload) if payload.is::<Cancelled>() || payload.is::<ElapsedUnwind>() => interrupt::resume_unwind(payload),
        // The panic hook has printed the message.
        Err(_) => return Next::Close(Some(StatusCode::INTERNAL_SERVER_ERROR)),
    };
    let mut keep_alive = head.keep_alive && !conn.stopping();
    {
        let io = shared.io.lock().unwrap_or_else(PoisonError::into_inner);
        match io.failure {
            Some(Failure::BadRequest) => return Next::Close(Some(StatusCode::BAD_REQUEST)),
            Some(Failure::TooLarge) => return Next::Close(Some(StatusCode::PAYLOAD_TOO_LARGE)),
            Some(Failure::Io) => return Next::Abort,
            None => {}
        }
        // A body the client was never told to send cannot be drained.
        keep_alive &= io.expect != Expect::Pending;
        keep_alive &= !matches!(io.body, BodyState::Length(n) if n > cfg.max_drain_bytes);
    }
    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    if resp.status().is_informational() && !switching {
        // A handler answers with a final status; an interim one would
        // leave the client waiting for a response that never comes.
        return Next::Close(Some(StatusCode::INTERNAL_SERVER_ERROR));
    }
    let on_upgrade = match switching {
        true => resp.extensions().get::<OnUpgrade>().and_then(OnUpgrade::take),
        false => None,
    };
    let answering = Answering {
        is_head: head.is_head,
        http11: head.http11,
    };
    match write_response(shared, out, resp, answering, keep_alive) {
        Ok(ka) => keep_alive = ka,
        Err(_) => return Next::Abort,
    }
    if !switching && !keep_alive {
        return Next::Close(None);
    }
    let finished = finish_body(
        &mut shared.io.lock().unwrap_or_else(PoisonError::into_inner),
        cfg.max_drain_bytes,
    );
    match (switching, on_upgrade) {
        (false, _) if finished => Next::KeepAlive,
        (true, Some(f)) if finished => Next::Upgrade(f),
        _ => Next::Close(None),
    }
}

/// Reads and drops what the handler left of the request body (at most
/// `limit` bytes) and ends the exchange; whether the next request can be
/// read.
fn finish_body<S: Transport>(io: &mut ConnIo<S>, limit: u64) -> bool {
    let drained = match (io.body, io.expect) {
        (BodyState::Done, _) => true,
        (_, Expect::Pending) => false,
        _ => drain(io, limit),
    };
    // A body kept past its exchange fails from now on.
    io.exchange += 1;
    drained
}

/// Reads the body to its end, if that takes at most `limit` bytes.
fn drain<S: Transport>(io: &mut ConnIo<S>, limit: u64) -> bool {
    let mut scratch = [0u8; 4096];
    let mut total = 0u64;
    loop {
        match io.read_body(&mut scratch) {
            Ok(0) => return true,
            Ok(n) if total + (n as u64) <= limit => total += n as u64,
            _ => return false,
        }
    }
}

/// Answers `status` if given, then closes with a linger.
fn close<S: Transport>(io: &mut ConnIo<S>, status: Option<StatusCode>) {
    io.exchange += 1;
    let Some(stream) = io.stream.as_mut() else {
        return;
    };
    if let Some(status) = status {
        if stream.write_all(&error_response(status)).is_err() {
            return;
        }
    }
    if stream.shutdown_write().is_err() {
        return;
    }
    let deadline = Instant::now().checked_add(LINGER);
    let mut scratch = [0u8; 4096];
    let mut total = 0;
    while total < LINGER_BYTES {
        match read_by(stream, &mut scratch, deadline) {
            Ok(n) if n > 0 => total += n,
            _ => return,
        }
    }
}

/// Hands the connection to the upgrade function, on this green thread.
fn upgrade<S: Transport>(shared: &Shared<S>, f: Box<dyn FnOnce(Upgraded) + Send>) {
    let (stream, early) = {
        let mut io = shared.io.lock().unwrap_or_else(PoisonError::into_inner);
        (io.stream.take(), io.rbuf.take())
    };
    let Some(stream) = stream else {
        return;
    };
    let conn = Upgraded::new(Box::new(stream), early);
    match catch_unwind(AssertUnwindSafe(|| f(conn))) {
        Ok(()) => {}
        Err(payload) if payload.is::<Cancelled>() || payload.is::<ElapsedUnwind>() => interrupt::resume_unwind(payload),
        // The panic hook has printed the message; the connection is closed.
        Err(_) => {}
    }
}

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const CLOSED: u8 = 2;

/// The server's open connections, for a graceful stop (see the module
/// docs).
#[derive(Default)]
pub(super) struct Registry {
    stopping: AtomicBool,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Entry>>>,
}

struct Entry {
    state: AtomicU8,
    /// The TCP socket under the connection (under any TLS), to shut.
    socket: TcpStream,
}

impl Registry {
    /// Counts a new connection in; `None` if the server is stopping.
    pub(super) fn register(self: &Arc<Self>, socket: &TcpStream) -> Option<ConnGuard> {
        let entry = Arc::new(Entry {
            state: AtomicU8::new(BUSY),
            socket: socket.try_clone().ok()?,
        });
        let id = self.next_id.fetch_add(1, SeqCst);
        let mut conns = self.conns.lock();
        if self.stopping.load(SeqCst) {
            return None;
        }
        conns.insert(id, entry.clone());
        drop(conns);
        Some(ConnGuard {
            registry: self.clone(),
            id,
            entry,
        })
    }

    /// Starts a stop: connections finish their exchange and close, idle
    /// ones close now.
    pub(super) fn close_idle(&self) {
        let conns = self.conns.lock();
        self.stopping.store(true, SeqCst);
        for entry in conns.values() {
            if entry.state.compare_exchange(IDLE, CLOSED, SeqCst, SeqCst).is_ok() {
                let _ = entry.socket.shutdown(Shutdown::Both);
            }
        }
    }
}

/// A registered connection; dropping it counts the connection out.
pub(super) struct ConnGuard {
    registry: Arc<Registry>,
    id: u64,
    entry: Arc<Entry>,
}

impl ConnGuard {
    /// Marks the connection idle (waiting for a request); false if the
    /// server is stopping, so the connection should end.
    pub(super) fn set_idle(&self) -> bool {
        self.entry.state.store(IDLE, SeqCst);
        !self.registry.stopping.load(SeqCst)
    }

    /// Marks the connection busy (a request is arriving); false if a stop
    /// closed it while idle.
    pub(super) fn set_busy(&self) -> bool {
        self.entry.state.compare_exchange(IDLE, BUSY, SeqCst, SeqCst).is_ok()
    }

    /// Whether the server is stopping (responses then close their
    /// connection).
    pub(super) fn stopping(&self) -> bool {
        self.registry.stopping.load(SeqCst)
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let entry = self.registry.conns.lock().remove(&self.id);
        drop(entry);
    }
}
