//! The exclusive lock of a state: a lock file `<state>.lock` beside it, holding who took it.
//!
//! Why a lock *file* made with an atomic hard link, not `flock`: the lock must say who holds
//! it (id, operation, user, host, pid, time) and must outlive a killed process so that the
//! next run can report it as stale instead of silently proceeding past a half-done apply.
//! The holder's record is written to a temporary file and fsynced first, then `link(2)`ed to
//! the lock name: `link` fails with `EEXIST` when the lock exists (the same guarantee as
//! `O_CREAT|O_EXCL`), and the lock file is never visible half-written. `flock` locks vanish
//! with their process and are unreliable on network file systems; neither fits.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{StateError, io as io_err};
use crate::sys;

/// Who holds a lock. Stored as JSON in the lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A random UUID; `force_unlock` must be given it.
    pub id: String,
    /// What the holder is doing: `apply`, `plan`, `state mv`...
    pub operation: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// The holder's process start time in clock ticks since boot (Linux), to tell it from a
    /// later process that reuses its pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
    /// When the lock was taken, RFC 3339 in UTC.
    pub created: String,
    pub brick_version: String,
    /// The state file locked.
    pub path: String,
}

impl LockInfo {
    /// A new lock record for this process: a fresh id, the user, host, pid (with its start
    /// time) and the time now. Lock files and remote locks (`brick-state-backends`) hold it.
    pub fn new(operation: &str, brick_version: &str, path: &str) -> LockInfo {
        let pid = std::process::id();
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            user: sys::username(),
            host: sys::hostname(),
            pid,
            pid_start: sys::process_start(pid),
            created: now_rfc3339(),
            brick_version: brick_version.to_string(),
            path: path.to_string(),
        }
    }

    /// Whether the holder is a process of this host that no longer runs.
    pub fn is_stale(&self) -> bool {
        self.host == sys::hostname() && !sys::process_alive(self.pid, self.pid_start)
    }

    /// Whether the holder is a process of this host that still runs (removing its lock
    /// would let another brick change the state under it).
    pub fn is_alive_here(&self) -> bool {
        self.host == sys::hostname() && sys::process_alive(self.pid, self.pid_start)
    }
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lock {} ({} by {}@{}, pid {}, since {}, brick {})",
            self.id,
            self.operation,
            self.user,
            self.host,
            self.pid,
            self.created,
            self.brick_version
        )
    }
}

/// Work to do when a lock is released, while it is still held (see [`StateLock::on_release`]).
pub type ReleaseHook = Box<dyn FnOnce() + Send>;

/// A held lock. Released (the lock file removed, if it is still ours) when dropped.
pub struct StateLock {
    pub(crate) state_path: PathBuf,
    pub(crate) lock_path: PathBuf,
    info: LockInfo,
    taken_over: Option<LockInfo>,
    hooks: Vec<ReleaseHook>,
}

impl fmt::Debug for StateLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateLock")
            .field("lock_path", &self.lock_path)
            .field("info", &self.info)
            .field("hooks", &self.hooks.len())
            .finish()
    }
}

impl StateLock {
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// The stale lock this one replaced: its holder was a process of this host that no
    /// longer ran (killed, or the machine restarted). Callers say so.
    pub fn taken_over(&self) -> Option<&LockInfo> {
        self.taken_over.as_ref()
    }

    /// The state file this lock is for.
    pub fn state_path(&self) -> &Path {
        &self.state_path
    }

    /// Runs `hook` when the lock is released (or dropped), before the lock file goes, in
    /// the reverse order of registration: a remote backend pushes the state and releases
    /// its remote lock there, while this process still holds the local one.
    pub fn on_release(&mut self, hook: ReleaseHook) {
        self.hooks.push(hook);
    }

    /// Releases the lock now, reporting failure (drop ignores it).
    pub fn release(mut self) -> Result<(), StateError> {
        let r = self.remove_if_ours();
        std::mem::forget(self);
        r
    }

    fn remove_if_ours(&mut self) -> Result<(), StateError> {
        while let Some(hook) = self.hooks.pop() {
            hook();
        }
        match read_lock(&self.lock_path)? {
            Some(holder) if holder.id == self.info.id => {
                fs::remove_file(&self.lock_path)
                    .map_err(io_err("remove the lock", &self.lock_path))?;
                let _ = sys::sync_dir(&sys::parent_dir(&self.lock_path));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        let _ = self.remove_if_ours();
    }
}

pub(crate) fn read_lock(lock_path: &Path) -> Result<Option<LockInfo>, StateError> {
    match sys::read_bounded(lock_path, sys::MAX_LOCK_BYTES) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StateError::Corrupt {
                path: lock_path.to_path_buf(),
                detail: format!("the lock file does not hold a lock record ({e})"),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read the lock", lock_path)(e)),
    }
}

pub(crate) fn acquire(
    state_path: &Path,
    lock_path: &Path,
    operation: &str,
    brick_version: &str,
) -> Result<StateLock, StateError> {
    let info = LockInfo::new(operation, brick_version, &state_path.display().to_string());
    let mut bytes = serde_json::to_vec_pretty(&info).expect("lock info serializes");
    bytes.push(b'\n');
    let mut taken_over = None;
    // A lock file removed between our failed link and our read, or a stale one taken over:
    // try again a few times.
    for _ in 0..5 {
        let tmp = sys::temp_beside(lock_path);
        sys::write_new(&tmp, &bytes).map_err(io_err("write the lock", &tmp))?;
        let linked = match fs::hard_link(&tmp, lock_path) {
            // A file system without hard links: O_EXCL creation gives the same exclusion,
            // with a moment in which the lock file is empty (read as corrupt by others).
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists && !lock_path.exists() => {
                sys::write_new(lock_path, &bytes).or(Err(e))
            }
            other => other,
        };
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                let _ = sys::sync_dir(&sys::parent_dir(lock_path));
                return Ok(StateLock {
                    state_path: state_path.to_path_buf(),
                    lock_path: lock_path.to_path_buf(),
                    info,
                    taken_over,
                    hooks: Vec::new(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if let Some(holder) = read_lock(lock_path)? {
                    let path = state_path.to_path_buf();
                    if !holder.is_stale() {
                        return Err(StateError::Locked {
                            path,
                            holder: Box::new(holder),
                        });
                    }
                    match remove_stale(lock_path) {
                        Ok(Some(gone)) => taken_over = Some(gone),
                        // Replaced meanwhile (someone else took it over): look again.
                        Ok(None) => {}
                        Err(_) => {
                            return Err(StateError::StaleLock {
                                path,
                                holder: Box::new(holder),
                            });
                        }
                    }
                }
            }
            Err(e) => return Err(io_err("create the lock", lock_path)(e)),
        }
    }
    Err(io_err("create the lock", lock_path)(io::Error::other(
        "the lock file kept appearing and disappearing",
    )))
}

/// Removes the lock file at `lock_path` if its holder is still a process of this host that
/// no longer runs; returns that holder, or `None` when the file changed meanwhile.
///
/// Two bricks may find the same stale lock at once; exactly one may remove it, and never the
/// fresh lock the other put in its place. So the remover holds a `flock` on the stale file
/// itself while it checks that the name still leads to that file and the file still names a
/// dead holder, then unlinks it; a second remover gets the `flock` only after that and finds
/// the name leading elsewhere. The `flock` dies with its process, so a remover killed
/// half-way blocks nobody.
fn remove_stale(lock_path: &Path) -> Result<Option<LockInfo>, StateError> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let mut file = match fs::File::open(lock_path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read the lock", lock_path)(e)),
    };
    sys::lock_exclusive(&file).map_err(io_err("lock the lock file", lock_path))?;
    let held = file
        .metadata()
        .map_err(io_err("read the lock", lock_path))?;
    match fs::symlink_metadata(lock_path) {
        Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read the lock", lock_path)(e)),
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(sys::MAX_LOCK_BYTES)
        .read_to_end(&mut bytes)
        .map_err(io_err("read the lock", lock_path))?;
    let Ok(holder) = serde_json::from_slice::<LockInfo>(&bytes) else {
        return Ok(None);
    };
    if !holder.is_stale() {
        return Ok(None);
    }
    fs::remove_file(lock_path).map_err(io_err("remove the stale lock", lock_path))?;
    let _ = sys::sync_dir(&sys::parent_dir(lock_path));
    Ok(Some(holder))
}

pub(crate) fn force_unlock(
    state_path: &Path,
    lock_path: &Path,
    id: &str,
) -> Result<LockInfo, StateError> {
    let Some(holder) = read_lock(lock_path)? else {
        return Err(StateError::NotLocked {
            path: state_path.to_path_buf(),
        });
    };
    if holder.id != id {
        return Err(StateError::LockIdMismatch {
            path: state_path.to_path_buf(),
            given: id.to_string(),
            actual: holder.id,
        });
    }
    fs::remove_file(lock_path).map_err(io_err("remove the lock", lock_path))?;
    let _ = sys::sync_dir(&sys::parent_dir(lock_path));
    Ok(holder)
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}
