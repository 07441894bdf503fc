//! Real job servers for the jobs tests: `redis-server` (AOF on, in a temp
//! dir) and `gearmand`, each on a free loopback port, stopped on drop.
//! A test whose server is not installed prints a loud SKIPPED line and
//! returns.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `program` is on the PATH; prints SKIPPED for `test` if not.
pub fn installed(program: &str, package: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    if !found {
        eprintln!("SKIPPED: {program} not installed (apt-get install {package}); test {test} did not run");
    }
    found
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits (bounded: 10 s) until `ready` says the server answers.
fn wait_ready(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{what} did not come up within 10 s");
}

fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("verdant-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// A private redis-server with `appendonly yes` and `appendfsync always`.
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// TLS only on `port` (certificate and key files in `dir`).
    tls: bool,
}

impl Redis {
    /// Starts one, or returns `None` (SKIPPED printed) if not installed.
    pub fn start(test: &str) -> Option<Redis> {
        if !installed("redis-server", "redis-server", test) {
            return None;
        }
        let mut r = Redis {
            port: free_port(),
            dir: temp_dir("redis"),
            child: None,
            tls: false,
        };
        r.launch();
        Some(r)
    }

    /// One that speaks only TLS on its port, with this certificate and
    /// key (PEM), not asking clients for certificates.
    pub fn start_tls(test: &str, cert_pem: &str, key_pem: &str) -> Option<Redis> {
        if !installed("redis-server", "redis-server", test) {
            return None;
        }
        let mut r = Redis {
            port: free_port(),
            dir: temp_dir("redis-tls"),
            child: None,
            tls: true,
        };
        std::fs::write(r.dir.join("cert.pem"), cert_pem).unwrap();
        std::fs::write(r.dir.join("key.pem"), key_pem).unwrap();
        r.launch();
        Some(r)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn launch(&mut self) {
        let mut cmd = Command::new("redis-server");
        if self.tls {
            cmd.args([
                "--port",
                "0",
                "--tls-port",
                &self.port.to_string(),
                "--tls-auth-clients",
                "no",
            ])
            .arg("--tls-cert-file")
            .arg(self.dir.join("cert.pem"))
            .arg("--tls-key-file")
            .arg(self.dir.join("key.pem"))
            .arg("--tls-ca-cert-file")
            .arg(self.dir.join("cert.pem"));
        } else {
            cmd.args(["--port", &self.port.to_string()]);
        }
        let child = cmd
            .args(["--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let port = self.port;
        if self.tls {
            wait_ready("redis-server (TLS)", || TcpStream::connect(("127.0.0.1", port)).is_ok());
        } else {
            wait_ready("redis-server", || ping(port));
        }
    }

    /// `kill -9` the server (the AOF, fsynced on every write, survives).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and directory (it loads the AOF).
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Runs one command with redis-cli-like raw RESP, returning the reply
    /// line(s) as text (for checks independent of verdant's client).
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// A private gearmand.
pub struct Gearmand {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl Gearmand {
    pub fn start(test: &str) -> Option<Gearmand> {
        if !installed("gearmand", "gearman-job-server", test) {
            return None;
        }
        let port = free_port();
        let dir = temp_dir("gearmand");
        let child = Command::new("gearmand")
            .args(["--listen", "127.0.0.1", "--port", &port.to_string(), "--threads", "1"])
            .arg(format!("--log-file={}", dir.join("gearmand.log").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gearmand starts");
        wait_ready("gearmand", || TcpStream::connect(("127.0.0.1", port)).is_ok());
        Some(Gearmand { port, dir, child })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Gearmand {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback TCP proxy to a server on `127.0.0.1:upstream`, on OS
/// threads, with two ways of cutting the network:
///
/// * [`cut`](Proxy::cut) shuts down every live forwarded connection (both
///   sides: the client sees the end of its stream) and, until
///   [`restore`](Proxy::restore), closes every new connection as soon as
///   it is accepted (a refused service);
/// * [`go_silent`](Proxy::go_silent) is a cut whose news never reaches
///   the client, as when a partition outlasts the server's retransmissions
///   or a firewall forgets the flow: the server's side of every live
///   connection is closed, the client's side stays open and hears nothing
///   ever again (what it sends is dropped), and new connections are
///   accepted and then silent too, until [`restore`](Proxy::restore).
pub struct Proxy {
    pub port: u16,
    shared: std::sync::Arc<ProxyShared>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Net {
    Up,
    Cut,
    Silent,
}

/// One forwarded connection: both sides, and whether it went silent.
struct Link {
    client: TcpStream,
    server: TcpStream,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

struct ProxyShared {
    upstream: u16,
    /// The network's state, the live links, and the connections held
    /// silent, under one lock so that a connection accepted while `cut`
    /// or `go_silent` runs is either handled by it or by the new state.
    state: std::sync::Mutex<(Net, Vec<Link>, Vec<TcpStream>)>,
    closed: std::sync::atomic::AtomicBool,
    /// Connections refused while cut or held while silent.
    refused: std::sync::atomic::AtomicUsize,
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `upstream`.
    pub fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = std::sync::Arc::new(ProxyShared {
            upstream,
            state: std::sync::Mutex::new((Net::Up, Vec::new(), Vec::new())),
            closed: std::sync::atomic::AtomicBool::new(false),
            refused: std::sync::atomic::AtomicUsize::new(0),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.closed.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                s.accept(client);
            }
        });
        Proxy { port, shared }
    }

    /// A Redis URL through the proxy.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Cuts the network: every live connection is shut down, new ones are
    /// closed on arrival until [`restore`](Proxy::restore).
    pub fn cut(&self) {
        let mut st = self.shared.state.lock().unwrap();
        st.0 = Net::Cut;
        for l in st.1.drain(..) {
            let _ = l.client.shutdown(std::net::Shutdown::Both);
            let _ = l.server.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Cuts the network silently: see the type's documentation.
    pub fn go_silent(&self) {
        let mut st = self.shared.state.lock().unwrap();
        st.0 = Net::Silent;
        let links: Vec<Link> = st.1.drain(..).collect();
        for l in links {
            l.silent.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = l.server.shutdown(std::net::Shutdown::Both);
            st.2.push(l.client);
        }
    }

    /// Forwards new connections again (connections that went silent stay
    /// silent: their server side is gone).
    pub fn restore(&self) {
        self.shared.state.lock().unwrap().0 = Net::Up;
    }

    /// How many connections were refused while cut or held while silent.
    pub fn refused(&self) -> usize {
        self.shared.refused.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl ProxyShared {
    fn accept(&self, client: TcpStream) {
        use std::sync::atomic::Ordering::SeqCst;
        let mut st = self.state.lock().unwrap();
        match st.0 {
            Net::Up => {}
            Net::Cut => {
                self.refused.fetch_add(1, SeqCst);
                let _ = client.shutdown(std::net::Shutdown::Both);
                return;
            }
            Net::Silent => {
                self.refused.fetch_add(1, SeqCst);
                st.2.push(client);
                return;
            }
        }
        let Ok(server) = TcpStream::connect(("127.0.0.1", self.upstream)) else {
            let _ = client.shutdown(std::net::Shutdown::Both);
            return;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
            client.try_clone(),
            server.try_clone(),
            client.try_clone(),
            server.try_clone(),
        ) else {
            return;
        };
        let silent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        st.1.push(Link {
            client: c3,
            server: s3,
            silent: silent.clone(),
        });
        drop(st);
        let s2_silent = silent.clone();
        std::thread::spawn(move || pump(client, server, &silent));
        std::thread::spawn(move || pump(s2, c2, &s2_silent));
    }
}

/// Copies `from` to `to` until either ends, then shuts both down (so the
/// other direction's pump ends too) — unless the link went silent: then
/// bytes are dropped and the client's side is left open.
fn pump(mut from: TcpStream, mut to: TcpStream, silent: &std::sync::atomic::AtomicBool) {
    use std::sync::atomic::Ordering::SeqCst;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if silent.load(SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    if !silent.load(SeqCst) {
        let _ = from.shutdown(std::net::Shutdown::Both);
        let _ = to.shutdown(std::net::Shutdown::Both);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cut();
        for c in self.shared.state.lock().unwrap().2.drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        // Wakes the accept loop so it sees `closed`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
