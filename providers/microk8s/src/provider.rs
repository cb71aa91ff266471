//! [`Microk8sProvider`]: the `Provider` implementation. It has no settings: `microk8s_cluster`
//! lives only in brick's state, and `microk8s_node` talks to the cluster through the kubeconfig
//! it is given.

use std::collections::BTreeMap;

use async_trait::async_trait;
use brick_provider_api::Value;
use brick_provider_api::diag::{Diagnostic, Diagnostics};
use brick_provider_api::provider::{
    ApplyRequest, ApplyResponse, ChangeDiagnostic, PlanRequest, PlanResponse, PlannedChange,
    Provider, ReadRequest,
};
use brick_provider_api::schema::ProviderSchema;

use crate::resources::{checks, cluster, node};

#[derive(Default)]
pub struct Microk8sProvider;

fn unknown_type(type_name: &str) -> Diagnostic {
    Diagnostic::error(
        "brick::microk8s::unknown_type",
        "Unknown resource type",
        format!("The microk8s provider has no type {type_name}."),
    )
}

#[async_trait]
impl Provider for Microk8sProvider {
    fn name(&self) -> &str {
        "microk8s"
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            resources: BTreeMap::from([
                (cluster::TYPE.to_string(), cluster::schema()),
                (node::TYPE.to_string(), node::schema()),
            ]),
            ..ProviderSchema::default()
        }
    }

    /// The cluster's data lives in state only. A node is a Node object of the cluster, but
    /// brick neither makes nor names it (the machine's kubelet registers it): creating one again
    /// waits for the same Node and labels it again, destroying a gone one does nothing, so an
    /// interrupted run needs no journalled intent to be settled.
    fn manages_remote_objects(&self) -> bool {
        false
    }

    async fn configure(&self, _config: &Value) -> Diagnostics {
        Vec::new()
    }

    fn validate_resource(&self, type_name: &str, config: &Value) -> Diagnostics {
        match type_name {
            cluster::TYPE => cluster::check(config),
            node::TYPE => node::check(config),
            _ => vec![unknown_type(type_name)],
        }
    }

    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        if req.type_name != cluster::TYPE && req.type_name != node::TYPE {
            return PlanResponse {
                planned: req.proposed.clone(),
                requires_replace: Vec::new(),
                diagnostics: vec![unknown_type(req.type_name)],
            };
        }
        if req.proposed.is_null() {
            return PlanResponse::planned(req.proposed.clone());
        }
        let (planned, diagnostics) = if req.type_name == node::TYPE {
            node::plan(req.prior, req.proposed)
        } else {
            cluster::plan(req.prior, req.proposed)
        };
        PlanResponse {
            planned,
            // The schema marks what forces replacement (api_address, bootstrap_node, token;
            // a node's name).
            requires_replace: Vec::new(),
            diagnostics,
        }
    }

    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        if req.type_name == node::TYPE {
            return apply_node(&req).await;
        }
        if req.planned.is_null() {
            return ApplyResponse::done(req.planned.clone());
        }
        match cluster::apply(req.prior, req.planned) {
            Ok(new_state) => ApplyResponse {
                new_state,
                diagnostics: Vec::new(),
            },
            Err(diagnostics) => ApplyResponse {
                new_state: req.prior.clone(),
                diagnostics,
            },
        }
    }

    /// A node's labels are `cosmetic` drift; the rest (taints, the control-plane role) is
    /// normal, and a Node gone from the cluster is `data-risk` (the engine's default).
    async fn explain_drift(
        &self,
        req: brick_provider_api::provider::DriftRequest<'_>,
    ) -> Result<brick_provider_api::provider::DriftExplanation, Diagnostics> {
        use brick_provider_api::provider::{DriftExplanation, DriftNote, PathStep};
        let notes = match req.type_name {
            node::TYPE => vec![DriftNote {
                path: vec![PathStep::Attr("labels".into())],
                severity: Some(brick_provider_api::DriftSeverity::Cosmetic),
                ..DriftNote::default()
            }],
            _ => Vec::new(),
        };
        Ok(DriftExplanation {
            still_exists: None,
            notes,
        })
    }

    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        if req.type_name == node::TYPE {
            return if req.current.is_null() {
                Ok(None)
            } else {
                node::read(req.current).await
            };
        }
        // The cluster exists only in state: a planned value whose secrets were never made
        // (a create interrupted before it was recorded) is nothing.
        Ok((!req.current.is_null() && req.current.is_wholly_known()).then(|| req.current.clone()))
    }

    async fn check_plan(&self, changes: &[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> {
        checks::check_plan(changes)
    }

    async fn read_data_source(
        &self,
        type_name: &str,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        Err(vec![unknown_type(type_name)])
    }
}

async fn apply_node(req: &ApplyRequest<'_>) -> ApplyResponse {
    if req.planned.is_null() {
        return match node::destroy(req.prior, req.progress).await {
            Ok(warnings) => ApplyResponse {
                new_state: req.planned.clone(),
                diagnostics: warnings,
            },
            Err(diagnostics) => ApplyResponse {
                new_state: req.prior.clone(),
                diagnostics,
            },
        };
    }
    match node::apply(req.prior, req.planned, req.progress).await {
        Ok(new_state) => ApplyResponse {
            new_state,
            diagnostics: Vec::new(),
        },
        Err(diagnostics) => ApplyResponse {
            new_state: req.prior.clone(),
            diagnostics,
        },
    }
}

#[cfg(test)]
mod tests {
    use brick_provider_api::provider::{DriftRequest, PathStep};
    use brick_provider_api::{DriftSeverity, Provider, Value};

    use super::Microk8sProvider;
    use crate::resources::node;

    #[tokio::test]
    async fn a_nodes_labels_are_cosmetic_drift_its_taints_are_not() {
        let v = Value::null_dynamic();
        let changed = [
            vec![
                PathStep::Attr("labels".into()),
                PathStep::Key("zone".into()),
            ],
            vec![PathStep::Attr("taints".into())],
        ];
        let e = Microk8sProvider
            .explain_drift(DriftRequest {
                type_name: node::TYPE,
                recorded: &v,
                live: Some(&v),
                changed: &changed,
            })
            .await
            .unwrap();
        assert_eq!(e.notes.len(), 1);
        assert_eq!(e.notes[0].path, [PathStep::Attr("labels".into())]);
        assert_eq!(e.notes[0].severity, Some(DriftSeverity::Cosmetic));
    }
}
