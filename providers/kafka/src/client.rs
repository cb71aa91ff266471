//! The connection to Kafka: the provider's settings (from its block or the environment) as
//! librdkafka properties, the admin client, and the calls the resources share — Metadata,
//! DescribeConfigs, and the batched CreateTopics and DeleteTopics.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminOptions, ConfigSource, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::batch::{Batcher, Flush};
use crate::ffi::{self, Admin, AdminError};

/// How long one admin request may take before it is an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long brick waits for an unreachable cluster before it says so.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a created or deleted topic may take to show (or vanish) in every broker's metadata.
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(60);

/// The provider's settings, after the environment filled what the block left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub bootstrap_servers: Vec<String>,
    pub tls_enabled: bool,
    pub ca_cert: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    pub sasl_password: Option<String>,
}

/// The SASL mechanisms the provider accepts, as written and as librdkafka names them.
pub const SASL_MECHANISMS: &[(&str, &str)] = &[
    ("plain", "PLAIN"),
    ("scram-sha-256", "SCRAM-SHA-256"),
    ("scram-sha-512", "SCRAM-SHA-512"),
];

impl Settings {
    /// The librdkafka properties for these settings (secrets included: never print them).
    pub fn properties(&self) -> Result<BTreeMap<&'static str, String>, String> {
        let mut p = BTreeMap::new();
        p.insert("bootstrap.servers", self.bootstrap_servers.join(","));
        let sasl = self.sasl_mechanism.is_some() || self.sasl_username.is_some();
        let protocol = match (self.tls_enabled, sasl) {
            (false, false) => "plaintext",
            (true, false) => "ssl",
            (false, true) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        };
        p.insert("security.protocol", protocol.into());
        // A PEM text or a file path: librdkafka takes either under different names.
        let pem_or_file =
            |p: &mut BTreeMap<&'static str, String>, v: &Option<String>, pem, file| {
                if let Some(v) = v {
                    if v.contains("-----BEGIN") {
                        p.insert(pem, v.clone());
                    } else {
                        p.insert(file, v.clone());
                    }
                }
            };
        pem_or_file(&mut p, &self.ca_cert, "ssl.ca.pem", "ssl.ca.location");
        pem_or_file(
            &mut p,
            &self.client_cert,
            "ssl.certificate.pem",
            "ssl.certificate.location",
        );
        pem_or_file(&mut p, &self.client_key, "ssl.key.pem", "ssl.key.location");
        if sasl {
            let m = self.sasl_mechanism.as_deref().unwrap_or("plain");
            let Some((_, name)) = SASL_MECHANISMS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(m))
            else {
                return Err(format!(
                    "sasl_mechanism \"{m}\" is not one of plain, scram-sha-256, scram-sha-512"
                ));
            };
            p.insert("sasl.mechanism", (*name).into());
            p.insert(
                "sasl.username",
                self.sasl_username.clone().unwrap_or_default(),
            );
            p.insert(
                "sasl.password",
                self.sasl_password.clone().unwrap_or_default(),
            );
        }
        // Fail fast: an unreachable cluster is an error within seconds, not minutes.
        p.insert("socket.connection.setup.timeout.ms", "5000".into());
        p.insert("reconnect.backoff.max.ms", "1000".into());
        Ok(p)
    }
}

/// A topic as the cluster's metadata shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicShape {
    pub partitions: usize,
    pub replication_factor: usize,
}

/// One topic to create.
#[derive(Clone, Debug)]
pub struct NewTopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub config: BTreeMap<String, String>,
}

/// The connection and the batchers.
pub struct Client {
    pub admin: Arc<Admin>,
    /// For the calls librdkafka lacks, made over [`crate::wire`].
    pub settings: Settings,
    pub bootstrap: String,
    creates: Batcher<NewTopicSpec, Result<(), AdminError>>,
    deletes: Batcher<String, Result<(), AdminError>>,
}

pub fn options() -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(REQUEST_TIMEOUT))
        .operation_timeout(Some(REQUEST_TIMEOUT))
}

fn kafka_err(e: KafkaError) -> AdminError {
    AdminError {
        code: e.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Unknown),
        message: e.to_string(),
    }
}

/// How long the create and delete batchers wait for more arrivals, and at most.
const QUIET: Duration = Duration::from_millis(50);
const MAX_WAIT: Duration = Duration::from_millis(2000);
/// Topics per CreateTopics request: Kafka sets no limit of its own; this keeps a request well
/// under the broker's default 100 MiB socket.request.max.bytes even with long configs.
pub const MAX_TOPICS_PER_REQUEST: usize = 5000;

impl Client {
    pub fn new(settings: &Settings) -> Result<Client, String> {
        let mut cfg = ClientConfig::new();
        for (k, v) in settings.properties()? {
            cfg.set(k, v);
        }
        let admin: Admin = cfg.create().map_err(|e| e.to_string())?;
        let admin = Arc::new(admin);
        let (a, s) = (admin.clone(), settings.clone());
        let create: Flush<NewTopicSpec, Result<(), AdminError>> = Arc::new(move |items| {
            let (a, s) = (a.clone(), s.clone());
            Box::pin(async move { create_topics(&a, &s, items).await })
        });
        let (a, s) = (admin.clone(), settings.clone());
        let delete: Flush<String, Result<(), AdminError>> = Arc::new(move |items| {
            let (a, s) = (a.clone(), s.clone());
            Box::pin(async move { delete_topics(&a, &s, items).await })
        });
        Ok(Client {
            admin,
            settings: settings.clone(),
            bootstrap: settings.bootstrap_servers.join(","),
            creates: Batcher::new(create, QUIET, MAX_WAIT, MAX_TOPICS_PER_REQUEST),
            deletes: Batcher::new(delete, QUIET, MAX_WAIT, MAX_TOPICS_PER_REQUEST),
        })
    }

    /// The number of CreateTopics requests sent so far.
    pub fn create_requests(&self) -> usize {
        self.creates.requests()
    }

    /// Creates one topic as part of the current batch.
    pub async fn create_topic(&self, spec: NewTopicSpec) -> Result<(), AdminError> {
        self.creates
            .submit(spec)
            .await
            .unwrap_or_else(|| Err(lost()))
    }

    /// Deletes one topic as part of the current batch; an absent topic is no error.
    pub async fn delete_topic(&self, name: String) -> Result<(), AdminError> {
        self.deletes
            .submit(name)
            .await
            .unwrap_or_else(|| Err(lost()))
    }

    /// Metadata of the whole cluster: the broker ids and every topic's shape.
    pub async fn metadata(&self) -> Result<(Vec<i32>, HashMap<String, TopicShape>), AdminError> {
        metadata(&self.admin, REQUEST_TIMEOUT).await
    }

    /// The cluster's broker ids and each partition's replicas of `topic`, in partition order.
    pub async fn assignment(&self, topic: &str) -> Result<(Vec<i32>, Vec<Vec<i32>>), AdminError> {
        let a = self.admin.clone();
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            let md = a
                .inner()
                .fetch_metadata(Some(&topic), REQUEST_TIMEOUT)
                .map_err(kafka_err)?;
            let brokers = md.brokers().iter().map(|b| b.id()).collect();
            let mut parts: Vec<(i32, Vec<i32>)> = md
                .topics()
                .iter()
                .filter(|t| t.name() == topic)
                .flat_map(|t| {
                    t.partitions()
                        .iter()
                        .map(|p| (p.id(), p.replicas().to_vec()))
                })
                .collect();
            parts.sort();
            Ok((brokers, parts.into_iter().map(|(_, r)| r).collect()))
        })
        .await
        .map_err(|e| AdminError {
            code: RDKafkaErrorCode::Unknown,
            message: e.to_string(),
        })?
    }

    /// The broker ids, within [`CONNECT_TIMEOUT`]: the provider's first call. One Metadata
    /// request for no topics: its size does not grow with the cluster's topics.
    pub async fn brokers(&self) -> Result<Vec<i32>, AdminError> {
        let a = self.admin.clone();
        tokio::task::spawn_blocking(move || crate::ffi::broker_ids(&a, CONNECT_TIMEOUT))
            .await
            .map_err(|e| AdminError {
                code: RDKafkaErrorCode::Unknown,
                message: e.to_string(),
            })?
    }

    /// One DescribeConfigs for all `topics`: for each, the keys set on the topic itself
    /// (source DYNAMIC_TOPIC_CONFIG) with their values; `None` for a topic that does not exist.
    /// A broker that has not caught up with a new topic yet says it is unknown: those are
    /// asked again for a while.
    pub async fn topic_configs(
        &self,
        topics: &[String],
    ) -> Result<HashMap<String, Option<BTreeMap<String, String>>>, AdminError> {
        let mut out = HashMap::new();
        let mut ask: Vec<String> = topics.to_vec();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !ask.is_empty() {
            let specs: Vec<ResourceSpecifier> =
                ask.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
            let results = self
                .admin
                .describe_configs(&specs, &options())
                .await
                .map_err(kafka_err)?;
            let mut again = Vec::new();
            for (name, r) in ask.iter().zip(results) {
                match r {
                    Ok(res) => {
                        let own = res
                            .entries
                            .iter()
                            .filter(|e| e.source == ConfigSource::DynamicTopic)
                            .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
                            .collect();
                        out.insert(name.clone(), Some(own));
                    }
                    Err(RDKafkaErrorCode::UnknownTopicOrPartition)
                        if tokio::time::Instant::now() < deadline =>
                    {
                        again.push(name.clone())
                    }
                    Err(RDKafkaErrorCode::UnknownTopicOrPartition) => {
                        out.insert(name.clone(), None);
                    }
                    Err(code) => {
                        return Err(AdminError {
                            code,
                            message: format!("describing the configuration of topic {name}"),
                        });
                    }
                }
            }
            if !again.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            ask = again;
        }
        Ok(out)
    }

    /// Grows `topic` to `partitions` (CreatePartitions) and waits until metadata shows it.
    pub async fn grow_partitions(&self, topic: &str, partitions: usize) -> Result<(), AdminError> {
        let np = rdkafka::admin::NewPartitions::new(topic, partitions);
        let r = self
            .admin
            .create_partitions([&np], &options())
            .await
            .map_err(kafka_err)?;
        if let Some(Err((_, code))) = r.into_iter().next() {
            return Err(AdminError {
                code,
                message: format!("growing topic {topic} to {partitions} partitions"),
            });
        }
        let want: HashMap<String, Option<usize>> = [(topic.to_string(), Some(partitions))].into();
        wait_for(&self.settings, &want).await
    }

    /// IncrementalAlterConfigs of one topic.
    pub async fn alter_config(
        &self,
        topic: &str,
        changes: Vec<ffi::ConfigChange>,
    ) -> Result<(), AdminError> {
        let a = self.admin.clone();
        let expect = changes.clone();
        let req = vec![(topic.to_string(), changes)];
        let r = tokio::task::spawn_blocking(move || {
            ffi::alter_topic_configs(&a, &req, REQUEST_TIMEOUT)
        })
        .await
        .map_err(|e| AdminError {
            code: RDKafkaErrorCode::Unknown,
            message: e.to_string(),
        })??;
        r.into_iter().next().unwrap_or(Ok(()))?;
        let topics = [topic.to_string()];
        settle("the topic's configuration", || async {
            let now = self.topic_configs(&topics).await?;
            let own = now.get(topic).cloned().flatten().unwrap_or_default();
            Ok(expect.iter().all(|c| match c {
                ffi::ConfigChange::Set(k, v) => own.get(k) == Some(v),
                ffi::ConfigChange::Delete(k) => !own.contains_key(k),
            }))
        })
        .await
    }

    /// Runs a blocking admin call of [`ffi`] on a blocking thread.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Admin) -> Result<T, AdminError> + Send + 'static,
    ) -> Result<T, AdminError> {
        let a = self.admin.clone();
        tokio::task::spawn_blocking(move || f(&a))
            .await
            .map_err(|e| AdminError {
                code: RDKafkaErrorCode::Unknown,
                message: e.to_string(),
            })?
    }
}

fn lost() -> AdminError {
    AdminError {
        code: RDKafkaErrorCode::Unknown,
        message: "the batched request was abandoned".into(),
    }
}

async fn metadata(
    admin: &Arc<Admin>,
    timeout: Duration,
) -> Result<(Vec<i32>, HashMap<String, TopicShape>), AdminError> {
    metadata_of(admin, None, timeout).await
}

/// Metadata for one topic (which need not exist: only the brokers are then of use) or all.
async fn metadata_of(
    admin: &Arc<Admin>,
    topic: Option<&str>,
    timeout: Duration,
) -> Result<(Vec<i32>, HashMap<String, TopicShape>), AdminError> {
    let a = admin.clone();
    let topic = topic.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let md = a
            .inner()
            .fetch_metadata(topic.as_deref(), timeout)
            .map_err(kafka_err)?;
        let brokers = md.brokers().iter().map(|b| b.id()).collect();
        let topics = md
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| {
                let rf = t
                    .partitions()
                    .iter()
                    .map(|p| p.replicas().len())
                    .max()
                    .unwrap_or(0);
                (
                    t.name().to_string(),
                    TopicShape {
                        partitions: t.partitions().len(),
                        replication_factor: rf,
                    },
                )
            })
            .collect();
        Ok((brokers, topics))
    })
    .await
    .map_err(|e| AdminError {
        code: RDKafkaErrorCode::Unknown,
        message: e.to_string(),
    })?
}

/// Waits until `agrees` holds for [`AGREEING_READS`] reads in a row. Kafka answers a change
/// once the controller committed it; each broker learns it from the metadata log a moment later,
/// and librdkafka sends each read to whichever broker it likes — so one agreeing read is not
/// enough for the next read (or the next brick run) to agree too.
pub async fn settle<F, Fut>(what: &str, mut agrees: F) -> Result<(), AdminError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, AdminError>>,
{
    let deadline = tokio::time::Instant::now() + PROPAGATION_TIMEOUT;
    let mut in_a_row = 0;
    loop {
        if agrees().await? {
            in_a_row += 1;
            if in_a_row >= AGREEING_READS {
                return Ok(());
            }
        } else {
            in_a_row = 0;
            if tokio::time::Instant::now() >= deadline {
                return Err(AdminError {
                    code: RDKafkaErrorCode::OperationTimedOut,
                    message: format!(
                        "{what}: not yet visible on every broker after {} s",
                        PROPAGATION_TIMEOUT.as_secs()
                    ),
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many reads in a row must agree before a change counts as visible.
const AGREEING_READS: usize = 3;

/// Waits until every broker's own Metadata shows each topic with the given partition count
/// (`None`: absent). Each broker is asked directly ([`crate::wire`]): a change the controller
/// committed reaches each broker from the metadata log on its own, and librdkafka would send a
/// read to whichever broker it likes — once every broker agrees, any next read (or brick run)
/// agrees too.
async fn wait_for(
    settings: &Settings,
    want: &HashMap<String, Option<usize>>,
) -> Result<(), AdminError> {
    if want.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = want.keys().cloned().collect();
    let deadline = tokio::time::Instant::now() + PROPAGATION_TIMEOUT;
    loop {
        let (s, n) = (settings.clone(), names.clone());
        let per_broker = tokio::task::spawn_blocking(move || {
            crate::wire::Conn::metadata_per_broker(&s, &n, REQUEST_TIMEOUT)
        })
        .await
        .map_err(|e| AdminError {
            code: RDKafkaErrorCode::Unknown,
            message: e.to_string(),
        })??;
        let behind = per_broker
            .iter()
            .filter(|(_, shown)| want.iter().any(|(t, p)| shown.get(t) != Some(p)))
            .map(|(b, _)| *b)
            .collect::<Vec<_>>();
        if behind.is_empty() && !per_broker.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(AdminError {
                code: RDKafkaErrorCode::OperationTimedOut,
                message: format!(
                    "the topics' metadata: not yet visible on broker(s) {behind:?} after {} s",
                    PROPAGATION_TIMEOUT.as_secs()
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One CreateTopics request for `items`, then one wait for all of them to show.
async fn create_topics(
    admin: &Arc<Admin>,
    settings: &Settings,
    items: Vec<NewTopicSpec>,
) -> Vec<Result<(), AdminError>> {
    let new: Vec<NewTopic> = items
        .iter()
        .map(|s| {
            let mut t = NewTopic::new(
                &s.name,
                s.partitions,
                TopicReplication::Fixed(s.replication_factor),
            );
            for (k, v) in &s.config {
                t = t.set(k, v);
            }
            t
        })
        .collect();
    let results = match admin.create_topics(new.iter(), &options()).await {
        Ok(r) => r,
        Err(e) => return items.iter().map(|_| Err(kafka_err(e.clone()))).collect(),
    };
    let mut by_name: HashMap<String, Result<(), AdminError>> = results
        .into_iter()
        .map(|r| match r {
            Ok(name) => (name, Ok(())),
            Err((name, code)) => (
                name,
                Err(AdminError {
                    code,
                    message: String::new(),
                }),
            ),
        })
        .collect();
    let want: HashMap<String, Option<usize>> = items
        .iter()
        .filter(|s| matches!(by_name.get(&s.name), Some(Ok(()))))
        .map(|s| (s.name.clone(), Some(s.partitions as usize)))
        .collect();
    let waited = wait_for(settings, &want).await;
    items
        .iter()
        .map(|s| match by_name.remove(&s.name) {
            Some(Ok(())) => waited.clone(),
            Some(Err(e)) => Err(e),
            None => Err(AdminError {
                code: RDKafkaErrorCode::Unknown,
                message: format!("the broker did not answer for topic {}", s.name),
            }),
        })
        .collect()
}

/// One DeleteTopics request for `names`, then one wait for all of them to vanish.
async fn delete_topics(
    admin: &Arc<Admin>,
    settings: &Settings,
    names: Vec<String>,
) -> Vec<Result<(), AdminError>> {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let results = match admin.delete_topics(&refs, &options()).await {
        Ok(r) => r,
        Err(e) => return names.iter().map(|_| Err(kafka_err(e.clone()))).collect(),
    };
    let mut by_name: HashMap<String, Result<(), AdminError>> = results
        .into_iter()
        .map(|r| match r {
            Ok(name) | Err((name, RDKafkaErrorCode::UnknownTopicOrPartition)) => (name, Ok(())),
            Err((name, code)) => (
                name,
                Err(AdminError {
                    code,
                    message: String::new(),
                }),
            ),
        })
        .collect();
    let want: HashMap<String, Option<usize>> = names
        .iter()
        .filter(|n| matches!(by_name.get(*n), Some(Ok(()))))
        .map(|n| (n.clone(), None))
        .collect();
    let waited = wait_for(settings, &want).await;
    names
        .iter()
        .map(|n| match by_name.remove(n) {
            Some(Ok(())) => waited.clone(),
            Some(Err(e)) => Err(e),
            None => Err(AdminError {
                code: RDKafkaErrorCode::Unknown,
                message: format!("the broker did not answer for topic {n}"),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_and_sasl_choose_the_security_protocol_and_pem_text_is_told_from_a_path() {
        let mut s = Settings {
            bootstrap_servers: vec!["a:9092".into(), "b:9092".into()],
            ..Default::default()
        };
        let p = s.properties().unwrap();
        assert_eq!(p["bootstrap.servers"], "a:9092,b:9092");
        assert_eq!(p["security.protocol"], "plaintext");
        s.tls_enabled = true;
        s.ca_cert = Some("/etc/ca.pem".into());
        s.client_cert = Some("-----BEGIN CERTIFICATE-----\nx".into());
        let p = s.properties().unwrap();
        assert_eq!(p["security.protocol"], "ssl");
        assert_eq!(p["ssl.ca.location"], "/etc/ca.pem");
        assert!(p["ssl.certificate.pem"].starts_with("-----BEGIN"));
        s.sasl_mechanism = Some("scram-sha-512".into());
        s.sasl_username = Some("u".into());
        s.sasl_password = Some("p".into());
        let p = s.properties().unwrap();
        assert_eq!(p["security.protocol"], "sasl_ssl");
        assert_eq!(p["sasl.mechanism"], "SCRAM-SHA-512");
        s.sasl_mechanism = Some("gssapi".into());
        assert!(s.properties().unwrap_err().contains("gssapi"));
    }
}
