//! `strimzi_kafka`: a Kafka cluster run by Strimzi — one `Kafka` (`kafka.strimzi.io/v1`, KRaft)
//! and its `KafkaNodePool`s (one dual-role pool, or a broker pool and a controller pool),
//! persistent storage, listeners and broker configuration. Ready when the Kafka's `Ready`
//! condition holds; the listeners' bootstrap addresses come from `status.listeners`.
//! Changes Strimzi cannot make (storage class, smaller volumes, roles) are refused at plan;
//! the seed's old shape (`v1beta2`, a `zookeeper` block) is refused with what to write instead.

use std::collections::BTreeMap;
use std::time::Duration;

use brick_provider_api::provider::{ApplyResponse, PathStep, PlanResponse, Progress};
use brick_provider_api::schema::{Attribute, Block, Nesting, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use brick_provider_k8s::machinery::Cluster;
use serde_json::{Value as Json, json};

use crate::strimzi::kube::{self, ObjRef, Standing};
use crate::strimzi::{API_VERSION, config_json, quantity_bytes};
use crate::value::{int_attr, n, s, str_attr, string_map, string_map_attr};

pub const TYPE: &str = "strimzi_kafka";

/// How long an apply waits for the cluster to become Ready (Strimzi's own default operation
/// timeout is 5 minutes per step; a new cluster takes several).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The listener types Strimzi's CRD accepts.
pub const LISTENER_TYPES: &[&str] = &[
    "internal",
    "route",
    "tlsroute",
    "loadbalancer",
    "nodeport",
    "ingress",
    "cluster-ip",
];

/// The broker settings whose value is a replica count the brokers must be able to hold.
const REPLICATION_SETTINGS: &[&str] = &[
    "default.replication.factor",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
];

fn storage_block() -> Block {
    Block::default()
        .attr(
            "size",
            Attribute::required(Type::String)
                .describe("Each node's volume (a persistent volume claim), e.g. \"100Gi\". It can grow where the class allows expansion, never shrink."),
        )
        .attr(
            "class",
            Attribute::optional(Type::String).describe(
                "The StorageClass of the claims (e.g. \"rook-ceph-block\"); default: the cluster's default class. Fixed once created.",
            ),
        )
        .attr(
            "delete_claim",
            Attribute::optional(Type::Bool)
                .describe("Delete the claims (and the data) when the cluster is deleted. Default false."),
        )
}

fn listener_block() -> Block {
    Block::default()
        .attr(
            "name",
            Attribute::required(Type::String)
                .describe("The listener's name: lowercase letters and digits, at most 11."),
        )
        .attr(
            "port",
            Attribute::required(Type::Number)
                .describe("The port inside Kafka: 9092 or higher, not 9404 or 9999, unique."),
        )
        .attr(
            "type",
            Attribute::required(Type::String).describe(
                "internal, cluster-ip, nodeport, loadbalancer, ingress, route or tlsroute.",
            ),
        )
        .attr(
            "tls",
            Attribute::optional(Type::Bool).describe("Encrypt the listener with TLS. Default false."),
        )
        .attr(
            "node_port",
            Attribute::optional(Type::Number).describe(
                "For a nodeport listener: the bootstrap service's node port (30000–32767); default: one Kubernetes picks.",
            ),
        )
}

/// The seed's ZooKeeper block, accepted only to refuse it with a clear message.
fn zookeeper_block() -> Block {
    Block::default()
        .attr(
            "replicas",
            Attribute::optional(Type::Number).describe("Removed: refused with a hint."),
        )
        .block(
            "storage",
            Nesting::Single,
            Block::default()
                .attr("type", Attribute::optional(Type::String))
                .attr("size", Attribute::optional(Type::String))
                .attr("class", Attribute::optional(Type::String))
                .attr("delete_claim", Attribute::optional(Type::Bool)),
        )
}

pub fn schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "id",
                Attribute::computed(Type::String).describe("NAMESPACE/NAME of the Kafka."),
            )
            .attr(
                "name",
                Attribute::required(Type::String)
                    .forces_replacement()
                    .describe("The Kafka's name (pods are NAME-POOL-ID; topics name it as their cluster)."),
            )
            .attr(
                "namespace",
                Attribute::required(Type::String)
                    .forces_replacement()
                    .describe("The namespace, one the Strimzi operator watches."),
            )
            .attr(
                "version",
                Attribute::optional(Type::String)
                    .describe("The Kafka version, e.g. \"4.3.1\"; default: the operator's newest."),
            )
            .attr(
                "metadata_version",
                Attribute::optional(Type::String)
                    .describe("The KRaft metadata version, e.g. \"4.3-IV0\"; default: the version's."),
            )
            .attr(
                "brokers",
                Attribute::required(Type::Number).describe("The number of broker nodes."),
            )
            .attr(
                "controllers",
                Attribute::optional(Type::Number).describe(
                    "The number of dedicated KRaft controller nodes (a pool of their own); unset: the brokers are controllers too (one dual-role pool). Fixed once created.",
                ),
            )
            .attr(
                "config",
                Attribute::optional(Type::Map(Box::new(Type::String))).describe(
                    "Broker configuration (spec.kafka.config), e.g. min.insync.replicas. Numbers and true/false are written as such.",
                ),
            )
            .attr(
                "cruise_control",
                Attribute::optional(Type::Bool)
                    .describe("Deploy Cruise Control (needed to change a topic's replicas). Default false."),
            )
            .attr(
                "topic_operator",
                Attribute::optional(Type::Bool)
                    .describe("Run the Topic Operator (strimzi_topic needs it). Default true."),
            )
            .attr(
                "user_operator",
                Attribute::optional(Type::Bool).describe("Run the User Operator. Default true."),
            )
            .attr(
                "api_version",
                Attribute::optional(Type::String).describe(
                    "Removed: Strimzi 1.x serves only kafka.strimzi.io/v1, which brick writes; any other value is refused with a hint.",
                ),
            )
            .attr(
                "bootstrap_servers",
                Attribute::computed(Type::Map(Box::new(Type::String))).describe(
                    "Listener name → its bootstrap address list (host:port,…), from the Kafka's status.listeners.",
                ),
            )
            .attr(
                "cluster_id",
                Attribute::computed(Type::String).describe("The Kafka cluster id Strimzi reports."),
            )
            .block(
                "storage",
                Nesting::List {
                    min: 1,
                    max: Some(1),
                },
                storage_block(),
            )
            .block(
                "listener",
                Nesting::List { min: 1, max: None },
                listener_block(),
            )
            .block(
                "zookeeper",
                Nesting::List { min: 0, max: None },
                zookeeper_block(),
            ),
    }
}

fn err(code: &str, summary: &str, detail: impl Into<String>) -> Diagnostic {
    Diagnostic::error(format!("brick::strimzi::{code}"), summary, detail)
}

fn bool_attr(v: &Value, name: &str) -> Option<bool> {
    v.get(name).and_then(Value::as_bool)
}

/// The (only) storage block.
fn storage(v: &Value) -> Option<&Value> {
    v.get("storage")?.as_sequence()?.first()
}

fn listeners(v: &Value) -> &[Value] {
    v.get("listener")
        .and_then(Value::as_sequence)
        .unwrap_or(&[])
}

/// What to write instead of the seed's ZooKeeper-era Kafka.
const NEW_SHAPE: &str = "Write the KRaft form instead, e.g.\n  resource \"strimzi_kafka\" \"k\" {\n    name      = \"my-cluster\"\n    namespace = \"kafka\"\n    brokers   = 3\n    storage {\n      size  = \"100Gi\"\n      class = \"rook-ceph-block\"\n    }\n    listener {\n      name = \"external\"\n      port = 9094\n      type = \"nodeport\"\n    }\n  }\n(the brokers are also the KRaft controllers unless `controllers` is set).";

pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Vec::new();
    if let Some(zk) = config.get("zookeeper").and_then(Value::as_sequence)
        && !zk.is_empty()
    {
        d.push(
            err(
                "zookeeper_removed",
                "ZooKeeper is gone",
                "Strimzi runs Kafka in KRaft mode only (since 0.46; this is Strimzi 1.x): a Kafka has no zookeeper block any more. The KRaft controllers replace ZooKeeper: the brokers act as controllers too, or set `controllers` for a pool of their own.",
            )
            .at(["zookeeper"])
            .with_help(NEW_SHAPE),
        );
    }
    if let Some(v) = str_attr(config, "api_version")
        && v != API_VERSION
    {
        d.push(
            err(
                "api_version_removed",
                "Strimzi API version not served",
                format!(
                    "Strimzi 1.x serves only {API_VERSION}; \"{v}\" (the v1beta2 of Strimzi 0.x) no longer exists. brick writes {API_VERSION} itself."
                ),
            )
            .at(["api_version"])
            .with_help("Remove api_version (and any zookeeper block); node pools and KRaft come with brokers/controllers."),
        );
    }
    for (attr, min) in [("brokers", 1), ("controllers", 1)] {
        if let Some(n) = int_attr(config, attr)
            && n < min
        {
            d.push(
                err(
                    "invalid_count",
                    "Invalid node count",
                    format!("{attr} is {n}; a pool needs at least {min} node."),
                )
                .at([attr]),
            );
        }
    }
    if let Some(st) = storage(config)
        && let Some(size) = str_attr(st, "size")
        && quantity_bytes(size).is_none()
    {
        d.push(
            err(
                "invalid_size",
                "Invalid volume size",
                format!("storage size \"{size}\" is not a Kubernetes quantity such as 100Gi."),
            )
            .at(["storage"]),
        );
    }
    let mut names = BTreeMap::new();
    let mut ports = BTreeMap::new();
    for l in listeners(config) {
        if let Some(name) = str_attr(l, "name") {
            if name.is_empty()
                || name.len() > 11
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            {
                d.push(
                    err(
                        "invalid_listener",
                        "Invalid listener name",
                        format!("Listener name \"{name}\": Strimzi takes 1 to 11 lowercase letters and digits."),
                    )
                    .at(["listener"]),
                );
            }
            if names.insert(name.to_string(), ()).is_some() {
                d.push(
                    err(
                        "invalid_listener",
                        "Duplicate listener",
                        format!("Two listeners are named \"{name}\"."),
                    )
                    .at(["listener"]),
                );
            }
        }
        if let Some(port) = int_attr(l, "port") {
            if port < 9092 || port == 9404 || port == 9999 || port > 65535 {
                d.push(
                    err(
                        "invalid_listener",
                        "Invalid listener port",
                        format!("Listener port {port}: Strimzi takes 9092 or higher, except 9404 (Prometheus) and 9999 (JMX)."),
                    )
                    .at(["listener"]),
                );
            }
            if ports.insert(port, ()).is_some() {
                d.push(
                    err(
                        "invalid_listener",
                        "Duplicate listener port",
                        format!("Two listeners use port {port}."),
                    )
                    .at(["listener"]),
                );
            }
        }
        if let Some(ty) = str_attr(l, "type")
            && !LISTENER_TYPES.contains(&ty)
        {
            d.push(
                err(
                    "invalid_listener",
                    "Unknown listener type",
                    format!(
                        "Listener type \"{ty}\" is not one of {}.",
                        LISTENER_TYPES.join(", ")
                    ),
                )
                .at(["listener"]),
            );
        }
        if let Some(np) = int_attr(l, "node_port")
            && (str_attr(l, "type").is_some_and(|t| t != "nodeport") || !(1..=65535).contains(&np))
        {
            d.push(
                err(
                    "invalid_listener",
                    "Invalid node port",
                    format!("node_port {np} is for a nodeport listener, a port Kubernetes' node port range holds (30000–32767 by default)."),
                )
                .at(["listener"]),
            );
        }
    }
    d.extend(config_refusals(config));
    d
}

/// Broker settings the cluster could never satisfy: a replication factor above the brokers
/// (the internal topics would never be created) and `min.insync.replicas` above the default
/// replication factor.
fn config_refusals(config: &Value) -> Diagnostics {
    let mut d = Vec::new();
    let Some(cfg) = string_map_attr(config, "config") else {
        return d;
    };
    let num = |k: &str| cfg.get(k).and_then(|v| v.trim().parse::<i64>().ok());
    if let Some(brokers) = int_attr(config, "brokers") {
        for key in REPLICATION_SETTINGS {
            if let Some(rf) = num(key)
                && rf > brokers
            {
                d.push(
                    err(
                        "replicas_above_brokers",
                        "Replication factor above the number of brokers",
                        format!("{key} = {rf}, but the cluster has {brokers} broker(s): Kafka could not place the replicas."),
                    )
                    .at(["config", key])
                    .with_help(format!("Use at most {brokers}, or more brokers.")),
                );
            }
        }
    }
    for (isr, rf_key) in [
        ("min.insync.replicas", "default.replication.factor"),
        (
            "transaction.state.log.min.isr",
            "transaction.state.log.replication.factor",
        ),
    ] {
        if let (Some(i), Some(rf)) = (num(isr), num(rf_key))
            && i > rf
        {
            d.push(
                err(
                    "min_insync_above_replicas",
                    "min.insync.replicas above the replication factor",
                    format!(
                        "{isr} = {i} with {rf_key} = {rf}: no write with acks=all could succeed."
                    ),
                )
                .at(["config", isr])
                .with_help(format!("Set {isr} to at most {rf} (commonly one less).")),
            );
        }
    }
    d
}

fn path(a: &str) -> Vec<PathStep> {
    vec![PathStep::Attr(a.to_string())]
}

/// The in-place changes Strimzi cannot make.
fn refusals(prior: &Value, proposed: &Value) -> Diagnostics {
    let mut d = Vec::new();
    let (was, now) = (storage(prior), storage(proposed));
    if let (Some(was), Some(now)) = (was, now) {
        let (wc, nc) = (str_attr(was, "class"), str_attr(now, "class"));
        if now.get("class").is_some_and(Value::is_known) && wc != nc {
            d.push(
                err(
                    "storage_class_change",
                    "Storage class cannot change",
                    format!(
                        "The cluster's volumes are on class {}; Strimzi cannot move them to {}.",
                        wc.unwrap_or("(default)"),
                        nc.unwrap_or("(default)")
                    ),
                )
                .at(["storage"])
                .with_help("Keep the class; a new class needs a new node pool and a migration of the data."),
            );
        }
        if let (Some(a), Some(b)) = (
            str_attr(was, "size").and_then(quantity_bytes),
            str_attr(now, "size").and_then(quantity_bytes),
        ) && b < a
        {
            d.push(
                err(
                    "storage_shrink",
                    "Volumes cannot shrink",
                    format!(
                        "storage size goes from {} to {}: Kubernetes volumes only grow.",
                        str_attr(was, "size").unwrap_or(""),
                        str_attr(now, "size").unwrap_or("")
                    ),
                )
                .at(["storage"])
                .with_help("Keep the size, or grow it."),
            );
        }
    }
    let had = prior.get("controllers").is_some_and(|v| !v.is_null());
    let has = proposed.get("controllers").is_some_and(|v| !v.is_null());
    if had != has && proposed.get("controllers").is_some_and(Value::is_known) {
        d.push(
            err(
                "roles_change",
                "KRaft roles cannot change here",
                if had {
                    "The cluster has dedicated controllers; making its brokers controllers too would move the KRaft quorum, which brick does not do."
                } else {
                    "The cluster's brokers are its controllers; splitting them into pools of their own would move the KRaft quorum, which brick does not do."
                },
            )
            .at(["controllers"])
            .with_help("Keep the roles, or follow Strimzi's documented node pool role migration by hand."),
        );
    }
    d
}

pub fn plan(prior: &Value, proposed: &Value) -> PlanResponse {
    if proposed.is_null() {
        return PlanResponse::planned(proposed.clone());
    }
    let mut m = proposed.as_mapping().cloned().unwrap_or_default();
    let id = match (str_attr(proposed, "namespace"), str_attr(proposed, "name")) {
        (Some(ns), Some(n)) => s(format!("{ns}/{n}")),
        _ => Value::unknown(Type::String),
    };
    m.insert("id".into(), id);
    let mut requires_replace = Vec::new();
    let mut diagnostics = Vec::new();
    let creating = prior.is_null();
    if !creating {
        for a in ["name", "namespace"] {
            if prior.get(a) != proposed.get(a) {
                requires_replace.push(path(a));
            }
        }
        if requires_replace.is_empty() {
            diagnostics.extend(refusals(prior, proposed));
        }
    }
    // The addresses stay as they were unless what shapes them changes.
    let same_shape = !creating
        && requires_replace.is_empty()
        && prior.get("listener") == proposed.get("listener")
        && prior.get("brokers") == proposed.get("brokers");
    for (attr, ty) in [
        ("bootstrap_servers", Type::Map(Box::new(Type::String))),
        ("cluster_id", Type::String),
    ] {
        let keep = same_shape || (attr == "cluster_id" && !creating && requires_replace.is_empty());
        let v = match prior.get(attr) {
            Some(p) if keep && !p.is_null() => p.clone(),
            _ => Value::unknown(ty),
        };
        m.insert(attr.into(), v);
    }
    PlanResponse {
        planned: Value::object(m),
        requires_replace,
        diagnostics,
    }
}

/// The node pools of a cluster: (pool name, roles, replicas).
pub fn pools(v: &Value) -> Vec<(String, Vec<&'static str>, i64)> {
    let name = str_attr(v, "name").unwrap_or("");
    let brokers = int_attr(v, "brokers").unwrap_or(1);
    match int_attr(v, "controllers") {
        Some(c) => vec![
            (format!("{name}-controller"), vec!["controller"], c),
            (format!("{name}-broker"), vec!["broker"], brokers),
        ],
        None => vec![(
            format!("{name}-dual-role"),
            vec!["controller", "broker"],
            brokers,
        )],
    }
}

/// The documents brick applies for a planned cluster: its node pools, then the Kafka.
pub fn render(v: &Value) -> Vec<Json> {
    let name = str_attr(v, "name").unwrap_or("");
    let ns = str_attr(v, "namespace").unwrap_or("");
    let mut volume = json!({"id": 0, "type": "persistent-claim", "kraftMetadata": "shared"});
    if let Some(st) = storage(v) {
        if let Some(size) = str_attr(st, "size") {
            volume["size"] = json!(size);
        }
        if let Some(class) = str_attr(st, "class") {
            volume["class"] = json!(class);
        }
        if let Some(dc) = bool_attr(st, "delete_claim") {
            volume["deleteClaim"] = json!(dc);
        }
    }
    let mut docs: Vec<Json> = pools(v)
        .into_iter()
        .map(|(pool, roles, replicas)| {
            json!({
                "apiVersion": API_VERSION,
                "kind": "KafkaNodePool",
                "metadata": {"name": pool, "namespace": ns, "labels": {"strimzi.io/cluster": name}},
                "spec": {
                    "replicas": replicas,
                    "roles": roles,
                    "storage": {"type": "jbod", "volumes": [volume.clone()]},
                },
            })
        })
        .collect();
    let listeners: Vec<Json> = listeners(v)
        .iter()
        .map(|l| {
            let mut j = json!({
                "name": str_attr(l, "name").unwrap_or(""),
                "port": int_attr(l, "port").unwrap_or(0),
                "type": str_attr(l, "type").unwrap_or(""),
                "tls": bool_attr(l, "tls").unwrap_or(false),
            });
            if let Some(np) = int_attr(l, "node_port") {
                j["configuration"] = json!({"bootstrap": {"nodePort": np}});
            }
            j
        })
        .collect();
    let mut kafka = json!({"listeners": listeners});
    if let Some(ver) = str_attr(v, "version") {
        kafka["version"] = json!(ver);
    }
    if let Some(mv) = str_attr(v, "metadata_version") {
        kafka["metadataVersion"] = json!(mv);
    }
    if let Some(cfg) = string_map_attr(v, "config")
        && !cfg.is_empty()
    {
        kafka["config"] = config_json(&cfg);
    }
    let mut entity = serde_json::Map::new();
    if bool_attr(v, "topic_operator").unwrap_or(true) {
        entity.insert("topicOperator".into(), json!({}));
    }
    if bool_attr(v, "user_operator").unwrap_or(true) {
        entity.insert("userOperator".into(), json!({}));
    }
    let mut spec = json!({"kafka": kafka});
    if !entity.is_empty() {
        spec["entityOperator"] = Json::Object(entity);
    }
    if bool_attr(v, "cruise_control").unwrap_or(false) {
        spec["cruiseControl"] = json!({});
    }
    docs.push(json!({
        "apiVersion": API_VERSION,
        "kind": "Kafka",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }));
    docs
}

fn kafka_ref(v: &Value) -> ObjRef {
    kube::obj(
        API_VERSION,
        "Kafka",
        str_attr(v, "namespace"),
        str_attr(v, "name").unwrap_or(""),
    )
}

/// The outputs Strimzi reports in a ready Kafka's status.
pub fn outputs(obj: &Json) -> (BTreeMap<String, String>, String) {
    let mut boot = BTreeMap::new();
    for l in obj
        .pointer("/status/listeners")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = l.get("name").and_then(Json::as_str) else {
            continue;
        };
        let servers = match l.get("bootstrapServers").and_then(Json::as_str) {
            Some(b) => b.to_string(),
            None => l
                .get("addresses")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| {
                    Some(format!(
                        "{}:{}",
                        a.get("host")?.as_str()?,
                        a.get("port")?.as_i64()?
                    ))
                })
                .collect::<Vec<_>>()
                .join(","),
        };
        boot.insert(name.to_string(), servers);
    }
    let id = obj
        .pointer("/status/clusterId")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    (boot, id)
}

fn with_outputs(planned: &Value, obj: &Json) -> Value {
    let (boot, id) = outputs(obj);
    let mut m = planned.as_mapping().cloned().unwrap_or_default();
    m.insert("bootstrap_servers".into(), string_map(boot));
    m.insert("cluster_id".into(), s(id));
    Value::object(m)
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
    let docs = render(planned);
    for doc in &docs {
        if let Err(d) = kube::apply(cluster, doc).await {
            return ApplyResponse::failed(prior, vec![d]);
        }
    }
    // Pools a change of roles left behind are not possible (refused at plan); a pool removed
    // by nothing else needs no cleanup here.
    progress.report("waiting for the Kafka to become Ready");
    match kube::wait_until(
        cluster,
        &kafka_ref(planned),
        READY_TIMEOUT,
        progress,
        kube::strimzi_ready,
    )
    .await
    {
        Ok(obj) => ApplyResponse::done(with_outputs(planned, &obj)),
        Err(d) => {
            // The objects exist: record them (outputs empty until the next apply reads them).
            let obj = json!({});
            ApplyResponse {
                new_state: with_outputs(planned, &obj),
                diagnostics: vec![d],
            }
        }
    }
}

async fn destroy(cluster: &Cluster, prior: &Value, progress: &dyn Progress) -> ApplyResponse {
    let mut d = Vec::new();
    let wait = Duration::from_secs(10 * 60);
    if let Err(e) = kube::delete(cluster, &kafka_ref(prior), Some((wait, progress))).await {
        d.push(e);
    }
    let ns = str_attr(prior, "namespace");
    for (pool, _, _) in pools(prior) {
        let r = kube::obj(API_VERSION, "KafkaNodePool", ns, &pool);
        if let Err(e) = kube::delete(cluster, &r, Some((wait, progress))).await {
            d.push(e);
        }
    }
    ApplyResponse {
        new_state: if d.is_empty() {
            Value::null_dynamic()
        } else {
            prior.clone()
        },
        diagnostics: d,
    }
}

/// The cluster as it is: `None` when the Kafka is gone. What the user wrote stays as written
/// except what the live objects show changed by someone else: the pools' replicas, the version,
/// and the configuration keys the user set.
pub async fn read(cluster: &Cluster, current: &Value) -> Result<Option<Value>, Diagnostics> {
    let Some(obj) = kube::get(cluster, &kafka_ref(current))
        .await
        .map_err(|d| vec![d])?
    else {
        return Ok(None);
    };
    let mut m = current.as_mapping().cloned().unwrap_or_default();
    let ns = str_attr(current, "namespace");
    for (pool, roles, _) in pools(current) {
        let r = kube::obj(API_VERSION, "KafkaNodePool", ns, &pool);
        if let Some(p) = kube::get(cluster, &r).await.map_err(|d| vec![d])?
            && let Some(n) = p.pointer("/spec/replicas").and_then(Json::as_i64)
        {
            let attr = if roles == ["controller"] {
                "controllers"
            } else {
                "brokers"
            };
            m.insert(attr.into(), crate::value::n(n));
        }
    }
    if current.get("version").is_some_and(|v| !v.is_null())
        && let Some(v) = obj.pointer("/spec/kafka/version").and_then(Json::as_str)
    {
        m.insert("version".into(), s(v));
    }
    if let Some(cfg) = string_map_attr(current, "config") {
        let live = obj.pointer("/spec/kafka/config");
        let mut now = BTreeMap::new();
        for (k, v) in cfg {
            match live.and_then(|l| l.get(&k)) {
                Some(Json::String(x)) => now.insert(k, x.clone()),
                Some(Json::Null) | None => None,
                Some(other) => now.insert(k, other.to_string()),
            };
            let _ = v;
        }
        m.insert("config".into(), string_map(now));
    }
    if matches!(kube::strimzi_ready(&obj), Standing::Ready) {
        let (boot, id) = outputs(&obj);
        m.insert("bootstrap_servers".into(), string_map(boot));
        m.insert("cluster_id".into(), s(id));
    }
    Ok(Some(Value::object(m)))
}

/// Import by `NAMESPACE/NAME`: the Kafka and its node pools as they are, in the shape brick
/// writes them (pools named NAME-dual-role, or NAME-controller and NAME-broker). A boolean
/// whose absence means its default (`cruise_control`, `topic_operator`, `user_operator`,
/// `delete_claim`) is imported as unset when it holds that default, as a configuration that
/// leaves it out reads.
pub async fn import(cluster: &Cluster, id: &str) -> Result<Value, Diagnostics> {
    let Some((ns, name)) = id
        .split_once('/')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
    else {
        return Err(vec![
            err(
                "import_id",
                "Invalid import id",
                format!("\"{id}\" is not NAMESPACE/NAME."),
            )
            .with_help("For example: kafka/my-cluster"),
        ]);
    };
    let Some(obj) = kube::get(cluster, &kube::obj(API_VERSION, "Kafka", Some(ns), name))
        .await
        .map_err(|d| vec![d])?
    else {
        return Err(vec![err(
            "not_found",
            "Kafka not found",
            format!("There is no Kafka {ns}/{name} ({API_VERSION})."),
        )]);
    };
    let mut pools = BTreeMap::new();
    for pool in [
        format!("{name}-dual-role"),
        format!("{name}-controller"),
        format!("{name}-broker"),
    ] {
        let r = kube::obj(API_VERSION, "KafkaNodePool", Some(ns), &pool);
        if let Some(p) = kube::get(cluster, &r).await.map_err(|d| vec![d])? {
            pools.insert(pool, p);
        }
    }
    let replicas = |p: &Json| p.pointer("/spec/replicas").and_then(Json::as_i64);
    let (brokers, controllers, storage_of) = match (
        pools.get(&format!("{name}-dual-role")),
        pools.get(&format!("{name}-controller")),
        pools.get(&format!("{name}-broker")),
    ) {
        (Some(d), None, None) => (replicas(d), None, d),
        (None, Some(c), Some(b)) => (replicas(b), replicas(c), b),
        _ => {
            return Err(vec![
                err(
                    "import_pools",
                    "Node pools not in brick's shape",
                    format!(
                        "The Kafka {ns}/{name} has none of the node pool sets brick manages (found: {}).",
                        if pools.is_empty() {
                            "none of those names".to_string()
                        } else {
                            pools.keys().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ),
                )
                .with_help(format!(
                    "brick manages one pool {name}-dual-role (controllers and brokers), or {name}-controller and {name}-broker; import the pools as k8s_manifest objects otherwise."
                )),
            ]);
        }
    };
    let storage = {
        let st = storage_of.pointer("/spec/storage");
        let volume = match st.and_then(|s| s.get("type")).and_then(Json::as_str) {
            Some("jbod") => st.and_then(|s| s.pointer("/volumes/0")),
            _ => st,
        };
        let Some(size) = volume.and_then(|v| v.get("size")).and_then(Json::as_str) else {
            return Err(vec![err(
                "import_storage",
                "Storage not in brick's shape",
                format!(
                    "The Kafka {ns}/{name}'s node pool has no persistent-claim volume with a size (its storage: {}).",
                    st.map_or("none".to_string(), Json::to_string)
                ),
            )]);
        };
        let v = volume.unwrap_or(&Json::Null);
        Value::object(
            [
                ("size".to_string(), s(size)),
                (
                    "class".to_string(),
                    v.get("class")
                        .and_then(Json::as_str)
                        .map_or(Value::null(Type::String), s),
                ),
                (
                    "delete_claim".to_string(),
                    match v.get("deleteClaim").and_then(Json::as_bool) {
                        Some(true) => Value::bool(true),
                        _ => Value::null(Type::Bool),
                    },
                ),
            ]
            .into(),
        )
    };
    let kafka = obj.pointer("/spec/kafka").cloned().unwrap_or(json!({}));
    let listeners: Vec<Value> = kafka
        .get("listeners")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|l| {
            let text = |k: &str| l.get(k).and_then(Json::as_str).unwrap_or("");
            Value::object(
                [
                    ("name".to_string(), s(text("name"))),
                    (
                        "port".to_string(),
                        n(l.get("port").and_then(Json::as_i64).unwrap_or(0)),
                    ),
                    ("type".to_string(), s(text("type"))),
                    (
                        "tls".to_string(),
                        Value::bool(l.get("tls").and_then(Json::as_bool).unwrap_or(false)),
                    ),
                    (
                        "node_port".to_string(),
                        l.pointer("/configuration/bootstrap/nodePort")
                            .and_then(Json::as_i64)
                            .map_or(Value::null(Type::Number), n),
                    ),
                ]
                .into(),
            )
        })
        .collect();
    let config: BTreeMap<String, String> = kafka
        .get("config")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match v {
            Json::String(x) => Some((k.clone(), x.clone())),
            Json::Null => None,
            other => Some((k.clone(), other.to_string())),
        })
        .collect();
    let opt_str = |k: &str| {
        kafka
            .get(k)
            .and_then(Json::as_str)
            .map_or(Value::null(Type::String), s)
    };
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    // Present means on; the defaults (on for the operators, off for Cruise Control) read as unset.
    let switch = |present: bool, default: bool| {
        if present == default {
            Value::null(Type::Bool)
        } else {
            Value::bool(present)
        }
    };
    let (boot, cluster_id) = outputs(&obj);
    let listener_ty = listener_block().value_type();
    let storage_ty = storage_block().value_type();
    Ok(Value::object(
        [
            ("id".to_string(), s(id)),
            ("name".to_string(), s(name)),
            ("namespace".to_string(), s(ns)),
            ("version".to_string(), opt_str("version")),
            ("metadata_version".to_string(), opt_str("metadataVersion")),
            (
                "brokers".to_string(),
                brokers.map_or(Value::null(Type::Number), n),
            ),
            (
                "controllers".to_string(),
                controllers.map_or(Value::null(Type::Number), n),
            ),
            (
                "config".to_string(),
                if config.is_empty() {
                    Value::null(Type::Map(Box::new(Type::String)))
                } else {
                    string_map(config)
                },
            ),
            (
                "cruise_control".to_string(),
                switch(spec.get("cruiseControl").is_some(), false),
            ),
            (
                "topic_operator".to_string(),
                switch(
                    spec.pointer("/entityOperator/topicOperator").is_some(),
                    true,
                ),
            ),
            (
                "user_operator".to_string(),
                switch(spec.pointer("/entityOperator/userOperator").is_some(), true),
            ),
            ("api_version".to_string(), Value::null(Type::String)),
            ("bootstrap_servers".to_string(), string_map(boot)),
            ("cluster_id".to_string(), s(cluster_id)),
            (
                "storage".to_string(),
                Value::list(storage_ty, vec![storage]),
            ),
            ("listener".to_string(), Value::list(listener_ty, listeners)),
            (
                "zookeeper".to_string(),
                Value::list(zookeeper_block().value_type(), Vec::new()),
            ),
        ]
        .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::n;

    /// The seed's cluster: three brokers, 100Gi on rook-ceph-block, a nodeport listener on 9094,
    /// replication 3, min.insync 2.
    fn seed() -> Value {
        let listener = Value::object(
            [
                ("name".to_string(), s("external")),
                ("port".to_string(), n(9094)),
                ("type".to_string(), s("nodeport")),
                ("tls".to_string(), Value::bool(false)),
            ]
            .into(),
        );
        let storage = Value::object(
            [
                ("size".to_string(), s("100Gi")),
                ("class".to_string(), s("rook-ceph-block")),
            ]
            .into(),
        );
        Value::object(
            [
                ("name".to_string(), s("seed")),
                ("namespace".to_string(), s("kafka")),
                ("brokers".to_string(), n(3)),
                ("version".to_string(), s("4.3.1")),
                (
                    "listener".to_string(),
                    Value::list(listener.ty(), vec![listener]),
                ),
                (
                    "storage".to_string(),
                    Value::list(storage.ty(), vec![storage]),
                ),
                (
                    "config".to_string(),
                    string_map(
                        [
                            ("default.replication.factor".to_string(), "3".to_string()),
                            ("min.insync.replicas".to_string(), "2".to_string()),
                        ]
                        .into(),
                    ),
                ),
            ]
            .into(),
        )
    }

    fn with(v: &Value, k: &str, x: Value) -> Value {
        let mut m = v.as_mapping().cloned().unwrap();
        m.insert(k.into(), x);
        Value::object(m)
    }

    fn codes(d: &Diagnostics) -> Vec<&str> {
        d.iter().map(|d| d.code.as_str()).collect()
    }

    #[test]
    fn the_seed_renders_as_one_dual_role_pool_and_a_kraft_kafka() {
        let docs = render(&seed());
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0],
            json!({
                "apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaNodePool",
                "metadata": {"name": "seed-dual-role", "namespace": "kafka", "labels": {"strimzi.io/cluster": "seed"}},
                "spec": {"replicas": 3, "roles": ["controller", "broker"], "storage": {"type": "jbod", "volumes": [
                    {"id": 0, "type": "persistent-claim", "kraftMetadata": "shared", "size": "100Gi", "class": "rook-ceph-block"}]}}
            })
        );
        assert_eq!(
            docs[1],
            json!({
                "apiVersion": "kafka.strimzi.io/v1", "kind": "Kafka",
                "metadata": {"name": "seed", "namespace": "kafka"},
                "spec": {
                    "kafka": {
                        "listeners": [{"name": "external", "port": 9094, "type": "nodeport", "tls": false}],
                        "version": "4.3.1",
                        "config": {"default.replication.factor": 3, "min.insync.replicas": 2}
                    },
                    "entityOperator": {"topicOperator": {}, "userOperator": {}}
                }
            })
        );
        let split = render(&with(&seed(), "controllers", n(3)));
        assert_eq!(split.len(), 3);
        assert_eq!(split[0]["metadata"]["name"], "seed-controller");
        assert_eq!(split[0]["spec"]["roles"], json!(["controller"]));
        assert_eq!(split[1]["spec"]["roles"], json!(["broker"]));
    }

    #[test]
    fn the_seeds_zookeeper_shape_is_refused_with_what_to_write_instead() {
        let zk = Value::object([("replicas".to_string(), n(3))].into());
        let old = with(
            &with(&seed(), "zookeeper", Value::list(zk.ty(), vec![zk])),
            "api_version",
            s("kafka.strimzi.io/v1beta2"),
        );
        let d = validate(&old);
        assert_eq!(
            codes(&d),
            vec![
                "brick::strimzi::zookeeper_removed",
                "brick::strimzi::api_version_removed"
            ]
        );
        assert!(d[0].help.as_deref().unwrap().contains("listener {"));
        assert!(validate(&seed()).is_empty());
    }

    #[test]
    fn impossible_broker_settings_and_listeners_are_refused() {
        let cfg = string_map(
            [
                (
                    "offsets.topic.replication.factor".to_string(),
                    "4".to_string(),
                ),
                ("default.replication.factor".to_string(), "2".to_string()),
                ("min.insync.replicas".to_string(), "3".to_string()),
            ]
            .into(),
        );
        let bad = Value::object(
            [
                ("name".to_string(), s("Bad_Name")),
                ("port".to_string(), n(9404)),
                ("type".to_string(), s("external")),
            ]
            .into(),
        );
        let v = with(
            &with(&seed(), "config", cfg),
            "listener",
            Value::list(bad.ty(), vec![bad]),
        );
        assert_eq!(
            codes(&validate(&v)),
            vec![
                "brick::strimzi::invalid_listener",
                "brick::strimzi::invalid_listener",
                "brick::strimzi::invalid_listener",
                "brick::strimzi::replicas_above_brokers",
                "brick::strimzi::min_insync_above_replicas"
            ]
        );
    }

    #[test]
    fn storage_class_shrinking_and_role_changes_are_refused_at_plan() {
        let prior = plan(&Value::null_dynamic(), &seed()).planned;
        let st = |size: &str, class: &str| {
            let o = Value::object(
                [
                    ("size".to_string(), s(size)),
                    ("class".to_string(), s(class)),
                ]
                .into(),
            );
            Value::list(o.ty(), vec![o])
        };
        let grow = with(&seed(), "storage", st("200Gi", "rook-ceph-block"));
        assert!(plan(&prior, &grow).diagnostics.is_empty());
        let shrink = with(&seed(), "storage", st("10Gi", "rook-ceph-block"));
        assert_eq!(
            codes(&plan(&prior, &shrink).diagnostics),
            vec!["brick::strimzi::storage_shrink"]
        );
        let moved = with(&seed(), "storage", st("100Gi", "local-path"));
        assert_eq!(
            codes(&plan(&prior, &moved).diagnostics),
            vec!["brick::strimzi::storage_class_change"]
        );
        let split = with(&seed(), "controllers", n(3));
        assert_eq!(
            codes(&plan(&prior, &split).diagnostics),
            vec!["brick::strimzi::roles_change"]
        );
        let renamed = with(&seed(), "name", s("other"));
        let p = plan(&prior, &renamed);
        assert!(p.diagnostics.is_empty());
        assert_eq!(p.requires_replace, vec![path("name")]);
    }

    #[test]
    fn outputs_come_from_status_listeners() {
        let obj = json!({"status": {"clusterId": "abc", "listeners": [
            {"name": "plain", "bootstrapServers": "seed-kafka-bootstrap.kafka.svc:9092"},
            {"name": "external", "addresses": [{"host": "10.0.0.5", "port": 31234}, {"host": "10.0.0.6", "port": 31234}]}
        ]}});
        let (boot, id) = outputs(&obj);
        assert_eq!(id, "abc");
        assert_eq!(boot["plain"], "seed-kafka-bootstrap.kafka.svc:9092");
        assert_eq!(boot["external"], "10.0.0.5:31234,10.0.0.6:31234");
    }
}
