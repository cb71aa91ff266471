//! The `kafka` provider: its configuration (`bootstrap_servers`, TLS, SASL — each also from an
//! environment variable), the connection check, and the dispatch of the [`Provider`] trait to
//! the resource types in [`crate::resources`].

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use brick_provider_api::provider::{
    ApplyRequest, ApplyResponse, ChangeAction, ChangeDiagnostic, ImportedResource, PlanRequest,
    PlanResponse, PlannedChange, ReadRequest,
};
use brick_provider_api::schema::{Attribute, Block, ProviderSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Provider, Type, Value};

use crate::checks;
use crate::client::{CONNECT_TIMEOUT, Client, SASL_MECHANISMS, Settings};
use crate::resources::{acl, quota, topic};
use crate::value::str_attr;

/// The environment variables that stand in for unset provider arguments (the names Terraform's
/// Mongey/kafka provider reads).
pub const ENV: &[(&str, &str)] = &[
    ("bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS"),
    ("tls_enabled", "KAFKA_ENABLE_TLS"),
    ("ca_cert", "KAFKA_CA_CERT"),
    ("client_cert", "KAFKA_CLIENT_CERT"),
    ("client_key", "KAFKA_CLIENT_KEY"),
    ("sasl_mechanism", "KAFKA_SASL_MECHANISM"),
    ("sasl_username", "KAFKA_SASL_USERNAME"),
    ("sasl_password", "KAFKA_SASL_PASSWORD"),
];

fn env_of(attr: &str) -> &'static str {
    ENV.iter()
        .find(|(a, _)| *a == attr)
        .map(|(_, e)| *e)
        .unwrap_or("")
}

/// What the resources share once the provider is configured.
pub struct Ctx {
    pub client: Client,
    /// The broker ids the cluster's metadata showed when the provider was configured.
    pub brokers: Vec<i32>,
}

/// The Kafka provider.
#[derive(Default)]
pub struct KafkaProvider {
    ctx: RwLock<Option<Arc<Ctx>>>,
}

impl KafkaProvider {
    fn ctx(&self) -> Result<Arc<Ctx>, Diagnostics> {
        self.ctx.read().expect("ctx lock").clone().ok_or_else(|| {
            vec![Diagnostic::error(
                "brick::kafka::unconfigured",
                "Provider not configured",
                "The kafka provider was used before it was configured.",
            )]
        })
    }

    /// The number of CreateTopics requests sent so far (tests check the batching with it).
    pub fn create_requests(&self) -> usize {
        self.ctx().map_or(0, |c| c.client.create_requests())
    }

    pub fn provider_block() -> Block {
        let env = |d: &str, attr: &str| format!("{d} Default: env {}.", env_of(attr));
        Block::default()
            .attr(
                "bootstrap_servers",
                Attribute::optional(Type::List(Box::new(Type::String))).describe(env(
                    "Brokers to connect to first, host:port each.",
                    "bootstrap_servers",
                )),
            )
            .attr(
                "tls_enabled",
                Attribute::optional(Type::Bool)
                    .describe(env("Connect with TLS. Default false.", "tls_enabled")),
            )
            .attr(
                "ca_cert",
                Attribute::optional(Type::String).describe(env(
                    "Certificate authority to trust: PEM text or a file path.",
                    "ca_cert",
                )),
            )
            .attr(
                "client_cert",
                Attribute::optional(Type::String).describe(env(
                    "Client certificate for mutual TLS: PEM text or a file path.",
                    "client_cert",
                )),
            )
            .attr(
                "client_key",
                Attribute::optional(Type::String).sensitive().describe(env(
                    "The client certificate's key: PEM text or a file path.",
                    "client_key",
                )),
            )
            .attr(
                "sasl_mechanism",
                Attribute::optional(Type::String).describe(env(
                    "plain, scram-sha-256 or scram-sha-512.",
                    "sasl_mechanism",
                )),
            )
            .attr(
                "sasl_username",
                Attribute::optional(Type::String).describe(env("SASL user.", "sasl_username")),
            )
            .attr(
                "sasl_password",
                Attribute::optional(Type::String)
                    .sensitive()
                    .describe(env("SASL password.", "sasl_password")),
            )
    }

    /// The settings from the provider block, the environment filling what it leaves unset.
    pub fn settings(config: &Value) -> Result<Settings, Diagnostics> {
        let env = |attr: &str| std::env::var(env_of(attr)).ok().filter(|v| !v.is_empty());
        let string = |attr: &str| {
            str_attr(config, attr)
                .map(str::to_string)
                .or_else(|| env(attr))
        };
        let bootstrap: Vec<String> =
            match config.get("bootstrap_servers").and_then(Value::as_sequence) {
                Some(list) => list
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                None => env("bootstrap_servers")
                    .map(|v| {
                        v.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            };
        let mut d = Vec::new();
        if bootstrap.is_empty() {
            d.push(
                Diagnostic::error(
                    "brick::kafka::config",
                    "Missing bootstrap servers",
                    "The kafka provider needs at least one broker address: set bootstrap_servers or the KAFKA_BOOTSTRAP_SERVERS environment variable (comma-separated).",
                )
                .at(["bootstrap_servers"])
                .with_help("For example bootstrap_servers = [\"10.0.0.5:9092\"]."),
            );
        }
        let tls_enabled = match config.get("tls_enabled").and_then(Value::as_bool) {
            Some(b) => b,
            None => match env("tls_enabled")
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                None | Some("false" | "0" | "no") => false,
                Some("true" | "1" | "yes") => true,
                Some(other) => {
                    d.push(
                        Diagnostic::error(
                            "brick::kafka::config",
                            "Invalid TLS setting",
                            format!("KAFKA_ENABLE_TLS is \"{other}\"; write true or false."),
                        )
                        .at(["tls_enabled"]),
                    );
                    false
                }
            },
        };
        let sasl_mechanism = string("sasl_mechanism");
        if let Some(m) = &sasl_mechanism
            && !SASL_MECHANISMS
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(m))
        {
            d.push(
                Diagnostic::error(
                    "brick::kafka::config",
                    "Unknown SASL mechanism",
                    format!(
                        "sasl_mechanism \"{m}\" is not one of plain, scram-sha-256, scram-sha-512."
                    ),
                )
                .at(["sasl_mechanism"]),
            );
        }
        let s = Settings {
            bootstrap_servers: bootstrap,
            tls_enabled,
            ca_cert: string("ca_cert"),
            client_cert: string("client_cert"),
            client_key: string("client_key"),
            sasl_mechanism,
            sasl_username: string("sasl_username"),
            sasl_password: string("sasl_password"),
        };
        if s.sasl_mechanism.is_some() && (s.sasl_username.is_none() || s.sasl_password.is_none()) {
            d.push(
                Diagnostic::error(
                    "brick::kafka::config",
                    "Incomplete SASL settings",
                    "SASL needs both sasl_username and sasl_password (or KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD).",
                )
                .at(["sasl_username"]),
            );
        }
        if d.is_empty() { Ok(s) } else { Err(d) }
    }
}

fn unknown_type(type_name: &str) -> Diagnostics {
    vec![Diagnostic::unknown_type("kafka", type_name)]
}

#[async_trait]
impl Provider for KafkaProvider {
    fn name(&self) -> &str {
        "kafka"
    }

    fn schema(&self) -> ProviderSchema {
        let mut s = ProviderSchema {
            provider: KafkaProvider::provider_block(),
            ..Default::default()
        };
        s.resources.insert(topic::TYPE.to_string(), topic::schema());
        s.resources.insert(acl::TYPE.to_string(), acl::schema());
        s.resources.insert(quota::TYPE.to_string(), quota::schema());
        s
    }

    /// Topic creates and deletes go out as one CreateTopics (DeleteTopics) request for all
    /// that are in flight together (`crate::batch`): the engine lets a run's topics past
    /// `--parallelism` together, so a run's creates are one request.
    fn batch_size(&self, type_name: &str, _destroying: bool) -> usize {
        if type_name == topic::TYPE {
            crate::client::MAX_TOPICS_PER_REQUEST
        } else {
            1
        }
    }

    async fn configure(&self, config: &Value) -> Diagnostics {
        let settings = match KafkaProvider::settings(config) {
            Ok(s) => s,
            Err(d) => return d,
        };
        let client = match Client::new(&settings) {
            Ok(c) => c,
            Err(e) => {
                return vec![Diagnostic::error(
                    "brick::kafka::config",
                    "Invalid Kafka provider configuration",
                    e,
                )];
            }
        };
        // One Metadata request now: an unreachable cluster is a clear error within seconds.
        let brokers = match client.brokers().await {
            Ok(b) => b,
            Err(e) => {
                return vec![
                    Diagnostic::error(
                        "brick::kafka::unreachable",
                        "Kafka unreachable",
                        format!(
                            "No broker of {} answered within {} s: {e}.",
                            client.bootstrap,
                            CONNECT_TIMEOUT.as_secs()
                        ),
                    )
                    .at(["bootstrap_servers"])
                    .with_help("Check bootstrap_servers (or KAFKA_BOOTSTRAP_SERVERS), the TLS and SASL settings, and that the brokers are up."),
                ];
            }
        };
        *self.ctx.write().expect("ctx lock") = Some(Arc::new(Ctx { client, brokers }));
        Vec::new()
    }

    fn validate_resource(&self, type_name: &str, config: &Value) -> Diagnostics {
        match type_name {
            topic::TYPE => topic::validate(config),
            acl::TYPE => acl::validate(config),
            quota::TYPE => quota::validate(config),
            other => unknown_type(other),
        }
    }

    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        match req.type_name {
            topic::TYPE => topic::plan(req.prior, req.proposed),
            acl::TYPE => acl::plan(req.prior, req.proposed),
            quota::TYPE => quota::plan(req.prior, req.proposed),
            other => PlanResponse::unknown_type("kafka", other),
        }
    }

    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        let ctx = match self.ctx() {
            Ok(c) => c,
            Err(d) => return ApplyResponse::failed(req.prior, d),
        };
        match req.type_name {
            topic::TYPE => topic::apply(&ctx.client, req.prior, req.planned, req.progress).await,
            acl::TYPE => acl::apply(&ctx.client, req.prior, req.planned).await,
            quota::TYPE => quota::apply(&ctx, req.prior, req.planned).await,
            other => ApplyResponse::unknown_type(req.prior, "kafka", other),
        }
    }

    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        let ctx = self.ctx()?;
        match req.type_name {
            topic::TYPE => topic::read_many(&ctx.client, std::slice::from_ref(req.current))
                .await
                .pop()
                .unwrap_or(Ok(None)),
            acl::TYPE => acl::read(&ctx.client, req.current).await,
            quota::TYPE => quota::read(&ctx, req.current).await,
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
            topic::TYPE => topic::read_many(&ctx.client, current).await,
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

    async fn explain_drift(
        &self,
        req: brick_provider_api::provider::DriftRequest<'_>,
    ) -> Result<brick_provider_api::provider::DriftExplanation, Diagnostics> {
        crate::drift::explain(&self.ctx()?.client, &req).await
    }

    async fn import_resource(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<Vec<ImportedResource>, Diagnostics> {
        let ctx = self.ctx()?;
        let state = match type_name {
            topic::TYPE => topic::import(&ctx.client, id).await?,
            acl::TYPE => acl::import(&ctx.client, id).await?,
            quota::TYPE => quota::import(&ctx, id).await?,
            other => return Err(unknown_type(other)),
        };
        Ok(vec![ImportedResource {
            type_name: type_name.to_string(),
            state,
        }])
    }

    /// The checks of [`checks`] over the whole plan; the broker count is read from the cluster's
    /// metadata now (the one configure read when that fails).
    async fn check_plan(&self, changes: &[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> {
        let Ok(ctx) = self.ctx() else {
            return Vec::new();
        };
        if !changes.iter().any(|c| c.type_name == topic::TYPE) {
            return Vec::new();
        }
        let brokers = match ctx.client.brokers().await {
            Ok(b) => b.len(),
            Err(_) => ctx.brokers.len(),
        };
        let planned: Vec<checks::Planned> = changes
            .iter()
            .map(|c| checks::Planned {
                address: c.address,
                type_name: c.type_name,
                planned: c.planned,
                changing: matches!(
                    c.action,
                    ChangeAction::Create | ChangeAction::Update | ChangeAction::Replace
                ),
            })
            .collect();
        checks::check(&planned, Some(brokers).filter(|n| *n > 0))
            .into_iter()
            .map(|(change, diagnostic)| ChangeDiagnostic { change, diagnostic })
            .collect()
    }

    async fn read_data_source(
        &self,
        type_name: &str,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        Err(unknown_type(type_name))
    }
}
