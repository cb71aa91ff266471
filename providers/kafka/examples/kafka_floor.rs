//! The benchmark's floor (bench/kafka.sh): what the Admin API costs with nothing around it.
//! `kafka_floor create PREFIX N` sends one CreateTopics request for N topics and waits until
//! every broker's own Metadata shows them all (each broker asked directly, as brick waits);
//! `kafka_floor read PREFIX N` is one Metadata plus one DescribeConfigs for the N topics (what
//! a no-op plan must ask); `kafka_floor delete PREFIX N` is one DeleteTopics request and the
//! wait until every broker has forgotten them. Reads KAFKA_BOOTSTRAP.

use std::collections::HashSet;
use std::time::Duration;

use brick_provider_kafka::client::Settings;
use brick_provider_kafka::wire::Conn;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;

type Admin = AdminClient<DefaultClientContext>;

fn visible(admin: &Admin) -> HashSet<String> {
    let md = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(30))
        .expect("Metadata");
    md.topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| t.name().to_string())
        .collect()
}

/// Waits until every broker's own Metadata shows all `names` (`present`) or none of them:
/// each broker learns a change from the metadata log on its own, so one broker's answer says
/// nothing about the next request's.
async fn wait(settings: &Settings, names: &[String], present: bool) {
    loop {
        let s = settings.clone();
        let n = names.to_vec();
        let per_broker = tokio::task::spawn_blocking(move || {
            Conn::metadata_per_broker(&s, &n, Duration::from_secs(30))
        })
        .await
        .unwrap()
        .expect("Metadata of every broker");
        assert!(!per_broker.is_empty(), "no broker listed");
        if per_broker
            .values()
            .all(|shown| shown.values().all(|p| p.is_some() == present))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, what, prefix, n] = &args[..] else {
        eprintln!("usage: kafka_floor create|read|delete PREFIX N");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N");
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP").expect("KAFKA_BOOTSTRAP");
    let settings = Settings {
        bootstrap_servers: bootstrap.split(',').map(str::to_string).collect(),
        ..Settings::default()
    };
    let admin: Admin = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("admin client");
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(60)));
    match what.as_str() {
        "create" => {
            let new: Vec<NewTopic> = names
                .iter()
                .map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(1)))
                .collect();
            let r = admin
                .create_topics(new.iter(), &opts)
                .await
                .expect("CreateTopics");
            assert!(r.iter().all(Result::is_ok), "{r:?}");
            wait(&settings, &names, true).await;
        }
        "read" => {
            let seen = visible(&admin);
            assert!(names.iter().all(|t| seen.contains(t)));
            let specs: Vec<ResourceSpecifier> =
                names.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
            let r = admin
                .describe_configs(&specs, &opts)
                .await
                .expect("DescribeConfigs");
            assert!(r.iter().all(Result::is_ok));
        }
        "delete" => {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let r = admin
                .delete_topics(&refs, &opts)
                .await
                .expect("DeleteTopics");
            assert!(r.iter().all(Result::is_ok), "{r:?}");
            wait(&settings, &names, false).await;
        }
        other => panic!("unknown step {other}"),
    }
}
