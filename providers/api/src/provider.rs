//! The provider contract.
//!
//! Lifecycle of one resource instance (after OpenTofu's resource instance change lifecycle):
//! 1. `validate_resource` — static checks of the configuration; values may be unknown.
//! 2. `read_resource` / `read_many` — refresh: the prior state against the real object, or
//!    `None` when it is gone.
//! 3. `plan_resource` — pure: prior state + configuration (the *proposed* new state) → the
//!    *planned* state, with unknown values for what only apply can know, and the attribute
//!    paths whose change forces replacement. No side effects.
//! 4. `apply_resource` — makes the planned change real and returns the *new* state, which must
//!    be wholly known and must agree with every known value of the planned state.
//!
//! Ownership: the user owns the configured attributes; the provider owns computed ones; the
//! engine owns the prior state and never passes a planned value to apply that was not shown.

use async_trait::async_trait;

use crate::diag::{Diagnostic, Diagnostics};
use crate::schema::ProviderSchema;
use crate::value::Value;

/// A path to an attribute inside an object value: attribute names, map keys and list indices.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathStep {
    Attr(String),
    Key(String),
    Index(u64),
}

pub type AttrPath = Vec<PathStep>;

/// Where progress of a long operation goes (MAAS deploys take many minutes).
pub trait Progress: Send + Sync {
    /// A short human status, e.g. "Deploying" or "Disk erasing".
    fn report(&self, status: &str);
}

/// A progress sink that drops everything.
pub struct NoProgress;
impl Progress for NoProgress {
    fn report(&self, _status: &str) {}
}

pub struct PlanRequest<'a> {
    pub type_name: &'a str,
    /// The prior state (null when creating).
    pub prior: &'a Value,
    /// The configuration, conformed to the schema: unset optional attributes are null,
    /// computed ones null, values possibly unknown.
    pub proposed: &'a Value,
}

pub struct PlanResponse {
    /// The planned new state (null when destroying).
    pub planned: Value,
    /// Attribute paths whose change cannot be made in place.
    pub requires_replace: Vec<AttrPath>,
    pub diagnostics: Diagnostics,
}

impl PlanResponse {
    /// The plan is `planned`: nothing forces replacement, nothing to say.
    pub fn planned(planned: Value) -> Self {
        PlanResponse {
            planned,
            requires_replace: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    /// No plan: only the diagnostics saying why (the planned state is a dynamic null).
    pub fn failed(diagnostics: Diagnostics) -> Self {
        PlanResponse {
            planned: Value::null_dynamic(),
            requires_replace: Vec::new(),
            diagnostics,
        }
    }

    /// The answer for a type name the provider does not serve ([`Diagnostic::unknown_type`]).
    pub fn unknown_type(provider: &str, type_name: &str) -> Self {
        PlanResponse::failed(vec![Diagnostic::unknown_type(provider, type_name)])
    }
}

pub struct ApplyRequest<'a> {
    pub type_name: &'a str,
    /// The prior state (null when creating).
    pub prior: &'a Value,
    /// The planned state from `plan_resource`, with configuration values now resolved
    /// (null when destroying).
    pub planned: &'a Value,
    pub progress: &'a dyn Progress,
}

pub struct ApplyResponse {
    /// The new state: wholly known, or null when the object was destroyed.
    pub new_state: Value,
    pub diagnostics: Diagnostics,
}

impl ApplyResponse {
    /// The change is made: `new_state` is the object as it now is, nothing to say.
    pub fn done(new_state: Value) -> Self {
        ApplyResponse {
            new_state,
            diagnostics: Vec::new(),
        }
    }

    /// Nothing changed (a connection error, an unknown type, a refusal before any request):
    /// the state stays `prior`, the diagnostics say why.
    pub fn failed(prior: &Value, diagnostics: Diagnostics) -> Self {
        ApplyResponse {
            new_state: prior.clone(),
            diagnostics,
        }
    }

    /// The answer for a type name the provider does not serve ([`Diagnostic::unknown_type`]).
    pub fn unknown_type(prior: &Value, provider: &str, type_name: &str) -> Self {
        ApplyResponse::failed(prior, vec![Diagnostic::unknown_type(provider, type_name)])
    }
}

pub struct ReadRequest<'a> {
    pub type_name: &'a str,
    /// The state as last recorded.
    pub current: &'a Value,
}

/// What a planned change does to one instance, as a provider-level plan check sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeAction {
    /// Nothing changes.
    NoOp,
    Create,
    /// Updated in place.
    Update,
    /// Destroyed and created again (in either order).
    Replace,
    Delete,
    /// A data source read during apply.
    Read,
}

/// One planned change, as a provider-level plan check ([`Provider::check_plan`]) sees it.
#[derive(Clone, Copy, Debug)]
pub struct PlannedChange<'a> {
    /// The instance address, e.g. `ceph_pool.data` or `kafka_topic.t["a"]`.
    pub address: &'a str,
    pub type_name: &'a str,
    pub action: ChangeAction,
    /// The (refreshed) prior state; null when creating.
    pub prior: &'a Value,
    /// The planned state; null when deleting; may hold unknown values.
    pub planned: &'a Value,
}

/// A problem a provider-level plan check found with one planned change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeDiagnostic {
    /// The index of the change in the slice given to [`Provider::check_plan`].
    pub change: usize,
    /// What is wrong; `attribute` (when set) points into that change's resource block.
    pub diagnostic: Diagnostic,
}

/// How much a drifted attribute matters, as its provider judges it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DriftSeverity {
    /// Labels, annotations, descriptions: nothing runs differently.
    Cosmetic,
    /// Everything a provider says nothing about.
    Normal,
    /// Data can be lost or is at risk: a machine released or redeployed, a pool's replica
    /// count lowered, a topic's partitions or retention changed, an object deleted.
    DataRisk,
}

/// What the engine asks about one object that refresh found changed or gone.
pub struct DriftRequest<'a> {
    pub type_name: &'a str,
    /// The object as recorded in state.
    pub recorded: &'a Value,
    /// The object as refresh read it; `None` when refresh found it gone.
    pub live: Option<&'a Value>,
    /// The attribute paths whose values differ (empty when the object is gone).
    pub changed: &'a [AttrPath],
}

/// What a provider can tell about one path of a drifted object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriftNote {
    /// The attribute path the note is about; it covers every changed path below it (the most
    /// specific note wins). Empty: the whole object.
    pub path: AttrPath,
    /// Who changed it, where the system records it: a Kubernetes field manager
    /// (`kubectl-patch`), a MAAS owner.
    pub by: Option<String>,
    /// What else the system says (a Kafka config's source, a machine's status message).
    pub detail: Option<String>,
    /// How much it matters; `None`: `Normal` (a deleted object: `DataRisk`).
    pub severity: Option<DriftSeverity>,
    /// The path only records who changed other paths (the k8s provider's `field_managers`):
    /// not a change of its own, left out of the report.
    pub bookkeeping: bool,
}

/// What a provider says about one drifted object ([`Provider::explain_drift`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DriftExplanation {
    /// For an object refresh found gone that still exists in another form (a MAAS machine
    /// released: no longer brick's deployment, but there, Ready): the object as it now is, in
    /// the resource's shape, so the report says `status: Deployed → Ready`, not "deleted".
    pub still_exists: Option<Value>,
    pub notes: Vec<DriftNote>,
}

/// One object found by `import_resource`.
pub struct ImportedResource {
    pub type_name: String,
    pub state: Value,
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's name as used in configuration (`maas`, `brick`).
    fn name(&self) -> &str;

    fn schema(&self) -> ProviderSchema;

    /// Whether the provider's objects exist outside brick's state. The engine records a
    /// durable intent before every create and destroy of such objects; for a provider whose
    /// objects live only in state (the built-in `brick`), losing an unrecorded create loses
    /// nothing real, so the intent is skipped. Default: true.
    fn manages_remote_objects(&self) -> bool {
        true
    }

    /// How many apply operations of this provider may run at once (on top of the run's
    /// `--parallelism`), for APIs that cannot take more. `None`: no limit of its own.
    fn max_concurrency(&self) -> Option<usize> {
        None
    }

    /// How many apply calls of `type_name` the provider sends to its system as one request:
    /// of its creates when `destroying` is false (updates are never batched), of its deletes
    /// when true. The engine counts up to that many such calls in flight as one operation
    /// against `--parallelism` and [`Provider::max_concurrency`] — an operation is a request
    /// to the system — so that the creates of a run reach the provider together and go out as
    /// one request, not `--parallelism` at a time. Only for calls the provider really coalesces
    /// (see "Batching" in CONTRACT.md). Default: 1 (each call its own request).
    fn batch_size(&self, _type_name: &str, _destroying: bool) -> usize {
        1
    }

    /// Among apply steps that are ready at the same time (no dependency between them), the
    /// order to start them in: lower first; ties keep the plan's order. A hint for objects the
    /// server orders implicitly (a Kubernetes namespace before the objects in it, deleted after
    /// them), so that they do not wait for a step still queued behind them. Default: 0.
    fn apply_order(&self, _type_name: &str, _value: &Value, _destroying: bool) -> i8 {
        0
    }

    /// Rewrites the attributes of an object recorded under an older schema version of
    /// `type_name` (`from_version` < the schema's [`ResourceSchema::version`]) into the current
    /// shape, as Terraform's `UpgradeResourceState`. `attributes` is the state's JSON as it was
    /// written; the result is read with the current schema. Called while the state is loaded,
    /// before `configure` and refresh, once per such object; pure (no I/O). The next write of
    /// the object records the current version. Bump the version whenever an attribute is
    /// renamed, removed or changes type, and add the step here.
    ///
    /// The default knows no older versions and refuses, so a schema bump without an upgrade
    /// fails the plan with `brick::state::schema_upgrade` instead of misreading the state.
    ///
    /// [`ResourceSchema::version`]: crate::schema::ResourceSchema::version
    fn upgrade_resource_state(
        &self,
        type_name: &str,
        from_version: u64,
        _attributes: &serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        Err(vec![
            Diagnostic::error(
                "brick::state::schema_upgrade",
                "Cannot upgrade recorded state",
                format!(
                    "The state holds a {type_name} written with schema version {from_version}, and provider {} has no upgrade from that version.",
                    self.name()
                ),
            )
            .with_help(
                "Use the provider version that wrote this state, or one whose upgrade_resource_state handles this version.",
            ),
        ])
    }

    /// Configures the provider from its `provider` block. Called once, before anything else
    /// but `schema` and `validate_resource`.
    async fn configure(&self, config: &Value) -> Diagnostics;

    /// Static checks. Unknown values must be accepted.
    fn validate_resource(&self, _type_name: &str, _config: &Value) -> Diagnostics {
        Vec::new()
    }

    /// Plans a change. Pure: no I/O with the real system.
    ///
    /// May be called before [`Provider::configure`], for creates only (`prior` null), when the
    /// provider's configuration is not known until apply (its cluster is created in the same
    /// run) and [`Provider::plans_unconfigured`] says the type allows it: the plan is then made
    /// from the configuration alone, computed attributes unknown, never from a default
    /// connection (environment, local files). The engine plans the create again once the
    /// provider is configured during apply and refuses a plan that contradicts the one shown.
    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse;

    /// Whether creates of `type_name` can be planned before the provider is configured (see
    /// [`Provider::plan_resource`]). A provider that needs its connection to plan a create of
    /// this type answers false; the engine then defers such creates to the next run, whose
    /// plan is made with the provider configured. Default: true (planning is pure).
    fn plans_unconfigured(&self, _type_name: &str) -> bool {
        true
    }

    /// Makes the planned change real.
    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse;

    /// Refreshes one object: `Ok(None)` when it no longer exists.
    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics>;

    /// Refreshes many objects of one type at once. Providers whose API can list everything in
    /// one call (MAAS's `GET machines/`) override this; the default reads one by one.
    async fn read_many(
        &self,
        type_name: &str,
        current: &[Value],
    ) -> Vec<Result<Option<Value>, Diagnostics>> {
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

    /// Finds an existing object by the user's id (`brick import ADDR ID`).
    async fn import_resource(
        &self,
        type_name: &str,
        _id: &str,
    ) -> Result<Vec<ImportedResource>, Diagnostics> {
        Err(vec![Diagnostic::error(
            "brick::provider::import_unsupported",
            "Import not supported",
            format!("The resource type {type_name} cannot be imported."),
        )])
    }

    /// Checks the plan as a whole, to refuse what is impossible only in sum (a Ceph pool
    /// larger than the hosts that carry OSDs; a Kafka topic with more replicas than brokers).
    /// Called once per plan, on every configured provider, after every instance has been
    /// planned, with every planned change of the whole plan (all providers'): a provider looks
    /// at the types it cares about. It may read the live system (as refresh does) but never
    /// changes anything. Error diagnostics make the plan fail. Default: finds nothing.
    async fn check_plan(&self, _changes: &[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> {
        Vec::new()
    }

    /// Explains drift that refresh found (`brick drift`): who changed each path where the
    /// system records it, how much it matters, and whether an object refresh found gone still
    /// exists in another form. Called only for drifted objects, after refresh; it may read the
    /// live system (as refresh does) but never changes anything. Default: nothing to say.
    async fn explain_drift(&self, _req: DriftRequest<'_>) -> Result<DriftExplanation, Diagnostics> {
        Ok(DriftExplanation::default())
    }

    /// Reads a data source from its configuration.
    async fn read_data_source(&self, type_name: &str, config: &Value)
    -> Result<Value, Diagnostics>;
}
