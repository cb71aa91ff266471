//! The versioned on-disk document: conversion between [`State`] and bytes, the upgrade path
//! from older formats, and the refusal of newer ones.
//!
//! Output is canonical: struct fields in a fixed order, resources and instances sorted by
//! address, object keys inside attributes and outputs sorted, two-space indentation and a
//! trailing newline. `save(load(bytes)) == bytes` for every canonical document.

use std::collections::BTreeMap;
use std::path::Path;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::attributes::Attributes;
use crate::error::StateError;
use crate::model::{
    AttrPath, IndexKey, Instance, InstanceAddr, Intent, IntentAction, Mode, ObjectState, Output,
    PathStep, Resource, ResourceAddr, State,
};

/// The format version this brick writes, and the newest it reads.
/// Version 2 writes each object's direct dependencies only, as memory holds them (see
/// [`crate::deps`]); version 1 wrote them all.
pub const FORMAT_VERSION: u64 = 2;

#[derive(Deserialize)]
struct Doc {
    brick_version: String,
    serial: u64,
    lineage: String,
    #[serde(default)]
    outputs: BTreeMap<String, Output>,
    #[serde(default)]
    resources: Vec<DocResource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<DocIntent>,
}

#[derive(Deserialize)]
struct DocResource {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    module: String,
    mode: Mode,
    #[serde(rename = "type")]
    type_name: String,
    name: String,
    provider: String,
    instances: Vec<DocInstance>,
}

#[derive(Deserialize)]
struct DocInstance {
    #[serde(default, skip_serializing_if = "Value::is_null")]
    index_key: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deposed: Option<String>,
    schema_version: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    tainted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tainted_reason: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    create_before_destroy: bool,
    /// Made text as it is read: the document's tree of values is never whole in memory.
    attributes: Attributes,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sensitive_attributes: Vec<AttrPath>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    dependencies: Vec<String>,
    /// Format 2: the whole list, when the direct ones would not expand back to it exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    all_dependencies: Vec<String>,
}

#[derive(Deserialize)]
struct DocIntent {
    id: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    module: String,
    mode: Mode,
    #[serde(rename = "type")]
    type_name: String,
    name: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    index_key: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deposed: Option<String>,
    action: IntentAction,
    provider: String,
    planned: Value,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Serializes a state as its canonical document (pretty JSON with a trailing newline).
pub fn to_bytes(state: &State) -> Vec<u8> {
    let doc = DocOut {
        format_version: FORMAT_VERSION,
        brick_version: &state.brick_version,
        serial: state.serial,
        lineage: &state.lineage,
        outputs: state
            .outputs
            .iter()
            .map(|(k, o)| {
                (
                    k.as_str(),
                    OutputOut {
                        value: Canon(&o.value),
                        type_: Canon(&o.type_),
                        sensitive: o.sensitive,
                    },
                )
            })
            .collect(),
        resources: state
            .resources
            .iter()
            .map(|(addr, r)| ResourceOut {
                module: &addr.module,
                mode: addr.mode,
                type_name: &addr.type_name,
                name: &addr.name,
                provider: &r.provider,
                instances: r
                    .instances
                    .iter()
                    .flat_map(|(key, inst)| {
                        let current = inst.current.iter().map(move |o| instance_out(key, None, o));
                        let deposed = inst
                            .deposed
                            .iter()
                            .map(move |(d, o)| instance_out(key, Some(d), o));
                        current.chain(deposed)
                    })
                    .collect(),
            })
            .collect(),
        pending: state
            .pending
            .values()
            .map(|i| IntentOut {
                id: i.id,
                module: &i.addr.resource.module,
                mode: i.addr.resource.mode,
                type_name: &i.addr.resource.type_name,
                name: &i.addr.resource.name,
                index_key: KeyOut(&i.addr.key),
                deposed: i.deposed.as_deref(),
                action: i.action,
                provider: &i.provider,
                planned: Canon(&i.planned),
            })
            .collect(),
    };
    let mut out = Vec::with_capacity(64 * 1024);
    serde_json::to_writer_pretty(&mut out, &doc).expect("a state always serializes");
    out.push(b'\n');
    out
}

fn instance_out<'a>(
    key: &'a IndexKey,
    deposed: Option<&'a String>,
    o: &'a ObjectState,
) -> InstanceOut<'a> {
    let mut sensitive: Vec<&AttrPath> = o.sensitive_paths.iter().collect();
    sensitive.sort();
    sensitive.dedup();
    // Sorted and without repeats, whatever order the engine recorded them in.
    let listed = if o.dependencies.is_sorted_by(|a, b| a < b) {
        std::borrow::Cow::Borrowed(o.dependencies.as_slice())
    } else {
        let mut d = o.dependencies.clone();
        d.sort_unstable();
        d.dedup();
        std::borrow::Cow::Owned(d)
    };
    let (dependencies, all_dependencies) = if o.dependencies_whole {
        (std::borrow::Cow::Borrowed(&[][..]), listed)
    } else {
        (listed, std::borrow::Cow::Borrowed(&[][..]))
    };
    InstanceOut {
        index_key: KeyOut(key),
        deposed: deposed.map(String::as_str),
        schema_version: o.schema_version,
        tainted: o.tainted,
        tainted_reason: o.tainted_reason.as_deref(),
        create_before_destroy: o.create_before_destroy,
        attributes: &o.attributes,
        sensitive_attributes: sensitive,
        dependencies,
        all_dependencies,
    }
}

#[derive(Serialize)]
struct DocOut<'a> {
    format_version: u64,
    brick_version: &'a str,
    serial: u64,
    lineage: &'a str,
    outputs: BTreeMap<&'a str, OutputOut<'a>>,
    resources: Vec<ResourceOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pending: Vec<IntentOut<'a>>,
}

#[derive(Serialize)]
struct OutputOut<'a> {
    value: Canon<'a>,
    #[serde(rename = "type")]
    type_: Canon<'a>,
    sensitive: bool,
}

#[derive(Serialize)]
struct ResourceOut<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    module: &'a str,
    mode: Mode,
    #[serde(rename = "type")]
    type_name: &'a str,
    name: &'a str,
    provider: &'a str,
    instances: Vec<InstanceOut<'a>>,
}

#[derive(Serialize)]
struct InstanceOut<'a> {
    #[serde(skip_serializing_if = "KeyOut::is_none")]
    index_key: KeyOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deposed: Option<&'a str>,
    schema_version: u64,
    #[serde(skip_serializing_if = "is_false")]
    tainted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tainted_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    create_before_destroy: bool,
    attributes: &'a Attributes,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sensitive_attributes: Vec<&'a AttrPath>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    dependencies: std::borrow::Cow<'a, [String]>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    all_dependencies: std::borrow::Cow<'a, [String]>,
}

#[derive(Serialize)]
struct IntentOut<'a> {
    id: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    module: &'a str,
    mode: Mode,
    #[serde(rename = "type")]
    type_name: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "KeyOut::is_none")]
    index_key: KeyOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deposed: Option<&'a str>,
    action: IntentAction,
    provider: &'a str,
    planned: Canon<'a>,
}

/// An index key as JSON: an integer or a string (none is skipped).
pub(crate) struct KeyOut<'a>(pub(crate) &'a IndexKey);

impl KeyOut<'_> {
    pub(crate) fn is_none(&self) -> bool {
        *self.0 == IndexKey::None
    }
}

impl Serialize for KeyOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            IndexKey::None => s.serialize_unit(),
            IndexKey::Int(i) => s.serialize_i64(*i),
            IndexKey::String(k) => s.serialize_str(k),
        }
    }
}

/// A JSON value serialized with object keys sorted at every depth, without copying it.
pub(crate) struct Canon<'a>(pub(crate) &'a Value);

impl Serialize for Canon<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(m) => {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, &Canon(v))?;
                }
                map.end()
            }
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(&Canon(v))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

pub(crate) fn key_from_json(v: &Value) -> Result<IndexKey, String> {
    match v {
        Value::Null => Ok(IndexKey::None),
        Value::String(s) => Ok(IndexKey::String(s.clone())),
        Value::Number(n) => n
            .as_i64()
            .map(IndexKey::Int)
            .ok_or_else(|| format!("index key {n} is not a whole number")),
        other => Err(format!(
            "index key {other} is neither a number nor a string"
        )),
    }
}

/// A copy of a JSON value with object keys sorted, recursively.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::with_capacity(m.len());
            for k in keys {
                out.insert(k.clone(), canonical(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Parses a state document, upgrading older formats. `path` only names the file in errors.
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<State, StateError> {
    let corrupt = |detail: String| StateError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    // A first pass reads only the version fields (the rest is skipped without building
    // anything); the second builds the document of that version.
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        format_version: Option<Value>,
        #[serde(default)]
        version: Option<Value>,
        #[serde(default)]
        terraform_version: Option<Value>,
    }
    let parse_error = |e: serde_json::Error| {
        corrupt(if e.is_eof() {
            format!("the file ends early ({e}); it was probably truncated")
        } else if e.is_data() {
            format!("the document is not a JSON object ({e})")
        } else {
            format!("it is not valid JSON ({e})")
        })
    };
    let probe: Probe = serde_json::from_slice(bytes).map_err(parse_error)?;
    let (doc, whole): (Doc, bool) = match (&probe.format_version, &probe.version) {
        (Some(v), _) => {
            let version = v
                .as_u64()
                .ok_or_else(|| corrupt(format!("format_version {v} is not a whole number")))?;
            if version > FORMAT_VERSION {
                return Err(StateError::NewerFormat {
                    path: path.to_path_buf(),
                    found: version,
                    supported: FORMAT_VERSION,
                });
            }
            // Version 1 is the first brick format (every dependency listed, reduced after
            // loading); version 2 lists direct ones, as memory holds them.
            if version < 1 {
                return Err(corrupt(format!("format_version {version} never existed")));
            }
            (
                serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?,
                version < 2,
            )
        }
        (None, Some(v)) if v.as_u64() == Some(4) && probe.terraform_version.is_some() => {
            let raw: Map<String, Value> =
                serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
            let upgraded = upgrade_terraform_v4(&raw).map_err(corrupt)?;
            (
                serde_json::from_value(upgraded).map_err(|e| corrupt(e.to_string()))?,
                true,
            )
        }
        _ => {
            return Err(corrupt(
                "it has no format_version: it is not a brick state".into(),
            ));
        }
    };
    doc_to_state(doc, whole).map_err(corrupt)
}

/// Builds the model; with `whole` (format 1, Terraform's v4: every object lists its whole
/// upstream), dependencies are reduced to what memory keeps (see [`crate::deps`]).
fn doc_to_state(doc: Doc, whole: bool) -> Result<State, String> {
    let mut state = State {
        serial: doc.serial,
        lineage: doc.lineage,
        brick_version: doc.brick_version,
        resources: BTreeMap::new(),
        outputs: doc.outputs,
        pending: BTreeMap::new(),
    };
    if state.lineage.is_empty() {
        return Err("the lineage is empty".into());
    }
    for r in doc.resources {
        let addr = ResourceAddr {
            module: r.module,
            mode: r.mode,
            type_name: r.type_name,
            name: r.name,
        };
        let mut instances: BTreeMap<IndexKey, Instance> = BTreeMap::new();
        for i in r.instances {
            let key = key_from_json(&i.index_key).map_err(|e| format!("{addr}: {e}"))?;
            let iaddr = || addr.instance(key.clone());
            if !i.attributes.is_object() {
                return Err(format!("{}: attributes are not a JSON object", iaddr()));
            }
            let dependencies_whole = !whole && !i.all_dependencies.is_empty();
            let dependencies = if i.all_dependencies.is_empty() {
                i.dependencies
            } else {
                i.all_dependencies
            };
            let object = ObjectState {
                schema_version: i.schema_version,
                attributes: i.attributes,
                sensitive_paths: i.sensitive_attributes,
                dependencies,
                dependencies_whole,
                tainted: i.tainted,
                tainted_reason: i.tainted_reason,
                create_before_destroy: i.create_before_destroy,
            };
            let inst = instances.entry(key.clone()).or_default();
            match i.deposed {
                None if inst.current.is_some() => {
                    return Err(format!("instance {} appears twice", iaddr()));
                }
                None => inst.current = Some(Box::new(object)),
                Some(d) => {
                    if inst.deposed.insert(d.clone(), object).is_some() {
                        return Err(format!("deposed object {d} of {} appears twice", iaddr()));
                    }
                }
            }
        }
        // One search of the map per resource (a document is sorted, so this is cheap).
        match state.resources.entry(addr) {
            std::collections::btree_map::Entry::Occupied(e) => {
                return Err(format!("resource {} appears twice", e.key()));
            }
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(Resource {
                    provider: r.provider,
                    instances,
                });
            }
        }
    }
    for p in doc.pending {
        let addr = InstanceAddr {
            resource: ResourceAddr {
                module: p.module,
                mode: p.mode,
                type_name: p.type_name,
                name: p.name,
            },
            key: key_from_json(&p.index_key)?,
        };
        let intent = Intent {
            id: p.id,
            addr,
            deposed: p.deposed,
            action: p.action,
            provider: p.provider,
            planned: p.planned,
        };
        if state.pending.insert(intent.id, intent).is_some() {
            return Err(format!("pending intent {} appears twice", p.id));
        }
    }
    if whole {
        crate::deps::reduce_whole(&mut state);
    }
    Ok(state)
}

/// Converts Terraform's state format version 4 (what users of Terraform bring along) into a
/// format 1 document: same resources, instances, attributes and outputs; Terraform's
/// sensitive paths and `status: "tainted"` translated; provider-private data dropped.
fn upgrade_terraform_v4(tf: &Map<String, Value>) -> Result<Value, String> {
    let mut resources = Vec::new();
    for r in tf
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut instances = Vec::new();
        for i in r
            .get("instances")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut inst = Map::new();
            for k in [
                "index_key",
                "deposed",
                "schema_version",
                "attributes",
                "dependencies",
            ] {
                if let Some(v) = i.get(k) {
                    inst.insert(k.into(), v.clone());
                }
            }
            if !inst.contains_key("schema_version") {
                inst.insert("schema_version".into(), 0.into());
            }
            if i.get("status").and_then(Value::as_str) == Some("tainted") {
                inst.insert("tainted".into(), true.into());
            }
            if i.get("create_before_destroy").and_then(Value::as_bool) == Some(true) {
                inst.insert("create_before_destroy".into(), true.into());
            }
            let mut paths = Vec::new();
            for p in i
                .get("sensitive_attributes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                paths.push(terraform_path(p)?);
            }
            inst.insert(
                "sensitive_attributes".into(),
                serde_json::to_value(paths).map_err(|e| e.to_string())?,
            );
            instances.push(Value::Object(inst));
        }
        let mut res = Map::new();
        for k in ["module", "mode", "type", "name", "provider"] {
            if let Some(v) = r.get(k) {
                res.insert(k.into(), v.clone());
            }
        }
        res.insert("instances".into(), Value::Array(instances));
        resources.push(Value::Object(res));
    }
    let mut outputs = Map::new();
    for (name, o) in tf
        .get("outputs")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        outputs.insert(
            name.clone(),
            serde_json::json!({
                "value": o.get("value").cloned().unwrap_or(Value::Null),
                "type": o.get("type").cloned().unwrap_or(Value::from("dynamic")),
                "sensitive": o.get("sensitive").and_then(Value::as_bool).unwrap_or(false),
            }),
        );
    }
    Ok(serde_json::json!({
        "format_version": FORMAT_VERSION,
        "brick_version": format!("terraform {}", tf.get("terraform_version").and_then(Value::as_str).unwrap_or("?")),
        "serial": tf.get("serial").cloned().unwrap_or(Value::from(0)),
        "lineage": tf.get("lineage").cloned().unwrap_or(Value::from("")),
        "outputs": outputs,
        "resources": resources,
    }))
}

/// Terraform writes a path as `[{"type":"get_attr","value":"name"},
/// {"type":"index","value":{"value":0,"type":"number"}}]`.
fn terraform_path(p: &Value) -> Result<AttrPath, String> {
    let steps = p
        .as_array()
        .ok_or_else(|| format!("sensitive path {p} is not a list"))?;
    steps
        .iter()
        .map(|s| {
            let kind = s.get("type").and_then(Value::as_str);
            let v = s.get("value");
            match (kind, v) {
                (Some("get_attr"), Some(Value::String(n))) => Ok(PathStep::Attr(n.clone())),
                (Some("index"), Some(idx)) => match idx.get("value") {
                    Some(Value::String(k)) => Ok(PathStep::Key(k.clone())),
                    Some(Value::Number(n)) if n.as_u64().is_some() => {
                        Ok(PathStep::Index(n.as_u64().unwrap_or_default()))
                    }
                    _ => Err(format!("unsupported index step {s} in sensitive path")),
                },
                _ => Err(format!("unsupported step {s} in sensitive path")),
            }
        })
        .collect()
}
