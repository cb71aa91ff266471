//! A stand-in for Strimzi's unidirectional Topic Operator, run by the test peers
//! (`tests/peers/up.sh strimzi`) because the real one ships only as a container image.
//!
//! It watches the `KafkaTopic` objects (`kafka.strimzi.io/v1`, Strimzi's real CRD) in one
//! namespace whose labels match a selector, and makes the real Kafka peer follow them through
//! the Admin API: creates the topic, raises its partition count, sets its dynamic configuration
//! to exactly `spec.config`, and deletes it when the object is deleted (behind Strimzi's
//! finalizer `strimzi.io/topic-operator`). It writes `status` as the real operator does:
//! one `Ready` condition (`True`, or `False` with Strimzi's reason and message: `NotSupported`
//! for a partition decrease, a replication factor change or a changed `spec.topicName`,
//! `ResourceConflict` when two objects name one topic, `KafkaError` for what Kafka refuses),
//! `topicName` and `observedGeneration`. It honours `strimzi.io/managed: "false"` and
//! `strimzi.io/pause-reconciliation: "true"`. Not modelled: Cruise Control replica changes,
//! `topicId`, metrics.
//!
//! Settings (environment): `KUBECONFIG` (a kubeconfig file), `STRIMZI_NAMESPACE`,
//! `KAFKA_BOOTSTRAP`, `STRIMZI_RESOURCE_LABELS` (`key=value[,key=value]`, as the real operator
//! reads it; empty selects every object).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::TryStreamExt;
use kube::api::{
    Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use rdkafka::ClientConfig;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use serde_json::{Value, json};

const FINALIZER: &str = "strimzi.io/topic-operator";
const MANAGED: &str = "strimzi.io/managed";
const PAUSED: &str = "strimzi.io/pause-reconciliation";

/// How long one watch runs before everything is listed and reconciled again (the real
/// operator's periodic full reconciliation, shortened for tests).
const RESYNC_SECS: u32 = 10;

type Admin = AdminClient<DefaultClientContext>;

/// Why a reconciliation failed: Strimzi's reason (the condition's `reason`) and message.
struct Failure {
    reason: &'static str,
    message: String,
}

impl Failure {
    fn not_supported(message: impl Into<String>) -> Failure {
        Failure {
            reason: "NotSupported",
            message: message.into(),
        }
    }

    fn kafka(message: impl Into<String>) -> Failure {
        Failure {
            reason: "KafkaError",
            message: message.into(),
        }
    }
}

struct Operator {
    topics: Api<DynamicObject>,
    admin: Admin,
    selector: BTreeMap<String, String>,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("topic-operator: {e}");
        std::process::exit(1);
    }
}

fn setting(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

async fn run() -> Result<(), String> {
    let kubeconfig = setting("KUBECONFIG")?;
    let namespace = setting("STRIMZI_NAMESPACE")?;
    let bootstrap = setting("KAFKA_BOOTSTRAP")?;
    let selector = parse_selector(&std::env::var("STRIMZI_RESOURCE_LABELS").unwrap_or_default())?;

    let kc = Kubeconfig::read_from(&kubeconfig).map_err(|e| format!("{kubeconfig}: {e}"))?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("{kubeconfig}: {e}"))?;
    let client = Client::try_from(config).map_err(|e| format!("a Kubernetes client: {e}"))?;
    let resource = ApiResource {
        group: "kafka.strimzi.io".into(),
        version: "v1".into(),
        api_version: "kafka.strimzi.io/v1".into(),
        kind: "KafkaTopic".into(),
        plural: "kafkatopics".into(),
    };
    let topics = Api::namespaced_with(client, &namespace, &resource);
    let admin: Admin = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .map_err(|e| format!("a Kafka admin client for {bootstrap}: {e}"))?;
    let op = Operator {
        topics,
        admin,
        selector,
    };
    eprintln!(
        "topic-operator: watching KafkaTopics in namespace {namespace}, Kafka at {bootstrap}"
    );
    loop {
        if let Err(e) = op.list_and_watch().await {
            eprintln!("topic-operator: {e}; listing again in 2 s");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

fn parse_selector(s: &str) -> Result<BTreeMap<String, String>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("STRIMZI_RESOURCE_LABELS: `{p}` is not key=value"))
        })
        .collect()
}

impl Operator {
    /// Reconciles every object, then each change the watch reports until it times out.
    async fn list_and_watch(&self) -> Result<(), String> {
        let list = self
            .topics
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("listing KafkaTopics: {e}"))?;
        let version = list.metadata.resource_version.clone().unwrap_or_default();
        for kt in &list.items {
            self.reconcile(kt, &list.items).await;
        }
        let params = WatchParams::default().timeout(RESYNC_SECS);
        let stream = self
            .topics
            .watch(&params, &version)
            .await
            .map_err(|e| format!("watching KafkaTopics: {e}"))?;
        futures::pin_mut!(stream);
        while let Some(event) = stream
            .try_next()
            .await
            .map_err(|e| format!("watching KafkaTopics: {e}"))?
        {
            match event {
                WatchEvent::Added(kt) | WatchEvent::Modified(kt) => {
                    let all = self
                        .topics
                        .list(&ListParams::default())
                        .await
                        .map_err(|e| format!("listing KafkaTopics: {e}"))?;
                    self.reconcile(&kt, &all.items).await;
                }
                WatchEvent::Deleted(_) | WatchEvent::Bookmark(_) => {}
                WatchEvent::Error(e) => return Err(format!("the watch ended: {e}")),
            }
        }
        Ok(())
    }

    async fn reconcile(&self, kt: &DynamicObject, all: &[DynamicObject]) {
        let name = kt.metadata.name.clone().unwrap_or_default();
        if !self.selected(kt) {
            return;
        }
        if let Err(e) = self.reconcile_one(kt, all).await {
            eprintln!("topic-operator: KafkaTopic {name}: {e}");
        }
    }

    fn selected(&self, kt: &DynamicObject) -> bool {
        let labels = kt.metadata.labels.as_ref();
        self.selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    }

    async fn reconcile_one(&self, kt: &DynamicObject, all: &[DynamicObject]) -> Result<(), String> {
        let name = kt.metadata.name.clone().unwrap_or_default();
        let managed = annotation(kt, MANAGED) != Some("false");
        let paused = annotation(kt, PAUSED) == Some("true");
        let topic = topic_name(kt);

        if kt.metadata.deletion_timestamp.is_some() {
            if !has_finalizer(kt) {
                return Ok(());
            }
            if managed {
                if let Err(f) = self.validate(kt, all) {
                    return self.write_status(kt, Err(f), paused, managed).await;
                }
                match self.delete_topic(&topic).await {
                    Ok(()) => eprintln!("topic-operator: deleted topic {topic}"),
                    Err(f) => return self.write_status(kt, Err(f), paused, managed).await,
                }
            }
            return self.set_finalizer(kt, false).await;
        }

        if !managed {
            if has_finalizer(kt) {
                self.set_finalizer(kt, false).await?;
            }
            return self.write_status(kt, Ok(()), paused, managed).await;
        }
        if let Err(f) = self.validate(kt, all) {
            return self.write_status(kt, Err(f), paused, managed).await;
        }
        if paused {
            return self.write_status(kt, Ok(()), paused, managed).await;
        }
        if !has_finalizer(kt) {
            self.set_finalizer(kt, true).await?;
        }
        let result = self.converge(kt, &topic).await;
        if let Err(f) = &result {
            eprintln!(
                "topic-operator: KafkaTopic {name}: {}: {}",
                f.reason, f.message
            );
        }
        self.write_status(kt, result, paused, managed).await
    }

    /// The checks before Kafka is touched: the topic name never changes, and one topic has one
    /// owner (the oldest object naming it).
    fn validate(&self, kt: &DynamicObject, all: &[DynamicObject]) -> Result<(), Failure> {
        let topic = topic_name(kt);
        if let Some(recorded) = kt.data.pointer("/status/topicName").and_then(Value::as_str)
            && recorded != topic
        {
            return Err(Failure::not_supported(
                "Changing spec.topicName is not supported",
            ));
        }
        let created = |o: &DynamicObject| o.metadata.creation_timestamp.clone().map(|t| t.0);
        let mut owners: Vec<&DynamicObject> = all
            .iter()
            .filter(|o| {
                self.selected(o)
                    && o.metadata.deletion_timestamp.is_none()
                    && annotation(o, MANAGED) != Some("false")
                    && topic_name(o) == topic
            })
            .collect();
        if owners.len() > 1 {
            owners.sort_by_key(|o| created(o));
            let oldest = owners[0];
            let unique_oldest = created(owners[0]) != created(owners[1]);
            if oldest.metadata.uid == kt.metadata.uid && (unique_oldest || is_ready(kt)) {
                return Ok(());
            }
            return Err(Failure {
                reason: "ResourceConflict",
                message: format!(
                    "Managed by Ref{{namespace='{}', name='{}'}}",
                    oldest.metadata.namespace.as_deref().unwrap_or(""),
                    oldest.metadata.name.as_deref().unwrap_or("")
                ),
            });
        }
        Ok(())
    }

    /// Makes the Kafka topic match the object's spec.
    async fn converge(&self, kt: &DynamicObject, topic: &str) -> Result<(), Failure> {
        let spec = kt.data.get("spec").cloned().unwrap_or(Value::Null);
        let partitions = spec.get("partitions").and_then(Value::as_i64);
        let replicas = spec.get("replicas").and_then(Value::as_i64);
        let config: Vec<(String, String)> = spec
            .get("config")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), config_value(v)))
                    .collect()
            })
            .unwrap_or_default();

        let Some(current) = self.describe(topic)? else {
            return self.create(topic, partitions, replicas, &config).await;
        };

        // Configuration: the topic's dynamic settings become exactly spec.config.
        let live = self.dynamic_config(topic).await?;
        let mut want: Vec<(String, String)> = config.clone();
        want.sort();
        if live != want {
            let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
            for (k, v) in &want {
                alter = alter.set(k, v);
            }
            let results = self
                .admin
                .alter_configs([&alter], &options())
                .await
                .map_err(|e| Failure::kafka(e.to_string()))?;
            for r in results {
                r.map_err(|(_, code)| Failure::kafka(code.to_string()))?;
            }
            eprintln!("topic-operator: set the configuration of {topic}");
        }

        // Partitions only grow.
        let mut result = Ok(());
        if let Some(want) = partitions {
            let have = current.len() as i64;
            if want > have {
                let np = NewPartitions::new(topic, want as usize);
                let results = self
                    .admin
                    .create_partitions([&np], &options())
                    .await
                    .map_err(|e| Failure::kafka(e.to_string()))?;
                for r in results {
                    r.map_err(|(_, code)| Failure::kafka(code.to_string()))?;
                }
                eprintln!("topic-operator: {topic}: {have} -> {want} partitions");
            } else if want < have {
                result = Err(Failure::not_supported(
                    "Decreasing partitions not supported",
                ));
            }
        }
        // The replication factor never changes here (the real operator needs Cruise Control).
        if let Some(want) = replicas {
            let differ: Vec<String> = current
                .iter()
                .filter(|(_, rf)| *rf as i64 != want)
                .map(|(p, _)| p.to_string())
                .collect();
            if !differ.is_empty() && result.is_ok() {
                result = Err(Failure::not_supported(format!(
                    "Replication factor change not supported, but required for partitions [{}]",
                    differ.join(", ")
                )));
            }
        }
        result
    }

    /// The topic's partitions (id, replica count), or `None` when Kafka does not have it.
    fn describe(&self, topic: &str) -> Result<Option<Vec<(i32, usize)>>, Failure> {
        let md = self
            .admin
            .inner()
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(|e| Failure::kafka(e.to_string()))?;
        let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
            return Ok(None);
        };
        match t.error() {
            None => Ok(Some(
                t.partitions()
                    .iter()
                    .map(|p| (p.id(), p.replicas().len()))
                    .collect(),
            )),
            Some(e) if RDKafkaErrorCode::from(e) == RDKafkaErrorCode::UnknownTopicOrPartition => {
                Ok(None)
            }
            Some(e) => Err(Failure::kafka(RDKafkaErrorCode::from(e).to_string())),
        }
    }

    async fn dynamic_config(&self, topic: &str) -> Result<Vec<(String, String)>, Failure> {
        let results = self
            .admin
            .describe_configs([&ResourceSpecifier::Topic(topic)], &options())
            .await
            .map_err(|e| Failure::kafka(e.to_string()))?;
        let mut out = Vec::new();
        for r in results {
            let resource = r.map_err(|code| Failure::kafka(code.to_string()))?;
            for e in resource.entries {
                if matches!(e.source, ConfigSource::DynamicTopic) {
                    out.push((e.name, e.value.unwrap_or_default()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    async fn create(
        &self,
        topic: &str,
        partitions: Option<i64>,
        replicas: Option<i64>,
        config: &[(String, String)],
    ) -> Result<(), Failure> {
        // -1: the broker's default (num.partitions, default.replication.factor).
        let mut new = NewTopic::new(
            topic,
            partitions.unwrap_or(-1) as i32,
            TopicReplication::Fixed(replicas.unwrap_or(-1) as i32),
        );
        for (k, v) in config {
            new = new.set(k, v);
        }
        let results = self
            .admin
            .create_topics([&new], &options())
            .await
            .map_err(|e| Failure::kafka(e.to_string()))?;
        for r in results {
            match r {
                Ok(_) => eprintln!("topic-operator: created topic {topic}"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(Failure::kafka(code.to_string())),
            }
        }
        Ok(())
    }

    async fn delete_topic(&self, topic: &str) -> Result<(), Failure> {
        let results = self
            .admin
            .delete_topics(&[topic], &options())
            .await
            .map_err(|e| match e {
                KafkaError::AdminOp(code) => Failure::kafka(code.to_string()),
                e => Failure::kafka(e.to_string()),
            })?;
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
                Err((_, code)) => return Err(Failure::kafka(code.to_string())),
            }
        }
        Ok(())
    }

    async fn set_finalizer(&self, kt: &DynamicObject, present: bool) -> Result<(), String> {
        let name = kt.metadata.name.clone().unwrap_or_default();
        let mut finalizers: Vec<String> = kt
            .metadata
            .finalizers
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f != FINALIZER)
            .collect();
        if present {
            finalizers.push(FINALIZER.to_string());
        }
        // The resourceVersion in the patch makes it conditional: after a concurrent change it
        // fails with a conflict and the next event reconciles again.
        let patch = json!({"metadata": {
            "resourceVersion": kt.metadata.resource_version,
            "finalizers": finalizers,
        }});
        self.topics
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| format!("updating the finalizers: {e}"))
    }

    /// Writes the status the real operator writes, when it differs from what is there.
    async fn write_status(
        &self,
        kt: &DynamicObject,
        result: Result<(), Failure>,
        paused: bool,
        managed: bool,
    ) -> Result<(), String> {
        let name = kt.metadata.name.clone().unwrap_or_default();
        let old = kt.data.get("status").cloned().unwrap_or(Value::Null);
        let condition = match &result {
            Ok(()) => json!({
                "type": if paused { "ReconciliationPaused" } else { "Ready" },
                "status": "True",
            }),
            Err(f) => json!({
                "type": "Ready",
                "status": "False",
                "reason": f.reason,
                "message": f.message,
            }),
        };
        let generation = kt.metadata.generation.unwrap_or(0);
        let old_generation = old.get("observedGeneration").and_then(Value::as_i64);
        let observed = if paused {
            old_generation.unwrap_or(0)
        } else {
            generation
        };
        let topic_name = if !managed {
            Value::Null
        } else {
            old.get("topicName")
                .cloned()
                .filter(|v| !v.is_null())
                .unwrap_or_else(|| Value::String(topic_name(kt)))
        };
        let old_condition = old
            .get("conditions")
            .and_then(Value::as_array)
            .filter(|c| c.len() == 1)
            .map(|c| {
                let c = &c[0];
                ["type", "status", "reason", "message"].map(|k| c.get(k).cloned())
            });
        let new_condition =
            ["type", "status", "reason", "message"].map(|k| condition.get(k).cloned());
        let unchanged = old
            .get("topicName")
            .is_some_and(|v| !v.is_null() || !managed)
            && old_generation == Some(observed)
            && old_condition.as_ref() == Some(&new_condition)
            && old.get("topicName").cloned().unwrap_or(Value::Null) == topic_name;
        if unchanged {
            return Ok(());
        }
        let mut condition = condition;
        condition["lastTransitionTime"] = json!(now_iso8601());
        let status = json!({"status": {
            "conditions": [condition],
            "observedGeneration": observed,
            "topicName": topic_name,
        }});
        self.topics
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .map(|_| ())
            .map_err(|e| format!("writing the status: {e}"))
    }
}

fn options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))
}

fn annotation<'a>(kt: &'a DynamicObject, key: &str) -> Option<&'a str> {
    kt.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

fn has_finalizer(kt: &DynamicObject) -> bool {
    kt.metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|f| f == FINALIZER))
}

fn is_ready(kt: &DynamicObject) -> bool {
    kt.data
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type") == Some(&json!("Ready")) && c.get("status") == Some(&json!("True"))
            })
        })
}

/// `spec.topicName`, or the object's name.
fn topic_name(kt: &DynamicObject) -> String {
    kt.data
        .pointer("/spec/topicName")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| kt.metadata.name.clone().unwrap_or_default())
}

/// A `spec.config` value as Kafka's string form (lists comma-separated, as Strimzi writes them).
fn config_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(config_value).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Now as `2026-12-06T07:50:00.123Z` (Strimzi's lastTransitionTime form), without a time crate.
fn now_iso8601() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values_take_kafka_string_forms() {
        assert_eq!(config_value(&json!(7200000)), "7200000");
        assert_eq!(config_value(&json!("compact")), "compact");
        assert_eq!(config_value(&json!(true)), "true");
        assert_eq!(
            config_value(&json!(["delete", "compact"])),
            "delete,compact"
        );
    }

    #[test]
    fn selectors_parse_like_strimzi_resource_labels() {
        let s = parse_selector("strimzi.io/cluster=garage, team = a").unwrap();
        assert_eq!(
            s.get("strimzi.io/cluster").map(String::as_str),
            Some("garage")
        );
        assert_eq!(s.get("team").map(String::as_str), Some("a"));
        assert!(parse_selector("").unwrap().is_empty());
        assert!(parse_selector("nonsense").is_err());
    }

    #[test]
    fn timestamps_are_iso8601_utc() {
        let t = now_iso8601();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
