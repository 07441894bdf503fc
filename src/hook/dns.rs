//! The hooked `getaddrinfo`/`freeaddrinfo`.
//!
//! On a green thread, after `monkey_patch`:
//!
//! * a plain lookup (a host name, a numeric or no service, hints with no
//!   flags, as std's `ToSocketAddrs` makes) with a **green-mode** resolver
//!   is answered by verdant's resolver (the runtime's, else the global
//!   one: `/etc/hosts` and `/etc/resolv.conf`, as libc reads them), parking
//!   the green thread; the list is built here, in `malloc`ed nodes;
//! * anything else (flags such as `AI_CANONNAME`/`AI_ADDRCONFIG`, a named
//!   service, no host, or `VERDANT_RESOLVER=system`) runs the real
//!   `getaddrinfo` with the very same arguments on the blocking pool while
//!   the green thread parks: libc's exact answer, without blocking the
//!   worker.
//!
//! `freeaddrinfo` must tell the two kinds of list apart: verdant's heads
//! are kept in a set, consulted only while at least one of them is live
//! (a counter), so a program that never looked a name up green frees
//! libc's lists with no lock.

use std::collections::HashSet;
use std::ffi::CStr;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use libc::{addrinfo, c_char, c_int};

use super::entry::set_errno;
use super::{patched, real};
use crate::net::ResolverMode;
use crate::runtime::context;

/// How many of verdant's lists are live.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Their heads.
static HEADS: Mutex<Option<HashSet<usize>>> = Mutex::new(None);

/// `getaddrinfo(3)`: see the module docs.
///
/// # Safety
///
/// libc's contract for `getaddrinfo`.
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    if !patched() || !context::in_green() || res.is_null() {
        // SAFETY: forwarded unchanged.
        return unsafe { real::getaddrinfo(node, service, hints, res) };
    }
    // SAFETY: non-null arguments are valid per getaddrinfo's contract.
    let plan = unsafe { plan(node, service, hints) };
    match plan {
        Some(q) if crate::net::with_current_resolver(|r| r.mode()) == ResolverMode::Green => green(q, res),
        _ => on_pool(node, service, hints, res),
    }
}

/// A lookup verdant's resolver can answer as libc would.
struct Query {
    host: String,
    port: u16,
    family: c_int,
    socktype: c_int,
    protocol: c_int,
}

/// # Safety
///
/// Non-null pointers are valid (getaddrinfo's contract).
unsafe fn plan(node: *const c_char, service: *const c_char, hints: *const addrinfo) -> Option<Query> {
    if node.is_null() {
        return None;
    }
    // SAFETY: a non-null `node` is a NUL-terminated string.
    let host = unsafe { CStr::from_ptr(node) }.to_str().ok()?.to_owned();
    let port = if service.is_null() {
        0
    } else {
        // SAFETY: as `node`.
        unsafe { CStr::from_ptr(service) }.to_str().ok()?.parse::<u16>().ok()?
    };
    let (family, socktype, protocol, flags) = if hints.is_null() {
        (libc::AF_UNSPEC, 0, 0, 0)
    } else {
        // SAFETY: a non-null `hints` points to an addrinfo.
        let h = unsafe { &*hints };
        (h.ai_family, h.ai_socktype, h.ai_protocol, h.ai_flags)
    };
    let simple = flags == 0
        && [libc::AF_UNSPEC, libc::AF_INET, libc::AF_INET6].contains(&family)
        && [0, libc::SOCK_STREAM, libc::SOCK_DGRAM, libc::SOCK_RAW].contains(&socktype)
        && (protocol == 0 || socktype != 0);
    simple.then_some(Query {
        host,
        port,
        family,
        socktype,
        protocol,
    })
}

/// The answer of verdant's resolver, as a libc list.
fn green(q: Query, res: *mut *mut addrinfo) -> c_int {
    let looked = catch_unwind(AssertUnwindSafe(|| {
        crate::net::with_current_resolver(|r| r.lookup_ip(&q.host)).map(|l| l.collect::<Vec<IpAddr>>())
    }));
    let ips = match looked {
        Ok(Ok(ips)) => ips,
        Ok(Err(e)) => return eai_of(&e),
        Err(payload) => return interrupted(payload),
    };
    let kinds: &[(c_int, c_int)] = match q.socktype {
        0 => &[
            (libc::SOCK_STREAM, libc::IPPROTO_TCP),
            (libc::SOCK_DGRAM, libc::IPPROTO_UDP),
            (libc::SOCK_RAW, 0),
        ],
        libc::SOCK_STREAM => &[(libc::SOCK_STREAM, libc::IPPROTO_TCP)],
        libc::SOCK_DGRAM => &[(libc::SOCK_DGRAM, libc::IPPROTO_UDP)],
        _ => &[(libc::SOCK_RAW, 0)],
    };
    let mut nodes = Vec::new();
    for ip in ips {
        let fam = if ip.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
        if q.family != libc::AF_UNSPEC && q.family != fam {
            continue;
        }
        for &(st, proto) in kinds {
            let proto = if q.protocol != 0 { q.protocol } else { proto };
            match node(SocketAddr::new(ip, q.port), st, proto) {
                Some(n) => nodes.push(n),
                None => {
                    free_nodes(&nodes);
                    return libc::EAI_MEMORY;
                }
            }
        }
    }
    if nodes.is_empty() {
        return libc::EAI_NONAME;
    }
    for w in nodes.windows(2) {
        // SAFETY: every node is a live allocation of ours, not shared yet.
        unsafe { (*w[0]).ai_next = w[1] };
    }
    let head = nodes[0];
    {
        let mut heads = HEADS.lock().unwrap_or_else(|p| p.into_inner());
        heads.get_or_insert_with(HashSet::new).insert(head as usize);
        LIVE.fetch_add(1, Ordering::AcqRel);
    }
    // SAFETY: `res` is non-null (checked by the caller) and writable.
    unsafe { *res = head };
    0
}

/// One node: an `addrinfo` followed by its socket address, in one
/// zeroed `malloc` block (freed by [`free_nodes`]).
#[repr(C)]
struct Node {
    ai: addrinfo,
    addr: libc::sockaddr_storage,
}

fn node(addr: SocketAddr, socktype: c_int, protocol: c_int) -> Option<*mut addrinfo> {
    // SAFETY: calloc of one `Node`; checked for null below.
    let n = unsafe { libc::calloc(1, std::mem::size_of::<Node>()) }.cast::<Node>();
    if n.is_null() {
        return None;
    }
    let sa = socket2::SockAddr::from(addr);
    // SAFETY: `n` is a fresh, zeroed, exclusively owned `Node` (all-zero is
    // a valid addrinfo and sockaddr_storage); `sa` holds `sa.len()` bytes
    // of a socket address, which fit a sockaddr_storage.
    unsafe {
        std::ptr::copy_nonoverlapping(
            sa.as_ptr().cast::<u8>(),
            std::ptr::addr_of_mut!((*n).addr).cast::<u8>(),
            sa.len() as usize,
        );
        (*n).ai.ai_family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
        (*n).ai.ai_socktype = socktype;
        (*n).ai.ai_protocol = protocol;
        (*n).ai.ai_addrlen = sa.len();
        (*n).ai.ai_addr = std::ptr::addr_of_mut!((*n).addr).cast();
    }
    Some(n.cast())
}

fn free_nodes(nodes: &[*mut addrinfo]) {
    for &n in nodes {
        // SAFETY: each came from `node`'s calloc and is freed once.
        unsafe { libc::free(n.cast()) };
    }
}

/// `freeaddrinfo(3)`: frees verdant's lists itself, libc's through libc.
///
/// # Safety
///
/// libc's contract for `freeaddrinfo`.
#[no_mangle]
pub unsafe extern "C" fn freeaddrinfo(res: *mut addrinfo) {
    if LIVE.load(Ordering::Acquire) != 0 && !res.is_null() {
        let ours = {
            let mut heads = HEADS.lock().unwrap_or_else(|p| p.into_inner());
            heads.as_mut().is_some_and(|h| h.remove(&(res as usize)))
        };
        if ours {
            LIVE.fetch_sub(1, Ordering::AcqRel);
            let mut nodes = Vec::new();
            let mut n = res;
            while !n.is_null() {
                nodes.push(n);
                // SAFETY: a node of our list, still allocated.
                n = unsafe { (*n).ai_next };
            }
            free_nodes(&nodes);
            return;
        }
    }
    // SAFETY: forwarded unchanged.
    unsafe { real::freeaddrinfo(res) }
}

/// The real `getaddrinfo`, same arguments, on the blocking pool; the
/// green thread parks meanwhile. The job works on copies of the
/// arguments: a `verdant::timeout` unwinds the caller's join while the job
/// runs on (see `blocking::offload`), and the caller's pointers die with
/// its frame. A list the job gets after its caller has gone is freed by
/// the job.
fn on_pool(node: *const c_char, service: *const c_char, hints: *const addrinfo, res: *mut *mut addrinfo) -> c_int {
    // SAFETY: getaddrinfo's contract: `node` and `service` are null or
    // C strings, `hints` null or a valid `addrinfo`, for this call.
    let node = (!node.is_null()).then(|| unsafe { CStr::from_ptr(node) }.to_owned());
    // SAFETY: as above.
    let service = (!service.is_null()).then(|| unsafe { CStr::from_ptr(service) }.to_owned());
    // SAFETY: as above; only the four fields POSIX lets a caller set are
    // copied (the others must be zero or null).
    let hints = (!hints.is_null()).then(|| unsafe {
        let h = &*hints;
        (h.ai_flags, h.ai_family, h.ai_socktype, h.ai_protocol)
    });
    /// The job's result, unless its caller has left (`gone`).
    #[derive(Default)]
    struct Slot {
        done: Option<(c_int, usize)>,
        gone: bool,
    }
    let out = Arc::new(Mutex::new(Slot::default()));
    let slot = out.clone();
    let job = move || {
        let hints = hints.map(|(ai_flags, ai_family, ai_socktype, ai_protocol)| addrinfo {
            ai_flags,
            ai_family,
            ai_socktype,
            ai_protocol,
            ai_addrlen: 0,
            ai_addr: std::ptr::null_mut(),
            ai_canonname: std::ptr::null_mut(),
            ai_next: std::ptr::null_mut(),
        });
        let mut list: *mut addrinfo = std::ptr::null_mut();
        // SAFETY: pointers to the job's own copies, alive for the call.
        let rc = unsafe {
            real::getaddrinfo(
                node.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
                service.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
                hints.as_ref().map_or(std::ptr::null(), |h| h as *const addrinfo),
                &mut list,
            )
        };
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        if !slot.gone {
            slot.done = Some((rc, list as usize));
        } else if rc == 0 {
            // SAFETY: libc's list, handed to nobody: freed once.
            unsafe { real::freeaddrinfo(list) };
        }
        rc
    };
    let joined = catch_unwind(AssertUnwindSafe(|| crate::spawn_blocking(job).join()));
    let done = {
        let mut slot = out.lock().unwrap_or_else(|p| p.into_inner());
        slot.gone = true;
        slot.done.take()
    };
    match (joined, done) {
        (Ok(Ok(_)), Some((rc, list))) => {
            if rc == 0 {
                // SAFETY: `res` is non-null (checked) and writable.
                unsafe { *res = list as *mut addrinfo };
            }
            rc
        }
        (Err(payload), done) => {
            if let Some((0, list)) = done {
                // SAFETY: libc's list, not handed to anyone: freed once.
                unsafe { real::freeaddrinfo(list as *mut addrinfo) };
            }
            interrupted(payload)
        }
        _ => libc::EAI_FAIL,
    }
}

/// `EAI_*` for a resolver error.
fn eai_of(e: &io::Error) -> c_int {
    if e.get_ref().is_some_and(|i| i.is::<crate::Elapsed>()) {
        set_errno(libc::ETIMEDOUT);
        return libc::EAI_SYSTEM;
    }
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::InvalidInput => libc::EAI_NONAME,
        io::ErrorKind::TimedOut => libc::EAI_AGAIN,
        _ => libc::EAI_FAIL,
    }
}

/// An interrupt caught at the boundary: `EAI_SYSTEM` with errno
/// `ECANCELED` or `ETIMEDOUT` (see `wait`).
fn interrupted(payload: Box<dyn std::any::Any + Send>) -> c_int {
    set_errno(super::wait::interrupted(payload));
    libc::EAI_SYSTEM
}
