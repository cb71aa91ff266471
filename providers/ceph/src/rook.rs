//! The `rook` provider: Ceph on Kubernetes through Rook — `rook_operator`, `rook_cluster`,
//! `rook_block_pool`, `rook_storage_class` — over the k8s provider's connection (its provider
//! block, server-side apply as `brick`), waiting for Rook's own readiness, and the plan check
//! of [`crate::rook_checks`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use brick_provider_api::provider::{
    ApplyRequest, ApplyResponse, ChangeDiagnostic, ImportedResource, PlanRequest, PlanResponse,
    PlannedChange, Progress, ReadRequest,
};
use brick_provider_api::schema::ProviderSchema;
use brick_provider_api::{Diagnostic, Diagnostics, Provider, Value};
use brick_provider_k8s::machinery::{Cluster as Ctx, Status};
use brick_provider_k8s::ready;
use serde_json::Value as Json;

use crate::convert::{s, str_attr};
use crate::kube::{self, Ident, ident};
use crate::pg_metrics;
use crate::resources::{
    rook_block_pool as pool, rook_cluster as cluster, rook_operator as operator,
    rook_storage_class as class,
};
use crate::rook_checks;

/// How long an apply waits when the resource's `timeouts` do not end it first.
const OPERATOR_WAIT: Duration = Duration::from_secs(10 * 60);
const CLUSTER_WAIT: Duration = Duration::from_secs(60 * 60);
const POOL_WAIT: Duration = Duration::from_secs(10 * 60);

/// The Rook provider.
#[derive(Default)]
pub struct RookProvider {
    ctx: RwLock<Option<Arc<Ctx>>>,
}

impl RookProvider {
    pub fn ctx(&self) -> Result<Arc<Ctx>, Diagnostics> {
        self.ctx.read().expect("ctx lock").clone().ok_or_else(|| {
            vec![Diagnostic::error(
                "brick::rook::unconfigured",
                "Provider not configured",
                "The rook provider was used before it was configured (its configuration is not known yet).",
            )]
        })
    }
}

fn unknown_type(type_name: &str) -> Diagnostics {
    vec![Diagnostic::error(
        "brick::rook::unknown_type",
        "Unknown resource type",
        format!("The rook provider has no resource type named {type_name}."),
    )]
}

fn ns_name(v: &Value, ns_attr: &str) -> (String, String) {
    (
        str_attr(v, ns_attr).unwrap_or("rook-ceph").to_string(),
        str_attr(v, "name").unwrap_or("").to_string(),
    )
}

fn cluster_ident(v: &Value) -> Ident {
    let (ns, name) = ns_name(v, "namespace");
    ident(cluster::API_VERSION, cluster::KIND, Some(&ns), &name)
}

fn pool_ident(v: &Value) -> Ident {
    let (ns, name) = ns_name(v, "namespace");
    ident(pool::API_VERSION, pool::KIND, Some(&ns), &name)
}

fn class_ident(v: &Value) -> Ident {
    ident(
        class::API_VERSION,
        class::KIND,
        None,
        str_attr(v, "name").unwrap_or(""),
    )
}

fn deployment_ident(v: &Value) -> Ident {
    let ns = str_attr(v, "namespace").unwrap_or("rook-ceph");
    ident("apps/v1", "Deployment", Some(ns), operator::DEPLOYMENT)
}

/// The response for a failed step: the object as it now is (`now`), and the diagnostic.
fn failed(now: Value, d: Diagnostic) -> ApplyResponse {
    ApplyResponse {
        new_state: now,
        diagnostics: vec![d],
    }
}

fn done(state: Value) -> ApplyResponse {
    ApplyResponse::done(state)
}

/// Applies every object in order, waiting for CRDs to be established before what follows.
async fn apply_all(ctx: &Ctx, objs: &[Json], progress: &dyn Progress) -> Result<(), Diagnostic> {
    for (i, o) in objs.iter().enumerate() {
        kube::apply(ctx, o, false).await?;
        let crd = o["kind"] == "CustomResourceDefinition";
        let next_is_crd = objs
            .get(i + 1)
            .is_some_and(|n| n["kind"] == "CustomResourceDefinition");
        if crd && !next_is_crd {
            // The last CRD: wait for them all to be served before the objects that use them.
            for c in objs
                .iter()
                .filter(|c| c["kind"] == "CustomResourceDefinition")
            {
                let id = Ident::from_json(c).expect("CRDs are named");
                kube::wait_ready(ctx, &id, Duration::from_secs(60), progress, ready::kstatus)
                    .await?;
            }
        }
    }
    Ok(())
}

async fn apply_operator(
    ctx: &Ctx,
    prior: &Value,
    planned: &Value,
    progress: &dyn Progress,
) -> ApplyResponse {
    if planned.is_null() {
        // Reverse order: the operator before its RBAC and CRDs. Namespaces are left to the
        // last step of all and not waited for (their finalization needs the controllers).
        let objs = match operator::render(prior) {
            Ok((objs, _)) => objs,
            Err(d) => return ApplyResponse::failed(prior, d),
        };
        for o in objs.iter().rev() {
            let id = Ident::from_json(o).expect("rendered objects are named");
            if let Err(d) = kube::delete(ctx, &id).await {
                return failed(prior.clone(), d);
            }
        }
        let dep = deployment_ident(prior);
        if let Err(d) = kube::wait_gone(ctx, &dep, Duration::from_secs(120), progress).await {
            return failed(prior.clone(), d);
        }
        return done(Value::null(prior.ty()));
    }
    let objs = match operator::render(planned) {
        Ok((objs, _)) => objs,
        Err(d) => return ApplyResponse::failed(prior, d),
    };
    progress.report(&format!("applying {} objects", objs.len()));
    let now = if prior.is_null() {
        Value::null(planned.ty())
    } else {
        prior.clone()
    };
    if let Err(d) = apply_all(ctx, &objs, progress).await {
        return failed(now, d);
    }
    let dep = deployment_ident(planned);
    match kube::wait_ready(ctx, &dep, OPERATOR_WAIT, progress, ready::kstatus).await {
        Ok(_) => done(planned.clone()),
        Err(d) => failed(planned.clone(), d),
    }
}

async fn apply_cluster(
    ctx: &Ctx,
    prior: &Value,
    planned: &Value,
    progress: &dyn Progress,
) -> ApplyResponse {
    if planned.is_null() {
        let id = cluster_ident(prior);
        if let Err(d) = kube::delete(ctx, &id).await {
            return failed(prior.clone(), d);
        }
        if let Err(d) = kube::wait_gone(ctx, &id, Duration::from_secs(15 * 60), progress).await {
            return failed(prior.clone(), d);
        }
        // The external connection objects brick wrote.
        for o in cluster::render(prior)
            .iter()
            .filter(|o| o["kind"] != cluster::KIND)
        {
            let id = Ident::from_json(o).expect("named");
            if let Err(d) = kube::delete(ctx, &id).await {
                return failed(Value::null(prior.ty()), d);
            }
        }
        return done(Value::null(prior.ty()));
    }
    let now = if prior.is_null() {
        Value::null(planned.ty())
    } else {
        prior.clone()
    };
    let objs = cluster::render(planned);
    let mut applied = None;
    for o in &objs {
        match kube::apply(ctx, o, false).await {
            Ok(live) => applied = generation(&live),
            Err(d) => return failed(now, d),
        }
    }
    let id = cluster_ident(planned);
    let external = crate::convert::bool_attr(planned, "external") == Some(true);
    if !external && let Err(d) = retire_osds(ctx, planned, progress).await {
        return failed(now, d);
    }
    let devices = cluster::device_count(planned);
    let start = std::time::Instant::now();
    match kube::wait_ready(ctx, &id, CLUSTER_WAIT, progress, |o| {
        cluster::judge(o, external, devices, applied)
    })
    .await
    {
        Ok(live) if !external && cluster::adds_devices(prior, planned) => {
            let state = cluster::with_status(planned, &live);
            let (ns, _) = ns_name(planned, "namespace");
            match wait_pgs(ctx, &ns, devices, start + CLUSTER_WAIT, progress).await {
                Ok(None) => done(state),
                Ok(Some(warning)) => ApplyResponse {
                    new_state: state,
                    diagnostics: vec![warning],
                },
                Err(d) => failed(state, d),
            }
        }
        Ok(live) => done(cluster::with_status(planned, &live)),
        Err(d) => {
            let state = match kube::get(ctx, &id).await {
                Ok(Some(live)) => cluster::with_status(planned, &live),
                _ => planned_known(planned),
            };
            failed(state, d)
        }
    }
}

/// How often the PG wait scrapes the mgr's metrics: often at first (a small backfill ends in
/// seconds), then every 5 s (the mgr refreshes them every 15 s, and a large cluster's
/// exposition is large).
const PG_POLL_FIRST: Duration = Duration::from_millis(500);
const PG_POLL: Duration = Duration::from_secs(5);
/// How long the mgr's metrics may fail to answer for a passing reason (no endpoint yet, the
/// module starting: HTTP 503) before the PG wait is given up with a warning.
const METRICS_GRACE: Duration = Duration::from_secs(120);

/// Waits, after the CephCluster is Ready with HEALTH_OK and every listed device an OSD, until
/// the mgr's metrics ([`pg_metrics`]) show as many OSDs up and in and every PG active+clean:
/// the end of the backfill to new OSDs, which neither Rook's status nor Ceph's health shows.
/// Gives up at `deadline` (the cluster wait's) with `brick::rook::not_ready`. When the metrics
/// cannot be read — the Service absent, the proxy refused (RBAC), the text not a Ceph mgr's,
/// or no answer for [`METRICS_GRACE`] — the wait is skipped: `Ok(Some(warning))`.
async fn wait_pgs(
    ctx: &Ctx,
    ns: &str,
    devices: Option<usize>,
    deadline: std::time::Instant,
    progress: &dyn Progress,
) -> Result<Option<Diagnostic>, Diagnostic> {
    let mut last = String::new();
    let mut failing_since: Option<std::time::Instant> = None;
    let want = devices.unwrap_or(0) as u64;
    let started = std::time::Instant::now();
    loop {
        let say = match pg_metrics::read(ctx, ns).await {
            Ok((text, path)) => {
                failing_since = None;
                let st = match pg_metrics::PgStates::of(&text) {
                    Ok(st) if st.counted => st,
                    Ok(_) => {
                        return Ok(Some(pg_wait_skipped(
                            ns,
                            &path,
                            "the metrics have no ceph_pg_total (not a Ceph mgr's, or a Ceph that does not count PGs per pool)",
                        )));
                    }
                    Err(e) => {
                        return Ok(Some(pg_wait_skipped(
                            ns,
                            &path,
                            &format!("the metrics could not be parsed ({e})"),
                        )));
                    }
                };
                if st.osds_up < want || st.osds_in < want {
                    format!(
                        "waiting for the mgr's metrics to show the OSDs: {} up, {} in of {want}",
                        st.osds_up, st.osds_in
                    )
                } else if st.all_active_clean() {
                    progress.report(&st.describe());
                    return Ok(None);
                } else {
                    st.describe()
                }
            }
            Err((pg_metrics::Unreadable::Lasting(why), path)) => {
                return Ok(Some(pg_wait_skipped(ns, &path, &why)));
            }
            Err((pg_metrics::Unreadable::Passing(why), path)) => {
                let since = *failing_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() >= METRICS_GRACE {
                    return Ok(Some(pg_wait_skipped(
                        ns,
                        &path,
                        &format!("no answer for {} s ({why})", METRICS_GRACE.as_secs()),
                    )));
                }
                format!("waiting for the mgr's metrics: {why}")
            }
        };
        if say != last {
            progress.report(&say);
            last = say;
        }
        if std::time::Instant::now() >= deadline {
            return Err(Diagnostic::error(
                "brick::rook::not_ready",
                "Not ready in time",
                format!(
                    "The PGs of the Ceph cluster in namespace {ns} were not all active+clean within the {} s an apply waits for a cluster: {last}.",
                    CLUSTER_WAIT.as_secs()
                ),
            )
            .with_help("The CephCluster is applied and recorded; the backfill to the new OSDs goes on by itself. Follow it with `ceph pg stat` in Rook's toolbox, or the ceph provider's ceph_status data source (pgs_by_state)."));
        }
        let poll = if started.elapsed() < Duration::from_secs(10) {
            PG_POLL_FIRST
        } else {
            PG_POLL
        };
        tokio::time::sleep(poll.min(deadline.saturating_duration_since(std::time::Instant::now())))
            .await;
    }
}

/// The warning of a PG wait that could not be done.
fn pg_wait_skipped(ns: &str, path: &str, why: &str) -> Diagnostic {
    Diagnostic::warning(
        "brick::rook::pg_wait_skipped",
        "PG wait skipped",
        format!(
            "The apply did not wait for the PGs to be active+clean after adding OSDs: the Ceph mgr's metrics could not be read at {path}: {why}. The new OSDs are up and in and Ceph says HEALTH_OK, but data may still be backfilling to them."
        ),
    )
    .with_help(format!(
        "Check with `ceph pg stat` (Rook's toolbox). For brick to wait, let it get services and services/proxy in namespace {ns} and keep the mgr's prometheus module on (Rook enables it)."
    ))
}

/// The image of Rook's OSD purge job (the operator's).
const PURGE_IMAGE: &str = crate::resources::rook_operator::DEFAULT_IMAGE;
/// How long one node's OSDs may take to drain (backfill) and be purged.
const PURGE_WAIT: Duration = Duration::from_secs(6 * 60 * 60);

/// Removes the OSDs of nodes the CephCluster no longer lists, by Rook's documented procedure
/// (Ceph OSD Management, "Remove an OSD"): the CephCluster no longer names the node (applied
/// just before, so the operator will not re-create them); each OSD's Deployment
/// `rook-ceph-osd-<id>` is scaled to 0 (Rook's purge removes only down OSDs); then Rook's purge
/// job (`rook ceph osd remove --osd-ids=… --force-osd-removal false`) marks them out, waits
/// until Ceph says they are safe to destroy (their PGs backfilled to the other OSDs, PGs
/// active+clean) and purges them. The OSDs are found live (their Deployments' labels), not
/// from the prior state, so an interrupted removal continues where it stopped.
async fn retire_osds(
    ctx: &Ctx,
    planned: &Value,
    progress: &dyn Progress,
) -> Result<(), Diagnostic> {
    let Some(nodes) = cluster::nodes(planned) else {
        return Ok(());
    };
    let (ns, name) = ns_name(planned, "namespace");
    let mut ids: Vec<u64> = Vec::new();
    let mut hosts = std::collections::BTreeSet::new();
    for (id, host, d) in osd_deployments(ctx, &ns).await? {
        if nodes.contains_key(&host) {
            continue;
        }
        hosts.insert(host.clone());
        ids.push(id);
        if d.pointer("/spec/replicas").and_then(Json::as_u64) != Some(0) {
            progress.report(&format!(
                "osd.{id} on {host}: stopping it (scaling rook-ceph-osd-{id} to 0)"
            ));
            let scale = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": format!("rook-ceph-osd-{id}"), "namespace": ns},
                "spec": {"replicas": 0}});
            kube::apply(ctx, &scale, false).await?;
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let job_name = format!("rook-ceph-purge-osd-{}", list.replace(',', "-"));
    let job = purge_job(&ns, &job_name, &list);
    kube::apply(ctx, &job, false).await?;
    let job_id = Ident::from_json(&job).expect("named");
    let cluster_id = Ident {
        api_version: cluster::API_VERSION.into(),
        kind: cluster::KIND.into(),
        namespace: Some(ns.clone()),
        name,
    };
    let hosts = hosts.into_iter().collect::<Vec<_>>().join(", ");
    let start = std::time::Instant::now();
    let mut last = String::new();
    loop {
        let live = kube::get(ctx, &job_id).await?.unwrap_or(Json::Null);
        if live
            .pointer("/status/succeeded")
            .and_then(Json::as_u64)
            .unwrap_or(0)
            > 0
        {
            progress.report(&format!(
                "osd.{list} of {hosts} purged: their data lives on the other OSDs"
            ));
            return Ok(());
        }
        if live
            .pointer("/status/failed")
            .and_then(Json::as_u64)
            .unwrap_or(0)
            > 0
        {
            let why = live
                .pointer("/status/conditions/0/message")
                .and_then(Json::as_str)
                .unwrap_or("no reason given");
            return Err(Diagnostic::error(
                "brick::rook::osd_purge_failed",
                "OSD removal failed",
                format!("Rook's purge job {ns}/{job_name} for osd.{list} (nodes {hosts}) failed: {why}. The OSDs are not removed; no data was dropped."),
            )
            .with_help(format!("Look at `kubectl -n {ns} logs job/{job_name}`; delete the job and apply again to retry.")));
        }
        if start.elapsed() > PURGE_WAIT {
            return Err(Diagnostic::error(
                "brick::rook::osd_purge_timeout",
                "OSD removal still running",
                format!(
                    "osd.{list} (nodes {hosts}) are still draining after {} minutes.",
                    PURGE_WAIT.as_secs() / 60
                ),
            )
            .with_help("Apply again: the removal continues where it is."));
        }
        let health = match kube::get(ctx, &cluster_id).await? {
            Some(c) => {
                let h = c
                    .pointer("/status/ceph/health")
                    .and_then(Json::as_str)
                    .unwrap_or("?")
                    .to_string();
                let pg = c
                    .pointer("/status/ceph/details/PG_DEGRADED/message")
                    .and_then(Json::as_str)
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                format!("{h}{pg}")
            }
            None => "cluster not found".into(),
        };
        let say =
            format!("osd.{list} of {hosts}: out, draining until PGs are active+clean ({health})");
        if say != last {
            progress.report(&say);
            last = say;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The OSDs Rook runs in namespace `ns`, found by the labels of their Deployments
/// `rook-ceph-osd-<id>` (`app=rook-ceph-osd`, `ceph-osd-id`, `topology-location-host`): id,
/// host and the Deployment. A purged OSD's Deployment is deleted by the purge.
async fn osd_deployments(ctx: &Ctx, ns: &str) -> Result<Vec<(u64, String, Json)>, Diagnostic> {
    let mut out = Vec::new();
    for d in kube::list(ctx, "apps/v1", "Deployment", ns).await? {
        let labels = &d["metadata"]["labels"];
        if labels["app"] != "rook-ceph-osd" {
            continue;
        }
        if let (Some(host), Some(id)) = (
            labels["topology-location-host"].as_str(),
            labels["ceph-osd-id"].as_str().and_then(|i| i.parse().ok()),
        ) {
            out.push((id, host.to_string(), d.clone()));
        }
    }
    Ok(out)
}

/// A CephCluster as read, with the nodes that are gone from its spec but still carry OSDs
/// (a removal under way, e.g. interrupted by kill -9 while the OSDs drained) kept in `nodes`,
/// with the devices the state knew for them: until their OSDs are purged they are still part
/// of the cluster, so the next plan updates the cluster again and its apply finishes the
/// removal (the purge) before anything that depends on it goes (the node, the machine).
async fn read_cluster(ctx: &Ctx, current: &Value) -> Result<Option<Value>, Diagnostics> {
    let Some(live) = kube::get(ctx, &cluster_ident(current))
        .await
        .map_err(|d| vec![d])?
    else {
        return Ok(None);
    };
    let read = cluster::from_live(current, &live);
    if crate::convert::bool_attr(&read, "external") == Some(true) {
        return Ok(Some(read));
    }
    let Some(mut nodes) = cluster::nodes(&read) else {
        return Ok(Some(read));
    };
    let (ns, _) = ns_name(&read, "namespace");
    let known = cluster::nodes(current).unwrap_or_default();
    let mut retiring = false;
    for (_, host, _) in osd_deployments(ctx, &ns).await.map_err(|d| vec![d])? {
        if let std::collections::btree_map::Entry::Vacant(e) = nodes.entry(host) {
            let devices = known.get(e.key()).cloned().unwrap_or_default();
            e.insert(devices);
            retiring = true;
        }
    }
    if !retiring {
        return Ok(Some(read));
    }
    let mut m = read.as_mapping().cloned().unwrap_or_default();
    m.insert("nodes".into(), cluster::nodes_value(&nodes));
    Ok(Some(Value::object(m)))
}

/// Rook's osd-purge.yaml Job for these OSD ids, without forcing: Rook marks them out and waits
/// until Ceph reports them safe to destroy before purging.
fn purge_job(ns: &str, name: &str, ids: &str) -> Json {
    let secret =
        |key: &str| serde_json::json!({"secretKeyRef": {"name": "rook-ceph-mon", "key": key}});
    serde_json::json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "rook-ceph-purge-osd", "app.kubernetes.io/managed-by": "brick"}},
        "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": {"app": "rook-ceph-purge-osd"}},
            "spec": {"serviceAccountName": "rook-ceph-purge-osd", "restartPolicy": "Never",
                "containers": [{"name": "osd-removal", "image": PURGE_IMAGE,
                    "args": ["ceph", "osd", "remove", "--preserve-pvc", "false", "--force-osd-removal", "false", format!("--osd-ids={ids}")],
                    "env": [
                        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                        {"name": "ROOK_MON_ENDPOINTS", "valueFrom": {"configMapKeyRef": {"name": "rook-ceph-mon-endpoints", "key": "data"}}},
                        {"name": "ROOK_CEPH_USERNAME", "valueFrom": secret("ceph-username")},
                        {"name": "ROOK_CONFIG_DIR", "value": "/var/lib/rook"},
                        {"name": "ROOK_CEPH_CONFIG_OVERRIDE", "value": "/etc/rook/config/override.conf"},
                        {"name": "ROOK_FSID", "valueFrom": secret("fsid")},
                        {"name": "ROOK_LOG_LEVEL", "value": "DEBUG"}],
                    "volumeMounts": [
                        {"name": "ceph-conf-emptydir", "mountPath": "/etc/ceph"},
                        {"name": "rook-config", "mountPath": "/var/lib/rook"},
                        {"name": "ceph-admin-secret", "mountPath": "/var/lib/rook-ceph-mon", "readOnly": true}]}],
                "volumes": [
                    {"name": "ceph-admin-secret", "secret": {"secretName": "rook-ceph-mon", "optional": false, "items": [{"key": "ceph-secret", "path": "secret.keyring"}]}},
                    {"name": "ceph-conf-emptydir", "emptyDir": {}},
                    {"name": "rook-config", "emptyDir": {}}]}}}})
}

/// metadata.generation of an applied object.
fn generation(live: &Json) -> Option<i64> {
    live.pointer("/metadata/generation").and_then(Json::as_i64)
}

/// A planned value with its unknown computed attributes made null, for a failed apply.
fn planned_known(planned: &Value) -> Value {
    let mut m = planned.as_mapping().cloned().unwrap_or_default();
    for v in m.values_mut() {
        if !v.is_known() {
            *v = Value::null(v.ty());
        }
    }
    Value::object(m)
}

async fn apply_pool(
    ctx: &Ctx,
    prior: &Value,
    planned: &Value,
    progress: &dyn Progress,
) -> ApplyResponse {
    if planned.is_null() {
        let id = pool_ident(prior);
        if let Err(d) = kube::delete(ctx, &id).await {
            return failed(prior.clone(), d);
        }
        // Rook's finalizer deletes the Ceph pool before the object goes.
        return match kube::wait_gone(ctx, &id, POOL_WAIT, progress).await {
            Ok(()) => done(Value::null(prior.ty())),
            Err(d) => failed(prior.clone(), d),
        };
    }
    let now = if prior.is_null() {
        Value::null(planned.ty())
    } else {
        prior.clone()
    };
    let applied = match kube::apply(ctx, &pool::render(planned), false).await {
        Ok(live) => generation(&live),
        Err(d) => return failed(now, d),
    };
    let id = pool_ident(planned);
    match kube::wait_ready(ctx, &id, POOL_WAIT, progress, |o| pool::judge(o, applied)).await {
        Ok(_) => done(planned.clone()),
        Err(d) => {
            let mut state = planned_known(planned);
            if let Ok(Some(live)) = kube::get(ctx, &id).await {
                state = pool::from_live(&state, &live);
            }
            failed(state, d)
        }
    }
}

async fn apply_class(ctx: &Ctx, prior: &Value, planned: &Value) -> ApplyResponse {
    if planned.is_null() {
        return match kube::delete(ctx, &class_ident(prior)).await {
            Ok(()) => done(Value::null(prior.ty())),
            Err(d) => failed(prior.clone(), d),
        };
    }
    let now = if prior.is_null() {
        Value::null(planned.ty())
    } else {
        prior.clone()
    };
    match kube::apply(ctx, &class::render(planned), false).await {
        Ok(_) => done(planned.clone()),
        Err(d) => failed(now, d),
    }
}

async fn read_operator(ctx: &Ctx, current: &Value) -> Result<Option<Value>, Diagnostics> {
    if kube::get(ctx, &deployment_ident(current))
        .await
        .map_err(|d| vec![d])?
        .is_none()
    {
        return Ok(None);
    }
    let ns = str_attr(current, "namespace").unwrap_or("rook-ceph");
    let cm = ident("v1", "ConfigMap", Some(ns), operator::CONFIG_MAP);
    let mut m = current.as_mapping().cloned().unwrap_or_default();
    if let Some(live) = kube::get(ctx, &cm).await.map_err(|d| vec![d])?
        && let Some(dir) = live
            .pointer(&format!("/data/{}", operator::KUBELET_KEY))
            .and_then(Json::as_str)
    {
        m.insert("kubelet_dir".into(), s(dir));
    }
    if m.get("id").is_none_or(|v| !v.is_known() || v.is_null()) {
        m.insert("id".into(), s(ns));
    }
    Ok(Some(Value::object(m)))
}

async fn read(ctx: &Ctx, type_name: &str, current: &Value) -> Result<Option<Value>, Diagnostics> {
    let get = |id: Ident| async move { kube::get(ctx, &id).await.map_err(|d| vec![d]) };
    match type_name {
        operator::TYPE => read_operator(ctx, current).await,
        cluster::TYPE => read_cluster(ctx, current).await,
        pool::TYPE => Ok(get(pool_ident(current))
            .await?
            .map(|l| pool::from_live(current, &l))),
        class::TYPE => Ok(get(class_ident(current))
            .await?
            .map(|l| class::from_live(current, &l))),
        other => Err(unknown_type(other)),
    }
}

/// A state to start reading an import from: the schema's defaults and the id's parts.
fn import_seed(type_name: &str, id: &str) -> Result<Value, Diagnostics> {
    let schema = match type_name {
        operator::TYPE => operator::schema(),
        cluster::TYPE => cluster::schema(),
        pool::TYPE => pool::schema(),
        class::TYPE => class::schema(),
        other => return Err(unknown_type(other)),
    };
    let mut m = std::collections::BTreeMap::new();
    for (name, a) in &schema.block.attributes {
        m.insert(
            name.clone(),
            a.default
                .clone()
                .unwrap_or_else(|| Value::null(a.ty.clone())),
        );
    }
    for (name, b) in &schema.block.blocks {
        m.insert(name.clone(), Value::null(b.block.value_type()));
    }
    let bad = || {
        vec![
            Diagnostic::error(
                "brick::rook::import_id",
                "Invalid import id",
                format!("\"{id}\" is not an id of {type_name}."),
            )
            .with_help(match type_name {
                operator::TYPE => "The operator's namespace, e.g. rook-ceph.",
                class::TYPE => "The StorageClass's name, e.g. rook-ceph-block.",
                _ => "namespace/name, e.g. rook-ceph/replicapool.",
            }),
        ]
    };
    match type_name {
        operator::TYPE => {
            m.insert("namespace".into(), s(id));
            m.insert("id".into(), s(id));
        }
        class::TYPE => {
            m.insert("name".into(), s(id));
        }
        _ => {
            let (ns, name) = id
                .split_once('/')
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .ok_or_else(bad)?;
            m.insert("namespace".into(), s(ns));
            m.insert("name".into(), s(name));
        }
    }
    Ok(Value::object(m))
}

#[async_trait]
impl Provider for RookProvider {
    fn name(&self) -> &str {
        "rook"
    }

    fn schema(&self) -> ProviderSchema {
        let mut s = ProviderSchema {
            provider: brick_provider_k8s::machinery::provider_block(),
            ..Default::default()
        };
        s.resources
            .insert(operator::TYPE.into(), operator::schema());
        s.resources.insert(cluster::TYPE.into(), cluster::schema());
        s.resources.insert(pool::TYPE.into(), pool::schema());
        s.resources.insert(class::TYPE.into(), class::schema());
        s
    }

    async fn configure(&self, config: &Value) -> Diagnostics {
        match Ctx::connect(config).await {
            Ok(ctx) => {
                *self.ctx.write().expect("ctx lock") = Some(Arc::new(ctx));
                Vec::new()
            }
            Err(d) => vec![d],
        }
    }

    fn validate_resource(&self, type_name: &str, config: &Value) -> Diagnostics {
        match type_name {
            operator::TYPE => operator::validate(config),
            cluster::TYPE => cluster::validate(config),
            pool::TYPE => pool::validate(config),
            class::TYPE => class::validate(config),
            other => unknown_type(other),
        }
    }

    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        match req.type_name {
            operator::TYPE => operator::plan(req.prior, req.proposed),
            cluster::TYPE => cluster::plan(req.prior, req.proposed),
            pool::TYPE => pool::plan(req.prior, req.proposed),
            class::TYPE => class::plan(req.prior, req.proposed),
            other => PlanResponse::failed(unknown_type(other)),
        }
    }

    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        let ctx = match self.ctx() {
            Ok(c) => c,
            Err(d) => return ApplyResponse::failed(req.prior, d),
        };
        let (prior, planned, progress) = (req.prior, req.planned, req.progress);
        match req.type_name {
            operator::TYPE => apply_operator(&ctx, prior, planned, progress).await,
            cluster::TYPE => apply_cluster(&ctx, prior, planned, progress).await,
            pool::TYPE => apply_pool(&ctx, prior, planned, progress).await,
            class::TYPE => apply_class(&ctx, prior, planned).await,
            other => ApplyResponse::failed(prior, unknown_type(other)),
        }
    }

    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        let ctx = self.ctx()?;
        read(&ctx, req.type_name, req.current).await
    }

    /// How much each change of a Rook object matters and who made it ([`crate::rook_drift`]).
    async fn explain_drift(
        &self,
        req: brick_provider_api::provider::DriftRequest<'_>,
    ) -> Result<brick_provider_api::provider::DriftExplanation, Diagnostics> {
        let id = match req.type_name {
            cluster::TYPE => Some(cluster_ident(req.recorded)),
            pool::TYPE => Some(pool_ident(req.recorded)),
            class::TYPE => Some(class_ident(req.recorded)),
            _ => None,
        };
        let live = match (self.ctx(), id, req.live) {
            (Ok(ctx), Some(id), Some(_)) => kube::get(&ctx, &id).await.ok().flatten(),
            _ => None,
        };
        Ok(brick_provider_api::provider::DriftExplanation {
            still_exists: None,
            notes: crate::rook_drift::explain(&req, live.as_ref()),
        })
    }

    async fn import_resource(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<Vec<ImportedResource>, Diagnostics> {
        let ctx = self.ctx()?;
        let seed = import_seed(type_name, id)?;
        match read(&ctx, type_name, &seed).await? {
            Some(state) => Ok(vec![ImportedResource {
                type_name: type_name.to_string(),
                state,
            }]),
            None => Err(vec![Diagnostic::error(
                "brick::rook::not_found",
                "Nothing to import",
                format!("No {type_name} \"{id}\" exists in the cluster."),
            )]),
        }
    }

    async fn read_data_source(
        &self,
        type_name: &str,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        Err(unknown_type(type_name))
    }

    /// Pools the failure domains cannot hold, and nodes whose removal takes needed copies
    /// (see [`rook_checks`]); reads the live CephClusters and CephBlockPools of the namespaces
    /// the plan does not settle by itself.
    async fn check_plan(&self, changes: &[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> {
        let mut live = rook_checks::Live::default();
        let wanted = rook_checks::namespaces_to_read(changes);
        if let (false, Ok(ctx)) = (wanted.is_empty(), self.ctx()) {
            for ns in &wanted {
                // A cluster that cannot be read is judged as unknown (no verdict).
                let clusters = kube::list(&ctx, cluster::API_VERSION, cluster::KIND, ns)
                    .await
                    .unwrap_or_default();
                let nodes = clusters.first().and_then(rook_checks::live_nodes);
                live.clusters.insert(ns.clone(), nodes);
                let pools = kube::list(&ctx, pool::API_VERSION, pool::KIND, ns)
                    .await
                    .unwrap_or_default();
                live.pools.insert(
                    ns.clone(),
                    pools
                        .iter()
                        .filter_map(rook_checks::live_pool)
                        .map(|(name, n, kind)| (name, (n, kind)))
                        .collect(),
                );
            }
        }
        rook_checks::check(changes, &live)
            .into_iter()
            .map(|(change, diagnostic)| ChangeDiagnostic { change, diagnostic })
            .collect()
    }
}

/// Whether a live object is ready by its kind's rules (for tests and the lab).
pub fn ready(type_name: &str, planned: &Value, live: &Json) -> Status {
    match type_name {
        cluster::TYPE => cluster::judge(
            live,
            crate::convert::bool_attr(planned, "external") == Some(true),
            cluster::device_count(planned),
            None,
        ),
        pool::TYPE => pool::judge(live, None),
        _ => ready::kstatus(live),
    }
}
