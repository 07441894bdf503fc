//! A Go-style chat server: a green thread per client, every line a client
//! sends goes to all the others; Ctrl-C (or SIGTERM) says goodbye to every
//! client, closes every connection and exits. See `docs/whole-program.md`.
//!
//! ```text
//! cargo run --example chat_server -- [--addr 127.0.0.1:7001]
//! nc 127.0.0.1 7001      (in two other terminals)
//! ```
//!
//! The shape of the shutdown is structured: the acceptor owns a
//! [`verdant::Group`] of client threads, so cancelling the acceptor
//! cancels the clients (they unwind from their read; their destructors
//! leave the room and close their sockets), and joining it waits for all.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use verdant::net::{TcpListener, TcpStream};
use verdant::signal::{Signals, SIGINT, SIGTERM};
use verdant::sync::Mutex;

/// The room: each client's write half, by id.
#[derive(Default)]
pub struct Hub {
    clients: Mutex<HashMap<u64, TcpStream>>,
    served: AtomicU64,
}

impl Hub {
    /// Sends `line` to everyone but `from` (a slow client is dropped
    /// from the room after its write timeout rather than stall the rest).
    fn broadcast(&self, from: u64, line: &str) {
        let mut clients = self.clients.lock().unwrap();
        clients.retain(|id, conn| *id == from || conn.write_all(line.as_bytes()).is_ok());
    }
}

/// Leaves the room when the client's thread ends, however it ends (its
/// connection closed, or the thread cancelled at shutdown).
struct Member<'a> {
    hub: &'a Hub,
    id: u64,
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        self.hub.clients.lock().unwrap().remove(&self.id);
        self.hub.broadcast(self.id, &format!("#{} left\n", self.id));
    }
}

fn client(hub: &Hub, id: u64, conn: TcpStream) -> io::Result<()> {
    let mut out = conn.try_clone()?;
    out.set_write_timeout(Some(Duration::from_secs(5)))?;
    writeln!(out, "you are #{id}")?;
    hub.clients.lock().unwrap().insert(id, out);
    let _member = Member { hub, id };
    hub.broadcast(id, &format!("#{id} joined\n"));
    for line in BufReader::new(conn).lines() {
        hub.broadcast(id, &format!("#{id}: {}\n", line?));
    }
    Ok(())
}

/// Serves `listener` until one of `signals` arrives, then says goodbye,
/// closes every connection and returns how many clients were served.
pub fn run(listener: TcpListener, mut signals: Signals) -> io::Result<u64> {
    let hub = Arc::new(Hub::default());
    let acceptor = {
        let hub = hub.clone();
        verdant::spawn(move || {
            // Owned by this thread: cancelling it cancels them.
            let mut clients = verdant::Group::new();
            let mut next_id = 0;
            loop {
                let conn = match listener.accept() {
                    Ok((conn, _peer)) => conn,
                    Err(e) => {
                        eprintln!("accept: {e}");
                        continue;
                    }
                };
                next_id += 1;
                hub.served.fetch_add(1, Ordering::Relaxed);
                let (hub, id) = (hub.clone(), next_id);
                clients.spawn(move || {
                    if let Err(e) = client(&hub, id, conn) {
                        eprintln!("client #{id}: {e}");
                    }
                });
                // Reap the finished ones so the group stays small.
                while let Ok(Some(_)) = clients.join_next_timeout(Duration::ZERO) {}
            }
        })
    };
    let sig = signals.next();
    eprintln!(
        "{}: shutting down",
        if sig == Some(SIGINT) { "Ctrl-C" } else { "signal" }
    );
    hub.broadcast(0, "server: shutting down\n");
    acceptor.cancel();
    // Returns once the acceptor and every client have unwound.
    let _ = acceptor.join();
    Ok(hub.served.load(Ordering::Relaxed))
}

#[allow(dead_code)] // tests/whole_program.rs uses `run` only
fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = match (args.next().as_deref(), args.next()) {
        (Some("--addr"), Some(addr)) => addr,
        (None, _) => "127.0.0.1:7001".to_string(),
        _ => {
            eprintln!("usage: chat_server [--addr HOST:PORT]");
            std::process::exit(2);
        }
    };
    // Registered first, so that a Ctrl-C from now on is caught, not fatal.
    let signals = Signals::new([SIGINT, SIGTERM])?;
    let listener = TcpListener::bind(addr.as_str())?;
    eprintln!("chat server on {} (Ctrl-C to stop)", listener.local_addr()?);
    let served = run(listener, signals)?;
    eprintln!("served {served} clients");
    Ok(())
}
