//! `Registration`: the one would-block loop every socket call goes through.
//!
//! ```text
//! do_io(dir, deadline, op):
//!   loop {
//!     seen = tick(dir)          (the direction's event count, if registered)
//!     op()                      ── Ok / real error ──▶ return it
//!       │ WouldBlock
//!     green thread?  no ──▶ poll(2) on the fd until ready or deadline (blocks this OS thread)
//!       │ yes
//!     registered? no ──▶ register with the current worker's reactor (edge-triggered,
//!       │                both directions); seen = 0 (any event since counts)
//!     tick changed since `seen`?  yes ──▶ retry op
//!       │ no
//!     enqueue as reader/writer, park(deadline); on timeout ──▶ Err(TimedOut)
//!   }
//! ```
//!
//! See `ScheduledIo` for why the tick, read before the attempt, makes an
//! edge between the failed attempt and the enqueue impossible to lose. Deadlines and cancellation come from `park`, so every socket call
//! honours them through this one function.

use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::Mutex;

use super::{Ready, ScheduledIo};
use crate::error::Elapsed;
use crate::runtime::interrupt;
use crate::runtime::park::{self, Waiter, Wake};
use crate::runtime::scheduler::Shared;
use crate::runtime::{context, sys};

/// Which readiness an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
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
    pub(crate) fn do_io<R>(
        &self,
        interest: Interest,
        deadline: Option<Instant>,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        let dir = match interest {
            Interest::Read => Ready::READ,
            Interest::Write => Ready::WRITE,
        };
        loop {
            let seen = self.io.get().map(|r| r.io.tick(dir));
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(interest, deadline, seen)?,
                result => return result,
            }
        }
    }

    /// Waits until the source may be ready for `interest` again; `seen` is
    /// the direction's tick read before the failed attempt (`None` if the
    /// source was not registered then).
    fn wait(&self, interest: Interest, deadline: Option<Instant>, seen: Option<u32>) -> io::Result<()> {
        let Some(task) = park::current_task() else {
            // A plain OS thread: poll(2), bounded by the earlier of the
            // call's deadline and its scoped one.
            let scope = interrupt::timeout_deadline().filter(|s| deadline.is_none_or(|d| *s < d));
            return match sys::poll_fd(self.fd, interest == Interest::Read, scope.or(deadline)) {
                Err(e) if e.kind() == io::ErrorKind::TimedOut && scope.is_some() => Err(Elapsed::new().into()),
                r => r,
            };
        };
        let io = &self.registered()?.io;
        let dir = match interest {
            Interest::Read => Ready::READ,
            Interest::Write => Ready::WRITE,
        };
        // Registered after the attempt: every event since registration is
        // news (at worst one retry in vain).
        let Some(key) = io.wait_unless_changed(dir, seen.unwrap_or(0), Waiter::Green(task)) else {
            return Ok(());
        };
        // Dequeue on every way out, cancellation's unwinding included.
        let guard = CancelWait { io, dir, key };
        // A scoped deadline (`verdant::timeout`) fails the I/O with
        // `TimedOut` like the call's own deadline.
        let wake = park::park_reporting(deadline);
        drop(guard);
        match wake {
            Wake::Unparked => Ok(()),
            Wake::TimedOut => Err(io::Error::new(io::ErrorKind::TimedOut, "operation timed out")),
            // Distinguishable from the socket's own timeout (which the net
            // layer reports as std does, `WouldBlock`): it carries `Elapsed`.
            Wake::Elapsed => Err(Elapsed::new().into()),
        }
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

struct CancelWait<'a> {
    io: &'a ScheduledIo,
    dir: Ready,
    key: u64,
}

impl Drop for CancelWait<'_> {
    fn drop(&mut self) {
        self.io.cancel_wait(self.dir, self.key);
    }
}
