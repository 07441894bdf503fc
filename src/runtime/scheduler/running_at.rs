//! Where the green thread running on a worker was spawned, readable by the
//! watchdog: one atomic pointer per worker, stored at every switch (a plain
//! store, as the running id is).
//!
//! The only `unsafe` is turning the pointer back into a reference. It is
//! sound because the slot only ever holds null or a pointer made from a
//! `&'static Location<'static>`, which is valid for the whole program: a
//! stale value names another thread's spawn site, never freed memory.

use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The spawn location of the running green thread (null: none).
#[derive(Debug, Default)]
pub(crate) struct RunningAt(AtomicPtr<Location<'static>>);

impl RunningAt {
    /// Records the running thread's spawn location (or none).
    #[inline]
    pub(crate) fn set(&self, at: Option<&'static Location<'static>>) {
        let p = at.map_or(ptr::null_mut(), |l| ptr::from_ref(l).cast_mut());
        self.0.store(p, Ordering::Relaxed);
    }

    /// The recorded location, if any.
    pub(crate) fn get(&self) -> Option<&'static Location<'static>> {
        let p = self.0.load(Ordering::Relaxed);
        // SAFETY: `set` stores only null or a pointer from a
        // `&'static Location<'static>` (valid, immutable, for the whole
        // program), and `as_ref` maps null to `None`. Nothing ever writes
        // through the pointer.
        unsafe { p.cast_const().as_ref() }
    }
}
