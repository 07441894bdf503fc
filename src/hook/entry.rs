//! The libc entry points verdant defines (feature `hook`).
//!
//! Every function here has libc's name and C prototype and is
//! `#[no_mangle]`, so the program's calls of that name bind to it (see the
//! module docs of `hook`). Each starts with the pass-through test:
//!
//! 1. hooks off (`monkey_patch` not called): one relaxed atomic load, then
//!    the real function;
//! 2. the descriptor is not a hooked socket, or the program set it
//!    non-blocking: one lock-free table lookup, then the real function;
//! 3. otherwise the call is made non-blocking and waits in `wait::io`:
//!    parked on a green thread, in the real `poll(2)` elsewhere.
//!
//! Nothing on paths 1 and 2 allocates, locks or touches a thread-local.
//! Failures are reported the C way, `-1` and `errno`.

use std::io;
use std::time::Duration;

use libc::{c_int, c_uint, c_void, iovec, msghdr, pollfd, size_t, sockaddr, socklen_t, ssize_t, timespec};

use super::table::{self, Dir, HOOKED, USER_NONBLOCK};
use super::{patched, real, wait};
use crate::runtime::context;
use crate::runtime::reactor::Interest;

pub(super) fn set_errno(e: c_int) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot,
    // valid for the thread's lifetime.
    unsafe { *libc::__errno_location() = e };
}

/// Whether `fd` is a hooked socket the program believes blocking.
#[inline]
fn hooked_blocking(fd: c_int) -> bool {
    patched() && table::state(fd) == HOOKED
}

/// `-1`/errno of a raw result as an `io::Result` (for the wait loop).
fn cvt(r: ssize_t) -> io::Result<ssize_t> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The C result of a wait: the value, or `-1` with errno set.
fn ret(r: Result<ssize_t, c_int>) -> ssize_t {
    match r {
        Ok(v) => v,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

fn ret_int(r: Result<c_int, c_int>) -> c_int {
    match r {
        Ok(v) => v,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// `socket(2)`: a socket made while the hooks are on is hooked: the kernel
/// descriptor is non-blocking, the program sees the mode it asked for.
///
/// # Safety
///
/// libc's contract for `socket`.
#[no_mangle]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, proto: c_int) -> c_int {
    if !patched() {
        // SAFETY: forwarded unchanged.
        return unsafe { real::socket(domain, ty, proto) };
    }
    // SAFETY: forwarded, with SOCK_NONBLOCK added (a valid flag).
    let fd = unsafe { real::socket(domain, ty | libc::SOCK_NONBLOCK, proto) };
    if fd >= 0 {
        table::insert(fd, ty & libc::SOCK_NONBLOCK != 0);
    }
    fd
}

/// `connect(2)`: on a hooked blocking socket, waits for the connection.
///
/// # Safety
///
/// libc's contract for `connect`.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: forwarded unchanged.
    let r = unsafe { real::connect(fd, addr, len) };
    if r == 0 || !hooked_blocking(fd) {
        return r;
    }
    let e = wait::last_errno();
    if e != libc::EINPROGRESS {
        set_errno(e);
        return r;
    }
    let done = wait::io(fd, Interest::Write, Dir::Send, || {
        let mut pfd = pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: a local pollfd array of one, exclusively borrowed.
        match unsafe { real::poll(&mut pfd, 1, 0) } {
            -1 => Err(io::Error::last_os_error()),
            0 => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(()),
        }
    });
    match done {
        Ok(()) => {
            let mut err: c_int = 0;
            let mut len = std::mem::size_of::<c_int>() as socklen_t;
            // SAFETY: `err` and `len` are valid locals of the sizes given.
            let r = unsafe {
                libc::getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&mut err as *mut c_int).cast(),
                    &mut len,
                )
            };
            if r == -1 {
                return -1;
            }
            if err == 0 {
                0
            } else {
                set_errno(err);
                -1
            }
        }
        // SO_SNDTIMEO expired: the kernel reports EINPROGRESS.
        Err(libc::EAGAIN) => {
            set_errno(libc::EINPROGRESS);
            -1
        }
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// `accept(2)`.
///
/// # Safety
///
/// libc's contract for `accept`.
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    if !patched() {
        // SAFETY: forwarded unchanged.
        return unsafe { real::accept(fd, addr, len) };
    }
    // SAFETY: the same contract; accept is accept4 with no flags.
    unsafe { accept4(fd, addr, len, 0) }
}

/// `accept4(2)`: waits on a hooked blocking listener; the new socket is
/// hooked.
///
/// # Safety
///
/// libc's contract for `accept4`.
#[no_mangle]
pub unsafe extern "C" fn accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int {
    if !patched() {
        // SAFETY: forwarded unchanged.
        return unsafe { real::accept4(fd, addr, len, flags) };
    }
    // SAFETY: forwarded, with SOCK_NONBLOCK added (a valid flag).
    let op = || cvt(unsafe { real::accept4(fd, addr, len, flags | libc::SOCK_NONBLOCK) } as ssize_t);
    let r = if table::state(fd) == HOOKED {
        ret(wait::io(fd, Interest::Read, Dir::Recv, op))
    } else {
        ret(op().map_err(|e| e.raw_os_error().unwrap_or(libc::EIO)))
    } as c_int;
    if r >= 0 {
        table::insert(r, flags & libc::SOCK_NONBLOCK != 0);
    }
    r
}

/// Defines a read- or write-side hook: `$op` is the real call (an
/// expression over the arguments), `$flags` the call's flags (0 if none).
macro_rules! io_hook {
    ($(#[$doc:meta])* $name:ident ( $fd:ident, $($arg:ident : $t:ty),* ), $interest:expr, $dir:expr, $flags:expr, $op:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        ///
        /// libc's contract for the function of the same name.
        #[no_mangle]
        pub unsafe extern "C" fn $name($fd: c_int, $($arg: $t),*) -> ssize_t {
            // SAFETY: forwarded unchanged (the caller's contract).
            let op = || unsafe { $op };
            if !hooked_blocking($fd) || $flags & libc::MSG_DONTWAIT != 0 {
                return op();
            }
            ret(wait::io($fd, $interest, $dir, || cvt(op())))
        }
    };
}

io_hook!(
    /// `read(2)`.
    read(fd, buf: *mut c_void, n: size_t), Interest::Read, Dir::Recv, 0, real::read(fd, buf, n)
);
io_hook!(
    /// `write(2)`.
    write(fd, buf: *const c_void, n: size_t), Interest::Write, Dir::Send, 0, real::write(fd, buf, n)
);
io_hook!(
    /// `readv(2)`.
    readv(fd, iov: *const iovec, n: c_int), Interest::Read, Dir::Recv, 0, real::readv(fd, iov, n)
);
io_hook!(
    /// `writev(2)`.
    writev(fd, iov: *const iovec, n: c_int), Interest::Write, Dir::Send, 0, real::writev(fd, iov, n)
);
io_hook!(
    /// `recv(2)`.
    recv(fd, buf: *mut c_void, n: size_t, flags: c_int), Interest::Read, Dir::Recv, flags,
    real::recv(fd, buf, n, flags)
);
io_hook!(
    /// `recvfrom(2)`.
    recvfrom(fd, buf: *mut c_void, n: size_t, flags: c_int, addr: *mut sockaddr, len: *mut socklen_t),
    Interest::Read, Dir::Recv, flags, real::recvfrom(fd, buf, n, flags, addr, len)
);
io_hook!(
    /// `recvmsg(2)`.
    recvmsg(fd, msg: *mut msghdr, flags: c_int), Interest::Read, Dir::Recv, flags, real::recvmsg(fd, msg, flags)
);
io_hook!(
    /// `send(2)`.
    send(fd, buf: *const c_void, n: size_t, flags: c_int), Interest::Write, Dir::Send, flags,
    real::send(fd, buf, n, flags)
);
io_hook!(
    /// `sendto(2)`.
    sendto(fd, buf: *const c_void, n: size_t, flags: c_int, addr: *const sockaddr, len: socklen_t),
    Interest::Write, Dir::Send, flags, real::sendto(fd, buf, n, flags, addr, len)
);
io_hook!(
    /// `sendmsg(2)`.
    sendmsg(fd, msg: *const msghdr, flags: c_int), Interest::Write, Dir::Send, flags, real::sendmsg(fd, msg, flags)
);

/// `poll(2)`: on a green thread with a non-zero timeout, parks until a
/// descriptor is ready or the timeout passes.
///
/// # Safety
///
/// libc's contract for `poll`.
#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: libc::nfds_t, timeout: c_int) -> c_int {
    if !patched() || timeout == 0 || !context::in_green() {
        // SAFETY: forwarded unchanged.
        return unsafe { real::poll(fds, nfds, timeout) };
    }
    // SAFETY: forwarded unchanged, with timeout 0 (never blocks).
    let now = unsafe { real::poll(fds, nfds, 0) };
    if now != 0 {
        return now;
    }
    ret_int(wait::poll(fds, nfds, timeout))
}

/// `close(2)`: forgets the descriptor (and deregisters it) first.
///
/// # Safety
///
/// libc's contract for `close`.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if patched() {
        table::remove(fd);
    }
    // SAFETY: forwarded unchanged.
    unsafe { real::close(fd) }
}

/// `dup(2)`: the copy inherits the entry.
///
/// # Safety
///
/// libc's contract for `dup`.
#[no_mangle]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: forwarded unchanged.
    let r = unsafe { real::dup(fd) };
    if r >= 0 && patched() {
        table::copy(fd, r);
    }
    r
}

/// Clears the kernel's O_NONBLOCK of `fd`: raw `fcntl` system calls
/// (async-signal-safe, and no `dlsym` in a forked child).
fn make_blocking(fd: c_int) {
    // SAFETY: F_GETFL/F_SETFL take no pointer.
    unsafe {
        let fl = libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL) as c_int;
        if fl >= 0 && fl & libc::O_NONBLOCK != 0 {
            libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
        }
    }
}

/// A hooked socket the program believes blocking, about to become a
/// child process's stdin, stdout or stderr: the child must see it
/// blocking, and O_NONBLOCK belongs to the open file description it
/// shares with this process. So it stops being hooked here too: a plain
/// blocking socket (`docs/monkey-patch.md`, "Child processes"). Atomics
/// and a system call only: this also runs in a forked child before `exec`.
fn hand_over_to_child(fd: c_int, to: c_int) {
    if (0..=2).contains(&to) && table::state(fd) == HOOKED {
        make_blocking(fd);
        table::forget(fd);
    }
}

/// `posix_spawn_file_actions_adddup2(3)`: how std hands a descriptor to a
/// child as its stdin, stdout or stderr on the `posix_spawn` path; see
/// `hand_over_to_child`.
///
/// # Safety
///
/// libc's contract for `posix_spawn_file_actions_adddup2`.
#[no_mangle]
pub unsafe extern "C" fn posix_spawn_file_actions_adddup2(
    actions: *mut libc::posix_spawn_file_actions_t,
    fd: c_int,
    to: c_int,
) -> c_int {
    if patched() {
        hand_over_to_child(fd, to);
    }
    // SAFETY: forwarded unchanged.
    unsafe { real::posix_spawn_file_actions_adddup2(actions, fd, to) }
}

/// `dup2(2)`: the target's old entry goes, the copy inherits `fd`'s. A
/// hooked blocking socket duplicated onto 0, 1 or 2 (std's `fork`+`exec`
/// path of `Command`) is handed over as in `posix_spawn_file_actions_adddup2`.
///
/// # Safety
///
/// libc's contract for `dup2`.
#[no_mangle]
pub unsafe extern "C" fn dup2(fd: c_int, to: c_int) -> c_int {
    let on = patched() && fd != to;
    if on {
        hand_over_to_child(fd, to);
        table::remove(to);
    }
    // SAFETY: forwarded unchanged.
    let r = unsafe { real::dup2(fd, to) };
    if r >= 0 && on {
        table::copy(fd, to);
    }
    r
}

/// `dup3(2)`: as `dup2`.
///
/// # Safety
///
/// libc's contract for `dup3`.
#[no_mangle]
pub unsafe extern "C" fn dup3(fd: c_int, to: c_int, flags: c_int) -> c_int {
    let on = patched() && fd != to;
    if on {
        hand_over_to_child(fd, to);
        table::remove(to);
    }
    // SAFETY: forwarded unchanged.
    let r = unsafe { real::dup3(fd, to, flags) };
    if r >= 0 && on {
        table::copy(fd, to);
    }
    r
}

/// The emulation shared by `fcntl` and `fcntl64`.
fn fcntl_hooked(fd: c_int, cmd: c_int, arg: usize, real: unsafe fn(c_int, c_int, usize) -> c_int) -> c_int {
    let st = table::state(fd);
    match cmd {
        libc::F_GETFL if st & HOOKED != 0 => {
            // SAFETY: F_GETFL ignores its argument.
            let r = unsafe { real(fd, cmd, arg) };
            if r < 0 {
                return r;
            }
            let user = if st & USER_NONBLOCK != 0 { libc::O_NONBLOCK } else { 0 };
            (r & !libc::O_NONBLOCK) | user
        }
        libc::F_SETFL if st & HOOKED != 0 => {
            // The argument is an int of flags.
            let flags = arg as c_int;
            // SAFETY: F_SETFL takes an int; O_NONBLOCK stays on in the kernel.
            let r = unsafe { real(fd, cmd, (flags | libc::O_NONBLOCK) as usize) };
            if r == 0 {
                table::set_user_nonblock(fd, flags & libc::O_NONBLOCK != 0);
            }
            r
        }
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            // SAFETY: forwarded unchanged.
            let r = unsafe { real(fd, cmd, arg) };
            if r >= 0 {
                table::copy(fd, r);
            }
            r
        }
        // SAFETY: forwarded unchanged.
        _ => unsafe { real(fd, cmd, arg) },
    }
}

/// `fcntl(2)`: `F_GETFL`/`F_SETFL` show and record the program's
/// O_NONBLOCK mode of a hooked socket; `F_DUPFD*` copy the entry.
///
/// C declares it variadic; every command takes at most one argument,
/// an int or a pointer, which the x86-64 and AArch64 Linux calling
/// conventions pass in the same register as a fixed `usize` argument.
///
/// # Safety
///
/// libc's contract for `fcntl`.
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    if !patched() {
        // SAFETY: forwarded unchanged.
        return unsafe { real::fcntl(fd, cmd, arg) };
    }
    fcntl_hooked(fd, cmd, arg, real::fcntl)
}

/// `fcntl64`: glibc's name for `fcntl` with 64-bit offsets; as `fcntl`.
///
/// # Safety
///
/// libc's contract for `fcntl64`.
#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    if !patched() {
        // SAFETY: forwarded unchanged.
        return unsafe { real::fcntl64(fd, cmd, arg) };
    }
    fcntl_hooked(fd, cmd, arg, real::fcntl64)
}

/// `ioctl(2)`: `FIONBIO` on a hooked socket records the program's mode
/// (the kernel's stays non-blocking). Variadic in C; see `fcntl`.
///
/// # Safety
///
/// libc's contract for `ioctl`.
#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, req: libc::c_ulong, arg: usize) -> c_int {
    if patched() && req == libc::FIONBIO && table::state(fd) & HOOKED != 0 {
        let p = arg as *const c_int;
        if p.is_null() {
            set_errno(libc::EFAULT);
            return -1;
        }
        // SAFETY: FIONBIO's argument is a pointer to an int (ioctl's
        // contract); checked non-null.
        let on = unsafe { *p } != 0;
        table::set_user_nonblock(fd, on);
        return 0;
    }
    // SAFETY: forwarded unchanged.
    unsafe { real::ioctl(fd, req, arg) }
}

/// `setsockopt(2)`: `SO_RCVTIMEO`/`SO_SNDTIMEO` of a hooked socket are
/// also recorded, as the timeouts of its waits (the kernel keeps them
/// too, so `getsockopt` reports them unchanged).
///
/// # Safety
///
/// libc's contract for `setsockopt`.
#[no_mangle]
pub unsafe extern "C" fn setsockopt(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: socklen_t) -> c_int {
    // SAFETY: forwarded unchanged.
    let r = unsafe { real::setsockopt(fd, level, name, val, len) };
    let timeo = name == libc::SO_RCVTIMEO || name == libc::SO_SNDTIMEO;
    if r == 0
        && patched()
        && level == libc::SOL_SOCKET
        && timeo
        && table::state(fd) & HOOKED != 0
        && len as usize >= std::mem::size_of::<libc::timeval>()
    {
        // SAFETY: the kernel accepted `val` as a timeval of `len` bytes
        // (checked large enough); read unaligned, as C may pass any buffer.
        let tv = unsafe { val.cast::<libc::timeval>().read_unaligned() };
        let dur = Duration::from_secs(tv.tv_sec.max(0) as u64) + Duration::from_micros(tv.tv_usec.max(0) as u64);
        let dir = if name == libc::SO_RCVTIMEO {
            Dir::Recv
        } else {
            Dir::Send
        };
        table::set_timeout(fd, dir, (!dur.is_zero()).then_some(dur));
    }
    r
}

/// A `timespec` as a duration, `None` if invalid (EINVAL).
fn duration(ts: &timespec) -> Option<Duration> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// `nanosleep(2)`: a green sleep on a green thread. Interrupted by
/// cancellation, it fails with `EINTR` and a remaining time of 0, so
/// callers that loop on `EINTR` (std's `thread::sleep`) stop.
///
/// # Safety
///
/// libc's contract for `nanosleep`.
#[no_mangle]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if !patched() || req.is_null() || !context::in_green() {
        // SAFETY: forwarded unchanged.
        return unsafe { real::nanosleep(req, rem) };
    }
    // SAFETY: `req` is a valid timespec (nanosleep's contract), non-null.
    let Some(dur) = duration(unsafe { &*req }) else {
        set_errno(libc::EINVAL);
        return -1;
    };
    match wait::sleep(dur) {
        Ok(()) => 0,
        Err(e) => {
            if !rem.is_null() {
                // SAFETY: a non-null `rem` is writable (nanosleep's contract).
                unsafe { *rem = timespec { tv_sec: 0, tv_nsec: 0 } };
            }
            set_errno(if e == libc::ECANCELED { libc::EINTR } else { e });
            -1
        }
    }
}

/// `clock_nanosleep(2)`: as `nanosleep`; `TIMER_ABSTIME` is measured on
/// the given clock. Returns the error number (not errno), as it does.
///
/// # Safety
///
/// libc's contract for `clock_nanosleep`.
#[no_mangle]
pub unsafe extern "C" fn clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    if !patched() || req.is_null() || !context::in_green() {
        // SAFETY: forwarded unchanged.
        return unsafe { real::clock_nanosleep(clock, flags, req, rem) };
    }
    // SAFETY: `req` is a valid timespec (the contract), non-null.
    let req = unsafe { *req };
    let Some(mut dur) = duration(&req) else {
        return libc::EINVAL;
    };
    if flags & libc::TIMER_ABSTIME != 0 {
        let mut now = timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `now` is a valid local.
        if unsafe { libc::clock_gettime(clock, &mut now) } == -1 {
            return wait::last_errno();
        }
        let now = duration(&now).unwrap_or_default();
        dur = dur.saturating_sub(now);
    }
    match wait::sleep(dur) {
        Ok(()) => 0,
        Err(_) => {
            if flags & libc::TIMER_ABSTIME == 0 && !rem.is_null() {
                // SAFETY: a non-null `rem` is writable (the contract).
                unsafe { *rem = timespec { tv_sec: 0, tv_nsec: 0 } };
            }
            libc::EINTR
        }
    }
}

/// `usleep(3)`: a green sleep on a green thread.
///
/// # Safety
///
/// None beyond libc's (it takes an integer).
#[no_mangle]
pub unsafe extern "C" fn usleep(us: libc::useconds_t) -> c_int {
    if !patched() || !context::in_green() {
        // SAFETY: forwarded unchanged.
        return unsafe { real::usleep(us) };
    }
    match wait::sleep(Duration::from_micros(u64::from(us))) {
        Ok(()) => 0,
        Err(_) => {
            set_errno(libc::EINTR);
            -1
        }
    }
}

/// `sleep(3)`: a green sleep on a green thread. Interrupted, it returns
/// 0 (not the seconds left), so a loop that sleeps the rest ends.
///
/// # Safety
///
/// None beyond libc's (it takes an integer).
#[no_mangle]
pub unsafe extern "C" fn sleep(secs: c_uint) -> c_uint {
    if !patched() || !context::in_green() {
        // SAFETY: forwarded unchanged.
        return unsafe { real::sleep(secs) };
    }
    let _ = wait::sleep(Duration::from_secs(u64::from(secs)));
    0
}
