//! [`Microk8sProvider`]: the `Provider` implementation. It has no settings and talks to no
//! server: `microk8s_cluster` lives only in brick's state.

use std::collections::BTreeMap;

use async_trait::async_trait;
use brick_provider_api::Value;
use brick_provider_api::diag::{Diagnostic, Diagnostics};
use brick_provider_api::provider::{
    ApplyRequest, ApplyResponse, PlanRequest, PlanResponse, Provider, ReadRequest,
};
use brick_provider_api::schema::ProviderSchema;

use crate::resources::cluster;

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
            resources: BTreeMap::from([(cluster::TYPE.to_string(), cluster::schema())]),
            ..ProviderSchema::default()
        }
    }

    /// The cluster's data lives in state only; the machines it forms are other resources.
    fn manages_remote_objects(&self) -> bool {
        false
    }

    async fn configure(&self, _config: &Value) -> Diagnostics {
        Vec::new()
    }

    fn validate_resource(&self, type_name: &str, config: &Value) -> Diagnostics {
        match type_name {
            cluster::TYPE => cluster::check(config),
            _ => vec![unknown_type(type_name)],
        }
    }

    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        if req.type_name != cluster::TYPE {
            return PlanResponse {
                planned: req.proposed.clone(),
                requires_replace: Vec::new(),
                diagnostics: vec![unknown_type(req.type_name)],
            };
        }
        if req.proposed.is_null() {
            return PlanResponse {
                planned: req.proposed.clone(),
                requires_replace: Vec::new(),
                diagnostics: Vec::new(),
            };
        }
        let (planned, diagnostics) = cluster::plan(req.prior, req.proposed);
        PlanResponse {
            planned,
            // The schema marks what forces replacement (api_address, bootstrap_node, token).
            requires_replace: Vec::new(),
            diagnostics,
        }
    }

    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        if req.planned.is_null() {
            return ApplyResponse {
                new_state: req.planned.clone(),
                diagnostics: Vec::new(),
            };
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

    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        Ok((!req.current.is_null()).then(|| req.current.clone()))
    }

    async fn read_data_source(
        &self,
        type_name: &str,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        Err(vec![unknown_type(type_name)])
    }
}
