//! UDP: datagrams between green and OS threads, timeouts, connected mode.

#[path = "support/net.rs"]
mod net_support;
mod support;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use support::{rt, watchdog};
use verdant::net::UdpSocket;

/// A green-thread UDP echo server answering `n` datagrams.
fn echo_server(rt: &verdant::Runtime, n: usize) -> (std::net::SocketAddr, verdant::JoinHandle<()>) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap();
    let h = rt.spawn(move || {
        let mut buf = [0u8; 1500];
        for _ in 0..n {
            let (len, from) = s.recv_from(&mut buf).unwrap();
            s.send_to(&buf[..len], from).unwrap();
        }
    });
    (addr, h)
}

#[test]
fn ping_pong_green_and_os_threads() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let per = 200;
    let (addr, server) = echo_server(&rt, per * 6);
    let client = move |tag: usize| {
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 64];
        for j in 0..per {
            let msg = format!("{tag}:{j}");
            c.send_to(msg.as_bytes(), addr).unwrap();
            let (n, from) = c.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (msg.as_bytes(), addr));
        }
    };
    let os: Vec<_> = (0..3).map(|i| std::thread::spawn(move || client(i))).collect();
    let green: Vec<_> = (3..6).map(|i| rt.spawn(move || client(i))).collect();
    os.into_iter().for_each(|h| h.join().unwrap());
    green.into_iter().for_each(|h| h.join().unwrap());
    server.join().unwrap();
}

#[test]
fn connected_send_recv_peek() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        let reader = {
            let b = b.try_clone().unwrap();
            verdant::spawn(move || {
                let mut buf = [0u8; 16];
                let n = b.peek(&mut buf).unwrap();
                let m = b.recv(&mut buf).unwrap();
                (n, m, buf[..m].to_vec())
            })
        };
        a.send(b"hello").unwrap();
        assert_eq!(reader.join().unwrap(), (5, 5, b"hello".to_vec()));
    });
}

#[test]
fn recv_timeout_is_would_block() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let t = Duration::from_millis(50);
    let check = move || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(t)).unwrap();
        let start = Instant::now();
        let e = s.recv_from(&mut [0u8; 8]).unwrap_err();
        assert!(start.elapsed() >= t);
        e.kind()
    };
    assert_eq!(rt.block_on(check), ErrorKind::WouldBlock);
    assert_eq!(check(), ErrorKind::WouldBlock);
}

#[test]
fn nonblocking_and_cancel() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_nonblocking(true).unwrap();
    assert_eq!(s.recv(&mut [0u8; 4]).unwrap_err().kind(), ErrorKind::WouldBlock);
    s.set_nonblocking(false).unwrap();
    let addr = s.local_addr().unwrap();
    let h = rt.spawn(move || {
        let _ = s.recv_from(&mut [0u8; 4]);
        unreachable!();
    });
    while rt.handle().green_threads() == 0 {
        std::thread::yield_now();
    }
    h.cancel();
    assert!(h.join().unwrap_err().is_cancelled());
    // The socket closed with its thread: the port can be bound again.
    let mut rebound = None;
    for _ in 0..100 {
        if let Ok(s) = UdpSocket::bind(addr) {
            rebound = Some(s);
            break;
        }
        std::thread::yield_now();
    }
    assert!(rebound.is_some());
}

#[test]
fn builder_options() {
    let s = UdpSocket::builder()
        .reuse_address(true)
        .reuse_port(true)
        .broadcast(true)
        .recv_buffer_size(1 << 16)
        .bind("127.0.0.1:0")
        .unwrap();
    assert!(s.broadcast().unwrap());
    let again = UdpSocket::builder()
        .reuse_address(true)
        .reuse_port(true)
        .bind(s.local_addr().unwrap());
    assert!(again.is_ok(), "SO_REUSEPORT lets a second socket bind");
}
