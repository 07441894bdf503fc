//! Resolver behaviour against fake nameservers on loopback run by the
//! test: failover, answer validation, caching, hosts precedence, rotation.

mod dns_support;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dns_support::{dns_kind, reply_a, reply_rcode, runtime, silent_server, strs, watchdog, FakeServer, TempDir};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use verdant::net::{ResolveErrorKind, Resolver};

fn fast(servers: &[SocketAddr]) -> verdant::net::ResolverBuilder {
    Resolver::builder()
        .nameservers(servers.iter().copied())
        .timeout(Duration::from_millis(300))
        .attempts(1)
}

/// Datagrams waiting on a socket nobody reads.
fn pending_datagrams(s: &std::net::UdpSocket) -> usize {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    let mut n = 0;
    while s.recv(&mut buf).is_ok() {
        n += 1;
    }
    n
}

#[test]
fn silent_server_times_out_then_second_answers() {
    let _w = watchdog("silent_server_times_out", Duration::from_secs(30));
    let silent = silent_server();
    let good = FakeServer::start(|q| vec![reply_a(q, [10, 0, 0, 1], 60)]);
    let r = fast(&[silent.local_addr().unwrap(), good.addr]).build().unwrap();
    let ips = runtime().block_on(move || strs(r.lookup_ip("svc.test").unwrap()));
    assert_eq!(ips, ["10.0.0.1"]);
    assert_eq!(
        pending_datagrams(&silent),
        2,
        "A and AAAA went to the silent server first"
    );
    assert_eq!(good.queries(), 2);
}

#[test]
fn all_silent_is_a_timeout_naming_the_servers() {
    let _w = watchdog("all_silent_is_a_timeout", Duration::from_secs(30));
    let (s1, s2) = (silent_server(), silent_server());
    let servers = [s1.local_addr().unwrap(), s2.local_addr().unwrap()];
    let r = fast(&servers).attempts(2).build().unwrap();
    let e = runtime().block_on(move || r.lookup_ip("slow.test").unwrap_err());
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert!(matches!(dns_kind(&e), ResolveErrorKind::TimedOut { attempts: 2, .. }));
    let msg = e.to_string();
    assert!(msg.starts_with("failed to resolve \"slow.test\": timed out"), "{msg}");
    assert!(
        msg.contains(&servers[0].to_string()) && msg.contains(&servers[1].to_string()),
        "{msg}"
    );
    // Two rounds over both servers, A and AAAA each time.
    assert_eq!(pending_datagrams(&s1) + pending_datagrams(&s2), 8);
}

#[test]
fn answers_not_matching_the_question_are_ignored() {
    let _w = watchdog("answers_not_matching", Duration::from_secs(30));
    let server = FakeServer::start(|q| {
        let mut wrong_id = reply_a(q, [6, 6, 6, 6], 60);
        wrong_id.metadata.id = q.metadata.id.wrapping_add(1);
        let mut wrong_name = reply_a(q, [6, 6, 6, 7], 60);
        wrong_name.queries[0].name = Name::from_ascii("evil.test.").unwrap();
        let mut wrong_type = reply_a(q, [6, 6, 6, 8], 60);
        wrong_type.queries[0].query_type = RecordType::MX;
        let mut not_response = reply_a(q, [6, 6, 6, 9], 60);
        not_response.metadata.message_type = hickory_proto::op::MessageType::Query;
        vec![
            wrong_id,
            wrong_name,
            wrong_type,
            not_response,
            reply_a(q, [10, 0, 0, 1], 60),
        ]
    });
    let r = fast(&[server.addr]).build().unwrap();
    let ips = runtime().block_on(move || strs(r.lookup_ip("victim.test").unwrap()));
    assert_eq!(ips, ["10.0.0.1"]);
}

#[test]
fn only_wrong_answers_is_a_timeout() {
    let _w = watchdog("only_wrong_answers", Duration::from_secs(30));
    let server = FakeServer::start(|q| {
        let mut r = reply_a(q, [6, 6, 6, 6], 60);
        r.metadata.id ^= 0x5555;
        vec![r]
    });
    let r = fast(&[server.addr]).build().unwrap();
    let e = runtime().block_on(move || r.lookup_ip("victim.test").unwrap_err());
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
}

#[test]
fn cache_hit_then_expiry() {
    let _w = watchdog("cache_hit_then_expiry", Duration::from_secs(30));
    // A with TTL 1, AAAA NODATA with negative TTL 1.
    let server = FakeServer::start(|q| vec![reply_a(q, [10, 0, 0, 1], 1)]);
    let r = fast(&[server.addr]).build().unwrap();
    let rt = runtime();
    let r2 = r.clone();
    rt.block_on(move || r2.lookup_ip("ttl.test").unwrap().count());
    assert_eq!(server.queries(), 2);
    let r2 = r.clone();
    rt.block_on(move || r2.lookup_ip("ttl.test").unwrap().count());
    assert_eq!(server.queries(), 2, "second lookup within the TTL is a cache hit");
    // After the TTL the answer is fetched again (poll, bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.queries() == 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let r2 = r.clone();
        rt.block_on(move || r2.lookup_ip("ttl.test").unwrap().count());
    }
    assert_eq!(server.queries(), 4, "both types re-fetched after expiry");
}

#[test]
fn ttl_zero_and_disabled_cache_always_query() {
    let _w = watchdog("ttl_zero", Duration::from_secs(30));
    let server = FakeServer::start(|q| vec![reply_a(q, [10, 0, 0, 1], 0)]);
    let zero = fast(&[server.addr]).build().unwrap();
    let off = fast(&[server.addr]).cache(false).build().unwrap();
    runtime().block_on(move || {
        for _ in 0..3 {
            zero.lookup_ip("zero.test").unwrap();
        }
    });
    assert_eq!(server.queries(), 6);
    let server2 = FakeServer::start(|q| vec![reply_a(q, [10, 0, 0, 1], 300)]);
    let off2 = fast(&[server2.addr]).cache(false).build().unwrap();
    runtime().block_on(move || {
        for _ in 0..3 {
            off2.lookup_ip("off.test").unwrap();
        }
    });
    assert_eq!(server2.queries(), 6);
    drop(off);
}

#[test]
fn negative_answers_are_cached_for_the_soa_minimum() {
    let _w = watchdog("negative_cache", Duration::from_secs(30));
    let server = FakeServer::start(|q| {
        let mut r = reply_rcode(q, ResponseCode::NXDomain);
        if q.queries[0].name.to_ascii().starts_with("withsoa") {
            r.add_authority(dns_support::soa(300));
        }
        vec![r]
    });
    let r = fast(&[server.addr]).build().unwrap();
    let addr = server.addr;
    let rt = runtime();
    let r2 = r.clone();
    let (first, second) = rt.block_on(move || {
        (
            r2.lookup_ip("withsoa.test").unwrap_err(),
            r2.lookup_ip("withsoa.test").unwrap_err(),
        )
    });
    assert_eq!(server.queries(), 2, "NXDOMAIN with an SOA is cached");
    assert_eq!(first.kind(), io::ErrorKind::NotFound);
    assert_eq!(
        dns_kind(&first),
        ResolveErrorKind::NxDomain {
            server: addr,
            cached: false
        }
    );
    assert_eq!(
        dns_kind(&second),
        ResolveErrorKind::NxDomain {
            server: addr,
            cached: true
        }
    );
    assert!(second.to_string().ends_with(&format!("(NXDOMAIN from {addr}, cached)")));
    // Without an SOA, RFC 2308 says not to cache.
    rt.block_on(move || {
        r.lookup_ip("nosoa.test").unwrap_err();
        r.lookup_ip("nosoa.test").unwrap_err();
    });
    assert_eq!(server.queries(), 6);
}

#[test]
fn nodata_is_not_found() {
    let _w = watchdog("nodata", Duration::from_secs(30));
    let server = FakeServer::start(|q| {
        let mut r = reply_rcode(q, ResponseCode::NoError);
        r.add_authority(dns_support::soa(30));
        vec![r]
    });
    let r = fast(&[server.addr]).build().unwrap();
    let e = runtime().block_on(move || r.lookup_ip("empty.test").unwrap_err());
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert!(matches!(dns_kind(&e), ResolveErrorKind::NoData { .. }));
    assert!(e.to_string().contains("NODATA"), "{e}");
}

#[test]
fn servfail_then_next_server() {
    let _w = watchdog("servfail_then_next_server", Duration::from_secs(30));
    let bad = FakeServer::start(|q| vec![reply_rcode(q, ResponseCode::ServFail)]);
    let good = FakeServer::start(|q| vec![reply_a(q, [10, 0, 0, 3], 60)]);
    let r = fast(&[bad.addr, good.addr]).build().unwrap();
    let ips = runtime().block_on(move || strs(r.lookup_ip("svc.test").unwrap()));
    assert_eq!(ips, ["10.0.0.3"]);
    assert_eq!((bad.queries(), good.queries()), (2, 2));
}

#[test]
fn hosts_file_wins_and_is_reloaded() {
    let _w = watchdog("hosts_file_wins", Duration::from_secs(30));
    let server = FakeServer::start(|q| vec![reply_a(q, [10, 0, 0, 1], 60)]);
    let dir = TempDir::new("hosts");
    let hosts = dir.write("hosts", "# test hosts\n::1 svc.test\n192.0.2.1 svc.test other.test\n");
    let r = fast(&[server.addr]).hosts_file(&hosts).cache(false).build().unwrap();
    let rt = runtime();
    let r2 = r.clone();
    assert_eq!(
        rt.block_on(move || strs(r2.lookup_ip("SVC.test.").unwrap())),
        ["192.0.2.1", "::1"]
    );
    assert_eq!(server.queries(), 0, "the hosts file answered");
    // Rewritten (different size): re-read on the next lookup.
    std::fs::write(&hosts, "192.0.2.222 other.test\n").unwrap();
    let r2 = r.clone();
    let (svc, other) = rt.block_on(move || {
        (
            strs(r2.lookup_ip("svc.test").unwrap()),
            strs(r2.lookup_ip("other.test").unwrap()),
        )
    });
    assert_eq!(svc, ["10.0.0.1"], "no longer in the file: DNS");
    assert_eq!(other, ["192.0.2.222"]);
    assert_eq!(server.queries(), 2);
}

#[test]
fn rotate_spreads_queries() {
    let _w = watchdog("rotate_spreads_queries", Duration::from_secs(30));
    let a = FakeServer::start(|q| vec![reply_a(q, [10, 0, 0, 1], 60)]);
    let b = FakeServer::start(|q| vec![reply_a(q, [10, 0, 0, 1], 60)]);
    let r = fast(&[a.addr, b.addr]).rotate(true).cache(false).build().unwrap();
    runtime().block_on(move || {
        for _ in 0..4 {
            r.lookup_ip("rr.test").unwrap();
        }
    });
    assert_eq!((a.queries(), b.queries()), (4, 4));
}

#[test]
fn system_mode_runs_getaddrinfo_on_the_blocking_pool() {
    let _w = watchdog("system_mode", Duration::from_secs(30));
    // Only a name the hosts file answers, and only if nsswitch consults
    // files first: this must not send a query to the machine's nameserver.
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let nss = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
    let files_first = nss
        .lines()
        .find(|l| l.trim_start().starts_with("hosts:"))
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("files"));
    let has_localhost = hosts.lines().any(|l| {
        l.split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .any(|n| n == "localhost")
    });
    if !(files_first && has_localhost) {
        eprintln!("SKIPPED: system_mode needs `localhost` in /etc/hosts and `hosts: files ...` in nsswitch.conf");
        return;
    }
    let r = Resolver::builder()
        .mode(verdant::net::ResolverMode::System)
        .build()
        .unwrap();
    let ips = runtime().block_on(move || r.lookup_ip("localhost").unwrap().collect::<Vec<_>>());
    assert!(!ips.is_empty() && ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
}
