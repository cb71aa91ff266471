//! Loading a configuration: every `*.hcl` file of one directory, parsed with source spans into
//! typed blocks (variables, locals, outputs, resources, data sources, providers, module calls,
//! `moved`/`removed`/`import`, the `brick` settings block).
//!
//! Architecture invariant: this module does no I/O of its own. Files are read through the
//! [`FileSystem`] trait, so tests load configurations from memory.
//!
//! The types below are the contract with `plan` and `graph`; their internals (`Expr`, `Body`)
//! belong to this module and `eval`.

use std::path::{Path, PathBuf};

/// Read access to configuration files. The CLI passes the real file system; tests pass a map.
pub trait FileSystem {
    /// The `*.hcl` (and `*.vars.hcl`) files directly inside `dir`, sorted by name.
    fn list_hcl_files(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>>;
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
}

/// Index of a source file in [`Config::files`].
pub type FileId = usize;

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

/// One loaded source file, kept for rendering diagnostics.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceMode {
    Managed,
    Data,
}
