//! Tasks: the shared half of a green thread, and its lifecycle.
//!
//! A green thread is split in two. The task (this module) is shared, by
//! counted [`TaskRef`]s, with everyone who may wake it: wait lists, timers,
//! the reactor, join handles. The coroutine (stack and saved registers) is
//! owned by the worker that started it and never leaves that worker's slab
//! (see `scheduler::slab`), so no started stack is ever sent to another
//! thread.
//!
//! * `state`: the one state word (park protocol, cancellation, completion,
//!   detach, unwinding), with its bits documented;
//! * `core`: the allocation (header, then the body: the function until it
//!   runs, then the outcome until `join` takes it), the thin pointer with
//!   its reference count, and the finish sequence;
//! * `join`: the typed join handle's side: waiting for completion, taking
//!   the outcome, detaching.
//!
//! All of the `unsafe` code of tasks is in `core`; `docs/unsafe.md` lists
//! its invariants.

#[allow(unsafe_code)]
mod core;
#[allow(unsafe_code)]
mod join;
mod state;
pub(crate) mod why;

pub(crate) use self::core::{next_id, Completion, Done, Header, NewTask, Spec, TaskRef};
pub(crate) use self::join::{parts, parts_unchecked, wait_complete, wait_complete_once, JoinInner, Wait};
pub(crate) use self::state::Phase;
