//! Turns a green-thread stack overflow into a clear message
//! (`docs/architecture.md`, "Pooled guarded stacks").
//!
//! Without this, a green thread that overflows its stack hits the guard page
//! of its [`PooledStack`](super::stack_pool::PooledStack) and the process
//! dies with a bare `SIGSEGV`, or Rust's own handler misreports it. Protocol:
//!
//! 1. [`install`] (once per process) installs [`handle_fault`] for `SIGSEGV`
//!    and `SIGBUS` with `SA_SIGINFO | SA_ONSTACK`, remembering the previous
//!    action (usually std's stack-overflow handler) to chain to.
//! 2. [`ensure_altstack`] (at worker thread start) makes sure the thread has
//!    an alternate signal stack: the handler cannot run on the stack that just
//!    overflowed. std gives its own threads one; other threads get ours.
//! 3. The worker calls [`enter`] right before resuming a green thread and
//!    [`leave`] after it switches back. They store the guard range, id, name
//!    and size in a `const`-initialised, `Drop`-free thread-local of `Cell`s,
//!    which a signal handler may read: no lazy initialisation, no locks.
//! 4. On a kernel-generated fault whose `si_addr` lies in the registered
//!    guard range, the handler formats `verdant: green thread NAME
//!    overflowed its N-byte stack (give it a larger stack: ...)\n` by hand into a stack buffer, `write(2)`s it and calls
//!    `abort()`. Anything else goes to the previous action: a real handler is
//!    called with the same arguments; for `SIG_DFL`/`SIG_IGN` the action is
//!    reset to `SIG_DFL` and the handler returns, so the faulting instruction
//!    re-executes and kills the process as if we had never been there.
//!
//! The name is copied (up to [`NAME_CAP`] bytes, longer names are cut at a
//! char boundary and end in `...`) rather than stored as a pointer, so
//! [`enter`] is a safe function: a stale registration can never make the
//! handler read freed memory. Unnamed green threads pay no copy.

use std::cell::Cell;
use std::sync::atomic::{compiler_fence, AtomicI32, AtomicUsize, Ordering};
use std::sync::Once;

/// Longest name stored for the overflow message.
const NAME_CAP: usize = 96;
/// Room for the whole report: the fixed text, a 20-digit id and size, the
/// name.
const REPORT_CAP: usize = 192 + NAME_CAP;
/// What the report suggests.
const HINT: &[u8] = b" (give it a larger stack: Builder::stack_size or RuntimeBuilder::stack_size)";
/// `name_len` value meaning "no name".
const NO_NAME: usize = usize::MAX;
/// Usable size of the alternate signal stacks we map (plus a guard page).
const ALTSTACK_SIZE: usize = 64 * 1024;

/// What the current OS thread is running; all zero outside a green thread.
struct Current {
    guard_lo: Cell<usize>,
    guard_hi: Cell<usize>,
    id: Cell<u64>,
    stack_size: Cell<usize>,
    name_len: Cell<usize>,
    name: [Cell<u8>; NAME_CAP],
}

thread_local! {
    /// # Invariant
    /// `const`-initialised and without `Drop`, so reading it is a plain TLS
    /// access that is async-signal-safe; only this thread writes it.
    static CURRENT: Current = const {
        Current {
            guard_lo: Cell::new(0),
            guard_hi: Cell::new(0),
            id: Cell::new(0),
            stack_size: Cell::new(0),
            name_len: Cell::new(NO_NAME),
            name: [const { Cell::new(0) }; NAME_CAP],
        }
    };
    /// The alternate signal stack [`ensure_altstack`] mapped for this thread.
    static ALTSTACK: AltStack = const { AltStack { map: Cell::new(0), len: Cell::new(0) } };
}

/// Registers the green thread about to be resumed on this OS thread:
/// `[guard_lo, guard_hi)` is its stack's guard page, `stack_size` its usable
/// size (for the message), `name`/`id` identify it.
#[inline]
pub(crate) fn enter(guard_lo: usize, guard_hi: usize, id: u64, name: Option<&str>, stack_size: usize) {
    let _ = CURRENT.try_with(|c| {
        c.id.set(id);
        c.stack_size.set(stack_size);
        match name {
            None => c.name_len.set(NO_NAME),
            Some(name) => store_name(c, name),
        }
        c.guard_lo.set(guard_lo);
        c.guard_hi.set(guard_hi);
    });
    // The handler runs on this thread: order the stores before the switch.
    compiler_fence(Ordering::SeqCst);
}

/// Clears the registration after the green thread has switched back.
#[inline]
pub(crate) fn leave() {
    compiler_fence(Ordering::SeqCst);
    let _ = CURRENT.try_with(|c| {
        c.guard_lo.set(0);
        c.guard_hi.set(0);
    });
}

/// The usable stack `[lo, hi)` of the green thread running on this OS
/// thread, if one runs. Async-signal-safe: a read of `CURRENT` (see its
/// invariant), for the watchdog's sampler (`runtime::sampler`).
pub(crate) fn running_stack() -> Option<(usize, usize)> {
    CURRENT
        .try_with(|c| {
            let lo = c.guard_hi.get();
            (lo != 0).then(|| (lo, lo.saturating_add(c.stack_size.get())))
        })
        .ok()
        .flatten()
}

fn store_name(c: &Current, name: &str) {
    let (bytes, len) = if name.len() <= NAME_CAP {
        (name.as_bytes(), name.len())
    } else {
        let mut cut = NAME_CAP - 3;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        for (cell, &b) in c.name[cut..].iter().zip(b"...") {
            cell.set(b);
        }
        (&name.as_bytes()[..cut], cut + 3)
    };
    for (cell, &b) in c.name.iter().zip(bytes) {
        cell.set(b);
    }
    c.name_len.set(len);
}

/// Previous action for one signal: handler address and `sa_flags`.
struct Prev {
    handler: AtomicUsize,
    flags: AtomicI32,
}

/// Previous actions of `SIGSEGV` (index 0) and `SIGBUS` (index 1).
static PREV: [Prev; 2] = [
    Prev {
        handler: AtomicUsize::new(libc::SIG_DFL),
        flags: AtomicI32::new(0),
    },
    Prev {
        handler: AtomicUsize::new(libc::SIG_DFL),
        flags: AtomicI32::new(0),
    },
];
const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// Installs the overflow handler process-wide; later calls do nothing.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (prev, sig) in PREV.iter().zip(SIGNALS) {
            install_one(prev, sig);
        }
    });
}

fn install_one(prev: &Prev, sig: libc::c_int) {
    let ours = handle_fault as extern "C" fn(_, _, _) as usize;
    // SAFETY: an all-zero sigaction is a valid value (SIG_DFL, empty mask).
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // Record the old action first, so a fault right after our action is in
    // place already finds what to chain to.
    // SAFETY: a null new action only queries; `old` is a valid out pointer.
    unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    if old.sa_sigaction == ours {
        return;
    }
    prev.flags.store(old.sa_flags, Ordering::Relaxed);
    prev.handler.store(old.sa_sigaction, Ordering::Release);
    // SAFETY: as above, all-zero is a valid sigaction.
    let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
    new.sa_sigaction = ours;
    new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `new.sa_mask` is a valid sigset_t to initialise.
    unsafe { libc::sigemptyset(&mut new.sa_mask) };
    // SAFETY: `handle_fault` has the SA_SIGINFO signature and is
    // async-signal-safe; the pointers are valid for the call.
    let ret = unsafe { libc::sigaction(sig, &new, &mut old) };
    debug_assert_eq!(ret, 0);
    if old.sa_sigaction != prev.handler.load(Ordering::Relaxed) && old.sa_sigaction != ours {
        // Someone changed the action in between; chain to theirs instead.
        prev.flags.store(old.sa_flags, Ordering::Relaxed);
        prev.handler.store(old.sa_sigaction, Ordering::Release);
    }
}

/// The `SIGSEGV`/`SIGBUS` handler; async-signal-safe throughout.
extern "C" fn handle_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t; for these
    // signals `si_addr` is the member of the union that is set.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    let (lo, hi) = CURRENT
        .try_with(|c| (c.guard_lo.get(), c.guard_hi.get()))
        .unwrap_or((0, 0));
    // si_code > 0: the kernel raised it for a fault, not kill()/raise().
    if code > 0 && lo <= addr && addr < hi {
        report_overflow();
    }
    let index = usize::from(sig != libc::SIGSEGV);
    let prev = &PREV[index];
    let handler = prev.handler.load(Ordering::Acquire);
    let flags = prev.flags.load(Ordering::Relaxed);
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        reset_to_default(sig);
        if code <= 0 && handler == libc::SIG_DFL {
            // A sent signal will not recur on return: re-raise it. It stays
            // pending (blocked while we run) and kills us on return.
            // SAFETY: raise is async-signal-safe.
            unsafe { libc::raise(sig) };
        }
        return;
    }
    if flags & libc::SA_SIGINFO != 0 {
        type Action = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);
        // SAFETY: `handler` came from a sigaction with SA_SIGINFO, so it is
        // a function with the three-argument signature.
        let action: Action = unsafe { std::mem::transmute::<usize, Action>(handler) };
        action(sig, info, ctx);
    } else {
        type Handler = extern "C" fn(libc::c_int);
        // SAFETY: `handler` came from a sigaction without SA_SIGINFO and is
        // neither SIG_DFL nor SIG_IGN, so it is a one-argument handler.
        let action: Handler = unsafe { std::mem::transmute::<usize, Handler>(handler) };
        action(sig);
    }
}

fn reset_to_default(sig: libc::c_int) {
    // SAFETY: all-zero is a valid sigaction whose handler is SIG_DFL.
    let dfl: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: sigaction is async-signal-safe; the pointer is valid.
    unsafe { libc::sigaction(sig, &dfl, std::ptr::null_mut()) };
}

/// Writes the overflow message for the registered green thread and aborts.
#[cold]
fn report_overflow() -> ! {
    let mut buf = [0u8; REPORT_CAP];
    let len = CURRENT
        .try_with(|c| {
            let name_len = c.name_len.get();
            let mut name = [0u8; NAME_CAP];
            for (b, cell) in name.iter_mut().zip(&c.name) {
                *b = cell.get();
            }
            let name = (name_len != NO_NAME).then(|| &name[..name_len]);
            format_report(&mut buf, name, c.id.get(), c.stack_size.get()).len()
        })
        .unwrap_or(0);
    let mut out = &buf[..len];
    while !out.is_empty() {
        // SAFETY: write is async-signal-safe; `out` is valid for its length.
        let n = unsafe { libc::write(2, out.as_ptr().cast(), out.len()) };
        match usize::try_from(n) {
            Ok(n) if n > 0 => out = &out[n..],
            _ if n < 0 && errno() == libc::EINTR => {}
            _ => break,
        }
    }
    // SAFETY: abort is async-signal-safe and has no preconditions.
    unsafe { libc::abort() }
}

fn errno() -> libc::c_int {
    // SAFETY: __errno_location returns this thread's valid errno slot.
    unsafe { *libc::__errno_location() }
}

/// Formats `verdant: green thread NAME overflowed its N-byte stack (hint)\n`
/// into `buf` without allocating; `buf` must hold at least `REPORT_CAP`
/// bytes.
fn format_report<'b>(buf: &'b mut [u8], name: Option<&[u8]>, id: u64, size: usize) -> &'b [u8] {
    let mut w = Writer { buf, len: 0 };
    w.put(b"verdant: green thread ");
    match name {
        Some(name) => w.put(name),
        None => {
            w.put(b"<unnamed #");
            w.put_u64(id);
            w.put(b">");
        }
    }
    w.put(b" overflowed its ");
    w.put_u64(size as u64);
    w.put(b"-byte stack");
    w.put(HINT);
    w.put(b"\n");
    let Writer { buf, len } = w;
    &buf[..len]
}

/// A truncating byte writer over a fixed buffer.
struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    fn put_u64(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }
}

/// This thread's alternate signal stack mapped by [`ensure_altstack`].
struct AltStack {
    /// Start and length of the mapping (guard page included); 0 if none.
    map: Cell<usize>,
    len: Cell<usize>,
}

impl Drop for AltStack {
    /// At thread exit: disable the altstack if it is still ours, then unmap.
    fn drop(&mut self) {
        let (map, len) = (self.map.get(), self.len.get());
        if map == 0 {
            return;
        }
        let mut cur = empty_stack_t();
        // SAFETY: null new stack only queries; `cur` is a valid out pointer.
        unsafe { libc::sigaltstack(std::ptr::null(), &mut cur) };
        if cur.ss_flags & libc::SS_DISABLE == 0 && cur.ss_sp as usize == map + page_size() {
            let off = libc::stack_t {
                ss_flags: libc::SS_DISABLE,
                ..empty_stack_t()
            };
            // SAFETY: disabling is always allowed outside a signal handler,
            // and thread-local destructors do not run inside one.
            unsafe { libc::sigaltstack(&off, std::ptr::null_mut()) };
        }
        // SAFETY: we mapped it in `ensure_altstack`, and it is no longer the
        // thread's altstack (checked and disabled above), so nothing uses it.
        unsafe { libc::munmap(map as *mut libc::c_void, len) };
    }
}

fn empty_stack_t() -> libc::stack_t {
    libc::stack_t {
        ss_sp: std::ptr::null_mut(),
        ss_flags: 0,
        ss_size: 0,
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// Gives the calling OS thread an alternate signal stack if it has none:
/// [`ALTSTACK_SIZE`] bytes (more if the CPU's signal frame needs it) above
/// a guard page. It is unmapped by a thread-local destructor at thread exit;
/// an OS thread that never runs destructors (killed by `pthread_exit` in
/// foreign code) leaks one small mapping.
pub(crate) fn ensure_altstack() {
    let mut cur = empty_stack_t();
    // SAFETY: null new stack only queries; `cur` is a valid out pointer.
    unsafe { libc::sigaltstack(std::ptr::null(), &mut cur) };
    if cur.ss_flags & libc::SS_DISABLE == 0 {
        return;
    }
    let page = page_size();
    // SAFETY: getauxval has no preconditions (0 if the entry is missing).
    let min = unsafe { libc::getauxval(libc::AT_MINSIGSTKSZ) } as usize;
    let size = ALTSTACK_SIZE.max(4 * min).max(libc::SIGSTKSZ).next_multiple_of(page);
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    // SAFETY: fresh mapping at a kernel-chosen address; affects no memory.
    let map = unsafe { libc::mmap(std::ptr::null_mut(), page + size, prot, flags, -1, 0) };
    if map == libc::MAP_FAILED {
        return; // Best effort: overflows then die as a plain SIGSEGV.
    }
    // SAFETY: the first page of our fresh mapping; nothing refers to it.
    unsafe { libc::mprotect(map, page, libc::PROT_NONE) };
    let stack = libc::stack_t {
        // SAFETY: `page` is within the `page + size` mapping.
        ss_sp: unsafe { map.cast::<u8>().add(page) }.cast(),
        ss_flags: 0,
        ss_size: size,
    };
    // SAFETY: `stack` describes `size` writable bytes that stay mapped until
    // `AltStack::drop` disables the altstack at thread exit.
    unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) };
    let _ = ALTSTACK.try_with(|a| {
        a.map.set(map as usize);
        a.len.set(page + size);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::stack_pool::StackPool;
    use corosensei::{Coroutine, Yielder};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Output};

    const CHILD_ENV: &str = "VERDANT_OVERFLOW_CHILD";
    const SIZE: usize = 64 * 1024;

    /// Re-runs this test binary on [`child`] with `CHILD_ENV=mode`.
    fn run_child(mode: &str, envs: &[(&str, &str)]) -> (Output, String) {
        let path = module_path!().split_once("::").map_or(module_path!(), |p| p.1);
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &format!("{path}::child"), "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, mode)
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out, stderr)
    }

    #[inline(never)]
    #[allow(unconditional_recursion)]
    fn recurse(depth: u64) -> u64 {
        let frame = std::hint::black_box([depth as u8; 256]);
        recurse(depth + 1).wrapping_add(u64::from(frame[3]))
    }

    /// Overflows a green thread whose stack went through MADV_DONTNEED.
    fn overflow(name: Option<&str>) {
        install();
        ensure_altstack();
        let mut pool = StackPool::new(0);
        let recycled = pool.get(SIZE).unwrap();
        pool.put(recycled);
        let stack = pool.get(SIZE).unwrap();
        let (lo, hi) = stack.guard_range();
        enter(lo, hi, 42, name, stack.usable_size());
        let mut co = Coroutine::with_stack(stack, |_: &Yielder<(), ()>, ()| recurse(0));
        co.resume(());
        leave();
    }

    extern "C" fn custom(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
        let msg = b"custom handler ran\n";
        // SAFETY: write is async-signal-safe; `msg` is valid for its length.
        unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
        // SAFETY: _exit is async-signal-safe and has no preconditions.
        unsafe { libc::_exit(42) }
    }

    /// Faults outside any green-thread guard, on a PROT_NONE page.
    fn stray_fault() {
        // SAFETY: a fresh PROT_NONE mapping at a kernel-chosen address.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(page, libc::MAP_FAILED);
        // SAFETY: the read faults (on purpose, in a child process); the
        // pointer is valid for reads as far as the language is concerned.
        let v = unsafe { page.cast::<u8>().read_volatile() };
        std::hint::black_box(v);
    }

    /// The child half of the re-exec tests; a no-op in a normal run.
    #[test]
    fn child() {
        let Ok(mode) = std::env::var(CHILD_ENV) else {
            return;
        };
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads the valid struct; no core dumps from children.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
        match mode.as_str() {
            "named" => overflow(Some("deep")),
            "unnamed" => overflow(None),
            "stray" => {
                install(); // chains to std's handler, which resets to SIG_DFL
                stray_fault();
            }
            "stray-dfl" => {
                reset_to_default(libc::SIGSEGV);
                install();
                stray_fault();
            }
            "custom" => {
                // SAFETY: all-zero is a valid sigaction to fill in.
                let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
                act.sa_sigaction = custom as extern "C" fn(_, _, _) as usize;
                act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                // SAFETY: `custom` has the SA_SIGINFO signature.
                unsafe { libc::sigaction(libc::SIGSEGV, &act, std::ptr::null_mut()) };
                install();
                stray_fault();
            }
            _ => unreachable!("unknown child mode {mode}"),
        }
        panic!("child {mode} survived");
    }

    #[test]
    fn overflow_named_aborts_with_message() {
        for envs in [&[][..], &[("VERDANT_STACK_GUARD", "mprotect")][..]] {
            let (out, stderr) = run_child("named", envs);
            let want = format!("verdant: green thread deep overflowed its {SIZE}-byte stack (give it a larger stack:");
            assert!(stderr.contains(&want), "{envs:?}: {stderr}");
            assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{envs:?}: {stderr}");
        }
    }

    #[test]
    fn overflow_unnamed_aborts_with_id() {
        let (out, stderr) = run_child("unnamed", &[]);
        let want =
            format!("verdant: green thread <unnamed #42> overflowed its {SIZE}-byte stack (give it a larger stack:");
        assert!(stderr.contains(&want), "{stderr}");
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
    }

    #[test]
    fn stray_fault_chains_to_default() {
        for mode in ["stray", "stray-dfl"] {
            let (out, stderr) = run_child(mode, &[]);
            assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{mode}: {stderr}");
            assert!(!stderr.contains("overflowed"), "{mode}: {stderr}");
        }
    }

    #[test]
    fn stray_fault_chains_to_previous_handler() {
        let (out, stderr) = run_child("custom", &[]);
        assert_eq!(out.status.code(), Some(42), "{stderr}");
        assert!(stderr.contains("custom handler ran"), "{stderr}");
    }

    #[test]
    fn report_format() {
        let mut buf = [0u8; REPORT_CAP];
        let named = format_report(&mut buf, Some(b"deep"), 1, 262_144);
        assert_eq!(
            named,
            b"verdant: green thread deep overflowed its 262144-byte stack (give it a larger stack: \
              Builder::stack_size or RuntimeBuilder::stack_size)\n"
        );
        let unnamed = format_report(&mut buf, None, u64::MAX, 0);
        assert!(
            unnamed.starts_with(b"verdant: green thread <unnamed #18446744073709551615> overflowed its 0-byte stack (")
        );
        let long = [b'x'; NAME_CAP];
        let report = format_report(&mut buf, Some(&long), u64::MAX, usize::MAX);
        assert!(
            report.ends_with(b"RuntimeBuilder::stack_size)\n"),
            "the hint is never cut off"
        );
    }

    #[test]
    fn enter_copies_and_truncates_name() {
        let long = "é".repeat(60); // 120 bytes, 2-byte chars
        enter(10, 20, 7, Some(&long), 4096);
        let (len, name) = CURRENT.with(|c| (c.name_len.get(), c.name.each_ref().map(Cell::get)));
        let stored = std::str::from_utf8(&name[..len]).unwrap();
        assert!(
            stored.ends_with("...") && long.starts_with(&stored[..len - 3]),
            "{stored}"
        );
        assert!(len <= NAME_CAP);
        CURRENT.with(|c| assert_eq!((c.guard_lo.get(), c.guard_hi.get(), c.id.get()), (10, 20, 7)));
        leave();
        CURRENT.with(|c| assert_eq!((c.guard_lo.get(), c.guard_hi.get()), (0, 0)));
    }

    fn current_altstack() -> libc::stack_t {
        let mut cur = empty_stack_t();
        // SAFETY: null new stack only queries.
        unsafe { libc::sigaltstack(std::ptr::null(), &mut cur) };
        cur
    }

    #[test]
    fn ensure_altstack_installs_once() {
        std::thread::spawn(|| {
            let off = libc::stack_t {
                ss_flags: libc::SS_DISABLE,
                ..empty_stack_t()
            };
            // SAFETY: disabling (std's altstack, if any) outside a handler.
            unsafe { libc::sigaltstack(&off, std::ptr::null_mut()) };
            ensure_altstack();
            let first = current_altstack();
            assert_eq!(first.ss_flags & libc::SS_DISABLE, 0);
            assert!(first.ss_size >= ALTSTACK_SIZE);
            assert_eq!(ALTSTACK.with(|a| a.map.get()) + page_size(), first.ss_sp as usize);
            ensure_altstack();
            assert_eq!(current_altstack().ss_sp, first.ss_sp);
        })
        .join()
        .unwrap();
    }
}
