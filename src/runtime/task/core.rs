//! One green thread's allocation, the thin pointer that counts its
//! references, and its body's lifecycle.
//!
//! # Layout
//!
//! ```text
//!  TaskRef ──▶ ┌ Cell<F, T> (repr(C), one Box) ────────────────────┐
//!  (one word)  │ Header: state word, refs, vtable, id, name, ...   │  ◀── what the runtime reads
//!              │ Core:   stage: Unrun(F) │ Empty │ Done(outcome)   │  ◀── typed: reached through the vtable
//!              └───────────────────────────────────────────────────┘
//! ```
//!
//! The runtime holds a green thread as a [`TaskRef`]: a pointer to the
//! [`Header`] at offset 0 of its `Cell`, with a hand-written reference
//! count in the header. The typed part, the `Core`, is reached through the
//! header's `Vtable` of functions instantiated for the cell's `F` and `T`,
//! so the header is found without computing an offset (a fat `Arc<dyn _>`
//! computes it from the body's alignment on every access), and every queue
//! slot is one word.
//!
//! # The stage, and who may touch it
//!
//! The stage is an `UnsafeCell`. Access is exclusive by protocol:
//!
//! 1. `Unrun(F)`: only the holder of the thread's unique [`NewTask`]
//!    takes the function, once ([`NewTask::run`] or [`NewTask::drop_unrun`]
//!    consume it), before anything else may touch the stage.
//! 2. The holder then writes `Done(outcome)` (if there is one) and sets
//!    `OUTPUT`; from then on it touches the stage again only if that
//!    `fetch_or` showed `DETACHED` already set (the handle is gone: nobody
//!    else will ever look), to drop the outcome.
//! 3. The join handle reads the stage only after it saw `COMPLETE`, which
//!    is set after step 2 (`join`, which takes the outcome), or in
//!    `detach` only if its `fetch_or(DETACHED)` showed `OUTPUT` set, i.e.
//!    the holder has finished step 2 and will not look again.
//!
//! So whoever sets the second of `OUTPUT` and `DETACHED` drops an unjoined
//! outcome: the thread (on its own stack, where a destructor may still
//! park) or the handle. The allocation's own drop never drops the stage
//! (`ManuallyDrop`): a stale timer entry may free it long after a scoped
//! thread's scope ended, when `F` and `T` may borrow what is gone. By the
//! steps above the stage is `Empty` by then anyway.
//!
//! # The finish sequence (inside the green thread, [`NewTask::run`])
//!
//! 1. Take the function out of the stage (a thread cancelled before it
//!    started drops it instead of calling it, here on its own stack).
//! 2. Call it, catching a panic or an unwinding cancellation.
//! 3. Set `FINISHING`: from here on its destructors may park and are
//!    neither cancelled nor cut short by a `verdant::timeout`.
//! 4. Turn what it returned into its outcome (a thread that swallowed its
//!    cancellation and returned is still reported cancelled).
//! 5. Store the outcome (stage step 2), dropping it here if the handle is
//!    gone.
//! 6. Drop its green-thread locals, again and again until none is left (a
//!    destructor in step 5 or 6 may create new ones), so that nothing is
//!    inherited by the next thread of its slot.
//! 7. Return to the worker, which frees the stack and the slot, updates the
//!    runtime's counts and only then sets `COMPLETE` and wakes the joiners
//!    ([`Done::complete`]), so a joiner sees the counts already updated.

use std::cell::UnsafeCell;
use std::io;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::panic::Location;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::Mutex;

use super::state::{State, DETACHED, JOINERS, OUTPUT};
use crate::error::JoinError;
use crate::runtime::scheduler::Shared;
use crate::runtime::wait::WaitList;
use crate::runtime::{abort, interrupt, locals};

/// `home` before the thread first runs.
pub(crate) const UNSTARTED: usize = usize::MAX;

/// Most references a task may have (as `Arc`'s limit: far beyond any real
/// count, so that an overflow cannot wrap around to a premature free).
const MAX_REFS: usize = isize::MAX as usize;

/// The shared, non-generic part of a green thread, at offset 0 of its
/// allocation.
pub(crate) struct Header {
    /// Every flag of the thread (see `state`).
    pub(crate) state: State,
    /// References: `TaskRef`s, the `NewTask` and the join handle.
    refs: AtomicUsize,
    vtable: &'static Vtable,
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    pub(crate) stack_size: usize,
    /// The scheduler that runs this thread; `None` for `spawn_blocking` jobs.
    pub(crate) shared: Option<Arc<Shared>>,
    /// Index of the worker that runs this thread, fixed at first run.
    pub(crate) home: AtomicUsize,
    /// Index of the coroutine in its home worker's slab (home worker only).
    pub(crate) slot: AtomicU32,
    /// Sequence number of the live timer of this thread, 0 when none
    /// (home worker only; see `runtime::timer`).
    pub(crate) timer_seq: AtomicU64,
    /// The deadline of `verdant::timeout`, encoded by
    /// `interrupt::encode_deadline` (0 = none). Only the thread touches it.
    timeout_deadline: AtomicU64,
    /// Who waits for `COMPLETE`: joiners, `wait_any`, scopes. Locked only
    /// through [`Header::lock_joiners`] (which sets JOINERS), so that a
    /// thread nobody waits for completes without touching it.
    joiners: Mutex<WaitList>,
    /// Told once the thread is complete (a `verdant::Group`'s completion
    /// queue); set at most once, before the thread is submitted.
    completion: OnceLock<Arc<dyn Completion>>,
    /// Where it was spawned (`#[track_caller]` on every spawn path).
    pub(crate) location: &'static Location<'static>,
    /// Why it waits, packed (see `why`); written at wait sites, read by
    /// dumps.
    pub(super) why: AtomicU64,
    /// When it last parked, in clock ms (see `why`).
    pub(super) since: AtomicU64,
    /// Whether its worker lists it for dumps (set at its first park, by
    /// its home worker only; see `scheduler::worker`).
    pub(crate) listed: AtomicBool,
    /// Its `tracing` span, made when it first runs (feature `tracing`).
    #[cfg(feature = "tracing")]
    pub(crate) span: OnceLock<tracing::Span>,
}

/// Who is told when a green thread completes, besides its joiners: a
/// `verdant::Group` keeps a queue of its finished threads this way, so
/// that `join_next` never scans them.
pub(crate) trait Completion: Send + Sync {
    /// `task` is complete (its outcome can be taken) and its joiners were
    /// woken. Runs once, wherever the thread completes (usually its
    /// worker's loop): it must neither park nor panic.
    fn completed(&self, task: &Header);
}

/// The functions that know a task's `F` and `T`.
struct Vtable {
    /// [`NewTask::run`].
    run: unsafe fn(NonNull<Header>),
    /// [`NewTask::drop_unrun`].
    drop_unrun: unsafe fn(NonNull<Header>, Option<io::Error>),
    /// Moves the outcome, if stored, into `*mut Option<Result<T, JoinError>>`.
    take_output: unsafe fn(NonNull<Header>, *mut ()),
    /// The join handle is gone (stage step 3).
    detach: unsafe fn(NonNull<Header>),
    /// Frees the allocation (the last reference is gone).
    dealloc: unsafe fn(NonNull<Header>),
}

/// The allocation: header first (`repr(C)`), so a pointer to the cell is a
/// pointer to its header.
#[repr(C)]
struct Cell<F, T> {
    header: Header,
    stage: UnsafeCell<ManuallyDrop<Stage<F, T>>>,
    /// A scoped thread's flag, raised when a panic nobody joined is
    /// dropped (its scope then panics, as `std::thread::scope` does).
    unjoined_panic: Option<Arc<AtomicBool>>,
}

enum Stage<F, T> {
    /// Not started.
    Unrun(F),
    /// Running, or its function was dropped unrun, or its outcome taken.
    Empty,
    /// Finished; the outcome waits for `join`.
    Done(Result<T, JoinError>),
}

/// What a new green thread is: its header fields and its function.
pub(crate) struct Spec {
    pub(crate) name: Option<Box<str>>,
    pub(crate) stack_size: usize,
    pub(crate) shared: Option<Arc<Shared>>,
    /// For a scoped thread, the scope's unjoined-panic flag.
    pub(crate) unjoined_panic: Option<Arc<AtomicBool>>,
    /// Where it is spawned.
    pub(crate) location: &'static Location<'static>,
}

/// Allocates a green thread that will run `f`: returns the unique
/// [`NewTask`] (for the scheduler) and a reference for its join handle.
///
/// # Safety
///
/// The green thread may borrow for `'a`. The caller guarantees that the
/// `NewTask` is consumed ([`NewTask::run`] returned or
/// [`NewTask::drop_unrun`] called) and the join handle's reference is
/// joined or detached, both within `'a`; `'static` satisfies this
/// trivially.
pub(crate) unsafe fn new_unchecked<'a, F, T>(spec: Spec, f: F) -> (NewTask, TaskRef)
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(),
            // The `NewTask` and the handle's reference.
            refs: AtomicUsize::new(2),
            vtable: vtable::<F, T>(),
            id: next_id(),
            name: spec.name,
            stack_size: spec.stack_size,
            shared: spec.shared,
            home: AtomicUsize::new(UNSTARTED),
            slot: AtomicU32::new(0),
            timer_seq: AtomicU64::new(0),
            timeout_deadline: AtomicU64::new(0),
            joiners: Mutex::new(WaitList::new()),
            completion: OnceLock::new(),
            location: spec.location,
            why: AtomicU64::new(0),
            since: AtomicU64::new(0),
            listed: AtomicBool::new(false),
            #[cfg(feature = "tracing")]
            span: OnceLock::new(),
        },
        stage: UnsafeCell::new(ManuallyDrop::new(Stage::<F, T>::Unrun(f))),
        unjoined_panic: spec.unjoined_panic,
    });
    let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
    (NewTask(TaskRef(ptr)), TaskRef(ptr))
}

fn vtable<F, T>() -> &'static Vtable
where
    F: FnOnce() -> T,
{
    // A constant per (F, T), promoted to a static.
    trait HasVtable {
        const VTABLE: Vtable;
    }
    impl<F: FnOnce() -> T, T> HasVtable for (F, T) {
        const VTABLE: Vtable = Vtable {
            run: vt_run::<F, T>,
            drop_unrun: vt_drop_unrun::<F, T>,
            take_output: vt_take_output::<F, T>,
            detach: vt_detach::<F, T>,
            dealloc: vt_dealloc::<F, T>,
        };
    }
    &<(F, T) as HasVtable>::VTABLE
}

/// A counted reference to a green thread: one word.
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: a `TaskRef` gives shared access to the `Header`, all of whose
// fields are `Sync` (atomics, a mutex, immutable data), and to nothing else
// except through the vtable, whose functions touch the stage only under the
// exclusive-access protocol of the module docs (ownership of the unique
// `NewTask`, or the OUTPUT/DETACHED/COMPLETE bits), never concurrently.
// The values that cross threads through the stage, `F` and `T`, are `Send`
// (required by `new_unchecked`). The count is atomic.
unsafe impl Send for TaskRef {}
// SAFETY: as for `Send`: every method takes `&self` and is thread-safe.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    fn cell(&self) -> NonNull<Header> {
        self.0
    }
}

impl Clone for TaskRef {
    #[inline]
    fn clone(&self) -> TaskRef {
        // Relaxed, as `Arc::clone`: a new reference is made from an
        // existing one, which keeps the allocation alive meanwhile.
        let old = self.refs.fetch_add(1, Ordering::Relaxed);
        if old > MAX_REFS {
            abort("a green thread's reference count overflowed");
        }
        TaskRef(self.0)
    }
}

impl Drop for TaskRef {
    #[inline]
    fn drop(&mut self) {
        // Release, then Acquire on the last one, as `Arc::drop`: every use
        // through another reference happens before the free.
        if self.refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        let dealloc = self.vtable.dealloc;
        // SAFETY: this was the last reference, so nothing else can reach
        // the allocation; it was made by `new_unchecked` with the types
        // this vtable was instantiated for.
        unsafe { dealloc(self.0) }
    }
}

impl Deref for TaskRef {
    type Target = Header;

    #[inline]
    fn deref(&self) -> &Header {
        // SAFETY: the pointer came from `Box::leak` and the allocation lives
        // while this reference is counted; `Header` is at offset 0 of the
        // `repr(C)` cell.
        unsafe { self.0.as_ref() }
    }
}

impl std::fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// An unstarted green thread: the one permission to run it (or drop its
/// function unrun). Whoever holds it does exactly one of the two.
pub(crate) struct NewTask(TaskRef);

impl NewTask {
    /// The thread.
    pub(crate) fn task(&self) -> &TaskRef {
        &self.0
    }

    /// Runs the thread's function on the caller's stack (its green
    /// thread's, or a blocking-pool thread's), then stores its outcome and
    /// drops its locals: steps 1 to 6 of the finish sequence. Never unwinds.
    /// The caller completes the thread afterwards with the [`Done`] it
    /// returns.
    pub(crate) fn run(self) -> Done {
        let task = self.into_ref();
        let run = task.vtable.run;
        // SAFETY: consuming the unique `NewTask` is the permission the
        // stage protocol (step 1) asks for; the vtable matches the cell.
        unsafe { run(task.cell()) };
        Done(task)
    }

    /// Drops the function of a thread that will never run, and records why
    /// when it is a failure (no stack could be had) rather than a
    /// cancellation or a shutdown. A panic in a captured value's
    /// destructor is reported, not propagated. The caller completes the
    /// thread afterwards with the [`Done`] it returns.
    pub(crate) fn drop_unrun(self, failure: Option<io::Error>) -> Done {
        let task = self.into_ref();
        let drop_unrun = task.vtable.drop_unrun;
        // SAFETY: as in `run`.
        unsafe { drop_unrun(task.cell(), failure) };
        Done(task)
    }

    /// Gives up the permission, keeping the reference (and skipping the
    /// `Drop` below).
    fn into_ref(self) -> TaskRef {
        let me = ManuallyDrop::new(self);
        // SAFETY: `me` is never used or dropped again, so the reference is
        // moved out, not duplicated.
        unsafe { std::ptr::read(&me.0) }
    }
}

/// A `NewTask` dropped without being run (a queue dropped with work in it)
/// still drops its function, so nothing it captured leaks, and completes
/// its thread, so no joiner waits for it forever.
impl Drop for NewTask {
    fn drop(&mut self) {
        let drop_unrun = self.0.vtable.drop_unrun;
        // SAFETY: as in `run`: being dropped, this is the last use of the
        // permission.
        unsafe { drop_unrun(self.0.cell(), None) };
        Done(self.0.clone()).complete();
    }
}

/// A thread whose `NewTask` was used up (it ran, or its function was
/// dropped unrun): the only way to complete it, so that `COMPLETE`, which
/// lets the join handle take the outcome, can never be set while the
/// stage is still being written (stage step 3).
#[must_use = "a thread that is never completed keeps its joiners waiting"]
pub(crate) struct Done(TaskRef);

impl Done {
    /// The thread.
    pub(crate) fn task(&self) -> &TaskRef {
        &self.0
    }

    /// Step 7: marks the thread complete and wakes everyone waiting for it.
    pub(crate) fn complete(self) {
        // Nobody ever waited unless JOINERS was set: no list to look at.
        if self.0.state.set_complete() {
            let waiters = self.0.joiners.lock().take_all();
            for w in waiters {
                w.unpark();
            }
        }
        if let Some(c) = self.0.completion.get() {
            c.completed(&self.0);
        }
    }
}

impl std::fmt::Debug for NewTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("NewTask").field(&self.0.id).finish()
    }
}

/// The join handle's side (stage step 3): takes the outcome of a complete
/// thread, once; `None` if it has none (never ran, or already taken).
///
/// # Safety
///
/// `task` must be complete, `T` must be the type it was created with, and
/// the caller must be its join handle (the only one to take the outcome).
pub(crate) unsafe fn take_output<T>(task: &TaskRef) -> Option<Result<T, JoinError>> {
    debug_assert!(task.state.is_complete());
    let mut out: Option<Result<T, JoinError>> = None;
    let take = task.vtable.take_output;
    // SAFETY: the caller's contract; `out` has the type `take_output::<F, T>`
    // writes.
    unsafe { take(task.cell(), (&raw mut out).cast()) };
    out
}

/// The join handle is gone without joining (stage step 3).
///
/// # Safety
///
/// The caller must be the thread's join handle, detaching once, without
/// having taken the outcome.
pub(crate) unsafe fn detach(task: &TaskRef) {
    let detach = task.vtable.detach;
    // SAFETY: the caller's contract; the vtable matches the cell.
    unsafe { detach(task.cell()) }
}

// The vtable's functions. Each is `unsafe`: `ptr` must come from
// `new_unchecked::<F, T>` and still be counted, and the caller must hold the
// permission the stage protocol of the module docs asks of that operation.

/// The `tracing` event for a green thread's panic. Out of line and cold:
/// `vt_run` is the bottom frame of every green stack, and in a debug build
/// the event's locals would each take a slot in its frame, enough to make
/// every green thread touch one more stack page (4 KiB of RSS each).
#[cfg(feature = "tracing")]
#[cold]
#[inline(never)]
fn trace_panic(thread: u64, payload: &(dyn std::any::Any + Send)) {
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a non-string payload)");
    tracing::error!(target: "verdant::panic", thread, message = msg, "green thread panicked");
}

/// # Safety
///
/// See above: the caller consumed the thread's `NewTask`.
unsafe fn vt_run<F: FnOnce() -> T, T>(ptr: NonNull<Header>) {
    // SAFETY: `ptr` points to a live `Cell<F, T>` (the caller's contract).
    let cell = unsafe { ptr.cast::<Cell<F, T>>().as_ref() };
    let header = &cell.header;
    // Step 1. SAFETY: holding the `NewTask`, we own the stage until OUTPUT.
    let f = match unsafe { take_stage(cell) } {
        Stage::Unrun(f) => f,
        _ => abort("a green thread was started twice (a bug in verdant)"),
    };
    let finish = move || {
        if header.state.is_cancelled() {
            // Cancelled before it started (or its runtime shut down): its
            // captures are dropped here, where a destructor may park, and a
            // panicking one is reported as for any thread that never ran.
            header.state.set_finishing();
            if catch_unwind(AssertUnwindSafe(move || drop(f))).is_err() {
                eprintln!("verdant: a value captured by a green thread that never ran panicked while being dropped");
            }
            return;
        }
        // Step 2.
        let returned = catch_unwind(AssertUnwindSafe(f));
        // Step 3.
        header.state.set_finishing();
        // Step 4.
        let outcome = match returned {
            Ok(_) if header.state.is_cancelled() => Err(JoinError::cancelled()),
            Ok(v) => Ok(v),
            // Its own cancellation unwound it: not a panic.
            Err(payload) if payload.is::<interrupt::Cancelled>() => Err(JoinError::cancelled()),
            Err(payload) => {
                #[cfg(feature = "tracing")]
                trace_panic(header.id, &*payload);
                Err(JoinError::from_panic(payload))
            }
        };
        // Step 5. SAFETY: we still hold the permission of step 1.
        unsafe { store(cell, outcome) };
    };
    // Nothing may unwind into the worker: a destructor that panics here (a
    // result, a panic payload, a capture) ends the process, as a panicking
    // thread result does in std.
    if catch_unwind(AssertUnwindSafe(finish)).is_err() {
        abort("a green thread's result, panic payload or captured value panicked while being dropped");
    }
    // Step 6.
    if catch_unwind(locals::drop_current).is_err() {
        abort("a green thread's local panicked while being dropped");
    }
}

/// # Safety
///
/// See above: the caller consumed the thread's `NewTask`.
unsafe fn vt_drop_unrun<F: FnOnce() -> T, T>(ptr: NonNull<Header>, failure: Option<io::Error>) {
    // SAFETY: `ptr` points to a live `Cell<F, T>` (the caller's contract).
    let cell = unsafe { ptr.cast::<Cell<F, T>>().as_ref() };
    // SAFETY: holding the `NewTask`, we own the stage until OUTPUT.
    let stage = unsafe { take_stage(cell) };
    // Its captures are user values: a panic in their destructors is
    // reported, not allowed to unwind into the runtime.
    if catch_unwind(AssertUnwindSafe(move || drop(stage))).is_err() {
        eprintln!("verdant: a value captured by a green thread that never ran panicked while being dropped");
    }
    if let Some(e) = failure {
        // SAFETY: we still hold the permission; the outcome holds no `T`.
        unsafe { store(cell, Err(JoinError::spawn(e))) };
    }
}

/// Moves the stage out, leaving `Empty`.
///
/// # Safety
///
/// The caller has exclusive access to the stage (module docs).
unsafe fn take_stage<F, T>(cell: &Cell<F, T>) -> Stage<F, T> {
    // SAFETY: exclusive access (the caller's contract).
    let stage = unsafe { &mut *cell.stage.get() };
    std::mem::replace(&mut **stage, Stage::Empty)
}

/// Stage step 2: stores the outcome and sets OUTPUT, or drops the outcome
/// here if the handle is already gone.
///
/// # Safety
///
/// The caller holds the permission of stage step 1.
unsafe fn store<F, T>(cell: &Cell<F, T>, outcome: Result<T, JoinError>) {
    // SAFETY: exclusive access until OUTPUT is set just below. The stage is
    // `Empty` (step 1 took the function), so overwriting it leaks nothing.
    unsafe { **cell.stage.get() = Stage::Done(outcome) };
    if cell.header.state.set(OUTPUT) & DETACHED != 0 {
        // The handle went first: nobody else will look at the stage.
        // SAFETY: exclusive again, by the DETACHED bit we just saw.
        let stage = unsafe { take_stage(cell) };
        discard(cell, stage);
    }
}

/// Drops an outcome nobody joined, raising a scoped thread's flag if it is
/// a panic.
fn discard<F, T>(cell: &Cell<F, T>, stage: Stage<F, T>) {
    if let Stage::Done(Err(e)) = &stage {
        if e.is_panic() {
            if let Some(flag) = &cell.unjoined_panic {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }
    drop(stage);
}

/// # Safety
///
/// See above: the thread is complete, `dst` is a valid
/// `*mut Option<Result<T, JoinError>>`, and the caller is its join handle.
unsafe fn vt_take_output<F, T>(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: `ptr` points to a live `Cell<F, T>` (the caller's contract).
    let cell = unsafe { ptr.cast::<Cell<F, T>>().as_ref() };
    // SAFETY: COMPLETE was seen (Acquire), so the holder is done with the
    // stage for good (stage step 3), and only this handle takes it.
    if let Stage::Done(outcome) = unsafe { take_stage(cell) } {
        // SAFETY: `dst` is valid and of this type (the caller's contract).
        unsafe { *dst.cast::<Option<Result<T, JoinError>>>() = Some(outcome) };
    }
}

/// # Safety
///
/// See above: the caller is the join handle, detaching once.
unsafe fn vt_detach<F, T>(ptr: NonNull<Header>) {
    // SAFETY: `ptr` points to a live `Cell<F, T>` (the caller's contract).
    let cell = unsafe { ptr.cast::<Cell<F, T>>().as_ref() };
    if cell.header.state.set(DETACHED) & OUTPUT != 0 {
        // The outcome was stored first: the holder will not look again.
        // SAFETY: exclusive, by the OUTPUT bit we just saw.
        let stage = unsafe { take_stage(cell) };
        discard(cell, stage);
    }
}

/// # Safety
///
/// See above: the last reference is gone.
unsafe fn vt_dealloc<F, T>(ptr: NonNull<Header>) {
    // SAFETY: made by `Box::leak` of a `Box<Cell<F, T>>`, and unreachable
    // now. The stage is `ManuallyDrop`: its values were dropped by the
    // protocol (or the stage is `Empty`); nothing here touches `F` or `T`.
    drop(unsafe { Box::from_raw(ptr.cast::<Cell<F, T>>().as_ptr()) });
}

impl Header {
    /// The joiners list, locked to queue a waiter for `COMPLETE` (check
    /// `is_complete` under this lock before queueing: see
    /// `State::set_complete`). Returns the mutex too, for a
    /// `wait::Registration`.
    pub(crate) fn lock_joiners(&self) -> (&Mutex<WaitList>, parking_lot::MutexGuard<'_, WaitList>) {
        let guard = self.joiners.lock();
        self.state.set(JOINERS);
        (&self.joiners, guard)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.state.is_cancelled()
    }

    /// Registers who is told when the thread completes (see
    /// [`Completion`]). Call before the thread is submitted, at most once.
    pub(crate) fn set_completion(&self, completion: Arc<dyn Completion>) {
        if self.completion.set(completion).is_err() {
            debug_assert!(false, "a green thread's completion was set twice");
        }
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.state.is_complete()
    }

    /// The address of who is told of its completion (its `Group`), if any.
    pub(crate) fn completion_addr(&self) -> Option<usize> {
        self.completion.get().map(|c| Arc::as_ptr(c).cast::<()>().addr())
    }

    /// Whether the thread's function has returned (see `interrupt`).
    pub(crate) fn is_finishing(&self) -> bool {
        self.state.is_finishing()
    }

    /// The thread's own unwinding flag (see `interrupt::unwinding`).
    pub(crate) fn is_unwinding(&self) -> bool {
        self.state.is_unwinding()
    }

    pub(crate) fn set_unwinding(&self, on: bool) {
        self.state.set_unwinding(on);
    }

    /// Whether the thread's flagged unwinding is a panic (see
    /// `interrupt::is_panicking`).
    pub(crate) fn is_panicking(&self) -> bool {
        self.state.is_panicking()
    }

    pub(crate) fn set_unwinding_from(&self, panic: bool) {
        self.state.set_unwinding_from(panic);
    }

    /// Park step 1 (see `state`).
    #[inline]
    pub(crate) fn take_token(&self) -> bool {
        self.state.take_token()
    }

    /// Park step 2.
    #[inline]
    pub(crate) fn finish_park(&self) -> bool {
        self.state.finish_park()
    }

    /// Park step 3.
    #[inline]
    pub(crate) fn notify(&self) -> bool {
        self.state.notify()
    }

    /// The thread's `verdant::timeout` deadline.
    pub(crate) fn timeout_deadline(&self) -> Option<Instant> {
        interrupt::decode_deadline(self.timeout_deadline.load(Ordering::Relaxed))
    }

    /// Replaces it; returns the previous one.
    pub(crate) fn set_timeout_deadline(&self, deadline: Option<Instant>) -> Option<Instant> {
        let old = self
            .timeout_deadline
            .swap(interrupt::encode_deadline(deadline), Ordering::Relaxed);
        interrupt::decode_deadline(old)
    }
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Allocates green thread ids, starting at 1 (0 means "none"); OS
/// threads seen by `verdant::current()` take theirs from here too.
pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::task::join::{parts, Wait};
    use crate::runtime::task::wait_complete;

    fn spec() -> Spec {
        Spec {
            name: None,
            stack_size: 0,
            shared: None,
            unjoined_panic: None,
            location: Location::caller(),
        }
    }

    /// Clones and drops from several threads at once: the count never
    /// frees early (the capture stays alive while references exist) and
    /// frees exactly once (the capture's count returns to one).
    #[test]
    fn reference_count_across_threads() {
        let capture = Arc::new(());
        let c = capture.clone();
        let (new, join) = parts(spec(), move || drop(c));
        let task = join.task().clone();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let t = task.clone();
                s.spawn(move || {
                    for _ in 0..10_000 {
                        let u = t.clone();
                        assert_eq!(u.id, t.id);
                    }
                });
            }
        });
        new.run().complete();
        assert_eq!(Arc::strong_count(&capture), 1, "the function was consumed by run");
        assert!(join.join().is_ok());
        drop(task);
    }

    /// A `NewTask` dropped unused (a queue dropped with work in it) drops
    /// the function and completes the thread: a joiner does not hang.
    #[test]
    fn a_dropped_new_task_completes_its_thread() {
        let capture = Arc::new(());
        let c = capture.clone();
        let (new, join) = parts(spec(), move || drop(c));
        drop(new);
        assert_eq!(Arc::strong_count(&capture), 1);
        assert!(wait_complete(join.header(), None, Wait::Interruptible));
        assert!(join.join().unwrap_err().is_cancelled());
    }

    /// Whoever comes second drops an unjoined outcome: the handle (thread
    /// first) or the thread (handle first), exactly once either way.
    #[test]
    fn an_unjoined_outcome_is_dropped_once_by_whoever_comes_second() {
        for handle_first in [false, true] {
            let outcome = Arc::new(());
            let o = outcome.clone();
            let (new, join) = parts(spec(), move || o);
            if handle_first {
                drop(join);
                new.run().complete();
            } else {
                new.run().complete();
                assert_eq!(Arc::strong_count(&outcome), 2, "stored for join");
                drop(join);
            }
            assert_eq!(Arc::strong_count(&outcome), 1, "handle_first = {handle_first}");
        }
    }
}
