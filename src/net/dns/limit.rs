//! A counting limit on exchanges in flight per resolver.
//!
//! Without it, 500 green threads resolving at once put 1 000 datagrams in
//! the nameserver's receive buffer in one burst; the kernel drops the
//! overflow and each drop costs a full `timeout`. Waiting for a permit
//! parks the green thread (or blocks the OS thread) like any other wait.
//!
//! It is the crate's FIFO [`Semaphore`]: a released permit is handed to the
//! oldest waiter, so a newcomer never takes it first, and a waiter that goes
//! away after being handed one (cancellation unwinds) passes it on.

use crate::sync::{Semaphore, SemaphorePermit};

#[derive(Debug)]
pub(crate) struct Limit(Semaphore);

impl Limit {
    pub(crate) fn new(permits: usize) -> Limit {
        Limit(Semaphore::new(permits.max(1)))
    }

    /// Waits for a permit (FIFO); it is released when dropped.
    pub(crate) fn acquire(&self) -> SemaphorePermit<'_> {
        self.0.acquire()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

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
        assert_eq!(limit.0.available_permits(), 3);
    }
}
