//! Moving std's locks (`Mutex`, `RwLock`, `Condvar`, `Barrier` and the
//! poisoning types) onto verdant is a change of `use` lines.
//!
//! The programs in `programs!` are ordinary std-style code (what std's
//! documentation of `Mutex`, `MutexGuard`, `RwLock`, `Condvar` and
//! `Barrier` shows, in our own words): the Book's counter, guards dropped
//! early, poisoning and its recovery, `try_lock`, many readers and one
//! writer, condition-variable waits of every kind, barriers reused across
//! rounds, and the `Debug` output of each type. They are
//! compiled three times with nothing changed but their `use` lines (the
//! lock types *and* the thread module): against std (proving they are std
//! programs), and against verdant, run on a plain OS thread and inside a
//! green thread. None of them sleeps to synchronise: who waits on whom is
//! decided by the locks, condvars and barriers themselves, so a lost
//! wakeup hangs (and the watchdog fails the test). One more program,
//! `RwLockWriteGuard::downgrade`, runs against verdant only (see
//! `downgrade_program!`).
//!
//! After them, what only verdant promises: a thousand green threads
//! waiting on one barrier and one condvar on ONE worker, which std's
//! would block; a cancelled barrier waiter taking its arrival back.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{in_green_thread, on_os_thread, rt, watchdog};

macro_rules! programs {
    (run = $run:path; $($uses:item)*) => {
        $($uses)*

        /// The Book's shared counter, ten threads adding to it; each
        /// reads, yields, then writes, so a lock that let two in at once
        /// would lose updates.
        fn mutex_counter() {
            let counter = Arc::new(Mutex::new(0));
            let mut handles = vec![];
            for _ in 0..10 {
                let counter = Arc::clone(&counter);
                handles.push(thread::spawn(move || {
                    for _ in 0..20 {
                        let mut num = counter.lock().unwrap();
                        let seen = *num;
                        thread::yield_now();
                        *num = seen + 1;
                    }
                }));
            }
            for handle in handles {
                handle.join().unwrap();
            }
            assert_eq!(*counter.lock().unwrap(), 200);
            // Everyone is gone: the data can be taken out of the lock.
            let counter = Arc::try_unwrap(counter).expect("the threads dropped their clones");
            assert_eq!(counter.into_inner().unwrap(), 200);
        }

        /// Each participant appends twice the sum so far, then releases
        /// that lock with `drop(guard)` before taking a second one.
        fn mutex_guard_dropped_early() {
            let data = Arc::new(Mutex::new(vec![2u64, 3]));
            let total = Arc::new(Mutex::new(0u64));
            let mut handles = Vec::with_capacity(3);
            for _ in 0..3 {
                let data = Arc::clone(&data);
                let total = Arc::clone(&total);
                handles.push(thread::spawn(move || {
                    let mut d = data.lock().unwrap();
                    let doubled = d.iter().sum::<u64>() * 2;
                    d.push(doubled);
                    drop(d);
                    *total.lock().unwrap() += doubled;
                }));
            }
            let mut d = data.lock().unwrap();
            let doubled = d.iter().sum::<u64>() * 2;
            d.push(doubled);
            drop(d);
            *total.lock().unwrap() += doubled;
            handles.into_iter().for_each(|h| h.join().unwrap());
            // 10 + 30 + 90 + 270, whoever came first.
            assert_eq!(*total.lock().unwrap(), 400);
            assert_eq!(*data.lock().unwrap(), [2, 3, 10, 30, 90, 270]);

            // Without the `drop`, the second `lock` would wait for ever.
            let m = Mutex::new(1);
            let g = m.lock().unwrap();
            let v = *g;
            drop(g);
            *m.lock().unwrap() += v;
            assert_eq!(m.into_inner().unwrap(), 2);
        }

        /// A `Mutex` in a `static` (its `new` is `const`), and one on the
        /// stack borrowed by scoped threads; named in signatures.
        fn mutex_in_a_static_and_in_a_scope() {
            static LOG: Mutex<Vec<u32>> = Mutex::new(Vec::new());
            fn logged(i: u32) -> LockResult<MutexGuard<'static, Vec<u32>>> {
                let mut log = LOG.lock()?;
                log.push(i);
                Ok(log)
            }
            let letters = Mutex::new(String::new());
            thread::scope(|s| {
                for i in 0..4u8 {
                    let letters = &letters;
                    s.spawn(move || {
                        drop(logged(u32::from(i)).unwrap());
                        letters.lock().unwrap().push(char::from(b'a' + i));
                    });
                }
            });
            let mut log = LOG.lock().unwrap();
            log.sort_unstable();
            assert_eq!(*log, [0, 1, 2, 3]);
            drop(log);
            let mut letters: Vec<char> = letters.into_inner().unwrap().chars().collect();
            letters.sort_unstable();
            assert_eq!(letters, ['a', 'b', 'c', 'd']);
        }

        /// A thread panics while holding the lock: the lock is poisoned,
        /// the data is recovered from the `PoisonError`, and the poison is
        /// cleared, as std's docs show.
        fn mutex_poisoned_and_recovered() {
            let lock = Arc::new(Mutex::new(0));
            let lock2 = Arc::clone(&lock);
            let joined = thread::spawn(move || {
                let mut g = lock2.lock().unwrap();
                *g = 1;
                panic!("a panic while holding the lock");
            })
            .join();
            assert!(joined.is_err());
            assert!(lock.is_poisoned());
            let mut guard = match lock.lock() {
                Ok(_) => unreachable!("the lock is poisoned"),
                Err(poisoned) => {
                    assert_eq!(poisoned.to_string(), "poisoned lock: another task failed inside");
                    assert_eq!(**poisoned.get_ref(), 1);
                    poisoned.into_inner()
                }
            };
            *guard = 2;
            drop(guard);
            // Recovering the data does not clear the poison.
            assert!(lock.is_poisoned());
            match lock.try_lock() {
                Err(TryLockError::Poisoned(e)) => assert_eq!(**e.get_ref(), 2),
                Err(TryLockError::WouldBlock) => unreachable!("nobody holds it"),
                Ok(_) => unreachable!("still poisoned"),
            }
            // Condvar waits report it too, the guard inside.
            let cvar = Condvar::new();
            let g = lock.lock().unwrap_err().into_inner();
            let g = cvar.wait_timeout(g, Duration::ZERO).unwrap_err().into_inner().0;
            assert_eq!(*g, 2);
            drop(g);
            // Fix the data up, then clear the poison.
            let guard = lock.lock().unwrap_or_else(|mut e| {
                **e.get_mut() = 3;
                lock.clear_poison();
                e.into_inner()
            });
            assert_eq!(*guard, 3);
            drop(guard);
            assert!(!lock.is_poisoned());
            assert_eq!(*lock.lock().unwrap(), 3);

            // A panic after the guard is gone poisons nothing.
            let lock3 = Arc::clone(&lock);
            let joined = thread::spawn(move || {
                *lock3.lock().unwrap() += 1;
                panic!("after unlocking");
            })
            .join();
            assert!(joined.is_err());
            assert!(!lock.is_poisoned());

            // `get_mut` and `into_inner` of a poisoned mutex still hand
            // over the data, inside the `PoisonError`.
            let lock4 = Arc::clone(&lock);
            let joined = thread::spawn(move || {
                let _g = lock4.lock().unwrap();
                panic!("poison it again");
            })
            .join();
            assert!(joined.is_err());
            let mut lock = Arc::try_unwrap(lock).expect("the threads dropped their clones");
            *lock.get_mut().unwrap_err().into_inner() += 10;
            let e: PoisonError<i32> = lock.into_inner().unwrap_err();
            assert_eq!(e.into_inner(), 14);
        }

        /// std's rule: a guard taken while its thread was already
        /// panicking (in a destructor run by the unwinding) does not
        /// poison when the unwinding drops it.
        fn mutex_locked_while_unwinding_does_not_poison() {
            struct LogOnDrop(Arc<Mutex<Vec<&'static str>>>);
            impl Drop for LogOnDrop {
                fn drop(&mut self) {
                    self.0.lock().unwrap().push("dropped by the unwinding");
                }
            }
            let log = Arc::new(Mutex::new(Vec::new()));
            let on_drop = LogOnDrop(Arc::clone(&log));
            let joined = thread::spawn(move || {
                let _d = on_drop;
                panic!("unwinds through LogOnDrop");
            })
            .join();
            assert!(joined.is_err());
            assert!(!log.is_poisoned());
            assert_eq!(*log.lock().unwrap(), ["dropped by the unwinding"]);

            // Caught with `catch_unwind` on this very thread: same rule,
            // and a guard held across the panic does poison.
            let m = Mutex::new(0);
            let caught = panic::catch_unwind(|| {
                *m.lock().unwrap() += 1;
                let _g = m.lock().unwrap();
                panic!("holding the lock");
            });
            assert!(caught.is_err());
            assert!(m.is_poisoned());
            assert_eq!(*m.lock().unwrap_err().into_inner(), 1);
        }

        /// `try_lock` fails with `WouldBlock` while another thread holds
        /// the lock, and succeeds once it is dropped.
        fn mutex_try_lock_would_block() {
            let m = Mutex::new(vec![1]);
            let g = m.lock().unwrap();
            thread::scope(|s| {
                s.spawn(|| {
                    let r: TryLockResult<MutexGuard<'_, Vec<i32>>> = m.try_lock();
                    match r {
                        Err(e @ TryLockError::WouldBlock) => {
                            assert_eq!(e.to_string(), "try_lock failed because the operation would block");
                        }
                        Err(TryLockError::Poisoned(_)) => unreachable!("never poisoned"),
                        Ok(_) => unreachable!("the other thread holds it"),
                    }
                });
            });
            drop(g);
            thread::scope(|s| {
                s.spawn(|| m.try_lock().unwrap().push(2));
            });
            assert_eq!(m.into_inner().unwrap(), [1, 2]);
        }

        /// `get_mut` (no locking: the borrow proves exclusivity),
        /// `into_inner`, `Default`, `From`, and unsized data behind a
        /// pointer.
        fn mutex_get_mut_into_inner_and_unsized() {
            let mut m = Mutex::new(0);
            *m.get_mut().unwrap() = 10;
            assert_eq!(*m.lock().unwrap(), 10);
            assert_eq!(m.into_inner().unwrap(), 10);
            let d: Mutex<Vec<u8>> = Mutex::default();
            assert!(d.lock().unwrap().is_empty());
            let f = Mutex::from(String::from("from"));
            assert_eq!(f.into_inner().unwrap(), "from");

            let slice: Arc<Mutex<[u32]>> = Arc::new(Mutex::new([1, 2, 3]));
            let s2 = Arc::clone(&slice);
            thread::spawn(move || s2.lock().unwrap()[0] = 10).join().unwrap();
            assert_eq!(slice.lock().unwrap().iter().sum::<u32>(), 15);
            let shown: Box<Mutex<dyn std::fmt::Display + Send>> = Box::new(Mutex::new(42));
            assert_eq!(shown.lock().unwrap().to_string(), "42");
        }

        /// Many readers at once (four hold read guards together: a
        /// barrier they all wait at opens only then), one writer at a time.
        fn rwlock_many_readers_one_writer() {
            let lock = RwLock::new(5);
            {
                let r1 = lock.read().unwrap();
                let r2 = lock.read().unwrap();
                assert_eq!(*r1, 5);
                assert_eq!(*r2, 5);
            }
            {
                let mut w = lock.write().unwrap();
                *w += 1;
                assert_eq!(*w, 6);
            }
            let all_in = Barrier::new(4);
            thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        let r: RwLockReadGuard<'_, i32> = lock.read().unwrap();
                        all_in.wait();
                        assert_eq!(*r, 6);
                        // We still read: no writer gets in.
                        assert!(matches!(lock.try_write(), Err(TryLockError::WouldBlock)));
                    });
                }
            });
            // Writers, one at a time: read, yield, write loses nothing.
            thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        for _ in 0..10 {
                            let mut w: RwLockWriteGuard<'_, i32> = lock.write().unwrap();
                            let seen = *w;
                            thread::yield_now();
                            *w = seen + 1;
                        }
                    });
                }
            });
            assert_eq!(lock.into_inner().unwrap(), 46);
            assert!(RwLock::<Vec<u8>>::default().into_inner().unwrap().is_empty());
            assert_eq!(*RwLock::from(3).read().unwrap(), 3);
        }

        /// `try_read` and `try_write` against a writer and a reader held
        /// by another thread; an `RwLock` in a `static`.
        fn rwlock_try_read_try_write() {
            static CONFIG: RwLock<Vec<&str>> = RwLock::new(Vec::new());
            let w = CONFIG.write().unwrap();
            thread::scope(|s| {
                s.spawn(|| {
                    assert!(matches!(CONFIG.try_read(), Err(TryLockError::WouldBlock)));
                    assert!(matches!(CONFIG.try_write(), Err(TryLockError::WouldBlock)));
                });
            });
            drop(w);
            CONFIG.write().unwrap().push("verbose");
            let r: TryLockResult<RwLockReadGuard<'_, Vec<&str>>> = CONFIG.try_read();
            let r = r.unwrap();
            thread::scope(|s| {
                s.spawn(|| {
                    // Readers share, a writer waits.
                    assert_eq!(*CONFIG.try_read().unwrap(), ["verbose"]);
                    assert!(matches!(CONFIG.try_write(), Err(TryLockError::WouldBlock)));
                });
            });
            drop(r);
            let mut w = CONFIG.try_write().unwrap();
            w.push("colour");
            drop(w);
            assert_eq!(*CONFIG.read().unwrap(), ["verbose", "colour"]);
        }

        /// A writer's panic poisons an `RwLock`; a reader's does not.
        fn rwlock_poisoned_by_a_writer_not_a_reader() {
            let lock = Arc::new(RwLock::new(vec![1]));
            let l = Arc::clone(&lock);
            let joined = thread::spawn(move || {
                let _r = l.read().unwrap();
                panic!("a reader panics");
            })
            .join();
            assert!(joined.is_err());
            assert!(!lock.is_poisoned());
            let l = Arc::clone(&lock);
            let joined = thread::spawn(move || {
                let mut w = l.write().unwrap();
                w.push(2);
                panic!("a writer panics");
            })
            .join();
            assert!(joined.is_err());
            assert!(lock.is_poisoned());
            match lock.read() {
                Err(e) => assert_eq!(*e.into_inner(), [1, 2]),
                Ok(_) => unreachable!("poisoned"),
            }
            assert!(lock.write().is_err());
            assert!(matches!(lock.try_read(), Err(TryLockError::Poisoned(_))));
            assert!(matches!(lock.try_write(), Err(TryLockError::Poisoned(_))));
            lock.clear_poison();
            assert!(!lock.is_poisoned());
            lock.write().unwrap().push(3);
            let l = Arc::clone(&lock);
            let _ = thread::spawn(move || {
                let _w = l.write().unwrap();
                panic!("poison it again");
            })
            .join();
            let mut lock = Arc::try_unwrap(lock).expect("the threads dropped their clones");
            lock.get_mut().unwrap_err().into_inner().push(4);
            assert_eq!(lock.into_inner().unwrap_err().into_inner(), [1, 2, 3, 4]);
        }

        /// std's first `Condvar` example: wait in a loop until another
        /// thread says it has started.
        fn condvar_wait_in_a_loop() {
            let pair = Arc::new((Mutex::new(false), Condvar::new()));
            let pair2 = Arc::clone(&pair);
            let h = thread::spawn(move || {
                let (lock, cvar) = &*pair2;
                let mut started = lock.lock().unwrap();
                *started = true;
                cvar.notify_one();
            });
            let (lock, cvar) = &*pair;
            let mut started = lock.lock().unwrap();
            while !*started {
                started = cvar.wait(started).unwrap();
            }
            assert!(*started);
            drop(started);
            h.join().unwrap();
        }

        /// A bounded queue out of one `Mutex` and two `Condvar`s, waited
        /// on with `wait_while`: a producer and a consumer, every item
        /// through in order.
        fn condvar_wait_while_bounded_queue() {
            const CAP: usize = 2;
            let queue = Mutex::new(VecDeque::new());
            let not_empty = Condvar::new();
            let not_full = Condvar::new();
            let got = thread::scope(|s| {
                s.spawn(|| {
                    for i in 0..100u32 {
                        let mut q = not_full.wait_while(queue.lock().unwrap(), |q| q.len() == CAP).unwrap();
                        q.push_back(Some(i));
                        not_empty.notify_one();
                    }
                    let mut q = not_full.wait_while(queue.lock().unwrap(), |q| q.len() == CAP).unwrap();
                    q.push_back(None);
                    not_empty.notify_one();
                });
                let consumer = s.spawn(|| {
                    let mut got = Vec::new();
                    loop {
                        let mut q = not_empty.wait_while(queue.lock().unwrap(), |q| q.is_empty()).unwrap();
                        assert!(q.len() <= CAP);
                        let item = q.pop_front().unwrap();
                        not_full.notify_one();
                        match item {
                            Some(i) => got.push(i),
                            None => break got,
                        }
                    }
                });
                consumer.join().unwrap()
            });
            assert_eq!(got, (0..100).collect::<Vec<_>>());
        }

        /// `wait_timeout`: with nobody to notify it ends by timing out;
        /// notified long before its hour is up, it does not report one.
        fn condvar_wait_timeout() {
            static LOCK: Mutex<bool> = Mutex::new(false);
            static CVAR: Condvar = Condvar::new();
            let (lock, cvar) = (&LOCK, &CVAR);
            let mut g = lock.lock().unwrap();
            // A wakeup may be spurious: loop until the time is up.
            loop {
                let (g2, res): (MutexGuard<'_, bool>, WaitTimeoutResult) =
                    cvar.wait_timeout(g, Duration::from_millis(1)).unwrap();
                g = g2;
                if res.timed_out() {
                    break;
                }
            }
            assert!(!*g);
            drop(g);
            thread::scope(|s| {
                let mut ready = lock.lock().unwrap();
                s.spawn(|| {
                    *lock.lock().unwrap() = true;
                    cvar.notify_one();
                });
                while !*ready {
                    let (g, res) = cvar.wait_timeout(ready, Duration::from_secs(3600)).unwrap();
                    assert!(!res.timed_out());
                    ready = g;
                }
            });
        }

        /// `wait_timeout_while`: times out with the condition still
        /// holding, or returns early once another thread ends it.
        fn condvar_wait_timeout_while() {
            let pending = Mutex::new(true);
            let cvar = Condvar::default();
            let (g, res) = cvar
                .wait_timeout_while(pending.lock().unwrap(), Duration::from_millis(1), |p| *p)
                .unwrap();
            assert!(res.timed_out());
            assert!(*g);
            drop(g);
            thread::scope(|s| {
                let g = pending.lock().unwrap();
                s.spawn(|| {
                    *pending.lock().unwrap() = false;
                    cvar.notify_all();
                });
                let (g, res) = cvar.wait_timeout_while(g, Duration::from_secs(3600), |p| *p).unwrap();
                assert!(!res.timed_out());
                assert!(!*g);
            });
            // Already false: returns at once, not timed out, even with no time.
            let (g, res) = cvar
                .wait_timeout_while(pending.lock().unwrap(), Duration::ZERO, |p| *p)
                .unwrap();
            assert!(!res.timed_out() && !*g);
        }

        /// Five waiters all registered on one condvar (each released the
        /// lock only by waiting on it): a single `notify_all` wakes all.
        fn condvar_notify_all_wakes_every_waiter() {
            struct State {
                waiting: usize,
                go: bool,
            }
            let state = Mutex::new(State { waiting: 0, go: false });
            let changed = Condvar::new();
            let arrived = Condvar::new();
            thread::scope(|s| {
                for _ in 0..5 {
                    s.spawn(|| {
                        let mut st = state.lock().unwrap();
                        st.waiting += 1;
                        arrived.notify_one();
                        while !st.go {
                            st = changed.wait(st).unwrap();
                        }
                        st.waiting -= 1;
                    });
                }
                let mut st = arrived.wait_while(state.lock().unwrap(), |st| st.waiting < 5).unwrap();
                st.go = true;
                drop(st);
                changed.notify_all();
            });
            assert_eq!(state.into_inner().unwrap().waiting, 0);
        }

        /// Four waiters, four tickets each followed by one `notify_one`:
        /// every waiter gets a ticket, none sleeps on.
        fn condvar_notify_one_per_ticket() {
            struct Tickets {
                waiting: usize,
                left: usize,
                taken: usize,
            }
            let state = Mutex::new(Tickets { waiting: 0, left: 0, taken: 0 });
            let changed = Condvar::new();
            let arrived = Condvar::new();
            thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        let mut st = state.lock().unwrap();
                        st.waiting += 1;
                        arrived.notify_one();
                        st = changed.wait_while(st, |st| st.left == 0).unwrap();
                        st.left -= 1;
                        st.taken += 1;
                    });
                }
                drop(arrived.wait_while(state.lock().unwrap(), |st| st.waiting < 4).unwrap());
                for _ in 0..4 {
                    state.lock().unwrap().left += 1;
                    changed.notify_one();
                }
            });
            let st = state.into_inner().unwrap();
            assert_eq!((st.left, st.taken), (0, 4));
        }

        /// `Barrier::new(n)` with n threads over two rounds: nobody leaves
        /// a round before everyone has arrived, and each round has exactly
        /// one leader.
        fn barrier_rounds_and_leaders() {
            const N: usize = 6;
            let barrier = Arc::new(Barrier::new(N));
            let arrivals = Arc::new(Mutex::new(Vec::new()));
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    let barrier = Arc::clone(&barrier);
                    let arrivals = Arc::clone(&arrivals);
                    thread::spawn(move || {
                        let mut leader = Vec::new();
                        for round in 0..2 {
                            arrivals.lock().unwrap().push((round, i));
                            let r: BarrierWaitResult = barrier.wait();
                            let here = arrivals.lock().unwrap().iter().filter(|a| a.0 == round).count();
                            assert_eq!(here, N, "everyone arrived before anyone left");
                            leader.push(r.is_leader());
                        }
                        leader
                    })
                })
                .collect();
            let leaders: Vec<Vec<bool>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            for round in 0..2 {
                assert_eq!(leaders.iter().filter(|l| l[round]).count(), 1);
            }
            // The same with scoped threads and a barrier on the stack.
            let barrier = Barrier::new(3);
            let leaders = AtomicUsize::new(0);
            thread::scope(|s| {
                for _ in 0..3 {
                    s.spawn(|| {
                        if barrier.wait().is_leader() {
                            leaders.fetch_add(1, Ordering::SeqCst);
                        }
                    });
                }
            });
            assert_eq!(leaders.into_inner(), 1);
        }

        /// A barrier for no thread or for one never waits: each call is
        /// its own round, and its caller the leader.
        fn barrier_of_zero_or_one_does_not_block() {
            static ALONE: Barrier = Barrier::new(1);
            let none = Barrier::new(0);
            for _ in 0..3 {
                assert!(ALONE.wait().is_leader());
                assert!(none.wait().is_leader());
            }
            assert!(thread::spawn(|| ALONE.wait().is_leader()).join().unwrap());
        }

        /// What `{:?}` (and `{}` of guards) prints, std's output.
        fn debug_output() {
            let m = Mutex::new(1);
            assert_eq!(format!("{m:?}"), "Mutex { data: 1, poisoned: false, .. }");
            let g = m.lock().unwrap();
            assert_eq!(format!("{g:?} {g}"), "1 1");
            assert_eq!(format!("{m:?}"), "Mutex { data: \"<locked>\", poisoned: false, .. }");
            drop(g);
            let _ = panic::catch_unwind(|| {
                let _g = m.lock().unwrap();
                panic!("poison it");
            });
            assert_eq!(format!("{m:?}"), "Mutex { data: 1, poisoned: true, .. }");

            let l = RwLock::new("x");
            assert_eq!(format!("{l:?}"), "RwLock { data: \"x\", poisoned: false, .. }");
            let r = l.read().unwrap();
            assert_eq!(format!("{r:?} {r}"), "\"x\" x");
            assert_eq!(format!("{l:?}"), "RwLock { data: \"x\", poisoned: false, .. }");
            drop(r);
            let w = l.write().unwrap();
            assert_eq!(format!("{w:?} {w}"), "\"x\" x");
            assert_eq!(format!("{l:?}"), "RwLock { data: <locked>, poisoned: false, .. }");
            drop(w);
            let _ = panic::catch_unwind(|| {
                let _w = l.write().unwrap();
                panic!("poison it");
            });
            assert_eq!(format!("{l:?}"), "RwLock { data: \"x\", poisoned: true, .. }");

            let cvar = Condvar::new();
            assert_eq!(format!("{cvar:?}"), "Condvar { .. }");
            let unit = Mutex::new(());
            let (g, res) = cvar.wait_timeout(unit.lock().unwrap(), Duration::ZERO).unwrap();
            drop(g);
            let expected = format!("WaitTimeoutResult({})", res.timed_out());
            assert_eq!(format!("{res:?}"), expected);
            assert_eq!(format!("{:?}", Barrier::new(2)), "Barrier { .. }");
            assert_eq!(format!("{:?}", Barrier::new(1).wait()), "BarrierWaitResult { is_leader: true }");
        }

        #[test]
        fn mutex_counter_runs() {
            $run(mutex_counter)
        }
        #[test]
        fn mutex_guard_dropped_early_runs() {
            $run(mutex_guard_dropped_early)
        }
        #[test]
        fn mutex_in_a_static_and_in_a_scope_runs() {
            $run(mutex_in_a_static_and_in_a_scope)
        }
        #[test]
        fn mutex_poisoned_and_recovered_runs() {
            $run(mutex_poisoned_and_recovered)
        }
        #[test]
        fn mutex_locked_while_unwinding_does_not_poison_runs() {
            $run(mutex_locked_while_unwinding_does_not_poison)
        }
        #[test]
        fn mutex_try_lock_would_block_runs() {
            $run(mutex_try_lock_would_block)
        }
        #[test]
        fn mutex_get_mut_into_inner_and_unsized_runs() {
            $run(mutex_get_mut_into_inner_and_unsized)
        }
        #[test]
        fn rwlock_many_readers_one_writer_runs() {
            $run(rwlock_many_readers_one_writer)
        }
        #[test]
        fn rwlock_try_read_try_write_runs() {
            $run(rwlock_try_read_try_write)
        }
        #[test]
        fn rwlock_poisoned_by_a_writer_not_a_reader_runs() {
            $run(rwlock_poisoned_by_a_writer_not_a_reader)
        }
        #[test]
        fn condvar_wait_in_a_loop_runs() {
            $run(condvar_wait_in_a_loop)
        }
        #[test]
        fn condvar_wait_while_bounded_queue_runs() {
            $run(condvar_wait_while_bounded_queue)
        }
        #[test]
        fn condvar_wait_timeout_runs() {
            $run(condvar_wait_timeout)
        }
        #[test]
        fn condvar_wait_timeout_while_runs() {
            $run(condvar_wait_timeout_while)
        }
        #[test]
        fn condvar_notify_all_wakes_every_waiter_runs() {
            $run(condvar_notify_all_wakes_every_waiter)
        }
        #[test]
        fn condvar_notify_one_per_ticket_runs() {
            $run(condvar_notify_one_per_ticket)
        }
        #[test]
        fn barrier_rounds_and_leaders_runs() {
            $run(barrier_rounds_and_leaders)
        }
        #[test]
        fn barrier_of_zero_or_one_does_not_block_runs() {
            $run(barrier_of_zero_or_one_does_not_block)
        }
        #[test]
        fn debug_output_runs() {
            $run(debug_output)
        }
    };
}

/// `RwLockWriteGuard::downgrade`, a std-style program of its own: std's is
/// stable since Rust 1.92, above verdant's MSRV (1.86), so compiling it
/// against std would stop this file from building on the MSRV. It runs
/// against verdant only (it passes against std 1.92+ as written).
macro_rules! downgrade_program {
    (run = $run:path) => {
        /// `RwLockWriteGuard::downgrade`: a reader waiting for the writer
        /// gets in (and sees what it wrote) while the downgraded guard is
        /// still held; a writer still does not.
        fn rwlock_downgrade() {
            let lock = RwLock::new(0);
            thread::scope(|s| {
                let mut w = lock.write().unwrap();
                let reader = s.spawn(|| *lock.read().unwrap());
                *w = 7;
                let r = RwLockWriteGuard::downgrade(w);
                assert_eq!(reader.join().unwrap(), 7);
                assert_eq!(*r, 7);
                let writer = s.spawn(|| matches!(lock.try_write(), Err(TryLockError::WouldBlock)));
                assert!(writer.join().unwrap());
                drop(r);
            });
            *lock.write().unwrap() += 1;
            assert_eq!(lock.into_inner().unwrap(), 8);
        }

        #[test]
        fn rwlock_downgrade_runs() {
            $run(rwlock_downgrade)
        }
    };
}

/// The programs as written, against std.
mod with_std {
    programs! {
        run = crate::on_os_thread;
        use std::collections::VecDeque;
        use std::panic;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::{
            Arc, Barrier, BarrierWaitResult, Condvar, LockResult, Mutex, MutexGuard, PoisonError, RwLock,
            RwLockReadGuard, RwLockWriteGuard, TryLockError, TryLockResult, WaitTimeoutResult,
        };
        use std::thread;
        use std::time::Duration;
    }
}

/// The same programs, their `use` lines changed, on a plain OS thread.
mod verdant_on_os_thread {
    programs! {
        run = crate::on_os_thread;
        use std::collections::VecDeque;
        use std::panic;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        use std::time::Duration;
        use verdant as thread;
        use verdant::sync::{
            Barrier, BarrierWaitResult, Condvar, LockResult, Mutex, MutexGuard, PoisonError, RwLock,
            RwLockReadGuard, RwLockWriteGuard, TryLockError, TryLockResult, WaitTimeoutResult,
        };
    }
    downgrade_program! { run = crate::on_os_thread }
}

/// The same programs, their `use` lines changed, inside a green thread.
mod verdant_in_green_thread {
    programs! {
        run = crate::in_green_thread;
        use std::collections::VecDeque;
        use std::panic;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        use std::time::Duration;
        use verdant as thread;
        use verdant::sync::{
            Barrier, BarrierWaitResult, Condvar, LockResult, Mutex, MutexGuard, PoisonError, RwLock,
            RwLockReadGuard, RwLockWriteGuard, TryLockError, TryLockResult, WaitTimeoutResult,
        };
    }
    downgrade_program! { run = crate::in_green_thread }
}

/// A thousand green threads on ONE worker meet at one `Barrier`, then
/// wait on one `Condvar` until the last of them says go; the main green
/// thread waits with them. std's barrier and condvar would block the
/// worker at the first wait, so nobody else could ever arrive.
#[test]
fn a_thousand_green_threads_wait_on_one_worker() {
    const N: usize = 1000;
    let _w = watchdog(Duration::from_secs(120));
    rt(1).block_on(|| {
        let barrier = Arc::new(verdant::sync::Barrier::new(N + 1));
        let pair = Arc::new((verdant::sync::Mutex::new(0usize), verdant::sync::Condvar::new()));
        let leaders = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..N)
            .map(|_| {
                let (barrier, pair, leaders) = (barrier.clone(), pair.clone(), leaders.clone());
                verdant::spawn(move || {
                    if barrier.wait().is_leader() {
                        leaders.fetch_add(1, Ordering::SeqCst);
                    }
                    let (lock, cvar) = &*pair;
                    let mut n = lock.lock().unwrap();
                    *n += 1;
                    if *n == N {
                        cvar.notify_all();
                    }
                    let n = cvar.wait_while(n, |n| *n < N).unwrap();
                    assert_eq!(*n, N);
                })
            })
            .collect();
        if barrier.wait().is_leader() {
            leaders.fetch_add(1, Ordering::SeqCst);
        }
        let (lock, cvar) = &*pair;
        drop(cvar.wait_while(lock.lock().unwrap(), |n| *n < N).unwrap());
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(leaders.load(Ordering::SeqCst), 1);
    });
}

/// A green thread cancelled while waiting at a `Barrier` takes its arrival
/// back: the round still needs `n` live threads (had the arrival stayed,
/// the next thread would pass alone as leader and the main thread would
/// wait for ever).
#[test]
fn a_cancelled_barrier_waiter_withdraws_its_arrival() {
    let _w = watchdog(Duration::from_secs(60));
    rt(1).block_on(|| {
        let barrier = Arc::new(verdant::sync::Barrier::new(2));
        let arriving = verdant::sync::Event::new();
        let (b, a) = (barrier.clone(), arriving.clone());
        let gone = verdant::spawn(move || {
            a.set();
            // No park point between the `set` and the arrival: on one
            // worker, the main thread runs again only once this one has
            // arrived and parked in `wait`.
            b.wait();
        });
        arriving.wait();
        gone.cancel();
        assert!(gone.join().unwrap_err().is_cancelled());
        let b = barrier.clone();
        let other = verdant::spawn(move || b.wait().is_leader());
        let me = barrier.wait().is_leader();
        let them = other.join().unwrap();
        assert!(me != them, "exactly one leader among the two live threads");
    });
}
