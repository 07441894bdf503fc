//! Per-worker pool of guarded coroutine stacks (`docs/architecture.md`,
//! "Pooled guarded stacks").
//!
//! A green thread runs on a stack handed out by its worker's [`StackPool`].
//! The pool never calls `mmap` on the hot path: memory is reserved in
//! *chunks*, one `mmap(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
//! MAP_NORESERVE)` region per ~64 MiB (at least [`MIN_SLOTS_PER_CHUNK`] slots)
//! of one *size class* (usable size rounded up to whole pages). Slots are
//! carved from the newest chunk by bump allocation and, once returned, reused
//! LIFO, so the most recently used (still cache- and TLB-warm) stack goes out
//! first.
//!
//! # Chunk layout
//!
//! ```text
//!  chunk start (page aligned)                                  chunk end
//!  │                                                                 │
//!  ▼ slot 0                      slot 1                              ▼
//!  ┌───────┬────────────────────┬───────┬────────────────────┬─ ─ ─ ─┐
//!  │ guard │  usable (N bytes)  │ guard │  usable (N bytes)  │ not   │
//!  │ page  │  ◄── grows down ── │ page  │  ◄── grows down ── │ carved│
//!  └───────┴────────────────────┴───────┴────────────────────┴─ ─ ─ ─┘
//!  ▲       ▲                    ▲
//!  limit() guard_range().1      base() of slot 0  (= guard of slot 1)
//!  = guard_range().0
//! ```
//!
//! * `limit()` is the low end of the slot *including* the guard page, as the
//!   [`Stack`] trait requires; `base()` is one past the last usable byte. Both
//!   are page aligned, hence aligned to [`STACK_ALIGNMENT`].
//! * The guard sits at the low end because stacks grow down: an overflowing
//!   stack hits its own guard before it could reach the slot below. Rust
//!   emits stack probes for frames larger than a page on x86_64, so no frame
//!   can step over a one-page guard (foreign C code built without
//!   `-fstack-clash-protection` could; see `docs/caveats.md`).
//!
//! # Guard pages
//!
//! [`guard_mode`] is detected once per process:
//!
//! * [`GuardMode::MadviseGuard`] (Linux ≥ 6.13): `madvise(MADV_GUARD_INSTALL)`
//!   writes guard markers into the page tables. The chunk stays **one** kernel
//!   mapping, so 1 000 000 guarded 256 KiB stacks need at most ~4 000
//!   mappings, far under `vm.max_map_count` (65530); in practice adjacent
//!   chunks merge and they show up as one or two `/proc/self/maps` lines. The
//!   markers survive `MADV_DONTNEED` (only `MADV_GUARD_REMOVE` or `munmap`
//!   drop them; a unit test checks this). Cost: page-table memory, ~512 bytes
//!   per 256 KiB stack, for the PTE page holding the marker.
//! * [`GuardMode::Mprotect`] (older kernels, or `VERDANT_STACK_GUARD=mprotect`):
//!   `mprotect(PROT_NONE)` per guard page splits the chunk, costing two
//!   mappings per stack. A process-wide cap derived from
//!   `/proc/sys/vm/max_map_count` (80 % of it minus the mappings that exist
//!   when the first guard is installed, halved) makes [`StackPool::get`] fail with an error naming
//!   the sysctl instead of letting unrelated `mmap` calls fail later.
//!
//! Guards are installed once, when a slot is first carved, and stay for the
//! life of the chunk; reuse costs no system call. In `MadviseGuard` mode
//! they are installed ahead, [`GUARD_BATCH`] slots at a time, with one
//! `process_madvise` (a vector of ranges, accepted for guard advice on this
//! process since Linux 6.13): one mmap-lock round trip and one TLB flush
//! (perf shows `madvise` guard installs ending in flush IPIs to the other
//! CPUs running this process) per batch instead of per stack. The price is
//! page tables set up before they are needed: a batch of 256 KiB stacks
//! spans ~64 MiB, ~32 PTE pages (~128 KiB) per worker and size class, even
//! for one green thread. A kernel that refuses it gets one `madvise` per
//! slot, as before.
//!
//! # Memory
//!
//! Stacks are touched lazily, so a fresh stack costs one resident page per
//! page of stack it actually uses, plus its share of page tables (measured:
//! a 256 KiB stack touched once at the top costs ~4.6 KiB, ~520 bytes of
//! which are page tables). Returned stacks go on a *hot* list (resident)
//! and are reused LIFO, so a burst recycles warm stacks without a system
//! call. Decommitting is deferred: [`StackPool::trim`], which a worker calls
//! when it runs out of work, moves the oldest hot stacks beyond
//! `keep_resident` to a *cold* list after `MADV_DONTNEED` on their usable
//! part (the guard is left alone), a bounded batch at a time. Doing it on
//! every return instead cost a TLB-shootdown IPI per green thread and a page
//! fault on its reuse (measured: 15x slower to start a million sleepers).
//! `MADV_NOHUGEPAGE` is set on each chunk: one 2 MiB huge page per stack
//! would wreck the memory target.
//!
//! Chunks are **never unmapped while the pool lives**, and a [`PooledStack`]
//! holds no reference to its pool, so it may outlive it. When the pool is
//! dropped, a chunk is unmapped only if every slot carved from it is back in
//! the pool's free lists; otherwise the chunk is leaked (decommitted slots
//! cost only address space). A [`PooledStack`] dropped instead of
//! [`put`](StackPool::put) back decommits its memory and its slot is leaked.

use std::collections::VecDeque;
use std::io;
use std::mem::ManuallyDrop;
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

use corosensei::stack::{Stack, StackPointer, MIN_STACK_SIZE, STACK_ALIGNMENT};

/// `MADV_GUARD_INSTALL` from `<linux/mman.h>` (Linux 6.13); libc 0.2 lacks it.
const MADV_GUARD_INSTALL: libc::c_int = 102;
/// Preferred chunk size; a chunk holds at least [`MIN_SLOTS_PER_CHUNK`] slots.
const CHUNK_BYTES: usize = 64 << 20;
/// Lower bound on slots per chunk, so large stacks still amortise the `mmap`.
const MIN_SLOTS_PER_CHUNK: usize = 16;
/// Environment variable that forces the guard mode (`mprotect`), read once.
const GUARD_ENV: &str = "VERDANT_STACK_GUARD";
/// Share of `vm.max_map_count` the mprotect fallback may use, in percent.
const MAP_COUNT_BUDGET_PERCENT: usize = 80;

// Page alignment implies stack alignment for every page size we may meet.
const _: () = assert!(STACK_ALIGNMENT <= 4096 && 4096 % STACK_ALIGNMENT == 0);

/// How guard pages are installed; detected once per process by [`guard_mode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)`: guard markers in page tables, one
    /// mapping per chunk (Linux ≥ 6.13).
    MadviseGuard,
    /// `mprotect(PROT_NONE)` per guard page: two mappings per stack, capped.
    Mprotect,
}

/// The process-wide guard mode: `VERDANT_STACK_GUARD=mprotect` forces the
/// fallback, otherwise a probe tries `MADV_GUARD_INSTALL` on a scratch page.
pub(crate) fn guard_mode() -> GuardMode {
    static MODE: OnceLock<GuardMode> = OnceLock::new();
    *MODE.get_or_init(|| match std::env::var(GUARD_ENV).as_deref() {
        Ok("mprotect") => GuardMode::Mprotect,
        _ if probe_madvise_guard() => GuardMode::MadviseGuard,
        _ => GuardMode::Mprotect,
    })
}

fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = usize::try_from(page).expect("sysconf(_SC_PAGESIZE) failed");
        assert!(page.is_power_of_two() && page >= STACK_ALIGNMENT);
        page
    })
}

/// Maps a fresh `len`-byte private anonymous read-write region, reserving no
/// swap, and returns its address.
fn map_anon(len: usize) -> io::Result<usize> {
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    // SAFETY: a null hint without MAP_FIXED makes the kernel pick an unused
    // range, so no existing memory (and no Rust object) is affected.
    let addr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(addr as usize)
}

/// Unmaps `addr..addr + len`.
///
/// # Safety
///
/// The range must be a region (or whole chunk) this module mapped, and no
/// live stack, reference or pointer may still be used to access it.
unsafe fn unmap(addr: usize, len: usize) {
    // SAFETY: the caller guarantees the range is ours and unused.
    let ret = unsafe { libc::munmap(addr as *mut libc::c_void, len) };
    debug_assert_eq!(ret, 0, "munmap: {}", io::Error::last_os_error());
}

/// Calls `madvise(addr, len, advice)`.
///
/// # Safety
///
/// The range must lie in a region this module mapped. For advice that
/// discards contents (`MADV_DONTNEED`) or revokes access (guard install), no
/// live reference may point into the range: it must be a free slot.
unsafe fn madvise(addr: usize, len: usize, advice: libc::c_int) -> io::Result<()> {
    // SAFETY: forwarded from the caller's contract.
    if unsafe { libc::madvise(addr as *mut libc::c_void, len, advice) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Tries `MADV_GUARD_INSTALL` on a scratch mapping.
fn probe_madvise_guard() -> bool {
    let page = page_size();
    let Ok(scratch) = map_anon(2 * page) else {
        return false;
    };
    // SAFETY: `scratch` is a fresh private mapping nothing else knows about.
    let ok = unsafe { madvise(scratch, page, MADV_GUARD_INSTALL) }.is_ok();
    // SAFETY: as above; it is unmapped before anyone could use it.
    unsafe { unmap(scratch, 2 * page) };
    ok
}

/// Guard pages installed with `mprotect` by all pools of the process.
static MPROTECT_GUARDS: AtomicUsize = AtomicUsize::new(0);

/// `(cap on mprotect-guarded stacks, vm.max_map_count)`, computed once.
fn mprotect_cap() -> (usize, usize) {
    static CAP: OnceLock<(usize, usize)> = OnceLock::new();
    *CAP.get_or_init(|| {
        let max = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(65530);
        let used = std::fs::read("/proc/self/maps")
            .map(|m| m.iter().filter(|&&b| b == b'\n').count())
            .unwrap_or(0);
        let budget = (max / 100 * MAP_COUNT_BUDGET_PERCENT).saturating_sub(used);
        (budget / 2, max)
    })
}

/// Counts one more mprotect guard, or fails with an error naming the sysctl.
fn reserve_mprotect_guard() -> io::Result<()> {
    let (cap, max) = mprotect_cap();
    MPROTECT_GUARDS
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < cap).then_some(n + 1))
        .map(drop)
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "verdant: cannot guard more than {cap} green-thread stacks with mprotect on \
                     this kernel (vm.max_map_count = {max}); raise it with `sysctl -w \
                     vm.max_map_count={}` (2 mappings per stack) or run Linux >= 6.13 for \
                     MADV_GUARD_INSTALL",
                    max.saturating_mul(4)
                ),
            )
        })
}

/// One `mmap` region of a size class.
#[derive(Debug)]
struct Chunk {
    addr: usize,
    len: usize,
    /// Slots carved so far; slot `i` starts at `addr + i * slot_len`.
    carved: usize,
    /// Slots whose guard page is installed (`>= carved`: installed ahead
    /// in batches).
    guarded: usize,
}

/// Free list and chunks of one usable size.
#[derive(Debug)]
struct SizeClass {
    /// Usable bytes per stack, a page multiple `>= MIN_STACK_SIZE`.
    usable: usize,
    /// Guard page plus usable bytes.
    slot_len: usize,
    slots_per_chunk: usize,
    /// Low ends (guard addresses) of free resident slots: reused from the
    /// back (LIFO), trimmed from the front (oldest first).
    /// # Invariant
    /// Each entry of `hot` and `cold` is a carved slot whose guard is
    /// installed and which no `PooledStack` refers to; `cold` entries are
    /// decommitted.
    hot: VecDeque<usize>,
    /// Free decommitted slots, reused when `hot` is empty.
    cold: Vec<usize>,
    /// The newest chunk is last; only it may have uncarved slots.
    chunks: Vec<Chunk>,
}

/// A per-worker pool of guarded stacks (see the module docs).
#[derive(Debug)]
pub(crate) struct StackPool {
    /// Usually one entry; linear search beats hashing for so few classes.
    classes: Vec<SizeClass>,
    keep_resident: usize,
    mode: GuardMode,
    page: usize,
}

impl StackPool {
    /// Creates an empty pool; per size class, free stacks beyond
    /// `keep_resident` are decommitted (`MADV_DONTNEED`) by [`Self::trim`].
    pub(crate) fn new(keep_resident: usize) -> StackPool {
        StackPool::with_mode(keep_resident, guard_mode())
    }

    fn with_mode(keep_resident: usize, mode: GuardMode) -> StackPool {
        StackPool {
            classes: Vec::new(),
            keep_resident,
            mode,
            page: page_size(),
        }
    }

    /// Hands out a stack with at least `stack_size` usable bytes (rounded up
    /// to whole pages, at least [`MIN_STACK_SIZE`]), reusing the most recently
    /// returned stack of that size if there is one.
    #[inline]
    pub(crate) fn get(&mut self, stack_size: usize) -> io::Result<PooledStack> {
        let mask = self.page - 1; // a power of two: no division on the hot path
        let usable = (stack_size.max(MIN_STACK_SIZE).checked_add(mask))
            .map(|n| n & !mask)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "stack size too large"))?;
        let index = self.class_index(usable)?;
        let class = &mut self.classes[index];
        match class.hot.pop_back().or_else(|| class.cold.pop()) {
            Some(lo) => Ok(PooledStack {
                lo,
                guard: self.page,
                usable,
            }),
            None => self.carve_slow(index),
        }
    }

    /// Returns a stack to the pool (it may come from any pool of this
    /// process; chunks are never unmapped while stacks are out).
    #[inline]
    pub(crate) fn put(&mut self, stack: PooledStack) {
        let stack = ManuallyDrop::new(stack);
        let Ok(index) = self.class_index(stack.usable) else {
            // Only reachable for a size no pool could have handed out.
            drop(ManuallyDrop::into_inner(stack));
            return;
        };
        self.classes[index].hot.push_back(stack.lo);
    }

    /// Free stacks: (resident, decommitted), over every size class.
    pub(crate) fn free_counts(&self) -> (usize, usize) {
        self.classes
            .iter()
            .fold((0, 0), |(h, c), class| (h + class.hot.len(), c + class.cold.len()))
    }

    /// Decommits up to `budget` free stacks beyond `keep_resident` per size
    /// class, oldest first. Returns whether any excess remains.
    pub(crate) fn trim(&mut self, mut budget: usize) -> bool {
        for class in &mut self.classes {
            while class.hot.len() > self.keep_resident {
                if budget == 0 {
                    return true;
                }
                let lo = class.hot.pop_front().expect("longer than keep_resident");
                decommit(lo + self.page, class.usable);
                class.cold.push(lo);
                budget -= 1;
            }
        }
        false
    }

    /// Finds or creates the size class for `usable` bytes.
    #[inline]
    fn class_index(&mut self, usable: usize) -> io::Result<usize> {
        if let Some(i) = self.classes.iter().position(|c| c.usable == usable) {
            return Ok(i);
        }
        let too_large = || io::Error::new(io::ErrorKind::InvalidInput, "stack size too large");
        let slot_len = usable.checked_add(self.page).ok_or_else(too_large)?;
        let slots_per_chunk = (CHUNK_BYTES / slot_len).max(MIN_SLOTS_PER_CHUNK);
        slot_len.checked_mul(slots_per_chunk).ok_or_else(too_large)?;
        self.classes.push(SizeClass {
            usable,
            slot_len,
            slots_per_chunk,
            hot: VecDeque::new(),
            cold: Vec::new(),
            chunks: Vec::new(),
        });
        Ok(self.classes.len() - 1)
    }

    /// Carves a never-used slot, mapping a new chunk when the newest is full.
    #[cold]
    fn carve_slow(&mut self, index: usize) -> io::Result<PooledStack> {
        let (mode, page) = (self.mode, self.page);
        let class = &mut self.classes[index];
        if class.chunks.last().is_none_or(|c| c.carved == class.slots_per_chunk) {
            let len = class.slot_len * class.slots_per_chunk;
            let addr = map_anon(len)?;
            // SAFETY: `addr..addr + len` was just mapped and holds no stack;
            // NOHUGEPAGE only changes how it is backed, never its contents.
            // Best effort: it fails only on kernels without THP.
            let _ = unsafe { madvise(addr, len, libc::MADV_NOHUGEPAGE) };
            class.chunks.push(Chunk {
                addr,
                len,
                carved: 0,
                guarded: 0,
            });
        }
        let chunk = class.chunks.last_mut().expect("a chunk with room was just ensured");
        let lo = chunk.addr + chunk.carved * class.slot_len;
        if chunk.guarded == chunk.carved {
            let ahead = (class.slots_per_chunk - chunk.carved).min(GUARD_BATCH);
            // SAFETY: slots `carved..carved + ahead` lie in `chunk`
            // (`ahead <= slots_per_chunk - carved`) and were never handed
            // out, so nothing refers to their first pages.
            chunk.guarded += unsafe { install_guards(mode, lo, class.slot_len, ahead, page)? };
        }
        chunk.carved += 1;
        Ok(PooledStack {
            lo,
            guard: page,
            usable: class.usable,
        })
    }
}

/// Slots whose guards one `process_madvise` installs ahead.
const GUARD_BATCH: usize = 256;

/// Whether `process_madvise` takes guard advice here (cleared on refusal).
static BATCH_GUARDS: AtomicBool = AtomicBool::new(true);

/// Makes the first page of `count >= 1` consecutive slots, `slot_len` apart
/// from `lo`, guard pages. Returns how many it did (at least one).
///
/// # Safety
///
/// Every one of those pages must be the first page of a slot in a chunk
/// this module mapped, and no live reference may point into any of them.
unsafe fn install_guards(mode: GuardMode, lo: usize, slot_len: usize, count: usize, page: usize) -> io::Result<usize> {
    debug_assert!(count >= 1);
    if mode == GuardMode::MadviseGuard && count > 1 && BATCH_GUARDS.load(Ordering::Relaxed) {
        let ranges: Vec<libc::iovec> = (0..count)
            .map(|i| libc::iovec {
                iov_base: (lo + i * slot_len) as *mut libc::c_void,
                iov_len: page,
            })
            .collect();
        // SAFETY: forwarded from the caller's contract, for every range.
        match unsafe { process_madvise_self(&ranges, MADV_GUARD_INSTALL) } {
            // Ranges are advised in order: a short count covers whole ones.
            Ok(bytes) if bytes >= page => return Ok(bytes / page),
            // Refused for good (a kernel without guard advice there, or a
            // seccomp filter): per slot from now on.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOSYS | libc::EINVAL | libc::EPERM | libc::EBADF | libc::ESRCH)
                ) =>
            {
                BATCH_GUARDS.store(false, Ordering::Relaxed)
            }
            // Transient (no descriptor free, no memory, a signal): this
            // slot alone, per slot; the per-slot call reports a real error.
            _ => {}
        }
    }
    // SAFETY: forwarded from the caller's contract (the first slot).
    unsafe { install_guard(mode, lo, page)? };
    Ok(1)
}

/// `process_madvise(2)` on this process: applies `advice` to every range.
/// Returns the bytes advised. Costs three system calls (`pidfd_open`, the
/// call, `close`); the pidfd is not cached, since after a `fork` a cached
/// one would name the parent.
///
/// # Safety
///
/// As for [`madvise`], for every range.
unsafe fn process_madvise_self(ranges: &[libc::iovec], advice: libc::c_int) -> io::Result<usize> {
    // SAFETY: pidfd_open only creates a descriptor (owned just below).
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    let pidfd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as libc::c_int) };
    // SAFETY: `ranges` is a live slice of `ranges.len()` iovecs; what the
    // advice does to the memory is forwarded from the caller's contract.
    let n = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            pidfd.as_raw_fd(),
            ranges.as_ptr(),
            ranges.len(),
            advice,
            0,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Makes `lo..lo + page` a guard page.
///
/// # Safety
///
/// The page must be the first page of a slot in a chunk this module mapped,
/// and no live reference may point into it.
unsafe fn install_guard(mode: GuardMode, lo: usize, page: usize) -> io::Result<()> {
    match mode {
        // SAFETY: forwarded from the caller's contract.
        GuardMode::MadviseGuard => unsafe { madvise(lo, page, MADV_GUARD_INSTALL) },
        GuardMode::Mprotect => {
            reserve_mprotect_guard()?;
            // SAFETY: forwarded from the caller's contract; the page is ours
            // and unreferenced, so revoking access breaks no Rust object.
            if unsafe { libc::mprotect(lo as *mut libc::c_void, page, libc::PROT_NONE) } != 0 {
                MPROTECT_GUARDS.fetch_sub(1, Ordering::Relaxed);
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }
    }
}

impl StackPool {
    /// Empties the pool: unmaps every chunk all of whose carved slots are
    /// back in the free lists, decommits the other free slots and leaks their
    /// chunks (stacks still out keep them mapped). Returns the chunks unmapped.
    fn release(&mut self) -> usize {
        let mut unmapped = 0;
        for mut class in self.classes.drain(..) {
            let mut free: Vec<usize> = class.hot.drain(..).chain(class.cold.drain(..)).collect();
            free.sort_unstable();
            class.chunks.sort_unstable_by_key(|c| c.addr);
            let mut leftovers = Vec::new();
            let mut done = 0;
            for chunk in &class.chunks {
                let lo = free.partition_point(|&s| s < chunk.addr);
                let hi = free.partition_point(|&s| s < chunk.addr + chunk.len);
                leftovers.extend_from_slice(&free[done..lo]);
                done = hi;
                if hi - lo != chunk.carved {
                    leftovers.extend_from_slice(&free[lo..hi]);
                    continue;
                }
                // SAFETY: free entries are distinct slots (each PooledStack
                // is unique) and only this class carves from this chunk, so
                // all `carved` slots are here: no PooledStack (hence no
                // coroutine) can touch the chunk again.
                unsafe { unmap(chunk.addr, chunk.len) };
                unmapped += 1;
                if self.mode == GuardMode::Mprotect {
                    MPROTECT_GUARDS.fetch_sub(chunk.carved, Ordering::Relaxed);
                }
            }
            leftovers.extend_from_slice(&free[done..]);
            for lo in leftovers {
                decommit(lo + self.page, class.usable);
            }
        }
        unmapped
    }
}

impl Drop for StackPool {
    fn drop(&mut self) {
        self.release();
    }
}

/// Gives the pages of a free stack's usable range back to the kernel.
fn decommit(addr: usize, len: usize) {
    // SAFETY: only called with the usable range of a free slot (a stack being
    // returned or dropped, or a free-list entry): mapped read-write memory of
    // a chunk on which no coroutine runs and into which nothing borrows.
    let _ = unsafe { madvise(addr, len, libc::MADV_DONTNEED) };
}

/// A guarded stack from a [`StackPool`]; give it back with
/// [`StackPool::put`]. Dropping it decommits the memory and leaks the slot.
#[derive(Debug)]
pub(crate) struct PooledStack {
    /// Low end of the slot: the guard page, then the usable bytes.
    /// # Invariant
    /// `lo..lo + guard` is an installed guard page, `lo + guard..lo + guard +
    /// usable` is read-write memory of a chunk that stays mapped as long as
    /// this value exists, and this value is its only owner.
    lo: usize,
    guard: usize,
    usable: usize,
}

impl PooledStack {
    /// The guard page as the half-open address range `[lo, hi)`.
    #[inline]
    pub(crate) fn guard_range(&self) -> (usize, usize) {
        (self.lo, self.lo + self.guard)
    }

    /// Usable bytes between the guard and `base()` (a page multiple).
    #[inline]
    pub(crate) fn usable_size(&self) -> usize {
        self.usable
    }

    /// Gives the usable pages back to the kernel; the guard is untouched.
    fn decommit(&self) {
        decommit(self.lo + self.guard, self.usable);
    }
}

impl Drop for PooledStack {
    fn drop(&mut self) {
        self.decommit();
    }
}

// SAFETY: by the `PooledStack` invariant the slot starts with a guard page
// (installed in `carve_slow` before the first hand-out, never removed while
// the chunk is mapped, and kept by MADV_DONTNEED) and has `usable >=
// MIN_STACK_SIZE` writable bytes (`get` rounds up to it). `limit()` includes
// the guard, and both ends are page aligned, thus STACK_ALIGNMENT aligned.
unsafe impl Stack for PooledStack {
    #[inline]
    fn base(&self) -> StackPointer {
        NonZeroUsize::new(self.lo + self.guard + self.usable).expect("stack at address 0")
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        NonZeroUsize::new(self.lo).expect("stack at address 0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Output};

    const KIB: usize = 1024;
    const CHILD_ENV: &str = "VERDANT_STACK_POOL_CHILD";

    /// Whether the kernel faults reading `addr`: write(2) from it into a pipe
    /// fails with EFAULT for guard markers, PROT_NONE and unmapped pages.
    fn faults(addr: usize) -> bool {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: the kernel validates the source; a bad address is EFAULT.
        let n = unsafe { libc::write(fds[1], addr as *const libc::c_void, 1) };
        let err = io::Error::last_os_error().raw_os_error();
        // SAFETY: closing the descriptors we just opened.
        unsafe { (libc::close(fds[0]), libc::close(fds[1])) };
        n < 0 && err == Some(libc::EFAULT)
    }

    /// Held by every test here that maps or unmaps chunks, so the tests
    /// that count `/proc/self/maps` lines see only their own changes (and
    /// libtest's: its threads starting or exiting add or remove a few,
    /// hence the slack in the bounds).
    fn maps_lock() -> std::sync::MutexGuard<'static, ()> {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        LOCK.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn maps_lines() -> usize {
        std::fs::read_to_string("/proc/self/maps").unwrap().lines().count()
    }

    /// Reads and writes the top word of a stack.
    fn top(stack: &PooledStack) -> *mut u64 {
        (stack.base().get() - 8) as *mut u64
    }

    /// Re-runs this test binary on one test with `CHILD_ENV` set.
    fn run_child(test: &str, envs: &[(&str, &str)]) -> Output {
        let path = module_path!().split_once("::").map_or(module_path!(), |p| p.1);
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &format!("{path}::{test}"), "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .envs(envs.iter().copied())
            .output()
            .unwrap()
    }

    fn madvise_supported() -> bool {
        let ok = probe_madvise_guard();
        if !ok {
            eprintln!("MADV_GUARD_INSTALL unsupported on this kernel; skipping");
        }
        ok
    }

    #[test]
    fn smoke_lifo_reuse() {
        let _lock = maps_lock();
        fn assert_send<T: Send>() {}
        assert_send::<PooledStack>();
        let mut pool = StackPool::new(8);
        let a = pool.get(256 * KIB).unwrap();
        let b = pool.get(256 * KIB).unwrap();
        let (a_lo, b_lo) = (a.limit(), b.limit());
        assert_ne!(a_lo, b_lo);
        pool.put(a);
        pool.put(b);
        assert_eq!(pool.get(256 * KIB).unwrap().limit(), b_lo);
        assert_eq!(pool.get(256 * KIB).unwrap().limit(), a_lo);
        assert_ne!(pool.get(256 * KIB).unwrap().limit(), a_lo);
    }

    #[test]
    fn sizes_rounded_and_aligned() {
        let _lock = maps_lock();
        let page = page_size();
        let mut pool = StackPool::new(8);
        for (ask, want) in [
            (0, MIN_STACK_SIZE),
            (1, page),
            (page + 1, 2 * page),
            (256 * KIB, 256 * KIB),
        ] {
            let s = pool.get(ask).unwrap();
            let want = want.max(MIN_STACK_SIZE).next_multiple_of(page);
            assert_eq!(s.usable_size(), want, "asked {ask}");
            assert_eq!(s.base().get() - s.limit().get(), want + page);
            assert_eq!(s.base().get() % STACK_ALIGNMENT, 0);
            assert_eq!(s.guard_range(), (s.limit().get(), s.limit().get() + page));
            pool.put(s);
        }
        assert!(pool.get(usize::MAX - 10).is_err());
        assert_eq!(pool.classes.len(), 3, "4 KiB, 8 KiB and 256 KiB classes");
    }

    #[test]
    fn guard_mode_detected() {
        let forced = std::env::var(GUARD_ENV).as_deref() == Ok("mprotect");
        let want = if !forced && probe_madvise_guard() {
            GuardMode::MadviseGuard
        } else {
            GuardMode::Mprotect
        };
        assert_eq!(guard_mode(), want);
        assert_eq!(guard_mode(), want, "stable across calls");
    }

    #[test]
    fn every_stack_is_guarded_across_guard_batches() {
        // Guards are installed ahead, GUARD_BATCH slots per system call (or
        // one by one where the kernel refuses): every stack handed out,
        // across batch boundaries, must have its guard; the stack bytes
        // right above it must not fault.
        if !madvise_supported() {
            return;
        }
        // It maps chunks: keep out of the way of tests that count mappings.
        let _lock = maps_lock();
        let mut pool = StackPool::with_mode(0, GuardMode::MadviseGuard);
        let stacks: Vec<_> = (0..GUARD_BATCH * 2 + 3).map(|_| pool.get(16 * KIB).unwrap()).collect();
        if !BATCH_GUARDS.load(Ordering::Relaxed) {
            eprintln!("process_madvise refused guard advice here: only the per-slot path was tested");
        }
        for (i, s) in stacks.iter().enumerate() {
            let (guard, lo) = s.guard_range();
            assert!(faults(guard) && faults(lo - 1), "stack {i}: guard missing");
            // SAFETY: the lowest usable byte is ours.
            unsafe { (lo as *mut u8).write_volatile(1) };
            assert!(!faults(lo), "stack {i}: usable page faults");
        }
        stacks.into_iter().for_each(|s| pool.put(s));
    }

    /// The guard faults, the stack is usable, and MADV_DONTNEED (keep_resident
    /// = 0: `trim` decommits every returned stack) keeps the guard in both
    /// modes.
    #[test]
    fn guard_faults_and_survives_dontneed() {
        let _lock = maps_lock();
        let mut modes = vec![GuardMode::Mprotect];
        if madvise_supported() {
            modes.push(GuardMode::MadviseGuard);
        }
        for mode in modes {
            let mut pool = StackPool::with_mode(0, mode);
            let s = pool.get(64 * KIB).unwrap();
            let (guard, lo) = (s.guard_range().0, s.guard_range().1);
            assert!(faults(guard) && faults(lo - 1), "{mode:?}: guard missing");
            // SAFETY: the top word and the lowest usable byte are ours.
            unsafe { (top(&s).write_volatile(7), (lo as *mut u8).write_volatile(1)) };
            assert!(!faults(lo) && !faults(s.base().get() - 1));
            pool.put(s);
            assert!(!pool.trim(usize::MAX));
            let s = pool.get(64 * KIB).unwrap();
            assert_eq!(s.guard_range().0, guard, "{mode:?}: LIFO");
            assert!(faults(guard) && faults(lo - 1), "{mode:?}: DONTNEED dropped the guard");
            // SAFETY: as above; decommitted memory reads back as zero.
            let top_word = unsafe { top(&s).read_volatile() };
            assert_eq!(top_word, 0, "{mode:?}: not decommitted");
            pool.put(s);
        }
    }

    #[test]
    fn trim_decommits_the_oldest_stacks_beyond_the_watermark() {
        let _lock = maps_lock();
        let mut pool = StackPool::new(1);
        let (a, b) = (pool.get(16 * KIB).unwrap(), pool.get(16 * KIB).unwrap());
        // SAFETY: both top words are usable memory of stacks we own.
        unsafe { (top(&a).write_volatile(1), top(&b).write_volatile(2)) };
        pool.put(a);
        pool.put(b); // returning decommits nothing...
        assert!(!pool.trim(usize::MAX)); // ...trimming does: the oldest, `a`
        assert!(!pool.trim(usize::MAX), "nothing left beyond the watermark");
        let (b, a) = (pool.get(16 * KIB).unwrap(), pool.get(16 * KIB).unwrap());
        // SAFETY: as above.
        unsafe { assert_eq!((top(&a).read_volatile(), top(&b).read_volatile()), (0, 2)) };
    }

    #[test]
    fn trim_respects_its_budget() {
        let _lock = maps_lock();
        let mut pool = StackPool::new(2);
        let stacks: Vec<_> = (0..10).map(|_| pool.get(16 * KIB).unwrap()).collect();
        stacks.into_iter().for_each(|s| pool.put(s));
        assert!(pool.trim(3), "5 of the 8 excess stacks remain");
        assert!(!pool.trim(100));
        assert_eq!(pool.classes[0].hot.len(), 2);
        assert_eq!(pool.classes[0].cold.len(), 8);
    }

    #[test]
    fn mprotect_fallback_costs_two_mappings_per_stack() {
        let _lock = maps_lock();
        let mut pool = StackPool::with_mode(4, GuardMode::Mprotect);
        let before = maps_lines();
        let stacks: Vec<_> = (0..100).map(|_| pool.get(32 * KIB).unwrap()).collect();
        let grew = maps_lines() - before;
        // Two per stack (guard, then the rest of the split), give or take a
        // libtest thread starting or exiting meanwhile.
        assert!((192..=264).contains(&grew), "grew by {grew}");
        for s in &stacks {
            assert!(faults(s.guard_range().0) && !faults(s.guard_range().1));
        }
        stacks.into_iter().for_each(|s| pool.put(s));
    }

    #[test]
    fn drop_unmaps_only_chunks_with_all_slots_home() {
        let _lock = maps_lock();
        let mut pool = StackPool::new(8);
        let (a, b) = (pool.get(8 * KIB).unwrap(), pool.get(24 * KIB).unwrap());
        let b_top = top(&b);
        pool.put(a);
        assert_eq!(pool.release(), 1, "only the chunk of `a` is all home");
        // SAFETY: `b` is still out, so its chunk must have stayed mapped.
        unsafe { b_top.write_volatile(5) };
        pool.put(b);
        assert_eq!(pool.release(), 0, "b's chunk belongs to no class any more");
    }

    /// The env override forces the fallback, and exhausting its cap yields
    /// an error that names the sysctl (in a child: it eats ~52 000 mappings).
    #[test]
    fn mprotect_cap_error_names_sysctl() {
        let out = run_child("child_mprotect_cap", &[(GUARD_ENV, "mprotect")]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("cap hit after"), "{stdout}");
    }

    #[test]
    fn child_mprotect_cap() {
        if std::env::var_os(CHILD_ENV).is_none() {
            return;
        }
        assert_eq!(guard_mode(), GuardMode::Mprotect);
        let mut pool = StackPool::new(0);
        let mut stacks = Vec::new();
        let err = loop {
            match pool.get(16 * KIB) {
                Ok(s) => stacks.push(s),
                Err(e) => break e,
            }
        };
        let (cap, max) = mprotect_cap();
        assert_eq!(stacks.len(), cap);
        assert!(cap > max / 3, "cap {cap} too small for max_map_count {max}");
        assert!(maps_lines() < max * 9 / 10);
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        let msg = err.to_string();
        assert!(
            msg.contains("vm.max_map_count") && msg.contains("MADV_GUARD_INSTALL"),
            "{msg}"
        );
        println!("cap hit after {} stacks: {msg}", stacks.len());
        // Returned stacks are reused without new guards.
        stacks.into_iter().for_each(|s| pool.put(s));
        let again = pool.get(16 * KIB).unwrap();
        pool.put(again);
    }

    #[test]
    fn many_stacks_few_mappings() {
        if !madvise_supported() {
            return;
        }
        const N: usize = 200_000;
        let _lock = maps_lock();
        let mut pool = StackPool::with_mode(64, GuardMode::MadviseGuard);
        let before = maps_lines();
        let stacks: Vec<_> = (0..N).map(|_| pool.get(256 * KIB).unwrap()).collect();
        let grew = maps_lines().saturating_sub(before);
        let chunks = N.div_ceil(CHUNK_BYTES / (256 * KIB + page_size()));
        assert!(grew <= chunks + 64, "maps grew by {grew} for {N} stacks");
        stacks.into_iter().for_each(|s| pool.put(s));
    }
}
