//! The state store: one state file on disk with its backup, lock and journal beside it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::error::{StateError, io as io_err};
use crate::format;
use crate::journal::{self, Journal, Replay};
use crate::lock::{self, LockInfo, StateLock};
use crate::model::State;
use crate::seal::Seal;
use crate::sys;

/// The default state file name, beside the configuration.
pub const DEFAULT_STATE_FILE: &str = "brick.state.json";

/// A state file and the files beside it: `<path>.backup`, `<path>.lock`, `<path>.journal`.
#[derive(Clone, Debug)]
pub struct StateStore {
    path: PathBuf,
    brick_version: String,
    /// Encryption at rest of the snapshot, its backup and the journal's records.
    seal: Option<Arc<dyn Seal>>,
}

/// A state as loaded, with what the journal contributed.
#[derive(Debug)]
pub struct Loaded {
    pub state: State,
    /// Present when an apply journal was replayed on top of the snapshot.
    pub replay: Option<Replay>,
    /// The state is the one read before the lock ([`StateStore::load_locked_preread`]).
    pub from_preread: bool,
}

/// A snapshot read before the lock was taken ([`StateStore::preread`]), with what identified
/// its file then; used under the lock only if the file is still that one
/// ([`StateStore::load_locked_preread`]).
#[derive(Debug)]
pub struct Preread {
    pub state: State,
    stamp: Stamp,
}

/// What identifies a file's content without reading it: device, inode, size, and the times
/// of its last modification and status change (nanoseconds). Every write of a snapshot is
/// a rename of a new file (a new inode); an edit in place changes the times.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(path).ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// The lock of a state as found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockStatus {
    pub holder: LockInfo,
    /// The holder ran on this host and is gone.
    pub stale: bool,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    format_version: Option<u64>,
    #[serde(default)]
    serial: u64,
    #[serde(default)]
    lineage: String,
}

impl StateStore {
    /// A store for the state file at `path`; `brick_version` goes into locks.
    pub fn new(path: impl Into<PathBuf>, brick_version: impl Into<String>) -> StateStore {
        StateStore {
            path: path.into(),
            brick_version: brick_version.into(),
            seal: None,
        }
    }

    /// The same store with its files encrypted by `seal`: every snapshot, backup and journal
    /// record is sealed as it is written and opened as it is read. A plain snapshot (written
    /// before encryption was on) is read only if `seal` allows it, and is rewritten sealed,
    /// with its backup, by the next [`StateStore::load_locked`].
    pub fn with_seal(mut self, seal: Option<Arc<dyn Seal>>) -> StateStore {
        self.seal = seal;
        self
    }

    pub(crate) fn seal(&self) -> Option<&dyn Seal> {
        self.seal.as_deref()
    }

    /// The plain bytes of `bytes`, read from `path`.
    fn open(&self, bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>, StateError> {
        match &self.seal {
            Some(seal) => seal.open(&bytes).map_err(|detail| StateError::Decrypt {
                path: path.to_path_buf(),
                detail,
            }),
            None if bytes.starts_with(ENVELOPE) => Err(StateError::Decrypt {
                path: path.to_path_buf(),
                detail: "it is encrypted, and no key is configured".into(),
            }),
            None => Ok(bytes),
        }
    }

    /// `plain` as written to `path`: sealed when encryption is on.
    fn sealed<'a>(
        &self,
        plain: &'a [u8],
        path: &Path,
    ) -> Result<std::borrow::Cow<'a, [u8]>, StateError> {
        match &self.seal {
            None => Ok(std::borrow::Cow::Borrowed(plain)),
            Some(seal) => {
                let mut out = seal.seal(plain).map_err(|detail| StateError::Encrypt {
                    path: path.to_path_buf(),
                    detail,
                })?;
                out.push(b'\n');
                Ok(std::borrow::Cow::Owned(out))
            }
        }
    }

    /// The file at `path`, opened; `None` when there is none.
    fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>, StateError> {
        match sys::read_bounded(path, sys::MAX_STATE_BYTES) {
            Ok(bytes) => self.open(bytes, path).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read the state", path)(e)),
        }
    }

    /// Encryption was turned on over a plain snapshot: seals it and its backup in place
    /// (same content, atomic like every write), so no plain copy stays on disk. The snapshot
    /// must be readable as the seal allows (a plain one only while migrating); a plain
    /// backup is sealed as it is.
    fn seal_plain_files(&self) -> Result<(), StateError> {
        let Some(seal) = &self.seal else {
            return Ok(());
        };
        let target = self.target_path();
        for (path, is_backup) in [(target.clone(), false), (self.backup_path(), true)] {
            let mut head = [0u8; 32];
            let n = match fs::File::open(&path).and_then(|mut f| {
                use std::io::Read;
                f.read(&mut head)
            }) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("read the state", &path)(e)),
            };
            if seal.is_sealed(&head[..n]) {
                continue;
            }
            let bytes = sys::read_bounded(&path, sys::MAX_STATE_BYTES)
                .map_err(io_err("read the state", &path))?;
            let plain = if is_backup {
                bytes
            } else {
                self.open(bytes, &path)?
            };
            let sealed = self.sealed(&plain, &path)?;
            let tmp = sys::temp_beside(&path);
            let result = sys::write_new(&tmp, &sealed)
                .map_err(io_err("write the state", &tmp))
                .and_then(|()| fs::rename(&tmp, &path).map_err(io_err("write the state", &path)));
            if result.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            result?;
        }
        sys::sync_dir(&sys::parent_dir(&target)).map_err(io_err("sync the directory of", &target))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file the state's content lives in: `path`, or, when `path` is a symbolic link,
    /// the file it leads to. Writes go there (the link is never replaced by a file).
    pub fn target_path(&self) -> PathBuf {
        sys::resolve_links(&self.path)
    }

    /// `<target>.backup`: the state as it was before the last write, beside the file that
    /// holds it ([`StateStore::target_path`]).
    pub fn backup_path(&self) -> PathBuf {
        sys::with_suffix(&self.target_path(), ".backup")
    }

    /// `<path>.lock`: present while someone holds the lock.
    pub fn lock_path(&self) -> PathBuf {
        sys::with_suffix(&self.path, ".lock")
    }

    /// `<path>.journal`: present while an apply runs, or after one was interrupted.
    pub fn journal_path(&self) -> PathBuf {
        sys::with_suffix(&self.path, ".journal")
    }

    /// Reads the snapshot alone, ignoring any journal. `None` when there is no state file.
    pub fn read_snapshot(&self) -> Result<Option<State>, StateError> {
        match self.read_file(&self.path)? {
            Some(bytes) => format::from_bytes(&bytes, &self.path).map(Some),
            None => Ok(None),
        }
    }

    /// Loads the state for reading: the snapshot with any unfinished journal replayed in
    /// memory. Writes nothing; needs no lock. `None` when there is neither state nor journal.
    /// The intents of an interrupted apply are in `state.pending`.
    pub fn load(&self) -> Result<Option<Loaded>, StateError> {
        let snapshot = self.read_snapshot()?;
        let Some(replay) = journal::read(&self.journal_path(), self.seal())? else {
            return Ok(snapshot.map(|state| Loaded {
                state,
                replay: None,
                from_preread: false,
            }));
        };
        let (state, replay) = journal::replay(&self.journal_path(), snapshot, replay)?;
        Ok(state.map(|state| Loaded {
            state,
            replay,
            from_preread: false,
        }))
    }

    /// Loads the state under a lock, folding an interrupted apply's journal into a new
    /// snapshot (serial + 1, pending intents included) and removing the journal. What it
    /// returns is exactly what is on disk.
    pub fn load_locked(&self, lock: &StateLock) -> Result<Option<Loaded>, StateError> {
        self.load_locked_preread(lock, None)
    }

    /// Reads the snapshot without the lock, so that parsing a large state can overlap other
    /// work (loading the configuration) before the lock is taken. `None` when there is no
    /// snapshot, when a journal is present (an interrupted apply is settled under the lock
    /// only), or when the file changed while it was read. Writes nothing.
    pub fn preread(&self) -> Option<Preread> {
        if fs::symlink_metadata(self.journal_path()).is_ok() {
            return None;
        }
        let before = Stamp::of(&self.path)?;
        let state = self.read_snapshot().ok()??;
        (Stamp::of(&self.path)? == before).then_some(Preread {
            state,
            stamp: before,
        })
    }

    /// [`StateStore::load_locked`], using `pre` when the snapshot is still the file it was
    /// read from and no journal appeared; otherwise the state is read again, under the lock.
    pub fn load_locked_preread(
        &self,
        lock: &StateLock,
        pre: Option<Preread>,
    ) -> Result<Option<Loaded>, StateError> {
        self.check_lock(lock)?;
        self.check_journal_free()?;
        self.seal_plain_files()?;
        if let Some(pre) = pre
            && fs::symlink_metadata(self.journal_path()).is_err()
            && Stamp::of(&self.path).as_ref() == Some(&pre.stamp)
        {
            return Ok(Some(Loaded {
                state: pre.state,
                replay: None,
                from_preread: true,
            }));
        }
        let Some(mut loaded) = self.load()? else {
            self.remove_journal()?;
            return Ok(None);
        };
        if loaded.replay.as_ref().is_some_and(|r| r.records > 0) {
            loaded.state.serial += 1;
            self.write(&loaded.state)?;
        }
        self.remove_journal()?;
        Ok(Some(loaded))
    }

    /// Writes `state` atomically, keeping the previous file as `<path>.backup`.
    ///
    /// Refused when the file on disk has another lineage, or a serial not lower than
    /// `state.serial` (unless it holds exactly these bytes: then nothing is written), or
    /// cannot be read. Callers bump `state.serial` for each new snapshot.
    pub fn save(&self, lock: &StateLock, state: &State) -> Result<(), StateError> {
        self.check_lock(lock)?;
        self.write(state)
    }

    /// Replaces the snapshot with `bytes` (a state document, checked by reading it), whatever
    /// the file on disk holds: a remote backend's working copy takes the remote's snapshot
    /// this way. Atomic like every write; the previous file becomes the backup.
    pub fn replace_snapshot(&self, lock: &StateLock, bytes: &[u8]) -> Result<State, StateError> {
        self.check_lock(lock)?;
        let state = format::from_bytes(bytes, &self.path)?;
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io_err("create the directory of", &self.path))?;
        }
        let target = self.target_path();
        let exists = target.exists();
        let tmp = sys::temp_beside(&target);
        let sealed = self.sealed(bytes, &target)?;
        let result = sys::write_new(&tmp, &sealed)
            .map_err(io_err("write the state", &tmp))
            .and_then(|()| {
                if exists {
                    self.keep_backup(&target)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| fs::rename(&tmp, &target).map_err(io_err("write the state", &target)));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result?;
        sys::sync_dir(&sys::parent_dir(&target))
            .map_err(io_err("sync the directory of", &target))?;
        // The previous file, now the backup, may predate encryption.
        self.seal_plain_files()?;
        Ok(state)
    }

    /// The snapshot's bytes as on disk, `None` when there is none.
    /// (Decrypted when encryption is on.)
    pub fn snapshot_bytes(&self) -> Result<Option<Vec<u8>>, StateError> {
        self.read_file(&self.path)
    }

    pub(crate) fn write(&self, state: &State) -> Result<(), StateError> {
        // Through a symbolic link to its target: the new content is renamed into place in
        // the target's directory, so the link keeps leading to the current state.
        let target = self.target_path();
        let bytes = format::to_bytes(state);
        let exists = match self.read_file(&self.path).map(|o| o.ok_or(())) {
            Ok(Ok(old)) => {
                let header = header(&old, &self.path)?;
                if header.lineage != state.lineage {
                    return Err(StateError::LineageMismatch {
                        path: self.path.clone(),
                        on_disk: header.lineage,
                        ours: state.lineage.clone(),
                    });
                }
                if old == bytes {
                    return Ok(());
                }
                if state.serial <= header.serial {
                    return Err(StateError::SerialRegression {
                        path: self.path.clone(),
                        on_disk: header.serial,
                        ours: state.serial,
                    });
                }
                true
            }
            Ok(Err(())) => false,
            Err(e) => return Err(e),
        };
        // The new content is whole on disk before anything else changes; then the current
        // file becomes the backup; then the rename makes the new content current.
        let tmp = sys::temp_beside(&target);
        let sealed = self.sealed(&bytes, &target)?;
        let result = sys::write_new(&tmp, &sealed)
            .map_err(io_err("write the state", &tmp))
            .and_then(|()| {
                if exists {
                    self.keep_backup(&target)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| fs::rename(&tmp, &target).map_err(io_err("write the state", &target)));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result?;
        sys::sync_dir(&sys::parent_dir(&target))
            .map_err(io_err("sync the directory of", &target))?;
        // The previous file, now the backup, may predate encryption.
        self.seal_plain_files()
    }

    /// Makes the current file (`target`) the backup: a hard link renamed over
    /// `<target>.backup`, so the old content is never copied and the backup is always whole.
    fn keep_backup(&self, target: &Path) -> Result<(), StateError> {
        let backup = sys::with_suffix(target, ".backup");
        let tmp = sys::temp_beside(&backup);
        let linked = fs::hard_link(target, &tmp).or_else(|_| {
            fs::copy(target, &tmp)?;
            fs::File::open(&tmp)?.sync_all()
        });
        linked
            .and_then(|()| fs::rename(&tmp, &backup))
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                io_err("keep the backup", &backup)(e)
            })
    }

    /// Takes the exclusive lock of this state, failing at once when someone holds it.
    pub fn lock(&self, operation: &str) -> Result<StateLock, StateError> {
        lock::acquire(
            &self.path,
            &self.lock_path(),
            operation,
            &self.brick_version,
        )
    }

    /// Who holds the lock, if anyone.
    pub fn lock_status(&self) -> Result<Option<LockStatus>, StateError> {
        Ok(
            lock::read_lock(&self.lock_path())?.map(|holder| LockStatus {
                stale: holder.is_stale(),
                holder,
            }),
        )
    }

    /// Removes the lock if its id is `id`; returns who held it.
    pub fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        lock::force_unlock(&self.path, &self.lock_path(), id)
    }

    /// Starts an apply of `state` (as returned by [`StateStore::load_locked`] or just saved):
    /// opens a fresh journal whose changes are folded into a snapshot by
    /// [`Journal::finish`].
    pub fn begin_apply(&self, lock: &StateLock, state: State) -> Result<Journal, StateError> {
        self.check_lock(lock)?;
        self.check_journal_free()?;
        let on_disk = match self.read_file(&self.path)? {
            Some(bytes) => Some(header(&bytes, &self.path)?),
            None => None,
        };
        if let Some(h) = &on_disk {
            if h.lineage != state.lineage {
                return Err(StateError::LineageMismatch {
                    path: self.path.clone(),
                    on_disk: h.lineage.clone(),
                    ours: state.lineage.clone(),
                });
            }
            if h.serial != state.serial {
                return Err(StateError::StaleState {
                    given: state.serial,
                    on_disk: h.serial,
                });
            }
        }
        if let Some(replay) = journal::read(&self.journal_path(), self.seal())?
            && replay.base_serial >= state.serial
            && replay.records() > 0
        {
            return Err(StateError::JournalPending {
                path: self.journal_path(),
            });
        }
        // Already folded, empty, or with a torn begin record: nothing in it to keep.
        self.remove_journal()?;
        Journal::create(self.clone(), state)
    }

    pub(crate) fn remove_journal(&self) -> Result<(), StateError> {
        let path = self.journal_path();
        match fs::remove_file(&path) {
            Ok(()) => sys::sync_dir(&sys::parent_dir(&path)).map_err(io_err("sync", &path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove the journal", &path)(e)),
        }
    }

    /// Refuses a journal that a live process still writes (its writer holds a `flock` on
    /// it; see [`Journal`]): folding or removing it would lose what that process records
    /// next. A killed writer's `flock` is gone with it.
    fn check_journal_free(&self) -> Result<(), StateError> {
        let path = self.journal_path();
        match sys::in_use(&path) {
            Ok(false) => Ok(()),
            Ok(true) => Err(StateError::JournalInUse { path }),
            Err(e) => Err(io_err("check the journal", &path)(e)),
        }
    }

    fn check_lock(&self, lock: &StateLock) -> Result<(), StateError> {
        if lock.lock_path != self.lock_path() {
            return Err(StateError::WrongLock {
                path: self.path.clone(),
                lock_path: lock.lock_path.clone(),
            });
        }
        Ok(())
    }
}

/// How every encrypted document starts (`brick-state-backends`' envelope): recognised even
/// without a key, to say so rather than call it corrupt.
pub(crate) const ENVELOPE: &[u8] = b"{\"brick_encryption\":";

/// The lineage and serial of a state document, without building the model.
fn header(bytes: &[u8], path: &Path) -> Result<Header, StateError> {
    let h: Header = serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
        path: path.to_path_buf(),
        detail: if e.is_eof() {
            format!("the file ends early ({e}); it was probably truncated")
        } else {
            format!("it is not a valid state document ({e})")
        },
    })?;
    match h.format_version {
        Some(v) if v > format::FORMAT_VERSION => Err(StateError::NewerFormat {
            path: path.to_path_buf(),
            found: v,
            supported: format::FORMAT_VERSION,
        }),
        Some(_) if !h.lineage.is_empty() => Ok(h),
        // Anything else (an older format) goes through the full reader and its upgrades.
        _ => {
            let s = format::from_bytes(bytes, path)?;
            Ok(Header {
                format_version: Some(format::FORMAT_VERSION),
                serial: s.serial,
                lineage: s.lineage,
            })
        }
    }
}
