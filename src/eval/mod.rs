//! Evaluation: expressions, functions and type conversions over [`Value`]s, carrying the
//! unknown and sensitive marks.
//!
//! Architecture invariant: evaluation does no I/O. Names an expression refers to are resolved
//! through the [`Scope`] trait, which the planner implements over its working state; functions
//! that touch the outside world (`file`, `timestamp`, `uuid`) go through [`Environment`].
//!
//! Code map:
//! - `evaluator` — [`evaluate`]: the expression and template language over [`Value`]s;
//!   `try`, `can`, `type` and `templatefile` live here (lazy arguments); every other call goes
//!   to [`functions::call`], type conversion to [`convert`].
//! - `body` — [`evaluate_body`]: a resource/provider body against a provider schema block.
//! - `expand` — [`expansion`]: `count` / `for_each` with Terraform's errors;
//!   [`InstanceScope`] adds `each.*` / `count.index` to a scope.
//! - `inputs` — [`resolve_variables`]: `--var`, var files, `BRICK_VAR_*` with precedence.
//!
//! Invariants: no evaluation panics or recurses without bound (expression depth is bounded
//! by the loader); unknown and sensitive marks flow from every input to every result; an
//! error yields a diagnostic plus an unknown value, so callers can go on collecting.

pub use brick_provider_api::{Type, Value};

/// What a [`Scope`] is asked for (defined with the other addresses, in [`crate::addr`]).
pub use crate::addr::Reference;

/// Resolves references during evaluation. `None` means "not declared here"; an
/// undeclared reference is normally caught by `validate` before evaluation.
pub trait Scope {
    fn get(&self, reference: &Reference) -> Option<Value>;

    /// The value at `reference` followed by as many of the attribute names `attrs` as the
    /// implementation chooses to follow (stopping at anything not a known object or map
    /// with that key), with the number followed. Each step carries the container's marks
    /// onto the result, exactly as the evaluator's own attribute access does. Scopes that
    /// store values override this to avoid cloning whole objects; the default follows none.
    fn get_path(&self, reference: &Reference, attrs: &[&str]) -> Option<(Value, usize)> {
        let _ = attrs;
        self.get(reference).map(|v| (v, 0))
    }
}

/// Follows `attrs` into `v` as far as known objects and maps allow: the value found (with
/// the marks of every container passed) and how many names were followed. A helper for
/// [`Scope::get_path`] implementations.
pub fn follow_attrs(v: &Value, attrs: &[&str]) -> (Value, usize) {
    let mut cur = v;
    let mut marks = brick_provider_api::Marks::NONE;
    let mut n = 0;
    for a in attrs {
        let next = match &cur.kind {
            brick_provider_api::value::Kind::Object(m)
            | brick_provider_api::value::Kind::Map(_, m) => m.get(*a),
            _ => None,
        };
        match next {
            Some(x) => {
                marks = marks.union(cur.marks);
                cur = x;
                n += 1;
            }
            None => break,
        }
    }
    (cur.clone().with_marks(marks), n)
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

mod body;
mod evaluator;
mod expand;
mod inputs;
pub mod scope;

/// The references of an expression are found syntactically, by the loader's walker.
pub use crate::config::refs::{
    body_module_output_uses, body_references, module_output_uses, references, references_with,
};
pub use body::evaluate_body;
pub use evaluator::{
    EmptyScope, console_display, convert_with_defaults, evaluate, evaluate_const,
    evaluate_template, evaluate_with, is_true, reference_text, type_expression, value_to_display,
};
pub use expand::{
    Expansion, ExpansionProblem, InstanceScope, MAX_INSTANCES, count_of, expansion, for_each_of,
};
pub use inputs::{
    CliVar, VariableInput, VariableSource, check_validation, env_inputs, gather_inputs,
    parse_var_flag, parse_vars_file, reads_only_variables, resolve_variables,
    terraform_source_warnings,
};

/// The evaluator's side of the loader's [`crate::config::ConstEval`] seam: type constraints'
/// `optional(type, default)` defaults, evaluated with [`evaluate_const`] and converted with
/// [`convert_with_defaults`]. Pass `&eval::Constants` to [`crate::config::load`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Constants;

impl crate::config::ConstEval for Constants {
    fn evaluate_const(&self, expr: &crate::config::Expr) -> (Value, Vec<crate::diag::Diagnostic>) {
        evaluate_const(expr)
    }
    fn convert_with_defaults(
        &self,
        value: &Value,
        tc: &crate::config::TypeConstraint,
    ) -> Result<Value, String> {
        convert_with_defaults(value, tc)
    }
}

/// An [`Environment`] with no files, a fixed clock and fixed "random" values, for tests,
/// constant evaluation and `validate`.
#[derive(Clone, Debug, Default)]
pub struct NullEnvironment;

impl Environment for NullEnvironment {
    fn read_file(&self, path: &std::path::Path) -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not available here", path.display()),
        ))
    }
    fn file_exists(&self, _: &std::path::Path) -> bool {
        false
    }
    fn glob(&self, _: &std::path::Path, _: &str) -> std::io::Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn now(&self) -> (i64, u32) {
        (0, 0)
    }
    fn random_uuid(&self) -> String {
        "00000000-0000-4000-8000-000000000000".to_string()
    }
    fn cwd(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(".")
    }
    fn home_dir(&self) -> Option<std::path::PathBuf> {
        None
    }
}
