//! The state's backend as the CLI sees it: what `brick init` recorded in `.brick/backend.json`
//! (the `backend` block of the `brick { }` settings, as Terraform records its backend in
//! `.terraform/`), the current workspace (`.brick/environment`, or `BRICK_WORKSPACE`), the
//! encryption keys from the environment, and `brick init`'s backend step (proof of
//! conditional writes, `-migrate-state`) and `brick workspace`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use brick_state as st;
use brick_state_backends::{self as be, BackendConfig, BackendError, Encryption, Key, KeySource};

use super::common::Context;
use crate::diag::Diagnostic;

const BACKEND_FILE: &str = ".brick/backend.json";

/// Set when a state could not be pushed to its backend as its lock was released: the command
/// then exits 1 (the state stays in the working copy; the next run pushes it).
pub static PUSH_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
const ENVIRONMENT_FILE: &str = ".brick/environment";

/// The backend `brick init` recorded in `dir`, `None` for the local file.
pub fn recorded(dir: &Path) -> Result<Option<BackendConfig>, String> {
    match std::fs::read(dir.join(BACKEND_FILE)) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| format!("{BACKEND_FILE} is damaged ({e}); run brick init again")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {BACKEND_FILE}: {e}")),
    }
}

fn record(dir: &Path, config: Option<&BackendConfig>) -> Result<(), String> {
    let path = dir.join(BACKEND_FILE);
    match config {
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("cannot remove {BACKEND_FILE}: {e}"))
            }
            _ => Ok(()),
        },
        Some(c) => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::create_dir_all(dir.join(".brick"))
                .map_err(|e| format!("cannot create .brick: {e}"))?;
            let tmp = path.with_extension("json.tmp");
            // It may hold credentials, as Terraform's .terraform/terraform.tfstate does.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| format!("cannot write {BACKEND_FILE}: {e}"))?;
            f.write_all(&serde_json::to_vec_pretty(c).unwrap_or_default())
                .and_then(|()| f.sync_all())
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| format!("cannot write {BACKEND_FILE}: {e}"))
        }
    }
}

/// A configuration whose backend block is not the one `brick init` recorded: an error
/// (Terraform's "Backend initialization required"), pointing at the block.
pub fn check_recorded(
    config: &crate::config::Config,
    recorded: Option<&BackendConfig>,
) -> Option<Diagnostic> {
    let block = config
        .root
        .settings
        .as_ref()
        .and_then(|s| s.backend.as_ref());
    let wanted = block.filter(|b| b.kind != "local").map(|b| BackendConfig {
        kind: b.kind.clone(),
        settings: b.settings.clone(),
    });
    if wanted.as_ref() == recorded {
        return None;
    }
    let d = Diagnostic::error(
        "brick::init::required",
        "Backend initialization required",
        match (&wanted, recorded) {
            (Some(w), None) => format!("The configuration keeps its state in the {} backend, which brick init has not set up here yet.", w.kind),
            (None, Some(r)) => format!("brick init set up the {} backend here, and the configuration no longer names it.", r.kind),
            _ => "The backend configuration changed since brick init.".into(),
        },
    )
    .help("Run `brick init` (with -migrate-state to copy the existing state to the new backend).");
    Some(d.at_opt(block.map(|b| b.span)))
}

/// The current workspace: `BRICK_WORKSPACE`, else `.brick/environment`, else `default`.
pub fn workspace(dir: &Path) -> String {
    if let Ok(w) = std::env::var("BRICK_WORKSPACE")
        && !w.is_empty()
    {
        return w;
    }
    std::fs::read_to_string(dir.join(ENVIRONMENT_FILE))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// The local state file of a workspace: `brick.state.json`, or
/// `brick.state.d/<workspace>/brick.state.json` (Terraform's `terraform.tfstate.d`).
pub fn local_state_path(dir: &Path, workspace: &str) -> PathBuf {
    if workspace == "default" {
        dir.join(st::DEFAULT_STATE_FILE)
    } else {
        dir.join("brick.state.d")
            .join(workspace)
            .join(st::DEFAULT_STATE_FILE)
    }
}

fn key(primary: bool) -> Result<Option<Key>, BackendError> {
    let p = if primary { "" } else { "FALLBACK_" };
    let pass = format!("BRICK_STATE_{p}PASSPHRASE");
    let text = format!("BRICK_STATE_{p}KEY");
    let file = format!("BRICK_STATE_{p}KEY_FILE");
    if let Ok(v) = std::env::var(&pass) {
        return Key::load(KeySource::Passphrase {
            source: &pass,
            value: &v,
        })
        .map(Some);
    }
    if let Ok(v) = std::env::var(&text) {
        return Key::load(KeySource::Text {
            source: &text,
            value: &v,
        })
        .map(Some);
    }
    if let Ok(path) = std::env::var(&file) {
        let bytes = std::fs::read(&path).map_err(|e| BackendError::BadKey {
            source_name: format!("{file} ({path})"),
            detail: format!("cannot read it: {e}"),
        })?;
        return Key::load(KeySource::File {
            source: &format!("{file} ({path})"),
            bytes: &bytes,
        })
        .map(Some);
    }
    Ok(None)
}

/// Encryption as the environment configures it: `BRICK_STATE_PASSPHRASE`, `BRICK_STATE_KEY`
/// or `BRICK_STATE_KEY_FILE`; a fallback key `BRICK_STATE_FALLBACK_…` for rotation;
/// `BRICK_STATE_ALLOW_UNENCRYPTED=1` to read an unencrypted state once, to encrypt it.
pub fn encryption() -> Result<Option<Encryption>, BackendError> {
    let Some(primary) = key(true)? else {
        return Ok(None);
    };
    Ok(Some(Encryption::new(
        primary,
        key(false)?,
        std::env::var("BRICK_STATE_ALLOW_UNENCRYPTED").is_ok_and(|v| v == "1"),
    )))
}

/// The environment's encryption as a local state file's seal; `allow_plain` reads an
/// unencrypted file as is.
fn local_seal(allow_plain: bool) -> Result<Option<Arc<dyn st::Seal>>, BackendError> {
    Ok(encryption()?.map(|mut e| {
        e.allow_unencrypted |= allow_plain;
        Arc::new(e) as Arc<dyn st::Seal>
    }))
}

/// The remote state of `config`'s `workspace`, its working copy under `dir`.
pub fn remote(
    dir: &Path,
    config: &BackendConfig,
    workspace: &str,
) -> Result<be::Remote, BackendError> {
    let backend = be::open(config)?;
    backend.check_workspace(workspace)?;
    Ok(be::Remote::new(backend, workspace, encryption()?, dir))
}

/// Renders a backend error as a diagnostic.
pub fn report(ctx: &Context, e: &BackendError) {
    let mut d = Diagnostic::error(e.code(), summary(e), e.to_string());
    if let Some(h) = e.help() {
        d = d.help(h);
    }
    ctx.ui.diagnostics(&[d], &[]);
}

fn summary(e: &BackendError) -> &'static str {
    match e {
        BackendError::Locked { .. } => "Error acquiring the state lock",
        BackendError::NoConditionalWrites { .. } => "The store ignores conditional writes",
        BackendError::Decrypt { .. } | BackendError::Encrypted { .. } => {
            "The state cannot be decrypted"
        }
        BackendError::NotEncrypted { .. } => "The state is not encrypted",
        BackendError::BadKey { .. } => "Unusable encryption key",
        BackendError::Conflict { .. } => "The remote state changed under brick",
        BackendError::JournalConflict { .. } => {
            "An interrupted apply's journal conflicts with the remote state"
        }
        BackendError::Config(_) => "Invalid backend configuration",
        BackendError::WorkspaceName { .. } => "Invalid workspace name",
        BackendError::Unsettled { .. } => "The state cannot be migrated yet",
        _ => "Backend error",
    }
}

/// Records in the store, before an apply changes anything, who applies what from where
/// ([`be::Remote::announce`]), so that teammates see an interrupted apply. A failure is a
/// warning: the apply's own crash safety (the local journal) does not depend on it.
pub fn announce(
    ctx: &Context,
    remote: &be::Remote,
    base_serial: u64,
    p: &crate::plan::model::Plan,
) {
    use crate::plan::model::Action;
    let changes = p
        .changes
        .iter()
        .filter(|c| !matches!(c.action, Action::NoOp | Action::Read))
        .map(|c| format!("{} {}", c.action.terraform_actions().join("/"), c.addr))
        .collect();
    if let Err(e) = remote.announce(base_serial, changes) {
        ctx.ui.error_line(&format!(
            "\nWarning: could not record the apply in {} for teammates: {e}",
            remote.describe()
        ));
    }
}

/// Tells about an apply recorded in the store by another working copy (running, or
/// interrupted: killed, or its machine lost), naming who, where, when and what it was doing.
pub fn warn_unfinished(ctx: &Context, remote: &be::Remote) {
    if remote.announced_here() {
        return;
    }
    let Ok(Some(u)) = remote.unfinished() else {
        return;
    };
    const SHOWN: usize = 20;
    let mut list: Vec<String> = u
        .changes
        .iter()
        .take(SHOWN)
        .map(|c| format!("  - {c}"))
        .collect();
    if u.changes.len() > SHOWN {
        list.push(format!("  … and {} more", u.changes.len() - SHOWN));
    }
    ctx.ui.diagnostics(
        &[Diagnostic::warning(
            "brick::backend::unfinished_apply",
            "An apply of this state did not finish",
            format!(
                "An apply by {}@{} (pid {}, working copy {}) started at {} from serial {} has not finished: it is still running, or it was interrupted. Its journal (what it really did) is only on {}. It was about to make {} change(s):\n{}",
                u.holder.user,
                u.holder.host,
                u.holder.pid,
                u.holder.path,
                u.holder.created,
                u.base_serial,
                u.holder.host,
                u.changes.len(),
                list.join("\n")
            ),
        )
        .help(format!(
            "If it no longer runs, run brick again in {} on {}: it settles the journal and pushes the state. The objects listed may exist without being in this state until then.",
            u.holder.path, u.holder.host
        ))],
        &[],
    );
}

/// Takes the remote lock, then the working copy's lock, pulls the store's state into the
/// working copy, and arranges for the push and both releases when the lock is released.
pub fn lock_remote(
    ctx: &Context,
    remote: &Arc<be::Remote>,
    store: &st::StateStore,
    operation: &str,
) -> Option<st::StateLock> {
    let held = match remote.lock(operation, env!("CARGO_PKG_VERSION")) {
        Ok(h) => h,
        Err(e) => {
            report(ctx, &e);
            if matches!(e, BackendError::Locked { .. }) {
                warn_unfinished(ctx, remote);
            }
            return None;
        }
    };
    let mut lock = match store.lock(operation) {
        Ok(l) => l,
        Err(e) => {
            let _ = held.release();
            ctx.state_error(&e);
            return None;
        }
    };
    match remote.pull(store, &lock) {
        Ok(be::PullOutcome::Pushed(serial)) => ctx.ui.error_line(&format!(
            "The local working copy was ahead of {} (serial {serial}, from a run that could not push); pushed it.",
            remote.describe()
        )),
        Ok(_) => warn_unfinished(ctx, remote),
        Err(e) => {
            let _ = held.release();
            drop(lock);
            report(ctx, &e);
            return None;
        }
    }
    let (r, s) = (remote.clone(), store.clone());
    lock.on_release(Box::new(move || {
        match r.push(&s) {
            Ok(_) => {
                if let Err(e) = r.settle_announcement(&s) {
                    eprintln!(
                        "\nWarning: could not remove this apply's record from {}: {e}",
                        r.describe()
                    );
                }
            }
            Err(e) => {
                PUSH_FAILED.store(true, std::sync::atomic::Ordering::SeqCst);
                let help = e.help().unwrap_or_default();
                eprintln!(
                    "\nError: could not write the state to {}: {e}\n\nHelp: {help}\n({})",
                    r.describe(),
                    e.code()
                );
            }
        }
        if let Err(e) = held.release() {
            eprintln!(
                "\nWarning: could not release the lock of {}: {e}",
                r.describe()
            );
        }
    }));
    Some(lock)
}

/// The state of a remote backend, read without a lock.
pub fn load_remote(ctx: &Context, remote: &be::Remote) -> Result<Option<st::State>, ()> {
    warn_unfinished(ctx, remote);
    match remote.read_plain() {
        Ok(None) => Ok(None),
        Ok(Some((bytes, _))) => st::from_bytes(&bytes, Path::new(&remote.describe()))
            .map(Some)
            .map_err(|e| ctx.state_error(&e)),
        Err(e) => {
            report(ctx, &e);
            Err(())
        }
    }
}

/// `brick force-unlock ID` on a remote backend, with the local one's checks: the lock of a
/// brick still running on this host is refused unless `even_if_running`, and brick asks
/// first unless `force`.
pub fn force_unlock(
    ctx: &Context,
    remote: &be::Remote,
    id: &str,
    force: bool,
    even_if_running: bool,
) -> u8 {
    let holder = match remote.backend().holder(remote.workspace()) {
        Ok(h) => h,
        Err(e) => {
            report(ctx, &e);
            return 1;
        }
    };
    if !super::state_cmd::may_unlock(ctx, holder.as_ref(), id, force, even_if_running) {
        return 1;
    }
    match remote.backend().force_unlock(remote.workspace(), id) {
        Ok(holder) => {
            ctx.ui.out(&format!(
                "{}\nThe lock of {} held by {}@{} (pid {}, {}) was removed.\n",
                ctx.ui.style().green(
                    &ctx.ui
                        .style()
                        .bold("brick state has been successfully unlocked!")
                ),
                remote.describe(),
                holder.user,
                holder.host,
                holder.pid,
                holder.operation
            ));
            0
        }
        Err(e) => {
            report(ctx, &e);
            1
        }
    }
}

/// A plain state document with the store's version of it (`None` for a local file).
type Document = (Vec<u8>, Option<String>);

/// Where states live for one backend configuration (`None`: local files), to read and write
/// whole documents while migrating.
enum Place {
    Local(PathBuf),
    Remote(BackendConfig),
}

impl Place {
    fn describe(&self) -> String {
        match self {
            Place::Local(_) => "the local state".into(),
            Place::Remote(c) => format!("the {} backend", c.kind),
        }
    }

    fn workspaces(&self) -> Result<Vec<String>, BackendError> {
        match self {
            Place::Local(dir) => {
                let mut names = vec!["default".to_string()];
                if let Ok(rd) = std::fs::read_dir(dir.join("brick.state.d")) {
                    for e in rd.flatten() {
                        if e.path().join(st::DEFAULT_STATE_FILE).exists() {
                            names.push(e.file_name().to_string_lossy().into_owned());
                        }
                    }
                }
                names.sort();
                Ok(names)
            }
            // An apply's record for teammates is not a workspace.
            Place::Remote(c) => Ok(be::open(c)?
                .workspaces()?
                .into_iter()
                .filter(|w| !w.ends_with(be::UNFINISHED_SUFFIX))
                .collect()),
        }
    }

    /// Whether any workspace holds a state, or (a remote) the record of an apply that did
    /// not finish (a first apply killed before its state was pushed leaves only that).
    fn has_state(&self, dir: &Path) -> bool {
        match self {
            Place::Local(_) => self.workspaces().is_ok_and(|ws| {
                ws.iter()
                    .any(|w| self.read(dir, w).is_ok_and(|s| s.is_some()))
            }),
            Place::Remote(c) => be::open(c).is_ok_and(|b| {
                b.workspaces()
                    .is_ok_and(|ws| ws.iter().any(|w| b.read(w).is_ok_and(|s| s.is_some())))
            }),
        }
    }

    /// The workspace's plain document and its version.
    fn read(&self, dir: &Path, ws: &str) -> Result<Option<Document>, BackendError> {
        match self {
            Place::Local(_) => {
                // A plain local state is read as is: moving it to an encrypted backend is how
                // an unencrypted state becomes encrypted.
                let store =
                    st::StateStore::new(local_state_path(dir, ws), env!("CARGO_PKG_VERSION"))
                        .with_seal(local_seal(true)?);
                // A journal of an interrupted apply must be settled before its state moves.
                if store.journal_path().exists() {
                    return Err(BackendError::Unsettled {
                        what: store.path().display().to_string(),
                        detail: format!(
                            "it has the journal of an interrupted apply ({})",
                            store.journal_path().display()
                        ),
                    });
                }
                Ok(store.snapshot_bytes()?.map(|b| (b, None)))
            }
            Place::Remote(c) => Ok(remote(dir, c, ws)?.read_plain()?.map(|(b, v)| (b, Some(v)))),
        }
    }
}

/// A migration source's plain document, if any, with its store's lock, held until released.
type LockedSource = (Option<Vec<u8>>, Box<dyn be::HeldLock>);

/// A remote workspace's state to migrate, read under its lock (held until dropped or
/// released): refused while an apply is unfinished there (this working copy's journal, or
/// the store's record of an apply elsewhere); a working copy ahead of the store (a push that
/// failed) is pushed first, as any run would.
fn read_remote_source(
    ctx: &Context,
    config: &BackendConfig,
    ws: &str,
) -> Result<LockedSource, BackendError> {
    let r = remote(&ctx.dir, config, ws)?;
    let held = r.lock("migrate", env!("CARGO_PKG_VERSION"))?;
    let checked = (|| {
        let copy = st::StateStore::new(r.state_path(), env!("CARGO_PKG_VERSION")).with_seal(
            r.encryption()
                .map(|e| Arc::new(e.clone()) as Arc<dyn st::Seal>),
        );
        if copy.journal_path().exists() {
            return Err(BackendError::Unsettled {
                what: r.describe(),
                detail: format!(
                    "the working copy here holds the journal of an interrupted apply ({}), which the state in the store does not have yet",
                    copy.journal_path().display()
                ),
            });
        }
        if let Some(u) = r.unfinished()? {
            return Err(BackendError::Unsettled {
                what: r.describe(),
                detail: format!(
                    "an apply by {}@{} (pid {}, working copy {}) started at {} has not finished; its journal is only on {}",
                    u.holder.user,
                    u.holder.host,
                    u.holder.pid,
                    u.holder.path,
                    u.holder.created,
                    u.holder.host
                ),
            });
        }
        if copy.path().exists() {
            let lock = copy.lock("migrate")?;
            if let be::PullOutcome::Pushed(serial) = r.pull(&copy, &lock)? {
                ctx.ui.out(&format!(
                    "- The working copy of workspace {ws:?} was ahead of {} (serial {serial}); pushed it first.\n",
                    r.describe()
                ));
            }
        }
        Ok(r.read_plain()?.map(|(b, _)| b))
    })();
    match checked {
        Ok(bytes) => Ok((bytes, held)),
        Err(e) => {
            let _ = held.release();
            Err(e)
        }
    }
}

/// Copies every workspace's state from `from` to `to`, keeping serial and lineage; refuses a
/// target workspace that holds another lineage, or a newer serial of the same one. A remote
/// source is locked while its workspace is copied.
fn migrate(ctx: &Context, from: &Place, to: &Place) -> Result<usize, BackendError> {
    let dir = &ctx.dir;
    let mut moved = 0;
    for ws in from.workspaces()? {
        let (source, source_lock) = match from {
            Place::Local(_) => (from.read(dir, &ws)?.map(|(b, _)| b), None),
            Place::Remote(c) => {
                let (bytes, held) = read_remote_source(ctx, c, &ws)?;
                (bytes, Some(held))
            }
        };
        let release = |held: Option<Box<dyn be::HeldLock>>| {
            if let Some(h) = held {
                let _ = h.release();
            }
        };
        let Some(bytes) = source else {
            release(source_lock);
            continue;
        };
        let copied = copy_workspace(ctx, &ws, &bytes, from, to);
        release(source_lock);
        if copied? {
            moved += 1;
        }
    }
    Ok(moved)
}

/// Writes one workspace's document from `from` to `to`; `false` when `to` already holds
/// exactly it.
fn copy_workspace(
    ctx: &Context,
    ws: &str,
    bytes: &[u8],
    from: &Place,
    to: &Place,
) -> Result<bool, BackendError> {
    let dir = &ctx.dir;
    let (lineage, serial) = be::remote_header(bytes).unwrap_or_default();
    let existing = to.read(dir, ws)?;
    if let Some((old, _)) = &existing {
        let (l2, s2) = be::remote_header(old).unwrap_or_default();
        if old == bytes {
            return Ok(false);
        }
        if l2 != lineage {
            return Err(BackendError::State(st::StateError::LineageMismatch {
                path: PathBuf::from(format!("{} workspace {ws}", to.describe())),
                on_disk: l2,
                ours: lineage,
            }));
        }
        if s2 > serial {
            return Err(BackendError::State(st::StateError::SerialRegression {
                path: PathBuf::from(format!("{} workspace {ws}", to.describe())),
                on_disk: s2,
                ours: serial,
            }));
        }
    }
    match to {
        Place::Local(_) => {
            let store = st::StateStore::new(local_state_path(dir, ws), env!("CARGO_PKG_VERSION"))
                .with_seal(local_seal(false)?);
            if let Some(parent) = store.path().parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let lock = store.lock("migrate")?;
            store.replace_snapshot(&lock, bytes)?;
        }
        Place::Remote(c) => {
            let r = remote(dir, c, ws)?;
            let held = r.lock("migrate", env!("CARGO_PKG_VERSION"))?;
            let expected = existing.and_then(|(_, v)| v);
            let written = r.write_plain(bytes, expected.as_deref());
            let _ = held.release();
            written?;
        }
    }
    ctx.ui.out(&format!(
        "- Copied workspace {ws:?} (serial {serial}, lineage {lineage}) from {} to {}.\n",
        from.describe(),
        to.describe()
    ));
    Ok(true)
}

/// `brick init`'s backend step: proves the configured store, records it, and migrates
/// states when the backend changed and `migrate_state` is given.
pub fn init_backend(
    ctx: &Context,
    block: Option<&crate::config::BackendBlock>,
    migrate_state: bool,
    reconfigure: bool,
) -> bool {
    let dir = &ctx.dir;
    let wanted = block.filter(|b| b.kind != "local").map(|b| BackendConfig {
        kind: b.kind.clone(),
        settings: b.settings.clone(),
    });
    let before = match recorded(dir) {
        Ok(r) => r,
        Err(e) => {
            ctx.ui.error_line(&format!("\nError: {e}"));
            return false;
        }
    };
    ctx.ui.out("\nInitializing the backend...\n");
    if let Some(c) = &wanted {
        let backend = match be::open(c) {
            Ok(b) => b,
            Err(e) => {
                report(ctx, &e);
                return false;
            }
        };
        match backend.prove() {
            Ok(proof) => ctx
                .ui
                .out(&format!("- Conditional writes proved: {proof}.\n")),
            Err(e) => {
                report(ctx, &e);
                return false;
            }
        }
    }
    if before != wanted && !reconfigure {
        let from = match &before {
            Some(c) => Place::Remote(c.clone()),
            None => Place::Local(dir.clone()),
        };
        let to = match &wanted {
            Some(c) => Place::Remote(c.clone()),
            None => Place::Local(dir.clone()),
        };
        let has_state = from.has_state(dir);
        if has_state && !migrate_state {
            ctx.ui.diagnostics(
                &[Diagnostic::error(
                    "brick::init::backend_changed",
                    "Backend configuration changed",
                    format!(
                        "The state is in {}, and the configuration now names {}. brick does not move state without being asked.",
                        from.describe(),
                        to.describe()
                    ),
                )
                .help("Run `brick init -migrate-state` to copy every workspace's state to the new backend (serial and lineage kept), or `brick init -reconfigure` to use the new backend without copying anything.")],
                &[],
            );
            return false;
        }
        if has_state {
            match migrate(ctx, &from, &to) {
                Ok(n) => ctx.ui.out(&format!(
                    "- Migrated {n} workspace state(s) from {} to {}.\n",
                    from.describe(),
                    to.describe()
                )),
                Err(e) => {
                    report(ctx, &e);
                    return false;
                }
            }
        }
    }
    if let Err(e) = record(dir, wanted.as_ref()) {
        ctx.ui.error_line(&format!("\nError: {e}"));
        return false;
    }
    match &wanted {
        Some(c) => ctx.ui.out(&format!(
            "- Using the {:?} backend{}.\n",
            c.kind,
            if encryption().ok().flatten().is_some() {
                ", state encrypted (AES-256-GCM)"
            } else {
                ""
            }
        )),
        None => ctx.ui.out("- Using the local state file.\n"),
    }
    true
}

/// `brick workspace list|show|new|select|delete`.
pub fn workspace_cmd(ctx: &Context, action: &str, name: Option<&str>) -> u8 {
    let dir = &ctx.dir;
    let config = match recorded(dir) {
        Ok(c) => c,
        Err(e) => {
            ctx.ui.error_line(&format!("\nError: {e}"));
            return 1;
        }
    };
    let place = match &config {
        Some(c) => Place::Remote(c.clone()),
        None => Place::Local(dir.clone()),
    };
    let current = workspace(dir);
    let fail = |code: &str, summary: &str, detail: String| {
        ctx.ui.diagnostics(
            &[Diagnostic::error(
                code.to_string(),
                summary.to_string(),
                detail,
            )],
            &[],
        );
        1
    };
    // The store may refuse a name (the kubernetes backend's object names), as Terraform's.
    if let (Place::Remote(c), Some(n), "new" | "select") = (&place, name, action)
        && be::valid_workspace(n)
    {
        let checked = be::open(c).and_then(|b| b.check_workspace(n));
        if let Err(e) = checked {
            let mut d = Diagnostic::error(
                "brick::workspace::invalid_name",
                "Invalid workspace name",
                e.to_string(),
            );
            if let Some(h) = e.help() {
                d = d.help(h);
            }
            ctx.ui.diagnostics(&[d], &[]);
            return 1;
        }
    }
    match (action, name) {
        ("show", _) => {
            ctx.ui.out(&format!("{current}\n"));
            0
        }
        ("list", _) => match place.workspaces() {
            Ok(mut names) => {
                if !names.contains(&current) {
                    names.push(current.clone());
                    names.sort();
                }
                for n in names {
                    let mark = if n == current { "*" } else { " " };
                    ctx.ui.out(&format!("{mark} {n}\n"));
                }
                0
            }
            Err(e) => {
                report(ctx, &e);
                1
            }
        },
        ("new" | "select" | "delete", Some(n)) if !be::valid_workspace(n) => fail(
            "brick::workspace::invalid_name",
            "Invalid workspace name",
            format!(
                "{n:?}: a workspace name has letters, digits, '-', '_' and '.' only (at most 63)."
            ),
        ),
        ("new", Some(n)) => {
            let exists = place.workspaces().map(|w| w.iter().any(|x| x == n));
            match exists {
                Ok(true) => fail(
                    "brick::workspace::exists",
                    "Workspace already exists",
                    format!("Workspace {n:?} already exists."),
                ),
                Ok(false) => {
                    if let Place::Remote(c) = &place {
                        // As Terraform does: the new workspace's empty state goes to the store
                        // at once, so that other working copies list it and can select it.
                        let empty = st::to_bytes(&st::State::new(env!("CARGO_PKG_VERSION")));
                        match remote(dir, c, n).and_then(|r| r.write_plain(&empty, None)) {
                            Ok(_) => {}
                            Err(BackendError::Conflict { .. }) => {
                                return fail(
                                    "brick::workspace::exists",
                                    "Workspace already exists",
                                    format!("Workspace {n:?} already exists."),
                                );
                            }
                            Err(e) => {
                                report(ctx, &e);
                                return 1;
                            }
                        }
                    }
                    select(ctx, n, true)
                }
                Err(e) => {
                    report(ctx, &e);
                    1
                }
            }
        }
        ("select", Some(n)) => match place.workspaces() {
            Ok(w) if w.iter().any(|x| x == n) || n == current => select(ctx, n, false),
            Ok(_) => fail(
                "brick::workspace::not_found",
                "Workspace doesn't exist",
                format!("Workspace {n:?} doesn't exist; create it with `brick workspace new {n}`."),
            ),
            Err(e) => {
                report(ctx, &e);
                1
            }
        },
        ("delete", Some(n)) => {
            if n == "default" || n == current {
                return fail(
                    "brick::workspace::in_use",
                    "Cannot delete this workspace",
                    format!(
                        "Workspace {n:?} is the default or the current one; select another first."
                    ),
                );
            }
            let result = match &place {
                Place::Local(_) => {
                    let p = local_state_path(dir, n);
                    let _ = std::fs::remove_file(&p);
                    let _ = std::fs::remove_dir(p.parent().unwrap_or(dir));
                    Ok(())
                }
                Place::Remote(c) => be::open(c).and_then(|b| b.delete_workspace(n)),
            };
            match result {
                Ok(()) => {
                    ctx.ui.out(&format!("Deleted workspace {n:?}!\n"));
                    0
                }
                Err(e) => {
                    report(ctx, &e);
                    1
                }
            }
        }
        _ => fail(
            "brick::workspace::usage",
            "Missing workspace name",
            format!("`brick workspace {action}` needs a workspace name."),
        ),
    }
}

fn select(ctx: &Context, name: &str, created: bool) -> u8 {
    let path = ctx.dir.join(ENVIRONMENT_FILE);
    let written = std::fs::create_dir_all(ctx.dir.join(".brick"))
        .and_then(|()| std::fs::write(&path, format!("{name}\n")));
    if let Err(e) = written {
        ctx.ui
            .error_line(&format!("\nError: cannot write {ENVIRONMENT_FILE}: {e}"));
        return 1;
    }
    if created {
        ctx.ui.out(&format!(
            "Created and switched to workspace {name:?}!\n\nYou're now on a new, empty workspace. Workspaces isolate their state: brick sees none of another workspace's objects here.\n"
        ));
    } else {
        ctx.ui.out(&format!("Switched to workspace {name:?}.\n"));
    }
    0
}
