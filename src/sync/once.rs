//! `Once`, `OnceLock` and `LazyLock`: std's once-cells, with std's API and
//! poisoning, whose waiting parks a green thread.
//!
//! std's cells block the OS thread of a caller that finds another thread
//! initialising: on a worker that stalls every green thread of it, and if
//! the initialiser itself parks (a socket, `verdant::sleep`, a channel)
//! and needs a green thread of the same worker to make progress, the
//! program deadlocks. Here such a caller parks instead; on a plain OS
//! thread it blocks, as with std.
//!
//! # Design (no `unsafe`)
//!
//! A [`Gate`] is a phase (incomplete, running, poisoned, complete) and a
//! wait list under one `parking_lot::Mutex`, waited on with the runtime's
//! one wait loop (`runtime::wait::wait_while`). Exactly one caller moves
//! the phase from incomplete (or, for `call_once_force`, poisoned) to
//! running and runs the initialiser outside the lock; a guard ([`Run`])
//! ends the run whatever happens (return, panic, cancellation unwinding
//! through it): it sets the phase and wakes every waiter at once, and one of
//! them takes over if the run did not complete.
//!
//! [`OnceLock`] keeps its value in a `std::sync::OnceLock`, so storing and
//! reading it needs no `unsafe` of ours. Only the caller running the gate
//! ever writes that inner cell, so std's blocking inside it can never
//! happen; the gate does all the waiting. The fast path of
//! [`OnceLock::get`] and of a `get_or_init` on an initialised cell is std's
//! `get`: one `Acquire` load. [`Once`] keeps a `done` flag beside its gate:
//! set (`Release`) when the initialiser has returned, read (`Acquire`) by
//! `call_once` and `is_completed` before anything else.

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::runtime::task::why::Why;
use crate::runtime::wait::{self, Queue, Until, WaitList};

/// Where an initialisation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not run yet, or (`OnceLock`) its initialiser panicked.
    Incomplete,
    /// A caller runs the initialiser now.
    Running,
    /// (`Once`) an initialiser panicked.
    Poisoned,
    /// Done: the value is there.
    Complete,
}

struct GateState {
    phase: Phase,
    waiters: WaitList,
}

fn waiters(s: &mut GateState) -> &mut WaitList {
    &mut s.waiters
}

/// The waiting shared by the three cells (see the module docs).
struct Gate {
    /// The phase is `Complete` (set with `Release` once it is).
    done: AtomicBool,
    state: Mutex<GateState>,
}

/// What a caller that finds the initialiser panicked before does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnPoison {
    /// Panics (`call_once`, `wait`).
    Panic,
    /// Runs the initialiser again, or waits on (`call_once_force`,
    /// `wait_force`).
    Ignore,
}

impl Gate {
    const fn new() -> Gate {
        Gate {
            done: AtomicBool::new(false),
            state: Mutex::new(GateState {
                phase: Phase::Incomplete,
                waiters: WaitList::new(),
            }),
        }
    }

    fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Waits while another caller runs the initialiser; then `None` if it
    /// completed, or the run, now the caller's (`poison`: whether a panic
    /// of it poisons the gate).
    fn begin(&self, on_poison: OnPoison, poison: bool) -> Option<Run<'_>> {
        let guard = self.state.lock();
        let (mut s, _) = wait::wait_while(
            &self.state,
            guard,
            Queue::new(waiters).named(Why::Once),
            Until::Forever,
            |s| s.phase == Phase::Running,
        );
        let was = s.phase;
        match was {
            Phase::Complete => None,
            Phase::Poisoned if on_poison == OnPoison::Panic => {
                drop(s);
                panic!("Once instance has previously been poisoned")
            }
            _ => {
                s.phase = Phase::Running;
                Some(Run {
                    gate: self,
                    poisoned: was == Phase::Poisoned,
                    poison,
                    completed: false,
                })
            }
        }
    }

    /// Waits until the phase is complete (`OnPoison::Panic`: or poisoned,
    /// and then panics).
    fn wait(&self, on_poison: OnPoison) {
        if self.is_done() {
            return;
        }
        let guard = self.state.lock();
        let (s, _) = wait::wait_while(
            &self.state,
            guard,
            Queue::new(waiters).named(Why::Once),
            Until::Forever,
            |s| !(s.phase == Phase::Complete || (s.phase == Phase::Poisoned && on_poison == OnPoison::Panic)),
        );
        if s.phase == Phase::Poisoned {
            drop(s);
            panic!("Once instance has previously been poisoned");
        }
    }

    /// Back to incomplete (`OnceLock::take`; `&mut`: nobody waits).
    fn reset(&mut self) {
        *self.done.get_mut() = false;
        self.state.get_mut().phase = Phase::Incomplete;
    }
}

/// The caller's run of an initialiser: ends it when dropped (see the
/// module docs).
struct Run<'a> {
    gate: &'a Gate,
    /// The gate was poisoned when this run began.
    poisoned: bool,
    /// A run that does not complete poisons the gate (`Once`), or leaves
    /// it incomplete (`OnceLock`).
    poison: bool,
    completed: bool,
}

impl Run<'_> {
    fn complete(mut self) {
        self.completed = true;
    }
}

impl Drop for Run<'_> {
    fn drop(&mut self) {
        let mut s = self.gate.state.lock();
        s.phase = match (self.completed, self.poison) {
            (true, _) => Phase::Complete,
            (false, true) => Phase::Poisoned,
            (false, false) => Phase::Incomplete,
        };
        if self.completed {
            self.gate.done.store(true, Ordering::Release);
        }
        let woken: Vec<_> = s.waiters.take_all().collect();
        drop(s);
        wait::unpark_all(woken);
    }
}

/// Runs an initialiser once, like `std::sync::Once`; a caller that finds
/// another one running it waits (parking a green thread).
///
/// A panicking initialiser poisons it: later `call_once`s panic, and
/// [`Once::call_once_force`] may run again. A cancellation unwinding
/// through the initialiser poisons it too.
///
/// ```
/// use verdant::sync::Once;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// static INIT: Once = Once::new();
/// static RUNS: AtomicUsize = AtomicUsize::new(0);
///
/// let hs: Vec<_> = (0..8)
///     .map(|_| verdant::spawn(|| INIT.call_once(|| { RUNS.fetch_add(1, Ordering::Relaxed); })))
///     .collect();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// assert_eq!(RUNS.load(Ordering::Relaxed), 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    gate: Gate,
}

/// What [`Once::call_once_force`] tells its closure, like
/// `std::sync::OnceState`.
///
/// ```
/// let once = verdant::sync::Once::new();
/// once.call_once_force(|state| assert!(!state.is_poisoned()));
/// ```
#[derive(Debug)]
pub struct OnceState {
    poisoned: bool,
}

impl OnceState {
    /// Whether an earlier initialiser panicked.
    ///
    /// ```
    /// use verdant::sync::Once;
    /// let once = Once::new();
    /// let _ = std::panic::catch_unwind(|| once.call_once(|| panic!("first try")));
    /// once.call_once_force(|state| assert!(state.is_poisoned()));
    /// assert!(once.is_completed());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

impl Once {
    /// A `Once` that has not run (usable in a `static`).
    ///
    /// ```
    /// static START: verdant::sync::Once = verdant::sync::Once::new();
    /// assert!(!START.is_completed());
    /// ```
    #[allow(clippy::new_without_default)] // as std's
    pub const fn new() -> Once {
        Once { gate: Gate::new() }
    }

    /// Runs `f` if no initialiser has completed yet, and returns once one
    /// has: the caller's, or another's (whom it waits for).
    ///
    /// # Panics
    ///
    /// If the `Once` is poisoned (an initialiser panicked), and if `f`
    /// panics (which poisons it).
    ///
    /// ```
    /// let once = verdant::sync::Once::new();
    /// let mut n = 0;
    /// once.call_once(|| n += 1);
    /// once.call_once(|| n += 1);
    /// assert_eq!(n, 1);
    /// ```
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.gate.is_done() {
            return;
        }
        if let Some(run) = self.gate.begin(OnPoison::Panic, true) {
            f();
            run.complete();
        }
    }

    /// Like [`Once::call_once`], but a poisoned `Once` runs `f` too (its
    /// [`OnceState`] says so) instead of panicking.
    ///
    /// ```
    /// use verdant::sync::Once;
    /// let once = Once::new();
    /// let _ = std::panic::catch_unwind(|| once.call_once(|| panic!("oops")));
    /// let mut recovered = false;
    /// once.call_once_force(|state| recovered = state.is_poisoned());
    /// assert!(recovered && once.is_completed());
    /// ```
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        if self.gate.is_done() {
            return;
        }
        if let Some(run) = self.gate.begin(OnPoison::Ignore, true) {
            f(&OnceState { poisoned: run.poisoned });
            run.complete();
        }
    }

    /// Whether an initialiser has completed (one `Acquire` load).
    ///
    /// ```
    /// let once = verdant::sync::Once::new();
    /// assert!(!once.is_completed());
    /// once.call_once(|| {});
    /// assert!(once.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.gate.is_done()
    }

    /// Waits until an initialiser has completed (run by someone else),
    /// like `std::sync::Once::wait`.
    ///
    /// # Panics
    ///
    /// If the `Once` is or becomes poisoned.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let once = Arc::new(verdant::sync::Once::new());
    /// let o = once.clone();
    /// let h = verdant::spawn(move || o.wait());
    /// once.call_once(|| {});
    /// h.join().unwrap();
    /// ```
    pub fn wait(&self) {
        self.gate.wait(OnPoison::Panic);
    }

    /// Like [`Once::wait`], but ignores poisoning: waits on until an
    /// initialiser completes.
    ///
    /// ```
    /// let once = verdant::sync::Once::new();
    /// once.call_once_force(|_| {});
    /// once.wait_force();
    /// ```
    pub fn wait_force(&self) {
        self.gate.wait(OnPoison::Ignore);
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

// As std's: poisoning reports what a panic left behind.
impl UnwindSafe for Once {}
impl RefUnwindSafe for Once {}

/// A cell written once, like `std::sync::OnceLock`; a caller that finds
/// another one initialising it waits (parking a green thread).
///
/// If the initialiser panics (or its green thread is cancelled), the
/// cell stays empty and the next caller initialises it; it is never
/// poisoned. An initialiser that initialises the same cell again waits for
/// itself forever (std's deadlocks or panics).
///
/// ```
/// use verdant::sync::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
///
/// let hs: Vec<_> = (0..4)
///     .map(|i| verdant::spawn(move || CONFIG.get_or_init(|| format!("set by {i}")).len()))
///     .collect();
/// let lens: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
/// assert!(lens.iter().all(|&n| n == CONFIG.get().unwrap().len()));
/// ```
pub struct OnceLock<T> {
    gate: Gate,
    /// Written only by the caller running `gate` (see the module docs).
    value: std::sync::OnceLock<T>,
}

impl<T> OnceLock<T> {
    /// An empty cell (usable in a `static`).
    ///
    /// ```
    /// static CELL: verdant::sync::OnceLock<u8> = verdant::sync::OnceLock::new();
    /// assert_eq!(CELL.get(), None);
    /// ```
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            gate: Gate::new(),
            value: std::sync::OnceLock::new(),
        }
    }

    /// The value, if it is initialised; never waits (one `Acquire` load).
    ///
    /// ```
    /// let cell = verdant::sync::OnceLock::new();
    /// assert_eq!(cell.get(), None);
    /// cell.set(3).unwrap();
    /// assert_eq!(cell.get(), Some(&3));
    /// ```
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// The value, mutably (`&mut`: nobody else can be initialising it).
    ///
    /// ```
    /// let mut cell = verdant::sync::OnceLock::from(1);
    /// *cell.get_mut().unwrap() += 1;
    /// assert_eq!(cell.get(), Some(&2));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.get_mut()
    }

    /// Initialises the cell with `value`; `Err(value)` if it was
    /// initialised already. Waits if another caller is initialising it.
    ///
    /// ```
    /// let cell = verdant::sync::OnceLock::new();
    /// assert_eq!(cell.set(1), Ok(()));
    /// assert_eq!(cell.set(2), Err(2));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("the initialiser runs once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, initialising it with `f` if it is empty. A caller that
    /// finds another one running its `f` waits (parks) until that ends,
    /// then returns its value (or, if that `f` panicked, runs its own).
    ///
    /// # Panics
    ///
    /// If `f` panics; the cell stays empty.
    ///
    /// ```
    /// let cell = verdant::sync::OnceLock::new();
    /// assert_eq!(*cell.get_or_init(|| 92), 92);
    /// assert_eq!(*cell.get_or_init(|| unreachable!()), 92);
    /// ```
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.value.get() {
            return v;
        }
        if let Some(run) = self.gate.begin(OnPoison::Ignore, false) {
            let v = f();
            let stored = self.value.set(v).is_ok();
            debug_assert!(stored, "only the running caller writes the value");
            run.complete();
        }
        self.value.get().expect("the gate completed, so the value is set")
    }

    /// Waits until the cell is initialised (by someone else), like
    /// `std::sync::OnceLock::wait`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let cell = Arc::new(verdant::sync::OnceLock::new());
    /// let c = cell.clone();
    /// let h = verdant::spawn(move || *c.wait());
    /// cell.set(5).unwrap();
    /// assert_eq!(h.join().unwrap(), 5);
    /// ```
    pub fn wait(&self) -> &T {
        if let Some(v) = self.value.get() {
            return v;
        }
        self.gate.wait(OnPoison::Ignore);
        self.value.get().expect("the gate completed, so the value is set")
    }

    /// The value, consuming the cell.
    ///
    /// ```
    /// let cell = verdant::sync::OnceLock::from("x".to_string());
    /// assert_eq!(cell.into_inner().as_deref(), Some("x"));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }

    /// Takes the value out, leaving the cell empty.
    ///
    /// ```
    /// let mut cell = verdant::sync::OnceLock::from(7);
    /// assert_eq!(cell.take(), Some(7));
    /// assert_eq!(cell.get(), None);
    /// cell.set(8).unwrap();
    /// ```
    pub fn take(&mut self) -> Option<T> {
        self.gate.reset();
        self.value.take()
    }
}

impl<T> Default for OnceLock<T> {
    /// An empty cell.
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    /// An initialised cell.
    fn from(value: T) -> OnceLock<T> {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        cell
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    /// A cell with a clone of the value, or an empty one.
    fn clone(&self) -> OnceLock<T> {
        match self.get() {
            Some(v) => OnceLock::from(v.clone()),
            None => OnceLock::new(),
        }
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

// As std's: a panicking initialiser leaves the cell empty, nothing broken.
impl<T: RefUnwindSafe + UnwindSafe> RefUnwindSafe for OnceLock<T> {}
impl<T: UnwindSafe> UnwindSafe for OnceLock<T> {}

/// A value computed on first use, like `std::sync::LazyLock`; a caller
/// that finds another one computing it waits (parking a green thread).
///
/// If the computation panics, the `LazyLock` is poisoned: its function is
/// gone, and later uses panic (as std's).
///
/// ```
/// use std::collections::HashMap;
/// use verdant::sync::LazyLock;
///
/// static PORTS: LazyLock<HashMap<&str, u16>> = LazyLock::new(|| {
///     HashMap::from([("http", 80), ("https", 443)])
/// });
///
/// let h = verdant::spawn(|| PORTS["https"]);
/// assert_eq!(h.join().unwrap(), 443);
/// assert_eq!(PORTS.len(), 2);
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    /// Taken by the one caller that runs it.
    init: Mutex<Option<F>>,
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A `LazyLock` that computes its value with `f` on first use (usable
    /// in a `static`).
    ///
    /// ```
    /// let answer = verdant::sync::LazyLock::new(|| 6 * 7);
    /// assert_eq!(*answer, 42);
    /// ```
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            cell: OnceLock::new(),
            init: Mutex::new(Some(f)),
        }
    }

    /// The value, computing it first if nobody has (waiting if another
    /// caller computes it now). Also what `*lazy` does.
    ///
    /// # Panics
    ///
    /// If the computation panics, or panicked before (poisoned).
    ///
    /// ```
    /// use verdant::sync::LazyLock;
    /// let lazy = LazyLock::new(|| "computed".to_string());
    /// assert_eq!(LazyLock::force(&lazy), "computed");
    /// ```
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| {
            let f = this.init.lock().take();
            match f {
                Some(f) => f(),
                None => panic!("LazyLock instance has previously been poisoned"),
            }
        })
    }
}

impl<T, F: FnOnce() -> T> std::ops::Deref for LazyLock<T, F> {
    type Target = T;

    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    /// A `LazyLock` computing `T::default()`.
    fn default() -> LazyLock<T> {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        match self.cell.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

// As std's: a panicking computation poisons the `LazyLock`.
impl<T: RefUnwindSafe + UnwindSafe, F: UnwindSafe> RefUnwindSafe for LazyLock<T, F> {}
impl<T: UnwindSafe, F: UnwindSafe> UnwindSafe for LazyLock<T, F> {}
