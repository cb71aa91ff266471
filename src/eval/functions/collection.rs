//! Collection functions: alltrue anytrue chunklist coalesce coalescelist compact concat
//! contains distinct element flatten index keys length lookup matchkeys merge one range reverse
//! setintersection setproduct setsubtract setunion slice sort sum transpose values zipmap.

use std::collections::BTreeMap;

use brick_provider_api::value::Kind;
use brick_provider_api::{Marks, Number, Type, Value};
use unicode_segmentation::UnicodeSegmentation;

use super::{
    FunctionError, Registry, Result, elem_type, elements, func, integer, number, p, ret_first, text,
};
use crate::eval::Environment;
use crate::eval::convert::{convert, unify, unify_values};

type Env<'a> = &'a dyn Environment;

/// The most elements `range` produces, as Terraform.
pub(crate) const RANGE_LIMIT: usize = 1024;

pub(super) fn register(r: &mut Registry) {
    let list_bool = || p("list", Type::list(Type::Bool)).unknown_ok();
    r.insert("alltrue", func(vec![list_bool()], Type::Bool, alltrue));
    r.insert("anytrue", func(vec![list_bool()], Type::Bool, anytrue));
    r.insert(
        "chunklist",
        func(
            vec![
                p("list", Type::list(Type::Dynamic)).shallow(),
                p("size", Type::Number),
            ],
            Type::Dynamic,
            chunklist,
        )
        .ret_from(|a| Type::list(a[0].ty())),
    );
    r.insert(
        "coalesce",
        func(vec![], Type::Dynamic, coalesce)
            .variadic(p("vals", Type::Dynamic).null_ok().unknown_ok().shallow())
            .ret_from(|a| {
                unify(&a.iter().map(Value::ty).collect::<Vec<_>>()).unwrap_or(Type::Dynamic)
            }),
    );
    r.insert(
        "coalescelist",
        func(vec![], Type::Dynamic, coalescelist)
            .variadic(p("vals", Type::Dynamic).null_ok().unknown_ok()),
    );
    r.insert(
        "compact",
        func(
            vec![p("list", Type::list(Type::String))],
            Type::list(Type::String),
            compact,
        ),
    );
    r.insert(
        "concat",
        func(vec![], Type::Dynamic, concat).variadic(p("seqs", Type::Dynamic).shallow()),
    );
    r.insert(
        "contains",
        func(
            vec![p("list", Type::Dynamic), p("value", Type::Dynamic)],
            Type::Bool,
            contains,
        ),
    );
    r.insert(
        "distinct",
        func(
            vec![p("list", Type::list(Type::Dynamic))],
            Type::Dynamic,
            distinct,
        )
        .ret_from(ret_first),
    );
    r.insert(
        "element",
        func(
            vec![p("list", Type::Dynamic).shallow(), p("index", Type::Number)],
            Type::Dynamic,
            element,
        )
        .ret_from(|a| match a[0].ty() {
            Type::List(e) | Type::Set(e) => *e,
            _ => Type::Dynamic,
        }),
    );
    r.insert(
        "flatten",
        func(
            vec![p("list", Type::Dynamic).shallow()],
            Type::Dynamic,
            flatten,
        ),
    );
    r.insert(
        "index",
        func(
            vec![p("list", Type::Dynamic), p("value", Type::Dynamic)],
            Type::Number,
            index,
        ),
    );
    r.insert(
        "keys",
        func(
            vec![p("inputMap", Type::Dynamic).shallow()],
            Type::Dynamic,
            keys,
        )
        .ret_from(|a| match a[0].ty() {
            Type::Map(_) => Type::list(Type::String),
            Type::Object(attrs) => Type::Tuple(vec![Type::String; attrs.len()]),
            _ => Type::Dynamic,
        }),
    );
    r.insert(
        "length",
        func(
            vec![p("value", Type::Dynamic).unknown_ok().shallow()],
            Type::Number,
            length,
        ),
    );
    r.insert(
        "lookup",
        func(
            vec![
                p("inputMap", Type::Dynamic).shallow(),
                p("key", Type::String),
            ],
            Type::Dynamic,
            lookup,
        )
        .variadic(p("default", Type::Dynamic).null_ok().shallow()),
    );
    r.insert(
        "matchkeys",
        func(
            vec![
                p("values", Type::list(Type::Dynamic)),
                p("keys", Type::list(Type::Dynamic)),
                p("searchset", Type::list(Type::Dynamic)),
            ],
            Type::Dynamic,
            matchkeys,
        )
        .ret_from(ret_first),
    );
    r.insert(
        "merge",
        func(vec![], Type::Dynamic, merge)
            .variadic(p("maps", Type::Dynamic).null_ok().unknown_ok().shallow()),
    );
    r.insert(
        "one",
        func(vec![p("list", Type::Dynamic).shallow()], Type::Dynamic, one).ret_from(|a| {
            match a[0].ty() {
                Type::List(e) | Type::Set(e) => *e,
                _ => Type::Dynamic,
            }
        }),
    );
    r.insert(
        "range",
        func(vec![], Type::list(Type::Number), range).variadic(p("params", Type::Number)),
    );
    r.insert(
        "reverse",
        func(
            vec![p("list", Type::Dynamic).shallow()],
            Type::Dynamic,
            reverse,
        )
        .ret_from(ret_first),
    );
    for (name, imp) in [
        ("setintersection", setintersection as super::Impl),
        ("setsubtract", setsubtract),
        ("setunion", setunion),
    ] {
        let f = if name == "setsubtract" {
            func(
                vec![
                    p("a", Type::set(Type::Dynamic)).shallow(),
                    p("b", Type::set(Type::Dynamic)).shallow(),
                ],
                Type::Dynamic,
                imp,
            )
        } else {
            func(
                vec![p("first_set", Type::set(Type::Dynamic)).shallow()],
                Type::Dynamic,
                imp,
            )
            .variadic(p("other_sets", Type::set(Type::Dynamic)).shallow())
        };
        r.insert(name, f.ret_from(ret_first));
    }
    r.insert(
        "setproduct",
        func(vec![], Type::Dynamic, setproduct).variadic(p("sets", Type::Dynamic).shallow()),
    );
    r.insert(
        "slice",
        func(
            vec![
                p("list", Type::Dynamic).shallow(),
                p("start_index", Type::Number),
                p("end_index", Type::Number),
            ],
            Type::Dynamic,
            slice,
        )
        .ret_from(|a| match a[0].ty() {
            t @ Type::List(_) => t,
            _ => Type::Dynamic,
        }),
    );
    r.insert(
        "sort",
        func(
            vec![p("list", Type::list(Type::String)).unknown_ok()],
            Type::list(Type::String),
            sort,
        ),
    );
    r.insert(
        "sum",
        func(vec![p("list", Type::Dynamic)], Type::Number, sum),
    );
    r.insert(
        "transpose",
        func(
            vec![p("values", Type::map(Type::list(Type::String)))],
            Type::map(Type::list(Type::String)),
            transpose,
        ),
    );
    r.insert(
        "values",
        func(
            vec![p("mapping", Type::Dynamic).shallow()],
            Type::Dynamic,
            values,
        )
        .ret_from(|a| match a[0].ty() {
            Type::Map(e) => Type::list(*e),
            Type::Object(attrs) => Type::Tuple(attrs.into_values().collect()),
            _ => Type::Dynamic,
        }),
    );
    r.insert(
        "zipmap",
        func(
            vec![
                p("keys", Type::list(Type::String)),
                p("values", Type::Dynamic).shallow(),
            ],
            Type::Dynamic,
            zipmap,
        ),
    );
}

fn arg_error(arg: usize, param: &str, msg: impl std::fmt::Display) -> FunctionError {
    FunctionError::arg(
        arg,
        format!("Invalid value for \"{param}\" parameter: {msg}."),
    )
}

fn is_sequence(v: &Value) -> bool {
    matches!(v.kind, Kind::List(..) | Kind::Set(..) | Kind::Tuple(_))
}

/// Rebuilds a sequence like `like` (list, set or tuple) with new elements.
fn same_kind(like: &Value, items: Vec<Value>) -> Value {
    match &like.kind {
        Kind::List(t, _) => Value::list(t.clone(), items),
        Kind::Set(t, _) => Value::set(t.clone(), items),
        _ => Value::tuple(items),
    }
}

/// `alltrue`/`anytrue`: a known deciding element decides even when others are unknown.
fn bool_fold(a: &[Value], deciding: bool) -> Value {
    if !a[0].is_known() {
        return Value::unknown(Type::Bool);
    }
    let items = elements(&a[0]);
    // A null counts as false.
    if items
        .iter()
        .any(|v| v.is_known() && v.as_bool().unwrap_or(false) == deciding)
    {
        return Value::bool(deciding);
    }
    if items.iter().any(|v| !v.is_known()) {
        return Value::unknown(Type::Bool);
    }
    Value::bool(!deciding)
}

fn alltrue(a: &[Value], _: Env) -> Result<Value> {
    Ok(bool_fold(a, false))
}

fn anytrue(a: &[Value], _: Env) -> Result<Value> {
    Ok(bool_fold(a, true))
}

fn chunklist(a: &[Value], _: Env) -> Result<Value> {
    let list_ty = a[0].ty();
    let items = elements(&a[0]);
    let size = integer(&a[1]).map_err(|e| FunctionError::call(format!("invalid size: {e}.")))?;
    if size < 0 {
        return Err(FunctionError::call("the size argument must be positive."));
    }
    let chunks: Vec<Value> = if size == 0 {
        vec![a[0].clone()]
    } else {
        items
            .chunks(size as usize)
            .map(|c| same_kind(&a[0], c.to_vec()))
            .collect()
    };
    Ok(Value::list(list_ty, chunks))
}

/// For functions that compare or inspect elements: an unknown result when any element is
/// unknown.
fn unknown_if_partial(a: &[Value], ty: impl FnOnce() -> Type) -> Option<Value> {
    a.iter()
        .any(|v| !v.is_wholly_known())
        .then(|| Value::unknown(ty()))
}

fn coalesce(a: &[Value], _: Env) -> Result<Value> {
    let types: Vec<Type> = a
        .iter()
        .filter(|v| !super::is_kind_null_dynamic(v))
        .map(Value::ty)
        .collect();
    let ty = if types.is_empty() {
        if a.is_empty() {
            return Err(FunctionError::call(
                "all arguments must have the same type.",
            ));
        }
        Type::Dynamic
    } else {
        unify(&types)
            .ok_or_else(|| FunctionError::call("all arguments must have the same type."))?
    };
    // In order, as Terraform: the first known non-null argument wins even when a later one
    // is unknown (`coalesce("a", unknown)` is "a"); an unknown one before it makes the
    // result unknown.
    for v in a {
        if !v.is_wholly_known() {
            return Ok(Value::unknown(ty));
        }
        if v.is_null() {
            continue;
        }
        let v = convert(v, &ty)
            .map_err(|_| FunctionError::call("all arguments must have the same type."))?;
        if v.as_str() == Some("") {
            continue;
        }
        return Ok(v);
    }
    Err(FunctionError::call(
        "no non-null, non-empty-string arguments.",
    ))
}

fn coalescelist(a: &[Value], _: Env) -> Result<Value> {
    if a.iter().any(|v| !v.is_known()) {
        return Ok(Value::unknown(Type::Dynamic));
    }
    // Lists and tuples only, every argument checked before any is chosen: Terraform
    // refuses sets.
    if a.iter()
        .any(|v| v.is_null() || !matches!(v.kind, Kind::List(..) | Kind::Tuple(_)))
    {
        return Err(FunctionError::call(
            "coalescelist arguments must be lists or tuples.",
        ));
    }
    if let Some(v) = a.iter().find(|v| !elements(v).is_empty()) {
        return Ok(v.clone());
    }
    Err(FunctionError::call("no non-null arguments."))
}

fn compact(a: &[Value], _: Env) -> Result<Value> {
    if let Some(u) = unknown_if_partial(a, || Type::list(Type::String)) {
        return Ok(u);
    }
    let items = elements(&a[0])
        .iter()
        .filter(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned()
        .collect();
    Ok(Value::list(Type::String, items))
}

fn concat(a: &[Value], _: Env) -> Result<Value> {
    let mut items = Vec::new();
    let mut all_lists = true;
    let mut elem: Option<Type> = None;
    for (i, v) in a.iter().enumerate() {
        match &v.kind {
            Kind::List(t, xs) => {
                if elem.as_ref().is_some_and(|e| e != t) {
                    all_lists = false;
                }
                elem.get_or_insert_with(|| t.clone());
                items.extend(xs.iter().cloned());
            }
            Kind::Tuple(xs) => {
                all_lists = false;
                items.extend(xs.iter().cloned());
            }
            // Sets too are refused, as in Terraform.
            _ => {
                return Err(arg_error(
                    i,
                    "seqs",
                    "all arguments must be lists or tuples; got ".to_string()
                        + &friendly_long(&v.ty()),
                ));
            }
        }
    }
    if a.is_empty() {
        return Err(FunctionError::call("at least one argument is required."));
    }
    if a.iter().all(|v| matches!(v.kind, Kind::List(..))) {
        let types: Vec<Type> = a.iter().map(|v| elem_type(&v.ty())).collect();
        if let Some(t) = unify(&types)
            && let Ok(items) = items
                .iter()
                .map(|v| convert(v, &t))
                .collect::<std::result::Result<Vec<_>, _>>()
        {
            return Ok(Value::list(t, items));
        }
    }
    Ok(if all_lists {
        Value::list(elem.unwrap_or(Type::Dynamic), items)
    } else {
        Value::tuple(items)
    })
}

/// Type names as Terraform's messages write them: `set of string`, `map of number`.
fn friendly_long(t: &Type) -> String {
    match t {
        Type::List(e) => format!("list of {}", friendly_long(e)),
        Type::Set(e) => format!("set of {}", friendly_long(e)),
        Type::Map(e) => format!("map of {}", friendly_long(e)),
        other => friendly(other),
    }
}

fn friendly(t: &Type) -> String {
    match t {
        Type::Object(_) => "object".into(),
        Type::Tuple(_) => "tuple".into(),
        Type::Map(_) => "map".into(),
        other => other.to_string(),
    }
}

/// Terraform's `==` on values: same type after unification and equal content.
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    if a.is_null() || b.is_null() {
        return a.is_null() && b.is_null();
    }
    match (&a.kind, &b.kind) {
        (Kind::Number(x), Kind::Number(y)) => x == y,
        (Kind::String(x), Kind::String(y)) => x == y,
        (Kind::Bool(x), Kind::Bool(y)) => x == y,
        (
            Kind::List(_, x) | Kind::Set(_, x) | Kind::Tuple(x),
            Kind::List(_, y) | Kind::Set(_, y) | Kind::Tuple(y),
        ) => {
            std::mem::discriminant(&a.kind) == std::mem::discriminant(&b.kind)
                && x.len() == y.len()
                && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Kind::Map(_, x) | Kind::Object(x), Kind::Map(_, y) | Kind::Object(y)) => {
            std::mem::discriminant(&a.kind) == std::mem::discriminant(&b.kind)
                && x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && values_equal(v1, v2))
        }
        _ => false,
    }
}

fn contains(a: &[Value], _: Env) -> Result<Value> {
    if !is_sequence(&a[0]) {
        return Err(FunctionError::call("argument must be list, tuple, or set."));
    }
    Ok(Value::bool(
        elements(&a[0]).iter().any(|v| values_equal(v, &a[1])),
    ))
}

fn distinct(a: &[Value], _: Env) -> Result<Value> {
    if let Some(u) = unknown_if_partial(a, || a[0].ty()) {
        return Ok(u);
    }
    let mut out: Vec<Value> = Vec::new();
    for v in elements(&a[0]) {
        if !out.iter().any(|o| values_equal(o, v)) {
            out.push(v.clone());
        }
    }
    Ok(Value::list(elem_type(&a[0].ty()), out))
}

fn element(a: &[Value], _: Env) -> Result<Value> {
    if !matches!(a[0].kind, Kind::List(..) | Kind::Tuple(_)) {
        return Err(FunctionError::call(format!(
            "cannot read elements from {}.",
            friendly_long(&a[0].ty())
        )));
    }
    let items = elements(&a[0]);
    if items.is_empty() {
        return Err(FunctionError::call(
            "cannot use element function with an empty list.",
        ));
    }
    let i = super::number(&a[1]).to_i64().ok_or_else(|| {
        FunctionError::call(
            "invalid index: value must be a whole number, between -9223372036854775808 and 9223372036854775807.",
        )
    })?;
    let idx = i.rem_euclid(items.len() as i64) as usize;
    Ok(items[idx].clone())
}

/// Flattens `v` into `out`; the marks of the nested sequences gather in `marks` (Terraform
/// marks the whole result with them, not their elements).
fn flatten_into(v: &Value, out: &mut Vec<Value>, marks: &mut Marks) {
    for item in elements(v) {
        if is_sequence(item) && !item.is_null() {
            *marks = marks.union(item.marks);
            flatten_into(item, out, marks);
        } else {
            out.push(item.clone());
        }
    }
}

fn flatten(a: &[Value], _: Env) -> Result<Value> {
    if !is_sequence(&a[0]) {
        return Err(FunctionError::call(
            "can only flatten lists, sets and tuples.",
        ));
    }
    let mut out = Vec::new();
    let mut marks = Marks::NONE;
    flatten_into(&a[0], &mut out, &mut marks);
    // An unknown nested list has an unknown length, so the result is unknown.
    if out.iter().any(|v| !v.is_known() && !v.ty().is_primitive()) {
        return Ok(Value::unknown(Type::Dynamic).with_marks(marks));
    }
    Ok(Value::tuple(out).with_marks(marks))
}

fn index(a: &[Value], _: Env) -> Result<Value> {
    if !matches!(a[0].kind, Kind::List(..) | Kind::Tuple(_)) {
        return Err(FunctionError::call("argument must be a list or tuple."));
    }
    elements(&a[0])
        .iter()
        .position(|v| values_equal(v, &a[1]))
        .map(Value::number)
        .ok_or_else(|| FunctionError::call("item not found."))
}

fn keys(a: &[Value], _: Env) -> Result<Value> {
    let Some(m) = a[0].as_mapping() else {
        return Err(arg_error(0, "inputMap", "must have map or object type"));
    };
    let ks: Vec<Value> = m.keys().map(Value::string).collect();
    Ok(match a[0].kind {
        Kind::Map(..) => Value::list(Type::String, ks),
        _ => Value::tuple(ks),
    })
}

fn length(a: &[Value], _: Env) -> Result<Value> {
    let v = &a[0];
    let n = match &v.kind {
        Kind::Unknown(_) => return Ok(Value::unknown(Type::Number)),
        Kind::String(s) => s.graphemes(true).count(),
        Kind::List(..) | Kind::Tuple(_) | Kind::Map(..) | Kind::Object(_) => elements_or_entries(v),
        Kind::Set(_, items) => {
            // A set with unknown elements may shrink once they are known.
            if items.iter().any(|i| !i.is_wholly_known()) {
                return Ok(Value::unknown(Type::Number));
            }
            items.len()
        }
        _ => {
            return Err(FunctionError::call(
                "argument must be a string, a collection type, or a structural type.",
            ));
        }
    };
    Ok(Value::number(n))
}

fn elements_or_entries(v: &Value) -> usize {
    match v.as_mapping() {
        Some(m) => m.len(),
        None => elements(v).len(),
    }
}

fn lookup(a: &[Value], _: Env) -> Result<Value> {
    if a.len() > 3 {
        return Err(FunctionError::arg(
            3,
            format!("lookup() takes two or three arguments, got {}.", a.len()),
        ));
    }
    let key = text(&a[1]);
    let default = a.get(2);
    let m = a[0]
        .as_mapping()
        .ok_or_else(|| arg_error(0, "inputMap", "the given value is not a map or an object"))?;
    if let Some(v) = m.get(key) {
        if !v.is_wholly_known() && default.is_some() {
            return Ok(v.clone());
        }
        // A map's element has the map's type; with a default of another type the result is
        // the unified type.
        if let (Kind::Map(..), Some(d)) = (&a[0].kind, default)
            && !super::is_kind_null_dynamic(d)
            && let Some(t) = unify(&[v.ty(), d.ty()])
        {
            return convert(v, &t).map_err(|e| FunctionError::call(e.to_string()));
        }
        return Ok(v.clone());
    }
    match default {
        Some(d) => {
            if let Kind::Map(t, _) = &a[0].kind {
                return convert(d, t).map_err(|_| {
                    arg_error(
                        2,
                        "default",
                        "the default value must have the same type as the map elements",
                    )
                });
            }
            Ok(d.clone())
        }
        None => Err(match a[0].kind {
            Kind::Object(_) => arg_error(
                0,
                "inputMap",
                format!("the given object has no attribute {key:?}"),
            ),
            _ => FunctionError::call(format!("lookup failed to find key {key:?}.")),
        }),
    }
}

fn matchkeys(a: &[Value], _: Env) -> Result<Value> {
    let vals = elements(&a[0]);
    let ks = elements(&a[1]);
    if vals.len() != ks.len() {
        return Err(FunctionError::call(
            "length of keys and values should be equal.",
        ));
    }
    let search = elements(&a[2]);
    let out: Vec<Value> = vals
        .iter()
        .zip(ks)
        .filter(|(_, k)| {
            search.iter().any(|s| {
                values_equal(k, s)
                    || unify_values(&[(*k).clone(), s.clone()])
                        .is_some_and(|(_, c)| values_equal(&c[0], &c[1]))
            })
        })
        .map(|(v, _)| v.clone())
        .collect();
    Ok(Value::list(elem_type(&a[0].ty()), out))
}

fn merge(a: &[Value], _: Env) -> Result<Value> {
    for v in a {
        let ty = v.ty();
        if !v.is_known() && !matches!(ty, Type::Dynamic | Type::Map(_) | Type::Object(_)) {
            return Err(FunctionError::call(format!(
                "arguments must be maps or objects, got {:?}.",
                friendly(&ty)
            )));
        }
    }
    if a.iter().any(|v| !v.is_known()) {
        return Ok(Value::unknown(Type::Dynamic));
    }
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    let mut all_maps = true;
    let mut any = false;
    for v in a {
        if v.is_null() {
            continue;
        }
        match &v.kind {
            Kind::Map(_, m) | Kind::Object(m) => {
                any = true;
                if matches!(v.kind, Kind::Object(_)) {
                    all_maps = false;
                }
                for (k, x) in m {
                    out.insert(k.clone(), x.clone());
                }
            }
            _ => {
                return Err(FunctionError::call(format!(
                    "arguments must be maps or objects, got {:?}.",
                    friendly(&v.ty())
                )));
            }
        }
    }
    let map_types: Vec<Type> = a
        .iter()
        .filter(|v| !v.is_null())
        .map(|v| elem_type(&v.ty()))
        .collect();
    // Maps of one element type merge into a map; anything else gives an object.
    if any && all_maps && map_types.iter().all(|t| *t == map_types[0]) {
        return Ok(Value::map(map_types[0].clone(), out));
    }
    Ok(Value::object(out))
}

fn one(a: &[Value], _: Env) -> Result<Value> {
    if !is_sequence(&a[0]) {
        return Err(arg_error(
            0,
            "list",
            "must be a list, set, or tuple value with either zero or one elements",
        ));
    }
    let items = elements(&a[0]);
    match items.len() {
        0 => Ok(Value::null(match a[0].ty() {
            Type::List(e) | Type::Set(e) => *e,
            _ => Type::Dynamic,
        })),
        1 => Ok(items[0].clone()),
        _ => Err(arg_error(
            0,
            "list",
            "must be a list, set, or tuple value with either zero or one elements",
        )),
    }
}

fn range(a: &[Value], _: Env) -> Result<Value> {
    let (start, end, step) = match a.len() {
        1 => (Number::zero(), number(&a[0]), None),
        2 => (number(&a[0]), number(&a[1]), None),
        3 => (number(&a[0]), number(&a[1]), Some(number(&a[2]))),
        _ => {
            return Err(FunctionError::call(
                "must have one, two, or three arguments.",
            ));
        }
    };
    let step = step.unwrap_or_else(|| {
        if end < start {
            Number::from_i64(-1)
        } else {
            Number::from_i64(1)
        }
    });
    if step.is_negative() && end > start {
        return Err(arg_error(
            a.len() - 1,
            "params",
            "end must be less than start when step is negative",
        ));
    }
    if !step.is_negative() && !step.is_zero() && end < start {
        return Err(arg_error(
            a.len() - 1,
            "params",
            "end must be greater than start when step is positive",
        ));
    }
    let too_many = || {
        FunctionError::call(format!(
            "more than {RANGE_LIMIT} values were generated; either decrease the difference between start and end or use a smaller step."
        ))
    };
    let mut out = Vec::new();
    let mut x = start;
    loop {
        let done = if step.is_negative() {
            x <= end
        } else {
            x >= end
        };
        if done {
            break;
        }
        if out.len() >= RANGE_LIMIT {
            return Err(too_many());
        }
        out.push(Value::number(x.clone()));
        x = x.add(&step)?;
    }
    Ok(Value::list(Type::Number, out))
}

fn reverse(a: &[Value], _: Env) -> Result<Value> {
    if !matches!(a[0].kind, Kind::List(..) | Kind::Tuple(_) | Kind::Set(..)) {
        return Err(arg_error(
            0,
            "list",
            format!(
                "can only reverse list or tuple values, not {}",
                friendly(&a[0].ty())
            ),
        ));
    }
    let mut items = elements(&a[0]).to_vec();
    items.reverse();
    Ok(match &a[0].kind {
        Kind::Set(t, _) => Value::list(t.clone(), items),
        _ => same_kind(&a[0], items),
    })
}

/// Converts all sets to one element type (the unification of theirs).
fn unify_sets(a: &[Value]) -> Result<(Type, Vec<Vec<Value>>)> {
    let types: Vec<Type> = a.iter().map(|s| elem_type(&s.ty())).collect();
    let non_dynamic: Vec<Type> = types
        .iter()
        .filter(|t| **t != Type::Dynamic)
        .cloned()
        .collect();
    let ty = if non_dynamic.is_empty() {
        Type::Dynamic
    } else {
        unify(&non_dynamic).ok_or_else(|| {
            FunctionError::call("given sets must all have compatible element types.")
        })?
    };
    let mut out = Vec::new();
    for s in a {
        let c = convert(s, &Type::set(ty.clone())).map_err(|_| {
            FunctionError::call("given sets must all have compatible element types.")
        })?;
        out.push(elements(&c).to_vec());
    }
    Ok((ty, out))
}

fn set_contains(set: &[Value], v: &Value) -> bool {
    set.iter().any(|x| values_equal(x, v))
}

fn setintersection(a: &[Value], _: Env) -> Result<Value> {
    // Set membership cannot be decided with unknown elements.
    if let Some(u) = unknown_if_partial(a, || a[0].ty()) {
        return Ok(u);
    }
    let (ty, sets) = unify_sets(a)?;
    let out = sets[0]
        .iter()
        .filter(|v| sets[1..].iter().all(|s| set_contains(s, v)))
        .cloned()
        .collect();
    Ok(Value::set(ty, out))
}

fn setsubtract(a: &[Value], _: Env) -> Result<Value> {
    // Set membership cannot be decided with unknown elements.
    if let Some(u) = unknown_if_partial(a, || a[0].ty()) {
        return Ok(u);
    }
    let (ty, sets) = unify_sets(a)?;
    let out = sets[0]
        .iter()
        .filter(|v| !set_contains(&sets[1], v))
        .cloned()
        .collect();
    Ok(Value::set(ty, out))
}

fn setunion(a: &[Value], _: Env) -> Result<Value> {
    // A union needs no membership decisions, so unknown elements are kept.
    let (ty, sets) = unify_sets(a)?;
    Ok(Value::set(ty, sets.into_iter().flatten().collect()))
}

fn setproduct(a: &[Value], _: Env) -> Result<Value> {
    if a.len() < 2 {
        return Err(FunctionError::call("at least two arguments are required."));
    }
    // The product is a set when any argument is.
    let mut any_set = false;
    let mut lists: Vec<Vec<Value>> = Vec::new();
    let mut elem_types = Vec::new();
    for (i, v) in a.iter().enumerate() {
        if !is_sequence(v) {
            return Err(arg_error(i, "sets", "a set or a list is required"));
        }
        if matches!(v.kind, Kind::Set(..)) {
            any_set = true;
        }
        // Tuples become lists of their unified type, as Terraform converts them.
        let converted = if let Kind::Tuple(items) = &v.kind {
            match unify_values(items) {
                Some((t, xs)) => {
                    elem_types.push(t);
                    xs
                }
                None => {
                    return Err(arg_error(i, "sets", "all elements must have the same type"));
                }
            }
        } else {
            elem_types.push(elem_type(&v.ty()));
            elements(v).to_vec()
        };
        lists.push(converted);
    }
    let total = lists.iter().fold(1usize, |n, l| n.saturating_mul(l.len()));
    if total > 1_000_000 {
        return Err(FunctionError::call(
            "the product has more than 1000000 elements.",
        ));
    }
    let mut rows: Vec<Vec<Value>> = vec![Vec::new()];
    for list in &lists {
        if rows.len().saturating_mul(list.len()) > 1_000_000 {
            return Err(FunctionError::call(
                "the product has more than 1000000 elements.",
            ));
        }
        let mut next = Vec::new();
        for row in &rows {
            for item in list {
                let mut r = row.clone();
                r.push(item.clone());
                next.push(r);
            }
        }
        rows = next;
        if rows.len() > 1_000_000 {
            return Err(FunctionError::call("the product has too many elements."));
        }
    }
    let tuple_ty = Type::Tuple(elem_types);
    let tuples: Vec<Value> = rows.into_iter().map(Value::tuple).collect();
    Ok(if any_set {
        Value::set(tuple_ty, tuples)
    } else {
        Value::list(tuple_ty, tuples)
    })
}

fn slice(a: &[Value], _: Env) -> Result<Value> {
    if !matches!(a[0].kind, Kind::List(..) | Kind::Tuple(_)) {
        return Err(arg_error(0, "list", "must be a list or tuple value"));
    }
    let items = elements(&a[0]);
    let start = integer(&a[1])
        .map_err(|e| arg_error(1, "start_index", format!("invalid start index: {e}")))?;
    let end =
        integer(&a[2]).map_err(|e| arg_error(2, "end_index", format!("invalid end index: {e}")))?;
    if start < 0 {
        return Err(arg_error(
            1,
            "start_index",
            "start index must not be less than zero",
        ));
    }
    if end > items.len() as i64 {
        return Err(arg_error(
            2,
            "end_index",
            "end index must not be greater than the length of the list",
        ));
    }
    if start > end {
        return Err(arg_error(
            1,
            "start_index",
            "start index must not be greater than end index",
        ));
    }
    Ok(same_kind(
        &a[0],
        items[start as usize..end as usize].to_vec(),
    ))
}

fn sort(a: &[Value], _: Env) -> Result<Value> {
    if !a[0].is_known() {
        return Ok(Value::unknown(Type::list(Type::String)));
    }
    let items = elements(&a[0]);
    // With an element unknown, the order is unknown but the length is not.
    if items.iter().any(|v| !v.is_known()) {
        return Ok(Value::list(
            Type::String,
            vec![Value::unknown(Type::String); items.len()],
        ));
    }
    if let Some(i) = items.iter().position(Value::is_null) {
        return Err(FunctionError::call(format!(
            "given list element {i} is null; a null string cannot be sorted."
        )));
    }
    let mut strings: Vec<String> = items.iter().map(|v| text(v).to_string()).collect();
    strings.sort();
    Ok(super::list_string(strings))
}

fn sum(a: &[Value], _: Env) -> Result<Value> {
    if !is_sequence(&a[0]) {
        return Err(arg_error(
            0,
            "list",
            "argument must be list, set, or tuple. Received ".to_string() + &friendly(&a[0].ty()),
        ));
    }
    let items = elements(&a[0]);
    if items.is_empty() {
        return Err(arg_error(0, "list", "cannot sum an empty list"));
    }
    // Terraform adds the rest to the first element (so `sum([-0])` is `-0`).
    let mut total: Option<Number> = None;
    for (i, v) in items.iter().enumerate() {
        if v.is_null() {
            return Err(arg_error(
                0,
                "list",
                "argument must be list, set, or tuple of number values",
            ));
        }
        let _ = i;
        let n = convert(v, &Type::Number).map_err(|_| {
            arg_error(
                0,
                "list",
                "argument must be list, set, or tuple of number values",
            )
        })?;
        total = Some(match total {
            None => number(&n),
            Some(t) => t.add(&number(&n))?,
        });
    }
    Ok(Value::number(total.unwrap_or_else(Number::zero)))
}

fn transpose(a: &[Value], _: Env) -> Result<Value> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, list) in super::entries(&a[0]) {
        for v in elements(&list) {
            if v.is_null() {
                return Err(arg_error(0, "values", "lists must not contain null values"));
            }
            out.entry(text(v).to_string())
                .or_default()
                .push(Value::string(k.clone()));
        }
    }
    let m = out
        .into_iter()
        .map(|(k, vs)| (k, Value::list(Type::String, vs)))
        .collect();
    Ok(Value::map(Type::list(Type::String), m))
}

fn values(a: &[Value], _: Env) -> Result<Value> {
    match &a[0].kind {
        Kind::Map(t, m) => Ok(Value::list(t.clone(), m.values().cloned().collect())),
        Kind::Object(m) => Ok(Value::tuple(m.values().cloned().collect())),
        _ => Err(FunctionError::call(
            "values() requires a map as the first argument.",
        )),
    }
}

fn zipmap(a: &[Value], _: Env) -> Result<Value> {
    let ks = elements(&a[0]);
    if !is_sequence(&a[1]) {
        return Err(arg_error(1, "values", "values must be a list or tuple"));
    }
    if matches!(a[1].kind, Kind::Set(..)) {
        return Err(FunctionError::call(
            "values argument must be a list or tuple value.",
        ));
    }
    let vs = elements(&a[1]);
    if ks.len() != vs.len() {
        return Err(FunctionError::call(format!(
            "number of keys ({}) does not match number of values ({}).",
            ks.len(),
            vs.len()
        )));
    }
    if let Some(i) = ks.iter().position(Value::is_null) {
        return Err(FunctionError::call(format!(
            "keys list has null value at index {i}."
        )));
    }
    let m: BTreeMap<String, Value> = ks
        .iter()
        .map(|k| text(k).to_string())
        .zip(vs.iter().cloned())
        .collect();
    Ok(match &a[1].kind {
        Kind::List(t, _) | Kind::Set(t, _) => Value::map(t.clone(), m),
        _ => Value::object(m),
    })
}
