//! [`Resolver`] and [`ResolverBuilder`]: the green lookup pipeline and the
//! `getaddrinfo` one.
//!
//! ```text
//! lookup_ip(host)
//!   IP literal? ──▶ itself
//!   system mode ──▶ getaddrinfo on the spawn_blocking pool (the caller parks)
//!   hosts file (re-read when it changes) has it? ──▶ its addresses
//!   for each candidate name (search list × ndots, as glibc orders them):
//!     per type (A, AAAA): cache hit? ──▶ use it
//!     missing types: for attempt in 1..=attempts, for server in servers (rotated):
//!         query::exchange(server, candidate, missing types)   (parallel, one socket)
//!         useful answers are cached and kept; SERVFAIL/REFUSED/timeout ──▶ next server
//!     addresses for either type ──▶ IPv4 then IPv6
//!   all candidates failed ──▶ the most telling error (a server failure over "not found")
//! ```

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

use super::cache::{Cache, Cached};
use super::error::{ResolveError, ResolveErrorKind};
use super::files::{normalize, Hosts, ResolvConf, Watched};
use super::limit::Limit;
use super::query::{self, Answer, Failure, Outcome};
use super::LookupHost;
use crate::runtime::task::why::Label;

/// Default number of cached (name, type) answers.
pub const DEFAULT_CACHE_SIZE: usize = 4096;

/// Default most exchanges (one name, A and AAAA) in flight per resolver.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// How a [`Resolver`] resolves names.
///
/// * **`Green`** (the default): verdant's own stub resolver. It reads
///   `/etc/hosts` and `/etc/resolv.conf` itself and talks DNS over UDP/TCP
///   on the worker's reactor, so a lookup parks only its green thread.
///   Pick it whenever name resolution on the machine is plain files + DNS,
///   which is what servers and most containers use.
/// * **`System`**: the C library's `getaddrinfo`, run on the
///   [`crate::spawn_blocking`] pool (the caller parks; one pool thread
///   blocks per lookup in flight). Pick it when `/etc/nsswitch.conf` routes
///   lookups elsewhere: mDNS (`.local` names via nss-mdns), LDAP/NIS,
///   `systemd-resolved` split DNS, `nscd`, or container setups whose
///   resolver is not described by `resolv.conf`. It costs an OS thread per
///   concurrent lookup and does no caching of its own.
///
/// The global default resolver used by [`crate::net::lookup_host`] is
/// chosen by the environment variable `VERDANT_RESOLVER=green|system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResolverMode {
    /// verdant's own DNS client on the reactor.
    #[default]
    Green,
    /// `getaddrinfo` on the blocking pool.
    System,
}

/// A name resolver: hosts file, cache and nameservers (green mode), or the
/// C library's `getaddrinfo` (system mode). Cheap to clone: clones share
/// the cache.
///
/// ```
/// use std::io::Write;
/// use verdant::net::Resolver;
///
/// let dir = std::env::temp_dir().join(format!("verdant-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let hosts = dir.join("hosts");
/// std::fs::File::create(&hosts).unwrap().write_all(b"10.1.2.3 db.internal\n").unwrap();
///
/// let resolver = Resolver::builder().hosts_file(&hosts).build().unwrap();
/// let ips: Vec<_> = resolver.lookup_ip("db.internal").unwrap().collect();
/// assert_eq!(ips, ["10.1.2.3".parse::<std::net::IpAddr>().unwrap()]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

// Lives in an `Arc`: one allocation either way.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Green(Green),
    System,
}

/// Configures a [`Resolver`].
///
/// A fresh builder knows nothing: no hosts file, no `resolv.conf`, no
/// nameserver. Point it at files ([`resolv_conf`](Self::resolv_conf),
/// [`hosts_file`](Self::hosts_file)) and/or give settings explicitly;
/// explicit settings win over the file's, whatever the order of calls.
///
/// ```no_run
/// use std::time::Duration;
/// use verdant::net::Resolver;
///
/// let resolver = Resolver::builder()
///     .nameservers(["127.0.0.1:5353".parse().unwrap(), "[::1]:5353".parse().unwrap()])
///     .search(["corp.example"])
///     .ndots(1)
///     .timeout(Duration::from_millis(500))
///     .attempts(2)
///     .rotate(true)
///     .cache_size(10_000)
///     .hosts_file("/etc/hosts")
///     .build()
///     .unwrap();
/// let addrs: Vec<_> = resolver.lookup_ip("db").unwrap().collect();
/// ```
#[derive(Debug, Clone)]
#[must_use = "a ResolverBuilder does nothing until `build` is called"]
pub struct ResolverBuilder {
    mode: ResolverMode,
    resolv_conf: Option<PathBuf>,
    hosts_file: Option<PathBuf>,
    nameservers: Option<Vec<SocketAddr>>,
    nameserver_port: Option<u16>,
    search: Option<Vec<String>>,
    ndots: Option<u32>,
    timeout: Option<Duration>,
    attempts: Option<u32>,
    rotate: Option<bool>,
    cache_size: usize,
    max_in_flight: usize,
}

impl Default for ResolverBuilder {
    fn default() -> Self {
        ResolverBuilder {
            mode: ResolverMode::Green,
            resolv_conf: None,
            hosts_file: None,
            nameservers: None,
            nameserver_port: None,
            search: None,
            ndots: None,
            timeout: None,
            attempts: None,
            rotate: None,
            cache_size: DEFAULT_CACHE_SIZE,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

impl ResolverBuilder {
    /// Green (default) or system (`getaddrinfo`) resolution; see
    /// [`ResolverMode`]. In system mode every other setting is ignored.
    pub fn mode(mut self, mode: ResolverMode) -> Self {
        self.mode = mode;
        self
    }

    /// Takes nameservers, `search`/`domain`, `ndots`, `timeout`, `attempts`
    /// and `rotate` from this `resolv.conf(5)` file, re-read whenever it
    /// changes. A missing file counts as empty.
    pub fn resolv_conf(mut self, path: impl Into<PathBuf>) -> Self {
        self.resolv_conf = Some(path.into());
        self
    }

    /// Consults this `hosts(5)` file before DNS, re-read whenever it
    /// changes. A missing file counts as empty.
    pub fn hosts_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.hosts_file = Some(path.into());
        self
    }

    /// The nameservers to ask, in order (overrides `resolv.conf`'s).
    pub fn nameservers(mut self, servers: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.nameservers = Some(servers.into_iter().collect());
        self
    }

    /// The port of the nameservers read from `resolv.conf` (which cannot
    /// say; default 53). Explicit [`nameservers`](Self::nameservers) keep
    /// their own ports.
    pub fn nameserver_port(mut self, port: u16) -> Self {
        self.nameserver_port = Some(port);
        self
    }

    /// Search domains tried for names with fewer than `ndots` dots
    /// (overrides `resolv.conf`'s).
    pub fn search<S: Into<String>>(mut self, domains: impl IntoIterator<Item = S>) -> Self {
        self.search = Some(domains.into_iter().map(|d| normalize(&d.into())).collect());
        self
    }

    /// Names with at least this many dots are tried as given before the
    /// search list (default 1).
    pub fn ndots(mut self, n: u32) -> Self {
        self.ndots = Some(n);
        self
    }

    /// How long to wait for one server's answer before trying the next
    /// (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Rounds over all nameservers before giving up (default 2).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = Some(attempts);
        self
    }

    /// Spread queries over the nameservers round-robin instead of always
    /// asking the first one first (default off).
    pub fn rotate(mut self, rotate: bool) -> Self {
        self.rotate = Some(rotate);
        self
    }

    /// Turns the answer cache on (with [`DEFAULT_CACHE_SIZE`] entries) or
    /// off.
    pub fn cache(mut self, enabled: bool) -> Self {
        self.cache_size = if enabled { DEFAULT_CACHE_SIZE } else { 0 };
        self
    }

    /// Most (name, type) answers kept in the cache; 0 turns it off.
    pub fn cache_size(mut self, entries: usize) -> Self {
        self.cache_size = entries;
        self
    }

    /// Most exchanges with nameservers in flight at once (default
    /// [`DEFAULT_MAX_IN_FLIGHT`]); further lookups wait their turn. Each
    /// exchange sends up to two datagrams (A and AAAA); a burst larger than
    /// the server's socket buffer gets datagrams dropped, and each drop
    /// costs a whole `timeout`.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Builds the resolver. Files are read now and again when they change.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for zero attempts or a zero timeout.
    pub fn build(self) -> io::Result<Resolver> {
        if self.attempts == Some(0) || self.timeout == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "resolver attempts and timeout must be non-zero",
            ));
        }
        let inner = match self.mode {
            ResolverMode::System => Inner::System,
            ResolverMode::Green => Inner::Green(Green {
                conf: self.resolv_conf.clone().map(|p| Watched::new(p, ResolvConf::parse)),
                hosts: self.hosts_file.clone().map(|p| Watched::new(p, Hosts::parse)),
                cache: (self.cache_size > 0).then(|| Cache::new(self.cache_size)),
                next_server: AtomicUsize::new(0),
                in_flight: Limit::new(self.max_in_flight),
                overrides: self,
            }),
        };
        Ok(Resolver { inner: Arc::new(inner) })
    }
}

impl Resolver {
    /// A builder with nothing configured.
    pub fn builder() -> ResolverBuilder {
        ResolverBuilder::default()
    }

    /// The green resolver configured like the C library's: `/etc/hosts`
    /// and `/etc/resolv.conf`, both re-read when they change.
    ///
    /// ```
    /// let resolver = verdant::net::Resolver::from_system_conf();
    /// // "localhost" is in every /etc/hosts, so no query is sent.
    /// # if std::fs::read_to_string("/etc/hosts").unwrap_or_default().contains("localhost") {
    /// assert!(resolver.lookup_ip("localhost").unwrap().any(|ip| ip.is_loopback()));
    /// # }
    /// ```
    pub fn from_system_conf() -> Resolver {
        Resolver::builder()
            .resolv_conf("/etc/resolv.conf")
            .hosts_file("/etc/hosts")
            .build()
            .expect("default settings are valid")
    }

    /// The system resolver: `getaddrinfo` on the [`crate::spawn_blocking`]
    /// pool (see [`ResolverMode::System`]).
    ///
    /// ```
    /// let resolver = verdant::net::Resolver::getaddrinfo();
    /// // An IP literal is returned as is, in every mode.
    /// let ips: Vec<_> = resolver.lookup_ip("192.0.2.7").unwrap().collect();
    /// assert_eq!(ips, ["192.0.2.7".parse::<std::net::IpAddr>().unwrap()]);
    /// ```
    pub fn getaddrinfo() -> Resolver {
        Resolver {
            inner: Arc::new(Inner::System),
        }
    }

    /// This resolver's mode.
    ///
    /// ```
    /// use verdant::net::{Resolver, ResolverMode};
    /// assert_eq!(Resolver::getaddrinfo().mode(), ResolverMode::System);
    /// ```
    pub fn mode(&self) -> ResolverMode {
        match &*self.inner {
            Inner::Green(_) => ResolverMode::Green,
            Inner::System => ResolverMode::System,
        }
    }

    /// Resolves `host` to its addresses: IPv4 first, then IPv6.
    ///
    /// `host` may also be an IP literal, returned as is. From a green
    /// thread this parks the green thread only; from an OS thread it blocks
    /// that thread.
    ///
    /// # Errors
    ///
    /// An `io::Error` carrying a [`ResolveError`] that
    /// names `host` and the cause: `NotFound` (NXDOMAIN, NODATA),
    /// `TimedOut`, `ConnectionRefused` (REFUSED), `InvalidInput` (not a
    /// valid name), `Other` (SERVFAIL, no nameserver configured, ...).
    ///
    /// ```
    /// let r = verdant::net::Resolver::builder().build().unwrap();
    /// let ips: Vec<_> = r.lookup_ip("::1").unwrap().collect();
    /// assert_eq!(ips, [std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)]);
    /// ```
    pub fn lookup_ip(&self, host: &str) -> io::Result<LookupHost> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(LookupHost::new(vec![ip]));
        }
        let addrs = match &*self.inner {
            Inner::Green(g) => g.lookup(host).map_err(io::Error::from)?,
            Inner::System => getaddrinfo(host)?,
        };
        Ok(LookupHost::new(addrs))
    }

    /// Resolves `host` and pairs each address with `port`.
    ///
    /// ```
    /// let r = verdant::net::Resolver::builder().build().unwrap();
    /// let addrs: Vec<_> = r.lookup_host_port("127.0.0.1", 80).unwrap().collect();
    /// assert_eq!(addrs, ["127.0.0.1:80".parse().unwrap()]);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`lookup_ip`](Self::lookup_ip).
    pub fn lookup_host_port(&self, host: &str, port: u16) -> io::Result<std::vec::IntoIter<SocketAddr>> {
        let addrs: Vec<SocketAddr> = self.lookup_ip(host)?.map(|ip| SocketAddr::new(ip, port)).collect();
        Ok(addrs.into_iter())
    }

    /// Forgets every cached answer (no-op in system mode or without cache).
    ///
    /// ```
    /// verdant::net::Resolver::builder().build().unwrap().clear_cache();
    /// ```
    pub fn clear_cache(&self) {
        if let Inner::Green(Green { cache: Some(c), .. }) = &*self.inner {
            c.clear();
        }
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Inner::System => f.debug_struct("Resolver").field("mode", &ResolverMode::System).finish(),
            Inner::Green(g) => f
                .debug_struct("Resolver")
                .field("mode", &ResolverMode::Green)
                .field("resolv_conf", &g.conf.as_ref().map(Watched::path))
                .field("hosts_file", &g.hosts.as_ref().map(Watched::path))
                .field("cached", &g.cache.as_ref().map(Cache::len))
                .finish_non_exhaustive(),
        }
    }
}

/// `getaddrinfo` through std, on the blocking pool when called from a
/// green thread.
fn getaddrinfo(host: &str) -> io::Result<Vec<IpAddr>> {
    use std::net::ToSocketAddrs;
    let owned = host.to_owned();
    let run = move || -> io::Result<Vec<IpAddr>> {
        let mut ips: Vec<IpAddr> = Vec::new();
        for sa in (owned.as_str(), 0).to_socket_addrs()? {
            if !ips.contains(&sa.ip()) {
                ips.push(sa.ip());
            }
        }
        Ok(ips)
    };
    let result = if crate::runtime::park::current_task().is_some() {
        crate::spawn_blocking(run)
            .join()
            .unwrap_or_else(|e| Err(io::Error::other(e.to_string())))
    } else {
        run()
    };
    result.map_err(|e| {
        let kind = e.kind();
        let err = ResolveError::new(
            host,
            ResolveErrorKind::Other {
                message: format!("getaddrinfo: {e}"),
            },
        );
        io::Error::new(kind, err)
    })
}

/// The green resolver's state.
struct Green {
    conf: Option<Watched<ResolvConf>>,
    hosts: Option<Watched<Hosts>>,
    cache: Option<Cache>,
    next_server: AtomicUsize,
    in_flight: Limit,
    /// Explicit settings, which win over `conf`'s.
    overrides: ResolverBuilder,
}

type LookupResult = Result<Vec<IpAddr>, ResolveErrorKind>;

impl Green {
    fn settings(&self) -> ResolvConf {
        let base = self.conf.as_ref().map(|c| (*c.get()).clone()).unwrap_or_default();
        let o = &self.overrides;
        ResolvConf {
            nameservers: o.nameservers.clone().unwrap_or_else(|| {
                let mut servers = base.nameservers;
                if let Some(port) = o.nameserver_port {
                    servers.iter_mut().for_each(|s| s.set_port(port));
                }
                servers
            }),
            search: o.search.clone().unwrap_or(base.search),
            ndots: o.ndots.unwrap_or(base.ndots),
            timeout: o.timeout.unwrap_or(base.timeout),
            attempts: o.attempts.unwrap_or(base.attempts),
            rotate: o.rotate.unwrap_or(base.rotate),
        }
    }

    fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let fail = |kind| ResolveError::new(host, kind);
        let name = normalize(host);
        validate(host, &name).map_err(fail)?;
        if let Some(hosts) = &self.hosts {
            if let Some(addrs) = hosts.get().lookup(&name) {
                #[cfg(feature = "tracing")]
                tracing::debug!(target: "verdant::dns", host, "answered from the hosts file");
                return Ok(ipv4_first(addrs.to_vec()));
            }
        }
        let settings = self.settings();
        if settings.nameservers.is_empty() {
            return Err(fail(ResolveErrorKind::NoNameservers));
        }
        let mut not_found = None;
        let mut failure = None;
        for candidate in candidates(host, &name, &settings) {
            match self.resolve_fqdn(&candidate, &settings) {
                Ok(addrs) => return Ok(addrs),
                Err(e) if e.is_negative_answer() => {
                    not_found.get_or_insert(e);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        Err(fail(failure.or(not_found).unwrap_or(ResolveErrorKind::Other {
            message: "no name to query".into(),
        })))
    }

    /// Resolves one fully qualified name (normalised, without the final
    /// dot): A and AAAA, from the cache or the nameservers.
    fn resolve_fqdn(&self, fqdn: &str, settings: &ResolvConf) -> LookupResult {
        const TYPES: [RecordType; 2] = [RecordType::A, RecordType::AAAA];
        let mut results: [Option<(Answer, SocketAddr, bool)>; 2] = [None, None];
        if let Some(cache) = &self.cache {
            for (slot, t) in results.iter_mut().zip(TYPES) {
                *slot = cache.get(fqdn, u16::from(t)).map(|c| match c {
                    Cached::Addrs(a) => (Answer::Addrs(a.to_vec(), 0), unspecified(), true),
                    Cached::NxDomain(s) => (Answer::NxDomain(0), s, true),
                    Cached::NoData(s) => (Answer::NoData(0), s, true),
                });
            }
        }
        let mut failures: [Option<(Failure, SocketAddr)>; 2] = [None, None];
        if results.iter().any(Option::is_none) {
            let name = Name::from_utf8(format!("{fqdn}."))
                .map_err(|e| ResolveErrorKind::InvalidName { reason: e.to_string() })?;
            self.ask_servers(&name, fqdn, settings, &TYPES, &mut results, &mut failures);
        }
        merge(results, failures, settings)
    }

    /// Queries the servers for the types whose result is still missing.
    fn ask_servers(
        &self,
        name: &Name,
        fqdn: &str,
        settings: &ResolvConf,
        types: &[RecordType; 2],
        results: &mut [Option<(Answer, SocketAddr, bool)>; 2],
        failures: &mut [Option<(Failure, SocketAddr)>; 2],
    ) {
        // A dump shows the name beside the socket wait of each query.
        let _label = Label::new(|| format!("DNS {fqdn}"));
        let servers = &settings.nameservers;
        let start = if settings.rotate {
            self.next_server.fetch_add(1, Ordering::Relaxed) % servers.len()
        } else {
            0
        };
        for _ in 0..settings.attempts {
            for i in 0..servers.len() {
                let server = servers[(start + i) % servers.len()];
                let pending: Vec<usize> = (0..2).filter(|&k| results[k].is_none()).collect();
                if pending.is_empty() {
                    return;
                }
                let qtypes: Vec<RecordType> = pending.iter().map(|&k| types[k]).collect();
                #[cfg(feature = "tracing")]
                tracing::debug!(target: "verdant::dns", name = fqdn, %server, types = ?qtypes, "querying");
                let outcomes = {
                    let _permit = self.in_flight.acquire();
                    query::exchange(server, name, &qtypes, settings.timeout)
                };
                for (k, outcome) in pending.into_iter().zip(outcomes) {
                    self.record(fqdn, types[k], server, outcome, &mut results[k], &mut failures[k]);
                }
            }
        }
    }

    fn record(
        &self,
        fqdn: &str,
        t: RecordType,
        server: SocketAddr,
        outcome: Outcome,
        result: &mut Option<(Answer, SocketAddr, bool)>,
        failure: &mut Option<(Failure, SocketAddr)>,
    ) {
        match outcome {
            Ok(answer) => {
                if let Some(cache) = &self.cache {
                    let (value, ttl) = match &answer {
                        Answer::Addrs(a, ttl) => (Cached::Addrs(a.clone().into()), *ttl),
                        Answer::NxDomain(ttl) => (Cached::NxDomain(server), *ttl),
                        Answer::NoData(ttl) => (Cached::NoData(server), *ttl),
                    };
                    cache.insert(fqdn, u16::from(t), value, ttl);
                }
                *result = Some((answer, server, false));
            }
            // Keep the most telling failure: an answer-ish one over a timeout.
            Err(Failure::TimedOut) if failure.is_some() => {}
            Err(f) => *failure = Some((f, server)),
        }
    }
}

/// Combines the per-type results: any addresses win (IPv4 first), then
/// NXDOMAIN, then a server failure, then NODATA.
fn merge(
    results: [Option<(Answer, SocketAddr, bool)>; 2],
    failures: [Option<(Failure, SocketAddr)>; 2],
    settings: &ResolvConf,
) -> LookupResult {
    let mut addrs = Vec::new();
    let mut nx = None;
    let mut nodata = None;
    for (answer, server, cached) in results.iter().flatten() {
        match answer {
            Answer::Addrs(a, _) => addrs.extend_from_slice(a),
            Answer::NxDomain(_) => {
                nx = Some(ResolveErrorKind::NxDomain {
                    server: *server,
                    cached: *cached,
                })
            }
            Answer::NoData(_) => {
                nodata = Some(ResolveErrorKind::NoData {
                    server: *server,
                    cached: *cached,
                })
            }
        }
    }
    if !addrs.is_empty() {
        return Ok(addrs);
    }
    if let Some(e) = nx {
        return Err(e);
    }
    if let Some((f, server)) = failures.into_iter().flatten().next() {
        return Err(match f {
            Failure::ServFail => ResolveErrorKind::ServFail { server },
            Failure::Refused => ResolveErrorKind::Refused { server },
            Failure::TimedOut => ResolveErrorKind::TimedOut {
                servers: settings.nameservers.clone(),
                attempts: settings.attempts,
                timeout: settings.timeout,
            },
            Failure::Rcode(rc) => ResolveErrorKind::Other {
                message: format!("the nameserver answered {rc} ({server})"),
            },
            Failure::Io(e) => ResolveErrorKind::Other {
                message: format!("cannot query {server}: {e}"),
            },
        });
    }
    Err(nodata.unwrap_or(ResolveErrorKind::Other {
        message: "no answer".into(),
    }))
}

fn unspecified() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}

fn ipv4_first(mut addrs: Vec<IpAddr>) -> Vec<IpAddr> {
    addrs.sort_by_key(IpAddr::is_ipv6); // stable: file order within a family
    addrs
}

fn validate(host: &str, name: &str) -> Result<(), ResolveErrorKind> {
    let reason = if name.is_empty() {
        "empty name"
    } else if host.len() > 254 {
        "longer than 253 characters"
    } else if name.split('.').any(str::is_empty) {
        "empty label"
    } else {
        return Ok(());
    };
    Err(ResolveErrorKind::InvalidName { reason: reason.into() })
}

/// The names to query for `host`, in glibc's order: a name ending in a dot
/// is absolute; one with at least `ndots` dots is tried as is first, then
/// with each search domain; one with fewer dots the other way round.
fn candidates(host: &str, name: &str, settings: &ResolvConf) -> Vec<String> {
    if host.ends_with('.') {
        return vec![name.to_owned()];
    }
    let searched = settings.search.iter().map(|d| format!("{name}.{d}"));
    let dots = name.matches('.').count() as u32;
    if dots >= settings.ndots {
        std::iter::once(name.to_owned()).chain(searched).collect()
    } else {
        searched.chain(std::iter::once(name.to_owned())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_order() {
        let s = ResolvConf {
            search: vec!["a.test".into(), "b.test".into()],
            ndots: 1,
            ..ResolvConf::default()
        };
        assert_eq!(candidates("db", "db", &s), ["db.a.test", "db.b.test", "db"]);
        assert_eq!(candidates("x.y", "x.y", &s), ["x.y", "x.y.a.test", "x.y.b.test"]);
        assert_eq!(candidates("db.", "db", &s), ["db"]);
    }

    #[test]
    fn invalid_names() {
        assert!(validate("", "").is_err());
        assert!(validate("a..b", "a..b").is_err());
        assert!(validate("a.b.", "a.b").is_ok());
    }
}
