//! Waiting, written once: the wait loops every primitive shares and the one
//! guard, [`Registration`], that every waiter holds while it is queued.
//!
//! A primitive keeps its state and its [`WaitList`]s under one
//! `parking_lot::Mutex<S>`; a [`Queue<S>`] names one list of `S` (a field
//! selector) and what a notification on it carries. Nothing else is
//! assumed, so the same loop serves a channel, a lock, a semaphore, a
//! join or a socket's readiness.
//!
//! # The wait ([`wait_while`], [`wait_while_chosen`])
//!
//! 1. Under the lock, check the condition. If the caller may proceed, it
//!    does (still under the lock, so nobody can take the state first).
//! 2. Otherwise [`Registration::enqueue`] pushes the caller on the list and
//!    unlocks. A notifier that changes the state after this finds it there.
//! 3. Park ([`park_until`]): until a notifier unparks it, its deadline
//!    passes, or it unwinds (cancellation, an expired
//!    [`crate::timeout`] for calls without a timeout error).
//! 4. Relock and leave the list. [`WaitList::leave`] says how the caller
//!    left: still queued (a spurious wakeup or its deadline), *chosen* by a
//!    `notify_one` (`pop`), or woken by a `notify_all` (`take_all`).
//! 5. Re-check the condition under that lock (the primitive's predicate
//!    learns whether the caller was chosen: a semaphore that hands a permit
//!    to the waiter it pops must know). Looking at the state is what acts
//!    on the notification: the caller proceeds, or, if a newcomer took what
//!    it was woken for (barging), there is nothing left to hand on.
//! 6. If the deadline passed and the caller still may not proceed, the
//!    wait fails; else back to 2.
//!
//! Waiting on several lists at once ([`wait_any`]: select, `wait_any` over
//! green threads) runs the same steps with one [`Registration`] per list,
//! all for the same waiter, collected in an [`Enlisted`].
//!
//! # Passing a notification on (the one rule)
//!
//! A waiter that leaves *without acting on* a notification it holds
//! (cancelled, timed out, or unwinding for any other reason, at any point
//! between being chosen and step 5) would lose it: the notifier woke one
//! waiter, and that one is gone. So:
//!
//! 1. A waiter dequeued by a `notify_one`-style `pop` ([`Left::Chosen`])
//!    holds the notification until it acts on it.
//! 2. If it leaves without acting on it, it hands it to the next waiter of
//!    the same list. For most lists that is "pop the next waiter and unpark
//!    it". A list whose `notify_one` hands over a resource (a semaphore's
//!    permit, counted as taken from the moment of the pop) gives it back
//!    instead, and that gives it to the next waiter
//!    ([`Queue::handing_over`]).
//! 3. A waiter dequeued by a `notify_all`-style `take_all`
//!    ([`Left::Broadcast`]) need not: every waiter that could use the
//!    notification was woken with it.
//! 4. A waiter still queued when it leaves ([`Left::Queued`]) holds
//!    nothing.
//!
//! The rule lives in [`Registration`] alone: its destructor applies it, and
//! its methods are the only way to leave a list. A primitive says what its
//! notification means (its [`Queue`]), never when to pass it on.
//!
//! # Extending it
//!
//! Waits outside the sync layer (joining a green thread, a socket's
//! readiness) fit the same API: their state is the `Mutex<S>` they already
//! have, their list a selector on it.

use std::time::Instant;

use parking_lot::{Mutex, MutexGuard};

use crate::runtime::park::{self, Waiter, Wake};
use crate::runtime::task::why::Why;
mod list;

pub(crate) use list::{Left, WaitList};

/// Selects one wait list of a primitive's state.
pub(crate) type ListOf<S> = fn(&mut S) -> &mut WaitList;

/// A list that is the whole state of its mutex (`Mutex<WaitList>`: a
/// condvar, a green thread's joiners).
pub(crate) const LONE: Queue<WaitList> = Queue::new(lone);

/// [`LONE`], for a condvar's waiters.
pub(crate) const CONDVAR: Queue<WaitList> = LONE.named(Why::Condvar);

fn lone(l: &mut WaitList) -> &mut WaitList {
    l
}

/// One wait list of a primitive's state `S`, and what its notifications
/// carry. Cheap to copy (a few function pointers).
pub(crate) struct Queue<S> {
    list: ListOf<S>,
    /// Under the lock, hands a notification the caller will not act on to
    /// the next waiter; returns whom to unpark. `None`: pop the next waiter.
    hand_on: Option<fn(&mut S) -> Option<Waiter>>,
    /// Runs under the lock each time a waiter queues here.
    on_park: Option<fn(&mut S)>,
    /// Runs under the lock each time a waiter leaves (also when unwinding).
    on_leave: Option<fn(&mut S)>,
    /// What a dump says a green thread queued here waits for (the datum
    /// is the address of the primitive's mutex).
    why: Option<Why>,
}

impl<S> Clone for Queue<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Queue<S> {}

impl<S> Queue<S> {
    /// The list `list` selects; a notification is a plain wakeup.
    pub(crate) const fn new(list: ListOf<S>) -> Queue<S> {
        Queue {
            list,
            hand_on: None,
            on_park: None,
            on_leave: None,
            why: None,
        }
    }

    /// Names the wait for dumps (see `task::why`).
    pub(crate) const fn named(self, why: Why) -> Queue<S> {
        Queue { why: Some(why), ..self }
    }

    /// With hooks that run under the lock when a waiter queues and when it
    /// leaves (zero-capacity channels count their waiting receivers).
    pub(crate) const fn counting(self, on_park: fn(&mut S), on_leave: fn(&mut S)) -> Queue<S> {
        Queue {
            on_park: Some(on_park),
            on_leave: Some(on_leave),
            ..self
        }
    }

    /// For a list whose `pop` hands a resource to the waiter it chooses:
    /// `hand_on` gives that resource back (and so to the next waiter) when
    /// the chosen waiter leaves without taking it. Such a list must never
    /// be `take_all`ed: a waiter caught by it could not tell it had been
    /// given the resource.
    pub(crate) const fn handing_over(self, hand_on: fn(&mut S) -> Option<Waiter>) -> Queue<S> {
        Queue {
            hand_on: Some(hand_on),
            ..self
        }
    }

    fn next(&self, s: &mut S) -> Option<Waiter> {
        match self.hand_on {
            Some(hand_on) => hand_on(s),
            None => (self.list)(s).pop(),
        }
    }
}

/// How a wait may end early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// No deadline; an expired `verdant::timeout` deadline unwinds
    /// (`recv()`, `lock()`).
    Forever,
    /// A deadline (or none), and the `verdant::timeout` deadline ends the
    /// wait too: the call reports its timeout error (`recv_timeout`).
    Deadline(Option<Instant>),
    /// A deadline that ends the wait, while an expired `verdant::timeout`
    /// deadline unwinds (calls whose timeout is not an error of theirs:
    /// `join`, `wait_any_timeout`, a server's drain).
    Within(Option<Instant>),
    /// Like `Within`, but a cancellation of the waiter does not end the
    /// wait: the caller checks for it once the wait is over (joining a
    /// `spawn_blocking` job, which goes on running whatever the joiner does).
    WithinDeferringCancel(Option<Instant>),
    /// Nothing ends the wait but its condition: neither a cancellation nor
    /// an expired `verdant::timeout` (the caller re-raises them afterwards
    /// with `interrupt::check_interrupts`). For `verdant::scope`, which must
    /// not unwind while threads borrowing its caller's stack still run.
    Uninterruptible,
}

/// Parks the caller as `until` says (step 3).
pub(crate) fn park_until(until: Until) -> Wake {
    match until {
        Until::Forever => park::park(None),
        Until::Deadline(d) => park::park_reporting(d),
        Until::Within(d) => park::park(d),
        Until::WithinDeferringCancel(d) => park::park_deferring_cancel(d),
        Until::Uninterruptible => park::park_uninterruptible(None),
    }
}

/// `Until` for a `*_timeout(dur)` call.
pub(crate) fn after(dur: std::time::Duration) -> Until {
    Until::Deadline(Instant::now().checked_add(dur))
}

/// Waits while `blocked(state)` holds (steps 1–6). Returns the relocked
/// guard and whether the condition cleared (`false`: the deadline passed
/// first).
pub(crate) fn wait_while<'a, S>(
    mutex: &'a Mutex<S>,
    guard: MutexGuard<'a, S>,
    queue: Queue<S>,
    until: Until,
    mut blocked: impl FnMut(&mut S) -> bool,
) -> (MutexGuard<'a, S>, bool) {
    wait_while_chosen(mutex, guard, queue, until, |s, _| blocked(s))
}

/// [`wait_while`] whose predicate also learns whether a `notify_one`
/// chose the caller (`false` on the first check). It runs exactly once
/// per wakeup, so it may take what it finds (a permit) when it clears.
pub(crate) fn wait_while_chosen<'a, S>(
    mutex: &'a Mutex<S>,
    mut guard: MutexGuard<'a, S>,
    queue: Queue<S>,
    until: Until,
    mut blocked: impl FnMut(&mut S, bool) -> bool,
) -> (MutexGuard<'a, S>, bool) {
    let mut chosen = false;
    let mut ended = false;
    while blocked(&mut guard, chosen) {
        if ended {
            return (guard, false);
        }
        let reg = Registration::enqueue(mutex, guard, queue);
        let wake = park_until(until);
        (guard, chosen) = reg.relock();
        ended = wake != Wake::Unparked;
    }
    (guard, true)
}

/// Where a [`Registration`] is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// On the list.
    Queued,
    /// Off the list, holding a `notify_one` it has not acted on yet.
    Holding,
    /// Off the list, holding nothing.
    Done,
}

/// One waiter on one list: the only guard for a queued waiter, and the
/// only code that applies the pass-on rule (module docs).
///
/// Dropped while queued (its `park` unwound) it leaves the list and passes
/// on a notification it had been chosen for; dropped after
/// [`Registration::leave`] without [`Registration::consume`], it passes on
/// the notification it still holds.
#[must_use = "dropping a Registration leaves the list at once"]
pub(crate) struct Registration<'a, S> {
    mutex: &'a Mutex<S>,
    queue: Queue<S>,
    key: u64,
    at: At,
}

impl<'a, S> Registration<'a, S> {
    /// Queues the caller on `queue`'s list and unlocks (step 2).
    pub(crate) fn enqueue(mutex: &'a Mutex<S>, guard: MutexGuard<'a, S>, queue: Queue<S>) -> Registration<'a, S> {
        Registration::enqueue_waiter(mutex, guard, queue, Waiter::current())
    }

    /// Like [`Registration::enqueue`], for a given waiter (one waiter
    /// queued on several lists).
    pub(crate) fn enqueue_waiter(
        mutex: &'a Mutex<S>,
        mut guard: MutexGuard<'a, S>,
        queue: Queue<S>,
        waiter: Waiter,
    ) -> Registration<'a, S> {
        if let (Some(why), Waiter::Green(task)) = (queue.why, &waiter) {
            task.set_why(why, std::ptr::from_ref(mutex).addr() as u64);
        }
        let key = (queue.list)(&mut guard).push(waiter);
        if let Some(on_park) = queue.on_park {
            on_park(&mut guard);
        }
        drop(guard);
        Registration {
            mutex,
            queue,
            key,
            at: At::Queued,
        }
    }

    /// Relocks and leaves the list (step 4); the caller acts on a
    /// notification under the returned guard, which only the wait loops of
    /// this module do. Returns whether a `notify_one` chose the caller.
    fn relock(mut self) -> (MutexGuard<'a, S>, bool) {
        let mut guard = self.mutex.lock();
        let chosen = self.leave_locked(&mut guard);
        self.at = At::Done;
        (guard, chosen)
    }

    /// Relocks, leaves the list and unlocks. Returns whether a
    /// `notify_one` chose the caller; if so, this guard now holds that
    /// notification until [`Registration::consume`], and passes it on if
    /// dropped first (the caller may still unwind before it acts on it:
    /// a condvar waiter re-locking its mutex, a select running a handler).
    pub(crate) fn leave(&mut self) -> bool {
        if self.at != At::Queued {
            return self.at == At::Holding;
        }
        let mut guard = self.mutex.lock();
        let chosen = self.leave_locked(&mut guard);
        self.at = if chosen { At::Holding } else { At::Done };
        chosen
    }

    /// The caller acted on the notification it holds (or there was none):
    /// nothing to pass on.
    pub(crate) fn consume(&mut self) {
        if self.at == At::Holding {
            self.at = At::Done;
        }
    }

    fn leave_locked(&self, s: &mut S) -> bool {
        let left = (self.queue.list)(s).leave(self.key);
        if let Some(on_leave) = self.queue.on_leave {
            on_leave(s);
        }
        debug_assert!(
            !(left == Left::Broadcast && self.queue.hand_on.is_some()),
            "a list that hands over resources was take_all'ed"
        );
        left == Left::Chosen
    }
}

impl<S> Drop for Registration<'_, S> {
    fn drop(&mut self) {
        let mut guard = match self.at {
            At::Done => return,
            _ => self.mutex.lock(),
        };
        if self.at == At::Queued && !self.leave_locked(&mut guard) {
            return;
        }
        // Chosen by a `notify_one`, leaving without acting on it: hand on.
        let next = self.queue.next(&mut guard);
        drop(guard);
        if let Some(w) = next {
            w.unpark();
        }
    }
}

/// What a waiter on several lists does with one of its registrations.
pub(crate) trait Leave {
    /// [`Registration::leave`].
    fn leave(&mut self) -> bool;
    /// [`Registration::consume`].
    fn consume(&mut self);
}

impl<S> Leave for Registration<'_, S> {
    fn leave(&mut self) -> bool {
        Registration::leave(self)
    }
    fn consume(&mut self) {
        Registration::consume(self)
    }
}

/// One waiter queued on several lists at once: one [`Registration`] per
/// list, indexed like the sources of a [`Sources`].
#[derive(Default)]
pub(crate) struct Enlisted<'a> {
    regs: Vec<Box<dyn Leave + 'a>>,
}

impl<'a> Enlisted<'a> {
    /// Adds the registration of the next source.
    pub(crate) fn push(&mut self, reg: impl Leave + 'a) {
        self.regs.push(Box::new(reg));
    }

    fn leave_all(&mut self) {
        for r in &mut self.regs {
            r.leave();
        }
    }
}

/// Several wait lists and the operations they guard (select's arms, the
/// green threads of `wait_any`).
pub(crate) trait Sources<'a> {
    /// What a performed operation yields.
    type Output;
    /// Queues `waiter` on the list of every source, in index order.
    fn enlist(&self, waiter: &Waiter, into: &mut Enlisted<'a>);
    /// Performs the first ready operation: its source's index and result.
    fn poll(&mut self) -> Option<(usize, Self::Output)>;
}

/// Waits until some operation of `sources` is performed; the caller has
/// tried once already. `Err` carries the wake that ended the wait early.
///
/// The steps of the module docs, for several lists: queue on every list,
/// poll again (an operation may have become ready before the caller was
/// queued, notifying nobody), park, leave every list, poll. The source
/// that was performed acted on its notification; a notification received
/// on another list is passed on (when no source was ready, every list was
/// looked at, and none is).
pub(crate) fn wait_any<'a, T: Sources<'a>>(sources: &mut T, until: Until) -> Result<T::Output, Wake> {
    loop {
        let mut regs = Enlisted::default();
        sources.enlist(&Waiter::current(), &mut regs);
        if let Some((_, out)) = sources.poll() {
            return Ok(out);
        }
        let wake = park_until(until);
        regs.leave_all();
        match sources.poll() {
            Some((i, out)) => {
                regs.regs[i].consume();
                drop(regs);
                return Ok(out);
            }
            None => regs.regs.iter_mut().for_each(|r| r.consume()),
        }
        if wake != Wake::Unparked {
            return Err(wake);
        }
    }
}

/// Wakes the waiters `woken` returned, after the caller released its lock.
pub(crate) fn unpark_all(woken: impl IntoIterator<Item = Waiter>) {
    for w in woken {
        w.unpark();
    }
}
