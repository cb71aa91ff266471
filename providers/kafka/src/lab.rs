//! The lab's simulated Strimzi operator: a [`Controller`] of the lab's Kubernetes API
//! (`brick-k8s-sim`), so that the seed's Kafka applies and becomes Ready offline. It brings its
//! own CRDs (`Kafka`, `KafkaNodePool`, `KafkaTopic` in `kafka.strimzi.io/v1`, written here, with
//! the few rules brick relies on), and reconciles as Strimzi 1.x does, in simulated time:
//!
//! - a `Kafka` with node pools (label `strimzi.io/cluster`) gets one PVC per node
//!   (`data-0-CLUSTER-POOL-ID`, on the pool's class or the default StorageClass), bound when the
//!   class exists; one Pod per node (`CLUSTER-POOL-ID`) once its claim is bound and a Ready Node
//!   is free (one broker per node); `Ready` after [`KAFKA_READY_AFTER`] when every pod runs,
//!   with `status.listeners` (internal: the bootstrap Service's DNS name; nodeport: the nodes'
//!   InternalIPs and the bootstrap node port), `clusterId`, `kafkaVersion`, `kafkaNodePools`;
//! - a PodDisruptionBudget `CLUSTER-kafka` over all its pods, `minAvailable` = pods − 1 (Strimzi's
//!   default `maxUnavailable: 1`), so a node drain evicts one broker at a time, and an evicted
//!   broker's pod starts again on a free Ready node;
//! - until then `NotReady` with reason `Creating`; past Strimzi's operation timeout
//!   ([`OPERATION_TIMEOUT`], 300 s) with pods that cannot start (no usable StorageClass, too few
//!   nodes) `NotReady` with Strimzi's `TimeoutException` and its message;
//! - a `KafkaTopic` of a Ready cluster whose Topic Operator runs becomes `Ready` (finalizer
//!   `strimzi.io/topic-operator`); a partition decrease, a replicas change without Cruise
//!   Control and a changed `topicName` are `NotSupported`, as the Topic Operator answers.
//!
//! Not modelled: rolling updates, scaling down, Cruise Control itself, KafkaUsers.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use brick_k8s_sim::{Cluster, Controller, Event};
use serde_json::{Value as Json, json};

use crate::strimzi::API_VERSION;

/// The field manager the simulated operator writes with.
pub const MANAGER: &str = "strimzi-cluster-operator";

/// Simulated time from a Kafka's (new) generation to Ready when everything can run.
pub const KAFKA_READY_AFTER: Duration = Duration::from_secs(90);

/// Strimzi's default operation timeout (`STRIMZI_OPERATION_TIMEOUT_MS` = 300000).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(300);

/// The simulated Strimzi Cluster Operator (with its Topic Operators).
#[derive(Default)]
pub struct StrimziOperator {
    /// `NAMESPACE/NAME` of a Kafka → (the generation being reconciled, when that began).
    started: Mutex<HashMap<String, (i64, Instant)>>,
    /// `NAMESPACE/CLUSTER/TOPIC` → (partitions, replicas) as the simulated Kafka holds them.
    topics: Mutex<HashMap<String, (i64, i64)>>,
}

fn crd(kind: &str, plural: &str, short: &str, spec: Json, scale: bool) -> Json {
    let mut subresources = json!({"status": {}});
    if scale {
        subresources["scale"] = json!({"specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.labelSelector"});
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.kafka.strimzi.io"),
                     "labels": {"app": "strimzi", "strimzi.io/crd-install": "true"}},
        "spec": {
            "group": "kafka.strimzi.io",
            "names": {"kind": kind, "listKind": format!("{kind}List"), "plural": plural,
                      "singular": kind.to_lowercase(), "shortNames": [short],
                      "categories": ["strimzi"]},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": subresources,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": spec,
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                }}},
            }],
        },
    })
}

/// The lab's own definitions of Strimzi's three kinds: the fields brick writes, with the
/// rules of Strimzi's CRDs that matter to it (required fields, listener port minimum, counts).
pub fn crds() -> Vec<Json> {
    let open = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    let kafka = json!({"type": "object", "required": ["kafka"], "properties": {
        "kafka": {"type": "object", "required": ["listeners"], "properties": {
            "version": {"type": "string"},
            "metadataVersion": {"type": "string"},
            "listeners": {"type": "array", "minItems": 1, "items": {"type": "object",
                "required": ["name", "port", "type", "tls"], "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9]{1,11}$"},
                    "port": {"type": "integer", "minimum": 9092},
                    "type": {"type": "string", "enum": ["internal", "route", "tlsroute", "loadbalancer", "nodeport", "ingress", "cluster-ip"]},
                    "tls": {"type": "boolean"},
                    "configuration": open.clone(),
                    "authentication": open.clone(),
                }}},
            "config": open.clone(),
        }, "x-kubernetes-preserve-unknown-fields": true},
        "entityOperator": open.clone(),
        "cruiseControl": open.clone(),
    }, "x-kubernetes-preserve-unknown-fields": true});
    let pool = json!({"type": "object", "required": ["replicas", "storage", "roles"], "properties": {
        "replicas": {"type": "integer", "minimum": 0},
        "roles": {"type": "array", "items": {"type": "string", "enum": ["controller", "broker"]}},
        "storage": open.clone(),
    }, "x-kubernetes-preserve-unknown-fields": true});
    let topic = json!({"type": "object", "properties": {
        "topicName": {"type": "string"},
        "partitions": {"type": "integer", "minimum": 1},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
        "config": open.clone(),
    }});
    vec![
        crd("Kafka", "kafkas", "k", kafka, false),
        crd("KafkaNodePool", "kafkanodepools", "knp", pool, true),
        crd("KafkaTopic", "kafkatopics", "kt", topic, false),
    ]
}

fn s<'a>(j: &'a Json, p: &str) -> &'a str {
    j.pointer(p).and_then(Json::as_str).unwrap_or("")
}

fn now() -> String {
    // RFC 3339 without sub-seconds, as Kubernetes writes times.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn condition(ty: &str, reason: &str, message: &str) -> Json {
    let mut c = json!({"type": ty, "status": "True", "lastTransitionTime": now()});
    if !reason.is_empty() {
        c["reason"] = json!(reason);
        c["message"] = json!(message);
    }
    c
}

/// One pod of a cluster as the operator plans it.
struct Member {
    pool: String,
    id: i64,
    roles: Vec<String>,
    class: Option<String>,
    size: String,
    delete_claim: bool,
}

impl StrimziOperator {
    fn ensure_crds(&self, cluster: &Cluster) {
        for (kind, doc) in ["Kafka", "KafkaNodePool", "KafkaTopic"].iter().zip(crds()) {
            if !cluster.serves(API_VERSION, kind) {
                let _ = cluster.create(MANAGER, doc);
            }
        }
    }

    fn set_status(&self, cluster: &Cluster, obj: &Json, status: Json) {
        let current = obj.get("status").cloned().unwrap_or(json!({}));
        // Keep lastTransitionTime when the condition did not change (no needless events).
        let same = current.get("conditions").map(|c| {
            c.as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| (s(x, "/type"), s(x, "/reason"), s(x, "/message")))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        }) == status.get("conditions").map(|c| {
            c.as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| (s(x, "/type"), s(x, "/reason"), s(x, "/message")))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        });
        let mut status = status;
        if same {
            status["conditions"] = current["conditions"].clone();
        }
        let mut strip = status.clone();
        let mut cur = current.clone();
        if let (Some(a), Some(b)) = (strip.as_object_mut(), cur.as_object_mut()) {
            a.remove("lastTransitionTime");
            b.remove("lastTransitionTime");
        }
        if strip == cur {
            return;
        }
        let doc = json!({"apiVersion": obj["apiVersion"], "kind": obj["kind"],
            "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"]},
            "status": status});
        let _ = cluster.apply_status(MANAGER, doc);
    }

    fn reconcile_kafka(&self, cluster: &Cluster, kafka: &Json) {
        let ns = s(kafka, "/metadata/namespace");
        let name = s(kafka, "/metadata/name");
        if kafka.pointer("/metadata/deletionTimestamp").is_some() {
            return;
        }
        let generation = kafka
            .pointer("/metadata/generation")
            .and_then(Json::as_i64)
            .unwrap_or(1);
        let key = format!("{ns}/{name}");
        let began = {
            let mut started = self.started.lock().expect("lock");
            let e = started.entry(key).or_insert((generation, Instant::now()));
            if e.0 != generation {
                *e = (generation, Instant::now());
            }
            e.1
        };
        let not_ready = |reason: &str, message: &str| {
            json!({"observedGeneration": generation,
                   "conditions": [condition("NotReady", reason, message)]})
        };
        let pools = cluster.list(
            API_VERSION,
            "KafkaNodePool",
            Some(ns),
            &format!("strimzi.io/cluster={name}"),
        );
        if pools.is_empty() {
            self.set_status(cluster, kafka, not_ready("InvalidResourceException",
                &format!("No KafkaNodePools found for Kafka cluster {name}. The Kafka cluster needs at least one KafkaNodePool with the broker role and one with the controller role.")));
            return;
        }
        let has = |role: &str| {
            pools.iter().any(|p| {
                p.pointer("/spec/roles")
                    .and_then(Json::as_array)
                    .is_some_and(|r| r.contains(&json!(role)))
            })
        };
        if !has("broker") || !has("controller") {
            self.set_status(cluster, kafka, not_ready("InvalidResourceException",
                "The Kafka cluster needs at least one KafkaNodePool with the broker role and one with the controller role."));
            return;
        }
        // Node ids: consecutive across the pools, in name order (Strimzi keeps them stable).
        let mut pools = pools;
        pools.sort_by(|a, b| s(a, "/metadata/name").cmp(s(b, "/metadata/name")));
        let default_class = cluster
            .list("storage.k8s.io/v1", "StorageClass", None, "")
            .into_iter()
            .find(|c| {
                s(
                    c,
                    "/metadata/annotations/storageclass.kubernetes.io~1is-default-class",
                ) == "true"
            })
            .map(|c| s(&c, "/metadata/name").to_string());
        let mut members = Vec::new();
        let mut next_id = 0;
        for p in &pools {
            let pool = s(p, "/metadata/name").to_string();
            let replicas = p
                .pointer("/spec/replicas")
                .and_then(Json::as_i64)
                .unwrap_or(0);
            let roles: Vec<String> = p
                .pointer("/spec/roles")
                .and_then(Json::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let vol = p
                .pointer("/spec/storage/volumes/0")
                .or_else(|| p.pointer("/spec/storage"))
                .cloned()
                .unwrap_or(json!({}));
            let mut ids = Vec::new();
            for _ in 0..replicas {
                ids.push(next_id);
                members.push(Member {
                    pool: pool.clone(),
                    id: next_id,
                    roles: roles.clone(),
                    class: vol
                        .get("class")
                        .and_then(Json::as_str)
                        .map(str::to_string)
                        .or_else(|| default_class.clone()),
                    size: s(&vol, "/size").to_string(),
                    delete_claim: vol
                        .get("deleteClaim")
                        .and_then(Json::as_bool)
                        .unwrap_or(false),
                });
                next_id += 1;
            }
            let status = json!({"observedGeneration": p.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
                "nodeIds": ids, "replicas": replicas, "roles": roles, "clusterId": cluster_id(kafka),
                "labelSelector": format!("strimzi.io/cluster={name},strimzi.io/pool-name={pool},strimzi.io/kind=Kafka")});
            self.set_status(cluster, p, status);
        }
        let owner = json!([{"apiVersion": API_VERSION, "kind": "Kafka", "name": name,
            "uid": kafka["metadata"]["uid"], "controller": false, "blockOwnerDeletion": false}]);
        self.disruption_budget(cluster, ns, name, members.len(), &owner);
        let nodes: Vec<Json> = cluster
            .list("v1", "Node", None, "")
            .into_iter()
            .filter(|n| {
                n.pointer("/status/conditions")
                    .and_then(Json::as_array)
                    .is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
                    && n.pointer("/spec/unschedulable") != Some(&json!(true))
            })
            .collect();
        // Nodes already hosting one of this cluster's pods, and by whom.
        let mut used: BTreeMap<String, String> = BTreeMap::new();
        for m in &members {
            let pod = format!("{name}-{}-{}", m.pool, m.id);
            if let Some(p) = cluster.get("v1", "Pod", ns, &pod) {
                let node = s(&p, "/spec/nodeName");
                if !node.is_empty() {
                    used.insert(node.to_string(), pod);
                }
            }
        }
        let mut waiting_for: Option<String> = None;
        for m in &members {
            let pvc = format!("data-0-{name}-{}-{}", m.pool, m.id);
            let pod = format!("{name}-{}-{}", m.pool, m.id);
            let labels = json!({"strimzi.io/cluster": name, "strimzi.io/kind": "Kafka",
                "strimzi.io/name": format!("{name}-kafka"), "strimzi.io/pool-name": m.pool,
                "strimzi.io/broker-role": m.roles.contains(&"broker".to_string()).to_string(),
                "strimzi.io/controller-role": m.roles.contains(&"controller".to_string()).to_string()});
            let claim = match cluster.get("v1", "PersistentVolumeClaim", ns, &pvc) {
                Some(c) => c,
                None => {
                    let mut doc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": {"name": pvc, "namespace": ns, "labels": labels,
                                     "annotations": {"strimzi.io/delete-claim": m.delete_claim.to_string()}},
                        "spec": {"accessModes": ["ReadWriteOnce"],
                                 "resources": {"requests": {"storage": m.size}}}});
                    if let Some(c) = &m.class {
                        doc["spec"]["storageClassName"] = json!(c);
                    }
                    if m.delete_claim {
                        doc["metadata"]["ownerReferences"] = owner.clone();
                    }
                    match cluster.create(MANAGER, doc) {
                        Ok(c) => c,
                        Err(_) => continue,
                    }
                }
            };
            let class = s(&claim, "/spec/storageClassName");
            let class_exists = !class.is_empty()
                && cluster
                    .get("storage.k8s.io/v1", "StorageClass", "", class)
                    .is_some();
            if s(&claim, "/status/phase") != "Bound" {
                if class_exists {
                    let _ = cluster.apply_status(
                        MANAGER,
                        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": {"name": pvc, "namespace": ns},
                        "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                                   "capacity": {"storage": m.size}}}),
                    );
                } else {
                    if s(&claim, "/status/phase") != "Pending" {
                        let _ = cluster.apply_status(MANAGER, json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                            "metadata": {"name": pvc, "namespace": ns}, "status": {"phase": "Pending"}}));
                    }
                    waiting_for.get_or_insert(pod.clone());
                    continue;
                }
            }
            let existing = cluster.get("v1", "Pod", ns, &pod);
            if existing.is_none() {
                let Some(node) = nodes
                    .iter()
                    .map(|n| s(n, "/metadata/name").to_string())
                    .find(|n| !used.contains_key(n))
                else {
                    waiting_for.get_or_insert(pod.clone());
                    continue;
                };
                used.insert(node.clone(), pod.clone());
                let doc = json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod, "namespace": ns, "labels": labels, "ownerReferences": owner},
                    "spec": {"nodeName": node, "hostname": pod,
                             "containers": [{"name": "kafka", "image": "quay.io/strimzi/kafka:1.2.0-kafka-4.3.1",
                                             "volumeMounts": [{"name": "data-0", "mountPath": "/var/lib/kafka/data-0"}]}],
                             "volumes": [{"name": "data-0", "persistentVolumeClaim": {"claimName": pvc}}]}});
                let _ = cluster.create(MANAGER, doc);
            }
            let running = cluster
                .get("v1", "Pod", ns, &pod)
                .is_some_and(|p| s(&p, "/status/phase") == "Running");
            if !running {
                waiting_for.get_or_insert(pod.clone());
            }
        }
        let elapsed = began.elapsed();
        let status = match waiting_for {
            None if elapsed >= cluster.scaled(KAFKA_READY_AFTER) => {
                self.ready_status(cluster, kafka, &pools, &members, generation)
            }
            Some(pod) if elapsed >= cluster.scaled(OPERATION_TIMEOUT) => not_ready(
                "TimeoutException",
                &format!(
                    "Exceeded timeout of {}ms while waiting for Pods resource {pod} in namespace {ns} to be ready",
                    OPERATION_TIMEOUT.as_millis()
                ),
            ),
            _ => not_ready("Creating", "Kafka cluster is being deployed"),
        };
        self.set_status(cluster, kafka, status);
    }

    /// The PodDisruptionBudget Strimzi keeps for a Kafka's pods, all node pools together:
    /// `CLUSTER-kafka`, selecting the pods by `strimzi.io/cluster`, `strimzi.io/kind` and
    /// `strimzi.io/name`; its default `maxUnavailable` of 1 written as `minAvailable` = pods − 1
    /// (StrimziPodSets are no controller the disruption controller can scale from), so that a
    /// node drain evicts one broker at a time.
    fn disruption_budget(
        &self,
        cluster: &Cluster,
        ns: &str,
        name: &str,
        pods: usize,
        owner: &Json,
    ) {
        let pdb = format!("{name}-kafka");
        let selector = json!({"strimzi.io/cluster": name, "strimzi.io/kind": "Kafka",
            "strimzi.io/name": pdb});
        let min_available = pods.saturating_sub(1);
        let existing = cluster.get("policy/v1", "PodDisruptionBudget", ns, &pdb);
        if existing
            .as_ref()
            .and_then(|p| p.pointer("/spec/minAvailable"))
            .and_then(Json::as_u64)
            == Some(min_available as u64)
        {
            return;
        }
        let _ = cluster.apply(
            MANAGER,
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "metadata": {"name": pdb, "namespace": ns, "labels": selector,
                             "ownerReferences": owner},
                "spec": {"minAvailable": min_available, "selector": {"matchLabels": selector}}}),
        );
    }

    fn ready_status(
        &self,
        cluster: &Cluster,
        kafka: &Json,
        pools: &[Json],
        members: &[Member],
        generation: i64,
    ) -> Json {
        let ns = s(kafka, "/metadata/namespace");
        let name = s(kafka, "/metadata/name");
        // The InternalIPs of the nodes running brokers.
        let mut broker_ips = Vec::new();
        for m in members
            .iter()
            .filter(|m| m.roles.contains(&"broker".to_string()))
        {
            let pod = format!("{name}-{}-{}", m.pool, m.id);
            let Some(p) = cluster.get("v1", "Pod", ns, &pod) else {
                continue;
            };
            let node = s(&p, "/spec/nodeName");
            if let Some(n) = cluster.get("v1", "Node", "", node) {
                let ip = n
                    .pointer("/status/addresses")
                    .and_then(Json::as_array)
                    .and_then(|a| {
                        a.iter()
                            .find(|x| x["type"] == "InternalIP")
                            .or_else(|| a.first())
                    })
                    .map(|x| s(x, "/address").to_string())
                    .unwrap_or_default();
                if !broker_ips.contains(&ip) {
                    broker_ips.push(ip);
                }
            }
        }
        let mut listeners = Vec::new();
        for l in kafka
            .pointer("/spec/kafka/listeners")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let lname = s(l, "/name");
            let port = l.get("port").and_then(Json::as_i64).unwrap_or(9092);
            let addresses: Vec<Json> = match s(l, "/type") {
                "nodeport" => {
                    let node_port = l
                        .pointer("/configuration/bootstrap/nodePort")
                        .and_then(Json::as_i64)
                        .unwrap_or_else(|| node_port_for(ns, name, lname));
                    broker_ips
                        .iter()
                        .map(|ip| json!({"host": ip, "port": node_port}))
                        .collect()
                }
                _ => {
                    vec![json!({"host": format!("{name}-kafka-bootstrap.{ns}.svc"), "port": port})]
                }
            };
            let boot = addresses
                .iter()
                .map(|a| format!("{}:{}", s(a, "/host"), a["port"]))
                .collect::<Vec<_>>()
                .join(",");
            listeners
                .push(json!({"name": lname, "addresses": addresses, "bootstrapServers": boot}));
        }
        let version = kafka
            .pointer("/spec/kafka/version")
            .and_then(Json::as_str)
            .unwrap_or("4.3.1");
        json!({
            "observedGeneration": generation,
            "conditions": [condition("Ready", "", "")],
            "listeners": listeners,
            "kafkaNodePools": pools.iter().map(|p| json!({"name": p["metadata"]["name"]})).collect::<Vec<_>>(),
            "clusterId": cluster_id(kafka),
            "kafkaVersion": version,
            "kafkaMetadataVersion": kafka.pointer("/spec/kafka/metadataVersion").cloned()
                .unwrap_or_else(|| json!(format!("{}-IV0", version.rsplit_once('.').map_or(version, |(a, _)| a)))),
            "operatorLastSuccessfulVersion": "1.2.0",
        })
    }

    fn reconcile_topic(&self, cluster: &Cluster, topic: &Json) {
        let ns = s(topic, "/metadata/namespace");
        let obj_name = s(topic, "/metadata/name");
        let cluster_name = s(topic, "/metadata/labels/strimzi.io~1cluster");
        let Some(kafka) = cluster.get(API_VERSION, "Kafka", ns, cluster_name) else {
            return;
        };
        let ready = kafka
            .pointer("/status/conditions")
            .and_then(Json::as_array)
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
        if !ready
            || kafka
                .pointer("/spec/entityOperator/topicOperator")
                .is_none()
        {
            return;
        }
        let finalizer = "strimzi.io/topic-operator";
        let has_finalizer = topic
            .pointer("/metadata/finalizers")
            .and_then(Json::as_array)
            .is_some_and(|f| f.contains(&json!(finalizer)));
        let topic_name = topic
            .pointer("/spec/topicName")
            .and_then(Json::as_str)
            .unwrap_or(obj_name)
            .to_string();
        let key = format!("{ns}/{cluster_name}/{topic_name}");
        if topic.pointer("/metadata/deletionTimestamp").is_some() {
            self.topics.lock().expect("lock").remove(&key);
            if has_finalizer {
                let mut t = topic.clone();
                if let Some(f) = t["metadata"]["finalizers"].as_array_mut() {
                    f.retain(|x| x != finalizer);
                }
                let _ = cluster.update(MANAGER, t);
            }
            return;
        }
        if !has_finalizer {
            let mut t = topic.clone();
            match t["metadata"]["finalizers"].as_array_mut() {
                Some(f) => f.push(json!(finalizer)),
                None => t["metadata"]["finalizers"] = json!([finalizer]),
            }
            let _ = cluster.update(MANAGER, t);
            return; // the update comes back as an event
        }
        let generation = topic
            .pointer("/metadata/generation")
            .and_then(Json::as_i64)
            .unwrap_or(1);
        let cfg = kafka
            .pointer("/spec/kafka/config/default.replication.factor")
            .and_then(Json::as_i64)
            .unwrap_or(1);
        let partitions = topic
            .pointer("/spec/partitions")
            .and_then(Json::as_i64)
            .unwrap_or(1);
        let replicas = topic
            .pointer("/spec/replicas")
            .and_then(Json::as_i64)
            .unwrap_or(cfg);
        let previous_name = topic.pointer("/status/topicName").and_then(Json::as_str);
        let refusal = {
            let mut topics = self.topics.lock().expect("lock");
            if previous_name.is_some_and(|p| p != topic_name) {
                Some("Changing spec.topicName is not supported".to_string())
            } else {
                match topics.get(&key).copied() {
                    Some((p, _)) if partitions < p => {
                        Some("Decreasing partitions not supported".to_string())
                    }
                    Some((p, r))
                        if replicas != r && kafka.pointer("/spec/cruiseControl").is_none() =>
                    {
                        let parts: Vec<String> =
                            (0..p.max(partitions)).map(|i| i.to_string()).collect();
                        Some(format!(
                            "Replication factor change not supported, but required for partitions [{}]",
                            parts.join(", ")
                        ))
                    }
                    Some((p, _)) => {
                        topics.insert(key.clone(), (partitions.max(p), replicas));
                        None
                    }
                    None => {
                        topics.insert(key.clone(), (partitions, replicas));
                        None
                    }
                }
            }
        };
        let cond = match &refusal {
            Some(m) => json!({"type": "Ready", "status": "False", "reason": "NotSupported",
                              "message": m, "lastTransitionTime": now()}),
            None => json!({"type": "Ready", "status": "True", "lastTransitionTime": now()}),
        };
        let status = json!({"observedGeneration": generation, "conditions": [cond],
            "topicName": previous_name.unwrap_or(&topic_name),
            "topicId": topic_id(&key)});
        self.set_status(cluster, topic, status);
    }

    fn reconcile(&self, cluster: &Cluster) {
        self.ensure_crds(cluster);
        for kafka in cluster.list(API_VERSION, "Kafka", None, "") {
            self.reconcile_kafka(cluster, &kafka);
        }
        for topic in cluster.list(API_VERSION, "KafkaTopic", None, "") {
            self.reconcile_topic(cluster, &topic);
        }
    }
}

/// A stable cluster id of the Kafka (22 characters, as Kafka's base64 UUIDs).
fn cluster_id(kafka: &Json) -> String {
    let uid = s(kafka, "/metadata/uid").replace('-', "");
    let mut id: String = uid.chars().take(22).collect();
    while id.len() < 22 {
        id.push('A');
    }
    id
}

fn topic_id(key: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}{:06x}", h >> 40)
}

/// The node port Kubernetes would have picked for a listener's bootstrap service: stable per
/// listener, in the default range 30000–32767.
fn node_port_for(ns: &str, cluster: &str, listener: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{ns}/{cluster}/{listener}").bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    30000 + (h % 2768) as i64
}

#[async_trait]
impl Controller for StrimziOperator {
    fn name(&self) -> &str {
        "strimzi"
    }

    fn period(&self) -> Duration {
        Duration::from_secs(2)
    }

    async fn on_event(&self, cluster: &Cluster, event: &Event) {
        // New objects of Strimzi's kinds are picked up at once; the rest waits for a tick.
        if event.group == "kafka.strimzi.io" {
            let kind = event.object["kind"].as_str().unwrap_or("");
            if kind == "KafkaTopic" {
                self.reconcile_topic(cluster, &event.object);
            }
        }
    }

    async fn tick(&self, cluster: &Cluster) {
        self.reconcile(cluster);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_crds_name_strimzis_kinds_in_v1() {
        let c = crds();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0]["metadata"]["name"], "kafkas.kafka.strimzi.io");
        assert_eq!(c[1]["spec"]["names"]["kind"], "KafkaNodePool");
        assert_eq!(c[2]["spec"]["versions"][0]["name"], "v1");
        assert!(now().ends_with('Z') && now().len() == 20, "{}", now());
        let p = node_port_for("kafka", "seed", "external");
        assert!((30000..=32767).contains(&p));
    }
}
