//! A supervisor: runs child processes, restarts the ones that fail (up to
//! a limit), and on Ctrl-C kills every child still running, waits for it,
//! and exits. A green thread per child, each parked in `Child::wait` (on
//! Linux a pidfd on the reactor: no OS thread per child). See
//! `docs/whole-program.md`.
//!
//! ```text
//! cargo run --example supervisor -- 'sleep 2' 'exit 3' 'sleep 1000'
//! ```
//!
//! Each argument is a shell command. Output: one line per event.

use std::io;
use std::os::unix::process::CommandExt;
use std::sync::Arc;
use std::time::Duration;

use verdant::process::{Child, Command, ExitStatus};
use verdant::sync::mpsc::Sender;
use verdant::sync::Mutex;

/// How a supervised command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exited with success after this many runs.
    Succeeded { runs: u32 },
    /// Failed this many times (the last exit code), no restart left.
    GaveUp { runs: u32, last: Option<i32> },
    /// Could not be started.
    Error(String),
    /// Still running at shutdown: killed and waited for.
    Stopped,
}

/// A running child. If the supervising thread unwinds (it was cancelled
/// at shutdown) before the child was waited for, the destructor kills the
/// child, waits for it (no zombie), and reports it.
struct Running<'a> {
    child: Child,
    waited: bool,
    cmd: &'a str,
    events: &'a Sender<String>,
}

impl Running<'_> {
    fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait()?;
        self.waited = true;
        Ok(status)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.waited {
            // The whole process group: `sh` and whatever it started.
            let pgid = i32::try_from(self.child.id()).expect("a pid fits an i32");
            // SAFETY: kill(2) takes two integers and touches no memory; the
            // group is our unreaped child's own (process_group(0) below),
            // so its id cannot have been reused.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let status = self.child.wait();
            let _ = self
                .events
                .send(format!("{:?} stopped at shutdown: {status:?}", self.cmd));
        }
    }
}

/// Runs `cmd` under `sh -c`, restarting it after a failure up to
/// `restarts` times, reporting each event on `events`.
fn supervise(cmd: &str, restarts: u32, events: &Sender<String>) -> io::Result<Outcome> {
    let mut runs = 0;
    loop {
        runs += 1;
        let mut command = Command::new("sh");
        command.arg("-c").arg(cmd);
        // A process group of its own: a Ctrl-C in the terminal goes to the
        // supervisor only, which then stops the children itself.
        command.as_std_mut().process_group(0);
        let child = command.spawn()?;
        let _ = events.send(format!("started {cmd:?} (pid {}, run {runs})", child.id()));
        let mut child = Running {
            child,
            waited: false,
            cmd,
            events,
        };
        // The thread parks here; a cancellation unwinds from here.
        let status = child.wait()?;
        if status.success() {
            let _ = events.send(format!("{cmd:?} succeeded"));
            return Ok(Outcome::Succeeded { runs });
        }
        let _ = events.send(format!("{cmd:?} failed: {status}"));
        if runs > restarts {
            return Ok(Outcome::GaveUp {
                runs,
                last: status.code(),
            });
        }
        verdant::sleep(Duration::from_millis(10)); // a back-off before the restart
    }
}

/// Supervises `cmds` (each restarted at most `restarts` times) until each
/// has succeeded or given up, or until `stop` returns; then the running
/// ones are cancelled: their children are killed and waited for. Returns
/// each command's outcome, in order.
pub fn run(
    cmds: Vec<String>,
    restarts: u32,
    events: Sender<String>,
    stop: impl FnOnce() + Send + 'static,
) -> Vec<Outcome> {
    let outcomes = Arc::new(Mutex::new(vec![Outcome::Stopped; cmds.len()]));
    let supervisor = {
        let outcomes = outcomes.clone();
        verdant::spawn(move || {
            // Owned by this thread: cancelling it cancels them.
            let mut group = verdant::Group::new();
            for (i, cmd) in cmds.into_iter().enumerate() {
                let (events, outcomes) = (events.clone(), outcomes.clone());
                group.spawn(move || {
                    let outcome = supervise(&cmd, restarts, &events).unwrap_or_else(|e| Outcome::Error(e.to_string()));
                    outcomes.lock().unwrap()[i] = outcome.clone();
                    let _ = events.send(format!("settled {cmd:?}: {outcome:?}"));
                });
            }
            group.join_all();
        })
    };
    let stopper = verdant::spawn(stop);
    // Whichever ends first: every child settled, or the stop request.
    verdant::wait_any([&supervisor, &stopper]);
    supervisor.cancel(); // no effect if it finished
    let _ = supervisor.join(); // returns once every child is killed and reaped
    stopper.cancel();
    let outcomes = outcomes.lock().unwrap().clone();
    outcomes
}

#[allow(dead_code)] // tests/whole_program.rs uses `run` only
fn main() {
    let cmds: Vec<String> = std::env::args().skip(1).collect();
    if cmds.is_empty() {
        eprintln!("usage: supervisor 'COMMAND' ['COMMAND' ...]");
        std::process::exit(2);
    }
    let (tx, rx) = verdant::sync::mpsc::channel();
    let printer = verdant::spawn(move || {
        for event in rx {
            println!("{event}");
        }
    });
    // Registered now, so that a Ctrl-C from now on is caught, not fatal.
    let mut signals = verdant::signal::Signals::new([verdant::signal::SIGINT, verdant::signal::SIGTERM])
        .expect("register signal handlers");
    let stop = move || {
        signals.next();
    };
    for (cmd, outcome) in std::env::args().skip(1).zip(run(cmds, 2, tx, stop)) {
        println!("{cmd:?}: {outcome:?}");
    }
    let _ = printer.join();
}
