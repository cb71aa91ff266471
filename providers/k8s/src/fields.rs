//! Field ownership, read from `metadata.managedFields`: which of the fields brick applied are
//! still brick's (unchanged, whatever normalisation the server did), which another manager
//! took (drift, named after that manager), and the conflicts a server-side apply reports.
//!
//! The real kube-apiserver moves a field's ownership when another manager changes its value
//! (`kubectl patch`, `kubectl edit`, an operator's update) and shares it when another manager
//! applies the same value. So a field brick applied is drifted exactly when brick's `Apply`
//! entry no longer lists it; brick never compares fields it did not apply.

use std::collections::{BTreeMap, BTreeSet};

use brick_provider_api::Value;
use brick_provider_api::value::Kind;
use serde_json::Value as Json;

use crate::convert::{from_json, to_json};

/// The field manager brick applies as.
pub const MANAGER: &str = "brick";

/// What refreshing the applied manifest against the live object found.
pub struct Refreshed {
    /// The applied manifest with every field another manager took replaced by its live value
    /// (null when it is gone).
    pub manifest: Value,
    /// Drifted field path (`.data.retention`) → the manager(s) now holding it.
    pub managers: BTreeMap<String, String>,
}

/// One entry of `metadata.managedFields`.
struct Entry<'a> {
    manager: &'a str,
    operation: &'a str,
    subresource: &'a str,
    fields: &'a Json,
}

fn entries(live: &Json) -> Vec<Entry<'_>> {
    let Some(list) = live
        .pointer("/metadata/managedFields")
        .and_then(Json::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .map(|e| Entry {
            manager: e.get("manager").and_then(Json::as_str).unwrap_or(""),
            operation: e.get("operation").and_then(Json::as_str).unwrap_or(""),
            subresource: e.get("subresource").and_then(Json::as_str).unwrap_or(""),
            fields: e.get("fieldsV1").unwrap_or(&Json::Null),
        })
        .collect()
}

/// Compares the manifest brick applied with the live object.
pub fn refresh(applied: &Value, live: &Json) -> Refreshed {
    let all = entries(live);
    let brick = all
        .iter()
        .find(|e| e.manager == MANAGER && e.operation == "Apply" && e.subresource.is_empty())
        .map(|e| e.fields);
    let others: Vec<(&str, &Json)> = all
        .iter()
        .filter(|e| !(e.manager == MANAGER && e.operation == "Apply"))
        .map(|e| (e.manager, e.fields))
        .collect();
    let mut w = Walk {
        others,
        managers: BTreeMap::new(),
    };
    let manifest = match (&applied.kind, live) {
        (Kind::Object(m) | Kind::Map(_, m), Json::Object(_)) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let identity = matches!(k.as_str(), "apiVersion" | "kind");
                let nv = if identity || v.is_null() {
                    v.clone()
                } else if k == "metadata" {
                    w.metadata(
                        v,
                        live.get("metadata"),
                        brick.and_then(|b| b.get("f:metadata")),
                    )
                } else {
                    let mut fpath = vec![format!("f:{k}")];
                    w.child(v, live.get(k), brick, &mut fpath, &format!(".{k}"))
                };
                out.insert(k.clone(), nv);
            }
            like_map(applied, out)
        }
        _ => applied.clone(),
    };
    Refreshed {
        manifest,
        managers: w.managers,
    }
}

struct Walk<'a> {
    others: Vec<(&'a str, &'a Json)>,
    managers: BTreeMap<String, String>,
}

impl Walk<'_> {
    fn metadata(&mut self, m: &Value, live: Option<&Json>, brick: Option<&Json>) -> Value {
        let Some(map) = m.as_mapping() else {
            return m.clone();
        };
        let mut out = BTreeMap::new();
        for (k, v) in map {
            let nv = if matches!(k.as_str(), "name" | "namespace" | "generateName") || v.is_null() {
                v.clone()
            } else {
                let mut fpath = vec!["f:metadata".to_string(), format!("f:{k}")];
                self.child(
                    v,
                    live.and_then(|l| l.get(k)),
                    brick,
                    &mut fpath,
                    &format!(".metadata.{k}"),
                )
            };
            out.insert(k.clone(), nv);
        }
        like_map(m, out)
    }

    /// The value at `fpath`'s last step: `parent_brick` is brick's node of the parent.
    fn child(
        &mut self,
        m: &Value,
        live: Option<&Json>,
        parent_brick: Option<&Json>,
        fpath: &mut Vec<String>,
        path: &str,
    ) -> Value {
        let key = fpath.last().cloned().unwrap_or_default();
        let node = parent_brick.and_then(|b| b.get(&key));
        let Some(node) = node else {
            // Not brick's any more: a map's entries are reported one by one.
            if let Kind::Object(map) | Kind::Map(_, map) = &m.kind
                && !map.is_empty()
                && live.is_some_and(Json::is_object)
            {
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    fpath.push(format!("f:{k}"));
                    let nv = if v.is_null() {
                        v.clone()
                    } else {
                        self.child(
                            v,
                            live.and_then(|l| l.get(k)),
                            None,
                            fpath,
                            &format!("{path}.{k}"),
                        )
                    };
                    fpath.pop();
                    out.insert(k.clone(), nv);
                }
                return like_map(m, out);
            }
            return self.drifted(live, fpath, path);
        };
        let has_children = node.as_object().is_some_and(|o| o.keys().any(|k| k != "."));
        if !has_children || m.is_null() {
            return m.clone();
        }
        match &m.kind {
            Kind::Object(map) | Kind::Map(_, map) => {
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    if v.is_null() {
                        out.insert(k.clone(), v.clone());
                        continue;
                    }
                    fpath.push(format!("f:{k}"));
                    let nv = self.child(
                        v,
                        live.and_then(|l| l.get(k)),
                        Some(node),
                        fpath,
                        &format!("{path}.{k}"),
                    );
                    fpath.pop();
                    out.insert(k.clone(), nv);
                }
                like_map(m, out)
            }
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
                let keys: Vec<Option<String>> = items
                    .iter()
                    .enumerate()
                    .map(|(i, e)| element_key(node, &to_json(e), i))
                    .collect();
                if keys.iter().any(Option::is_none) {
                    // An element brick applied is no longer brick's: the list as it is now.
                    return self.drifted(live, fpath, path);
                }
                let live_items = live.and_then(Json::as_array);
                let mut out = Vec::with_capacity(items.len());
                for (i, (e, k)) in items.iter().zip(keys).enumerate() {
                    let k = k.expect("checked above");
                    let live_e = live_items.and_then(|l| find_element(l, &k, i));
                    fpath.push(k.clone());
                    let label = element_label(&k);
                    let nv = self.child(e, live_e, Some(node), fpath, &format!("{path}{label}"));
                    fpath.pop();
                    out.push(nv);
                }
                like_seq(m, out)
            }
            _ => m.clone(),
        }
    }

    fn drifted(&mut self, live: Option<&Json>, fpath: &[String], path: &str) -> Value {
        let holders: BTreeSet<&str> = self
            .others
            .iter()
            .filter(|(_, f)| holds(f, fpath))
            .map(|(m, _)| *m)
            .collect();
        let who = if holders.is_empty() {
            "(removed by another manager)".to_string()
        } else {
            holders.into_iter().collect::<Vec<_>>().join(", ")
        };
        self.managers.insert(path.to_string(), who);
        live.map(from_json).unwrap_or_else(Value::null_dynamic)
    }
}

/// `entries` in the same kind of value as `orig` (an object stays an object, a map a map), so
/// an unchanged manifest compares equal to the one applied.
fn like_map(orig: &Value, entries: BTreeMap<String, Value>) -> Value {
    let v = match &orig.kind {
        Kind::Map(t, old) if entries.iter().all(|(k, v)| old.get(k) == Some(v)) => {
            Value::map(t.clone(), entries)
        }
        _ => Value::object(entries),
    };
    v.with_marks(orig.marks)
}

fn like_seq(orig: &Value, items: Vec<Value>) -> Value {
    let v = match &orig.kind {
        Kind::List(t, old) if old == &items => Value::list(t.clone(), items),
        Kind::Set(..) if orig.as_sequence() == Some(items.as_slice()) => orig.clone(),
        _ => Value::tuple(items),
    };
    v.with_marks(orig.marks)
}

/// Whether a fieldsV1 tree holds the field at `fpath`.
fn holds(fields: &Json, fpath: &[String]) -> bool {
    let mut at = fields;
    for k in fpath {
        match at.get(k) {
            Some(n) => at = n,
            None => return false,
        }
    }
    true
}

/// The fieldsV1 key of list element `e` (at index `i`) in `node`, if the node lists it.
fn element_key(node: &Json, e: &Json, i: usize) -> Option<String> {
    let obj = node.as_object()?;
    for k in obj.keys() {
        if let Some(rest) = k.strip_prefix("k:") {
            if let Ok(Json::Object(want)) = serde_json::from_str::<Json>(rest)
                && !want.is_empty()
                && want.iter().all(|(kk, kv)| match e.get(kk) {
                    Some(ev) => json_eq(ev, kv),
                    None => true,
                })
                && want.keys().any(|kk| e.get(kk).is_some())
            {
                return Some(k.clone());
            }
        } else if let Some(rest) = k.strip_prefix("v:") {
            if serde_json::from_str::<Json>(rest).is_ok_and(|v| json_eq(&v, e)) {
                return Some(k.clone());
            }
        } else if let Some(rest) = k.strip_prefix("i:")
            && rest.parse::<usize>() == Ok(i)
        {
            return Some(k.clone());
        }
    }
    None
}

/// The live element with fieldsV1 key `k`.
fn find_element<'a>(live: &'a [Json], k: &str, i: usize) -> Option<&'a Json> {
    if let Some(rest) = k.strip_prefix("k:") {
        let Ok(Json::Object(want)) = serde_json::from_str::<Json>(rest) else {
            return None;
        };
        live.iter().find(|e| {
            want.iter()
                .all(|(kk, kv)| e.get(kk).is_some_and(|ev| json_eq(ev, kv)))
        })
    } else if let Some(rest) = k.strip_prefix("v:") {
        let v = serde_json::from_str::<Json>(rest).ok()?;
        live.iter().find(|e| json_eq(e, &v))
    } else {
        live.get(i)
    }
}

/// How a list element's key reads in a field path, as the server writes it.
fn element_label(k: &str) -> String {
    if let Some(rest) = k.strip_prefix("k:") {
        if let Ok(Json::Object(want)) = serde_json::from_str::<Json>(rest) {
            let parts: Vec<String> = want.iter().map(|(kk, kv)| format!("{kk}={kv}")).collect();
            return format!("[{}]", parts.join(","));
        }
    } else if let Some(rest) = k.strip_prefix("v:") {
        return format!("[={rest}]");
    } else if let Some(rest) = k.strip_prefix("i:") {
        return format!("[{rest}]");
    }
    format!("[{k}]")
}

/// JSON equality with numbers compared by value (`80` equals `80.0`).
fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            x.to_string() == y.to_string()
                || x.as_f64().zip(y.as_f64()).is_some_and(|(p, q)| p == q)
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// One conflict a server-side apply reported: the other manager and the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    pub field: String,
}

/// The conflicts of a 409 answer to an apply (`details.causes` of reason
/// `FieldManagerConflict`, whose messages read `conflict with "kubectl-patch" using v1`).
pub fn conflicts(status: &kube::core::Status) -> Vec<Conflict> {
    let Some(details) = &status.details else {
        return Vec::new();
    };
    details
        .causes
        .iter()
        .filter(|c| c.reason == "FieldManagerConflict")
        .map(|c| Conflict {
            manager: c
                .message
                .split('"')
                .nth(1)
                .unwrap_or(c.message.as_str())
                .to_string(),
            field: c.field.clone(),
        })
        .collect()
}

/// The field managers other than brick's apply that hold the field at `field` (object keys
/// from the root: `["spec", "replicated", "size"]`) or a field inside it, sorted: who changed
/// it since brick applied it, for the typed resources built on a custom resource (a Strimzi
/// topic, a Rook pool) whose drift is explained field by field.
pub fn holders(live: &Json, field: &[&str]) -> Vec<String> {
    let fpath: Vec<String> = field.iter().map(|k| format!("f:{k}")).collect();
    let mut out: Vec<String> = entries(live)
        .into_iter()
        .filter(|e| !(e.manager == MANAGER && e.operation == "Apply"))
        .filter(|e| e.subresource.is_empty() && holds(e.fields, &fpath))
        .map(|e| e.manager.to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether the field at a server path (`.spec.containers[name="a"].image`) is in `manifest`:
/// brick applied it before (it may be drifted now, then its value is the live one or null).
pub fn in_manifest(manifest: &Value, field: &str) -> bool {
    let mut at = manifest;
    for step in parse_path(field) {
        match step {
            Step::Key(k) => match at.get(&k) {
                Some(v) => at = v,
                None => return false,
            },
            Step::Element(want) => {
                let Some(items) = at.as_sequence() else {
                    return false;
                };
                let found = items.iter().enumerate().find(|(i, e)| match &want {
                    Elem::Index(n) => n == i,
                    Elem::Value(v) => json_eq(&to_json(e), v),
                    Elem::Keys(keys) => {
                        let ej = to_json(e);
                        keys.iter()
                            .all(|(k, v)| ej.get(k).is_none_or(|x| json_eq(x, v)))
                            && keys.iter().any(|(k, _)| ej.get(k).is_some())
                    }
                });
                match found {
                    Some((_, e)) => at = e,
                    None => return false,
                }
            }
        }
    }
    true
}

enum Step {
    Key(String),
    Element(Elem),
}

enum Elem {
    Index(usize),
    Value(Json),
    Keys(Vec<(String, Json)>),
}

fn parse_path(field: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let b = field.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'.' && b[j] != b'[' {
                    j += 1;
                }
                out.push(Step::Key(field[start..j].to_string()));
                i = j;
            }
            b'[' => {
                // The closing bracket outside any JSON string.
                let mut j = i + 1;
                let mut in_str = false;
                while j < b.len() {
                    match b[j] {
                        b'\\' if in_str => j += 1,
                        b'"' => in_str = !in_str,
                        b']' if !in_str => break,
                        _ => {}
                    }
                    j += 1;
                }
                let inner = &field[i + 1..j.min(b.len())];
                out.push(Step::Element(parse_element(inner)));
                i = j + 1;
            }
            _ => {
                // A path without a leading dot.
                let start = i;
                let mut j = i;
                while j < b.len() && b[j] != b'.' && b[j] != b'[' {
                    j += 1;
                }
                out.push(Step::Key(field[start..j].to_string()));
                i = j;
            }
        }
    }
    out
}

fn parse_element(inner: &str) -> Elem {
    if let Ok(n) = inner.parse::<usize>() {
        return Elem::Index(n);
    }
    if let Some(v) = inner.strip_prefix('=') {
        return Elem::Value(serde_json::from_str(v).unwrap_or(Json::String(v.to_string())));
    }
    let mut keys = Vec::new();
    for part in split_pairs(inner) {
        if let Some((k, v)) = part.split_once('=') {
            keys.push((
                k.to_string(),
                serde_json::from_str(v).unwrap_or(Json::String(v.to_string())),
            ));
        }
    }
    Elem::Keys(keys)
}

/// `a="x,y",b=2` → [`a="x,y"`, `b=2`]: commas outside JSON strings.
fn split_pairs(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_str = false;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b',' if !in_str => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn applied() -> Value {
        from_json(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "labels": {"app": "a"}},
            "data": {"retention": "7d", "size": "1"}
        }))
    }

    fn live(brick: Json, others: Vec<(&str, Json)>, data: Json) -> Json {
        let mut mf = vec![json!({"manager": "brick", "operation": "Apply", "fieldsV1": brick})];
        for (m, f) in others {
            mf.push(json!({"manager": m, "operation": "Update", "fieldsV1": f}));
        }
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "x", "labels": {"app": "a", "extra": "x"}, "managedFields": mf},
               "data": data})
    }

    #[test]
    fn fields_brick_still_owns_are_kept_as_applied_and_a_label_of_another_manager_is_ignored() {
        let l = live(
            json!({"f:data": {"f:retention": {}, "f:size": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}),
            vec![(
                "kubectl-label",
                json!({"f:metadata": {"f:labels": {"f:extra": {}}}}),
            )],
            json!({"retention": "7d", "size": "1"}),
        );
        let r = refresh(&applied(), &l);
        assert!(r.managers.is_empty(), "{:?}", r.managers);
        assert_eq!(r.manifest, applied());
    }

    #[test]
    fn a_field_another_manager_took_is_drift_named_after_that_manager() {
        let l = live(
            json!({"f:data": {"f:size": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}),
            vec![("kubectl-patch", json!({"f:data": {"f:retention": {}}}))],
            json!({"retention": "1d", "size": "1"}),
        );
        let r = refresh(&applied(), &l);
        assert_eq!(
            r.managers.get(".data.retention").map(String::as_str),
            Some("kubectl-patch")
        );
        assert_eq!(
            to_json(&r.manifest).pointer("/data/retention"),
            Some(&json!("1d"))
        );
    }

    #[test]
    fn list_elements_are_matched_by_their_keys() {
        let applied = from_json(&json!({"spec": {"containers": [{"name": "a", "image": "i:1"}]}}));
        let l = json!({"spec": {"containers": [{"name": "a", "image": "i:2"}]},
            "metadata": {"managedFields": [
                {"manager": "brick", "operation": "Apply", "fieldsV1":
                    {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:name": {}}}}}},
                {"manager": "kubectl-edit", "operation": "Update", "fieldsV1":
                    {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {"f:image": {}}}}}}]}});
        let r = refresh(&applied, &l);
        assert_eq!(
            r.managers
                .get(".spec.containers[name=\"a\"].image")
                .map(String::as_str),
            Some("kubectl-edit")
        );
    }

    #[test]
    fn server_field_paths_are_found_in_the_manifest() {
        let m = from_json(&json!({"data": {"retention": "7d"},
            "spec": {"containers": [{"name": "a", "image": "i"}]}}));
        assert!(in_manifest(&m, ".data.retention"));
        assert!(in_manifest(&m, ".spec.containers[name=\"a\"].image"));
        assert!(!in_manifest(&m, ".spec.containers[name=\"b\"].image"));
        assert!(!in_manifest(&m, ".data.other"));
    }

    #[test]
    fn the_holders_of_a_field_are_the_other_managers_that_hold_it_or_a_field_inside() {
        let live = json!({"metadata": {"managedFields": [
            {"manager": "brick", "operation": "Apply",
             "fieldsV1": {"f:spec": {"f:partitions": {}, "f:config": {"f:retention.ms": {}}}}},
            {"manager": "kubectl-patch", "operation": "Update",
             "fieldsV1": {"f:spec": {"f:config": {"f:retention.ms": {}}}}},
            {"manager": "operator", "operation": "Update", "subresource": "status",
             "fieldsV1": {"f:spec": {"f:config": {}}}}
        ]}});
        assert_eq!(
            holders(&live, &["spec", "config", "retention.ms"]),
            ["kubectl-patch"]
        );
        assert_eq!(holders(&live, &["spec", "config"]), ["kubectl-patch"]);
        assert!(holders(&live, &["spec", "partitions"]).is_empty());
    }
}
