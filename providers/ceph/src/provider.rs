//! The `ceph` provider: configuration (`config_file`, `keyring`, `client`), the connection to
//! the monitors, and the dispatch of the [`Provider`] trait to the resource types in
//! [`crate::resources`].

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use brick_provider_api::provider::{
    ApplyRequest, ApplyResponse, ChangeAction, ChangeDiagnostic, ImportedResource, PlanRequest,
    PlanResponse, PlannedChange, ReadRequest,
};
use brick_provider_api::schema::{Attribute, Block, ProviderSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Provider, Type, Value};
use serde_json::Value as Json;

use crate::convert::{ENOENT, ETIMEDOUT, rados_diag, str_attr};
use crate::rados::{ConnectOptions, MonReply, Rados, RadosError};
use crate::resources::{pool, status};

/// Where a cluster's configuration is looked for when neither `config_file` nor `CEPH_CONF`
/// names one (as the `ceph` CLI does).
pub const DEFAULT_CONF: &str = "/etc/ceph/ceph.conf";

/// What the resources share once the provider is configured: the connected cluster.
pub struct Ctx {
    rados: Arc<Rados>,
    /// The configuration file connected with, for messages.
    pub conf: PathBuf,
}

impl Ctx {
    /// Sends a monitor command on a blocking thread (librados calls block).
    pub async fn mon(&self, cmd: Json) -> Result<MonReply, RadosError> {
        let rados = self.rados.clone();
        tokio::task::spawn_blocking(move || rados.mon_command(&cmd))
            .await
            .expect("a monitor command's thread does not panic")
    }

    /// Sends a monitor command asking for JSON and parses the answer.
    pub async fn mon_json(&self, cmd: Json) -> Result<Json, RadosError> {
        let rados = self.rados.clone();
        tokio::task::spawn_blocking(move || rados.mon_command_json(&cmd))
            .await
            .expect("a monitor command's thread does not panic")
    }
}

/// The Ceph provider.
#[derive(Default)]
pub struct CephProvider {
    ctx: RwLock<Option<Arc<Ctx>>>,
}

impl CephProvider {
    pub fn ctx(&self) -> Result<Arc<Ctx>, Diagnostics> {
        self.ctx.read().expect("ctx lock").clone().ok_or_else(|| {
            vec![Diagnostic::error(
                "brick::ceph::unconfigured",
                "Provider not configured",
                "The ceph provider was used before it was configured.",
            )]
        })
    }

    pub fn provider_block() -> Block {
        Block::default()
            .attr(
                "config_file",
                Attribute::optional(Type::String).describe(
                    "Path of the cluster's ceph.conf. Default: env CEPH_CONF, then /etc/ceph/ceph.conf.",
                ),
            )
            .attr(
                "keyring",
                Attribute::optional(Type::String).describe(
                    "Path of a keyring holding the client's key. Default: env CEPH_KEYRING, then what ceph.conf says.",
                ),
            )
            .attr(
                "client",
                Attribute::optional(Type::String)
                    .describe("The Ceph user, without `client.`. Default: admin."),
            )
    }
}

fn unknown_type(type_name: &str) -> Diagnostics {
    vec![Diagnostic::unknown_type("ceph", type_name)]
}

/// The connection settings from the provider block and the environment.
pub fn connect_options(config: &Value) -> ConnectOptions {
    let from = |attr: &str, env: &str| -> Option<String> {
        str_attr(config, attr)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
    };
    let conf = from("config_file", "CEPH_CONF").unwrap_or_else(|| DEFAULT_CONF.to_string());
    let mut opts = ConnectOptions::new(conf);
    opts.keyring = from("keyring", "CEPH_KEYRING").map(PathBuf::from);
    opts.user = str_attr(config, "client")
        .filter(|c| !c.is_empty())
        .map(|c| c.strip_prefix("client.").unwrap_or(c).to_string());
    opts
}

/// Why configure could not connect, in the user's terms.
fn connect_diag(
    config: &Value,
    conf: &std::path::Path,
    user: &str,
    timeout: u32,
    e: &RadosError,
) -> Diagnostic {
    let summary = "Cannot connect to Ceph";
    let from_block = str_attr(config, "config_file").is_some();
    let at = |d: Diagnostic, attr: &str| if from_block { d.at([attr]) } else { d };
    match e.errno() {
        Some(ENOENT) => at(
            Diagnostic::error(
                "brick::ceph::config",
                summary,
                format!("The Ceph configuration file {} does not exist.", conf.display()),
            ),
            "config_file",
        )
        .with_help("Set config_file (or CEPH_CONF) to the cluster's ceph.conf."),
        Some(ETIMEDOUT) => Diagnostic::error(
            "brick::ceph::unreachable",
            summary,
            format!(
                "No monitor of the cluster in {} answered within {timeout} s.",
                conf.display()
            ),
        )
        .with_help("Check `mon host` in that file and that the monitors are running and reachable from here."),
        _ => rados_diag(
            summary,
            &format!("connecting to the cluster of {} as client.{user}", conf.display()),
            e,
        ),
    }
}

#[async_trait]
impl Provider for CephProvider {
    fn name(&self) -> &str {
        "ceph"
    }

    fn schema(&self) -> ProviderSchema {
        let mut s = ProviderSchema {
            provider: CephProvider::provider_block(),
            ..Default::default()
        };
        s.resources.insert(pool::TYPE.to_string(), pool::schema());
        s.data_sources
            .insert(status::TYPE.to_string(), status::schema());
        s
    }

    async fn configure(&self, config: &Value) -> Diagnostics {
        let opts = connect_options(config);
        let conf = opts.conf.clone();
        let user = opts.user.clone().unwrap_or_else(|| "admin".into());
        let timeout = opts.timeout_secs;
        let connected = tokio::task::spawn_blocking(move || Rados::connect(&opts))
            .await
            .expect("connecting does not panic");
        match connected {
            Ok(rados) => {
                *self.ctx.write().expect("ctx lock") = Some(Arc::new(Ctx {
                    rados: Arc::new(rados),
                    conf,
                }));
                Vec::new()
            }
            Err(e) => vec![connect_diag(config, &conf, &user, timeout, &e)],
        }
    }

    fn validate_resource(&self, type_name: &str, config: &Value) -> Diagnostics {
        match type_name {
            pool::TYPE => pool::validate(config),
            status::TYPE => Vec::new(),
            other => unknown_type(other),
        }
    }

    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        match req.type_name {
            pool::TYPE => pool::plan(req.prior, req.proposed),
            other => PlanResponse::unknown_type("ceph", other),
        }
    }

    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        let ctx = match self.ctx() {
            Ok(c) => c,
            Err(d) => return ApplyResponse::failed(req.prior, d),
        };
        match req.type_name {
            pool::TYPE => pool::apply(&ctx, req.prior, req.planned).await,
            other => ApplyResponse::unknown_type(req.prior, "ceph", other),
        }
    }

    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        let ctx = self.ctx()?;
        match req.type_name {
            pool::TYPE => {
                let mut all = pool::read_many(&ctx, std::slice::from_ref(req.current)).await;
                all.pop().expect("one answer per pool")
            }
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
            pool::TYPE => pool::read_many(&ctx, current).await,
            other => current.iter().map(|_| Err(unknown_type(other))).collect(),
        }
    }

    /// A pool whose replica count (`size`, `min_size`) dropped, or whose quotas or
    /// erasure-code profile changed, holds data at risk; the rest is normal drift.
    async fn explain_drift(
        &self,
        req: brick_provider_api::provider::DriftRequest<'_>,
    ) -> Result<brick_provider_api::provider::DriftExplanation, Diagnostics> {
        use brick_provider_api::DriftSeverity;
        use brick_provider_api::provider::{DriftExplanation, DriftNote, PathStep};
        if req.type_name != crate::resources::pool::TYPE {
            return Ok(DriftExplanation::default());
        }
        let lower = |k: &str| {
            let n = |v: Option<&Value>| {
                v.and_then(|x| x.get(k))
                    .and_then(|x| x.as_number()?.to_i64())
            };
            matches!((n(Some(req.recorded)), n(req.live)), (Some(a), Some(b)) if b < a)
        };
        let notes = ["size", "min_size", "quota_max_bytes", "quota_max_objects"]
            .into_iter()
            .filter(|k| k.starts_with("quota") || lower(k))
            .map(|k| DriftNote {
                path: vec![PathStep::Attr(k.to_string())],
                detail: (!k.starts_with("quota"))
                    .then(|| format!("{k} lowered: fewer copies of the data")),
                severity: Some(DriftSeverity::DataRisk),
                ..DriftNote::default()
            })
            .collect();
        Ok(DriftExplanation {
            still_exists: None,
            notes,
        })
    }

    async fn import_resource(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<Vec<ImportedResource>, Diagnostics> {
        let ctx = self.ctx()?;
        let state = match type_name {
            pool::TYPE => pool::import(&ctx, id).await?,
            other => return Err(unknown_type(other)),
        };
        Ok(vec![ImportedResource {
            type_name: type_name.to_string(),
            state,
        }])
    }

    /// Refuses `ceph_pool` sizes the failure domains of the pool's CRUSH rule cannot hold, and
    /// CRUSH rules the cluster lacks, from the live OSD tree and rules.
    async fn check_plan(&self, changes: &[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> {
        // A replaced pool is a new one: judged as a creation.
        let none = Value::null_dynamic();
        let pools: Vec<pool::PoolChange> = changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.type_name == pool::TYPE)
            .map(|(index, c)| pool::PoolChange {
                index,
                prior: if c.action == ChangeAction::Replace {
                    &none
                } else {
                    c.prior
                },
                planned: c.planned,
            })
            .collect();
        if pools.is_empty() {
            return Vec::new();
        }
        let Ok(ctx) = self.ctx() else {
            return Vec::new();
        };
        pool::check_placement(&ctx, &pools)
            .await
            .into_iter()
            .map(|(change, diagnostic)| ChangeDiagnostic { change, diagnostic })
            .collect()
    }

    async fn read_data_source(
        &self,
        type_name: &str,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        let ctx = self.ctx()?;
        match type_name {
            status::TYPE => status::read(&ctx).await,
            other => Err(unknown_type(other)),
        }
    }
}
