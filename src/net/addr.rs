//! Address conversion and name resolution that never blocks a worker.
//!
//! [`ToSocketAddrs`] mirrors `std::net::ToSocketAddrs` and is implemented for
//! the same types, so `TcpStream::connect("example.com:80")` and
//! `TcpListener::bind(("0.0.0.0", 0))` read exactly as with std. The
//! difference is where a host name is looked up: [`resolve`] parses literal
//! addresses in place and sends only real names to the global
//! [`crate::net::Resolver`], which parks a green caller instead of blocking
//! its worker (green DNS, or `getaddrinfo` on a [`crate::spawn_blocking`]
//! thread in system mode).
//!
//! `resolve` is the single entry point every socket type goes through.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What an address argument asks for, before any lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
#[doc(hidden)]
pub enum AddrQuery {
    /// Already addresses: nothing to look up.
    Resolved(Vec<SocketAddr>),
    /// A host name (or `host:port` string) to hand to the resolver.
    Host(String, u16),
}

/// Values that name one or more socket addresses: the same implementors
/// as `std::net::ToSocketAddrs` (`SocketAddr`, `(IpAddr, u16)`,
/// `"host:port"`, `("host", port)`, `String`, `&[SocketAddr]`, references).
///
/// Call sites written for std compile unchanged, `to_socket_addrs()`
/// included; only code that is generic over std's trait must switch its
/// bound to this one.
///
/// ```
/// use verdant::net::ToSocketAddrs;
/// let addrs = verdant::net::resolve("127.0.0.1:80").unwrap();
/// assert_eq!(addrs, vec!["127.0.0.1:80".parse().unwrap()]);
/// # fn takes<A: ToSocketAddrs>(_: A) {}
/// # takes(("::1", 8080));
/// ```
pub trait ToSocketAddrs {
    /// Parses literal addresses, or names the host to look up.
    #[doc(hidden)]
    fn to_addr_query(&self) -> io::Result<AddrQuery>;

    /// The addresses this value names, std's `to_socket_addrs`: literal
    /// addresses parsed in place, a host name looked up by the global
    /// [`crate::net::Resolver`] (parking a green caller, not blocking its
    /// worker). Unlike std's, the iterator type is always
    /// `std::vec::IntoIter<SocketAddr>` (std's trait names it `Self::Iter`).
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use verdant::net::ToSocketAddrs;
    ///
    /// let one: Vec<SocketAddr> = "127.0.0.1:8080".to_socket_addrs()?.collect();
    /// assert_eq!(one, ["127.0.0.1:8080".parse::<SocketAddr>().unwrap()]);
    /// for a in ("localhost", 8080).to_socket_addrs()? {
    ///     assert!(a.ip().is_loopback() && a.port() == 8080);
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn to_socket_addrs(&self) -> io::Result<std::vec::IntoIter<SocketAddr>> {
        let addrs = match self.to_addr_query()? {
            AddrQuery::Resolved(v) => v,
            AddrQuery::Host(host, port) => lookup(host, port)?,
        };
        Ok(addrs.into_iter())
    }
}

/// Resolves `addr` to socket addresses, in the resolver's order.
///
/// Literal IP addresses are parsed in place. A host name goes to the
/// global [`crate::net::Resolver`] ([`crate::net::lookup_host_port`]),
/// which parks only a green caller. Fails with `InvalidInput` if nothing
/// resolves.
///
/// ```
/// let v = verdant::net::resolve(("::1", 443)).unwrap();
/// assert_eq!(v[0].port(), 443);
/// ```
pub fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    let addrs = match addr.to_addr_query()? {
        AddrQuery::Resolved(v) => v,
        AddrQuery::Host(host, port) => lookup(host, port)?,
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        ));
    }
    Ok(addrs)
}

/// A host name: the global [`crate::net::Resolver`] (green DNS on the
/// worker's reactor, or `getaddrinfo` on the blocking pool in system mode).
#[cold]
fn lookup(host: String, port: u16) -> io::Result<Vec<SocketAddr>> {
    super::dns::resolve_host_port(&host, port)
}

/// Tries `f` on each address in turn; the first success wins, else the
/// last error (std's behaviour for `connect` and `bind`).
pub(crate) fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in resolve(addr)? {
        match f(&a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses")))
}

fn resolved(a: SocketAddr) -> io::Result<AddrQuery> {
    Ok(AddrQuery::Resolved(vec![a]))
}

/// `"host:port"`: a literal socket address, else a name to look up.
fn parse_host_port(s: &str) -> io::Result<AddrQuery> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return resolved(a);
    }
    let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address");
    let (host, port) = s.rsplit_once(':').ok_or_else(invalid)?;
    let port = port.parse::<u16>().map_err(|_| invalid())?;
    parse_host(host, port)
}

/// `(host, port)`: a literal IP, else a name to look up.
fn parse_host(host: &str, port: u16) -> io::Result<AddrQuery> {
    match host.parse::<IpAddr>() {
        Ok(ip) => resolved(SocketAddr::new(ip, port)),
        Err(_) => Ok(AddrQuery::Host(host.to_owned(), port)),
    }
}

impl ToSocketAddrs for SocketAddr {
    fn to_addr_query(&self) -> io::Result<AddrQuery> {
        resolved(*self)
    }
}

impl ToSocketAddrs for SocketAddrV4 {
    fn to_addr_query(&self) -> io::Result<AddrQuery> {
        resolved((*self).into())
    }
}

impl ToSocketAddrs for SocketAddrV6 {
    fn to_addr_query(&self) -> io::Result<AddrQuery> {
        resolved((*self).into())
    }
}

impl ToSocketAddrs for (IpAddr, u16) {
    fn to_addr_query(&self) -> io::Result<AddrQuery> {
        resolved((*self).into())
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {
    fn to_addr_query(&self) -> io::Result<AddrQuery> {
        resolved((*self).into())
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {
    fn to_addr_query(&self) -> io::Result<AddrQuery> {
        resolved((*self).into())
    }
}

impl ToSocketAddrs for (&str, u16) {
    fn to_addr_query(&self) -> io::Result<AddrQuery> {
        parse_host(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {
    fn to_addr_query(&self) -> io::Result<AddrQuery> {
        parse_host(&self.0, self.1)
    }
}

impl ToSocketAddrs for str {
    fn to_addr_query(&self) -> io::Result<AddrQuery> {
        parse_host_port(self)
    }
}

impl ToSocketAddrs for String {
    fn to_addr_query(&self) -> io::Result<AddrQuery> {
        parse_host_port(self)
    }
}

impl ToSocketAddrs for [SocketAddr] {
    fn to_addr_query(&self) -> io::Result<AddrQuery> {
        Ok(AddrQuery::Resolved(self.to_vec()))
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_addr_query(&self) -> io::Result<AddrQuery> {
        (**self).to_addr_query()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_need_no_lookup() {
        assert!(matches!("[::1]:80".to_addr_query().unwrap(), AddrQuery::Resolved(_)));
        assert!(matches!(
            ("10.0.0.1", 1).to_addr_query().unwrap(),
            AddrQuery::Resolved(_)
        ));
        assert_eq!(
            "localhost:80".to_addr_query().unwrap(),
            AddrQuery::Host("localhost".into(), 80)
        );
        assert!("nonsense".to_addr_query().is_err());
    }

    #[test]
    fn localhost_resolves_from_a_green_thread() {
        let rt = crate::Runtime::builder().workers(1).build().unwrap();
        let v = rt.block_on(|| resolve("localhost:80")).unwrap();
        assert!(v.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
    }
}
