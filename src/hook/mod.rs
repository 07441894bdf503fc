//! `monkey_patch()`: unmodified blocking code runs green (feature `hook`).
//!
//! verdant defines a set of libc functions (`read`, `connect`,
//! `nanosleep`, ...) under their own names. A Rust program's calls of
//! those names, std's included, bind to verdant's definitions at link time;
//! until [`monkey_patch`] is called, each passes straight through to libc's
//! function. After it, when called from a green thread on a socket the
//! program believes blocking, they park the green thread on verdant's
//! reactor or timers instead of blocking the worker; from any other thread
//! they behave as libc's. See `docs/monkey-patch.md` for what is hooked,
//! how the linking works and what cannot be hooked.
//!
//! ```text
//! entry.rs   the #[no_mangle] extern "C" functions (libc's names)
//! table.rs   per-descriptor state: hooked?, program-visible O_NONBLOCK,
//!            SO_RCVTIMEO/SO_SNDTIMEO, the reactor registration
//! dns.rs     getaddrinfo/freeaddrinfo: verdant's resolver, or libc's
//!            on the blocking pool
//! wait.rs    the waits: reactor/timers (green) or real poll(2) (plain);
//!            interrupts turned into error numbers
//! real.rs    libc's functions, resolved once with dlsym(RTLD_NEXT)
//! ```

mod dns;
mod entry;
mod real;
mod table;
mod wait;

use std::ffi::CStr;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether [`monkey_patch`] has turned the hooks on.
static PATCHED: AtomicBool = AtomicBool::new(false);

/// Whether the hooks are on: the whole pass-through test of a process
/// that never called [`monkey_patch`].
#[inline]
fn patched() -> bool {
    PATCHED.load(Ordering::Relaxed)
}

/// Each hooked name, verdant's definition, and the address the program's
/// own calls of that name reach (the `libc` crate's declaration, bound by
/// the linker). Taking the addresses of verdant's definitions here is also
/// what makes the linker keep them: a program that calls `monkey_patch`
/// links this object, and with it every hook.
fn hooks() -> [(&'static CStr, usize, usize); 28] {
    macro_rules! pairs {
        ($($m:ident::$name:ident),* $(,)?) => {
            [$((
                // SAFETY: the literal ends with its NUL and has no other.
                unsafe { CStr::from_bytes_with_nul_unchecked(concat!(stringify!($name), "\0").as_bytes()) },
                $m::$name as *const () as usize,
                libc::$name as *const () as usize,
            )),*]
        };
    }
    pairs![
        entry::socket,
        entry::connect,
        entry::accept,
        entry::accept4,
        entry::read,
        entry::write,
        entry::readv,
        entry::writev,
        entry::recv,
        entry::recvfrom,
        entry::recvmsg,
        entry::send,
        entry::sendto,
        entry::sendmsg,
        entry::poll,
        entry::close,
        entry::dup,
        entry::dup2,
        entry::dup3,
        entry::fcntl,
        entry::ioctl,
        entry::setsockopt,
        entry::nanosleep,
        entry::clock_nanosleep,
        entry::usleep,
        entry::sleep,
        dns::getaddrinfo,
        dns::freeaddrinfo,
    ]
}

/// Turns verdant's libc hooks on (eventlet's `monkey_patch()`): from now
/// on, blocking socket calls, sleeps and name lookups made **on a green
/// thread** by any code (std's `TcpStream`, `thread::sleep`, third-party
/// blocking crates) park that green thread instead of blocking its worker.
/// On every other thread they behave exactly as libc's. Call it once,
/// early in `main`; calling it again does nothing.
///
/// Sockets made before the call stay as they are (plain libc behaviour).
///
/// # Errors
///
/// [`io::ErrorKind::Unsupported`], naming the functions concerned, if the
/// program's calls would not reach verdant's definitions (another
/// definition won at link time) or libc's own functions cannot be found
/// behind them (a statically linked program): the hooks then stay off,
/// rather than fail silently.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// verdant::monkey_patch()?;
/// // std::thread::sleep on green threads now parks: 100 of them share
/// // one worker and finish together.
/// let t = std::time::Instant::now();
/// let pool = verdant::GreenPool::new(100);
/// for _ in 0..100 {
///     pool.spawn(|| std::thread::sleep(std::time::Duration::from_millis(10)));
/// }
/// pool.waitall();
/// assert!(t.elapsed() < std::time::Duration::from_secs(60));
/// # Ok(())
/// # }
/// ```
pub fn monkey_patch() -> io::Result<()> {
    if patched() {
        return Ok(());
    }
    let mut not_ours = Vec::new();
    let mut no_real = Vec::new();
    for (name, ours, called) in hooks() {
        if ours != called {
            not_ours.push(name.to_string_lossy());
        }
        if !real::resolvable(name) {
            no_real.push(name.to_string_lossy());
        }
    }
    if !not_ours.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "verdant::monkey_patch: the program's calls of {} do not reach verdant's hooks (another \
                 definition of those symbols was linked); the hooks stay off",
                not_ours.join(", ")
            ),
        ));
    }
    if !no_real.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "verdant::monkey_patch: libc's {} cannot be found behind the hooks (dlsym(RTLD_NEXT) failed: a \
                 statically linked program, such as a static musl build?); the hooks stay off",
                no_real.join(", ")
            ),
        ));
    }
    PATCHED.store(true, Ordering::Release);
    Ok(())
}
