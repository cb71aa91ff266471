//! The `maas` provider: configuration (`api_url`, `api_key`, `ca_file`), and the dispatch of
//! the [`Provider`] trait to the resource types in [`crate::resources`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use brick_provider_api::provider::{
    ApplyRequest, ApplyResponse, ChangeAction, ChangeDiagnostic, DriftExplanation, DriftRequest,
    ImportedResource, PlanRequest, PlanResponse, PlannedChange, ReadRequest,
};
use brick_provider_api::schema::{Attribute, Block, ProviderSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Provider, Type, Value};
use tokio::sync::OnceCell;

use crate::client::{ClientConfig, MaasClient, MaasError, RetryPolicy};
use crate::convert::str_attr;
use crate::resources::{machine, machines_data, tag};

/// Tunables that tests and the lab change; users never need to.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often a long operation polls its machine.
    pub poll_interval: Duration,
    /// The timeout of a machine's create, update or delete when `timeouts` says nothing.
    pub default_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll_interval: Duration::from_secs(10),
            default_timeout: Duration::from_secs(40 * 60),
            retry: RetryPolicy::default(),
        }
    }
}

impl Settings {
    /// For tests and the lab against a fast simulator.
    pub fn fast() -> Settings {
        Settings {
            poll_interval: Duration::from_millis(10),
            default_timeout: Duration::from_secs(60),
            retry: RetryPolicy {
                max_attempts: 12,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(100),
                give_up_after: Duration::from_secs(20),
            },
        }
    }
}

/// What the resources share once the provider is configured.
pub struct Ctx {
    pub client: MaasClient,
    pub settings: Settings,
    user: OnceCell<String>,
}

impl Ctx {
    /// The MAAS user of the API key (machines it owns are brick's).
    pub async fn user(&self) -> Result<&str, MaasError> {
        self.user
            .get_or_try_init(|| self.client.whoami())
            .await
            .map(String::as_str)
    }
}

/// The MAAS provider.
pub struct MaasProvider {
    settings: Settings,
    ctx: RwLock<Option<Arc<Ctx>>>,
}

impl Default for MaasProvider {
    fn default() -> Self {
        MaasProvider::new(Settings::default())
    }
}

impl MaasProvider {
    pub fn new(settings: Settings) -> MaasProvider {
        MaasProvider {
            settings,
            ctx: RwLock::new(None),
        }
    }

    fn ctx(&self) -> Result<Arc<Ctx>, Diagnostics> {
        self.ctx.read().expect("ctx lock").clone().ok_or_else(|| {
            vec![Diagnostic::error(
                "brick::maas::unconfigured",
                "Provider not configured",
                "The maas provider was used before it was configured.",
            )]
        })
    }

    pub fn provider_block() -> Block {
        Block::default()
            .attr(
                "api_url",
                Attribute::optional(Type::String).describe(
                    "MAAS URL, e.g. http://10.0.0.1:5240/MAAS. Default: env MAAS_API_URL.",
                ),
            )
            .attr(
                "api_key",
                Attribute::optional(Type::String)
                    .sensitive()
                    .describe("API key consumer:token:secret. Default: env MAAS_API_KEY."),
            )
            .attr(
                "ca_file",
                Attribute::optional(Type::String)
                    .describe("A PEM file of certificate authorities to trust for https."),
            )
            .attr(
                "unreachable_timeout",
                Attribute::optional(Type::String).describe(
                    "How long to keep retrying an unreachable or overloaded MAAS before failing, e.g. \"2m\". Default: 45s (each connection attempt waits at most 5s).",
                ),
            )
    }
}

fn unknown_type(type_name: &str) -> Diagnostics {
    vec![Diagnostic::unknown_type("maas", type_name)]
}

#[async_trait]
impl Provider for MaasProvider {
    fn name(&self) -> &str {
        "maas"
    }

    fn schema(&self) -> ProviderSchema {
        let mut s = ProviderSchema {
            provider: MaasProvider::provider_block(),
            ..Default::default()
        };
        s.resources
            .insert(machine::TYPE.to_string(), machine::schema());
        s.resources.insert(tag::TYPE.to_string(), tag::schema());
        s.data_sources
            .insert(machines_data::TYPE.to_string(), machines_data::schema());
        s
    }

    async fn configure(&self, config: &Value) -> Diagnostics {
        let mut diags = Vec::new();
        let from = |attr: &str, env: &str| -> Option<String> {
            str_attr(config, attr)
                .map(str::to_string)
                .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        };
        let url = from("api_url", "MAAS_API_URL");
        let key = from("api_key", "MAAS_API_KEY");
        if url.is_none() {
            diags.push(
                Diagnostic::error(
                    "brick::maas::config",
                    "Missing MAAS URL",
                    "The maas provider needs the MAAS URL: set api_url or the MAAS_API_URL environment variable.",
                )
                .at(["api_url"])
                .with_help("For the embedded lab, run `brick lab serve` and use the export lines it prints."),
            );
        }
        if key.is_none() {
            diags.push(
                Diagnostic::error(
                    "brick::maas::config",
                    "Missing MAAS API key",
                    "The maas provider needs an API key: set api_key or the MAAS_API_KEY environment variable.",
                )
                .at(["api_key"])
                .with_help("`maas apikey --username USER` prints one."),
            );
        }
        let (Some(url), Some(key)) = (url, key) else {
            return diags;
        };
        let mut cfg = ClientConfig::new(url, key);
        cfg.retry = self.settings.retry.clone();
        cfg.ca_file = str_attr(config, "ca_file").map(Into::into);
        if let Some(text) = str_attr(config, "unreachable_timeout") {
            match crate::convert::parse_duration(text) {
                Some(d) => cfg.retry.give_up_after = d,
                None => {
                    return vec![
                        Diagnostic::error(
                            "brick::maas::config",
                            "Invalid duration",
                            format!("unreachable_timeout \"{text}\" is not a duration."),
                        )
                        .at(["unreachable_timeout"])
                        .with_help(
                            "Write it like Terraform's timeouts: \"30s\", \"2m\", \"1h30m\".",
                        ),
                    ];
                }
            }
        }
        cfg.on_retry = Some(Arc::new(|message: &str| {
            brick_provider_api::notice::notice("maas", message)
        }));
        match MaasClient::new(&cfg) {
            Ok(client) => {
                *self.ctx.write().expect("ctx lock") = Some(Arc::new(Ctx {
                    client,
                    settings: self.settings.clone(),
                    user: OnceCell::new(),
                }));
            }
            Err(e) => diags.push(Diagnostic::error(
                e.code(),
                "Invalid MAAS provider configuration",
                e.to_string(),
            )),
        }
        diags
    }

    fn validate_resource(&self, type_name: &str, config: &Value) -> Diagnostics {
        match type_name {
            machine::TYPE => machine::validate(config),
            tag::TYPE => tag::validate(config),
            machines_data::TYPE => Vec::new(),
            other => unknown_type(other),
        }
    }

    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        match req.type_name {
            machine::TYPE => machine::plan(req.prior, req.proposed),
            tag::TYPE => tag::plan(req.prior, req.proposed),
            other => PlanResponse::unknown_type("maas", other),
        }
    }

    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        let ctx = match self.ctx() {
            Ok(c) => c,
            Err(d) => return ApplyResponse::failed(req.prior, d),
        };
        match req.type_name {
            machine::TYPE => machine::apply(&ctx, req.prior, req.planned, req.progress).await,
            tag::TYPE => tag::apply(&ctx, req.prior, req.planned).await,
            other => ApplyResponse::unknown_type(req.prior, "maas", other),
        }
    }

    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        let ctx = self.ctx()?;
        match req.type_name {
            machine::TYPE => machine::read(&ctx, req.current).await,
            tag::TYPE => tag::read(&ctx, req.current).await,
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
            machine::TYPE => machine::read_many(&ctx, current).await,
            _ => {
                let mut out = Vec::with_capacity(current.len());
                for c in current {
                    out.push(
                        self.read_resource(ReadRequest {
                            type_name,
                            current: c,
                        })
                        .await,
                    );
                }
                out
            }
        }
    }

    async fn explain_drift(&self, req: DriftRequest<'_>) -> Result<DriftExplanation, Diagnostics> {
        crate::drift::explain(&*self.ctx()?, &req).await
    }

    async fn import_resource(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<Vec<ImportedResource>, Diagnostics> {
        let ctx = self.ctx()?;
        let state = match type_name {
            machine::TYPE => machine::import(&ctx, id).await?,
            tag::TYPE => tag::import(&ctx, id).await?,
            other => return Err(unknown_type(other)),
        };
        Ok(vec![ImportedResource {
            type_name: type_name.to_string(),
            state,
        }])
    }

    /// A machine whose volumes cannot fit on its disk is refused at plan (it would fail at
    /// apply, after MAAS released it for the new layout).
    async fn check_plan(&self, changes: &[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> {
        let Ok(ctx) = self.ctx() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, c) in changes.iter().enumerate() {
            if c.type_name != machine::TYPE
                || !matches!(
                    c.action,
                    ChangeAction::Create | ChangeAction::Replace | ChangeAction::Update
                )
            {
                continue;
            }
            // What MAAS cannot tell now (unreachable) is for apply to say.
            if let Ok(Some(d)) = machine::check_storage_fits(&ctx, c.planned).await {
                out.push(ChangeDiagnostic {
                    change: i,
                    diagnostic: d,
                });
            }
        }
        out
    }

    async fn read_data_source(
        &self,
        type_name: &str,
        config: &Value,
    ) -> Result<Value, Diagnostics> {
        let ctx = self.ctx()?;
        match type_name {
            machines_data::TYPE => machines_data::read(&ctx, config).await,
            other => Err(unknown_type(other)),
        }
    }
}
