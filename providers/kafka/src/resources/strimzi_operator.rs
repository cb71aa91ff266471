//! `strimzi_operator`: Strimzi's Cluster Operator installed from the files the user gives
//! (Strimzi's `install/cluster-operator/*.yaml`; the project ships no copy): CRDs first (waited
//! on until Established), then RBAC, ConfigMap and Deployment placed in `namespace`, RoleBindings
//! repeated in each watched namespace, `STRIMZI_NAMESPACE` set to the watched namespaces. Ready
//! when the Deployment has rolled out. Without `manifests` (Strimzi installed otherwise, or the
//! lab, whose simulated operator serves its own CRDs) it is ready once Strimzi's kinds are served.
//! A destroy removes the operator and its RBAC but keeps the CRDs: deleting them would delete
//! every Kafka and topic in the cluster.

use std::time::Duration;

use brick_provider_api::provider::{ApplyResponse, PlanResponse, Progress};
use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use brick_provider_k8s::convert::to_json;
use brick_provider_k8s::machinery::Cluster;
use brick_provider_k8s::ready::{Status, kstatus};
use brick_provider_k8s::resources::documents::split;
use serde_json::{Value as Json, json};

use crate::strimzi::API_VERSION;
use crate::strimzi::kube::{self, ObjRef, Standing};
use crate::value::{s, str_attr};

pub const TYPE: &str = "strimzi_operator";

/// The Deployment Strimzi's install files name.
pub const DEPLOYMENT: &str = "strimzi-cluster-operator";

/// The kinds a Strimzi cluster needs served (`kafka.strimzi.io/v1`).
pub const KINDS: &[&str] = &["Kafka", "KafkaNodePool", "KafkaTopic"];

/// How long an apply waits for the CRDs and the operator's rollout.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10 * 60);

pub fn schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "id",
                Attribute::computed(Type::String).describe("The operator's namespace."),
            )
            .attr(
                "namespace",
                Attribute::required(Type::String)
                    .forces_replacement()
                    .describe("The namespace the operator runs in (it must exist)."),
            )
            .attr(
                "manifests",
                Attribute::optional(Type::List(Box::new(Type::String))).describe(
                    "Strimzi's install files (install/cluster-operator/*.yaml of a release), each as YAML text, e.g. [for f in fileset(dir, \"*.yaml\") : file(\"${dir}/${f}\")]. Unset: Strimzi is installed already (or the lab serves it); brick only checks its kinds are served.",
                ),
            )
            .attr(
                "watch_namespaces",
                Attribute::optional(Type::List(Box::new(Type::String))).describe(
                    "The namespaces whose Kafka resources the operator manages. Default: its own.",
                ),
            )
            .attr(
                "wait_for_rollout",
                Attribute::optional(Type::Bool).describe(
                    "Wait until the operator's Deployment has rolled out. Default true.",
                ),
            ),
    }
}

fn err(code: &str, summary: &str, detail: impl Into<String>) -> Diagnostic {
    Diagnostic::error(format!("brick::strimzi::{code}"), summary, detail)
}

fn texts(v: &Value) -> Vec<&str> {
    v.get("manifests")
        .and_then(Value::as_sequence)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn watched(v: &Value) -> Vec<String> {
    let own = str_attr(v, "namespace").unwrap_or("").to_string();
    match v.get("watch_namespaces").and_then(Value::as_sequence) {
        Some(l) if !l.is_empty() => l
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![own],
    }
}

/// The documents of the manifests, in the files' order (`Err` names the file).
fn documents(v: &Value) -> Result<Vec<Json>, Diagnostic> {
    let mut out = Vec::new();
    for (i, text) in texts(v).into_iter().enumerate() {
        let (keys, docs) = split(text).map_err(|d| {
            err(
                "manifests",
                "Invalid Strimzi manifests",
                format!("manifests[{i}]: {}", d.detail),
            )
            .at(["manifests"])
        })?;
        for k in keys {
            out.push(to_json(&docs[&k]));
        }
    }
    Ok(out)
}

pub fn validate(config: &Value) -> Diagnostics {
    if !config.get("manifests").is_some_and(Value::is_wholly_known) {
        return Vec::new();
    }
    let docs = match documents(config) {
        Ok(d) => d,
        Err(d) => return vec![d],
    };
    let mut d = Vec::new();
    if !docs.is_empty()
        && !docs.iter().any(|doc| {
            doc["kind"] == "Deployment" && doc.pointer("/metadata/name") == Some(&json!(DEPLOYMENT))
        })
    {
        d.push(
            err(
                "manifests",
                "No Strimzi operator in the manifests",
                format!("The manifests hold no Deployment {DEPLOYMENT}: give Strimzi's install/cluster-operator files."),
            )
            .at(["manifests"]),
        );
    }
    for doc in &docs {
        if let Some(v) = doc["apiVersion"].as_str()
            && v.starts_with("kafka.strimzi.io/")
            && v != API_VERSION
        {
            d.push(
                err(
                    "api_version_removed",
                    "Strimzi API version not served",
                    format!(
                        "The manifests hold a {} of {v}; Strimzi 1.x serves only {API_VERSION}.",
                        doc["kind"]
                    ),
                )
                .at(["manifests"]),
            );
        }
    }
    d
}

pub fn plan(_prior: &Value, proposed: &Value) -> PlanResponse {
    if proposed.is_null() {
        return PlanResponse::planned(proposed.clone());
    }
    let mut m = proposed.as_mapping().cloned().unwrap_or_default();
    m.insert(
        "id".into(),
        proposed
            .get("namespace")
            .cloned()
            .unwrap_or_else(|| Value::unknown(Type::String)),
    );
    PlanResponse::planned(Value::object(m))
}

fn is_crd(doc: &Json) -> bool {
    doc["kind"] == "CustomResourceDefinition"
}

/// Strimzi's documents placed for this installation: namespaced objects in `namespace`,
/// binding subjects pointing there, RoleBindings repeated in each other watched namespace,
/// and the Deployment's `STRIMZI_NAMESPACE` listing the watched namespaces.
pub fn placed(docs: Vec<Json>, namespace: &str, watch: &[String]) -> Vec<Json> {
    let mut out = Vec::new();
    for mut doc in docs {
        let kind = doc["kind"].as_str().unwrap_or("").to_string();
        if let Some(subjects) = doc.get_mut("subjects").and_then(Json::as_array_mut) {
            for sub in subjects {
                if sub.get("namespace").is_some() || sub["kind"] == "ServiceAccount" {
                    sub["namespace"] = json!(namespace);
                }
            }
        }
        let namespaced = matches!(
            kind.as_str(),
            "ServiceAccount" | "Deployment" | "ConfigMap" | "RoleBinding" | "Role" | "Secret"
        );
        if namespaced {
            doc["metadata"]["namespace"] = json!(namespace);
        }
        if kind == "Deployment" {
            let list = watch.join(",");
            if let Some(containers) = doc
                .pointer_mut("/spec/template/spec/containers")
                .and_then(Json::as_array_mut)
            {
                for c in containers {
                    if let Some(env) = c.get_mut("env").and_then(Json::as_array_mut) {
                        for e in env.iter_mut() {
                            if e["name"] == "STRIMZI_NAMESPACE" && watch != [namespace] {
                                *e = json!({"name": "STRIMZI_NAMESPACE", "value": list});
                            }
                        }
                    }
                }
            }
        }
        if kind == "RoleBinding" {
            for ns in watch.iter().filter(|w| *w != namespace) {
                let mut copy = doc.clone();
                copy["metadata"]["namespace"] = json!(ns);
                out.push(copy);
            }
        }
        out.push(doc);
    }
    // CRDs first, then the rest in the files' order.
    out.sort_by_key(|d| !is_crd(d));
    out
}

fn standing(obj: &Json) -> Standing {
    match kstatus(obj) {
        Status::Ready => Standing::Ready,
        Status::Waiting(w) => Standing::Waiting(w),
        Status::Failed(f) => Standing::Failed(f),
    }
}

/// Whether Strimzi's kinds are served; what is missing otherwise.
async fn served(cluster: &Cluster) -> Result<Option<String>, Diagnostic> {
    for kind in KINDS {
        if cluster.kind(API_VERSION, kind).await?.is_none() {
            return Ok(Some(format!("{kind} ({API_VERSION}) is not served yet")));
        }
    }
    Ok(None)
}

pub async fn apply(
    cluster: &Cluster,
    prior: &Value,
    planned: &Value,
    progress: &dyn Progress,
) -> ApplyResponse {
    if planned.is_null() {
        return destroy(cluster, prior, progress).await;
    }
    let fail = |d: Diagnostic| ApplyResponse::failed(prior, vec![d]);
    let ns = str_attr(planned, "namespace").unwrap_or("");
    let docs = match documents(planned) {
        Ok(d) => placed(d, ns, &watched(planned)),
        Err(d) => return fail(d),
    };
    let mut crds = Vec::new();
    for doc in &docs {
        if !is_crd(doc) && !crds.is_empty() {
            // The CRDs before anything that may need them.
            for r in std::mem::take(&mut crds) {
                if let Err(d) =
                    kube::wait_until(cluster, &r, READY_TIMEOUT, progress, standing).await
                {
                    return fail(d);
                }
            }
        }
        match kube::apply(cluster, doc).await {
            Ok(_) if is_crd(doc) => crds.extend(ObjRef::from_json(doc)),
            Ok(_) => {}
            Err(d) => return fail(d),
        }
    }
    let deadline = std::time::Instant::now() + READY_TIMEOUT;
    loop {
        match served(cluster).await {
            Ok(None) => break,
            Ok(Some(why)) => {
                if std::time::Instant::now() >= deadline {
                    return fail(
                        err(
                            "not_ready",
                            "Strimzi not served",
                            format!("After {} s: {why}.", READY_TIMEOUT.as_secs()),
                        )
                        .with_help(
                            "Give Strimzi's install files in manifests, or install Strimzi first.",
                        ),
                    );
                }
                progress.report(&why);
                tokio::time::sleep(kube::POLL).await;
            }
            Err(d) => return fail(d),
        }
    }
    let has_deployment = docs.iter().any(|d| d["kind"] == "Deployment");
    if has_deployment
        && planned
            .get("wait_for_rollout")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    {
        let r = kube::obj("apps/v1", "Deployment", Some(ns), DEPLOYMENT);
        if let Err(d) = kube::wait_until(cluster, &r, READY_TIMEOUT, progress, standing).await {
            return ApplyResponse {
                new_state: planned.clone(),
                diagnostics: vec![d],
            };
        }
    }
    ApplyResponse::done(planned.clone())
}

async fn destroy(cluster: &Cluster, prior: &Value, progress: &dyn Progress) -> ApplyResponse {
    let ns = str_attr(prior, "namespace").unwrap_or("");
    let docs = match documents(prior) {
        Ok(d) => placed(d, ns, &watched(prior)),
        Err(d) => return ApplyResponse::failed(prior, vec![d]),
    };
    let mut diags = Vec::new();
    // The operator first (so it stops reconciling), then its RBAC; CRDs stay.
    let mut order: Vec<&Json> = docs.iter().filter(|d| !is_crd(d)).collect();
    order.sort_by_key(|d| d["kind"] != "Deployment");
    for doc in order {
        if let Some(r) = ObjRef::from_json(doc) {
            let wait = (r.kind == "Deployment").then_some((Duration::from_secs(120), progress));
            if let Err(d) = kube::delete(cluster, &r, wait).await {
                diags.push(d);
            }
        }
    }
    ApplyResponse {
        new_state: if diags.is_empty() {
            Value::null_dynamic()
        } else {
            prior.clone()
        },
        diagnostics: diags,
    }
}

/// The installation as it is: `None` when its Deployment is gone (with manifests) or Strimzi's
/// kinds are not served (without).
pub async fn read(cluster: &Cluster, current: &Value) -> Result<Option<Value>, Diagnostics> {
    let ns = str_attr(current, "namespace").unwrap_or("");
    let mut out = current.clone();
    if let Some(m) = out.as_mapping().cloned() {
        let mut m = m;
        m.insert("id".into(), s(ns));
        out = Value::object(m);
    }
    if texts(current).is_empty() {
        return match served(cluster).await.map_err(|d| vec![d])? {
            None => Ok(Some(out)),
            Some(_) => Ok(None),
        };
    }
    let r = kube::obj("apps/v1", "Deployment", Some(ns), DEPLOYMENT);
    Ok(kube::get(cluster, &r)
        .await
        .map_err(|d| vec![d])?
        .map(|_| out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strimzis_files_are_placed_in_the_namespace_and_watch_the_listed_ones() {
        let docs = vec![
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "strimzi-cluster-operator"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rb"},
                   "subjects": [{"kind": "ServiceAccount", "name": "strimzi-cluster-operator", "namespace": "myproject"}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "crb"},
                   "subjects": [{"kind": "ServiceAccount", "name": "strimzi-cluster-operator", "namespace": "myproject"}]}),
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "kafkas.kafka.strimzi.io"}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": DEPLOYMENT},
                   "spec": {"template": {"spec": {"containers": [{"name": "op", "env": [
                       {"name": "STRIMZI_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]}]}}}}),
        ];
        let out = placed(docs, "strimzi", &["strimzi".into(), "kafka".into()]);
        let kinds: Vec<(&str, Option<&str>)> = out
            .iter()
            .map(|d| {
                (
                    d["kind"].as_str().unwrap(),
                    d.pointer("/metadata/namespace").and_then(Json::as_str),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("CustomResourceDefinition", None),
                ("ServiceAccount", Some("strimzi")),
                ("RoleBinding", Some("kafka")),
                ("RoleBinding", Some("strimzi")),
                ("ClusterRoleBinding", None),
                ("Deployment", Some("strimzi")),
            ]
        );
        assert_eq!(out[2]["subjects"][0]["namespace"], "strimzi");
        assert_eq!(out[4]["subjects"][0]["namespace"], "strimzi");
        assert_eq!(
            out[5].pointer("/spec/template/spec/containers/0/env/0"),
            Some(&json!({"name": "STRIMZI_NAMESPACE", "value": "strimzi,kafka"}))
        );
    }

    #[test]
    fn install_files_holding_strimzi_0x_v1beta2_objects_are_refused_with_the_served_version() {
        let files = [
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: strimzi-cluster-operator\n",
            "apiVersion: kafka.strimzi.io/v1beta2\nkind: Kafka\nmetadata:\n  name: my-cluster\nspec:\n  zookeeper:\n    replicas: 3\n",
        ];
        let config = Value::object(
            [
                ("namespace".to_string(), s("strimzi")),
                (
                    "manifests".to_string(),
                    Value::list(Type::String, files.iter().map(|f| s(*f)).collect()),
                ),
            ]
            .into(),
        );
        let d = validate(&config);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, "brick::strimzi::api_version_removed");
        assert!(
            d[0].detail.contains("kafka.strimzi.io/v1beta2")
                && d[0]
                    .detail
                    .contains("Strimzi 1.x serves only kafka.strimzi.io/v1"),
            "{}",
            d[0].detail
        );
        assert_eq!(d[0].attribute, ["manifests"]);
    }

    #[test]
    fn the_real_install_files_validate_when_present() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        // Beside the repository: ../shared for the main checkout, ../../shared for a worktree.
        let Some(entries) = ["../shared", "../../shared"].iter().find_map(|d| {
            std::fs::read_dir(repo.join(d).join("manifests/strimzi-1.2.0/install")).ok()
        }) else {
            brick_provider_api::testing::skip_without_reference_data(
                "../shared/manifests/strimzi-1.2.0 is absent beside the repository",
            );
            return;
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        let texts: Vec<Value> = files
            .iter()
            .map(|f| s(std::fs::read_to_string(f).unwrap()))
            .collect();
        let config = Value::object(
            [
                ("namespace".to_string(), s("strimzi")),
                ("manifests".to_string(), Value::list(Type::String, texts)),
            ]
            .into(),
        );
        assert!(validate(&config).is_empty());
        let docs = placed(documents(&config).unwrap(), "strimzi", &["strimzi".into()]);
        assert_eq!(docs.iter().filter(|d| is_crd(d)).count(), 10);
        assert!(docs[..10].iter().all(is_crd), "CRDs first");
        assert!(
            docs.iter()
                .filter_map(|d| d["subjects"].as_array())
                .flatten()
                .all(|s| s["namespace"] == "strimzi")
        );
    }
}
