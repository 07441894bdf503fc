//! A TCP echo server: one green thread per connection.
//!
//! ```text
//! cargo run --release --example echo_server -- --addr 127.0.0.1:7000 [--max-secs 10] [--max-conns 10000]
//! ```
//!
//! Runs until Ctrl-C (SIGINT) or SIGTERM, or for `--max-secs`, and then
//! stops gracefully (stops accepting, gives open connections one second to
//! finish).

use std::io::{Read, Write};
use std::time::Duration;

use verdant::net::{serve_background, TcpListener};
use verdant::signal::{Signals, SIGINT, SIGTERM};

fn main() -> std::io::Result<()> {
    let mut addr = "127.0.0.1:7000".to_string();
    let mut max_secs: Option<u64> = None;
    let mut max_conns = 10_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => addr = value(),
            "--max-secs" => max_secs = Some(value().parse().unwrap_or_else(|_| usage("bad --max-secs"))),
            "--max-conns" => max_conns = value().parse().unwrap_or_else(|_| usage("bad --max-conns")),
            _ => usage(&format!("unknown argument {arg}")),
        }
    }
    // Registered first, so that a Ctrl-C from now on is caught, not fatal.
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let listener = TcpListener::builder().backlog(4096).nodelay(true).bind(addr.as_str())?;
    let server = serve_background(listener, max_conns, |mut conn, _peer| {
        let mut buf = [0u8; 4096];
        loop {
            let n = conn.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            conn.write_all(&buf[..n])?;
        }
    })?;
    eprintln!("echo server on {} (Ctrl-C to stop)", server.local_addr());
    let why = match max_secs {
        Some(secs) => match signals.wait_timeout(Duration::from_secs(secs)) {
            Some(sig) => signal_name(sig),
            None => format!("{secs} s are up"),
        },
        None => signals.next().map_or_else(|| "signals closed".to_string(), signal_name),
    };
    eprintln!("{why}: stopping ({} connections open)", server.connections());
    server.stop_timeout(Duration::from_secs(1))
}

fn signal_name(sig: i32) -> String {
    match sig {
        SIGINT => "Ctrl-C".to_string(),
        SIGTERM => "SIGTERM".to_string(),
        n => format!("signal {n}"),
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("{msg}\nusage: echo_server [--addr HOST:PORT] [--max-secs N] [--max-conns N]");
    std::process::exit(2)
}
