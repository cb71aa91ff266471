//! brick's state: the versioned on-disk format, atomic writes, locking and the apply journal.
//! It knows no provider: attributes are JSON, with the paths of their sensitive values beside
//! them.
//!
//! # Code map
//! - `model`: the in-memory [`State`] — resources by [`ResourceAddr`], instances by
//!   [`IndexKey`], each with a current [`ObjectState`] and deposed ones; outputs; pending
//!   [`Intent`]s. [`Change`] is one mutation, [`State::apply`] applies it.
//! - `attributes`: [`Attributes`], an object's attributes held as canonical compact JSON text.
//! - `format`: the versioned document ([`FORMAT_VERSION`]), canonical bytes, upgrades.
//! - `store`: [`StateStore`], the state file and its siblings on disk.
//! - `lock`: [`StateLock`], the exclusive lock file.
//! - `journal`: [`Journal`], the apply journal with group commit.
//! - `seal`: [`Seal`], encryption at the storage boundary (snapshot, backup, journal records).
//!
//! # Files
//! For a state at `PATH` (default [`DEFAULT_STATE_FILE`], `brick.state.json`):
//! - `PATH` — the snapshot, mode 0600.
//! - `PATH.backup` — the snapshot before the last write.
//! - `PATH.lock` — present while a brick holds the lock; JSON naming the holder.
//! - `PATH.journal` — present during an apply, or after one was interrupted.
//!
//! # The document (format version 2)
//! Pretty JSON (two spaces), a trailing newline, fields in this order:
//! `format_version`, `brick_version`, `serial`, `lineage`, `outputs` (by name: `value`,
//! `type`, `sensitive`), `resources` (sorted by module, mode, type, name; each with `module`
//! unless root, `mode`, `type`, `name`, `provider`, `instances`), and `pending` when an apply
//! left intents unresolved. An instance entry holds `index_key` (absent, an integer or a
//! string), `deposed` (for a deposed object), `schema_version`, `tainted` and
//! `create_before_destroy` when true, `attributes` (object keys sorted at every depth),
//! `sensitive_attributes` (paths such as `[{"attr":"password"}]`, `[{"key":"k"}]`,
//! `[{"index":0}]`) and `dependencies` when not empty: the resources it depends on directly,
//! as memory holds them too (with what those resources depend on, transitively, they give
//! every resource upstream, as Terraform records them: [`State::with_whole_dependencies`]),
//! or `all_dependencies`, a whole list read from an older state that expanding would not give
//! back exactly. The state, on disk and in memory, so grows linearly with a chain of
//! dependencies, not with its square. Saving what was
//! loaded gives the same bytes, so `git diff` of a state shows only what changed.
//!
//! A document with a higher `format_version` than [`FORMAT_VERSION`] is refused, naming both
//! versions. Older formats are upgraded on read: brick's format 1 (every dependency listed)
//! and Terraform's state version 4 (`"version": 4`), so a Terraform state can be adopted.
//!
//! # Invariants
//! - **Atomic snapshots.** A snapshot is written to a temporary file in the same directory,
//!   fsynced; then the previous file becomes `PATH.backup` (a hard link renamed into
//!   place); then the temporary file is renamed over `PATH` and the directory fsynced. At every instant `PATH` holds a whole
//!   old or a whole new state. When `PATH` is a symbolic link, all of this happens beside
//!   the file it leads to (temporary file, `TARGET.backup`, rename over the target): the
//!   link is never replaced, the target keeps receiving every write.
//! - **No going back.** A write is refused when the file on disk has another lineage, or a
//!   serial not lower than the new one (writing identical bytes is a no-op), or cannot be
//!   read: a corrupt or truncated state is an error that changes nothing.
//! - **One writer.** Writes need a [`StateLock`]: `PATH.lock`, created by `link(2)` of a
//!   fully written temporary file (atomic like `O_EXCL`, never seen half-written). A second
//!   locker fails at once naming the holder; a holder that no longer runs on this host (pid
//!   gone, or reused: the process start time is recorded too) makes the lock *stale*, a
//!   distinct error. [`StateStore::force_unlock`] removes a lock only given its id. A lock is
//!   released when dropped.
//! - **Nothing brick creates goes untracked.** See the journal protocol.
//!
//! # The journal protocol
//! `PATH.journal` is append-only. Each record is one line: the CRC-32 of the JSON in eight
//! hex digits, a space, the JSON, a newline. The first record, `begin`, names the lineage
//! and serial of the snapshot the apply starts from; the others are [`Change`]s.
//! 1. [`StateStore::begin_apply`] creates the journal (begin record fsynced, directory
//!    fsynced).
//! 2. Before a provider call that creates, replaces or destroys a real object, the engine
//!    records an [`Intent`] with [`Durability::Sync`] (address, action, planned attributes or
//!    identity); the call starts only after it is on disk.
//! 3. When the call returns, the engine records the result with [`Durability::Batched`]:
//!    `Set` (the new object), `Remove` (it is gone) or `Resolve` (it failed, nothing changed),
//!    naming the intent. `Depose` and `SetOutput` are recorded the same way.
//! 4. One writer thread appends whatever is queued with one write and one `fdatasync`;
//!    records queued during an fsync share the next one (group commit). Records reach the
//!    disk in the order they were recorded, so a durable intent implies every earlier record
//!    is durable. Cost per resource: one append, amortized a fraction of an fsync, never a
//!    rewrite of the state — linear in the number of resources.
//!    Each `Sync` wait costs about one fsync (2–5 ms here), and an operation cannot start
//!    before its intent is durable; so the engine should announce the intents of every
//!    operation it is about to start with one [`Journal::record_all`] (one fsync for all of
//!    them) rather than one `Sync` record per call. An intent whose call never started is
//!    harmless: recovery finds no object and resolves it.
//! 5. [`Journal::finish`] folds the journal into a snapshot with serial + 1 (atomic write
//!    as above) and then removes the journal.
//!
//! Recovery: [`StateStore::load`] replays a journal on top of the snapshot it started from.
//! A damaged last record (a process killed mid-write) is dropped; a damaged record followed
//! by valid ones is an error, since those may describe real objects. Intents without result
//! remain in [`State::pending`]: the engine asks the provider whether each object exists and
//! records `Set`, `Remove` or `Resolve` for it. Under the lock, [`StateStore::load_locked`]
//! also writes the replayed state as a snapshot (serial + 1, pending intents included) and
//! removes the journal. A journal whose begin serial is below the snapshot's was already
//! folded (a crash between the snapshot write and the journal removal) and is ignored.
//! A journal whose begin record never reached the disk did nothing and is ignored.

mod attributes;
mod deps;
mod error;
mod format;
mod journal;
mod lock;
mod model;
mod seal;
mod store;
mod sys;

pub use attributes::Attributes;
pub use error::StateError;
pub use format::{FORMAT_VERSION, canonical, from_bytes, to_bytes};
pub use journal::{Durability, Journal, JournalStats, Replay};
pub use lock::{LockInfo, ReleaseHook, StateLock};
pub use model::{
    AttrPath, Change, IndexKey, Instance, InstanceAddr, Intent, IntentAction, Mode, ObjectState,
    Output, PathStep, Resource, ResourceAddr, State, new_deposed_key,
};
pub use seal::Seal;
pub use store::{DEFAULT_STATE_FILE, Loaded, LockStatus, Preread, StateStore};
