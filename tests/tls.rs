//! `verdant::tls`: handshakes and echo over loopback with a certificate
//! made here by rcgen, green on both sides and from a plain OS thread, many
//! handshakes at once, the errors (wrong name, untrusted certificate,
//! timeouts), close_notify, ALPN, SNI, peer certificates and the buffered
//! plaintext a server peeks at.
#![cfg(feature = "tls")]

mod support;

use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use support::{assert_not_before, rt, watchdog};
use verdant::net::{TcpListener, TcpStream};
use verdant::tls::{self, ClientConfig, ServerConfig, TlsStream};

/// A self-signed certificate for `localhost` (made once per test binary).
struct Cert {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

fn cert() -> &'static Cert {
    static CERT: OnceLock<Cert> = OnceLock::new();
    CERT.get_or_init(|| {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen makes a certificate");
        Cert {
            cert_pem: c.cert.pem(),
            key_pem: c.signing_key.serialize_pem(),
            der: c.cert.der().to_vec(),
        }
    })
}

fn server_config() -> Arc<ServerConfig> {
    tls::server_config(cert().cert_pem.as_bytes(), cert().key_pem.as_bytes()).expect("server config")
}

/// Mozilla's roots plus the test certificate.
fn client_config() -> Arc<ClientConfig> {
    tls::client_config_with_roots(cert().cert_pem.as_bytes()).expect("client config")
}

/// Runs `f` as a green thread of a fresh 2-worker runtime, under a
/// watchdog.
fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let _w = watchdog(Duration::from_secs(60));
    rt(2).block_on(f)
}

/// A TLS echo server on the calling runtime: each connection is accepted
/// on its own green thread, echoes until the client's end, then sends
/// close_notify. Counts the handshakes that succeeded.
fn start_echo(config: Arc<ServerConfig>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let count = handshakes.clone();
    verdant::spawn(move || loop {
        let Ok((tcp, _)) = listener.accept() else { return };
        let (config, count) = (config.clone(), count.clone());
        verdant::spawn(move || -> io::Result<()> {
            let mut tls = TlsStream::accept(config, tcp)?;
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            loop {
                let n = tls.read(&mut buf)?;
                if n == 0 {
                    return tls.shutdown();
                }
                tls.write_all(&buf[..n])?;
            }
        });
    });
    (addr, handshakes)
}

/// Connects to `addr` as `localhost`, sends `msg`, reads it back, ends
/// the session cleanly and reads the server's close_notify as EOF.
fn echo_once(addr: SocketAddr, msg: &[u8]) -> io::Result<()> {
    let mut tls = TlsStream::connect(client_config(), "localhost", TcpStream::connect(addr)?)?;
    tls.write_all(msg)?;
    let mut back = vec![0u8; msg.len()];
    tls.read_exact(&mut back)?;
    assert_eq!(back, msg);
    tls.shutdown()?;
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest)?; // Ok only for a clean close_notify
    assert!(rest.is_empty());
    Ok(())
}

/// A server that accepts TCP connections and never says a word: each is
/// held open until the client goes away.
fn start_silent() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    verdant::spawn(move || loop {
        let Ok((mut tcp, _)) = listener.accept() else { return };
        verdant::spawn(move || {
            let mut sink = [0u8; 1024];
            while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
        });
    });
    addr
}

// ---------------------------------------------------------------- round trips

#[test]
fn echo_round_trip_both_sides_green() {
    run(|| {
        let (addr, handshakes) = start_echo(server_config());
        echo_once(addr, b"hello over TLS").unwrap();
        // Larger than one TLS record (16 KiB), so it goes as several.
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        echo_once(addr, &big).unwrap();
        assert_eq!(handshakes.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn client_on_a_plain_os_thread() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let (addr, _) = rt.block_on(|| start_echo(server_config()));
    // This test's own thread is no green thread: its calls block it.
    assert!(!verdant::current().is_green());
    echo_once(addr, b"from an OS thread").unwrap();
    let from_thread = std::thread::spawn(move || echo_once(addr, b"and another one"));
    from_thread.join().unwrap().unwrap();
}

#[test]
fn server_on_a_plain_os_thread_client_green() {
    let _w = watchdog(Duration::from_secs(60));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // A std socket under TlsStream: any Read + Write stream works.
    let server = std::thread::spawn(move || -> io::Result<Vec<u8>> {
        let (tcp, _) = listener.accept()?;
        let mut tls = TlsStream::accept(server_config(), tcp)?;
        let mut got = Vec::new();
        tls.read_to_end(&mut got)?;
        tls.write_all(b"got it")?;
        tls.shutdown()?;
        Ok(got)
    });
    let reply = rt(2).block_on(move || -> io::Result<String> {
        let mut tls = TlsStream::connect(client_config(), "localhost", TcpStream::connect(addr)?)?;
        tls.write_all(b"ping")?;
        tls.shutdown()?; // the server's read_to_end ends here
        let mut reply = String::new();
        tls.read_to_string(&mut reply)?;
        Ok(reply)
    });
    assert_eq!(reply.unwrap(), "got it");
    assert_eq!(server.join().unwrap().unwrap(), b"ping");
}

#[test]
fn two_hundred_concurrent_handshakes() {
    const N: usize = 200;
    run(|| {
        let (addr, handshakes) = start_echo(server_config());
        let config = client_config();
        let clients: Vec<_> = (0..N)
            .map(|i| {
                let config = config.clone();
                verdant::spawn(move || -> io::Result<()> {
                    let tcp = TcpStream::connect(addr)?;
                    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
                    let mut tls = TlsStream::connect(config, "localhost", tcp)?;
                    let msg = format!("client {i}");
                    tls.write_all(msg.as_bytes())?;
                    let mut back = vec![0u8; msg.len()];
                    tls.read_exact(&mut back)?;
                    assert_eq!(back, msg.as_bytes());
                    Ok(())
                })
            })
            .collect();
        let failed: Vec<String> = clients
            .into_iter()
            .filter_map(|h| h.join().unwrap().err().map(|e| e.to_string()))
            .collect();
        assert!(
            failed.is_empty(),
            "{} of {N} failed, e.g. {:?}",
            failed.len(),
            failed.first()
        );
        assert_eq!(handshakes.load(Ordering::SeqCst), N);
    });
}

// ---------------------------------------------------------------- errors

#[test]
fn wrong_server_name_is_an_error_naming_it() {
    run(|| {
        let (addr, _) = start_echo(server_config());
        let tcp = TcpStream::connect(addr).unwrap();
        let err = TlsStream::connect(client_config(), "wrong.example", tcp).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("TLS handshake with \"wrong.example\" failed"), "{msg}");
        assert!(msg.contains("not valid for name"), "{msg}");
    });
}

#[test]
fn untrusted_certificate_is_an_error_naming_the_server() {
    run(|| {
        let (addr, _) = start_echo(server_config());
        let tcp = TcpStream::connect(addr).unwrap();
        // Mozilla's roots only: the self-signed test certificate is unknown.
        let err = TlsStream::connect(tls::client_config(), "localhost", tcp).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("TLS handshake with \"localhost\" failed"), "{msg}");
        assert!(msg.contains("UnknownIssuer"), "{msg}");
    });
}

#[test]
fn invalid_server_name_is_invalid_input() {
    run(|| {
        let (addr, _) = start_echo(server_config());
        let tcp = TcpStream::connect(addr).unwrap();
        let err = TlsStream::connect(client_config(), "not a name!", tcp).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("\"not a name!\""), "{err}");
    });
}

#[test]
fn plain_tcp_client_makes_the_server_handshake_fail() {
    run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = verdant::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            TlsStream::accept(server_config(), tcp).map(drop)
        });
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let err = server.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("TLS handshake with a client failed"), "{err}");
    });
}

#[test]
fn silent_server_and_a_socket_read_timeout_time_out_the_handshake() {
    run(|| {
        let addr = start_silent();
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let start = Instant::now();
        let err = TlsStream::connect(client_config(), "localhost", tcp).unwrap_err();
        assert_not_before(start, Duration::from_millis(200));
        assert!(
            matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut),
            "{:?}: {err}",
            err.kind()
        );
        assert!(err.to_string().contains("\"localhost\""), "{err}");
        assert!(err.to_string().contains("timed out"), "{err}");
    });
}

#[test]
fn verdant_timeout_around_a_handshake() {
    run(|| {
        let addr = start_silent();
        let tcp = TcpStream::connect(addr).unwrap();
        let start = Instant::now();
        let r = verdant::timeout(Duration::from_millis(200), move || {
            TlsStream::connect(client_config(), "localhost", tcp)
        });
        assert!(r.is_err(), "the handshake with a silent server cannot finish");
        assert_not_before(start, Duration::from_millis(200));
    });
}

#[test]
fn verdant_timeout_around_an_accept_on_an_os_thread() {
    let _w = watchdog(Duration::from_secs(60));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // A client that connects and says nothing; the server side waits.
    let _silent_client = std::net::TcpStream::connect(addr).unwrap();
    let (tcp, _) = listener.accept().unwrap();
    let r = verdant::timeout(Duration::from_millis(100), move || {
        TlsStream::accept(server_config(), tcp)
    });
    assert!(r.is_err());
}

// ---------------------------------------------------------------- endings

#[test]
fn close_notify_reads_as_a_clean_end_of_file() {
    run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        verdant::spawn(move || -> io::Result<()> {
            let (tcp, _) = listener.accept()?;
            let mut tls = TlsStream::accept(server_config(), tcp)?;
            tls.write_all(b"bye")?;
            tls.shutdown()?;
            // Keep the socket open: the client's EOF comes from close_notify,
            // not from the TCP connection ending.
            let mut sink = [0u8; 64];
            while tls.get_mut().read(&mut sink)? > 0 {}
            Ok(())
        });
        let mut tls = TlsStream::connect(client_config(), "localhost", TcpStream::connect(addr).unwrap()).unwrap();
        let mut got = String::new();
        tls.read_to_string(&mut got).unwrap();
        assert_eq!(got, "bye");
        assert_eq!(tls.read(&mut [0u8; 8]).unwrap(), 0, "EOF again");
    });
}

#[test]
fn tcp_end_without_close_notify_is_unexpected_eof() {
    run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        verdant::spawn(move || -> io::Result<()> {
            let (tcp, _) = listener.accept()?;
            let mut tls = TlsStream::accept(server_config(), tcp)?;
            tls.write_all(b"cut")?;
            drop(tls.into_inner()); // no close_notify
            Ok(())
        });
        let mut tls = TlsStream::connect(client_config(), "localhost", TcpStream::connect(addr).unwrap()).unwrap();
        let mut got = [0u8; 3];
        tls.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"cut");
        let err = tls.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
    });
}

// ---------------------------------------------------------------- what the handshake agreed

#[test]
fn alpn_sni_and_peer_certificates() {
    run(|| {
        let mut server = (*server_config()).clone();
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let mut client = (*client_config()).clone();
        client.alpn_protocols = vec![b"http/1.1".to_vec()];
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server_side = verdant::spawn(move || -> io::Result<(Option<Vec<u8>>, Option<String>, bool)> {
            let (tcp, _) = listener.accept()?;
            let mut tls = TlsStream::accept(Arc::new(server), tcp)?;
            let seen = (
                tls.alpn_protocol().map(<[u8]>::to_vec),
                tls.server_name().map(str::to_owned),
                tls.peer_certificates().is_none(), // no client certificate
            );
            tls.shutdown()?;
            Ok(seen)
        });
        let tls = TlsStream::connect(Arc::new(client), "localhost", TcpStream::connect(addr).unwrap()).unwrap();
        assert_eq!(tls.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(tls.server_name(), Some("localhost"));
        let chain = tls.peer_certificates().expect("the server's chain");
        assert_eq!(chain.len(), 1);
        assert_eq!(chain[0].as_ref(), &cert().der[..]);
        let debug = format!("{tls:?}");
        assert!(debug.contains("client") && debug.contains("localhost"), "{debug}");
        let (alpn, sni, no_client_cert) = server_side.join().unwrap().unwrap();
        assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert_eq!(sni.as_deref(), Some("localhost"));
        assert!(no_client_cert);
    });
}

#[test]
fn buffered_shows_decrypted_bytes_not_yet_read() {
    run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = verdant::spawn(move || -> io::Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
            let (tcp, _) = listener.accept()?;
            let mut tls = TlsStream::accept(server_config(), tcp)?;
            let before = tls.buffered().to_vec(); // nothing read yet: empty
            let mut first = [0u8; 4];
            tls.read_exact(&mut first)?;
            // The rest of the client's one write arrived with it.
            let rest = tls.buffered().to_vec();
            // BufRead over the same bytes.
            let line = tls.fill_buf()?.to_vec();
            tls.consume(line.len());
            assert!(tls.buffered().is_empty());
            Ok((before, rest, line))
        });
        let mut tls = TlsStream::connect(client_config(), "localhost", TcpStream::connect(addr).unwrap()).unwrap();
        tls.write_all(b"GET /pipelined\r\n").unwrap();
        let (before, rest, line) = server.join().unwrap().unwrap();
        assert!(before.is_empty());
        assert_eq!(rest, b"/pipelined\r\n");
        assert_eq!(line, b"/pipelined\r\n");
    });
}

#[test]
fn server_config_rejects_a_key_that_is_not_the_certificates() {
    let other = rcgen::generate_simple_self_signed(vec!["other".to_owned()]).unwrap();
    let err = tls::server_config(cert().cert_pem.as_bytes(), other.signing_key.serialize_pem().as_bytes()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    let no_key = tls::server_config(cert().cert_pem.as_bytes(), b"").unwrap_err();
    assert!(no_key.to_string().contains("private key"), "{no_key}");
}
