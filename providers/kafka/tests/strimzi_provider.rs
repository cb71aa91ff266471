//! The strimzi provider against the real peers (`tests/peers/up.sh strimzi`): the real
//! kube-apiserver with Strimzi's real CRDs, the project's Topic Operator stand-in and the real
//! three-broker Kafka. A `strimzi_topic` passes the conformance suite and becomes a real topic
//! (checked with rdkafka's metadata) and Ready; what brick writes for a `strimzi_kafka` and a
//! `strimzi_operator` (Strimzi's own install files) is accepted by the real API server against
//! the real CRDs, in a scratch namespace cleaned up after. Skipped, with a visible line, without
//! the peer; skipped with a message when Strimzi's manifests (beside the repository) are absent.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use brick_provider_api::conformance::{Fixture, assert_conforms};
use brick_provider_api::provider::{
    ApplyRequest, ChangeAction, NoProgress, PlanRequest, PlannedChange,
};
use brick_provider_api::schema::Block;
use brick_provider_api::{Number, Provider, Type, Value};
use brick_provider_k8s::machinery::{self, Cluster};
use brick_provider_kafka::StrimziProvider;
use brick_provider_kafka::resources::{strimzi_kafka, strimzi_operator, strimzi_topic};
use brick_provider_kafka::strimzi::kube;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

struct Peer {
    kubeconfig: String,
    kubectl: String,
    namespace: String,
    cluster: String,
    bootstrap: String,
    manifests: Option<String>,
}

fn peer() -> Option<Peer> {
    if let Ok(reason) = std::env::var("STRIMZI_SKIPPED") {
        brick_provider_api::testing::skip_without_reference_data(&reason);
        return None;
    }
    let var = |n: &str| std::env::var(n).ok();
    let (Some(kubeconfig), Some(kubectl), Some(namespace), Some(cluster), Some(bootstrap)) = (
        var("BRICK_PEERS_KUBECONFIG"),
        var("KUBECTL"),
        var("STRIMZI_NAMESPACE"),
        var("STRIMZI_CLUSTER"),
        var("KAFKA_BOOTSTRAP"),
    ) else {
        brick_provider_api::testing::skip("no Strimzi peer — run tests/peers/up.sh strimzi");
        return None;
    };
    Some(Peer {
        kubeconfig,
        kubectl,
        namespace,
        cluster,
        bootstrap,
        manifests: var("STRIMZI_CRDS"),
    })
}

fn conform(block: &Block, set: Vec<(&str, Value)>) -> Value {
    let mut m = BTreeMap::new();
    for (k, a) in &block.attributes {
        m.insert(k.clone(), Value::null(a.ty.clone()));
    }
    for (k, nb) in &block.blocks {
        m.insert(k.clone(), Value::list(nb.block.value_type(), Vec::new()));
    }
    for (k, v) in set {
        m.insert(k.to_string(), v);
    }
    Value::object(m)
}

fn n(x: i64) -> Value {
    Value::number(Number::from_i64(x))
}

fn s(x: &str) -> Value {
    Value::string(x)
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

async fn provider(p: &Peer) -> StrimziProvider {
    let prov = StrimziProvider::default();
    let cfg = conform(
        &prov.schema().provider,
        vec![("config_path", s(&p.kubeconfig))],
    );
    let d = prov.configure(&cfg).await;
    assert!(d.is_empty(), "{d:?}");
    prov
}

fn topic_cfg(p: &Peer, name: &str, partitions: i64) -> Value {
    let schema = strimzi_topic::schema();
    conform(
        &schema.block,
        vec![
            ("name", s(name)),
            ("namespace", s(&p.namespace)),
            ("cluster", s(&p.cluster)),
            ("partitions", n(partitions)),
            ("replicas", n(3)),
            (
                "config",
                Value::map(
                    Type::String,
                    [("retention.ms".to_string(), s("7200000"))].into(),
                ),
            ),
        ],
    )
}

/// (partition count, replicas of partition 0) of `topic` by rdkafka's metadata, `None` when
/// the topic does not exist.
fn metadata(bootstrap: &str, topic: &str) -> Option<(usize, usize)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("an rdkafka consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    if t.error().is_some() || t.partitions().is_empty() {
        return None;
    }
    Some((t.partitions().len(), t.partitions()[0].replicas().len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strimzi_topic_conforms_and_becomes_a_real_ready_topic() {
    let Some(p) = peer() else { return };
    let prov = provider(&p).await;
    let name = unique("brick-st");
    assert_conforms(
        &prov,
        &[Fixture::new(strimzi_topic::TYPE, topic_cfg(&p, &name, 3))
            .updated(topic_cfg(&p, &name, 4))
            .import_id_attr("id")],
    )
    .await;
    // The suite deleted it; once more, looking at Kafka itself while it exists.
    let cfg = topic_cfg(&p, &name, 2);
    let planned = prov
        .plan_resource(PlanRequest {
            type_name: strimzi_topic::TYPE,
            prior: &Value::null_dynamic(),
            proposed: &cfg,
        })
        .await
        .planned;
    let done = prov
        .apply_resource(ApplyRequest {
            type_name: strimzi_topic::TYPE,
            prior: &Value::null_dynamic(),
            planned: &planned,
            progress: &NoProgress,
        })
        .await;
    assert!(done.diagnostics.is_empty(), "{:?}", done.diagnostics);
    assert_eq!(metadata(&p.bootstrap, &name), Some((2, 3)));
    let ctx_obj = kubectl_jsonpath(
        &p,
        &name,
        "{.status.conditions[?(@.type==\"Ready\")].status}",
    );
    assert_eq!(ctx_obj, "True");

    // Shrinking is refused at plan; a second owner as kafka_topic is refused by the check.
    let shrink = topic_cfg(&p, &name, 1);
    let refused = prov
        .plan_resource(PlanRequest {
            type_name: strimzi_topic::TYPE,
            prior: &done.new_state,
            proposed: &shrink,
        })
        .await;
    assert_eq!(
        refused
            .diagnostics
            .iter()
            .map(|d| d.code.as_str())
            .collect::<Vec<_>>(),
        vec!["brick::strimzi::partitions_decrease"]
    );
    let direct = Value::object(
        [
            ("name".to_string(), s(&name)),
            ("partitions".to_string(), n(2)),
            ("replication_factor".to_string(), n(3)),
        ]
        .into(),
    );
    let more_replicas = topic_cfg(&p, &name, 2);
    let more_replicas = {
        let mut m = more_replicas.as_mapping().cloned().unwrap();
        m.insert("replicas".into(), n(2));
        Value::object(m)
    };
    let changes = [
        PlannedChange {
            address: "kafka_topic.orders",
            type_name: "kafka_topic",
            action: ChangeAction::Create,
            prior: &Value::null_dynamic(),
            planned: &direct,
        },
        PlannedChange {
            address: "strimzi_topic.orders",
            type_name: strimzi_topic::TYPE,
            action: ChangeAction::Update,
            prior: &done.new_state,
            planned: &more_replicas,
        },
    ];
    let found: Vec<(usize, String)> = prov
        .check_plan(&changes)
        .await
        .into_iter()
        .map(|c| (c.change, c.diagnostic.code))
        .collect();
    assert_eq!(
        found,
        vec![
            (1, "brick::kafka::two_owners".to_string()),
            (
                1,
                "brick::strimzi::replicas_change_needs_cruise_control".to_string()
            )
        ]
    );

    let gone = prov
        .apply_resource(ApplyRequest {
            type_name: strimzi_topic::TYPE,
            prior: &done.new_state,
            planned: &Value::null_dynamic(),
            progress: &NoProgress,
        })
        .await;
    assert!(gone.diagnostics.is_empty(), "{:?}", gone.diagnostics);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while metadata(&p.bootstrap, &name).is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "topic {name} still in Kafka"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn kubectl_jsonpath(p: &Peer, name: &str, path: &str) -> String {
    let out = Command::new(&p.kubectl)
        .args(["--kubeconfig", &p.kubeconfig, "-n", &p.namespace])
        .args(["get", "kafkatopic", name, "-o"])
        .arg(format!("jsonpath={path}"))
        .output()
        .expect("kubectl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn kubectl(p: &Peer, args: &[&str]) -> std::process::Output {
    Command::new(&p.kubectl)
        .args(["--kubeconfig", &p.kubeconfig])
        .args(args)
        .output()
        .expect("kubectl")
}

/// The seed's cluster as HCL would give it, in `ns`.
fn seed_kafka(ns: &str, name: &str) -> Value {
    let schema = strimzi_kafka::schema();
    let listener = |name: &str, port: i64, ty: &str, tls: bool| {
        Value::object(
            [
                ("name".to_string(), s(name)),
                ("port".to_string(), n(port)),
                ("type".to_string(), s(ty)),
                ("tls".to_string(), Value::bool(tls)),
                ("node_port".to_string(), Value::null(Type::Number)),
            ]
            .into(),
        )
    };
    let listeners = vec![
        listener("plain", 9092, "internal", false),
        listener("external", 9094, "nodeport", false),
    ];
    let storage = Value::object(
        [
            ("size".to_string(), s("100Gi")),
            ("class".to_string(), s("rook-ceph-block")),
            ("delete_claim".to_string(), Value::bool(true)),
        ]
        .into(),
    );
    conform(
        &schema.block,
        vec![
            ("name", s(name)),
            ("namespace", s(ns)),
            ("version", s("4.3.1")),
            ("brokers", n(3)),
            ("cruise_control", Value::bool(true)),
            ("listener", Value::list(listeners[0].ty(), listeners)),
            ("storage", Value::list(storage.ty(), vec![storage])),
            (
                "config",
                Value::map(
                    Type::String,
                    [
                        ("default.replication.factor".to_string(), s("3")),
                        ("min.insync.replicas".to_string(), s("2")),
                        ("offsets.topic.replication.factor".to_string(), s("3")),
                    ]
                    .into(),
                ),
            ),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_brick_writes_for_a_kafka_and_the_operator_is_accepted_by_the_real_crds() {
    let Some(p) = peer() else { return };
    let Some(manifests) = p.manifests.clone() else {
        brick_provider_api::testing::skip_without_reference_data("STRIMZI_CRDS is not set");
        return;
    };
    let ns = unique("brick-strimzi");
    let out = kubectl(&p, &["create", "namespace", &ns]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let cluster = Cluster::connect(&conform(
        &machinery::provider_block(),
        vec![("config_path", s(&p.kubeconfig))],
    ))
    .await
    .expect("a connection");

    // The seed's Kafka, plus a split-role variant: every document as the real CRDs check it.
    for (name, controllers) in [("seed", None), ("split", Some(3))] {
        let mut v = seed_kafka(&ns, name);
        if let Some(c) = controllers {
            let mut m = v.as_mapping().cloned().unwrap();
            m.insert("controllers".into(), n(c));
            v = Value::object(m);
        }
        assert!(strimzi_kafka::validate(&v).is_empty());
        for doc in strimzi_kafka::render(&v) {
            let live = kube::apply(&cluster, &doc)
                .await
                .unwrap_or_else(|d| panic!("the real CRD refused {doc}: {d:?}"));
            assert_eq!(live["spec"], doc["spec"], "kept as written");
        }
    }
    let kafka = kube::get(
        &cluster,
        &kube::obj("kafka.strimzi.io/v1", "Kafka", Some(&ns), "seed"),
    )
    .await
    .unwrap()
    .expect("the Kafka exists");
    assert_eq!(
        kafka.pointer("/spec/kafka/listeners/1/type"),
        Some(&serde_json::json!("nodeport"))
    );
    // A document the CRD refuses is an error with the server's reason, not a silent success.
    let mut bad = strimzi_kafka::render(&seed_kafka(&ns, "bad"))
        .pop()
        .unwrap();
    bad["spec"]["kafka"]["listeners"][0]["port"] = serde_json::json!(80);
    let refused = kube::apply(&cluster, &bad)
        .await
        .expect_err("port 80 accepted");
    assert!(refused.detail.contains("port"), "{}", refused.detail);

    // Strimzi's own install files, placed in the scratch namespace (no rollout: no kubelets).
    let mut files: Vec<_> = std::fs::read_dir(&manifests)
        .expect("STRIMZI_CRDS")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let op = conform(
        &strimzi_operator::schema().block,
        vec![
            ("namespace", s(&ns)),
            (
                "manifests",
                Value::list(
                    Type::String,
                    files
                        .iter()
                        .map(|f| s(&std::fs::read_to_string(f).unwrap()))
                        .collect(),
                ),
            ),
            ("wait_for_rollout", Value::bool(false)),
        ],
    );
    assert!(strimzi_operator::validate(&op).is_empty());
    let planned = strimzi_operator::plan(&Value::null_dynamic(), &op).planned;
    let done =
        strimzi_operator::apply(&cluster, &Value::null_dynamic(), &planned, &NoProgress).await;
    assert!(done.diagnostics.is_empty(), "{:?}", done.diagnostics);
    let dep = kube::get(
        &cluster,
        &kube::obj(
            "apps/v1",
            "Deployment",
            Some(&ns),
            strimzi_operator::DEPLOYMENT,
        ),
    )
    .await
    .unwrap()
    .expect("the operator's Deployment");
    assert_eq!(
        dep.pointer("/spec/template/spec/serviceAccountName"),
        Some(&serde_json::json!("strimzi-cluster-operator"))
    );
    assert!(
        strimzi_operator::read(&cluster, &done.new_state)
            .await
            .unwrap()
            .is_some()
    );

    // Clean up: the operator (its RBAC, not the shared CRDs), the Kafkas, the namespace.
    let gone = strimzi_operator::apply(
        &cluster,
        &done.new_state,
        &Value::null_dynamic(),
        &NoProgress,
    )
    .await;
    assert!(gone.diagnostics.is_empty(), "{:?}", gone.diagnostics);
    for kind in ["Kafka", "KafkaNodePool"] {
        for name in [
            "seed",
            "seed-dual-role",
            "split",
            "split-broker",
            "split-controller",
        ] {
            let r = kube::obj("kafka.strimzi.io/v1", kind, Some(&ns), name);
            kube::delete(&cluster, &r, None).await.unwrap();
        }
    }
    let crb = kubectl(
        &p,
        &[
            "get",
            "clusterrolebinding",
            "strimzi-cluster-operator",
            "-o",
            "name",
        ],
    );
    assert!(
        !crb.status.success(),
        "the operator's ClusterRoleBinding was left behind"
    );
    let crd = kubectl(
        &p,
        &["get", "crd", "kafkatopics.kafka.strimzi.io", "-o", "name"],
    );
    assert!(crd.status.success(), "the CRDs are kept");
    let _ = kubectl(&p, &["delete", "namespace", &ns, "--wait=false"]);
}

/// `brick import 'strimzi_kafka.x' NAMESPACE/NAME` on the real API server with Strimzi's real
/// CRDs: a Kafka and its node pools that brick's shape wrote (the seed's dual-role cluster
/// and a split-role one) are imported as exactly the state the configuration plans, so the
/// plan after the import changes nothing; a bad id, a missing Kafka and pools of another
/// shape are clear errors. No operator runs here: the Kafka is not Ready, its outputs empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strimzi_kafka_is_imported_as_the_state_its_configuration_plans() {
    let Some(p) = peer() else { return };
    let prov = provider(&p).await;
    let ns = unique("brick-skimport");
    let out = kubectl(&p, &["create", "namespace", &ns]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cluster = Cluster::connect(&conform(
        &machinery::provider_block(),
        vec![("config_path", s(&p.kubeconfig))],
    ))
    .await
    .expect("a connection");

    for (name, controllers) in [("seed", None), ("split", Some(3))] {
        let mut cfg = seed_kafka(&ns, name);
        if let Some(c) = controllers {
            let mut m = cfg.as_mapping().cloned().unwrap();
            m.insert("controllers".into(), n(c));
            cfg = Value::object(m);
        }
        for doc in strimzi_kafka::render(&cfg) {
            kube::apply(&cluster, &doc).await.expect("applied");
        }
        let imported = prov
            .import_resource(strimzi_kafka::TYPE, &format!("{ns}/{name}"))
            .await
            .unwrap_or_else(|d| panic!("import {name}: {d:?}"));
        assert_eq!(imported.len(), 1);
        let state = &imported[0].state;
        assert_eq!(state.get("id"), Some(&s(&format!("{ns}/{name}"))));
        assert_eq!(state.get("brokers"), Some(&n(3)));
        let plan = strimzi_kafka::plan(state, &cfg);
        assert!(
            plan.requires_replace.is_empty(),
            "{:?}",
            plan.requires_replace
        );
        assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
        assert_eq!(
            &plan.planned, state,
            "{name}: the plan after import changes nothing"
        );
    }

    // A bad id, a Kafka that does not exist, pools brick does not manage.
    let bad = prov
        .import_resource(strimzi_kafka::TYPE, "no-slash")
        .await
        .err()
        .expect("bad id");
    assert_eq!(bad[0].code, "brick::strimzi::import_id");
    let missing = prov
        .import_resource(strimzi_kafka::TYPE, &format!("{ns}/absent"))
        .await
        .err()
        .expect("absent");
    assert_eq!(missing[0].code, "brick::strimzi::not_found");
    let mut other = strimzi_kafka::render(&seed_kafka(&ns, "other"));
    other[0]["metadata"]["name"] = serde_json::json!("other-pool-a");
    for doc in &other {
        kube::apply(&cluster, doc).await.expect("applied");
    }
    let shape = prov
        .import_resource(strimzi_kafka::TYPE, &format!("{ns}/other"))
        .await
        .err()
        .expect("pools of another shape");
    assert_eq!(shape[0].code, "brick::strimzi::import_pools");
    assert!(
        shape[0]
            .help
            .as_deref()
            .unwrap_or("")
            .contains("other-dual-role")
    );

    for (kind, names) in [
        ("Kafka", &["seed", "split", "other"][..]),
        (
            "KafkaNodePool",
            &[
                "seed-dual-role",
                "split-broker",
                "split-controller",
                "other-pool-a",
            ][..],
        ),
    ] {
        for name in names {
            let r = kube::obj("kafka.strimzi.io/v1", kind, Some(&ns), name);
            kube::delete(&cluster, &r, None).await.unwrap();
        }
    }
    let _ = kubectl(&p, &["delete", "namespace", &ns, "--wait=false"]);
}
