//! How a hooked call waits: parked on the reactor or the timers on a
//! green thread, in the real `poll(2)` on any other thread; and how the
//! runtime's interrupts become error numbers, since nothing may unwind
//! through an `extern "C"` frame.
//!
//! | What ends the wait | errno |
//! |--------------------|-------|
//! | `SO_RCVTIMEO` / `SO_SNDTIMEO` expiry | `EAGAIN` (as the kernel reports it) |
//! | an enclosing `verdant::timeout` | `ETIMEDOUT` (and the `timeout` reports `Elapsed`) |
//! | cancellation of the green thread | `ECANCELED` (the cancellation stays pending) |
//!
//! A cancellation caught here leaves the green thread's cancelled flag
//! set and clears only its "unwinding" mark: the thread unwinds from its
//! next verdant park point, and every later hooked wait fails with
//! `ECANCELED` after a 1 ms backoff, so a loop that retries cannot wait
//! forever, nor spin on its worker. Such a loop that never reaches a
//! verdant call does keep its green thread alive (nothing can unwind it
//! through the C frames): see `docs/monkey-patch.md`.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use libc::c_int;

use super::real;
use super::table::{self, Dir};
use crate::error::Elapsed;
use crate::runtime::interrupt::{self, Cancelled, ElapsedUnwind};
use crate::runtime::reactor::{Interest, Registration};

/// `Err(errno)` of a failed libc call (`-1` and errno).
pub(super) fn last_errno() -> c_int {
    io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// The error number an `io::Error` of an attempt or a wait stands for.
fn errno_of(e: &io::Error) -> c_int {
    if let Some(n) = e.raw_os_error() {
        return n;
    }
    if e.get_ref().is_some_and(|inner| inner.is::<Elapsed>()) {
        return libc::ETIMEDOUT;
    }
    match e.kind() {
        // The call's own deadline: SO_RCVTIMEO / SO_SNDTIMEO.
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => libc::EAGAIN,
        _ => libc::EIO,
    }
}

/// The error number for an unwinding caught at the hook's boundary.
pub(super) fn interrupted(payload: Box<dyn std::any::Any + Send>) -> c_int {
    if payload.is::<Cancelled>() {
        interrupt::clear_unwinding();
        cancelled_backoff();
        libc::ECANCELED
    } else if payload.is::<ElapsedUnwind>() {
        interrupt::clear_unwinding();
        libc::ETIMEDOUT
    } else {
        // A panic inside the runtime's own wait: a bug. It cannot unwind
        // into C, and returning would hide it.
        eprintln!("verdant: a panic inside a libc hook's wait; aborting");
        std::process::abort()
    }
}

/// Gives the worker back for a millisecond before a cancelled green
/// thread's hooked call fails with `ECANCELED`: code that retries every
/// error in a loop and never reaches a verdant park point (where the
/// cancellation would unwind it) then polls slowly instead of holding its
/// worker. The park is uninterruptible: nothing may unwind here.
pub(super) fn cancelled_backoff() {
    let _ = crate::runtime::park::park_uninterruptible(Instant::now().checked_add(Duration::from_millis(1)));
}

/// The deadline of a wait from the descriptor's socket timeout.
fn deadline(fd: c_int, dir: Dir) -> Option<Instant> {
    table::timeout(fd, dir).and_then(|t| Instant::now().checked_add(t))
}

/// Runs `op`, a non-blocking attempt, until it does not fail with
/// `WouldBlock`, waiting for `interest` on `fd` in between, until the
/// descriptor's timeout in `dir`.
pub(super) fn io<R>(
    fd: c_int,
    interest: Interest,
    dir: Dir,
    mut op: impl FnMut() -> io::Result<R>,
) -> Result<R, c_int> {
    let deadline = deadline(fd, dir);
    if !crate::runtime::context::in_green() {
        return plain(fd, interest, deadline, op);
    }
    let Some(mut reg) = table::registration(fd) else {
        return plain(fd, interest, deadline, op);
    };
    let mut renewed = false;
    loop {
        match catch_unwind(AssertUnwindSafe(|| reg.do_io(interest, deadline, &mut op))) {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => {
                // A registration with a runtime that has shut down: once,
                // register afresh with this thread's.
                if !renewed && e.raw_os_error().is_none() && e.kind() == io::ErrorKind::Other {
                    if let Some(fresh) = table::renew_registration(fd) {
                        reg = fresh;
                        renewed = true;
                        continue;
                    }
                }
                return Err(errno_of(&e));
            }
            Err(payload) => return Err(interrupted(payload)),
        }
    }
}

/// [`io`] on a thread that is not green: the real `poll(2)` blocks it, as
/// the blocking call would have.
fn plain<R>(
    fd: c_int,
    interest: Interest,
    deadline: Option<Instant>,
    mut op: impl FnMut() -> io::Result<R>,
) -> Result<R, c_int> {
    let events = match interest {
        Interest::Read => libc::POLLIN,
        Interest::Write => libc::POLLOUT,
    };
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(errno_of(&e)),
        }
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(libc::EAGAIN);
                }
                c_int::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(c_int::MAX)
            }
        };
        let mut pfd = libc::pollfd { fd, events, revents: 0 };
        // SAFETY: `pfd` is a local array of one pollfd, exclusively
        // borrowed for the call; the real poll writes only `revents`.
        if unsafe { real::poll(&mut pfd, 1, ms) } == -1 {
            let e = last_errno();
            if e != libc::EINTR {
                return Err(e);
            }
        }
    }
}

/// Sleeps the green thread for `dur`; `Err(errno)` if interrupted.
pub(super) fn sleep(dur: Duration) -> Result<(), c_int> {
    catch_unwind(|| crate::time::sleep(dur)).map_err(interrupted)
}

/// `poll(fds, nfds, timeout)` on a green thread, with a non-zero
/// timeout, nothing ready yet: the descriptors go into a throwaway
/// level-triggered epoll set, whose own descriptor the green thread
/// waits on through the reactor; each wakeup re-runs the real `poll` with
/// timeout 0, so the result is exactly the kernel's.
pub(super) fn poll(fds: *mut libc::pollfd, nfds: libc::nfds_t, timeout: c_int) -> Result<c_int, c_int> {
    let deadline = u64::try_from(timeout)
        .ok()
        .and_then(|ms| Instant::now().checked_add(Duration::from_millis(ms)));
    if nfds == 0 {
        return match deadline {
            Some(d) => sleep(d.saturating_duration_since(Instant::now())).map(|()| 0),
            None => loop {
                sleep(Duration::from_secs(3600))?;
            },
        };
    }
    // SAFETY: epoll_create1 takes a flag and returns a new descriptor.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(last_errno());
    }
    let n = usize::try_from(nfds).unwrap_or(usize::MAX);
    for i in 0..n {
        // SAFETY: poll's contract: `fds` points to `nfds` valid pollfds,
        // which the caller does not touch during the call.
        let pfd = unsafe { *fds.add(i) };
        if pfd.fd < 0 {
            continue;
        }
        let mut ev = libc::epoll_event {
            events: poll_to_epoll(pfd.events),
            u64: 0,
        };
        // SAFETY: `ev` is a valid local for the call; `ep` is ours.
        // A descriptor epoll refuses (a regular file: always ready, so the
        // real poll reports it anyway) is left out.
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, pfd.fd, &mut ev) };
    }
    let result = {
        let reg = Registration::new(ep);
        let probe = || {
            // SAFETY: as above: `fds`/`nfds` per poll's contract.
            let r = unsafe { real::poll(fds, nfds, 0) };
            match r {
                -1 => Err(io::Error::last_os_error()),
                0 => Err(io::ErrorKind::WouldBlock.into()),
                r => Ok(r),
            }
        };
        match catch_unwind(AssertUnwindSafe(|| reg.do_io(Interest::Read, deadline, probe))) {
            Ok(Ok(r)) => Ok(r),
            // poll's own timeout: "none ready".
            Ok(Err(e)) if e.kind() == io::ErrorKind::TimedOut && e.get_ref().is_none_or(|i| !i.is::<Elapsed>()) => {
                Ok(0)
            }
            Ok(Err(e)) => Err(errno_of(&e)),
            Err(payload) => Err(interrupted(payload)),
        }
        // `reg` drops here: deregistered while `ep` is open.
    };
    // SAFETY: `ep` is the descriptor made above, closed once.
    unsafe { real::close(ep) };
    result
}

fn poll_to_epoll(events: libc::c_short) -> u32 {
    let mut e = 0u32;
    if events & libc::POLLIN != 0 {
        e |= libc::EPOLLIN as u32;
    }
    if events & libc::POLLPRI != 0 {
        e |= libc::EPOLLPRI as u32;
    }
    if events & libc::POLLOUT != 0 {
        e |= libc::EPOLLOUT as u32;
    }
    if events & libc::POLLRDHUP != 0 {
        e |= libc::EPOLLRDHUP as u32;
    }
    e
}
