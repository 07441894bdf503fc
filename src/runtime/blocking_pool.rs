//! The core of `spawn_blocking`'s pool: an elastic set of OS threads that
//! run jobs (green-thread tasks with no scheduler) in FIFO order.
//!
//! Threads are started on demand up to the runtime's
//! `max_blocking_threads` (further jobs queue) and retire after
//! `blocking_keep_alive` idle. The public API is `crate::spawn_blocking`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::runtime::task::NewTask;
use crate::runtime::Config;

/// A job is a green-thread task with no scheduler: its body runs here.
type Job = NewTask;

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    shutdown: bool,
    handles: Vec<thread::JoinHandle<()>>,
}

/// The pool of one runtime.
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    work: Condvar,
    max: usize,
    keep_alive: Duration,
    name: String,
}

impl BlockingPool {
    pub(crate) fn new(config: &Config) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                max: config.max_blocking_threads,
                keep_alive: config.blocking_keep_alive,
                name: format!("{}-blocking", config.thread_name),
            }),
        }
    }

    pub(crate) fn submit(&self, job: Job) {
        let mut st = self.inner.state.lock();
        if st.shutdown {
            drop(st);
            finish_unrun(job);
            return;
        }
        st.queue.push_back(job);
        if st.idle > 0 {
            st.idle -= 1;
            self.inner.work.notify_one();
        } else if st.threads < self.inner.max {
            st.threads += 1;
            let inner = self.inner.clone();
            let spawned = thread::Builder::new()
                .name(self.inner.name.clone())
                .spawn(move || inner.run());
            match spawned {
                Ok(h) => {
                    st.handles.retain(|h| !h.is_finished());
                    st.handles.push(h);
                }
                // Out of threads: the job waits for a running one (if none
                // runs it waits for the next submit).
                Err(e) => {
                    st.threads -= 1;
                    eprintln!("verdant: spawn_blocking could not start a thread: {e}");
                }
            }
        }
    }

    /// (threads, idle threads, queued jobs), for metrics.
    pub(crate) fn stats(&self) -> (usize, usize, usize) {
        let st = self.inner.state.lock();
        (st.threads, st.idle, st.queue.len())
    }

    /// Stops taking jobs, drops queued ones, joins the threads.
    pub(crate) fn shutdown(&self) {
        let (queued, handles) = {
            let mut st = self.inner.state.lock();
            st.shutdown = true;
            self.inner.work.notify_all();
            (std::mem::take(&mut st.queue), std::mem::take(&mut st.handles))
        };
        queued.into_iter().for_each(finish_unrun);
        for h in handles {
            let _ = h.join();
        }
    }
}

fn finish_unrun(job: Job) {
    job.drop_unrun(None).complete();
}

impl Inner {
    fn run(&self) {
        let mut st = self.state.lock();
        loop {
            if let Some(job) = st.queue.pop_front() {
                drop(st);
                job.run().complete();
                st = self.state.lock();
                continue;
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            let timed_out = self.work.wait_for(&mut st, self.keep_alive).timed_out();
            if timed_out && st.queue.is_empty() {
                // Retire (the submitter did not count us as woken).
                st.idle -= 1;
                break;
            }
            // Woken by `submit` (which took us off `idle`) or by shutdown.
            if timed_out || st.shutdown {
                st.idle = st.idle.saturating_sub(1);
            }
        }
        st.threads -= 1;
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.lock();
        f.debug_struct("BlockingPool")
            .field("threads", &st.threads)
            .field("queued", &st.queue.len())
            .finish()
    }
}
