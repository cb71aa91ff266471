//! The facade other providers use to talk to a Kubernetes cluster through the k8s provider's
//! machinery (Rook resources in `providers/ceph`, Strimzi in `providers/kafka`, `microk8s_node`):
//! the provider-block schema and a [`Cluster`] connection built from it, server-side apply as
//! field manager `brick`, get, list, wait-until-ready with progress, delete with propagation
//! and wait-until-gone, the discovery cache, and errors as diagnostics.
//!
//! Objects travel as JSON ([`serde_json::Value`]), the API server's own form; [`Ident`] says
//! which object. Everything here is what `k8s_manifest` itself runs on — one copy.
//!
//! ```no_run
//! # async fn example(provider_config: &brick_provider_api::Value) -> Result<(), brick_provider_api::Diagnostic> {
//! use std::time::Duration;
//! use brick_provider_api::provider::NoProgress;
//! use brick_provider_k8s::machinery::{self, Cluster, Ident, Propagation, Wait};
//!
//! // A `rook` provider block takes the same arguments as `k8s` (incl. `kubeconfig`):
//! let _block = machinery::provider_block();
//! let cluster = Cluster::connect(provider_config).await?;
//! let pool = serde_json::json!({
//!     "apiVersion": "ceph.rook.io/v1", "kind": "CephBlockPool",
//!     "metadata": {"name": "replicapool", "namespace": "rook-ceph"},
//!     "spec": {"replicated": {"size": 3}}
//! });
//! let live = cluster.apply(&pool, false).await?;
//! let id = Ident::from_json(&live).expect("an applied object names itself");
//! let wait = Wait { fields: [("status.phase".into(), "Ready".into())].into(), ..Wait::default() };
//! cluster.wait_ready(&id, &wait, Duration::from_secs(600), &NoProgress).await?;
//! if cluster.delete(&id, Propagation::Foreground).await? {
//!     cluster.wait_gone(&id, Duration::from_secs(300), &NoProgress).await?;
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use brick_provider_api::provider::Progress;
use brick_provider_api::schema::Block;
use brick_provider_api::{Diagnostic, Value};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::Value as Json;

use crate::client::Ctx;
pub use crate::client::Kind;
pub use crate::fields::{Conflict, MANAGER};
pub use crate::ready::{Status, Wait};
pub use crate::resources::manifest::Ident;

/// The provider block's schema: terraform-provider-kubernetes' connection arguments
/// (`config_path`, `config_context`, `host`, `cluster_ca_certificate`, `client_certificate`,
/// `client_key`, `token`, `insecure`) plus `kubeconfig`, a kubeconfig document as a string.
/// A provider that talks to a cluster uses it as (or merges it into) its own provider block.
pub fn provider_block() -> Block {
    crate::config::block()
}

/// How a delete treats the object's dependents (`ownerReferences`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents are deleted first; the object stays (with a finalizer) until they are gone.
    #[default]
    Foreground,
    /// The object goes at once; the garbage collector deletes dependents afterwards.
    Background,
    /// Dependents are left behind.
    Orphan,
}

impl Propagation {
    /// `Foreground`, `Background` or `Orphan` (as `delete_propagation` writes it).
    pub fn parse(text: &str) -> Option<Propagation> {
        match text {
            "Foreground" => Some(Propagation::Foreground),
            "Background" => Some(Propagation::Background),
            "Orphan" => Some(Propagation::Orphan),
            _ => None,
        }
    }

    fn policy(self) -> kube::api::PropagationPolicy {
        match self {
            Propagation::Foreground => kube::api::PropagationPolicy::Foreground,
            Propagation::Background => kube::api::PropagationPolicy::Background,
            Propagation::Orphan => kube::api::PropagationPolicy::Orphan,
        }
    }
}

/// A connection to one cluster: the client, its discovery cache (one request per group
/// version, kept for the connection's life) and its request count. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    ctx: Arc<Ctx>,
}

fn err(code: &str, summary: &str, detail: impl Into<String>) -> Diagnostic {
    Diagnostic::error(format!("brick::k8s::{code}"), summary, detail)
}

impl Cluster {
    /// Connects as the provider block `config` (schema: [`provider_block`]) says; with no
    /// arguments, `KUBECONFIG`, then `~/.kube/config`. No request is made yet: an unreachable
    /// server shows in the first call (`brick::k8s::unreachable`, within seconds).
    pub async fn connect(config: &Value) -> Result<Cluster, Diagnostic> {
        let cfg = crate::config::client_config(config).await?;
        Ok(Cluster {
            ctx: Arc::new(Ctx::new(cfg)?),
        })
    }

    /// Connects with a kubeconfig document (its current context).
    pub async fn from_kubeconfig(kubeconfig: &str) -> Result<Cluster, Diagnostic> {
        Cluster::connect(&Value::object_from([(
            "kubeconfig",
            Value::string(kubeconfig.to_string()),
        )]))
        .await
    }

    /// The machinery of a configured `k8s` provider.
    pub fn from_ctx(ctx: Arc<Ctx>) -> Cluster {
        Cluster { ctx }
    }

    /// The lower layer (the `kube` client itself: `self.ctx().client`).
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// The API server's URL, for messages.
    pub fn host(&self) -> &str {
        &self.ctx.host
    }

    /// The namespace of objects that name none (the context's, else `default`).
    pub fn default_namespace(&self) -> &str {
        &self.ctx.default_namespace
    }

    /// API requests made so far on this connection.
    pub fn requests(&self) -> u64 {
        self.ctx.requests()
    }

    /// How `apiVersion`/`kind` is served (`None`: not served). Cached per group version;
    /// a kind the cache does not know is looked up again (a CRD may have been established).
    pub async fn kind(&self, api_version: &str, kind: &str) -> Result<Option<Kind>, Diagnostic> {
        self.ctx.kind(api_version, kind, true).await
    }

    /// A diagnostic for a failed request (`brick::k8s::api` with the server's words, or
    /// `brick::k8s::unreachable`), saying what was being done, e.g. "applying Kafka x/y".
    pub fn diagnostic(&self, e: &kube::Error, doing: &str) -> Diagnostic {
        self.ctx.error(e, doing)
    }

    /// The served kind of `id` and `id` with its namespace settled (the default namespace for
    /// a namespaced kind that names none; none for a cluster-scoped kind).
    pub async fn resolve(&self, id: &Ident) -> Result<(Kind, Ident), Diagnostic> {
        let kind = self.kind(&id.api_version, &id.kind).await?.ok_or_else(|| {
            err(
                "unknown_kind",
                "Unknown kind",
                format!(
                    "The API server at {} does not serve kind {} in {}.",
                    self.host(),
                    id.kind,
                    id.api_version
                ),
            )
            .with_help(crate::removed::unknown_kind_help(&id.api_version).unwrap_or("Is its CustomResourceDefinition installed (and Established)? `kubectl api-resources` lists what the server serves."))
        })?;
        let mut id = id.clone();
        id.namespace = self.ctx.namespace_for(&kind, id.namespace.as_deref());
        Ok((kind, id))
    }

    fn api(&self, kind: &Kind, id: &Ident) -> Api<DynamicObject> {
        self.ctx.api(kind, id.namespace.as_deref())
    }

    /// Server-side apply of `object` (apiVersion, kind, metadata.name, …) as field manager
    /// `brick`; the live object after it. A field another manager owns is a
    /// `brick::k8s::conflict` diagnostic naming the managers and fields, unless `force`.
    pub async fn apply(&self, object: &Json, force: bool) -> Result<Json, Diagnostic> {
        let id = Ident::from_json(object).ok_or_else(|| {
            err(
                "manifest",
                "Invalid manifest",
                "The object has no apiVersion, kind or metadata.name.",
            )
        })?;
        let (kind, id) = self.resolve(&id).await?;
        let body = with_namespace(object, id.namespace.as_deref());
        match self.apply_raw(&kind, &id, &body, force, false).await {
            Ok(live) => Ok(to_json(&live, &id)),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                Err(conflict(&id, &crate::fields::conflicts(&s), &s.message))
            }
            Err(e) => Err(self.diagnostic(&e, &format!("applying {}", id.describe()))),
        }
    }

    /// The apply request itself, for callers that handle its errors (`k8s_manifest`).
    pub(crate) async fn apply_raw(
        &self,
        kind: &Kind,
        id: &Ident,
        body: &Json,
        force: bool,
        dry_run: bool,
    ) -> Result<DynamicObject, kube::Error> {
        let mut params = PatchParams::apply(MANAGER);
        params.force = force;
        params.dry_run = dry_run;
        self.api(kind, id)
            .patch(&id.name, &params, &Patch::Apply(body))
            .await
    }

    /// The live object (`None`: it does not exist, or its kind is not served).
    pub async fn get(&self, id: &Ident) -> Result<Option<Json>, Diagnostic> {
        let Some(kind) = self.kind(&id.api_version, &id.kind).await? else {
            return Ok(None);
        };
        let mut id = id.clone();
        id.namespace = self.ctx.namespace_for(&kind, id.namespace.as_deref());
        self.get_in(&kind, &id).await
    }

    pub(crate) async fn get_in(&self, kind: &Kind, id: &Ident) -> Result<Option<Json>, Diagnostic> {
        match self.api(kind, id).get_opt(&id.name).await {
            Ok(o) => Ok(o.map(|o| to_json(&o, id))),
            Err(e) => Err(self.diagnostic(&e, &format!("reading {}", id.describe()))),
        }
    }

    /// Every object of a kind: in `namespace`, or in all namespaces when `None` (cluster-scoped
    /// kinds ignore it), matching the label selector `labels` (`app=x,tier!=db`) when given.
    /// An unserved kind lists nothing.
    pub async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        labels: Option<&str>,
    ) -> Result<Vec<Json>, Diagnostic> {
        let Some(k) = self.kind(api_version, kind).await? else {
            return Ok(Vec::new());
        };
        let api: Api<DynamicObject> = match (k.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.ctx.client.clone(), ns, &k.resource),
            _ => Api::all_with(self.ctx.client.clone(), &k.resource),
        };
        let mut params = ListParams::default();
        if let Some(l) = labels {
            params = params.labels(l);
        }
        let id = Ident {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: None,
            name: String::new(),
        };
        match api.list(&params).await {
            Ok(list) => Ok(list.items.iter().map(|o| to_json(o, &id)).collect()),
            Err(e) => Err(self.diagnostic(&e, &format!("listing {kind} objects"))),
        }
    }

    /// Waits until the object is ready — by kstatus rules when `wait` is empty, else by its
    /// conditions, fields and rollout — reporting what it waits for to `progress`; the ready
    /// object. Errors: `brick::k8s::not_ready` (failed, or not ready within `timeout`),
    /// `brick::k8s::gone` (deleted meanwhile).
    pub async fn wait_ready(
        &self,
        id: &Ident,
        wait: &Wait,
        timeout: Duration,
        progress: &dyn Progress,
    ) -> Result<Json, Diagnostic> {
        let (kind, id) = self.resolve(id).await?;
        self.wait_ready_from(&kind, &id, None, wait, Instant::now() + timeout, progress)
            .await
    }

    /// [`Cluster::wait_ready`] starting from a live object already in hand (an apply's answer).
    pub(crate) async fn wait_ready_from(
        &self,
        kind: &Kind,
        id: &Ident,
        first: Option<Json>,
        wait: &Wait,
        deadline: Instant,
        progress: &dyn Progress,
    ) -> Result<Json, Diagnostic> {
        let started = Instant::now();
        let mut obj = first;
        let mut delay = Duration::from_millis(250);
        loop {
            let o = match obj.take() {
                Some(o) => o,
                None => self.get_in(kind, id).await?.ok_or_else(|| {
                    err(
                        "gone",
                        "Object disappeared",
                        format!("{} was deleted while brick waited for it.", id.describe()),
                    )
                })?,
            };
            match crate::ready::status(&o, wait) {
                Status::Ready => return Ok(o),
                Status::Failed(why) => {
                    return Err(err(
                        "not_ready",
                        "Object failed",
                        format!("{} will not become ready: {why}.", id.describe()),
                    ));
                }
                Status::Waiting(what) => {
                    if Instant::now() >= deadline {
                        return Err(err(
                            "not_ready",
                            "Timed out waiting for readiness",
                            format!(
                                "{} is not ready after {}s: waiting for {what}.",
                                id.describe(),
                                started.elapsed().as_secs()
                            ),
                        )
                        .with_help("Raise the timeout, change the `wait` rules, or do not wait for objects no controller reconciles."));
                    }
                    progress.report(&format!("waiting for {what}"));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(delay.min(left)).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// Deletes the object with `propagation`; `false` when it was not there (or its kind is
    /// no longer served). The object may linger (finalizers): see [`Cluster::wait_gone`].
    pub async fn delete(&self, id: &Ident, propagation: Propagation) -> Result<bool, Diagnostic> {
        let Some(kind) = self.kind(&id.api_version, &id.kind).await? else {
            return Ok(false);
        };
        let mut id = id.clone();
        id.namespace = self.ctx.namespace_for(&kind, id.namespace.as_deref());
        self.delete_in(&kind, &id, propagation).await
    }

    pub(crate) async fn delete_in(
        &self,
        kind: &Kind,
        id: &Ident,
        propagation: Propagation,
    ) -> Result<bool, Diagnostic> {
        let params = DeleteParams {
            propagation_policy: Some(propagation.policy()),
            ..Default::default()
        };
        match self.api(kind, id).delete(&id.name, &params).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(self.diagnostic(&e, &format!("deleting {}", id.describe()))),
        }
    }

    /// Waits until the object is gone, reporting the finalizers it waits for to `progress`.
    /// Error: `brick::k8s::delete_timeout` naming them.
    pub async fn wait_gone(
        &self,
        id: &Ident,
        timeout: Duration,
        progress: &dyn Progress,
    ) -> Result<(), Diagnostic> {
        let Some(kind) = self.kind(&id.api_version, &id.kind).await? else {
            return Ok(());
        };
        let mut id = id.clone();
        id.namespace = self.ctx.namespace_for(&kind, id.namespace.as_deref());
        self.wait_gone_in(&kind, &id, Instant::now() + timeout, progress)
            .await
    }

    pub(crate) async fn wait_gone_in(
        &self,
        kind: &Kind,
        id: &Ident,
        deadline: Instant,
        progress: &dyn Progress,
    ) -> Result<(), Diagnostic> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let Some(o) = self.get_in(kind, id).await? else {
                return Ok(());
            };
            let finalizers: Vec<&str> = o
                .pointer("/metadata/finalizers")
                .and_then(Json::as_array)
                .map(|f| f.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            let what = if finalizers.is_empty() {
                "deletion".to_string()
            } else {
                format!("finalizers {}", finalizers.join(", "))
            };
            if Instant::now() >= deadline {
                return Err(err(
                    "delete_timeout",
                    "Timed out waiting for deletion",
                    format!(
                        "{} is still there after {}s, waiting for {what}.",
                        id.describe(),
                        started.elapsed().as_secs()
                    ),
                )
                .with_help("A finalizer's controller may not be running. Raise the delete timeout, or remove the finalizer once you know it is safe."));
            }
            progress.report(&format!("waiting for {what}"));
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(delay.min(left)).await;
            delay = (delay * 2).min(Duration::from_secs(3));
        }
    }
}

/// `object` with `metadata.namespace` set to `ns` (or removed for a cluster-scoped kind).
pub(crate) fn with_namespace(object: &Json, ns: Option<&str>) -> Json {
    let mut body = object.clone();
    if let Some(md) = body.get_mut("metadata").and_then(Json::as_object_mut) {
        match ns {
            Some(ns) => {
                md.insert("namespace".into(), Json::String(ns.to_string()));
            }
            None => {
                md.remove("namespace");
            }
        }
    }
    body
}

/// A live object as JSON, with the apiVersion and kind a dynamic answer may leave out.
pub(crate) fn to_json(o: &DynamicObject, id: &Ident) -> Json {
    let mut j = serde_json::to_value(o).unwrap_or(Json::Null);
    if let Some(m) = j.as_object_mut() {
        m.entry("apiVersion")
            .or_insert_with(|| Json::String(id.api_version.clone()));
        m.entry("kind")
            .or_insert_with(|| Json::String(id.kind.clone()));
    }
    j
}

/// [`to_json`] of an object that is not needed any more: its fields are moved, not copied (a
/// LIST of CustomResourceDefinitions is megabytes of schemas).
pub(crate) fn into_json(o: DynamicObject, id: &Ident) -> Json {
    let DynamicObject {
        types,
        metadata,
        data,
    } = o;
    let mut m = match data {
        Json::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    m.insert(
        "metadata".into(),
        serde_json::to_value(&metadata).unwrap_or(Json::Null),
    );
    if let Some(t) = types {
        m.insert("apiVersion".into(), Json::String(t.api_version));
        m.insert("kind".into(), Json::String(t.kind));
    }
    m.entry("apiVersion")
        .or_insert_with(|| Json::String(id.api_version.clone()));
    m.entry("kind")
        .or_insert_with(|| Json::String(id.kind.clone()));
    Json::Object(m)
}

/// The conflict diagnostic: the fields and the managers that hold them (`message`, the
/// server's own words, when it listed none).
pub(crate) fn conflict(id: &Ident, conflicts: &[Conflict], message: &str) -> Diagnostic {
    let list: Vec<String> = if conflicts.is_empty() {
        vec![message.to_string()]
    } else {
        conflicts
            .iter()
            .map(|c| format!("{} (managed by \"{}\")", c.field, c.manager))
            .collect()
    };
    err(
        "conflict",
        "Field manager conflict",
        format!(
            "Applying {} conflicts with other field managers: {}.",
            id.describe(),
            list.join(", ")
        ),
    )
    .with_help("Leave those fields out, or force the apply to take them over.")
}
