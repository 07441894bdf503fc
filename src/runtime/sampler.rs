//! Samples what a worker's running green thread is executing, for the
//! watchdog: async-signal-safe in the signal handler, symbolised later.
//!
//! ```text
//!  watchdog thread                         worker thread (held by a green thread)
//!  lock SAMPLER; REQ = ASKED
//!  pthread_kill(worker, SIGURG) ─────────▶ handler (on the altstack or the green stack):
//!                                            REQ ASKED → WRITING, else chain/ignore
//!                                            PCS[0] = pc from the ucontext
//!                                            walk frame pointers from the ucontext's fp,
//!                                            only inside the green thread's own stack,
//!                                            each step to a strictly higher address
//!                                            LEN = n; REQ = DONE (Release)
//!  wait ≤ 100 ms for DONE (Acquire), copy PCS[..LEN], REQ = IDLE, unlock
//!  symbolise with the `backtrace` crate (allocates, takes locks: never in the handler)
//! ```
//!
//! The handler touches only atomics, a `const` thread-local without a
//! destructor (the running stack's bounds, `overflow::running_stack`) and
//! stack memory inside those bounds between the interrupted stack pointer
//! and the top: no allocation, no lock, nothing that is not
//! async-signal-safe.
//!
//! Frame 0, the interrupted program counter, is always right. The callers
//! come from frame pointers, which Rust omits by default in optimised
//! builds (std included): there the walk usually stops at once, and frames
//! after the first are present only with `-C force-frame-pointers=yes`
//! (and may then skip a frameless leaf). A bounded walk inside the green
//! stack can read a stale word as a frame, never outside mapped memory.
//!
//! `SIGURG` is the signal (Go's choice for preemption: its default action
//! is to ignore it, and programs rarely use it). A `SIGURG` that is not a
//! request of ours goes to the handler installed before ours, if any.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Frames kept per sample.
pub(crate) const MAX_FRAMES: usize = 32;

const IDLE: usize = 0;
const ASKED: usize = 1;
const WRITING: usize = 2;
const DONE: usize = 3;

static REQ: AtomicUsize = AtomicUsize::new(IDLE);
static LEN: AtomicUsize = AtomicUsize::new(0);
static PCS: [AtomicUsize; MAX_FRAMES] = [const { AtomicUsize::new(0) }; MAX_FRAMES];
/// One sample at a time, process-wide (several runtimes' watchdogs).
static SAMPLER: Mutex<()> = Mutex::new(());
/// The `SIGURG` action before ours (handler address, `sa_flags`).
static PREV_HANDLER: AtomicUsize = AtomicUsize::new(0);
static PREV_FLAGS: AtomicUsize = AtomicUsize::new(0);

/// The calling OS thread's id for [`sample`] (a worker records its own).
pub(crate) fn this_thread() -> usize {
    // SAFETY: pthread_self has no preconditions and cannot fail.
    let t = unsafe { libc::pthread_self() };
    t as usize
}

/// Program counters of what OS thread `thread` (a worker, from
/// [`this_thread`]) executes now, innermost first: frame 0 is the
/// interrupted instruction, the rest are return addresses. `None` if the
/// platform is not supported or the thread did not answer within 100 ms.
pub(crate) fn sample(thread: usize) -> Option<Vec<usize>> {
    if !cfg!(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )) {
        return None;
    }
    install();
    let _one = SAMPLER.lock();
    REQ.store(ASKED, Ordering::SeqCst);
    // SAFETY: `thread` is a pthread_t recorded by a worker that is still
    // running (the watchdog samples only workers of a live runtime, whose
    // threads are joined only after the watchdog stopped). SIGURG has our
    // handler (installed above).
    let rc = unsafe { libc::pthread_kill(thread as libc::pthread_t, libc::SIGURG) };
    if rc != 0 {
        REQ.store(IDLE, Ordering::SeqCst);
        return None;
    }
    let deadline = Instant::now() + Duration::from_millis(100);
    loop {
        match REQ.load(Ordering::Acquire) {
            DONE => break,
            ASKED if Instant::now() >= deadline => {
                // Withdraw, unless the handler has just started writing.
                if REQ
                    .compare_exchange(ASKED, IDLE, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    return None;
                }
            }
            _ => std::thread::sleep(Duration::from_micros(200)),
        }
    }
    let n = LEN.load(Ordering::Relaxed).min(MAX_FRAMES);
    let pcs = PCS[..n].iter().map(|p| p.load(Ordering::Relaxed)).collect();
    REQ.store(IDLE, Ordering::SeqCst);
    Some(pcs)
}

/// Names for `pcs` (from [`sample`]): one line per frame, `name (file:line)`
/// where the symbols say. The walk stops at the first caller without a
/// symbol: a frame pointer that was not one (module docs).
pub(crate) fn symbolise(pcs: &[usize]) -> Vec<String> {
    let mut lines: Vec<String> = pcs
        .iter()
        .enumerate()
        .map_while(|(i, &pc)| {
            // A return address points after the call: look up the call.
            let addr = if i == 0 { pc } else { pc.saturating_sub(1) };
            // Inlined functions share the address: innermost first.
            let mut names: Vec<String> = Vec::new();
            let mut place = String::new();
            backtrace::resolve(addr as *mut std::ffi::c_void, |sym| {
                names.push(sym.name().map_or_else(|| "??".to_owned(), |n| format!("{n:#}")));
                if place.is_empty() {
                    if let (Some(f), Some(l)) = (sym.filename(), sym.lineno()) {
                        place = format!(" ({}:{l})", f.display());
                    }
                }
            });
            let line = (!names.is_empty()).then(|| format!("{}{place}", names.join(" inlined in ")));
            match line {
                Some(l) => Some(l),
                None if i == 0 => Some(format!("{pc:#x} (no symbol)")),
                None => None,
            }
        })
        .collect();
    if lines.len() < pcs.len() || lines.len() == 1 {
        lines.push("(no further frames: callers need frame pointers, -C force-frame-pointers=yes)".to_owned());
    }
    lines
}

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid empty action; we fill the
        // handler, flags and an empty mask before passing pointers to
        // locals, which sigaction only reads (new) and writes (old).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGURG, &sa, &mut old) == 0 {
                PREV_HANDLER.store(old.sa_sigaction, Ordering::SeqCst);
                PREV_FLAGS.store(old.sa_flags as usize, Ordering::SeqCst);
            }
        }
    });
}

/// The `SIGURG` handler: async-signal-safe (module docs).
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    if REQ
        .compare_exchange(ASKED, WRITING, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        chain(sig, info, ctx);
        return;
    }
    let (pc, fp, sp) = registers(ctx);
    PCS[0].store(pc, Ordering::Relaxed);
    let mut n = 1;
    if let Some((lo, hi)) = crate::runtime::overflow::running_stack() {
        let word = std::mem::size_of::<usize>();
        let mut fp = fp;
        let floor = sp.max(lo);
        // A frame record is two words [saved fp, return address] at fp,
        // inside the green stack, above the stack pointer.
        while n < MAX_FRAMES && fp >= floor && fp % word == 0 && fp.saturating_add(2 * word) <= hi {
            // SAFETY: `[fp, fp + 2 words)` lies inside the running green
            // thread's stack between its stack pointer and its top: mapped,
            // committed (in use), and aligned. Reading stale words there
            // yields wrong frames at worst, never a fault.
            let (next, ret) = unsafe { (*(fp as *const usize), *((fp + word) as *const usize)) };
            if ret == 0 {
                break;
            }
            PCS[n].store(ret, Ordering::Relaxed);
            n += 1;
            if next <= fp {
                break;
            }
            fp = next;
        }
    }
    LEN.store(n, Ordering::Relaxed);
    REQ.store(DONE, Ordering::Release);
}

/// Passes a `SIGURG` that is not ours to the previous handler.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = PREV_HANDLER.load(Ordering::Relaxed);
    if prev == libc::SIG_DFL || prev == libc::SIG_IGN {
        return;
    }
    if PREV_FLAGS.load(Ordering::Relaxed) & libc::SA_SIGINFO as usize != 0 {
        // SAFETY: the previous action was installed with SA_SIGINFO, so its
        // address is a three-argument handler; we pass our own arguments on.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(prev) };
        f(sig, info, ctx);
    } else {
        // SAFETY: without SA_SIGINFO the address is a one-argument handler.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(prev) };
        f(sig);
    }
}

/// (pc, frame pointer, stack pointer) of the interrupted context.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn registers(ctx: *mut libc::c_void) -> (usize, usize, usize) {
    // SAFETY: with SA_SIGINFO the kernel passes a valid `ucontext_t` as
    // the third argument, alive for the duration of the handler.
    let uc = unsafe { &*(ctx as *const libc::ucontext_t) };
    let g = &uc.uc_mcontext.gregs;
    (
        g[libc::REG_RIP as usize] as usize,
        g[libc::REG_RBP as usize] as usize,
        g[libc::REG_RSP as usize] as usize,
    )
}

/// (pc, frame pointer, stack pointer) of the interrupted context.
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
fn registers(ctx: *mut libc::c_void) -> (usize, usize, usize) {
    // SAFETY: as for x86_64: the kernel's `ucontext_t`.
    let uc = unsafe { &*(ctx as *const libc::ucontext_t) };
    let m = &uc.uc_mcontext;
    (m.pc as usize, m.regs[29] as usize, m.sp as usize)
}

/// Unsupported platforms never send the signal ([`sample`] returns
/// `None` first).
#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
fn registers(_ctx: *mut libc::c_void) -> (usize, usize, usize) {
    (0, 0, 0)
}
