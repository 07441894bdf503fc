//! Why a green thread waits: a compact note written at its wait site,
//! rendered to words only when someone asks for a dump (`crate::debug`).
//!
//! ```text
//!  Header::why    bits 56-63  the kind of wait (`Why` as u8; 0 = not said)
//!                 bits  0-55  its datum: an address, an fd, a pid, a green
//!                             thread id, or a deadline in clock ms
//!  Header::since  the clock ms when it last parked (see `clock_ms`)
//! ```
//!
//! A wait site writes the note with relaxed stores ([`Header::set_why`]):
//! queued waits through their `wait::Queue`'s kind, socket waits in the
//! reactor, the rest with [`note`]. `park` stamps `since` from its worker's
//! coarse clock (no clock read per park) and clears the note when the
//! thread runs again, so a wait site that says nothing shows as "parked",
//! never as a stale reason. A dump reads both words without any lock; a
//! reader racing a park may pair a new kind with an old time, which a
//! debugging snapshot tolerates.
//!
//! A note that cannot fit a word (the name a DNS lookup waits for) is a
//! [`Label`]: a string filed under the thread's id while the guard lives,
//! in one process-wide map, paid for only by the waits that use it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use std::time::Instant;

use super::Header;

/// The kinds of wait a dump can name. `u8` values are stored in
/// `Header::why`; 0 is "not said".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Why {
    /// `sleep`: the deadline in clock ms.
    Sleep = 1,
    /// Socket or fd readable: the fd.
    Read,
    /// Socket or fd writable: the fd.
    Write,
    /// `Sender::send` on a full channel: the channel's address.
    ChannelSend,
    /// `Receiver::recv`: the channel's address.
    ChannelRecv,
    /// `Mutex::lock`: the lock's address.
    Lock,
    /// `RwLock::read`: the lock's address.
    ReadLock,
    /// `RwLock::write`: the lock's address.
    WriteLock,
    /// `Condvar::wait`: the condvar's address.
    Condvar,
    /// `Event::wait`: the event's address.
    Event,
    /// `JoinHandle::join`: the joined thread's id.
    Join,
    /// `Queue::put` on a full queue: the queue's address.
    QueuePut,
    /// `Queue::get`: the queue's address.
    QueueGet,
    /// `Queue::join`: the queue's address.
    QueueJoin,
    /// `Semaphore::acquire`: its address.
    Semaphore,
    /// `WaitGroup::wait`: its address.
    WaitGroup,
    /// `Barrier::wait`: its address.
    Barrier,
    /// `Once`/`OnceLock` initialisation by another thread: its address.
    Once,
    /// `Group::join_next`: the group's address.
    Group,
    /// `verdant::park()`.
    Park,
    /// A child process (`Child::wait`): its pid.
    Child,
}

const KINDS: [Why; 21] = [
    Why::Sleep,
    Why::Read,
    Why::Write,
    Why::ChannelSend,
    Why::ChannelRecv,
    Why::Lock,
    Why::ReadLock,
    Why::WriteLock,
    Why::Condvar,
    Why::Event,
    Why::Join,
    Why::QueuePut,
    Why::QueueGet,
    Why::QueueJoin,
    Why::Semaphore,
    Why::WaitGroup,
    Why::Barrier,
    Why::Once,
    Why::Group,
    Why::Park,
    Why::Child,
];

const DATA_BITS: u32 = 56;
const DATA_MASK: u64 = (1 << DATA_BITS) - 1;

/// Packs a note into one word.
#[inline]
pub(crate) fn pack(why: Why, datum: u64) -> u64 {
    ((why as u64) << DATA_BITS) | (datum & DATA_MASK)
}

/// Unpacks a note; `None` if nothing was said.
pub(crate) fn unpack(word: u64) -> Option<(Why, u64)> {
    let kind = (word >> DATA_BITS) as u8;
    let why = KINDS.iter().copied().find(|k| *k as u8 == kind)?;
    Some((why, word & DATA_MASK))
}

/// The process-wide clock's origin.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `at` in clock ms (ms since the process-wide clock's origin; 0 for
/// anything before it).
pub(crate) fn clock_ms(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_millis()).unwrap_or(u64::MAX)
}

/// The instant of clock ms `ms`.
pub(crate) fn clock_instant(ms: u64) -> Instant {
    epoch() + std::time::Duration::from_millis(ms)
}

impl Header {
    /// Notes why the thread is about to wait (relaxed: read only by dumps).
    #[inline]
    pub(crate) fn set_why(&self, why: Why, datum: u64) {
        self.why.store(pack(why, datum), Ordering::Relaxed);
    }

    /// Forgets the note (the thread runs again).
    #[inline]
    pub(crate) fn clear_why(&self) {
        self.why.store(0, Ordering::Relaxed);
    }

    /// Stamps the time the thread parks, in clock ms.
    #[inline]
    pub(crate) fn set_since(&self, ms: u64) {
        self.since.store(ms, Ordering::Relaxed);
    }

    /// The note and the time of the last park, as a dump reads them.
    pub(crate) fn why(&self) -> (Option<(Why, u64)>, u64) {
        (
            unpack(self.why.load(Ordering::Relaxed)),
            self.since.load(Ordering::Relaxed),
        )
    }
}

/// Notes why the running green thread is about to wait; nothing on a
/// plain OS thread.
pub(crate) fn note(why: Why, datum: u64) {
    crate::runtime::context::with_current_task(|task| task.set_why(why, datum));
}

type Labels = Mutex<HashMap<u64, Arc<str>>>;

fn labels() -> &'static Labels {
    static LABELS: OnceLock<Labels> = OnceLock::new();
    LABELS.get_or_init(Labels::default)
}

/// Files a description of what the running green thread is doing (a DNS
/// lookup of a name) under its id until dropped; a dump shows it beside
/// the wait it makes meanwhile.
#[derive(Debug)]
pub(crate) struct Label(Option<u64>);

impl Label {
    /// Files `text` for the running green thread (nothing on an OS thread).
    pub(crate) fn new(text: impl FnOnce() -> String) -> Label {
        let Some(task) = crate::runtime::context::current_task() else {
            return Label(None);
        };
        let id = task.id;
        let mut map = labels().lock();
        let old = map.insert(id, text().into());
        drop(map);
        // A nested label (a lookup inside a lookup) is not restored: the
        // outer one ends soon after anyway.
        drop(old);
        Label(Some(id))
    }
}

impl Drop for Label {
    fn drop(&mut self) {
        if let Some(id) = self.0 {
            labels().lock().remove(&id);
        }
    }
}

/// The label of green thread `id`, if one is filed.
pub(crate) fn label_of(id: u64) -> Option<Arc<str>> {
    labels().lock().get(&id).cloned()
}

/// Whether `VERDANT_BACKTRACE=1` asks for a backtrace at every park (read
/// once; a relaxed load afterwards).
#[inline]
pub(crate) fn backtraces_on() -> bool {
    use std::sync::atomic::AtomicU8;
    static ON: AtomicU8 = AtomicU8::new(0);
    match ON.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let on = std::env::var_os("VERDANT_BACKTRACE").is_some_and(|v| v == "1");
            ON.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
    }
}

type Backtraces = Mutex<HashMap<u64, Arc<std::backtrace::Backtrace>>>;

fn backtraces() -> &'static Backtraces {
    static BACKTRACES: OnceLock<Backtraces> = OnceLock::new();
    BACKTRACES.get_or_init(Backtraces::default)
}

/// Captures the calling green thread's stack (unresolved: symbols are
/// looked up only if a dump shows it) and files it under `id`, replacing
/// the one of its previous park. Only with [`backtraces_on`].
#[cold]
#[inline(never)]
pub(crate) fn capture_backtrace(id: u64) {
    let bt = Arc::new(std::backtrace::Backtrace::force_capture());
    let old = backtraces().lock().insert(id, bt);
    drop(old);
}

/// Forgets the backtrace of a finished thread.
#[cold]
#[inline(never)]
pub(crate) fn forget_backtrace(id: u64) {
    let old = backtraces().lock().remove(&id);
    drop(old);
}

/// The backtrace green thread `id` had at its last park, if captured.
pub(crate) fn backtrace_of(id: u64) -> Option<Arc<std::backtrace::Backtrace>> {
    backtraces().lock().get(&id).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks_every_kind() {
        for k in KINDS {
            assert_eq!(unpack(pack(k, 0xdead_beef)), Some((k, 0xdead_beef)));
        }
        assert_eq!(unpack(0), None);
        let addr = 0x7fff_ffff_f000_u64;
        assert_eq!(unpack(pack(Why::Lock, addr)), Some((Why::Lock, addr)));
    }
}
