//! A counting limit on exchanges in flight per resolver.
//!
//! Without it, 500 green threads resolving at once put 1 000 datagrams in
//! the nameserver's receive buffer in one burst; the kernel drops the
//! overflow and each drop costs a full `timeout`. Waiting for a permit
//! parks the green thread (or blocks the OS thread) like any other wait.
//!
//! Permits are handed over directly: `release` gives the permit to the
//! oldest waiter (setting its `granted` flag) before unparking it, so a
//! wakeup can never be "stolen" by a newcomer. A waiter that goes away
//! (cancellation unwinds through its guard) passes a permit it was already
//! granted on to the next waiter.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::runtime::park::{self, Waiter};

struct State {
    available: usize,
    next_key: u64,
    waiters: VecDeque<(u64, Waiter, Arc<AtomicBool>)>,
}

pub(crate) struct Limit {
    state: Mutex<State>,
}

/// A held permit; released on drop.
pub(crate) struct Permit<'a>(&'a Limit);

impl Limit {
    pub(crate) fn new(permits: usize) -> Limit {
        Limit {
            state: Mutex::new(State {
                available: permits.max(1),
                next_key: 0,
                waiters: VecDeque::new(),
            }),
        }
    }

    /// Waits for a permit (FIFO).
    pub(crate) fn acquire(&self) -> Permit<'_> {
        let (key, granted) = {
            let mut st = self.state.lock();
            if st.available > 0 {
                st.available -= 1;
                return Permit(self);
            }
            let key = st.next_key;
            st.next_key += 1;
            let granted = Arc::new(AtomicBool::new(false));
            st.waiters.push_back((key, Waiter::current(), granted.clone()));
            (key, granted)
        };
        let guard = Queued {
            limit: self,
            key,
            granted: &granted,
        };
        while !granted.load(Ordering::Acquire) {
            park::park(None);
        }
        std::mem::forget(guard);
        Permit(self)
    }

    fn release(&self) {
        let next = {
            let mut st = self.state.lock();
            match st.waiters.pop_front() {
                Some((_, w, granted)) => {
                    granted.store(true, Ordering::Release);
                    Some(w)
                }
                None => {
                    st.available += 1;
                    None
                }
            }
        };
        if let Some(w) = next {
            w.unpark();
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Dequeues an abandoned waiter (only runs when `acquire` unwinds).
struct Queued<'a> {
    limit: &'a Limit,
    key: u64,
    granted: &'a AtomicBool,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let removed = {
            let mut st = self.limit.state.lock();
            let before = st.waiters.len();
            st.waiters.retain(|(k, _, _)| *k != self.key);
            st.waiters.len() != before
        };
        if !removed && self.granted.load(Ordering::Acquire) {
            self.limit.release(); // pass the permit we were given on
        }
    }
}

impl std::fmt::Debug for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock();
        f.debug_struct("Limit")
            .field("available", &st.available)
            .field("waiting", &st.waiters.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_hands_over() {
        let rt = crate::Runtime::builder().workers(2).build().unwrap();
        let limit = Arc::new(Limit::new(3));
        let now = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let max = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (l, n, m) = (limit.clone(), now.clone(), max.clone());
        rt.block_on(move || {
            let hs: Vec<_> = (0..50)
                .map(|_| {
                    let (l, n, m) = (l.clone(), n.clone(), m.clone());
                    crate::spawn(move || {
                        let _p = l.acquire();
                        let v = n.fetch_add(1, Ordering::SeqCst) + 1;
                        m.fetch_max(v, Ordering::SeqCst);
                        crate::yield_now();
                        n.fetch_sub(1, Ordering::SeqCst);
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
        });
        assert!(max.load(Ordering::SeqCst) <= 3);
        assert_eq!(limit.state.lock().available, 3);
    }
}
