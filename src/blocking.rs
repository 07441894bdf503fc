//! `spawn_blocking`: an elastic pool of OS threads for calls that really
//! block or burn CPU (eventlet's `tpool`).
//!
//! A green thread must not make a blocking syscall or compute for long: it
//! would stall every other green thread of its worker. Hand such work to
//! [`spawn_blocking`]; joining the handle parks only the calling green
//! thread. Threads are started on demand up to the runtime's
//! `max_blocking_threads` (further jobs queue, FIFO) and retire after
//! 10 s idle.

use crate::green::JoinHandle;
use crate::runtime::task::{self, Spec};
use crate::runtime::Handle;

/// Runs `f` on a pool OS thread and returns a handle to join it.
///
/// ```
/// let h = verdant::spawn(|| {
///     // Parks this green thread, not its worker, while the OS thread works.
///     verdant::spawn_blocking(|| std::fs::metadata("/").is_ok()).join().unwrap()
/// });
/// assert!(h.join().unwrap());
/// ```
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let handle = Handle::current();
    let spec = Spec {
        name: Some("blocking".into()),
        stack_size: 0,
        shared: None,
        unjoined_panic: None,
        location: std::panic::Location::caller(),
    };
    let (new, join) = task::parts(spec, f);
    handle.blocking().submit(new);
    JoinHandle(join)
}
