//! `Registration`: the one would-block loop every socket call goes through.
//!
//! ```text
//! do_io(dir, deadline, op):
//!   loop {
//!     op()                      ── Ok / real error ──▶ return it
//!       │ WouldBlock
//!     green thread?  no ──▶ poll(2) on the fd until ready or deadline (blocks this OS thread)
//!       │ yes
//!     registered? no ──▶ register with the current worker's reactor (edge-triggered, both directions)
//!     readiness arrived since op()?  yes ──▶ consume it, retry op
//!       │ no
//!     enqueue as reader/writer, park(deadline); on timeout ──▶ Err(TimedOut)
//!   }
//! ```
//!
//! Readiness is cleared only right before the operation is retried, so an
//! edge that arrives between the failed attempt and the enqueue is never
//! lost. Deadlines and cancellation come from `park`, so every socket call
//! honours them through this one function.

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::{Ready, ScheduledIo};
use crate::error::Elapsed;
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
    inner: Mutex<Option<Registered>>,
}

impl Registration {
    /// `fd` must be in non-blocking mode and outlive the registration.
    pub(crate) fn new(fd: RawFd) -> Registration {
        Registration {
            fd,
            inner: Mutex::new(None),
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
        loop {
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(interest, deadline)?,
                result => return result,
            }
        }
    }

    /// Waits until the source may be ready for `interest` again.
    pub(crate) fn wait(&self, interest: Interest, deadline: Option<Instant>) -> io::Result<()> {
        let Some(task) = park::current_task() else {
            // A plain OS thread: poll(2), bounded by the earlier of the
            // call's deadline and its scoped one.
            let scope = park::scope_deadline().filter(|s| deadline.is_none_or(|d| *s < d));
            return match sys::poll_fd(self.fd, interest == Interest::Read, scope.or(deadline)) {
                Err(e) if e.kind() == io::ErrorKind::TimedOut && scope.is_some() => Err(Elapsed::new().into()),
                r => r,
            };
        };
        let io = self.scheduled_io()?;
        let dir = match interest {
            Interest::Read => Ready::READ,
            Interest::Write => Ready::WRITE,
        };
        let Some(key) = io.consume_or_wait(dir, Waiter::Green(task)) else {
            return Ok(());
        };
        // Dequeue on every way out, cancellation's unwinding included.
        let guard = CancelWait { io: &io, dir, key };
        // A scoped deadline (`verdant::timeout`) fails the I/O with
        // `TimedOut` like the call's own deadline.
        let wake = park::park_scoped(deadline);
        drop(guard);
        match wake {
            Wake::Unparked => Ok(()),
            Wake::TimedOut => Err(io::Error::new(io::ErrorKind::TimedOut, "operation timed out")),
            // Distinguishable from the socket's own timeout (which the net
            // layer reports as std does, `WouldBlock`): it carries `Elapsed`.
            Wake::ScopeExpired => Err(Elapsed::new().into()),
        }
    }

    fn scheduled_io(&self) -> io::Result<Arc<ScheduledIo>> {
        let mut inner = self.inner.lock();
        if let Some(r) = &*inner {
            return Ok(r.io.clone());
        }
        let local = context::worker().expect("green threads run on workers");
        let io = Arc::new(ScheduledIo::default());
        let token = local.register(&mut mio::unix::SourceFd(&self.fd), io.clone())?;
        *inner = Some(Registered {
            shared: local.shared.clone(),
            worker: local.index,
            token,
            io: io.clone(),
        });
        Ok(io)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(r) = self.inner.get_mut().take() {
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
