//! Child processes whose waits and pipes park green threads:
//! std's `std::process` with the same names.
//!
//! [`Command`] wraps std's builder (so every option, and the unix
//! `CommandExt` through [`Command::as_std_mut`], is std's own); what differs
//! is what happens after the spawn:
//!
//! * **pipes**: a piped stdin, stdout or stderr is a [`GreenFd`] over the
//!   pipe's descriptor, so [`ChildStdin`] (`Write`) and [`ChildStdout`] /
//!   [`ChildStderr`] (`Read`) park the green thread while the pipe is full
//!   or empty;
//! * **waiting**: on Linux 5.3 and later, [`Child`] holds a *pidfd*
//!   (`pidfd_open`), a descriptor that becomes readable when the child
//!   exits. [`Child::wait`] parks on it in the worker's reactor, then
//!   collects the status with `waitpid` (std's `try_wait`). No thread per
//!   child, no `SIGCHLD` handler: ten thousand children waited by ten
//!   thousand green threads cost ten thousand descriptors and nothing else.
//!   On a plain OS thread the same wait is `poll(2)`.
//! * **without pidfd** (`pidfd_open` fails with `ENOSYS` on kernels before
//!   5.3, or `EPERM` under some seccomp filters), a wait runs
//!   `waitid(WNOWAIT)` on the blocking pool
//!   ([`spawn_blocking`](crate::spawn_blocking)): one pool thread per child
//!   being waited for, which stays until the child exits even if the wait
//!   timed out or was cancelled. `VERDANT_PROCESS_NO_PIDFD=1` in the
//!   environment selects this fallback on any kernel.
//!
//! Waits honour [`verdant::timeout`](crate::timeout) and cancellation.
//!
//! ```
//! use std::io::{Read, Write};
//! use verdant::process::{Command, Stdio};
//!
//! let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
//! let mut stdin = child.stdin.take().unwrap();
//! let writer = verdant::spawn(move || stdin.write_all(b"through cat")); // drops stdin: EOF
//! let mut out = String::new();
//! child.stdout.take().unwrap().read_to_string(&mut out)?;
//! writer.join().unwrap()?;
//! assert!(child.wait()?.success());
//! assert_eq!(out, "through cat");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::io::{sys, GreenFd};
use crate::runtime::reactor::Interest;
use crate::sync::Event;

pub use std::process::{ExitStatus, Output, Stdio};

/// A process builder: [`std::process::Command`] whose children wait and
/// pipe as green threads expect.
///
/// ```
/// use verdant::process::Command;
///
/// let out = Command::new("echo").arg("hello").output()?;
/// assert!(out.status.success());
/// assert_eq!(out.stdout, b"hello\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Command {
    std: std::process::Command,
    /// Which of stdin, stdout, stderr were set through this builder:
    /// `output` picks its own defaults for the others.
    set: [bool; 3],
}

impl Command {
    /// A builder for running `program`, as [`std::process::Command::new`].
    ///
    /// ```
    /// let cmd = verdant::process::Command::new("ls");
    /// assert_eq!(cmd.get_program(), "ls");
    /// ```
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds an argument.
    ///
    /// ```
    /// let mut cmd = verdant::process::Command::new("ls");
    /// cmd.arg("-l");
    /// ```
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    ///
    /// ```
    /// let mut cmd = verdant::process::Command::new("ls");
    /// cmd.args(["-l", "-a"]);
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable of the child.
    ///
    /// ```
    /// let mut cmd = verdant::process::Command::new("env");
    /// cmd.env("GREETING", "hi");
    /// ```
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets environment variables of the child.
    ///
    /// ```
    /// let mut cmd = verdant::process::Command::new("env");
    /// cmd.envs([("A", "1"), ("B", "2")]);
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    ///
    /// ```
    /// let mut cmd = verdant::process::Command::new("env");
    /// cmd.env_remove("HOME");
    /// ```
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Clears the child's environment.
    ///
    /// ```
    /// let mut cmd = verdant::process::Command::new("env");
    /// cmd.env_clear();
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// ```
    /// let mut cmd = verdant::process::Command::new("ls");
    /// cmd.current_dir("/");
    /// ```
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// The child's standard input (inherited by default; null for
    /// [`output`](Command::output)).
    ///
    /// ```
    /// use verdant::process::{Command, Stdio};
    /// let mut cmd = Command::new("cat");
    /// cmd.stdin(Stdio::piped());
    /// ```
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdin(cfg);
        self.set[0] = true;
        self
    }

    /// The child's standard output (inherited by default; piped for
    /// [`output`](Command::output)).
    ///
    /// ```
    /// use verdant::process::{Command, Stdio};
    /// let mut cmd = Command::new("ls");
    /// cmd.stdout(Stdio::null());
    /// ```
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdout(cfg);
        self.set[1] = true;
        self
    }

    /// The child's standard error (inherited by default; piped for
    /// [`output`](Command::output)).
    ///
    /// ```
    /// use verdant::process::{Command, Stdio};
    /// let mut cmd = Command::new("ls");
    /// cmd.stderr(Stdio::piped());
    /// ```
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stderr(cfg);
        self.set[2] = true;
        self
    }

    /// Starts the child.
    ///
    /// # Errors
    ///
    /// std's, with the program's name added to the message (the kind is
    /// kept: `NotFound` for a missing program); or an error making the
    /// pidfd or the pipes non-blocking.
    ///
    /// ```
    /// let mut child = verdant::process::Command::new("true").spawn()?;
    /// assert!(child.wait()?.success());
    /// let err = verdant::process::Command::new("no-such-program-here").spawn().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// assert!(err.to_string().contains("no-such-program-here"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        let child = self.std.spawn().map_err(|e| self.spawn_error(e))?;
        Child::from_std(child)
    }

    /// Runs the child to its end, collecting its stdout and stderr (piped
    /// unless set; stdin is null unless set). The two pipes are read
    /// concurrently (a second green thread reads stderr: on the current
    /// runtime, or on the default one when called from a plain OS thread),
    /// so a child that fills one while the other is being read does not
    /// deadlock.
    ///
    /// # Errors
    ///
    /// As for [`spawn`](Command::spawn), and the reads' and the wait's.
    ///
    /// ```
    /// let out = verdant::process::Command::new("sh").args(["-c", "echo out; echo err >&2"]).output()?;
    /// assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"out\n"[..], &b"err\n"[..]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn output(&mut self) -> io::Result<Output> {
        let [stdin, stdout, stderr] = self.set;
        if !stdin {
            self.std.stdin(Stdio::null());
        }
        if !stdout {
            self.std.stdout(Stdio::piped());
        }
        if !stderr {
            self.std.stderr(Stdio::piped());
        }
        let child = self.std.spawn();
        // Back to the defaults of `spawn` and `status` (inherit).
        self.reset_unset();
        child
            .map_err(|e| self.spawn_error(e))
            .and_then(Child::from_std)?
            .wait_with_output()
    }

    /// Runs the child to its end and returns its exit status (stdio
    /// inherited unless set).
    ///
    /// # Errors
    ///
    /// As for [`spawn`](Command::spawn), and the wait's.
    ///
    /// ```
    /// let status = verdant::process::Command::new("false").status()?;
    /// assert_eq!(status.code(), Some(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait()
    }

    /// The program, as given to [`new`](Command::new).
    ///
    /// ```
    /// assert_eq!(verdant::process::Command::new("ls").get_program(), "ls");
    /// ```
    pub fn get_program(&self) -> &OsStr {
        self.std.get_program()
    }

    /// The arguments, as std's [`get_args`](std::process::Command::get_args).
    ///
    /// ```
    /// let mut cmd = verdant::process::Command::new("ls");
    /// cmd.arg("-l");
    /// assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["-l"]);
    /// ```
    pub fn get_args(&self) -> std::process::CommandArgs<'_> {
        self.std.get_args()
    }

    /// std's builder, for reading what is set.
    ///
    /// ```
    /// let cmd = verdant::process::Command::new("ls");
    /// assert_eq!(cmd.as_std().get_current_dir(), None);
    /// ```
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// std's builder, for options this type does not repeat (the unix
    /// `CommandExt`: `uid`, `process_group`, `exec`, ...). stdio set there
    /// counts as unset for [`output`](Command::output), which sets its own.
    ///
    /// ```
    /// use std::os::unix::process::CommandExt;
    /// let mut cmd = verdant::process::Command::new("true");
    /// cmd.as_std_mut().process_group(0);
    /// assert!(cmd.status()?.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    fn reset_unset(&mut self) {
        let [stdin, stdout, stderr] = self.set;
        if !stdin {
            self.std.stdin(Stdio::inherit());
        }
        if !stdout {
            self.std.stdout(Stdio::inherit());
        }
        if !stderr {
            self.std.stderr(Stdio::inherit());
        }
    }

    fn spawn_error(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("cannot run {:?}: {e}", self.std.get_program()))
    }
}

impl From<std::process::Command> for Command {
    /// Wraps std's builder; stdio it already set counts as unset for
    /// [`output`](Command::output).
    fn from(std: std::process::Command) -> Command {
        Command { std, set: [false; 3] }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.std, f)
    }
}

/// How a [`Child`]'s exit is awaited.
enum Exit {
    /// Readable once the child has exited.
    Pidfd(GreenFd<OwnedFd>),
    /// No pidfd: a blocking-pool thread runs `waitid(WNOWAIT)` and sets the
    /// event; started by the first wait.
    Blocking(Option<Arc<Event>>),
}

/// A running (or finished, not yet waited for) child process, as
/// [`std::process::Child`]. Dropping it neither kills nor waits for the
/// child (as with std).
///
/// ```
/// use std::time::Duration;
/// use verdant::process::Command;
///
/// let mut child = Command::new("sleep").arg("5").spawn()?;
/// assert_eq!(child.wait_timeout(Duration::from_millis(10))?, None);
/// child.kill()?;
/// assert!(!child.wait()?.success());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Child {
    /// The child's stdin, if piped.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if piped.
    pub stderr: Option<ChildStderr>,
    std: std::process::Child,
    exit: Exit,
}

impl Child {
    /// Adopts a child spawned by std: its pipes become green, and its exit
    /// is awaited through a pidfd. It must not have been waited for.
    ///
    /// # Errors
    ///
    /// Making the pipes non-blocking, or opening the pidfd (other than
    /// `ENOSYS`/`EPERM`, which select the blocking-pool fallback), failed.
    ///
    /// ```
    /// let std_child = std::process::Command::new("true").spawn()?;
    /// let mut child = verdant::process::Child::from_std(std_child)?;
    /// assert!(child.wait()?.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(mut child: std::process::Child) -> io::Result<Child> {
        let pidfd = if no_pidfd() {
            Err(io::Error::from_raw_os_error(libc::ENOSYS))
        } else {
            sys::pidfd_open(child.id())
        };
        let exit = match pidfd {
            Ok(fd) => Exit::Pidfd(GreenFd::new(fd)?),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => Exit::Blocking(None),
            Err(e) => return Err(e),
        };
        Ok(Child {
            stdin: child.stdin.take().map(ChildStdin::from_std).transpose()?,
            stdout: child.stdout.take().map(ChildStdout::from_std).transpose()?,
            stderr: child.stderr.take().map(ChildStderr::from_std).transpose()?,
            std: child,
            exit,
        })
    }

    /// The child's process id.
    ///
    /// ```
    /// let mut child = verdant::process::Command::new("true").spawn()?;
    /// assert!(child.id() > 0);
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> u32 {
        self.std.id()
    }

    /// Sends `SIGKILL` to the child (nothing if it was already waited
    /// for), as std's [`kill`](std::process::Child::kill). Wait for it
    /// afterwards to collect its status.
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// let mut child = verdant::process::Command::new("sleep").arg("10").spawn()?;
    /// child.kill()?;
    /// assert_eq!(child.wait()?.signal(), Some(9));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.std.kill()
    }

    /// The exit status if the child has exited, without waiting.
    ///
    /// ```
    /// let mut child = verdant::process::Command::new("sleep").arg("10").spawn()?;
    /// assert_eq!(child.try_wait()?, None);
    /// child.kill()?;
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.std.try_wait()
    }

    /// Closes the child's stdin (if piped) and waits for it to exit,
    /// parking the green thread.
    ///
    /// # Errors
    ///
    /// `TimedOut` if an enclosing [`verdant::timeout`](crate::timeout)
    /// expires; the OS's errors.
    ///
    /// ```
    /// let mut child = verdant::process::Command::new("sh").args(["-c", "exit 3"]).spawn()?;
    /// assert_eq!(child.wait()?.code(), Some(3));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        match self.wait_deadline(None)? {
            Some(status) => Ok(status),
            None => Err(io::Error::other("the child's exit status was not collected")),
        }
    }

    /// Waits at most `dur` for the child to exit: `None` if it is still
    /// running. Unlike [`wait`](Child::wait), leaves stdin open.
    ///
    /// # Errors
    ///
    /// As for [`wait`](Child::wait).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut child = verdant::process::Command::new("true").spawn()?;
    /// let status = child.wait_timeout(Duration::from_secs(10))?;
    /// assert!(status.unwrap().success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_timeout(&mut self, dur: Duration) -> io::Result<Option<ExitStatus>> {
        match Instant::now().checked_add(dur) {
            Some(deadline) => self.wait_deadline(Some(deadline)),
            None => self.wait_deadline(None),
        }
    }

    /// Closes stdin, reads stdout and stderr to their ends (concurrently,
    /// so neither pipe can fill up and stall the child), and waits.
    ///
    /// # Errors
    ///
    /// The reads' and the wait's.
    ///
    /// ```
    /// use verdant::process::{Command, Stdio};
    /// let child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
    /// let out = child.wait_with_output()?;
    /// assert_eq!(out.stdout, b"hi\n");
    /// assert!(out.stderr.is_empty()); // not piped
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = match (self.stdout.take(), self.stderr.take()) {
            (None, None) => (Vec::new(), Vec::new()),
            (Some(out), None) => (read_all(out)?, Vec::new()),
            (None, Some(err)) => (Vec::new(), read_all(err)?),
            (Some(out), Some(err)) => {
                let err = crate::spawn(move || read_all(err));
                let out = read_all(out);
                let err = err
                    .join()
                    .map_err(|e| io::Error::other(format!("the stderr reader: {e}")))?;
                (out?, err?)
            }
        };
        let status = self.wait()?;
        Ok(Output { status, stdout, stderr })
    }

    /// Waits for the exit until `deadline`; `None` if it passed first.
    fn wait_deadline(&mut self, deadline: Option<Instant>) -> io::Result<Option<ExitStatus>> {
        loop {
            if let Some(status) = self.std.try_wait()? {
                return Ok(Some(status));
            }
            let passed = || deadline.is_some_and(|d| Instant::now() >= d);
            match &mut self.exit {
                Exit::Pidfd(fd) => match fd.wait_ready(Interest::Read, deadline) {
                    Ok(()) => {}
                    // The call's own deadline (an enclosing `verdant::timeout`
                    // that expired earlier is an error for the caller).
                    Err(_) if passed() => return self.std.try_wait(),
                    Err(e) => return Err(e),
                },
                Exit::Blocking(event) => {
                    let event = event.get_or_insert_with(|| watch_exit(self.std.id())).clone();
                    let exited = match deadline {
                        None => {
                            event.wait();
                            true
                        }
                        Some(d) => event.wait_timeout(d.saturating_duration_since(Instant::now())),
                    };
                    if !exited {
                        return self.std.try_wait();
                    }
                    // waitid said it exited (or failed): collect or report.
                    return match self.std.try_wait()? {
                        Some(status) => Ok(Some(status)),
                        None => Err(io::Error::other("waitid reported the child's exit, waitpid did not")),
                    };
                }
            }
        }
    }
}

/// Whether `VERDANT_PROCESS_NO_PIDFD` is set (to anything but `0`), read
/// once: every child then takes the fallback of kernels without pidfd, as
/// a test of that path or a way around a pidfd problem.
fn no_pidfd() -> bool {
    static NO_PIDFD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *NO_PIDFD.get_or_init(|| std::env::var_os("VERDANT_PROCESS_NO_PIDFD").is_some_and(|v| v != "0"))
}

/// Starts the fallback watcher of a child without pidfd.
fn watch_exit(pid: u32) -> Arc<Event> {
    let event = Arc::new(Event::new());
    let set = event.clone();
    drop(crate::spawn_blocking(move || {
        // Errors (ECHILD: reaped elsewhere) also end the wait; the caller's
        // `try_wait` then reports them.
        let _ = sys::wait_exited(pid);
        set.set();
    }));
    event
}

fn read_all(mut r: impl Read) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.read_to_end(&mut buf)?;
    Ok(buf)
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.std.id())
            .field("pidfd", &matches!(self.exit, Exit::Pidfd(_)))
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}

macro_rules! child_pipe {
    ($(#[$doc:meta])* $name:ident, $std:ty, $trait:ident { $($method:tt)* }) => {
        $(#[$doc])*
        pub struct $name {
            inner: GreenFd<File>,
        }

        impl $name {
            /// Adopts std's pipe end, putting it in O_NONBLOCK mode.
            ///
            /// # Errors
            ///
            /// Setting the mode failed.
            pub fn from_std(pipe: $std) -> io::Result<$name> {
                Ok($name {
                    inner: GreenFd::new(File::from(OwnedFd::from(pipe)))?,
                })
            }
        }

        impl $trait for $name {
            $($method)*
        }

        impl $trait for &$name {
            $($method)*
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.as_fd()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.as_raw_fd()
            }
        }

        impl From<$name> for OwnedFd {
            /// The pipe's descriptor, back in blocking mode.
            fn from(pipe: $name) -> OwnedFd {
                pipe.inner.into_inner().into()
            }
        }

        impl From<$name> for Stdio {
            /// The pipe, back in blocking mode, as another child's stdio.
            fn from(pipe: $name) -> Stdio {
                Stdio::from(OwnedFd::from(pipe))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("fd", &self.as_raw_fd()).finish()
            }
        }
    };
}

child_pipe!(
    /// The write end of a child's stdin pipe; writes park while it is full.
    ///
    /// ```
    /// use std::io::Write;
    /// use verdant::process::{Command, Stdio};
    ///
    /// let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::null()).spawn()?;
    /// child.stdin.take().unwrap().write_all(b"data")?; // then dropped: cat sees EOF
    /// assert!(child.wait()?.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ChildStdin, std::process::ChildStdin, Write {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            (&self.inner).write(buf)
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            (&self.inner).write_vectored(bufs)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
);

child_pipe!(
    /// The read end of a child's stdout pipe; reads park while it is empty.
    ///
    /// ```
    /// use std::io::Read;
    /// use verdant::process::{Command, Stdio};
    ///
    /// let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
    /// let mut out = String::new();
    /// child.stdout.take().unwrap().read_to_string(&mut out)?;
    /// assert_eq!(out, "hi\n");
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ChildStdout, std::process::ChildStdout, Read {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            (&self.inner).read(buf)
        }

        fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
            (&self.inner).read_vectored(bufs)
        }
    }
);

child_pipe!(
    /// The read end of a child's stderr pipe; reads park while it is empty.
    ///
    /// ```
    /// use std::io::Read;
    /// use verdant::process::{Command, Stdio};
    ///
    /// let mut child = Command::new("sh").args(["-c", "echo oops >&2"]).stderr(Stdio::piped()).spawn()?;
    /// let mut err = String::new();
    /// child.stderr.take().unwrap().read_to_string(&mut err)?;
    /// assert_eq!(err, "oops\n");
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ChildStderr, std::process::ChildStderr, Read {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            (&self.inner).read(buf)
        }

        fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
            (&self.inner).read_vectored(bufs)
        }
    }
);
