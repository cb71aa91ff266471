//! The `k8s` provider's plan check, run once the whole plan is made: custom resources checked
//! against the `openAPIV3Schema` of CRDs in the same plan (the server does not know those
//! kinds yet), and a server-side dry-run apply of every `k8s_manifest` whose configuration
//! changed or drifted, so that what the server would refuse (invalid fields, immutable
//! fields, other managers' fields) fails the plan instead of the apply. Objects that do not
//! change make no request: a no-op plan stays the refresh's batched LISTs.

use std::collections::HashMap;

use brick_provider_api::provider::{ChangeAction, ChangeDiagnostic, PlannedChange};
use brick_provider_api::{Diagnostic, Value};
use futures::StreamExt;
use serde_json::Value as Json;

use crate::convert::{bool_attr, to_json};
use crate::machinery::{self, Cluster, Ident};
use crate::openapi;
use crate::resources::manifest::{self, TYPE};

/// How many dry runs go out at once.
const DRY_RUN_CONCURRENCY: usize = 8;

fn manifest_of(v: &Value) -> Option<&Value> {
    v.get("manifest").filter(|m| !m.is_null())
}

pub async fn check_plan(
    cluster: Option<&Cluster>,
    changes: &[PlannedChange<'_>],
) -> Vec<ChangeDiagnostic> {
    let mut out = schema_check(changes);
    if let Some(cluster) = cluster {
        let dry: Vec<usize> = changes
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.type_name == TYPE
                    && c.action == ChangeAction::Update
                    && manifest_of(c.planned).is_some_and(Value::is_wholly_known)
            })
            .map(|(i, _)| i)
            .collect();
        let found: Vec<ChangeDiagnostic> = futures::stream::iter(dry)
            .map(|i| async move {
                dry_run(cluster, &changes[i])
                    .await
                    .map(|diagnostic| ChangeDiagnostic {
                        change: i,
                        diagnostic,
                    })
            })
            .buffer_unordered(DRY_RUN_CONCURRENCY)
            .filter_map(|d| async move { d })
            .collect()
            .await;
        out.extend(found);
    }
    out.sort_by_key(|d| d.change);
    out
}

/// Custom resources created or changed in this plan whose CRD is in it too, against that
/// CRD's schema as configured.
fn schema_check(changes: &[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> {
    // (group, kind) → (the CRD's manifest, its address).
    let mut crds: HashMap<(String, String), (Json, &str)> = HashMap::new();
    for c in changes
        .iter()
        .filter(|c| c.type_name == TYPE && c.action != ChangeAction::Delete)
    {
        let Some(m) = manifest_of(c.planned) else {
            continue;
        };
        let j = to_json(m);
        if j.get("kind").and_then(Json::as_str) != Some("CustomResourceDefinition") {
            continue;
        }
        let (Some(group), Some(kind)) = (
            j.pointer("/spec/group").and_then(Json::as_str),
            j.pointer("/spec/names/kind").and_then(Json::as_str),
        ) else {
            continue;
        };
        crds.insert(
            (group.to_string(), kind.to_string()),
            (j.clone(), c.address),
        );
    }
    let mut out = Vec::new();
    if crds.is_empty() {
        return out;
    }
    for (i, c) in changes.iter().enumerate() {
        if c.type_name != TYPE
            || !matches!(
                c.action,
                ChangeAction::Create | ChangeAction::Update | ChangeAction::Replace
            )
        {
            continue;
        }
        let Some(m) = manifest_of(c.planned) else {
            continue;
        };
        let obj = to_json(m);
        let Some(id) = Ident::from_json(&obj) else {
            continue;
        };
        let Some((crd, crd_addr)) = crds.get(&(id.group().to_string(), id.kind.clone())) else {
            continue;
        };
        let version = id.api_version.rsplit('/').next().unwrap_or("");
        let Some(schema) = openapi::version_schema(crd, version) else {
            continue;
        };
        let crd_name = crd
            .pointer("/metadata/name")
            .and_then(Json::as_str)
            .unwrap_or("");
        for v in openapi::check(schema, &obj) {
            out.push(ChangeDiagnostic {
                change: i,
                diagnostic: Diagnostic::error(
                    "brick::k8s::schema",
                    "Invalid custom resource",
                    format!(
                        "{}: {} {} (the openAPIV3Schema of CustomResourceDefinition {crd_name}, {crd_addr}, version {version}).",
                        id.describe(),
                        v.path.join("."),
                        v.message
                    ),
                )
                .at(std::iter::once("manifest".to_string()).chain(v.path)),
            });
        }
    }
    out
}

/// A server-side dry-run apply of the planned manifest: what the server would refuse.
async fn dry_run(cluster: &Cluster, change: &PlannedChange<'_>) -> Option<Diagnostic> {
    let manifest = manifest_of(change.planned)?;
    let (kind, id) = cluster.resolve(&Ident::of(manifest)?).await.ok()?;
    let body = machinery::with_namespace(&to_json(manifest), id.namespace.as_deref());
    let prior = manifest_of(change.prior)
        .cloned()
        .unwrap_or_else(Value::null_dynamic);
    let mut force = bool_attr(change.planned, "force_conflicts").unwrap_or(false);
    loop {
        match cluster.apply_raw(&kind, &id, &body, force, true).await {
            Ok(_) => return None,
            Err(kube::Error::Api(s)) if s.code == 409 && !force => {
                match manifest::their_conflicts(&s, &prior) {
                    // Only fields brick applied and another manager changed: taken back.
                    Ok(()) => force = true,
                    Err(theirs) => return Some(manifest::conflict_diagnostic(&id, &theirs, &s)),
                }
            }
            Err(kube::Error::Api(s)) if manifest::is_immutable(&s) => {
                return Some(manifest::immutable_diagnostic(
                    &id,
                    &s,
                    Some(change.address),
                ));
            }
            // The namespace (or the object's CRD version) comes with this plan: planned from
            // configuration.
            Err(kube::Error::Api(s)) if s.code == 404 => return None,
            Err(e) => {
                return Some(
                    cluster
                        .diagnostic(&e, &format!("checking {} (dry run)", id.describe()))
                        .at(["manifest"]),
                );
            }
        }
    }
}
