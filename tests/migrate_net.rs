//! Moving `std::net` code onto verdant is a change of `use` lines.
//!
//! The programs in `programs!` are ordinary std-style code (what std's
//! documentation of `std::net` shows, in our own words): a TCP server on
//! `incoming()`, clients with `connect`, `Read`/`Write`, half-close,
//! timeouts, `try_clone`, socket options, UDP with and without `connect`,
//! non-blocking mode, and `ToSocketAddrs`. They are compiled three times
//! with nothing changed but their `use` lines (the net module *and* the
//! thread module): against std (proving they are std programs), and
//! against verdant, run on a plain OS thread and inside a green thread.
//! Everything is on loopback; nothing sleeps to synchronise.

mod support;

use support::{in_green_thread, on_os_thread};

macro_rules! programs {
    (run = $run:path; $($uses:item)*) => {
        $($uses)*

        /// Echoes one connection until the client half-closes it.
        fn echo(mut stream: TcpStream) -> io::Result<u64> {
            let mut data = Vec::new();
            stream.read_to_end(&mut data)?;
            stream.write_all(&data)?;
            Ok(data.len() as u64)
        }

        fn echo_server_on_incoming() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr: SocketAddr = listener.local_addr().unwrap();
            assert_eq!(addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert_ne!(addr.port(), 0);
            let server = thread::spawn(move || {
                let mut handlers = Vec::new();
                for stream in listener.incoming().take(4) {
                    let stream = stream.unwrap();
                    handlers.push(thread::spawn(move || echo(stream).unwrap()));
                }
                handlers.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
            });
            let clients: Vec<_> = (0..4)
                .map(|i| {
                    thread::spawn(move || {
                        let mut stream = TcpStream::connect(addr).unwrap();
                        let msg = format!("client {i} says hello");
                        stream.write_all(msg.as_bytes()).unwrap();
                        stream.shutdown(Shutdown::Write).unwrap();
                        let mut back = String::new();
                        stream.read_to_string(&mut back).unwrap();
                        assert_eq!(back, msg);
                        msg.len() as u64
                    })
                })
                .collect();
            let sent: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
            assert_eq!(server.join().unwrap(), sent);
        }

        fn addresses_of_both_ends() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let server_addr = listener.local_addr().unwrap();
            let client = TcpStream::connect(server_addr).unwrap();
            let (accepted, peer) = listener.accept().unwrap();
            assert_eq!(client.peer_addr().unwrap(), server_addr);
            assert_eq!(accepted.local_addr().unwrap(), server_addr);
            assert_eq!(peer, client.local_addr().unwrap());
            assert_eq!(accepted.peer_addr().unwrap(), peer);
            assert!(peer.ip().is_loopback());
        }

        fn half_close_then_eof() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                let mut request = Vec::new();
                // Ends at the client's `shutdown(Write)`: read returns 0.
                s.read_to_end(&mut request).unwrap();
                assert_eq!(s.read(&mut [0; 16]).unwrap(), 0);
                s.write_all(b"got ").unwrap();
                s.write_all(&request).unwrap();
            });
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(b"request").unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            // Writing after shutting down the write half fails.
            assert!(c.write_all(b"more").is_err());
            let mut reply = String::new();
            c.read_to_string(&mut reply).unwrap();
            assert_eq!(reply, "got request");
            server.join().unwrap();
            // The server has closed: EOF again, and shutting down a
            // connection the peer closed fails with NotConnected.
            assert_eq!(c.read(&mut [0; 4]).unwrap(), 0);
            assert_eq!(c.shutdown(Shutdown::Both).unwrap_err().kind(), io::ErrorKind::NotConnected);
        }

        fn read_timeout_is_would_block() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (mut s, _) = listener.accept().unwrap();
            assert_eq!(c.read_timeout().unwrap(), None);
            c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(20)));
            let err = c.read(&mut [0; 8]).unwrap_err();
            // std on Linux: the OS's EAGAIN, kind WouldBlock.
            assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
            // The stream still works after a timeout.
            s.write_all(b"late").unwrap();
            let mut buf = [0; 4];
            c.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"late");
            // A zero timeout is refused; `None` clears it.
            let zero = c.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
            assert_eq!(zero.kind(), io::ErrorKind::InvalidInput);
            c.set_read_timeout(None).unwrap();
            assert_eq!(c.read_timeout().unwrap(), None);
            c.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
            assert_eq!(c.write_timeout().unwrap(), Some(Duration::from_secs(5)));
            assert_eq!(
                c.set_write_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
        }

        fn try_clone_reads_while_the_original_writes() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = thread::spawn(move || {
                let (s, _) = listener.accept().unwrap();
                echo(s).unwrap()
            });
            let mut writer = TcpStream::connect(addr).unwrap();
            let mut reader = writer.try_clone().unwrap();
            assert_eq!(reader.local_addr().unwrap(), writer.local_addr().unwrap());
            const N: usize = 256 * 1024;
            let read_side = thread::spawn(move || {
                let mut all = Vec::new();
                reader.read_to_end(&mut all).unwrap();
                all
            });
            let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
            writer.write_all(&data).unwrap();
            writer.flush().unwrap();
            writer.shutdown(Shutdown::Write).unwrap();
            assert_eq!(server.join().unwrap(), N as u64);
            assert!(read_side.join().unwrap() == data);
        }

        fn shared_reference_reads_and_writes() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (s, _) = listener.accept().unwrap();
            // `Read` and `Write` are implemented for `&TcpStream` too.
            (&c).write_all(b"ping").unwrap();
            let mut buf = [0; 4];
            (&s).read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"ping");
            let mut peeked = [0; 4];
            (&c).write_all(b"pong").unwrap();
            assert_eq!(s.peek(&mut peeked[..2]).unwrap(), 2);
            assert_eq!(&peeked[..2], b"po");
            (&s).read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"pong");
        }

        fn socket_options() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let c = TcpStream::connect_timeout(&listener.local_addr().unwrap(), Duration::from_secs(30)).unwrap();
            c.set_nodelay(true).unwrap();
            assert!(c.nodelay().unwrap());
            c.set_nodelay(false).unwrap();
            assert!(!c.nodelay().unwrap());
            c.set_ttl(42).unwrap();
            assert_eq!(c.ttl().unwrap(), 42);
            listener.set_ttl(17).unwrap();
            assert_eq!(listener.ttl().unwrap(), 17);
            assert!(c.take_error().unwrap().is_none());
            assert!(listener.take_error().unwrap().is_none());
            let l2 = listener.try_clone().unwrap();
            assert_eq!(l2.local_addr().unwrap(), listener.local_addr().unwrap());
            let (s, _) = l2.accept().unwrap();
            assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
        }

        fn connection_refused() {
            let addr = {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                listener.local_addr().unwrap()
            };
            // Nobody listens there any more.
            let err = TcpStream::connect(addr).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        }

        fn nonblocking_would_block() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            assert_eq!(listener.accept().unwrap_err().kind(), io::ErrorKind::WouldBlock);
            let mut c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            // Back to blocking mode: `accept` waits for the connection.
            listener.set_nonblocking(false).unwrap();
            let (mut s, _) = listener.accept().unwrap();
            c.set_nonblocking(true).unwrap();
            assert_eq!(c.read(&mut [0; 8]).unwrap_err().kind(), io::ErrorKind::WouldBlock);
            s.write_all(b"now").unwrap();
            c.set_nonblocking(false).unwrap();
            let mut buf = [0; 3];
            c.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"now");
            // A non-blocking writer eventually fills the socket buffers.
            s.set_nonblocking(true).unwrap();
            let chunk = [7u8; 64 * 1024];
            let mut written = 0usize;
            let full = loop {
                match s.write(&chunk) {
                    Ok(n) => written += n,
                    Err(e) => break e,
                }
                assert!(written < 1 << 30, "a loopback socket never filled up");
            };
            assert_eq!(full.kind(), io::ErrorKind::WouldBlock);
            assert!(written > 0);
        }

        fn udp_send_to_recv_from() {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b_addr = b.local_addr().unwrap();
            assert_eq!(a.send_to(b"first", b_addr).unwrap(), 5);
            assert_eq!(a.send_to(b"second", ("127.0.0.1", b_addr.port())).unwrap(), 6);
            let mut buf = [0; 32];
            let (n, from) = b.peek_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&b"first"[..], a.local_addr().unwrap()));
            let (n, from) = b.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&b"first"[..], a.local_addr().unwrap()));
            let (n, _) = b.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"second");
            // A datagram too long for the buffer is truncated.
            a.send_to(b"truncated", b_addr).unwrap();
            let (n, _) = b.recv_from(&mut buf[..4]).unwrap();
            assert_eq!(&buf[..n], b"trun");
            // A thread waiting in recv_from is woken by a datagram.
            let b2 = b.try_clone().unwrap();
            let waiter = thread::spawn(move || {
                let mut buf = [0; 8];
                let (n, _) = b2.recv_from(&mut buf).unwrap();
                buf[..n].to_vec()
            });
            a.send_to(b"wake", b_addr).unwrap();
            assert_eq!(waiter.join().unwrap(), b"wake");
        }

        fn udp_connected() {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            assert_eq!(a.peer_addr().unwrap_err().kind(), io::ErrorKind::NotConnected);
            a.connect(b.local_addr().unwrap()).unwrap();
            b.connect(a.local_addr().unwrap()).unwrap();
            assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
            assert_eq!(a.send(b"hi").unwrap(), 2);
            let mut buf = [0; 8];
            assert_eq!(b.peek(&mut buf).unwrap(), 2);
            assert_eq!(b.recv(&mut buf).unwrap(), 2);
            assert_eq!(&buf[..2], b"hi");
            b.send(b"back").unwrap();
            let n = a.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"back");
            a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            assert_eq!(a.recv(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
            a.set_ttl(33).unwrap();
            assert_eq!(a.ttl().unwrap(), 33);
            a.set_broadcast(true).unwrap();
            assert!(a.broadcast().unwrap());
            assert!(a.take_error().unwrap().is_none());
        }

        fn udp_nonblocking() {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            a.set_nonblocking(true).unwrap();
            let mut buf = [0; 8];
            assert_eq!(a.recv_from(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            b.send_to(b"x", a.local_addr().unwrap()).unwrap();
            // Loopback delivery is synchronous: the datagram is there.
            let (n, from) = a.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&b"x"[..], b.local_addr().unwrap()));
            assert_eq!(a.recv_from(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        }

        fn to_socket_addrs_names() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let literal: Vec<SocketAddr> = format!("127.0.0.1:{port}").to_socket_addrs().unwrap().collect();
            assert_eq!(literal, [SocketAddr::from(([127, 0, 0, 1], port))]);
            let pair: Vec<SocketAddr> = ("127.0.0.1", port).to_socket_addrs().unwrap().collect();
            assert_eq!(pair, literal);
            let v4 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
            assert_eq!(v4.to_socket_addrs().unwrap().next(), Some(SocketAddr::V4(v4)));
            let by_name: Vec<SocketAddr> = ("localhost", port).to_socket_addrs().unwrap().collect();
            assert!(!by_name.is_empty());
            assert!(by_name.iter().all(|a| a.ip().is_loopback() && a.port() == port));
            assert!(by_name.contains(&SocketAddr::from(([127, 0, 0, 1], port))));
            // An address of no known form is an error.
            assert!("not an address".to_socket_addrs().is_err());
            assert!("127.0.0.1".to_socket_addrs().is_err());
            // The same forms work wherever an address is taken.
            let _c1 = TcpStream::connect(("localhost", port)).unwrap();
            let _c2 = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
            let _c3 = TcpStream::connect(&literal[..]).unwrap();
            let _c4 = TcpStream::connect((IpAddr::from([127, 0, 0, 1]), port)).unwrap();
            for _ in 0..4 {
                let (s, _) = listener.accept().unwrap();
                assert_eq!(s.local_addr().unwrap().port(), port);
            }
            let u = UdpSocket::bind(("localhost", 0)).unwrap();
            assert!(u.local_addr().unwrap().ip().is_loopback());
        }

        #[test]
        fn echo_server_on_incoming_runs() {
            $run(echo_server_on_incoming)
        }
        #[test]
        fn addresses_of_both_ends_runs() {
            $run(addresses_of_both_ends)
        }
        #[test]
        fn half_close_then_eof_runs() {
            $run(half_close_then_eof)
        }
        #[test]
        fn read_timeout_is_would_block_runs() {
            $run(read_timeout_is_would_block)
        }
        #[test]
        fn try_clone_reads_while_the_original_writes_runs() {
            $run(try_clone_reads_while_the_original_writes)
        }
        #[test]
        fn shared_reference_reads_and_writes_runs() {
            $run(shared_reference_reads_and_writes)
        }
        #[test]
        fn socket_options_runs() {
            $run(socket_options)
        }
        #[test]
        fn connection_refused_runs() {
            $run(connection_refused)
        }
        #[test]
        fn nonblocking_would_block_runs() {
            $run(nonblocking_would_block)
        }
        #[test]
        fn udp_send_to_recv_from_runs() {
            $run(udp_send_to_recv_from)
        }
        #[test]
        fn udp_connected_runs() {
            $run(udp_connected)
        }
        #[test]
        fn udp_nonblocking_runs() {
            $run(udp_nonblocking)
        }
        #[test]
        fn to_socket_addrs_names_runs() {
            $run(to_socket_addrs_names)
        }
    };
}

/// The programs as written, against std.
mod with_std {
    programs! {
        run = crate::on_os_thread;
        use std::io::{self, Read, Write};
        use std::net::{
            IpAddr, Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, ToSocketAddrs, UdpSocket,
        };
        use std::thread;
        use std::time::Duration;
    }
}

/// The same programs, their `use` lines changed, on a plain OS thread.
mod verdant_on_os_thread {
    programs! {
        run = crate::on_os_thread;
        use std::io::{self, Read, Write};
        use std::time::Duration;
        use verdant as thread;
        use verdant::net::{
            IpAddr, Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, ToSocketAddrs, UdpSocket,
        };
    }
}

/// The same programs, their `use` lines changed, inside a green thread.
mod verdant_in_green_thread {
    programs! {
        run = crate::in_green_thread;
        use std::io::{self, Read, Write};
        use std::time::Duration;
        use verdant as thread;
        use verdant::net::{
            IpAddr, Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, ToSocketAddrs, UdpSocket,
        };
    }
}
