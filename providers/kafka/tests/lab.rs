//! The strimzi provider against the lab: the lab's Kubernetes API (`brick-k8s-sim`) with the
//! simulated Strimzi operator (`brick_provider_kafka::lab`), three Ready nodes and the
//! `rook-ceph-block` StorageClass, at time scale 0.01. The seed's Kafka (three brokers, 100Gi on
//! rook-ceph-block, a nodeport listener on 9094) becomes Ready with its listener addresses on
//! the nodes' IPs, and a topic becomes Ready; a Kafka whose StorageClass does not exist stays
//! not Ready with Strimzi's reason, and brick's wait says so. Offline: no peer, no manifests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brick_k8s_sim::{NodeSpec, SimOptions, SimServer};
use brick_provider_api::provider::{ApplyRequest, PlanRequest, Progress};
use brick_provider_api::schema::Block;
use brick_provider_api::{Number, Provider, Type, Value};
use brick_provider_kafka::StrimziProvider;
use brick_provider_kafka::lab::StrimziOperator;
use brick_provider_kafka::resources::{strimzi_kafka, strimzi_operator, strimzi_topic};
use serde_json::json;

#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

impl Progress for Seen {
    fn report(&self, status: &str) {
        self.0.lock().unwrap().push(status.to_string());
    }
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

fn s(x: &str) -> Value {
    Value::string(x)
}

fn n(x: i64) -> Value {
    Value::number(Number::from_i64(x))
}

fn kafka(name: &str, class: &str) -> Value {
    let block = strimzi_kafka::schema().block;
    let lblock = &block.blocks["listener"].block;
    let listener = |name: &str, port: i64, ty: &str| {
        conform(
            lblock,
            vec![("name", s(name)), ("port", n(port)), ("type", s(ty))],
        )
    };
    let listeners = vec![
        listener("plain", 9092, "internal"),
        listener("external", 9094, "nodeport"),
    ];
    let storage = conform(
        &block.blocks["storage"].block,
        vec![("size", s("100Gi")), ("class", s(class))],
    );
    conform(
        &block,
        vec![
            ("name", s(name)),
            ("namespace", s("kafka")),
            ("brokers", n(3)),
            ("listener", Value::list(listeners[0].ty(), listeners)),
            ("storage", Value::list(storage.ty(), vec![storage])),
            (
                "config",
                Value::map(
                    Type::String,
                    [
                        ("default.replication.factor".to_string(), s("3")),
                        ("min.insync.replicas".to_string(), s("2")),
                    ]
                    .into(),
                ),
            ),
        ],
    )
}

async fn apply(p: &StrimziProvider, ty: &str, cfg: &Value, progress: &dyn Progress) -> Value {
    let plan = p
        .plan_resource(PlanRequest {
            type_name: ty,
            prior: &Value::null_dynamic(),
            proposed: cfg,
        })
        .await;
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    let done = p
        .apply_resource(ApplyRequest {
            type_name: ty,
            prior: &Value::null_dynamic(),
            planned: &plan.planned,
            progress,
        })
        .await;
    assert!(done.diagnostics.is_empty(), "{ty}: {:?}", done.diagnostics);
    done.new_state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_kafka_becomes_ready_in_the_lab_and_one_without_storage_class_says_why_not() {
    let server = SimServer::start(SimOptions {
        time_scale: 0.01,
        controllers: vec![Arc::new(StrimziOperator::default())],
        builtin_controllers: true,
        ..SimOptions::default()
    })
    .await
    .expect("the lab's Kubernetes API");
    for (i, name) in ["kvm4", "kvm5", "kvm6"].iter().enumerate() {
        server
            .add_node(&NodeSpec {
                address: Some(format!("10.0.0.{}", i + 4)),
                ..NodeSpec::new(name)
            })
            .unwrap();
    }
    let c = server.cluster();
    c.create(
        "test",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kafka"}}),
    )
    .unwrap();
    c.create(
        "test",
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "rook-ceph-block"}, "provisioner": "rook-ceph.rbd.csi.ceph.com"}),
    )
    .unwrap();

    let p = StrimziProvider::default();
    let d = p
        .configure(&conform(
            &p.schema().provider,
            vec![("host", s(&server.url()))],
        ))
        .await;
    assert!(d.is_empty(), "{d:?}");

    // Strimzi as the lab serves it: no manifests needed.
    let seen = Seen::default();
    apply(
        &p,
        strimzi_operator::TYPE,
        &conform(
            &strimzi_operator::schema().block,
            vec![("namespace", s("kafka"))],
        ),
        &seen,
    )
    .await;

    let t0 = Instant::now();
    let seed = apply(
        &p,
        strimzi_kafka::TYPE,
        &kafka("seed", "rook-ceph-block"),
        &seen,
    )
    .await;
    let took = t0.elapsed();
    // 90 simulated seconds at scale 0.01, plus the operator's ticks and brick's polling.
    assert!(took >= Duration::from_millis(900), "Ready after {took:?}");
    assert!(took < Duration::from_secs(10), "Ready after {took:?}");
    let boot = seed.get("bootstrap_servers").unwrap();
    let external = boot.get("external").and_then(Value::as_str).unwrap();
    let hosts: Vec<&str> = external
        .split(',')
        .map(|a| a.rsplit_once(':').unwrap().0)
        .collect();
    let mut sorted = hosts.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec!["10.0.0.4", "10.0.0.5", "10.0.0.6"],
        "{external}"
    );
    let port: i64 = external
        .split(',')
        .next()
        .unwrap()
        .rsplit_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert!((30000..=32767).contains(&port), "{external}");
    assert_eq!(
        boot.get("plain").and_then(Value::as_str),
        Some("seed-kafka-bootstrap.kafka.svc:9092")
    );
    assert_eq!(
        seed.get("cluster_id").and_then(Value::as_str).map(str::len),
        Some(22)
    );
    assert!(
        seen.0
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.contains("Creating")),
        "{:?}",
        seen.0.lock().unwrap()
    );
    // What Strimzi would have made: a bound claim on the class and a broker pod per node.
    let pvcs = c.list(
        "v1",
        "PersistentVolumeClaim",
        Some("kafka"),
        "strimzi.io/cluster=seed",
    );
    assert_eq!(pvcs.len(), 3);
    for pvc in &pvcs {
        assert_eq!(pvc["spec"]["storageClassName"], "rook-ceph-block");
        assert_eq!(pvc["status"]["phase"], "Bound");
        assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "100Gi");
    }
    let mut nodes: Vec<String> = c
        .list("v1", "Pod", Some("kafka"), "strimzi.io/cluster=seed")
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap().to_string())
        .collect();
    nodes.sort();
    assert_eq!(nodes, vec!["kvm4", "kvm5", "kvm6"]);

    // A topic of the cluster.
    let topic = conform(
        &strimzi_topic::schema().block,
        vec![
            ("name", s("orders")),
            ("namespace", s("kafka")),
            ("cluster", s("seed")),
            ("partitions", n(12)),
            ("replicas", n(3)),
        ],
    );
    apply(&p, strimzi_topic::TYPE, &topic, &seen).await;
    let kt = c
        .get("kafka.strimzi.io/v1", "KafkaTopic", "kafka", "orders")
        .unwrap();
    assert_eq!(kt["status"]["conditions"][0]["type"], "Ready");
    assert_eq!(kt["status"]["topicName"], "orders");

    // No such StorageClass: the claims stay Pending, the Kafka is never Ready, and the wait
    // shows Strimzi's reason.
    let seen = Arc::new(Seen::default());
    let p2 = &p;
    let cfg = kafka("nosc", "no-such-class");
    let s2 = seen.clone();
    let waited = tokio::time::timeout(Duration::from_secs(8), async move {
        apply(p2, strimzi_kafka::TYPE, &cfg, &*s2).await
    })
    .await;
    assert!(
        waited.is_err(),
        "a Kafka without its StorageClass became Ready"
    );
    let said = seen.0.lock().unwrap().clone();
    assert!(
        said.iter().any(|s| s.starts_with(
            "TimeoutException: Exceeded timeout of 300000ms while waiting for Pods resource nosc-"
        )),
        "{said:?}"
    );
    let k = c
        .get("kafka.strimzi.io/v1", "Kafka", "kafka", "nosc")
        .unwrap();
    assert_eq!(k["status"]["conditions"][0]["type"], "NotReady");
    assert_eq!(k["status"]["conditions"][0]["reason"], "TimeoutException");
    let pvc = c
        .get(
            "v1",
            "PersistentVolumeClaim",
            "kafka",
            "data-0-nosc-nosc-dual-role-0",
        )
        .unwrap();
    assert_eq!(pvc["status"]["phase"], "Pending");
}

/// A removal as the plan check sees it: `microk8s_node.n["NAME"]` destroyed.
fn node_prior(name: &str) -> Value {
    Value::object_from([("name", s(name))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_node_kafka_needs_is_refused_at_plan_and_a_drain_moves_one_broker_at_a_time() {
    use brick_provider_api::provider::{ChangeAction, PlannedChange};
    let server = SimServer::start(SimOptions {
        time_scale: 0.01,
        controllers: vec![Arc::new(StrimziOperator::default())],
        builtin_controllers: true,
        ..SimOptions::default()
    })
    .await
    .expect("the lab's Kubernetes API");
    for (i, name) in ["kvm4", "kvm5", "kvm6", "spare1"].iter().enumerate() {
        server
            .add_node(&NodeSpec {
                address: Some(format!("10.0.0.{}", i + 4)),
                ..NodeSpec::new(name)
            })
            .unwrap();
    }
    let c = server.cluster();
    c.create(
        "test",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kafka"}}),
    )
    .unwrap();
    c.create(
        "test",
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "rook-ceph-block"}, "provisioner": "rook-ceph.rbd.csi.ceph.com"}),
    )
    .unwrap();
    let p = StrimziProvider::default();
    let d = p
        .configure(&conform(
            &p.schema().provider,
            vec![("host", s(&server.url()))],
        ))
        .await;
    assert!(d.is_empty(), "{d:?}");
    let seen = Seen::default();
    apply(
        &p,
        strimzi_operator::TYPE,
        &conform(
            &strimzi_operator::schema().block,
            vec![("namespace", s("kafka"))],
        ),
        &seen,
    )
    .await;
    let seed = apply(
        &p,
        strimzi_kafka::TYPE,
        &kafka("seed", "rook-ceph-block"),
        &seen,
    )
    .await;

    // Strimzi's PodDisruptionBudget over the Kafka's pods: one may be unavailable.
    let pdb = c
        .get("policy/v1", "PodDisruptionBudget", "kafka", "seed-kafka")
        .expect("Strimzi's PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 2);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        json!({"strimzi.io/cluster": "seed", "strimzi.io/kind": "Kafka", "strimzi.io/name": "seed-kafka"})
    );

    // The plan check: four Ready nodes, three Kafka pods.
    let null = Value::null_dynamic();
    let addresses = [
        "microk8s_node.n[\"kvm6\"]",
        "microk8s_node.n[\"spare1\"]",
        "strimzi_kafka.seed",
    ];
    let (kvm6, spare1) = (node_prior("kvm6"), node_prior("spare1"));
    let changes = |remove_both: bool| {
        let mut v = vec![PlannedChange {
            address: addresses[0],
            type_name: "microk8s_node",
            action: ChangeAction::Delete,
            prior: &kvm6,
            planned: &null,
        }];
        if remove_both {
            v.push(PlannedChange {
                address: addresses[1],
                type_name: "microk8s_node",
                action: ChangeAction::Delete,
                prior: &spare1,
                planned: &null,
            });
        }
        v.push(PlannedChange {
            address: addresses[2],
            type_name: strimzi_kafka::TYPE,
            action: ChangeAction::NoOp,
            prior: &seed,
            planned: &seed,
        });
        v
    };
    let one = p.check_plan(&changes(false)).await;
    assert!(one.is_empty(), "three nodes remain for three pods: {one:?}");
    let two = p.check_plan(&changes(true)).await;
    assert_eq!(two.len(), 2, "{two:?}");
    for (d, at) in two.iter().zip([0, 1]) {
        assert_eq!(d.change, at);
        assert_eq!(d.diagnostic.code, "brick::strimzi::too_few_nodes_for_kafka");
        assert!(
            d.diagnostic
                .detail
                .contains("leaves 2 schedulable node(s) for the 3 pods of strimzi_kafka.seed"),
            "{}",
            d.diagnostic.detail
        );
        assert!(d.diagnostic.help.as_deref().unwrap().contains("Add a node"));
    }

    // A drain of the node a broker runs on: cordoned, its broker evicted (the budget allows
    // one), a second eviction refused while that broker is away, and the broker back, with its
    // claim, on the free node.
    let pods = c.list("v1", "Pod", Some("kafka"), "strimzi.io/cluster=seed");
    let on = |node: &str| {
        pods.iter()
            .find(|p| p["spec"]["nodeName"] == node)
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
    };
    let with_broker: Vec<(String, String)> = ["kvm4", "kvm5", "kvm6", "spare1"]
        .iter()
        .filter_map(|n| on(n).map(|p| (n.to_string(), p)))
        .collect();
    assert_eq!(with_broker.len(), 3, "one broker per node");
    let free = ["kvm4", "kvm5", "kvm6", "spare1"]
        .into_iter()
        .find(|n| on(n).is_none())
        .unwrap();
    let (node, pod) = with_broker[0].clone();
    let other_pod = with_broker[1].1.clone();
    c.merge_patch(
        "test",
        "v1",
        "Node",
        "",
        &node,
        json!({"spec": {"unschedulable": true}}),
        false,
    )
    .unwrap();
    brick_k8s_sim::controllers::evict(c.store(), "kafka", &pod, &json!({}))
        .expect("the budget allows one");
    let refused = brick_k8s_sim::controllers::evict(c.store(), "kafka", &other_pod, &json!({}))
        .expect_err("a second broker may not go while the first is away");
    assert_eq!(refused.code, 429, "{refused:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let back = c.get("v1", "Pod", "kafka", &pod);
        if let Some(back) = back
            && back["status"]["phase"] == "Running"
        {
            assert_eq!(back["spec"]["nodeName"], free, "on the free node");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the evicted broker did not start again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
