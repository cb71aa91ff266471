//! The workload controllers of kube-controller-manager, simplified: a Deployment gets a
//! ReplicaSet per pod template (old ones scaled to zero), a ReplicaSet, StatefulSet or
//! DaemonSet gets its pods (owned through ownerReferences), and each reports in its status
//! the pods that are ready — so rollouts complete when the pods run (see the kwok controller)
//! and wait on Nodes being there, as on a real cluster.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::builtin::{Dirty, KCM, REACT, deleting, node_ready, pod_ready, s, short_hash};
use super::{Cluster, Controller};
use crate::store::{now, upsert_condition};

/// Deployments, ReplicaSets, StatefulSets and DaemonSets.
#[derive(Default)]
pub struct Workloads {
    dirty: Dirty,
    counter: Mutex<u64>,
}

fn owner_ref(o: &Value) -> Value {
    json!({"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"],
        "uid": o["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true})
}

fn owned_by<'a>(items: &'a [Value], owner: &Value) -> Vec<&'a Value> {
    let uid = &owner["metadata"]["uid"];
    items
        .iter()
        .filter(|i| {
            i["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| &r["uid"] == uid))
        })
        .collect()
}

fn replicas(o: &Value) -> i64 {
    o["spec"]["replicas"].as_i64().unwrap_or(1)
}

impl Workloads {
    fn suffix(&self, seed: &Value) -> String {
        let mut n = self.counter.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        short_hash(&json!([seed, *n]))[..5].to_string()
    }

    /// Creates or deletes pods owned by `owner` until `want` are alive.
    fn ensure_pods(
        &self,
        c: &Cluster,
        owner: &Value,
        pods: &[&Value],
        want: i64,
        extra_labels: &Value,
    ) {
        let ns = s(&owner["metadata"]["namespace"]).to_string();
        let alive: Vec<&&Value> = pods.iter().filter(|p| !deleting(p)).collect();
        let have = alive.len() as i64;
        for _ in have..want {
            let name = format!("{}-{}", s(&owner["metadata"]["name"]), self.suffix(owner));
            let _ = c.create(
                KCM,
                pod_from_template(owner, &name, &ns, extra_labels, None),
            );
        }
        if have > want {
            let mut by_age: Vec<&&Value> = alive;
            by_age.sort_by_key(|p| {
                std::cmp::Reverse(s(&p["metadata"]["creationTimestamp"]).to_string())
            });
            for p in by_age.into_iter().take((have - want) as usize) {
                let _ = c.delete("v1", "Pod", &ns, s(&p["metadata"]["name"]));
            }
        }
    }
}

fn pod_from_template(
    owner: &Value,
    name: &str,
    ns: &str,
    extra_labels: &Value,
    node: Option<&str>,
) -> Value {
    let t = &owner["spec"]["template"];
    let mut labels = t["metadata"]["labels"].clone();
    if let Some(m) = extra_labels.as_object() {
        for (k, v) in m {
            labels[k] = v.clone();
        }
    }
    let mut meta = json!({"name": name, "namespace": ns, "labels": labels,
        "ownerReferences": [owner_ref(owner)]});
    if let Some(a) = t["metadata"].get("annotations") {
        meta["annotations"] = a.clone();
    }
    let mut spec = t["spec"].clone();
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
}

fn resolve(v: &Value, total: i64, round_up: bool) -> i64 {
    match v {
        Value::String(p) if p.ends_with('%') => {
            let pct: f64 = p.trim_end_matches('%').parse().unwrap_or(0.0);
            let x = pct * total as f64 / 100.0;
            (if round_up { x.ceil() } else { x.floor() }) as i64
        }
        other => other.as_i64().unwrap_or(0),
    }
}

#[async_trait]
impl Controller for Workloads {
    fn name(&self) -> &str {
        "workloads"
    }
    fn period(&self) -> Duration {
        REACT
    }
    async fn on_event(&self, _c: &Cluster, e: &crate::store::Event) {
        if e.group == "apps" || e.resource == "pods" || e.resource == "nodes" {
            self.dirty.mark();
        }
    }
    async fn tick(&self, c: &Cluster) {
        if !self.dirty.take() {
            return;
        }
        let pods = c.list("v1", "Pod", None, "");
        let sets = c.list("apps/v1", "ReplicaSet", None, "");
        for d in c.list("apps/v1", "Deployment", None, "") {
            if !deleting(&d) {
                self.deployment(c, &d, &sets, &pods);
            }
        }
        let sets = c.list("apps/v1", "ReplicaSet", None, "");
        for rs in &sets {
            if deleting(rs) {
                continue;
            }
            let mine = owned_by(&pods, rs);
            let hash = rs["metadata"]["labels"]["pod-template-hash"].clone();
            let extra = if hash.is_null() {
                json!({})
            } else {
                json!({"pod-template-hash": hash})
            };
            self.ensure_pods(c, rs, &mine, replicas(rs), &extra);
            let ready = mine.iter().filter(|p| pod_ready(p)).count() as i64;
            let alive = mine.iter().filter(|p| !deleting(p)).count() as i64;
            let mut st = json!({"replicas": alive, "fullyLabeledReplicas": alive,
                "observedGeneration": rs["metadata"]["generation"]});
            if ready > 0 {
                st["readyReplicas"] = json!(ready);
                st["availableReplicas"] = json!(ready);
            }
            st["terminatingReplicas"] = json!(mine.len() as i64 - alive);
            write_status(c, rs, st);
        }
        for sts in c.list("apps/v1", "StatefulSet", None, "") {
            if deleting(&sts) {
                continue;
            }
            let ns = s(&sts["metadata"]["namespace"]).to_string();
            let name = s(&sts["metadata"]["name"]).to_string();
            let mine = owned_by(&pods, &sts);
            let want = replicas(&sts);
            let rev = format!("{name}-{}", short_hash(&sts["spec"]["template"]));
            for i in 0..want {
                let pod = format!("{name}-{i}");
                if !mine.iter().any(|p| s(&p["metadata"]["name"]) == pod) {
                    let extra = json!({"controller-revision-hash": rev,
                        "statefulset.kubernetes.io/pod-name": pod,
                        "apps.kubernetes.io/pod-index": i.to_string()});
                    let _ = c.create(KCM, pod_from_template(&sts, &pod, &ns, &extra, None));
                }
            }
            for p in &mine {
                let ordinal: i64 = s(&p["metadata"]["name"])
                    .rsplit('-')
                    .next()
                    .and_then(|o| o.parse().ok())
                    .unwrap_or(0);
                if ordinal >= want && !deleting(p) {
                    let _ = c.delete("v1", "Pod", &ns, s(&p["metadata"]["name"]));
                }
            }
            let ready = mine.iter().filter(|p| pod_ready(p)).count() as i64;
            let alive = mine.iter().filter(|p| !deleting(p)).count() as i64;
            let mut st = json!({"observedGeneration": sts["metadata"]["generation"], "replicas": alive,
                "currentReplicas": alive, "updatedReplicas": alive, "currentRevision": rev,
                "updateRevision": rev, "collisionCount": 0, "availableReplicas": ready});
            if ready > 0 {
                st["readyReplicas"] = json!(ready);
            }
            write_status(c, &sts, st);
        }
        let nodes: Vec<String> = c
            .list("v1", "Node", None, "")
            .iter()
            .filter(|n| node_ready(n))
            .map(|n| s(&n["metadata"]["name"]).to_string())
            .collect();
        for ds in c.list("apps/v1", "DaemonSet", None, "") {
            if deleting(&ds) {
                continue;
            }
            let ns = s(&ds["metadata"]["namespace"]).to_string();
            let mine = owned_by(&pods, &ds);
            let hash = short_hash(&ds["spec"]["template"]);
            for node in &nodes {
                if !mine.iter().any(|p| s(&p["spec"]["nodeName"]) == node) {
                    let name = format!("{}-{}", s(&ds["metadata"]["name"]), self.suffix(&ds));
                    let extra = json!({"controller-revision-hash": hash});
                    let _ = c.create(KCM, pod_from_template(&ds, &name, &ns, &extra, Some(node)));
                }
            }
            let want = nodes.len() as i64;
            let ready = mine.iter().filter(|p| pod_ready(p)).count() as i64;
            let scheduled = mine.iter().filter(|p| !deleting(p)).count() as i64;
            let st = json!({"observedGeneration": ds["metadata"]["generation"],
                "desiredNumberScheduled": want, "currentNumberScheduled": scheduled,
                "updatedNumberScheduled": scheduled, "numberReady": ready, "numberAvailable": ready,
                "numberMisscheduled": 0, "numberUnavailable": (want - ready).max(0)});
            write_status(c, &ds, st);
        }
    }
}

impl Workloads {
    fn deployment(&self, c: &Cluster, d: &Value, sets: &[Value], pods: &[Value]) {
        let ns = s(&d["metadata"]["namespace"]).to_string();
        let name = s(&d["metadata"]["name"]).to_string();
        let hash = short_hash(&d["spec"]["template"]);
        let rs_name = format!("{name}-{hash}");
        let want = replicas(d);
        let mine = owned_by(sets, d);
        // The revision: 1, then one more per new template.
        let revision: u64 = mine
            .iter()
            .filter_map(|r| {
                r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
            })
            .max()
            .unwrap_or(0);
        let current = mine.iter().find(|r| s(&r["metadata"]["name"]) == rs_name);
        let rev = match current {
            Some(r) => r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(revision.max(1)),
            None => revision + 1,
        };
        match current {
            None => {
                let mut selector = d["spec"]["selector"].clone();
                selector["matchLabels"]["pod-template-hash"] = json!(hash);
                let mut template = d["spec"]["template"].clone();
                template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                let mut labels = d["spec"]["template"]["metadata"]["labels"].clone();
                labels["pod-template-hash"] = json!(hash);
                let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": rs_name, "namespace": ns, "labels": labels,
                        "annotations": {"deployment.kubernetes.io/desired-replicas": want.to_string(),
                            "deployment.kubernetes.io/max-replicas": want.to_string(),
                            "deployment.kubernetes.io/revision": rev.to_string()},
                        "ownerReferences": [owner_ref(d)]},
                    "spec": {"replicas": want, "selector": selector, "template": template}});
                let _ = c.create(KCM, rs);
            }
            Some(r) if replicas(r) != want => {
                let _ = c.merge_patch(
                    KCM,
                    "apps/v1",
                    "ReplicaSet",
                    &ns,
                    &rs_name,
                    json!({"spec": {"replicas": want}}),
                    false,
                );
            }
            _ => {}
        }
        for old in mine.iter().filter(|r| s(&r["metadata"]["name"]) != rs_name) {
            if replicas(old) != 0 {
                let _ = c.merge_patch(
                    KCM,
                    "apps/v1",
                    "ReplicaSet",
                    &ns,
                    s(&old["metadata"]["name"]),
                    json!({"spec": {"replicas": 0}}),
                    false,
                );
            }
        }
        // Status from the pods of every owned ReplicaSet.
        let mut total = 0;
        let mut updated = 0;
        let mut ready = 0;
        for r in &mine {
            let ps = owned_by(pods, r);
            let alive = ps.iter().filter(|p| !deleting(p)).count() as i64;
            total += alive;
            ready += ps.iter().filter(|p| pod_ready(p)).count() as i64;
            if s(&r["metadata"]["name"]) == rs_name {
                updated = alive;
            }
        }
        let max_unavailable = resolve(
            &d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
            want,
            false,
        );
        let available_ok = ready >= want - max_unavailable;
        let complete = updated == want && ready == want && total == want;
        let old = &d["status"];
        let mut conds = old["conditions"].clone();
        conds = upsert_condition(
            &conds,
            "Available",
            if available_ok { "True" } else { "False" },
            if available_ok {
                "MinimumReplicasAvailable"
            } else {
                "MinimumReplicasUnavailable"
            },
            if available_ok {
                "Deployment has minimum availability."
            } else {
                "Deployment does not have minimum availability."
            },
        );
        conds = upsert_condition(
            &conds,
            "Progressing",
            "True",
            if complete {
                "NewReplicaSetAvailable"
            } else {
                "ReplicaSetUpdated"
            },
            &if complete {
                format!("ReplicaSet \"{rs_name}\" has successfully progressed.")
            } else {
                format!("ReplicaSet \"{rs_name}\" is progressing.")
            },
        );
        let conds = super::builtin::with_update_time(conds, &old["conditions"]);
        let mut st = json!({"observedGeneration": d["metadata"]["generation"], "replicas": total,
            "updatedReplicas": updated});
        if ready > 0 {
            st["readyReplicas"] = json!(ready);
            st["availableReplicas"] = json!(ready);
        }
        if want - ready > 0 {
            st["unavailableReplicas"] = json!(want - ready);
        }
        st["terminatingReplicas"] = json!(0);
        st["conditions"] = conds;
        let mut n = d.clone();
        n["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!(rev.to_string());
        n["status"] = st;
        if n != *d {
            let _ = c.update_status(KCM, n);
        }
        let _ = now;
    }
}

fn write_status(c: &Cluster, o: &Value, st: Value) {
    if o["status"] != st {
        let mut n = o.clone();
        n["status"] = st;
        let _ = c.update_status(KCM, n);
    }
}
