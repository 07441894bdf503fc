fn main() {
    let n: u64 = std::env::args().nth(1).unwrap().parse().unwrap();
    let rt = verdant::Runtime::builder().workers(1).watchdog(None).build().unwrap();
    rt.block_on(move || {
        let hs: Vec<_> = (0..n).map(|i| verdant::spawn(move || i)).collect();
        let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(s > 0);
    });
}
