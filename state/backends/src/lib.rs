//! brick's state on a shared store — S3 (any S3-compatible store), Kubernetes (Secrets and a
//! Lease) or PostgreSQL — with encryption at rest. The state format, the lock record and the
//! apply journal are `brick-state`'s; this crate only moves a state document to and from a
//! store, under a lock that store really enforces.
//!
//! # Code map
//! - [`Backend`]: what every store gives: read a workspace's document with a version,
//!   compare-and-swap write, an exclusive lock naming its holder, workspaces, and
//!   [`Backend::prove`] (the store really honours conditional writes).
//! - `s3.rs` (`object_store`), `kubernetes.rs` (`kube`), `pg.rs` (`tokio-postgres`): the stores.
//! - `crypt.rs`: [`Encryption`], AES-256-GCM envelopes with argon2id or raw keys.
//! - `remote.rs`: [`Remote`], a backend seen as a local working copy of the state: pulled
//!   under the lock, pushed (compare-and-swap) when the lock is released. The apply journal
//!   stays beside the working copy, so crash safety is `brick-state`'s.
//! - `rt.rs`: the stores' own tokio runtime, so the synchronous API works from any thread.

mod crypt;
mod kubernetes;
mod pg;
mod remote;
mod rt;
mod s3;

use std::collections::BTreeMap;

pub use brick_state::LockInfo;
pub use crypt::{Encryption, Key, KeySource, is_encrypted, open_document};
pub use remote::{PullOutcome, Remote, UNFINISHED_SUFFIX, Unfinished, remote_header};

/// A workspace's document as a store holds it, with the store's version of it (an S3 ETag,
/// a Secret's resourceVersion, a row's counter): the `expected` of the next write.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub bytes: Vec<u8>,
    pub version: String,
}

/// A lock held on a store. Released explicitly; a crashed holder's lock is recovered as its
/// store allows (documented per backend).
pub trait HeldLock: Send {
    fn release(self: Box<Self>) -> Result<(), BackendError>;
}

/// A store of state documents, one per workspace (`default` first).
pub trait Backend: Send + Sync {
    /// `s3`, `kubernetes`, `pg`.
    fn kind(&self) -> &'static str;
    /// Where a workspace's state lives, for messages (`s3://bucket/key`).
    fn describe(&self, workspace: &str) -> String;
    /// The workspace's document, `None` when there is none.
    fn read(&self, workspace: &str) -> Result<Option<Snapshot>, BackendError>;
    /// Writes the document only if the store still holds version `expected` (`None`: only if
    /// there is no document); returns the new version. A lost race is
    /// [`BackendError::Conflict`].
    fn write(
        &self,
        workspace: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<String, BackendError>;
    /// Takes the workspace's lock for `info`'s holder, failing at once with
    /// [`BackendError::Locked`] naming the current holder.
    fn lock(&self, workspace: &str, info: &LockInfo) -> Result<Box<dyn HeldLock>, BackendError>;
    /// Who holds the workspace's lock.
    fn holder(&self, workspace: &str) -> Result<Option<LockInfo>, BackendError>;
    /// Removes the workspace's lock if its id is `id`; returns who held it.
    fn force_unlock(&self, workspace: &str, id: &str) -> Result<LockInfo, BackendError>;
    /// The workspaces with a state (always `default`), sorted.
    fn workspaces(&self) -> Result<Vec<String>, BackendError>;
    /// Deletes a workspace's state.
    fn delete_workspace(&self, workspace: &str) -> Result<(), BackendError>;
    /// Refuses a workspace name the store cannot hold (the kubernetes backend's object names),
    /// as [`BackendError::WorkspaceName`].
    fn check_workspace(&self, _workspace: &str) -> Result<(), BackendError> {
        Ok(())
    }
    /// Proves the store enforces what the lock and the writes rely on (a second conditional
    /// create fails, a write against a stale version fails); a description of what was
    /// proved. [`BackendError::NoConditionalWrites`] when it does not.
    fn prove(&self) -> Result<String, BackendError>;
}

/// What went wrong with a store. Every variant has a stable code ([`BackendError::code`]) and
/// a help line.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("The backend configuration is invalid: {0}")]
    Config(String),
    #[error("The state at {what} is locked by {holder}.")]
    Locked { what: String, holder: Box<LockInfo> },
    #[error("{what} is not locked.")]
    NotLocked { what: String },
    #[error("The lock of {what} has id {actual}, not {given}.")]
    LockIdMismatch {
        what: String,
        given: String,
        actual: String,
    },
    #[error("The state at {what} changed since brick read it (a conditional write was refused).")]
    Conflict { what: String },
    #[error("{store} does not honour conditional writes: {detail}")]
    NoConditionalWrites { store: String, detail: String },
    #[error("Could not {action} {what}: {detail}")]
    Store {
        action: &'static str,
        what: String,
        detail: String,
    },
    #[error("The state at {what} could not be decrypted with {tried}: {detail}")]
    Decrypt {
        what: String,
        tried: String,
        detail: String,
    },
    #[error("The state at {what} is encrypted, and no key is configured.")]
    Encrypted { what: String },
    #[error("The state at {what} is not encrypted, and encryption is on (key from {source_name}).")]
    NotEncrypted { what: String, source_name: String },
    #[error("The encryption key from {source_name} is unusable: {detail}")]
    BadKey { source_name: String, detail: String },
    #[error(
        "The local working copy of {what} holds an interrupted apply's journal (from serial {local}), but the remote state is serial {remote} now."
    )]
    JournalConflict {
        what: String,
        local: u64,
        remote: u64,
    },
    #[error("The workspace name {name:?} cannot be used here: {detail}")]
    WorkspaceName { name: String, detail: String },
    #[error("{what} cannot be moved yet: {detail}")]
    Unsettled { what: String, detail: String },
    #[error("{0}")]
    State(#[from] brick_state::StateError),
}

impl BackendError {
    /// The stable code, `brick::backend::…`.
    pub fn code(&self) -> String {
        let c = match self {
            BackendError::Config(_) => "config",
            BackendError::Locked { .. } => "locked",
            BackendError::NotLocked { .. } => "not_locked",
            BackendError::LockIdMismatch { .. } => "lock_id_mismatch",
            BackendError::Conflict { .. } => "conflict",
            BackendError::NoConditionalWrites { .. } => "no_conditional_writes",
            BackendError::Store { .. } => "store",
            BackendError::Decrypt { .. } => "decrypt",
            BackendError::Encrypted { .. } => "encrypted",
            BackendError::NotEncrypted { .. } => "not_encrypted",
            BackendError::BadKey { .. } => "bad_key",
            BackendError::JournalConflict { .. } => "journal_conflict",
            BackendError::WorkspaceName { .. } => "workspace_name",
            BackendError::Unsettled { .. } => "unsettled",
            BackendError::State(e) => {
                use miette::Diagnostic as _;
                return e
                    .code()
                    .map_or_else(|| "brick::state::error".into(), |c| c.to_string());
            }
        };
        format!("brick::backend::{c}")
    }

    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            BackendError::Config(_) => "Fix the backend block in the brick { } settings, then run brick init again.".into(),
            BackendError::Locked { holder, .. } => format!(
                "Another brick is working on this state; wait for it and run again. If its holder crashed, run brick where it ran (a holder process of that host that is gone is taken over, and its journal settled), or, once sure no brick runs, `brick force-unlock {}`.",
                holder.id
            ),
            BackendError::NotLocked { .. } => "Nothing to unlock.".into(),
            BackendError::LockIdMismatch { actual, .. } => format!("Check the id; the current lock is {actual}."),
            BackendError::Conflict { .. } => "Someone wrote the state without holding the lock (or after a force-unlock). Nothing was overwritten; the state brick meant to write is kept in the local working copy under .brick/. Run the command again.".into(),
            BackendError::NoConditionalWrites { .. } => "brick refuses a store that ignores If-None-Match/If-Match: its lock would always succeed and two applies could overwrite each other. Use a store that supports conditional writes (Ceph RGW, MinIO, AWS S3, Cloudflare R2), or another backend.".into(),
            BackendError::Store { .. } => "Check the endpoint, the credentials and that the bucket, namespace or database exists.".into(),
            BackendError::Decrypt { .. } => "Give the key the state was written with (BRICK_STATE_PASSPHRASE, BRICK_STATE_KEY or BRICK_STATE_KEY_FILE), or the old one as BRICK_STATE_FALLBACK_* while rotating.".into(),
            BackendError::Encrypted { .. } => "Set BRICK_STATE_PASSPHRASE, BRICK_STATE_KEY or BRICK_STATE_KEY_FILE to the key it was written with.".into(),
            BackendError::NotEncrypted { .. } => "To encrypt an existing unencrypted state, run once with BRICK_STATE_ALLOW_UNENCRYPTED=1: it is read as is and written encrypted.".into(),
            BackendError::BadKey { .. } => "A key is 32 bytes: raw in a key file, or base64/hex text; a passphrase is at least 16 characters.".into(),
            BackendError::JournalConflict { .. } => "The interrupted apply's changes are in the local journal and someone changed the remote state since. Nothing was touched; settle by hand: compare .brick/remote/<workspace>/brick.state.json(.journal) with the remote state.".into(),
            BackendError::WorkspaceName { .. } => "On the kubernetes backend a workspace name is part of Secret and Lease names (as with Terraform's): lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 46 characters. Choose such a name.".into(),
            BackendError::Unsettled { .. } => "Settle it where it ran first: with the previous backend block, run `brick apply` in that working copy (it settles the journal and pushes the state), then run `brick init -migrate-state` again. Nothing was copied.".into(),
            BackendError::State(e) => {
                use miette::Diagnostic as _;
                return e.help().map(|h| h.to_string());
            }
        })
    }
}

/// A backend's settings: the type and its arguments as literal strings (lists such as
/// `endpoints { s3 = … }` flattened to `endpoints.s3`), as `brick init` records them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackendConfig {
    #[serde(rename = "type")]
    pub kind: String,
    pub settings: BTreeMap<String, String>,
}

/// The backends this build has, besides `local`.
pub const KINDS: &[&str] = &["s3", "kubernetes", "pg"];

/// Opens the backend `config` names (`local` is not one: its state is a file).
pub fn open(config: &BackendConfig) -> Result<Box<dyn Backend>, BackendError> {
    match config.kind.as_str() {
        "s3" => Ok(Box::new(s3::S3::new(&config.settings)?)),
        "kubernetes" => Ok(Box::new(kubernetes::Kubernetes::new(&config.settings)?)),
        "pg" => Ok(Box::new(pg::Pg::new(&config.settings)?)),
        other => Err(BackendError::Config(format!(
            "unknown backend type {other:?}; this build has local, {}",
            KINDS.join(", ")
        ))),
    }
}

/// Checks `settings` has only `allowed` keys (a typo is an error, not a default).
pub(crate) fn only(
    kind: &str,
    settings: &BTreeMap<String, String>,
    allowed: &[&str],
) -> Result<(), BackendError> {
    for k in settings.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(BackendError::Config(format!(
                "the {kind} backend has no argument {k:?} (it takes {})",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

/// A workspace name as Terraform allows it: letters, digits, `-`, `_`, `.`, not empty.
pub fn valid_workspace(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.ends_with(UNFINISHED_SUFFIX)
}

pub(crate) fn lock_json(info: &LockInfo) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(info).expect("lock info serializes");
    v.push(b'\n');
    v
}

pub(crate) fn parse_lock(bytes: &[u8], what: &str) -> Result<LockInfo, BackendError> {
    serde_json::from_slice(bytes).map_err(|e| BackendError::Store {
        action: "read the lock of",
        what: what.to_string(),
        detail: format!("it does not hold a lock record ({e})"),
    })
}
