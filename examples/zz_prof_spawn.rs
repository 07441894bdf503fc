fn main() {
    let rt = verdant::Runtime::builder().workers(2).watchdog(None).build().unwrap();
    for _ in 0..10 {
        let hs: Vec<_> = (0..100_000u64).map(|i| rt.spawn(move || i)).collect();
        let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(s > 0);
    }
}
