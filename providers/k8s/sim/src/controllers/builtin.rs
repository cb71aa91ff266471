//! The built-in controllers: what kube-controller-manager and KWOK do that brick's waits
//! depend on. Namespaces get their `default` ServiceAccount and `kube-root-ca.crt`, and are
//! emptied and finalized when deleted; the garbage collector follows ownerReferences
//! (background, foreground, orphan); Deployments, StatefulSets, DaemonSets and ReplicaSets
//! roll out (status becomes complete after a simulated delay); pods are scheduled onto Ready
//! nodes and run; PodDisruptionBudgets count healthy pods; CRD deletion removes the custom
//! objects. Also the eviction subresource, which honours PodDisruptionBudgets.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Cluster, Controller};
use crate::error::ApiError;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{DeleteOptions, Event, Store, now, upsert_condition};

const KCM: &str = "kube-controller-manager";

/// The built-in controllers, in the order they should start.
pub fn builtin_controllers() -> Vec<Arc<dyn Controller>> {
    vec![
        Arc::new(Namespaces::default()),
        Arc::new(GarbageCollector::default()),
        Arc::new(Workloads::default()),
        Arc::new(Pods::default()),
        Arc::new(Disruption::default()),
        Arc::new(CrdCleanup::default()),
    ]
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn finalizers(o: &Value) -> Vec<String> {
    o["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn without_finalizer(mut o: Value, f: &str) -> Value {
    let left: Vec<String> = finalizers(&o).into_iter().filter(|x| x != f).collect();
    o["metadata"]["finalizers"] = json!(left);
    o
}

fn deleting(o: &Value) -> bool {
    o["metadata"].get("deletionTimestamp").is_some()
}

/// Marks work to do when an event of interest arrives; a tick with nothing marked is free.
#[derive(Default)]
struct Dirty(AtomicBool);

impl Dirty {
    fn mark(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn take(&self) -> bool {
        self.0.swap(false, Ordering::SeqCst)
    }
}

/// Namespace lifecycle: default ServiceAccount and root CA on creation; on deletion, every
/// object in it is deleted, then the `kubernetes` finalizer is removed and the namespace goes.
#[derive(Default)]
pub struct Namespaces {
    dirty: Dirty,
}

#[async_trait]
impl Controller for Namespaces {
    fn name(&self) -> &str {
        "namespace-controller"
    }
    async fn on_event(&self, _c: &Cluster, e: &Event) {
        if e.resource == "namespaces" || !e.namespace().is_empty() {
            self.dirty.mark();
        }
    }
    async fn tick(&self, c: &Cluster) {
        if !self.dirty.take() {
            return;
        }
        for ns in c.list("v1", "Namespace", None, "") {
            let name = s(&ns["metadata"]["name"]).to_string();
            if !deleting(&ns) {
                if c.get("v1", "ServiceAccount", &name, "default").is_none() {
                    let _ = c.create(
                        KCM,
                        json!({"apiVersion": "v1", "kind": "ServiceAccount",
                            "metadata": {"name": "default", "namespace": name}}),
                    );
                }
                if c.get("v1", "ConfigMap", &name, "kube-root-ca.crt")
                    .is_none()
                {
                    let _ = c.create(
                        KCM,
                        json!({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "kube-root-ca.crt", "namespace": name,
                                "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                            "data": {"ca.crt": c.ca_pem().unwrap_or("")}}),
                    );
                }
                continue;
            }
            // Terminating: delete the contents, then finalize.
            let mut left = 0;
            for (rt, o) in c.store().all() {
                if !rt.namespaced || s(&o["metadata"]["namespace"]) != name {
                    continue;
                }
                left += 1;
                if !deleting(&o) {
                    let _ = c.store().delete(
                        &rt,
                        &name,
                        s(&o["metadata"]["name"]),
                        &DeleteOptions::default(),
                    );
                }
            }
            let mut status = ns["status"].clone();
            let conds = [
                (
                    "NamespaceDeletionDiscoveryFailure",
                    "False",
                    "ResourcesDiscovered",
                    "All resources successfully discovered",
                ),
                (
                    "NamespaceDeletionGroupVersionParsingFailure",
                    "False",
                    "ParsedGroupVersions",
                    "All legacy kube types successfully parsed",
                ),
                (
                    "NamespaceDeletionContentFailure",
                    "False",
                    "ContentDeleted",
                    "All content successfully deleted, may be waiting on finalization",
                ),
                (
                    "NamespaceContentRemaining",
                    if left > 0 { "True" } else { "False" },
                    if left > 0 {
                        "SomeResourcesRemain"
                    } else {
                        "ContentRemoved"
                    },
                    if left > 0 {
                        "Some resources are remaining"
                    } else {
                        "All content successfully removed"
                    },
                ),
                (
                    "NamespaceFinalizersRemaining",
                    "False",
                    "ContentHasNoFinalizers",
                    "All content-preserving finalizers finished",
                ),
            ];
            for (t, st, r, m) in conds {
                status["conditions"] = upsert_condition(&status["conditions"], t, st, r, m);
            }
            if status != ns["status"] {
                let mut n = ns.clone();
                n["status"] = status;
                let _ = c.update_status(KCM, n);
            }
            if left == 0 {
                if let Some(mut n) = c.get("v1", "Namespace", "", &name) {
                    n["spec"]["finalizers"] = json!([]);
                    let _ = c.update_sub(KCM, n, Some("finalize"));
                }
            } else {
                self.dirty.mark();
            }
        }
    }
}

/// Garbage collection by ownerReferences: dependents of a vanished owner are deleted (or lose
/// the reference when other owners remain); foreground deletion waits for dependents; orphan
/// deletion strips the references first.
#[derive(Default)]
pub struct GarbageCollector {
    dirty: Dirty,
}

#[async_trait]
impl Controller for GarbageCollector {
    fn name(&self) -> &str {
        "garbage-collector"
    }
    async fn on_event(&self, _c: &Cluster, e: &Event) {
        if e.kind == crate::store::EventType::Deleted
            || deleting(&e.object)
            || e.object["metadata"].get("ownerReferences").is_some()
        {
            self.dirty.mark();
        }
    }
    async fn tick(&self, c: &Cluster) {
        if !self.dirty.take() {
            return;
        }
        let all = c.store().all();
        let by_uid: HashMap<String, &Value> = all
            .iter()
            .map(|(_, o)| (s(&o["metadata"]["uid"]).to_string(), o))
            .collect();
        let mut dependents: HashMap<String, usize> = HashMap::new();
        for (rt, o) in &all {
            let refs = o["metadata"]["ownerReferences"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if refs.is_empty() {
                continue;
            }
            let ns = s(&o["metadata"]["namespace"]).to_string();
            let name = s(&o["metadata"]["name"]).to_string();
            let mut alive = Vec::new();
            let mut orphaned = false;
            let mut foreground = false;
            for r in &refs {
                match by_uid.get(s(&r["uid"])) {
                    None => {}
                    Some(owner)
                        if deleting(owner) && finalizers(owner).iter().any(|f| f == "orphan") =>
                    {
                        orphaned = true;
                    }
                    Some(owner) => {
                        if deleting(owner)
                            && finalizers(owner).iter().any(|f| f == "foregroundDeletion")
                        {
                            foreground = true;
                        }
                        *dependents.entry(s(&r["uid"]).to_string()).or_default() += 1;
                        alive.push(r.clone());
                    }
                }
            }
            if alive.is_empty() || (foreground && alive.len() == 1) {
                if !deleting(o) {
                    let prop = if foreground {
                        crate::store::Propagation::Foreground
                    } else {
                        crate::store::Propagation::Background
                    };
                    let _ = c.store().delete(
                        rt,
                        &ns,
                        &name,
                        &DeleteOptions {
                            propagation: Some(prop),
                            ..DeleteOptions::default()
                        },
                    );
                }
                if orphaned && alive.is_empty() {
                    let mut n = o.clone();
                    n["metadata"]["ownerReferences"] = json!([]);
                    let _ = c.update(KCM, n);
                }
                self.dirty.mark();
            } else if alive.len() != refs.len() || orphaned {
                let mut n = o.clone();
                n["metadata"]["ownerReferences"] = Value::Array(alive);
                let _ = c.update(KCM, n);
                self.dirty.mark();
            }
        }
        for (_, o) in &all {
            if !deleting(o) {
                continue;
            }
            let f = finalizers(o);
            let uid = s(&o["metadata"]["uid"]);
            let waiting = dependents.get(uid).copied().unwrap_or(0);
            if f.iter().any(|x| x == "orphan") && waiting == 0 {
                let _ = c.update(KCM, without_finalizer(o.clone(), "orphan"));
                self.dirty.mark();
            } else if f.iter().any(|x| x == "foregroundDeletion") && waiting == 0 {
                let _ = c.update(KCM, without_finalizer(o.clone(), "foregroundDeletion"));
                self.dirty.mark();
            } else if waiting > 0 {
                self.dirty.mark();
            }
        }
    }
}

/// Workload rollouts: after the simulated rollout time, a Deployment's, StatefulSet's,
/// DaemonSet's or ReplicaSet's status reports every replica updated, ready and available for
/// the current generation (what kstatus and `kubectl rollout status` wait for).
pub struct Workloads {
    /// Simulated time a rollout takes.
    pub rollout: Duration,
    started: Mutex<HashMap<(String, i64), Instant>>,
    dirty: Dirty,
}

impl Default for Workloads {
    fn default() -> Self {
        Workloads {
            rollout: Duration::from_secs(5),
            started: Mutex::new(HashMap::new()),
            dirty: Dirty::default(),
        }
    }
}

fn replicas_of(kind: &str, o: &Value, nodes: i64) -> i64 {
    if kind == "DaemonSet" {
        nodes
    } else {
        o["spec"]["replicas"].as_i64().unwrap_or(1)
    }
}

#[async_trait]
impl Controller for Workloads {
    fn name(&self) -> &str {
        "workloads"
    }
    async fn on_event(&self, _c: &Cluster, e: &Event) {
        if e.group == "apps" || e.resource == "nodes" {
            self.dirty.mark();
        }
    }
    async fn tick(&self, c: &Cluster) {
        let pending = !self.started.lock().map(|m| m.is_empty()).unwrap_or(true);
        if !self.dirty.take() && !pending {
            return;
        }
        let nodes = c
            .list("v1", "Node", None, "")
            .iter()
            .filter(|n| node_ready(n))
            .count() as i64;
        for kind in ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"] {
            for o in c.list("apps/v1", kind, None, "") {
                if deleting(&o) {
                    continue;
                }
                let generation = o["metadata"]["generation"].as_i64().unwrap_or(1);
                let uid = s(&o["metadata"]["uid"]).to_string();
                let want = replicas_of(kind, &o, nodes);
                let done = o["status"]["observedGeneration"].as_i64() == Some(generation)
                    && status_complete(kind, &o["status"], want);
                if done {
                    continue;
                }
                let started = {
                    let mut m = self.started.lock().unwrap_or_else(|p| p.into_inner());
                    m.retain(|(u, g), _| *u != uid || *g == generation);
                    *m.entry((uid.clone(), generation))
                        .or_insert_with(Instant::now)
                };
                let ready = started.elapsed() >= c.scaled(self.rollout);
                let status = workload_status(kind, &o, generation, want, ready);
                let mut n = o.clone();
                n["status"] = status;
                if n["status"] != o["status"] {
                    let _ = c.update_status(KCM, n);
                }
                if ready && let Ok(mut m) = self.started.lock() {
                    m.remove(&(uid, generation));
                }
            }
        }
    }
}

fn node_ready(n: &Value) -> bool {
    n["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    }) && n["spec"]["unschedulable"] != json!(true)
}

fn status_complete(kind: &str, st: &Value, want: i64) -> bool {
    match kind {
        "DaemonSet" => {
            st["desiredNumberScheduled"].as_i64() == Some(want)
                && st["numberReady"].as_i64() == Some(want)
                && st["updatedNumberScheduled"].as_i64() == Some(want)
        }
        _ => {
            st["replicas"].as_i64().unwrap_or(0) == want
                && st["readyReplicas"].as_i64().unwrap_or(0) == want
                && st["updatedReplicas"].as_i64().unwrap_or(0) == want
                && (kind != "Deployment" || st["availableReplicas"].as_i64().unwrap_or(0) == want)
        }
    }
}

fn workload_status(kind: &str, o: &Value, generation: i64, want: i64, ready: bool) -> Value {
    let r = if ready { want } else { 0 };
    let old = &o["status"];
    match kind {
        "Deployment" => {
            let mut conds = old["conditions"].clone();
            if ready {
                conds = upsert_condition(
                    &conds,
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                );
                conds = upsert_condition(
                    &conds,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    &format!("ReplicaSet \"{}\" has successfully progressed.", rs_name(o)),
                );
            } else {
                conds = upsert_condition(
                    &conds,
                    "Available",
                    if want == 0 { "True" } else { "False" },
                    if want == 0 {
                        "MinimumReplicasAvailable"
                    } else {
                        "MinimumReplicasUnavailable"
                    },
                    if want == 0 {
                        "Deployment has minimum availability."
                    } else {
                        "Deployment does not have minimum availability."
                    },
                );
                conds = upsert_condition(
                    &conds,
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    &format!("ReplicaSet \"{}\" is progressing.", rs_name(o)),
                );
            }
            let mut st = json!({"observedGeneration": generation, "replicas": want, "updatedReplicas": want,
                "conditions": conds});
            if r > 0 {
                st["readyReplicas"] = json!(r);
                st["availableReplicas"] = json!(r);
            }
            if want - r > 0 {
                st["unavailableReplicas"] = json!(want - r);
            }
            st
        }
        "StatefulSet" => {
            let rev = format!(
                "{}-{}",
                s(&o["metadata"]["name"]),
                &short_hash(&o["spec"]["template"])
            );
            let mut st = json!({"observedGeneration": generation, "replicas": want,
                "currentReplicas": want, "updatedReplicas": want,
                "currentRevision": rev, "updateRevision": rev, "collisionCount": 0,
                "availableReplicas": r});
            if r > 0 {
                st["readyReplicas"] = json!(r);
            }
            st
        }
        "DaemonSet" => json!({"observedGeneration": generation,
            "desiredNumberScheduled": want, "currentNumberScheduled": want,
            "updatedNumberScheduled": want, "numberReady": r, "numberAvailable": r,
            "numberMisscheduled": 0, "numberUnavailable": want - r}),
        _ => {
            let mut st = json!({"observedGeneration": generation, "replicas": want,
                "fullyLabeledReplicas": want, "availableReplicas": r});
            if r > 0 {
                st["readyReplicas"] = json!(r);
            }
            st
        }
    }
}

fn short_hash(v: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    let x = h.finish();
    let alphabet = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|i| alphabet[((x >> (i * 5)) % alphabet.len() as u64) as usize] as char)
        .collect()
}

fn rs_name(o: &Value) -> String {
    format!(
        "{}-{}",
        s(&o["metadata"]["name"]),
        &short_hash(&o["spec"]["template"])[..10]
    )
}

/// KWOK's part and the scheduler's: a pod without a node is bound to a Ready, schedulable
/// node (round robin); a bound pod runs and is Ready.
#[derive(Default)]
pub struct Pods {
    dirty: Dirty,
    next: Mutex<usize>,
}

#[async_trait]
impl Controller for Pods {
    fn name(&self) -> &str {
        "kwok"
    }
    async fn on_event(&self, _c: &Cluster, e: &Event) {
        if e.resource == "pods" || e.resource == "nodes" {
            self.dirty.mark();
        }
    }
    async fn tick(&self, c: &Cluster) {
        if !self.dirty.take() {
            return;
        }
        let nodes: Vec<String> = c
            .list("v1", "Node", None, "")
            .into_iter()
            .filter(node_ready)
            .map(|n| s(&n["metadata"]["name"]).to_string())
            .collect();
        for p in c.list("v1", "Pod", None, "") {
            if deleting(&p) {
                continue;
            }
            let ns = s(&p["metadata"]["namespace"]).to_string();
            let name = s(&p["metadata"]["name"]).to_string();
            let node = s(&p["spec"]["nodeName"]).to_string();
            if node.is_empty() {
                if nodes.is_empty() {
                    continue;
                }
                let pick = {
                    let mut n = self.next.lock().unwrap_or_else(|p| p.into_inner());
                    *n += 1;
                    nodes[*n % nodes.len()].clone()
                };
                let _ = c.merge_patch(
                    "kube-scheduler",
                    "v1",
                    "Pod",
                    &ns,
                    &name,
                    json!({"spec": {"nodeName": pick}}),
                    false,
                );
                self.dirty.mark();
                continue;
            }
            if p["status"]["phase"] == "Running" {
                continue;
            }
            let t = now();
            let cond = |ty: &str| json!({"type": ty, "status": "True", "lastProbeTime": null, "lastTransitionTime": t});
            let statuses: Vec<Value> = p["spec"]["containers"].as_array().into_iter().flatten().map(|ct| json!({
                "name": ct["name"], "image": ct["image"], "imageID": "", "ready": true, "restartCount": 0,
                "started": true, "state": {"running": {"startedAt": t}}})).collect();
            let status = json!({"phase": "Running", "conditions": [cond("Initialized"), cond("Ready"),
                cond("ContainersReady"), cond("PodScheduled")], "hostIP": "10.0.0.1",
                "podIP": format!("10.244.0.{}", 2 + (short_hash(&p["metadata"]["uid"]).len() % 250)),
                "startTime": t, "containerStatuses": statuses, "qosClass": "BestEffort"});
            let _ = c.merge_patch(
                "kubelet",
                "v1",
                "Pod",
                &ns,
                &name,
                json!({"status": status}),
                true,
            );
        }
    }
}

fn pod_healthy(p: &Value) -> bool {
    !deleting(p)
        && p["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// The numbers of a PodDisruptionBudget: (expected, healthy, desired healthy, allowed).
fn pdb_numbers(store: &Store, pdb: &Value) -> (i64, i64, i64, i64) {
    let ns = s(&pdb["metadata"]["namespace"]);
    let sel = LabelSelector::from_object(&pdb["spec"]["selector"]);
    let Some(rt) = store.resource("", "pods") else {
        return (0, 0, 0, 0);
    };
    let pods: Vec<Value> = store
        .list(
            &rt,
            Some(ns),
            &LabelSelector::default(),
            &FieldSelector::default(),
        )
        .0
        .into_iter()
        .filter(|p| sel.matches(p["metadata"].get("labels")))
        .collect();
    let expected = pods.len() as i64;
    let healthy = pods.iter().filter(|p| pod_healthy(p)).count() as i64;
    let resolve = |v: &Value| -> i64 {
        match v {
            Value::String(pct) if pct.ends_with('%') => {
                let p: f64 = pct.trim_end_matches('%').parse().unwrap_or(0.0);
                (p * expected as f64 / 100.0).ceil() as i64
            }
            other => other.as_i64().unwrap_or(0),
        }
    };
    let desired = if let Some(min) = pdb["spec"].get("minAvailable") {
        resolve(min)
    } else if let Some(max) = pdb["spec"].get("maxUnavailable") {
        (expected - resolve(max)).max(0)
    } else {
        0
    };
    (expected, healthy, desired, (healthy - desired).max(0))
}

/// The disruption controller: each PodDisruptionBudget's status.
#[derive(Default)]
pub struct Disruption {
    dirty: Dirty,
}

#[async_trait]
impl Controller for Disruption {
    fn name(&self) -> &str {
        "disruption"
    }
    async fn on_event(&self, _c: &Cluster, e: &Event) {
        if e.resource == "pods" || e.resource == "poddisruptionbudgets" {
            self.dirty.mark();
        }
    }
    async fn tick(&self, c: &Cluster) {
        if !self.dirty.take() {
            return;
        }
        for pdb in c.list("policy/v1", "PodDisruptionBudget", None, "") {
            let (expected, healthy, desired, allowed) = pdb_numbers(c.store(), &pdb);
            let conds = upsert_condition(
                &pdb["status"]["conditions"],
                "DisruptionAllowed",
                if allowed > 0 { "True" } else { "False" },
                if allowed > 0 {
                    "SufficientPods"
                } else {
                    "InsufficientPods"
                },
                "",
            );
            let st = json!({"observedGeneration": pdb["metadata"]["generation"], "disruptionsAllowed": allowed,
                "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                "conditions": conds});
            if st != pdb["status"] {
                let mut n = pdb.clone();
                n["status"] = st;
                let _ = c.update_status(KCM, n);
            }
        }
    }
}

/// CRD deletion: the custom objects go, then the cleanup finalizer is removed.
#[derive(Default)]
pub struct CrdCleanup {
    dirty: Dirty,
}

#[async_trait]
impl Controller for CrdCleanup {
    fn name(&self) -> &str {
        "apiextensions-finalizer"
    }
    async fn on_event(&self, _c: &Cluster, e: &Event) {
        if e.resource == "customresourcedefinitions" && deleting(&e.object) {
            self.dirty.mark();
        }
    }
    async fn tick(&self, c: &Cluster) {
        if !self.dirty.take() {
            return;
        }
        for crd in c.list(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            "",
        ) {
            if !deleting(&crd) {
                continue;
            }
            let name = s(&crd["metadata"]["name"]).to_string();
            let mut left = 0;
            let mut seen = HashSet::new();
            for (rt, o) in c.store().all() {
                if rt.crd.as_deref() != Some(&name)
                    || !seen.insert(s(&o["metadata"]["uid"]).to_string())
                {
                    continue;
                }
                left += 1;
                if !deleting(&o) {
                    let _ = c.store().delete(
                        &rt,
                        s(&o["metadata"]["namespace"]),
                        s(&o["metadata"]["name"]),
                        &DeleteOptions::default(),
                    );
                }
            }
            if left == 0 {
                let _ = c.update(
                    KCM,
                    without_finalizer(crd.clone(), "customresourcecleanup.apiextensions.k8s.io"),
                );
            } else {
                self.dirty.mark();
            }
        }
    }
}

/// The eviction subresource: deletes the pod unless a PodDisruptionBudget forbids it (429).
pub fn evict(store: &Store, ns: &str, name: &str, _eviction: &Value) -> Result<(), ApiError> {
    let pods = store
        .resource("", "pods")
        .ok_or_else(|| ApiError::not_found("pods", "", name))?;
    let pod = store.get(&pods, ns, name)?;
    if let Some(pdbs) = store.resource("policy", "poddisruptionbudgets") {
        let list = store
            .list(
                &pdbs,
                Some(ns),
                &LabelSelector::default(),
                &FieldSelector::default(),
            )
            .0;
        let matching: Vec<&Value> = list
            .iter()
            .filter(|b| {
                LabelSelector::from_object(&b["spec"]["selector"])
                    .matches(pod["metadata"].get("labels"))
            })
            .collect();
        if matching.len() > 1 {
            return Err(ApiError::new(
                500,
                "InternalError",
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
        if let Some(pdb) = matching.first()
            && pod_healthy(&pod)
        {
            let (_, healthy, desired, allowed) = pdb_numbers(store, pdb);
            if allowed <= 0 {
                let pdb_name = s(&pdb["metadata"]["name"]);
                return Err(ApiError::new(429, "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.")
                    .with_details(json!({"causes": [{"reason": "DisruptionBudget",
                        "message": format!("The disruption budget {pdb_name} needs {desired} healthy pods and has {healthy} currently")}]})));
            }
        }
    }
    store.delete(&pods, ns, name, &DeleteOptions::default())?;
    Ok(())
}
