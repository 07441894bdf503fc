//! One exchange with one nameserver: build the questions, send them, wait
//! for the matching answers, classify them.
//!
//! ```text
//! exchange(server, name, [A, AAAA], timeout):
//!   fresh UDP socket, random source port, connected to server
//!   send A (random id) and AAAA (another random id)      both in flight
//!   until both answered or deadline:
//!     recv ── not a response to one of our questions? ──▶ ignore, keep waiting
//!       │     (id, QR flag, opcode, question name/type/class must all match)
//!       ├─ TC set ──▶ ask the same question again over TCP
//!       └─ classify: addresses | NXDOMAIN | NODATA | SERVFAIL | REFUSED | ...
//! ```
//!
//! Messages are built and parsed by `hickory-proto`; nothing here touches
//! the wire format by hand except TCP's two-byte length prefix.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use super::transport::{TcpStream, UdpSocket};

/// Longest CNAME chain followed inside one answer.
const MAX_CHAIN: usize = 16;
/// Receive buffer for UDP answers (without EDNS servers send at most 512
/// bytes; a larger datagram is accepted anyway).
const UDP_BUF: usize = 4096;

/// 64 unpredictable bits from std's per-process random SipHash keys.
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish()
}

/// A useful answer about one (name, type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Addresses and the TTL to cache them for.
    Addrs(Vec<IpAddr>, u32),
    /// The name does not exist; negative TTL (0: do not cache).
    NxDomain(u32),
    /// The name exists without records of this type; negative TTL.
    NoData(u32),
}

/// Why one server gave no useful answer for one (name, type).
#[derive(Debug)]
pub(crate) enum Failure {
    ServFail,
    Refused,
    TimedOut,
    Rcode(ResponseCode),
    Io(io::Error),
}

pub(crate) type Outcome = Result<Answer, Failure>;

/// Asks `server` every type in `qtypes` about `name` (fully qualified), in
/// parallel on one UDP socket, falling back to TCP for truncated answers.
/// Returns one outcome per type, in `qtypes` order.
pub(crate) fn exchange(server: SocketAddr, name: &Name, qtypes: &[RecordType], timeout: Duration) -> Vec<Outcome> {
    let deadline = Instant::now() + timeout;
    let mut out: Vec<Option<Outcome>> = qtypes.iter().map(|_| None).collect();
    if let Err(e) = exchange_udp(server, name, qtypes, deadline, timeout, &mut out) {
        let kind = e.kind();
        for slot in out.iter_mut().filter(|o| o.is_none()) {
            *slot = Some(Err(match kind {
                io::ErrorKind::TimedOut => Failure::TimedOut,
                _ => Failure::Io(io::Error::new(kind, e.to_string())),
            }));
        }
    }
    out.into_iter().map(|o| o.unwrap_or(Err(Failure::TimedOut))).collect()
}

fn exchange_udp(
    server: SocketAddr,
    name: &Name,
    qtypes: &[RecordType],
    deadline: Instant,
    timeout: Duration,
    out: &mut [Option<Outcome>],
) -> io::Result<()> {
    let sock = UdpSocket::connect(server)?;
    let mut ids: Vec<u16> = Vec::with_capacity(qtypes.len());
    for &qtype in qtypes {
        let (id, bytes) = build_query(name, qtype, &ids)?;
        ids.push(id);
        sock.send(&bytes, deadline)?;
    }
    let mut buf = vec![0u8; UDP_BUF];
    while out.iter().any(Option::is_none) {
        let n = sock.recv(&mut buf, deadline)?;
        let Ok(msg) = Message::from_vec(&buf[..n]) else {
            continue; // garbage: ignore
        };
        let Some(i) = (0..qtypes.len()).find(|&i| out[i].is_none() && is_answer_to(&msg, ids[i], name, qtypes[i]))
        else {
            continue; // not an answer to a pending question: ignore
        };
        out[i] = Some(if msg.metadata.truncation {
            exchange_tcp(server, name, qtypes[i], Instant::now() + timeout)
        } else {
            classify(&msg, name, qtypes[i])
        });
    }
    Ok(())
}

/// Asks one question over TCP (after a truncated UDP answer).
pub(crate) fn exchange_tcp(server: SocketAddr, name: &Name, qtype: RecordType, deadline: Instant) -> Outcome {
    let run = || -> io::Result<Outcome> {
        let stream = TcpStream::connect(server, deadline)?;
        let (id, bytes) = build_query(name, qtype, &[])?;
        let len = u16::try_from(bytes.len()).map_err(|_| io::Error::other("query too long"))?;
        let mut framed = Vec::with_capacity(bytes.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&bytes);
        stream.write_all(&framed, deadline)?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len, deadline)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut body, deadline)?;
        let msg = Message::from_vec(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if !is_answer_to(&msg, id, name, qtype) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "TCP answer does not match the question",
            ));
        }
        Ok(classify(&msg, name, qtype))
    };
    match run() {
        Ok(outcome) => outcome,
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(Failure::TimedOut),
        Err(e) => Err(Failure::Io(e)),
    }
}

/// A recursive query with a fresh random id different from `avoid`.
fn build_query(name: &Name, qtype: RecordType, avoid: &[u16]) -> io::Result<(u16, Vec<u8>)> {
    // `Message::query` draws its id from hickory's CSPRNG (rand's ThreadRng).
    let mut msg = Message::query();
    while avoid.contains(&msg.metadata.id) {
        msg.metadata.id = Message::query().metadata.id;
    }
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(name.clone(), qtype));
    let bytes = msg
        .to_vec()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    Ok((msg.metadata.id, bytes))
}

/// Whether `msg` is the response to our question `(id, name, qtype, IN)`.
fn is_answer_to(msg: &Message, id: u16, name: &Name, qtype: RecordType) -> bool {
    let m = &msg.metadata;
    m.id == id
        && m.message_type == MessageType::Response
        && m.op_code == OpCode::Query
        && msg.queries.len() == 1
        && msg.queries[0].query_type == qtype
        && msg.queries[0].query_class == DNSClass::IN
        && msg.queries[0].name == *name // case-insensitive
}

/// Turns a response into an answer or a failure, following the CNAME chain
/// from `name` inside the answer section.
fn classify(msg: &Message, name: &Name, qtype: RecordType) -> Outcome {
    match msg.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Ok(Answer::NxDomain(negative_ttl(msg))),
        ResponseCode::ServFail => return Err(Failure::ServFail),
        ResponseCode::Refused => return Err(Failure::Refused),
        other => return Err(Failure::Rcode(other)),
    }
    let mut target = name.clone();
    let mut ttl = u32::MAX;
    for _ in 0..MAX_CHAIN {
        let mut addrs = Vec::new();
        let mut next = None;
        for r in msg
            .answers
            .iter()
            .filter(|r| r.name == target && r.dns_class == DNSClass::IN)
        {
            match (&r.data, qtype) {
                (RData::A(a), RecordType::A) => addrs.push((IpAddr::from(a.0), r.ttl)),
                (RData::AAAA(a), RecordType::AAAA) => addrs.push((IpAddr::from(a.0), r.ttl)),
                (RData::CNAME(c), _) => next = Some((c.0.clone(), r.ttl)),
                _ => {}
            }
        }
        if !addrs.is_empty() {
            let min = addrs.iter().map(|a| a.1).min().unwrap_or(0).min(ttl);
            let mut ips: Vec<IpAddr> = Vec::with_capacity(addrs.len());
            for (ip, _) in addrs {
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
            return Ok(Answer::Addrs(ips, min));
        }
        match next {
            Some((n, t)) => {
                target = n;
                ttl = ttl.min(t);
            }
            None => break,
        }
    }
    Ok(Answer::NoData(negative_ttl(msg)))
}

/// RFC 2308 §5: `min(SOA TTL, SOA MINIMUM)` of the authority's SOA, or 0
/// (do not cache) without one.
fn negative_ttl(msg: &Message) -> u32 {
    msg.authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, CNAME, SOA};
    use hickory_proto::rr::Record;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn response(id: u16, q: &Name, t: RecordType) -> Message {
        let mut m = Message::response(id, OpCode::Query);
        m.add_query(Query::query(q.clone(), t));
        m
    }

    #[test]
    fn validation_and_cname_chain() {
        let q = n("www.example.test.");
        let mut m = response(7, &q, RecordType::A);
        m.add_answer(Record::from_rdata(
            q.clone(),
            300,
            RData::CNAME(CNAME(n("b.example.test."))),
        ));
        m.add_answer(Record::from_rdata(
            n("B.example.test."),
            60,
            RData::A(A::new(10, 0, 0, 1)),
        ));
        m.add_answer(Record::from_rdata(n("other.test."), 1, RData::A(A::new(10, 0, 0, 9))));
        assert!(is_answer_to(&m, 7, &n("WWW.example.test."), RecordType::A));
        assert!(!is_answer_to(&m, 8, &q, RecordType::A));
        assert!(!is_answer_to(&m, 7, &q, RecordType::AAAA));
        assert!(!is_answer_to(&m, 7, &n("x.test."), RecordType::A));
        let addrs = vec!["10.0.0.1".parse().unwrap()];
        assert_eq!(classify(&m, &q, RecordType::A).unwrap(), Answer::Addrs(addrs, 60));
        let mut query = m.clone();
        query.metadata.message_type = MessageType::Query;
        assert!(!is_answer_to(&query, 7, &q, RecordType::A));
    }

    #[test]
    fn negative_answers() {
        let q = n("nope.test.");
        let mut m = response(1, &q, RecordType::A);
        m.metadata.response_code = ResponseCode::NXDomain;
        assert_eq!(classify(&m, &q, RecordType::A).unwrap(), Answer::NxDomain(0));
        let soa = SOA::new(n("test."), n("admin.test."), 1, 2, 3, 4, 30);
        m.add_authority(Record::from_rdata(n("test."), 100, RData::SOA(soa)));
        assert_eq!(classify(&m, &q, RecordType::A).unwrap(), Answer::NxDomain(30));
        m.metadata.response_code = ResponseCode::NoError;
        assert_eq!(classify(&m, &q, RecordType::A).unwrap(), Answer::NoData(30));
        m.metadata.response_code = ResponseCode::ServFail;
        assert!(matches!(classify(&m, &q, RecordType::A), Err(Failure::ServFail)));
    }
}
