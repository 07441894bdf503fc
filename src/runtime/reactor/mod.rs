//! The reactor: per-worker `mio::Poll`, driven by the worker loop itself.
//!
//! There is no reactor thread. Each worker owns one `mio::Poll` (epoll set):
//! a busy worker polls it with timeout 0 every few dozen turns, an idle one
//! blocks in it until its next timer deadline, and other threads interrupt
//! that through the worker's `mio::Waker` (DESIGN.md decision 2).
//!
//! An I/O source is registered once, edge-triggered, for both directions,
//! with the reactor of the worker whose green thread first waits on it
//! (`registration`). Its [`ScheduledIo`] counts the readiness events of
//! each direction (a *tick*) and holds two wait lists, readers and writers
//! (Go's pollDesc), so one green thread can read while another writes. Tokens index the worker's [`IoSlab`] and carry a
//! generation, so an event for a source that was deregistered meanwhile
//! cannot wake its slot's next owner.

mod registration;

pub(crate) use registration::{Interest, Registration};

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::runtime::park::Waiter;
use crate::runtime::wait::WaitList;

/// Token of each worker's `mio::Waker`.
pub(crate) const WAKE_TOKEN: mio::Token = mio::Token(usize::MAX);

/// Readiness bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ready(u8);

impl Ready {
    pub(crate) const READ: Ready = Ready(1);
    pub(crate) const WRITE: Ready = Ready(2);

    pub(crate) fn from_event(e: &mio::event::Event) -> Ready {
        let mut r = 0;
        if e.is_readable() || e.is_read_closed() || e.is_error() {
            r |= Self::READ.0;
        }
        if e.is_writable() || e.is_write_closed() || e.is_error() {
            r |= Self::WRITE.0;
        }
        Ready(r)
    }

    fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }
}

#[derive(Default)]
struct IoState {
    readers: WaitList,
    writers: WaitList,
}

impl IoState {
    fn list(&mut self, dir: Ready) -> &mut WaitList {
        if dir == Ready::READ {
            &mut self.readers
        } else {
            &mut self.writers
        }
    }
}

/// Event ticks and waiters of one registered source.
///
/// # The tick protocol (no lost edges, no wasted syscall)
///
/// Edge-triggered epoll reports a direction once per transition. A caller
/// reads the direction's tick *before* trying its operation; after a
/// `WouldBlock` it enqueues itself only if the tick is unchanged (checked
/// under the lock that [`ScheduledIo::wake`] increments it under), and
/// otherwise retries at once. An edge that arrives after the read is
/// therefore never missed, whichever the interleaving, and a waiter that
/// was woken and succeeded leaves nothing behind that would make its next
/// `WouldBlock` retry in vain (which a cached readiness bit would).
#[derive(Default)]
pub(crate) struct ScheduledIo {
    state: Mutex<IoState>,
    /// Events seen so far, per direction (read, write). Written only under
    /// `state`'s lock.
    ticks: [AtomicU32; 2],
}

impl ScheduledIo {
    fn index(dir: Ready) -> usize {
        usize::from(dir != Ready::READ)
    }

    /// The current tick of `dir` (read before trying the operation).
    pub(crate) fn tick(&self, dir: Ready) -> u32 {
        self.ticks[Self::index(dir)].load(Ordering::Acquire)
    }

    /// Records an event and unparks the waiters it concerns.
    pub(crate) fn wake(&self, ready: Ready) -> usize {
        let mut woken: Vec<Waiter> = Vec::new();
        {
            let mut st = self.state.lock();
            for dir in [Ready::READ, Ready::WRITE] {
                if ready.contains(dir) {
                    self.ticks[Self::index(dir)].fetch_add(1, Ordering::Release);
                    woken.extend(st.list(dir).take_all());
                }
            }
        }
        let n = woken.len();
        for w in woken {
            w.unpark();
        }
        n
    }

    /// After a would-block: if an event came since the tick `seen` was read,
    /// returns `None` (retry now); else enqueues `waiter` and returns its key.
    fn wait_unless_changed(&self, dir: Ready, seen: u32, waiter: Waiter) -> Option<u64> {
        let mut st = self.state.lock();
        if self.ticks[Self::index(dir)].load(Ordering::Relaxed) != seen {
            return None;
        }
        Some(st.list(dir).push(waiter))
    }

    fn cancel_wait(&self, dir: Ready, key: u64) {
        self.state.lock().list(dir).remove(key);
    }
}

/// Registered sources of one worker, by token (`generation << 32 | index`).
#[derive(Default)]
pub(crate) struct IoSlab {
    entries: Vec<(u32, Option<Arc<ScheduledIo>>)>,
    free: Vec<usize>,
    len: usize,
}

impl IoSlab {
    pub(crate) fn insert(&mut self, io: Arc<ScheduledIo>) -> mio::Token {
        self.len += 1;
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push((0, None));
                self.entries.len() - 1
            }
        };
        let entry = &mut self.entries[index];
        entry.0 = entry.0.wrapping_add(1);
        entry.1 = Some(io);
        mio::Token(((entry.0 as usize) << 32) | index)
    }

    pub(crate) fn get(&self, token: mio::Token) -> Option<&Arc<ScheduledIo>> {
        let (gen, index) = ((token.0 >> 32) as u32, token.0 & 0xffff_ffff);
        match self.entries.get(index) {
            Some((g, Some(io))) if *g == gen => Some(io),
            _ => None,
        }
    }

    pub(crate) fn remove(&mut self, token: mio::Token) {
        let (gen, index) = ((token.0 >> 32) as u32, token.0 & 0xffff_ffff);
        if let Some((g, slot @ Some(_))) = self.entries.get_mut(index) {
            if *g == gen {
                *slot = None;
                self.free.push(index);
                self.len -= 1;
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}
