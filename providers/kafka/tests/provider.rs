//! The kafka provider against the real Kafka peer (`tests/peers/up.sh kafka`): the conformance
//! suite for `kafka_topic` and `kafka_acl`, the batching of concurrent creates into one
//! CreateTopics request, broker defaults never read as the topic's own, the plan checks with the
//! cluster's real broker count, and a clear error for an unreachable cluster. Skipped, with a
//! visible line, when `KAFKA_BOOTSTRAP` is not set.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brick_provider_api::conformance::{Fixture, assert_conforms};
use brick_provider_api::provider::{ApplyRequest, NoProgress, PlanRequest, ReadRequest};
use brick_provider_api::schema::Block;
use brick_provider_api::{Number, Provider, Type, Value};
use brick_provider_kafka::KafkaProvider;
use brick_provider_kafka::checks::Planned;
use brick_provider_kafka::resources::{acl, topic};

fn bootstrap() -> Option<String> {
    match std::env::var("KAFKA_BOOTSTRAP") {
        Ok(b) => Some(b),
        Err(_) => {
            brick_provider_api::testing::skip("no Kafka — run tests/peers/up.sh kafka");
            None
        }
    }
}

fn conform(block: &Block, set: Vec<(&str, Value)>) -> Value {
    let mut m = BTreeMap::new();
    for (k, a) in &block.attributes {
        m.insert(k.clone(), Value::null(a.ty.clone()));
    }
    for (k, v) in set {
        m.insert(k.to_string(), v);
    }
    Value::object(m)
}

fn n(x: i64) -> Value {
    Value::number(Number::from_i64(x))
}

fn strings(pairs: &[(&str, &str)]) -> Value {
    Value::map(
        Type::String,
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::string(*v)))
            .collect(),
    )
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

async fn provider(bootstrap: &str) -> KafkaProvider {
    let p = KafkaProvider::default();
    let cfg = conform(
        &KafkaProvider::provider_block(),
        vec![(
            "bootstrap_servers",
            Value::list(
                Type::String,
                bootstrap.split(',').map(Value::string).collect(),
            ),
        )],
    );
    let d = p.configure(&cfg).await;
    assert!(d.is_empty(), "{d:?}");
    p
}

fn topic_cfg(name: &str, partitions: i64, rf: i64, config: &[(&str, &str)]) -> Value {
    let mut set = vec![
        ("name", Value::string(name)),
        ("partitions", n(partitions)),
        ("replication_factor", n(rf)),
    ];
    if !config.is_empty() {
        set.push(("config", strings(config)));
    }
    conform(&topic::schema().block, set)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kafka_provider_keeps_the_provider_contract() {
    let Some(b) = bootstrap() else { return };
    let p = provider(&b).await;
    let name = unique("brick-conf");
    let acl_cfg = |op: &str| {
        conform(
            &acl::schema().block,
            vec![
                ("acl_principal", Value::string("User:conformance")),
                ("acl_host", Value::string("*")),
                ("acl_operation", Value::string(op)),
                ("acl_permission_type", Value::string("Allow")),
                ("resource_type", Value::string("Topic")),
                ("resource_name", Value::string(&name)),
                ("resource_pattern_type_filter", Value::string("Literal")),
            ],
        )
    };
    assert_conforms(
        &p,
        &[
            Fixture::new(
                topic::TYPE,
                topic_cfg(&name, 2, 1, &[("retention.ms", "3600000")]),
            )
            .updated(topic_cfg(
                &name,
                4,
                1,
                &[("retention.ms", "7200000"), ("cleanup.policy", "compact")],
            ))
            .import_id_attr("name"),
            Fixture::new(acl::TYPE, acl_cfg("Read"))
                .updated(acl_cfg("Write"))
                .import_id_attr("id"),
        ],
    )
    .await;
}

async fn plan_apply(p: &KafkaProvider, ty: &str, prior: &Value, config: &Value) -> Value {
    let plan = p
        .plan_resource(PlanRequest {
            type_name: ty,
            prior,
            proposed: config,
        })
        .await;
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    let r = p
        .apply_resource(ApplyRequest {
            type_name: ty,
            prior,
            planned: &plan.planned,
            progress: &NoProgress,
        })
        .await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    r.new_state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_are_one_create_topics_request_and_each_gets_its_own_result() {
    let Some(b) = bootstrap() else { return };
    let p = Arc::new(provider(&b).await);
    let base = unique("brick-batch");
    let before = p.create_requests();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let p = p.clone();
        let name = format!("{base}-{i}");
        tasks.push(tokio::spawn(async move {
            let null = Value::null(topic::schema().block.value_type());
            plan_apply(&p, topic::TYPE, &null, &topic_cfg(&name, 1, 1, &[])).await
        }));
    }
    let mut states = Vec::new();
    for t in tasks {
        states.push(t.await.unwrap());
    }
    assert_eq!(
        p.create_requests() - before,
        1,
        "60 concurrent creates, one request"
    );
    // One of them already exists: only that caller fails, with the import hint.
    let null = Value::null(topic::schema().block.value_type());
    let dup = p
        .plan_resource(PlanRequest {
            type_name: topic::TYPE,
            prior: &null,
            proposed: &topic_cfg(&format!("{base}-0"), 1, 1, &[]),
        })
        .await;
    let r = p
        .apply_resource(ApplyRequest {
            type_name: topic::TYPE,
            prior: &null,
            planned: &dup.planned,
            progress: &NoProgress,
        })
        .await;
    assert_eq!(r.diagnostics[0].code, "brick::kafka::topic_exists");
    assert!(
        r.diagnostics[0]
            .help
            .as_deref()
            .unwrap()
            .contains("brick import")
    );
    assert!(r.new_state.is_null());
    // Refresh of all 60 at once; then delete them (batched too).
    let read = p.read_many(topic::TYPE, &states).await;
    assert!(read.iter().all(|r| matches!(r, Ok(Some(_)))));
    let mut tasks = Vec::new();
    for s in states {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let r = p
                .apply_resource(ApplyRequest {
                    type_name: topic::TYPE,
                    prior: &s,
                    planned: &Value::null(s.ty()),
                    progress: &NoProgress,
                })
                .await;
            assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
            s
        }));
    }
    let mut gone = Vec::new();
    for t in tasks {
        gone.push(t.await.unwrap());
    }
    let read = p.read_many(topic::TYPE, &gone).await;
    assert!(read.iter().all(|r| matches!(r, Ok(None))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_without_config_reads_back_without_the_brokers_defaults() {
    let Some(b) = bootstrap() else { return };
    let p = provider(&b).await;
    let name = unique("brick-defaults");
    let null = Value::null(topic::schema().block.value_type());
    let state = plan_apply(&p, topic::TYPE, &null, &topic_cfg(&name, 1, 1, &[])).await;
    let read = p
        .read_resource(ReadRequest {
            type_name: topic::TYPE,
            current: &state,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, state, "no default shows as the topic's own");
    plan_apply(&p, topic::TYPE, &state, &Value::null(state.ty())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_checks_use_the_clusters_real_broker_count() {
    let Some(b) = bootstrap() else { return };
    let brokers: i64 = std::env::var("KAFKA_BROKERS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(1);
    let p = provider(&b).await;
    let fits = topic_cfg("fits", 1, brokers, &[]);
    let too_many = topic_cfg("too-many", 1, brokers + 1, &[]);
    let found = p.check_changes(&[
        Planned {
            address: "kafka_topic.fits",
            type_name: topic::TYPE,
            planned: &fits,
        },
        Planned {
            address: "kafka_topic.too_many",
            type_name: topic::TYPE,
            planned: &too_many,
        },
    ]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 1);
    assert!(
        found[0]
            .1
            .detail
            .contains(&format!("the cluster has {brokers} broker(s)"))
    );
}

#[tokio::test]
async fn an_unreachable_cluster_is_a_clear_error_within_seconds() {
    let p = KafkaProvider::default();
    let cfg = conform(
        &KafkaProvider::provider_block(),
        vec![(
            "bootstrap_servers",
            Value::list(Type::String, vec![Value::string("127.0.0.1:1")]),
        )],
    );
    let t0 = Instant::now();
    let d = p.configure(&cfg).await;
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    assert_eq!(d[0].code, "brick::kafka::unreachable", "{d:?}");
    assert!(d[0].detail.contains("127.0.0.1:1"));
}
