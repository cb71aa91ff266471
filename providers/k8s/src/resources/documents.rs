//! `data "k8s_documents"`: multi-document YAML (Rook's `crds.yaml`, Strimzi's install files)
//! split into one manifest per object, keyed `Kind/namespace/name` (`Kind/name` for objects
//! without a namespace) for `for_each` over `k8s_manifest`. No API calls.

use std::collections::BTreeMap;

use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Number, Type, Value};
use yaml_rust2::{Yaml, YamlLoader};

use crate::convert::str_attr;

pub const TYPE: &str = "k8s_documents";

pub fn schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "content",
                Attribute::required(Type::String)
                    .describe("YAML documents separated by `---`, e.g. file(\"crds.yaml\")."),
            )
            .attr(
                "documents",
                Attribute::computed(Type::Dynamic).describe(
                    "An object from each object's key (Kind/namespace/name, or Kind/name) to its manifest.",
                ),
            )
            .attr(
                "keys",
                Attribute::computed(Type::list(Type::String))
                    .describe("The keys of `documents`, in the order of the content."),
            ),
    }
}

fn err(detail: impl Into<String>) -> Diagnostic {
    Diagnostic::error("brick::k8s::documents", "Invalid YAML documents", detail).at(["content"])
}

pub fn read(config: &Value) -> Result<Value, Diagnostics> {
    let content = str_attr(config, "content").unwrap_or("");
    let (keys, docs) = split(content).map_err(|d| vec![d])?;
    let mut out = config.as_mapping().cloned().unwrap_or_default();
    out.insert("documents".into(), Value::object(docs));
    out.insert(
        "keys".into(),
        Value::list(Type::String, keys.into_iter().map(Value::string).collect()),
    );
    Ok(Value::object(out))
}

/// The objects of `content`, keyed, in order.
pub fn split(content: &str) -> Result<(Vec<String>, BTreeMap<String, Value>), Diagnostic> {
    let docs = YamlLoader::load_from_str(content)
        .map_err(|e| err(format!("The content is not YAML: {e}.")))?;
    let mut keys = Vec::new();
    let mut out = BTreeMap::new();
    let mut objects = Vec::new();
    for (n, d) in docs.iter().enumerate() {
        if matches!(d, Yaml::Null | Yaml::BadValue) {
            continue;
        }
        let v = to_value(d).map_err(|e| err(format!("Document {}: {e}.", n + 1)))?;
        if str_attr(&v, "kind").is_some_and(|k| k.ends_with("List"))
            && let Some(items) = v.get("items").and_then(Value::as_sequence)
        {
            objects.extend(items.iter().cloned().map(|i| (n, i)));
        } else {
            objects.push((n, v));
        }
    }
    for (n, v) in objects {
        let kind = str_attr(&v, "kind")
            .ok_or_else(|| err(format!("Document {} has no `kind`.", n + 1)))?;
        let md = v.get("metadata");
        let name = md.and_then(|m| str_attr(m, "name")).ok_or_else(|| {
            err(format!(
                "Document {} ({kind}) has no `metadata.name`.",
                n + 1
            ))
        })?;
        let key = match md.and_then(|m| str_attr(m, "namespace")) {
            Some(ns) => format!("{kind}/{ns}/{name}"),
            None => format!("{kind}/{name}"),
        };
        if out.contains_key(&key) {
            return Err(err(format!("Two documents are the same object {key}.")));
        }
        keys.push(key.clone());
        out.insert(key, v);
    }
    Ok((keys, out))
}

fn to_value(y: &Yaml) -> Result<Value, String> {
    Ok(match y {
        Yaml::Null => Value::null_dynamic(),
        Yaml::Boolean(b) => Value::bool(*b),
        Yaml::Integer(i) => Value::number(Number::from_i64(*i)),
        Yaml::Real(r) => Number::parse(r)
            .map(Value::number)
            .ok_or_else(|| format!("{r} is not a number"))?,
        Yaml::String(s) => Value::string(s.clone()),
        Yaml::Array(items) => Value::tuple(items.iter().map(to_value).collect::<Result<_, _>>()?),
        Yaml::Hash(h) => {
            let mut m = BTreeMap::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Real(r) => r.clone(),
                    other => return Err(format!("a mapping key {other:?} is not a string")),
                };
                m.insert(key, to_value(v)?);
            }
            Value::object(m)
        }
        Yaml::Alias(_) | Yaml::BadValue => return Err("an alias or bad value".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_keyed_by_kind_namespace_and_name() {
        let (keys, docs) = split(
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: rook\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: rook\ndata:\n  a: \"1\"\n",
        )
        .unwrap();
        assert_eq!(keys, ["Namespace/rook", "ConfigMap/rook/c"]);
        assert_eq!(
            docs["ConfigMap/rook/c"]
                .get("data")
                .and_then(|d| d.get("a")),
            Some(&Value::string("1"))
        );
    }

    #[test]
    fn a_document_without_kind_is_an_error() {
        assert!(split("apiVersion: v1\nmetadata:\n  name: x\n").is_err());
    }
}
