//! The non-apply patch formats: JSON patch (RFC 6902, through the `json-patch` crate), JSON
//! merge patch (RFC 7386) and strategic merge patch for built-in kinds (lists with a patch
//! merge key merge by it, `$patch: delete|replace`, `$deleteFromPrimitiveList`; the
//! `$retainKeys` and `$setElementOrder` directives are accepted and ignored).

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::fields::Shape;
use crate::types::ListType;

pub fn json_patch(old: &Value, body: &Value) -> Result<Value, ApiError> {
    let p: json_patch::Patch = serde_json::from_value(body.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
    let mut doc = old.clone();
    json_patch::patch(&mut doc, &p).map_err(|e| {
        ApiError::new(
            422,
            "Invalid",
            format!("the server rejected our request due to an error in our request: {e}"),
        )
    })?;
    Ok(doc)
}

pub fn merge_patch(old: &Value, body: &Value) -> Value {
    let mut doc = old.clone();
    json_patch::merge(&mut doc, body);
    doc
}

pub fn strategic_merge(old: &Value, body: &Value, shape: Shape) -> Result<Value, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request("the patch is not an object"));
    }
    Ok(smp(old, body, shape, &mut Vec::new()))
}

fn smp(old: &Value, patch: &Value, shape: Shape, names: &mut Vec<String>) -> Value {
    let (Value::Object(o), Value::Object(p)) = (old, patch) else {
        return strip_directives(patch);
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut p = p.clone();
        p.remove("$patch");
        return strip_directives(&Value::Object(p));
    }
    let mut out = o.clone();
    for (k, pv) in p {
        if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Some(del)) = (out.get_mut(field), pv.as_array()) {
                items.retain(|i| !del.contains(i));
            }
            continue;
        }
        names.push(k.clone());
        if pv.is_null() {
            out.remove(k);
        } else {
            let merged = match (out.get(k), pv) {
                (Some(ov @ Value::Object(_)), Value::Object(_)) => smp(ov, pv, shape, names),
                (Some(Value::Array(ol)), Value::Array(pl)) => merge_list(ol, pl, shape, names),
                _ => strip_directives(pv),
            };
            out.insert(k.clone(), merged);
        }
        names.pop();
    }
    Value::Object(out)
}

fn merge_list(old: &[Value], patch: &[Value], shape: Shape, names: &mut Vec<String>) -> Value {
    let lt = crate::types::list_type_for(shape.rt, names);
    match lt {
        ListType::Map(keys) => {
            // Strategic merge identifies items by the first key (the patch merge key).
            let key = keys[0].clone();
            if patch
                .iter()
                .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
            {
                return Value::Array(
                    patch
                        .iter()
                        .filter(|i| i.get("$patch").is_none())
                        .map(strip_directives)
                        .collect(),
                );
            }
            let mut out: Vec<Value> = old.to_vec();
            for pi in patch {
                let kv = pi.get(&key);
                let pos = kv.and_then(|kv| out.iter().position(|oi| oi.get(&key) == Some(kv)));
                let delete = pi.get("$patch").and_then(Value::as_str) == Some("delete");
                match (pos, delete) {
                    (Some(p), true) => {
                        out.remove(p);
                    }
                    (None, true) => {}
                    (Some(p), false) => out[p] = smp(&out[p], pi, shape, names),
                    (None, false) => out.push(strip_directives(pi)),
                }
            }
            Value::Array(out)
        }
        ListType::Set => {
            let mut out: Vec<Value> = old.to_vec();
            for pi in patch {
                if !out.contains(pi) {
                    out.push(pi.clone());
                }
            }
            Value::Array(out)
        }
        ListType::Atomic => Value::Array(patch.iter().map(strip_directives).collect()),
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}
