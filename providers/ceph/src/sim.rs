//! A simulated Rook operator for the lab's Kubernetes API (`brick-k8s-sim`'s [`Controller`]),
//! following Rook's documented behaviour so that brick's rook provider meets in the lab what it
//! meets on a real cluster:
//!
//! - once a Deployment `rook-ceph-operator` exists, the operator brings its CRDs (CephCluster,
//!   CephBlockPool), so the lab works offline, without Rook's release files;
//! - a CephCluster (finalizer `cephcluster.ceph.rook.io`) goes Progressing ("Configuring Ceph
//!   Mons", then "Configuring Ceph OSDs") while its mons start — it waits for as many Ready
//!   nodes as mons unless `allowMultiplePerNode` — and gets one OSD per device listed under
//!   `storage.nodes[].devices[].name` of each Ready Node that has that device: the lab's Nodes
//!   list their machine's logical volumes (annotation [`VOLUMES_ANNOTATION`], path → bytes), so
//!   an OSD is as large as its volume, and a listed device the machine lacks gets no OSD (Rook's
//!   OSD prepare job finds nothing to prepare there; the cluster reports fewer OSDs than devices);
//!   a Node without the annotation (not the lab's) gives each device its ephemeral-storage
//!   capacity. Then Ready with HEALTH_WARN (`PG_AVAILABILITY`, PGs peering), then HEALTH_OK;
//!   capacity is the OSDs' sum;
//! - an OSD added to a Ready cluster (a new node or device) boots (`OSD_DOWN` until then), its
//!   PGs peer (`PG_AVAILABILITY`), then HEALTH_OK, then its share of the PGs backfills for the
//!   backfill period. The backfill shows in no health check, because real Ceph raises none: the
//!   data moving to a new OSD is *misplaced* (all copies still exist), and `OBJECT_MISPLACED` is
//!   a warning only with `mon_warn_on_misplaced` (default false since Nautilus; checked on Ceph
//!   16.2.15); Rook's CephCluster status has no PG states either. It shows, as on a real
//!   cluster, in the mgr's Prometheus metrics only. An OSD marked out by a purge job is
//!   different: its PGs are degraded (one copy fewer) until they backfilled elsewhere,
//!   `PG_DEGRADED` for the backfill period. Every delay is simulated time, scaled by the lab's
//!   `--time-scale`;
//! - once the mons run, the Service [`MGR_SERVICE`] (port [`METRICS_PORT`], 9283, owned by the
//!   CephCluster, as Rook makes it for the active mgr) and, behind it through the lab API's
//!   service proxy (`Cluster::serve`), the mgr's `/metrics` in Ceph 16.2's text format:
//!   `ceph_pg_total` and `ceph_pg_<state>` per `pool_id` — `.mgr` (1 PG) and each Ready
//!   CephBlockPool (`parameters.pg_num`, else 32) — and `ceph_osd_up`/`ceph_osd_in` per OSD,
//!   recomputed every tick (`pg_states` says the timeline the PGs follow);
//! - a CephBlockPool (finalizer `cephblockpool.ceph.rook.io`) waits for its cluster to be
//!   Ready, is refused (phase Failure, as Rook) with size 1 and `requireSafeReplicaSize`; else
//!   phase Ready — also with a size its failure domains cannot hold, as Rook and Ceph do;
//! - deleting a CephCluster waits while pools remain in its namespace, as Rook does.
//!
//! Status is written as Rook writes it (`phase`, `message`, `ceph.health`, `ceph.details`,
//! `ceph.capacity`, `ceph.fsid`, `storage.osd.storeType`, `observedGeneration`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use brick_k8s_sim::{Cluster, Controller, Event, ProxyReply, VOLUMES_ANNOTATION};
use serde_json::{Value as Json, json};

const MANAGER: &str = "rook";
const GROUP_VERSION: &str = "ceph.rook.io/v1";
const CLUSTER_FINALIZER: &str = "cephcluster.ceph.rook.io";
const POOL_FINALIZER: &str = "cephblockpool.ceph.rook.io";

/// Rook's metrics Service of the active mgr and its port (Rook's `mgr.go`, `spec.go`).
pub const MGR_SERVICE: &str = "rook-ceph-mgr";
pub const METRICS_PORT: &str = "http-metrics";
/// PGs of a new CephBlockPool (`osd_pool_default_pg_num`) unless `parameters.pg_num` says.
const DEFAULT_PG_NUM: u64 = 32;

/// Simulated durations of Rook's and Ceph's steps.
#[derive(Clone, Debug)]
pub struct Timings {
    pub mons: Duration,
    pub osd_boot: Duration,
    pub peering: Duration,
    pub backfill: Duration,
    pub pool: Duration,
}

impl Default for Timings {
    fn default() -> Timings {
        Timings {
            mons: Duration::from_secs(30),
            osd_boot: Duration::from_secs(20),
            peering: Duration::from_secs(15),
            backfill: Duration::from_secs(60),
            pool: Duration::from_secs(5),
        }
    }
}

/// The simulated operator.
pub struct RookOperator {
    pub timings: Timings,
    /// Whether the mgr's metrics Service `rook-ceph-mgr` is made (Rook always makes it; false
    /// stands for one deleted or never made, for tests of what brick does without it).
    pub mgr_service: bool,
    state: Mutex<State>,
}

impl Default for RookOperator {
    fn default() -> RookOperator {
        RookOperator {
            timings: Timings::default(),
            mgr_service: true,
            state: Mutex::default(),
        }
    }
}

#[derive(Default)]
struct State {
    clusters: HashMap<String, ClusterSim>,
    /// (namespace/name, generation) → when the pool was first seen at that generation.
    pools: HashMap<(String, i64), Instant>,
}

struct ClusterSim {
    seen: Instant,
    mons_ready: Option<Instant>,
    /// (node, device) → OSD.
    osds: BTreeMap<(String, String), Osd>,
    /// When the cluster first became Ready (an OSD added later leaves it Ready while it boots).
    ready_since: Option<Instant>,
    fsid: String,
    /// The mgr's Prometheus metrics as last computed, served behind `rook-ceph-mgr`.
    metrics: Arc<Mutex<String>>,
    /// Whether the metrics are served (the Service made and the backend registered).
    serving: bool,
    /// CephBlockPool name → pool id (1 is `.mgr`), in the order the pools became Ready.
    pool_ids: BTreeMap<String, u32>,
}

struct Osd {
    id: u32,
    bytes: u64,
    created: Instant,
    /// Marked out by a purge job: its PGs backfill to the others from then on.
    out_at: Option<Instant>,
}

impl RookOperator {
    pub fn new(timings: Timings) -> RookOperator {
        RookOperator {
            timings,
            ..Default::default()
        }
    }

    /// An operator that never makes the mgr's metrics Service (as if someone deleted it).
    pub fn without_mgr_service(self) -> RookOperator {
        RookOperator {
            mgr_service: false,
            ..self
        }
    }
}

fn key(obj: &Json) -> String {
    format!(
        "{}/{}",
        obj["metadata"]["namespace"].as_str().unwrap_or(""),
        obj["metadata"]["name"].as_str().unwrap_or("")
    )
}

fn operator_running(cluster: &Cluster) -> bool {
    cluster
        .list("apps/v1", "Deployment", None, "")
        .iter()
        .any(|d| d["metadata"]["name"] == "rook-ceph-operator")
}

fn crd(kind: &str, plural: &str, short: &[&str]) -> Json {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.ceph.rook.io")},
        "spec": {
            "group": "ceph.rook.io",
            "scope": "Namespaced",
            "names": {"kind": kind, "listKind": format!("{kind}List"), "plural": plural, "singular": kind.to_lowercase(), "shortNames": short},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    })
}

fn node_ready(node: &Json) -> bool {
    node.pointer("/status/conditions")
        .and_then(Json::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Bytes of a Kubernetes quantity (`100Gi`, `500G`, `1073741824`).
fn quantity_bytes(q: &str) -> Option<u64> {
    let units: [(&str, u64); 8] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("K", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    for (u, m) in units {
        if let Some(n) = q.strip_suffix(u) {
            return n.parse::<u64>().ok().map(|n| n * m);
        }
    }
    q.parse().ok()
}

/// The size of `device` on `node`: from the lab's list of the machine's logical volumes when the
/// Node has one (None: the machine has no such device), else the Node's ephemeral storage.
fn device_bytes(node: &Json, device: &str) -> Option<u64> {
    let volumes = node
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(VOLUMES_ANNOTATION))
        .and_then(Json::as_str)
        .and_then(|v| serde_json::from_str::<Json>(v).ok());
    if let Some(volumes) = volumes {
        return volumes.get(device).and_then(Json::as_u64);
    }
    Some(
        node.pointer("/status/capacity/ephemeral-storage")
            .and_then(Json::as_str)
            .and_then(quantity_bytes)
            .unwrap_or(100 << 30),
    )
}

/// A stable fsid-looking id for a cluster.
fn fsid(name: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    let x = format!("{h:016x}{:016x}", h.rotate_left(17) ^ 0x9e3779b97f4a7c15);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// The OSD ids a purge job names: `--osd-ids=1,2` or `--osd-ids 1,2` among its args.
fn purge_ids(job: &Json) -> Vec<u32> {
    let args: Vec<&str> = job
        .pointer("/spec/template/spec/containers/0/args")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .collect();
    let mut list = None;
    for (i, a) in args.iter().enumerate() {
        if let Some(v) = a.strip_prefix("--osd-ids=") {
            list = Some(v);
        } else if *a == "--osd-ids" {
            list = args.get(i + 1).copied();
        }
    }
    list.unwrap_or("")
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect()
}

/// The Deployment Rook runs an OSD as, with Rook's labels.
fn osd_deployment(ns: &str, name: &str, id: u32, node: &str) -> Json {
    let labels = json!({"app": "rook-ceph-osd", "ceph-osd-id": id.to_string(), "ceph_daemon_id": id.to_string(), "topology-location-host": node});
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "rook-ceph-osd", "ceph-osd-id": id.to_string()}},
            "template": {"metadata": {"labels": labels},
                "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                    "containers": [{"name": "osd", "image": "quay.io/ceph/ceph:v19.2.3"}]}}}})
}

/// Rook's Service for the active mgr's Prometheus metrics, owned by the CephCluster.
fn mgr_service(ns: &str, owner: &Json) -> Json {
    let labels = json!({"app": MGR_SERVICE, "rook_cluster": ns});
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": MGR_SERVICE, "namespace": ns, "labels": labels,
            "ownerReferences": [{"apiVersion": GROUP_VERSION, "kind": "CephCluster",
                "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"type": "ClusterIP",
            "selector": {"app": MGR_SERVICE, "rook_cluster": ns, "mgr_role": "active"},
            "ports": [{"name": METRICS_PORT, "port": 9283, "protocol": "TCP"}]}})
}

/// A pool as the mgr counts its PGs.
struct SimPool {
    id: u32,
    name: String,
    pg_num: u64,
    size: u64,
}

/// The cluster's pools: `.mgr` (id 1, one PG, size 3, made by the mgr once there are OSDs)
/// and every Ready CephBlockPool of the namespace (ids in the order they became Ready; PGs
/// `parameters.pg_num` or 32; size the replicas, or data + coding chunks).
fn pools_of(cluster: &Cluster, ns: &str, sim: &mut ClusterSim) -> Vec<SimPool> {
    if sim.osds.is_empty() {
        return Vec::new();
    }
    let mut out = vec![SimPool {
        id: 1,
        name: ".mgr".into(),
        pg_num: 1,
        size: 3,
    }];
    for p in cluster.list(GROUP_VERSION, "CephBlockPool", Some(ns), "") {
        if deleting(&p) || p.pointer("/status/phase") != Some(&json!("Ready")) {
            continue;
        }
        let Some(name) = p["metadata"]["name"].as_str() else {
            continue;
        };
        let next = sim.pool_ids.len() as u32 + 2;
        let id = *sim.pool_ids.entry(name.to_string()).or_insert(next);
        let spec = &p["spec"];
        let pg_num = spec
            .pointer("/parameters/pg_num")
            .and_then(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_u64()))
            .unwrap_or(DEFAULT_PG_NUM);
        let chunks = |k: &str| {
            spec.pointer(&format!("/erasureCoded/{k}"))
                .and_then(Json::as_u64)
        };
        let size = spec
            .pointer("/replicated/size")
            .and_then(Json::as_u64)
            .or_else(|| Some(chunks("dataChunks")? + chunks("codingChunks")?))
            .unwrap_or(3);
        out.push(SimPool {
            id,
            name: name.to_string(),
            pg_num,
            size,
        });
    }
    out.sort_by_key(|p| p.id);
    out
}

/// The PG states each pool's PGs are in at `now` (a PG in several states counts in each), as
/// the mgr's `pg_summary` gives them, following the OSDs' timeline:
///
/// - while every OSD is up and the last one booted less than `peering` ago, every PG peers
///   (neither active nor clean: the `PG_AVAILABILITY` of the health checks);
/// - a pool whose size exceeds the hosts with an OSD up is active+undersized+degraded for good;
/// - an OSD added to a Ready cluster takes its share of each pool's PGs (`pg_num × size / OSDs
///   in`) by backfill: from the end of its peering those PGs are active+remapped, one
///   backfilling and the others backfill_wait, fewer as `backfill` passes, then clean again —
///   misplaced data, which raises no health warning;
/// - an OSD marked out by a purge job leaves its share degraded until it backfilled elsewhere
///   (`backfill` after it was marked out).
fn pg_states(
    t: &Timings,
    cluster: &Cluster,
    sim: &ClusterSim,
    pools: &[SimPool],
    up: &[u32],
    now: Instant,
) -> BTreeMap<u32, BTreeMap<&'static str, u64>> {
    let boot = cluster.scaled(t.osd_boot);
    let peering = cluster.scaled(t.peering);
    let backfill = cluster.scaled(t.backfill);
    let last_up = sim.osds.values().map(|o| o.created + boot).max();
    let all_peering =
        up.len() == sim.osds.len() && last_up.is_some_and(|l| now >= l && now < l + peering);
    let osds_in = sim.osds.values().filter(|o| o.out_at.is_none()).count() as u64;
    let hosts_up = sim
        .osds
        .iter()
        .filter(|(_, o)| up.contains(&o.id))
        .map(|((node, _), _)| node)
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64;
    // What is left to move, as a fraction of a backfill, of a backfill that started at `start`.
    let left = |start: Instant| {
        if now < start || backfill.is_zero() {
            0.0
        } else {
            let done = now.duration_since(start).as_secs_f64() / backfill.as_secs_f64();
            (1.0 - done).max(0.0)
        }
    };
    let added: f64 = sim
        .osds
        .values()
        .filter(|o| o.out_at.is_none() && sim.ready_since.is_some_and(|r| o.created > r))
        .map(|o| left(o.created + boot + peering))
        .sum();
    let drained: f64 = sim.osds.values().filter_map(|o| o.out_at).map(left).sum();
    let mut out = BTreeMap::new();
    for p in pools {
        let n = p.pg_num;
        let mut st: BTreeMap<&'static str, u64> = BTreeMap::new();
        st.insert("total", n);
        if all_peering {
            st.insert("peering", n);
        } else if p.size > hosts_up {
            for s in ["active", "undersized", "degraded"] {
                st.insert(s, n);
            }
        } else {
            let share = |osds: u64, frac: f64| {
                let per_osd = (n * p.size.min(osds.max(1))) as f64 / osds.max(1) as f64;
                ((per_osd * frac).ceil() as u64).min(n)
            };
            let misplaced = share(osds_in, added);
            let degraded = share(osds_in + 1, drained);
            let unclean = (misplaced + degraded).min(n);
            let backfilling = unclean.min(1);
            st.insert("active", n);
            st.insert("clean", n - unclean);
            st.insert("remapped", unclean);
            st.insert("degraded", degraded.min(n));
            st.insert("backfilling", backfilling);
            st.insert("backfill_wait", unclean - backfilling);
        }
        out.insert(p.id, st);
    }
    out
}

/// The states the simulated mgr exports, in the order Ceph's `PG_STATES` lists them.
const PG_FAMILIES: [&str; 8] = [
    "active",
    "clean",
    "peering",
    "degraded",
    "remapped",
    "backfilling",
    "undersized",
    "backfill_wait",
];

/// The mgr's Prometheus metrics as Ceph's module writes them (text format 0.0.4, Python's
/// float formatting): `ceph_pg_total`, `ceph_osd_up`, `ceph_osd_in`, `ceph_pool_metadata` and
/// `ceph_pg_<state>` per pool.
fn metrics_text(
    pgs: &BTreeMap<u32, BTreeMap<&'static str, u64>>,
    pools: &[SimPool],
    sim: &ClusterSim,
    up: &[u32],
) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut family = |name: &str, help: &str, ty: &str, samples: Vec<(String, u64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {ty}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {v}.0");
        }
    };
    let per_pool = |state: &str| -> Vec<(String, u64)> {
        pgs.iter()
            .map(|(id, st)| {
                (
                    format!("pool_id=\"{id}\""),
                    st.get(state).copied().unwrap_or(0),
                )
            })
            .collect()
    };
    family(
        "ceph_pg_total",
        "PG Total Count per Pool",
        "gauge",
        per_pool("total"),
    );
    let mut ids: Vec<(u32, bool)> = sim
        .osds
        .values()
        .map(|o| (o.id, o.out_at.is_none()))
        .collect();
    ids.sort();
    let osd = |f: &dyn Fn(u32, bool) -> bool| -> Vec<(String, u64)> {
        ids.iter()
            .map(|&(id, inn)| (format!("ceph_daemon=\"osd.{id}\""), f(id, inn) as u64))
            .collect()
    };
    family(
        "ceph_osd_up",
        "OSD status up",
        "untyped",
        osd(&|id, _| up.contains(&id)),
    );
    family(
        "ceph_osd_in",
        "OSD status in",
        "untyped",
        osd(&|_, inn| inn),
    );
    family(
        "ceph_pool_metadata",
        "POOL Metadata",
        "untyped",
        pools
            .iter()
            .map(|p| {
                (
                    format!(
                        "pool_id=\"{}\",name=\"{}\",type=\"replicated\",description=\"replica:{}\",compression_mode=\"none\"",
                        p.id, p.name, p.size
                    ),
                    1,
                )
            })
            .collect(),
    );
    for state in PG_FAMILIES {
        family(
            &format!("ceph_pg_{state}"),
            &format!("PG {state} per pool"),
            "gauge",
            per_pool(state),
        );
    }
    out
}

fn deleting(obj: &Json) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|d| !d.is_null())
}

fn has_finalizer(obj: &Json, f: &str) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Json::as_array)
        .is_some_and(|l| l.iter().any(|x| x == f))
}

fn set_finalizers(cluster: &Cluster, kind: &str, obj: &Json, list: Json) {
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let _ = cluster.merge_patch(
        MANAGER,
        GROUP_VERSION,
        kind,
        ns,
        name,
        json!({"metadata": {"finalizers": list}}),
        false,
    );
}

/// Replaces the object's status (as Rook's status updates do) unless it is what it has.
fn write_status(cluster: &Cluster, obj: &Json, status: Json) {
    if obj.get("status") == Some(&status) {
        return;
    }
    let mut next = obj.clone();
    next["status"] = status;
    if let Some(md) = next["metadata"].as_object_mut() {
        md.remove("resourceVersion");
    }
    let _ = cluster.update_status(MANAGER, next);
}

impl RookOperator {
    fn reconcile_cluster(
        &self,
        cluster: &Cluster,
        obj: &Json,
        nodes: &BTreeMap<String, Json>,
        now: Instant,
    ) {
        let t = &self.timings;
        let k = key(obj);
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if deleting(obj) {
            let pools: Vec<Json> = cluster
                .list(GROUP_VERSION, "CephBlockPool", Some(&ns), "")
                .into_iter()
                .filter(|p| !deleting(p))
                .collect();
            if pools.is_empty() {
                self.state.lock().expect("state").clusters.remove(&k);
                cluster.serve(&ns, MGR_SERVICE, METRICS_PORT, None);
                set_finalizers(cluster, "CephCluster", obj, json!([]));
            } else {
                let names: Vec<&str> = pools
                    .iter()
                    .filter_map(|p| p["metadata"]["name"].as_str())
                    .collect();
                let mut status = obj.get("status").cloned().unwrap_or(json!({}));
                status["phase"] = json!("Deleting");
                status["message"] = json!(format!(
                    "CephCluster {k} will not be deleted until all dependents are removed: CephBlockPool: {names:?}"
                ));
                write_status(cluster, obj, status);
            }
            return;
        }
        if !has_finalizer(obj, CLUSTER_FINALIZER) {
            set_finalizers(cluster, "CephCluster", obj, json!([CLUSTER_FINALIZER]));
        }
        let generation = obj
            .pointer("/metadata/generation")
            .and_then(Json::as_i64)
            .unwrap_or(1);
        let spec = &obj["spec"];
        let external = spec.pointer("/external/enable").and_then(Json::as_bool) == Some(true);
        let mut st = self.state.lock().expect("state");
        let sim = st.clusters.entry(k.clone()).or_insert_with(|| ClusterSim {
            seen: now,
            mons_ready: None,
            osds: BTreeMap::new(),
            ready_since: None,
            fsid: fsid(&k),
            metrics: Arc::default(),
            serving: false,
            pool_ids: BTreeMap::new(),
        });
        if external {
            let status = json!({
                "phase": "Connected",
                "state": "Connected",
                "message": "Cluster connected successfully",
                "observedGeneration": generation,
                "ceph": {"health": "HEALTH_OK", "fsid": sim.fsid, "details": {}},
            });
            drop(st);
            write_status(cluster, obj, status);
            return;
        }
        let ready_nodes: Vec<&String> = nodes
            .iter()
            .filter(|(_, n)| node_ready(n))
            .map(|(k, _)| k)
            .collect();
        let mons = spec
            .pointer("/mon/count")
            .and_then(Json::as_u64)
            .unwrap_or(3) as usize;
        let multiple = spec
            .pointer("/mon/allowMultiplePerNode")
            .and_then(Json::as_bool)
            == Some(true);
        let mut phase = "Progressing";
        let mut message;
        let mut health = "HEALTH_WARN".to_string();
        let mut details = serde_json::Map::new();
        if sim.mons_ready.is_none() {
            if !multiple && ready_nodes.len() < mons {
                message = format!(
                    "Configuring Ceph Mons: waiting for {mons} nodes to place mons on, {} Ready",
                    ready_nodes.len()
                );
            } else if now.duration_since(sim.seen) >= cluster.scaled(t.mons) {
                sim.mons_ready = Some(now);
                message = "Configuring Ceph OSDs".into();
            } else {
                message = "Configuring Ceph Mons".into();
            }
        } else {
            message = "Configuring Ceph OSDs".into();
        }
        if let Some(mons_at) = sim.mons_ready {
            // One OSD per listed device of a Ready node.
            let was_ready = sim.ready_since.is_some();
            for node in spec
                .pointer("/storage/nodes")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = node["name"].as_str() else {
                    continue;
                };
                let Some(n) = nodes.get(name).filter(|n| node_ready(n)) else {
                    continue;
                };
                for dev in node["devices"].as_array().into_iter().flatten() {
                    let Some(dev) = dev["name"].as_str() else {
                        continue;
                    };
                    let key = (name.to_string(), dev.to_string());
                    if sim.osds.contains_key(&key) {
                        continue;
                    }
                    // A device the machine does not have: Rook prepares no OSD for it.
                    if let Some(bytes) = device_bytes(n, dev) {
                        // OSD ids count from 0 in each cluster.
                        let id = sim.osds.len() as u32;
                        sim.osds.insert(
                            key,
                            Osd {
                                id,
                                bytes,
                                created: now.max(mons_at),
                                out_at: None,
                            },
                        );
                    }
                }
            }
            // Each OSD runs as Deployment rook-ceph-osd-<id>, pinned to its node (as Rook
            // does); one scaled to 0 replicas, or on a node that is not Ready, is down.
            let mut down_ids = Vec::new();
            for ((node, _), o) in &sim.osds {
                let name = format!("rook-ceph-osd-{}", o.id);
                let dep = match cluster.get("apps/v1", "Deployment", &ns, &name) {
                    Some(d) => d,
                    None => {
                        let _ = cluster.create(MANAGER, osd_deployment(&ns, &name, o.id, node));
                        continue;
                    }
                };
                let scaled_down = dep.pointer("/spec/replicas").and_then(Json::as_u64) == Some(0);
                let node_gone = !nodes.get(node).is_some_and(node_ready);
                if scaled_down || node_gone {
                    down_ids.push(o.id);
                }
            }
            self.purge_jobs(cluster, &ns, sim, &down_ids, now);
            let up: Vec<&Osd> = sim
                .osds
                .values()
                .filter(|o| now.duration_since(o.created) >= cluster.scaled(t.osd_boot))
                .filter(|o| !down_ids.contains(&o.id))
                .collect();
            let up_ids: Vec<u32> = up.iter().map(|o| o.id).collect();
            let total = sim.osds.len();
            let draining: Vec<u32> = sim
                .osds
                .values()
                .filter(|o| o.out_at.is_some())
                .map(|o| o.id)
                .collect();
            if !draining.is_empty() {
                details.insert(
                    "PG_DEGRADED".into(),
                    json!({"message": format!("Degraded data redundancy: osd.{} out, its PGs backfilling to the other OSDs", draining.iter().map(u32::to_string).collect::<Vec<_>>().join(", osd.")), "severity": "HEALTH_WARN"}),
                );
            }
            let down = total - up_ids.len();
            if total > 0 && (was_ready || down == 0) {
                phase = "Ready";
                message = "Cluster created successfully".into();
                if sim.ready_since.is_none() {
                    sim.ready_since = Some(now);
                }
            }
            if down > 0 {
                details.insert(
                    "OSD_DOWN".into(),
                    json!({"message": format!("{down} osds down"), "severity": "HEALTH_WARN"}),
                );
            }
            let last_up = sim
                .osds
                .values()
                .map(|o| o.created + cluster.scaled(t.osd_boot))
                .max();
            if let Some(last) = last_up
                && down == 0
                && now < last + cluster.scaled(t.peering)
            {
                details.insert("PG_AVAILABILITY".into(), json!({"message": "Reduced data availability: 33 pgs peering", "severity": "HEALTH_WARN"}));
            }
            if total == 0 {
                details.insert("TOO_FEW_OSDS".into(), json!({"message": "OSD count 0 < osd_pool_default_size 3", "severity": "HEALTH_WARN"}));
            }
            if details.is_empty() {
                health = "HEALTH_OK".into();
            }
            // The mgr runs once the mons do: Rook makes its metrics Service, whose
            // `/metrics` the simulated Prometheus module answers from the state computed here.
            if self.mgr_service && !sim.serving {
                if cluster.get("v1", "Service", &ns, MGR_SERVICE).is_none() {
                    let _ = cluster.create(MANAGER, mgr_service(&ns, obj));
                }
                let text = sim.metrics.clone();
                cluster.serve(
                    &ns,
                    MGR_SERVICE,
                    METRICS_PORT,
                    Some(Arc::new(move |_path: &str| ProxyReply {
                        status: 200,
                        content_type: "text/plain; version=0.0.4; charset=utf-8".into(),
                        body: text.lock().expect("metrics").clone().into_bytes(),
                    })),
                );
                sim.serving = true;
            }
            let pools = pools_of(cluster, &ns, sim);
            let pgs = pg_states(t, cluster, sim, &pools, &up_ids, now);
            let text = metrics_text(&pgs, &pools, sim, &up_ids);
            *sim.metrics.lock().expect("metrics") = text;
        }
        let bytes: u64 = sim
            .osds
            .values()
            .filter(|o| now.duration_since(o.created) >= cluster.scaled(t.osd_boot))
            .filter(|o| o.out_at.is_none())
            .map(|o| o.bytes)
            .sum();
        let osds = sim.osds.len();
        let fsid = sim.fsid.clone();
        drop(st);
        let mut status = json!({
            "phase": phase,
            "state": if phase == "Ready" { "Created" } else { "Creating" },
            "message": message,
            "observedGeneration": generation,
            "ceph": {"health": health, "details": details, "fsid": fsid, "capacity": {"bytesTotal": bytes, "bytesUsed": bytes / 100, "bytesAvailable": bytes - bytes / 100}},
            "storage": {"osd": {"storeType": {"bluestore": osds}}},
            "version": {"image": spec.pointer("/cephVersion/image").cloned().unwrap_or(json!("")), "version": "19.2.3-0"},
        });
        if osds == 0 {
            status["storage"] = json!({});
        }
        write_status(cluster, obj, status);
    }

    /// Rook's OSD purge job (`rook ceph osd remove --osd-ids=… --force-osd-removal=false`, the
    /// Job of Rook's osd-purge.yaml, label `app=rook-ceph-purge-osd`): an OSD that is still up
    /// fails the job (Rook removes only down OSDs); a down one is marked out, and once its PGs
    /// have backfilled to the others (safe-to-destroy) it is purged and its Deployment deleted;
    /// the job completes when every OSD it names is gone.
    fn purge_jobs(
        &self,
        cluster: &Cluster,
        ns: &str,
        sim: &mut ClusterSim,
        down: &[u32],
        now: Instant,
    ) {
        for job in cluster.list("batch/v1", "Job", Some(ns), "app=rook-ceph-purge-osd") {
            let done = job
                .pointer("/status/succeeded")
                .and_then(Json::as_u64)
                .unwrap_or(0)
                > 0
                || job
                    .pointer("/status/failed")
                    .and_then(Json::as_u64)
                    .unwrap_or(0)
                    > 0;
            if done {
                continue;
            }
            let ids = purge_ids(&job);
            let mut failure = None;
            let mut remaining = 0;
            for id in &ids {
                let Some(key) = sim
                    .osds
                    .iter()
                    .find(|(_, o)| o.id == *id)
                    .map(|(k, _)| k.clone())
                else {
                    continue;
                };
                let osd = sim.osds.get_mut(&key).expect("found");
                if osd.out_at.is_none() && !down.contains(id) {
                    failure = Some(format!(
                        "osd.{id} is healthy. It cannot be removed unless it is 'down'"
                    ));
                    break;
                }
                let out_at = *osd.out_at.get_or_insert(now);
                if now.duration_since(out_at) >= cluster.scaled(self.timings.backfill) {
                    sim.osds.remove(&key);
                    let _ =
                        cluster.delete("apps/v1", "Deployment", ns, &format!("rook-ceph-osd-{id}"));
                } else {
                    remaining += 1;
                }
            }
            let status = match (failure, remaining) {
                (Some(m), _) => {
                    json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": m}]})
                }
                (None, 0) => {
                    json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
                }
                (None, _) => json!({"active": 1}),
            };
            let mut j = job.clone();
            j["status"] = status;
            let _ = cluster.update_status(MANAGER, j);
        }
    }

    fn reconcile_pool(&self, cluster: &Cluster, obj: &Json, now: Instant) {
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
        if deleting(obj) {
            set_finalizers(cluster, "CephBlockPool", obj, json!([]));
            return;
        }
        if !has_finalizer(obj, POOL_FINALIZER) {
            set_finalizers(cluster, "CephBlockPool", obj, json!([POOL_FINALIZER]));
        }
        let generation = obj
            .pointer("/metadata/generation")
            .and_then(Json::as_i64)
            .unwrap_or(1);
        let Some(ceph) = cluster
            .list(GROUP_VERSION, "CephCluster", Some(ns), "")
            .into_iter()
            .next()
        else {
            return write_status(
                cluster,
                obj,
                json!({"phase": "Progressing", "observedGeneration": generation}),
            );
        };
        let cluster_phase = ceph
            .pointer("/status/phase")
            .and_then(Json::as_str)
            .unwrap_or("");
        if cluster_phase != "Ready" && cluster_phase != "Connected" {
            return write_status(
                cluster,
                obj,
                json!({"phase": "Progressing", "observedGeneration": generation}),
            );
        }
        let spec = &obj["spec"];
        let size = spec
            .pointer("/replicated/size")
            .and_then(Json::as_u64)
            .unwrap_or(0);
        let safe = spec
            .pointer("/replicated/requireSafeReplicaSize")
            .and_then(Json::as_bool)
            .unwrap_or(true);
        let failure = if size == 1 && safe {
            Some(
                "error pool size is 1 and requireSafeReplicaSize is true, must be false"
                    .to_string(),
            )
        } else {
            // Ceph accepts a size its failure domains cannot hold (the PGs stay undersized)
            // and Rook reports Ready all the same: brick's plan check is what refuses it.
            None
        };
        let key = (key(obj), generation);
        let seen = *self
            .state
            .lock()
            .expect("state")
            .pools
            .entry(key)
            .or_insert(now);
        let status = match failure {
            Some(reason) => {
                json!({"phase": "Failure", "observedGeneration": generation, "info": {"failureReason": reason}})
            }
            None if now.duration_since(seen) >= cluster.scaled(self.timings.pool) => {
                json!({"phase": "Ready", "observedGeneration": generation})
            }
            None => json!({"phase": "Progressing", "observedGeneration": generation}),
        };
        write_status(cluster, obj, status);
    }
}

#[async_trait]
impl Controller for RookOperator {
    fn name(&self) -> &str {
        "rook"
    }

    fn period(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn on_event(&self, _cluster: &Cluster, _event: &Event) {}

    async fn tick(&self, cluster: &Cluster) {
        if !operator_running(cluster) {
            return;
        }
        for (kind, plural, short) in [
            ("CephCluster", "cephclusters", vec!["ceph"]),
            ("CephBlockPool", "cephblockpools", vec!["cephbp"]),
        ] {
            if !cluster.serves(GROUP_VERSION, kind) {
                let _ = cluster.create(MANAGER, crd(kind, plural, &short));
            }
        }
        let now = Instant::now();
        let nodes: BTreeMap<String, Json> = cluster
            .list("v1", "Node", None, "")
            .into_iter()
            .filter_map(|n| Some((n["metadata"]["name"].as_str()?.to_string(), n)))
            .collect();
        for c in cluster.list(GROUP_VERSION, "CephCluster", None, "") {
            self.reconcile_cluster(cluster, &c, &nodes, now);
        }
        for p in cluster.list(GROUP_VERSION, "CephBlockPool", None, "") {
            self.reconcile_pool(cluster, &p, now);
        }
    }
}
