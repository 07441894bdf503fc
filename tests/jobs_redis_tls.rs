//! `rediss://`: the job queue over TLS (features `redis` and `tls`) to a
//! redis-server speaking only TLS, with a certificate made here by rcgen.
#![cfg(all(feature = "redis", feature = "tls"))]

#[path = "support/servers.rs"]
mod servers;
mod support;

use std::time::Duration;

use serde_json::json;
use servers::Redis;
use verdant::jobs::{NewJob, Pool, Queue, Worker};

#[test]
fn rediss_round_trip_and_an_untrusted_server() {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (c.cert.pem(), c.signing_key.serialize_pem());
    let Some(redis) = Redis::start_tls("rediss_round_trip", &cert, &key) else {
        return;
    };
    let url = format!("rediss://localhost:{}/", redis.port);
    support::run(move || {
        // Mozilla's roots do not know this certificate: a clear TLS error.
        let err = Queue::connect(&url, "default").unwrap_err();
        assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
        // A TLS configuration needs a rediss:// URL.
        assert!(Pool::with_tls(&url.replace("rediss", "redis"), verdant::tls::client_config()).is_err());

        let config = verdant::tls::client_config_with_roots(cert.as_bytes()).unwrap();
        let pool = Pool::with_tls(&url, config).unwrap();
        let w = Worker::with_pool(pool.clone(), &["default"])
            .unwrap()
            .handle_signals(false)
            .register("double", |job| Ok(json!(job.json::<i64>()? * 2)));
        let stop = w.handle();
        let worker = verdant::spawn(move || w.run().unwrap());
        let q = Queue::with_pool(pool, "default").unwrap();
        let r = q
            .enqueue_and_wait(NewJob::new("double").json(&21), Duration::from_secs(20))
            .unwrap();
        assert_eq!(r, json!(42));
        stop.stop();
        assert_eq!(worker.join().unwrap().done, 1);
    });
}
