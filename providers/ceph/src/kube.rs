//! The Rook provider's conversations with the Kubernetes API, through the k8s provider's
//! machinery (`brick_provider_k8s::machinery`): server-side apply of a rendered object as field
//! manager `brick` (waiting a moment for a kind whose CRD was just applied), read, list,
//! delete and wait-until-gone; and a wait until a Rook-specific judge says ready (CephCluster:
//! phase and health; CephBlockPool: phase for the applied generation), reporting progress.

use std::time::{Duration, Instant};

use brick_provider_api::Diagnostic;
use brick_provider_api::provider::Progress;
use brick_provider_k8s::machinery::{Cluster, Propagation, Status};
use kube::api::{Patch, PatchParams};
use serde_json::Value as Json;

pub use brick_provider_k8s::machinery::{Ident, MANAGER};

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(500);

/// `Ident` of an object by its parts.
pub fn ident(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Ident {
    Ident {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.map(str::to_string),
        name: name.into(),
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

/// Waits (briefly) until the kind of `id` is served: a CRD applied a moment ago may take a
/// little while.
async fn served(cluster: &Cluster, id: &Ident) -> Result<(), Diagnostic> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if cluster.kind(&id.api_version, &id.kind).await?.is_some() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(not_served(id));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Server-side applies `obj` (forcing: brick owns what it renders) and returns the live object.
/// `dry_run` asks the server to validate and default it without storing it.
pub async fn apply(cluster: &Cluster, obj: &Json, dry_run: bool) -> Result<Json, Diagnostic> {
    let id = Ident::from_json(obj).expect("rendered objects carry apiVersion, kind and name");
    served(cluster, &id).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    if !dry_run {
        loop {
            match cluster.apply(obj, true).await {
                // The namespace of a document applied just before may still be on its way.
                Err(d) if d.detail.contains("NotFound") && Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await
                }
                other => return other,
            }
        }
    }
    let (kind, id) = cluster.resolve(&id).await?;
    let api = cluster.ctx().api(&kind, id.namespace.as_deref());
    let mut params = PatchParams::apply(MANAGER).force();
    params.dry_run = true;
    match api.patch(&id.name, &params, &Patch::Apply(obj)).await {
        Ok(o) => Ok(serde_json::to_value(o).unwrap_or(Json::Null)),
        Err(e) => Err(cluster.diagnostic(&e, &format!("applying {} (dry run)", id.describe()))),
    }
}

/// The live object, or `None` when it (or its kind) does not exist.
pub async fn get(cluster: &Cluster, id: &Ident) -> Result<Option<Json>, Diagnostic> {
    cluster.get(id).await
}

/// The objects of a kind in a namespace (empty when the kind is not served).
pub async fn list(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    namespace: &str,
) -> Result<Vec<Json>, Diagnostic> {
    cluster.list(api_version, kind, Some(namespace), None).await
}

/// Deletes the object (background propagation); gone already is fine.
pub async fn delete(cluster: &Cluster, id: &Ident) -> Result<(), Diagnostic> {
    cluster
        .delete(id, Propagation::Background)
        .await
        .map(|_| ())
}

/// Waits until the object is gone (its finalizers done).
pub async fn wait_gone(
    cluster: &Cluster,
    id: &Ident,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(), Diagnostic> {
    cluster.wait_gone(id, timeout, progress).await
}

/// Waits until `judge` says the live object is ready, reporting each new status; gives up at
/// `timeout` with the last status.
pub async fn wait_ready(
    cluster: &Cluster,
    id: &Ident,
    timeout: Duration,
    progress: &dyn Progress,
    judge: impl Fn(&Json) -> Status,
) -> Result<Json, Diagnostic> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        let (status, live) = match get(cluster, id).await? {
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
