//! Raw OS calls of the OS-resource layer (`io`, `process`, `signal`) that
//! neither std nor a dependency wraps: the file status flag O_NONBLOCK, a
//! zero-timeout readiness probe, and the process descriptors of Linux.
//!
//! Every function takes a `BorrowedFd` (so the descriptor is open for the
//! call, by `BorrowedFd`'s own invariant) or makes its own, and passes the
//! kernel only pointers to locals it owns for the duration of the call.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// The descriptor's file status flags (`fcntl(F_GETFL)`).
fn status_flags(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    // SAFETY: `fd` is open for the call (BorrowedFd's invariant); F_GETFL
    // takes no argument and touches no memory of ours.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(flags)
}

/// Whether the open file description of `fd` is in O_NONBLOCK mode.
pub(crate) fn is_nonblocking(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(status_flags(fd)? & libc::O_NONBLOCK != 0)
}

/// Sets or clears O_NONBLOCK on the open file description of `fd` (shared
/// by all its duplicates, as the mode always is).
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let flags = status_flags(fd)?;
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new == flags {
        return Ok(());
    }
    // SAFETY: as in `status_flags`; F_SETFL takes an int by value.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, new) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `fd` is ready now, without waiting: `poll(2)` with timeout 0.
/// Hang-up and error count as ready (the next operation reports them).
pub(crate) fn ready_now(fd: BorrowedFd<'_>, read: bool) -> io::Result<bool> {
    let events = if read { libc::POLLIN } else { libc::POLLOUT };
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    loop {
        // SAFETY: `pfd` is a valid local pollfd array of length 1,
        // exclusively borrowed for the call; poll(2) writes only `revents`.
        let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
        if rc >= 0 {
            return Ok(rc > 0 && pfd.revents & (events | libc::POLLHUP | libc::POLLERR) != 0);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `pidfd_open(pid, 0)`: a descriptor that becomes readable when the
/// process `pid` exits (Linux 5.3 and later; `ENOSYS` before).
///
/// The caller must hold `pid` unreaped (its own child, not yet waited
/// for), so that the number cannot name a recycled process.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: pidfd_open takes two integers and returns a new descriptor
    // or -1; it reads and writes no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let raw = libc::c_int::try_from(rc).map_err(|_| io::Error::other("pidfd_open returned a bad descriptor"))?;
    // SAFETY: the kernel just returned `raw` as a new descriptor (with
    // O_CLOEXEC, as pidfd_open always sets), which nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Blocks this OS thread until the child `pid` has exited, *without*
/// reaping it (`waitid(P_PID, pid, WEXITED | WNOWAIT)`), so that std's
/// `Child::try_wait` collects the status afterwards. The fallback of
/// kernels without `pidfd_open`; run on the blocking pool.
pub(crate) fn wait_exited(pid: u32) -> io::Result<()> {
    let id = libc::id_t::from(pid);
    loop {
        // SAFETY: siginfo_t is plain old data; all zeroes is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, exclusively borrowed local the kernel
        // fills in; the other arguments are integers.
        let rc = unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `read(2)` on `fd` into `buf`, retried on `EINTR`. Blocks if the
/// descriptor is in blocking mode and has nothing to read: the standard
/// streams' reader calls it only once `poll` said readable.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `fd` is open for the call (BorrowedFd's invariant); `buf`
        // is an exclusively borrowed slice of `buf.len()` writable bytes.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if let Ok(n) = usize::try_from(n) {
            return Ok(n);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `write(2)` of `buf` to `fd`, retried on `EINTR`; as [`read`], called on
/// a blocking descriptor only once `poll` said writable.
pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `fd` is open for the call (BorrowedFd's invariant); `buf`
        // is a borrowed slice of `buf.len()` readable bytes.
        let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        if let Ok(n) = usize::try_from(n) {
            return Ok(n);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
