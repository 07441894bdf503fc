//! `verdant::http` client: body framings, request bodies, the keep-alive
//! pool under sequential and concurrent use, redirects, timeouts, errors,
//! a real third-party server (Python's `http.server`), and use from a plain
//! OS thread. Loopback only.

#![cfg(feature = "http")]

#[path = "support/http_raw.rs"]
mod http_raw;
#[path = "support/net.rs"]
mod net_support;
mod support;

use std::io::{self, BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_raw::{chunked, close_delimited, ok, redirect, response, RawServer, Reply};
use support::{rt, watchdog};
use verdant::http::{Body, Client, ErrorKind, Method, Request, StatusCode};
use verdant::net::TcpListener;

/// Runs `f` on a fresh 2-worker runtime (as a green thread) under a
/// watchdog; the runtime, and so any server started inside, ends after.
fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let _w = watchdog(Duration::from_secs(60));
    rt(2).block_on(f)
}

fn text(resp: verdant::http::Response<Body>) -> String {
    resp.into_body().into_string(1 << 20).expect("body reads")
}

// ---------------------------------------------------------------- bodies

#[test]
fn get_length_delimited_body() {
    run(|| {
        let server = RawServer::start(|req| ok(&format!("you asked for {}", req.path)));
        let resp = verdant::http::get(&server.url("/thing")).unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.body().len(), Some(20));
        assert_eq!(text(resp), "you asked for /thing");
    });
}

#[test]
fn get_chunked_body() {
    run(|| {
        let server = RawServer::start(|_| chunked(&["hello", ", ", "chunked ", "world"]));
        let resp = Client::new().get(&server.url("/")).unwrap();
        assert_eq!(resp.body().len(), None);
        assert_eq!(text(resp), "hello, chunked world");
    });
}

#[test]
fn get_close_delimited_body() {
    run(|| {
        let server = RawServer::start(|_| close_delimited("until the server closes"));
        let resp = Client::new().get(&server.url("/")).unwrap();
        assert_eq!(resp.body().len(), None);
        assert_eq!(text(resp), "until the server closes");
    });
}

#[test]
fn large_body_streams_through_read() {
    run(|| {
        let big = "x".repeat(3 << 20); // 3 MiB: many times the 32 KiB buffer
        let body = big.clone();
        let server = RawServer::start(move |_| ok(&body));
        let mut resp = Client::new().get(&server.url("/big")).unwrap();
        let mut total = 0usize;
        let mut buf = [0u8; 10_000];
        // Bounded: a 3 MiB body in reads of at least one byte.
        for _ in 0..(4 << 20) {
            let n = resp.body_mut().read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&b| b == b'x'));
            total += n;
        }
        assert_eq!(total, big.len());
    });
}

#[test]
fn head_and_no_content_have_empty_bodies() {
    run(|| {
        let server = RawServer::start(|req| match req.method.as_str() {
            "HEAD" => Reply::Bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n".to_vec()),
            _ => Reply::Bytes(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()),
        });
        let client = Client::new();
        let req = Request::head(server.url("/")).body(Body::empty()).unwrap();
        let resp = client.request(req).unwrap();
        assert_eq!(resp.headers()["content-length"], "1234");
        assert_eq!(resp.body().len(), Some(0));
        assert_eq!(text(resp), "");
        let resp = client.get(&server.url("/")).unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(text(resp), "");
        // Both on one connection: neither response left bytes behind.
        assert_eq!(server.accepted(), 1);
    });
}

// ---------------------------------------------------------- request bodies

/// Replies with the request's framing header and body.
fn echo_framing(req: &http_raw::RawRequest) -> Reply {
    let framing = match (req.header("content-length"), req.header("transfer-encoding")) {
        (Some(len), None) => format!("length {len}"),
        (None, Some(te)) => format!("te {te}"),
        (None, None) => "none".to_owned(),
        (Some(_), Some(_)) => "both!".to_owned(),
    };
    let body = String::from_utf8_lossy(&req.body);
    ok(&format!("{} {framing} [{body}]", req.method))
}

#[test]
fn post_with_a_body_of_known_length() {
    run(|| {
        let server = RawServer::start(echo_framing);
        let client = Client::new();
        let resp = client.post(&server.url("/"), "hello there").unwrap();
        assert_eq!(text(resp), "POST length 11 [hello there]");
        // From a reader whose length is given.
        let reader = io::Cursor::new(b"from a reader".to_vec());
        let resp = client
            .post(&server.url("/"), Body::from_reader(reader, Some(13)))
            .unwrap();
        assert_eq!(text(resp), "POST length 13 [from a reader]");
        // An empty POST still says its length.
        let resp = client.post(&server.url("/"), Body::empty()).unwrap();
        assert_eq!(text(resp), "POST length 0 []");
    });
}

#[test]
fn post_streamed_from_a_reader_of_unknown_length_is_chunked() {
    run(|| {
        let server = RawServer::start(echo_framing);
        // A reader that hands out its bytes a few at a time.
        struct Trickle(Vec<u8>);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(7);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0.drain(..n);
                Ok(n)
            }
        }
        let payload = "streamed in pieces of seven bytes, length unknown".to_owned();
        let body = Body::from_reader(Trickle(payload.clone().into_bytes()), None);
        let resp = Client::new().post(&server.url("/upload"), body).unwrap();
        assert_eq!(text(resp), format!("POST te chunked [{payload}]"));
    });
}

#[test]
fn get_sends_no_body_framing_and_default_headers() {
    run(|| {
        let server = RawServer::start(|req| {
            let ua = req.header("user-agent").unwrap_or("-").to_owned();
            let host = req.header("host").unwrap_or("-").to_owned();
            match echo_framing(req) {
                Reply::Bytes(_) => ok(&format!(
                    "{} {} ua={ua} host={host}",
                    req.method,
                    if req.header("content-length").is_none() && req.header("transfer-encoding").is_none() {
                        "unframed"
                    } else {
                        "framed"
                    }
                )),
                other => other,
            }
        });
        let resp = Client::new().get(&server.url("/")).unwrap();
        let got = text(resp);
        assert_eq!(
            got,
            format!(
                "GET unframed ua=verdant/{} host={}",
                env!("CARGO_PKG_VERSION"),
                server.addr
            )
        );
        let custom = Client::builder().user_agent("tester/9").build();
        assert!(text(custom.get(&server.url("/")).unwrap()).contains("ua=tester/9"));
    });
}

// ------------------------------------------------------------- the pool

#[test]
fn keep_alive_reuses_one_connection_for_sequential_requests() {
    run(|| {
        let server = RawServer::start(|req| ok(&format!("request {} on this connection", req.nth_on_connection)));
        let client = Client::new();
        for i in 0..10 {
            let resp = client.get(&server.url("/")).unwrap();
            assert_eq!(text(resp), format!("request {i} on this connection"));
        }
        assert_eq!(
            server.accepted(),
            1,
            "10 sequential requests should share one connection"
        );
        // A clone shares the pool.
        let clone = client.clone();
        assert_eq!(
            text(clone.get(&server.url("/")).unwrap()),
            "request 10 on this connection"
        );
        assert_eq!(server.accepted(), 1);
    });
}

#[test]
fn chunked_and_close_delimited_bodies_return_or_close_their_connection() {
    run(|| {
        let server = RawServer::start(|req| match req.path.as_str() {
            "/chunked" => chunked(&["a", "b"]),
            _ => close_delimited("c"),
        });
        let client = Client::new();
        for _ in 0..3 {
            assert_eq!(text(client.get(&server.url("/chunked")).unwrap()), "ab");
        }
        assert_eq!(
            server.accepted(),
            1,
            "a chunked body read to its end returns the connection"
        );
        for _ in 0..2 {
            assert_eq!(text(client.get(&server.url("/close")).unwrap()), "c");
        }
        // The first close-delimited request reused the pooled connection;
        // the server closed it, so the second needed a new one.
        assert_eq!(server.accepted(), 2);
    });
}

#[test]
fn dropping_a_body_early_closes_its_connection() {
    run(|| {
        let big = "y".repeat(1 << 20);
        let server = RawServer::start(move |req| match req.path.as_str() {
            "/big" => ok(&big),
            _ => ok("small"),
        });
        let client = Client::new();
        let mut resp = client.get(&server.url("/big")).unwrap();
        let mut first = [0u8; 10];
        resp.body_mut().read_exact(&mut first).unwrap();
        drop(resp); // most of the megabyte unread
        assert_eq!(text(client.get(&server.url("/small")).unwrap()), "small");
        assert_eq!(server.accepted(), 2, "the half-read connection must not be reused");
        assert_eq!(text(client.get(&server.url("/small")).unwrap()), "small");
        assert_eq!(server.accepted(), 2, "the fully read one is");
    });
}

#[test]
fn reading_exactly_the_length_returns_the_connection() {
    run(|| {
        let server = RawServer::start(|_| ok("0123456789"));
        let client = Client::new();
        for _ in 0..3 {
            let mut resp = client.get(&server.url("/")).unwrap();
            let mut ten = [0u8; 10];
            // All ten bytes, but never the read that returns 0.
            resp.body_mut().read_exact(&mut ten).unwrap();
            assert_eq!(&ten, b"0123456789");
            assert_eq!(resp.body().len(), Some(0));
        }
        assert_eq!(server.accepted(), 1);
    });
}

#[test]
fn concurrent_requests_to_one_host_each_get_a_connection() {
    const N: usize = 50;
    run(|| {
        // Every "/together" handler waits until all N requests have arrived:
        // had the client serialised them on fewer connections, they never
        // would (the bounded wait turns that into a 503 instead of a hang).
        let barrier = Arc::new(verdant::sync::Barrier::new(N));
        let server = RawServer::start(move |req| match req.path.as_str() {
            "/together" => match verdant::timeout(Duration::from_secs(20), || {
                barrier.wait();
            }) {
                Ok(()) => ok("together"),
                Err(_) => response("503 Service Unavailable", &[], "not all requests arrived"),
            },
            _ => ok("alone"),
        });
        let client = Client::new();
        let handles: Vec<_> = (0..N)
            .map(|_| {
                let client = client.clone();
                let url = server.url("/together");
                verdant::spawn(move || text(client.get(&url).unwrap()))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), "together");
        }
        assert_eq!(server.accepted(), N, "each concurrent request had its own connection");
        // Afterwards idle connections are reused: no new one.
        for _ in 0..10 {
            assert_eq!(text(client.get(&server.url("/alone")).unwrap()), "alone");
        }
        assert_eq!(server.accepted(), N);
    });
}

/// Spawns `n` green threads that each GET `url` and returns their bodies.
fn fetch_concurrently(client: &Client, url: &str, n: usize) -> Vec<String> {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let client = client.clone();
            let url = url.to_owned();
            verdant::spawn(move || text(client.get(&url).unwrap()))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn stress_500_green_threads_fetch_from_one_host_at_once() {
    const N: usize = 500;
    // Client and server ends of each connection, plus slack.
    if net_support::raise_nofile(4 * N as u64) < 3 * N as u64 {
        eprintln!("SKIPPED stress_500_green_threads_fetch_from_one_host_at_once: too few descriptors");
        return;
    }
    run(|| {
        let barrier = Arc::new(verdant::sync::Barrier::new(N));
        let server = RawServer::start(move |_| {
            match verdant::timeout(Duration::from_secs(30), || {
                barrier.wait();
            }) {
                Ok(()) => ok("together"),
                Err(_) => response("503 Service Unavailable", &[], "not all requests arrived"),
            }
        });
        let client = Client::builder().max_idle_per_host(N).max_idle(N).build();
        let bodies = fetch_concurrently(&client, &server.url("/"), N);
        assert!(bodies.iter().all(|b| b == "together"));
        assert_eq!(server.accepted(), N);
    });
}

#[test]
fn idle_connections_are_bounded_per_host() {
    const N: usize = 8;
    run(|| {
        // "/eight" and "/three" answer only once 8 (or 3) requests are in
        // flight together.
        let eight = Arc::new(verdant::sync::Barrier::new(N));
        let three = Arc::new(verdant::sync::Barrier::new(3));
        let server = RawServer::start(move |req| {
            let barrier = match req.path.as_str() {
                "/eight" => &eight,
                _ => &three,
            };
            match verdant::timeout(Duration::from_secs(20), || {
                barrier.wait();
            }) {
                Ok(()) => ok("done"),
                Err(_) => response("503 Service Unavailable", &[], "not all requests arrived"),
            }
        });
        let client = Client::builder().max_idle_per_host(2).build();
        assert!(fetch_concurrently(&client, &server.url("/eight"), N)
            .iter()
            .all(|b| b == "done"));
        assert_eq!(server.accepted(), N);
        // Only 2 of the 8 stayed in the pool: 3 requests at once need 1 new.
        assert!(fetch_concurrently(&client, &server.url("/three"), 3)
            .iter()
            .all(|b| b == "done"));
        assert_eq!(server.accepted(), N + 1);
    });
}

#[test]
fn a_kept_alive_connection_closed_by_the_server_is_retried_when_idempotent() {
    run(|| {
        // Answers the first request of each connection; a second request on
        // the same connection finds it closed without an answer (a server
        // whose idle timeout fired just as the request went out).
        let server = RawServer::start(|req| match req.nth_on_connection {
            0 => ok(&format!("{} answered", req.method)),
            _ => Reply::ThenClose(Vec::new()),
        });
        let client = Client::new();
        assert_eq!(text(client.get(&server.url("/")).unwrap()), "GET answered");
        // Reuses the pooled connection, meets the close, tries a new one.
        assert_eq!(text(client.get(&server.url("/")).unwrap()), "GET answered");
        assert_eq!(server.accepted(), 2);
        let req = Request::put(server.url("/")).body(Body::from("v")).unwrap();
        assert_eq!(text(client.request(req).unwrap()), "PUT answered");
        assert_eq!(server.accepted(), 3);
        // A POST is not idempotent: the failure is reported, not repeated.
        let err = client.post(&server.url("/"), "once").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
        assert!(err.to_string().contains("closed the kept-alive connection"), "{err}");
        assert_eq!(server.accepted(), 3);
    });
}

// ------------------------------------------------------------- redirects

#[test]
fn redirects_are_followed() {
    run(|| {
        let server = RawServer::start(|req| match req.path.as_str() {
            "/start" => redirect("302 Found", "/middle"),
            "/middle" => redirect("301 Moved Permanently", "end?x=1"), // relative
            "/end?x=1" => ok("arrived"),
            _ => response("404 Not Found", &[], "no"),
        });
        let resp = Client::new().get(&server.url("/start")).unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(text(resp), "arrived");
        // Redirect bodies were drained: all on one connection.
        assert_eq!(server.accepted(), 1);
        // With redirects off, the 3xx is the response.
        let resp = Client::builder()
            .max_redirects(0)
            .build()
            .get(&server.url("/start"))
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND);
        assert_eq!(resp.headers()["location"], "/middle");
    });
}

#[test]
fn redirects_are_bounded_and_the_error_names_the_limit() {
    run(|| {
        // /r/0 -> /r/1 -> /r/2 -> ... forever, never the same URL twice.
        let server = RawServer::start(|req| {
            let n: u32 = req.path.trim_start_matches("/r/").parse().unwrap();
            redirect("302 Found", &format!("/r/{}", n + 1))
        });
        let url = server.url("/r/0");
        let err = Client::builder().max_redirects(3).build().get(&url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redirect, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("limit of 3"), "{msg}");
        assert!(msg.contains("/r/3"), "the error names the URL it stopped at: {msg}");
        assert_eq!(err.status(), Some(StatusCode::FOUND));
    });
}

#[test]
fn a_redirect_loop_is_detected() {
    run(|| {
        let server = RawServer::start(|req| match req.path.as_str() {
            "/ping" => redirect("302 Found", "/pong"),
            _ => redirect("302 Found", "/ping"),
        });
        let err = Client::new().get(&server.url("/ping")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redirect);
        let msg = err.to_string();
        assert!(msg.contains("redirect loop"), "{msg}");
        assert!(msg.contains("/ping -> ") && msg.contains("/pong"), "{msg}");
    });
}

#[test]
fn see_other_turns_post_into_get() {
    run(|| {
        let server = RawServer::start(|req| match req.path.as_str() {
            "/form" => redirect("303 See Other", "/done"),
            _ => echo_framing(req),
        });
        let resp = Client::new().post(&server.url("/form"), "field=value").unwrap();
        assert_eq!(text(resp), "GET none []");
    });
}

#[test]
fn temporary_redirects_keep_method_and_replayable_body() {
    run(|| {
        let server = RawServer::start(|req| match req.path.as_str() {
            "/old" => redirect("307 Temporary Redirect", "/new"),
            "/perm" => redirect("308 Permanent Redirect", "/new"),
            _ => echo_framing(req),
        });
        let client = Client::new();
        let resp = client.post(&server.url("/old"), "payload").unwrap();
        assert_eq!(text(resp), "POST length 7 [payload]");
        let req = Request::put(server.url("/perm"))
            .body(Body::from(vec![b'z'; 3]))
            .unwrap();
        assert_eq!(text(client.request(req).unwrap()), "PUT length 3 [zzz]");
        // A body streamed from a reader of unknown length cannot be sent twice.
        let body = Body::from_reader(io::Cursor::new(b"once".to_vec()), None);
        let err = client.post(&server.url("/old"), body).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redirect);
        assert!(err.to_string().contains("cannot be replayed"), "{err}");
    });
}

// ------------------------------------------------------- timeouts, errors

#[test]
fn refused_connection_names_the_url() {
    run(|| {
        // A port that was just free: nothing listens there now.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/nothing-here");
        let err = Client::new().get(&url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
        assert_eq!(err.url(), url);
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("GET {url}: ")), "{msg}");
        assert!(msg.to_lowercase().contains("refused"), "{msg}");
        let io = io::Error::from(err);
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn connect_timeout_against_a_full_backlog() {
    run(|| {
        // A listener that never accepts, with the smallest backlog: once its
        // queue is full, the kernel drops further SYNs, so connecting hangs.
        let listener = TcpListener::builder().backlog(0).bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        let mut full = false;
        for _ in 0..16 {
            match verdant::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => fillers.push(s),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    full = true;
                    break;
                }
                Err(e) => panic!("filling the backlog: {e}"),
            }
        }
        if !full {
            eprintln!("SKIPPED connect_timeout_against_a_full_backlog: this kernel never dropped a SYN");
            return;
        }
        let client = Client::builder()
            .connect_timeout(Some(Duration::from_millis(200)))
            .build();
        let url = format!("http://{addr}/");
        let err = client.get(&url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
        assert!(err.is_timeout());
        let msg = err.to_string();
        assert!(msg.contains(&url) && msg.contains("connect timeout"), "{msg}");
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::TimedOut);
        drop(listener);
    });
}

#[test]
fn whole_request_timeout_against_a_server_that_never_answers() {
    run(|| {
        let server = RawServer::start(|_| Reply::Never);
        let client = Client::builder().timeout(Duration::from_millis(300)).build();
        let url = server.url("/silent");
        let err = client.get(&url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&url) && msg.contains("whole-request timeout"), "{msg}");
    });
}

#[test]
fn whole_request_timeout_covers_the_body() {
    run(|| {
        // The head and part of the body, then nothing.
        let server =
            RawServer::start(|_| Reply::Bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b".to_vec()));
        let client = Client::builder().timeout(Duration::from_millis(300)).build();
        let resp = client.get(&server.url("/slow-body")).unwrap();
        let err = resp.into_body().into_bytes(1000).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        let ours = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<verdant::http::Error>())
            .expect("our error inside");
        assert_eq!(ours.kind(), ErrorKind::Timeout);
        assert!(err.to_string().contains("/slow-body"), "{err}");
    });
}

#[test]
fn verdant_timeout_around_a_request_works_too() {
    run(|| {
        let server = RawServer::start(|_| Reply::Never);
        let client = Client::new();
        let url = server.url("/");
        let r = verdant::timeout(Duration::from_millis(200), || client.get(&url));
        assert!(r.is_err(), "the request cannot have finished");
    });
}

#[test]
fn cancelling_a_green_thread_mid_request_closes_its_connection() {
    run(|| {
        let (arrived_tx, arrived) = verdant::sync::unbounded::<()>();
        let server = RawServer::start(move |_| {
            let _ = arrived_tx.send(());
            Reply::Never
        });
        let client = Client::new();
        let url = server.url("/hang");
        let h = verdant::spawn(move || client.get(&url).map(|r| r.status()));
        // The request is at the server: its thread is parked waiting for
        // the answer.
        arrived
            .recv_timeout(Duration::from_secs(20))
            .expect("the request arrived");
        h.cancel();
        assert!(h.join().unwrap_err().is_cancelled());
        // The cancelled thread's destructors closed the connection.
        assert!(
            server.wait_closed(Duration::from_secs(20)),
            "the server saw the connection close"
        );
    });
}

#[test]
fn invalid_urls_give_clear_errors() {
    run(|| {
        let client = Client::new();
        for bad in ["not a url", "http://", "", "http//missing-colon"] {
            let err = client.get(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{bad:?}: {err}");
            assert!(err.to_string().contains("invalid URL"), "{err}");
            assert_eq!(io::Error::from(err).kind(), io::ErrorKind::InvalidInput);
        }
        // A relative URI in a Request.
        let req = Request::get("/relative").body(Body::empty()).unwrap();
        assert_eq!(client.request(req).unwrap_err().kind(), ErrorKind::InvalidUrl);
        // Schemes.
        #[cfg(not(feature = "tls"))]
        {
            let err = client.get("https://example.test/").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unsupported);
            assert!(err.to_string().contains("https needs the `tls` feature"), "{err}");
        }
        #[cfg(feature = "tls")]
        {
            let err = client.get("https:///no-host").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{err}");
        }
        let err = client.get("ftp://example.test/f").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.to_string().contains("ftp"), "{err}");
    });
}

#[cfg(not(feature = "tls"))]
#[test]
fn a_redirect_to_https_says_tls_is_needed() {
    run(|| {
        let server = RawServer::start(|_| redirect("301 Moved Permanently", "https://secure.test/"));
        let err = Client::new().get(&server.url("/")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert_eq!(err.url(), "https://secure.test/");
    });
}

#[test]
fn status_codes_are_responses_unless_asked_otherwise() {
    run(|| {
        let server = RawServer::start(|_| response("404 Not Found", &[], "no such page"));
        let resp = Client::new().get(&server.url("/missing")).unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(text(resp), "no such page");
        let strict = Client::builder().http_status_as_error(true).build();
        let err = strict.get(&server.url("/missing")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Status);
        assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
        assert!(err.to_string().contains("404"), "{err}");
    });
}

#[test]
fn a_malformed_response_is_a_protocol_error() {
    run(|| {
        let server = RawServer::start(|_| Reply::ThenClose(b"SMTP ready\r\n\r\n".to_vec()));
        let err = Client::new().get(&server.url("/")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    });
}

#[test]
fn a_host_name_is_resolved_by_verdant() {
    if !std::fs::read_to_string("/etc/hosts")
        .unwrap_or_default()
        .contains("localhost")
    {
        eprintln!("SKIPPED a_host_name_is_resolved_by_verdant: no localhost in /etc/hosts");
        return;
    }
    run(|| {
        let server = RawServer::start(|_| ok("by name"));
        let url = format!("http://localhost:{}/", server.addr.port());
        assert_eq!(text(Client::new().get(&url).unwrap()), "by name");
    });
}

// ------------------------------------------------------ plain OS threads

#[test]
fn works_from_plain_os_threads() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    let server = rt.block_on(move || {
        RawServer::start(move |req| {
            count.fetch_add(1, Ordering::SeqCst);
            match req.path.as_str() {
                "/r" => redirect("302 Found", "/"),
                _ => chunked(&["from ", "a green server"]),
            }
        })
    });
    // This test's own thread is not a green thread.
    let client = Client::new();
    assert_eq!(text(client.get(&server.url("/r")).unwrap()), "from a green server");
    assert_eq!(text(client.post(&server.url("/"), "x").unwrap()), "from a green server");
    // Several OS threads sharing the client.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            let url = server.url("/");
            std::thread::spawn(move || text(client.get(&url).unwrap()))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), "from a green server");
    }
    assert_eq!(served.load(Ordering::SeqCst), 7);
    // A timeout from an OS thread.
    let silent = rt.block_on(|| RawServer::start(|_| Reply::Never));
    let err = Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .get(&silent.url("/"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
}

// ------------------------------------------- a real server: http.server

/// `python3 -m http.server` serving a directory, killed on drop.
struct PythonServer {
    child: Child,
    port: u16,
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PythonServer {
    /// `None` (after a loud SKIPPED) if python3 is missing.
    fn start(dir: &std::path::Path) -> Option<PythonServer> {
        let child = Command::new("python3")
            .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                eprintln!("SKIPPED: python3 is not available ({e}); the http.server test did not run");
                return None;
            }
        };
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ...",
        // printed once the socket is bound.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok());
        let mut server = PythonServer { child, port: 0 };
        match port {
            Some(port) => server.port = port,
            None => panic!("unexpected first line from http.server: {line:?}"),
        }
        Some(server)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

#[test]
fn python_http_server() {
    let _w = watchdog(Duration::from_secs(60));
    let dir = std::env::temp_dir().join(format!("verdant-http-client-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let small = "hello from a file\n";
    let big: Vec<u8> = (0..500_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("small.txt"), small).unwrap();
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    std::fs::write(dir.join("sub").join("index.html"), "<p>sub</p>").unwrap();
    let Some(py) = PythonServer::start(&dir) else {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    };
    let small_url = py.url("/small.txt");
    let big_url = py.url("/big.bin");
    let missing_url = py.url("/missing");
    let sub_url = py.url("/sub");
    rt(2).block_on(move || {
        let client = Client::new();
        let resp = client.get(&small_url).unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.body().len(), Some(small.len() as u64));
        assert_eq!(text(resp), small);
        let bytes = client.get(&big_url).unwrap().into_body().into_bytes(1 << 20).unwrap();
        assert!(bytes == big, "the 500 000-byte file came back intact");
        assert_eq!(client.get(&missing_url).unwrap().status(), StatusCode::NOT_FOUND);
        // A directory without its slash: http.server answers 301 to "/sub/".
        let resp = client.get(&sub_url).unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(text(resp), "<p>sub</p>");
        // HEAD.
        let req = Request::builder()
            .method(Method::HEAD)
            .uri(&small_url)
            .body(Body::empty())
            .unwrap();
        let resp = client.request(req).unwrap();
        assert_eq!(resp.headers()["content-length"], small.len().to_string().as_str());
    });
    drop(py);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_client_outlives_the_runtimes_it_was_used_on() {
    let _w = watchdog(Duration::from_secs(60));
    let server_rt = rt(1);
    let server = server_rt.block_on(|| RawServer::start(|req| ok(&format!("{}", req.nth_on_connection))));
    let client = Client::new();
    let fetch_on = |rt: &verdant::Runtime| {
        let (client, url) = (client.clone(), server.url("/"));
        rt.block_on(move || text(client.get(&url).unwrap()))
    };
    // A connection made and pooled on runtime A; A goes away.
    let a = rt(1);
    assert_eq!(fetch_on(&a), "0");
    assert_eq!(fetch_on(&a), "1", "reused within its runtime");
    drop(a);
    // Its socket stays registered with A's (now dead) reactor: a green
    // thread of B must not wait on it, so B gets a connection of its own.
    let b = rt(1);
    assert_eq!(fetch_on(&b), "0");
    assert_eq!(fetch_on(&b), "1");
    assert_eq!(server.accepted(), 2);
    // A plain OS thread may use B's connection (it waits in poll(2)).
    assert_eq!(text(client.get(&server.url("/")).unwrap()), "2");
    assert_eq!(server.accepted(), 2);
}

// ---------------------------------------------------------------- https (feature `tls`)

#[cfg(feature = "tls")]
mod https {
    use std::io::{self, BufRead, Write};
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, OnceLock};
    use std::time::{Duration, Instant};

    use super::{run, text, RawServer};
    use verdant::http::{Client, ErrorKind};
    use verdant::net::TcpListener;
    use verdant::tls::{self, TlsStream};

    /// A self-signed certificate for `127.0.0.1` (an IP address SAN, so the
    /// URLs need no name lookup) and `localhost`: (certificate PEM, key PEM).
    fn cert() -> &'static (String, String) {
        static CERT: OnceLock<(String, String)> = OnceLock::new();
        CERT.get_or_init(|| {
            let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
            (c.cert.pem(), c.signing_key.serialize_pem())
        })
    }

    /// A client that trusts the test certificate.
    fn client() -> Client {
        let config = tls::client_config_with_roots(cert().0.as_bytes()).unwrap();
        Client::builder()
            .tls_config(config)
            .timeout(Duration::from_secs(20))
            .build()
    }

    /// A tiny HTTPS responder on `TlsStream`: each connection (a green
    /// thread) answers every `GET` with `200` and the body
    /// `conn C request N path P`, keeping the connection open.
    struct Responder {
        addr: SocketAddr,
        accepted: Arc<AtomicUsize>,
    }

    impl Responder {
        fn start() -> Responder {
            Responder::start_with(None)
        }

        /// Like `start`, but a second request on a connection finds it
        /// closed without an answer, with a TLS `close_notify` first if
        /// `notify`, or with the TCP connection just ending.
        fn start_closing(notify: bool) -> Responder {
            Responder::start_with(Some(notify))
        }

        fn start_with(close_second: Option<bool>) -> Responder {
            let config = tls::server_config(cert().0.as_bytes(), cert().1.as_bytes()).unwrap();
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let accepted = Arc::new(AtomicUsize::new(0));
            let count = accepted.clone();
            verdant::spawn(move || loop {
                let Ok((tcp, _)) = listener.accept() else { return };
                let conn = count.fetch_add(1, Ordering::SeqCst);
                let config = config.clone();
                verdant::spawn(move || -> io::Result<()> {
                    let mut tls = TlsStream::accept(config, tcp)?;
                    for nth in 0..1000 {
                        // The request head, line by line (BufRead on TlsStream).
                        let mut first = String::new();
                        if tls.read_line(&mut first)? == 0 {
                            return Ok(());
                        }
                        let path = first.split(' ').nth(1).unwrap_or("?").to_owned();
                        let mut line = String::new();
                        while tls.read_line(&mut line)? > 2 {
                            line.clear();
                        }
                        match close_second {
                            Some(true) if nth == 1 => return tls.shutdown(),
                            Some(false) if nth == 1 => return Ok(()),
                            _ => {}
                        }
                        let body = format!("conn {conn} request {nth} path {path}");
                        write!(tls, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())?;
                    }
                    Ok(())
                });
            });
            Responder { addr, accepted }
        }

        fn url(&self, path: &str) -> String {
            format!("https://{}{path}", self.addr)
        }
    }

    #[test]
    fn get_round_trip() {
        run(|| {
            let server = Responder::start();
            let resp = client().get(&server.url("/hello")).unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(text(resp), "conn 0 request 0 path /hello");
        });
    }

    #[test]
    fn keep_alive_reuses_one_tls_connection() {
        run(|| {
            let server = Responder::start();
            let client = client();
            for nth in 0..5 {
                let body = text(client.get(&server.url(&format!("/{nth}"))).unwrap());
                assert_eq!(body, format!("conn 0 request {nth} path /{nth}"));
            }
            assert_eq!(
                server.accepted.load(Ordering::SeqCst),
                1,
                "one connection, one handshake"
            );
        });
    }

    #[test]
    fn a_kept_alive_tls_connection_closed_by_the_server_is_retried() {
        run(|| {
            for notify in [true, false] {
                let server = Responder::start_closing(notify);
                let client = client();
                let first = text(client.get(&server.url("/a")).unwrap());
                assert_eq!(first, "conn 0 request 0 path /a");
                // Reuses the pooled connection, meets the close (close_notify,
                // or the TCP end without one), sends again on a new one.
                let second = text(client.get(&server.url("/b")).unwrap());
                assert_eq!(second, "conn 1 request 0 path /b", "notify: {notify}");
                assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
                let err = client.post(&server.url("/c"), "once").unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Io, "notify: {notify}: {err}");
                assert!(err.to_string().contains("closed the kept-alive connection"), "{err}");
            }
        });
    }

    #[test]
    fn concurrent_requests_each_get_a_connection_then_share_the_pool() {
        run(|| {
            let server = Responder::start();
            let client = client();
            let handles: Vec<_> = (0..20)
                .map(|i| {
                    let (client, url) = (client.clone(), server.url(&format!("/{i}")));
                    verdant::spawn(move || text(client.get(&url).unwrap()))
                })
                .collect();
            for (i, h) in handles.into_iter().enumerate() {
                assert!(h.join().unwrap().ends_with(&format!("path /{i}")));
            }
            let opened = server.accepted.load(Ordering::SeqCst);
            assert!((1..=20).contains(&opened), "{opened}");
            // Afterwards, sequential requests reuse pooled connections.
            for _ in 0..5 {
                text(client.get(&server.url("/again")).unwrap());
            }
            assert_eq!(server.accepted.load(Ordering::SeqCst), opened);
        });
    }

    #[test]
    fn from_a_plain_os_thread() {
        let _w = super::watchdog(Duration::from_secs(60));
        let rt = super::rt(2);
        let server = rt.block_on(Responder::start);
        assert!(!verdant::current().is_green());
        let client = client();
        assert_eq!(
            text(client.get(&server.url("/os")).unwrap()),
            "conn 0 request 0 path /os"
        );
        assert_eq!(
            text(client.get(&server.url("/os")).unwrap()),
            "conn 0 request 1 path /os"
        );
    }

    #[test]
    fn untrusted_certificate_is_a_connect_error_naming_the_host() {
        run(|| {
            let server = Responder::start();
            // Mozilla's roots only.
            let err = Client::new().get(&server.url("/")).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
            let msg = err.to_string();
            assert!(msg.contains("TLS handshake with \"127.0.0.1\" failed"), "{msg}");
            assert!(msg.contains("UnknownIssuer"), "{msg}");
        });
    }

    #[test]
    fn a_server_that_never_answers_the_handshake_hits_the_connect_timeout() {
        run(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            verdant::spawn(move || {
                // Accept, then say nothing until the client goes away.
                let Ok((mut tcp, _)) = listener.accept() else { return };
                let mut sink = [0u8; 1024];
                while matches!(io::Read::read(&mut tcp, &mut sink), Ok(n) if n > 0) {}
            });
            let client = Client::builder()
                .tls_config(tls::client_config_with_roots(cert().0.as_bytes()).unwrap())
                .connect_timeout(Some(Duration::from_millis(300)))
                .build();
            let start = Instant::now();
            let err = client.get(&format!("https://127.0.0.1:{port}/")).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
            assert!(err.to_string().contains("connect timeout"), "{err}");
            crate::support::assert_not_before(start, Duration::from_millis(300));
        });
    }

    #[test]
    fn a_redirect_from_http_to_https_is_followed() {
        run(|| {
            let secure = Responder::start();
            let target = secure.url("/landed");
            let plain = RawServer::start(move |_| super::redirect("301 Moved Permanently", &target));
            let resp = client().get(&plain.url("/start")).unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(text(resp), "conn 0 request 0 path /landed");
        });
    }

    #[test]
    fn the_client_offers_http_1_1_by_alpn() {
        run(|| {
            let mut config = (*tls::server_config(cert().0.as_bytes(), cert().1.as_bytes()).unwrap()).clone();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let seen = verdant::spawn(move || -> io::Result<Option<Vec<u8>>> {
                let (tcp, _) = listener.accept()?;
                let mut tls = TlsStream::accept(Arc::new(config), tcp)?;
                let alpn = tls.alpn_protocol().map(<[u8]>::to_vec);
                let mut line = String::new();
                while tls.read_line(&mut line)? > 2 {
                    line.clear();
                }
                tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")?;
                Ok(alpn)
            });
            let resp = client().get(&format!("https://127.0.0.1:{port}/")).unwrap();
            assert_eq!(text(resp), "ok");
            assert_eq!(seen.join().unwrap().unwrap().as_deref(), Some(&b"http/1.1"[..]));
        });
    }
}
