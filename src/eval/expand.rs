//! `count` and `for_each`: how many instances a resource or module call has, with
//! Terraform's errors, and [`InstanceScope`], which adds `count.index` / `each.*` to a scope.

use std::collections::BTreeMap;

use brick_provider_api::value::Kind;
use brick_provider_api::{Type, Value};

use super::evaluator::{Evaluator, describe};
use super::{Environment, Reference, Scope};
use crate::config::Expr;
use crate::diag::Diagnostic;

/// The instances of a block.
#[derive(Clone, Debug, PartialEq)]
pub enum Expansion {
    /// Neither `count` nor `for_each`: one instance with no key.
    Single,
    /// `count = N`: instances `[0]` … `[N-1]`.
    Count(usize),
    /// `for_each`: one instance per key, with its `each.value`.
    ForEach(BTreeMap<String, Value>),
    /// The value is not known yet (or was invalid); a diagnostic says which.
    Unknown,
}

impl Expansion {
    /// The instance keys: `None` (no key) for `Single`, numbers for `Count`, strings for
    /// `ForEach`.
    pub fn len(&self) -> usize {
        match self {
            Expansion::Single => 1,
            Expansion::Count(n) => *n,
            Expansion::ForEach(m) => m.len(),
            Expansion::Unknown => 0,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn err(code: &str, summary: &str, detail: impl Into<String>, e: &Expr) -> Diagnostic {
    Diagnostic::error(format!("brick::eval::{code}"), summary, detail).at(e.span)
}

/// Evaluates `count` / `for_each`. An unknown or sensitive value, a wrong type, a negative
/// or fractional count, both set at once: each is an error diagnostic, with
/// [`Expansion::Unknown`].
pub fn expansion(
    count: Option<&Expr>,
    for_each: Option<&Expr>,
    scope: &dyn Scope,
    env: &dyn Environment,
) -> (Expansion, Vec<Diagnostic>) {
    let mut ev = Evaluator::new(scope, env);
    match (count, for_each) {
        (None, None) => (Expansion::Single, Vec::new()),
        (Some(c), Some(_)) => (
            Expansion::Unknown,
            vec![err(
                "count_and_for_each",
                "Invalid combination of \"count\" and \"for_each\"",
                "The \"count\" and \"for_each\" meta-arguments are mutually-exclusive, only one should be used to be explicit about the number of resources to be created.",
                c,
            )],
        ),
        (Some(c), None) => {
            let r = ev.eval(c);
            let mut diags = ev.diags;
            let Ok(v) = r else {
                return (Expansion::Unknown, diags);
            };
            let bad = |detail: String| err("invalid_count", "Invalid count argument", detail, c);
            if v.contains_sensitive() {
                diags.push(bad("Sensitive values, or values derived from sensitive values, cannot be used as count arguments.".into()));
                return (Expansion::Unknown, diags);
            }
            if !v.is_known() {
                diags.push(bad("The \"count\" value depends on resource attributes that cannot be determined until apply, so brick cannot predict how many instances will be created.".into())
                    .help("Use literal values or values known at plan time for count, or apply the resources this depends on first with -target."));
                return (Expansion::Unknown, diags);
            }
            if v.is_null() {
                diags.push(bad(
                    "The given \"count\" argument value is null. An integer is required.".into(),
                ));
                return (Expansion::Unknown, diags);
            }
            let Some(n) = super::evaluator::prim_to_number(&v) else {
                diags.push(bad(format!("The given \"count\" argument value is unsuitable: a number is required, not {}.", describe(&v.ty()))));
                return (Expansion::Unknown, diags);
            };
            if !n.is_integer() {
                diags.push(bad(format!(
                    "The given \"count\" argument value is unsuitable: {n} is not a whole number."
                )));
                return (Expansion::Unknown, diags);
            }
            match n.to_i64() {
                Some(i) if i < 0 => {
                    diags.push(bad("The given \"count\" argument value is unsuitable: must be greater than or equal to zero.".into()));
                    (Expansion::Unknown, diags)
                }
                Some(i) if i <= 1_000_000 => (Expansion::Count(i as usize), diags),
                _ => {
                    diags.push(bad(format!("The given \"count\" argument value ({n}) is too large: brick accepts at most 1000000 instances.")));
                    (Expansion::Unknown, diags)
                }
            }
        }
        (None, Some(f)) => {
            let r = ev.eval(f);
            let mut diags = ev.diags;
            let Ok(v) = r else {
                return (Expansion::Unknown, diags);
            };
            let bad =
                |detail: String| err("invalid_for_each", "Invalid for_each argument", detail, f);
            if v.is_null() {
                diags.push(bad("The given \"for_each\" argument value is unsuitable: the given \"for_each\" argument value is null. A map, or set of strings is allowed.".into()));
                return (Expansion::Unknown, diags);
            }
            if v.is_sensitive()
                || matches!(&v.kind, Kind::Set(_, items) if items.iter().any(Value::contains_sensitive))
            {
                diags.push(bad("Sensitive values, or values derived from sensitive values, cannot be used as for_each arguments. If used, the sensitive value could be exposed as a resource instance key.".into())
                    .help("Use nonsensitive() on the keys if you are sure they are not secret."));
                return (Expansion::Unknown, diags);
            }
            let unknown_detail = "The \"for_each\" map includes keys derived from resource attributes that cannot be determined until apply, and so brick cannot determine the full set of keys that will identify the instances of this resource.";
            match &v.kind {
                Kind::Unknown(_) => {
                    diags.push(bad(unknown_detail.into()).help("When working with unknown values in for_each, it's better to define the map keys statically in your configuration and place apply-time results only in the map values."));
                    (Expansion::Unknown, diags)
                }
                Kind::Map(_, m) | Kind::Object(m) => {
                    let out = m.iter().map(|(k, x)| (k.clone(), x.clone())).collect();
                    (Expansion::ForEach(out), diags)
                }
                Kind::Set(ety, items) => {
                    if *ety != Type::String && *ety != Type::Dynamic {
                        diags.push(bad(format!("The given \"for_each\" argument value is unsuitable: \"for_each\" supports maps and sets of strings, but you have provided a set containing type {ety}.")));
                        return (Expansion::Unknown, diags);
                    }
                    let mut out = BTreeMap::new();
                    for i in items {
                        match &i.kind {
                            Kind::String(s) => {
                                out.insert(s.clone(), i.clone());
                            }
                            Kind::Unknown(_) => {
                                diags.push(bad(unknown_detail.into()));
                                return (Expansion::Unknown, diags);
                            }
                            Kind::Null(_) => {
                                diags.push(bad("The given \"for_each\" argument value is unsuitable: \"for_each\" sets must not contain null values.".into()));
                                return (Expansion::Unknown, diags);
                            }
                            _ => {
                                diags.push(bad(format!("The given \"for_each\" argument value is unsuitable: \"for_each\" supports maps and sets of strings, but you have provided a set containing {}.", describe(&i.ty()))));
                                return (Expansion::Unknown, diags);
                            }
                        }
                    }
                    (Expansion::ForEach(out), diags)
                }
                _ => {
                    diags.push(bad(format!("The given \"for_each\" argument value is unsuitable: the \"for_each\" argument must be a map, or set of strings, and you have provided a value of type {}.", v.ty()))
                        .help("Convert a list of strings with toset(), or build a map with a for expression."));
                    (Expansion::Unknown, diags)
                }
            }
        }
    }
}

/// A scope for one instance: answers `count.index` or `each.key` / `each.value` and defers
/// everything else to `parent`.
pub struct InstanceScope<'a> {
    pub parent: &'a dyn Scope,
    pub count_index: Option<usize>,
    pub each: Option<(String, Value)>,
}

impl Scope for InstanceScope<'_> {
    fn get(&self, reference: &Reference) -> Option<Value> {
        match reference {
            Reference::CountIndex => self.count_index.map(Value::number),
            Reference::EachKey => self.each.as_ref().map(|(k, _)| Value::string(k.clone())),
            Reference::EachValue => self.each.as_ref().map(|(_, v)| v.clone()),
            other => self.parent.get(other),
        }
    }
}
