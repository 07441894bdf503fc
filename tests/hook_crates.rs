//! Unmodified third-party blocking crates run green after
//! `verdant::monkey_patch()` (feature `hook`): ureq, redis's sync
//! `Connection`, tungstenite over `std::net::TcpStream`, and plain
//! `std::net` server code.
//!
//! Each test runs N clients as green threads on ONE worker, beside a
//! ticker green thread on that worker that ticks with `std::thread::sleep`.
//! The server side holds every answer back until it has *all N* requests
//! in hand and has then seen the ticker tick again. Both can happen only if
//! each client's blocking call parked its green thread: a call that blocked
//! the worker would stop the other clients from sending and the ticker from
//! ticking, and the server's bounded wait would fail the test.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{rt, watchdog};
use verdant::sync::{Receiver, Sender};

/// Clients per test, all on one worker.
const N: usize = 50;
/// The longest any side waits for the other (a failure, not a timing).
const LIMIT: Duration = Duration::from_secs(20);

fn patch() {
    verdant::monkey_patch().expect("the hooks are linked into this test binary");
}

/// A ticker green thread: ticks every millisecond with std's sleep
/// (hooked) until `stop`, sending each tick.
struct Ticker {
    ticks: Receiver<()>,
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(rt: &verdant::Runtime) -> Ticker {
        let (tx, ticks): (Sender<()>, _) = verdant::sync::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        rt.spawn(move || {
            for _ in 0..10_000_000u64 {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
                let _ = tx.send(());
            }
        });
        Ticker { ticks, stop }
    }

    /// Waits for 3 ticks after now (discarding older ones).
    fn ticks_again(&self) {
        while self.ticks.try_recv().is_ok() {}
        for _ in 0..3 {
            self.ticks
                .recv_timeout(LIMIT)
                .expect("the ticker on the clients' worker keeps ticking");
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A gate server on plain OS threads: accepts `n` connections, runs
/// `read_req` on each, and once it has all of them and the ticker ticked,
/// runs `answer` on each.
fn gate_server<S: Send + 'static>(
    n: usize,
    ticker: Receiver<()>,
    read_req: impl Fn(TcpStream) -> S + Send + 'static,
    answer: impl Fn(S) + Send + 'static,
) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let mut held = Vec::new();
        for _ in 0..n {
            let (s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(LIMIT)).unwrap();
            held.push(read_req(s));
        }
        let t = Ticker {
            ticks: ticker,
            stop: Arc::new(AtomicBool::new(false)),
        };
        t.ticks_again();
        for s in held {
            answer(s);
        }
    });
    (addr, h)
}

/// Reads an HTTP/1.1 request head (the clients send no body).
fn read_head(s: TcpStream) -> TcpStream {
    let mut r = BufReader::new(s);
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "request head cut short");
        if line == "\r\n" {
            return r.into_inner();
        }
    }
    panic!("request head too long");
}

#[test]
fn ureq_gets_overlap_on_one_worker() {
    let _w = watchdog(Duration::from_secs(120));
    patch();
    let rt = rt(1);
    let ticker = Ticker::start(&rt);
    let (addr, server) = gate_server(N, ticker.ticks.clone(), read_head, |mut s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
            .unwrap();
    });
    let url = format!("http://{addr}/");
    let hs: Vec<_> = (0..N)
        .map(|_| {
            let url = url.clone();
            rt.spawn(move || ureq::get(&url).call().unwrap().body_mut().read_to_string().unwrap())
        })
        .collect();
    for h in hs {
        assert_eq!(h.join().unwrap(), "hello");
    }
    server.join().unwrap();
}

#[test]
fn tungstenite_connect_over_std_overlaps() {
    let _w = watchdog(Duration::from_secs(120));
    patch();
    let rt = rt(1);
    let ticker = Ticker::start(&rt);
    let (addr, server) = gate_server(
        N,
        ticker.ticks.clone(),
        |s| {
            let mut ws = tungstenite::accept(s).unwrap();
            let msg = ws.read().unwrap();
            (ws, msg)
        },
        |(mut ws, msg)| {
            ws.send(msg).unwrap();
            ws.flush().unwrap();
        },
    );
    let url = format!("ws://{addr}/");
    let hs: Vec<_> = (0..N)
        .map(|i| {
            let url = url.clone();
            rt.spawn(move || {
                let (mut ws, _) = tungstenite::connect(&url).unwrap();
                ws.send(tungstenite::Message::text(format!("m{i}"))).unwrap();
                ws.read().unwrap().into_text().unwrap().to_string()
            })
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), format!("m{i}"));
    }
    server.join().unwrap();
}

#[test]
fn std_net_server_and_clients_run_green_on_one_worker() {
    let _w = watchdog(Duration::from_secs(120));
    patch();
    let rt = rt(1);
    let ticker = Ticker::start(&rt);
    // A server written for OS threads: accept, a thread per connection,
    // blocking reads and writes. Here its "threads" are green. Every
    // handler reads its line, then all wait at a barrier and for the
    // ticker before answering.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let barrier = Arc::new(verdant::sync::Barrier::new(N));
    let ticks = ticker.ticks.clone();
    let server = rt.spawn(move || {
        let mut handlers = Vec::new();
        for _ in 0..N {
            let (mut s, _) = l.accept().unwrap();
            let barrier = barrier.clone();
            let ticks = ticks.clone();
            handlers.push(verdant::spawn(move || {
                let mut line = String::new();
                BufReader::new(&s).read_line(&mut line).unwrap();
                if barrier.wait().is_leader() {
                    Ticker {
                        ticks,
                        stop: Arc::new(AtomicBool::new(false)),
                    }
                    .ticks_again();
                }
                s.write_all(line.as_bytes()).unwrap();
            }));
        }
        for h in handlers {
            h.join().unwrap();
        }
    });
    let hs: Vec<_> = (0..N)
        .map(|i| {
            rt.spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(format!("line {i}\n").as_bytes()).unwrap();
                let mut back = String::new();
                s.read_to_string(&mut back).unwrap();
                back
            })
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), format!("line {i}\n"));
    }
    server.join().unwrap();
}

/// A `redis-server` on a free loopback port, killed on drop.
struct Redis {
    child: Child,
    addr: SocketAddr,
}

impl Redis {
    fn start() -> Option<Redis> {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = match Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--maxclients", "1000"])
            .stdout(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!(
                    "\n\n*** SKIPPED: redis-server could not be started ({e}); install it (apt-get install \
                     redis-server) to run this test ***\n"
                );
                return None;
            }
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let r = Redis { child, addr };
        // Ready once it answers PING (bounded).
        for _ in 0..200 {
            if let Ok(mut s) = TcpStream::connect(addr) {
                s.set_read_timeout(Some(LIMIT)).unwrap();
                s.write_all(b"PING\r\n").unwrap();
                let mut buf = [0u8; 7];
                if s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n" {
                    return Some(r);
                }
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server on {addr} never answered PING");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn redis_sync_connections_overlap_on_one_worker() {
    let _w = watchdog(Duration::from_secs(120));
    patch();
    let Some(redis) = Redis::start() else { return };
    let url = format!("redis://{}/", redis.addr);
    let rt = rt(1);
    let ticker = Ticker::start(&rt);
    // N green threads each BLPOP their own list: the server holds every
    // reply until something pushes.
    let hs: Vec<_> = (0..N)
        .map(|i| {
            let url = url.clone();
            rt.spawn(move || {
                let client = redis::Client::open(url.as_str()).unwrap();
                let mut con = client.get_connection().unwrap();
                let got: Option<(String, String)> = redis::cmd("BLPOP")
                    .arg(format!("hook:{i}"))
                    .arg(LIMIT.as_secs())
                    .query(&mut con)
                    .unwrap();
                got.map(|(_, v)| v)
            })
        })
        .collect();
    // From a plain thread: wait (bounded) until all N are blocked in the
    // server, then see the ticker tick, then push.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut all_blocked = false;
    for _ in 0..2000 {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut con).unwrap();
        let blocked = info
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .map(|v| v.trim().parse::<usize>().unwrap());
        if blocked == Some(N) {
            all_blocked = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(all_blocked, "all {N} green threads are blocked in BLPOP at once");
    ticker.ticks_again();
    for i in 0..N {
        let _: i64 = redis::cmd("RPUSH")
            .arg(format!("hook:{i}"))
            .arg(format!("v{i}"))
            .query(&mut con)
            .unwrap();
    }
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), Some(format!("v{i}")));
    }
}
