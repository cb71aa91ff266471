//! Loading a configuration: every `*.hcl` file of one directory, parsed with source spans into
//! typed blocks (variables, locals, outputs, resources, data sources, providers, module calls,
//! `moved`/`removed`/`import`, the `brick` settings block).
//!
//! Architecture invariant: this module does no I/O of its own. Files are read through the
//! [`FileSystem`] trait, so tests load configurations from memory ([`MemoryFs`]); the CLI
//! passes [`RealFs`], the one type here that touches the disk.
//!
//! The types below are the contract with `plan` and `graph`; their internals (`Expr`, `Body`)
//! belong to this module and `eval`.
//!
//! Code map:
//! - `syntax` — hcl-edit parse + lowering into [`Body`]/[`Expr`] (spans, strip markers,
//!   bounded depth).
//! - `expr` — the expression tree the evaluator walks.
//! - `refs` — the references an expression makes (a syntactic walk; `eval` re-exports it).
//! - `load` — decoding bodies into the typed blocks below, module recursion, duplicates.
//! - `types` — variable type constraints (`optional(type, default)`).
//!
//! Entry point: [`load`], given a [`FileSystem`] and the evaluator's [`ConstEval`] (the two
//! seams: `config` reads no disk and, standing below `eval`, evaluates nothing itself).
//! `*.vars.hcl` files are variable-value files and are not part of the configuration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub mod expr;
mod load;
mod memfs;
pub mod refs;
pub mod syntax;
mod syntax_errors;
pub mod types;

pub use expr::{Expr, ExprKind, StaticStep, Step, TemplatePart};
pub use load::{MAX_FILE_BYTES, is_identifier, load};
pub use memfs::{MAX_READ_BYTES, MemoryFs, RealFs};
pub use syntax::{Attribute, Block, Body};
pub use types::{ConstEval, ObjectAttr, TypeConstraint};

/// Read access to configuration files. The CLI passes the real file system; tests pass a map.
pub trait FileSystem {
    /// The `*.hcl` (and `*.vars.hcl`) files directly inside `dir`, sorted by name.
    fn list_hcl_files(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>>;
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    /// The first `limit + 1` bytes of `path` at most: enough to tell that a file is longer
    /// than `limit` without reading it all (`/dev/zero` never ends).
    fn read_up_to(&self, path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
        let mut bytes = self.read(path)?;
        bytes.truncate(limit.saturating_add(1));
        Ok(bytes)
    }
    /// Every file directly inside `dir`, sorted by name (to notice files brick does not read,
    /// such as Terraform's `terraform.tfvars`).
    fn list_files(&self, _dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        Ok(Vec::new())
    }
}

pub use crate::diag::{FileId, SourceFile, Span};

pub use crate::addr::ResourceMode;

/// A loaded configuration: the root module and, recursively, the modules it calls.
#[derive(Clone, Debug)]
pub struct Config {
    /// Every source file read, root and child modules alike; [`Span::file`] indexes this.
    pub files: Vec<SourceFile>,
    pub root: Module,
}

/// One module: the blocks of the `*.hcl` files of one directory.
#[derive(Clone, Debug, Default)]
pub struct Module {
    /// The directory the module was loaded from (as given, not canonicalised).
    pub dir: PathBuf,
    /// Call path from the root: `[]` for the root, `["net"]` for `module.net`.
    pub path: Vec<String>,
    pub settings: Option<Settings>,
    pub variables: BTreeMap<String, Variable>,
    pub locals: BTreeMap<String, Local>,
    pub outputs: BTreeMap<String, Output>,
    /// Keyed by [`Resource::key`]: `TYPE.NAME` or `data.TYPE.NAME`.
    pub resources: BTreeMap<String, Resource>,
    /// Keyed by `NAME` or `NAME.ALIAS`.
    pub providers: BTreeMap<String, ProviderConfig>,
    pub module_calls: BTreeMap<String, ModuleCall>,
    pub moved: Vec<Moved>,
    pub removed: Vec<Removed>,
    pub imports: Vec<Import>,
    /// `drift { ignore = [...] }` entries (root module only).
    pub drift_ignores: Vec<DriftIgnore>,
}

impl Module {
    pub fn resource(&self, mode: ResourceMode, type_name: &str, name: &str) -> Option<&Resource> {
        self.resources.get(&Resource::key_of(mode, type_name, name))
    }
    /// The module at `path` below this one.
    pub fn descendant(&self, path: &[String]) -> Option<&Module> {
        match path.split_first() {
            None => Some(self),
            Some((first, rest)) => self
                .module_calls
                .get(first)
                .and_then(|c| c.module.as_deref())
                .and_then(|m| m.descendant(rest)),
        }
    }
}

/// `brick { required_version = "…" … }`
#[derive(Clone, Debug)]
pub struct Settings {
    pub required_version: Option<String>,
    /// `backend "TYPE" { … }`: where the state lives (none: the local file).
    pub backend: Option<BackendBlock>,
    /// Everything else in the block, uninterpreted.
    pub body: Body,
    pub span: Span,
}

/// `backend "s3" { bucket = "…" endpoints = { s3 = "…" } }` inside `brick { }`: literal
/// values only (as Terraform: a backend is configured before anything is evaluated), nested
/// objects and blocks flattened to dotted names (`endpoints.s3`).
#[derive(Clone, Debug)]
pub struct BackendBlock {
    pub kind: String,
    pub settings: std::collections::BTreeMap<String, String>,
    pub span: Span,
}

/// `condition` + `error_message`, as in `validation`, `precondition`, `postcondition`.
#[derive(Clone, Debug)]
pub struct Check {
    pub condition: Expr,
    pub error_message: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Variable {
    pub name: String,
    /// `None` when no `type` was given (any type).
    pub ty: Option<TypeConstraint>,
    pub default: Option<Expr>,
    pub description: Option<String>,
    pub sensitive: bool,
    /// `nullable = false` refuses null (and uses the default instead).
    pub nullable: bool,
    pub validations: Vec<Check>,
    pub span: Span,
}

impl Variable {
    /// The declared type constraint, `any` when none.
    pub fn constraint(&self) -> TypeConstraint {
        self.ty.clone().unwrap_or(TypeConstraint::Any)
    }
}

#[derive(Clone, Debug)]
pub struct Local {
    pub name: String,
    pub expr: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Output {
    pub name: String,
    pub value: Expr,
    pub description: Option<String>,
    pub sensitive: bool,
    pub depends_on: Vec<Expr>,
    pub preconditions: Vec<Check>,
    pub span: Span,
}

/// `provider = maas.site2` in a resource: the provider name and optional alias.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderRef {
    pub name: String,
    pub alias: Option<String>,
}

impl ProviderRef {
    /// `NAME` or `NAME.ALIAS`, the key in [`Module::providers`].
    pub fn key(&self) -> String {
        match &self.alias {
            Some(a) => format!("{}.{a}", self.name),
            None => self.name.clone(),
        }
    }
}

/// `ignore_changes = all` or a list of attribute paths.
#[derive(Clone, Debug, Default)]
pub enum IgnoreChanges {
    #[default]
    None,
    All,
    /// Each path as static steps from the resource object (`tags["a"]`, `spec.size`).
    Paths(Vec<(Vec<StaticStep>, Span)>),
}

#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    pub create_before_destroy: bool,
    pub prevent_destroy: bool,
    pub ignore_changes: IgnoreChanges,
    /// References (`brick_data.x`, `brick_data.x.output`) whose change replaces this one.
    pub replace_triggered_by: Vec<Expr>,
    pub preconditions: Vec<Check>,
    pub postconditions: Vec<Check>,
}

/// A `provisioner "local-exec"` block of a resource (the only provisioner brick runs).
#[derive(Clone, Debug)]
pub struct Provisioner {
    /// `when = destroy`: runs before the object is destroyed, not after it is created.
    pub when_destroy: bool,
    /// `on_failure = continue`: a failure is reported but neither taints nor stops.
    pub on_failure_continue: bool,
    /// `command`, `interpreter`, `working_dir`, `environment`, `quiet`.
    pub body: Body,
    /// The whole block.
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub mode: ResourceMode,
    pub type_name: String,
    pub name: String,
    /// Explicit `provider = NAME[.ALIAS]`; `None` means the default provider of the type's
    /// prefix (see [`Resource::provider_name`]).
    pub provider: Option<ProviderRef>,
    pub count: Option<Expr>,
    pub for_each: Option<Expr>,
    pub depends_on: Vec<Expr>,
    pub lifecycle: Lifecycle,
    /// `timeouts { create = "40m" … }`: how long each operation may take.
    pub timeouts: Timeouts,
    /// The `timeouts` block as written. As in Terraform, a resource type whose schema declares
    /// a `timeouts` block receives it like any other block (and enforces it itself); for the
    /// others the engine alone enforces [`Resource::timeouts`].
    pub timeouts_block: Option<Box<Block>>,
    /// `provisioner "local-exec"` blocks, in order.
    pub provisioners: Vec<Provisioner>,
    /// The arguments and nested blocks, without the meta-arguments above (and without
    /// `lifecycle`, `timeouts`, `connection`, `provisioner`). Evaluate with
    /// [`crate::eval::evaluate_body`] against the type's schema. Shared (not copied) with
    /// planning's input, which evaluates it once per instance: at 100,000 resources a copy
    /// cost about 175 MiB.
    pub body: std::sync::Arc<Body>,
    /// The whole block.
    pub span: Span,
    /// The `resource "TYPE" "NAME"` header.
    pub decl_span: Span,
}

impl Resource {
    pub fn key_of(mode: ResourceMode, type_name: &str, name: &str) -> String {
        match mode {
            ResourceMode::Managed => format!("{type_name}.{name}"),
            ResourceMode::Data => format!("data.{type_name}.{name}"),
        }
    }
    pub fn key(&self) -> String {
        Resource::key_of(self.mode, &self.type_name, &self.name)
    }
    /// The provider that manages this resource: the explicit one, else the type name's
    /// prefix before the first `_` (`maas_machine` → `maas`, `brick_data` → `brick`).
    pub fn provider_ref(&self) -> ProviderRef {
        self.provider.clone().unwrap_or_else(|| ProviderRef {
            name: self.provider_name().to_string(),
            alias: None,
        })
    }
    pub fn provider_name(&self) -> &str {
        match &self.provider {
            Some(p) => &p.name,
            None => self.type_name.split('_').next().unwrap_or(&self.type_name),
        }
    }
}

/// Operation time limits from a resource's `timeouts` block (Go duration syntax: `40m`,
/// `1h30m`, `90s`). `None` means the provider's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub create: Option<std::time::Duration>,
    pub read: Option<std::time::Duration>,
    pub update: Option<std::time::Duration>,
    pub delete: Option<std::time::Duration>,
}

/// The longest duration Go's `time.ParseDuration` accepts (Terraform's `timeouts` use it):
/// 2^63 - 1 nanoseconds, about 292 years.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::new(9_223_372_036, 854_775_807);

/// Parses a duration as Go's `time.ParseDuration` does (Terraform's `timeouts`, the
/// `brick_sleep` resource, `BRICK_PROGRESS_INTERVAL`): `300ms`, `1.5h`, `2h45m`, `0`, a
/// sequence of decimal numbers each with a unit of `ns`, `us`, `µs`, `ms`, `s`, `m` or `h`.
/// Negative durations and ones longer than [`MAX_DURATION`] are refused. The error is a
/// phrase for a diagnostic's detail (`"10" is missing a unit (s, m, h, ...)`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let s = text.trim();
    if s == "0" || s == "+0" {
        return Ok(std::time::Duration::ZERO);
    }
    if s.is_empty() {
        return Err("the duration is empty".into());
    }
    if s.starts_with('-') {
        return Err(format!("{text:?} is negative"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    // Whole nanoseconds, exact for integers; fractions go through f64 (as precise as Go's
    // own for any timeout a person writes).
    let mut total: u128 = 0;
    let too_long =
        || format!("{text:?} is longer than the longest duration, 2562047h47m16.854775807s");
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("{text:?} has a unit without a number"));
        }
        let num = &rest[..num_len];
        if num == "." || num.matches('.').count() > 1 {
            return Err(format!("{num:?} is not a number"));
        }
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("{text:?} is missing a unit (s, m, h, ...)")),
            u => return Err(format!("{text:?} has the unknown unit {u:?}")),
        };
        let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_long())?
        };
        let mut ns = whole.checked_mul(per_unit).ok_or_else(too_long)?;
        if !frac.is_empty() {
            let f: f64 = format!("0.{frac}")
                .parse()
                .map_err(|_| format!("{num:?} is not a number"))?;
            ns += (f * per_unit as f64) as u128;
        }
        total = total.checked_add(ns).ok_or_else(too_long)?;
        if total > MAX_DURATION.as_nanos() {
            return Err(too_long());
        }
        rest = &rest[unit_len..];
    }
    Ok(std::time::Duration::new(
        (total / 1_000_000_000) as u64,
        (total % 1_000_000_000) as u32,
    ))
}

/// `provider "NAME" { alias = "…" … }`
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    pub name: String,
    pub alias: Option<String>,
    /// Arguments without `alias`/`version`; may reference resources (unknown at plan time).
    pub body: Body,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ModuleCall {
    pub name: String,
    /// As written: `./net`.
    pub source: String,
    pub count: Option<Expr>,
    pub for_each: Option<Expr>,
    pub depends_on: Vec<Expr>,
    /// `providers = { maas = maas.site2 }`: child name → parent provider.
    pub providers: BTreeMap<String, ProviderRef>,
    /// Input variables for the child module.
    pub inputs: BTreeMap<String, Attribute>,
    /// The loaded child module; `None` when it could not be loaded (a diagnostic says why).
    pub module: Option<Box<Module>>,
    pub span: Span,
    pub decl_span: Span,
}

/// `moved { from = …, to = … }`; both kept as expressions (static traversals), checked by
/// `validate` and turned into [`crate::addr`] addresses by the planner.
#[derive(Clone, Debug)]
pub struct Moved {
    pub from: Expr,
    pub to: Expr,
    pub span: Span,
}

/// One entry of a root module's `drift { ignore = [ADDR.PATH, ...]  reason = "…" }` block:
/// drift of the instances `target` names, at or below `path` (the whole object when empty),
/// is reported as ignored and does not count. Plans are not affected (that is
/// `lifecycle { ignore_changes }`).
#[derive(Clone, Debug)]
pub struct DriftIgnore {
    pub target: crate::addr::Target,
    pub path: Vec<StaticStep>,
    /// The entry as written (`maas_machine.node.tags`).
    pub text: String,
    pub reason: Option<String>,
    pub span: Span,
}

/// `removed { from = …  lifecycle { destroy = false } }`
#[derive(Clone, Debug)]
pub struct Removed {
    pub from: Expr,
    /// Whether the real object is destroyed (default `true`); `false` only forgets it.
    pub destroy: bool,
    pub span: Span,
}

/// `import { to = …, id = "…" }`
#[derive(Clone, Debug)]
pub struct Import {
    pub to: Expr,
    pub id: Expr,
    pub provider: Option<ProviderRef>,
    pub span: Span,
}
