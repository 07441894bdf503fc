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
pub use crate::sync::channel::{IntoIter, Iter, TryIter};
pub use crate::sync::channel::{RecvError, SendError, SendTimeoutError, TryRecvError, TrySendError};

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
    /// Sends without waiting (the channel is unbounded); fails, handing
    /// `t` back, if the receiver is gone.
    ///
    /// ```
    /// use verdant::sync::mpsc::{channel, SendError};
    /// let (tx, rx) = channel();
    /// tx.send(1).unwrap();
    /// drop(rx);
    /// assert_eq!(tx.send(2), Err(SendError(2)));
    /// ```
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.0.send(t)
    }
}

impl<T> SyncSender<T> {
    /// Sends, waiting while the channel is full (for a rendezvous
    /// channel, until a receiver takes the message); fails, handing `t`
    /// back, if the receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::mpsc::sync_channel(0);
    /// let h = verdant::spawn(move || tx.send("hand-off").unwrap());
    /// assert_eq!(rx.recv(), Ok("hand-off"));
    /// h.join().unwrap();
    /// ```
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.0.send(t)
    }

    /// Sends without waiting: `Full` if there is no room (no receiver
    /// waiting, for a rendezvous channel), `Disconnected` if the receiver
    /// is gone; either hands `t` back.
    ///
    /// ```
    /// use verdant::sync::mpsc::{sync_channel, TrySendError};
    /// let (tx, rx) = sync_channel(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Disconnected(3)));
    /// ```
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        self.0.try_send(t)
    }

    /// Sends, waiting at most `timeout` for room (unstable in std).
    ///
    /// ```
    /// use std::time::Duration;
    /// use verdant::sync::mpsc::{sync_channel, SendTimeoutError};
    /// let (tx, _rx) = sync_channel(0);
    /// let e = tx.send_timeout(7, Duration::from_millis(1)).unwrap_err();
    /// assert!(matches!(e, SendTimeoutError::Timeout(7)));
    /// ```
    pub fn send_timeout(&self, t: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.0.send_timeout(t, timeout)
    }
}

impl<T> Receiver<T> {
    /// Waits for a message; fails once the channel is empty and every
    /// sender is gone.
    ///
    /// ```
    /// use verdant::sync::mpsc::{channel, RecvError};
    /// let (tx, rx) = channel();
    /// verdant::spawn(move || tx.send(4).unwrap());
    /// assert_eq!(rx.recv(), Ok(4));
    /// assert_eq!(rx.recv(), Err(RecvError));
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.0.recv()
    }

    /// Receives without waiting: `Empty` if no message is there now,
    /// `Disconnected` if none ever will be.
    ///
    /// ```
    /// use verdant::sync::mpsc::{channel, TryRecvError};
    /// let (tx, rx) = channel::<u8>();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.0.try_recv()
    }

    /// Waits at most `timeout` for a message.
    ///
    /// ```
    /// use std::time::Duration;
    /// use verdant::sync::mpsc::{channel, RecvTimeoutError};
    /// let (tx, rx) = channel::<u8>();
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// drop(tx);
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(1)), Err(RecvTimeoutError::Disconnected));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.0.recv_timeout(timeout).map_err(RecvTimeoutError::from)
    }

    /// Waits until `deadline` at most for a message (unstable in std).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = verdant::sync::mpsc::channel();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.recv_deadline(Instant::now() + Duration::from_secs(1)), Ok(1));
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.0.recv_deadline(deadline).map_err(RecvTimeoutError::from)
    }

    /// An iterator that waits for each message and ends once the channel
    /// is empty and every sender is gone.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::mpsc::channel();
    /// verdant::spawn(move || (1..=3).for_each(|i| tx.send(i).unwrap()));
    /// let it: verdant::sync::mpsc::Iter<'_, i32> = rx.iter();
    /// assert_eq!(it.collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        self.0.iter()
    }

    /// An iterator over the messages there now; it never waits.
    ///
    /// ```
    /// let (tx, rx) = verdant::sync::mpsc::channel();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// let it: verdant::sync::mpsc::TryIter<'_, i32> = rx.try_iter();
    /// assert_eq!(it.sum::<i32>(), 3); // `tx` is alive: ends anyway
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        self.0.try_iter()
    }
}

/// Why [`Receiver::recv_timeout`] failed: std's `RecvTimeoutError`, with
/// std's messages.
///
/// It is its own type, as std's and crossbeam's are: converting from and
/// into [`crate::sync::RecvTimeoutError`] (the error of
/// [`crate::sync::Receiver::recv_timeout`]) is `From` both ways.
///
/// ```
/// use verdant::sync::mpsc::{RecvError, RecvTimeoutError};
/// assert_eq!(RecvTimeoutError::Timeout.to_string(), "timed out waiting on channel");
/// assert_eq!(RecvTimeoutError::from(RecvError), RecvTimeoutError::Disconnected);
/// let general: verdant::sync::RecvTimeoutError = RecvTimeoutError::Timeout.into();
/// assert!(general.is_timeout());
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    /// No message arrived in time, but a sender is still alive.
    Timeout,
    /// The channel is empty and every sender is gone.
    Disconnected,
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => "timed out waiting on channel".fmt(f),
            RecvTimeoutError::Disconnected => "channel is empty and sending half is closed".fmt(f),
        }
    }
}

impl std::error::Error for RecvTimeoutError {}

impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> Self {
        RecvTimeoutError::Disconnected
    }
}

impl From<channel::RecvTimeoutError> for RecvTimeoutError {
    fn from(e: channel::RecvTimeoutError) -> Self {
        match e {
            channel::RecvTimeoutError::Timeout => RecvTimeoutError::Timeout,
            channel::RecvTimeoutError::Disconnected => RecvTimeoutError::Disconnected,
        }
    }
}

impl From<RecvTimeoutError> for channel::RecvTimeoutError {
    fn from(e: RecvTimeoutError) -> Self {
        match e {
            RecvTimeoutError::Timeout => channel::RecvTimeoutError::Timeout,
            RecvTimeoutError::Disconnected => channel::RecvTimeoutError::Disconnected,
        }
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
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
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
