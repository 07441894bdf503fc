//! The green resolver against a real DNS server: a private dnsmasq on a
//! free loopback port, started by each test (see `dns_support`).

mod dns_support;

use std::io;
use std::time::Duration;

use dns_support::{dns_kind, runtime, strs, watchdog, Dnsmasq, TempDir, BIG_COUNT};
use verdant::net::{ResolveErrorKind, Resolver};

fn resolver(d: &Dnsmasq) -> Resolver {
    Resolver::builder()
        .nameservers([d.addr])
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

#[test]
fn a_aaaa_and_cname_chain() {
    let _w = watchdog("a_aaaa_and_cname_chain", Duration::from_secs(60));
    let Some(d) = Dnsmasq::start("a_aaaa_and_cname_chain", 60) else {
        return;
    };
    let r = resolver(&d);
    let rt = runtime();
    rt.block_on(move || {
        assert_eq!(strs(r.lookup_ip("a.test").unwrap()), ["10.0.0.1"]);
        assert_eq!(strs(r.lookup_ip("dual.test").unwrap()), ["10.0.0.2", "fd00::2"]);
        assert_eq!(strs(r.lookup_ip("v6only.test").unwrap()), ["fd00::6"]);
        // alias1 → alias2 → dual, followed inside one answer.
        assert_eq!(strs(r.lookup_ip("ALIAS1.test.").unwrap()), ["10.0.0.2", "fd00::2"]);
        assert_eq!(strs(r.lookup_ip("host.test").unwrap()), ["10.0.0.9"]);
        let sa: Vec<_> = r.lookup_host_port("a.test", 8080).unwrap().collect();
        assert_eq!(sa, ["10.0.0.1:8080".parse().unwrap()]);
    });
}

#[test]
fn truncated_answer_falls_back_to_tcp() {
    let _w = watchdog("truncated_answer_falls_back_to_tcp", Duration::from_secs(60));
    let Some(d) = Dnsmasq::start("truncated_answer_falls_back_to_tcp", 60) else {
        return;
    };
    let r = resolver(&d);
    let ips = runtime().block_on(move || r.lookup_ip("big.test").unwrap().count());
    assert_eq!(ips, BIG_COUNT, "all records, so the answer came over TCP");
}

#[test]
fn nxdomain_servfail_refused_errors() {
    let _w = watchdog("nxdomain_servfail_refused_errors", Duration::from_secs(60));
    let Some(d) = Dnsmasq::start("nxdomain_servfail_refused_errors", 60) else {
        return;
    };
    let r = resolver(&d);
    let addr = d.addr;
    runtime().block_on(move || {
        let e = r.lookup_ip("nosuch.test").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            format!("failed to resolve \"nosuch.test\": no such domain (NXDOMAIN from {addr})")
        );

        let e = r.lookup_ip("servfail.test").unwrap_err();
        assert_eq!(dns_kind(&e), ResolveErrorKind::ServFail { server: addr });
        assert_eq!(e.kind(), io::ErrorKind::Other);
        assert!(e.to_string().contains("\"servfail.test\""), "{e}");
        assert!(e.to_string().contains("SERVFAIL"), "{e}");

        // Not under .test and no upstream: dnsmasq refuses.
        let e = r.lookup_ip("elsewhere.example").unwrap_err();
        assert_eq!(dns_kind(&e), ResolveErrorKind::Refused { server: addr });
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert!(e.to_string().contains("REFUSED from"), "{e}");

        let e = r.lookup_ip("bad..name").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    });
}

#[test]
fn works_from_an_os_thread_too() {
    let _w = watchdog("works_from_an_os_thread_too", Duration::from_secs(60));
    let Some(d) = Dnsmasq::start("works_from_an_os_thread_too", 60) else {
        return;
    };
    // No runtime: do_io falls back to poll(2) on this thread.
    let r = resolver(&d);
    assert_eq!(strs(r.lookup_ip("dual.test").unwrap()), ["10.0.0.2", "fd00::2"]);
    assert_eq!(r.lookup_ip("big.test").unwrap().count(), BIG_COUNT);
}

#[test]
fn resolv_conf_from_a_test_file_with_search_and_reload() {
    let _w = watchdog("resolv_conf_from_a_test_file", Duration::from_secs(60));
    let Some(d) = Dnsmasq::start("resolv_conf_from_a_test_file", 60) else {
        return;
    };
    let dir = TempDir::new("resolvconf");
    let conf = dir.write(
        "resolv.conf",
        "# written by the test\nnameserver 127.0.0.1\nsearch nothere.example test\noptions ndots:2 timeout:2 attempts:1\n",
    );
    let r = Resolver::builder()
        .resolv_conf(&conf)
        .nameserver_port(d.addr.port())
        .build()
        .unwrap();
    let conf2 = conf.clone();
    runtime().block_on(move || {
        // One dot < ndots 2: search domains first, "dual.nothere.example"
        // is refused, "dual.test" answers.
        assert_eq!(strs(r.lookup_ip("dual").unwrap()), ["10.0.0.2", "fd00::2"]);
        // Absolute: no search.
        assert!(r.lookup_ip("dual.").is_err());
        // The file changes: the resolver follows.
        std::fs::write(
            &conf2,
            "nameserver 127.0.0.1\n# no search list any more, and a longer line\n",
        )
        .unwrap();
        assert!(r.lookup_ip("dual").is_err());
        assert_eq!(strs(r.lookup_ip("a.test").unwrap()), ["10.0.0.1"]);
    });
}

#[test]
fn no_nameserver_configured() {
    let dir = TempDir::new("empty-conf");
    let conf = dir.write("resolv.conf", "search test\n");
    let r = Resolver::builder().resolv_conf(&conf).build().unwrap();
    let e = r.lookup_ip("a.test").unwrap_err();
    assert_eq!(dns_kind(&e), ResolveErrorKind::NoNameservers);
    assert_eq!(
        e.to_string(),
        "failed to resolve \"a.test\": no nameserver configured (and no entry in the hosts file)"
    );
}
