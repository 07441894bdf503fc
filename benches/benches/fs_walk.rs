//! Walking a tree of 100 000 files (10 × 10 directories of 1 000 files,
//! env `BENCH_FS_FILES`), summing the files' sizes from their metadata:
//!
//! * `std::fs` on one plain OS thread, recursively (the floor: no handoff);
//! * `verdant::fs` on green threads, one per directory (a `Group`), with
//!   `ReadDir::with_metadata` (128 entries and their metadata per trip to
//!   the blocking pool), and on one green thread;
//! * `verdant::fs` on green threads asking each entry's metadata on its
//!   own (one trip per file), to show what the batching buys;
//! * `tokio::fs` on tasks, one per directory (a `JoinSet`): tokio's
//!   `ReadDir` fetches entries in chunks, and `DirEntry::metadata` is one
//!   `spawn_blocking` per file.
//!
//! Everything is in the page cache after the warm-up run: this measures the
//! runtimes' handoffs, not the disk. The tree is built once under the temp
//! directory and removed at the end.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Files and bytes found.
type Tally = (usize, u64);

fn build_tree(root: &Path, files: usize) -> Tally {
    let per_dir = files.div_ceil(100);
    let mut tally = (0, 0);
    for a in 0..10 {
        for b in 0..10 {
            let dir = root.join(format!("d{a}/e{b}"));
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..per_dir {
                let len = (tally.0 % 7) as u64;
                std::fs::write(dir.join(format!("f{i}")), vec![b'x'; len as usize]).unwrap();
                tally = (tally.0 + 1, tally.1 + len);
            }
        }
    }
    tally
}

fn std_walk(dir: &Path) -> Tally {
    let mut tally = (0, 0);
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let m = entry.metadata().unwrap();
        if m.is_dir() {
            let (n, b) = std_walk(&entry.path());
            tally = (tally.0 + n, tally.1 + b);
        } else {
            tally = (tally.0 + 1, tally.1 + m.len());
        }
    }
    tally
}

/// One directory with verdant: its files' tally and its subdirectories.
fn verdant_dir(dir: &Path, batched: bool) -> (Tally, Vec<PathBuf>) {
    let mut tally = (0, 0);
    let mut subdirs = Vec::new();
    let rd = verdant::fs::read_dir(dir).unwrap();
    let rd = if batched { rd.with_metadata() } else { rd };
    for entry in rd {
        let entry = entry.unwrap();
        let m = entry.metadata().unwrap();
        if m.is_dir() {
            subdirs.push(entry.path());
        } else {
            tally = (tally.0 + 1, tally.1 + m.len());
        }
    }
    (tally, subdirs)
}

/// A green thread per directory.
fn verdant_walk(root: &Path, batched: bool) -> Tally {
    let mut group = verdant::Group::new();
    let mut tally = (0, 0);
    let first = root.to_path_buf();
    group.spawn(move || verdant_dir(&first, batched));
    while let Some(done) = group.join_next() {
        let ((n, b), subdirs) = done.unwrap();
        tally = (tally.0 + n, tally.1 + b);
        for sub in subdirs {
            group.spawn(move || verdant_dir(&sub, batched));
        }
    }
    tally
}

/// One green thread, depth first.
fn verdant_walk_one(dir: &Path) -> Tally {
    let ((mut n, mut b), subdirs) = verdant_dir(dir, true);
    for sub in subdirs {
        let (n2, b2) = verdant_walk_one(&sub);
        n += n2;
        b += b2;
    }
    (n, b)
}

async fn tokio_dir(dir: PathBuf) -> (Tally, Vec<PathBuf>) {
    let mut tally = (0, 0);
    let mut subdirs = Vec::new();
    let mut rd = tokio::fs::read_dir(&dir).await.unwrap();
    while let Some(entry) = rd.next_entry().await.unwrap() {
        let m = entry.metadata().await.unwrap();
        if m.is_dir() {
            subdirs.push(entry.path());
        } else {
            tally = (tally.0 + 1, tally.1 + m.len());
        }
    }
    (tally, subdirs)
}

/// A task per directory.
async fn tokio_walk(root: &Path) -> Tally {
    let mut set = tokio::task::JoinSet::new();
    let mut tally = (0, 0);
    set.spawn(tokio_dir(root.to_path_buf()));
    while let Some(done) = set.join_next().await {
        let ((n, b), subdirs) = done.unwrap();
        tally = (tally.0 + n, tally.1 + b);
        for sub in subdirs {
            set.spawn(tokio_dir(sub));
        }
    }
    tally
}

fn timed(want: Tally, f: impl FnOnce() -> Tally) -> Duration {
    let t = Instant::now();
    let got = f();
    let elapsed = t.elapsed();
    assert_eq!(got, want, "the walk found a different tree");
    elapsed
}

fn main() {
    support::watchdog();
    let files = support::env_usize("BENCH_FS_FILES", 100_000);
    let workers = support::workers();
    let root = std::env::temp_dir().join(format!("verdant-bench-fs-walk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let want = build_tree(&root, files);
    let (vrt, trt) = support::runtimes(workers);
    let stats = support::measure(&mut [
        &mut || timed(want, || std_walk(&root)),
        &mut || {
            let r = root.clone();
            timed(want, || vrt.block_on(move || verdant_walk(&r, true)))
        },
        &mut || {
            let r = root.clone();
            timed(want, || vrt.block_on(move || verdant_walk_one(&r)))
        },
        &mut || {
            let r = root.clone();
            timed(want, || vrt.block_on(move || verdant_walk(&r, false)))
        },
        &mut || timed(want, || trt.block_on(tokio_walk(&root))),
    ]);
    std::fs::remove_dir_all(&root).unwrap();
    let [std, green, one, unbatched, tokio] = [0, 1, 2, 3, 4].map(|i| stats[i].per(1_000_000));
    let title = format!(
        "fs_walk: {} files in 110 directories, size of each, {workers} workers",
        support::grouped(want.0)
    );
    support::print_header(
        &title,
        "fs_walk",
        &[
            ("BENCH_FS_FILES", files.to_string()),
            ("BENCH_WORKERS", workers.to_string()),
        ],
    );
    let vs_std = support::Ratio::VerdantOverPeer("std");
    let vs_tokio = support::Ratio::VerdantOverPeer("tokio");
    support::print_row(
        "green thread per dir, with_metadata vs std, one OS thread",
        "ms",
        green,
        std,
        vs_std,
    );
    support::print_row(
        "one green thread, with_metadata vs std, one OS thread",
        "ms",
        one,
        std,
        vs_std,
    );
    support::print_row(
        "green thread per dir, with_metadata vs tokio::fs, task per dir",
        "ms",
        green,
        tokio,
        vs_tokio,
    );
    support::print_row(
        "green thread per dir, metadata per entry vs tokio::fs, task per dir",
        "ms",
        unbatched,
        tokio,
        vs_tokio,
    );
}
