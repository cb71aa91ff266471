//! The provider-level plan checks: what no single resource's plan can see. A replication factor
//! above the number of brokers, `min.insync.replicas` above the replication factor, and a topic
//! with two owners (`kafka_topic` and Strimzi's `strimzi_topic`, whose Topic Operator reverts
//! direct changes) are refused at plan, before anything is changed.

use std::collections::BTreeMap;

use brick_provider_api::{Diagnostic, Value};

use crate::resources::topic;
use crate::value::{int_attr, str_attr, string_map_attr};

/// The Strimzi provider's topic type and the attributes that name its Kafka topic
/// (`topic_name` when set, else `name`).
pub const STRIMZI_TOPIC: &str = "strimzi_topic";

/// One planned change as the checks see it: a delete has a null `planned`; `changing` is false
/// for a no-op (what exists already is not refused again, only what the plan would do).
pub struct Planned<'a> {
    pub address: &'a str,
    pub type_name: &'a str,
    pub planned: &'a Value,
    pub changing: bool,
}

/// The Kafka topic a planned `kafka_topic` or `strimzi_topic` stands for, when known.
fn topic_name<'a>(c: &Planned<'a>) -> Option<&'a str> {
    match c.type_name {
        topic::TYPE => str_attr(c.planned, "name"),
        STRIMZI_TOPIC => str_attr(c.planned, "topic_name").or_else(|| str_attr(c.planned, "name")),
        _ => None,
    }
}

/// The replication factor a planned topic of either type asks for.
fn replication<'a>(c: &Planned<'a>) -> Option<(i64, &'static str)> {
    match c.type_name {
        topic::TYPE => int_attr(c.planned, "replication_factor").map(|r| (r, "replication_factor")),
        STRIMZI_TOPIC => int_attr(c.planned, "replicas").map(|r| (r, "replicas")),
        _ => None,
    }
}

/// The kafka provider's refusals, as (index of the change, diagnostic): its own `kafka_topic`s.
/// `brokers` is the number of brokers the cluster's metadata shows (`None` when unknown: that
/// check is skipped).
pub fn check(changes: &[Planned<'_>], brokers: Option<usize>) -> Vec<(usize, Diagnostic)> {
    check_for(changes, topic::TYPE, &|_| brokers)
}

/// The refusals of the topics of type `own` (`kafka_topic` or `strimzi_topic`): each provider
/// reports on its own resources, so a topic with two owners is refused at both blocks.
/// `brokers_of` gives the broker count of a topic's cluster (`None`: that check is skipped).
pub fn check_for(
    changes: &[Planned<'_>],
    own: &str,
    brokers_of: &dyn Fn(&Planned<'_>) -> Option<usize>,
) -> Vec<(usize, Diagnostic)> {
    let mut out = Vec::new();
    let mut owners: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in changes.iter().enumerate() {
        if c.planned.is_null() {
            continue;
        }
        if let Some(name) = topic_name(c) {
            owners.entry(name).or_default().push(i);
        }
        if c.type_name != own {
            continue;
        }
        if c.changing
            && let (Some((rf, attr)), Some(b)) = (replication(c), brokers_of(c))
            && rf > b as i64
        {
            out.push((
                i,
                Diagnostic::error(
                    "brick::kafka::replication_above_brokers",
                    "Replication factor above the number of brokers",
                    format!(
                        "The topic asks for {rf} replicas of each partition, but the cluster has {b} broker(s); Kafka would refuse it (INVALID_REPLICATION_FACTOR)."
                    ),
                )
                .at([attr])
                .with_help(format!("Use a replication factor of at most {b}, or add brokers first.")),
            ));
        }
        if c.changing
            && let Some((rf, _)) = replication(c)
            && let Some(cfg) = string_map_attr(c.planned, "config")
            && let Some(isr) = cfg.get("min.insync.replicas")
            && let Ok(isr_n) = isr.trim().parse::<i64>()
            && isr_n > rf
        {
            out.push((
                i,
                Diagnostic::error(
                    "brick::kafka::min_insync_above_replication",
                    "min.insync.replicas above the replication factor",
                    format!(
                        "The topic sets min.insync.replicas = {isr_n} with only {rf} replica(s): no write with acks=all could ever succeed."
                    ),
                )
                .at(["config", "min.insync.replicas"])
                .with_help(format!("Set min.insync.replicas to at most {rf} (commonly replication factor − 1).")),
            ));
        }
    }
    for (name, idx) in owners {
        let direct: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|i| changes[*i].type_name == topic::TYPE)
            .collect();
        let strimzi: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|i| changes[*i].type_name == STRIMZI_TOPIC)
            .collect();
        if direct.is_empty() || strimzi.is_empty() {
            continue;
        }
        let (mine, theirs) = if own == topic::TYPE {
            (&direct, &strimzi)
        } else {
            (&strimzi, &direct)
        };
        for i in mine {
            out.push((
                *i,
                Diagnostic::error(
                    "brick::kafka::two_owners",
                    "Topic managed twice",
                    format!(
                        "Topic \"{name}\" is also managed by {}; Strimzi's Topic Operator reverts changes made directly in Kafka, so the two owners would fight.",
                        theirs.iter().map(|j| changes[*j].address).collect::<Vec<_>>().join(", ")
                    ),
                )
                .at(["name"])
                .with_help("Give each topic one owner: keep the strimzi_topic on a Strimzi cluster, or the kafka_topic elsewhere."),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{n, s, string_map};

    fn kafka_topic(name: &str, rf: i64, isr: Option<&str>) -> Value {
        let mut m: BTreeMap<String, Value> = [
            ("name".to_string(), s(name)),
            ("partitions".to_string(), n(3)),
            ("replication_factor".to_string(), n(rf)),
        ]
        .into();
        if let Some(isr) = isr {
            m.insert(
                "config".into(),
                string_map([("min.insync.replicas".to_string(), isr.to_string())].into()),
            );
        }
        Value::object(m)
    }

    fn strimzi(name: &str, topic_name: Option<&str>) -> Value {
        let mut m: BTreeMap<String, Value> = [
            ("name".to_string(), s(name)),
            ("replicas".to_string(), n(3)),
        ]
        .into();
        if let Some(t) = topic_name {
            m.insert("topic_name".into(), s(t));
        }
        Value::object(m)
    }

    fn codes(found: &[(usize, Diagnostic)]) -> Vec<(usize, &str)> {
        found.iter().map(|(i, d)| (*i, d.code.as_str())).collect()
    }

    #[test]
    fn a_replication_factor_above_the_brokers_is_refused() {
        let a = kafka_topic("a", 3, None);
        let b = kafka_topic("b", 4, None);
        let changes = [
            Planned {
                address: "kafka_topic.a",
                type_name: "kafka_topic",
                planned: &a,
                changing: true,
            },
            Planned {
                address: "kafka_topic.b",
                type_name: "kafka_topic",
                planned: &b,
                changing: true,
            },
        ];
        let found = check(&changes, Some(3));
        assert_eq!(
            codes(&found),
            vec![(1, "brick::kafka::replication_above_brokers")]
        );
        assert_eq!(found[0].1.attribute, vec!["replication_factor"]);
        assert!(check(&changes, None).is_empty(), "no metadata: no guess");
    }

    #[test]
    fn min_insync_replicas_above_the_replication_factor_is_refused() {
        let ok = kafka_topic("a", 3, Some("2"));
        let bad = kafka_topic("b", 2, Some("3"));
        let changes = [
            Planned {
                address: "kafka_topic.a",
                type_name: "kafka_topic",
                planned: &ok,
                changing: true,
            },
            Planned {
                address: "kafka_topic.b",
                type_name: "kafka_topic",
                planned: &bad,
                changing: true,
            },
        ];
        let found = check(&changes, Some(3));
        assert_eq!(
            codes(&found),
            vec![(1, "brick::kafka::min_insync_above_replication")]
        );
        assert_eq!(found[0].1.attribute, vec!["config", "min.insync.replicas"]);
    }

    #[test]
    fn a_topic_owned_by_both_strimzi_and_kafka_topic_is_refused() {
        let direct = kafka_topic("orders", 3, None);
        let by_name = strimzi("orders", None);
        let other = strimzi("orders-crd", Some("payments"));
        let direct2 = kafka_topic("payments", 3, None);
        let gone = Value::null_dynamic();
        let changes = [
            Planned {
                address: "kafka_topic.orders",
                type_name: "kafka_topic",
                planned: &direct,
                changing: true,
            },
            Planned {
                address: "strimzi_topic.orders",
                type_name: "strimzi_topic",
                planned: &by_name,
                changing: true,
            },
            Planned {
                address: "strimzi_topic.p",
                type_name: "strimzi_topic",
                planned: &other,
                changing: true,
            },
            Planned {
                address: "kafka_topic.payments",
                type_name: "kafka_topic",
                planned: &direct2,
                changing: true,
            },
            Planned {
                address: "kafka_topic.old",
                type_name: "kafka_topic",
                planned: &gone,
                changing: true,
            },
        ];
        let found = check(&changes, Some(3));
        assert_eq!(
            codes(&found),
            vec![
                (0, "brick::kafka::two_owners"),
                (3, "brick::kafka::two_owners")
            ],
            "topic_name wins over name for a strimzi_topic"
        );
        assert!(found[0].1.detail.contains("strimzi_topic.orders"));
    }

    #[test]
    fn the_strimzi_side_reports_on_its_own_topics_with_each_clusters_brokers() {
        let direct = kafka_topic("orders", 3, None);
        let owned = strimzi("orders", None);
        let mut big = strimzi("big", None);
        if let Some(m) = big.as_mapping().cloned() {
            let mut m = m;
            m.insert("replicas".into(), n(5));
            m.insert(
                "config".into(),
                string_map([("min.insync.replicas".to_string(), "6".to_string())].into()),
            );
            big = Value::object(m);
        }
        let changes = [
            Planned {
                address: "kafka_topic.orders",
                type_name: "kafka_topic",
                planned: &direct,
                changing: true,
            },
            Planned {
                address: "strimzi_topic.orders",
                type_name: "strimzi_topic",
                planned: &owned,
                changing: true,
            },
            Planned {
                address: "strimzi_topic.big",
                type_name: "strimzi_topic",
                planned: &big,
                changing: true,
            },
        ];
        let found = check_for(&changes, STRIMZI_TOPIC, &|_| Some(3));
        assert_eq!(
            codes(&found),
            vec![
                (2, "brick::kafka::replication_above_brokers"),
                (2, "brick::kafka::min_insync_above_replication"),
                (1, "brick::kafka::two_owners"),
            ]
        );
        assert_eq!(found[0].1.attribute, vec!["replicas"]);
        assert!(found[2].1.detail.contains("kafka_topic.orders"));
        assert!(
            check_for(&changes, STRIMZI_TOPIC, &|_| None).len() == 2,
            "unknown cluster: no broker check"
        );
    }

    #[test]
    fn what_exists_already_is_not_refused_again() {
        let existing = kafka_topic("a", 4, Some("5"));
        let changes = [Planned {
            address: "kafka_topic.a",
            type_name: "kafka_topic",
            planned: &existing,
            changing: false,
        }];
        assert!(check(&changes, Some(3)).is_empty());
    }

    #[test]
    fn a_topic_being_deleted_has_no_owner() {
        let gone = Value::null_dynamic();
        let s1 = strimzi("orders", None);
        let changes = [
            Planned {
                address: "kafka_topic.orders",
                type_name: "kafka_topic",
                planned: &gone,
                changing: true,
            },
            Planned {
                address: "strimzi_topic.orders",
                type_name: "strimzi_topic",
                planned: &s1,
                changing: true,
            },
        ];
        assert!(check(&changes, Some(3)).is_empty());
    }
}
