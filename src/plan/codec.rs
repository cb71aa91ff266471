//! Values to and from JSON: Terraform's JSON plan representation (`after` + `after_unknown` +
//! `after_sensitive` masks), the state's attribute JSON (typed by the schema; attributes of
//! type `any` carry their type beside the value, as Terraform's state does), and the exact,
//! lossless encoding of saved plans.

use std::collections::BTreeMap;

use brick_provider_api::value::Kind;
use brick_provider_api::{Number, Type, Value};
use serde_json::{Map, Value as Json, json};

/// The JSON form of a value: unknowns as null, marks dropped.
pub fn to_json(v: &Value) -> Json {
    match &v.kind {
        Kind::Null(_) | Kind::Unknown(_) => Json::Null,
        Kind::Bool(b) => Json::Bool(*b),
        Kind::Number(n) => number_json(n),
        Kind::String(s) => Json::String(s.clone()),
        Kind::List(_, xs) | Kind::Set(_, xs) | Kind::Tuple(xs) => {
            Json::Array(xs.iter().map(to_json).collect())
        }
        Kind::Map(_, m) | Kind::Object(m) => {
            Json::Object(m.iter().map(|(k, x)| (k.clone(), to_json(x))).collect())
        }
    }
}

fn number_json(n: &Number) -> Json {
    serde_json::from_str(&n.to_string()).unwrap_or(Json::Null)
}

/// Terraform's mask of where `pred` holds: `true` at such leaves; objects list only
/// the attributes that contain one; sequences keep every position (`false` elsewhere).
fn mask(v: &Value, pred: &dyn Fn(&Value) -> bool) -> Json {
    if pred(v) {
        return Json::Bool(true);
    }
    match &v.kind {
        Kind::List(_, xs) | Kind::Set(_, xs) | Kind::Tuple(xs) => {
            Json::Array(xs.iter().map(|x| mask(x, pred)).collect())
        }
        Kind::Map(_, m) | Kind::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let mx = mask(x, pred);
                if mx != Json::Bool(false) {
                    out.insert(k.clone(), mx);
                }
            }
            Json::Object(out)
        }
        _ => Json::Bool(false),
    }
}

/// `after_unknown`: where the value is unknown.
pub fn unknown_mask(v: &Value) -> Json {
    mask(v, &|x| !x.is_known())
}

/// `before_sensitive` / `after_sensitive`: where the value is sensitive.
pub fn sensitive_mask(v: &Value) -> Json {
    mask(v, &|x| x.is_sensitive())
}

/// The value of a JSON document: objects become objects, arrays tuples (the type JSON implies).
pub fn from_json_implied(j: &Json) -> Value {
    match j {
        Json::Null => Value::null_dynamic(),
        Json::Bool(b) => Value::bool(*b),
        Json::Number(n) => Number::parse(&n.to_string())
            .map(Value::number)
            .unwrap_or_else(Value::null_dynamic),
        Json::String(s) => Value::string(s.clone()),
        Json::Array(xs) => Value::tuple(xs.iter().map(from_json_implied).collect()),
        Json::Object(m) => Value::object(
            m.iter()
                .map(|(k, x)| (k.clone(), from_json_implied(x)))
                .collect(),
        ),
    }
}

/// Decodes JSON as a value of type `ty`. `Dynamic` positions use the JSON's implied type.
/// Returns `None` when the JSON does not fit the type.
pub fn from_json(j: &Json, ty: &Type) -> Option<Value> {
    if j.is_null() {
        return Some(Value::null(ty.clone()));
    }
    Some(match (ty, j) {
        (Type::Dynamic, _) => from_json_implied(j),
        (Type::Bool, Json::Bool(b)) => Value::bool(*b),
        (Type::Number, Json::Number(n)) => Value::number(Number::parse(&n.to_string())?),
        (Type::String, Json::String(s)) => Value::string(s.clone()),
        (Type::List(t), Json::Array(xs)) => Value::list(
            (**t).clone(),
            xs.iter().map(|x| from_json(x, t)).collect::<Option<_>>()?,
        ),
        (Type::Set(t), Json::Array(xs)) => Value::set(
            (**t).clone(),
            xs.iter().map(|x| from_json(x, t)).collect::<Option<_>>()?,
        ),
        (Type::Tuple(ts), Json::Array(xs)) if ts.len() == xs.len() => Value::tuple(
            xs.iter()
                .zip(ts)
                .map(|(x, t)| from_json(x, t))
                .collect::<Option<_>>()?,
        ),
        (Type::Map(t), Json::Object(m)) => Value::map(
            (**t).clone(),
            m.iter()
                .map(|(k, x)| Some((k.clone(), from_json(x, t)?)))
                .collect::<Option<_>>()?,
        ),
        (Type::Object(attrs), Json::Object(m)) => {
            let mut out = BTreeMap::new();
            for (k, t) in attrs {
                let x = m.get(k).unwrap_or(&Json::Null);
                out.insert(k.clone(), from_json(x, t)?);
            }
            Value::object(out)
        }
        _ => return None,
    })
}

// ---- types as JSON (cty's notation: "string", ["list","string"], ["object",{…}]) ----------

pub fn type_to_json(t: &Type) -> Json {
    // Built by hand, not with `json!`: the macro serializes every interpolated value again
    // (`to_value`), a deep copy per nesting level, quadratic in the depth of a type as deep as
    // a CustomResourceDefinition's schema.
    let pair = |tag: &str, inner: Json| Json::Array(vec![Json::from(tag), inner]);
    match t {
        Type::Dynamic => Json::from("dynamic"),
        Type::Bool => Json::from("bool"),
        Type::Number => Json::from("number"),
        Type::String => Json::from("string"),
        Type::List(e) => pair("list", type_to_json(e)),
        Type::Set(e) => pair("set", type_to_json(e)),
        Type::Map(e) => pair("map", type_to_json(e)),
        Type::Tuple(ts) => pair("tuple", Json::Array(ts.iter().map(type_to_json).collect())),
        Type::Object(a) => pair(
            "object",
            Json::Object(
                a.iter()
                    .map(|(k, t)| (k.clone(), type_to_json(t)))
                    .collect::<Map<_, _>>(),
            ),
        ),
    }
}

pub fn type_from_json(j: &Json) -> Option<Type> {
    Some(match j {
        Json::String(s) => match s.as_str() {
            "dynamic" => Type::Dynamic,
            "bool" => Type::Bool,
            "number" => Type::Number,
            "string" => Type::String,
            _ => return None,
        },
        Json::Array(xs) if xs.len() == 2 => match (xs[0].as_str()?, &xs[1]) {
            ("list", e) => Type::list(type_from_json(e)?),
            ("set", e) => Type::set(type_from_json(e)?),
            ("map", e) => Type::map(type_from_json(e)?),
            ("tuple", Json::Array(ts)) => {
                Type::Tuple(ts.iter().map(type_from_json).collect::<Option<_>>()?)
            }
            ("object", Json::Object(m)) => Type::Object(
                m.iter()
                    .map(|(k, t)| Some((k.clone(), type_from_json(t)?)))
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        },
        _ => return None,
    })
}

// ---- state attributes ------------------------------------------------------------------

/// The JSON stored in state for a value of schema type `schema_ty`: plain JSON, except that
/// values at `Dynamic` positions are stored as `{"value": …, "type": …}` so their exact type
/// survives (a list stays a list rather than becoming a tuple).
pub fn to_state_json(v: &Value, schema_ty: &Type) -> Json {
    match (schema_ty, &v.kind) {
        (Type::Dynamic, _) => {
            if v.is_null() && v.ty() == Type::Dynamic {
                Json::Null
            } else {
                // Not `json!`, which would copy the value once more.
                let mut o = Map::new();
                o.insert("value".into(), to_json(v));
                o.insert("type".into(), type_to_json(&v.ty()));
                Json::Object(o)
            }
        }
        (Type::Object(attrs), Kind::Object(m)) => Json::Object(
            attrs
                .iter()
                .map(|(k, t)| {
                    let x = m.get(k).map(|x| to_state_json(x, t)).unwrap_or(Json::Null);
                    (k.clone(), x)
                })
                .collect(),
        ),
        (Type::List(t) | Type::Set(t), Kind::List(_, xs) | Kind::Set(_, xs)) => {
            Json::Array(xs.iter().map(|x| to_state_json(x, t)).collect())
        }
        (Type::Map(t), Kind::Map(_, m)) => Json::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), to_state_json(x, t)))
                .collect(),
        ),
        _ => to_json(v),
    }
}

/// The inverse of [`to_state_json`].
pub fn from_state_json(j: &Json, schema_ty: &Type) -> Option<Value> {
    match (schema_ty, j) {
        (_, Json::Null) => Some(Value::null(schema_ty.clone())),
        (Type::Dynamic, Json::Object(m)) if m.contains_key("type") && m.len() == 2 => {
            let t = type_from_json(m.get("type")?)?;
            from_json(m.get("value").unwrap_or(&Json::Null), &t)
        }
        (Type::Dynamic, other) => Some(from_json_implied(other)),
        (Type::Object(attrs), Json::Object(m)) => {
            let mut out = BTreeMap::new();
            for (k, t) in attrs {
                out.insert(
                    k.clone(),
                    from_state_json(m.get(k).unwrap_or(&Json::Null), t)?,
                );
            }
            Some(Value::object(out))
        }
        (Type::List(t), Json::Array(xs)) => Some(Value::list(
            (**t).clone(),
            xs.iter()
                .map(|x| from_state_json(x, t))
                .collect::<Option<_>>()?,
        )),
        (Type::Set(t), Json::Array(xs)) => Some(Value::set(
            (**t).clone(),
            xs.iter()
                .map(|x| from_state_json(x, t))
                .collect::<Option<_>>()?,
        )),
        (Type::Map(t), Json::Object(m)) => Some(Value::map(
            (**t).clone(),
            m.iter()
                .map(|(k, x)| Some((k.clone(), from_state_json(x, t)?)))
                .collect::<Option<_>>()?,
        )),
        _ => from_json(j, schema_ty),
    }
}

// ---- exact encoding (saved plans) ------------------------------------------------------

/// Paths (attribute names / keys as strings, indices as numbers) where a predicate holds.
fn paths(v: &Value, pred: &dyn Fn(&Value) -> bool, cur: &mut Vec<Json>, out: &mut Vec<Json>) {
    if pred(v) {
        out.push(Json::Array(cur.clone()));
    }
    match &v.kind {
        Kind::List(_, xs) | Kind::Set(_, xs) | Kind::Tuple(xs) => {
            for (i, x) in xs.iter().enumerate() {
                cur.push(json!(i));
                paths(x, pred, cur, out);
                cur.pop();
            }
        }
        Kind::Map(_, m) | Kind::Object(m) => {
            for (k, x) in m {
                cur.push(json!(k));
                paths(x, pred, cur, out);
                cur.pop();
            }
        }
        _ => {}
    }
}

fn infinite(v: &Value, negative: bool) -> bool {
    matches!(&v.kind, Kind::Number(n) if n.is_infinite() && (n.to_string().starts_with('-') == negative))
}

/// The paths (as in [`encode_exact`]) of the infinite numbers in a value; empty when there
/// are none. JSON has no infinities, so such a value cannot be written to state.
pub fn infinity_paths(v: &Value) -> Vec<Json> {
    let mut out = Vec::new();
    paths(
        v,
        &|x| matches!(&x.kind, Kind::Number(n) if n.is_infinite()),
        &mut Vec::new(),
        &mut out,
    );
    out
}

/// The value with every infinite number replaced by a null number, and where they were
/// (empty when there were none): what can be written to state, which is JSON.
pub fn without_infinities(v: &Value) -> (Value, Vec<Json>) {
    let found = infinity_paths(v);
    let mut out = v.clone();
    for p in &found {
        if let Some(steps) = p.as_array() {
            let _ = set_at(&mut out, steps, &|x| {
                let null = Value::null(Type::Number);
                if x.is_sensitive() {
                    null.sensitive()
                } else {
                    null
                }
            });
        }
    }
    (out, found)
}

/// `a.b[0]` for a path of [`encode_exact`] steps.
pub fn path_text(steps: &Json) -> String {
    let mut out = String::new();
    for s in steps.as_array().into_iter().flatten() {
        match s {
            Json::String(k) if out.is_empty() => out.push_str(k),
            Json::String(k) => out.push_str(&format!("[{k:?}]")),
            other => out.push_str(&format!("[{other}]")),
        }
    }
    out
}

/// A value that state (JSON) cannot hold: `found` are the paths of its infinite numbers.
pub fn infinite_number(what: &str, found: &[Json]) -> crate::diag::Diagnostic {
    let at: Vec<String> = found
        .iter()
        .map(path_text)
        .map(|p| {
            if p.is_empty() {
                "the value itself".to_string()
            } else {
                p
            }
        })
        .collect();
    crate::diag::Diagnostic::error(
        "brick::plan::infinite_number",
        "Infinite number cannot be stored",
        format!(
            "The value of {what} contains an infinite number (at {}); state is JSON, which cannot represent infinity.",
            at.join(", ")
        ),
    )
    .help("Guard the expression (e.g. min(x, 1e300) or a conditional) so that it produces a finite number.")
}

/// A lossless JSON encoding of a value: its type, its JSON, and the paths of unknown and
/// sensitive parts and of the infinite numbers (JSON has no infinities; their `value` is
/// null).
pub fn encode_exact(v: &Value) -> Json {
    let mut inf = Vec::new();
    paths(v, &|x| infinite(x, false), &mut Vec::new(), &mut inf);
    let mut neg_inf = Vec::new();
    paths(v, &|x| infinite(x, true), &mut Vec::new(), &mut neg_inf);
    let mut unknown = Vec::new();
    paths(v, &|x| !x.is_known(), &mut Vec::new(), &mut unknown);
    let mut sensitive = Vec::new();
    paths(v, &|x| x.is_sensitive(), &mut Vec::new(), &mut sensitive);
    let mut o = Map::new();
    o.insert("type".into(), type_to_json(&v.ty()));
    o.insert("value".into(), to_json(v));
    if !unknown.is_empty() {
        o.insert("unknown".into(), Json::Array(unknown));
    }
    if !sensitive.is_empty() {
        o.insert("sensitive".into(), Json::Array(sensitive));
    }
    if !inf.is_empty() {
        o.insert("infinity".into(), Json::Array(inf));
    }
    if !neg_inf.is_empty() {
        o.insert("negative_infinity".into(), Json::Array(neg_inf));
    }
    Json::Object(o)
}

pub fn decode_exact(j: &Json) -> Option<Value> {
    let ty = type_from_json(j.get("type")?)?;
    let mut v = from_json(j.get("value").unwrap_or(&Json::Null), &ty)?;
    for (key, negative) in [("infinity", false), ("negative_infinity", true)] {
        for p in j.get(key).and_then(Json::as_array).into_iter().flatten() {
            set_at(&mut v, p.as_array()?, &|_| {
                Value::number(Number::infinity(negative))
            })?;
        }
    }
    // Typed nulls inside: from_json gives nulls the declared types already.
    for p in j
        .get("unknown")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let steps = p.as_array()?;
        let t = type_at(&ty, steps)?;
        set_at(&mut v, steps, &|_| Value::unknown(t.clone()))?;
    }
    for p in j
        .get("sensitive")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        set_at(&mut v, p.as_array()?, &|x| x.clone().sensitive())?;
    }
    Some(v)
}

fn type_at(ty: &Type, steps: &[Json]) -> Option<Type> {
    let Some((first, rest)) = steps.split_first() else {
        return Some(ty.clone());
    };
    let inner = match (ty, first) {
        (Type::List(t) | Type::Set(t) | Type::Map(t), _) => (**t).clone(),
        (Type::Tuple(ts), Json::Number(i)) => ts.get(i.as_u64()? as usize)?.clone(),
        (Type::Object(a), Json::String(k)) => a.get(k)?.clone(),
        _ => return None,
    };
    type_at(&inner, rest)
}

fn set_at(v: &mut Value, steps: &[Json], f: &dyn Fn(&Value) -> Value) -> Option<()> {
    let Some((first, rest)) = steps.split_first() else {
        *v = f(v);
        return Some(());
    };
    let child = match (&mut v.kind, first) {
        (Kind::List(_, xs) | Kind::Set(_, xs) | Kind::Tuple(xs), Json::Number(i)) => {
            xs.get_mut(i.as_u64()? as usize)?
        }
        (Kind::Map(_, m) | Kind::Object(m), Json::String(k)) => m.get_mut(k)?,
        _ => return None,
    };
    set_at(child, rest, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        Value::object_from([
            ("a", Value::string("x").sensitive()),
            ("b", Value::unknown(Type::Number)),
            (
                "c",
                Value::list(
                    Type::String,
                    vec![Value::string("p"), Value::unknown(Type::String)],
                ),
            ),
            ("d", Value::null(Type::map(Type::Bool))),
            (
                "e",
                Value::number(Number::parse("12345678901234567890.5").unwrap()),
            ),
        ])
    }

    #[test]
    fn the_exact_encoding_round_trips_unknowns_marks_types_and_big_numbers() {
        let v = sample();
        let j = encode_exact(&v);
        let text = serde_json::to_string(&j).unwrap();
        let back = decode_exact(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn the_exact_encoding_round_trips_infinities() {
        let v = Value::object(
            [
                ("pos", Value::number(Number::infinity(false))),
                ("neg", Value::number(Number::infinity(true)).sensitive()),
                (
                    "list",
                    Value::list(
                        Type::Number,
                        vec![
                            Value::number(Number::from_i64(1)),
                            Value::number(Number::infinity(true)),
                        ],
                    ),
                ),
                ("n", Value::null(Type::Number)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        );
        let j = encode_exact(&v);
        assert_eq!(decode_exact(&j).unwrap(), v, "{j}");
        // A null stays null.
        assert!(decode_exact(&j).unwrap().get("n").unwrap().is_null());
        assert_eq!(infinity_paths(&v).len(), 3);
    }

    #[test]
    fn unknown_and_sensitive_masks_follow_terraforms_shape() {
        let v = sample();
        assert_eq!(unknown_mask(&v), json!({"b": true, "c": [false, true]}));
        assert_eq!(sensitive_mask(&v), json!({"a": true, "c": [false, false]}));
    }

    #[test]
    fn state_json_keeps_the_exact_type_of_dynamic_attributes() {
        let schema = Type::object([("input", Type::Dynamic), ("id", Type::String)]);
        let v = Value::object_from([
            ("input", Value::list(Type::String, vec![Value::string("a")])),
            ("id", Value::string("i")),
        ]);
        let j = to_state_json(&v, &schema);
        assert_eq!(
            j,
            json!({"id": "i", "input": {"value": ["a"], "type": ["list", "string"]}})
        );
        assert_eq!(from_state_json(&j, &schema).unwrap(), v);
    }
}
