//! The Rook provider's few conversations with the Kubernetes API, over the k8s provider's
//! connection (`brick_provider_k8s::client`): server-side apply of a rendered object as field
//! manager `brick`, read, delete, and waits (until a judge says ready, until gone) that report
//! progress.

use std::time::{Duration, Instant};

use brick_provider_api::Diagnostic;
use brick_provider_api::provider::Progress;
use brick_provider_k8s::client::{Ctx, Kind};
use brick_provider_k8s::ready::Status;
use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
use serde_json::Value as Json;

/// The field manager brick applies as (the k8s provider's).
pub const MANAGER: &str = "brick";

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(500);

/// Which object a rendered document is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl Ident {
    pub fn of(obj: &Json) -> Option<Ident> {
        let md = obj.get("metadata")?;
        Some(Ident {
            api_version: obj.get("apiVersion")?.as_str()?.to_string(),
            kind: obj.get("kind")?.as_str()?.to_string(),
            namespace: md
                .get("namespace")
                .and_then(Json::as_str)
                .map(str::to_string),
            name: md.get("name")?.as_str()?.to_string(),
        })
    }

    pub fn new(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Ident {
        Ident {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            name: name.into(),
        }
    }

    /// `CephCluster rook-ceph/rook-ceph`, for messages.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

fn not_served(id: &Ident) -> Diagnostic {
    Diagnostic::error(
        "brick::rook::kind_not_served",
        "Kind not served",
        format!(
            "The API server does not serve {} ({}), needed for {}.",
            id.kind,
            id.api_version,
            id.describe()
        ),
    )
    .with_help("Install Rook's CRDs first: a rook_operator whose documents include crds.yaml (and csi-operator.yaml for csi.ceph.io objects).")
}

async fn kind(ctx: &Ctx, id: &Ident, fresh: bool) -> Result<Option<Kind>, Diagnostic> {
    ctx.kind(&id.api_version, &id.kind, fresh).await
}

/// Server-side applies `obj` (forcing: brick owns what it renders) and returns the live object.
/// `dry_run` asks the server to validate and default it without storing it.
pub async fn apply(ctx: &Ctx, obj: &Json, dry_run: bool) -> Result<Json, Diagnostic> {
    let id = Ident::of(obj).expect("rendered objects carry apiVersion, kind and name");
    let deadline = Instant::now() + Duration::from_secs(30);
    let k = loop {
        match kind(ctx, &id, true).await? {
            Some(k) => break k,
            // A CRD applied a moment ago may take a little while to be served.
            None if Instant::now() < deadline => tokio::time::sleep(POLL).await,
            None => return Err(not_served(&id)),
        }
    };
    let api = ctx.api(&k, id.namespace.as_deref());
    let mut params = PatchParams::apply(MANAGER).force();
    params.dry_run = dry_run;
    loop {
        match api.patch(&id.name, &params, &Patch::Apply(obj)).await {
            Ok(o) => return Ok(serde_json::to_value(o).unwrap_or(Json::Null)),
            // The namespace of a document applied just before may still be on its way.
            Err(kube::Error::Api(s)) if s.code == 404 && Instant::now() < deadline => {
                tokio::time::sleep(POLL).await;
            }
            Err(e) => return Err(ctx.error(&e, &format!("applying {}", id.describe()))),
        }
    }
}

/// The live object, or `None` when it (or its kind) does not exist.
pub async fn get(ctx: &Ctx, id: &Ident) -> Result<Option<Json>, Diagnostic> {
    let Some(k) = kind(ctx, id, false).await? else {
        return Ok(None);
    };
    let api = ctx.api(&k, id.namespace.as_deref());
    match api.get_opt(&id.name).await {
        Ok(o) => Ok(o.map(|o| serde_json::to_value(o).unwrap_or(Json::Null))),
        Err(e) => Err(ctx.error(&e, &format!("reading {}", id.describe()))),
    }
}

/// The objects of a kind in a namespace (empty when the kind is not served).
pub async fn list(
    ctx: &Ctx,
    api_version: &str,
    kind_name: &str,
    namespace: &str,
) -> Result<Vec<Json>, Diagnostic> {
    let id = Ident::new(api_version, kind_name, Some(namespace), "");
    let Some(k) = kind(ctx, &id, false).await? else {
        return Ok(Vec::new());
    };
    let api = ctx.api(&k, Some(namespace));
    match api.list(&Default::default()).await {
        Ok(l) => Ok(l
            .items
            .into_iter()
            .map(|o| serde_json::to_value(o).unwrap_or(Json::Null))
            .collect()),
        Err(e) => Err(ctx.error(&e, &format!("listing {kind_name} in {namespace}"))),
    }
}

/// Deletes the object (background propagation); gone already is fine.
pub async fn delete(ctx: &Ctx, id: &Ident) -> Result<(), Diagnostic> {
    let Some(k) = kind(ctx, id, false).await? else {
        return Ok(());
    };
    let api = ctx.api(&k, id.namespace.as_deref());
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    match api.delete(&id.name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ctx.error(&e, &format!("deleting {}", id.describe()))),
    }
}

/// Waits until `judge` says the live object is ready, reporting each new status; gives up at
/// `timeout` with the last status.
pub async fn wait_ready(
    ctx: &Ctx,
    id: &Ident,
    timeout: Duration,
    progress: &dyn Progress,
    judge: impl Fn(&Json) -> Status,
) -> Result<Json, Diagnostic> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        let (status, live) = match get(ctx, id).await? {
            Some(o) => (judge(&o), Some(o)),
            None => (Status::Waiting(format!("{} to exist", id.describe())), None),
        };
        match status {
            Status::Ready => return Ok(live.unwrap_or(Json::Null)),
            Status::Failed(why) => {
                return Err(Diagnostic::error(
                    "brick::rook::failed",
                    "Object failed",
                    format!("{} failed: {why}.", id.describe()),
                ));
            }
            Status::Waiting(why) => {
                if why != last {
                    progress.report(&why);
                    last = why;
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(Diagnostic::error(
                "brick::rook::not_ready",
                "Not ready in time",
                format!(
                    "{} was not ready after {} s: {last}.",
                    id.describe(),
                    timeout.as_secs()
                ),
            )
            .with_help("Look at the Rook operator's log and the object's status (`kubectl describe`); apply again to keep waiting."));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the object is gone (its finalizers done).
pub async fn wait_gone(
    ctx: &Ctx,
    id: &Ident,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(), Diagnostic> {
    let deadline = Instant::now() + timeout;
    let mut reported = false;
    loop {
        let Some(live) = get(ctx, id).await? else {
            return Ok(());
        };
        if !reported {
            let finalizers = live
                .pointer("/metadata/finalizers")
                .and_then(Json::as_array)
                .map(|f| {
                    f.iter()
                        .filter_map(Json::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            progress.report(&format!("deleting (finalizers: {finalizers})"));
            reported = true;
        }
        if Instant::now() >= deadline {
            return Err(Diagnostic::error(
                "brick::rook::not_deleted",
                "Not deleted in time",
                format!(
                    "{} still exists after {} s.",
                    id.describe(),
                    timeout.as_secs()
                ),
            )
            .with_help(
                "Rook's finalizer waits for the operator: check that it runs, and its log.",
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}
