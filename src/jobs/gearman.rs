//! A Gearman client and worker (feature `gearman`), speaking the binary
//! protocol to a job server such as `gearmand`.
//!
//! Every packet is a 12-byte header — a magic (`\0REQ` from us, `\0RES`
//! from the server), a type and a length, all big-endian — and arguments
//! separated by NUL bytes, the last one raw data (see
//! <http://gearman.org/protocol/>).
//!
//! A [`Worker`] with [`concurrency(n)`](Worker::concurrency) opens `n`
//! connections, each a green thread in the protocol's loop: `GRAB_JOB_UNIQ`,
//! run the job, `WORK_COMPLETE` (or `WORK_FAIL`); on `NO_JOB` it sends
//! `PRE_SLEEP` and parks until the server's `NOOP`. One connection per
//! in-flight job, rather than several jobs multiplexed on one connection,
//! keeps each connection's state machine the protocol's own (a job's
//! `WORK_DATA` and `WORK_STATUS` go out on the connection it came in on,
//! with no interleaving to arbitrate); the price is `n` sockets on the
//! server, cheap for gearmand (one `epoll` set).
//!
//! ```no_run
//! use verdant::jobs::gearman::{Client, Worker};
//!
//! // A worker process: 100 jobs at once.
//! let worker = Worker::new("127.0.0.1:4730").concurrency(100).register("reverse", |job| {
//!     let mut data = job.data().to_vec();
//!     data.reverse();
//!     Ok(data)
//! });
//! let handle = worker.handle();
//! verdant::spawn(move || worker.run());
//!
//! // A client:
//! let client = Client::connect("127.0.0.1:4730")?;
//! assert_eq!(client.submit_job("reverse", b"abc")?, b"cba");
//! handle.stop();
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::net::{Shutdown, TcpStream};
use crate::sync::Mutex;

const REQ: &[u8; 4] = b"\0REQ";
const RES: &[u8; 4] = b"\0RES";
/// Packets larger than this are refused (gearmand's own default limit is
/// far lower); it bounds what a broken peer can make us allocate.
const MAX_PACKET: u32 = 64 << 20;

// The packet types used here (protocol numbers).
const CAN_DO: u32 = 1;
const PRE_SLEEP: u32 = 4;
const NOOP: u32 = 6;
const SUBMIT_JOB: u32 = 7;
const JOB_CREATED: u32 = 8;
const NO_JOB: u32 = 10;
const WORK_STATUS: u32 = 12;
const WORK_COMPLETE: u32 = 13;
const WORK_FAIL: u32 = 14;
const GET_STATUS: u32 = 15;
const ECHO_REQ: u32 = 16;
const ECHO_RES: u32 = 17;
const SUBMIT_JOB_BG: u32 = 18;
const ERROR: u32 = 19;
const STATUS_RES: u32 = 20;
const SUBMIT_JOB_HIGH: u32 = 21;
const WORK_EXCEPTION: u32 = 25;
const WORK_DATA: u32 = 28;
const WORK_WARNING: u32 = 29;
const GRAB_JOB_UNIQ: u32 = 30;
const JOB_ASSIGN_UNIQ: u32 = 31;
const SUBMIT_JOB_HIGH_BG: u32 = 32;
const SUBMIT_JOB_LOW: u32 = 33;
const SUBMIT_JOB_LOW_BG: u32 = 34;

/// A job's priority on the server: each function's high jobs run before its
/// normal ones, normal before low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// `SUBMIT_JOB_HIGH`, `SUBMIT_JOB_HIGH_BG`.
    High,
    /// `SUBMIT_JOB`, `SUBMIT_JOB_BG`.
    #[default]
    Normal,
    /// `SUBMIT_JOB_LOW`, `SUBMIT_JOB_LOW_BG`.
    Low,
}

impl Priority {
    fn packet(self, background: bool) -> u32 {
        match (self, background) {
            (Priority::High, false) => SUBMIT_JOB_HIGH,
            (Priority::Normal, false) => SUBMIT_JOB,
            (Priority::Low, false) => SUBMIT_JOB_LOW,
            (Priority::High, true) => SUBMIT_JOB_HIGH_BG,
            (Priority::Normal, true) => SUBMIT_JOB_BG,
            (Priority::Low, true) => SUBMIT_JOB_LOW_BG,
        }
    }
}

/// One packet: its type and its NUL-separated arguments.
#[derive(Debug)]
struct Packet {
    kind: u32,
    args: Vec<Vec<u8>>,
}

fn write_packet(w: &mut impl Write, kind: u32, args: &[&[u8]]) -> io::Result<()> {
    let len: usize = args.iter().map(|a| a.len()).sum::<usize>() + args.len().saturating_sub(1);
    let len =
        u32::try_from(len).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "Gearman packet too large"))?;
    let mut buf = Vec::with_capacity(12 + len as usize);
    buf.extend_from_slice(REQ);
    buf.extend_from_slice(&kind.to_be_bytes());
    buf.extend_from_slice(&len.to_be_bytes());
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            buf.push(0);
        }
        buf.extend_from_slice(a);
    }
    w.write_all(&buf)
}

/// Reads one response packet, split into `nargs` arguments (the last one
/// keeps any NUL bytes: it is the data).
fn read_packet(r: &mut impl Read, nargs: impl Fn(u32) -> usize) -> io::Result<Packet> {
    let mut head = [0u8; 12];
    r.read_exact(&mut head)?;
    if &head[..4] != RES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a Gearman response: magic {:?}", &head[..4]),
        ));
    }
    let kind = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let len = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
    if len > MAX_PACKET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("Gearman packet of {len} bytes"),
        ));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body)?;
    let n = nargs(kind).max(1);
    let args = body.splitn(n, |&b| b == 0).map(<[u8]>::to_vec).collect();
    Ok(Packet { kind, args })
}

/// How many arguments each response type has.
fn response_args(kind: u32) -> usize {
    match kind {
        JOB_CREATED | WORK_FAIL | NOOP | NO_JOB | ECHO_RES => 1,
        WORK_COMPLETE | WORK_DATA | WORK_WARNING | WORK_EXCEPTION | ERROR => 2,
        WORK_STATUS => 3,
        JOB_ASSIGN_UNIQ => 4,
        STATUS_RES => 5,
        _ => 1,
    }
}

fn server_error(p: &Packet) -> io::Error {
    let text = |i: usize| {
        p.args
            .get(i)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .unwrap_or_default()
    };
    io::Error::other(format!("Gearman server error {}: {}", text(0), text(1)))
}

fn unexpected(p: &Packet, waiting_for: &str) -> io::Error {
    if p.kind == ERROR {
        return server_error(p);
    }
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("Gearman: packet type {} while waiting for {waiting_for}", p.kind),
    )
}

/// What `GET_STATUS` says about a background job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobStatus {
    /// The server knows the job (queued or running).
    pub known: bool,
    /// A worker runs it.
    pub running: bool,
    /// Progress numerator, as the worker last reported it (`WORK_STATUS`).
    pub numerator: u64,
    /// Progress denominator.
    pub denominator: u64,
}

/// A Gearman client: submits jobs and asks for their status.
///
/// One connection; calls from several green threads take turns (a
/// foreground job holds the connection until its result comes). For many
/// concurrent foreground jobs, use one client per green thread: a
/// connection is cheap.
///
/// ```no_run
/// use verdant::jobs::gearman::{Client, Priority};
///
/// let client = Client::connect("127.0.0.1:4730")?;
/// let handle = client.submit_job_bg("resize", b"a.png", Priority::Low)?;
/// println!("{:?}", client.get_status(&handle)?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Client {
    con: Mutex<TcpStream>,
    nonce: u64,
    unique: AtomicU64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to a job server (`host:port`; gearmand listens on 4730).
    ///
    /// # Errors
    ///
    /// The connection's error.
    pub fn connect(addr: &str) -> io::Result<Client> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Client {
            con: Mutex::new(s),
            nonce: super::random_u64(),
            unique: AtomicU64::new(0),
        })
    }

    /// A unique id per job: gearmand merges jobs of one function with the
    /// same unique id (its coalescing), so it must differ across clients
    /// and processes.
    fn unique(&self) -> String {
        format!("{:x}-{}", self.nonce, self.unique.fetch_add(1, Ordering::Relaxed))
    }

    /// Runs `function` on `data` at normal priority and returns the
    /// worker's result (a foreground job).
    ///
    /// # Errors
    ///
    /// An error naming the failure if the worker sent `WORK_FAIL` or
    /// `WORK_EXCEPTION`; the server's `ERROR`; the connection's error.
    pub fn submit_job(&self, function: &str, data: &[u8]) -> io::Result<Vec<u8>> {
        self.submit(function, data, Priority::Normal, |_| {})
    }

    /// A foreground job with a priority, calling `on_update` for each
    /// `WORK_DATA`, `WORK_WARNING` and `WORK_STATUS` the worker sends
    /// before its result.
    ///
    /// # Errors
    ///
    /// As for [`submit_job`](Client::submit_job).
    pub fn submit(
        &self,
        function: &str,
        data: &[u8],
        priority: Priority,
        mut on_update: impl FnMut(Update<'_>),
    ) -> io::Result<Vec<u8>> {
        let mut con = self.con.lock().unwrap_or_else(|e| e.into_inner());
        let unique = self.unique();
        write_packet(
            &mut *con,
            priority.packet(false),
            &[function.as_bytes(), unique.as_bytes(), data],
        )?;
        let created = read_packet(&mut *con, response_args)?;
        if created.kind != JOB_CREATED {
            return Err(unexpected(&created, "JOB_CREATED"));
        }
        let handle = created.args.into_iter().next().unwrap_or_default();
        loop {
            let p = read_packet(&mut *con, response_args)?;
            if p.args.first() != Some(&handle) {
                return Err(unexpected(&p, "a packet for our job"));
            }
            let arg = |i: usize| p.args.get(i).map(Vec::as_slice).unwrap_or_default();
            match p.kind {
                WORK_COMPLETE => return Ok(arg(1).to_vec()),
                WORK_FAIL => {
                    return Err(io::Error::other(format!("Gearman job {function:?} failed (WORK_FAIL)")));
                }
                WORK_EXCEPTION => {
                    return Err(io::Error::other(format!(
                        "Gearman job {function:?} failed: {}",
                        String::from_utf8_lossy(arg(1))
                    )))
                }
                WORK_DATA => on_update(Update::Data(arg(1))),
                WORK_WARNING => on_update(Update::Warning(arg(1))),
                WORK_STATUS => on_update(Update::Status(number(arg(1)), number(arg(2)))),
                _ => return Err(unexpected(&p, "the job's result")),
            }
        }
    }

    /// Queues `function` on `data` as a background job and returns its
    /// handle (for [`get_status`](Client::get_status)); no result comes
    /// back.
    ///
    /// # Errors
    ///
    /// The server's `ERROR`; the connection's error.
    pub fn submit_job_bg(&self, function: &str, data: &[u8], priority: Priority) -> io::Result<Vec<u8>> {
        let mut con = self.con.lock().unwrap_or_else(|e| e.into_inner());
        let unique = self.unique();
        write_packet(
            &mut *con,
            priority.packet(true),
            &[function.as_bytes(), unique.as_bytes(), data],
        )?;
        let p = read_packet(&mut *con, response_args)?;
        if p.kind != JOB_CREATED {
            return Err(unexpected(&p, "JOB_CREATED"));
        }
        Ok(p.args.into_iter().next().unwrap_or_default())
    }

    /// The status of a job by its handle.
    ///
    /// # Errors
    ///
    /// The server's `ERROR`; the connection's error.
    pub fn get_status(&self, handle: &[u8]) -> io::Result<JobStatus> {
        let mut con = self.con.lock().unwrap_or_else(|e| e.into_inner());
        write_packet(&mut *con, GET_STATUS, &[handle])?;
        let p = read_packet(&mut *con, response_args)?;
        if p.kind != STATUS_RES {
            return Err(unexpected(&p, "STATUS_RES"));
        }
        let arg = |i: usize| p.args.get(i).map(Vec::as_slice).unwrap_or_default();
        Ok(JobStatus {
            known: arg(1) == b"1",
            running: arg(2) == b"1",
            numerator: number(arg(3)),
            denominator: number(arg(4)),
        })
    }

    /// `ECHO_REQ`: the server sends `data` back (a liveness check).
    ///
    /// # Errors
    ///
    /// The connection's error, or a reply that is not the echo.
    pub fn echo(&self, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut con = self.con.lock().unwrap_or_else(|e| e.into_inner());
        write_packet(&mut *con, ECHO_REQ, &[data])?;
        let p = read_packet(&mut *con, response_args)?;
        if p.kind != ECHO_RES {
            return Err(unexpected(&p, "ECHO_RES"));
        }
        Ok(p.args.into_iter().next().unwrap_or_default())
    }
}

fn number(b: &[u8]) -> u64 {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// What a worker reports about a foreground job before its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update<'a> {
    /// A chunk of partial results (`WORK_DATA`).
    Data(&'a [u8]),
    /// A warning (`WORK_WARNING`).
    Warning(&'a [u8]),
    /// Progress: numerator, denominator (`WORK_STATUS`).
    Status(u64, u64),
}

/// A job as a Gearman worker's handler sees it.
pub struct Job<'a> {
    handle: Vec<u8>,
    function: String,
    unique: Vec<u8>,
    data: Vec<u8>,
    con: &'a mut TcpStream,
}

impl fmt::Debug for Job<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("handle", &String::from_utf8_lossy(&self.handle))
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}

impl Job<'_> {
    /// The server's handle for the job.
    pub fn handle(&self) -> &[u8] {
        &self.handle
    }

    /// The function name.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The client's unique id for the job.
    pub fn unique(&self) -> &[u8] {
        &self.unique
    }

    /// The job's data.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Sends a chunk of partial results to the client (`WORK_DATA`).
    ///
    /// # Errors
    ///
    /// The connection's error.
    pub fn send_data(&mut self, data: &[u8]) -> io::Result<()> {
        write_packet(self.con, WORK_DATA, &[&self.handle, data])
    }

    /// Reports progress (`WORK_STATUS`), visible to `get_status` and to a
    /// foreground client.
    ///
    /// # Errors
    ///
    /// The connection's error.
    pub fn send_status(&mut self, numerator: u64, denominator: u64) -> io::Result<()> {
        let (n, d) = (numerator.to_string(), denominator.to_string());
        write_packet(self.con, WORK_STATUS, &[&self.handle, n.as_bytes(), d.as_bytes()])
    }
}

type Handler = Arc<dyn Fn(&mut Job<'_>) -> Result<Vec<u8>, super::Error> + Send + Sync>;

/// A Gearman worker: registers functions (`CAN_DO`) and runs up to
/// [`concurrency`](Worker::concurrency) jobs at once, one green thread and
/// one connection each.
///
/// A handler's `Ok(bytes)` is sent as `WORK_COMPLETE`; an `Err` as
/// `WORK_FAIL` (the error is printed on stderr: the protocol's
/// `WORK_EXCEPTION` reaches only clients that asked for exceptions); a
/// panic is a `WORK_FAIL` too, never a dead worker.
pub struct Worker {
    addr: String,
    concurrency: usize,
    handlers: HashMap<String, Handler>,
    control: Arc<Control>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("addr", &self.addr)
            .field("concurrency", &self.concurrency)
            .field("functions", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Default)]
struct Control {
    stop: AtomicBool,
    /// A clone of every open connection, to wake sleeping ones at a stop.
    streams: Mutex<HashMap<u64, TcpStream>>,
    done: AtomicU64,
    failed: AtomicU64,
}

/// Stops a running Gearman [`Worker`]: jobs running finish, sleeping
/// connections close.
#[derive(Clone)]
pub struct WorkerHandle {
    control: Arc<Control>,
}

impl fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerHandle").finish_non_exhaustive()
    }
}

impl WorkerHandle {
    /// Stops the worker (see [`WorkerHandle`]).
    pub fn stop(&self) {
        self.control.stop.store(true, Ordering::SeqCst);
        let streams = self.control.streams.lock().unwrap_or_else(|e| e.into_inner());
        for s in streams.values() {
            let _ = s.shutdown(Shutdown::Read);
        }
    }
}

impl Worker {
    /// A worker for the job server at `addr` (`host:port`), with
    /// concurrency 1.
    pub fn new(addr: &str) -> Worker {
        Worker {
            addr: addr.to_string(),
            concurrency: 1,
            handlers: HashMap::new(),
            control: Arc::default(),
        }
    }

    /// How many jobs run at once: this many connections, each running one
    /// job at a time on its own green thread.
    pub fn concurrency(mut self, n: usize) -> Worker {
        self.concurrency = n.max(1);
        self
    }

    /// Registers `handler` for `function` (`CAN_DO`).
    pub fn register<F>(mut self, function: &str, handler: F) -> Worker
    where
        F: Fn(&mut Job<'_>) -> Result<Vec<u8>, super::Error> + Send + Sync + 'static,
    {
        self.handlers.insert(function.to_string(), Arc::new(handler));
        self
    }

    /// A handle that stops the worker.
    pub fn handle(&self) -> WorkerHandle {
        WorkerHandle {
            control: self.control.clone(),
        }
    }

    /// Runs until [`WorkerHandle::stop`]; returns (jobs completed, jobs
    /// failed). A lost connection is reopened (after 100 ms, then doubling
    /// up to 5 s).
    ///
    /// # Errors
    ///
    /// `InvalidInput` if no function is registered.
    pub fn run(self) -> io::Result<(u64, u64)> {
        if self.handlers.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a Gearman worker needs a function",
            ));
        }
        let me = Arc::new(self);
        let threads: Vec<_> = (0..me.concurrency as u64)
            .map(|slot| {
                let me = me.clone();
                crate::spawn(move || me.connection_loop(slot))
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        Ok((
            me.control.done.load(Ordering::Relaxed),
            me.control.failed.load(Ordering::Relaxed),
        ))
    }

    fn stopping(&self) -> bool {
        self.control.stop.load(Ordering::SeqCst)
    }

    fn connection_loop(&self, slot: u64) {
        let mut backoff = Duration::from_millis(100);
        while !self.stopping() {
            match self.serve(slot) {
                Ok(()) => return,
                Err(e) if !self.stopping() => {
                    eprintln!("verdant::jobs::gearman worker {}: {e}; reconnecting", self.addr);
                    crate::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(_) => return,
            }
        }
    }

    /// One connection's life: `CAN_DO`s, then grab, run, report.
    fn serve(&self, slot: u64) -> io::Result<()> {
        let mut con = TcpStream::connect(self.addr.as_str())?;
        con.set_nodelay(true)?;
        self.control
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(slot, con.try_clone()?);
        let r = self.serve_on(&mut con);
        self.control
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&slot);
        r
    }

    fn serve_on(&self, con: &mut TcpStream) -> io::Result<()> {
        for f in self.handlers.keys() {
            write_packet(con, CAN_DO, &[f.as_bytes()])?;
        }
        // A stop between the check and the read is seen by the read: stop
        // shuts the socket's read side down.
        while !self.stopping() {
            write_packet(con, GRAB_JOB_UNIQ, &[])?;
            let p = match read_packet(con, response_args) {
                Err(_) if self.stopping() => return Ok(()),
                other => other?,
            };
            match p.kind {
                NOOP => {}
                NO_JOB => {
                    write_packet(con, PRE_SLEEP, &[])?;
                    // Park until the server's NOOP says a job came.
                    let p = match read_packet(con, response_args) {
                        Err(_) if self.stopping() => return Ok(()),
                        other => other?,
                    };
                    if p.kind != NOOP {
                        return Err(unexpected(&p, "NOOP"));
                    }
                }
                JOB_ASSIGN_UNIQ => self.run_job(con, p)?,
                _ => return Err(unexpected(&p, "JOB_ASSIGN_UNIQ or NO_JOB")),
            }
        }
        Ok(())
    }

    fn run_job(&self, con: &mut TcpStream, p: Packet) -> io::Result<()> {
        let mut args = p.args.into_iter();
        let mut job = Job {
            handle: args.next().unwrap_or_default(),
            function: String::from_utf8_lossy(&args.next().unwrap_or_default()).into_owned(),
            unique: args.next().unwrap_or_default(),
            data: args.next().unwrap_or_default(),
            con,
        };
        let result = match self.handlers.get(&job.function).cloned() {
            None => Err(super::Error::permanent(format!("no handler for {:?}", job.function))),
            Some(h) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(&mut job))).unwrap_or_else(|_| {
                Err(super::Error::new(format!(
                    "the handler for {:?} panicked",
                    job.function
                )))
            }),
        };
        match result {
            Ok(data) => {
                self.control.done.fetch_add(1, Ordering::Relaxed);
                write_packet(job.con, WORK_COMPLETE, &[&job.handle, &data])
            }
            Err(e) => {
                self.control.failed.fetch_add(1, Ordering::Relaxed);
                eprintln!("verdant::jobs::gearman job {:?} failed: {e}", job.function);
                write_packet(job.con, WORK_FAIL, &[&job.handle])
            }
        }
    }
}
