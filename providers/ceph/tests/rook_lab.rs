//! The rook provider against the lab's Kubernetes API (`brick-k8s-sim`) with the simulated Rook
//! operator (`brick_provider_ceph::sim`): the seed's storage — operator without Rook's files,
//! a cluster on three nodes' Ceph volumes (each OSD as large as its logical volume; a device
//! the machine lacks gets none), `replicapool` size 2 host, StorageClass
//! `rook-ceph-block` — applies and reaches Ready + HEALTH_OK through HEALTH_WARN; a node added
//! later gets its OSD and the apply waits while it boots and peers, then — from the mgr's
//! metrics through the service proxy, since Ceph reports the backfill as no health warning —
//! until its backfill ends and every PG is active+clean again; without the mgr's metrics
//! Service the apply does not hang but warns that it skipped that wait; the pool goes with its
//! delete;
//! a node removal stopped while its OSD drains is read back as unfinished and completes.
//! Runs offline, at a twentieth of real time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use brick_k8s_sim::{NodeSpec, SimOptions, SimServer};
use brick_provider_api::provider::{ApplyRequest, PlanRequest, Progress};
use brick_provider_api::{Number, Provider, Type, Value};
use brick_provider_ceph::RookProvider;
use brick_provider_ceph::sim::RookOperator;

#[derive(Default)]
struct Seen(Mutex<Vec<String>>);
impl Progress for Seen {
    fn report(&self, status: &str) {
        self.0.lock().unwrap().push(status.to_string());
    }
}

fn s(x: &str) -> Value {
    Value::string(x)
}
fn n(x: i64) -> Value {
    Value::number(Number::from_i64(x))
}

/// A configuration as the engine hands it over: every attribute of the schema, the given ones
/// set, the others their default or null.
fn config(p: &RookProvider, ty: &str, given: &[(&str, Value)]) -> Value {
    let schema = p.schema().resources[ty].clone();
    let mut m = BTreeMap::new();
    for (name, a) in &schema.block.attributes {
        let v = given
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| a.default.clone())
            .unwrap_or_else(|| Value::null(a.ty.clone()));
        m.insert(name.clone(), v);
    }
    for (name, b) in &schema.block.blocks {
        let v = given
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| Value::null(b.block.value_type()));
        m.insert(name.clone(), v);
    }
    Value::object(m)
}

/// Plans and applies one change; panics on a diagnostic.
async fn apply(
    p: &RookProvider,
    ty: &str,
    prior: &Value,
    proposed: &Value,
) -> (Value, Vec<String>) {
    let plan = p
        .plan_resource(PlanRequest {
            type_name: ty,
            prior,
            proposed,
        })
        .await;
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    let seen = Seen::default();
    let resp = p
        .apply_resource(ApplyRequest {
            type_name: ty,
            prior,
            planned: &plan.planned,
            progress: &seen,
        })
        .await;
    assert!(resp.diagnostics.is_empty(), "{ty}: {:?}", resp.diagnostics);
    (resp.new_state, seen.0.into_inner().unwrap())
}

fn nodes(list: &[&str]) -> Value {
    Value::map(
        Type::list(Type::String),
        list.iter()
            .map(|n| {
                (
                    n.to_string(),
                    Value::list(Type::String, vec![s("/dev/vgroot/ceph")]),
                )
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_storage_reaches_ready_and_health_ok_and_a_new_nodes_osd_boots_and_peers() {
    let server = SimServer::start(SimOptions {
        bind: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        client_ca_pem: None,
        tokens: vec![],
        time_scale: 0.05,
        controllers: vec![Arc::new(RookOperator::default())],
        builtin_controllers: true,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    // Each machine's Ceph volume, as the lab passes the MAAS machines' logical volumes on.
    const GIB: u64 = 1 << 30;
    let lv = |gib: u64| vec![("/dev/vgroot/ceph".to_string(), gib * GIB)];
    for (name, volumes) in [
        ("maas", lv(40)),
        ("kvm4", lv(50)),
        ("kvm5", lv(60)),
        ("kvm6", lv(70)),
    ] {
        server
            .add_node(&NodeSpec {
                volumes,
                ..NodeSpec::new(name)
            })
            .unwrap();
    }
    let p = RookProvider::default();
    let d = p
        .configure(&Value::object_from([("host", s(&server.url()))]))
        .await;
    assert!(d.is_empty(), "{d:?}");
    let null = Value::null_dynamic();

    let (op, _) = apply(
        &p,
        "rook_operator",
        &null,
        &config(&p, "rook_operator", &[]),
    )
    .await;
    assert_eq!(
        op.get("kubelet_dir_keys").unwrap().as_sequence().unwrap()[0],
        s("ConfigMap rook-ceph/rook-ceph-operator-config ROOK_CSI_KUBELET_DIR_PATH")
    );

    let three = config(
        &p,
        "rook_cluster",
        &[("nodes", nodes(&["maas", "kvm4", "kvm5"]))],
    );
    let (cluster, progress) = apply(&p, "rook_cluster", &null, &three).await;
    assert_eq!(cluster.get("health"), Some(&s("HEALTH_OK")));
    assert_eq!(cluster.get("phase"), Some(&s("Ready")));
    assert_eq!(cluster.get("osds"), Some(&n(3)));
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with("Ready, HEALTH_WARN") && l.contains("PG_AVAILABILITY")),
        "Ready with HEALTH_WARN while PGs peer: {progress:?}"
    );
    assert!(
        progress.iter().any(|l| l.contains("Configuring Ceph Mons")),
        "{progress:?}"
    );

    let pool_cfg = config(
        &p,
        "rook_block_pool",
        &[("name", s("replicapool")), ("size", n(2))],
    );
    let (pool, _) = apply(&p, "rook_block_pool", &null, &pool_cfg).await;
    assert_eq!(pool.get("phase"), Some(&s("Ready")));

    let sc_cfg = config(
        &p,
        "rook_storage_class",
        &[("name", s("rook-ceph-block")), ("pool", s("replicapool"))],
    );
    let (sc, _) = apply(&p, "rook_storage_class", &null, &sc_cfg).await;
    assert_eq!(
        sc.get("provisioner"),
        Some(&s("rook-ceph.rbd.csi.ceph.com"))
    );

    // A fourth node: the apply waits while its OSD boots and its PGs peer, then until the
    // backfill to it ends: real Ceph reports the moving data as misplaced, no health warning
    // (OBJECT_MISPLACED needs mon_warn_on_misplaced), and Rook's status has no PG states, so
    // the PG states come from the mgr's metrics (`ceph_pg_*` through the service proxy).
    let four = config(
        &p,
        "rook_cluster",
        &[("nodes", nodes(&["maas", "kvm4", "kvm5", "kvm6"]))],
    );
    let started = std::time::Instant::now();
    let (cluster, progress) = apply(&p, "rook_cluster", &cluster, &four).await;
    let took = started.elapsed();
    // .mgr (1 PG, size 3) and replicapool (32 PGs, size 2): the new OSD's share backfills.
    let backfilling = progress
        .iter()
        .find(|l| l.starts_with("PGs ") && l.contains("backfilling"))
        .unwrap_or_else(|| panic!("the PG counts while the backfill runs: {progress:?}"));
    let clean: u64 = backfilling["PGs ".len()..]
        .split('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(99);
    assert!(
        clean < 33
            && backfilling.contains("/33 active+clean, ")
            && backfilling.contains("backfill_wait"),
        "{backfilling}"
    );
    assert_eq!(
        progress.last().map(String::as_str),
        Some("PGs 33/33 active+clean"),
        "the apply ends when every PG is active+clean: {progress:?}"
    );
    // Boot 20 s, peering 15 s and backfill 60 s of simulated time, at a twentieth.
    assert!(
        took >= std::time::Duration::from_secs_f64((20.0 + 15.0 + 60.0) * 0.05 * 0.9),
        "the apply did not wait for the backfill: {took:?}, {progress:?}"
    );
    assert_eq!(cluster.get("osds"), Some(&n(4)));
    assert_eq!(cluster.get("health"), Some(&s("HEALTH_OK")));
    assert!(
        progress
            .iter()
            .any(|l| l.contains("OSDs 3 up / 4 (4 devices)") && l.contains("OSD_DOWN")),
        "waits while the new OSD boots: {progress:?}"
    );
    assert!(
        progress.iter().any(|l| l.contains("PG_AVAILABILITY")),
        "and while its PGs peer: {progress:?}"
    );
    assert!(
        !progress.iter().any(|l| l.contains("PG_DEGRADED")),
        "adding an OSD degrades nothing: {progress:?}"
    );
    let cap = cluster
        .get("capacity_bytes")
        .and_then(Value::as_number)
        .and_then(Number::to_i64)
        .unwrap();
    assert_eq!(
        cap as u64,
        (40 + 50 + 60 + 70) * GIB,
        "each OSD as large as its node's Ceph volume, not the whole disk"
    );

    // A device a machine does not have gets no OSD, as with Rook (its OSD prepare job finds
    // nothing to prepare): a second cluster listing kvm4's volume and a missing one.
    let c = server.cluster();
    c.create(
        "test",
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab-missing"}}),
    )
    .unwrap();
    c.create(
        "test",
        serde_json::json!({"apiVersion": "ceph.rook.io/v1", "kind": "CephCluster",
            "metadata": {"name": "missing", "namespace": "lab-missing"},
            "spec": {"mon": {"count": 1}, "storage": {"useAllNodes": false, "nodes": [
                {"name": "kvm4", "devices": [{"name": "/dev/vgroot/ceph"}, {"name": "/dev/vgroot/nothing"}]}
            ]}}}),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        let obj = c
            .get("ceph.rook.io/v1", "CephCluster", "lab-missing", "missing")
            .unwrap();
        if obj.pointer("/status/ceph/health") == Some(&serde_json::json!("HEALTH_OK")) {
            break obj["status"].clone();
        }
        assert!(std::time::Instant::now() < deadline, "{obj}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        status.pointer("/storage/osd/storeType/bluestore"),
        Some(&serde_json::json!(1)),
        "one OSD for two listed devices: {status}"
    );
    assert_eq!(
        status.pointer("/ceph/capacity/bytesTotal"),
        Some(&serde_json::json!(50 * GIB)),
        "{status}"
    );

    // Refresh reads the same back: no drift.
    let read = p
        .read_resource(brick_provider_api::provider::ReadRequest {
            type_name: "rook_block_pool",
            current: &pool,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, pool);

    // Deleting the pool goes through Rook's finalizer.
    let seen = Seen::default();
    let resp = p
        .apply_resource(ApplyRequest {
            type_name: "rook_block_pool",
            prior: &pool,
            planned: &Value::null(pool.ty()),
            progress: &seen,
        })
        .await;
    assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
    let gone = p
        .read_resource(brick_provider_api::provider::ReadRequest {
            type_name: "rook_block_pool",
            current: &pool,
        })
        .await
        .unwrap();
    assert!(gone.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_removal_interrupted_while_its_osd_drains_is_read_as_unfinished_and_completes() {
    let server = SimServer::start(SimOptions {
        bind: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        client_ca_pem: None,
        tokens: vec![],
        time_scale: 0.05,
        controllers: vec![Arc::new(RookOperator::default())],
        builtin_controllers: true,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    for name in ["maas", "kvm4", "kvm5"] {
        server.add_node(&NodeSpec::new(name)).unwrap();
    }
    let p = RookProvider::default();
    let d = p
        .configure(&Value::object_from([("host", s(&server.url()))]))
        .await;
    assert!(d.is_empty(), "{d:?}");
    let null = Value::null_dynamic();
    apply(
        &p,
        "rook_operator",
        &null,
        &config(&p, "rook_operator", &[]),
    )
    .await;
    let three = config(
        &p,
        "rook_cluster",
        &[("nodes", nodes(&["maas", "kvm4", "kvm5"]))],
    );
    let (cluster, _) = apply(&p, "rook_cluster", &null, &three).await;
    assert_eq!(cluster.get("osds"), Some(&n(3)));
    let pool_cfg = config(
        &p,
        "rook_block_pool",
        &[("name", s("replicapool")), ("size", n(2))],
    );
    apply(&p, "rook_block_pool", &null, &pool_cfg).await;

    // kvm5 removed; the apply is stopped (as by kill -9) once Rook's purge job is running.
    let two = config(&p, "rook_cluster", &[("nodes", nodes(&["maas", "kvm4"]))]);
    let c = server.cluster();
    let purging = async {
        loop {
            let jobs = c.list(
                "batch/v1",
                "Job",
                Some("rook-ceph"),
                "app=rook-ceph-purge-osd",
            );
            if jobs.iter().any(|j| j["status"]["active"] == 1) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        _ = apply(&p, "rook_cluster", &cluster, &two) => panic!("the drain ended before the stop"),
        _ = purging => {}
    }
    let live = c
        .get("ceph.rook.io/v1", "CephCluster", "rook-ceph", "rook-ceph")
        .unwrap();
    assert_eq!(
        live["spec"]["storage"]["nodes"].as_array().unwrap().len(),
        2
    );

    // The CephCluster no longer lists kvm5, but its OSD is still there: a refresh keeps kvm5
    // (with the devices the state knew), so the next plan is an update that finishes it.
    let read = p
        .read_resource(brick_provider_api::provider::ReadRequest {
            type_name: "rook_cluster",
            current: &cluster,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.get("nodes"), cluster.get("nodes"), "{read:?}");
    let (done, progress) = apply(&p, "rook_cluster", &read, &two).await;
    assert!(
        progress.iter().any(|l| l.contains("of kvm5 purged")),
        "{progress:?}"
    );
    assert_eq!(done.get("osds"), Some(&n(2)));
    assert_eq!(done.get("health"), Some(&s("HEALTH_OK")));
    assert!(
        c.list(
            "apps/v1",
            "Deployment",
            Some("rook-ceph"),
            "app=rook-ceph-osd"
        )
        .iter()
        .all(|d| d["metadata"]["labels"]["topology-location-host"] != "kvm5")
    );
    // Purged: a refresh reads the cluster as configured.
    let read = p
        .read_resource(brick_provider_api::provider::ReadRequest {
            type_name: "rook_cluster",
            current: &done,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.get("nodes"), two.get("nodes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_mgrs_metrics_service_the_apply_warns_that_it_skipped_the_pg_wait() {
    let server = SimServer::start(SimOptions {
        bind: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        client_ca_pem: None,
        tokens: vec![],
        time_scale: 0.02,
        controllers: vec![Arc::new(RookOperator::default().without_mgr_service())],
        builtin_controllers: true,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    server.add_node(&NodeSpec::new("kvm4")).unwrap();
    let p = RookProvider::default();
    let d = p
        .configure(&Value::object_from([("host", s(&server.url()))]))
        .await;
    assert!(d.is_empty(), "{d:?}");
    let null = Value::null_dynamic();
    apply(
        &p,
        "rook_operator",
        &null,
        &config(&p, "rook_operator", &[]),
    )
    .await;
    let one = config(
        &p,
        "rook_cluster",
        &[("nodes", nodes(&["kvm4"])), ("mon_count", n(1))],
    );
    let plan = p
        .plan_resource(PlanRequest {
            type_name: "rook_cluster",
            prior: &null,
            proposed: &one,
        })
        .await;
    let seen = Seen::default();
    let resp = p
        .apply_resource(ApplyRequest {
            type_name: "rook_cluster",
            prior: &null,
            planned: &plan.planned,
            progress: &seen,
        })
        .await;
    // Not a failure: the cluster is made and recorded, Ready with HEALTH_OK.
    assert_eq!(resp.new_state.get("health"), Some(&s("HEALTH_OK")));
    assert_eq!(resp.new_state.get("osds"), Some(&n(1)));
    let [w] = resp.diagnostics.as_slice() else {
        panic!("one warning: {:?}", resp.diagnostics);
    };
    assert_eq!(w.code, "brick::rook::pg_wait_skipped", "{w:?}");
    assert_eq!(w.severity, brick_provider_api::Severity::Warning, "{w:?}");
    assert!(
        w.detail.contains("the Service rook-ceph/rook-ceph-mgr")
            && w.detail.contains("does not exist")
            && w.detail.contains(
                "/api/v1/namespaces/rook-ceph/services/http:rook-ceph-mgr:http-metrics/proxy/metrics"
            ),
        "{}",
        w.detail
    );
    assert!(
        w.help
            .as_deref()
            .is_some_and(|h| h.contains("ceph pg stat")),
        "{w:?}"
    );
}
