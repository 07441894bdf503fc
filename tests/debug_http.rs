//! `verdant::http::debug_handler()`: the dump as text and JSON and the
//! metrics in Prometheus format, mounted on a user's server.
#![cfg(feature = "http")]

mod support;

use std::time::Duration;

use verdant::http::{header, Response, Server, StatusCode};

fn get(url: &str) -> (String, String) {
    let resp = verdant::http::get(url).unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let kind = resp.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
    (kind, resp.into_body().into_string(16 << 20).unwrap())
}

#[test]
fn serves_the_dump_as_text_and_json_and_the_metrics() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = support::rt(2);
    let sleeper = rt.spawn(|| verdant::sleep(Duration::from_secs(3600)));
    let id = sleeper.thread().id().as_u64();
    let (text, json, metrics) = rt.block_on(move || {
        let debug = verdant::http::debug_handler();
        let server = Server::bind("127.0.0.1:0")
            .unwrap()
            .serve_background(move |req| {
                if req.uri().path().starts_with("/debug/verdant") {
                    debug(req)
                } else {
                    let mut r = Response::new("nope".into());
                    *r.status_mut() = StatusCode::NOT_FOUND;
                    r
                }
            })
            .unwrap();
        let base = format!("http://{}/debug/verdant", server.local_addr());
        // The sleeper has parked once the text dump shows it (bounded).
        let mut text = (String::new(), String::new());
        for _ in 0..2_000 {
            text = get(&format!("{base}/threads"));
            if text.1.contains(&format!("#{id} ")) {
                break;
            }
            verdant::sleep(Duration::from_millis(5));
        }
        let json = get(&format!("{base}/threads?format=json"));
        let metrics = get(&format!("{base}/metrics"));
        server.stop().unwrap();
        (text, json, metrics)
    });
    assert!(text.0.starts_with("text/plain"), "{}", text.0);
    assert!(
        text.1.contains("parked, sleep, spawned at tests/debug_http.rs"),
        "{}",
        text.1
    );
    assert_eq!(json.0, "application/json");
    assert!(json.1.starts_with("{\"live\":"), "{}", json.1);
    assert!(json.1.contains(&format!("\"id\":{id},")), "{}", json.1);
    assert!(json.1.contains("\"wait_kind\":\"sleep\""), "{}", json.1);
    assert!(metrics.0.starts_with("text/plain; version=0.0.4"), "{}", metrics.0);
    assert!(
        metrics.1.contains("# TYPE verdant_parks_total counter"),
        "{}",
        metrics.1
    );
    assert!(metrics.1.contains("verdant_green_threads_started_total{worker=\"0\"}"));
    sleeper.cancel();
    assert!(sleeper.join().unwrap_err().is_cancelled());
}
