//! Readiness of a live object, after the kstatus rules of sigs.k8s.io/cli-utils (what kpt and
//! Flux use): workloads rolled out, Jobs complete, CRDs established, Namespaces active, PVCs
//! bound, other objects by `status.conditions` (Ready) and `status.observedGeneration`; and the
//! user's own `wait` rules, which replace them.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::convert::json_path;

/// Where an object stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Ready,
    /// Not yet; what it is waiting for.
    Waiting(String),
    /// It will not become ready by itself.
    Failed(String),
}

/// The user's `wait` block.
#[derive(Clone, Debug, Default)]
pub struct Wait {
    pub conditions: Vec<(String, String)>,
    pub fields: BTreeMap<String, String>,
    pub rollout: bool,
}

impl Wait {
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty() && self.fields.is_empty() && !self.rollout
    }
}

/// The object's status under the `wait` rules, or kstatus when there are none.
pub fn status(obj: &Json, wait: &Wait) -> Status {
    if wait.is_empty() {
        return kstatus(obj);
    }
    for (ty, want) in &wait.conditions {
        match condition(obj, ty) {
            Some((s, _)) if s == *want => {}
            Some((s, msg)) => {
                return Status::Waiting(format!("condition {ty} is {s}{}", suffix(&msg)));
            }
            None => return Status::Waiting(format!("condition {ty} not reported yet")),
        }
    }
    for (path, want) in &wait.fields {
        let got = json_path(obj, path).map(scalar);
        if got.as_deref() != Some(want.as_str()) {
            return Status::Waiting(format!(
                "{path} is {}, waiting for {want}",
                got.unwrap_or_else(|| "unset".into())
            ));
        }
    }
    if wait.rollout {
        return rollout(obj).unwrap_or(Status::Ready);
    }
    Status::Ready
}

fn suffix(msg: &str) -> String {
    if msg.is_empty() {
        String::new()
    } else {
        format!(": {msg}")
    }
}

fn scalar(j: &Json) -> String {
    match j {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A condition's status and message.
fn condition(obj: &Json, ty: &str) -> Option<(String, String)> {
    let conds = obj.pointer("/status/conditions")?.as_array()?;
    let c = conds
        .iter()
        .find(|c| c.get("type").and_then(Json::as_str) == Some(ty))?;
    Some((
        c.get("status")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string(),
        c.get("message")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string(),
    ))
}

fn int(obj: &Json, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Json::as_i64)
}

/// Whether the controller has seen the latest spec.
fn observed(obj: &Json) -> Option<Status> {
    let generation = int(obj, "/metadata/generation")?;
    match int(obj, "/status/observedGeneration") {
        Some(o) if o >= generation => None,
        Some(_) => Some(Status::Waiting(format!(
            "the controller has not yet observed generation {generation}"
        ))),
        None => None,
    }
}

/// kstatus's rules by kind.
pub fn kstatus(obj: &Json) -> Status {
    let kind = obj.get("kind").and_then(Json::as_str).unwrap_or("");
    let group = obj
        .get("apiVersion")
        .and_then(Json::as_str)
        .and_then(|v| v.rsplit_once('/').map(|(g, _)| g))
        .unwrap_or("");
    if let Some(s) = rollout(obj) {
        return s;
    }
    match (group, kind) {
        ("batch", "Job") => {
            if condition(obj, "Complete").is_some_and(|(s, _)| s == "True") {
                Status::Ready
            } else if let Some((s, m)) = condition(obj, "Failed")
                && s == "True"
            {
                Status::Failed(format!("the Job failed{}", suffix(&m)))
            } else {
                Status::Waiting("the Job to complete".into())
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            if let Some((s, m)) = condition(obj, "NamesAccepted")
                && s == "False"
            {
                return Status::Failed(format!("its names were not accepted{}", suffix(&m)));
            }
            match condition(obj, "Established") {
                Some((s, _)) if s == "True" => Status::Ready,
                _ => Status::Waiting("condition Established".into()),
            }
        }
        ("", "Namespace") => phase(obj, "Active"),
        ("", "PersistentVolumeClaim") => phase(obj, "Bound"),
        ("", "Pod") => match json_path(obj, "status.phase").and_then(Json::as_str) {
            Some("Succeeded") => Status::Ready,
            Some("Failed") => Status::Failed("the Pod failed".into()),
            Some("Running") if condition(obj, "Ready").is_some_and(|(s, _)| s == "True") => {
                Status::Ready
            }
            p => Status::Waiting(format!("the Pod is {}", p.unwrap_or("Pending"))),
        },
        _ => generic(obj),
    }
}

fn phase(obj: &Json, want: &str) -> Status {
    match json_path(obj, "status.phase").and_then(Json::as_str) {
        Some(p) if p == want => Status::Ready,
        p => Status::Waiting(format!("phase {want} (now {})", p.unwrap_or("unset"))),
    }
}

/// The rollout of a Deployment, StatefulSet or DaemonSet (`None` for other kinds).
fn rollout(obj: &Json) -> Option<Status> {
    let kind = obj.get("kind").and_then(Json::as_str).unwrap_or("");
    if !matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet") {
        return None;
    }
    if obj.get("status").is_none() || int(obj, "/status/observedGeneration").is_none() {
        return Some(Status::Waiting(format!(
            "the {kind} controller to report status"
        )));
    }
    if let Some(s) = observed(obj) {
        return Some(s);
    }
    let want = int(obj, "/spec/replicas").unwrap_or(1);
    let st = |k: &str| int(obj, &format!("/status/{k}")).unwrap_or(0);
    Some(match kind {
        "Deployment" => {
            if condition(obj, "Progressing")
                .is_some_and(|(_, m)| m.contains("ProgressDeadlineExceeded"))
            {
                Status::Failed("progress deadline exceeded".into())
            } else if st("updatedReplicas") < want {
                Status::Waiting(format!(
                    "{} of {want} replicas updated",
                    st("updatedReplicas")
                ))
            } else if st("availableReplicas") < want {
                Status::Waiting(format!(
                    "{} of {want} replicas available",
                    st("availableReplicas")
                ))
            } else if st("replicas") > want {
                Status::Waiting(format!(
                    "{} old replicas to terminate",
                    st("replicas") - want
                ))
            } else {
                Status::Ready
            }
        }
        "StatefulSet" => {
            if st("readyReplicas") < want {
                Status::Waiting(format!("{} of {want} replicas ready", st("readyReplicas")))
            } else if obj
                .pointer("/spec/updateStrategy/type")
                .and_then(Json::as_str)
                != Some("OnDelete")
                && obj.pointer("/status/updateRevision") != obj.pointer("/status/currentRevision")
            {
                Status::Waiting("the update to roll out".into())
            } else {
                Status::Ready
            }
        }
        _ => {
            let desired = st("desiredNumberScheduled");
            if st("updatedNumberScheduled") < desired {
                Status::Waiting(format!(
                    "{} of {desired} pods updated",
                    st("updatedNumberScheduled")
                ))
            } else if st("numberAvailable") < desired {
                Status::Waiting(format!(
                    "{} of {desired} pods available",
                    st("numberAvailable")
                ))
            } else {
                Status::Ready
            }
        }
    })
}

/// Any other kind: observedGeneration current, then the Ready condition when there is one.
fn generic(obj: &Json) -> Status {
    if let Some(s) = observed(obj) {
        return s;
    }
    if let Some((s, m)) = condition(obj, "Stalled")
        && s == "True"
    {
        return Status::Failed(format!("Stalled{}", suffix(&m)));
    }
    if let Some((s, m)) = condition(obj, "Reconciling")
        && s == "True"
    {
        return Status::Waiting(format!("Reconciling{}", suffix(&m)));
    }
    match condition(obj, "Ready") {
        Some((s, _)) if s == "True" => Status::Ready,
        Some((s, m)) => Status::Waiting(format!("condition Ready is {s}{}", suffix(&m))),
        None => Status::Ready,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_config_map_is_ready_at_once_and_a_deployment_without_status_is_not() {
        assert_eq!(
            kstatus(&json!({"apiVersion": "v1", "kind": "ConfigMap"})),
            Status::Ready
        );
        assert!(matches!(
            kstatus(
                &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": 1}})
            ),
            Status::Waiting(_)
        ));
    }

    #[test]
    fn a_rolled_out_deployment_is_ready() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}});
        assert_eq!(kstatus(&d), Status::Ready);
    }

    #[test]
    fn a_custom_resource_waits_for_ready_and_a_current_generation() {
        let cr = |observed: i64, ready: &str| {
            json!({"apiVersion": "ceph.rook.io/v1", "kind": "CephCluster",
            "metadata": {"generation": 2},
            "status": {"observedGeneration": observed, "conditions": [{"type": "Ready", "status": ready}]}})
        };
        assert!(matches!(kstatus(&cr(1, "True")), Status::Waiting(_)));
        assert!(matches!(kstatus(&cr(2, "False")), Status::Waiting(_)));
        assert_eq!(kstatus(&cr(2, "True")), Status::Ready);
    }

    #[test]
    fn a_wait_block_replaces_kstatus() {
        let obj = json!({"kind": "CephCluster", "status": {"phase": "Ready", "ceph": {"health": "HEALTH_WARN"}}});
        let mut w = Wait::default();
        w.fields.insert("status.phase".into(), "Ready".into());
        assert_eq!(status(&obj, &w), Status::Ready);
        w.fields
            .insert("status.ceph.health".into(), "HEALTH_OK".into());
        assert!(matches!(status(&obj, &w), Status::Waiting(_)));
    }
}
