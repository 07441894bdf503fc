//! Files and directories without blocking a worker: `std::fs` with the same
//! names.
//!
//! The kernel has no readiness for regular files (epoll refuses them: a
//! file is always "ready", and a read of a cold page blocks in the disk),
//! so every call here runs std's own call on the blocking pool
//! ([`spawn_blocking`](crate::spawn_blocking)) while the green thread
//! parks. From a plain OS thread the calls run inline, exactly as std's.
//!
//! ```text
//! green thread          blocking pool thread
//!   fs::read(path) ──► std::fs::read(path)   (owned path, owned result)
//!     parks               │
//!   ◄── unparked ─────────┘ the result
//! ```
//!
//! One trip to the pool costs a few microseconds (two wakeups), so calls
//! that would make many small trips are batched:
//!
//! * [`read_dir`] fetches [`READ_DIR_BATCH`] entries per trip, and
//!   [`ReadDir::with_metadata`] fetches each entry's metadata in the same
//!   trip: a walk of 100 000 files makes about 800 trips, not 200 000
//!   (`benches/benches/fs_walk.rs`);
//! * [`File`]'s `read_to_end`, `read_to_string` and `write_all` are one
//!   trip each; `read` and `write` copy through an owned buffer, one trip
//!   per call, so wrap small reads in a [`std::io::BufReader`].
//!
//! Waits honour [`verdant::timeout`](crate::timeout): the green thread
//! unwinds from its park point when the deadline passes. The std call
//! itself cannot be interrupted: it runs to its end on the pool thread and
//! its result is dropped. A [`File`] whose call was cut so is still usable
//! (it is shared with the pool thread, never lost); a directory listing
//! whose batch was in flight reports an error instead of ending early.
//! Cancellation, as for any [`JoinHandle::join`](crate::JoinHandle::join)
//! of a `spawn_blocking` job, takes effect when the std call returns, so
//! its effects are complete when the thread's destructors run.
//!
//! ```
//! # let dir = std::env::temp_dir().join(format!("verdant-fs-mod-{}", std::process::id()));
//! use verdant::fs;
//!
//! let h = verdant::spawn(move || -> std::io::Result<usize> {
//!     fs::create_dir_all(dir.join("sub"))?;
//!     fs::write(dir.join("sub/a.txt"), "hello")?;
//!     assert_eq!(fs::read_to_string(dir.join("sub/a.txt"))?, "hello");
//!     let n = fs::read_dir(dir.join("sub"))?.count();
//!     fs::remove_dir_all(&dir)?;
//!     Ok(n)
//! });
//! assert_eq!(h.join().unwrap()?, 1);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::blocking::offload;

pub use std::fs::{FileType, Metadata, Permissions};

/// How many directory entries [`ReadDir`] fetches per trip to the
/// blocking pool.
pub const READ_DIR_BATCH: usize = 128;

/// Whether the caller is a green thread (the calls offload) or not (they
/// run inline, borrowing what they touch).
fn green() -> bool {
    crate::runtime::park::current_task().is_some()
}

/// Runs `f` on an owned copy of `path` through [`offload`].
fn with_path<T: Send + 'static>(path: &Path, f: impl FnOnce(&Path) -> io::Result<T> + Send + 'static) -> io::Result<T> {
    if !green() {
        return f(path);
    }
    let path = path.to_path_buf();
    offload(move || f(&path))
}

/// Like [`with_path`], for two paths.
fn with_paths<T: Send + 'static>(
    from: &Path,
    to: &Path,
    f: impl FnOnce(&Path, &Path) -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    if !green() {
        return f(from, to);
    }
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    offload(move || f(&from, &to))
}

/// Reads a whole file, as [`std::fs::read`].
///
/// ```
/// let h = verdant::spawn(|| verdant::fs::read("Cargo.toml"));
/// assert!(h.join().unwrap()?.starts_with(b"[package]"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    with_path(path.as_ref(), |p| std::fs::read(p))
}

/// Reads a whole file as UTF-8, as [`std::fs::read_to_string`].
///
/// ```
/// let text = verdant::fs::read_to_string("Cargo.toml")?; // inline on an OS thread
/// assert!(text.contains("verdant"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    with_path(path.as_ref(), |p| std::fs::read_to_string(p))
}

/// Writes `contents` as the whole file, creating or truncating it, as
/// [`std::fs::write`].
///
/// ```
/// # let path = std::env::temp_dir().join(format!("verdant-fs-write-{}", std::process::id()));
/// verdant::spawn({
///     let path = path.clone();
///     move || verdant::fs::write(path, b"bytes")
/// })
/// .join()
/// .unwrap()?;
/// assert_eq!(std::fs::read(&path)?, b"bytes");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    let path = path.as_ref();
    if !green() {
        return std::fs::write(path, contents);
    }
    let contents = contents.as_ref().to_vec();
    with_path(path, move |p| std::fs::write(p, contents))
}

/// Metadata of `path`, following symlinks, as [`std::fs::metadata`].
///
/// ```
/// let m = verdant::spawn(|| verdant::fs::metadata("src")).join().unwrap()?;
/// assert!(m.is_dir());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    with_path(path.as_ref(), |p| std::fs::metadata(p))
}

/// Metadata of `path` itself (a symlink is not followed), as
/// [`std::fs::symlink_metadata`].
///
/// ```
/// assert!(verdant::fs::symlink_metadata("Cargo.toml")?.is_file());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    with_path(path.as_ref(), |p| std::fs::symlink_metadata(p))
}

/// Whether `path` exists (`Ok(false)` if it does not, `Err` if that
/// cannot be told), as [`std::fs::exists`].
///
/// ```
/// assert!(verdant::fs::exists("Cargo.toml")?);
/// assert!(!verdant::fs::exists("no/such/file")?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    with_path(path.as_ref(), |p| std::fs::exists(p))
}

/// The absolute path with symlinks resolved, as [`std::fs::canonicalize`].
///
/// ```
/// assert!(verdant::fs::canonicalize(".")?.is_absolute());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn canonicalize<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    with_path(path.as_ref(), |p| std::fs::canonicalize(p))
}

/// Removes a file, as [`std::fs::remove_file`].
///
/// ```
/// # let path = std::env::temp_dir().join(format!("verdant-fs-rm-{}", std::process::id()));
/// std::fs::write(&path, "")?;
/// verdant::fs::remove_file(&path)?;
/// assert!(!path.exists());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    with_path(path.as_ref(), |p| std::fs::remove_file(p))
}

/// Removes an empty directory, as [`std::fs::remove_dir`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("verdant-fs-rmdir-{}", std::process::id()));
/// verdant::fs::create_dir(&dir)?;
/// verdant::fs::remove_dir(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    with_path(path.as_ref(), |p| std::fs::remove_dir(p))
}

/// Removes a directory and everything in it, as
/// [`std::fs::remove_dir_all`] (one trip to the pool for the whole tree).
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("verdant-fs-rmall-{}", std::process::id()));
/// verdant::fs::create_dir_all(dir.join("a/b"))?;
/// verdant::fs::remove_dir_all(&dir)?;
/// assert!(!dir.exists());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    with_path(path.as_ref(), |p| std::fs::remove_dir_all(p))
}

/// Creates a directory, as [`std::fs::create_dir`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("verdant-fs-mkdir-{}", std::process::id()));
/// verdant::fs::create_dir(&dir)?;
/// assert!(verdant::fs::create_dir(&dir).is_err()); // exists already
/// # std::fs::remove_dir(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    with_path(path.as_ref(), |p| std::fs::create_dir(p))
}

/// Creates a directory and its missing parents, as
/// [`std::fs::create_dir_all`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("verdant-fs-mkdirs-{}", std::process::id()));
/// verdant::fs::create_dir_all(dir.join("x/y/z"))?;
/// assert!(dir.join("x/y/z").is_dir());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    with_path(path.as_ref(), |p| std::fs::create_dir_all(p))
}

/// Renames a file or directory, replacing `to` if it is a file, as
/// [`std::fs::rename`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("verdant-fs-mv-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("a"), "x")?;
/// verdant::fs::rename(dir.join("a"), dir.join("b"))?;
/// assert_eq!(std::fs::read(dir.join("b"))?, b"x");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    with_paths(from.as_ref(), to.as_ref(), |f, t| std::fs::rename(f, t))
}

/// Copies a file's contents and permissions, returning the bytes copied,
/// as [`std::fs::copy`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("verdant-fs-cp-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("a"), "abc")?;
/// assert_eq!(verdant::fs::copy(dir.join("a"), dir.join("b"))?, 3);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    with_paths(from.as_ref(), to.as_ref(), |f, t| std::fs::copy(f, t))
}

/// Makes a hard link `link` to `original`, as [`std::fs::hard_link`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("verdant-fs-ln-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("a"), "abc")?;
/// verdant::fs::hard_link(dir.join("a"), dir.join("b"))?;
/// assert_eq!(std::fs::read(dir.join("b"))?, b"abc");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn hard_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    with_paths(original.as_ref(), link.as_ref(), |o, l| std::fs::hard_link(o, l))
}

/// The target of a symlink, as [`std::fs::read_link`].
///
/// ```
/// assert!(verdant::fs::read_link("Cargo.toml").is_err()); // not a symlink
/// ```
pub fn read_link<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    with_path(path.as_ref(), |p| std::fs::read_link(p))
}

/// Sets a file's permissions, as [`std::fs::set_permissions`].
///
/// ```
/// # let path = std::env::temp_dir().join(format!("verdant-fs-perm-{}", std::process::id()));
/// std::fs::write(&path, "")?;
/// let mut perms = verdant::fs::metadata(&path)?.permissions();
/// perms.set_readonly(true);
/// verdant::fs::set_permissions(&path, perms)?;
/// assert!(std::fs::metadata(&path)?.permissions().readonly());
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: Permissions) -> io::Result<()> {
    with_path(path.as_ref(), move |p| std::fs::set_permissions(p, perm))
}

/// The entries of a directory, as [`std::fs::read_dir`]: an iterator of
/// [`DirEntry`], fetched [`READ_DIR_BATCH`] at a time.
///
/// ```
/// let names: Vec<_> = verdant::spawn(|| {
///     verdant::fs::read_dir("src")?
///         .map(|e| e.map(|e| e.file_name()))
///         .collect::<std::io::Result<Vec<_>>>()
/// })
/// .join()
/// .unwrap()?;
/// assert!(names.iter().any(|n| n == "lib.rs"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    let inner = with_path(path.as_ref(), |p| std::fs::read_dir(p))?;
    Ok(ReadDir {
        state: DirState::Open(inner),
        batch: VecDeque::new(),
        with_metadata: false,
    })
}

/// Where a [`ReadDir`]'s std iterator is.
enum DirState {
    /// Here, between trips.
    Open(std::fs::ReadDir),
    /// On the blocking pool: a trip was cut short (timeout, cancellation)
    /// and took it along.
    Lost,
    /// Ran out of entries.
    Done,
}

/// An iterator over a directory's entries, from [`read_dir`].
///
/// Entries are fetched [`READ_DIR_BATCH`] per trip to the blocking pool;
/// [`with_metadata`](ReadDir::with_metadata) fetches their metadata in the
/// same trip.
pub struct ReadDir {
    state: DirState,
    batch: VecDeque<io::Result<DirEntry>>,
    with_metadata: bool,
}

impl ReadDir {
    /// Fetches every entry's metadata (`lstat`: a symlink is not
    /// followed, as [`std::fs::DirEntry::metadata`]) with the entry, in the
    /// same trip to the pool; [`DirEntry::metadata`] and
    /// [`DirEntry::file_type`] then cost nothing. The way to walk a big
    /// tree.
    ///
    /// ```
    /// let total: u64 = verdant::spawn(|| -> std::io::Result<u64> {
    ///     let mut total = 0;
    ///     for entry in verdant::fs::read_dir("src")?.with_metadata() {
    ///         let m = entry?.metadata()?; // fetched already
    ///         if m.is_file() {
    ///             total += m.len();
    ///         }
    ///     }
    ///     Ok(total)
    /// })
    /// .join()
    /// .unwrap()?;
    /// assert!(total > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_metadata(mut self) -> ReadDir {
        self.with_metadata = true;
        self
    }

    /// Refills the batch; false when there is nothing more to read.
    fn refill(&mut self) -> bool {
        let inner = match std::mem::replace(&mut self.state, DirState::Lost) {
            DirState::Open(inner) => inner,
            DirState::Lost => {
                self.batch.push_back(Err(io::Error::other(
                    "ReadDir: an earlier call was cut short (timeout or cancellation) while it \
                     fetched entries, so the listing is incomplete",
                )));
                self.state = DirState::Done;
                return true;
            }
            DirState::Done => {
                self.state = DirState::Done;
                return false;
            }
        };
        let with_metadata = self.with_metadata;
        let (inner, batch) = match offload(move || Ok(fetch_batch(inner, with_metadata))) {
            Ok(trip) => trip,
            // offload's own failure (the runtime shutting down).
            Err(e) => {
                self.batch.push_back(Err(e));
                self.state = DirState::Done;
                return true;
            }
        };
        self.state = match inner {
            Some(inner) => DirState::Open(inner),
            None => DirState::Done,
        };
        self.batch = batch;
        !self.batch.is_empty()
    }
}

/// Reads up to [`READ_DIR_BATCH`] entries (and their metadata); returns
/// the iterator back unless it ran out.
fn fetch_batch(
    mut inner: std::fs::ReadDir,
    with_metadata: bool,
) -> (Option<std::fs::ReadDir>, VecDeque<io::Result<DirEntry>>) {
    let mut batch = VecDeque::with_capacity(READ_DIR_BATCH);
    while batch.len() < READ_DIR_BATCH {
        let Some(entry) = inner.next() else {
            return (None, batch);
        };
        batch.push_back(entry.map(|std| {
            let metadata = if with_metadata { std.metadata().ok() } else { None };
            DirEntry { std, metadata }
        }));
    }
    (Some(inner), batch)
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        if self.batch.is_empty() && !self.refill() {
            return None;
        }
        self.batch.pop_front()
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir")
            .field("buffered", &self.batch.len())
            .field("with_metadata", &self.with_metadata)
            .finish_non_exhaustive()
    }
}

/// One entry of a [`ReadDir`].
pub struct DirEntry {
    std: std::fs::DirEntry,
    /// Fetched with the entry by [`ReadDir::with_metadata`] (`None` if not
    /// asked for, or if it failed: then `metadata` asks again and reports
    /// the error).
    metadata: Option<Metadata>,
}

impl DirEntry {
    /// The entry's full path (the directory's path joined with the name).
    ///
    /// ```
    /// let e = verdant::fs::read_dir("src")?.next().unwrap()?;
    /// assert!(e.path().starts_with("src"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn path(&self) -> PathBuf {
        self.std.path()
    }

    /// The entry's name in its directory.
    ///
    /// ```
    /// let e = verdant::fs::read_dir("src")?.next().unwrap()?;
    /// assert_eq!(e.path().file_name().unwrap(), e.file_name());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn file_name(&self) -> OsString {
        self.std.file_name()
    }

    /// The entry's metadata (a symlink is not followed): the one fetched
    /// with the entry after [`ReadDir::with_metadata`], else from a trip
    /// to the pool.
    ///
    /// ```
    /// let e = verdant::fs::read_dir("src")?.with_metadata().next().unwrap()?;
    /// assert!(e.metadata()?.is_file() || e.metadata()?.is_dir());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metadata(&self) -> io::Result<Metadata> {
        match &self.metadata {
            Some(m) => Ok(m.clone()),
            None => symlink_metadata(self.path()),
        }
    }

    /// The entry's type. Free on most file systems (the directory listing
    /// carries it) and after [`ReadDir::with_metadata`]; where the listing
    /// does not, std's call `lstat`s the entry inline.
    ///
    /// ```
    /// let e = verdant::fs::read_dir("src")?.next().unwrap()?;
    /// let t = e.file_type()?;
    /// assert!(t.is_file() || t.is_dir());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn file_type(&self) -> io::Result<FileType> {
        match &self.metadata {
            Some(m) => Ok(m.file_type()),
            None => self.std.file_type(),
        }
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DirEntry").field(&self.path()).finish()
    }
}

/// Options for opening a [`File`], as [`std::fs::OpenOptions`].
///
/// ```
/// # let path = std::env::temp_dir().join(format!("verdant-fs-opts-{}", std::process::id()));
/// use std::io::Write;
/// let mut f = verdant::fs::OpenOptions::new().append(true).create(true).open(&path)?;
/// f.write_all(b"one ")?;
/// let mut f = verdant::fs::OpenOptions::new().append(true).open(&path)?;
/// f.write_all(b"two")?;
/// assert_eq!(std::fs::read(&path)?, b"one two");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// All options off, as [`std::fs::OpenOptions::new`].
    ///
    /// ```
    /// let opts = verdant::fs::OpenOptions::new();
    /// ```
    #[allow(clippy::new_without_default)] // as std
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Open for reading.
    ///
    /// ```
    /// let f = verdant::fs::OpenOptions::new().read(true).open("Cargo.toml")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Open for writing.
    ///
    /// ```
    /// let mut opts = verdant::fs::OpenOptions::new();
    /// opts.write(true);
    /// ```
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Open for appending (writes go to the end).
    ///
    /// ```
    /// let mut opts = verdant::fs::OpenOptions::new();
    /// opts.append(true);
    /// ```
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Truncate an existing file to length 0.
    ///
    /// ```
    /// let mut opts = verdant::fs::OpenOptions::new();
    /// opts.write(true).truncate(true);
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Create the file if it does not exist.
    ///
    /// ```
    /// let mut opts = verdant::fs::OpenOptions::new();
    /// opts.write(true).create(true);
    /// ```
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Create the file, failing if it exists.
    ///
    /// ```
    /// let mut opts = verdant::fs::OpenOptions::new();
    /// opts.write(true).create_new(true);
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// std's options, for what this type does not mirror (the unix
    /// `OpenOptionsExt`: `mode`, `custom_flags`).
    ///
    /// ```
    /// use std::os::unix::fs::OpenOptionsExt;
    /// let mut opts = verdant::fs::OpenOptions::new();
    /// opts.as_std_mut().mode(0o600);
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::fs::OpenOptions {
        &mut self.0
    }

    /// Opens `path` with these options.
    ///
    /// # Errors
    ///
    /// std's: `NotFound`, `PermissionDenied`, `AlreadyExists`, ...
    ///
    /// ```
    /// let err = verdant::fs::OpenOptions::new().read(true).open("no/such/file").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// ```
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let opts = self.0.clone();
        with_path(path.as_ref(), move |p| opts.open(p)).map(File::from_std)
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(std: std::fs::OpenOptions) -> OpenOptions {
        OpenOptions(std)
    }
}

/// An open file whose operations run on the blocking pool, as
/// [`std::fs::File`]. `Read`, `Write` and `Seek` are implemented for
/// `File` and for `&File`.
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// # let path = std::env::temp_dir().join(format!("verdant-fs-file-{}", std::process::id()));
/// let h = verdant::spawn(move || -> std::io::Result<String> {
///     let mut f = verdant::fs::File::create(&path)?;
///     f.write_all(b"hello, file")?;
///     f.seek(SeekFrom::Start(7))?;
///     f.write_all(b"world")?;
///     let mut s = String::new();
///     verdant::fs::File::open(&path)?.read_to_string(&mut s)?;
///     verdant::fs::remove_file(&path)?;
///     Ok(s)
/// });
/// assert_eq!(h.join().unwrap()?, "hello, world");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct File {
    /// Shared with a pool thread during a call (so a call cut short by a
    /// timeout never loses the file).
    std: Arc<std::fs::File>,
}

impl File {
    /// Opens a file for reading, as [`std::fs::File::open`].
    ///
    /// ```
    /// let f = verdant::fs::File::open("Cargo.toml")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        with_path(path.as_ref(), |p| std::fs::File::open(p)).map(File::from_std)
    }

    /// Opens a file for writing, creating or truncating it, as
    /// [`std::fs::File::create`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-fs-create-{}", std::process::id()));
    /// let f = verdant::fs::File::create(&path)?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        with_path(path.as_ref(), |p| std::fs::File::create(p)).map(File::from_std)
    }

    /// A builder for opening with other options, as
    /// [`std::fs::File::options`].
    ///
    /// ```
    /// let f = verdant::fs::File::options().read(true).open("Cargo.toml")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps a std file.
    ///
    /// ```
    /// let f = verdant::fs::File::from_std(std::fs::File::open("Cargo.toml")?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(std: std::fs::File) -> File {
        File { std: Arc::new(std) }
    }

    /// The std file back (an error only while a call cut short by a
    /// timeout still runs on the pool; try again later).
    ///
    /// ```
    /// let f = verdant::fs::File::open("Cargo.toml")?;
    /// let std: std::fs::File = f.into_std()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::fs::File> {
        Arc::try_unwrap(self.std).map_err(|_| {
            io::Error::new(
                io::ErrorKind::ResourceBusy,
                "File: a call cut short still runs on the pool",
            )
        })
    }

    /// Runs `op` on the std file: on the pool from a green thread, inline
    /// from an OS thread.
    fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce(&std::fs::File) -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        if !green() {
            return op(&self.std);
        }
        let std = self.std.clone();
        offload(move || op(&std))
    }

    /// The file's metadata, as [`std::fs::File::metadata`].
    ///
    /// ```
    /// let f = verdant::fs::File::open("Cargo.toml")?;
    /// assert!(f.metadata()?.len() > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.run(|f| f.metadata())
    }

    /// Truncates or extends the file to `size` bytes, as
    /// [`std::fs::File::set_len`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-fs-len-{}", std::process::id()));
    /// let f = verdant::fs::File::create(&path)?;
    /// f.set_len(10)?;
    /// assert_eq!(f.metadata()?.len(), 10);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        self.run(move |f| f.set_len(size))
    }

    /// Flushes data and metadata to the device, as
    /// [`std::fs::File::sync_all`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-fs-sync-{}", std::process::id()));
    /// let f = verdant::fs::File::create(&path)?;
    /// f.sync_all()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn sync_all(&self) -> io::Result<()> {
        self.run(|f| f.sync_all())
    }

    /// Flushes data to the device, as [`std::fs::File::sync_data`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("verdant-fs-syncd-{}", std::process::id()));
    /// let f = verdant::fs::File::create(&path)?;
    /// f.sync_data()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn sync_data(&self) -> io::Result<()> {
        self.run(|f| f.sync_data())
    }

    /// A second handle to the same open file (shared offset), as
    /// [`std::fs::File::try_clone`].
    ///
    /// ```
    /// let f = verdant::fs::File::open("Cargo.toml")?;
    /// let g = f.try_clone()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<File> {
        self.std.try_clone().map(File::from_std)
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("File").field(&self.std).finish()
    }
}

impl std::os::fd::AsFd for File {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.std.as_fd()
    }
}

impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.std.as_raw_fd()
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !green() {
            return (&*self.std).read(buf);
        }
        let len = buf.len();
        let data = self.run(move |mut f| {
            let mut data = vec![0; len];
            let n = f.read(&mut data)?;
            data.truncate(n);
            Ok(data)
        })?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        if !green() {
            return (&*self.std).read_to_end(buf);
        }
        let data = self.run(|mut f| {
            let mut data = Vec::new();
            f.read_to_end(&mut data)?;
            Ok(data)
        })?;
        buf.extend_from_slice(&data);
        Ok(data.len())
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        if !green() {
            return (&*self.std).read_to_string(buf);
        }
        let data = self.run(|mut f| {
            let mut data = String::new();
            f.read_to_string(&mut data)?;
            Ok(data)
        })?;
        buf.push_str(&data);
        Ok(data.len())
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !green() {
            return (&*self.std).write(buf);
        }
        let data = buf.to_vec();
        self.run(move |mut f| f.write(&data))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if !green() {
            return (&*self.std).write_all(buf);
        }
        let data = buf.to_vec();
        self.run(move |mut f| f.write_all(&data))
    }

    fn flush(&mut self) -> io::Result<()> {
        // std's File has no buffer of its own: nothing to flush.
        Ok(())
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.run(move |mut f| f.seek(pos))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}
