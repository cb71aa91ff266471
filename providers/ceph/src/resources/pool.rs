//! `ceph_pool`: a replicated Ceph pool (size, min_size, placement groups, CRUSH rule,
//! application, quotas), managed with monitor commands. Refresh is one `osd pool ls detail`
//! for every pool; the plan check refuses sizes the cluster's failure domains cannot hold.

use std::collections::BTreeMap;

use brick_provider_api::provider::{ApplyResponse, PlanResponse};
use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use serde_json::{Value as Json, json};

use crate::convert::{
    ENOENT, EPERM, bool_attr, int_attr, is_set, json_i64, json_str, n, non_integer, rados_diag, s,
    str_attr,
};
use crate::placement::{CrushRule, OsdTree, check_size, default_replicated_rule};
use crate::provider::Ctx;
use crate::rados::RadosError;

pub const TYPE: &str = "ceph_pool";

/// The largest size brick accepts (the `max_size` of Ceph's default rules).
const MAX_SIZE: i64 = 10;

pub fn schema() -> ResourceSchema {
    let num = || Type::Number;
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "id",
                Attribute::computed(Type::String).describe("The pool's name."),
            )
            .attr(
                "name",
                Attribute::required(Type::String)
                    .describe("The pool's name. Changing it renames the pool in place."),
            )
            .attr(
                "pool_id",
                Attribute::computed(num()).describe("Ceph's numeric id of the pool."),
            )
            .attr(
                "size",
                Attribute::optional_computed(num()).describe(
                    "Copies of each object (replicas). Default: the cluster's osd_pool_default_size.",
                ),
            )
            .attr(
                "min_size",
                Attribute::optional_computed(num()).describe(
                    "Copies that must be available for I/O. Default: Ceph's choice at creation; kept when size changes.",
                ),
            )
            .attr(
                "require_safe_replica_size",
                Attribute::optional(Type::Bool)
                    .default(Value::bool(true))
                    .describe("Refuse size = 1 (no redundancy) unless this is false. Default: true."),
            )
            .attr(
                "pg_num",
                Attribute::optional_computed(num()).describe(
                    "Placement groups (compared with Ceph's pg_num_target). Default: Ceph's; with pg_num set and pg_autoscale_mode unset, a new pool's autoscaler is off.",
                ),
            )
            .attr(
                "pg_autoscale_mode",
                Attribute::optional_computed(Type::String)
                    .describe("on, off or warn. Default: the cluster's."),
            )
            .attr(
                "crush_rule",
                Attribute::optional_computed(Type::String).describe(
                    "Name of the CRUSH rule placing the pool's copies. Default: the cluster's first replicated rule.",
                ),
            )
            .attr(
                "application",
                Attribute::optional_computed(Type::String)
                    .describe("The application enabled on the pool: rbd, rgw, cephfs or another name."),
            )
            .attr(
                "quota_max_bytes",
                Attribute::optional(num())
                    .default(n(0))
                    .describe("Byte quota; 0 means none."),
            )
            .attr(
                "quota_max_objects",
                Attribute::optional(num())
                    .default(n(0))
                    .describe("Object quota; 0 means none."),
            ),
    }
}

fn invalid(attr: &str, summary: &str, detail: String) -> Diagnostic {
    Diagnostic::error("brick::ceph::invalid_pool", summary, detail).at([attr])
}

pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Vec::new();
    if str_attr(config, "name").is_some_and(str::is_empty) {
        d.push(invalid(
            "name",
            "Invalid pool name",
            "A pool's name cannot be empty.".into(),
        ));
    }
    for (attr, min) in [
        ("size", 1),
        ("min_size", 1),
        ("pg_num", 1),
        ("quota_max_bytes", 0),
        ("quota_max_objects", 0),
    ] {
        if non_integer(config, attr) || int_attr(config, attr).is_some_and(|v| v < min) {
            d.push(invalid(
                attr,
                "Invalid number",
                format!("{attr} must be a whole number of at least {min}."),
            ));
        }
    }
    let size = int_attr(config, "size");
    if let Some(size) = size.filter(|s| *s > MAX_SIZE) {
        d.push(invalid(
            "size",
            "Invalid number",
            format!("size = {size} is more copies than Ceph's rules allow ({MAX_SIZE})."),
        ));
    }
    if let Some(mode) = str_attr(config, "pg_autoscale_mode")
        && !["on", "off", "warn"].contains(&mode)
    {
        d.push(invalid(
            "pg_autoscale_mode",
            "Invalid autoscale mode",
            format!("pg_autoscale_mode is \"{mode}\"; Ceph knows on, off and warn."),
        ));
    }
    if is_set(config, "pg_num") && str_attr(config, "pg_autoscale_mode") == Some("on") {
        d.push(
            Diagnostic::error(
                "brick::ceph::pg_num_with_autoscale",
                "pg_num with the autoscaler on",
                "pg_num is set while pg_autoscale_mode = \"on\": the autoscaler would change pg_num behind brick's back, and every plan would show the difference.",
            )
            .at(["pg_num"])
            .with_help("Set either pg_num (with pg_autoscale_mode \"off\" or \"warn\") or pg_autoscale_mode = \"on\"."),
        );
    }
    d.extend(replica_checks(config));
    d
}

/// The refusals that need no cluster: size 1 without `require_safe_replica_size = false`,
/// and `min_size > size`. Applied to the configuration (validate) where both are known.
pub fn replica_checks(v: &Value) -> Diagnostics {
    let mut d = Vec::new();
    let size = int_attr(v, "size");
    if size == Some(1) && bool_attr(v, "require_safe_replica_size") != Some(false) {
        d.push(
            Diagnostic::error(
                "brick::ceph::unsafe_replica_size",
                "Pool without redundancy",
                "size = 1 keeps a single copy of every object: losing one OSD loses data, and Ceph refuses it unless told it is meant.",
            )
            .at(["size"])
            .with_help("Set require_safe_replica_size = false to accept a pool without redundancy (test clusters), or raise size."),
        );
    }
    if let (Some(size), Some(min)) = (size, int_attr(v, "min_size"))
        && min > size
    {
        d.push(
            Diagnostic::error(
                "brick::ceph::min_size_above_size",
                "min_size above size",
                format!("min_size = {min} asks for more available copies than the pool keeps (size = {size}): no I/O could ever happen, and Ceph refuses it."),
            )
            .at(["min_size"])
            .with_help(format!("Lower min_size to at most {size}, or raise size.")),
        );
    }
    d
}

pub fn plan(prior: &Value, proposed: &Value) -> PlanResponse {
    let done = |planned| PlanResponse {
        planned,
        requires_replace: Vec::new(),
        diagnostics: Vec::new(),
    };
    if proposed.is_null() || !proposed.is_known() {
        return done(proposed.clone());
    }
    let mut m = proposed.as_mapping().cloned().unwrap_or_default();
    let name = m
        .get("name")
        .cloned()
        .unwrap_or_else(|| Value::unknown(Type::String));
    m.insert("id".into(), name);
    let unknown_if_null = |m: &mut BTreeMap<String, Value>, attr: &str, ty: Type| {
        if m.get(attr).is_none_or(Value::is_null) {
            m.insert(attr.into(), Value::unknown(ty));
        }
    };
    if prior.is_null() {
        m.insert("pool_id".into(), Value::unknown(Type::Number));
        // With pg_num fixed, a new pool's autoscaler is turned off unless configured.
        if is_set(proposed, "pg_num") && m.get("pg_autoscale_mode").is_none_or(Value::is_null) {
            m.insert("pg_autoscale_mode".into(), s("off"));
        }
        for attr in ["size", "min_size", "pg_num"] {
            unknown_if_null(&mut m, attr, Type::Number);
        }
        for attr in ["pg_autoscale_mode", "crush_rule"] {
            unknown_if_null(&mut m, attr, Type::String);
        }
        if !m.contains_key("application") {
            m.insert("application".into(), Value::null(Type::String));
        }
    } else {
        if let Some(id) = prior.get("pool_id") {
            m.insert("pool_id".into(), id.clone());
        }
        // A size change lowers a min_size Ceph cannot keep; when min_size came from the prior
        // state (a configured one above size was refused by validate), Ceph's choice stands.
        if let (Some(new), Some(old), Some(min)) = (
            int_attr(proposed, "size"),
            int_attr(prior, "size"),
            int_attr(proposed, "min_size"),
        ) && new != old
            && min > new
        {
            m.insert("min_size".into(), Value::unknown(Type::Number));
        }
    }
    done(Value::object(m))
}

/// A pool as `osd pool ls detail` lists it.
#[derive(Clone, Debug)]
struct Live {
    id: i64,
    name: String,
    replicated: bool,
    size: i64,
    min_size: i64,
    pg_num_target: i64,
    autoscale: String,
    crush_rule: i64,
    applications: Vec<String>,
    quota_max_bytes: i64,
    quota_max_objects: i64,
}

impl Live {
    fn parse(p: &Json) -> Live {
        Live {
            id: json_i64(p, "pool_id"),
            name: json_str(p, "pool_name").to_string(),
            replicated: json_i64(p, "type") == 1,
            size: json_i64(p, "size"),
            min_size: json_i64(p, "min_size"),
            pg_num_target: json_i64(p, "pg_num_target"),
            autoscale: json_str(p, "pg_autoscale_mode").to_string(),
            crush_rule: json_i64(p, "crush_rule"),
            applications: p["application_metadata"]
                .as_object()
                .map(|a| a.keys().cloned().collect())
                .unwrap_or_default(),
            quota_max_bytes: json_i64(p, "quota_max_bytes"),
            quota_max_objects: json_i64(p, "quota_max_objects"),
        }
    }

    /// The state of this pool; `carry` (the prior or planned state) supplies what Ceph does
    /// not keep (`require_safe_replica_size`).
    fn state(&self, rules: &BTreeMap<i64, String>, carry: &Value) -> Value {
        let mut apps = self.applications.clone();
        apps.sort();
        let application = match apps.len() {
            0 => Value::null(Type::String),
            1 => s(&apps[0]),
            // Several: all of them, so a configuration naming one shows the others as drift.
            _ => s(apps.join(",")),
        };
        let safe = bool_attr(carry, "require_safe_replica_size").unwrap_or(self.size != 1);
        let rule = rules
            .get(&self.crush_rule)
            .cloned()
            .unwrap_or_else(|| self.crush_rule.to_string());
        Value::object_from([
            ("id", s(&self.name)),
            ("name", s(&self.name)),
            ("pool_id", n(self.id)),
            ("size", n(self.size)),
            ("min_size", n(self.min_size)),
            ("require_safe_replica_size", Value::bool(safe)),
            ("pg_num", n(self.pg_num_target)),
            ("pg_autoscale_mode", s(&self.autoscale)),
            ("crush_rule", s(rule)),
            ("application", application),
            ("quota_max_bytes", n(self.quota_max_bytes)),
            ("quota_max_objects", n(self.quota_max_objects)),
        ])
    }
}

/// Every pool and every CRUSH rule's name: two monitor commands whatever the number of pools.
async fn list(ctx: &Ctx) -> Result<(Vec<Live>, BTreeMap<i64, String>), RadosError> {
    let pools = ctx
        .mon_json(json!({"prefix": "osd pool ls", "detail": "detail"}))
        .await?;
    let rules = ctx
        .mon_json(json!({"prefix": "osd crush rule dump"}))
        .await?;
    let pools = pools
        .as_array()
        .into_iter()
        .flatten()
        .map(Live::parse)
        .collect();
    let rules = CrushRule::parse_all(&rules)
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    Ok((pools, rules))
}

/// The pool a state describes: by Ceph's id while it lives (a rename made elsewhere shows as
/// drift), else by name.
fn find<'a>(pools: &'a [Live], current: &Value) -> Option<&'a Live> {
    let by_id = int_attr(current, "pool_id").and_then(|id| pools.iter().find(|p| p.id == id));
    by_id.or_else(|| {
        let name = str_attr(current, "name")?;
        pools.iter().find(|p| p.name == name)
    })
}

pub async fn read_many(ctx: &Ctx, current: &[Value]) -> Vec<Result<Option<Value>, Diagnostics>> {
    match list(ctx).await {
        Ok((pools, rules)) => current
            .iter()
            .map(|c| Ok(find(&pools, c).map(|p| p.state(&rules, c))))
            .collect(),
        Err(e) => {
            let d = rados_diag("Cannot read pools", "listing the pools", &e);
            current.iter().map(|_| Err(vec![d.clone()])).collect()
        }
    }
}

pub async fn import(ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
    let (pools, rules) = list(ctx)
        .await
        .map_err(|e| vec![rados_diag("Cannot import pool", "listing the pools", &e)])?;
    let Some(p) = pools.iter().find(|p| p.name == id) else {
        let mut names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
        names.sort();
        return Err(vec![
            Diagnostic::error(
                "brick::ceph::pool_not_found",
                "No such pool",
                format!("The cluster has no pool named \"{id}\"."),
            )
            .with_help(format!("Its pools: {}.", names.join(", "))),
        ]);
    };
    if !p.replicated {
        return Err(vec![Diagnostic::error(
            "brick::ceph::erasure_pool",
            "Erasure-coded pool",
            format!("Pool \"{id}\" is erasure-coded; ceph_pool manages replicated pools only."),
        )]);
    }
    Ok(p.state(&rules, &Value::null_dynamic()))
}

/// Runs one monitor command of an apply; a failure becomes a diagnostic naming the step.
async fn step(ctx: &Ctx, cmd: Json, doing: String) -> Result<(), Diagnostic> {
    match ctx.mon(cmd).await {
        Ok(_) => Ok(()),
        Err(e) => Err(step_diag(&doing, &e)),
    }
}

fn step_diag(doing: &str, e: &RadosError) -> Diagnostic {
    let d = rados_diag("Cannot change pool", doing, e);
    let text = e.to_string();
    if text.contains("mon_allow_pool_size_one") || text.contains("size as 1 is disabled") {
        return d.with_help(
            "The cluster refuses pools of size 1: `ceph config set global mon_allow_pool_size_one true` allows them.",
        );
    }
    d
}

fn set_cmd(pool: &str, var: &str, val: impl ToString) -> Json {
    json!({"prefix": "osd pool set", "pool": pool, "var": var, "val": val.to_string()})
}

pub async fn apply(ctx: &Ctx, prior: &Value, planned: &Value) -> ApplyResponse {
    if planned.is_null() {
        return delete(ctx, prior).await;
    }
    let name = str_attr(planned, "name").unwrap_or("").to_string();
    let result = if prior.is_null() {
        create(ctx, planned).await
    } else {
        update(ctx, prior, planned).await
    };
    // The pool as it now is: found by Ceph's id (known once it exists), else by name.
    let lookup = if prior.is_null() { planned } else { prior };
    let now = match list(ctx).await {
        Ok((pools, rules)) => Ok(find(&pools, lookup).map(|p| p.state(&rules, planned))),
        Err(e) => Err(e),
    };
    match (result, now) {
        (Ok(()), Ok(Some(state))) => ApplyResponse::done(state),
        (Ok(()), Ok(None)) => ApplyResponse {
            new_state: Value::null(planned.ty()),
            diagnostics: vec![Diagnostic::error(
                "brick::ceph::pool_vanished",
                "Pool vanished",
                format!("Pool \"{name}\" was written but the cluster does not list it."),
            )],
        },
        (Ok(()), Err(e)) => ApplyResponse {
            new_state: prior.clone(),
            diagnostics: vec![rados_diag(
                "Cannot read pool",
                &format!("reading pool {name} back"),
                &e,
            )],
        },
        (Err(d), now) => ApplyResponse {
            new_state: match now {
                // Someone else's pool of that name: not brick's to record.
                _ if d.code == "brick::ceph::pool_exists" => Value::null(planned.ty()),
                Ok(Some(state)) => state,
                Ok(None) => Value::null(planned.ty()),
                Err(_) => prior.clone(),
            },
            diagnostics: vec![d],
        },
    }
}

async fn create(ctx: &Ctx, planned: &Value) -> Result<(), Diagnostic> {
    let name = str_attr(planned, "name").unwrap_or("");
    // `osd pool create` succeeds on an existing pool: look first, so brick never adopts a
    // pool it did not create.
    let (pools, _) = list(ctx)
        .await
        .map_err(|e| rados_diag("Cannot create pool", "listing the pools", &e))?;
    if pools.iter().any(|p| p.name == name) {
        return Err(Diagnostic::error(
            "brick::ceph::pool_exists",
            "Pool exists already",
            format!("The cluster already has a pool named \"{name}\"; brick does not take over a pool it did not create."),
        )
        .with_help(format!("`brick import ceph_pool.<name> {name}` adopts it.")));
    }
    let mut cmd = json!({"prefix": "osd pool create", "pool": name, "pool_type": "replicated"});
    if let Some(pg) = int_attr(planned, "pg_num") {
        cmd["pg_num"] = json!(pg);
        cmd["pgp_num"] = json!(pg);
    }
    if let Some(size) = int_attr(planned, "size") {
        cmd["size"] = json!(size);
    }
    if let Some(rule) = str_attr(planned, "crush_rule") {
        cmd["rule"] = json!(rule);
    }
    if let Some(mode) = str_attr(planned, "pg_autoscale_mode") {
        cmd["autoscale_mode"] = json!(mode);
    }
    step(ctx, cmd, format!("creating pool {name}")).await?;
    if let Some(min) = int_attr(planned, "min_size") {
        step(
            ctx,
            set_cmd(name, "min_size", min),
            format!("setting min_size of pool {name}"),
        )
        .await?;
    }
    if let Some(app) = str_attr(planned, "application") {
        enable_application(ctx, name, app).await?;
    }
    for field in ["max_bytes", "max_objects"] {
        let v = int_attr(planned, &format!("quota_{field}")).unwrap_or(0);
        if v != 0 {
            set_quota(ctx, name, field, v).await?;
        }
    }
    Ok(())
}

async fn enable_application(ctx: &Ctx, pool: &str, app: &str) -> Result<(), Diagnostic> {
    step(
        ctx,
        json!({"prefix": "osd pool application enable", "pool": pool, "app": app, "yes_i_really_mean_it": true}),
        format!("enabling application {app} on pool {pool}"),
    )
    .await
}

async fn set_quota(ctx: &Ctx, pool: &str, field: &str, v: i64) -> Result<(), Diagnostic> {
    step(
        ctx,
        json!({"prefix": "osd pool set-quota", "pool": pool, "field": field, "val": v.to_string()}),
        format!("setting the {field} quota of pool {pool}"),
    )
    .await
}

/// Whether a planned attribute is known and differs from the prior one.
fn changed(prior: &Value, planned: &Value, attr: &str) -> bool {
    match (prior.get(attr), planned.get(attr)) {
        (Some(a), Some(b)) => b.is_known() && !b.is_null() && a != b,
        (None, Some(b)) => b.is_known() && !b.is_null(),
        _ => false,
    }
}

async fn update(ctx: &Ctx, prior: &Value, planned: &Value) -> Result<(), Diagnostic> {
    let old = str_attr(prior, "name").unwrap_or("");
    let name = str_attr(planned, "name").unwrap_or("");
    if old != name {
        step(
            ctx,
            json!({"prefix": "osd pool rename", "srcpool": old, "destpool": name}),
            format!("renaming pool {old} to {name}"),
        )
        .await?;
    }
    if changed(prior, planned, "crush_rule") {
        let rule = str_attr(planned, "crush_rule").unwrap_or("");
        step(
            ctx,
            set_cmd(name, "crush_rule", rule),
            format!("setting the CRUSH rule of pool {name}"),
        )
        .await?;
    }
    // Size before min_size: Ceph keeps min_size <= size, and resets min_size when size changes.
    if changed(prior, planned, "size") {
        let size = int_attr(planned, "size").unwrap_or(0);
        let mut cmd = set_cmd(name, "size", size);
        if size == 1 {
            cmd["yes_i_really_mean_it"] = json!(true);
        }
        step(ctx, cmd, format!("setting the size of pool {name}")).await?;
    }
    if let Some(min) = int_attr(planned, "min_size")
        && (changed(prior, planned, "size") || changed(prior, planned, "min_size"))
    {
        step(
            ctx,
            set_cmd(name, "min_size", min),
            format!("setting min_size of pool {name}"),
        )
        .await?;
    }
    if changed(prior, planned, "pg_autoscale_mode") {
        let mode = str_attr(planned, "pg_autoscale_mode").unwrap_or("");
        step(
            ctx,
            set_cmd(name, "pg_autoscale_mode", mode),
            format!("setting the autoscale mode of pool {name}"),
        )
        .await?;
    }
    if changed(prior, planned, "pg_num") {
        let pg = int_attr(planned, "pg_num").unwrap_or(0);
        step(
            ctx,
            set_cmd(name, "pg_num", pg),
            format!("setting pg_num of pool {name}"),
        )
        .await?;
    }
    if changed(prior, planned, "application") {
        let app = str_attr(planned, "application").unwrap_or("");
        enable_application(ctx, name, app).await?;
        // What Ceph has besides the wanted application (read, not taken from the prior
        // state: several applications show there joined by commas).
        let apps = ctx
            .mon_json(json!({"prefix": "osd pool application get", "pool": name}))
            .await
            .map_err(|e| {
                rados_diag(
                    "Cannot change pool",
                    &format!("reading the applications of pool {name}"),
                    &e,
                )
            })?;
        for other in apps.as_object().into_iter().flatten().map(|(k, _)| k) {
            if other != app {
                step(
                    ctx,
                    json!({"prefix": "osd pool application disable", "pool": name, "app": other, "yes_i_really_mean_it": true}),
                    format!("disabling application {other} on pool {name}"),
                )
                .await?;
            }
        }
    }
    for field in ["max_bytes", "max_objects"] {
        let attr = format!("quota_{field}");
        if changed(prior, planned, &attr) {
            set_quota(ctx, name, field, int_attr(planned, &attr).unwrap_or(0)).await?;
        }
    }
    Ok(())
}

async fn delete(ctx: &Ctx, prior: &Value) -> ApplyResponse {
    let name = str_attr(prior, "name").unwrap_or("");
    let cmd = json!({"prefix": "osd pool rm", "pool": name, "pool2": name, "yes_i_really_really_mean_it": true});
    match ctx.mon(cmd).await {
        Ok(_) => ApplyResponse::done(Value::null(prior.ty())),
        Err(e) if e.errno() == Some(ENOENT) => ApplyResponse::done(Value::null(prior.ty())),
        Err(e) => {
            let mut d = rados_diag("Cannot delete pool", &format!("deleting pool {name}"), &e);
            let text = e.to_string();
            if e.errno() == Some(EPERM) && text.contains("mon_allow_pool_delete") {
                d = Diagnostic {
                    code: "brick::ceph::pool_delete_disabled".into(),
                    ..d
                }
                .with_help(
                    "The cluster refuses to delete pools while mon_allow_pool_delete is false. To delete it: `ceph config set mon mon_allow_pool_delete true`, apply again, then set it back to false.",
                );
            } else if e.errno() == Some(EPERM) && text.contains("nodelete") {
                d = Diagnostic {
                    code: "brick::ceph::pool_delete_disabled".into(),
                    ..d
                }
                .with_help(format!(
                    "The pool's nodelete flag is set: `ceph osd pool set {name} nodelete false`, then apply again."
                ));
            }
            ApplyResponse::failed(prior, vec![d])
        }
    }
}

/// One planned `ceph_pool` change, as the plan check sees it.
pub struct PoolChange<'a> {
    /// Where the diagnostic goes (the index of the change in the plan).
    pub index: usize,
    /// Null when creating.
    pub prior: &'a Value,
    /// Null when deleting; may hold unknown values.
    pub planned: &'a Value,
}

/// The refusals that need the live cluster: a size the failure domains of the pool's CRUSH
/// rule cannot hold, and a CRUSH rule the cluster does not have. Looks only at creations and
/// at updates that change `size` or `crush_rule`; reads the OSD tree and the CRUSH rules once.
pub async fn check_placement(ctx: &Ctx, changes: &[PoolChange<'_>]) -> Vec<(usize, Diagnostic)> {
    let relevant: Vec<&PoolChange> = changes
        .iter()
        .filter(|c| {
            !c.planned.is_null()
                && int_attr(c.planned, "size").is_some()
                && (c.prior.is_null()
                    || changed(c.prior, c.planned, "size")
                    || changed(c.prior, c.planned, "crush_rule"))
        })
        .collect();
    if relevant.is_empty() {
        return Vec::new();
    }
    let topology = async {
        let tree = ctx.mon_json(json!({"prefix": "osd tree"})).await?;
        let rules = ctx
            .mon_json(json!({"prefix": "osd crush rule dump"}))
            .await?;
        Ok::<_, RadosError>((OsdTree::parse(&tree), CrushRule::parse_all(&rules)))
    };
    let (tree, rules) = match topology.await {
        Ok(t) => t,
        Err(e) => {
            let d = rados_diag(
                "Cannot check pool placement",
                "reading the OSD tree and CRUSH rules",
                &e,
            );
            return vec![(relevant[0].index, d)];
        }
    };
    relevant
        .iter()
        .filter_map(|c| judge(c.planned, &tree, &rules).map(|d| (c.index, d)))
        .collect()
}

/// The verdict for a pool whose CRUSH rule is not known yet (the cluster's default for a new
/// pool, or a value from an unapplied change): refused only when no replicated rule of the
/// cluster could hold it, shown with the rule offering the most failure domains.
fn judge_any_rule(
    planned: &Value,
    size: i64,
    tree: &OsdTree,
    rules: &[CrushRule],
) -> Option<Diagnostic> {
    let name = str_attr(planned, "name").unwrap_or("?");
    let mut best: Option<(&CrushRule, crate::placement::FailureDomains)> = None;
    let mut sorted: Vec<&CrushRule> = rules.iter().filter(|r| r.rule_type == 1).collect();
    sorted.sort_by_key(|r| r.id);
    for rule in sorted {
        // A rule brick cannot judge might hold it: no verdict.
        let domains = tree.domains(rule)?;
        if best
            .as_ref()
            .is_none_or(|(_, b)| domains.count() > b.count())
        {
            best = Some((rule, domains));
        }
    }
    let (rule, domains) = best?;
    let problem = check_size(size as u64, &domains).err()?;
    let mut detail = problem.detail(name, &rule.name);
    if rules.iter().filter(|r| r.rule_type == 1).count() > 1 {
        detail.push_str(&format!(
            " No replicated CRUSH rule of the cluster offers more failure domains than \"{}\".",
            rule.name
        ));
    }
    Some(
        Diagnostic::error(
            "brick::ceph::pool_size_exceeds_failure_domains",
            "Pool size exceeds the failure domains",
            detail,
        )
        .at(["size"])
        .with_help(problem.help()),
    )
}

/// The placement verdict for one planned pool against a cluster's topology.
pub fn judge(planned: &Value, tree: &OsdTree, rules: &[CrushRule]) -> Option<Diagnostic> {
    let size = int_attr(planned, "size")?;
    let name = str_attr(planned, "name").unwrap_or("?");
    let rule = match planned.get("crush_rule") {
        Some(r) if r.is_known() && !r.is_null() => {
            let wanted = r.as_str()?;
            match rules.iter().find(|x| x.name == wanted) {
                Some(rule) => rule,
                None => {
                    let mut names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
                    names.sort();
                    return Some(
                        Diagnostic::error(
                            "brick::ceph::unknown_crush_rule",
                            "No such CRUSH rule",
                            format!("Pool \"{name}\" names CRUSH rule \"{wanted}\", which the cluster does not have."),
                        )
                        .at(["crush_rule"])
                        .with_help(format!("The cluster's rules: {}.", names.join(", "))),
                    );
                }
            }
        }
        Some(r) if !r.is_known() => return judge_any_rule(planned, size, tree, rules),
        _ => default_replicated_rule(rules)?,
    };
    if rule.rule_type != 1 {
        return None;
    }
    let domains = tree.domains(rule)?;
    let problem = check_size(size as u64, &domains).err()?;
    Some(
        Diagnostic::error(
            "brick::ceph::pool_size_exceeds_failure_domains",
            "Pool size exceeds the failure domains",
            problem.detail(name, &rule.name),
        )
        .at(["size"])
        .with_help(problem.help()),
    )
}
