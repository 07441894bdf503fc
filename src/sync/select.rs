//! Waiting on several channel operations at once: [`Select`],
//! [`select!`](crate::select!) and [`select_biased!`](crate::select_biased!),
//! with crossbeam-channel's API.
//!
//! A [`Select`] lists operations (`send(&tx)`, `recv(&rx)`), each named by
//! its index; [`Select::select`] waits until one is ready and returns a
//! [`SelectedOperation`], which the caller completes with
//! [`SelectedOperation::send`] or [`SelectedOperation::recv`]. The macros
//! expand to exactly that plus a `match` on the selected index, so arm
//! bodies are ordinary code (`break`, `continue`, `return`, `?` and
//! borrows work as anywhere else) and a send arm's message is evaluated
//! only when that arm is chosen.
//!
//! # How a selection waits
//!
//! 1. Check every operation's readiness under its channel's lock (a
//!    receive: a message, or disconnected; a send: room, or disconnected),
//!    starting at a rotating position (fairness; [`Select::new_biased`]
//!    starts at the first).
//! 2. None ready: the runtime's `wait_any` queues the caller on the wait
//!    list of every operation, checks again (an operation may have become
//!    ready before the caller was queued, notifying nobody), parks, leaves
//!    every list and checks again. A notification received on a list whose
//!    operation is not selected is passed on by the caller's registration
//!    there, so no wakeup is lost.
//! 3. The selected operation holds the notification of its list, if it got
//!    one: completing it acts on it; a [`SelectedOperation`] dropped
//!    without being completed passes it on (wakes the next waiter of that
//!    list).
//!
//! Completing performs the operation. Readiness is checked, not reserved:
//! if another thread takes the message (or the room) in between, the
//! completion waits for the next one, as a plain `recv` (`send`) would.
//!
//! **Zero capacity**: a send is ready when a receiver is blocked on the
//! channel. While the caller is queued, its own receive operations on the
//! same channel count among the blocked receivers: a send does not count
//! them, or the selection would pair with itself. Receive operations are
//! queued before sends, so a receive's registration (which wakes a waiting
//! send on a zero-capacity channel) never wakes the caller's own send.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::runtime::park::Waiter;
use crate::runtime::wait::{self, Enlisted, Registration, Sources, Until};
use crate::sync::channel::{
    timer_passed, until_timer, Receiver, RecvError, SendError, Sender, State, TryRecvError, TrySendError,
};

/// One half of a channel, as an operation of a selection.
trait Operation<'a> {
    /// Whether the operation would not wait now; a send does not count
    /// `own_receivers` among the blocked receivers.
    fn ready(&self, own_receivers: usize) -> bool;
    /// [`Operation::ready`] for the operation a selection is about to
    /// choose; `(ready, reserved)`: a zero-capacity send reserves its
    /// place (see `Sender::ready_reserving`).
    fn ready_reserving(&self, own_receivers: usize) -> (bool, bool) {
        (self.ready(own_receivers), false)
    }
    /// Gives back what `ready_reserving` reserved.
    fn release(&self) {}
    /// Queues `w` on the list this operation waits on.
    fn enlist(&'a self, w: &Waiter, into: &mut Enlisted<'a>);
    /// Wakes the next waiter of that list (a notification not acted on).
    fn pass_on(&self);
    /// When an [`after`](crate::sync::after) or [`tick`](crate::sync::tick)
    /// channel's next message is due (nobody notifies its receivers).
    fn timer_next(&self) -> Option<Instant> {
        None
    }
}

impl<'a, T: 'a> Operation<'a> for Receiver<T> {
    fn ready(&self, _: usize) -> bool {
        self.chan.state.lock().recv_ready()
    }
    fn enlist(&'a self, w: &Waiter, into: &mut Enlisted<'a>) {
        let state = &self.chan.state;
        let s = state.lock();
        let queue = s.recv_queue();
        into.push(Registration::enqueue_waiter(state, s, queue, w.clone()));
    }
    fn pass_on(&self) {
        let w = self.chan.state.lock().recv_waiters.pop();
        wait::unpark_all(w);
    }
    fn timer_next(&self) -> Option<Instant> {
        self.chan.state.lock().timer_next()
    }
}

impl<'a, T: 'a> Operation<'a> for Sender<T> {
    fn ready(&self, own_receivers: usize) -> bool {
        self.chan.state.lock().send_ready(own_receivers)
    }
    fn ready_reserving(&self, own_receivers: usize) -> (bool, bool) {
        Sender::ready_reserving(self, own_receivers)
    }
    fn release(&self) {
        self.release_reserved();
    }
    fn enlist(&'a self, w: &Waiter, into: &mut Enlisted<'a>) {
        let state = &self.chan.state;
        into.push(Registration::enqueue_waiter(
            state,
            state.lock(),
            State::send_queue(),
            w.clone(),
        ));
    }
    fn pass_on(&self) {
        let w = self.chan.state.lock().send_waiters.pop();
        wait::unpark_all(w);
    }
}

/// Identifies a channel (its shared state) and the direction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Id {
    chan: usize,
    recv: bool,
}

fn id_of<T>(chan: &std::sync::Arc<crate::sync::channel::Chan<T>>, recv: bool) -> Id {
    Id {
        chan: std::sync::Arc::as_ptr(chan) as *const () as usize,
        recv,
    }
}

struct Op<'a> {
    op: &'a (dyn Operation<'a> + 'a),
    id: Id,
    /// The index `send`/`recv` returned for it (positions shift on
    /// `remove`; indices never do).
    index: usize,
    /// For a send: the receives of this selection on the same channel.
    own_receivers: usize,
    /// The last poll chose this operation and reserved its place.
    reserved: Cell<bool>,
}

/// A selection over a set of channel operations, crossbeam-channel's
/// `Select`: add operations (each gets an index), wait for one to be
/// ready, complete it.
///
/// ```
/// use std::time::Duration;
/// use verdant::sync::{bounded, Select};
///
/// let (tx1, rx1) = bounded::<i32>(1);
/// let (tx2, rx2) = bounded::<&str>(1);
/// tx1.send(7).unwrap();
///
/// let mut sel = Select::new();
/// let r1 = sel.recv(&rx1);
/// let r2 = sel.recv(&rx2);
/// let op = sel.select_timeout(Duration::from_secs(1)).unwrap();
/// match op.index() {
///     i if i == r1 => assert_eq!(op.recv(&rx1), Ok(7)),
///     i if i == r2 => panic!("rx2 is empty: {:?}", op.recv(&rx2)),
///     _ => unreachable!(),
/// }
/// # drop(tx2);
/// ```
pub struct Select<'a> {
    ops: Vec<Op<'a>>,
    /// The index the next added operation gets (removed indices are never
    /// reused).
    next_index: usize,
    biased: bool,
}

/// A copy of the selection: the same operations under the same indices
/// (crossbeam-channel's `Clone for Select`).
///
/// ```
/// use verdant::sync::{unbounded, Select};
/// let (tx, rx) = unbounded::<i32>();
/// let mut sel = Select::new();
/// let r = sel.recv(&rx);
/// let mut copy = sel.clone();
/// sel.remove(r);
/// tx.send(1).unwrap();
/// assert!(sel.try_ready().is_err());
/// assert_eq!(copy.try_ready(), Ok(r));
/// ```
impl Clone for Select<'_> {
    fn clone(&self) -> Self {
        Select {
            ops: self
                .ops
                .iter()
                .map(|o| Op {
                    op: o.op,
                    id: o.id,
                    index: o.index,
                    own_receivers: o.own_receivers,
                    reserved: Cell::new(false),
                })
                .collect(),
            next_index: self.next_index,
            biased: self.biased,
        }
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl<'a> Select<'a> {
    /// An empty selection; ready operations are picked fairly (tried from
    /// a rotating start).
    ///
    /// ```
    /// let mut sel = verdant::sync::Select::new();
    /// assert!(sel.try_select().is_err());
    /// ```
    pub fn new() -> Select<'a> {
        Select {
            ops: Vec::new(),
            next_index: 0,
            biased: false,
        }
    }

    /// An empty selection that prefers the operation added first when
    /// several are ready.
    ///
    /// ```
    /// use verdant::sync::{unbounded, Select};
    /// let (tx, rx1) = unbounded();
    /// let rx2 = rx1.clone();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// let mut sel = Select::new_biased();
    /// let first = sel.recv(&rx1);
    /// sel.recv(&rx2);
    /// assert_eq!(sel.ready(), first);
    /// ```
    pub fn new_biased() -> Select<'a> {
        Select {
            ops: Vec::new(),
            next_index: 0,
            biased: true,
        }
    }

    /// Adds a send on `s`; returns its index.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::bounded(1);
    /// let mut sel = verdant::sync::Select::new();
    /// let i = sel.send(&tx);
    /// let op = sel.select();
    /// assert_eq!(op.index(), i);
    /// op.send(&tx, 5).unwrap();
    /// assert_eq!(rx.recv(), Ok(5));
    /// ```
    pub fn send<T: 'a>(&mut self, s: &'a Sender<T>) -> usize {
        self.push(s, id_of(&s.chan, false))
    }

    /// Adds a receive on `r`; returns its index.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::unbounded();
    /// tx.send("hi").unwrap();
    /// let mut sel = verdant::sync::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.select().recv(&rx), Ok("hi"));
    /// ```
    pub fn recv<T: 'a>(&mut self, r: &'a Receiver<T>) -> usize {
        self.push(r, id_of(&r.chan, true))
    }

    fn push(&mut self, op: &'a (dyn Operation<'a> + 'a), id: Id) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        self.ops.push(Op {
            op,
            id,
            index,
            own_receivers: 0,
            reserved: Cell::new(false),
        });
        self.count_own_receivers(id);
        index
    }

    /// Sets `own_receivers` of the sends on `id`'s channel to the number
    /// of receives on it in this selection.
    fn count_own_receivers(&mut self, id: Id) {
        let own = self.ops.iter().filter(|o| o.id == Id { recv: true, ..id }).count();
        for o in self.ops.iter_mut().filter(|o| o.id == Id { recv: false, ..id }) {
            o.own_receivers = own;
        }
    }

    /// Removes the operation `index` (as [`Select::send`] or
    /// [`Select::recv`] returned it), as crossbeam-channel's
    /// `Select::remove`: it is never selected again, the other operations
    /// keep their indices, and operations added later get new ones.
    /// Typically used to drop a receive whose channel disconnected and
    /// select among the rest.
    ///
    /// # Panics
    ///
    /// If no operation has this index, or it was removed already.
    ///
    /// ```
    /// use verdant::sync::{unbounded, Select};
    ///
    /// let (tx1, rx1) = unbounded::<i32>();
    /// let (tx2, rx2) = unbounded::<i32>();
    /// drop(tx2);
    /// let mut sel = Select::new();
    /// let op1 = sel.recv(&rx1);
    /// let op2 = sel.recv(&rx2);
    /// // rx2 is disconnected: always ready. Remove it, then wait on rx1.
    /// let op = sel.select();
    /// assert_eq!(op.index(), op2);
    /// assert!(op.recv(&rx2).is_err());
    /// sel.remove(op2);
    /// tx1.send(10).unwrap();
    /// let op = sel.select();
    /// assert_eq!(op.index(), op1);
    /// assert_eq!(op.recv(&rx1), Ok(10));
    /// ```
    pub fn remove(&mut self, index: usize) {
        assert!(
            index < self.next_index,
            "index out of bounds; {} >= {}",
            index,
            self.next_index,
        );
        let at = self
            .ops
            .iter()
            .position(|o| o.index == index)
            .expect("no operation with this index");
        let id = self.ops.remove(at).id;
        self.count_own_receivers(id);
    }

    /// Selects a ready operation without waiting.
    ///
    /// ```
    /// let (_tx, rx) = verdant::sync::bounded::<i32>(1);
    /// let mut sel = verdant::sync::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.try_select().is_err());
    /// ```
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        self.poll_now().ok_or(TrySelectError)
    }

    /// Waits until an operation is ready and selects it. Without any
    /// operation it waits forever (until cancelled). An expired
    /// [`crate::timeout`] deadline unwinds out of the wait.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::bounded(0);
    /// verdant::spawn(move || tx.send(3).unwrap());
    /// let mut sel = verdant::sync::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.select().recv(&rx), Ok(3));
    /// ```
    pub fn select(&mut self) -> SelectedOperation<'a> {
        self.wait(Until::Forever).expect("only a deadline ends the wait early")
    }

    /// Waits at most `timeout` for an operation to be ready.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = verdant::sync::bounded::<i32>(1);
    /// let mut sel = verdant::sync::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.select_timeout(Duration::from_millis(5)).is_err());
    /// ```
    pub fn select_timeout(&mut self, timeout: Duration) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.wait(wait::after(timeout)).ok_or(SelectTimeoutError)
    }

    /// Waits until `deadline` at most for an operation to be ready.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = verdant::sync::bounded(1);
    /// tx.send(1).unwrap();
    /// let mut sel = verdant::sync::Select::new();
    /// sel.recv(&rx);
    /// let op = sel.select_deadline(Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert_eq!(op.recv(&rx), Ok(1));
    /// ```
    pub fn select_deadline(&mut self, deadline: Instant) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.wait(Until::Deadline(Some(deadline))).ok_or(SelectTimeoutError)
    }

    /// Waits until an operation is ready and returns its index without
    /// performing it; it may no longer be ready when the caller tries it.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::unbounded();
    /// tx.send(1).unwrap();
    /// let mut sel = verdant::sync::Select::new();
    /// let i = sel.recv(&rx);
    /// assert_eq!(sel.ready(), i);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn ready(&mut self) -> usize {
        self.select().index()
    }

    /// The index of an operation ready now.
    ///
    /// ```
    /// let (_tx, rx) = verdant::sync::unbounded::<i32>();
    /// let mut sel = verdant::sync::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.try_ready().is_err());
    /// ```
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        self.try_select().map(|op| op.index()).map_err(|_| TryReadyError)
    }

    /// Waits at most `timeout` for an operation to be ready; returns its
    /// index without performing it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = verdant::sync::bounded::<i32>(1);
    /// let mut sel = verdant::sync::Select::new();
    /// let i = sel.send(&tx);
    /// assert_eq!(sel.ready_timeout(Duration::from_secs(1)), Ok(i));
    /// ```
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        self.select_timeout(timeout)
            .map(|op| op.index())
            .map_err(|_| ReadyTimeoutError)
    }

    /// Waits until `deadline` at most for an operation to be ready;
    /// returns its index without performing it (crossbeam-channel's
    /// `Select::ready_deadline`).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use verdant::sync::{bounded, ReadyTimeoutError, Select};
    ///
    /// let (tx, rx) = bounded::<i32>(1);
    /// let mut sel = Select::new();
    /// let r = sel.recv(&rx);
    /// let soon = Instant::now() + Duration::from_millis(5);
    /// assert_eq!(sel.ready_deadline(soon), Err(ReadyTimeoutError));
    /// tx.send(1).unwrap();
    /// assert_eq!(sel.ready_deadline(Instant::now() + Duration::from_secs(60)), Ok(r));
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn ready_deadline(&mut self, deadline: Instant) -> Result<usize, ReadyTimeoutError> {
        self.select_deadline(deadline)
            .map(|op| op.index())
            .map_err(|_| ReadyTimeoutError)
    }

    fn poll_now(&mut self) -> Option<SelectedOperation<'a>> {
        let mut sources = Ops::new(&self.ops, self.biased);
        sources.poll().map(|(_, i)| self.selected(i))
    }

    /// Timer channels ([`after`](crate::sync::after)) notify nobody: the
    /// wait also ends when the earliest is due, and then looks again.
    fn wait(&mut self, until: Until) -> Option<SelectedOperation<'a>> {
        loop {
            if let Some(op) = self.poll_now() {
                return Some(op);
            }
            let next = self.ops.iter().filter_map(|o| o.op.timer_next()).min();
            match wait::wait_any(&mut Ops::new(&self.ops, self.biased), until_timer(until, next)) {
                Ok(i) => return Some(self.selected(i)),
                Err(_) if timer_passed(next) => {}
                Err(_) => return None,
            }
        }
    }

    /// The operation at position `at` of `ops`, selected.
    fn selected(&self, at: usize) -> SelectedOperation<'a> {
        let o = &self.ops[at];
        SelectedOperation {
            index: o.index,
            op: o.op,
            id: o.id,
            done: false,
            reserved: o.reserved.replace(false),
        }
    }
}

/// The operations of a selection, as the sources of one wait.
///
/// They are queued receives first (`order`); `wait_any` indexes
/// registrations by that queueing position. `enlisted` tracks whether the
/// caller is queued on the lists: `wait_any` polls once right after
/// `enlist` (queued) and once after leaving every list (not), so a poll
/// clears it.
struct Ops<'s, 'a> {
    ops: &'s [Op<'a>],
    /// Operation indices in queueing order.
    order: Vec<usize>,
    biased: bool,
    enlisted: Cell<bool>,
}

impl<'s, 'a> Ops<'s, 'a> {
    fn new(ops: &'s [Op<'a>], biased: bool) -> Self {
        let mut order: Vec<usize> = (0..ops.len()).collect();
        order.sort_by_key(|&i| !ops[i].id.recv);
        Ops {
            ops,
            order,
            biased,
            enlisted: Cell::new(false),
        }
    }
}

impl<'a> Sources<'a> for Ops<'_, 'a> {
    /// The index of the selected operation.
    type Output = usize;

    fn enlist(&self, waiter: &Waiter, into: &mut Enlisted<'a>) {
        for &i in &self.order {
            self.ops[i].op.enlist(waiter, into);
        }
        self.enlisted.set(true);
    }

    /// Selects the first ready operation, from a rotating start unless
    /// biased.
    fn poll(&mut self) -> Option<(usize, usize)> {
        static ROTATE: AtomicUsize = AtomicUsize::new(0);
        let enlisted = self.enlisted.replace(false);
        let n = self.ops.len();
        if n == 0 {
            return None;
        }
        let start = if self.biased {
            0
        } else {
            ROTATE.fetch_add(1, Ordering::Relaxed) % n
        };
        let i = (0..n).map(|k| (start + k) % n).find(|&i| {
            let o = &self.ops[i];
            let (ready, reserved) = o.op.ready_reserving(if enlisted { o.own_receivers } else { 0 });
            o.reserved.set(reserved);
            ready
        })?;
        let at = self
            .order
            .iter()
            .position(|&j| j == i)
            .expect("every operation is queued");
        Some((at, i))
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operations", &self.ops.len())
            .field("biased", &self.biased)
            .finish()
    }
}

/// The operation a [`Select`] selected; complete it with
/// [`SelectedOperation::send`] or [`SelectedOperation::recv`], passing the
/// same channel half that was added.
///
/// Dropped without being completed, it hands any wakeup it received on to
/// the next waiter of its channel (crossbeam panics instead).
///
/// ```
/// let (tx, rx) = verdant::sync::bounded::<u8>(1);
/// let mut sel = verdant::sync::Select::new();
/// let s = sel.send(&tx);
/// let op = sel.select();
/// assert_eq!(op.index(), s);
/// op.send(&tx, 1).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
#[must_use = "complete the operation with `send` or `recv`"]
pub struct SelectedOperation<'a> {
    index: usize,
    op: &'a (dyn Operation<'a> + 'a),
    id: Id,
    done: bool,
    /// A zero-capacity send's reserved place (filled by `send`, given back
    /// if dropped).
    reserved: bool,
}

impl SelectedOperation<'_> {
    /// The index [`Select::send`] or [`Select::recv`] returned for it.
    ///
    /// ```
    /// let (tx, _rx) = verdant::sync::unbounded::<()>();
    /// let mut sel = verdant::sync::Select::new();
    /// let i = sel.send(&tx);
    /// let op = sel.select();
    /// assert_eq!(op.index(), i);
    /// op.send(&tx, ()).unwrap();
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes a selected send on `s` with `msg`; fails, handing `msg`
    /// back, if every receiver is gone. If another sender took the room
    /// since the selection, waits for room like [`Sender::send`].
    ///
    /// # Panics
    ///
    /// If `s` is not the sender of the selected operation.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::bounded(1);
    /// let mut sel = verdant::sync::Select::new();
    /// sel.send(&tx);
    /// drop(rx);
    /// assert_eq!(sel.select().send(&tx, 9).unwrap_err().0, 9);
    /// ```
    pub fn send<T>(mut self, s: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        assert!(
            self.id == id_of(&s.chan, false),
            "SelectedOperation::send got a sender whose operation was not selected"
        );
        self.done = true;
        if self.reserved {
            return s.send_reserved(msg);
        }
        match s.try_send(msg) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(m)) => Err(SendError(m)),
            Err(TrySendError::Full(m)) => s.send(m),
        }
    }

    /// Completes a selected receive on `r`; fails if `r` is empty and
    /// disconnected. If another receiver took the message since the
    /// selection, waits for the next like [`Receiver::recv`].
    ///
    /// # Panics
    ///
    /// If `r` is not the receiver of the selected operation.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::unbounded::<i32>();
    /// drop(tx);
    /// let mut sel = verdant::sync::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.select().recv(&rx).is_err());
    /// ```
    pub fn recv<T>(mut self, r: &Receiver<T>) -> Result<T, RecvError> {
        assert!(
            self.id == id_of(&r.chan, true),
            "SelectedOperation::recv got a receiver whose operation was not selected"
        );
        self.done = true;
        match r.try_recv() {
            Ok(m) => Ok(m),
            Err(TryRecvError::Disconnected) => Err(RecvError),
            Err(TryRecvError::Empty) => r.recv(),
        }
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        if !self.done {
            if self.reserved {
                self.op.release();
            }
            self.op.pass_on();
        }
    }
}

impl fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

macro_rules! unit_error {
    ($(#[$doc:meta])* $name:ident, $msg:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name;

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad($msg)
            }
        }

        impl std::error::Error for $name {}
    };
}

unit_error!(
    /// [`Select::try_select`] found no operation ready.
    ///
    /// ```
    /// assert!(verdant::sync::Select::new().try_select().is_err());
    /// ```
    TrySelectError,
    "all operations in select would block"
);
unit_error!(
    /// [`Select::select_timeout`] found no operation ready in time.
    ///
    /// ```
    /// use std::time::Duration;
    /// let e = verdant::sync::Select::new().select_timeout(Duration::ZERO).unwrap_err();
    /// assert_eq!(e, verdant::sync::SelectTimeoutError);
    /// ```
    SelectTimeoutError,
    "timed out waiting on select"
);
unit_error!(
    /// [`Select::try_ready`] found no operation ready.
    ///
    /// ```
    /// assert!(verdant::sync::Select::new().try_ready().is_err());
    /// ```
    TryReadyError,
    "all operations in select would block"
);
unit_error!(
    /// [`Select::ready_timeout`] found no operation ready in time.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(verdant::sync::Select::new().ready_timeout(Duration::ZERO).is_err());
    /// ```
    ReadyTimeoutError,
    "timed out waiting on select"
);

/// Waits for the first of several channel operations and runs the code of
/// its arm: crossbeam-channel's `select!`.
///
/// Arms, separated by commas (optional after a `{ block }`):
///
/// - `recv(rx) -> pattern => body`: `pattern` binds the
///   `Result<T, RecvError>` of the receive.
/// - `send(tx, msg) -> pattern => body`: `msg` is evaluated only if this
///   arm is chosen; `pattern` binds the `Result<(), SendError<T>>`.
/// - at most one `default => body` (run if no operation is ready now) or
///   `default(timeout) => body` (run if none is ready within `timeout`;
///   an expired [`crate::timeout`] deadline also ends it).
///
/// It expands to a [`Select`] and a `match` on the selected index, so arm
/// bodies are ordinary code: `break`, `continue` and `return` act on the
/// enclosing loop or function, and several arms may mutate the same local.
/// Ready arms are picked fairly; see [`select_biased!`](crate::select_biased!)
/// to prefer earlier arms. Without a `default`, an expired
/// [`crate::timeout`] deadline unwinds out of the wait.
///
/// ```
/// use std::time::Duration;
/// use verdant::sync::bounded;
///
/// let (tx, rx) = bounded::<i32>(1);
/// let (_tx2, rx2) = bounded::<i32>(1);
/// tx.send(1).unwrap();
/// let mut seen = Vec::new();
/// loop {
///     verdant::select! {
///         recv(rx) -> m => seen.push(m.unwrap()),
///         recv(rx2) -> m => seen.push(m.unwrap() * 100),
///         default(Duration::from_millis(10)) => break,
///     }
/// }
/// assert_eq!(seen, [1]);
///
/// let sent = verdant::select! {
///     send(tx, 2) -> r => { r.unwrap(); true }
///     default => false,
/// };
/// assert!(sent);
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_internal!(@parse new () $($tokens)*)
    };
}

/// [`select!`](crate::select!) that prefers earlier arms: when several
/// operations are ready, the first listed is chosen (crossbeam-channel's
/// `select_biased!`). A ready arm can starve the arms after it.
///
/// ```
/// use verdant::sync::unbounded;
///
/// let (tx1, rx1) = unbounded();
/// let (tx2, rx2) = unbounded();
/// tx1.send(1).unwrap();
/// tx2.send(2).unwrap();
/// let got = verdant::select_biased! {
///     recv(rx1) -> m => m.unwrap(),
///     recv(rx2) -> m => m.unwrap(),
/// };
/// assert_eq!(got, 1);
/// ```
#[macro_export]
macro_rules! select_biased {
    ($($tokens:tt)*) => {
        $crate::__select_internal!(@parse new_biased () $($tokens)*)
    };
}

/// The machinery of [`select!`](crate::select!): parses the arms into
/// `[kind (args) (pattern) { body }]`, adds each operation to a `Select`
/// (binding its channel and index to fresh hygienic names), then selects
/// and matches on the index.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_internal {
    // Parsing: one arm at a time into `[kind args (pattern) {body}]`.
    (@parse $ctor:ident ($($arms:tt)*)) => {
        $crate::__select_internal!(@add $ctor sel () () $($arms)*)
    };
    (@parse $ctor:ident ($($arms:tt)*) default => { $($body:tt)* } $(, $($rest:tt)*)?) => {
        $crate::__select_internal!(@parse $ctor ($($arms)* [default () () { $($body)* }]) $($($rest)*)?)
    };
    (@parse $ctor:ident ($($arms:tt)*) default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_internal!(@parse $ctor ($($arms)* [default () () { $body }]) $($($rest)*)?)
    };
    (@parse $ctor:ident ($($arms:tt)*) $kind:ident $args:tt $(-> $res:pat)? => { $($body:tt)* } , $($rest:tt)*) => {
        $crate::__select_internal!(@parse $ctor ($($arms)* [$kind $args ($($res)?) { $($body)* }]) $($rest)*)
    };
    (@parse $ctor:ident ($($arms:tt)*) $kind:ident $args:tt $(-> $res:pat)? => { $($body:tt)* } $($rest:tt)*) => {
        $crate::__select_internal!(@parse $ctor ($($arms)* [$kind $args ($($res)?) { $($body)* }]) $($rest)*)
    };
    (@parse $ctor:ident ($($arms:tt)*) $kind:ident $args:tt $(-> $res:pat)? => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_internal!(@parse $ctor ($($arms)* [$kind $args ($($res)?) { $body }]) $($($rest)*)?)
    };

    // Adding: `sel` is the Select, then the added operations, then the
    // default arm, then the arms still to add.
    (@add $ctor:ident $sel:ident ($($added:tt)*) ($($default:tt)*)) => {{
        #[allow(unused_mut)]
        let mut $sel = $crate::sync::Select::$ctor();
        $crate::__select_internal!(@bind $sel ($($added)*) () ($($default)*))
    }};
    (@add $ctor:ident $sel:ident ($($added:tt)*) () [default () () $body:tt] $($rest:tt)*) => {
        $crate::__select_internal!(@add $ctor $sel ($($added)*) (now $body) $($rest)*)
    };
    (@add $ctor:ident $sel:ident ($($added:tt)*) () [default ($timeout:expr $(,)?) () $body:tt] $($rest:tt)*) => {
        $crate::__select_internal!(@add $ctor $sel ($($added)*) (within ($timeout) $body) $($rest)*)
    };
    (@add $ctor:ident $sel:ident ($($added:tt)*) ($($default:tt)+) [default $($bad:tt)*] $($rest:tt)*) => {
        ::std::compile_error!("select!: more than one `default` arm")
    };
    (@add $ctor:ident $sel:ident ($($added:tt)*) ($($default:tt)*) [recv ($r:expr $(,)?) ($res:pat) $body:tt] $($rest:tt)*) => {
        $crate::__select_internal!(@add $ctor $sel ($($added)* [recv ($r) ($res) $body]) ($($default)*) $($rest)*)
    };
    (@add $ctor:ident $sel:ident ($($added:tt)*) ($($default:tt)*) [send ($s:expr, $m:expr $(,)?) ($res:pat) $body:tt] $($rest:tt)*) => {
        $crate::__select_internal!(@add $ctor $sel ($($added)* [send ($s, $m) ($res) $body]) ($($default)*) $($rest)*)
    };
    (@add $ctor:ident $sel:ident ($($added:tt)*) ($($default:tt)*) [$kind:ident $($bad:tt)*] $($rest:tt)*) => {
        ::std::compile_error!(::std::concat!(
            "select!: expected `recv(r) -> pat => body`, `send(s, msg) -> pat => body`, ",
            "`default => body` or `default(timeout) => body`, found `", ::std::stringify!($kind), "`"
        ))
    };

    // Binding: each operation's channel and index to fresh names (each
    // expansion's `ch`/`index` are distinct identifiers by hygiene).
    (@bind $sel:ident () ($($bound:tt)*) ($($default:tt)*)) => {
        $crate::__select_internal!(@select $sel ($($bound)*) ($($default)*))
    };
    (@bind $sel:ident ([recv ($r:expr) ($res:pat) $body:tt] $($rest:tt)*) ($($bound:tt)*) ($($default:tt)*)) => {{
        let ch = &$r;
        let index = $sel.recv(ch);
        $crate::__select_internal!(@bind $sel ($($rest)*) ($($bound)* [index ch recv () ($res) $body]) ($($default)*))
    }};
    (@bind $sel:ident ([send ($s:expr, $m:expr) ($res:pat) $body:tt] $($rest:tt)*) ($($bound:tt)*) ($($default:tt)*)) => {{
        let ch = &$s;
        let index = $sel.send(ch);
        $crate::__select_internal!(@bind $sel ($($rest)*) ($($bound)* [index ch send ($m) ($res) $body]) ($($default)*))
    }};

    // Selecting, then matching on the index.
    (@select $sel:ident ($($bound:tt)*) ()) => {{
        let op = $sel.select();
        $crate::__select_internal!(@complete op $($bound)*)
    }};
    (@select $sel:ident ($($bound:tt)*) (now $body:tt)) => {
        match $sel.try_select() {
            ::std::result::Result::Ok(op) => $crate::__select_internal!(@complete op $($bound)*),
            ::std::result::Result::Err(_) => $body,
        }
    };
    (@select $sel:ident ($($bound:tt)*) (within ($timeout:expr) $body:tt)) => {
        match $sel.select_timeout($timeout) {
            ::std::result::Result::Ok(op) => $crate::__select_internal!(@complete op $($bound)*),
            ::std::result::Result::Err(_) => $body,
        }
    };
    (@complete $op:ident $([$index:ident $ch:ident $kind:ident ($($m:tt)*) ($res:pat) $body:tt])*) => {
        match $op.index() {
            $(
                i if i == $index => {
                    let $res = $crate::__select_internal!(@finish $op $kind $ch ($($m)*));
                    $body
                }
            )*
            _ => ::std::unreachable!("select!: no operation has this index"),
        }
    };
    (@finish $op:ident recv $ch:ident ()) => {
        $op.recv($ch)
    };
    (@finish $op:ident send $ch:ident ($m:expr)) => {
        $op.send($ch, $m)
    };
}
