//! The join handle's side of a task: waiting for completion, taking the
//! outcome, detaching.
//!
//! A [`JoinInner`] is the one typed reference to a task's outcome (the
//! public `JoinHandle` and `ScopedJoinHandle` wrap it). It either joins
//! (waits for `COMPLETE`, then takes the outcome) or, when dropped
//! unjoined, detaches (see the stage protocol in `core`).

use std::marker::PhantomData;
use std::time::Instant;

use super::core::{self, Header, NewTask, Spec, TaskRef};
use super::why::{self, Why};
use crate::error::JoinError;
use crate::runtime::wait::{self, Until};
use crate::runtime::{interrupt, park};

/// The typed handle to a green thread's outcome.
pub(crate) struct JoinInner<'a, T> {
    task: TaskRef,
    /// `join` ran: the outcome was taken, nothing is left to detach.
    joined: bool,
    /// The outcome is a `T` that may borrow for `'a`; the handle itself
    /// holds none (it is `Send` and `Sync` whatever `T`, as before: a `T`
    /// only crosses threads in `join`, and spawning requires `T: Send`).
    marker: Marker<'a, T>,
}

/// See [`JoinInner::marker`].
type Marker<'a, T> = PhantomData<(fn() -> T, &'a ())>;

impl<'a, T> JoinInner<'a, T> {
    /// The handle half of a task made by `core::new_unchecked::<_, T>`.
    pub(super) fn new(task: TaskRef) -> Self {
        JoinInner {
            task,
            joined: false,
            marker: PhantomData,
        }
    }

    /// The thread.
    pub(crate) fn task(&self) -> &TaskRef {
        &self.task
    }

    /// The thread's header (for waiting on several threads at once).
    pub(crate) fn header(&self) -> &Header {
        &self.task
    }

    /// Waits for the thread and takes its outcome.
    pub(crate) fn join(mut self) -> Result<T, JoinError> {
        wait_complete(&self.task, None, Wait::Interruptible);
        self.joined = true;
        // SAFETY: complete (just waited for it), created for this `T`
        // (`new` is only called with its own task), and this is the one
        // join handle, joining once (`join` consumes it).
        match unsafe { core::take_output::<T>(&self.task) } {
            Some(outcome) => outcome,
            // Never ran: cancelled before it started, or its runtime shut
            // down first.
            None => Err(JoinError::cancelled()),
        }
    }
}

impl<T> Drop for JoinInner<'_, T> {
    fn drop(&mut self) {
        if !self.joined {
            // SAFETY: the one join handle, detaching once (in its drop),
            // and it never took the outcome (`joined` is false).
            unsafe { core::detach(&self.task) }
        }
    }
}

/// Makes a green thread: the `NewTask` to queue and its join handle.
pub(crate) fn parts<F, T>(spec: Spec, f: F) -> (NewTask, JoinInner<'static, T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: with `'a = 'static` the contract holds whenever anything
    // happens at all.
    unsafe { parts_unchecked(spec, f) }
}

/// Makes a green thread that borrows for `'a` (a scoped thread).
///
/// # Safety
///
/// As `core::new_unchecked`: the `NewTask` is consumed and the handle
/// joined or dropped within `'a`.
pub(crate) unsafe fn parts_unchecked<'a, F, T>(spec: Spec, f: F) -> (NewTask, JoinInner<'a, T>)
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    // SAFETY: the caller's contract.
    let (new, task) = unsafe { core::new_unchecked(spec, f) };
    (new, JoinInner::new(task))
}

/// How a wait for completion treats the waiter's own interrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// As any blocking call: a cancellation or an elapsed `timeout`
    /// unwinds the waiter.
    Interruptible,
    /// Neither interrupts the wait (the caller re-raises them with
    /// `interrupt::check_interrupts` afterwards): `verdant::scope`, which
    /// must not unwind while threads borrowing its caller's stack still run.
    Uninterruptible,
}

/// Blocks the caller (green or OS thread) until `task` completes or
/// `deadline` passes. Returns whether it completed.
///
/// Waiting for a `spawn_blocking` job is not interrupted by a cancellation
/// of the caller: the caller is cancelled when the job returns.
pub(crate) fn wait_complete(task: &Header, deadline: Option<Instant>, how: Wait) -> bool {
    let until = match how {
        Wait::Uninterruptible => Until::Uninterruptible,
        // Blocking jobs have no scheduler: a green thread joining one is
        // cancelled only once the blocking call has returned.
        Wait::Interruptible if task.shared.is_none() => Until::WithinDeferringCancel(deadline),
        Wait::Interruptible => Until::Within(deadline),
    };
    // Joining a thread that has finished already touches no lock.
    let done = task.is_complete() || {
        // Checking COMPLETE under this lock loses no wakeup (see
        // `State::set_complete`).
        let (joiners, guard) = task.lock_joiners();
        why::note(Why::Join, task.id);
        wait::wait_while(joiners, guard, wait::LONE, until, |_| !task.is_complete()).1
    };
    if done && matches!(until, Until::WithinDeferringCancel(_)) {
        if let Some(me) = park::current_task() {
            interrupt::check_cancelled(&me);
        }
    }
    done
}

/// Parks the caller once on `task`'s joiners list, uninterruptibly, until
/// a wakeup of any kind (the thread completing, an `unpark`, the caller's
/// own cancellation, which unparks it) or `deadline`. Returns whether the
/// thread is complete.
///
/// For waits that must not unwind but must notice their caller's
/// interrupts (`verdant::scope` cancelling its threads when its owner is
/// cancelled): the caller loops, and looks at its interrupts in between.
pub(crate) fn wait_complete_once(task: &Header, deadline: Option<Instant>) -> bool {
    if task.is_complete() {
        return true;
    }
    let (joiners, guard) = task.lock_joiners();
    // Checked under the lock: no completion is missed (see
    // `State::set_complete`).
    if task.is_complete() {
        return true;
    }
    let reg = wait::Registration::enqueue(joiners, guard, wait::LONE);
    why::note(Why::Join, task.id);
    park::park_uninterruptible(deadline);
    // Joiners are woken by a broadcast: leaving holds nothing to pass on.
    drop(reg);
    task.is_complete()
}
