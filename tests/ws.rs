//! `verdant::ws` over loopback: echo with both sides green (text, binary),
//! a fragmented message, the close handshake, ping/pong, a 400 for requests
//! that are not upgrades, 100 clients at once, a client on a plain OS
//! thread, timeouts, and `wss://` with an rcgen certificate (feature `tls`).
#![cfg(feature = "ws")]

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use support::{join_os, run, watchdog};
use verdant::http::{Response, Server, ServerHandle, StatusCode};
use verdant::sync::{unbounded, Sender};
use verdant::ws::tungstenite::protocol::frame::coding::{Data, OpCode};
use verdant::ws::tungstenite::protocol::frame::Frame;
use verdant::ws::{self, CloseCode, CloseFrame, Message, WsError};

/// What the `/report` endpoint saw: each message read, then the error that
/// ended its reading.
#[derive(Debug)]
enum Seen {
    Msg(Message),
    End(WsError),
}

/// A server with `/echo` (sends back every text and binary message) and
/// `/report` (sends every message it reads, and the error that ends the
/// loop, to `report`; echoes data messages too).
fn server(report: Sender<Seen>) -> ServerHandle {
    Server::bind("127.0.0.1:0")
        .unwrap()
        .serve_background(move |req| match req.uri().path() {
            "/echo" => ws::upgrade(&req, |mut ws| {
                while let Ok(msg) = ws.read() {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).is_err() {
                        break;
                    }
                }
            }),
            "/report" => {
                let report = report.clone();
                ws::upgrade(&req, move |mut ws| loop {
                    match ws.read() {
                        Ok(msg) => {
                            let echo = (msg.is_text() || msg.is_binary()).then(|| msg.clone());
                            report.send(Seen::Msg(msg)).unwrap();
                            if let Some(echo) = echo {
                                let _ = ws.send(echo);
                            }
                        }
                        Err(e) => {
                            report.send(Seen::End(e)).unwrap();
                            break;
                        }
                    }
                })
            }
            _ => Response::new("not here".into()),
        })
        .unwrap()
}

fn url(server: &ServerHandle, path: &str) -> String {
    format!("ws://{}{path}", server.local_addr())
}

#[test]
fn echo_text_and_binary_green() {
    run(|| {
        let (tx, _rx) = unbounded();
        let server = server(tx);
        let url = url(&server, "/echo");
        let client = verdant::spawn(move || {
            let (mut ws, resp) = ws::connect(url.as_str()).unwrap();
            assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
            assert!(!ws.get_ref().is_tls());
            ws.send(Message::text("hello, green")).unwrap();
            assert_eq!(ws.read().unwrap(), Message::text("hello, green"));
            let blob: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
            ws.send(Message::binary(blob.clone())).unwrap();
            assert_eq!(ws.read().unwrap(), Message::binary(blob));
            ws.close(None).unwrap();
        });
        client.join().unwrap();
        server.stop().unwrap();
    });
}

#[test]
fn fragmented_message_arrives_whole() {
    run(|| {
        let (tx, rx) = unbounded();
        let server = server(tx);
        let (mut ws, _) = ws::connect(url(&server, "/report").as_str()).unwrap();
        // One text message as four frames: a first frame without FIN, two
        // continuations without, a last continuation with.
        let parts = ["frag", "men", "ted ", "message"];
        for (i, part) in parts.iter().enumerate() {
            let opcode = if i == 0 {
                OpCode::Data(Data::Text)
            } else {
                OpCode::Data(Data::Continue)
            };
            let fin = i == parts.len() - 1;
            ws.write(Message::Frame(Frame::message(part.as_bytes().to_vec(), opcode, fin)))
                .unwrap();
            ws.flush().unwrap();
        }
        match rx.recv().unwrap() {
            Seen::Msg(m) => assert_eq!(m, Message::text("fragmented message")),
            other => panic!("server saw {other:?}"),
        }
        assert_eq!(ws.read().unwrap(), Message::text("fragmented message"));
        ws.close(None).unwrap();
        server.stop().unwrap();
    });
}

#[test]
fn close_handshake_with_code_and_reason() {
    run(|| {
        let (tx, rx) = unbounded();
        let server = server(tx);
        let (mut ws, _) = ws::connect(url(&server, "/report").as_str()).unwrap();
        let frame = CloseFrame {
            code: CloseCode::Away,
            reason: "see you".into(),
        };
        ws.close(Some(frame.clone())).unwrap();

        // The server reads the close frame, with its code and reason...
        match rx.recv().unwrap() {
            Seen::Msg(Message::Close(Some(got))) => assert_eq!(got, frame),
            other => panic!("server saw {other:?}"),
        }
        // ...and its next read ends the connection.
        match rx.recv().unwrap() {
            Seen::End(WsError::ConnectionClosed) => {}
            other => panic!("server saw {other:?}"),
        }
        // The client gets the server's reply to its close, then the end.
        match ws.read() {
            Ok(Message::Close(Some(reply))) => assert_eq!(reply.code, CloseCode::Away),
            other => panic!("client read {other:?}"),
        }
        assert!(matches!(ws.read(), Err(WsError::ConnectionClosed)));
        // Once closed, further use says so.
        assert!(matches!(ws.read(), Err(WsError::AlreadyClosed)));
        server.stop().unwrap();
    });
}

#[test]
fn ping_gets_pong_with_same_payload() {
    run(|| {
        let (tx, _rx) = unbounded();
        let server = server(tx);
        let (mut ws, _) = ws::connect(url(&server, "/echo").as_str()).unwrap();
        ws.send(Message::Ping(b"are you there?".to_vec().into())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Pong(b"are you there?".to_vec().into()));
        ws.close(None).unwrap();
        server.stop().unwrap();
    });
}

/// Sends `request` over a fresh connection and returns the whole response.
fn raw_exchange(server: &ServerHandle, request: &str) -> String {
    let mut tcp = verdant::net::TcpStream::connect(server.local_addr()).unwrap();
    tcp.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    tcp.read_exact(&mut body).unwrap();
    head + &String::from_utf8(body).unwrap()
}

#[test]
fn non_upgrade_requests_get_400() {
    run(|| {
        let (tx, _rx) = unbounded();
        let server = server(tx);
        // A plain GET, through verdant's HTTP client.
        let resp = verdant::http::get(&format!("http://{}/echo", server.local_addr())).unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let cases = [
            (
                "POST",
                "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
                "GET request",
            ),
            (
                "GET",
                "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
                "Connection: upgrade",
            ),
            (
                "GET",
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
                "Upgrade: websocket",
            ),
            (
                "GET",
                "Connection: Upgrade\r\nUpgrade: websocket\r\n",
                "Sec-WebSocket-Version",
            ),
            (
                "GET",
                "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\n",
                "speaks 13",
            ),
        ];
        for (method, headers, why) in cases {
            let req = format!(
                "{method} /echo HTTP/1.1\r\nHost: x\r\n{headers}Sec-WebSocket-Key: {key}\r\nContent-Length: 0\r\n\r\n"
            );
            let resp = raw_exchange(&server, &req);
            assert!(resp.starts_with("HTTP/1.1 400 "), "{method} {headers:?}: {resp}");
            assert!(resp.contains(why), "{why:?} not in {resp}");
        }
        let no_key = "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let resp = raw_exchange(&server, no_key);
        assert!(
            resp.starts_with("HTTP/1.1 400 ") && resp.contains("Sec-WebSocket-Key"),
            "{resp}"
        );

        // And a good one, by hand: the accept key is RFC 6455's example.
        let good = format!(
            "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
        );
        let resp = raw_exchange(&server, &good);
        assert!(resp.starts_with("HTTP/1.1 101 "), "{resp}");
        assert!(
            resp.to_ascii_lowercase()
                .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
            "{resp}"
        );

        // A client handshake against a path that does not upgrade fails
        // with the server's response.
        match ws::connect(url(&server, "/elsewhere").as_str()) {
            Err(WsError::Http(resp)) => assert_eq!(resp.status(), StatusCode::OK),
            other => panic!("{:?}", other.map(|(_, r)| r)),
        }
        server.stop().unwrap();
    });
}

#[test]
fn hundred_concurrent_clients() {
    run(|| {
        let (tx, _rx) = unbounded();
        let server = server(tx);
        let url = url(&server, "/echo");
        let clients: Vec<_> = (0..100)
            .map(|c| {
                let url = url.clone();
                verdant::spawn(move || {
                    let (mut ws, _) = ws::connect(url.as_str()).unwrap();
                    for i in 0..10 {
                        let text = format!("client {c} message {i}");
                        ws.send(Message::text(text.clone())).unwrap();
                        assert_eq!(ws.read().unwrap(), Message::text(text));
                    }
                    ws.close(None).unwrap();
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.stop().unwrap();
    });
}

#[test]
fn client_on_a_plain_os_thread() {
    run(|| {
        let (tx, _rx) = unbounded();
        let server = server(tx);
        let url = url(&server, "/echo");
        let os = std::thread::spawn(move || {
            let (mut ws, _) = ws::connect(url.as_str()).unwrap();
            ws.send(Message::text("from an OS thread")).unwrap();
            let back = ws.read().unwrap();
            ws.close(None).unwrap();
            back
        });
        assert_eq!(join_os(os), Message::text("from an OS thread"));
        server.stop().unwrap();
    });
}

#[test]
fn server_and_client_on_plain_os_threads() {
    let _w = watchdog(Duration::from_secs(60));
    let (tx, _rx) = unbounded();
    let server = server(tx);
    let (mut ws, _) = ws::connect(url(&server, "/echo").as_str()).unwrap();
    ws.send(Message::binary(vec![0, 1, 2])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(vec![0, 1, 2]));
    ws.close(None).unwrap();
    server.stop().unwrap();
}

#[test]
fn read_timeout_leaves_the_socket_usable() {
    run(|| {
        let (tx, rx) = unbounded();
        let server = server(tx);
        let (mut ws, _) = ws::ClientBuilder::new()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Some(Duration::from_millis(50)))
            .connect(url(&server, "/report").as_str())
            .unwrap();
        // Nothing comes: the read times out, the WebSocket is still open.
        match ws.read() {
            Err(WsError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            other => panic!("{other:?}"),
        }
        ws.get_ref().set_read_timeout(None).unwrap();
        ws.send(Message::text("still here")).unwrap();
        assert!(matches!(rx.recv().unwrap(), Seen::Msg(m) if m == Message::text("still here")));
        assert_eq!(ws.read().unwrap(), Message::text("still here"));

        // A verdant::timeout around a read works the same way: the socket
        // read inside fails with `TimedOut`, and `timeout` says `Elapsed`.
        let r = verdant::timeout(Duration::from_millis(50), || ws.read());
        assert!(r.is_err(), "{r:?}");
        ws.send(Message::text("and again")).unwrap();
        assert_eq!(ws.read().unwrap(), Message::text("and again"));
        ws.close(None).unwrap();
        server.stop().unwrap();
    });
}

/// A read that times out in the middle of a frame keeps what it has: the
/// next read returns the whole message.
#[test]
fn timeout_mid_frame_keeps_the_partial_frame() {
    run(|| {
        let listener = verdant::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let (go_tx, go_rx) = unbounded::<()>();
        let server = verdant::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let mut ws = ws::accept(tcp).unwrap();
            // An unmasked text frame "hello world", written in two halves.
            let frame = [&[0x81u8, 11][..], b"hello world"].concat();
            ws.get_mut().write_all(&frame[..6]).unwrap();
            go_rx.recv().unwrap();
            ws.get_mut().write_all(&frame[6..]).unwrap();
            while ws.read().is_ok() {}
        });
        let (mut ws, _) = ws::ClientBuilder::new()
            .read_timeout(Some(Duration::from_millis(50)))
            .connect(url.as_str())
            .unwrap();
        match ws.read() {
            Err(WsError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            other => panic!("{other:?}"),
        }
        go_tx.send(()).unwrap();
        ws.get_ref().set_read_timeout(None).unwrap();
        assert_eq!(ws.read().unwrap(), Message::text("hello world"));
        ws.close(None).unwrap();
        server.join().unwrap();
    });
}

#[test]
fn connect_errors() {
    run(|| {
        // Nobody listening.
        let port = {
            let l = verdant::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        assert!(matches!(
            ws::connect(format!("ws://127.0.0.1:{port}/")),
            Err(WsError::Io(_))
        ));
        assert!(matches!(ws::connect("http://127.0.0.1/"), Err(WsError::Url(_))));

        // A listener that never answers the handshake: the connect timeout.
        let l = verdant::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}/", l.local_addr().unwrap());
        let start = std::time::Instant::now();
        let r = ws::ClientBuilder::new()
            .connect_timeout(Duration::from_millis(100))
            .connect(url.as_str());
        match r {
            Err(WsError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
            other => panic!("{:?}", other.map(|(_, r)| r)),
        }
        support::assert_not_before(start, Duration::from_millis(100));
        drop(l);
    });
}

#[cfg(not(feature = "tls"))]
#[test]
fn wss_without_tls_feature_is_a_clear_error() {
    let r = ws::connect("wss://127.0.0.1:1/");
    assert!(matches!(
        r,
        Err(WsError::Url(ws::tungstenite::error::UrlError::TlsFeatureNotEnabled))
    ));
}

/// `wss://` against a TLS server written here: verdant's TcpListener,
/// `TlsStream::accept`, then `ws::accept` for the WebSocket handshake.
#[cfg(feature = "tls")]
#[test]
fn wss_round_trip() {
    use verdant::net::TcpListener;
    use verdant::tls::{self, TlsStream};

    run(|| {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let (cert_pem, key_pem) = (c.cert.pem(), c.signing_key.serialize_pem());
        let server_config = tls::server_config(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = verdant::spawn(move || -> Result<(), WsError> {
            for _ in 0..2 {
                let (tcp, _) = listener.accept()?;
                let tls = TlsStream::accept(server_config.clone(), tcp)?;
                let mut ws = ws::accept(tls)?;
                loop {
                    match ws.read() {
                        Ok(msg) if msg.is_text() || msg.is_binary() => ws.send(msg)?,
                        Ok(_) => {}
                        Err(WsError::ConnectionClosed) => break,
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok(())
        });

        let roots = tls::client_config_with_roots(cert_pem.as_bytes()).unwrap();
        let url = format!("wss://localhost:{port}/secure");
        let (mut ws, resp) = ws::ClientBuilder::new()
            .tls_config(roots.clone())
            .connect(url.as_str())
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert!(ws.get_ref().is_tls());
        ws.send(Message::text("over TLS")).unwrap();
        assert_eq!(ws.read().unwrap(), Message::text("over TLS"));
        ws.send(Message::binary(vec![7; 100_000])).unwrap();
        assert_eq!(ws.read().unwrap(), Message::binary(vec![7; 100_000]));
        ws.close(None).unwrap();
        while ws.read().is_ok() {}

        // From a plain OS thread too.
        let os = std::thread::spawn(move || {
            let (mut ws, _) = ws::ClientBuilder::new()
                .tls_config(roots)
                .connect(url.as_str())
                .unwrap();
            ws.send(Message::text("OS thread over TLS")).unwrap();
            let back = ws.read().unwrap();
            ws.close(None).unwrap();
            while ws.read().is_ok() {}
            back
        });
        assert_eq!(join_os(os), Message::text("OS thread over TLS"));
        server.join().unwrap().unwrap();

        // The default config does not trust the self-signed certificate.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let config = tls::server_config(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();
        let refuser = verdant::spawn(move || {
            let (tcp, _) = l.accept().unwrap();
            let _ = TlsStream::accept(config, tcp);
        });
        assert!(matches!(
            ws::connect(format!("wss://localhost:{port}/")),
            Err(WsError::Io(_))
        ));
        refuser.join().unwrap();
    });
}
