//! The real libc functions behind the hooks, resolved once with
//! `dlsym(RTLD_NEXT, name)`: the next definition after the object that
//! holds the hooks (the program or the shared library verdant is linked
//! into), which is libc's. Each address is cached in an atomic; resolving
//! twice (two threads racing on the first call) stores the same value.
//! Nothing here calls a hooked function, so a hook never re-enters itself.

use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use libc::{c_int, c_uint, c_ulong, c_void, iovec, msghdr, pollfd, size_t, sockaddr, socklen_t, ssize_t, timespec};

/// Resolves `name` (NUL-terminated) into `slot`; aborts if libc has no
/// such function (a statically linked program, where `monkey_patch`
/// refuses to turn the hooks on: see [`resolvable`]).
#[cold]
#[inline(never)]
fn resolve(name: &CStr, slot: &AtomicUsize) -> usize {
    let addr = lookup(name);
    if addr == 0 {
        let msg = b"verdant: a libc hook could not find the real function (dlsym(RTLD_NEXT) failed); aborting\n";
        // SAFETY: a raw write(2) system call (not the hooked `write`) of a
        // static buffer, valid for its length.
        unsafe { libc::syscall(libc::SYS_write, 2, msg.as_ptr(), msg.len()) };
        std::process::abort();
    }
    slot.store(addr, Ordering::Relaxed);
    addr
}

/// `dlsym(RTLD_NEXT, name)` as an address, 0 if none.
fn lookup(name: &CStr) -> usize {
    // SAFETY: `name` is a valid NUL-terminated string for the call;
    // RTLD_NEXT is a pseudo-handle dlsym accepts.
    unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) as usize }
}

/// Whether libc defines `name` behind the hooks.
pub(super) fn resolvable(name: &CStr) -> bool {
    lookup(name) != 0
}

macro_rules! real_variadic {
    ($( $name:ident ( $a:ident : $ta:ty, $b:ident : $tb:ty; $c:ident : $tc:ty ) -> $ret:ty; )*) => {
        $(
            /// The real libc function of the same name (C-variadic: called
            /// through a variadic pointer, with one argument after the fixed
            /// ones, as every caller of it passes).
            ///
            /// # Safety
            ///
            /// The contract of the libc function of that name.
            #[inline]
            pub(super) unsafe fn $name($a: $ta, $b: $tb, $c: $tc) -> $ret {
                static ADDR: AtomicUsize = AtomicUsize::new(0);
                let mut addr = ADDR.load(Ordering::Relaxed);
                if addr == 0 {
                    // SAFETY: the literal ends with its NUL and has no other.
                    let name = unsafe { CStr::from_bytes_with_nul_unchecked(concat!(stringify!($name), "\0").as_bytes()) };
                    addr = resolve(name, &ADDR);
                }
                // SAFETY: `addr` is libc's definition of this very name,
                // whose C prototype is this variadic signature.
                let f: unsafe extern "C" fn($ta, $tb, ...) -> $ret = unsafe { std::mem::transmute::<usize, _>(addr) };
                // SAFETY: the caller upholds the function's contract.
                unsafe { f($a, $b, $c) }
            }
        )*
    };
}

real_variadic! {
    fcntl(fd: c_int, cmd: c_int; arg: usize) -> c_int;
    fcntl64(fd: c_int, cmd: c_int; arg: usize) -> c_int;
    ioctl(fd: c_int, req: c_ulong; arg: usize) -> c_int;
}

macro_rules! real_fns {
    ($( $name:ident ( $($arg:ident : $t:ty),* ) -> $ret:ty; )*) => {
        $(
            /// The real libc function of the same name.
            ///
            /// # Safety
            ///
            /// The contract of the libc function of that name.
            #[inline]
            pub(super) unsafe fn $name($($arg: $t),*) -> $ret {
                static ADDR: AtomicUsize = AtomicUsize::new(0);
                let mut addr = ADDR.load(Ordering::Relaxed);
                if addr == 0 {
                    // SAFETY: the literal ends with its NUL and has no other.
                    let name = unsafe { CStr::from_bytes_with_nul_unchecked(concat!(stringify!($name), "\0").as_bytes()) };
                    addr = resolve(name, &ADDR);
                }
                // SAFETY: `addr` is libc's definition of this very name,
                // whose C prototype is the signature below (the `libc`
                // crate's); a non-zero address is a function.
                let f: unsafe extern "C" fn($($t),*) -> $ret = unsafe { std::mem::transmute::<usize, _>(addr) };
                // SAFETY: the caller upholds the function's contract.
                unsafe { f($($arg),*) }
            }
        )*
    };
}

real_fns! {
    socket(domain: c_int, ty: c_int, proto: c_int) -> c_int;
    connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int;
    accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int;
    accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int;
    read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t;
    write(fd: c_int, buf: *const c_void, n: size_t) -> ssize_t;
    readv(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t;
    writev(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t;
    recv(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t;
    recvfrom(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> ssize_t;
    recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t;
    send(fd: c_int, buf: *const c_void, n: size_t, flags: c_int) -> ssize_t;
    sendto(fd: c_int, buf: *const c_void, n: size_t, flags: c_int, addr: *const sockaddr, len: socklen_t) -> ssize_t;
    sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t;
    poll(fds: *mut pollfd, n: libc::nfds_t, timeout: c_int) -> c_int;
    close(fd: c_int) -> c_int;
    dup(fd: c_int) -> c_int;
    dup2(fd: c_int, to: c_int) -> c_int;
    dup3(fd: c_int, to: c_int, flags: c_int) -> c_int;
    setsockopt(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: socklen_t) -> c_int;
    nanosleep(req: *const timespec, rem: *mut timespec) -> c_int;
    clock_nanosleep(clock: libc::clockid_t, flags: c_int, req: *const timespec, rem: *mut timespec) -> c_int;
    usleep(us: libc::useconds_t) -> c_int;
    sleep(secs: c_uint) -> c_uint;
    getaddrinfo(node: *const libc::c_char, service: *const libc::c_char, hints: *const libc::addrinfo, res: *mut *mut libc::addrinfo) -> c_int;
    freeaddrinfo(res: *mut libc::addrinfo) -> ();
}
