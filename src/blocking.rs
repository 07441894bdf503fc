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

/// Runs `f`, a call that blocks in the kernel (a file's read, a `stat`),
/// without blocking a worker: from a green thread, on the blocking pool
/// while the caller parks; from any other thread, inline.
///
/// The caller's wait honours [`crate::timeout`] and cancellation as
/// joining a `spawn_blocking` job does (a deadline unwinds it from the
/// park; a cancellation once `f` has returned); `f` runs to its end on the
/// pool thread either way (its result then dropped), so `f` must own what
/// it touches. A panic in `f` is resumed in the caller; a
/// call the pool dropped unrun (its runtime shutting down) is an error.
pub(crate) fn offload<F, T>(f: F) -> std::io::Result<T>
where
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    if crate::runtime::park::current_task().is_none() {
        return f();
    }
    match spawn_blocking(f).join() {
        Ok(result) => result,
        Err(e) => match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => Err(std::io::Error::other(format!(
                "the blocking pool did not run the call: {e}"
            ))),
        },
    }
}
