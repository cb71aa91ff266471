//! A backend as brick's engine uses it: a local working copy of one workspace's state
//! (`<dir>/.brick/remote/<workspace>/brick.state.json`, with the journal beside it, so the
//! engine's crash safety is `brick-state`'s as for a local state), pulled from the store
//! under the store's lock and pushed back compare-and-swap when the lock is released.
//!
//! `remote.json` beside the working copy records what the store held when last seen (its
//! version, serial, lineage and the SHA-256 of the plain document), so that:
//! - a working copy ahead of the store (a push that failed, a run killed after its journal
//!   was folded) is pushed by the next run, against exactly the version it was based on;
//! - a working copy whose journal holds an interrupted apply is never silently replaced by a
//!   newer remote state (the journal's intents would be lost): that is
//!   [`BackendError::JournalConflict`];
//! - a store changed behind brick's back (after a force-unlock) is never overwritten: the
//!   push is refused ([`BackendError::Conflict`]) and the working copy kept.
//!
//! An apply also leaves a record in the store before it changes anything
//! ([`Remote::announce`]: who, from which working copy, when, on which serial, and the
//! changes it is about to make), in the reserved workspace `<workspace>.unfinished-apply`
//! (encrypted like the state). It is removed when that working copy pushes a state with no
//! journal left. A teammate's run on another machine reads it ([`Remote::unfinished`]): while
//! the record exists, an apply there is running or was interrupted, and its journal is only on
//! the machine named in it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use brick_state::{LockInfo, StateLock, StateStore};
use sha2::{Digest, Sha256};

use crate::crypt::{Encryption, open_document};
use crate::{Backend, BackendError, HeldLock};

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
struct Base {
    version: String,
    serial: u64,
    lineage: String,
    sha256: String,
}

/// The reserved workspace name suffix of an apply's record ([`Remote::announce`]).
pub const UNFINISHED_SUFFIX: &str = ".unfinished-apply";

/// Beside the working copy: this working copy announced an apply not yet cleared.
const ANNOUNCED_FILE: &str = "announced-apply";

/// An apply in progress or interrupted, as recorded in the store for teammates.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Unfinished {
    /// Who ran it, where (host, pid, the working copy holding its journal) and when.
    pub holder: LockInfo,
    /// The serial of the state it started from.
    pub base_serial: u64,
    /// The changes it was about to make, as `create brick_data.a`.
    pub changes: Vec<String>,
}

/// What [`Remote::pull`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum PullOutcome {
    /// Neither the store nor the working copy holds a state.
    Empty,
    /// The working copy already held the store's state.
    Unchanged,
    /// The store's state (this serial) replaced the working copy.
    Pulled(u64),
    /// The working copy was ahead (this serial) and was pushed.
    Pushed(u64),
    /// The store holds nothing; the working copy's state (this serial) stays, pushed on
    /// release.
    LocalOnly(u64),
}

/// One workspace of a backend, with its working copy under `dir`.
#[derive(Clone)]
pub struct Remote {
    backend: Arc<dyn Backend>,
    workspace: String,
    encryption: Option<Encryption>,
    dir: PathBuf,
}

/// The lineage and serial of a state document.
pub fn remote_header(bytes: &[u8]) -> Option<(String, u64)> {
    #[derive(serde::Deserialize)]
    struct H {
        #[serde(default)]
        lineage: String,
        #[serde(default)]
        serial: u64,
    }
    serde_json::from_slice::<H>(bytes)
        .ok()
        .map(|h| (h.lineage, h.serial))
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Remote {
    /// `workspace` of `backend`, its working copy under `work_dir/.brick/remote/<workspace>`.
    pub fn new(
        backend: Box<dyn Backend>,
        workspace: &str,
        encryption: Option<Encryption>,
        work_dir: &Path,
    ) -> Remote {
        Remote {
            backend: Arc::from(backend),
            workspace: workspace.to_string(),
            encryption,
            dir: work_dir.join(".brick").join("remote").join(workspace),
        }
    }

    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    pub fn encryption(&self) -> Option<&Encryption> {
        self.encryption.as_ref()
    }

    /// Where the state lives, for messages.
    pub fn describe(&self) -> String {
        self.backend.describe(&self.workspace)
    }

    /// The working copy's state file (the engine's `StateStore` path).
    pub fn state_path(&self) -> PathBuf {
        self.dir.join(brick_state::DEFAULT_STATE_FILE)
    }

    fn base_path(&self) -> PathBuf {
        self.dir.join("remote.json")
    }

    fn base(&self) -> Option<Base> {
        std::fs::read(self.base_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    fn set_base(&self, base: Option<&Base>) -> Result<(), BackendError> {
        let path = self.base_path();
        let io = |e: std::io::Error| BackendError::Store {
            action: "record what the store holds in",
            what: path.display().to_string(),
            detail: e.to_string(),
        };
        match base {
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
                _ => Ok(()),
            },
            Some(b) => {
                std::fs::create_dir_all(&self.dir).map_err(io)?;
                let tmp = path.with_extension("json.tmp");
                std::fs::write(&tmp, serde_json::to_vec(b).expect("serializes")).map_err(io)?;
                std::fs::rename(&tmp, &path).map_err(io)
            }
        }
    }

    /// The store's document for this workspace, decrypted, with its version.
    pub fn read_plain(&self) -> Result<Option<(Vec<u8>, String)>, BackendError> {
        let Some(s) = self.backend.read(&self.workspace)? else {
            return Ok(None);
        };
        let plain = open_document(self.encryption.as_ref(), s.bytes, &self.describe())?;
        Ok(Some((plain, s.version)))
    }

    /// Writes `plain` (encrypted when encryption is on) if the store still holds `expected`.
    pub fn write_plain(
        &self,
        plain: &[u8],
        expected: Option<&str>,
    ) -> Result<String, BackendError> {
        let bytes = match &self.encryption {
            Some(e) => e.seal(plain)?,
            None => plain.to_vec(),
        };
        self.backend.write(&self.workspace, bytes, expected)
    }

    fn unfinished_workspace(&self) -> String {
        format!("{}{UNFINISHED_SUFFIX}", self.workspace)
    }

    /// Records in the store that an apply starts from `base_serial` with `changes`, for
    /// teammates to see until [`Remote::settle_announcement`] removes it.
    pub fn announce(&self, base_serial: u64, changes: Vec<String>) -> Result<(), BackendError> {
        let record = Unfinished {
            holder: LockInfo::new(
                "apply",
                env!("CARGO_PKG_VERSION"),
                &self.dir.display().to_string(),
            ),
            base_serial,
            changes,
        };
        let plain = serde_json::to_vec_pretty(&record).expect("serializes");
        let bytes = match &self.encryption {
            Some(e) => e.seal(&plain)?,
            None => plain,
        };
        let ws = self.unfinished_workspace();
        let expected = self.backend.read(&ws)?.map(|s| s.version);
        self.backend.write(&ws, bytes, expected.as_deref())?;
        std::fs::write(self.dir.join(ANNOUNCED_FILE), b"").map_err(|e| BackendError::Store {
            action: "record the announced apply in",
            what: self.dir.display().to_string(),
            detail: e.to_string(),
        })
    }

    /// The store's record of an apply that is running or was interrupted, if any.
    pub fn unfinished(&self) -> Result<Option<Unfinished>, BackendError> {
        let ws = self.unfinished_workspace();
        let Some(s) = self.backend.read(&ws)? else {
            return Ok(None);
        };
        let what = self.backend.describe(&ws);
        let plain = open_document(self.encryption.as_ref(), s.bytes, &what)?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|e| BackendError::Store {
                action: "read",
                what,
                detail: format!("not an apply record ({e})"),
            })
    }

    /// Whether this working copy announced an apply it has not settled yet.
    pub fn announced_here(&self) -> bool {
        self.dir.join(ANNOUNCED_FILE).exists()
    }

    /// Removes this working copy's announcement from the store once its journal is gone
    /// (folded into a state that was pushed): nothing is unfinished any more.
    pub fn settle_announcement(&self, store: &StateStore) -> Result<(), BackendError> {
        if !self.announced_here() || store.journal_path().exists() {
            return Ok(());
        }
        self.backend
            .delete_workspace(&self.unfinished_workspace())?;
        let _ = std::fs::remove_file(self.dir.join(ANNOUNCED_FILE));
        Ok(())
    }

    /// Takes the store's lock for `operation`.
    pub fn lock(
        &self,
        operation: &str,
        brick_version: &str,
    ) -> Result<Box<dyn HeldLock>, BackendError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| BackendError::Store {
            action: "create the working copy directory",
            what: self.dir.display().to_string(),
            detail: e.to_string(),
        })?;
        // The working copy is named in the lock: only a brick working there (where a crashed
        // holder's journal is) takes over a crashed holder's lock by itself.
        let info = LockInfo::new(
            operation,
            brick_version,
            &format!("{} (working copy {})", self.describe(), self.dir.display()),
        );
        self.backend.lock(&self.workspace, &info)
    }

    /// Brings the working copy up to the store's state; under the store's lock and the
    /// working copy's `lock`.
    pub fn pull(&self, store: &StateStore, lock: &StateLock) -> Result<PullOutcome, BackendError> {
        let remote = self.read_plain()?;
        let local = store.snapshot_bytes()?;
        let journal = store.journal_path().exists();
        let Some((plain, version)) = remote else {
            self.set_base(None)?;
            return Ok(match local.as_deref().and_then(remote_header) {
                Some((_, serial)) => PullOutcome::LocalOnly(serial),
                None => PullOutcome::Empty,
            });
        };
        let (lineage, serial) = remote_header(&plain).ok_or_else(|| BackendError::Store {
            action: "read",
            what: self.describe(),
            detail: "it does not hold a state document".into(),
        })?;
        let base = Base {
            version: version.clone(),
            serial,
            lineage: lineage.clone(),
            sha256: sha(&plain),
        };
        if let Some(local) = &local {
            if *local == plain {
                self.set_base(Some(&base))?;
                return Ok(PullOutcome::Unchanged);
            }
            if let Some((l_lineage, l_serial)) = remote_header(local)
                && l_lineage == lineage
            {
                if l_serial > serial {
                    // Ahead of the store: pushed now if the store is still what it was based on.
                    if self.base().is_some_and(|b| b.version == version) {
                        let v = self.write_plain(local, Some(&version))?;
                        self.set_base(Some(&Base {
                            version: v,
                            serial: l_serial,
                            lineage,
                            sha256: sha(local),
                        }))?;
                        return Ok(PullOutcome::Pushed(l_serial));
                    }
                    return Err(BackendError::Conflict {
                        what: self.describe(),
                    });
                }
                if journal && l_serial != serial {
                    return Err(BackendError::JournalConflict {
                        what: self.describe(),
                        local: l_serial,
                        remote: serial,
                    });
                }
            } else if journal {
                return Err(BackendError::JournalConflict {
                    what: self.describe(),
                    local: remote_header(local).map_or(0, |h| h.1),
                    remote: serial,
                });
            }
        }
        store.replace_snapshot(lock, &plain)?;
        self.set_base(Some(&base))?;
        Ok(PullOutcome::Pulled(serial))
    }

    /// Pushes the working copy when it differs from what the store was seen holding;
    /// returns the serial pushed.
    pub fn push(&self, store: &StateStore) -> Result<Option<u64>, BackendError> {
        let Some(local) = store.snapshot_bytes()? else {
            return Ok(None);
        };
        let base = self.base();
        let digest = sha(&local);
        if base.as_ref().is_some_and(|b| b.sha256 == digest) {
            return Ok(None);
        }
        let (lineage, serial) = remote_header(&local).unwrap_or_default();
        let version = self.write_plain(&local, base.as_ref().map(|b| b.version.as_str()))?;
        self.set_base(Some(&Base {
            version,
            serial,
            lineage,
            sha256: digest,
        }))?;
        Ok(Some(serial))
    }
}
