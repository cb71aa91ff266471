//! Evaluation: expressions, functions and type conversions over [`Value`]s, carrying the
//! unknown and sensitive marks.
//!
//! Architecture invariant: evaluation does no I/O. Names an expression refers to are resolved
//! through the [`Scope`] trait, which the planner implements over its working state; functions
//! that touch the outside world (`file`, `timestamp`, `uuid`) go through [`Environment`].

pub use brick_provider_api::{Type, Value};

/// The root of a reference in an expression: what a [`Scope`] is asked for. The evaluator
/// applies the remaining attribute and index steps itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    /// `var.NAME`
    Variable(String),
    /// `local.NAME`
    Local(String),
    /// `TYPE.NAME` (managed) — the object, or a tuple/map of objects under `count`/`for_each`.
    Resource {
        type_name: String,
        name: String,
    },
    /// `data.TYPE.NAME`
    Data {
        type_name: String,
        name: String,
    },
    /// `module.NAME` — an object of its outputs (tuple/map under `count`/`for_each`).
    Module(String),
    /// `each.key`
    EachKey,
    /// `each.value`
    EachValue,
    /// `count.index`
    CountIndex,
    /// `path.module`, `path.root`, `path.cwd`
    PathModule,
    PathRoot,
    PathCwd,
    /// `self` inside provisioners, postconditions and connection blocks.
    SelfObject,
}

/// Resolves references during evaluation. `None` means "not declared here"; an
/// undeclared reference is normally caught by `validate` before evaluation.
pub trait Scope {
    fn get(&self, reference: &Reference) -> Option<Value>;
}

/// The outside world as functions see it: files, the clock, randomness.
pub trait Environment: Send + Sync {
    fn read_file(&self, path: &std::path::Path) -> std::io::Result<Vec<u8>>;
    fn file_exists(&self, path: &std::path::Path) -> bool;
    /// Paths matching a glob pattern below `base` (for `fileset`).
    fn glob(&self, base: &std::path::Path, pattern: &str) -> std::io::Result<Vec<String>>;
    /// Seconds since the Unix epoch and nanoseconds, UTC.
    fn now(&self) -> (i64, u32);
    fn random_uuid(&self) -> String;
    fn cwd(&self) -> std::path::PathBuf;
    fn home_dir(&self) -> Option<std::path::PathBuf>;
}

pub mod convert;
pub mod functions;
