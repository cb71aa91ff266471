//! The strimzi provider's Kubernetes operations, on the k8s provider's machinery
//! ([`brick_provider_k8s::machinery::Cluster`]): server-side apply as brick (forced: the fields
//! brick writes are brick's), read, delete and wait until gone, and Strimzi's own readiness
//! (the `Ready` condition of the generation the operator has seen; a `NotSupported` refusal
//! fails at once) polled with progress.

use std::time::{Duration, Instant};

use brick_provider_api::Diagnostic;
use brick_provider_api::provider::Progress;
pub use brick_provider_k8s::machinery::Ident as ObjRef;
use brick_provider_k8s::machinery::{Cluster, Propagation};
use serde_json::Value as Json;

/// How often a wait reads the object again.
pub const POLL: Duration = Duration::from_millis(500);

/// An object's address.
pub fn obj(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ObjRef {
    ObjRef {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
    }
}

/// Server-side applies `doc` (forced) and returns the object the server keeps. A Strimzi kind
/// the server does not serve says to install Strimzi first.
pub async fn apply(cluster: &Cluster, doc: &Json) -> Result<Json, Diagnostic> {
    cluster.apply(doc, true).await.map_err(|d| {
        let strimzi = doc["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("kafka.strimzi.io/"));
        if d.code == "brick::k8s::unknown_kind" && strimzi {
            d.with_help("Install Strimzi first: a strimzi_operator resource this one depends on (depends_on or a reference), or Strimzi's own install files.")
        } else {
            d
        }
    })
}

/// The live object, `None` when it does not exist (or its kind is not served).
pub async fn get(cluster: &Cluster, r: &ObjRef) -> Result<Option<Json>, Diagnostic> {
    cluster.get(r).await
}

/// Deletes `r` (dependents left to the garbage collector) and, when `wait` is given, waits
/// until it is gone (its finalizers done).
pub async fn delete(
    cluster: &Cluster,
    r: &ObjRef,
    wait: Option<(Duration, &dyn Progress)>,
) -> Result<(), Diagnostic> {
    if cluster.delete(r, Propagation::Background).await?
        && let Some((limit, progress)) = wait
    {
        cluster.wait_gone(r, limit, progress).await?;
    }
    Ok(())
}

/// Where an object stands for a wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    Ready,
    /// Not yet: what it waits for (shown as progress).
    Waiting(String),
    /// It will not become ready by itself: the reason, for the error.
    Failed(String),
}

/// Reads `r` until `judge` says Ready (or Failed), reporting each new status to `progress`,
/// for at most `limit`. Returns the last object read.
pub async fn wait_until(
    cluster: &Cluster,
    r: &ObjRef,
    limit: Duration,
    progress: &dyn Progress,
    judge: impl Fn(&Json) -> Standing,
) -> Result<Json, Diagnostic> {
    let deadline = Instant::now() + limit;
    let mut said = String::new();
    loop {
        let standing = match get(cluster, r).await? {
            Some(obj) => match judge(&obj) {
                Standing::Ready => return Ok(obj),
                other => other,
            },
            None => Standing::Waiting("not created yet".into()),
        };
        match standing {
            Standing::Failed(why) => {
                return Err(Diagnostic::error(
                    "brick::strimzi::not_ready",
                    "Not ready",
                    format!("{} will not become ready: {why}.", r.describe()),
                ));
            }
            Standing::Waiting(why) => {
                if why != said {
                    progress.report(&why);
                    said = why;
                }
            }
            Standing::Ready => unreachable!("returned above"),
        }
        if Instant::now() >= deadline {
            return Err(Diagnostic::error(
                "brick::strimzi::not_ready",
                "Not ready in time",
                format!(
                    "{} was not ready after {} s: {said}.",
                    r.describe(),
                    limit.as_secs()
                ),
            )
            .with_help("The object is applied; the next apply waits for it again. A longer wait: the resource's timeouts block."));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A condition's (status, reason, message) from `status.conditions`.
pub fn condition<'a>(obj: &'a Json, ty: &str) -> Option<(&'a str, &'a str, &'a str)> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Json::as_str) == Some(ty))
        .map(|c| {
            let s = |k: &str| c.get(k).and_then(Json::as_str).unwrap_or("");
            (s("status"), s("reason"), s("message"))
        })
}

/// Strimzi's readiness of a custom resource: `Ready=True` once the operator has seen the
/// current generation; `Ready=False` with a reason the operator will not fix by itself
/// (`NotSupported`, `InvalidResourceException`, …) is a failure; anything else is a wait.
pub fn strimzi_ready(obj: &Json) -> Standing {
    let generation = obj.pointer("/metadata/generation").and_then(Json::as_i64);
    let observed = obj
        .pointer("/status/observedGeneration")
        .and_then(Json::as_i64);
    if let (Some(g), Some(o)) = (generation, observed)
        && o < g
    {
        return Standing::Waiting(format!(
            "the operator has not seen generation {g} yet (observed {o})"
        ));
    }
    if observed.is_none() && generation.is_some() {
        return Standing::Waiting("not reconciled by the operator yet".into());
    }
    match condition(obj, "Ready") {
        Some(("True", _, _)) => Standing::Ready,
        Some((_, reason, message)) => {
            let text = match (reason.is_empty(), message.is_empty()) {
                (true, true) => "Ready is False".to_string(),
                (false, true) => reason.to_string(),
                (true, false) => message.to_string(),
                (false, false) => format!("{reason}: {message}"),
            };
            if matches!(
                reason,
                "NotSupported" | "InvalidResourceException" | "InvalidConfigParameterException"
            ) {
                Standing::Failed(text)
            } else {
                Standing::Waiting(text)
            }
        }
        None => match condition(obj, "NotReady") {
            Some((_, reason, message)) if !reason.is_empty() || !message.is_empty() => {
                Standing::Waiting(format!("{reason}: {message}"))
            }
            _ => Standing::Waiting("no Ready condition yet".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strimzi_readiness_follows_the_ready_condition_of_the_current_generation() {
        let at = |g: i64, o: Option<i64>, cond: Json| {
            let mut obj = json!({"metadata": {"generation": g}, "status": {"conditions": [cond]}});
            if let Some(o) = o {
                obj["status"]["observedGeneration"] = json!(o);
            }
            strimzi_ready(&obj)
        };
        assert_eq!(
            at(2, Some(2), json!({"type": "Ready", "status": "True"})),
            Standing::Ready
        );
        assert!(matches!(
            at(3, Some(2), json!({"type": "Ready", "status": "True"})),
            Standing::Waiting(_)
        ));
        assert!(matches!(
            at(1, None, json!({"type": "Ready", "status": "True"})),
            Standing::Waiting(_)
        ));
        assert_eq!(
            at(
                1,
                Some(1),
                json!({"type": "Ready", "status": "False", "reason": "NotSupported", "message": "Decreasing partitions not supported"})
            ),
            Standing::Failed("NotSupported: Decreasing partitions not supported".into())
        );
        assert_eq!(
            at(
                1,
                Some(1),
                json!({"type": "NotReady", "status": "True", "reason": "Creating", "message": "Waiting for PVCs"})
            ),
            Standing::Waiting("Creating: Waiting for PVCs".into())
        );
    }
}
