//! Sleeping: parks a green thread on its worker's timers (or blocks an OS
//! thread). Never returns before the deadline.

use std::time::{Duration, Instant};

use crate::runtime::park::{self, Wake};

/// Sleeps for at least `dur`, like `std::thread::sleep`, but parks only
/// the calling green thread: its worker runs others meanwhile.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// verdant::spawn(|| verdant::sleep(Duration::from_millis(10))).join().unwrap();
/// assert!(t.elapsed() >= Duration::from_millis(10));
/// ```
pub fn sleep(dur: Duration) {
    match Instant::now().checked_add(dur) {
        Some(deadline) => sleep_until(deadline),
        // Further than the clock can count: forever.
        None => loop {
            park::park(None);
        },
    }
}

/// Sleeps until `deadline` (returns at once if it has passed).
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(5);
/// verdant::spawn(move || verdant::sleep_until(deadline)).join().unwrap();
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) {
    while park::park(Some(deadline)) != Wake::TimedOut {}
}
