//! Test helpers for the resolver: a private dnsmasq on a free loopback
//! port, fake nameservers on loopback, temporary directories and a
//! watchdog. Every query a test sends goes to one of these servers on
//! 127.0.0.1, never to the machine's own nameserver.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("verdant-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Aborts the test process if the guard lives longer than `limit`: a hang
/// fails loudly instead of stalling the suite.
pub struct Watchdog(Option<mpsc::Sender<()>>);

pub fn watchdog(name: &'static str, limit: Duration) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("WATCHDOG: test {name} still running after {limit:?}; aborting");
            std::process::abort();
        }
    });
    Watchdog(Some(tx))
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// A two-worker runtime, as most tests use.
pub fn runtime() -> verdant::Runtime {
    verdant::Runtime::builder().workers(2).build().unwrap()
}

/// Whether dnsmasq is installed; prints a loud SKIPPED line if not.
pub fn have_dnsmasq(test: &str) -> bool {
    let ok = Command::new("dnsmasq")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: dnsmasq not installed (apt-get install dnsmasq-base); test {test} did not run");
    }
    ok
}

/// A free port on 127.0.0.1 for both UDP and TCP (at the time of asking).
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}

/// The records every dnsmasq in the tests serves (all under `.test`, which
/// dnsmasq answers itself: unknown names get NXDOMAIN).
pub const BIG_COUNT: usize = 60;

/// A dnsmasq on 127.0.0.1:`port` serving the test records, killed on drop.
pub struct Dnsmasq {
    child: Child,
    pub addr: SocketAddr,
    _dir: TempDir,
    _servfail: FakeServer,
}

impl Dnsmasq {
    /// Starts dnsmasq and waits until it answers; `None` (after a loud
    /// SKIPPED line) if dnsmasq is not installed.
    ///
    /// Records: `a.test` A 10.0.0.1; `dual.test` A 10.0.0.2 + AAAA
    /// fd00::2; `v6only.test` AAAA fd00::6; `alias1.test` CNAME
    /// `alias2.test` CNAME `dual.test`; `big.test` with 60 A records (the
    /// UDP answer is truncated → TCP); `servfail.test` forwarded to a fake
    /// upstream that answers SERVFAIL; names outside `.test` are REFUSED
    /// (no upstream); host.test in the hosts file as 10.0.0.9. TTL
    /// `local_ttl`.
    pub fn start(test: &str, local_ttl: u32) -> Option<Dnsmasq> {
        Self::start_with(test, local_ttl, &[])
    }

    pub fn start_with(test: &str, local_ttl: u32, extra: &[String]) -> Option<Dnsmasq> {
        if !have_dnsmasq(test) {
            return None;
        }
        let dir = TempDir::new("dnsmasq");
        let mut hosts = String::from("10.0.0.9 host.test\n");
        for i in 1..=BIG_COUNT {
            hosts.push_str(&format!("10.1.0.{i} big.test\n"));
        }
        let hosts = dir.write("hosts", &hosts);
        let servfail = FakeServer::start(|q| vec![reply_rcode(q, ResponseCode::ServFail)]);
        let port = free_port();
        let mut cmd = Command::new("dnsmasq");
        cmd.args([
            "--keep-in-foreground",
            "--no-daemon",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--no-resolv",
            "--no-hosts",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--local=/test/",
            "--host-record=a.test,10.0.0.1",
            "--host-record=dual.test,10.0.0.2,fd00::2",
            "--host-record=v6only.test,fd00::6",
            "--cname=alias1.test,alias2.test",
            "--cname=alias2.test,dual.test",
            "--cache-size=0",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--addn-hosts={}", hosts.display()))
        .arg(format!("--local-ttl={local_ttl}"))
        .arg(format!("--server=/servfail.test/127.0.0.1#{}", servfail.addr.port()))
        .arg(format!("--log-facility={}", dir.0.join("log").display()))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let child = cmd.spawn().expect("spawn dnsmasq");
        let mut d = Dnsmasq {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            _dir: dir,
            _servfail: servfail,
        };
        d.wait_ready();
        Some(d)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let q = query_bytes(7, "a.test.", RecordType::A);
        let mut buf = [0u8; 512];
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("dnsmasq exited at start ({status}): {err}");
            }
            let _ = sock.send_to(&q, self.addr);
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if Message::from_vec(&buf[..n]).is_ok_and(|m| m.metadata.id == 7) {
                    return;
                }
            }
        }
        panic!("dnsmasq did not answer on {} within 10 s", self.addr);
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wire bytes of a query.
pub fn query_bytes(id: u16, name: &str, t: RecordType) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    m.to_vec().unwrap()
}

/// A response to `q` with `rcode` and no records.
pub fn reply_rcode(q: &Message, rcode: ResponseCode) -> Message {
    let mut r = Message::response(q.metadata.id, OpCode::Query);
    r.metadata.response_code = rcode;
    r.metadata.recursion_available = true;
    r.add_queries(q.queries.clone());
    r
}

/// A response to `q` giving `ip` (A queries only; AAAA gets NODATA with
/// an SOA of negative TTL `ttl`).
pub fn reply_a(q: &Message, ip: [u8; 4], ttl: u32) -> Message {
    let mut r = reply_rcode(q, ResponseCode::NoError);
    let question = &q.queries[0];
    if question.query_type == RecordType::A {
        r.add_answer(Record::from_rdata(
            question.name.clone(),
            ttl,
            RData::A(A::from(std::net::Ipv4Addr::from(ip))),
        ));
    } else {
        r.add_authority(soa(ttl));
    }
    r
}

/// An SOA record for `test.` with TTL and MINIMUM both `ttl`.
pub fn soa(ttl: u32) -> Record {
    let n = |s: &str| Name::from_ascii(s).unwrap();
    Record::from_rdata(
        n("test."),
        ttl,
        RData::SOA(SOA::new(n("test."), n("admin.test."), 1, 60, 60, 60, ttl)),
    )
}

type Behaviour = dyn Fn(&Message) -> Vec<Message> + Send + Sync;

/// A UDP nameserver on 127.0.0.1 run by a test thread: each query is
/// answered by the datagrams `behaviour` returns (in order). Counts
/// queries; stops on drop.
pub struct FakeServer {
    pub addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(behaviour: impl Fn(&Message) -> Vec<Message> + Send + Sync + 'static) -> FakeServer {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (q2, s2) = (queries.clone(), stop.clone());
        let behaviour: Box<Behaviour> = Box::new(behaviour);
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 2048];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if s2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                q2.fetch_add(1, Ordering::SeqCst);
                for r in behaviour(&q) {
                    let _ = sock.send_to(&r.to_vec().unwrap(), from);
                }
            }
        });
        FakeServer {
            addr,
            queries,
            stop,
            thread: Some(thread),
        }
    }

    /// Queries received so far.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the thread's recv with a datagram of our own.
        let _ = UdpSocket::bind("127.0.0.1:0").and_then(|s| s.send_to(b"stop", self.addr));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A UDP socket that receives queries and never answers.
pub fn silent_server() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

/// Collects a lookup's addresses as strings, for compact assertions.
pub fn strs(ips: impl Iterator<Item = std::net::IpAddr>) -> Vec<String> {
    ips.map(|ip| ip.to_string()).collect()
}

/// The `ResolveErrorKind` inside a resolver error.
pub fn dns_kind(e: &std::io::Error) -> verdant::net::ResolveErrorKind {
    e.get_ref()
        .and_then(|e| e.downcast_ref::<verdant::net::ResolveError>())
        .unwrap_or_else(|| panic!("not a ResolveError: {e:?}"))
        .kind()
        .clone()
}
