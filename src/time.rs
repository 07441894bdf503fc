//! Time: sleeping, timeouts and delayed spawns.
//!
//! `sleep` parks a green thread on its worker's timers (or blocks an OS
//! thread) and never returns before its deadline, except that it returns at
//! the earlier deadline of an enclosing [`timeout`].
//!
//! # Timeouts
//!
//! [`timeout`] (eventlet's `Timeout`, Go's context deadline) gives every
//! verdant blocking call made inside it a deadline, kept in one place: the
//! park path (`runtime::park`). Once the deadline has passed:
//!
//! * calls with a timeout error fail with it: `recv_timeout` and friends
//!   return their `Timeout` error, socket I/O fails with
//!   [`std::io::ErrorKind::TimedOut`], `sleep` returns;
//! * calls whose std-mirroring signature has no timeout error (`recv()`,
//!   `Mutex::lock`, `JoinHandle::join`, `Queue::get`, ...) unwind with a
//!   private payload that `timeout` catches (eventlet raises its `Timeout`
//!   exception at the same point). Destructors run on the way out; user
//!   panics are never swallowed: anything else resumes unwinding;
//! * calls that need not wait (a `recv` with a message ready) still succeed.
//!
//! `timeout` returns `Err(Elapsed)` whenever its deadline passed before `f`
//! returned, whatever `f` returned. Nested timeouts keep the earliest
//! deadline; an inner one that expires because of an outer deadline lets the
//! unwinding reach the outer one. The deadline belongs to the calling green
//! (or OS) thread: threads spawned inside do not inherit it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::error::Elapsed;
use crate::green::JoinHandle;
use crate::runtime::interrupt::{self, ElapsedUnwind};
use crate::runtime::park::{self, Wake};
use crate::runtime::task::why::{self, Why};

/// Sleeps for at least `dur`, like `std::thread::sleep`, but parks only
/// the calling green thread: its worker runs others meanwhile.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// verdant::spawn(|| verdant::sleep(Duration::from_millis(10))).join().unwrap();
/// assert!(t.elapsed() >= Duration::from_millis(10));
/// ```
pub fn sleep(dur: Duration) {
    match Instant::now().checked_add(dur) {
        Some(deadline) => sleep_until(deadline),
        // Further than the clock can count: until a `timeout` deadline.
        None => loop {
            why::note(Why::Sleep, u64::MAX);
            if park::park_reporting(None) == Wake::Elapsed {
                break;
            }
        },
    }
}

/// Sleeps until `deadline` (returns at once if it has passed), or until the
/// deadline of an enclosing [`timeout`] if that is earlier.
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(5);
/// verdant::spawn(move || verdant::sleep_until(deadline)).join().unwrap();
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) {
    let at = why::clock_ms(deadline);
    loop {
        why::note(Why::Sleep, at);
        if park::park_reporting(Some(deadline)) != Wake::Unparked {
            break;
        }
    }
}

/// Runs `f` with a deadline `dur` from now; `Err(Elapsed)` if the deadline
/// cut a blocking call of `f` short (eventlet's `Timeout`, Go's context
/// deadline). A closure that returns with nothing cut short keeps its
/// value even if the deadline passed meanwhile (as eventlet's `Timeout`
/// fires only at a blocking point, and tokio's returns a ready result), so
/// a message received right at the deadline is never dropped.
///
/// Every verdant blocking call made inside `f` (on this green or OS thread;
/// threads spawned inside do not inherit the deadline) is bounded by it.
/// Once it has passed:
///
/// * calls with a timeout error fail with it: `recv_timeout` and friends
///   return their `Timeout` error, socket I/O fails with
///   [`std::io::ErrorKind::TimedOut`], `sleep` returns;
/// * calls whose std-mirroring signature has no timeout error (`recv()`,
///   `Mutex::lock`, `JoinHandle::join`, `Queue::get`, ...) unwind with a
///   private payload that `timeout` catches (eventlet raises its `Timeout`
///   exception at the same point); destructors run on the way out, and user
///   panics are never swallowed;
/// * calls that need not wait (a `recv` with a message ready) still succeed.
///
/// Nested timeouts keep the earliest deadline; when an outer deadline
/// expires inside an inner `timeout`, the unwinding passes through the
/// inner one to the outer one.
///
/// ```
/// use std::time::Duration;
/// let (tx, rx) = verdant::sync::bounded::<u32>(1);
/// let r = verdant::timeout(Duration::from_millis(10), || rx.recv());
/// assert!(r.is_err()); // nobody sent
/// drop(tx);
/// assert_eq!(verdant::timeout(Duration::from_secs(5), || 7), Ok(7));
/// ```
pub fn timeout<F, T>(dur: Duration, f: F) -> Result<T, Elapsed>
where
    F: FnOnce() -> T,
{
    match Instant::now().checked_add(dur) {
        Some(deadline) => timeout_at(deadline, f),
        None => Ok(f()),
    }
}

/// Like [`timeout`], with an absolute deadline.
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(5);
/// let r = verdant::timeout_at(deadline, || verdant::sleep(Duration::from_secs(60)));
/// assert!(r.is_err());
/// assert!(Instant::now() >= deadline);
/// ```
pub fn timeout_at<F, T>(deadline: Instant, f: F) -> Result<T, Elapsed>
where
    F: FnOnce() -> T,
{
    let outer = interrupt::timeout_deadline();
    let effective = match outer {
        Some(o) if o < deadline => o,
        _ => deadline,
    };
    interrupt::set_timeout_deadline(Some(effective));
    let restore = Restore(outer);
    let outcome = catch_unwind(AssertUnwindSafe(f));
    // Whether a call inside was cut short by the deadline in force (see
    // `interrupt::note_elapsed`), and whose deadline that was.
    let cut = interrupt::timeout_deadline() == Some(interrupt::elapsed_mark());
    let ours = effective == deadline;
    drop(restore);
    if cut && !ours {
        // The outer deadline came first: the outer `timeout` reports it.
        interrupt::note_elapsed();
    }
    let passed = Instant::now() >= deadline;
    match outcome {
        // A call was cut short: its caller may have turned that into a
        // value (`sleep` returned, a socket read failed with `TimedOut`),
        // which is not what `f` would have produced. A closure that
        // returned with nothing cut short keeps its value, even if the
        // deadline passed meanwhile: a message it received is not lost.
        Ok(_) if cut && ours => Err(Elapsed::new()),
        Ok(v) => Ok(v),
        Err(payload) if passed && payload.is::<ElapsedUnwind>() => {
            // This unwinding ends here.
            interrupt::clear_unwinding();
            Err(Elapsed::new())
        }
        // A user panic, a cancellation, or an outer deadline's expiry.
        Err(payload) => interrupt::resume_unwind(payload),
    }
}

/// Puts the enclosing `timeout`'s deadline back, also when unwinding.
struct Restore(Option<Instant>);

impl Drop for Restore {
    fn drop(&mut self) {
        interrupt::set_timeout_deadline(self.0);
    }
}

/// Spawns a green thread that runs `f` after `dur` (eventlet's
/// `spawn_after`). Cancelling the handle before then means `f` never runs.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// let h = verdant::spawn_after(Duration::from_millis(5), || 42);
/// assert_eq!(h.join().unwrap(), 42);
/// assert!(t.elapsed() >= Duration::from_millis(5));
/// ```
#[track_caller]
pub fn spawn_after<F, T>(dur: Duration, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let deadline = Instant::now().checked_add(dur);
    crate::spawn(move || {
        match deadline {
            Some(d) => sleep_until(d),
            None => sleep(dur),
        }
        f()
    })
}
