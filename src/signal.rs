//! Unix signals for green threads: [`ctrl_c`] and [`Signals`].
//!
//! The handler is `signal-hook`'s (a well-kept crate, not a hand-written
//! one): on a signal it records it in a pending set and writes a byte to
//! a self-pipe (a Unix socket pair). The read end is a
//! [`GreenFd`], so a green thread waiting for signals
//! parks on its worker's reactor and a plain OS thread blocks in `poll(2)`;
//! nobody spins and no thread is started.
//!
//! ```text
//! signal ─▶ signal-hook's handler: pending[sig] = true; send(pipe, 1 byte)
//!                                                      │
//! Signals::next:  pending set empty? ──▶ park until the pipe is readable
//!                 (drain the pipe, then read the set: a signal after the
//!                 drain leaves a byte, so none is lost)
//! ```
//!
//! Signals are registered when a [`Signals`] is created, whether or not a
//! runtime is running; one that arrives before anybody waits is kept and
//! delivered by the next wait. Several deliveries of one signal between two
//! reads count once (as with the kernel's own pending set). Every
//! `Signals` sees every signal it registered.
//!
//! Once a signal has had a handler, its default action (terminating the
//! process, for `SIGINT` and `SIGTERM`) does not come back when the
//! `Signals` is dropped: signal-hook keeps its handler installed. After a
//! first [`ctrl_c`], Ctrl-C no longer kills the program by itself.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use signal_hook::iterator::backend::{Handle, SignalDelivery};
use signal_hook::iterator::exfiltrator::SignalOnly;

use crate::io::GreenFd;
use crate::runtime::reactor::Interest;

pub use signal_hook::consts::signal::*;
pub use signal_hook::consts::{FORBIDDEN, TERM_SIGNALS};

/// Waits until the process receives `SIGINT` (Ctrl-C in a terminal).
///
/// A `SIGINT` that arrives before the call is not seen (and, if nothing
/// handled it, has already ended the process); create a [`Signals`] early
/// to catch those. After the first call, `SIGINT` no longer terminates
/// the process by default (see the [module docs](self)).
///
/// # Errors
///
/// Registering the handler failed, or an enclosing
/// [`verdant::timeout`](crate::timeout) expired (`TimedOut`).
///
/// ```no_run
/// verdant::signal::ctrl_c()?;
/// println!("shutting down");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn ctrl_c() -> io::Result<()> {
    let mut signals = Signals::new([SIGINT])?;
    match signals.wait_deadline(None)? {
        Some(_) => Ok(()),
        None => Err(io::Error::other("signal delivery closed")),
    }
}

/// The arriving signals of a chosen set, for a green thread (or an OS
/// thread) to wait on: an [`Iterator`] whose `next` parks until one comes.
///
/// ```
/// use verdant::signal::{Signals, SIGUSR1};
///
/// let mut signals = Signals::new([SIGUSR1])?;
/// let waiter = verdant::spawn(move || signals.next());
/// signal_hook::low_level::raise(SIGUSR1)?;
/// assert_eq!(waiter.join().unwrap(), Some(SIGUSR1));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Signals {
    delivery: SignalDelivery<GreenFd<UnixStream>, SignalOnly>,
    handle: Handle,
    /// Signals read from the pending set, not yet returned.
    queue: VecDeque<i32>,
}

impl Signals {
    /// Registers a handler for each of `signals` and returns their stream.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a signal that cannot be handled
    /// ([`FORBIDDEN`]: `SIGKILL`, `SIGSTOP`, and the fault signals
    /// `SIGILL`, `SIGFPE`, `SIGSEGV`) or out of range; the OS's error if
    /// the self-pipe or the handler cannot be set up.
    ///
    /// ```
    /// use verdant::signal::{Signals, SIGHUP, SIGKILL, SIGTERM};
    ///
    /// let signals = Signals::new([SIGTERM, SIGHUP])?;
    /// assert!(Signals::new([SIGKILL]).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new<I>(signals: I) -> io::Result<Signals>
    where
        I: IntoIterator<Item = i32>,
    {
        let signals: Vec<i32> = signals.into_iter().collect();
        for &sig in &signals {
            check(sig)?;
        }
        let (read, write) = UnixStream::pair()?;
        write.set_nonblocking(true)?;
        let delivery = SignalDelivery::with_pipe(GreenFd::new(read)?, write, SignalOnly, signals)?;
        let handle = delivery.handle();
        Ok(Signals {
            delivery,
            handle,
            queue: VecDeque::new(),
        })
    }

    /// Adds `signal` to the set (a no-op if it is there already).
    ///
    /// # Errors
    ///
    /// As for [`Signals::new`].
    ///
    /// ```
    /// use verdant::signal::{Signals, SIGINT, SIGUSR2};
    ///
    /// let signals = Signals::new([SIGINT])?;
    /// signals.add_signal(SIGUSR2)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn add_signal(&self, signal: i32) -> io::Result<()> {
        check(signal)?;
        self.handle.add_signal(signal)
    }

    /// The signals that have arrived and not been returned yet, without
    /// waiting (possibly none).
    ///
    /// ```
    /// use verdant::signal::{Signals, SIGWINCH};
    ///
    /// let mut signals = Signals::new([SIGWINCH])?;
    /// assert_eq!(signals.pending().count(), 0);
    /// signal_hook::low_level::raise(SIGWINCH)?;
    /// assert_eq!(signals.pending().collect::<Vec<_>>(), [SIGWINCH]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pending(&mut self) -> impl Iterator<Item = i32> + '_ {
        self.refill();
        self.queue.drain(..)
    }

    /// The next signal if one has arrived, without waiting.
    ///
    /// ```
    /// use verdant::signal::{Signals, SIGURG};
    ///
    /// let mut signals = Signals::new([SIGURG])?;
    /// assert_eq!(signals.try_next(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_next(&mut self) -> Option<i32> {
        if self.queue.is_empty() {
            self.refill();
        }
        self.queue.pop_front()
    }

    /// The next signal, waiting at most `dur`; `None` if none came (or the
    /// stream was closed, or the wait failed).
    ///
    /// ```
    /// use std::time::Duration;
    /// use verdant::signal::{Signals, SIGUSR2};
    ///
    /// let mut signals = Signals::new([SIGUSR2])?;
    /// assert_eq!(signals.wait_timeout(Duration::from_millis(10)), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_timeout(&mut self, dur: Duration) -> Option<i32> {
        self.wait_deadline(Instant::now().checked_add(dur)).ok().flatten()
    }

    /// A handle that can add signals or close the stream from any thread.
    ///
    /// ```
    /// use verdant::signal::{Signals, SIGHUP};
    ///
    /// let mut signals = Signals::new([SIGHUP])?;
    /// let handle = signals.handle();
    /// let waiter = verdant::spawn(move || signals.next());
    /// handle.close(); // the waiter wakes up and the iteration ends
    /// assert_eq!(waiter.join().unwrap(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> SignalsHandle {
        SignalsHandle(self.handle.clone())
    }

    /// Whether the stream was closed by [`SignalsHandle::close`].
    ///
    /// ```
    /// let signals = verdant::signal::Signals::new([verdant::signal::SIGHUP])?;
    /// assert!(!signals.is_closed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Moves the pending set into the queue (draining the self-pipe first).
    fn refill(&mut self) {
        self.queue.extend(self.delivery.pending());
    }

    /// Waits for a signal until `deadline` (`TimedOut` after it). `None`:
    /// closed.
    fn wait_deadline(&mut self, deadline: Option<Instant>) -> io::Result<Option<i32>> {
        loop {
            if let Some(sig) = self.queue.pop_front() {
                return Ok(Some(sig));
            }
            if self.handle.is_closed() {
                return Ok(None);
            }
            // The pipe is drained before the set is read: a signal that
            // misses this read leaves a byte behind, so the wait returns.
            self.refill();
            if self.queue.is_empty() {
                self.delivery.get_read().wait_ready(Interest::Read, deadline)?;
            }
        }
    }
}

/// Parks until the next signal; `None` once the stream is closed (or the
/// wait failed: an enclosing [`verdant::timeout`](crate::timeout) expired).
impl Iterator for Signals {
    type Item = i32;

    fn next(&mut self) -> Option<i32> {
        self.wait_deadline(None).ok().flatten()
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signals")
            .field("queued", &self.queue)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Controls a [`Signals`] from anywhere: adds signals, or closes it (its
/// waiters wake and its iteration ends). Cloning is cheap.
///
/// ```
/// use verdant::signal::{Signals, SIGHUP, SIGUSR1};
///
/// let signals = Signals::new([SIGHUP])?;
/// let handle = signals.handle();
/// handle.add_signal(SIGUSR1)?;
/// handle.close();
/// assert!(handle.is_closed() && signals.is_closed());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SignalsHandle(Handle);

impl SignalsHandle {
    /// Adds `signal` to the set, as [`Signals::add_signal`].
    ///
    /// # Errors
    ///
    /// As for [`Signals::new`].
    ///
    /// ```
    /// # use verdant::signal::{Signals, SIGHUP, SIGUSR1};
    /// let signals = Signals::new([SIGHUP])?;
    /// signals.handle().add_signal(SIGUSR1)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn add_signal(&self, signal: i32) -> io::Result<()> {
        check(signal)?;
        self.0.add_signal(signal)
    }

    /// Closes the stream: current and later waits return `None`.
    ///
    /// ```
    /// # use verdant::signal::{Signals, SIGHUP};
    /// let mut signals = Signals::new([SIGHUP])?;
    /// signals.handle().close();
    /// assert_eq!(signals.next(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(&self) {
        self.0.close();
    }

    /// Whether the stream is closed.
    ///
    /// ```
    /// # use verdant::signal::{Signals, SIGHUP};
    /// let signals = Signals::new([SIGHUP])?;
    /// assert!(!signals.handle().is_closed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// Refuses, as an error rather than signal-hook's panic, a signal that
/// cannot be handled.
fn check(signal: i32) -> io::Result<()> {
    if FORBIDDEN.contains(&signal) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {signal} cannot be handled (SIGKILL, SIGSTOP and the fault signals are forbidden)"),
        ));
    }
    // signal-hook keeps one slot per number below 128.
    if !(1..128).contains(&signal) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{signal} is not a signal number"),
        ));
    }
    Ok(())
}
