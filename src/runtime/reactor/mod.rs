//! The reactor: per-worker `mio::Poll`, driven by the worker loop itself.
//!
//! There is no reactor thread. Each worker owns one `mio::Poll` (epoll set):
//! a busy worker polls it with timeout 0 every few dozen turns, an idle one
//! blocks in it until its next timer deadline, and other threads interrupt
//! that through the worker's `mio::Waker` (`docs/architecture.md`, "The reactor").
//!
//! An I/O source is registered once, edge-triggered, for both directions,
//! with the reactor of the worker whose green thread first waits on it
//! (`registration`). Its [`ScheduledIo`] keeps, per direction, a readiness
//! word (whether an operation may succeed, plus a *tick* counting the
//! direction's events) and a wait list, readers and writers (Go's
//! pollDesc), so one green thread can read while another writes. Tokens
//! index the worker's [`IoSlab`] and carry a generation, so an event for a
//! source that was deregistered meanwhile cannot wake its slot's next owner.

mod registration;

pub(crate) use registration::{Interest, Registration};

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::runtime::park::{Waiter, Wake};
use crate::runtime::wait::{self, Queue, Until, WaitList};

/// Token of each worker's `mio::Waker`.
pub(crate) const WAKE_TOKEN: mio::Token = mio::Token(usize::MAX);

/// Readiness bits of an event: the directions it concerns, and whether it
/// says a direction is finished (closed, or an error is pending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ready(u8);

impl Ready {
    pub(crate) const READ: Ready = Ready(1);
    pub(crate) const WRITE: Ready = Ready(2);
    /// Read side closed (end-of-file, hang-up) or an error: final.
    const READ_CLOSED: Ready = Ready(4);
    /// Write side closed or an error: final.
    const WRITE_CLOSED: Ready = Ready(8);

    pub(crate) fn from_event(e: &mio::event::Event) -> Ready {
        let mut r = 0;
        if e.is_readable() {
            r |= Self::READ.0;
        }
        if e.is_read_closed() || e.is_error() {
            r |= Self::READ.0 | Self::READ_CLOSED.0;
        }
        if e.is_writable() {
            r |= Self::WRITE.0;
        }
        if e.is_write_closed() || e.is_error() {
            r |= Self::WRITE.0 | Self::WRITE_CLOSED.0;
        }
        Ready(r)
    }

    fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }
}

/// A snapshot of one direction's readiness word:
///
/// ```text
///  31                               2   1       0
/// ┌──────────────────────────────────┬───────┬───────┐
/// │ tick (events so far, wrapping)   │ FINAL │ READY │
/// └──────────────────────────────────┴───────┴───────┘
/// ```
///
/// `READY`: an operation may succeed (set by every event, and initially;
/// cleared when an attempt proves the direction drained). `FINAL`: a
/// closed or error event was seen; it is never cleared, so the direction
/// counts as ready forever after (end-of-file keeps returning 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Readiness(u32);

impl Readiness {
    const READY: u32 = 1;
    const FINAL: u32 = 2;
    const TICK_ONE: u32 = 4;
    /// A new registration's word: tick 0, and ready both ways (whether the
    /// source is ready is unknown; the first attempt finds out).
    pub(crate) const INITIAL: Readiness = Readiness(Self::READY);

    /// Whether an attempt may succeed (`false`: it is known to fail).
    pub(crate) fn is_ready(self) -> bool {
        self.0 & (Self::READY | Self::FINAL) != 0
    }

    fn tick(self) -> u32 {
        self.0 >> 2
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

fn readers(s: &mut IoState) -> &mut WaitList {
    &mut s.readers
}

fn writers(s: &mut IoState) -> &mut WaitList {
    &mut s.writers
}

/// Readiness and waiters of one registered source.
///
/// # The readiness protocol (no lost edges, no syscall known to fail)
///
/// Edge-triggered epoll reports a direction once per transition (for a
/// socket: once per arrival of data, of buffer space, of a close), so the
/// reactor must remember what it was told, and forget it only when an
/// attempt proves it stale. Per direction, one atomic [`Readiness`] word:
///
/// 1. **Event.** [`ScheduledIo::wake`], under the lock, increments the tick
///    and sets `READY` (and `FINAL` for a close or error) in one atomic
///    update, then unparks the direction's waiters.
/// 2. **Snapshot.** A caller loads the word *before* its attempt (`seen`).
/// 3. **Skip.** A green caller whose `seen` is neither `READY` nor `FINAL`
///    skips the syscall and goes to step 5 at once.
/// 4. **Attempt.** Otherwise it makes the syscall. If it fails with
///    `WouldBlock`, or succeeds *short* on a stream (0 < n < requested:
///    the kernel had no more to give, or no more room to take), it clears
///    `READY` by a compare-and-swap from `seen`, which fails if any event
///    came since step 2 (the tick moved). A `WouldBlock` goes on to step 5;
///    any other result (a 0-byte read, end-of-file, included, which never
///    clears) is returned.
/// 5. **Wait.** Under the lock, if the tick still equals `seen`'s, the
///    caller enqueues itself and parks; otherwise it retries from step 2.
///
/// *No edge is lost.* A clear succeeds only if no event was recorded
/// between the snapshot and the clear, so the attempt (made after the
/// snapshot, which acquired every earlier event's update) saw all the data
/// or room those events announced, and found it exhausted. Whatever
/// arrives after the attempt raises a new epoll event, which the worker
/// records (step 1) after the clear: `READY` comes back, and the tick moves.
/// A caller that skipped or failed then either sees the tick moved under
/// the lock (step 5) and retries, or is already enqueued when step 1 takes
/// the list, and is unparked. Closes and errors stay `FINAL`, so a hang-up
/// whose event preceded a short read cannot be cleared away by it. The
/// tick wraps after 2^30 events; a clear would have to race exactly that
/// many events of one direction to be fooled.
///
/// *No syscall known to fail.* A woken reader that drains the socket with
/// a short read marks it empty, so its next read parks without trying:
/// in a request/response loop no read returns `EAGAIN`. Datagram sockets
/// only clear on `WouldBlock` (every datagram read looks short), and
/// `peek` never clears (it consumes nothing).
pub(crate) struct ScheduledIo {
    state: Mutex<IoState>,
    /// [`Readiness`] words, per direction (read, write). Set only under
    /// `state`'s lock; cleared (`READY` only) by compare-and-swap anywhere.
    readiness: [AtomicU32; 2],
}

impl Default for ScheduledIo {
    /// A new registration, [`Readiness::INITIAL`] both ways.
    fn default() -> ScheduledIo {
        ScheduledIo {
            state: Mutex::default(),
            readiness: [
                AtomicU32::new(Readiness::INITIAL.0),
                AtomicU32::new(Readiness::INITIAL.0),
            ],
        }
    }
}

impl ScheduledIo {
    fn index(dir: Ready) -> usize {
        usize::from(dir != Ready::READ)
    }

    /// The readiness of `dir` (loaded before trying the operation: step 2).
    #[inline]
    pub(crate) fn readiness(&self, dir: Ready) -> Readiness {
        Readiness(self.readiness[Self::index(dir)].load(Ordering::Acquire))
    }

    /// Step 4: marks `dir` not ready, unless an event came since `seen`.
    #[inline]
    pub(crate) fn clear_readiness(&self, dir: Ready, seen: Readiness) {
        if seen.0 & Readiness::READY == 0 {
            return;
        }
        // Fails if the word changed: an event (new tick) or another
        // caller's clear of the same snapshot (nothing left to do).
        let _ = self.readiness[Self::index(dir)].compare_exchange(
            seen.0,
            seen.0 & !Readiness::READY,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }

    /// Step 1: records an event and unparks the waiters it concerns.
    pub(crate) fn wake(&self, ready: Ready) -> usize {
        let mut woken: Vec<Waiter> = Vec::new();
        {
            let mut st = self.state.lock();
            for (dir, closed) in [(Ready::READ, Ready::READ_CLOSED), (Ready::WRITE, Ready::WRITE_CLOSED)] {
                if ready.contains(dir) {
                    let set = Readiness::READY | if ready.contains(closed) { Readiness::FINAL } else { 0 };
                    // One atomic step: a snapshot never sees the new tick
                    // without `READY`.
                    let _ = self.readiness[Self::index(dir)].fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                        Some(w.wrapping_add(Readiness::TICK_ONE) | set)
                    });
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

    /// Step 5: unless an event came since `seen`, queues `waiter` for
    /// `dir` and parks it as `until` says. `None`: an event came, retry now.
    /// Events wake every waiter of a direction (`take_all`), so leaving
    /// never has a notification to pass on (see `runtime::wait`).
    fn wait_for_event(&self, dir: Ready, seen: Readiness, waiter: Waiter, until: Until) -> Option<Wake> {
        let st = self.state.lock();
        if self.readiness(dir).tick() != seen.tick() {
            return None;
        }
        let queue = if dir == Ready::READ {
            Queue::new(readers)
        } else {
            Queue::new(writers)
        };
        // Dequeued on every way out, cancellation's unwinding included.
        let _queued = wait::Registration::enqueue_waiter(&self.state, st, queue, waiter);
        Some(wait::park_until(until))
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
