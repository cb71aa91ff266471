//! The objects the rook provider renders, checked by the real kube-apiserver against the real
//! Rook CRDs of the peers (`tests/peers/up.sh rook`; server-side dry run, so nothing is stored
//! and the shared Rook operator sees nothing): a CephCluster in internal mode with LVM devices,
//! a CephBlockPool of each kind, the StorageClass, an external CephCluster (its connection
//! Secret and ConfigMap compared with those the real operator connected with), and Rook v1.20.6's own operator files with
//! brick's kubelet directory (read from ../shared/manifests, never copied into the repository).
//! An object the CRDs refuse is refused by brick's apply with the server's reason. Skipped,
//! visibly, without the peers' settings.

use std::path::PathBuf;

use brick_provider_api::{Type, Value};
use brick_provider_ceph::kube;
use brick_provider_ceph::resources::{
    rook_block_pool as pool, rook_cluster as cluster, rook_operator as operator,
    rook_storage_class as class,
};
use brick_provider_k8s::machinery::Cluster;
use serde_json::json;

const SKIP: &str = "no Rook CRDs on a Kubernetes API — run tests/peers/up.sh rook";

async fn ctx() -> Option<(Cluster, String)> {
    let (Ok(kubeconfig), Ok(ns)) = (
        std::env::var("BRICK_PEERS_KUBECONFIG"),
        std::env::var("ROOK_NAMESPACE"),
    ) else {
        brick_provider_api::testing::skip(SKIP);
        return None;
    };
    let cfg = Value::object_from([("config_path", Value::string(kubeconfig))]);
    Some((Cluster::connect(&cfg).await.unwrap(), ns))
}

fn s(x: &str) -> Value {
    Value::string(x)
}
fn n(x: i64) -> Value {
    Value::number(brick_provider_api::Number::from_i64(x))
}

#[tokio::test]
async fn an_internal_cluster_pools_and_the_storage_class_are_valid_for_the_real_crds() {
    let Some((ctx, ns)) = ctx().await else { return };
    let nodes = [
        ("kvm4", "/dev/vgroot/ceph"),
        ("kvm5", "/dev/vgroot/ceph"),
        ("maas", "/dev/vgroot/ceph"),
    ]
    .iter()
    .map(|(k, d)| (k.to_string(), Value::list(Type::String, vec![s(d)])))
    .collect();
    let c = Value::object_from([
        ("name", s("brick-dry-run")),
        ("namespace", s(&ns)),
        ("external", Value::bool(false)),
        ("mon_count", n(3)),
        ("allow_multiple_mons_per_node", Value::bool(false)),
        ("nodes", Value::map(Type::list(Type::String), nodes)),
        ("ceph_image", s(cluster::DEFAULT_IMAGE)),
        ("data_dir_host_path", s("/var/lib/rook")),
    ]);
    let objs = cluster::render(&c);
    let live = kube::apply(&ctx, &objs[0], true).await.unwrap();
    assert_eq!(
        live["spec"]["storage"]["nodes"][0]["devices"][0]["name"], "/dev/vgroot/ceph",
        "the server keeps the LV named as Rook needs it: {live}"
    );

    let replicated = Value::object_from([
        ("name", s("brick-dry-run")),
        ("namespace", s(&ns)),
        ("failure_domain", s("host")),
        ("size", n(2)),
        ("require_safe_replica_size", Value::bool(true)),
        ("min_size", n(1)),
        (
            "parameters",
            Value::map(
                Type::String,
                [("compression_mode".to_string(), s("none"))].into(),
            ),
        ),
        (
            "quotas",
            Value::object_from([
                ("max_bytes", n(1 << 30)),
                ("max_objects", Value::null(Type::Number)),
            ]),
        ),
    ]);
    kube::apply(&ctx, &pool::render(&replicated), true)
        .await
        .unwrap();
    let ec = Value::object_from([
        ("name", s("brick-dry-run-ec")),
        ("namespace", s(&ns)),
        ("failure_domain", s("host")),
        ("require_safe_replica_size", Value::bool(true)),
        (
            "erasure_coded",
            Value::object_from([("data_chunks", n(2)), ("coding_chunks", n(1))]),
        ),
    ]);
    kube::apply(&ctx, &pool::render(&ec), true).await.unwrap();

    let sc = Value::object_from([
        ("name", s("brick-dry-run")),
        ("pool", s("replicapool")),
        ("cluster_namespace", s(&ns)),
        ("reclaim_policy", s("Delete")),
        ("allow_volume_expansion", Value::bool(true)),
        ("fstype", s("ext4")),
        ("image_features", s("layering")),
        ("default_class", Value::bool(false)),
    ]);
    let live = kube::apply(&ctx, &class::render(&sc), true).await.unwrap();
    assert_eq!(live["provisioner"], format!("{ns}.rbd.csi.ceph.com"));
}

/// External mode is checked without a second external cluster: the peer's operator watches only
/// its own namespace (`ROOK_CURRENT_NAMESPACE_ONLY=true` in tests/peers/rook.sh) and Rook runs
/// one CephCluster per namespace, so brick's external CephCluster is dry-run against the real
/// CRD, and its connection Secret and mon-endpoints ConfigMap are compared with the ones the
/// real operator of the peers connected to the real Ceph with.
#[tokio::test]
async fn an_external_cluster_and_its_connection_objects_are_what_the_real_rook_connects_with() {
    let Some((ctx, ns)) = ctx().await else { return };
    let get = |kind: &'static str, name: &'static str| {
        let ctx = &ctx;
        let ns = ns.clone();
        async move {
            kube::get(ctx, &kube::ident("v1", kind, Some(&ns), name))
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("the peer's {kind} {name}"))
        }
    };
    let secret = get("Secret", "rook-ceph-mon").await;
    let endpoints = get("ConfigMap", "rook-ceph-mon-endpoints").await;
    let c = Value::object_from([
        ("name", s("brick-dry-run-ext")),
        ("namespace", s(&ns)),
        ("external", Value::bool(true)),
        ("data_dir_host_path", s("/var/lib/rook")),
        ("external_fsid", s("00000000-0000-4000-8000-000000000000")),
        (
            "external_mon_endpoints",
            Value::list(Type::String, vec![s("127.0.0.1:3300")]),
        ),
        ("external_admin_key", s("AQ==")),
    ]);
    let objs = cluster::render(&c);
    assert_eq!(objs.len(), 3, "Secret, ConfigMap, CephCluster: {objs:?}");
    let keys = |o: &serde_json::Value, field: &str| -> Vec<String> {
        let mut k: Vec<String> = o[field]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect();
        k.sort();
        k
    };
    assert_eq!(objs[0]["metadata"]["name"], "rook-ceph-mon");
    assert_eq!(
        keys(&objs[0], "data"),
        keys(&secret, "data"),
        "the Secret's keys are those Rook reads"
    );
    assert_eq!(objs[0]["type"], secret["type"]);
    assert_eq!(objs[1]["metadata"]["name"], "rook-ceph-mon-endpoints");
    assert_eq!(keys(&objs[1], "data"), keys(&endpoints, "data"));
    assert_eq!(
        objs[1]["data"]["data"], endpoints["data"]["data"],
        "mon endpoints written as the peer's (a=127.0.0.1:3300)"
    );
    let live = kube::apply(&ctx, &objs[2], true).await.unwrap();
    assert_eq!(live["spec"]["external"]["enable"], true, "{live}");
}

#[tokio::test]
async fn what_the_real_crds_refuse_is_refused_with_the_servers_reason() {
    let Some((ctx, ns)) = ctx().await else { return };
    // Rook's CRD allows at most 9 mons; brick's validate says so first, the server agrees.
    let mut obj = cluster::render(&Value::object_from([
        ("name", s("brick-dry-run")),
        ("namespace", s(&ns)),
        ("mon_count", n(11)),
    ]))
    .remove(0);
    obj["spec"]["storage"]["nodes"] = json!([]);
    let d = kube::apply(&ctx, &obj, true).await.unwrap_err();
    assert!(d.detail.contains("spec.mon.count"), "{}", d.detail);
}

fn manifests() -> Option<PathBuf> {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/manifests/rook-v1.20.6");
    let p = if p.exists() {
        p
    } else {
        PathBuf::from("/work/shared/manifests/rook-v1.20.6")
    };
    if !p.exists() {
        brick_provider_api::testing::skip_without_reference_data(
            "../shared/manifests/rook-v1.20.6 is absent",
        );
        return None;
    }
    Some(p)
}

#[tokio::test]
async fn rooks_own_operator_files_with_brick_s_kubelet_dir_are_accepted_by_the_real_apiserver() {
    let Some((ctx, ns)) = ctx().await else { return };
    let Some(dir) = manifests() else { return };
    if ns != "rook-ceph" {
        brick_provider_api::testing::skip(
            "Rook's files name namespace rook-ceph; the peer's differs",
        );
        return;
    }
    let docs: Vec<Value> = ["crds.yaml", "common.yaml", "operator.yaml"]
        .iter()
        .map(|f| s(&std::fs::read_to_string(dir.join(f)).unwrap()))
        .collect();
    let v = Value::object_from([
        ("namespace", s("rook-ceph")),
        ("documents", Value::list(Type::String, docs)),
        ("kubelet_dir", s(operator::MICROK8S_KUBELET_DIR)),
        ("settings", Value::null(Type::map(Type::String))),
        ("image", s(operator::DEFAULT_IMAGE)),
    ]);
    let (objs, keys) = operator::render(&v).unwrap();
    assert_eq!(
        keys.len(),
        2,
        "the ConfigMap key and the CSI OperatorConfig: {keys:?}"
    );
    let mut checked = 0;
    for o in &objs {
        // The csi.ceph.io kinds come with Rook's csi-operator.yaml, which the peer lacks.
        if o["apiVersion"]
            .as_str()
            .unwrap()
            .starts_with("csi.ceph.io/")
        {
            continue;
        }
        let live = kube::apply(&ctx, o, true)
            .await
            .unwrap_or_else(|d| panic!("{}: {}", o["metadata"]["name"], d.detail));
        if o["kind"] == "ConfigMap" && o["metadata"]["name"] == operator::CONFIG_MAP {
            assert_eq!(
                live["data"][operator::KUBELET_KEY],
                operator::MICROK8S_KUBELET_DIR
            );
        }
        checked += 1;
    }
    assert!(checked > 50, "Rook's files hold many objects: {checked}");
}
