//! The `strimzi` provider: Kafka on Kubernetes through Strimzi (`kafka.strimzi.io/v1`, KRaft).
//! Resources `strimzi_operator`, `strimzi_kafka` and `strimzi_topic`
//! (`crate::resources::strimzi_*`); it connects with the k8s provider's configuration and
//! talks to the API server through [`kube`]. Its plan check refuses, before anything is
//! applied, a topic with more replicas than its cluster has brokers, `min.insync.replicas`
//! above the replicas, a replicas change without Cruise Control, a topic also managed by a
//! `kafka_topic`, Strimzi's old `v1beta2` documents written as `k8s_manifest`s, and a node
//! removal (`microk8s_node` destroyed) that leaves a Kafka fewer schedulable nodes than pods.

pub mod drift;
pub mod kube;

use std::collections::BTreeMap;
use std::sync::RwLock;

use async_trait::async_trait;
use brick_provider_api::provider::{
    ApplyRequest, ApplyResponse, ChangeAction, ChangeDiagnostic, ImportedResource, PlanRequest,
    PlanResponse, PlannedChange, ReadRequest,
};
use brick_provider_api::schema::ProviderSchema;
use brick_provider_api::{Diagnostic, Diagnostics, Provider, Value};
use brick_provider_k8s::machinery::{self, Cluster};
use serde_json::{Value as Json, json};

use crate::checks::{self, Planned};
use crate::resources::{strimzi_kafka, strimzi_operator, strimzi_topic};
use crate::value::{int_attr, str_attr};

/// The only API version Strimzi 1.x serves.
pub const API_VERSION: &str = "kafka.strimzi.io/v1";

/// The label that ties a KafkaTopic (or a KafkaNodePool) to its Kafka.
pub const CLUSTER_LABEL: &str = "strimzi.io/cluster";

/// A configuration map as Strimzi's YAML examples write it: whole numbers and true/false as
/// such, everything else as strings (Strimzi and Kafka accept both).
pub fn config_json(cfg: &BTreeMap<String, String>) -> Json {
    Json::Object(
        cfg.iter()
            .map(|(k, v)| {
                let j = if let Ok(i) = v.parse::<i64>()
                    && i.to_string() == *v
                {
                    json!(i)
                } else if v == "true" || v == "false" {
                    json!(v == "true")
                } else {
                    json!(v)
                };
                (k.clone(), j)
            })
            .collect(),
    )
}

/// A Kubernetes quantity (`100Gi`, `1.5T`, `500M`, `1e9`) in bytes, for comparisons.
pub fn quantity_bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(q.len());
    let (num, unit) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "m" => 1e-3,
        _ => return None,
    };
    (n >= 0.0).then_some(n * mult)
}

/// The Strimzi provider.
#[derive(Default)]
pub struct StrimziProvider {
    cluster: RwLock<Option<Cluster>>,
}

fn unknown_type(type_name: &str) -> Diagnostics {
    vec![Diagnostic::unknown_type("strimzi", type_name)]
}

impl StrimziProvider {
    fn cluster(&self) -> Result<Cluster, Diagnostics> {
        self.cluster.read().expect("cluster lock").clone().ok_or_else(|| {
            vec![Diagnostic::error(
                "brick::strimzi::unconfigured",
                "Provider not configured",
                "The strimzi provider was used before it was configured (its configuration is not known yet).",
            )]
        })
    }
}

#[async_trait]
impl Provider for StrimziProvider {
    fn name(&self) -> &str {
        "strimzi"
    }

    fn schema(&self) -> ProviderSchema {
        let mut s = ProviderSchema {
            provider: machinery::provider_block(),
            ..Default::default()
        };
        s.resources
            .insert(strimzi_operator::TYPE.into(), strimzi_operator::schema());
        s.resources
            .insert(strimzi_kafka::TYPE.into(), strimzi_kafka::schema());
        s.resources
            .insert(strimzi_topic::TYPE.into(), strimzi_topic::schema());
        s
    }

    async fn configure(&self, config: &Value) -> Diagnostics {
        match Cluster::connect(config).await {
            Ok(c) => {
                *self.cluster.write().expect("cluster lock") = Some(c);
                Vec::new()
            }
            Err(d) => vec![d],
        }
    }

    fn validate_resource(&self, type_name: &str, config: &Value) -> Diagnostics {
        match type_name {
            strimzi_operator::TYPE => strimzi_operator::validate(config),
            strimzi_kafka::TYPE => strimzi_kafka::validate(config),
            strimzi_topic::TYPE => strimzi_topic::validate(config),
            other => unknown_type(other),
        }
    }

    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        match req.type_name {
            strimzi_operator::TYPE => strimzi_operator::plan(req.prior, req.proposed),
            strimzi_kafka::TYPE => strimzi_kafka::plan(req.prior, req.proposed),
            strimzi_topic::TYPE => strimzi_topic::plan(req.prior, req.proposed),
            other => PlanResponse::unknown_type("strimzi", other),
        }
    }

    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        let cluster = match self.cluster() {
            Ok(c) => c,
            Err(d) => return ApplyResponse::failed(req.prior, d),
        };
        match req.type_name {
            strimzi_operator::TYPE => {
                strimzi_operator::apply(&cluster, req.prior, req.planned, req.progress).await
            }
            strimzi_kafka::TYPE => {
                strimzi_kafka::apply(&cluster, req.prior, req.planned, req.progress).await
            }
            strimzi_topic::TYPE => {
                strimzi_topic::apply(&cluster, req.prior, req.planned, req.progress).await
            }
            other => ApplyResponse::unknown_type(req.prior, "strimzi", other),
        }
    }

    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        let cluster = self.cluster()?;
        match req.type_name {
            strimzi_operator::TYPE => strimzi_operator::read(&cluster, req.current).await,
            strimzi_kafka::TYPE => strimzi_kafka::read(&cluster, req.current).await,
            strimzi_topic::TYPE => strimzi_topic::read(&cluster, req.current).await,
            other => Err(unknown_type(other)),
        }
    }

    /// Who changed a topic's or a cluster's fields (their field managers) and how much it
    /// matters ([`drift`]).
    async fn explain_drift(
        &self,
        req: brick_provider_api::provider::DriftRequest<'_>,
    ) -> Result<brick_provider_api::provider::DriftExplanation, Diagnostics> {
        drift::explain(self.cluster().ok().as_ref(), &req).await
    }

    async fn import_resource(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<Vec<ImportedResource>, Diagnostics> {
        let cluster = self.cluster()?;
        let state = match type_name {
            strimzi_topic::TYPE => strimzi_topic::import(&cluster, id).await?,
            strimzi_kafka::TYPE => strimzi_kafka::import(&cluster, id).await?,
            other => {
                return Err(vec![Diagnostic::error(
                    "brick::strimzi::import_unsupported",
                    "Import not supported",
                    format!(
                        "{other} cannot be imported; strimzi_kafka and strimzi_topic can (NAMESPACE/NAME)."
                    ),
                )
                .with_help("An operator installation is adopted by applying it: server-side apply takes the objects over.")]);
            }
        };
        Ok(vec![ImportedResource {
            type_name: type_name.to_string(),
            state,
        }])
    }

    /// The checks over the whole plan; a topic's cluster is found among the planned
    /// `strimzi_kafka`s, else read from the API server (its node pools and Cruise Control).
    async fn check_plan(&self, changes: &[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> {
        let planned: Vec<Planned> = changes
            .iter()
            .map(|c| Planned {
                address: c.address,
                type_name: c.type_name,
                planned: c.planned,
                changing: matches!(
                    c.action,
                    ChangeAction::Create | ChangeAction::Update | ChangeAction::Replace
                ),
            })
            .collect();
        let mut clusters: BTreeMap<(String, String), TopicCluster> = BTreeMap::new();
        for c in changes {
            if c.type_name == strimzi_kafka::TYPE
                && let (Some(ns), Some(name)) = (
                    str_attr(c.planned, "namespace"),
                    str_attr(c.planned, "name"),
                )
            {
                clusters.insert(
                    (ns.into(), name.into()),
                    TopicCluster {
                        brokers: int_attr(c.planned, "brokers").map(|b| b as usize),
                        cruise_control: c
                            .planned
                            .get("cruise_control")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    },
                );
            }
        }
        if let Ok(cluster) = self.cluster() {
            for c in changes {
                if c.type_name != strimzi_topic::TYPE || c.planned.is_null() {
                    continue;
                }
                let (Some(ns), Some(name)) = (
                    str_attr(c.planned, "namespace"),
                    str_attr(c.planned, "cluster"),
                ) else {
                    continue;
                };
                let key = (ns.to_string(), name.to_string());
                if !clusters.contains_key(&key)
                    && let Some(found) = live_cluster(&cluster, ns, name).await
                {
                    clusters.insert(key, found);
                }
            }
        }
        let cluster_of = |p: &Planned| -> Option<&TopicCluster> {
            clusters.get(&(
                str_attr(p.planned, "namespace")?.to_string(),
                str_attr(p.planned, "cluster")?.to_string(),
            ))
        };
        let mut out: Vec<(usize, Diagnostic)> =
            checks::check_for(&planned, checks::STRIMZI_TOPIC, &|p: &Planned| {
                cluster_of(p).and_then(|c| c.brokers)
            });
        for (i, c) in changes.iter().enumerate() {
            if c.type_name == strimzi_topic::TYPE
                && matches!(c.action, ChangeAction::Update)
                && let (Some(was), Some(now)) = (
                    int_attr(c.prior, "replicas"),
                    int_attr(c.planned, "replicas"),
                )
                && was != now
                && !cluster_of(&planned[i]).is_some_and(|k| k.cruise_control)
            {
                out.push((
                    i,
                    Diagnostic::error(
                        "brick::strimzi::replicas_change_needs_cruise_control",
                        "Replicas change needs Cruise Control",
                        format!(
                            "The topic's replicas go from {was} to {now}; Strimzi's Topic Operator changes them only through Cruise Control, which its cluster does not run (it would answer NotSupported)."
                        ),
                    )
                    .at(["replicas"])
                    .with_help("Set cruise_control = true on the strimzi_kafka first, or keep the replicas."),
                ));
            }
            // The seed's old shape written as raw manifests.
            if c.type_name == "k8s_manifest"
                && let Some(m) = c.planned.get("manifest")
                && let Some(v) = str_attr(m, "apiVersion")
                && v.starts_with("kafka.strimzi.io/")
                && v != API_VERSION
            {
                let kind = str_attr(m, "kind").unwrap_or("object");
                let zk = m.get("spec").and_then(|s| s.get("zookeeper")).is_some();
                out.push((
                    i,
                    Diagnostic::error(
                        "brick::strimzi::api_version_removed",
                        "Strimzi API version not served",
                        format!(
                            "This {kind} is written for {v}; Strimzi 1.x serves only {API_VERSION}{}.",
                            if zk { " and runs KRaft only: spec.zookeeper no longer exists" } else { "" }
                        ),
                    )
                    .at(["manifest"])
                    .with_help(if kind == "Kafka" {
                        "Use a strimzi_kafka resource (it writes the v1 Kafka and its KafkaNodePools), e.g. name, namespace, brokers = 3, storage { size = \"100Gi\" class = \"rook-ceph-block\" }, listener { name = \"external\" port = 9094 type = \"nodeport\" }.".to_string()
                    } else {
                        format!("Write apiVersion = \"{API_VERSION}\" (or use strimzi_topic for a KafkaTopic).")
                    }),
                ));
            }
        }
        if let Ok(cluster) = self.cluster() {
            out.extend(node_removals(&cluster, changes).await);
        }
        out.into_iter()
            .map(|(change, diagnostic)| ChangeDiagnostic { change, diagnostic })
            .collect()
    }

    async fn read_data_source(
        &self,
        type_name: &str,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        Err(unknown_type(type_name))
    }
}

/// What the plan check needs of a topic's cluster.
struct TopicCluster {
    brokers: Option<usize>,
    cruise_control: bool,
}

/// A live Kafka's broker count (the replicas of its broker pools) and Cruise Control; `None`
/// when there is no such Kafka (a stand-in Topic Operator serves topics without one).
async fn live_cluster(cluster: &Cluster, ns: &str, name: &str) -> Option<TopicCluster> {
    let kafka = kube::get(cluster, &kube::obj(API_VERSION, "Kafka", Some(ns), name))
        .await
        .ok()??;
    let mut brokers = 0usize;
    let mut pools = 0;
    let names: Vec<String> = kafka
        .pointer("/status/kafkaNodePools")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("name").and_then(Json::as_str).map(str::to_string))
        .collect();
    for pool in names {
        let r = kube::obj(API_VERSION, "KafkaNodePool", Some(ns), &pool);
        if let Ok(Some(p)) = kube::get(cluster, &r).await {
            pools += 1;
            let roles = p.pointer("/spec/roles").cloned().unwrap_or(json!([]));
            if roles
                .as_array()
                .is_some_and(|r| r.contains(&json!("broker")))
            {
                brokers += p
                    .pointer("/spec/replicas")
                    .and_then(Json::as_u64)
                    .unwrap_or(0) as usize;
            }
        }
    }
    Some(TopicCluster {
        brokers: (pools > 0).then_some(brokers),
        cruise_control: kafka.pointer("/spec/cruiseControl").is_some(),
    })
}

/// The type whose destroy takes a node out of the cluster (drained, then removed).
const NODE_TYPE: &str = "microk8s_node";

/// A plan that removes nodes (`microk8s_node` destroys) so that fewer schedulable nodes remain
/// than a Kafka has pods (brokers and controllers) is refused at each removal: the pod the
/// drain evicts finds no free node (Strimzi's pods keep their ReadWriteOnce claims and run one
/// per node, as the lab's Strimzi places them), and the Kafka stays NotReady — or, where two
/// brokers may share a node, losing that node loses two replicas of each partition. The live
/// Nodes (Ready, not cordoned) less those removed, plus the nodes the plan adds, are counted.
async fn node_removals(
    cluster: &Cluster,
    changes: &[PlannedChange<'_>],
) -> Vec<(usize, Diagnostic)> {
    let removed: Vec<(usize, &str)> = changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.type_name == NODE_TYPE && c.action == ChangeAction::Delete)
        .filter_map(|(i, c)| Some((i, str_attr(c.prior, "name")?)))
        .collect();
    if removed.is_empty() {
        return Vec::new();
    }
    let Ok(nodes) = cluster.list("v1", "Node", None, None).await else {
        return Vec::new();
    };
    let schedulable: Vec<&str> = nodes
        .iter()
        .filter(|n| {
            n.pointer("/spec/unschedulable") != Some(&json!(true))
                && n.pointer("/status/conditions")
                    .and_then(Json::as_array)
                    .is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
        })
        .filter_map(|n| n.pointer("/metadata/name").and_then(Json::as_str))
        .collect();
    let added = changes
        .iter()
        .filter(|c| c.type_name == NODE_TYPE && c.action == ChangeAction::Create)
        .filter(|c| str_attr(c.planned, "name").is_none_or(|n| !schedulable.contains(&n)))
        .count();
    let remaining = schedulable
        .iter()
        .filter(|n| !removed.iter().any(|(_, r)| r == *n))
        .count()
        + added;
    let mut out = Vec::new();
    for k in changes {
        if k.type_name != strimzi_kafka::TYPE || k.planned.is_null() {
            continue;
        }
        let Some(brokers) = int_attr(k.planned, "brokers") else {
            continue;
        };
        let controllers = match k.planned.get("controllers") {
            Some(v) if v.is_null() => 0,
            Some(_) => match int_attr(k.planned, "controllers") {
                Some(n) => n,
                None => continue,
            },
            None => 0,
        };
        let pods = (brokers + controllers).max(0) as usize;
        if remaining >= pods {
            continue;
        }
        for (i, node) in &removed {
            out.push((
                *i,
                Diagnostic::error(
                    "brick::strimzi::too_few_nodes_for_kafka",
                    "Removal leaves Kafka too few nodes",
                    format!(
                        "Removing node {node} leaves {remaining} schedulable node(s) for the {pods} pods of {} ({brokers} broker(s){}). The broker the drain evicts keeps its volume and its partitions but finds no free node: Strimzi's pods run one per node, so the Kafka would stay NotReady (where brokers may share a node, losing that node would lose two replicas of each partition, below min.insync.replicas).",
                        k.address,
                        if controllers > 0 { format!(" and {controllers} controller(s)") } else { String::new() },
                    ),
                )
                .with_help(format!(
                    "Add a node in the same change (a new entry beside the removal), or first shrink {}: move the partitions off the last broker (Cruise Control's remove_brokers, or kafka_topic reassignments), lower brokers, apply, then remove the node.",
                    k.address
                )),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_compare_in_bytes() {
        assert_eq!(quantity_bytes("1Ki"), Some(1024.0));
        assert!(quantity_bytes("100Gi") > quantity_bytes("100G"));
        assert_eq!(quantity_bytes("1.5k"), Some(1500.0));
        assert_eq!(quantity_bytes("1e3"), Some(1000.0));
        assert_eq!(quantity_bytes("ten"), None);
        assert_eq!(quantity_bytes("10Gb"), None);
    }

    #[test]
    fn config_values_are_written_as_strimzis_examples_write_them() {
        let cfg: BTreeMap<String, String> = [
            ("a".to_string(), "3".to_string()),
            ("b".to_string(), "true".to_string()),
            ("c".to_string(), "compact".to_string()),
            ("d".to_string(), "007".to_string()),
        ]
        .into();
        assert_eq!(
            config_json(&cfg),
            json!({"a": 3, "b": true, "c": "compact", "d": "007"})
        );
    }
}
