//! `FromRawFd` for the socket types: the net layer's only `unsafe`.
//!
//! `FromRawFd::from_raw_fd` is an unsafe trait method (the caller promises
//! an open descriptor it owns); each impl only forwards that promise to
//! `OwnedFd::from_raw_fd` and then uses the safe `From<OwnedFd>`.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::{TcpListener, TcpStream, UdpSocket};
#[cfg(unix)]
use super::{UnixDatagram, UnixListener, UnixStream};

macro_rules! from_raw_fd {
    ($($t:ty),*) => {$(
        /// Adopts `fd` as with `From<OwnedFd>` (switched to O_NONBLOCK).
        ///
        /// # Safety
        ///
        /// `fd` must be an open socket descriptor of the right kind that
        /// the caller owns and gives up, as for `OwnedFd::from_raw_fd`.
        impl FromRawFd for $t {
            unsafe fn from_raw_fd(fd: RawFd) -> Self {
                // SAFETY: the caller's contract (above) is exactly
                // `OwnedFd::from_raw_fd`'s: `fd` is open and owned by us now.
                Self::from(unsafe { OwnedFd::from_raw_fd(fd) })
            }
        }
    )*};
}

from_raw_fd!(TcpListener, TcpStream, UdpSocket);
#[cfg(unix)]
from_raw_fd!(UnixListener, UnixStream, UnixDatagram);
