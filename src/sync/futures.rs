//! Waiting on several green threads: [`wait_any`], [`wait_all`], and
//! [`iwait`] (gevent's), over [`JoinHandle`]s.
//!
//! A finishing green thread wakes every waiter on its `joiners` list, so one
//! waiter (the caller) is registered on the list of each handle, then the
//! caller parks until any of them finishes.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::green::JoinHandle;
use crate::runtime::park::{self, Waiter, Wake};
use crate::runtime::task::Header;

/// Waits until one of `handles` has finished; returns its index (the
/// lowest among those already finished). Inside [`crate::timeout`], an
/// expired deadline unwinds.
///
/// # Panics
///
/// Panics if `handles` is empty.
///
/// ```
/// use std::time::Duration;
/// let slow = verdant::spawn(|| verdant::sleep(Duration::from_secs(3600)));
/// let fast = verdant::spawn(|| ());
/// assert_eq!(verdant::wait_any(&[&slow, &fast]), 1);
/// slow.cancel();
/// ```
pub fn wait_any<T>(handles: &[&JoinHandle<T>]) -> usize {
    assert!(!handles.is_empty(), "wait_any on no handles");
    let tasks: Vec<&Header> = handles.iter().map(|h| h.0.header()).collect();
    wait_tasks(&tasks, None).expect("waits forever")
}

/// Like [`wait_any`], waiting at most `dur`; `None` if none finished.
///
/// ```
/// use std::time::Duration;
/// let h = verdant::spawn(|| verdant::sleep(Duration::from_secs(3600)));
/// assert_eq!(verdant::wait_any_timeout(&[&h], Duration::from_millis(5)), None);
/// h.cancel();
/// ```
pub fn wait_any_timeout<T>(handles: &[&JoinHandle<T>], dur: Duration) -> Option<usize> {
    let tasks: Vec<&Header> = handles.iter().map(|h| h.0.header()).collect();
    wait_tasks(&tasks, Instant::now().checked_add(dur))
}

/// Waits until every one of `handles` has finished.
///
/// ```
/// let hs: Vec<_> = (0..3).map(|i| verdant::spawn(move || i)).collect();
/// verdant::wait_all(&hs.iter().collect::<Vec<_>>());
/// assert!(hs.iter().all(|h| h.is_finished()));
/// ```
pub fn wait_all<T>(handles: &[&JoinHandle<T>]) {
    for h in handles {
        crate::green::wait_complete(h.0.header(), None);
    }
}

/// Yields `handles` as they finish, in completion order (gevent's
/// `iwait`); each yielded handle's `join` returns at once.
///
/// ```
/// use std::time::Duration;
/// let hs = vec![
///     verdant::spawn(|| { verdant::sleep(Duration::from_millis(30)); "slow" }),
///     verdant::spawn(|| "fast"),
/// ];
/// let order: Vec<_> = verdant::iwait(hs).map(|h| h.join().unwrap()).collect();
/// assert_eq!(order, ["fast", "slow"]);
/// ```
pub fn iwait<T>(handles: impl IntoIterator<Item = JoinHandle<T>>) -> Iwait<T> {
    Iwait {
        pending: handles.into_iter().collect(),
    }
}

/// Iterator of [`iwait`].
pub struct Iwait<T> {
    pending: VecDeque<JoinHandle<T>>,
}

impl<T> Iterator for Iwait<T> {
    type Item = JoinHandle<T>;

    fn next(&mut self) -> Option<JoinHandle<T>> {
        if self.pending.is_empty() {
            return None;
        }
        let i = {
            let tasks: Vec<&Header> = self.pending.iter().map(|h| h.0.header()).collect();
            wait_tasks(&tasks, None).expect("waits forever")
        };
        self.pending.remove(i)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.pending.len(), Some(self.pending.len()))
    }
}

impl<T> fmt::Debug for Iwait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iwait").field("pending", &self.pending.len()).finish()
    }
}

fn first_complete(tasks: &[&Header]) -> Option<usize> {
    tasks.iter().position(|t| t.is_complete())
}

/// Registers one waiter on every task, parks until one completes.
fn wait_tasks(tasks: &[&Header], deadline: Option<Instant>) -> Option<usize> {
    loop {
        if let Some(i) = first_complete(tasks) {
            return Some(i);
        }
        let me = Waiter::current();
        let reg = Registered {
            keys: tasks.iter().map(|t| t.joiners.lock().push(me.clone())).collect(),
            tasks,
        };
        if let Some(i) = first_complete(tasks) {
            return Some(i);
        }
        let wake = park::park(deadline);
        drop(reg);
        if wake == Wake::TimedOut {
            return first_complete(tasks);
        }
    }
}

/// Deregisters from every task's joiners (also when unwinding). Completion
/// wakes all joiners, so there is no notification to pass on.
struct Registered<'a> {
    tasks: &'a [&'a Header],
    keys: Vec<u64>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        for (t, &k) in self.tasks.iter().zip(&self.keys) {
            t.joiners.lock().remove(k);
        }
    }
}
