//! The `k8s` provider through its trait against the real kube-apiserver of tests/peers: the
//! conformance suite, and refresh's cost (one LIST per kind and namespace, discovery cached).
//! Reads `BRICK_PEERS_KUBECONFIG`; skipped, with a visible line, when it is not set.

use std::collections::BTreeMap;

use brick_provider_api::conformance::{Fixture, assert_conforms};
use brick_provider_api::lifecycle::proposed_new_state;
use brick_provider_api::provider::{ApplyRequest, NoProgress, PlanRequest};
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
