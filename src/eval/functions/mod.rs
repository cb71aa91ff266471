//! Terraform's built-in function library, with the same names and results.
//!
//! `try`, `can`, `templatefile` and `type` need the evaluator (lazy arguments, templates) and
//! are implemented there, not here.
//!
//! STUB: the dispatch API only; the functions are being written.

use brick_provider_api::Value;

use super::Environment;

/// A function call that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionError {
    /// The index of the argument at fault, when there is one.
    pub arg: Option<usize>,
    pub message: String,
}

/// Calls the function `name`. `None` when no such function exists.
pub fn call(
    name: &str,
    args: Vec<Value>,
    env: &dyn Environment,
) -> Option<Result<Value, FunctionError>> {
    let _ = (name, args, env);
    None
}

/// The names of every function `call` knows, for "did you mean" help.
pub fn names() -> &'static [&'static str] {
    &[]
}
