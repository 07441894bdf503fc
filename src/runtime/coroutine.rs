//! The corosensei wrapper: create a green thread's coroutine, and switch out
//! of it from anywhere on its stack.
//!
//! corosensei hands the coroutine body a `&Yielder`, but a green thread
//! suspends from deep inside ordinary code (`TcpStream::read` → `park` →
//! `suspend`), far from the body's frame. The body therefore publishes the
//! yielder's address in a thread-local (`context::set_yielder`), and [`suspend`]
//! reads it back (`context::take_yielder`).
//!
//! # Invariant
//!
//! `context::take_yielder()`'s `yielder` is non-zero exactly while a
//! coroutine body is executing on this OS thread, and then it is the
//! address of *that* coroutine's `Yielder` (and the stack range is that
//! coroutine's stack):
//!
//! 1. the body stores the address on entry and clears it on exit;
//! 2. [`suspend`] clears it before switching out (so the worker loop, which
//!    is not a coroutine, sees 0) and restores its own copy after the switch
//!    back, before any other code of the green thread runs;
//! 3. workers only resume coroutines from the worker loop (never from inside
//!    a coroutine), so no two bodies interleave on one thread except through
//!    `suspend`;
//! 4. a started coroutine is never moved to another OS thread (the slab in
//!    `scheduler::slab` owns it, and `Coroutine` is `!Send`).
//!
//! The `Yielder` lives in the body's frame on the coroutine stack, which stays
//! allocated until the body returns, so the address is valid whenever it is
//! non-zero.

use corosensei::stack::Stack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

use crate::runtime::context::{self, Running};
use crate::runtime::stack_pool::PooledStack;
use crate::runtime::task::Done;

/// Why a green thread switched out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suspend {
    /// Requeue at the back of the run queue (`yield_now`).
    Yield,
    /// Finish parking (see `task`): wait for `unpark`.
    Park,
}

/// Resume input: whether the green thread has been cancelled.
type Inner = Coroutine<bool, Suspend, Done, PooledStack>;

/// A green thread's stack and saved context. `!Send` by construction.
pub(crate) struct Green {
    inner: Inner,
    /// `[low, high)` of the stack's guard page, and its usable size, for the
    /// overflow handler.
    pub(crate) guard: (usize, usize),
    pub(crate) stack_size: usize,
}

/// What a resumed green thread did.
pub(crate) enum Resumed {
    Suspended(Suspend),
    /// Done (its body returned this): take its stack back with
    /// [`Green::into_stack`].
    Finished(Done),
}

impl Green {
    /// Prepares `body` to run on `stack`. `body` must not unwind: the caller
    /// catches panics inside it.
    pub(crate) fn new(stack: PooledStack, body: impl FnOnce() -> Done + 'static) -> Green {
        let guard = stack.guard_range();
        let stack_size = stack.usable_size();
        let (stack_lo, stack_hi) = (guard.1, stack.base().get());
        let inner = Coroutine::with_stack(stack, move |yielder: &Yielder<bool, Suspend>, _| {
            context::set_yielder(Running {
                yielder: yielder as *const Yielder<bool, Suspend> as usize,
                stack_lo,
                stack_hi,
            });
            let done = body();
            context::set_yielder(Running::NONE);
            done
        });
        Green {
            inner,
            guard,
            stack_size,
        }
    }

    /// Runs the green thread until it suspends or finishes; `cancelled` is
    /// what the pending [`suspend`] returns.
    #[inline]
    pub(crate) fn resume(&mut self, cancelled: bool) -> Resumed {
        match self.inner.resume(cancelled) {
            CoroutineResult::Yield(why) => Resumed::Suspended(why),
            CoroutineResult::Return(done) => Resumed::Finished(done),
        }
    }

    /// The stack of a finished green thread, for reuse.
    pub(crate) fn into_stack(self) -> PooledStack {
        self.inner.into_stack()
    }
}

/// Switches from the running green thread back to its worker. Returns
/// whether the thread was cancelled meanwhile (the worker tells it).
///
/// # Panics
///
/// Panics if called outside a green thread.
#[inline]
pub(crate) fn suspend(why: Suspend) -> bool {
    try_suspend(why).expect("verdant: suspend called outside a green thread")
}

/// [`suspend`] if the caller is a green thread, else `None` at once.
///
/// Inlined on purpose: after a stack switch the CPU's return-address
/// predictor holds the *other* stack's call chain, so every function
/// return crossing the switch mispredicts. One frame less between the
/// caller and the switch took `yield_now` from ~57 to ~22 ns here. (The
/// thread-local accessors it calls stay out of line, see `context`.)
#[inline]
pub(crate) fn try_suspend(why: Suspend) -> Option<bool> {
    let running = context::take_yielder();
    if running.yielder == 0 {
        return None;
    }
    // The address of a local: where this stack is now.
    let here = &running as *const Running as usize;
    if !(running.stack_lo..running.stack_hi).contains(&here) {
        context::set_yielder(running);
        foreign_stack();
    }
    // SAFETY: by the module invariant, a non-zero `yielder` is the address
    // of the `Yielder` of the coroutine whose body is executing on this
    // thread, so the `Yielder` is alive. We are on that coroutine's own
    // stack, not on one that code inside it switched to (a coroutine of
    // the user's nested in the green thread): `here` lies within the green
    // thread's stack, checked just above. So this is the coroutine it
    // belongs to. `Yielder::suspend` takes `&self`.
    let yielder = unsafe { &*(running.yielder as *const Yielder<bool, Suspend>) };
    let cancelled = yielder.suspend(why);
    context::set_yielder(running);
    Some(cancelled)
}

/// A blocking call made on a stack that is not its green thread's own.
#[cold]
#[inline(never)]
fn foreign_stack() -> ! {
    panic!(
        "verdant: a blocking call was made on a stack that is not its green thread's own \
         (a coroutine or fiber running inside a green thread?); it cannot park there. \
         Make the call outside the nested coroutine, or on a thread of its own (spawn_blocking)"
    )
}
