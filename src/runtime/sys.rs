//! Raw OS calls that no dependency wraps for us.

use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

/// Blocks this OS thread until `fd` is readable (or writable), or until
/// `deadline` passes (`TimedOut`). Used by plain OS threads, which have no
/// reactor.
pub(crate) fn poll_fd(fd: RawFd, read: bool, deadline: Option<Instant>) -> io::Result<()> {
    let events = if read { libc::POLLIN } else { libc::POLLOUT };
    loop {
        let timeout_ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "operation timed out",
                    ));
                }
                // Round up: never wake before the deadline.
                left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid, exclusively borrowed pollfd array of
        // length 1 for the duration of the call; poll(2) reads `fd`/`events`
        // and writes only `revents`.
        let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        match rc {
            -1 => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            0 => {}
            // Ready, hung up or in error: the caller's retry reports which.
            _ => return Ok(()),
        }
    }
}
