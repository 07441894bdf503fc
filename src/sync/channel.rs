//! Multi-producer multi-consumer channels: [`bounded`] and [`unbounded`].
//!
//! One `parking_lot::Mutex` guards the queue, the sender and receiver
//! counts and two [`WaitList`]s (blocked senders, blocked receivers). A send
//! wakes one blocked receiver, a receive wakes one blocked sender, the last
//! `Sender` (or `Receiver`) to drop wakes every waiter on the other side,
//! which then sees the disconnection.
//!
//! **Fairness**: waiters are woken in FIFO order, but a thread arriving
//! while a woken one has not run yet may take the message first (barging,
//! as in crossbeam and Go); every waiter is still eventually woken.
//!
//! **Zero capacity** (`bounded(0)`) is a rendezvous, with two paths:
//!
//! 1. A blocking `send` *offers* its message: it is queued in `offers`
//!    (with a ticket and the sender's waiter), one blocked receiver is
//!    woken, and the sender waits until its offer is gone. A receiver
//!    (`recv`, `try_recv`, a select's receive arm) takes the oldest offer
//!    under the lock and unparks its sender, so `send` returns `Ok` only
//!    once a receiver holds the message. A sender whose wait ends first
//!    (deadline, disconnection) withdraws its offer under the lock and gets
//!    the message back; one that unwinds (cancellation) withdraws it in a
//!    guard's destructor. Taking and withdrawing both happen under the
//!    lock, so exactly one of them happens: never lost, never duplicated.
//! 2. A non-blocking `try_send` (and a select's send arm, which cannot
//!    wait with its message in the channel) hands the message to a
//!    *blocked* receiver: it succeeds while fewer messages are in `queue`
//!    than receivers wait (`waiting_receivers`, counted by their
//!    registration), and wakes one of them, which takes it. A select does
//!    not count its own receive arms on the channel (it would pair with
//!    itself). If the woken receiver unwinds before taking the message, its
//!    registration wakes the next receiver; with none left, the message
//!    stays in the channel for the next `recv` (the one way a
//!    zero-capacity channel holds a message; see `docs/caveats.md`).

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use crate::runtime::park::Waiter;

/// The message source of an [`after`] or [`tick`] channel: computed when
/// received, as crossbeam's are (no thread or timer sends it).
struct Timer<T> {
    /// When the next message is due.
    next: Instant,
    /// `None`: one message only ([`after`]).
    period: Option<Duration>,
    make: fn(Instant) -> T,
}

/// A blocked zero-capacity sender's message, waiting for a receiver.
struct Offer<T> {
    ticket: u64,
    msg: T,
    sender: Waiter,
}
use crate::runtime::task::why::Why;
use crate::runtime::wait::{self, Queue, Until, WaitList};

pub(crate) struct State<T> {
    queue: VecDeque<T>,
    /// `None`: unbounded.
    cap: Option<usize>,
    senders: usize,
    receivers: usize,
    /// Receivers blocked now (what a zero-capacity `try_send` pairs with).
    waiting_receivers: usize,
    /// Zero capacity: the messages of blocked senders, oldest first
    /// (increasing tickets).
    offers: VecDeque<Offer<T>>,
    next_ticket: u64,
    /// [`after`] and [`tick`]: the next message, made when it is due.
    timer: Option<Timer<T>>,
    pub(crate) send_waiters: WaitList,
    pub(crate) recv_waiters: WaitList,
    /// Zero capacity: places that selects which chose a send arm have
    /// reserved and not yet filled (see `Sender::send_reserved`).
    reserved: usize,
}

impl<T> State<T> {
    /// Whether a message may go into `queue` now; `own_receivers`: the
    /// caller's own receivers among the waiting ones (a select's receive
    /// arms), which it must not pair with.
    fn has_room(&self, own_receivers: usize) -> bool {
        match self.cap {
            None => true,
            Some(0) => self.queue.len() + self.reserved + own_receivers < self.waiting_receivers,
            Some(c) => self.queue.len() < c,
        }
    }

    fn send_blocked(&mut self) -> bool {
        self.receivers > 0 && !self.has_room(0)
    }

    fn recv_blocked(&mut self) -> bool {
        self.queue.is_empty() && self.offers.is_empty() && self.senders > 0 && !self.timer_due()
    }

    fn timer_due(&self) -> bool {
        self.timer.as_ref().is_some_and(|t| t.next <= Instant::now())
    }

    /// When the timer of an [`after`] or [`tick`] channel is due next.
    pub(crate) fn timer_next(&self) -> Option<Instant> {
        self.timer.as_ref().map(|t| t.next)
    }

    /// Takes the timer's message if it is due.
    fn fire(&mut self) -> Option<T> {
        if !self.timer_due() {
            return None;
        }
        let t = self.timer.as_mut()?;
        let msg = (t.make)(t.next);
        match t.period {
            Some(p) => match t.next.max(Instant::now()).checked_add(p) {
                Some(next) => t.next = next,
                None => self.timer = None,
            },
            None => self.timer = None,
        }
        Some(msg)
    }

    /// Whether a receive would not wait now (a message, or disconnected).
    pub(crate) fn recv_ready(&mut self) -> bool {
        !self.recv_blocked()
    }

    /// Whether a send would not wait now (room, or disconnected), not
    /// counting `own_receivers` of the blocked receivers.
    pub(crate) fn send_ready(&self, own_receivers: usize) -> bool {
        self.receivers == 0 || self.has_room(own_receivers)
    }

    fn is_offered(&self, ticket: u64) -> bool {
        self.offers.binary_search_by_key(&ticket, |o| o.ticket).is_ok()
    }

    /// Takes back the offer `ticket` if no receiver took it.
    fn withdraw(&mut self, ticket: u64) -> Option<T> {
        let i = self.offers.binary_search_by_key(&ticket, |o| o.ticket).ok()?;
        self.offers.remove(i).map(|o| o.msg)
    }

    /// The list blocked receivers wait on. On a zero-capacity channel it
    /// counts them: a send completes only while one waits.
    pub(crate) fn recv_queue(&self) -> Queue<Self> {
        match self.cap {
            Some(0) => Self::RECV_ZERO,
            _ => Self::RECV,
        }
    }

    /// The list blocked senders wait on.
    pub(crate) fn send_queue() -> Queue<Self> {
        Self::SEND
    }

    // The queues as constants: nothing is built per call.
    const RECV: Queue<Self> = Queue::new(recv_list).named(Why::ChannelRecv);
    const RECV_ZERO: Queue<Self> = Self::RECV.counting(State::receiver_parks, State::receiver_leaves);
    const SEND: Queue<Self> = Queue::new(send_list).named(Why::ChannelSend);

    fn receiver_parks(&mut self) {
        self.waiting_receivers += 1;
        if self.cap == Some(0) {
            // A blocked sender can now hand its message over.
            if let Some(w) = self.send_waiters.pop() {
                w.unpark();
            }
        }
    }

    fn receiver_leaves(&mut self) {
        self.waiting_receivers -= 1;
    }

    /// Takes the next message, and whom to wake for it: a sender that may
    /// now have room, or the zero-capacity sender whose offer it was.
    fn pop(&mut self) -> Option<(T, Option<Waiter>)> {
        match self.queue.pop_front() {
            Some(msg) if self.cap == Some(0) => Some((msg, None)),
            Some(msg) => Some((msg, self.send_waiters.pop())),
            None => match self.offers.pop_front() {
                Some(o) => Some((o.msg, Some(o.sender))),
                None => self.fire().map(|m| (m, None)),
            },
        }
    }

    /// Messages in the channel (a zero-capacity channel holds none: a
    /// message handed to a receiver is the receiver's).
    fn len(&self) -> usize {
        match self.cap {
            Some(0) => 0,
            _ => self.queue.len() + usize::from(self.timer_due()),
        }
    }

    fn is_full(&self) -> bool {
        self.cap.is_some_and(|c| self.len() >= c)
    }
}

pub(crate) struct Chan<T> {
    pub(crate) state: Mutex<State<T>>,
}

fn send_list<T>(s: &mut State<T>) -> &mut WaitList {
    &mut s.send_waiters
}

fn recv_list<T>(s: &mut State<T>) -> &mut WaitList {
    &mut s.recv_waiters
}

/// A channel holding at most `cap` messages; `send` waits while it is full.
/// `bounded(0)` is a rendezvous channel: `send` waits for a receiver.
///
/// ```
/// let (tx, rx) = verdant::sync::bounded(1);
/// let h = verdant::spawn(move || {
///     for i in 0..3 { tx.send(i).unwrap(); }
/// });
/// assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
/// h.join().unwrap();
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    new(Some(cap))
}

/// A channel without a capacity limit: `send` never waits.
///
/// ```
/// let (tx, rx) = verdant::sync::unbounded();
/// tx.send("hi").unwrap();
/// assert_eq!(rx.recv(), Ok("hi"));
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    new(None)
}

fn new<T>(cap: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(cap, None));
    (Sender { chan: chan.clone() }, Receiver { chan })
}

impl<T> Chan<T> {
    fn new(cap: Option<usize>, timer: Option<Timer<T>>) -> Chan<T> {
        Chan {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(cap.unwrap_or(0).min(1024)),
                cap,
                senders: 1,
                receivers: 1,
                waiting_receivers: 0,
                reserved: 0,
                offers: VecDeque::new(),
                next_ticket: 0,
                timer,
                send_waiters: WaitList::new(),
                recv_waiters: WaitList::new(),
            }),
        }
    }
}

/// A receiver without a sender that never delivers a message nor
/// disconnects (crossbeam's `never`): a [`select!`](crate::select!) arm on
/// it never fires, which turns an arm off.
///
/// ```
/// use std::time::Duration;
/// let rx = verdant::sync::never::<i32>();
/// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(verdant::sync::RecvTimeoutError::Timeout));
/// ```
pub fn never<T>() -> Receiver<T> {
    // `senders` starts at one, and no `Sender` exists to drop it.
    timer_receiver(Some(0), None)
}

/// A receiver that delivers one message, the [`Instant`] it was due at,
/// once `duration` has passed (crossbeam's `after`), and nothing after
/// that. It needs no thread: the message is made when received.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// let rx = verdant::sync::after(Duration::from_millis(5));
/// let at = rx.recv().unwrap();
/// assert!(at >= start + Duration::from_millis(5));
/// assert!(rx.try_recv().is_err());
/// ```
pub fn after(duration: Duration) -> Receiver<Instant> {
    let timer = Instant::now().checked_add(duration).map(|next| Timer {
        next,
        period: None,
        make: std::convert::identity,
    });
    timer_receiver(Some(1), timer)
}

/// A receiver that delivers a message every `duration`, the [`Instant`]
/// it was due at (crossbeam's `tick`). At most one message is ever
/// pending: ticks nobody receives are skipped, and the next is due
/// `duration` after the later of its due time and its receipt.
///
/// ```
/// use std::time::Duration;
/// let ticks = verdant::sync::tick(Duration::from_millis(2));
/// let a = ticks.recv().unwrap();
/// let b = ticks.recv().unwrap();
/// assert!(b >= a + Duration::from_millis(2));
/// ```
pub fn tick(duration: Duration) -> Receiver<Instant> {
    let timer = Instant::now().checked_add(duration).map(|next| Timer {
        next,
        period: Some(duration),
        make: std::convert::identity,
    });
    timer_receiver(Some(1), timer)
}

fn timer_receiver<T>(cap: Option<usize>, timer: Option<Timer<T>>) -> Receiver<T> {
    Receiver {
        chan: Arc::new(Chan::new(cap, timer)),
    }
}

/// `until`, ending also when a timer channel's next message is due at
/// `next` (the caller checks for it and waits again).
pub(crate) fn until_timer(until: Until, next: Option<Instant>) -> Until {
    let Some(next) = next else { return until };
    match until {
        Until::Forever => Until::Within(Some(next)),
        Until::Deadline(d) => Until::Deadline(Some(d.map_or(next, |d| d.min(next)))),
        Until::Within(d) => Until::Within(Some(d.map_or(next, |d| d.min(next)))),
        other => other,
    }
}

/// Whether a wait bounded by [`until_timer`] ended at the timer (so its
/// caller should look again) rather than at its own deadline.
pub(crate) fn timer_passed(next: Option<Instant>) -> bool {
    next.is_some_and(|n| n <= Instant::now())
}

/// The sending half of a channel; clone it for more producers.
///
/// ```
/// let (tx, rx) = verdant::sync::unbounded();
/// let tx2 = tx.clone();
/// tx.send(1).unwrap();
/// tx2.send(2).unwrap();
/// assert_eq!(rx.try_iter().sum::<i32>(), 3);
/// ```
pub struct Sender<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

/// The receiving half of a channel; clone it for more consumers.
///
/// ```
/// let (tx, rx) = verdant::sync::unbounded::<i32>();
/// let rx2 = rx.clone();
/// tx.send(5).unwrap();
/// assert_eq!(rx2.recv(), Ok(5));
/// ```
pub struct Receiver<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `msg`, waiting while the channel is full. Fails (handing
    /// `msg` back) when every receiver is gone. An expired deadline of
    /// [`crate::timeout`] unwinds out of the wait.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::bounded(1);
    /// tx.send(1).unwrap();
    /// drop(rx);
    /// assert_eq!(tx.send(2).unwrap_err().0, 2);
    /// ```
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        self.send_until(msg, Until::Forever).map_err(|e| match e {
            SendTimeoutError::Disconnected(m) | SendTimeoutError::Timeout(m) => SendError(m),
        })
    }

    /// Sends without waiting.
    ///
    /// ```
    /// use verdant::sync::TrySendError;
    /// let (tx, _rx) = verdant::sync::bounded(1);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        let mut s = self.chan.state.lock();
        if s.receivers == 0 {
            return Err(TrySendError::Disconnected(msg));
        }
        if !s.has_room(0) {
            return Err(TrySendError::Full(msg));
        }
        s.queue.push_back(msg);
        let w = s.recv_waiters.pop();
        drop(s);
        wait::unpark_all(w);
        Ok(())
    }

    /// For a select's send arm: if a send would not wait now (not counting
    /// `own_receivers`), says so, and on a zero-capacity channel with
    /// receivers also reserves the place under the same lock, so that two
    /// selects cannot both choose to send to each other's one receive.
    /// Returns `(ready, reserved)`.
    pub(crate) fn ready_reserving(&self, own_receivers: usize) -> (bool, bool) {
        let mut s = self.chan.state.lock();
        if !s.send_ready(own_receivers) {
            return (false, false);
        }
        let reserve = s.cap == Some(0) && s.receivers > 0;
        if reserve {
            s.reserved += 1;
        }
        (true, reserve)
    }

    /// Gives back a place reserved by [`Sender::ready_reserving`] that
    /// will not be filled.
    pub(crate) fn release_reserved(&self) {
        let mut s = self.chan.state.lock();
        s.reserved = s.reserved.saturating_sub(1);
    }

    /// Fills a place reserved by [`Sender::ready_reserving`]: the message
    /// goes to a blocked receiver (if the receiver it was reserved for has
    /// left meanwhile, it waits in the channel for the next receive, the
    /// relaxation `docs/caveats.md` describes).
    pub(crate) fn send_reserved(&self, msg: T) -> Result<(), SendError<T>> {
        let mut s = self.chan.state.lock();
        s.reserved = s.reserved.saturating_sub(1);
        if s.receivers == 0 {
            return Err(SendError(msg));
        }
        s.queue.push_back(msg);
        let w = s.recv_waiters.pop();
        drop(s);
        wait::unpark_all(w);
        Ok(())
    }

    /// Sends, waiting at most `dur` for room.
    ///
    /// ```
    /// use std::time::Duration;
    /// use verdant::sync::SendTimeoutError;
    /// let (tx, _rx) = verdant::sync::bounded(0);
    /// let r = tx.send_timeout(1, Duration::from_millis(5));
    /// assert_eq!(r, Err(SendTimeoutError::Timeout(1)));
    /// ```
    pub fn send_timeout(&self, msg: T, dur: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(msg, wait::after(dur))
    }

    /// Sends, waiting until `deadline` at most for room.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = verdant::sync::bounded(1);
    /// tx.send_deadline(1, Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert_eq!(rx.recv(), Ok(1));
    /// ```
    pub fn send_deadline(&self, msg: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_until(msg, Until::Deadline(Some(deadline)))
    }

    fn send_until(&self, msg: T, until: Until) -> Result<(), SendTimeoutError<T>> {
        let s = self.chan.state.lock();
        if s.cap == Some(0) {
            return self.offer(s, msg, until);
        }
        let (mut s, ready) = wait::wait_while(&self.chan.state, s, State::send_queue(), until, State::send_blocked);
        if !ready {
            return Err(SendTimeoutError::Timeout(msg));
        }
        if s.receivers == 0 {
            return Err(SendTimeoutError::Disconnected(msg));
        }
        s.queue.push_back(msg);
        let w = s.recv_waiters.pop();
        drop(s);
        wait::unpark_all(w);
        Ok(())
    }

    /// A zero-capacity send (module docs, path 1): offers `msg` and waits
    /// until a receiver takes it, or takes it back.
    fn offer(&self, mut s: MutexGuard<'_, State<T>>, msg: T, until: Until) -> Result<(), SendTimeoutError<T>> {
        if s.receivers == 0 {
            return Err(SendTimeoutError::Disconnected(msg));
        }
        let ticket = s.next_ticket;
        s.next_ticket += 1;
        s.offers.push_back(Offer {
            ticket,
            msg,
            sender: Waiter::current(),
        });
        let woken = s.recv_waiters.pop();
        drop(s);
        wait::unpark_all(woken);
        let mut guard = Withdraw {
            chan: &self.chan,
            ticket: Some(ticket),
        };
        let s = self.chan.state.lock();
        let (mut s, _) = wait::wait_while(&self.chan.state, s, State::send_queue(), until, |s| {
            s.receivers > 0 && s.is_offered(ticket)
        });
        guard.ticket = None;
        let back = s.withdraw(ticket);
        let disconnected = s.receivers == 0;
        drop(s);
        match back {
            None => Ok(()),
            Some(msg) if disconnected => Err(SendTimeoutError::Disconnected(msg)),
            Some(msg) => Err(SendTimeoutError::Timeout(msg)),
        }
    }

    /// Messages in the channel now (always 0 for a zero-capacity channel).
    pub fn len(&self) -> usize {
        self.chan.state.lock().len()
    }

    /// Whether the channel holds no message now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity (`None` if unbounded).
    pub fn capacity(&self) -> Option<usize> {
        self.chan.state.lock().cap
    }

    /// Whether the channel holds as many messages as it can now (always
    /// for a zero-capacity channel, never for an unbounded one).
    ///
    /// ```
    /// let (tx, _rx) = verdant::sync::bounded(1);
    /// assert!(!tx.is_full());
    /// tx.send(1).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.state.lock().is_full()
    }

    /// Whether `self` and `other` send into the same channel.
    ///
    /// ```
    /// let (tx, _rx) = verdant::sync::unbounded::<i32>();
    /// let (other, _rx2) = verdant::sync::unbounded::<i32>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&other));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

/// Withdraws a zero-capacity sender's offer if the sender unwinds while
/// waiting (cancellation, an expired [`crate::timeout`]); the message is
/// dropped with the unwinding `send`.
struct Withdraw<'a, T> {
    chan: &'a Chan<T>,
    ticket: Option<u64>,
}

impl<T> Drop for Withdraw<'_, T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            let msg = self.chan.state.lock().withdraw(ticket);
            drop(msg);
        }
    }
}

impl<T> Receiver<T> {
    /// Receives a message, waiting while the channel is empty. Fails once
    /// the channel is empty and every sender is gone. An expired scoped
    /// deadline ([`crate::timeout`]) unwinds out of the wait.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::unbounded::<i32>();
    /// drop(tx);
    /// assert!(rx.recv().is_err());
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(Until::Forever).map_err(|_| RecvError)
    }

    /// Receives without waiting.
    ///
    /// ```
    /// use verdant::sync::TryRecvError;
    /// let (tx, rx) = verdant::sync::unbounded::<i32>();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut s = self.chan.state.lock();
        match s.pop() {
            Some((msg, w)) => {
                drop(s);
                wait::unpark_all(w);
                Ok(msg)
            }
            None if s.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Receives, waiting at most `dur`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use verdant::sync::RecvTimeoutError;
    /// let (_tx, rx) = verdant::sync::unbounded::<i32>();
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(5)), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, dur: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(wait::after(dur))
    }

    /// Receives, waiting until `deadline` at most.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = verdant::sync::unbounded();
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.recv_deadline(Instant::now() + Duration::from_secs(1)), Ok(3));
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Until::Deadline(Some(deadline)))
    }

    fn recv_until(&self, until: Until) -> Result<T, RecvTimeoutError> {
        let mut s = self.chan.state.lock();
        loop {
            let queue = s.recv_queue();
            let next = s.timer_next();
            let (mut g, ready) = wait::wait_while(
                &self.chan.state,
                s,
                queue,
                until_timer(until, next),
                State::recv_blocked,
            );
            match g.pop() {
                Some((msg, w)) => {
                    drop(g);
                    wait::unpark_all(w);
                    return Ok(msg);
                }
                // Another receiver took the timer's message: wait for the next.
                None if !ready && timer_passed(next) => s = g,
                None if !ready => return Err(RecvTimeoutError::Timeout),
                None => return Err(RecvTimeoutError::Disconnected),
            }
        }
    }

    /// A blocking iterator: yields messages until the channel is empty and
    /// disconnected.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::unbounded();
    /// verdant::spawn(move || (0..3).for_each(|i| tx.send(i).unwrap()));
    /// assert_eq!(rx.iter().count(), 3);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// A non-blocking iterator over the messages available now.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::unbounded();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Messages in the channel now (always 0 for a zero-capacity channel).
    pub fn len(&self) -> usize {
        self.chan.state.lock().len()
    }

    /// Whether the channel holds no message now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity (`None` if unbounded).
    pub fn capacity(&self) -> Option<usize> {
        self.chan.state.lock().cap
    }

    /// Whether the channel holds as many messages as it can now (always
    /// for a zero-capacity channel, never for an unbounded one).
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::bounded(2);
    /// tx.send(1).unwrap();
    /// assert!(!rx.is_full());
    /// tx.send(2).unwrap();
    /// assert!(rx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.state.lock().is_full()
    }

    /// Whether `self` and `other` receive from the same channel.
    ///
    /// ```
    /// let (_tx, rx) = verdant::sync::unbounded::<i32>();
    /// assert!(rx.same_channel(&rx.clone()));
    /// assert!(!rx.same_channel(&verdant::sync::never()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.state.lock().senders += 1;
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.state.lock().receivers += 1;
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut s = self.chan.state.lock();
        s.senders -= 1;
        if s.senders == 0 {
            let woken: Vec<_> = s.recv_waiters.take_all().collect();
            drop(s);
            wait::unpark_all(woken);
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut s = self.chan.state.lock();
        s.receivers -= 1;
        if s.receivers == 0 {
            let woken: Vec<_> = s.send_waiters.take_all().collect();
            drop(s);
            wait::unpark_all(woken);
            // Nobody can receive these any more: drop them now.
            self.discard_all();
        }
    }
}

impl<T> Receiver<T> {
    /// Drops the queued messages one at a time, outside the lock. A
    /// message whose `Drop` panics does not stop the others from being
    /// dropped (which would then run while unwinding, where a second panic
    /// aborts): every message is dropped, and the first panic propagates
    /// once afterwards.
    fn discard_all(&self) {
        let mut first_panic = None;
        loop {
            let Some(msg) = self.chan.state.lock().queue.pop_front() else {
                break;
            };
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(msg))) {
                first_panic.get_or_insert(p);
            }
        }
        if let Some(p) = first_panic {
            std::panic::resume_unwind(p);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Sender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Receiver { .. }")
    }
}

/// Iterator of [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Iterator of [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Owning blocking iterator of a [`Receiver`].
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

pub use errors::*;

mod errors {
    use std::fmt;

    /// Every receiver is gone; the message is handed back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub struct SendError<T>(pub T);

    /// Why [`try_send`](super::Sender::try_send) failed; the message is handed back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub enum TrySendError<T> {
        /// The channel is full.
        Full(T),
        /// Every receiver is gone.
        Disconnected(T),
    }

    /// Why [`send_timeout`](super::Sender::send_timeout) failed; the message is handed back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub enum SendTimeoutError<T> {
        /// The deadline passed while the channel was full.
        Timeout(T),
        /// Every receiver is gone.
        Disconnected(T),
    }

    /// The channel is empty and every sender is gone.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub struct RecvError;

    /// Why [`try_recv`](super::Receiver::try_recv) failed.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub enum TryRecvError {
        /// No message now.
        Empty,
        /// Empty, and every sender is gone.
        Disconnected,
    }

    /// Why [`recv_timeout`](super::Receiver::recv_timeout) failed.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub enum RecvTimeoutError {
        /// The deadline passed with no message.
        Timeout,
        /// Empty, and every sender is gone.
        Disconnected,
    }

    impl<T> SendError<T> {
        /// The message that could not be sent.
        pub fn into_inner(self) -> T {
            self.0
        }
    }

    impl<T> TrySendError<T> {
        /// The message that could not be sent.
        pub fn into_inner(self) -> T {
            match self {
                TrySendError::Full(m) | TrySendError::Disconnected(m) => m,
            }
        }
        /// Whether the channel was full.
        pub fn is_full(&self) -> bool {
            matches!(self, TrySendError::Full(_))
        }
        /// Whether every receiver is gone.
        pub fn is_disconnected(&self) -> bool {
            matches!(self, TrySendError::Disconnected(_))
        }
    }

    impl<T> SendTimeoutError<T> {
        /// The message that could not be sent.
        pub fn into_inner(self) -> T {
            match self {
                SendTimeoutError::Timeout(m) | SendTimeoutError::Disconnected(m) => m,
            }
        }
        /// Whether the deadline passed.
        pub fn is_timeout(&self) -> bool {
            matches!(self, SendTimeoutError::Timeout(_))
        }
        /// Whether every receiver is gone.
        pub fn is_disconnected(&self) -> bool {
            matches!(self, SendTimeoutError::Disconnected(_))
        }
    }

    impl TryRecvError {
        /// Whether the channel was empty (but connected).
        pub fn is_empty(&self) -> bool {
            matches!(self, TryRecvError::Empty)
        }
        /// Whether every sender is gone.
        pub fn is_disconnected(&self) -> bool {
            matches!(self, TryRecvError::Disconnected)
        }
    }

    impl RecvTimeoutError {
        /// Whether the deadline passed.
        pub fn is_timeout(&self) -> bool {
            matches!(self, RecvTimeoutError::Timeout)
        }
        /// Whether every sender is gone.
        pub fn is_disconnected(&self) -> bool {
            matches!(self, RecvTimeoutError::Disconnected)
        }
    }

    impl<T> fmt::Debug for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.pad("SendError { .. }")
        }
    }
    impl<T> fmt::Debug for TrySendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TrySendError::Full(_) => f.pad("Full(..)"),
                TrySendError::Disconnected(_) => f.pad("Disconnected(..)"),
            }
        }
    }
    impl<T> fmt::Debug for SendTimeoutError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                SendTimeoutError::Timeout(_) => f.pad("Timeout(..)"),
                SendTimeoutError::Disconnected(_) => f.pad("Disconnected(..)"),
            }
        }
    }

    impl<T> fmt::Display for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.pad("sending on a closed channel")
        }
    }
    impl<T> fmt::Display for TrySendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TrySendError::Full(_) => f.pad("sending on a full channel"),
                TrySendError::Disconnected(_) => f.pad("sending on a closed channel"),
            }
        }
    }
    impl<T> fmt::Display for SendTimeoutError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                SendTimeoutError::Timeout(_) => f.pad("timed out waiting on send operation"),
                SendTimeoutError::Disconnected(_) => f.pad("sending on a closed channel"),
            }
        }
    }
    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.pad("receiving on a closed channel")
        }
    }
    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.pad("receiving on an empty channel"),
                TryRecvError::Disconnected => f.pad("receiving on a closed channel"),
            }
        }
    }
    impl fmt::Display for RecvTimeoutError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                RecvTimeoutError::Timeout => f.pad("timed out waiting on receive operation"),
                RecvTimeoutError::Disconnected => f.pad("receiving on a closed channel"),
            }
        }
    }

    impl<T> std::error::Error for SendError<T> {}
    impl<T> std::error::Error for TrySendError<T> {}
    impl<T> std::error::Error for SendTimeoutError<T> {}
    impl std::error::Error for RecvError {}
    impl std::error::Error for TryRecvError {}
    impl std::error::Error for RecvTimeoutError {}

    impl<T> From<SendError<T>> for TrySendError<T> {
        fn from(e: SendError<T>) -> Self {
            TrySendError::Disconnected(e.0)
        }
    }
    impl<T> From<SendError<T>> for SendTimeoutError<T> {
        fn from(e: SendError<T>) -> Self {
            SendTimeoutError::Disconnected(e.0)
        }
    }
    impl From<RecvError> for TryRecvError {
        fn from(_: RecvError) -> Self {
            TryRecvError::Disconnected
        }
    }
    impl From<RecvError> for RecvTimeoutError {
        fn from(_: RecvError) -> Self {
            RecvTimeoutError::Disconnected
        }
    }
}
