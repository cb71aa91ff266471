//! What Kubernetes can say about drift (`Provider::explain_drift`), from the refresh alone: a
//! `k8s_manifest`'s refreshed `field_managers` names the field manager that now holds each
//! field brick applied and someone else changed (`kubectl-patch`, `kubectl-edit`, an
//! operator). Labels and annotations are `cosmetic`; a new `uid` (the object deleted and
//! made again) and the fields that hold data (a Strimzi topic's partitions and retention, a
//! Rook pool's replica count) are `data-risk`. [`field_notes`] is the same naming for the
//! typed resources other providers build on custom resources (`strimzi_topic`,
//! `rook_block_pool`): each maps its attributes to the object's fields.

use brick_provider_api::provider::{AttrPath, DriftExplanation, DriftNote, DriftRequest, PathStep};
use brick_provider_api::{Diagnostics, DriftSeverity, Value};
use serde_json::Value as Json;

use crate::resources::manifest;

/// Fields of custom resources whose change can lose data: (kind, field path prefix).
const DATA_RISK: &[(&str, &str)] = &[
    ("KafkaTopic", ".spec.partitions"),
    ("KafkaTopic", ".spec.replicas"),
    ("KafkaTopic", ".spec.config.retention"),
    ("KafkaTopic", ".spec.config.cleanup.policy"),
    ("CephBlockPool", ".spec.replicated"),
    ("CephBlockPool", ".spec.erasureCoded"),
    ("PersistentVolumeClaim", ".spec"),
];

/// The field path of a path inside `manifest` (`.data.retention`), up to its first list
/// index (field managers name list elements by key, which a value path does not carry).
fn field_path(steps: &[PathStep]) -> String {
    let mut out = String::new();
    for s in steps {
        match s {
            PathStep::Attr(k) | PathStep::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            PathStep::Index(_) => break,
        }
    }
    out
}

/// Whether field path `a` is `b` or inside it.
fn within(a: &str, b: &str) -> bool {
    a == b || (a.starts_with(b) && matches!(a.as_bytes()[b.len()], b'.' | b'['))
}

pub fn explain(req: &DriftRequest<'_>) -> Result<DriftExplanation, Diagnostics> {
    if req.type_name != manifest::TYPE {
        return Ok(DriftExplanation::default());
    }
    let managers: Vec<(String, String)> = req
        .live
        .and_then(|l| l.get("field_managers"))
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let kind = req
        .recorded
        .get("manifest")
        .and_then(|m| m.get("kind"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut notes = vec![
        DriftNote {
            path: vec![PathStep::Attr("field_managers".into())],
            bookkeeping: true,
            ..DriftNote::default()
        },
        DriftNote {
            path: vec![PathStep::Attr("uid".into())],
            detail: Some("the object was deleted and created again (a new uid)".into()),
            severity: Some(DriftSeverity::DataRisk),
            ..DriftNote::default()
        },
    ];
    for path in req.changed {
        let Some((PathStep::Attr(first), inner)) = path.split_first() else {
            continue;
        };
        if first != "manifest" {
            continue;
        }
        let field = field_path(inner);
        // The managers holding this field, or fields inside it.
        let mut by: Vec<&str> = managers
            .iter()
            .filter(|(f, _)| within(f, &field) || within(&field, f))
            .map(|(_, m)| m.as_str())
            .collect();
        by.sort_unstable();
        by.dedup();
        let severity =
            if within(&field, ".metadata.labels") || within(&field, ".metadata.annotations") {
                Some(DriftSeverity::Cosmetic)
            } else if DATA_RISK
                .iter()
                .any(|(k, f)| *k == kind && within(&field, f))
            {
                Some(DriftSeverity::DataRisk)
            } else {
                None
            };
        notes.push(DriftNote {
            path: path.clone(),
            by: (!by.is_empty()).then(|| by.join(", ")),
            detail: None,
            severity,
            bookkeeping: false,
        });
    }
    Ok(DriftExplanation {
        still_exists: None,
        notes,
    })
}

/// What a typed resource says about one changed attribute path: the live object's field it
/// comes from (keys from the root, `["spec", "replicated", "size"]`), how much its change
/// matters and why.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldRule {
    pub field: Vec<String>,
    pub severity: Option<DriftSeverity>,
    pub detail: Option<String>,
}

/// One note per changed path that `rule` knows, naming the field managers that now hold its
/// field in `live` (the object as the API server returns it, with `managedFields`).
pub fn field_notes(
    changed: &[AttrPath],
    live: Option<&Json>,
    rule: impl Fn(&AttrPath) -> Option<FieldRule>,
) -> Vec<DriftNote> {
    changed
        .iter()
        .filter_map(|path| {
            let r = rule(path)?;
            let field: Vec<&str> = r.field.iter().map(String::as_str).collect();
            let by = live
                .map(|l| crate::fields::holders(l, &field))
                .filter(|h| !h.is_empty() && !field.is_empty())
                .map(|h| h.join(", "));
            Some(DriftNote {
                path: path.clone(),
                by,
                detail: r.detail,
                severity: r.severity,
                bookkeeping: false,
            })
        })
        .collect()
}

/// Whether the number at top-level attribute `attr` is lower live than recorded.
pub fn lowered(req: &DriftRequest<'_>, attr: &str) -> bool {
    let n = |v: Option<&Value>| {
        v.and_then(|x| x.get(attr))
            .and_then(|x| x.as_number()?.to_i64())
    };
    matches!((n(Some(req.recorded)), n(req.live)), (Some(a), Some(b)) if b < a)
}
