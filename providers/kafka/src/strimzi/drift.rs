//! What the `strimzi` provider can say about drift (`Provider::explain_drift`): which field
//! manager changed each field of a `KafkaTopic`, `Kafka` or `KafkaNodePool` since brick applied
//! it (`kubectl-patch`, `kubectl-edit`, another tool), read from the live object's managed
//! fields, and how much it matters. A topic's partitions, replicas and name, and the retention,
//! cleanup and replication settings of a topic or a cluster are `data-risk`, as for
//! `kafka_topic`; so are fewer brokers or controllers (partitions on a removed broker, the
//! controller quorum). The rest is `normal`.

use brick_provider_api::provider::{AttrPath, DriftExplanation, DriftNote, DriftRequest, PathStep};
use brick_provider_api::{Diagnostics, DriftSeverity};
use brick_provider_k8s::drift::{FieldRule, field_notes, lowered};
use brick_provider_k8s::machinery::Cluster;
use serde_json::Value as Json;

use crate::resources::{strimzi_kafka, strimzi_topic};
use crate::strimzi::{API_VERSION, kube};
use crate::value::str_attr;

/// Broker settings (a `strimzi_kafka`'s `config`) whose change can lose data, beside the
/// topic settings of [`crate::drift::DATA_RISK_KEYS`].
const CLUSTER_DATA_RISK_KEYS: &[&str] = &[
    "default.replication.factor",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "unclean.leader.election.enable",
    "log.retention.ms",
    "log.retention.hours",
    "log.retention.minutes",
    "log.retention.bytes",
    "log.cleanup.policy",
];

fn rule(field: &[&str], severity: Option<DriftSeverity>, detail: Option<&str>) -> FieldRule {
    FieldRule {
        field: field.iter().map(|s| s.to_string()).collect(),
        severity,
        detail: detail.map(str::to_string),
    }
}

/// The object as the API server holds it now, with its managed fields; `None` when it is
/// gone or cannot be read (then nobody is named: the severities still hold).
async fn live_object(cluster: Option<&Cluster>, r: &kube::ObjRef) -> Option<Json> {
    kube::get(cluster?, r).await.ok().flatten()
}

pub async fn explain(
    cluster: Option<&Cluster>,
    req: &DriftRequest<'_>,
) -> Result<DriftExplanation, Diagnostics> {
    let notes = match req.type_name {
        strimzi_topic::TYPE => topic(cluster, req).await,
        strimzi_kafka::TYPE => kafka(cluster, req).await,
        _ => Vec::new(),
    };
    Ok(DriftExplanation {
        still_exists: None,
        notes,
    })
}

/// A changed attribute of a `strimzi_topic`: its `KafkaTopic` field and severity.
pub fn topic_rule(path: &AttrPath) -> Option<FieldRule> {
    let risk = Some(DriftSeverity::DataRisk);
    Some(match path.as_slice() {
        [PathStep::Attr(a)] if a == "partitions" => rule(
            &["spec", "partitions"],
            risk,
            Some("more partitions: keys map to other partitions, their order is lost"),
        ),
        [PathStep::Attr(a)] if a == "replicas" => rule(&["spec", "replicas"], risk, None),
        [PathStep::Attr(a)] if a == "topic_name" => rule(&["spec", "topicName"], risk, None),
        [PathStep::Attr(a)] if a == "cluster" => rule(
            &["metadata", "labels", crate::strimzi::CLUSTER_LABEL],
            None,
            Some("the topic now belongs to another cluster's Topic Operator"),
        ),
        [PathStep::Attr(c), PathStep::Key(k), ..] if c == "config" => rule(
            &["spec", "config", k],
            crate::drift::DATA_RISK_KEYS
                .contains(&k.as_str())
                .then_some(DriftSeverity::DataRisk),
            None,
        ),
        _ => return None,
    })
}

async fn topic(cluster: Option<&Cluster>, req: &DriftRequest<'_>) -> Vec<DriftNote> {
    let live = match req.live {
        Some(_) => live_object(cluster, &strimzi_topic::topic_ref(req.recorded)).await,
        None => None,
    };
    field_notes(req.changed, live.as_ref(), topic_rule)
}

/// A changed attribute of a `strimzi_kafka`: severity and field (in the `Kafka`, or in the
/// node pool for `brokers` and `controllers`), knowing which counts were lowered.
pub fn kafka_rule(
    path: &AttrPath,
    brokers_lowered: bool,
    controllers_lowered: bool,
) -> Option<FieldRule> {
    Some(match path.as_slice() {
        [PathStep::Attr(a)] if a == "brokers" => rule(
            &["spec", "replicas"],
            brokers_lowered.then_some(DriftSeverity::DataRisk),
            brokers_lowered
                .then_some("fewer brokers: the partitions they held must move, or are lost"),
        ),
        [PathStep::Attr(a)] if a == "controllers" => rule(
            &["spec", "replicas"],
            controllers_lowered.then_some(DriftSeverity::DataRisk),
            controllers_lowered.then_some("fewer controllers: the metadata quorum shrank"),
        ),
        [PathStep::Attr(a)] if a == "version" => rule(&["spec", "kafka", "version"], None, None),
        [PathStep::Attr(c), PathStep::Key(k), ..] if c == "config" => rule(
            &["spec", "kafka", "config", k],
            (crate::drift::DATA_RISK_KEYS.contains(&k.as_str())
                || CLUSTER_DATA_RISK_KEYS.contains(&k.as_str()))
            .then_some(DriftSeverity::DataRisk),
            None,
        ),
        _ => return None,
    })
}

async fn kafka(cluster: Option<&Cluster>, req: &DriftRequest<'_>) -> Vec<DriftNote> {
    let (b, c) = (lowered(req, "brokers"), lowered(req, "controllers"));
    let ns = str_attr(req.recorded, "namespace");
    let pool_of = |attr: &str| {
        strimzi_kafka::pools(req.recorded)
            .into_iter()
            .find(|(_, roles, _)| (attr == "controllers") == (roles == &["controller"]))
            .map(|(name, _, _)| name)
    };
    let mut notes = Vec::new();
    for path in req.changed {
        let Some(PathStep::Attr(first)) = path.first() else {
            continue;
        };
        let r = if req.live.is_none() {
            None
        } else if first == "brokers" || first == "controllers" {
            match pool_of(first) {
                Some(pool) => {
                    live_object(cluster, &kube::obj(API_VERSION, "KafkaNodePool", ns, &pool)).await
                }
                None => None,
            }
        } else {
            live_object(
                cluster,
                &kube::obj(
                    API_VERSION,
                    "Kafka",
                    ns,
                    str_attr(req.recorded, "name").unwrap_or(""),
                ),
            )
            .await
        };
        notes.extend(field_notes(std::slice::from_ref(path), r.as_ref(), |p| {
            kafka_rule(p, b, c)
        }));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(a: &str) -> AttrPath {
        vec![PathStep::Attr(a.into())]
    }

    fn config(k: &str) -> AttrPath {
        vec![PathStep::Attr("config".into()), PathStep::Key(k.into())]
    }

    #[test]
    fn a_topics_partitions_replicas_and_retention_are_data_risk_other_settings_are_not() {
        for p in [attr("partitions"), attr("replicas"), config("retention.ms")] {
            assert_eq!(
                topic_rule(&p).unwrap().severity,
                Some(DriftSeverity::DataRisk),
                "{p:?}"
            );
        }
        assert_eq!(topic_rule(&config("segment.ms")).unwrap().severity, None);
        assert_eq!(
            topic_rule(&config("retention.ms")).unwrap().field,
            ["spec", "config", "retention.ms"]
        );
    }

    #[test]
    fn fewer_brokers_are_data_risk_more_are_not() {
        assert_eq!(
            kafka_rule(&attr("brokers"), true, false).unwrap().severity,
            Some(DriftSeverity::DataRisk)
        );
        assert_eq!(
            kafka_rule(&attr("brokers"), false, false).unwrap().severity,
            None
        );
        assert_eq!(
            kafka_rule(&config("default.replication.factor"), false, false)
                .unwrap()
                .severity,
            Some(DriftSeverity::DataRisk)
        );
    }
}
