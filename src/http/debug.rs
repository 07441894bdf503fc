//! [`debug_handler`]: the dump and the metrics over HTTP.

use crate::http::{header, Body, Request, Response, StatusCode};

/// A handler serving the current runtime's [`Dump`](crate::debug::Dump)
/// and [`Metrics`](crate::debug::Metrics), for mounting on your own
/// [`Server`](crate::http::Server) under a prefix of your choice (Go's
/// `/debug/pprof/goroutine`):
///
/// | request path ends with | response |
/// |---|---|
/// | `/metrics` | the metrics, Prometheus text format 0.0.4 |
/// | `.json`, or the query has `format=json` | the dump as JSON ([`Dump::to_json`](crate::debug::Dump::to_json)) |
/// | anything else | the dump as text, grouped like Go's goroutine dump |
///
/// It reports the runtime whose green thread runs it (the server's).
/// Mount it only where its readers may see it: a dump shows addresses,
/// thread names and source locations.
///
/// ```
/// use verdant::http::{Response, Server, StatusCode};
///
/// let debug = verdant::http::debug_handler();
/// let server = Server::bind("127.0.0.1:0")?.serve_background(move |req| {
///     if req.uri().path().starts_with("/debug/verdant") {
///         debug(req)
///     } else {
///         let mut r = Response::new("not found".into());
///         *r.status_mut() = StatusCode::NOT_FOUND;
///         r
///     }
/// })?;
/// let url = format!("http://{}/debug/verdant/metrics", server.local_addr());
/// let text = verdant::http::get(&url).unwrap().into_body().into_string(1 << 20)?;
/// assert!(text.contains("verdant_green_threads_live"));
/// server.stop()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn debug_handler() -> impl Fn(Request<Body>) -> Response<Body> + Send + Sync + Clone + 'static {
    |req: Request<Body>| {
        let path = req.uri().path();
        let json = path.ends_with(".json")
            || req
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|kv| kv == "format=json"));
        let (body, kind) = if path.ends_with("/metrics") {
            let m = crate::runtime::Handle::with_current(|h| h.metrics());
            (m.to_prometheus(), "text/plain; version=0.0.4; charset=utf-8")
        } else if json {
            (crate::debug::dump().to_json(), "application/json")
        } else {
            (crate::debug::dump().to_string(), "text/plain; charset=utf-8")
        };
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = StatusCode::OK;
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(kind));
        resp
    }
}
