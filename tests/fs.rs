//! `verdant::fs` against `std::fs` on the same files, from green threads
//! and from an OS thread; a ticker keeps ticking while green threads wait
//! on the pool; a timeout around a file call; batched directory listing.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use verdant::fs;

/// A fresh directory under the temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("verdant-test-fs-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// name → (is_dir, len) for a directory, listed by std.
fn std_listing(dir: &Path) -> BTreeMap<String, (bool, u64)> {
    std::fs::read_dir(dir)
        .expect("std read_dir")
        .map(|e| {
            let e = e.expect("std entry");
            let m = e.metadata().expect("std metadata");
            (e.file_name().into_string().unwrap(), (m.is_dir(), m.len()))
        })
        .collect()
}

/// The same, listed by verdant (with or without batched metadata).
fn verdant_listing(dir: &Path, with_metadata: bool) -> BTreeMap<String, (bool, u64)> {
    let rd = fs::read_dir(dir).expect("verdant read_dir");
    let rd = if with_metadata { rd.with_metadata() } else { rd };
    rd.map(|e| {
        let e = e.expect("verdant entry");
        let m = e.metadata().expect("verdant metadata");
        assert_eq!(e.file_type().unwrap().is_dir(), m.is_dir());
        assert_eq!(e.path(), dir.join(e.file_name()));
        (e.file_name().into_string().unwrap(), (m.is_dir(), m.len()))
    })
    .collect()
}

/// Every call, checked against std on the same files. Runs wherever it is
/// called (a green thread or an OS thread).
fn round_trip(dir: &Path) {
    // write / read / read_to_string, both ways across std and verdant.
    fs::write(dir.join("a.txt"), "from verdant").unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("a.txt")).unwrap(), "from verdant");
    std::fs::write(dir.join("b.bin"), [0u8, 1, 2, 255]).unwrap();
    assert_eq!(fs::read(dir.join("b.bin")).unwrap(), [0u8, 1, 2, 255]);
    assert_eq!(fs::read_to_string(dir.join("a.txt")).unwrap(), "from verdant");
    let err = fs::read_to_string(dir.join("b.bin")).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);

    // metadata against std's.
    let (ours, theirs) = (
        fs::metadata(dir.join("b.bin")).unwrap(),
        std::fs::metadata(dir.join("b.bin")).unwrap(),
    );
    assert_eq!(ours.len(), theirs.len());
    assert_eq!(ours.modified().unwrap(), theirs.modified().unwrap());
    assert!(fs::exists(dir.join("a.txt")).unwrap());
    assert!(!fs::exists(dir.join("nope")).unwrap());
    assert_eq!(
        fs::metadata(dir.join("nope")).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );

    // File: create, write, seek, overwrite, read back in pieces.
    let mut f = fs::File::create(dir.join("c.txt")).unwrap();
    f.write_all(b"hello, file").unwrap();
    assert_eq!(f.seek(SeekFrom::Start(7)).unwrap(), 7);
    assert_eq!(f.write(b"world").unwrap(), 5);
    f.sync_all().unwrap();
    assert_eq!(f.metadata().unwrap().len(), 12);
    drop(f);
    assert_eq!(std::fs::read(dir.join("c.txt")).unwrap(), b"hello, world");
    let mut f = fs::File::open(dir.join("c.txt")).unwrap();
    let mut head = [0u8; 5];
    f.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"hello");
    let mut rest = String::new();
    f.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, ", world");
    assert_eq!(f.read(&mut head).unwrap(), 0, "at the end");
    f.seek(SeekFrom::End(-5)).unwrap();
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, b"world");

    // OpenOptions: append, create_new.
    let mut f = fs::OpenOptions::new().append(true).open(dir.join("c.txt")).unwrap();
    f.write_all(b"!").unwrap();
    assert_eq!(std::fs::read(dir.join("c.txt")).unwrap(), b"hello, world!");
    let err = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join("c.txt"))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);

    // Directories, rename, copy, remove.
    fs::create_dir_all(dir.join("d/e/f")).unwrap();
    assert!(std::fs::metadata(dir.join("d/e/f")).unwrap().is_dir());
    fs::rename(dir.join("a.txt"), dir.join("d/e/moved.txt")).unwrap();
    assert!(!dir.join("a.txt").exists());
    assert_eq!(fs::copy(dir.join("d/e/moved.txt"), dir.join("copy.txt")).unwrap(), 12);
    assert_eq!(verdant_listing(dir, false), std_listing(dir));
    assert_eq!(verdant_listing(dir, true), std_listing(dir));
    fs::remove_file(dir.join("copy.txt")).unwrap();
    assert!(!dir.join("copy.txt").exists());
    assert_eq!(
        fs::remove_dir(dir.join("d")).unwrap_err().kind(),
        std::io::ErrorKind::DirectoryNotEmpty
    );
    fs::remove_dir_all(dir.join("d")).unwrap();
    assert!(!dir.join("d").exists());
    assert_eq!(fs::canonicalize(dir).unwrap(), std::fs::canonicalize(dir).unwrap());
}

#[test]
fn matches_std_from_green_threads() {
    let _w = support::watchdog(Duration::from_secs(60));
    let dirs: Vec<TempDir> = (0..8).map(|_| TempDir::new("green")).collect();
    let handles: Vec<_> = dirs
        .iter()
        .map(|d| {
            let path = d.0.clone();
            verdant::spawn(move || round_trip(&path))
        })
        .collect();
    for h in handles {
        h.join().expect("round trip in a green thread");
    }
}

#[test]
fn matches_std_from_an_os_thread() {
    let _w = support::watchdog(Duration::from_secs(60));
    let dir = TempDir::new("os");
    round_trip(&dir.0);
}

#[test]
fn read_dir_crosses_batches_and_matches_std() {
    let _w = support::watchdog(Duration::from_secs(60));
    let dir = TempDir::new("batches");
    // Three and a bit batches, sizes all different.
    let n = 3 * fs::READ_DIR_BATCH + 7;
    for i in 0..n {
        std::fs::write(dir.0.join(format!("f{i:04}")), vec![b'x'; i]).unwrap();
    }
    std::fs::create_dir(dir.0.join("sub")).unwrap();
    let want = std_listing(&dir.0);
    assert_eq!(want.len(), n + 1);
    let path = dir.0.clone();
    let (plain, with_meta) = verdant::spawn(move || (verdant_listing(&path, false), verdant_listing(&path, true)))
        .join()
        .unwrap();
    assert_eq!(plain, want);
    assert_eq!(with_meta, want);
}

#[test]
fn read_dir_of_a_missing_directory_is_not_found() {
    let err = verdant::spawn(|| fs::read_dir("/no/such/dir/for/verdant").map(|_| ()))
        .join()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

/// Green threads waiting on file calls leave their worker free: on a
/// one-worker runtime a ticker keeps ticking while 64 green threads read
/// and write files.
#[test]
fn a_ticker_ticks_while_green_threads_wait_on_files() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = support::rt(1);
    let dir = TempDir::new("ticker");
    let done = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = {
        let (done, ticks) = (done.clone(), ticks.clone());
        rt.spawn(move || {
            while !done.load(Ordering::Acquire) {
                verdant::sleep(Duration::from_millis(1));
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let workers: Vec<_> = (0..64)
        .map(|i| {
            let path = dir.0.join(format!("w{i}"));
            rt.spawn(move || {
                for round in 0..20u32 {
                    fs::write(&path, round.to_le_bytes()).unwrap();
                    assert_eq!(fs::read(&path).unwrap(), round.to_le_bytes());
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // A read held in the kernel for as long as the test likes: a FIFO
    // whose writer stays open with nothing written. While the pool thread
    // waits in it, the one worker must keep the ticker going (a read that
    // blocked the worker would stop it, and the watchdog would end the
    // test).
    let fifo = fifo(&dir.0);
    let f = fifo.clone();
    let reader = rt.spawn(move || fs::read(&f));
    let writer = open_writer(&fifo, || false);
    let t0 = ticks.load(Ordering::Relaxed);
    while ticks.load(Ordering::Relaxed) < t0 + 5 {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(writer);
    assert_eq!(
        reader.join().unwrap().unwrap(),
        b"",
        "the read ends at the writer's close"
    );
    done.store(true, Ordering::Release);
    ticker.join().unwrap();
}

/// A FIFO under `dir`: opening it for reading blocks until a writer
/// opens it, a file call that really blocks in the kernel.
fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("fifo");
    let st = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("run mkfifo");
    assert!(st.success(), "mkfifo failed");
    path
}

/// Releases the pool thread that opens `fifo` for reading: waits until
/// it has (a non-blocking open for writing fails with ENXIO while no
/// reader has the FIFO open), then opens and closes the writing end, so
/// its open returns and its read sees the end. Gives up once `gone` says
/// the call will never come (a cancellation that stopped it first).
fn release(fifo: &Path, gone: impl Fn() -> bool) {
    drop(open_writer(fifo, gone));
}

/// Opens `fifo` for writing once a reader has it open (a non-blocking
/// open for writing fails with ENXIO until then); `None` if `gone` says
/// first that no reader will come.
fn open_writer(fifo: &Path, gone: impl Fn() -> bool) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    for _ in 0..20_000 {
        let w = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo);
        match w {
            Ok(w) => return Some(w),
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                if gone() {
                    return None;
                }
                // No signal says "a pool thread is in open(2)": poll.
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("open the fifo for writing: {e}"),
        }
    }
    panic!("no reader opened the fifo in 20 000 tries");
}

/// A timeout around a file call blocked in the kernel cuts the green
/// thread's wait short (`Err(Elapsed)`) while the call runs on.
#[test]
fn a_timeout_cuts_short_a_call_blocked_in_the_kernel() {
    let _w = support::watchdog(Duration::from_secs(60));
    let dir = TempDir::new("timeout");
    let fifo = fifo(&dir.0);
    let f = fifo.clone();
    let cut = verdant::spawn(move || verdant::timeout(Duration::from_millis(50), || fs::read(&f)).is_err())
        .join()
        .unwrap();
    assert!(cut, "the read of a FIFO with no writer cannot finish");
    release(&fifo, || false);
}

/// Cancelling a green thread parked in a file call unwinds it (its
/// destructors run) once the call has returned: its effects are complete
/// when the destructors run.
#[test]
fn cancel_a_green_thread_parked_in_a_file_call() {
    let _w = support::watchdog(Duration::from_secs(60));
    let dir = TempDir::new("cancel");
    let fifo = fifo(&dir.0);
    let dropped = Arc::new(AtomicBool::new(false));
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    let (f, flag) = (fifo.clone(), Flag(dropped.clone()));
    let (started_tx, started_rx) = verdant::sync::mpsc::channel();
    let h = verdant::spawn(move || {
        let _flag = flag;
        started_tx.send(()).unwrap();
        fs::read(&f)
    });
    started_rx.recv().unwrap();
    h.cancel();
    // The cancellation takes effect once the std call has returned (as
    // for any `spawn_blocking` join): let it return. (Releasing before the
    // pool thread had opened the FIFO left its open blocked for good, and
    // the join with it: the test hung once under load.)
    release(&fifo, || h.is_finished());
    assert!(h.join().unwrap_err().is_cancelled());
    assert!(
        dropped.load(Ordering::Acquire),
        "the cancelled thread's destructors ran"
    );
}
