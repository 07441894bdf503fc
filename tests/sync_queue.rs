mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{assert_not_before, run};
use verdant::sync::{LifoQueue, PriorityQueue, Queue, WaitGroup};

#[test]
fn smoke() {
    run(|| {
        let q = Queue::new();
        q.put(1);
        q.put(2);
        assert_eq!((q.get(), q.get()), (1, 2));
        assert!(q.try_get().is_err());
        let p = PriorityQueue::new();
        [5, 1, 3].into_iter().for_each(|x| p.put(x));
        assert_eq!([p.get(), p.get(), p.get()], [1, 3, 5]);
        let l = LifoQueue::new();
        [1, 2, 3].into_iter().for_each(|x| l.put(x));
        assert_eq!([l.get(), l.get(), l.get()], [3, 2, 1]);
    });
}

#[test]
fn bounded_backpressure() {
    run(|| {
        let q = Queue::bounded(2);
        q.put(1);
        q.put(2);
        assert_eq!(q.try_put(3).unwrap_err().0, 3);
        let t = Instant::now();
        assert!(q.put_timeout(3, Duration::from_millis(20)).is_err());
        assert_not_before(t, Duration::from_millis(20));
        let q2 = q.clone();
        let h = verdant::spawn(move || q2.put(3)); // waits for room
        assert_eq!(q.get(), 1);
        h.join().unwrap();
        assert_eq!(q.len(), 2);
    });
}

#[test]
fn join_waits_for_every_task_done() {
    run(|| {
        let q = Queue::bounded(4);
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let (q, done) = (q.clone(), done.clone());
            verdant::spawn(move || loop {
                let job: u32 = q.get();
                verdant::sleep(Duration::from_millis(1));
                done.fetch_add(1, Ordering::SeqCst);
                q.task_done();
                if job == u32::MAX {
                    return;
                }
            });
        }
        for j in 0..100 {
            q.put(j);
        }
        q.join();
        assert_eq!(done.load(Ordering::SeqCst), 100);
        assert_eq!(q.unfinished_tasks(), 0);
        for _ in 0..3 {
            q.put(u32::MAX);
        }
        q.join();
    });
}

#[test]
#[should_panic(expected = "task_done")]
fn task_done_too_often_panics() {
    Queue::<u8>::new().task_done();
}

#[test]
fn mpmc_green_and_os() {
    run(|| {
        let q = Queue::bounded(8);
        let n = 20_000;
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || (0..n).for_each(|i| q.put(i)))
            })
            .chain((0..2).map(|_| {
                let q = q.clone();
                std::thread::spawn(move || verdant::spawn(move || (0..n).for_each(|i| q.put(i))).join().unwrap())
            }))
            .collect();
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let q = q.clone();
                verdant::spawn(move || (0..n).map(|_| q.get() as u64).sum::<u64>())
            })
            .collect();
        producers.into_iter().for_each(support::join_os);
        let s: u64 = consumers.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(s, 4 * (n as u64 * (n as u64 - 1) / 2));
    });
}

#[test]
fn timeout_then_notify() {
    run(|| {
        let q = Queue::<u32>::new();
        assert!(q.get_timeout(Duration::from_millis(10)).is_err());
        let q2 = q.clone();
        verdant::spawn(move || q2.put(1));
        assert_eq!(q.get_timeout(Duration::from_secs(30)), Ok(1));
    });
}

#[test]
fn drop_while_waiting() {
    run(|| {
        let q = Queue::<u32>::new();
        let q2 = q.clone();
        let victim = verdant::spawn(move || q2.get());
        verdant::sleep(Duration::from_millis(10));
        victim.cancel();
        assert!(victim.join().unwrap_err().is_cancelled());
        let q3 = q.clone();
        let other = verdant::spawn(move || q3.get());
        q.put(4);
        assert_eq!(other.join().unwrap(), 4);
    });
}

#[test]
fn wait_group() {
    run(|| {
        let wg = WaitGroup::new();
        let n = Arc::new(AtomicUsize::new(0));
        for _ in 0..20 {
            wg.add(1);
            let (wg, n) = (wg.clone(), n.clone());
            verdant::spawn(move || {
                verdant::yield_now();
                n.fetch_add(1, Ordering::SeqCst);
                wg.done();
            });
        }
        wg.wait();
        assert_eq!(n.load(Ordering::SeqCst), 20);
        wg.add(1);
        assert!(!wg.wait_timeout(Duration::from_millis(5)));
    });
}
