//! The washer/dryer pipeline: one washer feeds a bounded queue (it waits
//! when the drying rack is full: backpressure), several dryers take dishes
//! off it, `task_done` marks each dish dry and `join` waits for all of them.
//!
//! Run: `cargo run --example pipeline`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use verdant::sync::Queue;

const DISHES: usize = 40;
const DRYERS: usize = 4;
const RACK: usize = 3;

fn main() {
    let rt = verdant::Runtime::builder().workers(2).build().expect("runtime");
    rt.block_on(|| {
        let start = Instant::now();
        let rack: Queue<usize> = Queue::bounded(RACK);
        let dried = Arc::new(AtomicUsize::new(0));

        for d in 0..DRYERS {
            let rack = rack.clone();
            let dried = dried.clone();
            // Detached: the dryers run for as long as there are dishes.
            verdant::spawn(move || loop {
                let dish = rack.get();
                verdant::sleep(Duration::from_millis(20)); // drying is slow
                dried.fetch_add(1, Ordering::Relaxed);
                println!("dryer {d} dried dish {dish}");
                rack.task_done();
            });
        }

        for dish in 0..DISHES {
            verdant::sleep(Duration::from_millis(2)); // washing is quick
            rack.put(dish); // waits while the rack holds RACK dishes
            assert!(rack.len() <= RACK);
        }
        rack.join(); // every dish put has been marked dry
        assert_eq!(dried.load(Ordering::Relaxed), DISHES);
        println!(
            "{DISHES} dishes washed and dried by {DRYERS} dryers in {:?}",
            start.elapsed()
        );
    });
}
