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

fn admin() -> Option<AdminClient<DefaultClientContext>> {
    let Ok(bootstrap) = std::env::var("KAFKA_BOOTSTRAP") else {
        eprintln!("skipped: no Kafka — run tests/peers/up.sh kafka");
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

    assert_eq!(partitions(&admin, &topic), Some(3));

    let described = admin
        .describe_configs([&ResourceSpecifier::Topic(&topic)], &options())
        .await
        .expect("DescribeConfigs");
    let resource = described
        .into_iter()
        .next()
        .expect("one resource")
        .expect("the topic's configuration");
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

    // Deletion completes asynchronously on the broker: wait until metadata stops listing it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while partitions(&admin, &topic).is_some() {
        assert!(
            Instant::now() < deadline,
            "topic {topic} still listed 30 s after deletion"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
