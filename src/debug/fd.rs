//! What a file descriptor is, in words, read from `/proc` (no `unsafe`,
//! no call on the descriptor itself): a socket's addresses and TCP state
//! from `/proc/net/{tcp,tcp6,udp,udp6}` by inode, a pidfd's child from
//! `/proc/self/fdinfo`, anything else by its `/proc/self/fd` link.
//!
//! A dump reads the socket tables once, and only if some thread waits on
//! a socket. The descriptor may have been closed (and its number reused)
//! between the park and the dump: the words then describe what the number
//! names now, which is all a snapshot can promise.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One socket of the kernel's tables.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sock {
    pub(crate) local: SocketAddr,
    pub(crate) peer: SocketAddr,
    /// TCP state (`01` established, `02` SYN sent, `0A` listen, ...);
    /// `None` for UDP.
    pub(crate) tcp_state: Option<u8>,
}

/// The sockets of this network namespace, by inode.
#[derive(Debug, Default)]
pub(crate) struct Sockets(Option<HashMap<u64, Sock>>);

impl Sockets {
    fn table(&mut self) -> &HashMap<u64, Sock> {
        self.0.get_or_insert_with(|| {
            let mut map = HashMap::new();
            for (file, tcp) in [("tcp", true), ("tcp6", true), ("udp", false), ("udp6", false)] {
                if let Ok(text) = std::fs::read_to_string(format!("/proc/net/{file}")) {
                    parse_table(&text, tcp, &mut map);
                }
            }
            map
        })
    }

    /// Describes a wait on `fd` for reading (`read`) or writing.
    pub(crate) fn describe(&mut self, fd: u64, read: bool) -> (&'static str, String) {
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(inode) = link.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
            let sock = inode.parse().ok().and_then(|i| self.table().get(&i).copied());
            return describe_socket(fd, read, sock);
        }
        if let Some(pid) = pidfd_pid(fd) {
            return ("child", format!("child pid {pid} (pidfd {fd})"));
        }
        let verb = if read { "read" } else { "write" };
        let what = if link.is_empty() { "fd".to_owned() } else { link };
        (verb, format!("{verb} on {what} (fd {fd})"))
    }
}

fn describe_socket(fd: u64, read: bool, sock: Option<Sock>) -> (&'static str, String) {
    let Some(s) = sock else {
        let verb = if read { "read" } else { "write" };
        return (verb, format!("{verb} on socket (fd {fd})"));
    };
    match (s.tcp_state, read) {
        (Some(0x0A), _) => ("accept", format!("accept on {} (fd {fd})", s.local)),
        (Some(0x02), _) => ("connect", format!("connect to {} from {} (fd {fd})", s.peer, s.local)),
        (None, true) => ("recv", format!("recv on udp {} (fd {fd})", s.local)),
        (None, false) => ("send", format!("send on udp {} (fd {fd})", s.local)),
        (Some(_), true) => ("read", format!("read on {} ← {} (fd {fd})", s.local, s.peer)),
        (Some(_), false) => ("write", format!("write on {} → {} (fd {fd})", s.local, s.peer)),
    }
}

/// The pid a pidfd refers to (its fdinfo's `Pid:` line).
fn pidfd_pid(fd: u64) -> Option<i64> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|p| p.trim().parse().ok())
}

/// Parses one `/proc/net/{tcp,udp}[6]` table into `map`.
fn parse_table(text: &str, tcp: bool, map: &mut HashMap<u64, Sock>) {
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
        if f.len() < 10 {
            continue;
        }
        let (Some(local), Some(peer), Ok(st), Ok(inode)) = (
            parse_addr(f[1]),
            parse_addr(f[2]),
            u8::from_str_radix(f[3], 16),
            f[9].parse::<u64>(),
        ) else {
            continue;
        };
        let tcp_state = tcp.then_some(st);
        map.insert(inode, Sock { local, peer, tcp_state });
    }
}

/// `0100007F:1F90` (IPv4, the kernel's byte order) or 32 hex digits for
/// IPv6 (four 32-bit words, each in the kernel's byte order).
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(ip, 16).ok()?.to_le_bytes())),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok()?;
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernels_addresses() {
        assert_eq!(parse_addr("0100007F:1F90"), Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(
            parse_addr("00000000000000000000000001000000:0050"),
            Some("[::1]:80".parse().unwrap())
        );
        assert_eq!(parse_addr("zz:1"), None);
    }

    #[test]
    fn describes_a_listener_and_a_connection() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let mut socks = Sockets::default();
        use std::os::fd::AsRawFd;
        let (kind, text) = socks.describe(l.as_raw_fd() as u64, true);
        assert_eq!(kind, "accept");
        assert!(text.contains(&l.local_addr().unwrap().to_string()), "{text}");
        let (kind, text) = socks.describe(c.as_raw_fd() as u64, true);
        assert_eq!(kind, "read");
        assert!(
            text.contains(&format!("{} ← {}", c.local_addr().unwrap(), c.peer_addr().unwrap())),
            "{text}"
        );
    }
}
