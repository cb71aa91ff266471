//! The strimzi provider's few Kubernetes operations — server-side apply of a document with
//! brick's field manager, read, delete and wait until gone, and polling until a condition
//! holds with progress — on the k8s provider's connection ([`brick_provider_k8s::client::Ctx`]).

use std::time::{Duration, Instant};

use brick_provider_api::Diagnostic;
use brick_provider_api::provider::Progress;
use brick_provider_k8s::client::{Ctx, Kind};
use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
use serde_json::Value as Json;

/// The field manager brick applies with (the k8s provider's).
pub const FIELD_MANAGER: &str = "brick";

/// How often a wait reads the object again.
pub const POLL: Duration = Duration::from_millis(500);

/// One object's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjRef {
    pub fn new(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ObjRef {
        ObjRef {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }

    /// The address of a document (apiVersion, kind, metadata.namespace and name).
    pub fn of(doc: &Json) -> Option<ObjRef> {
        let s = |p: &str| doc.pointer(p).and_then(Json::as_str);
        Some(ObjRef::new(
            s("/apiVersion")?,
            s("/kind")?,
            s("/metadata/namespace"),
            s("/metadata/name")?,
        ))
    }

    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

fn not_served(r: &ObjRef) -> Diagnostic {
    let hint = if r.api_version.starts_with("kafka.strimzi.io/") {
        "Install Strimzi first (a strimzi_operator resource, or Strimzi's own install files); brick waits for a strimzi_operator of the same configuration when the resource depends on it."
    } else {
        "Check the apiVersion and kind, and that the CRD that defines them is installed."
    };
    Diagnostic::error(
        "brick::strimzi::kind_not_served",
        "Kind not served",
        format!(
            "The API server does not serve {} in {}.",
            r.kind, r.api_version
        ),
    )
    .with_help(hint)
}

/// How the server serves `r`'s kind (discovery asked again on a miss).
async fn kind(ctx: &Ctx, r: &ObjRef) -> Result<Kind, Diagnostic> {
    ctx.kind(&r.api_version, &r.kind, true)
        .await?
        .ok_or_else(|| not_served(r))
}

/// Server-side applies `doc` (with `force`: brick's fields are brick's) and returns the object
/// the server keeps.
pub async fn apply(ctx: &Ctx, doc: &Json) -> Result<Json, Diagnostic> {
    let r = ObjRef::of(doc).ok_or_else(|| {
        Diagnostic::error(
            "brick::strimzi::bad_document",
            "Document without apiVersion, kind or name",
            "A document to apply lacks apiVersion, kind or metadata.name.",
        )
    })?;
    let k = kind(ctx, &r).await?;
    let api = ctx.api(&k, r.namespace.as_deref());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let obj = api
        .patch(&r.name, &params, &Patch::Apply(doc))
        .await
        .map_err(|e| ctx.error(&e, &format!("applying {}", r.describe())))?;
    serde_json::to_value(obj).map_err(|e| {
        Diagnostic::error(
            "brick::strimzi::bad_answer",
            "Unreadable answer",
            format!(
                "The API server's answer for {} did not convert: {e}.",
                r.describe()
            ),
        )
    })
}

/// The live object, `None` when it does not exist (or its kind is not served).
pub async fn get(ctx: &Ctx, r: &ObjRef) -> Result<Option<Json>, Diagnostic> {
    let Some(k) = ctx.kind(&r.api_version, &r.kind, false).await? else {
        return Ok(None);
    };
    let api = ctx.api(&k, r.namespace.as_deref());
    match api.get_opt(&r.name).await {
        Ok(Some(obj)) => Ok(serde_json::to_value(obj).ok()),
        Ok(None) => Ok(None),
        Err(e) => Err(ctx.error(&e, &format!("reading {}", r.describe()))),
    }
}

/// Deletes `r` (dependents in the foreground) and, when `wait` is given, waits until it is gone.
pub async fn delete(
    ctx: &Ctx,
    r: &ObjRef,
    wait: Option<(Duration, &dyn Progress)>,
) -> Result<(), Diagnostic> {
    let Some(k) = ctx.kind(&r.api_version, &r.kind, false).await? else {
        return Ok(());
    };
    let api = ctx.api(&k, r.namespace.as_deref());
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..Default::default()
    };
    match api.delete(&r.name, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(e) => return Err(ctx.error(&e, &format!("deleting {}", r.describe()))),
    }
    let Some((limit, progress)) = wait else {
        return Ok(());
    };
    let deadline = Instant::now() + limit;
    let mut said = String::new();
    loop {
        let Some(obj) = get(ctx, r).await? else {
            return Ok(());
        };
        let now = match obj.pointer("/metadata/finalizers").and_then(Json::as_array) {
            Some(f) if !f.is_empty() => format!(
                "waiting for finalizers {}",
                f.iter()
                    .filter_map(Json::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => "deleting".to_string(),
        };
        if now != said {
            progress.report(&now);
            said = now;
        }
        if Instant::now() >= deadline {
            return Err(Diagnostic::error(
                "brick::strimzi::delete_timeout",
                "Object not gone",
                format!(
                    "{} was still there {} s after its deletion ({said}).",
                    r.describe(),
                    limit.as_secs()
                ),
            )
            .with_help(
                "Check the operator that owns its finalizers, then run the command again.",
            ));
        }
        tokio::time::sleep(POLL).await;
    }
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
    ctx: &Ctx,
    r: &ObjRef,
    limit: Duration,
    progress: &dyn Progress,
    judge: impl Fn(&Json) -> Standing,
) -> Result<Json, Diagnostic> {
    let deadline = Instant::now() + limit;
    let mut said = String::new();
    loop {
        let standing = match get(ctx, r).await? {
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
