//! A WebSocket chat room: every text message a client sends goes to every
//! client.
//!
//! ```text
//! cargo run --features ws --example chat_ws -- [--addr 127.0.0.1:8080]
//! # open http://127.0.0.1:8080/ in a few browser tabs
//! cargo run --features ws --example chat_ws -- --demo [--bots 5] [--messages 3]
//! ```
//!
//! `GET /` serves a tiny HTML page; `GET /ws` upgrades to a WebSocket. With
//! `--demo` the program starts the server on a free port, connects bot
//! clients with `verdant::ws::connect`, has each send a few messages,
//! checks that every bot received every message, prints a summary and
//! exits (non-zero if a message went missing).
//!
//! # One green thread per client, reading and writing
//!
//! tungstenite's `WebSocket` is one object for both directions, so the
//! green thread that owns a client's socket does both, in turns:
//!
//! 1. it writes whatever waits in its **outbox**, a bounded
//!    `verdant::sync` channel that the other clients' threads broadcast
//!    into;
//! 2. it reads from the socket for at most one `TICK`, under
//!    `verdant::timeout`. A read cut short by the tick fails inside with
//!    `TimedOut` and leaves the WebSocket intact (a partly received frame
//!    stays buffered for the next read), so the loop just goes round.
//!
//! A broadcast never waits on a client: it `try_send`s into each outbox,
//! and a client whose outbox is full (it reads too slowly) misses that
//! message instead of stalling the room. A slow socket blocks only its own
//! green thread, in step 1. The price of the turns is latency: a broadcast
//! waits up to one `TICK` (20 ms here) for its recipient's read to end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use verdant::http::{header, Body, Response, Server, StatusCode, Upgraded};
use verdant::sync::{bounded, Barrier, Mutex, Receiver, Sender};
use verdant::ws::{self, Message, WebSocket, WsError};

/// How long one read may wait before the client's thread looks at its
/// outbox again.
const TICK: Duration = Duration::from_millis(20);
/// Messages an outbox holds for a client that has not written them yet.
const OUTBOX: usize = 256;

/// The clients' outboxes, by client id.
#[derive(Default)]
struct Room {
    next_id: AtomicU64,
    members: Mutex<HashMap<u64, Sender<Message>>>,
    dropped: AtomicU64,
}

impl Room {
    fn join(&self) -> (u64, Receiver<Message>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = bounded(OUTBOX);
        self.members.lock().unwrap().insert(id, tx);
        (id, rx)
    }

    fn leave(&self, id: u64) {
        self.members.lock().unwrap().remove(&id);
    }

    /// Queues `text` for every client; never waits.
    fn broadcast(&self, text: &str) {
        let members = self.members.lock().unwrap();
        for (id, outbox) in members.iter() {
            if outbox.try_send(Message::text(text)).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                eprintln!("user{id} is too slow: a message dropped for it");
            }
        }
    }
}

/// One client's green thread: its outbox and its socket, in turns.
fn client(room: &Room, mut ws: WebSocket<Upgraded>) {
    let (id, outbox) = room.join();
    if ws.send(Message::text(format!("welcome, you are user{id}"))).is_ok() {
        room.broadcast(&format!("* user{id} joined"));
        converse(room, id, &outbox, &mut ws);
    }
    room.leave(id);
    room.broadcast(&format!("* user{id} left"));
}

fn converse(room: &Room, id: u64, outbox: &Receiver<Message>, ws: &mut WebSocket<Upgraded>) {
    loop {
        // 1. Write what the others broadcast.
        while let Ok(msg) = outbox.try_recv() {
            if ws.write(msg).is_err() {
                return;
            }
        }
        if ws.flush().is_err() {
            return;
        }
        // 2. Read for at most one tick (`None`: the tick cut the read
        // short; a read that completed keeps its message).
        let read = verdant::timeout(TICK, || ws.read()).ok();
        match read {
            Some(Ok(Message::Text(text))) => room.broadcast(&format!("user{id}: {text}")),
            Some(Ok(Message::Close(_))) => {
                // tungstenite queued the reply; writing it ends the socket.
                let _ = ws.flush();
                return;
            }
            Some(Ok(_)) => {} // binary, ping (answered by tungstenite), pong
            Some(Err(WsError::Io(e))) if is_tick(&e) => {}
            Some(Err(_)) => return,
            None => {} // the tick ended the read by unwinding: nothing read
        }
    }
}

fn is_tick(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock)
}

fn start(addr: &str, room: Arc<Room>) -> std::io::Result<verdant::http::ServerHandle> {
    Server::bind(addr)?.serve_background(move |req| match req.uri().path() {
        "/" => Response::builder()
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Body::from(PAGE))
            .unwrap(),
        "/ws" => {
            let room = room.clone();
            ws::upgrade(&req, move |ws| client(&room, ws))
        }
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::from("not found\n"))
            .unwrap(),
    })
}

/// `--demo`: `bots` clients each send `messages` messages; each must
/// receive all `bots * messages` of them.
fn demo(bots: usize, messages: usize) -> Result<bool, Box<dyn std::error::Error>> {
    let room = Arc::new(Room::default());
    let server = start("127.0.0.1:0", room.clone())?;
    let url = format!("ws://{}/ws", server.local_addr());
    println!(
        "chat server on http://{}/ ; {bots} bots, {messages} messages each",
        server.local_addr()
    );
    // Everyone has joined before anyone speaks, so everyone hears everything.
    let all_joined = Arc::new(Barrier::new(bots));
    let handles: Vec<_> = (0..bots)
        .map(|bot| {
            let (url, all_joined) = (url.clone(), all_joined.clone());
            verdant::spawn(move || -> Result<(String, usize), WsError> {
                let (mut ws, _) = ws::ClientBuilder::new()
                    .connect_timeout(Duration::from_secs(10))
                    .read_timeout(Some(Duration::from_secs(10))) // a lost message fails, not hangs
                    .connect(url.as_str())?;
                let welcome = ws.read()?.into_text()?.to_string();
                let me = welcome.rsplit(' ').next().unwrap_or("?").to_owned();
                all_joined.wait();
                // Each bot speaks, then waits to hear itself before speaking
                // again (as a person would), so no outbox ever holds more
                // than one message per bot.
                let mut heard = 0;
                for i in 1..=messages {
                    let line = format!("hello #{i} from bot {bot}");
                    ws.send(Message::text(line.as_str()))?;
                    loop {
                        if let Message::Text(t) = ws.read()? {
                            if t.contains(": hello #") {
                                heard += 1;
                            }
                            if t.ends_with(&line) {
                                break;
                            }
                        }
                    }
                }
                while heard < bots * messages {
                    if let Message::Text(t) = ws.read()? {
                        if t.contains(": hello #") {
                            heard += 1;
                        }
                    }
                }
                ws.close(None)?;
                while ws.read().is_ok() {} // until the server's close reply
                Ok((me, heard))
            })
        })
        .collect();
    let mut complete = true;
    for (bot, h) in handles.into_iter().enumerate() {
        match h.join().expect("bot panicked") {
            Ok((me, heard)) => println!("bot {bot} ({me}): heard {heard}/{} messages", bots * messages),
            Err(e) => {
                complete = false;
                println!("bot {bot}: failed: {e}");
            }
        }
    }
    server.stop()?;
    println!(
        "{}: {bots} clients, {} messages broadcast, {} deliveries, {} dropped for slow clients",
        if complete { "ok" } else { "INCOMPLETE" },
        bots * messages,
        bots * messages * bots,
        room.dropped.load(Ordering::Relaxed)
    );
    Ok(complete)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = "127.0.0.1:8080".to_string();
    let (mut run_demo, mut bots, mut messages) = (false, 5usize, 3usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => addr = value(),
            "--demo" => run_demo = true,
            "--bots" => bots = value().parse().unwrap_or_else(|_| usage("bad --bots")),
            "--messages" => messages = value().parse().unwrap_or_else(|_| usage("bad --messages")),
            _ => usage(&format!("unknown argument {arg}")),
        }
    }
    if run_demo {
        if !demo(bots.max(1), messages)? {
            std::process::exit(1);
        }
        return Ok(());
    }
    let server = start(&addr, Arc::new(Room::default()))?;
    eprintln!("chat on http://{}/ (Ctrl-C to stop)", server.local_addr());
    server.wait()?;
    Ok(())
}

fn usage(why: &str) -> ! {
    eprintln!("{why}\nusage: chat_ws [--addr HOST:PORT] | --demo [--bots N] [--messages N]");
    std::process::exit(2)
}

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>verdant chat</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}#log{border:1px solid #ccc;height:20em;overflow-y:auto;padding:.5em;white-space:pre-wrap}</style>
</head><body>
<h1>verdant chat</h1>
<div id="log"></div>
<form id="f"><input id="msg" autocomplete="off" size="50" autofocus> <button>Send</button></form>
<script>
const log = document.getElementById("log");
const show = t => { log.textContent += t + "\n"; log.scrollTop = log.scrollHeight; };
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
ws.onmessage = e => show(e.data);
ws.onclose = () => show("* disconnected");
document.getElementById("f").onsubmit = e => {
  e.preventDefault();
  const m = document.getElementById("msg");
  if (m.value) { ws.send(m.value); m.value = ""; }
};
</script>
</body></html>
"#;
