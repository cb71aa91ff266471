//! Type conversion and unification, following Terraform's (cty's) rules: string ↔ number ↔
//! bool conversions, tuple → list/set, object → map, collection → collection, null and unknown
//! values keeping their marks.
//!
//! STUB: only identity conversion so far; the full rules are being written.

use brick_provider_api::{Type, Value};

/// Why a value could not be converted, e.g. "a number is required".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversionError {
    /// Where inside the value the problem is: attribute names, keys, indices as text.
    pub path: Vec<String>,
    pub message: String,
}

/// Converts `value` to type `want` (`Type::Dynamic` accepts anything).
pub fn convert(value: &Value, want: &Type) -> Result<Value, ConversionError> {
    if *want == Type::Dynamic || value.ty() == *want {
        return Ok(value.clone());
    }
    Err(ConversionError {
        path: Vec::new(),
        message: format!("{want} required"),
    })
}

/// The single type all of `types` can convert to, if there is one (for conditional results,
/// list literals and collection function arguments).
pub fn unify(types: &[Type]) -> Option<Type> {
    let first = types.first()?;
    types.iter().all(|t| t == first).then(|| first.clone())
}
