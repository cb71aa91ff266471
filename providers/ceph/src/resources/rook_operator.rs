//! `rook_operator`: Rook's CRDs, common objects and operator, from the release files the user
//! gives (brick ships no copy), with the kubelet directory set where Rook reads it — the
//! operator ConfigMap's `ROOK_CSI_KUBELET_DIR_PATH` (Rook ≤ 1.16) and the CSI operator's
//! `OperatorConfig` `nodePlugin.kubeletDirPath` (Rook ≥ 1.17) — and every other kubelet key
//! refused, since Rook silently ignores a wrong one. Without files, a minimal operator for a
//! cluster that has Rook's CRDs already (the lab's simulated operator brings its own).

use std::collections::BTreeMap;

use brick_provider_api::provider::PlanResponse;
use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use brick_provider_k8s::convert::to_json;
use brick_provider_k8s::resources::documents;
use serde_json::{Value as Json, json};

use crate::convert::{n, s, str_attr};

pub const TYPE: &str = "rook_operator";
/// MicroK8s keeps the kubelet's data here, not in /var/lib/kubelet.
pub const MICROK8S_KUBELET_DIR: &str = "/var/snap/microk8s/common/var/lib/kubelet";
/// The operator ConfigMap key Rook reads the kubelet directory from.
pub const KUBELET_KEY: &str = "ROOK_CSI_KUBELET_DIR_PATH";
pub const CONFIG_MAP: &str = "rook-ceph-operator-config";
pub const DEPLOYMENT: &str = "rook-ceph-operator";
pub const DEFAULT_IMAGE: &str = "docker.io/rook/ceph:v1.20.6";

pub fn schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr("id", Attribute::computed(Type::String).describe("The operator's namespace."))
            .attr(
                "namespace",
                Attribute::optional(Type::String)
                    .default(s("rook-ceph"))
                    .forces_replacement()
                    .describe("The operator's namespace; the documents must use it. Default: rook-ceph."),
            )
            .attr(
                "documents",
                Attribute::optional(Type::list(Type::String)).describe(
                    "Rook's release files as YAML text, e.g. [file(\"crds.yaml\"), file(\"common.yaml\"), file(\"operator.yaml\")]. Unset: a minimal operator (Namespace, ConfigMap, Deployment) for clusters that have Rook's CRDs and RBAC.",
                ),
            )
            .attr(
                "kubelet_dir",
                Attribute::optional(Type::String)
                    .default(s(MICROK8S_KUBELET_DIR))
                    .describe("The kubelet's directory on the nodes, for Rook's CSI driver. Default: MicroK8s' /var/snap/microk8s/common/var/lib/kubelet."),
            )
            .attr(
                "settings",
                Attribute::optional(Type::map(Type::String))
                    .describe("More keys for the operator ConfigMap rook-ceph-operator-config (ROOK_LOG_LEVEL, …)."),
            )
            .attr(
                "image",
                Attribute::optional(Type::String)
                    .default(s(DEFAULT_IMAGE))
                    .describe("The operator image of the minimal operator (without documents)."),
            )
            .attr(
                "kubelet_dir_keys",
                Attribute::computed(Type::list(Type::String))
                    .describe("Where brick wrote kubelet_dir: `ConfigMap rook-ceph/rook-ceph-operator-config ROOK_CSI_KUBELET_DIR_PATH`, …"),
            )
            .attr(
                "objects",
                Attribute::computed(Type::Number).describe("How many objects the operator consists of."),
            ),
    }
}

fn err(code: &str, summary: &str, detail: impl Into<String>) -> Diagnostic {
    Diagnostic::error(format!("brick::rook::{code}"), summary, detail)
}

/// The objects to apply, in order (CRDs, then Namespaces, then the rest as written), and
/// where kubelet_dir was written. `Err` when the documents cannot be parsed, lack the operator,
/// use another namespace or carry a kubelet key Rook ignores.
pub fn render(v: &Value) -> Result<(Vec<Json>, Vec<String>), Diagnostics> {
    let ns = str_attr(v, "namespace").unwrap_or("rook-ceph");
    let kubelet = str_attr(v, "kubelet_dir").unwrap_or(MICROK8S_KUBELET_DIR);
    let settings: BTreeMap<String, String> = v
        .get("settings")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, x)| Some((k.clone(), x.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let mut d = Vec::new();
    let docs = v
        .get("documents")
        .and_then(Value::as_sequence)
        .filter(|l| !l.is_empty());
    let mut objs: Vec<Json> = match docs {
        Some(list) => {
            let mut out = Vec::new();
            for (i, text) in list.iter().enumerate() {
                let Some(text) = text.as_str() else { continue };
                match documents::split(text) {
                    Ok((keys, map)) => out.extend(keys.iter().map(|k| to_json(&map[k]))),
                    Err(e) => d.push(
                        err(
                            "invalid_documents",
                            "Invalid Rook document",
                            format!("documents[{i}]: {}", e.detail),
                        )
                        .at(["documents"]),
                    ),
                }
            }
            out
        }
        None => minimal(ns, str_attr(v, "image").unwrap_or(DEFAULT_IMAGE)),
    };
    if !d.is_empty() {
        return Err(d);
    }
    let is = |o: &Json, kind: &str, name: &str| {
        o["kind"] == kind && o.pointer("/metadata/name").and_then(Json::as_str) == Some(name)
    };
    match objs.iter().find(|o| is(o, "Deployment", DEPLOYMENT)) {
        None => d.push(
            err(
                "no_operator",
                "No Rook operator in the documents",
                format!("The documents have no Deployment {DEPLOYMENT}: brick would install Rook's CRDs but no operator to act on them."),
            )
            .at(["documents"])
            .with_help("Include Rook's operator.yaml (deploy/examples/operator.yaml of the release)."),
        ),
        Some(dep) => {
            let dep_ns = dep.pointer("/metadata/namespace").and_then(Json::as_str).unwrap_or("default");
            if dep_ns != ns {
                d.push(
                    err(
                        "operator_namespace",
                        "Operator namespace mismatch",
                        format!("The documents put the operator in namespace {dep_ns}, but namespace = \"{ns}\"."),
                    )
                    .at(["namespace"])
                    .with_help(format!("Set namespace = \"{dep_ns}\", or edit the documents' `namespace:operator` lines (and their RBAC subjects) to {ns}.")),
                );
            }
        }
    }
    // Every kubelet key Rook would ignore, wherever the user could have put one.
    let mut wrong: Vec<String> = settings
        .keys()
        .filter(|k| looks_like_kubelet_key(k))
        .map(|k| format!("settings[\"{k}\"]"))
        .collect();
    for o in &objs {
        if is(o, "ConfigMap", CONFIG_MAP)
            && let Some(data) = o["data"].as_object()
        {
            wrong.extend(
                data.keys()
                    .filter(|k| looks_like_kubelet_key(k))
                    .map(|k| format!("ConfigMap {CONFIG_MAP} key {k}")),
            );
        }
        if is(o, "Deployment", DEPLOYMENT) {
            for c in o
                .pointer("/spec/template/spec/containers")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                for e in c["env"].as_array().into_iter().flatten() {
                    if let Some(name) = e["name"].as_str().filter(|k| looks_like_kubelet_key(k)) {
                        wrong.push(format!("Deployment {DEPLOYMENT} env {name}"));
                    }
                }
            }
        }
    }
    if !wrong.is_empty() {
        d.push(
            err(
                "ignored_kubelet_key",
                "Kubelet directory under a key Rook ignores",
                format!(
                    "{} would be silently ignored by Rook, which reads the kubelet directory only from {KUBELET_KEY} (and, with the CSI operator, OperatorConfig nodePlugin.kubeletDirPath); its CSI driver would then look for volumes in the wrong place.",
                    wrong.join(", ")
                ),
            )
            .at([if wrong[0].starts_with("settings") { "settings" } else { "documents" }])
            .with_help("Remove that key and set kubelet_dir instead: brick writes it under every key Rook reads."),
        );
    }
    if !d.is_empty() {
        return Err(d);
    }
    // The operator ConfigMap carries the kubelet directory and the settings.
    let mut keys = Vec::new();
    let cm_at = objs.iter().position(|o| is(o, "ConfigMap", CONFIG_MAP));
    let cm_at = match cm_at {
        Some(i) => i,
        None => {
            let at = objs
                .iter()
                .position(|o| is(o, "Deployment", DEPLOYMENT))
                .unwrap_or(objs.len());
            objs.insert(
                at,
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIG_MAP, "namespace": ns}, "data": {}}),
            );
            at
        }
    };
    {
        let cm = &mut objs[cm_at];
        if !cm["data"].is_object() {
            cm["data"] = json!({});
        }
        let data = cm["data"].as_object_mut().expect("data is an object");
        for (k, x) in &settings {
            data.insert(k.clone(), json!(x));
        }
        data.insert(KUBELET_KEY.into(), json!(kubelet));
        keys.push(format!("ConfigMap {ns}/{CONFIG_MAP} {KUBELET_KEY}"));
    }
    for o in objs.iter_mut() {
        let group = o["apiVersion"]
            .as_str()
            .unwrap_or("")
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        if group == "csi.ceph.io" && o["kind"] == "OperatorConfig" {
            let name = o
                .pointer("/metadata/name")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string();
            let spec = o
                .as_object_mut()
                .expect("object")
                .entry("spec")
                .or_insert(json!({}));
            let defaults = spec
                .as_object_mut()
                .map(|m| m.entry("driverSpecDefaults").or_insert(json!({})));
            if let Some(defaults) = defaults
                && let Some(m) = defaults.as_object_mut()
            {
                let node = m.entry("nodePlugin").or_insert(json!({}));
                if let Some(node) = node.as_object_mut() {
                    node.insert("kubeletDirPath".into(), json!(kubelet));
                    keys.push(format!("OperatorConfig {ns}/{name} spec.driverSpecDefaults.nodePlugin.kubeletDirPath"));
                }
            }
        }
        if is(o, "Deployment", DEPLOYMENT) {
            for c in o
                .pointer_mut("/spec/template/spec/containers")
                .and_then(Json::as_array_mut)
                .into_iter()
                .flatten()
            {
                for e in c["env"].as_array_mut().into_iter().flatten() {
                    if e["name"] == KUBELET_KEY {
                        e["value"] = json!(kubelet);
                        keys.push(format!("Deployment {ns}/{DEPLOYMENT} env {KUBELET_KEY}"));
                    }
                }
            }
        }
    }
    // CRDs first, then namespaces, then the rest as written.
    let rank = |o: &Json| match o["kind"].as_str() {
        Some("CustomResourceDefinition") => 0,
        Some("Namespace") => 1,
        _ => 2,
    };
    objs.sort_by_key(rank);
    Ok((objs, keys))
}

/// A key that names the kubelet but is not the one Rook reads.
fn looks_like_kubelet_key(k: &str) -> bool {
    k.to_ascii_uppercase().contains("KUBELET") && k != KUBELET_KEY
}

/// The operator without Rook's files: its namespace, ConfigMap and Deployment.
fn minimal(ns: &str, image: &str) -> Vec<Json> {
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIG_MAP, "namespace": ns}, "data": {}}),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": DEPLOYMENT, "namespace": ns, "labels": {"operator": "rook", "storage-backend": "ceph"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": DEPLOYMENT}},
                "template": {
                    "metadata": {"labels": {"app": DEPLOYMENT}},
                    "spec": {
                        "serviceAccountName": "rook-ceph-system",
                        "containers": [{
                            "name": DEPLOYMENT,
                            "image": image,
                            "args": ["ceph", "operator"],
                            "env": [
                                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
                            ]
                        }]
                    }
                }
            }
        }),
    ]
}

pub fn validate(config: &Value) -> Diagnostics {
    if !config.is_wholly_known() {
        return Vec::new();
    }
    render(config).err().unwrap_or_default()
}

pub fn plan(prior: &Value, proposed: &Value) -> PlanResponse {
    let mut resp = PlanResponse::planned(proposed.clone());
    if proposed.is_null() || !proposed.is_known() {
        return resp;
    }
    let mut m = proposed.as_mapping().cloned().unwrap_or_default();
    m.insert(
        "id".into(),
        proposed
            .get("namespace")
            .cloned()
            .unwrap_or(Value::unknown(Type::String)),
    );
    if proposed.is_wholly_known() {
        match render(proposed) {
            Ok((objs, keys)) => {
                m.insert("objects".into(), n(objs.len() as i64));
                m.insert(
                    "kubelet_dir_keys".into(),
                    Value::list(Type::String, keys.into_iter().map(s).collect()),
                );
            }
            Err(d) => resp.diagnostics = d,
        }
    } else {
        m.insert("objects".into(), Value::unknown(Type::Number));
        m.insert(
            "kubelet_dir_keys".into(),
            Value::unknown(Type::list(Type::String)),
        );
    }
    let _ = prior;
    resp.planned = Value::object(m);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(docs: Option<Vec<&str>>, settings: &[(&str, &str)]) -> Value {
        Value::object_from([
            ("namespace", s("rook-ceph")),
            (
                "documents",
                docs.map_or(Value::null(Type::list(Type::String)), |d| {
                    Value::list(Type::String, d.into_iter().map(s).collect())
                }),
            ),
            ("kubelet_dir", s(MICROK8S_KUBELET_DIR)),
            (
                "settings",
                Value::map(
                    Type::String,
                    settings
                        .iter()
                        .map(|(k, v)| (k.to_string(), s(*v)))
                        .collect(),
                ),
            ),
            ("image", s(DEFAULT_IMAGE)),
        ])
    }

    const OPERATOR: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rook-ceph-operator-config\n  namespace: rook-ceph\ndata:\n  ROOK_LOG_LEVEL: INFO\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: rook-ceph-operator\n  namespace: rook-ceph\nspec:\n  template:\n    spec:\n      containers:\n        - name: rook-ceph-operator\n          env:\n            - name: ROOK_CURRENT_NAMESPACE_ONLY\n              value: \"false\"\n";
    const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: cephclusters.ceph.rook.io\n";

    #[test]
    fn the_kubelet_dir_goes_into_the_key_rook_reads_and_crds_come_first() {
        let (objs, keys) = render(&op(
            Some(vec![OPERATOR, CRD]),
            &[("ROOK_LOG_LEVEL", "DEBUG")],
        ))
        .unwrap();
        assert_eq!(objs[0]["kind"], "CustomResourceDefinition");
        assert_eq!(objs[1]["data"][KUBELET_KEY], MICROK8S_KUBELET_DIR);
        assert_eq!(objs[1]["data"]["ROOK_LOG_LEVEL"], "DEBUG");
        assert_eq!(
            keys,
            [format!("ConfigMap rook-ceph/{CONFIG_MAP} {KUBELET_KEY}")]
        );
    }

    #[test]
    fn a_kubelet_key_rook_ignores_is_refused() {
        let e = render(&op(Some(vec![OPERATOR]), &[("CSI_KUBELET_DIR_PATH", "/x")])).unwrap_err();
        assert_eq!(e[0].code, "brick::rook::ignored_kubelet_key");
        assert!(
            e[0].detail.contains("settings[\"CSI_KUBELET_DIR_PATH\"]"),
            "{}",
            e[0].detail
        );
        let in_docs = OPERATOR.replace("ROOK_LOG_LEVEL: INFO", "ROOK_CSI_KUBELET_PATH: /x");
        let e = render(&op(Some(vec![&in_docs]), &[])).unwrap_err();
        assert!(
            e[0].detail.contains("key ROOK_CSI_KUBELET_PATH"),
            "{}",
            e[0].detail
        );
    }

    #[test]
    fn documents_without_the_operator_or_in_another_namespace_are_refused() {
        let e = render(&op(Some(vec![CRD]), &[])).unwrap_err();
        assert_eq!(e[0].code, "brick::rook::no_operator");
        let other = OPERATOR.replace("namespace: rook-ceph", "namespace: elsewhere");
        let e = render(&op(Some(vec![&other]), &[])).unwrap_err();
        assert_eq!(e[0].code, "brick::rook::operator_namespace");
    }

    #[test]
    fn the_csi_operators_config_gets_the_kubelet_dir_too() {
        let csi = "apiVersion: csi.ceph.io/v1\nkind: OperatorConfig\nmetadata:\n  name: ceph-csi-operator-config\n  namespace: rook-ceph\nspec:\n  driverSpecDefaults:\n    nodePlugin:\n      kubeletDirPath: /var/lib/kubelet\n";
        let (objs, keys) = render(&op(Some(vec![OPERATOR, csi]), &[])).unwrap();
        let oc = objs.iter().find(|o| o["kind"] == "OperatorConfig").unwrap();
        assert_eq!(
            oc["spec"]["driverSpecDefaults"]["nodePlugin"]["kubeletDirPath"],
            MICROK8S_KUBELET_DIR
        );
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn without_documents_a_minimal_operator_is_rendered() {
        let (objs, _) = render(&op(None, &[])).unwrap();
        let kinds: Vec<&str> = objs.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["Namespace", "ConfigMap", "Deployment"]);
    }
}
