//! `verdant::http::Server`: framing both ways, keep-alive and pipelining,
//! HTTP/1.0, HEAD, 100-continue, limits, request smuggling, slow clients,
//! panics, graceful stop, upgrades, curl as a real client, and random and
//! mutated requests.
//!
//! Clients are plain `std::net` sockets on the test's OS thread, speaking
//! raw bytes, so every byte the server sends is checked. Most scenarios run
//! twice (the `both!` macro): with the server on the global runtime, and
//! inside a 1-worker `Runtime` of its own.

#![cfg(feature = "http")]

#[path = "support/http_wire.rs"]
mod http_wire;
mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use http_wire::Wire;
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestRunner};
use support::{rt, watchdog};
use verdant::http::{header, Body, OnUpgrade, Request, Response, Server, ServerBuilder, ServerHandle, StatusCode};

// ---- harness ---------------------------------------------------------------

/// Where the server runs.
enum Rt {
    Global,
    One(verdant::Runtime),
}

impl Rt {
    fn one() -> Rt {
        Rt::One(rt(1))
    }

    fn start<H>(&self, builder: ServerBuilder, handler: H) -> ServerHandle
    where
        H: Fn(Request<Body>) -> Response<Body> + Send + Sync + 'static,
    {
        let start = move || builder.bind("127.0.0.1:0").unwrap().serve_background(handler).unwrap();
        match self {
            Rt::Global => start(),
            Rt::One(rt) => rt.block_on(start),
        }
    }
}

/// Runs a scenario `fn name(rt: &Rt)` on both kinds of runtime.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn global() {
                let _w = crate::watchdog(std::time::Duration::from_secs(60));
                super::$name(&super::Rt::Global);
            }

            #[test]
            fn one_worker() {
                let _w = crate::watchdog(std::time::Duration::from_secs(60));
                super::$name(&super::Rt::one());
            }
        }
    )*};
}

/// A raw HTTP/1.1 client over TCP.
type Client = Wire<TcpStream>;

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
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

/// A body `n` bytes long that is not one repeated byte.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

fn chunked(data: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in data.chunks(piece) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

// ---- framing ---------------------------------------------------------------

both!(
    length_bodies_both_ways,
    chunked_bodies_both_ways,
    http10_close_delimited_and_keep_alive,
    pipelined_requests_answered_in_order,
    head_has_get_length_and_no_body,
    expect_continue_sent_when_handler_reads,
    expect_continue_not_sent_when_handler_does_not_read,
    oversized_heads_get_431_and_close,
    smuggling_attempts_get_400_and_close,
    slowloris_is_cut_off_while_others_are_served,
    panicking_handler_gets_500_and_server_goes_on,
    bodies_over_the_limit_get_413,
    graceful_stop,
    unread_bodies_are_drained,
    upgrade_hands_over_the_connection,
    stale_body_fails_instead_of_reading_the_next_request,
    idle_connections_time_out,
    curl_keep_alive_chunked_upload_and_expect,
    random_and_mutated_requests,
);

fn length_bodies_both_ways(rt: &Rt) {
    let server = rt.start(Server::builder(), echo);
    let mut c = Client::connect(server.local_addr());
    for n in [0usize, 1, 100, 70_000, 300_000] {
        let body = pattern(n);
        c.send(format!("POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: {n}\r\n\r\n"));
        c.send(&body);
        let r = c.response();
        assert_eq!(r.status, 200);
        let mut want = b"POST /len ".to_vec();
        want.extend_from_slice(&body);
        assert_eq!(r.header("content-length"), Some(want.len().to_string().as_str()));
        assert!(r.header("date").is_some_and(|d| d.ends_with(" GMT")));
        assert!(r.body == want, "body of {n} bytes differs");
    }
    drop(c);
    server.stop().unwrap();
}

fn chunked_bodies_both_ways(rt: &Rt) {
    // The response body is the request body itself, of unknown length: it
    // goes out chunked while it is read.
    let server = rt.start(Server::builder(), |req| {
        if req.method() == verdant::http::Method::GET {
            return echo(req);
        }
        assert!(req.body().len().is_none());
        Response::new(Body::from_reader(req.into_body(), None))
    });
    let mut c = Client::connect(server.local_addr());
    for (n, piece) in [(0usize, 1usize), (10, 3), (50_000, 4096), (200_000, 65_536)] {
        let body = pattern(n);
        c.send("POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
        let mut framed = chunked(&body, piece);
        if n == 10 {
            // Extensions and trailers are accepted and ignored.
            framed = b"3;ext=1\r\n".to_vec();
            framed.extend_from_slice(&body[..3]);
            framed.extend_from_slice(b"\r\n7\r\n");
            framed.extend_from_slice(&body[3..]);
            framed.extend_from_slice(b"\r\n0\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n");
        }
        c.send(&framed);
        let r = c.response();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert!(r.header("content-length").is_none());
        assert!(r.body == body, "echo of {n} bytes differs");
    }
    // The connection is still in step.
    c.send(get("/after"));
    assert_eq!(c.response().status, 200);
    drop(c);
    server.stop().unwrap();
}

fn http10_close_delimited_and_keep_alive(rt: &Rt) {
    let server = rt.start(Server::builder(), |req| {
        if req.uri().path() == "/stream" {
            Response::new(Body::from_reader(&b"streamed without a length"[..], None))
        } else {
            echo(req)
        }
    });
    // Unknown length to a 1.0 client: the body ends with the connection.
    let mut c = Client::connect(server.local_addr());
    c.send("GET /stream HTTP/1.0\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert!(r.header("content-length").is_none() && r.header("transfer-encoding").is_none());
    assert_eq!(r.text(), "streamed without a length");

    // Without keep-alive a 1.0 connection closes after the response.
    let mut c = Client::connect(server.local_addr());
    c.send("POST /a HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
    let r = c.response();
    assert_eq!(r.text(), "POST /a abc");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed());

    // With keep-alive it stays open (and says so).
    let mut c = Client::connect(server.local_addr());
    for i in 0..3 {
        c.send(format!(
            "POST /k{i} HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"
        ));
        let r = c.response();
        assert_eq!(r.text(), format!("POST /k{i} hi"));
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
    // Transfer-Encoding does not exist in HTTP/1.0.
    c.send("POST /te HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_eq!(c.response().status, 400);
    assert!(c.closed());
    server.stop().unwrap();
}

fn pipelined_requests_answered_in_order(rt: &Rt) {
    let server = rt.start(Server::builder(), echo);
    let mut c = Client::connect(server.local_addr());
    let mut batch = get("/one").into_bytes();
    batch.extend_from_slice(b"POST /two HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    batch.extend_from_slice(b"POST /three HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    batch.extend_from_slice(&chunked(b"chunky", 4));
    c.send(&batch);
    assert_eq!(c.response().text(), "GET /one ");
    assert_eq!(c.response().text(), "POST /two hello");
    assert_eq!(c.response().text(), "POST /three chunky");
    // Many small ones in one write, the last closing the connection.
    let mut batch = String::new();
    for i in 0..50 {
        batch.push_str(&get(&format!("/p{i}")));
    }
    batch.push_str("GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    c.send(batch);
    for i in 0..50 {
        assert_eq!(c.response().text(), format!("GET /p{i} "));
    }
    let last = c.response();
    assert_eq!(last.text(), "GET /last ");
    assert_eq!(last.header("connection"), Some("close"));
    assert!(c.closed());
    server.stop().unwrap();
}

fn head_has_get_length_and_no_body(rt: &Rt) {
    let server = rt.start(Server::builder(), |req| match req.uri().path() {
        "/known" => Response::new(Body::from("twelve bytes")),
        "/explicit" => Response::builder()
            .header(header::CONTENT_LENGTH, "12345")
            .body(Body::empty())
            .unwrap(),
        _ => Response::new(Body::from_reader(&b"unknown"[..], None)),
    });
    let mut c = Client::connect(server.local_addr());
    c.send("HEAD /known HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response_to(true);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("12"));
    c.send("HEAD /explicit HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response_to(true).header("content-length"), Some("12345"));
    c.send("HEAD /unknown HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response_to(true);
    assert!(r.header("content-length").is_none());
    // No body bytes were sent: the next response is the next thing read.
    c.send(get("/known"));
    let r = c.response();
    assert_eq!(r.text(), "twelve bytes");
    assert!(c.buf.is_empty());
    server.stop().unwrap();
}

fn expect_continue_sent_when_handler_reads(rt: &Rt) {
    let server = rt.start(Server::builder(), echo);
    let mut c = Client::connect(server.local_addr());
    c.send("POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    // The body is held back until the server asks for it.
    let interim = c.head();
    assert_eq!(interim.status, 100);
    c.send("data");
    let r = c.response();
    assert_eq!(r.text(), "POST /up data");
    assert!(r.header("connection").is_none());
    // Still in step for the next request.
    c.send(get("/next"));
    assert_eq!(c.response().text(), "GET /next ");
    server.stop().unwrap();
}

fn expect_continue_not_sent_when_handler_does_not_read(rt: &Rt) {
    let server = rt.start(Server::builder(), |_req| {
        Response::builder()
            .status(StatusCode::FORBIDDEN)
            .body(Body::from("no"))
            .unwrap()
    });
    let mut c = Client::connect(server.local_addr());
    c.send("POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n");
    // The final response comes first: no 100, and the connection closes,
    // since the client may or may not send the body now.
    let r = c.head();
    assert_eq!(r.status, 403);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(c.take(2), b"no");
    assert!(c.closed());
    server.stop().unwrap();
}

fn oversized_heads_get_431_and_close(rt: &Rt) {
    let server = rt.start(Server::builder().max_header_bytes(8192).max_headers(20), echo);
    let addr = server.local_addr();
    let mut c = Client::connect(addr);
    c.send(format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(10_000)
    ));
    let r = c.response();
    assert_eq!(r.status, 431);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed());

    let mut c = Client::connect(addr);
    let many: String = (0..21).map(|i| format!("X-H{i}: v\r\n")).collect();
    c.send(format!("GET / HTTP/1.1\r\n{many}\r\n"));
    assert_eq!(c.response().status, 431);
    assert!(c.closed());

    // Just under both limits is fine.
    let mut c = Client::connect(addr);
    let many: String = (0..20).map(|i| format!("X-H{i}: v\r\n")).collect();
    c.send(format!("GET / HTTP/1.1\r\n{many}\r\n"));
    assert_eq!(c.response().status, 200);
    server.stop().unwrap();
}

fn smuggling_attempts_get_400_and_close(rt: &Rt) {
    let handled = Arc::new(AtomicUsize::new(0));
    let h = handled.clone();
    let server = rt.start(Server::builder(), move |req| {
        h.fetch_add(1, Ordering::SeqCst);
        echo(req)
    });
    let addr = server.local_addr();
    let attempts: &[&str] = &[
        // Both framings.
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        // Lengths that disagree, or are not numbers.
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 6\r\n\r\nhello!",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n",
        // Codings other than exactly `chunked`.
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        // Not HTTP.
        "GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n",
        "GET /\x01 HTTP/1.1\r\nHost: t\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\x7f\x03\x03\r\n\r\n",
    ];
    for attempt in attempts {
        let mut c = Client::connect(addr);
        c.send(attempt);
        let r = c.response();
        assert_eq!(r.status, 400, "for {attempt:?}");
        assert_eq!(r.header("connection"), Some("close"));
        assert!(c.closed(), "connection left open after {attempt:?}");
    }
    assert_eq!(
        handled.load(Ordering::SeqCst),
        0,
        "a handler ran for a rejected request"
    );

    // Bad chunk framing is found as the handler reads: the answer is still
    // 400, whatever the handler said, and the connection closes.
    let bad_chunks: &[&[u8]] = &[
        b"zz\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n\r\n0\r\n\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
        b";ext\r\n0\r\n\r\n",
        b"fffffffffffffffff\r\n",
    ];
    for body in bad_chunks {
        let mut c = Client::connect(addr);
        c.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
        c.send(body);
        let r = c.response();
        assert_eq!(r.status, 400, "for chunks {:?}", String::from_utf8_lossy(body));
        assert!(c.closed());
    }
    server.stop().unwrap();
}

fn slowloris_is_cut_off_while_others_are_served(rt: &Rt) {
    let server = rt.start(Server::builder().header_timeout(Duration::from_millis(300)), echo);
    let addr = server.local_addr();
    let mut slow = Client::connect(addr);
    slow.send("GET / HTTP/1.1\r\nHost: t\r\n");
    let trickle = slow.s.try_clone().unwrap();
    // Keeps sending a header byte every 20 ms (for at most 20 s), so the
    // head is never complete; stops when the server hangs up.
    let trickler = std::thread::spawn(move || {
        let mut trickle = trickle;
        for _ in 0..1000 {
            if trickle.write_all(b"X-Slow: 1\r\n"[..1].as_ref()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    // Others are served meanwhile, on their own connections.
    for i in 0..5 {
        let mut c = Client::connect(addr);
        c.send(get(&format!("/fast{i}")));
        assert_eq!(c.response().text(), format!("GET /fast{i} "));
    }
    // The slow client is answered 408 and cut off, though it kept sending.
    let r = slow.response();
    assert_eq!(r.status, 408);
    assert!(slow.closed());
    slow.s.shutdown(Shutdown::Both).unwrap();
    trickler.join().unwrap();
    server.stop().unwrap();
}

fn panicking_handler_gets_500_and_server_goes_on(rt: &Rt) {
    let server = rt.start(Server::builder(), |req| {
        if req.uri().path() == "/panic" {
            panic!("handler panicked on purpose");
        }
        echo(req)
    });
    let addr = server.local_addr();
    let mut c = Client::connect(addr);
    c.send(get("/panic"));
    let r = c.response();
    assert_eq!(r.status, 500);
    assert!(c.closed());
    let mut c = Client::connect(addr);
    c.send(get("/fine"));
    assert_eq!(c.response().text(), "GET /fine ");
    server.stop().unwrap();
}

fn bodies_over_the_limit_get_413(rt: &Rt) {
    let server = rt.start(Server::builder().max_body_bytes(1000), echo);
    let addr = server.local_addr();
    // A declared length over the limit: answered before the handler runs.
    let mut c = Client::connect(addr);
    c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
    c.send(pattern(1001));
    let r = c.response();
    assert_eq!(r.status, 413);
    assert!(c.closed());
    // A chunked body growing past it: the handler's read fails, the
    // answer is 413.
    let mut c = Client::connect(addr);
    c.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(chunked(&pattern(1500), 500));
    assert_eq!(c.response().status, 413);
    assert!(c.closed());
    // At the limit is fine.
    let mut c = Client::connect(addr);
    c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
    c.send(pattern(1000));
    assert_eq!(c.response().status, 200);
    server.stop().unwrap();
}

fn graceful_stop(rt: &Rt) {
    let entered = verdant::sync::Event::new();
    let release = verdant::sync::Event::new();
    let (e, r) = (entered.clone(), release.clone());
    let server = rt.start(Server::builder(), move |req| {
        if req.uri().path() == "/slow" {
            e.set();
            r.wait();
        }
        echo(req)
    });
    let addr = server.local_addr();
    // An idle keep-alive connection...
    let mut idle = Client::connect(addr);
    idle.send(get("/first"));
    assert_eq!(idle.response().status, 200);
    // ... and one with a request in flight.
    let mut busy = Client::connect(addr);
    busy.send(get("/slow"));
    entered.wait();
    let stopper = std::thread::spawn(move || server.stop_timeout(Duration::from_secs(60)));
    // The idle connection is closed at once, while the slow request runs.
    assert!(idle.closed());
    assert!(!release.is_set());
    release.set();
    // The request in flight completes, told that the connection closes.
    let r = busy.response();
    assert_eq!(r.text(), "GET /slow ");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(busy.closed());
    stopper.join().unwrap().unwrap();
    // New connections are refused.
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
}

fn unread_bodies_are_drained(rt: &Rt) {
    let server = rt.start(Server::builder(), |req| {
        if req.uri().path() == "/ignore" {
            return Response::new(Body::from("ignored"));
        }
        if req.uri().path() == "/partial" {
            let mut five = [0u8; 5];
            req.into_body().read_exact(&mut five).unwrap();
            return Response::new(Body::from(five.to_vec()));
        }
        echo(req)
    });
    let mut c = Client::connect(server.local_addr());
    let mut batch = b"POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 10000\r\n\r\n".to_vec();
    batch.extend_from_slice(&pattern(10_000));
    batch.extend_from_slice(b"POST /ignore HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    batch.extend_from_slice(&chunked(&pattern(5000), 999));
    batch.extend_from_slice(b"POST /partial HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world");
    batch.extend_from_slice(get("/next").as_bytes());
    c.send(&batch);
    assert_eq!(c.response().text(), "ignored");
    assert_eq!(c.response().text(), "ignored");
    assert_eq!(c.response().text(), "hello");
    assert_eq!(c.response().text(), "GET /next ");

    // A body too large to drain closes the connection instead.
    c.send("POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n");
    let r = c.response();
    assert_eq!(r.text(), "ignored");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed());
    server.stop().unwrap();
}

fn upgrade_hands_over_the_connection(rt: &Rt) {
    let server = rt.start(Server::builder(), |req| {
        if req.headers().get(header::UPGRADE).is_none() {
            return echo(req);
        }
        let on_upgrade = OnUpgrade::new(|mut conn| {
            let mut buf = [0u8; 256];
            loop {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        let mut reply = b"echo:".to_vec();
                        reply.extend_from_slice(&buf[..n]);
                        if conn.write_all(&reply).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "toy")
            .extension(on_upgrade)
            .body(Body::empty())
            .unwrap()
    });
    let mut c = Client::connect(server.local_addr());
    c.send(get("/plain"));
    assert_eq!(c.response().text(), "GET /plain ");
    // Bytes sent right after the request reach the new protocol.
    c.send("GET /ws HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: toy\r\n\r\nearly");
    let r = c.head();
    assert_eq!(r.status, 101);
    assert_eq!(r.header("upgrade"), Some("toy"));
    assert_eq!(r.header("connection"), Some("upgrade"));
    assert!(r.header("content-length").is_none() && r.header("transfer-encoding").is_none());
    assert_eq!(c.take(10), b"echo:early");
    c.send("later");
    assert_eq!(c.take(10), b"echo:later");
    c.s.shutdown(Shutdown::Write).unwrap();
    assert!(c.closed());
    server.stop().unwrap();
}

fn stale_body_fails_instead_of_reading_the_next_request(rt: &Rt) {
    let kept: Arc<StdMutex<Option<Body>>> = Arc::default();
    let k = kept.clone();
    let server = rt.start(Server::builder(), move |req| {
        if req.uri().path() == "/keep" {
            *k.lock().unwrap() = Some(req.into_body());
            return Response::new(Body::from("kept"));
        }
        let old = k.lock().unwrap().take();
        let mut buf = [0u8; 64];
        let outcome = match old.map(|mut b| b.read(&mut buf)) {
            Some(Ok(n)) => format!("read {n}"),
            Some(Err(_)) => "stale".to_string(),
            None => "none".to_string(),
        };
        Response::new(Body::from(outcome))
    });
    let mut c = Client::connect(server.local_addr());
    c.send("POST /keep HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(c.response().status, 400); // (both framings: rejected, never kept)
    let mut c = Client::connect(server.local_addr());
    c.send("POST /keep HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n0\r\n\r\n");
    assert_eq!(c.response().text(), "kept");
    c.send("POST /use HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nsecond");
    assert_eq!(c.response().text(), "stale");
    server.stop().unwrap();
}

fn idle_connections_time_out(rt: &Rt) {
    let server = rt.start(Server::builder().idle_timeout(Duration::from_millis(100)), echo);
    let mut c = Client::connect(server.local_addr());
    c.send(get("/once"));
    assert_eq!(c.response().status, 200);
    // Nothing more is sent: the server closes the connection by itself
    // (the client's own read timeout is 30 s).
    assert!(c.closed());
    server.stop().unwrap();
}

// ---- curl ------------------------------------------------------------------

fn curl_keep_alive_chunked_upload_and_expect(rt: &Rt) {
    if Command::new("sh")
        .args(["-c", "command -v curl"])
        .output()
        .map_or(true, |o| !o.status.success())
    {
        eprintln!("SKIPPED: curl not installed");
        return;
    }
    let server = rt.start(Server::builder(), |req| {
        if req.uri().path() == "/sum" {
            // Length and a checksum of the upload, read as a stream.
            let expect = req.headers().contains_key(header::EXPECT);
            let te = req.headers().get(header::TRANSFER_ENCODING).cloned();
            let mut body = req.into_body();
            let (mut len, mut sum, mut buf) = (0u64, 0u64, [0u8; 8192]);
            loop {
                let n = body.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                len += n as u64;
                sum = buf[..n]
                    .iter()
                    .fold(sum, |s, &b| s.wrapping_mul(31).wrapping_add(u64::from(b)));
            }
            return Response::new(Body::from(format!("{len} {sum} expect={expect} te={te:?}")));
        }
        echo(req)
    });
    let base = format!("http://{}", server.local_addr());
    // Several URLs on one connection.
    let out = Command::new("curl")
        .args(["--http1.1", "-sS", "--write-out", "[%{num_connects}]\n"])
        .args([format!("{base}/a"), format!("{base}/b"), format!("{base}/c")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "GET /a [1]\nGET /b [0]\nGET /c [0]\n"
    );

    let data = pattern(3_000_000);
    let dir = std::env::temp_dir().join(format!("verdant-http-{}-{:p}", std::process::id(), &data));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("upload.bin");
    std::fs::write(&file, &data).unwrap();
    let want_sum = data
        .iter()
        .fold(0u64, |s, &b| s.wrapping_mul(31).wrapping_add(u64::from(b)));

    // A chunked upload.
    let out = Command::new("curl")
        .args(["--http1.1", "-sS", "-H", "Transfer-Encoding: chunked", "-H", "Expect:"])
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(format!("{base}/sum"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("3000000 {want_sum} expect=false te=Some(\"chunked\")")
    );

    // Expect: 100-continue (curl asks for it itself on a large upload; the
    // header makes sure), and the 100 arrives before curl sends the body.
    let out = Command::new("curl")
        .args([
            "--http1.1",
            "-sS",
            "-v",
            "--expect100-timeout",
            "60",
            "-H",
            "Expect: 100-continue",
        ])
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(format!("{base}/sum"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "curl failed: {stderr}");
    assert!(
        stderr.contains("< HTTP/1.1 100 Continue"),
        "no 100 Continue seen: {stderr}"
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("3000000 {want_sum} expect=true te=None")
    );
    std::fs::remove_dir_all(&dir).unwrap();
    server.stop().unwrap();
}

// ---- random and mutated requests ---------------------------------------------

/// Statuses a response to arbitrary bytes may have.
const ALLOWED: &[u16] = &[100, 200, 400, 408, 413, 417, 431];

/// Counts panics raised in the server's own code (`src/http/`), which the
/// accept loop would otherwise catch and log, unseen by a client. Installed
/// once, chained to the hook in place.
fn server_panics() -> &'static AtomicUsize {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.location().is_some_and(|l| l.file().contains("src/http/")) {
                COUNT.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
    &COUNT
}

/// Reads every response on `c` until the server closes; each must be well
/// formed (a status line, headers, a framed body).
fn well_formed_responses(c: &mut Client) {
    loop {
        while c.buf.is_empty() {
            if !c.fill() {
                return;
            }
        }
        let r = c.head();
        assert!(ALLOWED.contains(&r.status), "status {} in {r:?}", r.status);
        if r.status == 100 {
            continue;
        }
        // Every answer here (the echo's, the server's errors) has a length.
        let len = r
            .header("content-length")
            .unwrap_or_else(|| panic!("unframed body in {r:?}"));
        c.take(len.parse().unwrap());
    }
}

fn random_and_mutated_requests(rt: &Rt) {
    let panics = server_panics();
    let server = rt.start(
        Server::builder()
            .max_header_bytes(4096)
            .max_headers(16)
            .max_body_bytes(4096)
            .header_timeout(Duration::from_secs(10)),
        echo,
    );
    let addr = server.local_addr();
    let seeds: Vec<Vec<u8>> = vec![
        get("/seed").into_bytes(),
        b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
        {
            let mut v = b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            v.extend_from_slice(&chunked(b"some chunked data", 5));
            v
        },
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n".to_vec(),
    ];
    let mutation = (
        0..seeds.len(),
        prop::collection::vec((any::<usize>(), 0u8..4, any::<u8>()), 0..8),
    );
    // Bytes drawn mostly from what heads are made of.
    let alphabet =
        b"GETPOSTHEAD /HTTP1.0:;,=-\r\n\t0123456789abcfxyzContent-LengthTransfer-EncodingchunkedExpect100-continue";
    let head_like = prop::collection::vec(prop::sample::select(alphabet.to_vec()), 0..400);
    let input = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600),
        prop::collection::vec(any::<u8>(), 0..600).prop_map(|mut v| {
            v.extend_from_slice(b"\r\n\r\n");
            v
        }),
        head_like.prop_map(|mut v| {
            v.extend_from_slice(b"\r\n\r\n");
            v
        }),
        mutation.prop_map(move |(i, edits)| {
            let mut v = seeds[i].clone();
            for (at, op, byte) in edits {
                let at = at % (v.len() + 1);
                match op {
                    0 if at < v.len() => v[at] = byte,
                    1 => v.insert(at, byte),
                    2 if at < v.len() => {
                        v.remove(at);
                    }
                    _ => v.truncate(at),
                }
            }
            v
        }),
    ];
    let mut runner = TestRunner::new(PropConfig {
        cases: 300,
        failure_persistence: None,
        ..PropConfig::default()
    });
    runner
        .run(&input, |bytes| {
            let mut c = Client::connect(addr);
            // The server may close before reading everything: a failed
            // write is fine, what it answered is checked.
            let _ = c.s.write_all(&bytes);
            let _ = c.s.shutdown(Shutdown::Write);
            well_formed_responses(&mut c);
            Ok(())
        })
        .unwrap();
    // And it still serves, and never panicked.
    let mut c = Client::connect(addr);
    c.send(get("/still"));
    assert_eq!(c.response().text(), "GET /still ");
    server.stop().unwrap();
    assert_eq!(panics.load(Ordering::SeqCst), 0, "the server's code panicked");
}
