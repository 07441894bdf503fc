//! Waiting on several channel operations at once: [`Select`] and
//! [`select!`](crate::select!).
//!
//! The design is the simplest correct one: try every operation; if none is
//! ready, wait with the runtime's `wait_any`: register one waiter (the
//! caller) on the wait list of every channel involved, try again (a message
//! may have arrived meanwhile), park, deregister everywhere and retry. A
//! notification that picked the caller on a channel whose operation it then
//! does not perform is passed on to the next waiter of that channel by the
//! caller's registration there, so no wakeup is lost.
//!
//! **Zero capacity**: a send arm hands its message only to a *blocked*
//! receiver (it cannot wait with the message in the channel), and while the
//! caller is queued, its own receive arms on the same channel count among
//! the blocked receivers: the send arm does not count them, or the select
//! would pair with itself. Receive arms are queued before send arms, so a
//! receive arm's registration (which wakes a waiting send on a
//! zero-capacity channel) never wakes the caller's own send arm.
//!
//! **Fairness**: the operations are tried starting at a rotating position,
//! so a ready arm is not starved by an always-ready arm listed before it.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::runtime::park::Waiter;
use crate::runtime::wait::{self, Enlisted, Registration, Sources, Until};
use crate::sync::channel::{Receiver, RecvError, SendError, Sender, State, TryRecvError, TrySendError};

/// One arm of a [`Select`], type-erased.
trait Arm<'a, R> {
    /// Performs the operation if it is ready and runs its handler;
    /// `enlisted`: the caller is queued on every arm's list now.
    fn try_fire(&mut self, enlisted: bool) -> Option<R>;
    /// The channel (its address) and whether this is a receive.
    fn chan(&self) -> (usize, bool);
    /// Tells a send arm how many receive arms of its select use its channel.
    fn set_own_receivers(&mut self, _n: usize) {}
    /// Enqueues `w` on the channel's wait list for this operation.
    fn enlist(&self, w: &Waiter, into: &mut Enlisted<'a>);
}

struct RecvArm<'a, T, F> {
    rx: &'a Receiver<T>,
    f: Option<F>,
}

struct SendArm<'a, T, F> {
    tx: &'a Sender<T>,
    msg: Option<T>,
    f: Option<F>,
    own_receivers: usize,
}

impl<'a, T: 'a, R, F: FnOnce(Result<T, RecvError>) -> R> Arm<'a, R> for RecvArm<'a, T, F> {
    fn try_fire(&mut self, _enlisted: bool) -> Option<R> {
        let r = match self.rx.try_recv() {
            Ok(m) => Ok(m),
            Err(TryRecvError::Disconnected) => Err(RecvError),
            Err(TryRecvError::Empty) => return None,
        };
        self.f.take().map(|f| f(r))
    }
    fn chan(&self) -> (usize, bool) {
        (std::sync::Arc::as_ptr(&self.rx.chan) as *const () as usize, true)
    }
    fn enlist(&self, w: &Waiter, into: &mut Enlisted<'a>) {
        let state = &self.rx.chan.state;
        let s = state.lock();
        let queue = s.recv_queue();
        into.push(Registration::enqueue_waiter(state, s, queue, w.clone()));
    }
}

impl<'a, T: 'a, R, F: FnOnce(Result<(), SendError<T>>) -> R> Arm<'a, R> for SendArm<'a, T, F> {
    fn try_fire(&mut self, enlisted: bool) -> Option<R> {
        let msg = self.msg.take()?;
        let own = if enlisted { self.own_receivers } else { 0 };
        let r = match self.tx.try_send_excluding(msg, own) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(m)) => Err(SendError(m)),
            Err(TrySendError::Full(m)) => {
                self.msg = Some(m);
                return None;
            }
        };
        self.f.take().map(|f| f(r))
    }
    fn chan(&self) -> (usize, bool) {
        (std::sync::Arc::as_ptr(&self.tx.chan) as *const () as usize, false)
    }
    fn set_own_receivers(&mut self, n: usize) {
        self.own_receivers = n;
    }
    fn enlist(&self, w: &Waiter, into: &mut Enlisted<'a>) {
        let state = &self.tx.chan.state;
        into.push(Registration::enqueue_waiter(
            state,
            state.lock(),
            State::send_queue(),
            w.clone(),
        ));
    }
}

/// What happens when no operation is ready.
enum Otherwise<'a, R> {
    Wait,
    Timeout(Option<Instant>, Box<dyn FnOnce() -> R + 'a>),
    Default(Box<dyn FnOnce() -> R + 'a>),
}

/// Waits for the first of several channel operations, each with a handler;
/// runs the handler of the one performed and returns its value.
///
/// ```
/// use std::time::Duration;
/// use verdant::sync::{bounded, Select};
///
/// let (tx1, rx1) = bounded::<i32>(1);
/// let (_tx2, rx2) = bounded::<&str>(1);
/// tx1.send(7).unwrap();
/// let got = Select::new()
///     .recv(&rx1, |m| format!("int {}", m.unwrap()))
///     .recv(&rx2, |m| format!("str {}", m.unwrap()))
///     .timeout(Duration::from_secs(1), || "nothing".to_string())
///     .wait();
/// assert_eq!(got, "int 7");
/// ```
pub struct Select<'a, R> {
    arms: Vec<Box<dyn Arm<'a, R> + 'a>>,
    otherwise: Otherwise<'a, R>,
}

impl<'a, R> Default for Select<'a, R> {
    fn default() -> Self {
        Select::new()
    }
}

impl<'a, R> Select<'a, R> {
    /// A selection with no operations yet.
    pub fn new() -> Select<'a, R> {
        Select {
            arms: Vec::new(),
            otherwise: Otherwise::Wait,
        }
    }

    /// Adds a receive; `f` gets the message, or `Err` if `rx` is empty and
    /// disconnected.
    pub fn recv<T: 'a>(mut self, rx: &'a Receiver<T>, f: impl FnOnce(Result<T, RecvError>) -> R + 'a) -> Self {
        self.arms.push(Box::new(RecvArm { rx, f: Some(f) }));
        self
    }

    /// Adds a send of `msg`; `f` gets `Ok`, or the message back if every
    /// receiver is gone. If another arm fires, `msg` is dropped.
    pub fn send<T: 'a>(
        mut self,
        tx: &'a Sender<T>,
        msg: T,
        f: impl FnOnce(Result<(), SendError<T>>) -> R + 'a,
    ) -> Self {
        self.arms.push(Box::new(SendArm {
            tx,
            msg: Some(msg),
            f: Some(f),
            own_receivers: 0,
        }));
        self
    }

    /// If no operation becomes ready within `dur` (or before the scoped
    /// deadline of [`crate::timeout`]), runs `f` instead.
    pub fn timeout(mut self, dur: Duration, f: impl FnOnce() -> R + 'a) -> Self {
        self.otherwise = Otherwise::Timeout(Instant::now().checked_add(dur), Box::new(f));
        self
    }

    /// If no operation is ready now, runs `f` instead of waiting.
    pub fn default(mut self, f: impl FnOnce() -> R + 'a) -> Self {
        self.otherwise = Otherwise::Default(Box::new(f));
        self
    }

    /// Performs the first operation to become ready (or the timeout or
    /// default arm) and returns its handler's value. Without a timeout arm,
    /// an expired `timeout` deadline unwinds out of the wait.
    pub fn wait(mut self) -> R {
        // Receive arms first (module docs: zero capacity).
        self.arms.sort_by_key(|a| !a.chan().1);
        let chans: Vec<_> = self.arms.iter().map(|a| a.chan()).collect();
        for arm in &mut self.arms {
            let (at, recv) = arm.chan();
            if !recv {
                arm.set_own_receivers(chans.iter().filter(|&&c| c == (at, true)).count());
            }
        }
        if let Some((_, r)) = Arms::new(&mut self.arms).poll() {
            return r;
        }
        let until = match self.otherwise {
            Otherwise::Default(f) => return f(),
            Otherwise::Timeout(d, _) => Until::Deadline(d),
            Otherwise::Wait => Until::Forever,
        };
        match wait::wait_any(&mut Arms::new(&mut self.arms), until) {
            Ok(r) => r,
            Err(_) => match self.otherwise {
                Otherwise::Timeout(_, f) => f(),
                _ => unreachable!("only a deadline ends the wait early"),
            },
        }
    }
}

/// The arms of a selection, as the sources of one wait.
///
/// `enlisted` tracks whether the caller is queued on the arms' lists:
/// `wait_any` polls once right after `enlist` (queued) and once after
/// leaving every list (not queued), so a poll clears it.
struct Arms<'s, 'a, R> {
    arms: &'s mut [Box<dyn Arm<'a, R> + 'a>],
    enlisted: Cell<bool>,
}

impl<'s, 'a, R> Arms<'s, 'a, R> {
    fn new(arms: &'s mut [Box<dyn Arm<'a, R> + 'a>]) -> Self {
        Arms {
            arms,
            enlisted: Cell::new(false),
        }
    }
}

impl<'a, R> Sources<'a> for Arms<'_, 'a, R> {
    type Output = R;

    fn enlist(&self, waiter: &Waiter, into: &mut Enlisted<'a>) {
        for arm in self.arms.iter() {
            arm.enlist(waiter, into);
        }
        self.enlisted.set(true);
    }

    /// Tries the arms from a rotating start (fairness); the first ready
    /// one fires.
    fn poll(&mut self) -> Option<(usize, R)> {
        static ROTATE: AtomicUsize = AtomicUsize::new(0);
        let enlisted = self.enlisted.replace(false);
        let n = self.arms.len();
        if n == 0 {
            return None;
        }
        let start = ROTATE.fetch_add(1, Ordering::Relaxed) % n;
        (0..n).find_map(|i| {
            let at = (start + i) % n;
            self.arms[at].try_fire(enlisted).map(|r| (at, r))
        })
    }
}

impl<R> fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("arms", &self.arms.len())
            .finish_non_exhaustive()
    }
}

/// Waits for the first of several channel operations (sugar for
/// [`Select`]).
///
/// Arms: `recv(rx) -> pattern => expr`, `send(tx, msg) -> pattern => expr`,
/// and last, optionally, `default(duration) => expr` (a timeout) or
/// `default => expr` (do not wait). Each arm's expression becomes a
/// closure: arms may not both mutably borrow the same variable, and
/// `return`/`break` inside an arm leave only the arm; have each arm
/// produce a value instead.
///
/// ```
/// use std::time::Duration;
/// use verdant::sync::bounded;
///
/// let (tx, rx) = bounded::<i32>(1);
/// let (_tx2, rx2) = bounded::<i32>(1);
/// tx.send(1).unwrap();
/// let which = verdant::select! {
///     recv(rx) -> m => m.unwrap() * 10,
///     recv(rx2) -> m => m.unwrap(),
///     default(Duration::from_millis(100)) => -1,
/// };
/// assert_eq!(which, 10);
///
/// let which = verdant::select! {
///     recv(rx) -> _m => 1,
///     default(Duration::from_millis(5)) => 0,
/// };
/// assert_eq!(which, 0);
/// ```
#[macro_export]
macro_rules! select {
    (@chain $sel:expr ;) => { $sel.wait() };
    (@chain $sel:expr ; recv($r:expr) -> $p:pat => $b:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@chain $sel.recv(&$r, |$p| $b) ; $($($rest)*)?)
    };
    (@chain $sel:expr ; send($s:expr, $m:expr) -> $p:pat => $b:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@chain $sel.send(&$s, $m, |$p| $b) ; $($($rest)*)?)
    };
    (@chain $sel:expr ; default($d:expr) => $b:expr $(,)?) => {
        $sel.timeout($d, || $b).wait()
    };
    (@chain $sel:expr ; default => $b:expr $(,)?) => {
        $sel.default(|| $b).wait()
    };
    ($($t:tt)+) => {
        $crate::select!(@chain $crate::sync::Select::new() ; $($t)+)
    };
}
