//! Variable type constraints: `string`, `list(number)`, `object({ name = string,
//! size = optional(number, 10) })`, `any`, … decoded from their expression form. A default is
//! a constant expression, evaluated when the constraint is decoded (as Terraform decodes it)
//! through [`ConstEval`], the evaluator's seam into the loader.

// Diagnostics are plain data returned by value; boxing them would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use brick_provider_api::{Type, Value};

use super::expr::{Expr, ExprKind};
use crate::diag::Diagnostic;

/// What decoding a type constraint needs from the evaluator, a floor above `config`: the
/// value of an `optional(type, default)` default, converted to the attribute's type. The
/// loader takes it as it takes the [`super::FileSystem`]; `eval::Constants` implements it.
pub trait ConstEval {
    /// The value of an expression that reads nothing, with what its evaluation found.
    fn evaluate_const(&self, expr: &Expr) -> (Value, Vec<Diagnostic>);
    /// `value` with the `optional(…, default)` defaults of `tc` applied, converted to its type
    /// (or why it does not convert).
    fn convert_with_defaults(&self, value: &Value, tc: &TypeConstraint) -> Result<Value, String>;
}

/// A type constraint as written; unlike [`Type`] it knows optional object attributes and
/// their defaults.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeConstraint {
    Any,
    Bool,
    Number,
    String,
    List(Box<TypeConstraint>),
    Set(Box<TypeConstraint>),
    Map(Box<TypeConstraint>),
    Tuple(Vec<TypeConstraint>),
    Object(BTreeMap<String, ObjectAttr>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObjectAttr {
    pub ty: TypeConstraint,
    pub optional: bool,
    pub default: Option<Value>,
}

impl TypeConstraint {
    /// The plain type (`any` → `Type::Dynamic`).
    pub fn to_type(&self) -> Type {
        match self {
            TypeConstraint::Any => Type::Dynamic,
            TypeConstraint::Bool => Type::Bool,
            TypeConstraint::Number => Type::Number,
            TypeConstraint::String => Type::String,
            TypeConstraint::List(t) => Type::list(t.to_type()),
            TypeConstraint::Set(t) => Type::set(t.to_type()),
            TypeConstraint::Map(t) => Type::map(t.to_type()),
            TypeConstraint::Tuple(ts) => Type::Tuple(ts.iter().map(|t| t.to_type()).collect()),
            TypeConstraint::Object(attrs) => Type::Object(
                attrs
                    .iter()
                    .map(|(k, a)| (k.clone(), a.ty.to_type()))
                    .collect(),
            ),
        }
    }

    /// Whether the constraint mentions optional attributes anywhere.
    pub fn has_optional(&self) -> bool {
        match self {
            TypeConstraint::List(t) | TypeConstraint::Set(t) | TypeConstraint::Map(t) => {
                t.has_optional()
            }
            TypeConstraint::Tuple(ts) => ts.iter().any(|t| t.has_optional()),
            TypeConstraint::Object(a) => a.values().any(|a| a.optional || a.ty.has_optional()),
            _ => false,
        }
    }

    /// Decodes a type expression. `optional(…)` is accepted only directly inside `object`;
    /// its default is evaluated and converted through `consts`.
    pub fn from_expr(e: &Expr, consts: &dyn ConstEval) -> Result<TypeConstraint, Diagnostic> {
        decode(e, false, consts).map(|(t, _, _)| t)
    }
}

fn invalid(e: &Expr, detail: impl Into<String>) -> Diagnostic {
    Diagnostic::error(
        "brick::config::invalid_type",
        "Invalid type specification",
        detail,
    )
    .at(e.span)
    .help("Use a type such as string, number, bool, list(string), map(number), object({ name = string }) or any.")
}

fn decode(
    e: &Expr,
    allow_optional: bool,
    consts: &dyn ConstEval,
) -> Result<(TypeConstraint, bool, Option<Value>), Diagnostic> {
    let plain = |t| Ok((t, false, None));
    match &e.kind {
        ExprKind::Paren(inner) => decode(inner, allow_optional, consts),
        ExprKind::Variable(name) => match name.as_str() {
            "any" => plain(TypeConstraint::Any),
            "bool" => plain(TypeConstraint::Bool),
            "number" => plain(TypeConstraint::Number),
            "string" => plain(TypeConstraint::String),
            "list" | "set" | "map" | "tuple" | "object" => Err(invalid(
                e,
                format!(
                    "The {name} type constructor requires one argument specifying the element type."
                ),
            )),
            other => Err(invalid(
                e,
                format!("The keyword `{other}` is not a valid type specification."),
            )),
        },
        ExprKind::Call { name, args, .. } => {
            let one = |what: &str| -> Result<&Expr, Diagnostic> {
                match args.as_slice() {
                    [a] => Ok(a),
                    _ => Err(invalid(
                        e,
                        format!("The {what} type constructor requires exactly one argument."),
                    )),
                }
            };
            match name.as_str() {
                "list" => plain(TypeConstraint::List(Box::new(
                    decode(one("list")?, false, consts)?.0,
                ))),
                "set" => plain(TypeConstraint::Set(Box::new(
                    decode(one("set")?, false, consts)?.0,
                ))),
                "map" => plain(TypeConstraint::Map(Box::new(
                    decode(one("map")?, false, consts)?.0,
                ))),
                "tuple" => {
                    let a = one("tuple")?;
                    let ExprKind::Tuple(items) = &a.kind else {
                        return Err(invalid(
                            a,
                            "The tuple type constructor requires a list of element types.",
                        ));
                    };
                    let ts = items
                        .iter()
                        .map(|i| decode(i, false, consts).map(|r| r.0))
                        .collect::<Result<_, _>>()?;
                    plain(TypeConstraint::Tuple(ts))
                }
                "object" => {
                    let a = one("object")?;
                    let ExprKind::Object(items) = &a.kind else {
                        return Err(invalid(
                            a,
                            "The object type constructor requires an object of attribute types.",
                        ));
                    };
                    let mut attrs = BTreeMap::new();
                    for (k, v) in items {
                        let Some(key) = k.as_literal_str().map(str::to_string).or_else(|| match &k
                            .kind
                        {
                            ExprKind::Variable(n) => Some(n.clone()),
                            _ => None,
                        }) else {
                            return Err(invalid(
                                k,
                                "Object type attribute names must be plain identifiers.",
                            ));
                        };
                        let (ty, optional, default) = decode(v, true, consts)?;
                        attrs.insert(
                            key,
                            ObjectAttr {
                                ty,
                                optional,
                                default,
                            },
                        );
                    }
                    plain(TypeConstraint::Object(attrs))
                }
                "optional" => {
                    if !allow_optional {
                        return Err(invalid(
                            e,
                            "optional() may only be used for an attribute of an object type.",
                        ));
                    }
                    let (ty_e, default_e) = match args.as_slice() {
                        [t] => (t, None),
                        [t, d] => (t, Some(d)),
                        _ => {
                            return Err(invalid(
                                e,
                                "optional() takes a type and an optional default value.",
                            ));
                        }
                    };
                    let ty = decode(ty_e, false, consts)?.0;
                    let default = match default_e {
                        None => None,
                        Some(d) => {
                            let (v, diags) = consts.evaluate_const(d);
                            if let Some(d) = diags.into_iter().find(|d| d.is_error()) {
                                return Err(d);
                            }
                            let v = consts.convert_with_defaults(&v, &ty).map_err(|m| {
                                invalid(d, format!("The default value is not valid for the attribute's type: {m}."))
                            })?;
                            Some(v)
                        }
                    };
                    Ok((ty, true, default))
                }
                other => Err(invalid(e, format!("`{other}` is not a type constructor."))),
            }
        }
        _ => Err(invalid(
            e,
            "A type specification is a type keyword or a type constructor call.",
        )),
    }
}
