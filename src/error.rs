//! Error types shared across verdant.

use std::any::Any;
use std::fmt;
use std::io;

/// The deadline of [`crate::timeout`] passed before its closure returned.
///
/// Converts into an [`io::Error`] of kind [`io::ErrorKind::TimedOut`], so
/// `?` works in functions returning `io::Result`.
///
/// ```
/// use std::time::Duration;
/// let r = verdant::timeout(Duration::from_millis(5), || {
///     verdant::sleep(Duration::from_secs(3600));
/// });
/// let e: std::io::Error = r.unwrap_err().into();
/// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Elapsed(());

impl Elapsed {
    pub(crate) fn new() -> Elapsed {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(e: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, e)
    }
}

/// Why [`JoinHandle::join`](crate::JoinHandle::join) has no value to return.
///
/// ```
/// let h = verdant::spawn(|| panic!("boom"));
/// let err = h.join().unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
/// ```
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Panic(Box<dyn Any + Send + 'static>),
    Cancelled,
    Spawn(io::Error),
}

impl JoinError {
    pub(crate) fn from_panic(payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            repr: Repr::Panic(payload),
        }
    }

    pub(crate) fn cancelled() -> JoinError {
        JoinError { repr: Repr::Cancelled }
    }

    pub(crate) fn spawn(e: io::Error) -> JoinError {
        JoinError { repr: Repr::Spawn(e) }
    }

    /// The green thread panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The green thread was cancelled (by
    /// [`JoinHandle::cancel`](crate::JoinHandle::cancel) or by its runtime
    /// shutting down) before it returned.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The green thread never ran: the runtime could not give it a stack.
    pub fn is_spawn_failure(&self) -> bool {
        matches!(self.repr, Repr::Spawn(_))
    }

    /// The panic payload, as `std::thread::JoinHandle::join` returns it.
    ///
    /// # Panics
    ///
    /// Panics if the error is not a panic; see [`JoinError::try_into_panic`].
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .unwrap_or_else(|e| panic!("JoinError::into_panic on an error that is not a panic: {e}"))
    }

    /// The panic payload, or the error back if it is not a panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p),
            repr => Err(JoinError { repr }),
        }
    }

    /// The panic payload as a `T`, if the thread panicked with one: what
    /// `downcast_ref` on std's `Box<dyn Any + Send>` gives, so std's
    /// `match h.join() { Err(e) => e.downcast_ref::<&str>() ... }` keeps
    /// compiling. `None` for a cancellation or a spawn failure.
    ///
    /// ```
    /// let e = verdant::spawn(|| panic!("boom")).join().unwrap_err();
    /// assert_eq!(e.downcast_ref::<&str>(), Some(&"boom"));
    /// let n = 7;
    /// let e = verdant::spawn(move || panic!("{n}")).join().unwrap_err();
    /// assert_eq!(e.downcast_ref::<String>().map(String::as_str), Some("7"));
    /// ```
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        match &self.repr {
            Repr::Panic(p) => p.downcast_ref::<T>(),
            _ => None,
        }
    }

    /// Whether the thread panicked with a payload of type `T` (std's
    /// `<dyn Any>::is`).
    ///
    /// ```
    /// let e = verdant::spawn(|| panic!("boom")).join().unwrap_err();
    /// assert!(e.is::<&str>());
    /// ```
    pub fn is<T: Any>(&self) -> bool {
        self.downcast_ref::<T>().is_some()
    }

    /// The panic payload as a `Box<T>`, or the error back (std's
    /// `Box<dyn Any + Send>::downcast`, whose `Err` is the box back).
    ///
    /// ```
    /// let e = verdant::spawn(|| std::panic::panic_any(42u8)).join().unwrap_err();
    /// assert_eq!(*e.downcast::<u8>().unwrap(), 42);
    /// ```
    pub fn downcast<T: Any>(self) -> Result<Box<T>, JoinError> {
        match self.repr {
            Repr::Panic(p) => p.downcast::<T>().map_err(JoinError::from_panic),
            repr => Err(JoinError { repr }),
        }
    }
}

/// What std's `join` would have returned: the panic payload; for a
/// cancellation or a spawn failure (which std has not), the `JoinError`
/// itself, boxed. So `std::panic::resume_unwind(e.into())` works.
///
/// ```
/// use std::any::Any;
/// let e = verdant::spawn(|| panic!("boom")).join().unwrap_err();
/// let payload: Box<dyn Any + Send> = e.into();
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
/// ```
impl From<JoinError> for Box<dyn Any + Send + 'static> {
    fn from(e: JoinError) -> Self {
        match e.repr {
            Repr::Panic(p) => p,
            repr => Box::new(JoinError { repr }),
        }
    }
}

/// The message of a panic payload, when it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panic(p) => match panic_message(&**p) {
                Some(msg) => write!(f, "green thread panicked: {msg}"),
                None => f.write_str("green thread panicked"),
            },
            Repr::Cancelled => f.write_str("green thread was cancelled"),
            Repr::Spawn(e) => write!(f, "green thread could not start: {e}"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panic(p) => f
                .debug_tuple("JoinError::Panic")
                .field(&panic_message(&**p).unwrap_or("..."))
                .finish(),
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Spawn(e) => f.debug_tuple("JoinError::Spawn").field(e).finish(),
        }
    }
}

impl std::error::Error for JoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.repr {
            Repr::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

impl From<JoinError> for io::Error {
    fn from(e: JoinError) -> io::Error {
        let kind = match e.repr {
            Repr::Cancelled => io::ErrorKind::Interrupted,
            Repr::Spawn(ref io) => io.kind(),
            Repr::Panic(_) => io::ErrorKind::Other,
        };
        io::Error::new(kind, e.to_string())
    }
}
