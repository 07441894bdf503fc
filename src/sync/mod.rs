//! Synchronisation between green threads, and between green threads and
//! plain OS threads.
//!
//! Every primitive here parks a waiting green thread (its worker runs
//! others meanwhile) and blocks a waiting OS thread; both kinds may wait on
//! the same object at once. All are written once against the runtime's
//! park/unpark and one waiter queue, with no `unsafe`.
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
//! Locks are not poisoned: a panic while holding a guard releases it (the
//! guard's destructor runs), and the next `lock` succeeds. This is
//! `parking_lot`'s choice, and cancellation (which unwinds) would otherwise
//! poison every lock a cancelled thread held.

mod barrier;
mod channel;
mod event;
pub mod mpsc;
mod mutex;
mod queue;
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
pub use wait_group::WaitGroup;

// std's once-cells, whose waiting parks a green thread.
mod once;

pub use once::{LazyLock, Once, OnceLock, OnceState};
