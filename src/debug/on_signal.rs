//! `RuntimeBuilder::dump_on_signal`: a dump on stderr when a signal comes.
//!
//! A plain OS thread (not a green thread: the workers may all be busy,
//! which is when a dump is wanted) waits for the signal with signal-hook's
//! iterator and writes the dump. The signal handler itself only records
//! the signal (signal-hook's); the dump is taken on that thread, never in
//! the handler. The thread ends with the runtime.

use std::io::{self, Write};
use std::sync::{Arc, Weak};
use std::thread;

use signal_hook::iterator::{Handle as SignalsHandle, Signals};

use crate::runtime::scheduler::Shared;
use crate::runtime::{Handle, RuntimeBuilder};

impl RuntimeBuilder {
    /// Writes a [`Dump`](crate::debug::Dump) of the runtime to stderr
    /// each time the process receives `signal` (usually
    /// [`SIGQUIT`](crate::signal::SIGQUIT), Ctrl-\\ in a terminal, as Go
    /// does, or [`SIGUSR1`](crate::signal::SIGUSR1)), without stopping the
    /// program. The signal's default action (SIGQUIT's core dump) no
    /// longer happens. Opt-in; a thread waits for the signal while the
    /// runtime lives.
    ///
    /// # Errors
    ///
    /// [`build`](RuntimeBuilder::build) fails if the signal cannot be
    /// handled (`SIGKILL`, `SIGSTOP`, or one signal-hook forbids).
    ///
    /// ```no_run
    /// let rt = verdant::Runtime::builder()
    ///     .dump_on_signal(verdant::signal::SIGQUIT)
    ///     .build()?;
    /// // `kill -QUIT <pid>` now prints every green thread on stderr.
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dump_on_signal(self, signal: i32) -> Self {
        self.companion(Arc::new(move |h: &Handle| {
            Ok(Box::new(start(h, signal)?) as Box<dyn Send + Sync>)
        }))
    }
}

/// Stops the dumping thread when the runtime shuts down.
struct Dumper {
    signals: SignalsHandle,
    thread: Option<thread::JoinHandle<()>>,
}

fn start(h: &Handle, signal: i32) -> io::Result<Dumper> {
    let mut signals = Signals::new([signal])?;
    let handle = signals.handle();
    let runtime: Weak<Shared> = Arc::downgrade(&h.shared);
    let name = format!("{}-dump", h.shared.config.thread_name);
    let thread = thread::Builder::new().name(name).spawn(move || {
        for _ in signals.forever() {
            let Some(shared) = runtime.upgrade() else {
                return;
            };
            let dump = Handle { shared }.dump();
            let mut err = io::stderr().lock();
            let _ = writeln!(err, "{dump}");
            let _ = err.flush();
        }
    })?;
    Ok(Dumper {
        signals: handle,
        thread: Some(thread),
    })
}

impl Drop for Dumper {
    fn drop(&mut self) {
        self.signals.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
