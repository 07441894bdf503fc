//! Synchronisation between green threads, and between green threads and
//! plain OS threads.
//!
//! Every primitive here parks a waiting green thread (its worker runs
//! others meanwhile) and blocks a waiting OS thread; both kinds may wait on
//! the same object at once. All are written once against the runtime's
//! park/unpark and one waiter queue; the only `unsafe` is the `Mutex`'s
//! lock word implementing `lock_api::RawMutex` (see `docs/unsafe.md`).
//!
//! | primitive | wakeup order (fairness) |
//! |---|---|
//! | [`bounded`]/[`unbounded`] channels, [`mpsc`] | FIFO wakeups; barging possible (a newcomer may take a message before the woken waiter runs) |
//! | [`Select`], [`select!`](crate::select!) | tries operations from a rotating start, so no ready arm starves ([`select_biased!`](crate::select_biased!) prefers earlier arms) |
//! | [`Mutex`], [`RwLock`] | FIFO wakeups, barging allowed (throughput over strict fairness, like `parking_lot`'s fast path); readers can delay a waiting writer |
//! | [`Condvar`] | FIFO `notify_one` |
//! | [`Semaphore`] | FIFO, no barging: a released permit is handed to the oldest waiter |
//! | [`Event`], [`AsyncResult`], [`WaitGroup`], [`Barrier`] | wake every waiter at once |
//! | [`Queue`], [`PriorityQueue`], [`LifoQueue`] | FIFO wakeups of getters and putters, barging allowed |
//! | [`Once`], [`OnceLock`], [`LazyLock`] | the end of an initialiser wakes every waiter at once |
//!
//! "Barging allowed" never means "lost": a woken waiter that finds its
//! condition taken waits again, and every notification reaches a waiter.
//!
//! Waits that may end early come in the families `op()`, `try_op()`,
//! `op_timeout(Duration)` (and for channels `op_deadline(Instant)`). Inside
//! [`crate::timeout`], `*_timeout` calls report their timeout error once
//! its deadline passes, while calls without a timeout error (`recv`,
//! `lock`, `get`, `wait`) unwind to the enclosing `timeout`, which returns
//! `Err(Elapsed)`.
//!
//! Locks are poisoned as std's are: a [`MutexGuard`] or [`RwLockWriteGuard`]
//! dropped while its thread unwinds from a *panic* poisons the lock, and
//! `lock`, `read`, `write`, `try_*`, `into_inner`, `get_mut` and the
//! [`Condvar`] waits return std's own [`PoisonError`] (the guard inside)
//! until [`Mutex::clear_poison`]. "Its thread" is the green thread: the
//! runtime tracks unwinding per green thread, so a panic on one green
//! thread never makes a guard dropped by another green thread of the same
//! worker poison its lock.
//!
//! A *cancellation* ([`crate::JoinHandle::cancel`]) or an elapsed
//! [`crate::timeout`] also unwinds through the guards a thread holds, and
//! does **not** poison: poisoning says "the data may be half-updated by
//! code that failed". A cancellation is a request from outside that the
//! caller made on purpose; it lands only at park points (a `lock`, a
//! `recv`, a sleep), which a critical section reaching one already
//! exposes to any other thread's view through a condvar or a guard held
//! across I/O, and poisoning every lock a cancelled thread held would make
//! each cancel an outage for every other user of those locks. Code whose
//! critical section must not be abandoned halfway should not park inside
//! it, or should mark its data itself from a drop guard.

mod barrier;
mod channel;
mod event;
pub mod mpsc;
mod mutex;
// The lock word of `Mutex` implements `lock_api::RawMutex` (an unsafe
// trait): see `docs/unsafe.md`.
mod queue;
#[allow(unsafe_code)]
mod raw_lock;
mod select;
mod semaphore;
mod wait_group;

pub use barrier::{Barrier, BarrierWaitResult};
pub use channel::{
    after, bounded, never, tick, unbounded, IntoIter, Iter, Receiver, RecvError, RecvTimeoutError, SendError,
    SendTimeoutError, Sender, TryIter, TryRecvError, TrySendError,
};
pub use event::{AsyncResult, Event};
pub use mutex::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, WaitTimeoutResult};
pub use queue::{Empty, Full, LifoQueue, PriorityQueue, Queue};
pub use select::{ReadyTimeoutError, Select, SelectTimeoutError, SelectedOperation, TryReadyError, TrySelectError};
pub(crate) use semaphore::OwnedPermit;
pub use semaphore::{ReleaseError, Semaphore, SemaphorePermit};
/// std's own poisoning types, so that code matching on them is unchanged.
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
pub use wait_group::WaitGroup;

// std's once-cells, whose waiting parks a green thread.
mod once;

pub use once::{LazyLock, Once, OnceLock, OnceState};
