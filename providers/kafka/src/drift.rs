//! What Kafka can say about drift (`Provider::explain_drift`): for each changed topic
//! configuration key, its source as DescribeConfigs reports it — `DYNAMIC_TOPIC_CONFIG` when
//! the topic itself now sets it (`kafka-configs.sh --alter`, another admin client), a broker
//! or default source when the topic's own setting was removed. Kafka records no author.
//! Partitions, the replication factor, retention and the cleanup policy are `data-risk`; an
//! ACL or quota gone is not (nothing stored is lost). When DescribeConfigs fails, the notes
//! keep their severities and say that the source is unknown, and why.

use brick_provider_api::provider::{DriftExplanation, DriftNote, DriftRequest, PathStep};
use brick_provider_api::{Diagnostics, DriftSeverity};
use rdkafka::admin::{ConfigSource, ResourceSpecifier};

use crate::client::{Client, options};
use crate::resources::{acl, quota, topic};

/// Topic attributes and configuration keys whose change can lose data.
const DATA_RISK_ATTRS: &[&str] = &["partitions", "replication_factor", "name"];
pub const DATA_RISK_KEYS: &[&str] = &[
    "retention.ms",
    "retention.bytes",
    "cleanup.policy",
    "min.insync.replicas",
    "local.retention.ms",
    "local.retention.bytes",
];

/// Kafka's name of a configuration source, as `kafka-configs.sh --describe --all` prints it.
fn source_name(s: &ConfigSource) -> &'static str {
    match s {
        ConfigSource::DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
        ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG",
        ConfigSource::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
        ConfigSource::Default => "DEFAULT_CONFIG",
        ConfigSource::Unknown => "UNKNOWN",
    }
}

fn attr(name: &str) -> Vec<PathStep> {
    vec![PathStep::Attr(name.to_string())]
}

/// One configuration entry: name, value in effect, source.
type Entry = (String, Option<String>, ConfigSource);

/// The notes of the changed configuration `keys` of topic `name`, from its DescribeConfigs
/// `entries`. When they could not be read, each key keeps its severity and says that its
/// source is unknown, and why: the report still counts a changed retention as data at risk.
fn config_notes(name: &str, keys: &[&str], entries: &Result<Vec<Entry>, String>) -> Vec<DriftNote> {
    keys.iter()
        .map(|k| {
            let detail = match entries {
                Err(e) => format!(
                    "source unknown: describing the configuration of topic {name} failed: {e}"
                ),
                Ok(entries) => match entries.iter().find(|(n, _, _)| n == k) {
                    Some((_, _, ConfigSource::DynamicTopic)) => {
                        "source DYNAMIC_TOPIC_CONFIG: set on the topic outside brick".to_string()
                    }
                    Some((_, v, s)) => format!(
                        "source {}: the topic's own setting was removed; in effect now: {}",
                        source_name(s),
                        v.as_deref().unwrap_or("(none)")
                    ),
                    None => "the broker does not report this key".to_string(),
                },
            };
            DriftNote {
                path: vec![
                    PathStep::Attr("config".into()),
                    PathStep::Key(k.to_string()),
                ],
                by: None,
                detail: Some(detail),
                severity: DATA_RISK_KEYS
                    .contains(k)
                    .then_some(DriftSeverity::DataRisk),
                bookkeeping: false,
            }
        })
        .collect()
}

/// Every configuration entry of one topic: name → (value, source).
async fn sources(client: &Client, name: &str) -> Result<Vec<Entry>, String> {
    let results = client
        .admin
        .describe_configs(&[ResourceSpecifier::Topic(name)], &options())
        .await
        .map_err(|e| e.to_string())?;
    match results.into_iter().next() {
        Some(Ok(r)) => Ok(r
            .entries
            .into_iter()
            .map(|e| (e.name, e.value, e.source))
            .collect()),
        Some(Err(code)) => Err(code.to_string()),
        None => Ok(Vec::new()),
    }
}

pub async fn explain(
    client: &Client,
    req: &DriftRequest<'_>,
) -> Result<DriftExplanation, Diagnostics> {
    match req.type_name {
        acl::TYPE | quota::TYPE => {
            return Ok(DriftExplanation {
                still_exists: None,
                notes: vec![DriftNote {
                    path: Vec::new(),
                    severity: Some(DriftSeverity::Normal),
                    ..DriftNote::default()
                }],
            });
        }
        topic::TYPE => {}
        _ => return Ok(DriftExplanation::default()),
    }
    let mut notes: Vec<DriftNote> = DATA_RISK_ATTRS
        .iter()
        .map(|a| DriftNote {
            path: attr(a),
            severity: Some(DriftSeverity::DataRisk),
            ..DriftNote::default()
        })
        .collect();
    let keys: Vec<&str> = req
        .changed
        .iter()
        .filter_map(|p| match p.as_slice() {
            [PathStep::Attr(c), PathStep::Key(k), ..] if c == "config" => Some(k.as_str()),
            _ => None,
        })
        .collect();
    let name = req
        .live
        .unwrap_or(req.recorded)
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let entries = if keys.is_empty() || req.live.is_none() {
        Ok(Vec::new())
    } else {
        sources(client, name).await
    };
    notes.extend(config_notes(name, &keys, &entries));
    Ok(DriftExplanation {
        still_exists: None,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Vec<PathStep> {
        vec![PathStep::Attr("config".into()), PathStep::Key(k.into())]
    }

    #[test]
    fn a_failed_describe_configs_keeps_the_severities_and_says_why_the_source_is_unknown() {
        let notes = config_notes(
            "orders",
            &["retention.ms", "segment.ms"],
            &Err("Request timed out".into()),
        );
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].path, key("retention.ms"));
        assert_eq!(notes[0].severity, Some(DriftSeverity::DataRisk));
        assert_eq!(
            notes[0].detail.as_deref(),
            Some(
                "source unknown: describing the configuration of topic orders failed: Request timed out"
            )
        );
        assert_eq!(notes[1].path, key("segment.ms"));
        assert_eq!(notes[1].severity, None);
        assert!(
            notes[1]
                .detail
                .as_deref()
                .unwrap()
                .starts_with("source unknown")
        );
    }

    #[test]
    fn described_keys_name_their_source() {
        let entries = Ok(vec![
            (
                "retention.ms".to_string(),
                Some("1000".to_string()),
                ConfigSource::DynamicTopic,
            ),
            (
                "segment.ms".to_string(),
                Some("604800000".to_string()),
                ConfigSource::Default,
            ),
        ]);
        let notes = config_notes("orders", &["retention.ms", "segment.ms", "x"], &entries);
        let details: Vec<_> = notes.iter().map(|n| n.detail.clone().unwrap()).collect();
        assert_eq!(
            details,
            [
                "source DYNAMIC_TOPIC_CONFIG: set on the topic outside brick",
                "source DEFAULT_CONFIG: the topic's own setting was removed; in effect now: 604800000",
                "the broker does not report this key",
            ]
        );
    }
}
