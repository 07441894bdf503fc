//! The runtime's thread-locals, all of them.
//!
//! Every access goes through an `#[inline(never)]` function that returns an
//! owned value (or takes one), so no `LocalKey::with` closure ever spans a
//! coroutine switch, and the compiler cannot keep a thread-local's address
//! cached across one (`docs/architecture.md`, "Thread-locals and switches"). A started green thread never
//! changes OS thread, so what these return stays true for it until it ends.

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::runtime::park::OsParker;
use crate::runtime::scheduler::worker::Local;

thread_local! {
    /// This OS thread's parker, for when it waits outside a green thread.
    static OS_PARKER: OnceCell<Arc<OsParker>> = const { OnceCell::new() };
    /// The worker state of this OS thread, if it is a worker.
    static WORKER: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
    /// The running coroutine's `Yielder` and stack (see `coroutine`);
    /// all zero outside coroutines.
    static YIELDER: Cell<Running> = const { Cell::new(Running::NONE) };
    /// The timeout deadline (`verdant::timeout`) of this OS thread when it
    /// is not running a green thread (green threads keep theirs in their
    /// `Header`).
    static TIMEOUT_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// This OS thread's parker (see `park::OsParker`), made on first use.
#[inline(never)]
pub(crate) fn os_parker() -> Arc<OsParker> {
    OS_PARKER.with(|p| p.get_or_init(|| Arc::new(OsParker::new())).clone())
}

/// This OS thread's timeout deadline.
#[inline(never)]
pub(crate) fn timeout_deadline() -> Option<Instant> {
    TIMEOUT_DEADLINE.with(Cell::get)
}

/// Replaces this OS thread's timeout deadline; returns the previous one.
#[inline(never)]
pub(crate) fn set_timeout_deadline(deadline: Option<Instant>) -> Option<Instant> {
    TIMEOUT_DEADLINE.with(|d| d.replace(deadline))
}

/// The worker this OS thread runs, or `None` on a plain thread.
#[inline(never)]
pub(crate) fn worker() -> Option<Rc<Local>> {
    WORKER.with(|w| w.borrow().clone())
}

/// The green thread running on this OS thread, if any (no reference to
/// the worker is counted on the way).
#[inline(never)]
pub(crate) fn current_task() -> Option<crate::runtime::task::TaskRef> {
    WORKER.with(|w| w.borrow().as_deref().and_then(Local::current_task))
}

/// Runs `f` on the running green thread, if any, without cloning its
/// handle (for per-park bookkeeping).
#[inline]
pub(crate) fn with_current_task<R>(f: impl FnOnce(&crate::runtime::task::TaskRef) -> R) -> Option<R> {
    WORKER.with(|w| w.borrow().as_deref().and_then(|local| local.with_current(f)))
}

/// Like [`worker`], but never panics (for the panic hook): `None` while
/// the thread-local is being destroyed or borrowed.
#[inline(never)]
pub(crate) fn try_worker() -> Option<Rc<Local>> {
    WORKER
        .try_with(|w| w.try_borrow().ok().and_then(|w| w.clone()))
        .ok()
        .flatten()
}

/// Installs (or clears) the worker state of this OS thread.
#[inline(never)]
pub(crate) fn set_worker(local: Option<Rc<Local>>) {
    WORKER.with(|w| *w.borrow_mut() = local);
}

/// The running coroutine: its `Yielder`'s address and its stack's usable
/// range `[stack_lo, stack_hi)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Running {
    pub(crate) yielder: usize,
    pub(crate) stack_lo: usize,
    pub(crate) stack_hi: usize,
}

impl Running {
    pub(crate) const NONE: Running = Running {
        yielder: 0,
        stack_lo: 0,
        stack_hi: 0,
    };
}

/// Returns the running coroutine and clears it (see `coroutine::suspend`).
#[inline(never)]
pub(crate) fn take_yielder() -> Running {
    YIELDER.with(|y| y.replace(Running::NONE))
}

#[inline(never)]
pub(crate) fn set_yielder(running: Running) {
    YIELDER.with(|y| y.set(running));
}

/// Whether the caller runs on a green thread (a coroutine of a worker):
/// one thread-local load, for the libc hooks' fast path (`hook`).
#[cfg(feature = "hook")]
#[inline(never)]
pub(crate) fn in_green() -> bool {
    YIELDER.with(|y| y.get().yielder != 0)
}
