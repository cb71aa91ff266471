//! Smoke tests against a real Apache Kafka (`tests/peers/up.sh kafka`) through `rdkafka`'s admin
//! client, the route the provider uses. Skipped, with a visible line, when `KAFKA_BOOTSTRAP` is
//! not set.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigSource, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

/// Says that a test is skipped for want of the peer (a failure under `BRICK_TEST_STRICT=1`).
fn skip() {
    brick_provider_api::testing::skip(SKIP);
}

const SKIP: &str = "no Kafka — run tests/peers/up.sh kafka";

fn admin() -> Option<AdminClient<DefaultClientContext>> {
    let Ok(bootstrap) = std::env::var("KAFKA_BOOTSTRAP") else {
        skip();
        return None;
    };
    Some(
        ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .expect("creating an admin client"),
    )
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))
}

/// The partition count the broker reports for `topic`, or `None` when it does not know it.
fn partitions(admin: &AdminClient<DefaultClientContext>, topic: &str) -> Option<usize> {
    let md = admin
        .inner()
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("fetching metadata");
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    match t.error() {
        None => Some(t.partitions().len()),
        Some(_) => None,
    }
}

/// Waits until every broker's metadata agrees `topic` has `want` partitions (or `None`: is gone).
/// CreateTopics and DeleteTopics return once the controller has committed the change; the
/// brokers learn it from the metadata log a moment later, so metadata is eventually consistent.
async fn wait_for_partitions(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
    want: Option<usize>,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = partitions(admin, topic);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "topic {topic}: metadata still shows {got:?} partitions after 30 s, expected {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_topic_created_through_the_admin_api_is_described_with_its_settings_and_then_deleted() {
    let Some(admin) = admin() else { return };
    let topic = unique("brick-smoke");

    let new = NewTopic::new(&topic, 3, TopicReplication::Fixed(1)).set("retention.ms", "3600000");
    let created = admin
        .create_topics([&new], &options())
        .await
        .expect("CreateTopics");
    assert_eq!(created, vec![Ok(topic.clone())]);

    // Creating it again is refused with the broker's own error code.
    let again = admin
        .create_topics([&new], &options())
        .await
        .expect("CreateTopics");
    assert_eq!(
        again,
        vec![Err((topic.clone(), RDKafkaErrorCode::TopicAlreadyExists))]
    );

    wait_for_partitions(&admin, &topic, Some(3)).await;

    // Any broker may answer; one that has not caught up yet says the topic is unknown.
    let deadline = Instant::now() + Duration::from_secs(30);
    let resource = loop {
        let described = admin
            .describe_configs([&ResourceSpecifier::Topic(&topic)], &options())
            .await
            .expect("DescribeConfigs");
        match described.into_iter().next().expect("one resource") {
            Ok(resource) => break resource,
            Err(RDKafkaErrorCode::UnknownTopicOrPartition) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("DescribeConfigs for {topic}: {e}"),
        }
    };
    let retention = resource
        .get("retention.ms")
        .expect("retention.ms is listed");
    assert_eq!(retention.value.as_deref(), Some("3600000"));
    assert_eq!(retention.source, ConfigSource::DynamicTopic);
    let cleanup = resource
        .get("cleanup.policy")
        .expect("cleanup.policy is listed");
    assert_ne!(
        cleanup.source,
        ConfigSource::DynamicTopic,
        "a key the topic did not set is not reported as the topic's own"
    );

    let deleted = admin
        .delete_topics(&[&topic], &options())
        .await
        .expect("DeleteTopics");
    assert_eq!(deleted, vec![Ok(topic.clone())]);

    wait_for_partitions(&admin, &topic, None).await;
}

#[tokio::test]
async fn deleting_a_topic_that_does_not_exist_reports_unknown_topic() {
    let Some(admin) = admin() else { return };
    let topic = unique("brick-smoke-absent");
    let deleted = admin
        .delete_topics(&[&topic], &options())
        .await
        .expect("DeleteTopics");
    assert_eq!(
        deleted,
        vec![Err((topic, RDKafkaErrorCode::UnknownTopicOrPartition))]
    );
}

#[tokio::test]
async fn a_topic_with_replication_factor_three_has_three_replicas_on_a_three_broker_cluster() {
    let Some(admin) = admin() else { return };
    let brokers: usize = std::env::var("KAFKA_BROKERS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(1);
    if brokers < 3 {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "a_topic_with_replication_factor_three_has_three_replicas_on_a_three_broker_cluster: \
             skipped: one broker — run KAFKA_BROKERS=3 tests/peers/up.sh kafka"
        );
        return;
    }
    let topic = unique("brick-smoke-rf3");
    let new = NewTopic::new(&topic, 2, TopicReplication::Fixed(3));
    let created = admin
        .create_topics([&new], &options())
        .await
        .expect("CreateTopics");
    assert_eq!(created, vec![Ok(topic.clone())]);
    wait_for_partitions(&admin, &topic, Some(2)).await;
    let md = admin
        .inner()
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .expect("fetching metadata");
    let t = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .expect("topic listed");
    assert_eq!(t.partitions().len(), 2);
    for p in t.partitions() {
        let mut replicas = p.replicas().to_vec();
        replicas.sort();
        replicas.dedup();
        assert_eq!(
            replicas.len(),
            3,
            "partition {} replicas {replicas:?}",
            p.id()
        );
    }
    let deleted = admin
        .delete_topics(&[&topic], &options())
        .await
        .expect("DeleteTopics");
    assert_eq!(deleted, vec![Ok(topic)]);
}
