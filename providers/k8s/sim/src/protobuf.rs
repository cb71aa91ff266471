//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), which client-go's typed
//! clients — and so kubectl's generator commands such as `kubectl create namespace` — send for
//! built-in kinds: the `k8s\0` envelope (runtime.Unknown) decoded with prost, and the few
//! kinds kubectl creates that way (Namespace, ConfigMap, Secret, Deployment, Eviction) turned
//! into their JSON form. Other kinds are refused with 415.

use std::collections::BTreeMap;

use base64::Engine;
use prost::Message;
use serde_json::{Map, Value, json};

#[derive(Clone, PartialEq, Message)]
struct TypeMeta {
    #[prost(string, optional, tag = "1")]
    api_version: Option<String>,
    #[prost(string, optional, tag = "2")]
    kind: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct Unknown {
    #[prost(message, optional, tag = "1")]
    type_meta: Option<TypeMeta>,
    #[prost(bytes = "vec", optional, tag = "2")]
    raw: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct OwnerReference {
    #[prost(string, optional, tag = "1")]
    kind: Option<String>,
    #[prost(string, optional, tag = "3")]
    name: Option<String>,
    #[prost(string, optional, tag = "4")]
    uid: Option<String>,
    #[prost(string, optional, tag = "5")]
    api_version: Option<String>,
    #[prost(bool, optional, tag = "6")]
    controller: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    block_owner_deletion: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct ObjectMeta {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    generate_name: Option<String>,
    #[prost(string, optional, tag = "3")]
    namespace: Option<String>,
    #[prost(btree_map = "string, string", tag = "11")]
    labels: BTreeMap<String, String>,
    #[prost(btree_map = "string, string", tag = "12")]
    annotations: BTreeMap<String, String>,
    #[prost(message, repeated, tag = "13")]
    owner_references: Vec<OwnerReference>,
    #[prost(string, repeated, tag = "14")]
    finalizers: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct NamespaceSpec {
    #[prost(string, repeated, tag = "1")]
    finalizers: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct Namespace {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(message, optional, tag = "2")]
    spec: Option<NamespaceSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct ConfigMap {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, string", tag = "2")]
    data: BTreeMap<String, String>,
    #[prost(btree_map = "string, bytes", tag = "3")]
    binary_data: BTreeMap<String, Vec<u8>>,
    #[prost(bool, optional, tag = "4")]
    immutable: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct Secret {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, bytes", tag = "2")]
    data: BTreeMap<String, Vec<u8>>,
    #[prost(string, optional, tag = "3")]
    r#type: Option<String>,
    #[prost(btree_map = "string, string", tag = "4")]
    string_data: BTreeMap<String, String>,
    #[prost(bool, optional, tag = "5")]
    immutable: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct LabelSelector {
    #[prost(btree_map = "string, string", tag = "1")]
    match_labels: BTreeMap<String, String>,
}

#[derive(Clone, PartialEq, Message)]
struct ContainerPort {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(int32, optional, tag = "3")]
    container_port: Option<i32>,
    #[prost(string, optional, tag = "4")]
    protocol: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct EnvVar {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    value: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct Container {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    image: Option<String>,
    #[prost(string, repeated, tag = "3")]
    command: Vec<String>,
    #[prost(string, repeated, tag = "4")]
    args: Vec<String>,
    #[prost(message, repeated, tag = "6")]
    ports: Vec<ContainerPort>,
    #[prost(message, repeated, tag = "7")]
    env: Vec<EnvVar>,
}

#[derive(Clone, PartialEq, Message)]
struct PodSpec {
    #[prost(message, repeated, tag = "2")]
    containers: Vec<Container>,
}

#[derive(Clone, PartialEq, Message)]
struct PodTemplateSpec {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(message, optional, tag = "2")]
    spec: Option<PodSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct DeploymentSpec {
    #[prost(int32, optional, tag = "1")]
    replicas: Option<i32>,
    #[prost(message, optional, tag = "2")]
    selector: Option<LabelSelector>,
    #[prost(message, optional, tag = "3")]
    template: Option<PodTemplateSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct Deployment {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(message, optional, tag = "2")]
    spec: Option<DeploymentSpec>,
}

fn strings(m: &BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn b64(m: &BTreeMap<String, Vec<u8>>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    json!(base64::engine::general_purpose::STANDARD.encode(v)),
                )
            })
            .collect(),
    )
}

fn meta(m: Option<ObjectMeta>) -> Value {
    let m = m.unwrap_or_default();
    let mut o = Map::new();
    if let Some(n) = m.name.filter(|n| !n.is_empty()) {
        o.insert("name".into(), json!(n));
    }
    if let Some(n) = m.generate_name.filter(|n| !n.is_empty()) {
        o.insert("generateName".into(), json!(n));
    }
    if let Some(n) = m.namespace.filter(|n| !n.is_empty()) {
        o.insert("namespace".into(), json!(n));
    }
    if !m.labels.is_empty() {
        o.insert("labels".into(), strings(&m.labels));
    }
    if !m.annotations.is_empty() {
        o.insert("annotations".into(), strings(&m.annotations));
    }
    if !m.owner_references.is_empty() {
        let refs: Vec<Value> = m
            .owner_references
            .iter()
            .map(|r| {
                let mut v = json!({"apiVersion": r.api_version, "kind": r.kind, "name": r.name, "uid": r.uid});
                if let Some(c) = r.controller {
                    v["controller"] = json!(c);
                }
                if let Some(b) = r.block_owner_deletion {
                    v["blockOwnerDeletion"] = json!(b);
                }
                v
            })
            .collect();
        o.insert("ownerReferences".into(), Value::Array(refs));
    }
    if !m.finalizers.is_empty() {
        o.insert("finalizers".into(), json!(m.finalizers));
    }
    Value::Object(o)
}

fn container(c: Container) -> Value {
    let mut v = json!({"name": c.name.unwrap_or_default(), "image": c.image.unwrap_or_default()});
    if !c.command.is_empty() {
        v["command"] = json!(c.command);
    }
    if !c.args.is_empty() {
        v["args"] = json!(c.args);
    }
    if !c.ports.is_empty() {
        v["ports"] = Value::Array(
            c.ports
                .into_iter()
                .map(|p| {
                    let mut pv = json!({"containerPort": p.container_port.unwrap_or(0)});
                    if let Some(n) = p.name.filter(|n| !n.is_empty()) {
                        pv["name"] = json!(n);
                    }
                    if let Some(pr) = p.protocol.filter(|n| !n.is_empty()) {
                        pv["protocol"] = json!(pr);
                    }
                    pv
                })
                .collect(),
        );
    }
    if !c.env.is_empty() {
        v["env"] = Value::Array(
            c.env
                .into_iter()
                .map(|e| json!({"name": e.name.unwrap_or_default(), "value": e.value.unwrap_or_default()}))
                .collect(),
        );
    }
    v["resources"] = json!({});
    v
}

/// The JSON form of a protobuf body, or an error message for a 415.
pub fn to_json(body: &[u8]) -> Result<Value, String> {
    let unsupported = || {
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml".to_string()
    };
    let payload = body.strip_prefix(b"k8s\0").ok_or_else(unsupported)?;
    let u = Unknown::decode(payload).map_err(|_| unsupported())?;
    let tm = u.type_meta.unwrap_or_default();
    let api_version = tm.api_version.unwrap_or_default();
    let kind = tm.kind.unwrap_or_default();
    let raw = u.raw.unwrap_or_default();
    let bad = |e: prost::DecodeError| format!("unable to decode {kind}: {e}");
    let mut obj = match kind.as_str() {
        "Namespace" => {
            let n = Namespace::decode(raw.as_slice()).map_err(bad)?;
            let mut v = json!({"metadata": meta(n.metadata)});
            if let Some(spec) = n.spec.filter(|s| !s.finalizers.is_empty()) {
                v["spec"] = json!({"finalizers": spec.finalizers});
            }
            v
        }
        "ConfigMap" => {
            let c = ConfigMap::decode(raw.as_slice()).map_err(bad)?;
            let mut v = json!({"metadata": meta(c.metadata)});
            if !c.data.is_empty() {
                v["data"] = strings(&c.data);
            }
            if !c.binary_data.is_empty() {
                v["binaryData"] = b64(&c.binary_data);
            }
            if let Some(i) = c.immutable {
                v["immutable"] = json!(i);
            }
            v
        }
        "Secret" => {
            let s = Secret::decode(raw.as_slice()).map_err(bad)?;
            let mut v = json!({"metadata": meta(s.metadata)});
            if !s.data.is_empty() {
                v["data"] = b64(&s.data);
            }
            if !s.string_data.is_empty() {
                v["stringData"] = strings(&s.string_data);
            }
            if let Some(t) = s.r#type.filter(|t| !t.is_empty()) {
                v["type"] = json!(t);
            }
            if let Some(i) = s.immutable {
                v["immutable"] = json!(i);
            }
            v
        }
        "Deployment" => {
            let d = Deployment::decode(raw.as_slice()).map_err(bad)?;
            let spec = d.spec.unwrap_or_default();
            let template = spec.template.unwrap_or_default();
            let containers: Vec<Value> = template
                .spec
                .unwrap_or_default()
                .containers
                .into_iter()
                .map(container)
                .collect();
            let mut s = json!({"selector": {"matchLabels": strings(&spec.selector.unwrap_or_default().match_labels)},
                "template": {"metadata": meta(template.metadata), "spec": {"containers": containers}},
                "strategy": {}});
            if let Some(r) = spec.replicas {
                s["replicas"] = json!(r);
            }
            json!({"metadata": meta(d.metadata), "spec": s, "status": {}})
        }
        "Eviction" | "DeleteOptions" => json!({}),
        _ => return Err(unsupported()),
    };
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}
