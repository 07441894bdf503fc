//! Client fan-out: 5 000 GETs, 500 in flight, against a server that
//! answers each after 100 ms, so the ideal wall time is 1.0 s. verdant's
//! `http::Client` driven by a `GreenPool(500)` on a 1-worker runtime, and
//! hyper-util's legacy `Client` (hyper 1.x, pooled) with 500 tasks at a
//! time (a tokio `Semaphore`) on a tokio current-thread runtime, side by
//! side in one run, against the same server.
//!
//! ```text
//! cargo bench -p verdant-benches --bench http_fanout
//! FANOUT_REUSE=1 cargo bench -p verdant-benches --bench http_fanout
//! BENCH_RUNS=5 FANOUT_REQUESTS=5000 FANOUT_INFLIGHT=500 FANOUT_DELAY_MS=100 \
//!     cargo bench -p verdant-benches --bench http_fanout
//! ```
//!
//! The server is verdant's `http::Server` (handler: `verdant::sleep(100
//! ms)`, then `ok`) on a 1-worker runtime in a child process (this binary,
//! re-run with `FANOUT_SERVE=1`) pinned to CPU 0; the clients run in the
//! parent, pinned to CPU 1. Every run builds a fresh client (an empty
//! pool), so the first 500 requests of each run connect; both clients
//! keep up to 500 idle connections to the host, so the other 4 500 reuse
//! them. Each response is checked (200, body `ok`). Reported: the median
//! wall time per side over the runs and its ratio to the ideal. With
//! `FANOUT_REUSE=1`, each side keeps one client for all its runs instead,
//! so after the warm-up run every request finds a pooled connection: that
//! separates the cost of the 500 connects from the rest.

mod support;

use support::ChildServer;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The child: a verdant server that answers after `delay`.
fn serve() {
    support::pin_to_core(0);
    let delay = Duration::from_millis(env_or("FANOUT_DELAY_MS", 100));
    let rt = verdant::Runtime::builder().workers(1).watchdog(None).build().unwrap();
    let server = rt.block_on(move || {
        verdant::http::Server::builder()
            .max_connections(100_000)
            .backlog(4096)
            .bind("127.0.0.1:0")
            .unwrap()
            .serve_background(move |_req| {
                verdant::sleep(delay);
                verdant::http::Response::new("ok".into())
            })
            .unwrap()
    });
    println!("{} {}", std::process::id(), server.local_addr().port());
    std::io::stdout().flush().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    std::process::exit(0);
}

type HyperClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Empty<bytes::Bytes>,
>;

fn verdant_client(inflight: usize) -> verdant::http::Client {
    verdant::http::Client::builder()
        .max_idle_per_host(inflight)
        .max_idle(inflight)
        .build()
}

fn hyper_client(inflight: usize) -> HyperClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(inflight)
        .build_http()
}

/// `client`: a pooled one to reuse, else a fresh one for this run.
fn verdant_fanout(
    rt: &verdant::Runtime,
    client: Option<&verdant::http::Client>,
    url: &str,
    requests: usize,
    inflight: usize,
) -> Duration {
    let url: Arc<str> = url.into();
    let client = client.cloned();
    rt.block_on(move || {
        let client = client.unwrap_or_else(|| verdant_client(inflight));
        let start = Instant::now();
        let pool = verdant::GreenPool::new(inflight);
        for _ in 0..requests {
            let (client, url) = (client.clone(), url.clone());
            pool.spawn(move || {
                let resp = client.get(&url).expect("verdant GET");
                assert_eq!(resp.status(), 200);
                let body = resp.into_body().into_string(64).expect("verdant body");
                assert_eq!(body, "ok");
            });
        }
        pool.waitall();
        start.elapsed()
    })
}

fn hyper_fanout(
    rt: &tokio::runtime::Runtime,
    client: Option<&HyperClient>,
    url: &str,
    requests: usize,
    inflight: usize,
) -> Duration {
    let uri: hyper::Uri = url.parse().unwrap();
    let client = client.cloned();
    rt.block_on(async move {
        let client = client.unwrap_or_else(|| hyper_client(inflight));
        let start = Instant::now();
        let slots = Arc::new(tokio::sync::Semaphore::new(inflight));
        let mut tasks = Vec::with_capacity(requests);
        for _ in 0..requests {
            let slot = slots.clone().acquire_owned().await.unwrap();
            let (client, uri) = (client.clone(), uri.clone());
            tasks.push(tokio::spawn(async move {
                let resp = client.get(uri).await.expect("hyper GET");
                assert_eq!(resp.status(), 200);
                let body = resp.into_body().collect().await.expect("hyper body").to_bytes();
                assert_eq!(&body[..], b"ok");
                drop(slot);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        start.elapsed()
    })
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("http_fanout: bench");
        return;
    }
    if std::env::var_os("FANOUT_SERVE").is_some() {
        return serve();
    }
    support::watchdog();
    let requests: usize = env_or("FANOUT_REQUESTS", 5000);
    let inflight: usize = env_or("FANOUT_INFLIGHT", 500);
    let delay_ms: u64 = env_or("FANOUT_DELAY_MS", 100);
    let ideal = Duration::from_millis(delay_ms * requests.div_ceil(inflight) as u64);

    let server = ChildServer::start(support::self_command("FANOUT_SERVE", "1"), "fan-out target");
    let addr = server.addr;
    let url = format!("http://{addr}/");

    let load = support::loadavg();
    let reuse = std::env::var_os("FANOUT_REUSE").is_some();
    support::print_header(
        &format!(
            "http_fanout: {} GETs, {inflight} in flight, server answers after {delay_ms} ms (ideal {:.2} s), {}",
            support::grouped(requests),
            ideal.as_secs_f64(),
            if reuse {
                "one client per side for all runs (warm pool)"
            } else {
                "a fresh client per run (cold pool)"
            }
        ),
        "http_fanout",
        &if reuse {
            vec![("FANOUT_REUSE", "1".to_string())]
        } else {
            vec![]
        },
    );

    // The clients (and their runtimes' threads) on CPU 1.
    support::pin_to_core(1);
    let vrt = verdant::Runtime::builder().workers(1).watchdog(None).build().unwrap();
    let trt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let (vc, hc) = if reuse {
        (Some(verdant_client(inflight)), Some(hyper_client(inflight)))
    } else {
        (None, None)
    };
    let (mut vs, mut hs) = (Vec::new(), Vec::new());
    let stats = support::measure(&mut [
        &mut || {
            let d = verdant_fanout(&vrt, vc.as_ref(), &url, requests, inflight);
            vs.push(d.as_secs_f64());
            d
        },
        &mut || {
            let d = hyper_fanout(&trt, hc.as_ref(), &url, requests, inflight);
            hs.push(d.as_secs_f64());
            d
        },
    ]);
    let (v, h) = (stats[0].per(1_000_000), stats[1].per(1_000_000));
    support::print_row("wall time (ms)", "ms", v, h, support::Ratio::VerdantOverPeer("hyper"));
    let ideal_ms = ideal.as_secs_f64() * 1e3;
    println!(
        "\nwall time / ideal: verdant {:.3}, hyper {:.3} (medians); target ≤ 1.05\n",
        v.median / ideal_ms,
        h.median / ideal_ms
    );
    let fmt = |s: &[f64]| {
        s.iter()
            .map(|x| format!("{:.0}", x * 1e3))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "every run in ms, warm-up first: verdant {}; hyper {}",
        fmt(&vs),
        fmt(&hs)
    );
    println!("load average at start: {load}; at end: {}", support::loadavg());
    server.stop();
}
