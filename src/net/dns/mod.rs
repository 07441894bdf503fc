//! Name resolution that parks the green thread, not the worker.
//!
//! A `getaddrinfo` inside a green thread would stall every other green
//! thread of its worker for as long as the DNS round trip takes (eventlet's
//! and gevent's trackers are full of it). verdant resolves names itself, on
//! the worker's reactor:
//!
//! * [`lookup_host`] / [`lookup_host_port`] use the global default
//!   [`Resolver`], created on first use: green mode configured from
//!   `/etc/hosts` and `/etc/resolv.conf`, or `getaddrinfo` on the blocking
//!   pool when the environment says `VERDANT_RESOLVER=system` (see
//!   [`ResolverMode`] for when to pick which).
//! * [`Resolver::builder`] makes resolvers with explicit nameservers,
//!   files, timeouts and cache size.
//!
//! # The green resolver
//!
//! 1. IP literals are returned as is; then the hosts file is consulted
//!    (re-read when its mtime, size or inode change).
//! 2. The name is expanded with `resolv.conf`'s `search` list according to
//!    `ndots`, in glibc's order.
//! 3. For each candidate, A and AAAA come from the cache or are asked **in
//!    parallel**: one fresh UDP socket per try (random source port) sends
//!    both questions, each with a fresh random id, and waits until both are
//!    answered or `timeout` passes. A datagram that is not the response to
//!    one of the questions (id, QR flag, opcode, question name/type/class)
//!    is ignored. A truncated answer (TC) is asked again over TCP.
//! 4. SERVFAIL, REFUSED, a timeout or a socket error moves on to the next
//!    nameserver (`rotate` spreads the first choice), for `attempts`
//!    rounds.
//! 5. Answers are cached for their TTL (CNAME chains: the smallest TTL);
//!    NXDOMAIN and NODATA for the SOA's negative TTL (RFC 2308). The cache
//!    is bounded and evicts at random.
//! 6. Addresses are returned **IPv4 first, then IPv6**. glibc sorts by RFC
//!    6724, which prefers IPv6 only when the host has a global IPv6
//!    address; most hosts verdant serves from (containers, CI, cloud VMs)
//!    have no working IPv6 route, and connecting code tries addresses in
//!    order, so IPv4 first avoids a failed connect per lookup there.
//!
//! Messages are built and parsed by `hickory-proto`, `resolv.conf` by
//! `resolv-conf`. Errors carry a [`ResolveError`] that names the host and
//! the cause.

mod cache;
mod error;
mod files;
mod limit;
mod query;
mod resolver;
mod transport;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

pub use error::{ResolveError, ResolveErrorKind};
pub use resolver::{Resolver, ResolverBuilder, ResolverMode, DEFAULT_CACHE_SIZE, DEFAULT_MAX_IN_FLIGHT};

/// The addresses of a host, as returned by [`lookup_host`] and
/// [`Resolver::lookup_ip`].
#[derive(Debug, Clone)]
pub struct LookupHost {
    addrs: std::vec::IntoIter<IpAddr>,
}

impl LookupHost {
    pub(crate) fn new(addrs: Vec<IpAddr>) -> LookupHost {
        LookupHost {
            addrs: addrs.into_iter(),
        }
    }
}

impl Iterator for LookupHost {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        self.addrs.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.addrs.size_hint()
    }
}

impl DoubleEndedIterator for LookupHost {
    fn next_back(&mut self) -> Option<IpAddr> {
        self.addrs.next_back()
    }
}

impl ExactSizeIterator for LookupHost {}

static GLOBAL: OnceLock<Resolver> = OnceLock::new();

impl Resolver {
    /// The global default resolver used by [`lookup_host`], created on
    /// first use unless [`Resolver::install_global`] came first.
    ///
    /// Its mode comes from the environment variable `VERDANT_RESOLVER`:
    /// `system` (or `getaddrinfo`) selects [`ResolverMode::System`];
    /// unset, empty or `green` selects [`Resolver::from_system_conf`].
    /// Any other value warns on stderr and selects green.
    ///
    /// ```
    /// let r = verdant::net::Resolver::global();
    /// println!("resolving in {:?} mode", r.mode());
    /// ```
    pub fn global() -> &'static Resolver {
        GLOBAL.get_or_init(|| {
            let mode = std::env::var("VERDANT_RESOLVER").unwrap_or_default();
            match mode.trim().to_ascii_lowercase().as_str() {
                "system" | "getaddrinfo" => Resolver::getaddrinfo(),
                "" | "green" => Resolver::from_system_conf(),
                other => {
                    eprintln!("verdant: VERDANT_RESOLVER={other:?} is neither \"green\" nor \"system\"; using green");
                    Resolver::from_system_conf()
                }
            }
        })
    }

    /// Makes `self` the global default resolver. Call it early: once the
    /// global resolver exists it cannot be replaced, and `self` is handed
    /// back.
    ///
    /// ```
    /// use verdant::net::Resolver;
    /// let mine = Resolver::builder().nameservers(["127.0.0.1:5353".parse().unwrap()]).build().unwrap();
    /// match mine.install_global() {
    ///     Ok(()) => println!("installed"),
    ///     Err(_mine) => println!("a global resolver was already in use"),
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// Returns `self` if the global resolver was already set or used.
    pub fn install_global(self) -> Result<(), Resolver> {
        GLOBAL.set(self)
    }
}

/// Resolves `host` with the current runtime's resolver, or else the global
/// default resolver: IPv4 addresses first,
/// then IPv6. Parks only the calling green thread (or blocks the calling OS
/// thread).
///
/// ```
/// # if std::fs::read_to_string("/etc/hosts").unwrap_or_default().contains("localhost") {
/// // "localhost" comes from /etc/hosts: no query leaves the machine.
/// let ips: Vec<std::net::IpAddr> = verdant::net::lookup_host("localhost").unwrap().collect();
/// assert!(ips.iter().all(|ip| ip.is_loopback()));
/// # }
/// ```
///
/// # Errors
///
/// See [`Resolver::lookup_ip`]: the message names the host and the cause
/// (`failed to resolve "nosuch.test": no such domain (NXDOMAIN from
/// 127.0.0.1:53)`), the kind classifies it.
pub fn lookup_host(host: &str) -> io::Result<LookupHost> {
    with_current(|r| r.lookup_ip(host))
}

impl crate::RuntimeBuilder {
    /// The resolver that name lookups made on this runtime's green threads
    /// use (`net::lookup_host`, and `connect("host:port")`), instead of the
    /// global one (see [`crate::net::Resolver::global`] and its
    /// `VERDANT_RESOLVER` variable).
    ///
    /// ```
    /// use verdant::net::{Resolver, ResolverMode};
    /// let rt = verdant::Runtime::builder()
    ///     .resolver(Resolver::builder().mode(ResolverMode::System).build().unwrap())
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn resolver(self, resolver: Resolver) -> Self {
        self.extension(resolver)
    }
}

/// Runs `f` with the resolver of the calling green thread's runtime, if it
/// was built with one ([`crate::RuntimeBuilder::resolver`]), else with the
/// global one.
pub(crate) fn with_current<R>(f: impl FnOnce(&Resolver) -> R) -> R {
    match crate::runtime::context::worker().and_then(|w| w.shared.config.extensions.get::<Resolver>().cloned()) {
        Some(resolver) => f(&resolver),
        None => f(Resolver::global()),
    }
}

/// Resolves `host` with the global default resolver and pairs each address
/// with `port`.
///
/// ```
/// let addrs: Vec<_> = verdant::net::lookup_host_port("10.0.0.1", 443).unwrap().collect();
/// assert_eq!(addrs, ["10.0.0.1:443".parse().unwrap()]);
/// ```
///
/// # Errors
///
/// As [`lookup_host`].
pub fn lookup_host_port(host: &str, port: u16) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    with_current(|r| r.lookup_host_port(host, port))
}

/// For the net layer's `(host, port)` inputs (`net::resolve`): resolves
/// with the current runtime's or the global resolver (an IP literal
/// without any lookup).
pub(crate) fn resolve_host_port(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok(lookup_host_port(host, port)?.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addr_literals_need_no_lookup() {
        use crate::net::resolve;
        assert_eq!(resolve("127.0.0.1:80").unwrap(), ["127.0.0.1:80".parse().unwrap()]);
        assert_eq!(resolve("[::1]:80").unwrap(), ["[::1]:80".parse().unwrap()]);
        assert_eq!(resolve_host_port("::1", 8).unwrap(), ["[::1]:8".parse().unwrap()]);
        let e = resolve("nohost").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = resolve("h:99999").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
