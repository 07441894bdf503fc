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
//! addresses). A blocking call tries its operation, and when it would block
//! **parks** the green thread on the source that will make progress: a timer
//! or the worker's `mio` reactor (sockets, DNS). The
//! source later unparks it. The same calls made from a plain OS thread
//! simply block that thread, so the same code runs both ways.
//!
//! See `docs/guide.md` for concepts and migration from `std::thread`, and
//! `docs/caveats.md` for the limits (thread-locals, blocking calls, stack
//! size).
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
mod error;
mod green;
mod local;
pub mod net;
mod pool;
mod runtime;
#[allow(unsafe_code)]
mod scope;
pub mod sync;
mod time;

pub use blocking::spawn_blocking;
pub use error::{Elapsed, JoinError};
pub use green::{current, park, spawn, yield_now, Builder, GreenId, GreenThread, JoinHandle};
pub use local::GreenLocal;
pub use pool::{GreenPile, GreenPool, Imap};
pub use runtime::{Handle, Runtime, RuntimeBuilder, DEFAULT_STACK_SIZE};
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use sync::futures::{iwait, wait_all, wait_any, wait_any_timeout, Iwait};
pub use time::{sleep, sleep_until, spawn_after, timeout, timeout_at};
