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
//!   PGs peer (`PG_AVAILABILITY`), then HEALTH_OK. Its backfill is not simulated as a health
//!   check, because real Ceph raises none: the data moving to a new OSD is *misplaced* (all
//!   copies still exist), and `OBJECT_MISPLACED` is a warning only with `mon_warn_on_misplaced`
//!   (default false since Nautilus; checked on Ceph 16.2.15). Rook's CephCluster status has no
//!   PG states either, so neither the lab nor a real cluster tells the rook provider when
//!   backfill ends. An OSD marked out by a purge job is different: its PGs are degraded (one copy
//!   fewer) until they backfilled elsewhere, `PG_DEGRADED` for the backfill period. Every delay
//!   is simulated time, scaled by the lab's `--time-scale`;
//! - a CephBlockPool (finalizer `cephblockpool.ceph.rook.io`) waits for its cluster to be
//!   Ready, is refused (phase Failure, as Rook) with size 1 and `requireSafeReplicaSize`; else
//!   phase Ready — also with a size its failure domains cannot hold, as Rook and Ceph do;
//! - deleting a CephCluster waits while pools remain in its namespace, as Rook does.
//!
//! Status is written as Rook writes it (`phase`, `message`, `ceph.health`, `ceph.details`,
//! `ceph.capacity`, `ceph.fsid`, `storage.osd.storeType`, `observedGeneration`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use brick_k8s_sim::{Cluster, Controller, Event, VOLUMES_ANNOTATION};
use serde_json::{Value as Json, json};

const MANAGER: &str = "rook";
const GROUP_VERSION: &str = "ceph.rook.io/v1";
const CLUSTER_FINALIZER: &str = "cephcluster.ceph.rook.io";
const POOL_FINALIZER: &str = "cephblockpool.ceph.rook.io";

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
#[derive(Default)]
pub struct RookOperator {
    pub timings: Timings,
    state: Mutex<State>,
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
            let down = total - up.len();
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
