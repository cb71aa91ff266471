//! What the `rook` provider can say about drift (`Provider::explain_drift`): how much each
//! changed attribute of a Rook object matters, and which field manager changed its field since
//! brick applied it (`kubectl-patch`, `kubectl-edit`), read from the live object's managed
//! fields. `data-risk`: a `CephBlockPool` whose replica count (`size`, `min_size`) dropped, whose
//! safety check was turned off, whose erasure coding or quotas changed or whose copies may now
//! share a host (failure domain `osd`); a `CephCluster` with fewer monitors or OSDs, an OSD
//! device gone from its nodes, or another data directory; a StorageClass that now deletes its
//! volumes' data. The rest is `normal`.

use brick_provider_api::provider::{AttrPath, DriftNote, DriftRequest, PathStep};
use brick_provider_api::{DriftSeverity, Value};
use brick_provider_k8s::drift::{FieldRule, field_notes, lowered};
use serde_json::Value as Json;

use crate::resources::{
    rook_block_pool as pool, rook_cluster as cluster, rook_storage_class as class,
};

fn rule(field: &[&str], risk: bool, detail: Option<String>) -> FieldRule {
    FieldRule {
        field: field.iter().map(|s| s.to_string()).collect(),
        severity: risk.then_some(DriftSeverity::DataRisk),
        detail: if risk { detail } else { None },
    }
}

fn first_attr(path: &AttrPath) -> Option<&str> {
    match path.first() {
        Some(PathStep::Attr(a)) => Some(a.as_str()),
        _ => None,
    }
}

/// The notes for a drifted Rook object; `live` is the object as the API server holds it now
/// (`None`: gone or unreadable, then nobody is named).
pub fn explain(req: &DriftRequest<'_>, live: Option<&Json>) -> Vec<DriftNote> {
    match req.type_name {
        pool::TYPE => field_notes(req.changed, live, |p| pool_rule(req, p)),
        cluster::TYPE => field_notes(req.changed, live, |p| cluster_rule(req, p)),
        class::TYPE => field_notes(req.changed, live, |p| class_rule(req, p)),
        _ => Vec::new(),
    }
}

/// A changed attribute of a `rook_block_pool`: its `CephBlockPool` field and severity.
pub fn pool_rule(req: &DriftRequest<'_>, path: &AttrPath) -> Option<FieldRule> {
    let live = req.live?;
    Some(match first_attr(path)? {
        "size" => {
            let (was, now) = (
                pool::effective_size(req.recorded),
                pool::effective_size(live),
            );
            let risk = matches!((was, now), (Some(a), Some(b)) if b < a);
            rule(
                &["spec", "replicated", "size"],
                risk,
                Some(format!(
                    "size lowered from {} to {}: fewer copies of the data",
                    was.unwrap_or_default(),
                    now.unwrap_or_default()
                )),
            )
        }
        "min_size" => rule(
            &["spec", "parameters", "min_size"],
            lowered(req, "min_size"),
            Some("min_size lowered: writes are acknowledged with fewer copies".into()),
        ),
        "require_safe_replica_size" => rule(
            &["spec", "replicated", "requireSafeReplicaSize"],
            live.get("require_safe_replica_size") == Some(&Value::bool(false)),
            Some("the safety check is off: the pool may be set to a single copy".into()),
        ),
        "erasure_coded" => rule(
            &["spec", "erasureCoded"],
            true,
            Some("the erasure-code profile changed".into()),
        ),
        "quotas" => rule(&["spec", "quotas"], true, Some("the quotas changed".into())),
        "failure_domain" => rule(
            &["spec", "failureDomain"],
            crate::convert::str_attr(live, "failure_domain") == Some("osd"),
            Some("failure domain osd: copies may share a host".into()),
        ),
        "device_class" => rule(&["spec", "deviceClass"], false, None),
        "parameters" => {
            let mut field = vec!["spec", "parameters"];
            if let Some(PathStep::Key(k)) = path.get(1) {
                field.push(k);
            }
            rule(&field, false, None)
        }
        _ => return None,
    })
}

/// Node → devices of a `rook_cluster`'s `nodes`.
fn devices(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(m) = v.get("nodes").and_then(Value::as_mapping) {
        for (node, list) in m {
            for d in list.as_sequence().unwrap_or_default() {
                if let Some(d) = d.as_str() {
                    out.push((node.clone(), d.to_string()));
                }
            }
        }
    }
    out
}

/// A changed attribute of a `rook_cluster`: its `CephCluster` field and severity.
pub fn cluster_rule(req: &DriftRequest<'_>, path: &AttrPath) -> Option<FieldRule> {
    let live = req.live?;
    Some(match first_attr(path)? {
        "mon_count" => rule(
            &["spec", "mon", "count"],
            lowered(req, "mon_count"),
            Some("fewer monitors: the quorum tolerates fewer failures".into()),
        ),
        "nodes" => {
            let now = devices(live);
            let gone: Vec<String> = devices(req.recorded)
                .into_iter()
                .filter(|d| !now.contains(d))
                .map(|(n, d)| format!("{n}:{d}"))
                .collect();
            rule(
                &["spec", "storage", "nodes"],
                !gone.is_empty(),
                Some(format!(
                    "OSD devices no longer listed: {} (their data must move or is lost)",
                    gone.join(", ")
                )),
            )
        }
        "data_dir_host_path" => rule(
            &["spec", "dataDirHostPath"],
            true,
            Some("another data directory: the monitors' and OSDs' data is elsewhere".into()),
        ),
        "osds" => rule(
            &["status", "ceph", "osds"],
            lowered(req, "osds"),
            Some("fewer OSDs up".into()),
        ),
        "ceph_image" => rule(&["spec", "cephVersion", "image"], false, None),
        _ => return None,
    })
}

/// A changed attribute of a `rook_storage_class`: a reclaim policy now `Delete` loses each
/// released volume's data.
pub fn class_rule(req: &DriftRequest<'_>, path: &AttrPath) -> Option<FieldRule> {
    let live = req.live?;
    Some(match first_attr(path)? {
        "reclaim_policy" => rule(
            &["reclaimPolicy"],
            crate::convert::str_attr(live, "reclaim_policy") == Some("Delete"),
            Some("reclaim policy Delete: a released volume's data is deleted".into()),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use brick_provider_api::DriftSeverity::DataRisk;
    use serde_json::json;

    fn attr(a: &str) -> AttrPath {
        vec![PathStep::Attr(a.into())]
    }

    /// A CephBlockPool as the API server returns it after `kubectl patch` lowered its size.
    fn live_pool(size: i64) -> Json {
        json!({
            "apiVersion": "ceph.rook.io/v1", "kind": "CephBlockPool",
            "metadata": {"name": "replicapool", "namespace": "rook-ceph", "managedFields": [
                {"manager": "brick", "operation": "Apply",
                 "fieldsV1": {"f:spec": {"f:failureDomain": {}, "f:replicated": {"f:requireSafeReplicaSize": {}}}}},
                {"manager": "kubectl-patch", "operation": "Update",
                 "fieldsV1": {"f:spec": {"f:replicated": {"f:size": {}}}}}
            ]},
            "spec": {"failureDomain": "host", "replicated": {"size": size, "requireSafeReplicaSize": true}},
            "status": {"phase": "Ready"}
        })
    }

    #[test]
    fn a_block_pool_whose_size_dropped_is_data_risk_named_after_who_dropped_it() {
        let recorded = pool::from_live(&Value::null_dynamic(), &live_pool(3));
        let recorded = {
            let mut m = recorded.as_mapping().cloned().unwrap();
            m.insert("size".into(), crate::convert::n(3));
            Value::object(m)
        };
        let live = pool::from_live(&recorded, &live_pool(2));
        let changed = [attr("size")];
        let req = DriftRequest {
            type_name: pool::TYPE,
            recorded: &recorded,
            live: Some(&live),
            changed: &changed,
        };
        let notes = explain(&req, Some(&live_pool(2)));
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].severity, Some(DataRisk));
        assert_eq!(notes[0].by.as_deref(), Some("kubectl-patch"));
        assert_eq!(
            notes[0].detail.as_deref(),
            Some("size lowered from 3 to 2: fewer copies of the data")
        );

        // Raised: normal, still named.
        let req = DriftRequest {
            recorded: &live,
            live: Some(&recorded),
            ..req
        };
        let notes = explain(&req, Some(&live_pool(3)));
        assert_eq!(notes[0].severity, None);
        assert_eq!(notes[0].detail, None);
    }

    #[test]
    fn a_cluster_that_lost_an_osd_device_is_data_risk_one_that_gained_one_is_not() {
        let nodes = |devs: &[(&str, &str)]| {
            let mut m = std::collections::BTreeMap::new();
            for (n, d) in devs {
                m.entry(n.to_string())
                    .or_insert_with(Vec::new)
                    .push(Value::string(*d));
            }
            Value::object(
                [(
                    "nodes".to_string(),
                    Value::map(
                        brick_provider_api::Type::list(brick_provider_api::Type::String),
                        m.into_iter()
                            .map(|(k, v)| (k, Value::list(brick_provider_api::Type::String, v)))
                            .collect(),
                    ),
                )]
                .into(),
            )
        };
        let two = nodes(&[("kvm4", "/dev/a"), ("kvm5", "/dev/a")]);
        let one = nodes(&[("kvm4", "/dev/a")]);
        let changed = [attr("nodes")];
        let req = |recorded, live| DriftRequest {
            type_name: cluster::TYPE,
            recorded,
            live: Some(live),
            changed: &changed,
        };
        let lost = explain(&req(&two, &one), None);
        assert_eq!(lost[0].severity, Some(DataRisk));
        assert!(lost[0].detail.as_deref().unwrap().contains("kvm5:/dev/a"));
        assert_eq!(explain(&req(&one, &two), None)[0].severity, None);
    }
}
