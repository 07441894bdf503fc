//! Marks a green thread as unwinding when it panics.
//!
//! `std::thread::panicking()` counts unwinds per OS thread, and a worker's
//! green threads share one; the runtime needs to know whether *this* green
//! thread is unwinding (see `interrupt::unwinding`). Its own unwinds
//! (cancellation, an expired `verdant::timeout`) set the flag directly; user panics set
//! it here, in a panic hook that chains to the one it replaces.
//!
//! A program that installs its own hook after starting a runtime should
//! chain to the previous one (`std::panic::take_hook`), or a green thread
//! cancelled while unwinding from a panic may abort the process if one of
//! its destructors parks.

use std::sync::Once;

use super::interrupt;

/// Installs the hook, once per process.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            interrupt::mark_unwinding();
            previous(info);
        }));
    });
}
