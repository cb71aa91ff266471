//! CustomResourceDefinitions: the kinds a CRD adds (one per served version), its status
//! (NamesAccepted, Established), and validation of custom objects against the version's
//! structural schema (types, required, enum, nullable, bounds, int-or-string, pruning of
//! unknown fields or their refusal under strict field validation).

use serde_json::{Value, json};

use crate::error::{ApiError, Cause};
use crate::store::{now, upsert_condition};
use crate::types::ResourceType;

/// The resource types a CRD serves.
pub fn types_of(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let kind = s(&names["kind"]);
    let plural = s(&names["plural"]);
    let singular = names["singular"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_ascii_lowercase());
    let crd_name = crd["metadata"]["name"].as_str().unwrap_or("").to_string();
    let mut out = Vec::new();
    for v in spec["versions"].as_array().into_iter().flatten() {
        if v["served"] != json!(true) {
            continue;
        }
        let mut subresources = Vec::new();
        if v["subresources"].get("status").is_some() {
            subresources.push("status".into());
        }
        if v["subresources"].get("scale").is_some() {
            subresources.push("scale".into());
        }
        out.push(ResourceType {
            group: s(&spec["group"]),
            version: s(&v["name"]),
            kind: kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            namespaced: spec["scope"] != "Cluster",
            short_names: list(&names["shortNames"]),
            categories: list(&names["categories"]),
            subresources,
            generation: true,
            crd: Some(crd_name.clone()),
            schema: v["schema"].get("openAPIV3Schema").cloned(),
            storage: v["storage"] == json!(true),
        });
    }
    out
}

/// The status the API server's CRD controllers give a CRD: names accepted, established.
pub fn set_status(crd: &mut Value) {
    if crd["metadata"].get("deletionTimestamp").is_some() {
        return;
    }
    let mut names = crd["spec"]["names"].clone();
    if let Some(m) = names.as_object_mut() {
        if !m.contains_key("singular") {
            let k = m
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            m.insert("singular".into(), json!(k));
        }
        if !m.contains_key("listKind") {
            let k = format!(
                "{}List",
                m.get("kind").and_then(Value::as_str).unwrap_or("")
            );
            m.insert("listKind".into(), json!(k));
        }
    }
    let conds = crd["status"]["conditions"].clone();
    let conds = upsert_condition(
        &conds,
        "NamesAccepted",
        "True",
        "NoConflicts",
        "no conflicts found",
    );
    let conds = upsert_condition(
        &conds,
        "Established",
        "True",
        "InitialNamesAccepted",
        "the initial names have been accepted",
    );
    let storage: Vec<Value> = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["storage"] == json!(true))
        .map(|v| v["name"].clone())
        .collect();
    let mut stored: Vec<Value> = crd["status"]["storedVersions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for s in storage {
        if !stored.contains(&s) {
            stored.push(s);
        }
    }
    crd["status"] = json!({"conditions": conds, "acceptedNames": names, "storedVersions": stored});
    let _ = now;
}

/// A CRD's own checks: its name is `<plural>.<group>`, one storage version, names present.
pub fn check_definition(crd: &mut Value, _old: Option<&Value>) -> Result<(), ApiError> {
    let spec = &crd["spec"];
    let name = crd["metadata"]["name"].as_str().unwrap_or("").to_string();
    let mut causes = Vec::new();
    let plural = spec["names"]["plural"].as_str().unwrap_or("");
    let group = spec["group"].as_str().unwrap_or("");
    if name != format!("{plural}.{group}") {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    if spec["names"]["kind"].as_str().is_none_or(str::is_empty) {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.names.kind",
            "Required value",
        ));
    }
    let storage = spec["versions"]
        .as_array()
        .map(|v| v.iter().filter(|v| v["storage"] == json!(true)).count())
        .unwrap_or(0);
    if storage != 1 {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: must have exactly one version marked as storage version",
        ));
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(
            "CustomResourceDefinition",
            "apiextensions.k8s.io",
            &name,
            causes,
        ));
    }
    if crd["spec"].get("conversion").is_none() {
        crd["spec"]["conversion"] = json!({"strategy": "None"});
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Object(_) => "\"object\"".into(),
        Value::Array(_) => "\"array\"".into(),
        other => other.to_string(),
    }
}

struct Walk<'a> {
    causes: Vec<Cause>,
    unknown: Vec<String>,
    strict: bool,
    _rt: &'a ResourceType,
}

impl Walk<'_> {
    fn check(&mut self, schema: &Value, v: &mut Value, path: &str) {
        if v.is_null() {
            if schema["nullable"] != json!(true) && !path.is_empty() {
                // The API server drops nulls of non-nullable fields.
            }
            return;
        }
        let int_or_string = schema["x-kubernetes-int-or-string"] == json!(true);
        if let Some(t) = schema["type"].as_str()
            && !int_or_string
        {
            let actual = type_name(v);
            let ok = actual == t || (t == "number" && actual == "integer");
            if !ok {
                self.causes.push(Cause::new(
                    "FieldValueTypeInvalid",
                    path,
                    format!(
                        "Invalid value: {}: {path} in body must be of type {t}: {}",
                        show(v),
                        show(&json!(actual))
                    ),
                ));
                return;
            }
        }
        if int_or_string && !matches!(type_name(v), "integer" | "string") {
            self.causes.push(Cause::new(
                "FieldValueTypeInvalid",
                path,
                format!(
                    "Invalid value: {}: {path} in body must be of type integer,string: {}",
                    show(v),
                    show(&json!(type_name(v)))
                ),
            ));
            return;
        }
        if let Some(en) = schema["enum"].as_array()
            && !en.contains(v)
        {
            let supported: Vec<String> = en.iter().map(show).collect();
            self.causes.push(Cause::new(
                "FieldValueNotSupported",
                path,
                format!(
                    "Unsupported value: {}: supported values: {}",
                    show(v),
                    supported.join(", ")
                ),
            ));
        }
        if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), v.as_f64())
            && n < min
        {
            self.causes.push(Cause::new(
                "FieldValueInvalid",
                path,
                format!(
                    "Invalid value: {n}: {path} in body should be greater than or equal to {min}"
                ),
            ));
        }
        if let (Some(max), Some(n)) = (schema["maximum"].as_f64(), v.as_f64())
            && n > max
        {
            self.causes.push(Cause::new(
                "FieldValueInvalid",
                path,
                format!("Invalid value: {n}: {path} in body should be less than or equal to {max}"),
            ));
        }
        match v {
            Value::Object(m) => {
                let preserve = schema["x-kubernetes-preserve-unknown-fields"] == json!(true);
                let props = schema["properties"].as_object();
                let additional = schema["additionalProperties"].as_object();
                for req in schema["required"].as_array().into_iter().flatten() {
                    if let Some(r) = req.as_str()
                        && !m.contains_key(r)
                    {
                        let p = join(path, r);
                        self.causes
                            .push(Cause::new("FieldValueRequired", p, "Required value"));
                    }
                }
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    let p = join(path, &k);
                    if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                        continue;
                    }
                    let sub = props
                        .and_then(|p| p.get(&k))
                        .or_else(|| additional.map(|_| &schema["additionalProperties"]));
                    match sub {
                        Some(s) => {
                            let s = s.clone();
                            if let Some(child) = m.get_mut(&k) {
                                self.check(&s, child, &p);
                            }
                        }
                        None if preserve => {}
                        None => {
                            self.unknown.push(p);
                            if !self.strict {
                                m.remove(&k);
                            }
                        }
                    }
                }
            }
            Value::Array(items) => {
                if let Some(is) = schema.get("items") {
                    for (i, it) in items.iter_mut().enumerate() {
                        self.check(is, it, &format!("{path}[{i}]"));
                    }
                }
            }
            _ => {}
        }
    }
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

/// Validates (and prunes) a custom object against its version's schema.
pub fn validate(
    rt: &ResourceType,
    schema: &Value,
    obj: &mut Value,
    strict: bool,
) -> Result<(), ApiError> {
    let mut w = Walk {
        causes: Vec::new(),
        unknown: Vec::new(),
        strict,
        _rt: rt,
    };
    w.check(schema, obj, "");
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    if strict && !w.unknown.is_empty() {
        let list: Vec<String> = w
            .unknown
            .iter()
            .map(|u| format!("unknown field \"{u}\""))
            .collect();
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            list.join(", ")
        )));
    }
    if !w.causes.is_empty() {
        return Err(ApiError::invalid(&rt.kind, &rt.group, name, w.causes));
    }
    Ok(())
}

/// Refuses an applied configuration with fields the schema does not declare.
pub fn check_known(rt: &ResourceType, schema: &Value, applied: &Value) -> Result<(), ApiError> {
    let mut copy = applied.clone();
    let mut w = Walk {
        causes: Vec::new(),
        unknown: Vec::new(),
        strict: true,
        _rt: rt,
    };
    w.check(schema, &mut copy, "");
    if let Some(u) = w.unknown.first() {
        return Err(ApiError::bad_request(format!(
            "failed to create typed patch object ({}, Kind={}): .{u}: field not declared in schema",
            rt.api_version(),
            rt.kind
        )));
    }
    Ok(())
}
