//! `Registration`: the one would-block loop every socket call goes through.
//!
//! ```text
//! do_io_drain(dir, deadline, op, drained):
//!   loop {
//!     seen = readiness(dir)     (READY/FINAL bits and tick, if registered)
//!     green thread, registered, seen not ready? ──▶ skip op, go to the tick check
//!     op()                      ── Ok(r) ──▶ drained(r)? clear READY unless the tick moved; return r
//!       │ WouldBlock              ── real error ──▶ return it
//!     clear READY unless the tick moved since `seen`
//!     green thread?  no ──▶ poll(2) on the fd until ready or deadline (blocks this OS thread)
//!       │ yes
//!     registered? no ──▶ register with the current worker's reactor (edge-triggered,
//!       │                both directions); seen = tick 0 (any event since counts)
//!     tick changed since `seen`?  yes ──▶ retry
//!       │ no
//!     enqueue as reader/writer, park(deadline); on timeout ──▶ Err(TimedOut)
//!   }
//! ```
//!
//! The steps, and why no edge is lost between the snapshot, the attempt,
//! the clear and the enqueue, are in `ScheduledIo`'s docs. `drained` says
//! whether a successful result proves the direction exhausted: a short
//! read or write on a stream; never a 0-byte read (end-of-file must keep
//! returning 0), never a datagram or a peek. Only green threads skip
//! attempts: a plain OS thread waits in poll(2), which does not record
//! readiness, so it always tries first. Deadlines and cancellation come
//! from `park`, so every socket call honours them through this one
//! function.

use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::Mutex;

use super::{Readiness, Ready, ScheduledIo};
use crate::error::Elapsed;
use crate::runtime::interrupt;
use crate::runtime::park::{self, Waiter, Wake};
use crate::runtime::scheduler::Shared;
use crate::runtime::task::why::Why;
use crate::runtime::task::TaskRef;
use crate::runtime::wait::Until;
use crate::runtime::{context, sys};

/// Which readiness an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
}

fn direction(interest: Interest) -> Ready {
    match interest {
        Interest::Read => Ready::READ,
        Interest::Write => Ready::WRITE,
    }
}

struct Registered {
    shared: Arc<Shared>,
    worker: usize,
    token: mio::Token,
    io: Arc<ScheduledIo>,
}

/// Ties one file descriptor to a reactor, lazily. Drop it *before* closing
/// the descriptor (declare it first in the owning struct).
pub(crate) struct Registration {
    fd: RawFd,
    /// Set once, on the first wait of a green thread.
    io: OnceLock<Registered>,
    /// Serialises that first registration.
    init: Mutex<()>,
}

impl Registration {
    /// `fd` must be in non-blocking mode and outlive the registration.
    pub(crate) fn new(fd: RawFd) -> Registration {
        Registration {
            fd,
            io: OnceLock::new(),
            init: Mutex::new(()),
        }
    }

    /// Runs `op` until it does not fail with `WouldBlock`, parking the
    /// caller (green or OS thread) in between. Fails with `TimedOut` once
    /// `deadline` passes.
    #[inline]
    pub(crate) fn do_io<R>(
        &self,
        interest: Interest,
        deadline: Option<Instant>,
        op: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        self.do_io_drain(interest, deadline, op, |_| false)
    }

    /// Like [`Registration::do_io`]; a success for which `drained` holds
    /// (a short read or write) marks the direction not ready, so that the
    /// next call parks without a syscall known to fail.
    #[inline]
    pub(crate) fn do_io_drain<R>(
        &self,
        interest: Interest,
        deadline: Option<Instant>,
        mut op: impl FnMut() -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        let dir = direction(interest);
        loop {
            let reg = self.io.get();
            let seen = reg.map(|r| r.io.readiness(dir));
            if let (Some(r), Some(s)) = (reg, seen) {
                if !s.is_ready() {
                    if let Some(task) = park::current_task() {
                        self.wait_green(r, task, dir, deadline, s)?;
                        continue;
                    }
                }
            }
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let (Some(r), Some(s)) = (reg, seen) {
                        r.io.clear_readiness(dir, s);
                    }
                    self.wait(interest, deadline, seen)?
                }
                Ok(done) => {
                    if let (Some(r), Some(s)) = (reg, seen) {
                        if drained(&done) {
                            r.io.clear_readiness(dir, s);
                        }
                    }
                    return Ok(done);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until the source may be ready for `interest` again; `seen` is
    /// the direction's readiness loaded before the failed attempt (`None`
    /// if the source was not registered then).
    #[cold]
    fn wait(&self, interest: Interest, deadline: Option<Instant>, seen: Option<Readiness>) -> io::Result<()> {
        let Some(task) = park::current_task() else {
            // A plain OS thread: poll(2), bounded by the earlier of the
            // call's deadline and its `verdant::timeout` deadline.
            let scope = interrupt::timeout_deadline().filter(|s| deadline.is_none_or(|d| *s < d));
            return match sys::poll_fd(self.fd, interest == Interest::Read, scope.or(deadline)) {
                Err(e) if e.kind() == io::ErrorKind::TimedOut && scope.is_some() => {
                    interrupt::note_elapsed();
                    Err(Elapsed::new().into())
                }
                r => r,
            };
        };
        let r = self.registered()?;
        // Registered after the attempt: every event since registration is
        // news (at worst one retry in vain).
        let seen = seen.unwrap_or(Readiness::INITIAL);
        self.wait_green(r, task, direction(interest), deadline, seen)
    }

    /// Step 5 of the readiness protocol: parks the green thread `task`
    /// unless an event came since `seen`.
    ///
    /// The registration belongs to the reactor of the runtime whose green
    /// thread first waited on the fd. If that runtime has shut down, no
    /// event will ever come: fail instead of parking forever.
    fn wait_green(
        &self,
        r: &Registered,
        task: TaskRef,
        dir: Ready,
        deadline: Option<Instant>,
        seen: Readiness,
    ) -> io::Result<()> {
        if r.shared.is_shutdown() {
            return Err(io::Error::other(format!(
                "verdant: fd {} was first waited on by a green thread of a runtime that has since shut down; \
                 its readiness is registered with that runtime's reactor, so no green thread can wait on it now \
                 (use a socket within one runtime, or open a new one)",
                self.fd
            )));
        }
        let io = &r.io;
        let why = if dir.contains(Ready::READ) {
            Why::Read
        } else {
            Why::Write
        };
        task.set_why(why, u64::try_from(self.fd).unwrap_or(0));
        // An expired `verdant::timeout` fails the I/O with `TimedOut` like
        // the call's own deadline.
        let Some(wake) = io.wait_for_event(dir, seen, Waiter::Green(task), Until::Deadline(deadline)) else {
            return Ok(());
        };
        match wake {
            Wake::Unparked => Ok(()),
            Wake::TimedOut => Err(io::Error::new(io::ErrorKind::TimedOut, "operation timed out")),
            // Distinguishable from the socket's own timeout (which the net
            // layer reports as std does, `WouldBlock`): it carries `Elapsed`.
            Wake::Elapsed => Err(Elapsed::new().into()),
        }
    }

    /// Whether the registration belongs to a runtime that has shut down:
    /// no green thread can wait on it any more (see `wait_green`); a
    /// long-lived owner (the standard streams) replaces it.
    pub(crate) fn is_stale(&self) -> bool {
        self.io.get().is_some_and(|r| r.shared.is_shutdown())
    }

    /// The registration, made now with the calling green thread's worker
    /// if there is none yet.
    fn registered(&self) -> io::Result<&Registered> {
        if let Some(r) = self.io.get() {
            return Ok(r);
        }
        let _init = self.init.lock();
        if let Some(r) = self.io.get() {
            return Ok(r);
        }
        let local = context::worker().expect("green threads run on workers");
        let io = Arc::new(ScheduledIo::default());
        let token = local.register(&mut mio::unix::SourceFd(&self.fd), io.clone())?;
        let registered = Registered {
            shared: local.shared.clone(),
            worker: local.index,
            token,
            io,
        };
        Ok(self.io.get_or_init(|| registered))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(r) = self.io.take() {
            let w = &r.shared.workers[r.worker];
            // Fails only if the fd is already closed, which deregisters too.
            let _ = w.registry.deregister(&mut mio::unix::SourceFd(&self.fd));
            w.io.lock().remove(r.token);
        }
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}
