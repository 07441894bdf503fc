//! # verdant: green threads for ordinary Rust
//!
//! *Change how you run code, not how you write it.* verdant runs plain
//! sequential, blocking-style Rust (connect, read, write, sleep, join) on
//! **green threads**: stackful coroutines that park instead of blocking, so
//! tens of thousands of them share a few OS threads. There is no `async`
//! and no function colouring; the API mirrors `std`, so moving code onto
//! verdant is a change of `use` lines.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use verdant::GreenPool;
//!
//! let start = Instant::now();
//! let pool = GreenPool::new(1000);                    // at most 1000 at once
//! for id in 0..5000u64 {
//!     pool.spawn(move || {                            // waits while full
//!         verdant::sleep(Duration::from_millis(20));  // parks, doesn't block
//!         id * 2
//!     });
//! }
//! pool.waitall();
//! // 5 rounds of 20 ms, not 5000 × 20 ms.
//! assert!(start.elapsed() < Duration::from_secs(30));
//!
//! let h = verdant::spawn(|| 40 + 2);
//! assert_eq!(h.join().unwrap(), 42);
//! ```
//!
//! ## How it works
//!
//! A green thread is a [corosensei] coroutine on its own guarded stack.
//! Worker OS threads (one per core by default) run them; a green thread that
//! has not started yet may be stolen by an idle worker, but once started it
//! stays on its worker (moving a running stack between OS threads is
//! undefined behaviour in Rust: compiled code may cache thread-local
//! addresses; see [`docs::architecture`], "Why started threads never
//! migrate"). A blocking call tries its operation, and when it would block
//! **parks** the green thread on the source that will make progress: a
//! timer, the worker's `mio` reactor (sockets, DNS), or another thread (a
//! channel, a lock, a join). The source later unparks it. The same calls
//! made from a plain OS thread simply block that thread, so the same code
//! runs both ways.
//!
//! ## Documentation
//!
//! - [`docs::guide`]: concepts, spawning and joining, cancellation, scoped
//!   threads, pools, networking, name resolution, sync, timeouts, and
//!   migrating from `std::thread` and from eventlet/gevent.
//! - [`docs::whole_program`]: writing a whole program (a chat server with
//!   a clean Ctrl-C, a supervisor of child processes, a pipeline that stops
//!   on the first error), beside the gevent and Go versions; standard
//!   input and files.
//! - [`docs::caveats`]: the limits (std thread-locals, blocking calls, std
//!   locks, stack size, timeouts, fork, panics) and what to do about them.
//! - [`docs::architecture`]: the layers, the decisions and why, and how a
//!   green thread goes from `spawn` through the scheduler, park, the
//!   reactor and timers to its end.
//! - [`docs::unsafe_code`]: every module allowed `unsafe`, and why it is
//!   sound.
//!
//! The same files are in the repository's `docs/` directory.
//!
//! ## From eventlet and gevent
//!
//! verdant is what Python's eventlet and gevent do, built for Rust. The
//! main differences: green threads run on several workers in parallel (so
//! shared state needs `Arc`, atomics or locks, as with OS threads), and
//! cancellation unwinds from every later park point, where `kill` raises
//! an exception the target may swallow.
//!
//! | eventlet / gevent | verdant |
//! |-------------------|---------|
//! | `eventlet.spawn(f, *args)`, `gevent.spawn` | [`spawn`]`(move \|\| f(args))` |
//! | `eventlet.spawn_n(f)` | [`spawn`]`(f)`, dropping the handle |
//! | `gt.wait()`, `greenlet.get()` | [`JoinHandle::join`] |
//! | `gevent.joinall`, `gevent.wait`, `gevent.iwait` | [`wait_all`], [`wait_any`], [`iwait`], or [`scope()`] |
//! | `eventlet.spawn_after(secs, f)` | [`spawn_after`] |
//! | `eventlet.sleep(secs)`, `gevent.sleep` | [`sleep`] |
//! | `eventlet.sleep(0)` | [`yield_now`] |
//! | `eventlet.getcurrent()`, `gevent.getcurrent()` | [`current`] |
//! | `GreenPool(size)`, `gevent.pool.Pool` | [`GreenPool::new`] (`spawn` waits while the pool is full) |
//! | `pool.spawn`, `pool.spawn_n`, `pool.waitall` | [`GreenPool::spawn`] (dropping the handle for `spawn_n`), [`GreenPool::waitall`] |
//! | `pool.imap(f, items)` | [`GreenPool::imap`]`(items, f)` (note the argument order) |
//! | `pool.running()`, `free()`, `waiting()`, `resize(n)` | the same names on [`GreenPool`] |
//! | `GreenPile(size)`, `pile.spawn`, iterating | [`GreenPile`] (an `Iterator`) |
//! | `tpool.execute(f)`, `gevent.threadpool` | [`spawn_blocking`]`(f).join()` |
//! | `gt.kill()`, `greenlet.kill()` | [`JoinHandle::cancel`] (then `join` to wait) |
//! | `eventlet.Timeout(secs)`, `gevent.Timeout` | [`timeout`]`(dur, f)`, returning `Err(`[`Elapsed`]`)` |
//! | `eventlet.event.Event`, `gevent.event.AsyncResult` | [`sync::AsyncResult`] |
//! | `gevent.event.Event` | [`sync::Event`] |
//! | `eventlet.queue.Queue`, `gevent.queue.Queue`, `JoinableQueue` | [`sync::Queue`] (`put`, `get`, `task_done`, `join`) |
//! | `PriorityQueue`, `LifoQueue` | [`sync::PriorityQueue`], [`sync::LifoQueue`] |
//! | `eventlet.semaphore.BoundedSemaphore`, `gevent.lock.BoundedSemaphore` | [`sync::Semaphore`] |
//! | `eventlet.listen(addr)`, `eventlet.connect(addr)` | [`net::TcpListener::bind`], [`net::TcpStream::connect`] |
//! | `eventlet.green.socket`, `gevent.socket` | [`net`] |
//! | `eventlet.serve(sock, handle, concurrency)`, `gevent.server.StreamServer` | [`net::serve`], [`net::serve_background`] |
//! | eventlet's green DNS, `EVENTLET_NO_GREENDNS=yes` | a green-mode [`net::Resolver`] (the default), `VERDANT_RESOLVER=system` |
//! | `eventlet.corolocal.local`, `gevent.local.local` | [`local!`] |
//! | gevent's `max_blocking_time` | [`RuntimeBuilder::watchdog`] |
//! | the hub | the [`Runtime`] (a global one by default) |
//! | `eventlet.monkey_patch()` | change the `use` lines, or `verdant::monkey_patch()` (feature `hook`, `docs/monkey-patch.md`) |
//!
//! [corosensei]: https://docs.rs/corosensei
#![deny(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unsafe_op_in_unsafe_fn
)]
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

mod blocking;
pub mod debug;
mod error;
pub mod fs;
mod futures;
mod green;
mod group;
#[cfg(all(feature = "hook", target_os = "linux"))]
#[allow(unsafe_code)]
mod hook;
#[cfg(feature = "http")]
pub mod http;
pub mod io;
#[cfg(any(feature = "redis", feature = "gearman"))]
pub mod jobs;
mod local;
pub mod net;
mod pool;
pub mod process;
mod runtime;
#[allow(unsafe_code)]
mod scope;
pub mod signal;
pub mod sync;
mod time;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "ws")]
pub mod ws;

pub use blocking::spawn_blocking;
pub use debug::dump;
pub use error::{Elapsed, JoinError};
pub use futures::{iwait, join_any, wait_all, wait_any, wait_any_timeout, Iwait};
pub use green::{
    available_parallelism, current, panicking, park, park_timeout, spawn, yield_now, Builder, GreenId, GreenThread,
    JoinHandle, Thread, ThreadId,
};
pub use group::Group;
#[cfg(all(feature = "hook", target_os = "linux"))]
pub use hook::monkey_patch;
pub use local::GreenLocal;
pub use pool::{GreenPile, GreenPool, Imap};
pub use runtime::{Handle, Runtime, RuntimeBuilder, DEFAULT_STACK_SIZE};
pub use scope::{scope, try_scope, Scope, ScopedJoinHandle, TryScope};
pub use time::{sleep, sleep_until, spawn_after, timeout, timeout_at};

/// The long-form documentation, rendered for docs.rs (documentation
/// builds only; it holds no code).
///
/// Each module is one file of the repository's `docs/` directory. Links
/// between them are written as plain paths (`docs/caveats.md`), which read
/// the same here and on GitHub. The files' examples are illustrations, not
/// doctests (`not(doctest)`): several show fragments of a program (a `?`
/// outside a function, a server that runs on); the API's own docs carry the
/// tested examples.
#[cfg(all(doc, not(doctest)))]
pub mod docs {
    /// Concepts, and moving code onto verdant from `std::thread`, eventlet
    /// and gevent (`docs/guide.md`).
    pub mod guide {
        #![doc = include_str!("../docs/guide.md")]
    }
    /// Whole programs: signals, groups, child processes, standard input
    /// and files together, beside gevent and Go (`docs/whole-program.md`).
    pub mod whole_program {
        #![doc = include_str!("../docs/whole-program.md")]
    }
    /// Where green threads differ from OS threads, and verdant's limits
    /// (`docs/caveats.md`).
    pub mod caveats {
        #![doc = include_str!("../docs/caveats.md")]
    }
    /// The layers, the decisions and why, and the mechanics
    /// (`docs/architecture.md`).
    pub mod architecture {
        #![doc = include_str!("../docs/architecture.md")]
    }
    /// Jobs across processes: the Redis work queue and Gearman
    /// (`docs/jobs.md`).
    pub mod jobs {
        #![doc = include_str!("../docs/jobs.md")]
    }
    /// Every module allowed `unsafe`, and its invariants (`docs/unsafe.md`).
    pub mod unsafe_code {
        #![doc = include_str!("../docs/unsafe.md")]
    }
    /// `monkey_patch()`: unmodified blocking code runs green, what is
    /// hooked and what cannot be (`docs/monkey-patch.md`).
    pub mod monkey_patch {
        #![doc = include_str!("../docs/monkey-patch.md")]
    }
    /// Seeing inside a running program: dumps, the watchdog, metrics
    /// (`docs/debugging.md`).
    pub mod debugging {
        #![doc = include_str!("../docs/debugging.md")]
    }
}
