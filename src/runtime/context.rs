//! The runtime's thread-locals, all of them.
//!
//! Every access goes through an `#[inline(never)]` function that returns an
//! owned value (or takes one), so no `LocalKey::with` closure ever spans a
//! coroutine switch, and the compiler cannot keep a thread-local's address
//! cached across one (`docs/architecture.md`, "Thread-locals and switches"). A started green thread never
//! changes OS thread, so what these return stays true for it until it ends.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

use crate::runtime::scheduler::worker::Local;

thread_local! {
    /// The worker state of this OS thread, if it is a worker.
    static WORKER: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
    /// Address of the running coroutine's `Yielder`, 0 outside coroutines.
    static YIELDER: Cell<usize> = const { Cell::new(0) };
    /// The timeout deadline (`verdant::timeout`) of this OS thread when it
    /// is not running a green thread (green threads keep theirs in their
    /// `Header`).
    static TIMEOUT_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
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

/// Returns the yielder address and clears it (see `coroutine::suspend`).
#[inline(never)]
pub(crate) fn take_yielder() -> usize {
    YIELDER.with(|y| y.replace(0))
}

#[inline(never)]
pub(crate) fn set_yielder(addr: usize) {
    YIELDER.with(|y| y.set(addr));
}
