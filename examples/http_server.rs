//! An HTTP server: hello world, and a streaming upload echo.
//!
//! ```text
//! cargo run --release --example http_server -- [--addr 127.0.0.1:8080] [--workers N] [--max-secs N]
//! curl http://127.0.0.1:8080/
//! curl -T big.file http://127.0.0.1:8080/echo -o copy.file
//!
//! # HTTPS, from a certificate chain and key in PEM files (none is generated):
//! cargo run --release --features tls --example http_server -- --tls cert.pem key.pem
//! curl --cacert cert.pem https://localhost:8080/
//! ```
//!
//! `GET /` answers `Hello, World!`. `POST /echo` (or `PUT`) streams the
//! request body back as it arrives, chunked: the handler returns at once
//! with the request body as the response body, and the server reads one
//! while it writes the other (a client sending `Expect: 100-continue` gets
//! its `100 Continue` when that first read happens). Runs until Ctrl-C, or
//! for `--max-secs` and then stops gracefully; `--workers` sizes the
//! runtime (default: one worker per core).

use std::time::Duration;

use verdant::http::{Body, Method, Response, Server, ServerBuilder, StatusCode};

fn main() -> std::io::Result<()> {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut max_secs: Option<u64> = None;
    let mut workers: Option<usize> = None;
    let mut tls: Option<(String, String)> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => addr = value(),
            "--max-secs" => max_secs = Some(value().parse().unwrap_or_else(|_| usage("bad --max-secs"))),
            "--workers" => workers = Some(value().parse().unwrap_or_else(|_| usage("bad --workers"))),
            "--tls" => tls = Some((value(), value())),
            _ => usage(&format!("unknown argument {arg}")),
        }
    }
    let mut rt = verdant::Runtime::builder();
    if let Some(n) = workers {
        rt = rt.workers(n);
    }
    let builder = Server::builder().max_body_bytes(u64::MAX);
    let (builder, scheme) = match tls {
        None => (builder, "http"),
        Some((cert, key)) => (with_tls(builder, &cert, &key)?, "https"),
    };
    rt.build()?.block_on(move || serve(builder, &addr, scheme, max_secs))
}

#[cfg(feature = "tls")]
fn with_tls(builder: ServerBuilder, cert: &str, key: &str) -> std::io::Result<ServerBuilder> {
    let read = |path: &str| std::fs::read(path).map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")));
    let config = verdant::tls::server_config(&read(cert)?, &read(key)?)?;
    Ok(builder.tls(config))
}

#[cfg(not(feature = "tls"))]
fn with_tls(_: ServerBuilder, _: &str, _: &str) -> std::io::Result<ServerBuilder> {
    usage("--tls needs the `tls` feature (cargo run --features tls ...)")
}

fn serve(builder: ServerBuilder, addr: &str, scheme: &str, max_secs: Option<u64>) -> std::io::Result<()> {
    let server = builder
        .bind(addr)?
        .serve_background(|req| match (req.method(), req.uri().path()) {
            (&Method::GET | &Method::HEAD, "/") => Response::new(Body::from("Hello, World!")),
            (&Method::POST | &Method::PUT, "/echo") => {
                // Unknown length: the echo goes out chunked as it is read.
                let upload = req.into_body();
                Response::new(Body::from_reader(upload, None))
            }
            _ => Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Body::from("not found\n"))
                .unwrap(),
        })?;
    eprintln!("http server on {scheme}://{} (Ctrl-C to stop)", server.local_addr());
    match max_secs {
        Some(secs) => {
            verdant::sleep(Duration::from_secs(secs));
            eprintln!("{secs} s are up: stopping ({} connections open)", server.connections());
            server.stop_timeout(Duration::from_secs(1))
        }
        None => server.wait(),
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("{msg}\nusage: http_server [--addr HOST:PORT] [--workers N] [--max-secs N] [--tls CERT.pem KEY.pem]");
    std::process::exit(2)
}
