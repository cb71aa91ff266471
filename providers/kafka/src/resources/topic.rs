//! `kafka_topic`: a topic (name, partitions, replication factor, the configuration keys the user
//! sets). Creates and deletes are batched (see [`crate::batch`]); partitions only grow, in
//! place; configuration changes are incremental; a replication-factor change is a partition
//! reassignment waited on with progress ([`crate::reassign`]); nothing is ever deleted and
//! recreated to change a topic in place.

use std::collections::{BTreeMap, HashMap};

use brick_provider_api::provider::{ApplyResponse, PathStep, PlanResponse, Progress};
use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use rdkafka::error::RDKafkaErrorCode;

use crate::client::{Client, NewTopicSpec, TopicShape};
use crate::ffi::ConfigChange;
use crate::value::{
    int_attr, kafka_diag, n, null_string_map, s, str_attr, string_map, string_map_attr,
};

pub const TYPE: &str = "kafka_topic";

pub fn schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "id",
                Attribute::computed(Type::String).describe("The topic's name."),
            )
            .attr(
                "name",
                Attribute::required(Type::String)
                    .forces_replacement()
                    .describe("The topic's name: letters, digits, '.', '_' and '-', at most 249."),
            )
            .attr(
                "partitions",
                Attribute::required(Type::Number)
                    .describe("The number of partitions; it can grow in place, never shrink."),
            )
            .attr(
                "replication_factor",
                Attribute::required(Type::Number).describe(
                    "Replicas of each partition; at most the number of brokers. A change is made in place by a partition reassignment that apply waits for, never by recreating the topic.",
                ),
            )
            .attr(
                "config",
                Attribute::optional(Type::Map(Box::new(Type::String))).describe(
                    "Topic-level configuration (retention.ms, cleanup.policy, ...). Only these keys are managed: broker defaults never show as a difference.",
                ),
            ),
    }
}

/// Whether `name` is a topic name Kafka accepts.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Vec::new();
    if let Some(name) = str_attr(config, "name")
        && !valid_name(name)
    {
        d.push(
            Diagnostic::error(
                "brick::kafka::invalid_topic_name",
                "Invalid topic name",
                format!(
                    "The topic name \"{name}\" is not one Kafka accepts: 1 to 249 letters, digits, '.', '_' and '-', and not \".\" or \"..\"."
                ),
            )
            .at(["name"]),
        );
    }
    for attr in ["partitions", "replication_factor"] {
        if let Some(v) = config.get(attr).and_then(Value::as_number)
            && (v
                .to_i64()
                .is_none_or(|x| !(1..=i64::from(i32::MAX)).contains(&x)))
        {
            d.push(
                Diagnostic::error(
                    "brick::kafka::invalid_count",
                    "Invalid count",
                    format!("{attr} must be a whole number of at least 1."),
                )
                .at([attr]),
            );
        }
    }
    d
}

fn path(attr: &str) -> Vec<PathStep> {
    vec![PathStep::Attr(attr.into())]
}

pub fn plan(prior: &Value, proposed: &Value) -> PlanResponse {
    if proposed.is_null() {
        return PlanResponse::planned(proposed.clone());
    }
    let mut m = proposed.as_mapping().cloned().unwrap_or_default();
    let name = m
        .get("name")
        .cloned()
        .unwrap_or_else(|| Value::unknown(Type::String));
    m.insert("id".into(), name);
    let mut requires_replace = Vec::new();
    let mut diagnostics = Vec::new();
    if !prior.is_null() {
        if prior.get("name") != proposed.get("name") {
            requires_replace.push(path("name"));
        } else {
            diagnostics.extend(refusals(prior, proposed));
        }
    }
    PlanResponse {
        planned: Value::object(m),
        requires_replace,
        diagnostics,
    }
}

/// The in-place changes of one topic that Kafka (or brick) cannot make.
fn refusals(prior: &Value, proposed: &Value) -> Diagnostics {
    let mut d = Vec::new();
    let name = str_attr(prior, "name").unwrap_or("?");
    if let (Some(was), Some(now)) = (
        int_attr(prior, "partitions"),
        int_attr(proposed, "partitions"),
    ) && now < was
    {
        d.push(
            Diagnostic::error(
                "brick::kafka::partitions_decrease",
                "Partitions cannot decrease",
                format!(
                    "Topic {name} has {was} partitions; Kafka can add partitions but never remove them, and brick will not delete and recreate the topic (that loses its data)."
                ),
            )
            .at(["partitions"])
            .with_help(format!(
                "Keep partitions at {was} or more; to really start over, remove the resource and create a topic under a new name."
            )),
        );
    }
    d
}

/// The state of a topic from what the cluster says; `carry` is the state or configuration the
/// read started from, whose configuration keys are the ones managed.
pub fn state_of(
    name: &str,
    shape: &TopicShape,
    own: &BTreeMap<String, String>,
    carry: &Value,
) -> Value {
    let config = match string_map_attr(carry, "config") {
        // Only the keys the user set, and only while the topic itself sets them: a key now
        // back at the broker's default is left out (the plan then sets it again).
        Some(keys) => string_map(
            keys.keys()
                .filter_map(|k| Some((k.clone(), own.get(k)?.clone())))
                .collect(),
        ),
        None if carry.is_null() && !own.is_empty() => string_map(own.clone()),
        None => null_string_map(),
    };
    Value::object_from([
        ("id", s(name)),
        ("name", s(name)),
        ("partitions", n(shape.partitions as i64)),
        ("replication_factor", n(shape.replication_factor as i64)),
        ("config", config),
    ])
}

fn config_changes(prior: &Value, planned: &Value) -> Vec<ConfigChange> {
    let was = string_map_attr(prior, "config").unwrap_or_default();
    let now = string_map_attr(planned, "config").unwrap_or_default();
    let mut out = Vec::new();
    for (k, v) in &now {
        if was.get(k) != Some(v) {
            out.push(ConfigChange::Set(k.clone(), v.clone()));
        }
    }
    for k in was.keys() {
        if !now.contains_key(k) {
            out.push(ConfigChange::Delete(k.clone()));
        }
    }
    out
}

pub async fn apply(
    client: &Client,
    prior: &Value,
    planned: &Value,
    progress: &dyn Progress,
) -> ApplyResponse {
    let fail = |d: Diagnostic, state: &Value| ApplyResponse {
        new_state: state.clone(),
        diagnostics: vec![d],
    };
    if planned.is_null() {
        let name = str_attr(prior, "name").unwrap_or("").to_string();
        return match client.delete_topic(name.clone()).await {
            Ok(()) => ApplyResponse::done(Value::null(prior.ty())),
            Err(e) => fail(
                kafka_diag("Cannot delete topic", &format!("deleting topic {name}"), &e),
                prior,
            ),
        };
    }
    let name = str_attr(planned, "name").unwrap_or("").to_string();
    let partitions = int_attr(planned, "partitions").unwrap_or(1);
    let rf = int_attr(planned, "replication_factor").unwrap_or(1);
    if prior.is_null() {
        let spec = NewTopicSpec {
            name: name.clone(),
            partitions: partitions as i32,
            replication_factor: rf as i32,
            config: string_map_attr(planned, "config").unwrap_or_default(),
        };
        return match client.create_topic(spec).await {
            Ok(()) => ApplyResponse::done(planned.clone()),
            Err(e) => {
                let mut d =
                    kafka_diag("Cannot create topic", &format!("creating topic {name}"), &e);
                if e.code == RDKafkaErrorCode::TopicAlreadyExists {
                    d = d.with_help(format!(
                        "The topic exists in Kafka already: `brick import <address> {name}` adopts it."
                    ));
                }
                // A create whose outcome is unknown (a timeout) may have happened: the engine's
                // journal records the intent, and the next refresh finds the topic if it did.
                fail(d, &Value::null(planned.ty()))
            }
        };
    }
    // An update in place: refused changes never get here (plan refuses them), but a state
    // refreshed between plan and apply is checked again.
    let refused = refusals(prior, planned);
    if !refused.is_empty() {
        return ApplyResponse::failed(prior, refused);
    }
    let mut state = prior.clone();
    let was = int_attr(prior, "partitions").unwrap_or(0);
    if partitions > was {
        if let Err(e) = client.grow_partitions(&name, partitions as usize).await {
            return fail(
                kafka_diag(
                    "Cannot add partitions",
                    &format!("growing topic {name} from {was} to {partitions} partitions"),
                    &e,
                ),
                &state,
            );
        }
        let mut m = state.as_mapping().cloned().unwrap_or_default();
        m.insert("partitions".into(), n(partitions));
        state = Value::object(m);
    }
    let was_rf = int_attr(prior, "replication_factor").unwrap_or(0);
    if rf != was_rf {
        if let Err(e) = change_replication(client, &name, rf as usize, progress).await {
            return fail(
                kafka_diag(
                    "Cannot change the replication factor",
                    &format!("reassigning topic {name} from {was_rf} to {rf} replicas"),
                    &e,
                ),
                &state,
            );
        }
        let mut m = state.as_mapping().cloned().unwrap_or_default();
        m.insert("replication_factor".into(), n(rf));
        state = Value::object(m);
    }
    let changes = config_changes(prior, planned);
    if !changes.is_empty()
        && let Err(e) = client.alter_config(&name, changes).await
    {
        return fail(
            kafka_diag(
                "Cannot change topic configuration",
                &format!("changing the configuration of topic {name}"),
                &e,
            ),
            &state,
        );
    }
    ApplyResponse::done(planned.clone())
}

/// Reassigns `topic`'s partitions to `rf` replicas each and waits until Kafka is done, saying
/// how far it is.
async fn change_replication(
    client: &Client,
    topic: &str,
    rf: usize,
    progress: &dyn Progress,
) -> Result<(), crate::ffi::AdminError> {
    use crate::reassign;
    let (brokers, current) = client.assignment(topic).await?;
    if rf > brokers.len() {
        return Err(crate::ffi::AdminError {
            code: RDKafkaErrorCode::InvalidReplicationFactor,
            message: format!(
                "{rf} replicas asked, the cluster has {} broker(s)",
                brokers.len()
            ),
        });
    }
    let target = reassign::new_assignment(&current, &brokers, rf);
    let partitions = target.len();
    let settings = client.settings.clone();
    let (t, plan) = (topic.to_string(), target.clone());
    blocking(move || reassign::start(&settings, &t, &plan)).await?;
    let deadline = tokio::time::Instant::now() + reassign::REASSIGNMENT_TIMEOUT;
    loop {
        let settings = client.settings.clone();
        let t = topic.to_string();
        let left = blocking(move || reassign::ongoing(&settings, &t, partitions)).await?;
        progress.report(&format!(
            "Reassigning partitions to {rf} replicas: {} of {partitions} done",
            partitions - left.min(partitions)
        ));
        if left == 0 {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(reassign::still_running(topic, left));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    crate::client::settle("the topic's replicas", || async {
        let (_, now) = client.assignment(topic).await?;
        Ok(now.len() == partitions && now.iter().all(|r| r.len() == rf))
    })
    .await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::ffi::AdminError> + Send + 'static,
) -> Result<T, crate::ffi::AdminError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(crate::ffi::AdminError {
            code: RDKafkaErrorCode::Unknown,
            message: e.to_string(),
        })
    })
}

/// One Metadata and one DescribeConfigs for every topic in `current`.
pub async fn read_many(
    client: &Client,
    current: &[Value],
) -> Vec<Result<Option<Value>, Diagnostics>> {
    let failed =
        |doing: &str, e: &crate::ffi::AdminError| -> Vec<Result<Option<Value>, Diagnostics>> {
            let d = kafka_diag("Cannot read topics", doing, e);
            current.iter().map(|_| Err(vec![d.clone()])).collect()
        };
    let mut topics = match client.metadata().await {
        Ok((_, t)) => t,
        Err(e) => return failed("reading the cluster's metadata", &e),
    };
    // A broker that has not caught up yet may miss a topic just created: a topic is taken as
    // gone only when two more reads (likely from other brokers) miss it too.
    for _ in 0..2 {
        if current
            .iter()
            .filter_map(|c| str_attr(c, "name"))
            .all(|n| topics.contains_key(n))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        match client.metadata().await {
            Ok((_, more)) => {
                for (k, v) in more {
                    topics.entry(k).or_insert(v);
                }
            }
            Err(e) => return failed("reading the cluster's metadata", &e),
        }
    }
    let present: Vec<String> = current
        .iter()
        .filter_map(|c| str_attr(c, "name"))
        .filter(|n| topics.contains_key(*n))
        .map(str::to_string)
        .collect();
    let configs = if present.is_empty() {
        HashMap::new()
    } else {
        match client.topic_configs(&present).await {
            Ok(c) => c,
            Err(e) => return failed("describing the topics' configuration", &e),
        }
    };
    current
        .iter()
        .map(|c| {
            let name = str_attr(c, "name").unwrap_or("");
            let (Some(shape), Some(Some(own))) = (topics.get(name), configs.get(name)) else {
                return Ok(None);
            };
            Ok(Some(state_of(name, shape, own, c)))
        })
        .collect()
}

pub async fn import(client: &Client, id: &str) -> Result<Value, Diagnostics> {
    let fail = |e: &crate::ffi::AdminError| {
        vec![kafka_diag(
            "Cannot import topic",
            &format!("reading topic {id}"),
            e,
        )]
    };
    let (_, topics) = client.metadata().await.map_err(|e| fail(&e))?;
    let configs = match topics.get(id) {
        Some(_) => client
            .topic_configs(&[id.to_string()])
            .await
            .map_err(|e| fail(&e))?,
        None => HashMap::new(),
    };
    match (topics.get(id), configs.get(id)) {
        // An import manages every key the topic itself sets.
        (Some(shape), Some(Some(own))) => Ok(state_of(id, shape, own, &Value::null_dynamic())),
        _ => Err(vec![
            Diagnostic::error(
                "brick::kafka::no_such_topic",
                "Topic not found",
                format!("The cluster has no topic named \"{id}\"."),
            )
            .with_help("The import id of a kafka_topic is the topic's name."),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brick_provider_api::diag::has_errors;

    fn topic(name: &str, partitions: i64, rf: i64, config: &[(&str, &str)]) -> Value {
        Value::object_from([
            ("id", Value::null(Type::String)),
            ("name", s(name)),
            ("partitions", n(partitions)),
            ("replication_factor", n(rf)),
            (
                "config",
                if config.is_empty() {
                    null_string_map()
                } else {
                    string_map(
                        config
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                    )
                },
            ),
        ])
    }

    #[test]
    fn partitions_grow_in_place_and_a_decrease_is_refused_at_plan() {
        let prior = plan(&Value::null_dynamic(), &topic("t", 3, 1, &[])).planned;
        let grow = plan(&prior, &topic("t", 6, 1, &[]));
        assert!(grow.requires_replace.is_empty() && grow.diagnostics.is_empty());
        let shrink = plan(&prior, &topic("t", 2, 1, &[]));
        assert!(shrink.requires_replace.is_empty(), "never a recreate");
        assert_eq!(
            shrink.diagnostics[0].code,
            "brick::kafka::partitions_decrease"
        );
        assert_eq!(shrink.diagnostics[0].attribute, vec!["partitions"]);
    }

    #[test]
    fn a_replication_factor_change_is_planned_in_place() {
        let prior = plan(&Value::null_dynamic(), &topic("t", 3, 1, &[])).planned;
        let p = plan(&prior, &topic("t", 3, 3, &[]));
        assert!(p.requires_replace.is_empty(), "never a recreate");
        assert!(p.diagnostics.is_empty(), "a reassignment at apply");
    }

    #[test]
    fn a_new_name_is_a_new_topic() {
        let prior = plan(&Value::null_dynamic(), &topic("t", 3, 1, &[])).planned;
        let p = plan(&prior, &topic("u", 1, 3, &[]));
        assert_eq!(p.requires_replace, vec![path("name")]);
        assert!(p.diagnostics.is_empty(), "a new topic may have any shape");
    }

    #[test]
    fn only_keys_the_user_set_are_read_and_only_while_the_topic_sets_them() {
        let shape = TopicShape {
            partitions: 3,
            replication_factor: 1,
        };
        let own: BTreeMap<String, String> = [
            ("retention.ms".to_string(), "1000".to_string()),
            ("segment.ms".to_string(), "5".to_string()),
        ]
        .into();
        let carry = topic(
            "t",
            3,
            1,
            &[("retention.ms", "2000"), ("cleanup.policy", "compact")],
        );
        let st = state_of("t", &shape, &own, &carry);
        let cfg = string_map_attr(&st, "config").unwrap();
        assert_eq!(
            cfg.len(),
            1,
            "segment.ms is not the user's; cleanup.policy went back to default: {cfg:?}"
        );
        assert_eq!(cfg["retention.ms"], "1000");
        // No configuration written: nothing is managed, whatever the topic sets.
        let st = state_of("t", &shape, &own, &topic("t", 3, 1, &[]));
        assert!(st.get("config").unwrap().is_null());
    }

    #[test]
    fn config_changes_set_what_changed_and_delete_what_was_removed() {
        let prior = topic("t", 1, 1, &[("a", "1"), ("b", "2")]);
        let planned = topic("t", 1, 1, &[("a", "1"), ("b", "3"), ("c", "4")]);
        assert_eq!(
            config_changes(&prior, &planned),
            vec![
                ConfigChange::Set("b".into(), "3".into()),
                ConfigChange::Set("c".into(), "4".into())
            ]
        );
        let planned = topic("t", 1, 1, &[("a", "1")]);
        assert_eq!(
            config_changes(&prior, &planned),
            vec![ConfigChange::Delete("b".into())]
        );
    }

    #[test]
    fn topic_names_follow_kafkas_rules() {
        assert!(valid_name("orders.v1_x-2"));
        assert!(!valid_name("a b") && !valid_name("..") && !valid_name(&"x".repeat(250)));
        assert!(has_errors(&validate(&topic("bad name", 1, 1, &[]))));
        assert!(has_errors(&validate(&topic("t", 0, 1, &[]))));
    }
}
