//! Checks a custom resource against the `openAPIV3Schema` of its CustomResourceDefinition as
//! written in the configuration (the CRD is planned in the same run, so the server cannot
//! check it yet): types, required fields and enums — the mistakes the server would refuse
//! only at apply, after the CRD went in.

use serde_json::Value as Json;

/// One thing the schema refuses: the path in the object (`spec.replicas`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub path: Vec<String>,
    pub message: String,
}

/// The `openAPIV3Schema` of `version` in a CRD manifest (JSON), if it has one.
pub fn version_schema<'a>(crd: &'a Json, version: &str) -> Option<&'a Json> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Json::as_str) == Some(version))?
        .pointer("/schema/openAPIV3Schema")
}

/// What `schema` refuses in `object`. `None` values in the object (unknown at plan time)
/// were left out of it by the caller and are not checked.
pub fn check(schema: &Json, object: &Json) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    walk(schema, object, &mut path, &mut out, true);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn describe(j: &Json) -> String {
    match j {
        Json::Null => "null".into(),
        Json::Bool(_) => "a boolean".into(),
        Json::Number(_) => format!("the number {j}"),
        Json::String(s) => format!("the string {s:?}"),
        Json::Array(_) => "a list".into(),
        Json::Object(_) => "an object".into(),
    }
}

fn type_ok(ty: &str, v: &Json, schema: &Json) -> bool {
    if schema
        .get("x-kubernetes-int-or-string")
        .and_then(Json::as_bool)
        == Some(true)
    {
        return v.is_string() || v.as_f64().is_some_and(|f| f.fract() == 0.0);
    }
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        _ => true,
    }
}

fn walk(schema: &Json, v: &Json, path: &mut Vec<String>, out: &mut Vec<Violation>, root: bool) {
    let at = |path: &Vec<String>, message: String| Violation {
        path: path.clone(),
        message,
    };
    if v.is_null() {
        // A null attribute is "not set" in brick's manifests (left out of what is sent).
        return;
    }
    let int_or_string = schema
        .get("x-kubernetes-int-or-string")
        .and_then(Json::as_bool)
        == Some(true);
    let ty = schema.get("type").and_then(Json::as_str);
    if (ty.is_some() || int_or_string) && !type_ok(ty.unwrap_or(""), v, schema) {
        let ty = ty.unwrap_or("");
        let want = if schema
            .get("x-kubernetes-int-or-string")
            .and_then(Json::as_bool)
            == Some(true)
        {
            "an integer or a string".to_string()
        } else {
            format!("of type {ty}")
        };
        out.push(at(path, format!("must be {want}, not {}", describe(v))));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Json::as_array)
        && !allowed.iter().any(|a| a == v)
    {
        let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
        out.push(at(
            path,
            format!("must be one of {}, not {}", list.join(", "), describe(v)),
        ));
    }
    match v {
        Json::Object(m) => {
            // The root's apiVersion, kind and metadata are the API server's, not the schema's.
            if let Some(req) = schema.get("required").and_then(Json::as_array) {
                for r in req.iter().filter_map(Json::as_str) {
                    if root && matches!(r, "apiVersion" | "kind" | "metadata") {
                        continue;
                    }
                    if !m.contains_key(r) {
                        path.push(r.to_string());
                        out.push(at(path, "is required".into()));
                        path.pop();
                    }
                }
            }
            let props = schema.get("properties").and_then(Json::as_object);
            let extra = schema.get("additionalProperties").filter(|a| a.is_object());
            for (k, x) in m {
                if root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let sub = props.and_then(|p| p.get(k)).or(extra);
                if let Some(sub) = sub {
                    path.push(k.clone());
                    walk(sub, x, path, out, false);
                    path.pop();
                }
            }
        }
        Json::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, x) in items.iter().enumerate() {
                    path.push(i.to_string());
                    walk(sub, x, path, out, false);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Json {
        json!({"type": "object", "required": ["spec"], "properties": {
            "spec": {"type": "object", "required": ["size"], "properties": {
                "size": {"type": "integer"},
                "mode": {"type": "string", "enum": ["fast", "safe"]},
                "port": {"x-kubernetes-int-or-string": true},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "disks": {"type": "array", "items": {"type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"}}}}
            }}
        }})
    }

    fn paths(v: &[Violation]) -> Vec<String> {
        v.iter()
            .map(|v| format!("{}: {}", v.path.join("."), v.message))
            .collect()
    }

    #[test]
    fn a_valid_object_passes_and_the_servers_own_fields_are_not_checked() {
        let obj = json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "a"},
            "spec": {"size": 3, "mode": "fast", "port": "http", "labels": {"a": "b"},
                "disks": [{"name": "sda"}]}});
        assert_eq!(paths(&check(&schema(), &obj)), Vec::<String>::new());
    }

    #[test]
    fn types_required_fields_and_enums_are_refused_with_their_paths() {
        let obj = json!({"spec": {"size": "big", "mode": "slow", "port": 1.5,
            "labels": {"a": 1}, "disks": [{}]}});
        assert_eq!(
            paths(&check(&schema(), &obj)),
            [
                "spec.disks.0.name: is required",
                "spec.labels.a: must be of type string, not the number 1",
                "spec.mode: must be one of \"fast\", \"safe\", not the string \"slow\"",
                "spec.port: must be an integer or a string, not the number 1.5",
                "spec.size: must be of type integer, not the string \"big\"",
            ]
        );
        assert_eq!(
            paths(&check(&schema(), &json!({"metadata": {"name": "x"}}))),
            ["spec: is required"]
        );
    }
}
