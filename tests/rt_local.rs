//! Green-thread locals are per green thread; std thread-locals are per
//! worker (shared by its green threads), which is why GreenLocal exists.

mod support;

use std::cell::{Cell, RefCell};
use std::time::Duration;

use support::{rt, watchdog};

verdant::local! {
    static ID: Cell<u64> = Cell::new(0);
    static LOG: RefCell<Vec<u64>> = RefCell::new(Vec::new());
}

std::thread_local! {
    static OS_LOCAL: Cell<u64> = const { Cell::new(0) };
}

#[test]
fn each_green_thread_has_its_own_value_across_parks() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let ok = rt.block_on(|| {
        let hs: Vec<_> = (1..=200u64)
            .map(|i| {
                verdant::spawn(move || {
                    ID.with(|c| c.set(i));
                    verdant::sleep(Duration::from_micros(200 + i));
                    LOG.with(|l| l.borrow_mut().push(i));
                    ID.with(Cell::get) == i && LOG.with(|l| *l.borrow() == [i])
                })
            })
            .collect();
        hs.into_iter().all(|h| h.join().unwrap())
    });
    assert!(ok, "a green thread saw another's local");
}

#[test]
fn std_thread_locals_are_shared_by_the_green_threads_of_a_worker() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let seen = rt.block_on(|| {
        verdant::spawn(|| OS_LOCAL.with(|c| c.set(7))).join().unwrap();
        verdant::spawn(|| OS_LOCAL.with(Cell::get)).join().unwrap()
    });
    assert_eq!(seen, 7, "documented caveat: std thread-locals are per worker");
}

#[test]
fn plain_threads_get_their_own_value() {
    ID.with(|c| c.set(99));
    let other = std::thread::spawn(|| ID.with(Cell::get)).join().unwrap();
    assert_eq!(other, 0);
    assert_eq!(ID.with(Cell::get), 99);
}

/// Regression: green-thread locals were dropped on the worker's own stack,
/// outside any green thread, so a destructor that parked blocked the whole
/// worker (here: forever, since only a green thread of that worker could
/// wake it).
#[test]
fn green_local_destructors_run_as_their_green_thread_and_may_park() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    struct ParkOnDrop(verdant::sync::Receiver<()>, Arc<AtomicBool>);
    impl Drop for ParkOnDrop {
        fn drop(&mut self) {
            self.1.store(verdant::current().is_green(), Ordering::SeqCst);
            self.0.recv().unwrap();
        }
    }
    verdant::local! {
        static SLOT: RefCell<Option<ParkOnDrop>> = RefCell::new(None);
    }
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let as_green = Arc::new(AtomicBool::new(false));
    let g = as_green.clone();
    rt.block_on(move || {
        let (tx, rx) = verdant::sync::bounded::<()>(0);
        let holder = verdant::spawn(move || SLOT.with(|s| *s.borrow_mut() = Some(ParkOnDrop(rx, g))));
        // Rendezvous: completes only when the destructor above receives.
        verdant::spawn(move || tx.send(()).unwrap()).join().unwrap();
        holder.join().unwrap();
    });
    assert!(
        as_green.load(Ordering::SeqCst),
        "the local's destructor did not run as its green thread"
    );
}

verdant::local! {
    static TAINT: Cell<u64> = Cell::new(0);
}

/// Sets this green thread's `TAINT` when dropped: a value whose destructor
/// touches a green-thread local after its thread's locals are gone.
#[derive(Debug)]
struct Taints(u64);

impl Drop for Taints {
    fn drop(&mut self) {
        TAINT.with(|t| t.set(self.0));
    }
}

/// A thread whose locals' own destructors keep creating locals (a bounded
/// number of times): each round is dropped too.
struct Chain(u32);

impl Drop for Chain {
    fn drop(&mut self) {
        if self.0 > 0 {
            CHAIN.with(|c| *c.borrow_mut() = Some(Chain(self.0 - 1)));
        }
    }
}

verdant::local! {
    static CHAIN: RefCell<Option<Chain>> = RefCell::new(None);
}

/// Regression: a detached thread's result (or a cancelled thread's returned
/// value) was dropped after its locals, so a destructor touching a local
/// created it again, and the next green thread in the same slot inherited
/// it.
#[test]
fn locals_recreated_while_a_thread_finishes_do_not_leak_into_the_next_thread() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(1);
    let seen = rt.block_on(|| {
        let mut seen = Vec::new();
        for round in 1..=20u64 {
            // Detached: its result is dropped by the thread itself.
            drop(verdant::spawn(move || Taints(round)));
            // Its green threads run one at a time on the one worker, and a
            // freed slot is reused first: the next thread gets the same slot.
            verdant::yield_now();
            // A value returned by a thread that swallowed its cancellation.
            let h = verdant::spawn(move || {
                let _ = std::panic::catch_unwind(verdant::park);
                Taints(round + 100)
            });
            verdant::yield_now();
            h.cancel();
            assert!(h.join().unwrap_err().is_cancelled());
            // Locals whose destructors create locals, 50 rounds deep.
            verdant::spawn(|| CHAIN.with(|c| *c.borrow_mut() = Some(Chain(50))))
                .join()
                .unwrap();
            seen.push(
                verdant::spawn(|| (TAINT.with(Cell::get), CHAIN.with(|c| c.borrow().is_some())))
                    .join()
                    .unwrap(),
            );
        }
        seen
    });
    assert!(
        seen.iter().all(|s| *s == (0, false)),
        "a new thread inherited locals: {seen:?}"
    );
}
