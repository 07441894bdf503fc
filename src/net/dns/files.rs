//! The resolver's configuration files: `/etc/hosts` and `/etc/resolv.conf`,
//! each re-read when it changes.
//!
//! A [`Watched`] file is `stat`ed on every lookup (a cheap local syscall);
//! when its modification time, size or inode differ from the last read, it
//! is read and parsed again. A missing file parses as empty.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

/// Identity of one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    ino: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        ino: meta.ino(),
    })
}

/// A parsed file, re-parsed when it changes on disk.
pub(crate) struct Watched<T> {
    path: PathBuf,
    parse: fn(&[u8]) -> T,
    state: Mutex<(Option<Stamp>, Arc<T>)>,
}

impl<T> Watched<T> {
    pub(crate) fn new(path: PathBuf, parse: fn(&[u8]) -> T) -> Watched<T> {
        let now = stamp(&path);
        let value = Arc::new(parse(&std::fs::read(&path).unwrap_or_default()));
        Watched {
            path,
            parse,
            state: Mutex::new((now, value)),
        }
    }

    /// The current contents, re-read if the file changed.
    pub(crate) fn get(&self) -> Arc<T> {
        let now = stamp(&self.path);
        let mut state = self.state.lock();
        if state.0 != now {
            let bytes = std::fs::read(&self.path).unwrap_or_default();
            *state = (now, Arc::new((self.parse)(&bytes)));
        }
        state.1.clone()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl<T> std::fmt::Debug for Watched<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A hosts file: lower-case name (no trailing dot) → addresses, in file
/// order.
#[derive(Debug, Default)]
pub(crate) struct Hosts {
    names: HashMap<String, Vec<IpAddr>>,
}

impl Hosts {
    /// Parses `hosts(5)` syntax: `ADDRESS NAME [ALIASES...]`, `#` comments.
    /// Lines with an unparsable address (or a scoped IPv6 one) are skipped.
    pub(crate) fn parse(bytes: &[u8]) -> Hosts {
        let mut names: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for line in String::from_utf8_lossy(bytes).lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let Some(Ok(ip)) = fields.next().map(str::parse::<IpAddr>) else {
                continue;
            };
            for name in fields {
                let addrs = names.entry(normalize(name)).or_default();
                if !addrs.contains(&ip) {
                    addrs.push(ip);
                }
            }
        }
        Hosts { names }
    }

    /// The addresses listed for `name` (already normalised).
    pub(crate) fn lookup(&self, name: &str) -> Option<&[IpAddr]> {
        self.names.get(name).map(Vec::as_slice)
    }
}

/// Lower-cases a name and strips one trailing dot.
pub(crate) fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// What `resolv.conf` says, as the resolver uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvConf {
    pub(crate) nameservers: Vec<SocketAddr>,
    pub(crate) search: Vec<String>,
    pub(crate) ndots: u32,
    pub(crate) timeout: Duration,
    pub(crate) attempts: u32,
    pub(crate) rotate: bool,
}

impl Default for ResolvConf {
    /// glibc's defaults, but no nameserver: glibc falls back to
    /// `127.0.0.1`, we report "no nameserver configured" instead.
    fn default() -> ResolvConf {
        ResolvConf {
            nameservers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
            rotate: false,
        }
    }
}

impl ResolvConf {
    /// Parses `resolv.conf(5)` with the `resolv-conf` crate, ignoring bad
    /// lines as glibc does, and clamping options to glibc's limits.
    pub(crate) fn parse(bytes: &[u8]) -> ResolvConf {
        let (conf, _errors) = resolv_conf::Config::parse_with_errors(bytes);
        let nameservers = conf
            .nameservers
            .iter()
            .map(|ip| match ip {
                resolv_conf::ScopedIp::V4(v4) => SocketAddr::from((*v4, 53)),
                resolv_conf::ScopedIp::V6(v6, scope) => {
                    let scope_id = scope.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0);
                    SocketAddr::V6(SocketAddrV6::new(*v6, 53, 0, scope_id))
                }
            })
            .collect();
        ResolvConf {
            nameservers,
            search: conf.get_last_search_or_domain().map(|d| normalize(d)).collect(),
            ndots: conf.ndots.min(15),
            timeout: Duration::from_secs(u64::from(conf.timeout.clamp(1, 30))),
            attempts: conf.attempts.clamp(1, 5),
            rotate: conf.rotate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse() {
        let h = Hosts::parse(b"# c\n127.0.0.1 localhost Local.Example.\n::1 localhost\nbogus x\n10.0.0.1 a # b\n");
        assert_eq!(
            h.lookup("localhost").unwrap(),
            ["127.0.0.1".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]
        );
        assert_eq!(h.lookup("local.example").unwrap().len(), 1);
        assert!(h.lookup("b").is_none());
        assert!(h.lookup("x").is_none());
    }

    #[test]
    fn resolv_conf_parse() {
        let c = ResolvConf::parse(b"nameserver 127.0.0.1\nnameserver ::1\nsearch a.test b.test\noptions ndots:2 timeout:3 attempts:4 rotate\n");
        assert_eq!(
            c.nameservers,
            ["127.0.0.1:53".parse().unwrap(), "[::1]:53".parse().unwrap()]
        );
        assert_eq!(c.search, ["a.test", "b.test"]);
        assert_eq!(
            (c.ndots, c.timeout, c.attempts, c.rotate),
            (2, Duration::from_secs(3), 4, true)
        );
        assert_eq!(ResolvConf::parse(b""), ResolvConf::default());
    }
}
