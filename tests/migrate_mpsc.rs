//! Moving `std::sync::mpsc` code onto verdant is a change of `use` lines.
//!
//! The programs in `programs!` are ordinary std-style code (what std's
//! documentation of `std::sync::mpsc` shows, in our own words): many
//! producers, rendezvous and buffered `sync_channel`s, every error and its
//! message, the three iterators, a `Sender` shared by reference. They are
//! compiled three times with nothing changed but their `use` lines (the
//! channel module *and* the thread module): against std (proving they are
//! std programs), and against verdant, run on a plain OS thread and inside
//! a green thread. None of them sleeps to synchronise: who waits on whom
//! is decided by the channels themselves.

mod support;

use std::time::Duration;

use support::{in_green_thread, on_os_thread, watchdog};

macro_rules! programs {
    (run = $run:path; $($uses:item)*) => {
        $($uses)*

        fn many_producers() {
            let (tx, rx) = channel();
            let producers: Vec<_> = (0..8u32)
                .map(|p| {
                    let tx = tx.clone();
                    thread::spawn(move || {
                        for i in 0..25 {
                            tx.send(p * 100 + i).unwrap();
                        }
                    })
                })
                .collect();
            // The original sender must go too, or `iter` never ends.
            drop(tx);
            let mut got: Vec<u32> = rx.iter().collect();
            for p in producers {
                p.join().unwrap();
            }
            got.sort_unstable();
            let want: Vec<u32> = (0..8).flat_map(|p| (0..25).map(move |i| p * 100 + i)).collect();
            assert_eq!(got, want);
        }

        fn per_producer_order_is_kept() {
            let (tx, rx) = channel();
            let tx2 = tx.clone();
            let a = thread::spawn(move || (0..50).for_each(|i| tx.send(('a', i)).unwrap()));
            let b = thread::spawn(move || (0..50).for_each(|i| tx2.send(('b', i)).unwrap()));
            let all: Vec<(char, i32)> = rx.iter().collect();
            a.join().unwrap();
            b.join().unwrap();
            for who in ['a', 'b'] {
                let mine: Vec<i32> = all.iter().filter(|m| m.0 == who).map(|m| m.1).collect();
                assert_eq!(mine, (0..50).collect::<Vec<_>>());
            }
        }

        fn receiver_moves_to_a_worker() {
            // Requests go to a worker thread that owns the Receiver; each
            // carries a Sender for its reply.
            let (requests, inbox) = channel::<(u64, Sender<u64>)>();
            let worker = thread::spawn(move || {
                let mut served = 0;
                for (n, reply) in inbox {
                    reply.send(n * n).unwrap();
                    served += 1;
                }
                served
            });
            for n in 1..=10 {
                let (reply_tx, reply_rx) = channel();
                requests.send((n, reply_tx)).unwrap();
                assert_eq!(reply_rx.recv(), Ok(n * n));
            }
            drop(requests);
            assert_eq!(worker.join().unwrap(), 10);
        }

        fn rendezvous() {
            let (tx, rx) = sync_channel::<&str>(0);
            // Nobody is receiving: there is no room at all.
            assert_eq!(tx.try_send("early"), Err(TrySendError::Full("early")));
            let sender = thread::spawn(move || {
                for word in ["one", "two", "three"] {
                    // Returns once the receiver has taken the word.
                    tx.send(word).unwrap();
                }
            });
            assert_eq!(rx.recv(), Ok("one"));
            assert_eq!(rx.recv(), Ok("two"));
            assert_eq!(rx.recv(), Ok("three"));
            sender.join().unwrap();
            assert_eq!(rx.recv(), Err(RecvError));
        }

        fn rendezvous_send_waits_for_the_receiver() {
            let (tx, rx) = sync_channel(0);
            let (done_tx, done_rx) = channel();
            let sender = thread::spawn(move || {
                tx.send(1).unwrap();
                done_tx.send(()).unwrap();
            });
            // The sender cannot have finished: its message is still ours
            // to take.
            assert_eq!(done_rx.try_recv(), Err(TryRecvError::Empty));
            assert_eq!(rx.recv(), Ok(1));
            assert_eq!(done_rx.recv(), Ok(()));
            sender.join().unwrap();
        }

        fn buffered() {
            let (tx, rx) = sync_channel(2);
            // Two fit without anyone receiving.
            tx.send(1).unwrap();
            tx.send(2).unwrap();
            assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
            assert_eq!(rx.recv(), Ok(1));
            assert_eq!(tx.try_send(3), Ok(()));
            // A producer much faster than the buffer: `send` waits for room.
            let tx2 = tx.clone();
            let producer = thread::spawn(move || {
                for i in 4..=100 {
                    tx2.send(i).unwrap();
                }
            });
            drop(tx);
            let got: Vec<i32> = rx.iter().collect();
            producer.join().unwrap();
            assert_eq!(got, (2..=100).collect::<Vec<_>>());
        }

        fn try_send_full_then_disconnected() {
            let (tx, rx) = sync_channel(1);
            assert_eq!(tx.try_send(String::from("a")), Ok(()));
            match tx.try_send(String::from("b")) {
                Err(TrySendError::Full(back)) => assert_eq!(back, "b"),
                other => panic!("expected Full, got {other:?}"),
            }
            drop(rx);
            match tx.try_send(String::from("c")) {
                Err(TrySendError::Disconnected(back)) => assert_eq!(back, "c"),
                other => panic!("expected Disconnected, got {other:?}"),
            }
        }

        fn recv_after_every_sender_dropped() {
            let (tx, rx) = channel();
            tx.send(1).unwrap();
            let tx2 = tx.clone();
            drop(tx);
            // A receiver blocked in `recv` is woken when the last sender
            // goes away on another thread.
            let last = thread::spawn(move || {
                tx2.send(2).unwrap();
                drop(tx2);
            });
            assert_eq!(rx.recv(), Ok(1));
            assert_eq!(rx.recv(), Ok(2));
            assert_eq!(rx.recv(), Err(RecvError));
            assert_eq!(rx.recv(), Err(RecvError));
            last.join().unwrap();
            // The same for a rendezvous channel.
            let (stx, srx) = sync_channel::<()>(0);
            let dropper = thread::spawn(move || drop(stx));
            assert_eq!(srx.recv(), Err(RecvError));
            dropper.join().unwrap();
        }

        fn try_recv_empty_then_disconnected() {
            let (tx, rx) = channel();
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            tx.send('x').unwrap();
            assert_eq!(rx.try_recv(), Ok('x'));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            tx.send('y').unwrap();
            drop(tx);
            // Queued messages outlive the senders.
            assert_eq!(rx.try_recv(), Ok('y'));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        }

        fn recv_timeout_timeout_then_disconnected() {
            let (tx, rx) = channel::<i32>();
            assert_eq!(rx.recv_timeout(Duration::from_millis(10)), Err(RecvTimeoutError::Timeout));
            let sender = thread::spawn(move || {
                tx.send(5).unwrap();
                tx
            });
            // A message arriving within the (long) timeout is received.
            assert_eq!(rx.recv_timeout(Duration::from_secs(3600)), Ok(5));
            drop(sender.join().unwrap());
            assert_eq!(rx.recv_timeout(Duration::from_secs(3600)), Err(RecvTimeoutError::Disconnected));
            let (stx, srx) = sync_channel::<i32>(0);
            assert_eq!(srx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
            drop(stx);
            assert_eq!(srx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Disconnected));
        }

        fn iter_waits_until_disconnected() {
            let (tx, rx) = channel();
            let producer = thread::spawn(move || {
                for i in 1..=5 {
                    tx.send(i * 10).unwrap();
                }
            });
            let it: Iter<'_, i32> = rx.iter();
            assert_eq!(it.collect::<Vec<_>>(), [10, 20, 30, 40, 50]);
            producer.join().unwrap();
            // `for x in &rx` is `rx.iter()`.
            let (tx, rx) = channel();
            thread::spawn(move || tx.send(7).unwrap()).join().unwrap();
            let mut sum = 0;
            for x in &rx {
                sum += x;
            }
            assert_eq!(sum, 7);
        }

        fn try_iter_takes_what_is_there() {
            let (tx, rx) = channel();
            // Nothing yet, and a sender alive: ends at once.
            assert_eq!(rx.try_iter().next(), None);
            let sender = thread::spawn(move || {
                for i in 0..3 {
                    tx.send(i).unwrap();
                }
                tx
            });
            let tx = sender.join().unwrap();
            let now: TryIter<'_, i32> = rx.try_iter();
            assert_eq!(now.collect::<Vec<_>>(), [0, 1, 2]);
            // Still connected, still empty: still no waiting.
            assert_eq!(rx.try_iter().count(), 0);
            tx.send(3).unwrap();
            assert_eq!(rx.try_iter().collect::<Vec<_>>(), [3]);
        }

        fn into_iter_for_loop() {
            let (tx, rx) = sync_channel(1);
            let producer = thread::spawn(move || {
                for word in ["a", "b", "c"] {
                    tx.send(word.to_string()).unwrap();
                }
            });
            let mut joined = String::new();
            for word in rx {
                joined.push_str(&word);
            }
            producer.join().unwrap();
            assert_eq!(joined, "abc");
            let (tx, rx) = channel();
            tx.send(1u8).unwrap();
            drop(tx);
            let owned: IntoIter<u8> = rx.into_iter();
            assert_eq!(owned.collect::<Vec<_>>(), [1]);
        }

        fn sender_is_send_and_sync() {
            fn send_sync<T: Send + Sync>(_: &T) {}
            fn send<T: Send>(_: &T) {}
            let (tx, rx) = channel::<u32>();
            let (stx, srx) = sync_channel::<u32>(4);
            send_sync(&tx);
            send_sync(&stx);
            send(&rx);
            send(&srx);
            // One Sender, shared by reference with scoped threads (no
            // clones: `Sender: Sync` since Rust 1.72).
            thread::scope(|s| {
                for t in 0..4 {
                    let tx = &tx;
                    s.spawn(move || {
                        for i in 0..10 {
                            tx.send(t * 10 + i).unwrap();
                        }
                    });
                }
                s.spawn(|| stx.send(99).unwrap());
            });
            drop(tx);
            let mut got: Vec<u32> = rx.iter().collect();
            got.sort_unstable();
            assert_eq!(got, (0..40).collect::<Vec<_>>());
            assert_eq!(srx.recv(), Ok(99));
        }

        fn send_error_gives_the_value_back() {
            let (tx, rx) = channel();
            drop(rx);
            let err: SendError<Vec<u8>> = tx.send(vec![1, 2, 3]).unwrap_err();
            assert_eq!(err, SendError(vec![1, 2, 3]));
            let SendError(back) = err;
            assert_eq!(back, [1, 2, 3]);
            let (stx, srx) = sync_channel(0);
            drop(srx);
            assert_eq!(stx.send("x").unwrap_err().0, "x");
            // A receiver dropped on another thread fails a sender waiting
            // for room.
            let (stx, srx) = sync_channel(1);
            stx.send(1).unwrap();
            let dropper = thread::spawn(move || drop(srx));
            assert_eq!(stx.send(2), Err(SendError(2)));
            dropper.join().unwrap();
            // The conversions std provides.
            assert_eq!(TrySendError::from(SendError(4)), TrySendError::Disconnected(4));
            assert_eq!(TryRecvError::from(RecvError), TryRecvError::Disconnected);
            assert_eq!(RecvTimeoutError::from(RecvError), RecvTimeoutError::Disconnected);
        }

        fn errors_display_as_std() {
            assert_eq!(SendError(1).to_string(), "sending on a closed channel");
            assert_eq!(TrySendError::Full(1).to_string(), "sending on a full channel");
            assert_eq!(TrySendError::Disconnected(1).to_string(), "sending on a closed channel");
            assert_eq!(RecvError.to_string(), "receiving on a closed channel");
            assert_eq!(TryRecvError::Empty.to_string(), "receiving on an empty channel");
            assert_eq!(TryRecvError::Disconnected.to_string(), "receiving on a closed channel");
            assert_eq!(RecvTimeoutError::Timeout.to_string(), "timed out waiting on channel");
            assert_eq!(
                RecvTimeoutError::Disconnected.to_string(),
                "channel is empty and sending half is closed"
            );
            // Display honours width and alignment, as `str`'s does.
            assert_eq!(format!("[{:>30}]", RecvError), "[ receiving on a closed channel]");
        }

        fn errors_are_std_errors() {
            fn take_one(rx: &Receiver<u8>) -> Result<u8, Box<dyn Error + Send + Sync>> {
                Ok(rx.recv()?)
            }
            fn give_one(tx: &Sender<u8>) -> Result<(), Box<dyn Error + Send + Sync>> {
                tx.send(1)?;
                Ok(())
            }
            fn try_both(tx: &SyncSender<u8>, rx: &Receiver<u8>) -> Result<u8, Box<dyn Error>> {
                tx.try_send(2)?;
                let n = rx.try_recv()?;
                Ok(n + rx.recv_timeout(Duration::from_millis(1))?)
            }
            let (tx, rx) = channel();
            give_one(&tx).unwrap();
            assert_eq!(take_one(&rx).unwrap(), 1);
            drop(tx);
            assert_eq!(take_one(&rx).unwrap_err().to_string(), "receiving on a closed channel");
            let (tx, rx) = channel();
            drop(rx);
            assert_eq!(give_one(&tx).unwrap_err().to_string(), "sending on a closed channel");
            let (stx, srx) = sync_channel(1);
            let e = try_both(&stx, &srx).unwrap_err();
            assert_eq!(e.to_string(), "timed out waiting on channel");
            assert!(e.downcast_ref::<RecvTimeoutError>().is_some());
        }

        fn debug_is_opaque() {
            let (tx, rx) = channel::<String>();
            let (stx, _srx) = sync_channel::<String>(1);
            assert_eq!(format!("{tx:?}"), "Sender { .. }");
            assert_eq!(format!("{stx:?}"), "SyncSender { .. }");
            assert_eq!(format!("{rx:?}"), "Receiver { .. }");
            assert_eq!(format!("{:?}", rx.iter()), "Iter { rx: Receiver { .. } }");
            assert_eq!(format!("{:?}", rx.try_iter()), "TryIter { rx: Receiver { .. } }");
            assert_eq!(format!("{:?}", SendError(String::new())), "SendError { .. }");
            assert_eq!(format!("{:?}", RecvError), "RecvError");
            assert_eq!(format!("{:?}", TryRecvError::Empty), "Empty");
            assert_eq!(format!("{:?}", RecvTimeoutError::Timeout), "Timeout");
        }

        fn senders_clone_and_errors_copy() {
            let (tx, rx) = channel();
            let tx2 = Sender::clone(&tx);
            let (stx, srx) = sync_channel(2);
            let stx2 = SyncSender::clone(&stx);
            tx2.send(1).unwrap();
            stx2.send(2).unwrap();
            drop((tx, tx2, stx, stx2));
            assert_eq!(rx.recv(), Ok(1));
            assert_eq!(srx.recv(), Ok(2));
            // The error types are plain values: Copy, Eq.
            let e = TryRecvError::Empty;
            let copy = e;
            assert_eq!(e, copy);
            let t: TrySendError<u8> = TrySendError::Full(1);
            assert_eq!(t.clone(), t);
        }

        #[test]
        fn many_producers_runs() {
            $run(many_producers)
        }
        #[test]
        fn per_producer_order_is_kept_runs() {
            $run(per_producer_order_is_kept)
        }
        #[test]
        fn receiver_moves_to_a_worker_runs() {
            $run(receiver_moves_to_a_worker)
        }
        #[test]
        fn rendezvous_runs() {
            $run(rendezvous)
        }
        #[test]
        fn rendezvous_send_waits_for_the_receiver_runs() {
            $run(rendezvous_send_waits_for_the_receiver)
        }
        #[test]
        fn buffered_runs() {
            $run(buffered)
        }
        #[test]
        fn try_send_full_then_disconnected_runs() {
            $run(try_send_full_then_disconnected)
        }
        #[test]
        fn recv_after_every_sender_dropped_runs() {
            $run(recv_after_every_sender_dropped)
        }
        #[test]
        fn try_recv_empty_then_disconnected_runs() {
            $run(try_recv_empty_then_disconnected)
        }
        #[test]
        fn recv_timeout_timeout_then_disconnected_runs() {
            $run(recv_timeout_timeout_then_disconnected)
        }
        #[test]
        fn iter_waits_until_disconnected_runs() {
            $run(iter_waits_until_disconnected)
        }
        #[test]
        fn try_iter_takes_what_is_there_runs() {
            $run(try_iter_takes_what_is_there)
        }
        #[test]
        fn into_iter_for_loop_runs() {
            $run(into_iter_for_loop)
        }
        #[test]
        fn sender_is_send_and_sync_runs() {
            $run(sender_is_send_and_sync)
        }
        #[test]
        fn send_error_gives_the_value_back_runs() {
            $run(send_error_gives_the_value_back)
        }
        #[test]
        fn errors_display_as_std_runs() {
            $run(errors_display_as_std)
        }
        #[test]
        fn errors_are_std_errors_runs() {
            $run(errors_are_std_errors)
        }
        #[test]
        fn debug_is_opaque_runs() {
            $run(debug_is_opaque)
        }
        #[test]
        fn senders_clone_and_errors_copy_runs() {
            $run(senders_clone_and_errors_copy)
        }
    };
}

/// The programs as written, against std.
mod with_std {
    programs! {
        run = crate::on_os_thread;
        use std::error::Error;
        use std::sync::mpsc::{
            channel, sync_channel, IntoIter, Iter, Receiver, RecvError, RecvTimeoutError, SendError, Sender,
            SyncSender, TryIter, TryRecvError, TrySendError,
        };
        use std::thread;
        use std::time::Duration;
    }
}

/// The same programs, their `use` lines changed, on a plain OS thread.
mod verdant_on_os_thread {
    programs! {
        run = crate::on_os_thread;
        use std::error::Error;
        use std::time::Duration;
        use verdant as thread;
        use verdant::sync::mpsc::{
            channel, sync_channel, IntoIter, Iter, Receiver, RecvError, RecvTimeoutError, SendError, Sender,
            SyncSender, TryIter, TryRecvError, TrySendError,
        };
    }
}

/// The same programs, their `use` lines changed, inside a green thread.
mod verdant_in_green_thread {
    programs! {
        run = crate::in_green_thread;
        use std::error::Error;
        use std::time::Duration;
        use verdant as thread;
        use verdant::sync::mpsc::{
            channel, sync_channel, IntoIter, Iter, Receiver, RecvError, RecvTimeoutError, SendError, Sender,
            SyncSender, TryIter, TryRecvError, TrySendError,
        };
    }
}

/// A std `Receiver` is only `Send`; verdant's is also `Sync` (it is a
/// cloneable multi-consumer receiver underneath). That only widens what
/// compiles. What matters for a waiter is checked here: a verdant
/// receiver blocked on a plain OS thread is woken by a green thread's send.
#[test]
fn os_thread_receiver_woken_by_green_sender() {
    let _w = watchdog(Duration::from_secs(60));
    let (tx, rx) = verdant::sync::mpsc::sync_channel(0);
    let (ready_tx, ready_rx) = verdant::sync::mpsc::channel();
    let os = std::thread::spawn(move || {
        ready_tx.send(()).unwrap();
        rx.recv()
    });
    ready_rx.recv().unwrap();
    verdant::spawn(move || tx.send(42).unwrap()).join().unwrap();
    assert_eq!(os.join().unwrap(), Ok(42));
}

/// verdant's mpsc `RecvTimeoutError` has std's messages and converts to
/// and from the general channels' error.
#[test]
fn recv_timeout_error_converts_to_the_general_one() {
    use verdant::sync::mpsc;
    let general: verdant::sync::RecvTimeoutError = mpsc::RecvTimeoutError::Disconnected.into();
    assert_eq!(general, verdant::sync::RecvTimeoutError::Disconnected);
    let back: mpsc::RecvTimeoutError = verdant::sync::RecvTimeoutError::Timeout.into();
    assert_eq!(back, mpsc::RecvTimeoutError::Timeout);
    let (_tx, rx) = mpsc::channel::<u8>();
    let deadline = std::time::Instant::now() + Duration::from_millis(1);
    assert_eq!(rx.recv_deadline(deadline), Err(mpsc::RecvTimeoutError::Timeout));
}
