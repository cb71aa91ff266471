//! The `k8s` provider through its trait against the real kube-apiserver of tests/peers: the
//! conformance suite, and refresh's cost (one LIST per kind and namespace, discovery cached).
//! Reads `BRICK_PEERS_KUBECONFIG`; skipped, with a visible line, when it is not set.

use std::collections::BTreeMap;

use brick_provider_api::conformance::{Fixture, assert_conforms};
use brick_provider_api::lifecycle::proposed_new_state;
use brick_provider_api::provider::{
    ApplyRequest, ChangeAction, NoProgress, PlanRequest, PlannedChange,
};
use brick_provider_api::schema::Nesting;
use brick_provider_api::{Provider, Type, Value};
use brick_provider_k8s::K8sProvider;
use brick_provider_k8s::resources::manifest;

async fn provider() -> Option<K8sProvider> {
    let Ok(path) = std::env::var("BRICK_PEERS_KUBECONFIG") else {
        brick_provider_api::testing::skip("no Kubernetes API — run tests/peers/up.sh k8s");
        return None;
    };
    let p = K8sProvider::default();
    let d = p
        .configure(&Value::object_from([("config_path", Value::string(path))]))
        .await;
    assert!(d.is_empty(), "{d:?}");
    Some(p)
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000)
}

/// A `k8s_manifest` configuration: every attribute present, unset ones null.
fn config(manifest: Value) -> Value {
    let block = manifest::schema().block;
    let mut m = BTreeMap::new();
    for (k, a) in &block.attributes {
        m.insert(k.clone(), Value::null(a.ty.clone()));
    }
    for (k, b) in &block.blocks {
        let obj = b.block.value_type();
        let ty = match b.nesting {
            Nesting::Single => obj,
            Nesting::List { .. } => Type::list(obj),
            Nesting::Set { .. } => Type::set(obj),
            Nesting::Map => Type::map(obj),
        };
        m.insert(k.clone(), Value::null(ty));
    }
    m.insert("manifest".into(), manifest);
    m.insert("delete_propagation".into(), Value::string("Background"));
    Value::object(m)
}

fn config_map(name: &str, value: &str) -> Value {
    Value::object_from([
        ("apiVersion", Value::string("v1")),
        ("kind", Value::string("ConfigMap")),
        (
            "metadata",
            Value::object_from([
                ("name", Value::string(name)),
                (
                    "labels",
                    Value::object_from([("app", Value::string("brick"))]),
                ),
            ]),
        ),
        ("data", Value::object_from([("v", Value::string(value))])),
    ])
}

#[tokio::test]
async fn the_k8s_provider_keeps_the_provider_contract() {
    let Some(p) = provider().await else { return };
    let name = unique("brick-conformance");
    assert_conforms(
        &p,
        &[Fixture::new(manifest::TYPE, config(config_map(&name, "1")))
            .updated(config(config_map(&name, "2")))
            .import_id_attr("id")],
    )
    .await;
}

#[tokio::test]
async fn refreshing_many_objects_of_one_kind_is_one_list_request() {
    let Some(p) = provider().await else { return };
    let block = manifest::schema().block;
    let null = Value::null(block.value_type());
    let mut states = Vec::new();
    for i in 0..20 {
        let cfg = config(config_map(&unique(&format!("brick-count-{i}")), "x"));
        let proposed = proposed_new_state(&block, &null, &cfg);
        let plan = p
            .plan_resource(PlanRequest {
                type_name: manifest::TYPE,
                prior: &null,
                proposed: &proposed,
            })
            .await;
        let r = p
            .apply_resource(ApplyRequest {
                type_name: manifest::TYPE,
                prior: &null,
                planned: &plan.planned,
                progress: &NoProgress,
            })
            .await;
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        states.push(r.new_state);
    }
    let before = p.requests();
    let read = p.read_many(manifest::TYPE, &states).await;
    let used = p.requests() - before;
    assert_eq!(used, 1, "20 ConfigMaps in one namespace: one LIST");
    for (r, s) in read.iter().zip(&states) {
        let now = r.as_ref().unwrap().as_ref().expect("still there");
        assert!(brick_provider_api::lifecycle::same(now, s), "{now:?}");
    }

    // The plan check: unchanged objects cost nothing; each changed one is one dry-run apply,
    // which changes nothing on the server.
    let mut changed = Vec::new();
    for s in &states[..3] {
        let mut m = s.as_mapping().unwrap().clone();
        let name = s
            .get("manifest")
            .unwrap()
            .get("metadata")
            .unwrap()
            .get("name")
            .unwrap();
        let mut cm = config_map(name.as_str().unwrap(), "y");
        if let Some(md) = s.get("manifest").and_then(|m| m.get("metadata")) {
            let mut mm = cm.as_mapping().unwrap().clone();
            mm.insert("metadata".into(), md.clone());
            cm = Value::object(mm);
        }
        m.insert("manifest".into(), cm);
        changed.push(Value::object(m));
    }
    let addresses: Vec<String> = (0..states.len())
        .map(|i| format!("k8s_manifest.cm[{i}]"))
        .collect();
    let noop: Vec<PlannedChange> = states
        .iter()
        .zip(&addresses)
        .map(|(s, a)| PlannedChange {
            address: a,
            type_name: manifest::TYPE,
            action: ChangeAction::NoOp,
            prior: s,
            planned: s,
        })
        .collect();
    let before = p.requests();
    assert!(p.check_plan(&noop).await.is_empty());
    assert_eq!(p.requests() - before, 0, "a no-op plan makes no dry run");
    let mut some = noop.clone();
    for (i, c) in changed.iter().enumerate() {
        some[i].planned = c;
        some[i].action = ChangeAction::Update;
    }
    let before = p.requests();
    let found = p.check_plan(&some).await;
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(
        p.requests() - before,
        3,
        "one dry-run apply per changed object"
    );
    let again = p.read_many(manifest::TYPE, &states[..3]).await;
    for r in again {
        let now = r.unwrap().unwrap();
        let data = now.get("manifest").unwrap().get("data").unwrap();
        assert_eq!(
            data.get("v").and_then(Value::as_str),
            Some("x"),
            "a dry run changes nothing"
        );
    }

    for s in &states {
        let r = p
            .apply_resource(ApplyRequest {
                type_name: manifest::TYPE,
                prior: s,
                planned: &null,
                progress: &NoProgress,
            })
            .await;
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    }
}

fn kubectl(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let bin = std::env::var("KUBECTL").expect("the peers env names KUBECTL");
    let config = std::env::var("BRICK_PEERS_KUBECONFIG").unwrap();
    let mut child = std::process::Command::new(bin)
        .arg("--kubeconfig")
        .arg(config)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `kubectl delete` returns before a finalizer lets the object go; an apply that reaches that
/// terminating object must not record it as created (it vanishes right after): brick waits
/// until it is gone and creates it anew.
#[tokio::test]
async fn a_create_that_meets_an_object_still_being_deleted_waits_and_creates_it_anew() {
    let Some(p) = provider().await else { return };
    let name = unique("brick-terminating");
    kubectl(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n  finalizers: [brick.test/hold]\ndata:\n  v: old\n"
        )),
    );
    let old_uid = kubectl(
        &[
            "get",
            "configmap",
            &name,
            "-n",
            "default",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
        None,
    );
    kubectl(
        &[
            "delete",
            "configmap",
            &name,
            "-n",
            "default",
            "--wait=false",
        ],
        None,
    );

    let block = manifest::schema().block;
    let null = Value::null(block.value_type());
    let proposed = proposed_new_state(&block, &null, &config(config_map(&name, "new")));
    let plan = p
        .plan_resource(PlanRequest {
            type_name: manifest::TYPE,
            prior: &null,
            proposed: &proposed,
        })
        .await;
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    let release = {
        let name = name.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            kubectl(
                &[
                    "patch",
                    "configmap",
                    &name,
                    "-n",
                    "default",
                    "--type=merge",
                    "-p",
                    r#"{"metadata":{"finalizers":null}}"#,
                ],
                None,
            );
        })
    };
    let r = p
        .apply_resource(ApplyRequest {
            type_name: manifest::TYPE,
            prior: &null,
            planned: &plan.planned,
            progress: &NoProgress,
        })
        .await;
    release.await.unwrap();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);

    let live: serde_json::Value = serde_json::from_str(&kubectl(
        &["get", "configmap", &name, "-n", "default", "-o", "json"],
        None,
    ))
    .unwrap();
    let uid = live["metadata"]["uid"].as_str().unwrap();
    assert_ne!(uid, old_uid, "a new object, not the one being deleted");
    assert!(live["metadata"]["deletionTimestamp"].is_null(), "{live}");
    assert_eq!(live["data"]["v"], "new");
    assert_eq!(
        r.new_state.get("uid").and_then(Value::as_str),
        Some(uid),
        "the state records the new object"
    );
    kubectl(&["delete", "configmap", &name, "-n", "default"], None);
}

#[tokio::test]
async fn a_kafka_in_the_seeds_old_strimzi_shape_is_refused_with_what_to_write_instead() {
    let Some(p) = provider().await else { return };
    // The seed's Kafka: kafka.strimzi.io/v1beta2 with a zookeeper block, which Strimzi 1.x
    // (whose CRDs serve only v1) no longer has.
    let kafka = brick_provider_k8s::convert::from_json(&serde_json::json!({
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "Kafka",
        "metadata": {"name": unique("seed"), "namespace": "default"},
        "spec": {
            "kafka": {"replicas": 3, "listeners": [], "storage": {"type": "ephemeral"}},
            "zookeeper": {"replicas": 3, "storage": {"type": "ephemeral"}}
        }
    }));
    let block = manifest::schema().block;
    let null = Value::null(block.value_type());
    let proposed = proposed_new_state(&block, &null, &config(kafka));
    let plan = p
        .plan_resource(PlanRequest {
            type_name: manifest::TYPE,
            prior: &null,
            proposed: &proposed,
        })
        .await;
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    let r = p
        .apply_resource(ApplyRequest {
            type_name: manifest::TYPE,
            prior: &null,
            planned: &plan.planned,
            progress: &NoProgress,
        })
        .await;
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.code == "brick::k8s::unknown_kind")
        .unwrap_or_else(|| panic!("{:?}", r.diagnostics));
    let help = d.help.as_deref().unwrap_or_default();
    assert!(
        help.contains("Strimzi 1.x serves only kafka.strimzi.io/v1")
            && help.contains("KafkaNodePool")
            && help.contains("zookeeper"),
        "{help}"
    );
    assert!(r.new_state.is_null(), "nothing was created");
}
