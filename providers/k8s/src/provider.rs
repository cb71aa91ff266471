//! The `k8s` provider: configuration, and the dispatch of the [`Provider`] trait to the
//! resource types and data sources in [`crate::resources`].

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use brick_provider_api::provider::{
    ApplyRequest, ApplyResponse, ChangeDiagnostic, ImportedResource, PlanRequest, PlanResponse,
    PlannedChange, ReadRequest,
};
use brick_provider_api::schema::ProviderSchema;
use brick_provider_api::{Diagnostic, Diagnostics, Provider, Value};

use crate::client::Ctx;
use crate::machinery::Cluster;
use crate::resources::{check, documents, manifest, object};
use crate::run::Run;

/// The Kubernetes provider.
#[derive(Default)]
pub struct K8sProvider {
    ctx: RwLock<Option<Arc<Ctx>>>,
    run: Run,
}

impl K8sProvider {
    pub fn ctx(&self) -> Result<Arc<Ctx>, Diagnostics> {
        self.ctx.read().expect("ctx lock").clone().ok_or_else(|| {
            vec![Diagnostic::error(
                "brick::k8s::unconfigured",
                "Provider not configured",
                "The k8s provider was used before it was configured (its configuration is not known yet).",
            )]
        })
    }

    /// API requests made so far (0 before configure).
    pub fn requests(&self) -> u64 {
        self.ctx
            .read()
            .expect("ctx lock")
            .as_ref()
            .map_or(0, |c| c.requests())
    }
}

fn unknown_type(type_name: &str) -> Diagnostics {
    vec![Diagnostic::unknown_type("k8s", type_name)]
}

#[async_trait]
impl Provider for K8sProvider {
    fn name(&self) -> &str {
        "k8s"
    }

    fn schema(&self) -> ProviderSchema {
        let mut s = ProviderSchema {
            provider: crate::config::block(),
            ..Default::default()
        };
        s.resources
            .insert(manifest::TYPE.to_string(), manifest::schema());
        s.data_sources
            .insert(documents::TYPE.to_string(), documents::schema());
        s.data_sources
            .insert(object::OBJECT.to_string(), object::object_schema());
        s.data_sources
            .insert(object::OBJECTS.to_string(), object::objects_schema());
        s
    }

    /// Namespaces and CRDs start before other objects (which wait for them) and are deleted
    /// after them.
    fn apply_order(&self, type_name: &str, value: &Value, destroying: bool) -> i8 {
        if type_name != manifest::TYPE {
            return 0;
        }
        let kind = value
            .get("manifest")
            .and_then(|m| m.get("kind"))
            .and_then(Value::as_str);
        match (kind, destroying) {
            (Some("Namespace"), false) => -2,
            (Some("CustomResourceDefinition"), false) => -1,
            (Some("Namespace" | "CustomResourceDefinition"), true) => 1,
            _ => 0,
        }
    }

    async fn configure(&self, config: &Value) -> Diagnostics {
        let cfg = match crate::config::client_config(config).await {
            Ok(c) => c,
            Err(d) => return vec![d],
        };
        match Ctx::new(cfg) {
            Ok(ctx) => {
                *self.ctx.write().expect("ctx lock") = Some(Arc::new(ctx));
                Vec::new()
            }
            Err(d) => vec![d],
        }
    }

    fn validate_resource(&self, type_name: &str, config: &Value) -> Diagnostics {
        match type_name {
            manifest::TYPE => manifest::validate(config),
            documents::TYPE | object::OBJECT | object::OBJECTS => Vec::new(),
            other => unknown_type(other),
        }
    }

    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        match req.type_name {
            manifest::TYPE => manifest::plan(req.prior, req.proposed, &self.run),
            // A destroy plan also removes data sources from the state.
            _ if req.proposed.is_null() => PlanResponse::planned(req.proposed.clone()),
            other => PlanResponse::unknown_type("k8s", other),
        }
    }

    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        let ctx = match self.ctx() {
            Ok(c) => c,
            Err(d) => return ApplyResponse::failed(req.prior, d),
        };
        match req.type_name {
            manifest::TYPE => {
                manifest::apply(
                    &Cluster::from_ctx(ctx.clone()),
                    &self.run,
                    req.prior,
                    req.planned,
                    req.progress,
                )
                .await
            }
            // Destroying removes data sources from the state too: nothing real to do.
            _ if req.planned.is_null() => ApplyResponse::done(Value::null(req.prior.ty())),
            other => ApplyResponse::unknown_type(req.prior, "k8s", other),
        }
    }

    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        let ctx = self.ctx()?;
        match req.type_name {
            manifest::TYPE => manifest::read(&ctx, req.current).await,
            // A data source's recorded value is read again by planning, not by refresh.
            documents::TYPE | object::OBJECT | object::OBJECTS => Ok(Some(req.current.clone())),
            other => Err(unknown_type(other)),
        }
    }

    async fn read_many(
        &self,
        type_name: &str,
        current: &[Value],
    ) -> Vec<Result<Option<Value>, Diagnostics>> {
        let ctx = match self.ctx() {
            Ok(c) => c,
            Err(d) => return current.iter().map(|_| Err(d.clone())).collect(),
        };
        match type_name {
            manifest::TYPE => manifest::read_many(&ctx, current).await,
            documents::TYPE | object::OBJECT | object::OBJECTS => {
                current.iter().map(|c| Ok(Some(c.clone()))).collect()
            }
            other => current.iter().map(|_| Err(unknown_type(other))).collect(),
        }
    }

    async fn explain_drift(
        &self,
        req: brick_provider_api::provider::DriftRequest<'_>,
    ) -> Result<brick_provider_api::provider::DriftExplanation, Diagnostics> {
        crate::drift::explain(&req)
    }

    async fn import_resource(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<Vec<ImportedResource>, Diagnostics> {
        let ctx = self.ctx()?;
        let state = match type_name {
            manifest::TYPE => manifest::import(&ctx, id).await?,
            other => return Err(unknown_type(other)),
        };
        Ok(vec![ImportedResource {
            type_name: type_name.to_string(),
            state,
        }])
    }

    async fn check_plan(&self, changes: &[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> {
        let cluster = self.ctx().ok().map(Cluster::from_ctx);
        check::check_plan(cluster.as_ref(), changes).await
    }

    async fn read_data_source(
        &self,
        type_name: &str,
        config: &Value,
    ) -> Result<Value, Diagnostics> {
        match type_name {
            documents::TYPE => documents::read(config),
            object::OBJECT => object::read_object(&*self.ctx()?, config).await,
            object::OBJECTS => object::read_objects(&*self.ctx()?, config).await,
            other => Err(unknown_type(other)),
        }
    }
}
