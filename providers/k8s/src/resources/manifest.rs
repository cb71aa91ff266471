//! `k8s_manifest`: one object of any kind, applied by server-side apply as field manager
//! `brick`, refreshed from its managed fields, waited for until ready, deleted with
//! propagation and waited for until gone.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use brick_provider_api::provider::{ApplyResponse, AttrPath, PathStep, PlanResponse, Progress};
use brick_provider_api::schema::{Attribute, Block, Nesting, ResourceSchema};
use brick_provider_api::value::Kind as ValueKind;
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use futures::StreamExt;
use kube::api::ListParams;
use serde_json::Value as Json;

use crate::client::{Ctx, Kind};
use crate::convert::{bool_attr, parse_duration, str_attr, string_map, string_map_attr, to_json};
use crate::fields;
use crate::machinery::{self, Cluster, Propagation};
use crate::ready::Wait;
use crate::run::Run;

pub const TYPE: &str = "k8s_manifest";

/// How long create and update wait for readiness, and delete for the object to go, when
/// `timeouts` says nothing.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How long an apply waits for a kind nobody in this run is defining before calling it unknown.
const UNKNOWN_KIND_GRACE: Duration = Duration::from_secs(3);

fn wait_block() -> Block {
    Block::default()
        .block(
            "condition",
            Nesting::List { min: 0, max: None },
            Block::default()
                .attr("type", Attribute::required(Type::String))
                .attr("status", Attribute::required(Type::String)),
        )
        .attr(
            "fields",
            Attribute::optional(Type::map(Type::String))
                .describe("Field paths (status.phase) and the values to wait for."),
        )
        .attr(
            "rollout",
            Attribute::optional(Type::Bool)
                .describe("Wait for a Deployment, StatefulSet or DaemonSet to roll out."),
        )
}

fn timeouts_block() -> Block {
    Block::default()
        .attr("create", Attribute::optional(Type::String))
        .attr("update", Attribute::optional(Type::String))
        .attr("delete", Attribute::optional(Type::String))
}

pub fn schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "manifest",
                Attribute::required(Type::Dynamic)
                    .describe("The object: apiVersion, kind, metadata and the rest, in HCL or from yamldecode()."),
            )
            .attr(
                "force_conflicts",
                Attribute::optional(Type::Bool).describe(
                    "Take fields another field manager owns instead of failing (default false).",
                ),
            )
            .attr(
                "wait_for_ready",
                Attribute::optional(Type::Bool).describe(
                    "Wait after create and update until the object is ready (default true).",
                ),
            )
            .attr(
                "delete_propagation",
                Attribute::optional(Type::String)
                    .describe("Foreground (default), Background or Orphan."),
            )
            .attr(
                "id",
                Attribute::computed(Type::String).describe(
                    "apiVersion=…,kind=…,namespace=…,name=… (the import id).",
                ),
            )
            .attr(
                "uid",
                Attribute::computed(Type::String).describe("The object's metadata.uid."),
            )
            .attr(
                "field_managers",
                Attribute::computed(Type::map(Type::String)).describe(
                    "Fields brick applied that another field manager has since changed (drift): field path → manager.",
                ),
            )
            .block("wait", Nesting::Single, wait_block())
            .block("timeouts", Nesting::Single, timeouts_block()),
    }
}

// ---- identity ---------------------------------------------------------------------------------

/// Which object a manifest is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl Ident {
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    pub fn of(manifest: &Value) -> Option<Ident> {
        let md = manifest.get("metadata")?;
        Some(Ident {
            api_version: str_attr(manifest, "apiVersion")?.to_string(),
            kind: str_attr(manifest, "kind")?.to_string(),
            namespace: str_attr(md, "namespace").map(str::to_string),
            name: str_attr(md, "name")?.to_string(),
        })
    }

    /// Which object a JSON object is (`None` without apiVersion, kind or metadata.name).
    pub fn from_json(object: &Json) -> Option<Ident> {
        let s = |p: &str| object.pointer(p).and_then(Json::as_str).map(str::to_string);
        Some(Ident {
            api_version: s("/apiVersion")?,
            kind: s("/kind")?,
            namespace: s("/metadata/namespace"),
            name: s("/metadata/name")?,
        })
    }

    /// terraform-provider-kubernetes' id: `apiVersion=v1,kind=ConfigMap,namespace=default,name=x`.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!(
                "apiVersion={},kind={},namespace={ns},name={}",
                self.api_version, self.kind, self.name
            ),
            None => format!(
                "apiVersion={},kind={},name={}",
                self.api_version, self.kind, self.name
            ),
        }
    }

    pub fn parse(id: &str) -> Option<Ident> {
        let mut m: HashMap<&str, &str> = HashMap::new();
        for part in id.split(',') {
            let (k, v) = part.split_once('=')?;
            m.insert(k.trim(), v.trim());
        }
        Some(Ident {
            api_version: m.get("apiVersion")?.to_string(),
            kind: m.get("kind")?.to_string(),
            namespace: m.get("namespace").map(|s| s.to_string()),
            name: m.get("name")?.to_string(),
        })
    }

    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

fn err(code: &str, summary: &str, detail: impl Into<String>) -> Diagnostic {
    Diagnostic::error(format!("brick::k8s::{code}"), summary, detail)
}

// ---- validate and plan ---------------------------------------------------------------------

pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Vec::new();
    let Some(m) = config.get("manifest") else {
        return d;
    };
    if !m.is_known() || m.is_null() {
        return d;
    }
    if m.as_mapping().is_none() {
        d.push(
            err(
                "manifest",
                "Invalid manifest",
                "`manifest` must be an object: apiVersion, kind, metadata and the rest.",
            )
            .at(["manifest"]),
        );
        return d;
    }
    for key in ["apiVersion", "kind"] {
        match m.get(key) {
            Some(v) if !v.is_known() => {}
            Some(v) if v.as_str().is_some_and(|s| !s.is_empty()) => {}
            _ => d.push(
                err(
                    "manifest",
                    "Invalid manifest",
                    format!(
                        "The manifest has no `{key}`: every Kubernetes object names its {key}."
                    ),
                )
                .at(["manifest", key])
                .with_help("e.g. apiVersion = \"v1\", kind = \"ConfigMap\""),
            ),
        }
    }
    match m.get("metadata") {
        Some(md) if !md.is_known() => {}
        Some(md) if md.as_mapping().is_some() => match md.get("name") {
            Some(n) if !n.is_known() || n.as_str().is_some_and(|s| !s.is_empty()) => {}
            _ => d.push(
                err("manifest", "Invalid manifest", "The manifest has no `metadata.name`; brick tracks every object by its name (generateName is not supported).")
                    .at(["manifest", "metadata", "name"]),
            ),
        },
        _ => d.push(
            err("manifest", "Invalid manifest", "The manifest has no `metadata` with a `name`.")
                .at(["manifest", "metadata"]),
        ),
    }
    if let Some(t) = config.get("timeouts").filter(|t| !t.is_null()) {
        for k in ["create", "update", "delete"] {
            if let Some(v) = str_attr(t, k)
                && parse_duration(v).is_none()
            {
                d.push(
                    err(
                        "invalid_timeout",
                        "Invalid timeout",
                        format!(
                            "The {k} timeout \"{v}\" is not a duration like \"5m\" or \"1h30m\"."
                        ),
                    )
                    .at(["timeouts", k]),
                );
            }
        }
    }
    if let Some(p) = str_attr(config, "delete_propagation")
        && !matches!(p, "Foreground" | "Background" | "Orphan")
    {
        d.push(
            err(
                "manifest",
                "Invalid deletion propagation",
                format!("delete_propagation \"{p}\" is none of Foreground, Background, Orphan."),
            )
            .at(["delete_propagation"]),
        );
    }
    d
}

/// Sets attribute `key` of an object (a map becomes an object), in place: the rest of the
/// value (a whole manifest) is not copied.
fn set(v: &mut Value, key: &str, x: Value) {
    let kind = std::mem::replace(&mut v.kind, ValueKind::Null(Type::Dynamic));
    match kind {
        ValueKind::Object(mut m) | ValueKind::Map(_, mut m) => {
            m.insert(key.to_string(), x);
            *v = Value::object(m);
        }
        other => v.kind = other,
    }
}

fn empty_managers() -> Value {
    string_map(BTreeMap::new())
}

/// Pure: the planned state. The manifest is kept as configured (the server's defaults never
/// enter the state, so apply cannot produce an inconsistent result); the computed attributes
/// keep their values unless the object is created or replaced.
pub fn plan(prior: &Value, proposed: &Value, run: &Run) -> PlanResponse {
    let mut resp = PlanResponse::planned(proposed.clone());
    if proposed.is_null() {
        return resp;
    }
    let null = Value::null_dynamic();
    let manifest = proposed.get("manifest").unwrap_or(&null);
    run.note_planned(manifest);
    let planned = &mut resp.planned;
    if prior.is_null() {
        set(planned, "id", Value::unknown(Type::String));
        set(planned, "uid", Value::unknown(Type::String));
        set(planned, "field_managers", empty_managers());
        return resp;
    }
    let before = prior.get("manifest").unwrap_or(&null);
    let replace = replacement_paths(before, manifest, prior);
    if !replace.is_empty() {
        resp.requires_replace = replace;
        set(planned, "id", Value::unknown(Type::String));
        set(planned, "uid", Value::unknown(Type::String));
        set(planned, "field_managers", empty_managers());
        return resp;
    }
    for k in ["id", "uid"] {
        set(
            planned,
            k,
            prior.get(k).cloned().unwrap_or(Value::null(Type::String)),
        );
    }
    let drifted = prior
        .get("field_managers")
        .and_then(Value::as_mapping)
        .is_some_and(|m| !m.is_empty());
    let managers = if drifted || !brick_provider_api::lifecycle::same(before, manifest) {
        // After the apply brick holds every field it applies again.
        empty_managers()
    } else {
        prior
            .get("field_managers")
            .cloned()
            .unwrap_or_else(empty_managers)
    };
    set(planned, "field_managers", managers);
    resp
}

/// The identity fields whose change replaces the object: the group (a new version of the same
/// group is the same object), kind, name and namespace.
fn replacement_paths(before: &Value, after: &Value, prior: &Value) -> Vec<AttrPath> {
    let mut out = Vec::new();
    let path = |steps: &[&str]| -> AttrPath {
        std::iter::once(PathStep::Attr("manifest".into()))
            .chain(steps.iter().map(|s| PathStep::Attr(s.to_string())))
            .collect()
    };
    let (Some(b), Some(a)) = (Ident::of(before), Ident::of(after)) else {
        return out;
    };
    if a.group() != b.group() {
        out.push(path(&["apiVersion"]));
    }
    if a.kind != b.kind {
        out.push(path(&["kind"]));
    }
    if a.name != b.name {
        out.push(path(&["metadata", "name"]));
    }
    let recorded = str_attr(prior, "id")
        .and_then(Ident::parse)
        .and_then(|i| i.namespace);
    let effective = |ns: &Option<String>| ns.clone().or_else(|| recorded.clone());
    if effective(&a.namespace) != effective(&b.namespace) {
        out.push(path(&["metadata", "namespace"]));
    }
    out
}

// ---- apply --------------------------------------------------------------------------------

fn timeout(state: &Value, op: &str) -> Duration {
    state
        .get("timeouts")
        .and_then(|t| str_attr(t, op))
        .and_then(parse_duration)
        .unwrap_or(DEFAULT_TIMEOUT)
}

fn wait_rules(state: &Value) -> Wait {
    let Some(w) = state.get("wait").filter(|w| !w.is_null()) else {
        return Wait::default();
    };
    Wait {
        conditions: w
            .get("condition")
            .and_then(Value::as_sequence)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| {
                        Some((
                            str_attr(c, "type")?.to_string(),
                            str_attr(c, "status")?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        fields: string_map_attr(w, "fields"),
        rollout: bool_attr(w, "rollout").unwrap_or(false),
    }
}

pub async fn apply(
    cluster: &Cluster,
    run: &Run,
    prior: &Value,
    planned: &Value,
    progress: &dyn Progress,
) -> ApplyResponse {
    if planned.is_null() {
        return match delete(cluster, run, prior, progress).await {
            Ok(()) => ApplyResponse::done(Value::null(prior.ty())),
            Err(d) => ApplyResponse::failed(prior, d),
        };
    }
    match create_or_update(cluster, run, prior, planned, progress).await {
        Ok(s) => ApplyResponse::done(s),
        Err((state, d)) => ApplyResponse {
            new_state: state.unwrap_or_else(|| {
                if prior.is_null() {
                    Value::null(planned.ty())
                } else {
                    prior.clone()
                }
            }),
            diagnostics: d,
        },
    }
}

type Failure = (Option<Value>, Diagnostics);

/// Resolves a kind, waiting for it when the run is defining it (its CRD is applied in this
/// run and must become Established first).
async fn served_kind(
    ctx: &Ctx,
    run: &Run,
    id: &Ident,
    deadline: Instant,
    progress: &dyn Progress,
) -> Result<Kind, Diagnostic> {
    if let Some(k) = ctx.kind(&id.api_version, &id.kind, false).await? {
        return Ok(k);
    }
    let start = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let defined = run.defines_kind(id.group(), &id.kind);
        if !defined && start.elapsed() >= UNKNOWN_KIND_GRACE {
            return Err(err(
                "unknown_kind",
                "Unknown kind",
                format!(
                    "The API server does not serve kind {} in {}, and no CustomResourceDefinition in this configuration defines it.",
                    id.kind, id.api_version
                ),
            )
            .at(["manifest", "kind"])
            .with_help(crate::removed::unknown_kind_help(&id.api_version).unwrap_or("Check apiVersion and kind (`kubectl api-resources` lists what the server serves), or add the CRD that defines the kind.")));
        }
        if Instant::now() >= deadline {
            return Err(err(
                "unknown_kind",
                "Kind not served in time",
                format!(
                    "The API server still does not serve kind {} in {} (its CustomResourceDefinition is not Established).",
                    id.kind, id.api_version
                ),
            ));
        }
        progress.report(&format!(
            "waiting for the API server to serve {} {}",
            id.api_version, id.kind
        ));
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
        if let Some(k) = ctx.kind(&id.api_version, &id.kind, true).await? {
            return Ok(k);
        }
    }
}

/// Waits, with progress, until an earlier object of `id` that is being deleted is gone.
async fn earlier_gone(
    cluster: &Cluster,
    kind: &Kind,
    id: &Ident,
    deadline: Instant,
    progress: &dyn Progress,
) -> Result<(), Failure> {
    progress.report(&format!(
        "waiting for an earlier {} to finish deleting",
        id.describe()
    ));
    cluster
        .wait_gone_in(kind, id, deadline, progress)
        .await
        .map_err(|d| (None, vec![d]))
}

/// Whether the live object of `id` is being deleted (its deletionTimestamp is set).
async fn terminating(cluster: &Cluster, kind: &Kind, id: &Ident) -> bool {
    matches!(
        cluster.get_in(kind, id).await,
        Ok(Some(o)) if o.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null())
    )
}

async fn create_or_update(
    cluster: &Cluster,
    run: &Run,
    prior: &Value,
    planned: &Value,
    progress: &dyn Progress,
) -> Result<Value, Failure> {
    let ctx = cluster.ctx();
    let manifest = planned
        .get("manifest")
        .cloned()
        .unwrap_or_else(Value::null_dynamic);
    let Some(mut id) = Ident::of(&manifest) else {
        return Err((None, validate(planned)));
    };
    let op = if prior.is_null() { "create" } else { "update" };
    let deadline = Instant::now() + timeout(planned, op);
    let kind = served_kind(ctx, run, &id, deadline, progress)
        .await
        .map_err(|d| (None, vec![d]))?;
    let ns = ctx.namespace_for(&kind, id.namespace.as_deref());
    id.namespace = ns.clone();
    let body = machinery::with_namespace(&to_json(&manifest), ns.as_deref());
    let user_force = bool_attr(planned, "force_conflicts").unwrap_or(false);
    let prior_manifest = prior
        .get("manifest")
        .cloned()
        .unwrap_or_else(Value::null_dynamic);
    let mut force = user_force;
    let mut ns_deadline: Option<Instant> = None;
    let live = loop {
        match cluster.apply_raw(&kind, &id, &body, force, false).await {
            Ok(o) if o.metadata.deletion_timestamp.is_some() => {
                // The apply reached an earlier object of that name that is being deleted
                // (a `kubectl delete` still waiting on finalizers): it would vanish after
                // being recorded. Wait until it is gone, then apply again, which creates it.
                earlier_gone(cluster, &kind, &id, deadline, progress).await?;
            }
            Ok(o) => break o,
            Err(kube::Error::Api(s)) if s.code == 409 && !force => {
                match their_conflicts(&s, &prior_manifest) {
                    Ok(()) => {
                        // Every conflicting field is one brick applied before and another
                        // manager changed since (drift the plan showed): take them back.
                        progress.report("taking back fields another manager changed");
                        force = true;
                        continue;
                    }
                    Err(theirs) => {
                        // Fields of an earlier object still being deleted are no conflict
                        // with the object brick creates after it.
                        if terminating(cluster, &kind, &id).await {
                            earlier_gone(cluster, &kind, &id, deadline, progress).await?;
                            continue;
                        }
                        return Err((None, vec![conflict_diagnostic(&id, &theirs, &s)]));
                    }
                }
            }
            Err(kube::Error::Api(s))
                if s.code == 404 && ns.as_deref().is_some_and(|n| run.defines_namespace(n)) =>
            {
                // The namespace is being created in this run.
                let until = *ns_deadline.get_or_insert(deadline);
                if Instant::now() >= until {
                    return Err((
                        None,
                        vec![
                            ctx.error(&kube::Error::Api(s), &format!("applying {}", id.describe())),
                        ],
                    ));
                }
                progress.report(&format!(
                    "waiting for namespace {}",
                    ns.as_deref().unwrap_or("")
                ));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(kube::Error::Api(s)) if is_immutable(&s) => {
                return Err((None, vec![immutable_diagnostic(&id, &s, None)]));
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {
                let mut d = ctx.error(&kube::Error::Api(s), &format!("applying {}", id.describe()));
                if let Some(n) = &ns {
                    d = d.with_help(format!("Does namespace {n} exist? Create it, or add a Namespace manifest to the configuration."));
                }
                return Err((None, vec![d]));
            }
            Err(e) => {
                return Err((
                    None,
                    vec![
                        ctx.error(&e, &format!("applying {}", id.describe()))
                            .at(["manifest"]),
                    ],
                ));
            }
        }
    };
    run.note_applied(&manifest);
    if id.kind == "CustomResourceDefinition" {
        // The kinds it defines change what discovery says.
        for v in crd_versions(&manifest) {
            ctx.forget(&v).await;
        }
    }
    let uid = live.metadata.uid.clone().unwrap_or_default();
    let mut state = planned.clone();
    set(&mut state, "id", Value::string(id.id()));
    set(&mut state, "uid", Value::string(uid));
    set(&mut state, "field_managers", empty_managers());
    if bool_attr(planned, "wait_for_ready").unwrap_or(true) {
        let first = machinery::to_json(&live, &id);
        if let Err(d) = cluster
            .wait_ready_from(
                &kind,
                &id,
                Some(first),
                &wait_rules(planned),
                deadline,
                progress,
            )
            .await
        {
            let gone = d.code == "brick::k8s::gone";
            let d = if d.code == "brick::k8s::not_ready" {
                d.with_help("Raise timeouts, change the `wait` block, or set wait_for_ready = false for objects no controller reconciles.")
            } else {
                d
            };
            return Err(((!gone).then_some(state), vec![d]));
        }
    }
    Ok(state)
}

/// The conflicts of a 409 answer on fields brick never applied (`prior`: the manifest it
/// applied last); `Ok` when every conflicting field is one brick applied before (drift, which
/// brick takes back).
pub(crate) fn their_conflicts(
    s: &kube::core::Status,
    prior: &Value,
) -> Result<(), Vec<fields::Conflict>> {
    let conflicts = fields::conflicts(s);
    let theirs: Vec<fields::Conflict> = conflicts
        .iter()
        .filter(|c| prior.is_null() || !fields::in_manifest(prior, &c.field))
        .cloned()
        .collect();
    if !conflicts.is_empty() && theirs.is_empty() {
        Ok(())
    } else {
        Err(theirs)
    }
}

pub(crate) fn conflict_diagnostic(
    id: &Ident,
    theirs: &[fields::Conflict],
    s: &kube::core::Status,
) -> Diagnostic {
    machinery::conflict(id, theirs, &s.message)
        .at(["manifest"])
        .with_help("These are fields brick has never applied: remove them from the manifest, or set force_conflicts = true to take them over.")
}

/// Whether the server refused a change because a field is immutable.
pub(crate) fn is_immutable(s: &kube::core::Status) -> bool {
    s.code == 422 && s.message.contains("immutable")
}

/// The immutable fields a 422 answer names (`data`, `spec.selector`).
fn immutable_fields(s: &kube::core::Status) -> Vec<String> {
    let mut out: Vec<String> = s
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .filter(|c| c.message.contains("immutable") && !c.field.is_empty())
        .map(|c| c.field.clone())
        .collect();
    out.dedup();
    out
}

/// An immutable field change: which field, the server's words, and the replacement to plan
/// (`address` known at plan time).
pub(crate) fn immutable_diagnostic(
    id: &Ident,
    s: &kube::core::Status,
    address: Option<&str>,
) -> Diagnostic {
    let fields = immutable_fields(s);
    let which = if fields.is_empty() {
        "an immutable field".to_string()
    } else {
        format!("immutable field {}", fields.join(", "))
    };
    let replace = match address {
        Some(a) => format!("brick apply -replace='{a}'"),
        None => "brick apply -replace=ADDRESS".to_string(),
    };
    let mut at = vec!["manifest".to_string()];
    if let Some(f) = fields.first() {
        at.extend(
            f.split('.')
                .map(|p| p.split('[').next().unwrap_or(p).to_string()),
        );
    }
    err(
        "immutable",
        "Immutable field changed",
        format!(
            "The API server refuses to change {which} of {}: {}",
            id.describe(),
            s.message
        ),
    )
    .at(at)
    .with_help(format!(
        "This change needs a new object: `{replace}` deletes it and creates it again."
    ))
}

/// The apiVersions a CRD manifest defines (`GROUP/VERSION` for each of its versions).
pub fn crd_versions(manifest: &Value) -> Vec<String> {
    let Some(spec) = manifest.get("spec") else {
        return Vec::new();
    };
    let Some(group) = str_attr(spec, "group") else {
        return Vec::new();
    };
    spec.get("versions")
        .and_then(Value::as_sequence)
        .map(|vs| {
            vs.iter()
                .filter_map(|v| str_attr(v, "name").map(|n| format!("{group}/{n}")))
                .collect()
        })
        .unwrap_or_default()
}

// ---- delete -------------------------------------------------------------------------------

async fn delete(
    cluster: &Cluster,
    run: &Run,
    prior: &Value,
    progress: &dyn Progress,
) -> Result<(), Diagnostics> {
    let ctx = cluster.ctx();
    let manifest = prior
        .get("manifest")
        .cloned()
        .unwrap_or_else(Value::null_dynamic);
    let Some(mut id) = str_attr(prior, "id")
        .and_then(Ident::parse)
        .or_else(|| Ident::of(&manifest))
    else {
        return Ok(());
    };
    let Some(kind) = ctx
        .kind(&id.api_version, &id.kind, true)
        .await
        .map_err(|d| vec![d])?
    else {
        // The kind is gone (its CRD was deleted): so are its objects.
        return Ok(());
    };
    id.namespace = ctx.namespace_for(&kind, id.namespace.as_deref());
    let deadline = Instant::now() + timeout(prior, "delete");
    let _guard = run.deleting(&id);
    if id.kind == "Namespace" && id.group().is_empty() {
        // Objects brick deletes in this namespace go first.
        run.wait_namespace_empty(&id.name, deadline, progress).await;
    }
    let policy = str_attr(prior, "delete_propagation")
        .and_then(Propagation::parse)
        .unwrap_or_default();
    if !cluster
        .delete_in(&kind, &id, policy)
        .await
        .map_err(|d| vec![d])?
    {
        return Ok(());
    }
    cluster
        .wait_gone_in(&kind, &id, deadline, progress)
        .await
        .map_err(|d| {
            vec![if d.code == "brick::k8s::delete_timeout" {
                d.with_help("A finalizer's controller may not be running. Raise timeouts.delete, or remove the finalizer once you know it is safe.")
            } else {
                d
            }]
        })
}

// ---- refresh and import -------------------------------------------------------------------

/// The refreshed state of `current` given its live object (`None`: gone).
pub fn refreshed(current: &Value, live: Option<&Json>) -> Option<Value> {
    let live = live?;
    let null = Value::null_dynamic();
    let r = fields::refresh(current.get("manifest").unwrap_or(&null), live);
    // The other attributes as recorded; the recorded manifest is not copied (it is replaced).
    let mut out = match current.as_mapping() {
        Some(m) => Value::object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "manifest")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        None => current.clone(),
    };
    set(&mut out, "manifest", r.manifest);
    set(&mut out, "field_managers", string_map(r.managers));
    if let Some(uid) = live.pointer("/metadata/uid").and_then(Json::as_str) {
        set(&mut out, "uid", Value::string(uid));
    }
    Some(out)
}

/// How many LISTs of a refresh go out at once: all of them for the kinds of an operator's
/// install files (Rook's crds+common+operator: 9 lists, Strimzi's: 8), so none waits for
/// another's answer; far below an API server's in-flight limit (400 by default).
const LIST_CONCURRENCY: usize = 16;

/// Refreshes many objects with one LIST per (apiVersion, kind, namespace).
pub async fn read_many(ctx: &Ctx, current: &[Value]) -> Vec<Result<Option<Value>, Diagnostics>> {
    let mut out: Vec<Option<Result<Option<Value>, Diagnostics>>> =
        current.iter().map(|_| None).collect();
    // (apiVersion, kind, namespace) → (index, name) of the objects of that list.
    type Groups = BTreeMap<(String, String, Option<String>), Vec<(usize, String)>>;
    let mut groups: Groups = BTreeMap::new();
    for (i, c) in current.iter().enumerate() {
        let id = str_attr(c, "id")
            .and_then(Ident::parse)
            .or_else(|| c.get("manifest").and_then(Ident::of));
        match id {
            Some(id) => groups
                .entry((id.api_version, id.kind, id.namespace))
                .or_default()
                .push((i, id.name)),
            None => out[i] = Some(Ok(None)),
        }
    }
    // The LISTs go out together (a few at a time), not one after another.
    let answers: Vec<_> = futures::stream::iter(groups)
        .map(|((api_version, kind_name, ns), members)| async move {
            let answer = list_group(ctx, &api_version, &kind_name, ns.as_deref()).await;
            (answer, members)
        })
        .buffer_unordered(LIST_CONCURRENCY)
        .collect()
        .await;
    for (answer, members) in answers {
        for (i, name) in members {
            out[i] = Some(match &answer {
                Err(d) => Err(d.clone()),
                Ok(None) => Ok(None),
                Ok(Some(by_name)) => Ok(refreshed(&current[i], by_name.get(&name))),
            });
        }
    }
    out.into_iter().map(|r| r.unwrap_or(Ok(None))).collect()
}

/// Every object of a kind in a namespace, by name (`None`: the kind is not served).
async fn list_group(
    ctx: &Ctx,
    api_version: &str,
    kind_name: &str,
    ns: Option<&str>,
) -> Result<Option<HashMap<String, Json>>, Diagnostics> {
    let Some(kind) = ctx
        .kind(api_version, kind_name, false)
        .await
        .map_err(|d| vec![d])?
    else {
        return Ok(None);
    };
    let api = ctx.api(&kind, ns);
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| vec![ctx.error(&e, &format!("listing {kind_name} objects"))])?;
    let id = Ident {
        api_version: api_version.into(),
        kind: kind_name.into(),
        namespace: None,
        name: String::new(),
    };
    Ok(Some(
        list.items
            .into_iter()
            .filter_map(|o| {
                let name = o.metadata.name.clone()?;
                Some((name, machinery::into_json(o, &id)))
            })
            .collect(),
    ))
}

pub async fn read(ctx: &Ctx, current: &Value) -> Result<Option<Value>, Diagnostics> {
    read_many(ctx, std::slice::from_ref(current))
        .await
        .pop()
        .unwrap_or(Ok(None))
}

/// Adopts an existing object: brick has applied nothing to it yet, so the state's manifest is
/// its identity alone, and the first plan shows every configured field as brick's to apply.
pub async fn import(ctx: &Ctx, id_text: &str) -> Result<Value, Diagnostics> {
    let Some(mut id) = Ident::parse(id_text) else {
        return Err(vec![err(
            "import",
            "Invalid import id",
            format!(
                "\"{id_text}\" is not an id like apiVersion=v1,kind=ConfigMap,namespace=default,name=x."
            ),
        )]);
    };
    let kind = ctx
        .kind(&id.api_version, &id.kind, false)
        .await
        .map_err(|d| vec![d])?
        .ok_or_else(|| {
            let d = err(
                "unknown_kind",
                "Unknown kind",
                format!(
                    "The API server does not serve {} {}.",
                    id.api_version, id.kind
                ),
            );
            vec![match crate::removed::unknown_kind_help(&id.api_version) {
                Some(help) => d.with_help(help),
                None => d,
            }]
        })?;
    id.namespace = ctx.namespace_for(&kind, id.namespace.as_deref());
    let api = ctx.api(&kind, id.namespace.as_deref());
    let live = api
        .get_opt(&id.name)
        .await
        .map_err(|e| vec![ctx.error(&e, &format!("reading {}", id.describe()))])?
        .ok_or_else(|| {
            vec![err(
                "import",
                "Object not found",
                format!("{} does not exist.", id.describe()),
            )]
        })?;
    let mut metadata = BTreeMap::from([("name".to_string(), Value::string(id.name.clone()))]);
    if let Some(ns) = &id.namespace {
        metadata.insert("namespace".into(), Value::string(ns.clone()));
    }
    let manifest = Value::object_from([
        ("apiVersion", Value::string(id.api_version.clone())),
        ("kind", Value::string(id.kind.clone())),
        ("metadata", Value::object(metadata)),
    ]);
    let block = schema().block;
    let mut state: BTreeMap<String, Value> = match block.value_type() {
        Type::Object(attrs) => attrs
            .into_iter()
            .map(|(k, t)| (k, Value::null(t)))
            .collect(),
        _ => BTreeMap::new(),
    };
    state.insert("manifest".into(), manifest);
    state.insert("id".into(), Value::string(id.id()));
    state.insert(
        "uid".into(),
        Value::string(live.metadata.uid.clone().unwrap_or_default()),
    );
    state.insert("field_managers".into(), empty_managers());
    Ok(Value::object(state))
}
