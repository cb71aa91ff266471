//! Errors of the state crate: every one has a stable `brick::state::...` code and a help line.

use std::io;
use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use crate::lock::LockInfo;

/// Anything that can go wrong reading, writing, locking or journaling a state.
#[derive(Debug, Error, Diagnostic)]
pub enum StateError {
    #[error("Could not {action} {}: {source}", path.display())]
    #[diagnostic(
        code(brick::state::io),
        help("Check that the directory exists and that you may read and write it.")
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("The state file {} is corrupt: {detail}", path.display())]
    #[diagnostic(
        code(brick::state::corrupt),
        help(
            "Nothing was changed. The previous version is kept as `<state>.backup`; compare the two and restore the good one by hand."
        )
    )]
    Corrupt { path: PathBuf, detail: String },

    #[error(
        "The state file {} has format version {found}, but this brick reads format versions up to {supported}.",
        path.display()
    )]
    #[diagnostic(
        code(brick::state::newer_format),
        help(
            "The state was written by a newer brick. Upgrade brick to use it; this version will not touch it."
        )
    )]
    NewerFormat {
        path: PathBuf,
        found: u64,
        supported: u64,
    },

    #[error(
        "The state to write has lineage {ours}, but the state file {} has lineage {on_disk}.",
        path.display()
    )]
    #[diagnostic(
        code(brick::state::lineage_mismatch),
        help(
            "The two states belong to different histories (different configurations); brick refuses to overwrite one with the other. Check the `--state` path."
        )
    )]
    LineageMismatch {
        path: PathBuf,
        on_disk: String,
        ours: String,
    },

    #[error(
        "The state to write has serial {ours}, but the state file {} already has serial {on_disk}.",
        path.display()
    )]
    #[diagnostic(
        code(brick::state::serial_regression),
        help(
            "Someone wrote a newer state since this one was read. Run the command again so it starts from the newer state."
        )
    )]
    SerialRegression {
        path: PathBuf,
        on_disk: u64,
        ours: u64,
    },

    #[error("The state file {} is locked by {holder}.", path.display())]
    #[diagnostic(
        code(brick::state::locked),
        help(
            "Another brick is working on this state. Wait for it to finish; if you are sure it is gone, run `brick force-unlock --force {}`.",
            holder.id
        )
    )]
    Locked {
        path: PathBuf,
        holder: Box<LockInfo>,
    },

    #[error(
        "The state file {} is locked by {holder}, but that process no longer runs on this host: the lock is stale.",
        path.display()
    )]
    #[diagnostic(
        code(brick::state::stale_lock),
        help(
            "A previous brick was killed while holding the lock, and brick could not take the lock over. Its journal, if any, is replayed by the next run. Remove the lock with `brick force-unlock --force {}`.",
            holder.id
        )
    )]
    StaleLock {
        path: PathBuf,
        holder: Box<LockInfo>,
    },

    #[error(
        "The apply journal {} is still being written by a running process.",
        path.display()
    )]
    #[diagnostic(
        code(brick::state::journal_in_use),
        help(
            "Another brick is applying to this state (its lock was removed while it ran). Nothing was changed; wait for it to finish, then run the command again."
        )
    )]
    JournalInUse { path: PathBuf },

    #[error(
        "This apply's changes to {} could not be written to the state: {source}",
        objects.join(", ")
    )]
    #[diagnostic(
        code(brick::state::changes_not_recorded),
        help(
            "These objects were created, changed or destroyed, but the state does not say so: someone else wrote the state while this apply ran. Check each of them; bring an existing one into the state with `brick import ADDR ID`. The apply journal {} holds what this apply did.",
            journal.display()
        )
    )]
    NotRecorded {
        journal: PathBuf,
        /// The objects this apply recorded, with their ids when they have one.
        objects: Vec<String>,
        source: Box<StateError>,
    },

    #[error("The lock on {} has id {actual}, not {given}.", path.display())]
    #[diagnostic(
        code(brick::state::lock_id_mismatch),
        help("Copy the lock id exactly from the error that reported the lock.")
    )]
    LockIdMismatch {
        path: PathBuf,
        given: String,
        actual: String,
    },

    #[error("The state file {} is not locked.", path.display())]
    #[diagnostic(code(brick::state::not_locked), help("There is nothing to unlock."))]
    NotLocked { path: PathBuf },

    #[error("The lock given is for {}, not for {}.", lock_path.display(), path.display())]
    #[diagnostic(
        code(brick::state::wrong_lock),
        help("This is a bug in brick: a state was written under another state's lock.")
    )]
    WrongLock { path: PathBuf, lock_path: PathBuf },

    #[error("The apply journal {} is corrupt at byte {offset}: {detail}", path.display())]
    #[diagnostic(
        code(brick::state::journal_corrupt),
        help(
            "Only a torn last record is repaired automatically. Records after a damaged one may describe real objects: inspect the journal (one JSON record per line) before moving it away."
        )
    )]
    JournalCorrupt {
        path: PathBuf,
        offset: u64,
        detail: String,
    },

    #[error(
        "The apply journal {} belongs to lineage {journal}, but the state has lineage {state}.",
        path.display()
    )]
    #[diagnostic(
        code(brick::state::journal_lineage),
        help(
            "The journal was left by an apply of another state. Move it away if you are sure it does not describe objects of this state."
        )
    )]
    JournalLineage {
        path: PathBuf,
        journal: String,
        state: String,
    },

    #[error(
        "The apply journal {} starts from serial {journal}, but the state file has serial {state}.",
        path.display()
    )]
    #[diagnostic(
        code(brick::state::journal_serial),
        help(
            "The state file is older than the journal expects: it was replaced after the apply began. Restore the state the apply started from, or move the journal away after checking it."
        )
    )]
    JournalSerial {
        path: PathBuf,
        journal: u64,
        state: u64,
    },

    #[error(
        "The apply journal {} of an interrupted apply has not been folded into the state yet.",
        path.display()
    )]
    #[diagnostic(
        code(brick::state::journal_pending),
        help(
            "This is a bug in brick: an apply must start from the state returned by `load_locked`, which folds the journal."
        )
    )]
    JournalPending { path: PathBuf },

    #[error("Writing the apply journal {} failed: {detail}", path.display())]
    #[diagnostic(
        code(brick::state::journal_failed),
        help(
            "Records written before the failure are safe. Free disk space or fix the file system, then run again: the journal is replayed."
        )
    )]
    JournalFailed { path: PathBuf, detail: String },

    #[error("{} cannot be decrypted: {detail}", path.display())]
    #[diagnostic(
        code(brick::state::decrypt),
        help(
            "Nothing was changed. Set the key it was encrypted with (BRICK_STATE_PASSPHRASE, BRICK_STATE_KEY or BRICK_STATE_KEY_FILE; the previous key as BRICK_STATE_FALLBACK_… while rotating), or BRICK_STATE_ALLOW_UNENCRYPTED=1 once to encrypt an unencrypted state."
        )
    )]
    Decrypt { path: PathBuf, detail: String },

    #[error("{} could not be encrypted: {detail}", path.display())]
    #[diagnostic(
        code(brick::state::encrypt),
        help("Nothing was written. Check the encryption key's settings.")
    )]
    Encrypt { path: PathBuf, detail: String },

    #[error("The state given starts at serial {given}, but the state file has serial {on_disk}.")]
    #[diagnostic(
        code(brick::state::stale_state),
        help("Load the state again under the lock before applying.")
    )]
    StaleState { given: u64, on_disk: u64 },
}

pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> StateError {
    let path = path.into();
    move |source| StateError::Io {
        action,
        path,
        source,
    }
}
