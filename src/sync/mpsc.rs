//! `std::sync::mpsc`, green: the same names, signatures and error types,
//! so migrating is a change of `use` lines.
//!
//! Built on [`bounded`](crate::sync::bounded)/[`unbounded`](crate::sync::unbounded): waiting parks a green thread (or
//! blocks an OS thread), and either may be on each side.
//!
//! ```
//! use verdant::sync::mpsc;
//!
//! let (tx, rx) = mpsc::channel();
//! for i in 0..3 {
//!     let tx = tx.clone();
//!     verdant::spawn(move || tx.send(i).unwrap());
//! }
//! drop(tx);
//! let mut got: Vec<i32> = rx.iter().collect();
//! got.sort();
//! assert_eq!(got, [0, 1, 2]);
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::channel;
pub use crate::sync::channel::{RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};

/// An unbounded channel, like `std::sync::mpsc::channel`.
///
/// ```
/// let (tx, rx) = verdant::sync::mpsc::channel();
/// tx.send(1).unwrap();
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = channel::unbounded();
    (Sender(tx), Receiver(rx))
}

/// A bounded channel, like `std::sync::mpsc::sync_channel` (`bound` 0 is
/// a rendezvous).
///
/// ```
/// let (tx, rx) = verdant::sync::mpsc::sync_channel(1);
/// tx.send(1).unwrap();
/// assert!(tx.try_send(2).is_err());
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let (tx, rx) = channel::bounded(bound);
    (SyncSender(tx), Receiver(rx))
}

/// The sending half of [`channel()`].
///
/// ```
/// let (tx, rx) = verdant::sync::mpsc::channel();
/// tx.clone().send("a").unwrap();
/// assert_eq!(rx.recv(), Ok("a"));
/// ```
pub struct Sender<T>(channel::Sender<T>);

/// The sending half of [`sync_channel`].
///
/// ```
/// let (tx, rx) = verdant::sync::mpsc::sync_channel(0);
/// verdant::spawn(move || tx.send(5).unwrap());
/// assert_eq!(rx.recv(), Ok(5));
/// ```
pub struct SyncSender<T>(channel::Sender<T>);

/// The receiving half of [`channel()`] and [`sync_channel`].
///
/// ```
/// let (tx, rx) = verdant::sync::mpsc::channel::<()>();
/// drop(tx);
/// assert!(rx.recv().is_err());
/// ```
pub struct Receiver<T>(channel::Receiver<T>);

impl<T> Sender<T> {
    /// Sends without waiting; fails if the receiver is gone.
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.0.send(t)
    }
}

impl<T> SyncSender<T> {
    /// Sends, waiting while the channel is full.
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.0.send(t)
    }

    /// Sends without waiting.
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        self.0.try_send(t)
    }

    /// Sends, waiting at most `timeout` for room.
    pub fn send_timeout(&self, t: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.0.send_timeout(t, timeout)
    }
}

impl<T> Receiver<T> {
    /// Waits for a message; fails once empty and every sender is gone.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.0.recv()
    }

    /// Receives without waiting.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.0.try_recv()
    }

    /// Waits at most `timeout` for a message.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.0.recv_timeout(timeout)
    }

    /// Waits until `deadline` at most for a message.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.0.recv_deadline(deadline)
    }

    /// Blocking iterator until disconnection.
    pub fn iter(&self) -> channel::Iter<'_, T> {
        self.0.iter()
    }

    /// Iterator over the messages available now.
    pub fn try_iter(&self) -> channel::TryIter<'_, T> {
        self.0.try_iter()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(self.0.clone())
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        SyncSender(self.0.clone())
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = channel::IntoIter<T>;
    fn into_iter(self) -> channel::IntoIter<T> {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = channel::Iter<'a, T>;
    fn into_iter(self) -> channel::Iter<'a, T> {
        self.0.iter()
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Sender { .. }")
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("SyncSender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Receiver { .. }")
    }
}
