//! Type conversion functions: issensitive nonsensitive sensitive tobool tolist tomap tonumber toset
//! tostring. (`can`, `try` and `type` are the evaluator's.)

use brick_provider_api::value::Kind;
use brick_provider_api::{Type, Value};

use super::{FunctionError, Registry, Result, func, p};
use crate::eval::Environment;
use crate::eval::convert::{convert, convert_type};

type Env<'a> = &'a dyn Environment;

pub(super) fn register(r: &mut Registry) {
    r.insert(
        "sensitive",
        func(
            vec![
                p("value", Type::Dynamic)
                    .null_ok()
                    .unknown_ok()
                    .keep_marks(),
            ],
            Type::Dynamic,
            sensitive,
        ),
    );
    r.insert(
        "nonsensitive",
        func(
            vec![
                p("value", Type::Dynamic)
                    .null_ok()
                    .unknown_ok()
                    .keep_marks(),
            ],
            Type::Dynamic,
            nonsensitive,
        ),
    );
    r.insert(
        "issensitive",
        func(
            vec![
                p("value", Type::Dynamic)
                    .null_ok()
                    .unknown_ok()
                    .keep_marks(),
            ],
            Type::Bool,
            issensitive,
        ),
    );
    let to = |imp: super::Impl| {
        func(
            vec![p("v", Type::Dynamic).null_ok().unknown_ok().shallow()],
            Type::Dynamic,
            imp,
        )
    };
    r.insert("tobool", to(tobool));
    r.insert("tonumber", to(tonumber));
    r.insert("tostring", to(tostring));
    r.insert("tolist", to(tolist));
    r.insert("toset", to(toset));
    r.insert("tomap", to(tomap));
}

fn sensitive(a: &[Value], _: Env) -> Result<Value> {
    Ok(a[0].clone().sensitive())
}

/// Whether the value itself is marked sensitive (Terraform 1.8's `issensitive`).
fn issensitive(a: &[Value], _: Env) -> Result<Value> {
    if !a[0].is_known() {
        return Ok(Value::unknown(Type::Bool));
    }
    Ok(Value::bool(a[0].is_sensitive()))
}

fn nonsensitive(a: &[Value], _: Env) -> Result<Value> {
    Ok(a[0].unmarked())
}

/// Terraform's names for types in conversion errors.
pub(crate) fn friendly(t: &Type) -> String {
    match t {
        Type::Dynamic => "any".into(),
        Type::Object(_) => "object".into(),
        Type::Tuple(_) => "tuple".into(),
        Type::List(e) if **e == Type::Dynamic => "list of any single type".into(),
        Type::Set(e) if **e == Type::Dynamic => "set of any single type".into(),
        Type::Map(e) if **e == Type::Dynamic => "map of any single type".into(),
        Type::List(e) => format!("list of {}", friendly(e)),
        Type::Set(e) => format!("set of {}", friendly(e)),
        Type::Map(e) => format!("map of {}", friendly(e)),
        other => other.to_string(),
    }
}

fn to(v: &Value, want: Type) -> Result<Value> {
    let err = |detail: String| {
        FunctionError::arg(0, format!("Invalid value for \"v\" parameter: {detail}."))
    };
    if v.is_null() || !v.is_known() {
        let ty = convert_type(&v.ty(), &want).map_err(|_| {
            err(format!(
                "cannot convert {} to {}",
                friendly(&v.ty()),
                friendly(&want)
            ))
        })?;
        return Ok(if v.is_null() {
            Value::null(ty)
        } else {
            Value::unknown(ty)
        });
    }
    convert(v, &want).map_err(|e| match (&v.kind, &want) {
        (Kind::String(s), Type::Number) => err(format!(
            "cannot convert {s:?} to number; given string must be a decimal representation of a number"
        )),
        (Kind::String(s), Type::Bool) => err(format!(
            "cannot convert {s:?} to bool; only the strings \"true\" or \"false\" are allowed"
        )),
        _ if e.path.is_empty() && e.message.ends_with("must have the same type") => err(format!(
            "cannot convert {} to {}",
            friendly(&v.ty()),
            friendly(&want)
        )),
        _ if e.path.is_empty() => err(format!(
            "cannot convert {} to {}",
            friendly(&v.ty()),
            friendly(&want)
        )),
        _ => err(e.to_string()),
    })
}

fn tobool(a: &[Value], _: Env) -> Result<Value> {
    to(&a[0], Type::Bool)
}
fn tonumber(a: &[Value], _: Env) -> Result<Value> {
    to(&a[0], Type::Number)
}
fn tostring(a: &[Value], _: Env) -> Result<Value> {
    to(&a[0], Type::String)
}
fn tolist(a: &[Value], _: Env) -> Result<Value> {
    to(&a[0], Type::list(Type::Dynamic))
}
fn toset(a: &[Value], _: Env) -> Result<Value> {
    to(&a[0], Type::set(Type::Dynamic))
}
fn tomap(a: &[Value], _: Env) -> Result<Value> {
    to(&a[0], Type::map(Type::Dynamic))
}
