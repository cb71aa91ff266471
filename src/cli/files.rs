//! Files the CLI writes and reads on its own behalf (not the state's: `brick-state` writes
//! those): a saved plan is written privately (0600, it holds secrets), atomically, never
//! through a symbolic link and never over the state, its backup, its journal or its lock; and
//! every file read here is bounded, so `/dev/zero` or a huge file is refused at once.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use brick_state as st;

/// The most brick reads of a saved plan (or a state given to `state push`): far above any
/// real one, low enough that a wrong file (`/dev/zero`) is refused before it fills memory.
pub const MAX_DOCUMENT_BYTES: u64 = 1 << 30;

/// The most a file function (`file`, `filebase64`, `templatefile`...) reads of one file.
pub const MAX_FUNCTION_FILE_BYTES: u64 = 64 << 20;

/// Reads `path`, refusing one longer than `limit` bytes without reading more than
/// `limit + 1` of it.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "it is larger than {} MiB, more than brick reads",
            limit >> 20
        )));
    }
    Ok(bytes)
}

/// Why `path` must not receive a plan: it is a symbolic link, or it is one of the state's
/// own files (`None` when it may).
pub fn refuse_plan_path(path: &Path, store: &st::StateStore) -> Option<String> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Some(format!(
            "{} is a symbolic link; brick never writes a plan through a link (it would overwrite whatever the link points to).",
            path.display()
        ));
    }
    let own = [
        (store.path().to_path_buf(), "the state"),
        (store.backup_path(), "the state's backup"),
        (store.journal_path(), "the state's apply journal"),
        (store.lock_path(), "the state's lock"),
    ];
    for (file, what) in own {
        if same_file(path, &file) {
            return Some(format!(
                "{} is {what} ({}); writing a plan there would destroy it.",
                path.display(),
                file.display()
            ));
        }
    }
    None
}

/// Whether `a` and `b` name the same file: the same inode when both exist (links
/// followed), else the same absolute path once their directories are resolved.
fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        return x.dev() == y.dev() && x.ino() == y.ino();
    }
    match (resolved(a), resolved(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// `path` with its directory made absolute and its links resolved (the file itself may not
/// exist yet).
fn resolved(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some(dir.canonicalize().ok()?.join(name))
}

/// Writes a file privately and atomically: `write` fills a new temporary file (mode 0600,
/// created exclusively, so never through a link) beside `path`, which is fsynced and then
/// renamed over `path` (a link at `path` would be replaced, never followed).
pub fn write_private(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = {
        let mut s = path.as_os_str().to_owned();
        s.push(format!(".tmp.{}", std::process::id()));
        PathBuf::from(s)
    };
    let result = (|| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
