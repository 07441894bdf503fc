//! Waiting on several green threads: [`wait_any`], [`wait_all`],
//! [`join_any`] and [`iwait`] (gevent's), over [`JoinHandle`]s.
//!
//! A finishing green thread wakes every waiter on its `joiners` list, so one
//! waiter (the caller) is registered on the list of each handle, then the
//! caller parks until any of them finishes: the runtime's `wait_any` over
//! the joiners lists. Completion is a `notify_all`, so there is never a
//! notification to pass on.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::error::JoinError;
use crate::green::JoinHandle;
use crate::runtime::park::Waiter;
use crate::runtime::task::Header;
use crate::runtime::wait::{self, Enlisted, Registration, Sources, Until};

/// Waits until one of `handles` has finished; returns its index in
/// iteration order (the lowest among those already finished). Takes any
/// iterable of handle references: an array or `Vec` of `&JoinHandle`s,
/// `&Vec<JoinHandle>`, `handles.iter()`. Inside [`crate::timeout`], an
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
/// assert_eq!(verdant::wait_any([&slow, &fast]), 1);
/// let all = vec![slow, fast];
/// assert_eq!(verdant::wait_any(&all), 1);
/// all[0].cancel();
/// ```
pub fn wait_any<'a, T: 'a>(handles: impl IntoIterator<Item = &'a JoinHandle<T>>) -> usize {
    let tasks = headers(handles);
    assert!(!tasks.is_empty(), "wait_any on no handles");
    wait_tasks(&tasks, Until::Forever).expect("waits forever")
}

/// Like [`wait_any`], waiting at most `dur`; `None` if none finished.
///
/// ```
/// use std::time::Duration;
/// let h = verdant::spawn(|| verdant::sleep(Duration::from_secs(3600)));
/// assert_eq!(verdant::wait_any_timeout([&h], Duration::from_millis(5)), None);
/// h.cancel();
/// ```
pub fn wait_any_timeout<'a, T: 'a>(
    handles: impl IntoIterator<Item = &'a JoinHandle<T>>,
    dur: Duration,
) -> Option<usize> {
    let tasks = headers(handles);
    wait_tasks(&tasks, Until::Within(Instant::now().checked_add(dur)))
}

/// Waits until every one of `handles` has finished (any iterable of
/// handle references, as [`wait_any`]).
///
/// ```
/// let hs: Vec<_> = (0..3).map(|i| verdant::spawn(move || i)).collect();
/// verdant::wait_all(&hs);
/// assert!(hs.iter().all(|h| h.is_finished()));
/// ```
pub fn wait_all<'a, T: 'a>(handles: impl IntoIterator<Item = &'a JoinHandle<T>>) {
    for h in handles {
        crate::green::wait_complete(h.0.header(), None);
    }
}

/// Joins whichever of `handles` finishes first: returns its outcome, its
/// index, and the other handles in their order (`futures::select_all`'s
/// shape, over green threads). The others run on; join, cancel or drop
/// them. Inside [`crate::timeout`], an expired deadline unwinds.
///
/// # Panics
///
/// Panics if `handles` is empty.
///
/// ```
/// use std::time::Duration;
/// let mirrors = vec![
///     verdant::spawn(|| { verdant::sleep(Duration::from_secs(3600)); "slow mirror" }),
///     verdant::spawn(|| "fast mirror"),
/// ];
/// let (first, index, rest) = verdant::join_any(mirrors);
/// assert_eq!((first.unwrap(), index), ("fast mirror", 1));
/// for h in rest {
///     h.cancel();
/// }
/// ```
pub fn join_any<T>(handles: Vec<JoinHandle<T>>) -> (Result<T, JoinError>, usize, Vec<JoinHandle<T>>) {
    let mut handles = handles;
    let i = wait_any(&handles);
    let first = handles.remove(i);
    (first.join(), i, handles)
}

fn headers<'a, T: 'a>(handles: impl IntoIterator<Item = &'a JoinHandle<T>>) -> Vec<&'a Header> {
    handles.into_iter().map(|h| h.0.header()).collect()
}

/// Yields `handles` as they finish, in completion order (gevent's
/// `iwait`); each yielded handle's `join` returns at once.
///
/// ```
/// let (go, wait) = verdant::sync::bounded::<()>(1);
/// let hs = vec![
///     verdant::spawn(move || { wait.recv().unwrap(); "slow" }),
///     verdant::spawn(|| "fast"),
/// ];
/// let mut done = verdant::iwait(hs);
/// // "slow" cannot finish before it is let go.
/// assert_eq!(done.next().unwrap().join().unwrap(), "fast");
/// go.send(()).unwrap();
/// assert_eq!(done.next().unwrap().join().unwrap(), "slow");
/// assert!(done.next().is_none());
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
            wait_tasks(&tasks, Until::Forever).expect("waits forever")
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

/// Parks until one of `tasks` completes; `None` if `until` ended it first.
fn wait_tasks(tasks: &[&Header], until: Until) -> Option<usize> {
    if let Some(i) = first_complete(tasks) {
        return Some(i);
    }
    wait::wait_any(&mut Tasks(tasks), until)
        .ok()
        .or_else(|| first_complete(tasks))
}

/// The joiners lists of several green threads.
struct Tasks<'t, 'a>(&'t [&'a Header]);

impl<'a> Sources<'a> for Tasks<'_, 'a> {
    type Output = usize;

    fn enlist(&self, waiter: &Waiter, into: &mut Enlisted<'a>) {
        for &t in self.0 {
            let (joiners, guard) = t.lock_joiners();
            into.push(Registration::enqueue_waiter(joiners, guard, wait::LONE, waiter.clone()));
        }
    }

    fn poll(&mut self) -> Option<(usize, usize)> {
        first_complete(self.0).map(|i| (i, i))
    }
}
