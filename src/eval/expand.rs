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

/// Why a `count` or `for_each` value cannot expand, in Terraform's words.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpansionProblem {
    /// `invalid_count` or `invalid_for_each`.
    pub code: &'static str,
    pub summary: &'static str,
    pub detail: String,
    pub help: Option<&'static str>,
}

impl ExpansionProblem {
    /// The problem as a diagnostic (`brick::eval::CODE`) at `span`.
    pub fn diagnostic(&self, span: Option<crate::config::Span>) -> Diagnostic {
        let mut d = Diagnostic::error(
            format!("brick::eval::{}", self.code),
            self.summary,
            self.detail.clone(),
        );
        if let Some(s) = span {
            d = d.at(s);
        }
        match self.help {
            Some(h) => d.help(h),
            None => d,
        }
    }
}

const SET_HELP: &str = "When working with unknown values in for_each, it's better to use a map value where the keys are defined statically in your configuration and where only the values contain apply-time results. Alternatively, you could use the --target planning option to first apply only the resources that the for_each value depends on, and then apply a second time to fully converge.";
const MAP_HELP: &str = "When working with unknown values in for_each, it's better to define the map keys statically in your configuration and place apply-time results only in the map values. Alternatively, you could use the --target planning option to first apply only the resources that the for_each value depends on, and then apply a second time to fully converge.";

/// The most instances one block may have.
pub const MAX_INSTANCES: i64 = 1_000_000;

fn count_problem(detail: impl Into<String>) -> ExpansionProblem {
    ExpansionProblem {
        code: "invalid_count",
        summary: "Invalid count argument",
        detail: detail.into(),
        help: None,
    }
}

fn for_each_problem(detail: impl Into<String>) -> ExpansionProblem {
    ExpansionProblem {
        code: "invalid_for_each",
        summary: "Invalid for_each argument",
        detail: detail.into(),
        help: None,
    }
}

/// The number of instances a `count` value asks for, as Terraform decides it: known, not
/// sensitive, not null, convertible to a whole number (`"3"` is 3), zero or more, and here at
/// most [`MAX_INSTANCES`].
pub fn count_of(v: &Value) -> Result<usize, ExpansionProblem> {
    if v.contains_sensitive() {
        return Err(count_problem(
            "Sensitive values, or values derived from sensitive values, cannot be used as count arguments.",
        ));
    }
    if !v.is_known() {
        return Err(ExpansionProblem {
            help: Some(
                "Use literal values or values known at plan time for count, or apply the resources this depends on first with -target.",
            ),
            ..count_problem(
                "The \"count\" value depends on resource attributes that cannot be determined until apply, so brick cannot predict how many instances will be created.",
            )
        });
    }
    if v.is_null() {
        return Err(count_problem(
            "The given \"count\" argument value is null. An integer is required.",
        ));
    }
    let Some(n) = super::evaluator::prim_to_number(v) else {
        return Err(count_problem(format!(
            "The given \"count\" argument value is unsuitable: a number is required, not {}.",
            describe(&v.ty())
        )));
    };
    if !n.is_integer() {
        return Err(count_problem(format!(
            "The given \"count\" argument value is unsuitable: {n} is not a whole number."
        )));
    }
    match n.to_i64() {
        Some(i) if i < 0 => Err(count_problem(
            "The given \"count\" argument value is unsuitable: must be greater than or equal to zero.",
        )),
        Some(i) if i <= MAX_INSTANCES => Ok(i as usize),
        _ => Err(count_problem(format!(
            "The given \"count\" argument value ({n}) is too large: brick accepts at most {MAX_INSTANCES} instances."
        ))),
    }
}

/// The instances a `for_each` value asks for (key → `each.value`), as Terraform decides it:
/// a known, non-null, non-sensitive map or object (its values may be unknown or sensitive:
/// they become `each.value`), or a wholly known set of strings without nulls.
pub fn for_each_of(v: &Value) -> Result<BTreeMap<String, Value>, ExpansionProblem> {
    let unknown = |set: bool| {
        let (what, holds) = if set {
            ("set", "values")
        } else {
            ("map", "keys")
        };
        ExpansionProblem {
            help: Some(if set { SET_HELP } else { MAP_HELP }),
            ..for_each_problem(format!(
                "The \"for_each\" {what} includes {holds} derived from resource attributes that cannot be determined until apply, and so brick cannot determine the full set of keys that will identify the instances of this resource."
            ))
        }
    };
    if v.is_null() {
        return Err(for_each_problem(
            "The given \"for_each\" argument value is unsuitable: the given \"for_each\" argument value is null. A map, or set of strings is allowed.",
        ));
    }
    if v.is_sensitive()
        || matches!(&v.kind, Kind::Set(_, items) if items.iter().any(Value::contains_sensitive))
    {
        return Err(ExpansionProblem {
            help: Some("Use nonsensitive() on the keys if you are sure they are not secret."),
            ..for_each_problem(
                "Sensitive values, or values derived from sensitive values, cannot be used as for_each arguments. If used, the sensitive value could be exposed as a resource instance key.",
            )
        });
    }
    match &v.kind {
        Kind::Unknown(ty) => Err(unknown(matches!(ty, Type::Set(_)))),
        Kind::Map(_, m) | Kind::Object(m) => {
            if m.len() as i64 > MAX_INSTANCES {
                return Err(for_each_problem(format!(
                    "The given \"for_each\" argument value has {} elements: brick accepts at most {MAX_INSTANCES} instances.",
                    m.len()
                )));
            }
            Ok(m.iter().map(|(k, x)| (k.clone(), x.clone())).collect())
        }
        Kind::Set(ety, items) => {
            if *ety != Type::String && *ety != Type::Dynamic {
                return Err(for_each_problem(format!(
                    "The given \"for_each\" argument value is unsuitable: \"for_each\" supports maps and sets of strings, but you have provided a set containing type {ety}."
                )));
            }
            let mut out = BTreeMap::new();
            for i in items {
                match &i.kind {
                    Kind::String(s) => {
                        out.insert(s.clone(), i.clone());
                    }
                    Kind::Unknown(_) => return Err(unknown(true)),
                    Kind::Null(_) => {
                        return Err(for_each_problem(
                            "The given \"for_each\" argument value is unsuitable: \"for_each\" sets must not contain null values.",
                        ));
                    }
                    _ => {
                        return Err(for_each_problem(format!(
                            "The given \"for_each\" argument value is unsuitable: \"for_each\" supports maps and sets of strings, but you have provided a set containing {}.",
                            describe(&i.ty())
                        )));
                    }
                }
            }
            Ok(out)
        }
        _ => Err(ExpansionProblem {
            help: Some(
                "Convert a list of strings with toset(), or build a map with a for expression.",
            ),
            ..for_each_problem(format!(
                "The given \"for_each\" argument value is unsuitable: the \"for_each\" argument must be a map, or set of strings, and you have provided a value of type {}.",
                v.ty()
            ))
        }),
    }
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
            vec![
                Diagnostic::error(
                    "brick::eval::count_and_for_each",
                    "Invalid combination of \"count\" and \"for_each\"",
                    "The \"count\" and \"for_each\" meta-arguments are mutually-exclusive, only one should be used to be explicit about the number of resources to be created.",
                )
                .at(c.span),
            ],
        ),
        (Some(c), None) => {
            let r = ev.eval(c);
            let mut diags = ev.diags;
            let Ok(v) = r else {
                return (Expansion::Unknown, diags);
            };
            match count_of(&v) {
                Ok(n) => (Expansion::Count(n), diags),
                Err(p) => {
                    diags.push(p.diagnostic(Some(c.span)));
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
            match for_each_of(&v) {
                Ok(m) => (Expansion::ForEach(m), diags),
                Err(p) => {
                    diags.push(p.diagnostic(Some(f.span)));
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
