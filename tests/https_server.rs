//! `verdant::http::Server` over TLS (`ServerBuilder::tls`): a round trip
//! with verdant's own client, keep-alive and pipelining inside one TLS
//! connection, ALPN, an upgrade handing over the `TlsStream`, a plain-HTTP
//! client and a silent one cut off without hurting the server, a graceful
//! stop with TLS connections idle, and curl as a real client.
//!
//! Raw clients are `TlsStream`s over `std::net` sockets on the test's OS
//! thread, so every byte the server sends is checked; the server runs on a
//! 2-worker runtime of its own.
#![cfg(feature = "tls")]

#[path = "support/http_wire.rs"]
mod http_wire;
mod support;

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http_wire::Wire;
use support::{assert_not_before, rt, watchdog};
use verdant::http::{Body, Client, OnUpgrade, Request, Response, Server, ServerBuilder, ServerHandle, StatusCode};
use verdant::tls::{self, ClientConfig, ServerConfig, TlsStream};

// ---- harness ---------------------------------------------------------------

/// A self-signed certificate for `127.0.0.1` (an IP address SAN, so URLs
/// need no name lookup) and `localhost`: (certificate PEM, key PEM).
fn cert() -> &'static (String, String) {
    static CERT: OnceLock<(String, String)> = OnceLock::new();
    CERT.get_or_init(|| {
        let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("rcgen makes a certificate");
        (c.cert.pem(), c.signing_key.serialize_pem())
    })
}

fn server_config() -> Arc<ServerConfig> {
    tls::server_config(cert().0.as_bytes(), cert().1.as_bytes()).expect("server config")
}

/// Mozilla's roots plus the test certificate.
fn client_config() -> Arc<ClientConfig> {
    tls::client_config_with_roots(cert().0.as_bytes()).expect("client config")
}

/// The server, on a runtime of its own (kept alive with it).
struct Https {
    rt: verdant::Runtime,
    server: ServerHandle,
}

impl Https {
    fn start<H>(builder: ServerBuilder, handler: H) -> Https
    where
        H: Fn(Request<Body>) -> Response<Body> + Send + Sync + 'static,
    {
        let rt = rt(2);
        let builder = builder.tls(server_config());
        let server = rt.block_on(move || builder.bind("127.0.0.1:0").unwrap().serve_background(handler).unwrap());
        Https { rt, server }
    }

    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    fn stop(self) {
        self.server.stop().unwrap();
        drop(self.rt);
    }
}

/// Echoes the request: method, path and body, read whole.
fn echo(req: Request<Body>) -> Response<Body> {
    let line = format!("{} {} ", req.method(), req.uri().path());
    match req.into_body().into_bytes(1 << 24) {
        Ok(body) => {
            let mut out = line.into_bytes();
            out.extend_from_slice(&body);
            Response::new(Body::from(out))
        }
        Err(e) => Response::builder()
            .status(StatusCode::UNPROCESSABLE_ENTITY)
            .body(Body::from(e.to_string()))
            .unwrap(),
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// A raw HTTP/1.1 client over a TLS (or, to test refusals, plain) stream.
type Raw<S> = Wire<S>;

/// A TCP connection with a 30 s read timeout.
fn tcp(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// A TLS connection to the server, handshake done.
fn connect(addr: SocketAddr) -> Raw<TlsStream<TcpStream>> {
    connect_with(addr, client_config()).expect("TLS handshake")
}

fn connect_with(addr: SocketAddr, config: Arc<ClientConfig>) -> io::Result<Raw<TlsStream<TcpStream>>> {
    let s = TlsStream::connect(config, "localhost", tcp(addr))?;
    Ok(Wire::new(s))
}

// ---- tests -----------------------------------------------------------------

#[test]
fn round_trip_with_verdant_client_keeps_one_connection() {
    let _w = watchdog(Duration::from_secs(60));
    let server = Https::start(Server::builder(), echo);
    let addr = server.addr();
    let (client, texts) = server.rt.block_on(move || {
        let client = Client::builder()
            .tls_config(client_config())
            .timeout(Duration::from_secs(20))
            .build();
        let read = |mut resp: Response<Body>| {
            assert_eq!(resp.status(), 200);
            let mut text = String::new();
            resp.body_mut().read_to_string(&mut text).unwrap();
            text
        };
        let mut texts = Vec::new();
        for i in 0..5 {
            texts.push(read(client.get(&format!("https://{addr}/get{i}")).unwrap()));
        }
        let upload = client.post(&format!("https://{addr}/post"), vec![b'x'; 100_000]);
        texts.push(read(upload.unwrap()));
        (client, texts)
    });
    for (i, text) in texts[..5].iter().enumerate() {
        assert_eq!(text, &format!("GET /get{i} "));
    }
    assert_eq!(texts[5], format!("POST /post {}", "x".repeat(100_000)));
    // The client's pool kept one connection for all six requests.
    assert_eq!(server.server.connections(), 1);
    drop(client);
    server.stop();
}

#[test]
fn keep_alive_serves_many_requests_on_one_tls_connection() {
    let _w = watchdog(Duration::from_secs(60));
    let server = Https::start(Server::builder(), echo);
    let mut c = connect(server.addr());
    assert_eq!(c.s.alpn_protocol(), None, "the client offered no ALPN");
    for i in 0..10 {
        c.send(format!(
            "POST /n{i} HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
        ));
        let r = c.response();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), format!("POST /n{i} abc"));
        assert!(r.header("connection").is_none());
    }
    assert_eq!(server.server.connections(), 1);
    c.send("GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(c.response().text(), "GET /last ");
    assert!(c.closed());
    server.stop();
}

#[test]
fn pipelined_requests_over_tls_are_answered_in_order() {
    let _w = watchdog(Duration::from_secs(60));
    let server = Https::start(Server::builder(), echo);
    let mut c = connect(server.addr());
    // Three requests in one TLS write (one record).
    c.send(format!(
        "{}POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello{}",
        get("/a"),
        get("/c")
    ));
    assert_eq!(c.response().text(), "GET /a ");
    assert_eq!(c.response().text(), "POST /b hello");
    assert_eq!(c.response().text(), "GET /c ");
    // Many requests of exactly 1 KiB at once: more than the server's read
    // buffer (8 KiB) takes in one read, so its reads end at a request
    // boundary with the next requests decrypted inside rustls (where the
    // server must see them, not wait on the socket as if idle).
    let mut burst = String::new();
    for i in 0..40 {
        let head = format!("GET /{i:02} HTTP/1.1\r\nHost: t\r\nX-Pad: \r\n\r\n");
        let pad = "p".repeat(1024 - head.len());
        burst.push_str(&format!("GET /{i:02} HTTP/1.1\r\nHost: t\r\nX-Pad: {pad}\r\n\r\n"));
    }
    assert_eq!(burst.len(), 40 * 1024);
    c.send(burst);
    for i in 0..40 {
        assert_eq!(c.response().text(), format!("GET /{i:02} "));
    }
    server.stop();
}

#[test]
fn alpn_is_http11_only() {
    let _w = watchdog(Duration::from_secs(60));
    let server = Https::start(Server::builder(), echo);
    let mut offers_both = (*client_config()).clone();
    offers_both.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut c = connect_with(server.addr(), Arc::new(offers_both)).unwrap();
    assert_eq!(c.s.alpn_protocol(), Some(&b"http/1.1"[..]));
    c.send(get("/alpn"));
    assert_eq!(c.response().text(), "GET /alpn ");
    // A client that speaks only h2 is refused in the handshake.
    let mut h2_only = (*client_config()).clone();
    h2_only.alpn_protocols = vec![b"h2".to_vec()];
    assert!(connect_with(server.addr(), Arc::new(h2_only)).is_err());
    // And the server goes on.
    c.send(get("/after"));
    assert_eq!(c.response().text(), "GET /after ");
    server.stop();
}

#[test]
fn plain_http_to_the_tls_port_is_cut_off_and_others_are_served() {
    let _w = watchdog(Duration::from_secs(60));
    let server = Https::start(Server::builder(), echo);
    let addr = server.addr();
    let mut plain = Raw {
        s: tcp(addr),
        buf: Vec::new(),
    };
    plain.send(get("/plain"));
    // Cut off: the connection ends (a hang would trip the client's read
    // timeout, and `fill` would panic).
    while plain.fill() {}
    // Whatever came back (a TLS alert, or nothing) is no HTTP response.
    assert!(
        !plain.buf.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&plain.buf)
    );
    let mut c = connect(addr);
    c.send(get("/tls"));
    assert_eq!(c.response().text(), "GET /tls ");
    // Garbage that looks a bit like TLS, too.
    let mut junk = Raw {
        s: tcp(addr),
        buf: Vec::new(),
    };
    junk.send([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);
    while junk.fill() {}
    c.send(get("/tls2"));
    assert_eq!(c.response().text(), "GET /tls2 ");
    server.stop();
}

#[test]
fn a_silent_handshake_is_cut_off_by_the_header_timeout() {
    let _w = watchdog(Duration::from_secs(60));
    let server = Https::start(Server::builder().header_timeout(Duration::from_millis(300)), echo);
    let addr = server.addr();
    let start = Instant::now();
    let mut silent = Raw {
        s: tcp(addr),
        buf: Vec::new(),
    };
    // Others are served meanwhile, on their own connections.
    for i in 0..5 {
        let mut c = connect(addr);
        c.send(get(&format!("/fast{i}")));
        assert_eq!(c.response().text(), format!("GET /fast{i} "));
    }
    // The silent client is cut off, without an answer, after the timeout.
    assert!(silent.closed());
    assert_not_before(start, Duration::from_millis(300));
    // A handshake finished in time leaves only the rest of the timeout,
    // counted from the accept, to the first head: a client that then
    // sends nothing is closed (quietly, as an idle connection is).
    let start = Instant::now();
    let mut idle = connect(addr);
    assert!(idle.closed());
    assert_not_before(start, Duration::from_millis(300));
    // One that starts a head and stalls gets 408.
    let mut stalled = connect(addr);
    stalled.send("GET / HTTP/1.1\r\n");
    assert_eq!(stalled.response().status, 408);
    assert!(stalled.closed());
    server.stop();
}

#[test]
fn graceful_stop_closes_idle_tls_connections() {
    let _w = watchdog(Duration::from_secs(60));
    let entered = verdant::sync::Event::new();
    let release = verdant::sync::Event::new();
    let (e, r) = (entered.clone(), release.clone());
    let server = Https::start(Server::builder(), move |req| {
        if req.uri().path() == "/slow" {
            e.set();
            r.wait();
        }
        echo(req)
    });
    let addr = server.addr();
    // An idle keep-alive TLS connection...
    let mut idle = connect(addr);
    idle.send(get("/first"));
    assert_eq!(idle.response().status, 200);
    // ... one that never started its handshake...
    let mut silent = Raw {
        s: tcp(addr),
        buf: Vec::new(),
    };
    // ... and one with a request in flight.
    let mut busy = connect(addr);
    busy.send(get("/slow"));
    entered.wait();
    let Https { rt, server } = server;
    let stopper = std::thread::spawn(move || server.stop_timeout(Duration::from_secs(60)));
    // The idle and the silent connections are closed at once, while the
    // slow request runs.
    assert!(idle.closed());
    assert!(silent.closed());
    assert!(!release.is_set());
    release.set();
    // The request in flight completes, told that the connection closes.
    let r = busy.response();
    assert_eq!(r.text(), "GET /slow ");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(busy.closed());
    stopper.join().unwrap().unwrap();
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
    drop(rt);
}

#[test]
fn upgrade_hands_over_the_tls_stream() {
    let _w = watchdog(Duration::from_secs(60));
    let server = Https::start(Server::builder(), |_req| {
        let on_upgrade = OnUpgrade::new(|conn| {
            let (mut tls, early) = conn
                .downcast::<TlsStream<verdant::net::TcpStream>>()
                .unwrap_or_else(|_| panic!("an HTTPS server hands over a TlsStream"));
            // Echo in upper case, starting with what came early.
            let mut data = early;
            let mut buf = [0u8; 1024];
            loop {
                tls.write_all(&data.to_ascii_uppercase()).unwrap();
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => data = buf[..n].to_vec(),
                }
            }
        });
        let mut resp = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("upgrade", "shout")
            .body(Body::empty())
            .unwrap();
        resp.extensions_mut().insert(on_upgrade);
        resp
    });
    let mut c = connect(server.addr());
    c.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: shout\r\n\r\nearly ");
    let mut headers = [httparse::EMPTY_HEADER; 16];
    while !c.buf.windows(4).any(|w| w == b"\r\n\r\n") {
        assert!(c.fill());
    }
    let mut r = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(n) = r.parse(&c.buf).unwrap() else {
        unreachable!()
    };
    assert_eq!(r.code, Some(101));
    c.buf.drain(..n);
    while c.buf.len() < 6 {
        assert!(c.fill());
    }
    assert_eq!(c.buf.drain(..6).collect::<Vec<_>>(), b"EARLY ");
    c.send("bytes");
    while c.buf.len() < 5 {
        assert!(c.fill());
    }
    assert_eq!(c.buf, b"BYTES");
    // The upgraded connection is the server's until its client leaves.
    drop(c);
    server.stop();
}

#[test]
fn curl_over_https() {
    let _w = watchdog(Duration::from_secs(60));
    let has_curl = Command::new("curl")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("https"));
    if !has_curl {
        eprintln!("SKIPPED: curl (with https) not installed");
        return;
    }
    let server = Https::start(Server::builder(), echo);
    let pem = std::env::temp_dir().join(format!("verdant-https-server-{}.pem", std::process::id()));
    std::fs::write(&pem, &cert().0).unwrap();
    let base = format!("https://127.0.0.1:{}", server.addr().port());
    // Two URLs in one run: curl reuses the connection (its -v says so).
    let out = Command::new("curl")
        .args(["-sS", "-v", "--max-time", "20", "--cacert"])
        .arg(&pem)
        .args([format!("{base}/one"), format!("{base}/two")])
        .args(["-d", "posted"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&pem);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "curl failed: {stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "POST /one postedPOST /two posted");
    assert!(stderr.contains("ALPN") && stderr.contains("http/1.1"), "{stderr}");
    assert!(
        stderr.contains("Re-using existing connection") || stderr.contains("Reusing existing connection"),
        "{stderr}"
    );
    server.stop();
}
