//! The per-descriptor table of the hooks: which descriptors are hooked
//! sockets, the blocking mode the program believes each has, and its
//! `SO_RCVTIMEO`/`SO_SNDTIMEO`.
//!
//! ```text
//! CHUNKS: [AtomicPtr<Chunk>; MAX_CHUNKS]      null until a descriptor of
//!            │                                the chunk is first hooked
//!            ▼
//! Chunk { state: [AtomicU32; CHUNK]           HOOKED | USER_NONBLOCK
//!         rcv, snd: [AtomicU64; CHUNK]        timeouts in ns, 0 = none
//!         reg: [Mutex<Option<Arc<Registration>>>; CHUNK] }
//! ```
//!
//! Lookups are lock-free: two relaxed-or-acquire loads (the chunk
//! pointer, then the state word). A chunk is allocated once, with a
//! compare-and-swap, by the first hooked descriptor in its range, and never
//! freed (at most `MAX_CHUNKS` of them, for the process's lifetime), so a
//! pointer once loaded stays valid. Only a green thread that must wait
//! takes the slot's mutex, to get (or make) the descriptor's reactor
//! registration; the pass-through path never does.
//!
//! Descriptor numbers are reused by the kernel: `close` clears the slot
//! (and drops the registration, deregistering while the descriptor is
//! still open) *before* the real `close`, so a descriptor that reuses the
//! number starts from a clean slot; `dup2`/`dup3` over an open descriptor
//! do the same for the target.

use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::runtime::reactor::Registration;

/// Descriptors per chunk.
const CHUNK: usize = 1024;
/// Chunks: descriptors up to `CHUNK * MAX_CHUNKS` (1 048 576, the usual
/// hard limit of `RLIMIT_NOFILE`) can be hooked; higher ones pass through.
const MAX_CHUNKS: usize = 1024;

/// The descriptor is a socket made while the hooks were on.
pub(crate) const HOOKED: u32 = 1;
/// The program set it non-blocking (the kernel's flag is always set).
pub(crate) const USER_NONBLOCK: u32 = 2;

struct Chunk {
    state: [AtomicU32; CHUNK],
    rcv: [AtomicU64; CHUNK],
    snd: [AtomicU64; CHUNK],
    reg: [Mutex<Option<Arc<Registration>>>; CHUNK],
}

static CHUNKS: [AtomicPtr<Chunk>; MAX_CHUNKS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_CHUNKS];

fn split(fd: libc::c_int) -> Option<(usize, usize)> {
    let fd = usize::try_from(fd).ok()?;
    let (c, i) = (fd / CHUNK, fd % CHUNK);
    (c < MAX_CHUNKS).then_some((c, i))
}

/// The chunk of `fd`, if it has one.
#[inline]
fn chunk(fd: libc::c_int) -> Option<(&'static Chunk, usize)> {
    let (c, i) = split(fd)?;
    let p = CHUNKS[c].load(Ordering::Acquire);
    // SAFETY: a non-null pointer in CHUNKS came from `Box::into_raw` in
    // `chunk_or_make` and is never freed or replaced (a CAS from null
    // only), so it is valid for `'static`; `Chunk` holds only atomics and
    // mutexes, which are shared by reference.
    (!p.is_null()).then(|| (unsafe { &*p }, i))
}

#[cold]
fn chunk_or_make(fd: libc::c_int) -> Option<(&'static Chunk, usize)> {
    if let Some(found) = chunk(fd) {
        return Some(found);
    }
    let (c, i) = split(fd)?;
    // Zeroed on the heap (36 KiB: not through a green thread's stack).
    let layout = std::alloc::Layout::new::<Chunk>();
    // SAFETY: `Chunk` has a non-zero size.
    let fresh = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Chunk>();
    if fresh.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // `fresh` is a valid `Chunk`, as a `Box` would own it: all zeroes is a
    // valid `Chunk` (zero atomics; a parking_lot `Mutex` whose raw lock
    // word is 0, unlocked, as `Mutex::new` makes it; `Option<Arc<_>>` 0 is
    // `None`, the null-pointer niche), and the memory comes from the global
    // allocator with `Chunk`'s layout, which is what `Box::from_raw` and
    // the readers' `&*` below require.
    match CHUNKS[c].compare_exchange(std::ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {}
        Err(_) => {
            // SAFETY: `fresh` is a valid `Chunk` allocated as a `Box`
            // would be (above) and was not published (the CAS failed), so
            // this is its only owner.
            drop(unsafe { Box::from_raw(fresh) });
        }
    }
    chunk(fd).map(|(ch, _)| (ch, i))
}

/// The state word of `fd` (`HOOKED`, `USER_NONBLOCK`), 0 if not hooked.
#[inline]
pub(crate) fn state(fd: libc::c_int) -> u32 {
    match chunk(fd) {
        Some((ch, i)) => ch.state[i].load(Ordering::Acquire),
        None => 0,
    }
}

/// Records a new hooked socket `fd` with the program-visible mode.
pub(crate) fn insert(fd: libc::c_int, user_nonblock: bool) {
    let Some((ch, i)) = chunk_or_make(fd) else { return };
    ch.rcv[i].store(0, Ordering::Relaxed);
    ch.snd[i].store(0, Ordering::Relaxed);
    *ch.reg[i].lock() = None;
    let nb = if user_nonblock { USER_NONBLOCK } else { 0 };
    ch.state[i].store(HOOKED | nb, Ordering::Release);
}

/// Forgets `fd` (before it is closed or replaced); drops its reactor
/// registration, which deregisters it while it is still open.
pub(crate) fn remove(fd: libc::c_int) {
    let Some((ch, i)) = chunk(fd) else { return };
    if ch.state[i].swap(0, Ordering::AcqRel) & HOOKED == 0 {
        return;
    }
    let reg = ch.reg[i].lock().take();
    drop(reg);
}

/// Forgets `fd` with atomics only (async-signal-safe, for a forked child
/// between `fork` and `exec`): its registration stays in the slot until
/// the number is hooked again.
pub(crate) fn forget(fd: libc::c_int) {
    if let Some((ch, i)) = chunk(fd) {
        ch.state[i].store(0, Ordering::Release);
    }
}

/// Copies `from`'s entry to `to` (a `dup`); `to` gets its own
/// registration when a green thread first waits on it.
pub(crate) fn copy(from: libc::c_int, to: libc::c_int) {
    let st = state(from);
    if st & HOOKED == 0 {
        // A stale entry of `to` (a number closed behind the hooks' back,
        // by a raw system call) must not survive either.
        if state(to) != 0 {
            remove(to);
        }
        return;
    }
    let Some((src, si)) = chunk(from) else { return };
    let (rcv, snd) = (src.rcv[si].load(Ordering::Relaxed), src.snd[si].load(Ordering::Relaxed));
    insert(to, st & USER_NONBLOCK != 0);
    if let Some((ch, i)) = chunk(to) {
        ch.rcv[i].store(rcv, Ordering::Relaxed);
        ch.snd[i].store(snd, Ordering::Relaxed);
    }
}

/// Sets the program-visible O_NONBLOCK mode of hooked `fd`.
pub(crate) fn set_user_nonblock(fd: libc::c_int, on: bool) {
    if let Some((ch, i)) = chunk(fd) {
        if on {
            ch.state[i].fetch_or(USER_NONBLOCK, Ordering::AcqRel);
        } else {
            ch.state[i].fetch_and(!USER_NONBLOCK, Ordering::AcqRel);
        }
    }
}

/// Which socket timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// `SO_RCVTIMEO`.
    Recv,
    /// `SO_SNDTIMEO`.
    Send,
}

/// Records `SO_RCVTIMEO`/`SO_SNDTIMEO` of hooked `fd` (`None`: none).
pub(crate) fn set_timeout(fd: libc::c_int, dir: Dir, dur: Option<Duration>) {
    if let Some((ch, i)) = chunk(fd) {
        let ns = dur.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1));
        match dir {
            Dir::Recv => ch.rcv[i].store(ns, Ordering::Relaxed),
            Dir::Send => ch.snd[i].store(ns, Ordering::Relaxed),
        }
    }
}

/// The recorded timeout of `fd` in `dir`.
pub(crate) fn timeout(fd: libc::c_int, dir: Dir) -> Option<Duration> {
    let (ch, i) = chunk(fd)?;
    let ns = match dir {
        Dir::Recv => ch.rcv[i].load(Ordering::Relaxed),
        Dir::Send => ch.snd[i].load(Ordering::Relaxed),
    };
    (ns != 0).then(|| Duration::from_nanos(ns))
}

/// The reactor registration of hooked `fd`, made on first use.
pub(crate) fn registration(fd: libc::c_int) -> Option<Arc<Registration>> {
    let (ch, i) = chunk(fd)?;
    let mut slot = ch.reg[i].lock();
    Some(slot.get_or_insert_with(|| Arc::new(Registration::new(fd))).clone())
}

/// Replaces the registration of `fd` with a fresh one (the old one
/// belonged to a runtime that has shut down).
pub(crate) fn renew_registration(fd: libc::c_int) -> Option<Arc<Registration>> {
    let (ch, i) = chunk(fd)?;
    let fresh = Arc::new(Registration::new(fd));
    let old = ch.reg[i].lock().replace(fresh.clone());
    drop(old);
    Some(fresh)
}
