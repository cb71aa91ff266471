//! `strimzi_topic`: a `KafkaTopic` (`kafka.strimzi.io/v1`) that Strimzi's Topic Operator makes
//! real in its cluster. Ready when the operator reports `Ready` for the current generation.
//! What the Topic Operator would refuse later in status — fewer partitions, another topic name,
//! a rename or move of the object — is refused at plan; a replicas change without Cruise
//! Control is refused by the provider's plan check ([`crate::strimzi`]).

use std::collections::BTreeMap;
use std::time::Duration;

use brick_provider_api::provider::{ApplyResponse, PlanResponse, Progress};
use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use brick_provider_k8s::machinery::Cluster;
use serde_json::{Value as Json, json};

use crate::resources::topic::valid_name;
use crate::strimzi::kube::{self, ObjRef};
use crate::strimzi::{API_VERSION, CLUSTER_LABEL, config_json};
use crate::value::{int_attr, n, s, str_attr, string_map, string_map_attr};

pub const TYPE: &str = "strimzi_topic";

/// How long an apply waits for the Topic Operator.
pub const READY_TIMEOUT: Duration = Duration::from_secs(5 * 60);

pub fn schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "id",
                Attribute::computed(Type::String).describe("NAMESPACE/NAME of the KafkaTopic."),
            )
            .attr(
                "name",
                Attribute::required(Type::String).describe(
                    "The KafkaTopic's name, and the topic's unless topic_name is set. Fixed once created.",
                ),
            )
            .attr(
                "namespace",
                Attribute::required(Type::String)
                    .describe("The namespace of the cluster's Topic Operator. Fixed once created."),
            )
            .attr(
                "cluster",
                Attribute::required(Type::String).describe(
                    "The Kafka's name (label strimzi.io/cluster), e.g. strimzi_kafka.k.name. Fixed once created.",
                ),
            )
            .attr(
                "topic_name",
                Attribute::optional(Type::String).describe(
                    "The topic's name in Kafka when it is no valid Kubernetes name (e.g. has '_' or capitals). Fixed once created.",
                ),
            )
            .attr(
                "partitions",
                Attribute::optional(Type::Number).describe(
                    "The number of partitions; grows in place, never shrinks. Default: the brokers' num.partitions.",
                ),
            )
            .attr(
                "replicas",
                Attribute::optional(Type::Number).describe(
                    "Replicas of each partition, at most the brokers. A change needs Cruise Control (strimzi_kafka's cruise_control). Default: the brokers' default.replication.factor.",
                ),
            )
            .attr(
                "config",
                Attribute::optional(Type::Map(Box::new(Type::String))).describe(
                    "Topic configuration (retention.ms, cleanup.policy, min.insync.replicas, …); numbers and true/false are written as such.",
                ),
            ),
    }
}

fn err(code: &str, summary: &str, detail: impl Into<String>) -> Diagnostic {
    Diagnostic::error(format!("brick::strimzi::{code}"), summary, detail)
}

/// Whether `name` is a Kubernetes object name (an RFC 1123 subdomain).
fn valid_object_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// The topic's name in Kafka: `topic_name`, else `name`.
pub fn kafka_name(v: &Value) -> Option<&str> {
    str_attr(v, "topic_name").or_else(|| str_attr(v, "name"))
}

pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Vec::new();
    if let Some(name) = str_attr(config, "name")
        && !valid_object_name(name)
    {
        d.push(
            err(
                "invalid_name",
                "Invalid KafkaTopic name",
                format!("\"{name}\" is no Kubernetes object name (lowercase letters, digits, '-' and '.')."),
            )
            .at(["name"])
            .with_help("Give the object a valid name and the topic's own in topic_name."),
        );
    }
    if let Some(t) = str_attr(config, "topic_name")
        && !valid_name(t)
    {
        d.push(
            err(
                "invalid_topic_name",
                "Invalid topic name",
                format!("\"{t}\" is not a topic name Kafka accepts: 1 to 249 letters, digits, '.', '_' and '-'."),
            )
            .at(["topic_name"]),
        );
    }
    for attr in ["partitions", "replicas"] {
        if let Some(x) = int_attr(config, attr)
            && x < 1
        {
            d.push(
                err(
                    "invalid_count",
                    "Invalid count",
                    format!("{attr} is {x}; Strimzi's CRD takes 1 or more."),
                )
                .at([attr]),
            );
        }
    }
    d
}

/// The in-place changes the Topic Operator would refuse.
fn refusals(prior: &Value, proposed: &Value) -> Diagnostics {
    let mut d = Vec::new();
    let known = |a: &str| proposed.get(a).is_none_or(Value::is_known);
    if let (Some(was), Some(now)) = (
        int_attr(prior, "partitions"),
        int_attr(proposed, "partitions"),
    ) && now < was
    {
        d.push(
            err(
                "partitions_decrease",
                "Partitions cannot decrease",
                format!("The topic has {was} partitions; Kafka cannot go down to {now} (the Topic Operator would answer NotSupported)."),
            )
            .at(["partitions"])
            .with_help(format!("Keep partitions at {was} or more.")),
        );
    }
    if known("topic_name") && known("name") && kafka_name(prior) != kafka_name(proposed) {
        d.push(
            err(
                "topic_name_change",
                "Topic name cannot change",
                format!(
                    "The KafkaTopic stands for topic \"{}\"; Kafka cannot rename it to \"{}\" (the Topic Operator would answer NotSupported).",
                    kafka_name(prior).unwrap_or(""),
                    kafka_name(proposed).unwrap_or("")
                ),
            )
            .at([if proposed.get("topic_name").is_some_and(|v| !v.is_null()) { "topic_name" } else { "name" }])
            .with_help("Add a new strimzi_topic for the new name and move the data; remove this one when done."),
        );
    } else {
        for a in ["name", "namespace", "cluster"] {
            if known(a) && prior.get(a) != proposed.get(a) {
                d.push(
                    err(
                        "topic_moved",
                        "KafkaTopic cannot move",
                        format!(
                            "Changing {a} would delete this KafkaTopic, and with it the topic and its data, before making another."
                        ),
                    )
                    .at([a])
                    .with_help("Keep it; to move a topic, add a new strimzi_topic and remove this one once the data has moved."),
                );
            }
        }
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
    let diagnostics = if prior.is_null() {
        Vec::new()
    } else {
        refusals(prior, proposed)
    };
    PlanResponse {
        planned: Value::object(m),
        requires_replace: Vec::new(),
        diagnostics,
    }
}

/// The KafkaTopic brick applies.
pub fn render(v: &Value) -> Json {
    let mut spec = serde_json::Map::new();
    if let Some(t) = str_attr(v, "topic_name") {
        spec.insert("topicName".into(), json!(t));
    }
    if let Some(p) = int_attr(v, "partitions") {
        spec.insert("partitions".into(), json!(p));
    }
    if let Some(r) = int_attr(v, "replicas") {
        spec.insert("replicas".into(), json!(r));
    }
    if let Some(cfg) = string_map_attr(v, "config")
        && !cfg.is_empty()
    {
        spec.insert("config".into(), config_json(&cfg));
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": "KafkaTopic",
        "metadata": {
            "name": str_attr(v, "name").unwrap_or(""),
            "namespace": str_attr(v, "namespace").unwrap_or(""),
            "labels": {CLUSTER_LABEL: str_attr(v, "cluster").unwrap_or("")},
        },
        "spec": spec,
    })
}

/// The `KafkaTopic` a topic's value names.
pub fn topic_ref(v: &Value) -> ObjRef {
    kube::obj(
        API_VERSION,
        "KafkaTopic",
        str_attr(v, "namespace"),
        str_attr(v, "name").unwrap_or(""),
    )
}

pub async fn apply(
    cluster: &Cluster,
    prior: &Value,
    planned: &Value,
    progress: &dyn Progress,
) -> ApplyResponse {
    if planned.is_null() {
        let d = kube::delete(cluster, &topic_ref(prior), Some((READY_TIMEOUT, progress))).await;
        return match d {
            Ok(()) => ApplyResponse::done(Value::null_dynamic()),
            Err(d) => ApplyResponse::failed(prior, vec![d]),
        };
    }
    if let Err(d) = kube::apply(cluster, &render(planned)).await {
        return ApplyResponse::failed(prior, vec![d]);
    }
    let waited = kube::wait_until(
        cluster,
        &topic_ref(planned),
        READY_TIMEOUT,
        progress,
        kube::strimzi_ready,
    )
    .await;
    ApplyResponse {
        // Applied either way: the object exists as planned.
        new_state: planned.clone(),
        diagnostics: waited.err().into_iter().collect(),
    }
}

/// A spec value as the string the configuration holds.
fn text(j: &Json) -> Option<String> {
    match j {
        Json::String(s) => Some(s.clone()),
        Json::Null => None,
        other => Some(other.to_string()),
    }
}

/// The topic as it is: `None` when the KafkaTopic is gone. What the user set is compared with
/// the live spec (someone's `kubectl edit` shows as drift); the rest stays as written.
pub async fn read(cluster: &Cluster, current: &Value) -> Result<Option<Value>, Diagnostics> {
    let Some(obj) = kube::get(cluster, &topic_ref(current))
        .await
        .map_err(|d| vec![d])?
    else {
        return Ok(None);
    };
    if obj.pointer("/metadata/deletionTimestamp").is_some() {
        return Ok(None);
    }
    Ok(Some(refreshed(current, &obj)))
}

pub fn refreshed(current: &Value, obj: &Json) -> Value {
    let mut m = current.as_mapping().cloned().unwrap_or_default();
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    for (attr, field) in [("partitions", "partitions"), ("replicas", "replicas")] {
        if current.get(attr).is_some_and(|v| !v.is_null()) {
            let v = spec.get(field).and_then(Json::as_i64).map(n);
            m.insert(attr.into(), v.unwrap_or_else(|| Value::null(Type::Number)));
        }
    }
    if let Some(cfg) = string_map_attr(current, "config") {
        let live = spec.get("config");
        let now: BTreeMap<String, String> = cfg
            .keys()
            .filter_map(|k| Some((k.clone(), text(live?.get(k)?)?)))
            .collect();
        m.insert("config".into(), string_map(now));
    }
    if let Some(c) = obj
        .pointer(&format!(
            "/metadata/labels/{}",
            CLUSTER_LABEL.replace('/', "~1")
        ))
        .and_then(Json::as_str)
    {
        m.insert("cluster".into(), s(c));
    }
    Value::object(m)
}

/// Import by `NAMESPACE/NAME`.
pub async fn import(cluster: &Cluster, id: &str) -> Result<Value, Diagnostics> {
    let Some((ns, name)) = id.split_once('/') else {
        return Err(vec![
            err(
                "import_id",
                "Invalid import id",
                format!("\"{id}\" is not NAMESPACE/NAME."),
            )
            .with_help("For example: kafka/orders"),
        ]);
    };
    let r = kube::obj(API_VERSION, "KafkaTopic", Some(ns), name);
    let Some(obj) = kube::get(cluster, &r).await.map_err(|d| vec![d])? else {
        return Err(vec![err(
            "not_found",
            "KafkaTopic not found",
            format!("There is no KafkaTopic {ns}/{name}."),
        )]);
    };
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let int = |k: &str| {
        spec.get(k)
            .and_then(Json::as_i64)
            .map_or(Value::null(Type::Number), n)
    };
    let cfg: BTreeMap<String, String> = spec
        .get("config")
        .and_then(Json::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
                .collect()
        })
        .unwrap_or_default();
    let label = obj
        .pointer(&format!(
            "/metadata/labels/{}",
            CLUSTER_LABEL.replace('/', "~1")
        ))
        .and_then(Json::as_str)
        .unwrap_or("");
    Ok(Value::object(
        [
            ("id".to_string(), s(id)),
            ("name".to_string(), s(name)),
            ("namespace".to_string(), s(ns)),
            ("cluster".to_string(), s(label)),
            (
                "topic_name".to_string(),
                spec.get("topicName")
                    .and_then(Json::as_str)
                    .map_or(Value::null(Type::String), s),
            ),
            ("partitions".to_string(), int("partitions")),
            ("replicas".to_string(), int("replicas")),
            (
                "config".to_string(),
                if cfg.is_empty() {
                    Value::null(Type::Map(Box::new(Type::String)))
                } else {
                    string_map(cfg)
                },
            ),
        ]
        .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str, partitions: i64) -> Value {
        Value::object(
            [
                ("name".to_string(), s(name)),
                ("namespace".to_string(), s("kafka")),
                ("cluster".to_string(), s("seed")),
                ("partitions".to_string(), n(partitions)),
                ("replicas".to_string(), n(3)),
                (
                    "config".to_string(),
                    string_map(
                        [
                            ("retention.ms".to_string(), "7200000".to_string()),
                            ("cleanup.policy".to_string(), "compact".to_string()),
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
    fn a_topic_renders_as_strimzis_kafka_topic() {
        assert_eq!(
            render(&with(&topic("orders", 3), "topic_name", s("Orders_v1"))),
            json!({
                "apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic",
                "metadata": {"name": "orders", "namespace": "kafka", "labels": {"strimzi.io/cluster": "seed"}},
                "spec": {"topicName": "Orders_v1", "partitions": 3, "replicas": 3,
                         "config": {"cleanup.policy": "compact", "retention.ms": 7200000}}
            })
        );
    }

    #[test]
    fn fewer_partitions_a_new_topic_name_and_a_move_are_refused_at_plan() {
        let prior = plan(&Value::null_dynamic(), &topic("orders", 6)).planned;
        assert!(plan(&prior, &topic("orders", 12)).diagnostics.is_empty());
        assert_eq!(
            codes(&plan(&prior, &topic("orders", 3)).diagnostics),
            vec!["brick::strimzi::partitions_decrease"]
        );
        let d = plan(&prior, &topic("payments", 6)).diagnostics;
        assert_eq!(codes(&d), vec!["brick::strimzi::topic_name_change"]);
        assert_eq!(d[0].attribute, vec!["name"]);
        let renamed = with(&topic("orders", 6), "topic_name", s("other"));
        assert_eq!(
            codes(&plan(&prior, &renamed).diagnostics),
            vec!["brick::strimzi::topic_name_change"]
        );
        let moved = with(&topic("orders", 6), "cluster", s("other"));
        assert_eq!(
            codes(&plan(&prior, &moved).diagnostics),
            vec!["brick::strimzi::topic_moved"]
        );
        // The object renamed, the topic's name kept by topic_name: still a delete underneath.
        let prior2 = plan(
            &Value::null_dynamic(),
            &with(&topic("orders", 6), "topic_name", s("orders")),
        )
        .planned;
        let obj_renamed = with(&topic("orders-v2", 6), "topic_name", s("orders"));
        assert_eq!(
            codes(&plan(&prior2, &obj_renamed).diagnostics),
            vec!["brick::strimzi::topic_moved"]
        );
    }

    #[test]
    fn refresh_reads_back_only_what_the_user_set() {
        let current = topic("orders", 3);
        let live = json!({"metadata": {"labels": {"strimzi.io/cluster": "seed"}},
            "spec": {"partitions": 5, "replicas": 3, "config": {"retention.ms": 7200000, "cleanup.policy": "delete", "segment.bytes": 1}}});
        let r = refreshed(&current, &live);
        assert_eq!(int_attr(&r, "partitions"), Some(5));
        assert_eq!(
            string_map_attr(&r, "config").unwrap(),
            [
                ("cleanup.policy".to_string(), "delete".to_string()),
                ("retention.ms".to_string(), "7200000".to_string())
            ]
            .into()
        );
    }

    #[test]
    fn invalid_names_are_refused() {
        assert_eq!(
            codes(&validate(&with(&topic("Orders_1", 3), "partitions", n(0)))),
            vec![
                "brick::strimzi::invalid_name",
                "brick::strimzi::invalid_count"
            ]
        );
    }
}
