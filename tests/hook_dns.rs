//! `verdant::monkey_patch()`: the hooked `getaddrinfo` (feature `hook`).
//!
//! The global resolver reads a test-controlled hosts file (a copy of
//! `/etc/hosts` plus test names) and its only nameserver is a closed
//! loopback port: no query ever leaves the machine. Names of `/etc/hosts`
//! get the same answers from the hook on a green thread as from libc on a
//! plain thread (libc reads `/etc/hosts` itself).

mod support;

use std::ffi::{CStr, CString};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use support::{rt, watchdog};

/// One answer: family, socket type, protocol, address.
type Entry = (i32, i32, i32, SocketAddr);

fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        verdant::monkey_patch().expect("the hooks are linked into this test binary");
        let etc = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("verdant-hook-dns-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hosts = dir.join("hosts");
        std::fs::write(
            &hosts,
            format!("{etc}\n127.0.0.9 hooktest.example hookalias.example\n::9 hooktest.example\n"),
        )
        .unwrap();
        // A closed loopback port: any query that got that far is refused.
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let r = verdant::net::Resolver::builder()
            .hosts_file(hosts)
            .nameservers([closed])
            .build()
            .unwrap();
        r.install_global().expect("nothing installed a global resolver before");
    });
}

/// `getaddrinfo(name, service, hints)`, its list as entries (sorted), or
/// the error code; `canon` asks for AI_CANONNAME and returns the name.
fn gai(
    name: &str,
    service: Option<&str>,
    family: i32,
    socktype: i32,
    flags: i32,
) -> Result<(Vec<Entry>, Option<String>), i32> {
    let node = CString::new(name).unwrap();
    let svc = service.map(|s| CString::new(s).unwrap());
    // SAFETY: addrinfo is plain data; zeroes are valid hints.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_flags = flags;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid strings, hints and result slot for the call.
    let rc = unsafe {
        libc::getaddrinfo(
            node.as_ptr(),
            svc.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            &hints,
            &mut res,
        )
    };
    if rc != 0 {
        return Err(rc);
    }
    let mut out = Vec::new();
    let mut canon = None;
    let mut p = res;
    while !p.is_null() {
        // SAFETY: a node of the list getaddrinfo returned, not yet freed.
        let ai = unsafe { &*p };
        if !ai.ai_canonname.is_null() {
            // SAFETY: a NUL-terminated string of the list.
            canon = Some(
                unsafe { CStr::from_ptr(ai.ai_canonname) }
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        // SAFETY: `ai_addr` holds `ai_addrlen` bytes of a socket address.
        let sa = unsafe {
            socket2::SockAddr::try_init(|storage, len| {
                std::ptr::copy_nonoverlapping(ai.ai_addr.cast::<u8>(), storage.cast::<u8>(), ai.ai_addrlen as usize);
                *len = ai.ai_addrlen;
                Ok(())
            })
        }
        .unwrap()
        .1;
        out.push((ai.ai_family, ai.ai_socktype, ai.ai_protocol, sa.as_socket().unwrap()));
        p = ai.ai_next;
    }
    // SAFETY: the list getaddrinfo returned, freed once.
    unsafe { libc::freeaddrinfo(res) };
    out.sort_by_key(|e| (e.0, e.1, e.2, e.3.to_string()));
    Ok((out, canon))
}

/// Names listed in /etc/hosts (at most 8).
fn etc_hosts_names() -> Vec<String> {
    let etc = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let mut names = Vec::new();
    for line in etc.lines() {
        let line = line.split('#').next().unwrap();
        for name in line.split_whitespace().skip(1) {
            if !names.contains(&name.to_string()) && names.len() < 8 {
                names.push(name.to_string());
            }
        }
    }
    names
}

#[test]
fn hosts_file_answers_match_libc() {
    let _w = watchdog(Duration::from_secs(60));
    setup();
    let names = etc_hosts_names();
    assert!(
        names.iter().any(|n| n == "localhost"),
        "/etc/hosts names localhost: {names:?}"
    );
    let rt = rt(1);
    for name in names {
        for (family, socktype) in [
            (libc::AF_UNSPEC, libc::SOCK_STREAM),
            (libc::AF_UNSPEC, 0),
            (libc::AF_INET, 0),
            (libc::AF_INET6, libc::SOCK_DGRAM),
        ] {
            // libc's own answer: from a plain thread, the hook passes through.
            let n = name.clone();
            let libc_says = std::thread::spawn(move || gai(&n, Some("80"), family, socktype, 0))
                .join()
                .unwrap();
            let n = name.clone();
            let hook_says = rt
                .spawn(move || gai(&n, Some("80"), family, socktype, 0))
                .join()
                .unwrap();
            // Both fail or both answer the same (error codes may differ in
            // kind for a family the name lacks: NONAME vs NODATA/ADDRFAMILY).
            match (&libc_says, &hook_says) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{name} family {family} socktype {socktype}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{name} family {family} socktype {socktype}: libc {libc_says:?}, hook {hook_says:?}"),
            }
        }
    }
}

#[test]
fn flags_go_to_libc_on_the_blocking_pool() {
    let _w = watchdog(Duration::from_secs(60));
    setup();
    let libc_says = std::thread::spawn(|| gai("localhost", Some("443"), libc::AF_INET, 0, libc::AI_CANONNAME))
        .join()
        .unwrap();
    let hook_says = rt(1)
        .spawn(|| gai("localhost", Some("443"), libc::AF_INET, 0, libc::AI_CANONNAME))
        .join()
        .unwrap();
    assert_eq!(hook_says, libc_says);
    assert!(hook_says.unwrap().1.is_some(), "the canonical name is libc's");
}

#[test]
fn to_socket_addrs_of_a_test_hosts_name() {
    let _w = watchdog(Duration::from_secs(60));
    setup();
    let got = rt(1)
        .spawn(|| {
            let mut v: Vec<SocketAddr> = ("hooktest.example", 8080).to_socket_addrs().unwrap().collect();
            v.sort();
            let alias: Vec<SocketAddr> = "hookalias.example:1".to_socket_addrs().unwrap().collect();
            (v, alias)
        })
        .join()
        .unwrap();
    assert_eq!(
        got.0,
        ["127.0.0.9:8080".parse().unwrap(), "[::9]:8080".parse().unwrap()]
    );
    assert_eq!(got.1, ["127.0.0.9:1".parse().unwrap()]);
}

#[test]
fn an_unknown_name_fails() {
    let _w = watchdog(Duration::from_secs(60));
    setup();
    let r = rt(1)
        .spawn(|| "no-such-host.invalid:80".to_socket_addrs().map(|i| i.count()))
        .join()
        .unwrap();
    assert!(r.is_err(), "{r:?}");
}
