//! Terraform's machine-readable formats: the JSON plan representation (`brick plan --json`,
//! `brick show --json PLANFILE`), the JSON state representation (`brick show --json`), and
//! `brick output --json`. Tools written for Terraform read these unchanged.
//!
//! What brick prints as a command's progress (`plan --json`, `apply --json`, `drift --json`)
//! ends up in CI logs: [`plan_json_masked`] replaces every sensitive value there with `null`
//! (the `*_sensitive` masks beside them say which). `show --json` of a plan or state file
//! prints values whole, as Terraform's does: whoever can read the file has them anyway.

use std::collections::BTreeMap;

use brick_provider_api::Value;
use brick_provider_api::value::Kind;
use serde_json::{Map, Value as Json, json};

use crate::input::Configuration;
use crate::plan::address::{InstanceAddr, ResourceMode};
use crate::plan::codec::{to_json, type_to_json, unknown_mask};
use crate::plan::model::{Action, Plan, PriorState, ResourceChange, path_to_json};

/// The plan format version we write (Terraform's current one).
pub const PLAN_FORMAT: &str = "1.2";
/// The state format version we write in `show --json`.
pub const STATE_FORMAT: &str = "1.0";

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

fn mode_str(m: ResourceMode) -> &'static str {
    match m {
        ResourceMode::Managed => "managed",
        ResourceMode::Data => "data",
    }
}

fn addr_fields(o: &mut Map<String, Json>, addr: &InstanceAddr, provider: &str) {
    o.insert("address".into(), json!(addr.to_string()));
    if !addr.resource.module.is_empty() {
        o.insert("module_address".into(), json!(addr.resource.module));
    }
    o.insert("mode".into(), json!(mode_str(addr.resource.mode)));
    o.insert("type".into(), json!(addr.resource.type_name));
    o.insert("name".into(), json!(addr.resource.name));
    if let Some(i) = addr.key.to_json() {
        o.insert("index".into(), i);
    }
    o.insert("provider_name".into(), json!(provider_name(provider)));
}

/// Provider names in Terraform's fully qualified form.
pub fn provider_name(short: &str) -> String {
    let short = crate::addr::provider_module(short).1;
    let ty = short.split('.').next().unwrap_or(short);
    format!("brick.local/brick/{ty}")
}

fn plain(v: &Value) -> Value {
    v.unmark_deep().0
}

pub(crate) fn change_json(before: &Value, after: &Value, actions: &[&str]) -> Map<String, Json> {
    let mut c = Map::new();
    c.insert("actions".into(), json!(actions));
    c.insert("before".into(), to_json(&plain(before)));
    c.insert("after".into(), known_json(&plain(after)));
    // As Terraform's: `{}` when the planned value is wholly known (a deletion's null too).
    let after_unknown = if after.is_wholly_known() {
        json!({})
    } else {
        unknown_mask(after)
    };
    c.insert("after_unknown".into(), after_unknown);
    c.insert("before_sensitive".into(), sensitive_or_false(before));
    c.insert("after_sensitive".into(), sensitive_or_false(after));
    c
}

/// A value as JSON with its unknowns left out, as Terraform's `after` and `planned_values`:
/// unknown object and map attributes are omitted, unknown sequence elements become null (so
/// positions still line up), and a wholly unknown value is null.
fn known_json(v: &Value) -> Json {
    match &v.kind {
        Kind::List(_, xs) | Kind::Set(_, xs) | Kind::Tuple(xs) => {
            Json::Array(xs.iter().map(known_json).collect())
        }
        Kind::Map(_, m) | Kind::Object(m) => Json::Object(
            m.iter()
                .filter(|(_, x)| x.is_known())
                .map(|(k, x)| (k.clone(), known_json(x)))
                .collect(),
        ),
        _ => to_json(v),
    }
}

fn sensitive_or_false(v: &Value) -> Json {
    if v.is_null() {
        json!(false)
    } else {
        sensitive_mask(v)
    }
}

/// Terraform's sensitive mask (`SensitiveAsBool`): `true` where a value is sensitive; objects
/// list only the attributes that contain something; sequences keep every position. A value
/// not known yet has no mask below it, but keeps its shape when its type is a collection:
/// Terraform 1.15 writes `"output": {}` for an unknown object and `[]` for an unknown tuple.
fn sensitive_mask(v: &Value) -> Json {
    if v.is_sensitive() {
        return Json::Bool(true);
    }
    if !v.is_known() {
        return match v.ty() {
            brick_provider_api::Type::Object(_) | brick_provider_api::Type::Map(_) => json!({}),
            brick_provider_api::Type::List(_)
            | brick_provider_api::Type::Set(_)
            | brick_provider_api::Type::Tuple(_) => json!([]),
            _ => Json::Bool(false),
        };
    }
    match &v.kind {
        Kind::List(_, xs) | Kind::Set(_, xs) | Kind::Tuple(xs) => {
            Json::Array(xs.iter().map(sensitive_mask).collect())
        }
        Kind::Map(_, m) | Kind::Object(m) => Json::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), sensitive_mask(x)))
                .filter(|(_, mx)| *mx != Json::Bool(false))
                .collect(),
        ),
        _ => Json::Bool(false),
    }
}

/// A data source read while planning: recorded as a no-op change for apply, but in Terraform's
/// JSON it is neither a change nor a planned value, only part of the prior state.
fn read_while_planning(c: &ResourceChange) -> bool {
    c.addr.resource.mode == ResourceMode::Data && c.action == Action::NoOp
}

fn resource_change(c: &ResourceChange) -> Json {
    let mut o = Map::new();
    addr_fields(&mut o, &c.addr, &c.provider);
    if let Some(p) = &c.previous_addr {
        o.insert("previous_address".into(), json!(p.to_string()));
    }
    let mut ch = change_json(&c.before, &c.after, c.action.terraform_actions());
    if !c.replace_paths.is_empty() {
        ch.insert(
            "replace_paths".into(),
            Json::Array(c.replace_paths.iter().map(path_to_json).collect()),
        );
    }
    if let Some(id) = &c.importing {
        ch.insert("importing".into(), json!({ "id": id }));
    }
    o.insert("change".into(), Json::Object(ch));
    if let Some(r) = c.reason {
        o.insert(
            "action_reason".into(),
            serde_json::to_value(r).unwrap_or(Json::Null),
        );
    }
    Json::Object(o)
}

/// A resource instance in `values` form (planned values, prior state, `show --json`).
fn resource_values(
    addr: &InstanceAddr,
    provider: &str,
    schema_version: u64,
    value: &Value,
    depends_on: &[String],
) -> Json {
    let mut o = Map::new();
    addr_fields(&mut o, addr, provider);
    // `module_address` belongs to resource changes; values sit inside their module.
    o.remove("module_address");
    o.insert("schema_version".into(), json!(schema_version));
    o.insert("values".into(), to_json(&plain(value)));
    o.insert("sensitive_values".into(), sensitive_or_empty(value));
    if !depends_on.is_empty() {
        o.insert("depends_on".into(), json!(depends_on));
    }
    Json::Object(o)
}

fn sensitive_or_empty(v: &Value) -> Json {
    match sensitive_mask(v) {
        Json::Bool(false) => json!({}),
        m => m,
    }
}

/// Terraform's module tree of `values`: the root's resources, then `child_modules`, each
/// with its `address`, its resources and its own `child_modules` (nested module instances
/// inside their parent, ancestors present even when they hold no resources).
fn module_json(resources: Vec<(String, Json)>) -> Json {
    let mut by_module: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for (module, r) in resources {
        // Every ancestor module instance appears, even without resources of its own.
        if let Some(steps) = crate::plan::address::module_steps(&module) {
            for n in 1..steps.len() {
                by_module
                    .entry(crate::plan::address::module_string(&steps[..n]))
                    .or_default();
            }
        }
        by_module.entry(module).or_default().push(r);
    }
    let root = by_module.remove("").unwrap_or_default();
    let mut o = module_node(None, root, &by_module);
    if let Json::Object(m) = &mut o {
        m.remove("address");
    }
    o
}

fn module_node(
    address: Option<&str>,
    resources: Vec<Json>,
    all: &BTreeMap<String, Vec<Json>>,
) -> Json {
    let mut o = Map::new();
    if let Some(a) = address {
        o.insert("address".into(), json!(a));
    }
    if !resources.is_empty() {
        o.insert("resources".into(), Json::Array(resources));
    }
    let depth = address
        .and_then(crate::plan::address::module_steps)
        .map_or(0, |s| s.len());
    let children: Vec<Json> = all
        .iter()
        .filter(|(m, _)| {
            let steps = crate::plan::address::module_steps(m).unwrap_or_default();
            steps.len() == depth + 1
                && address.is_none_or(|a| crate::plan::address::module_string(&steps[..depth]) == a)
        })
        .map(|(m, rs)| module_node(Some(m), rs.clone(), all))
        .collect();
    if !children.is_empty() {
        o.insert("child_modules".into(), Json::Array(children));
    }
    Json::Object(o)
}

fn outputs_values(outputs: &BTreeMap<String, (Value, bool)>) -> Json {
    Json::Object(
        outputs
            .iter()
            .map(|(k, (v, s))| {
                (
                    k.clone(),
                    json!({"sensitive": s, "value": to_json(&plain(v)), "type": type_to_json(&v.ty())}),
                )
            })
            .collect(),
    )
}

/// The state's `values` object.
fn state_values(state: &PriorState) -> Json {
    let mut instances: Vec<_> = state.instances.iter().collect();
    instances.sort_by(|a, b| crate::plan::model::terraform_order(a.0, b.0));
    // Terraform's shape: every resource upstream, not the direct ones recorded.
    let mut whole = state.whole_dependencies();
    let resources = instances
        .into_iter()
        .map(|(a, i)| {
            let deps: Vec<String> = whole.remove(a).unwrap_or_default();
            (a.resource.module.clone(), {
                let mut r = resource_values(a, &i.provider, i.schema_version, &i.value, &deps);
                if i.tainted
                    && let Json::Object(m) = &mut r
                {
                    m.insert("tainted".into(), json!(true));
                }
                r
            })
        })
        .collect();
    // As Terraform's, `outputs` is left out when there are none.
    let mut o = Map::new();
    if !state.outputs.is_empty() {
        o.insert("outputs".into(), outputs_values(&state.outputs));
    }
    o.insert("root_module".into(), module_json(resources));
    Json::Object(o)
}

/// `brick show --json` without a plan: Terraform's JSON state representation.
pub fn state_json(state: &PriorState) -> Json {
    let mut o = Map::new();
    o.insert("format_version".into(), json!(STATE_FORMAT));
    o.insert("terraform_version".into(), json!(version()));
    o.insert("brick_version".into(), json!(version()));
    if !state.instances.is_empty() || !state.outputs.is_empty() {
        o.insert("values".into(), state_values(state));
    }
    Json::Object(o)
}

/// `brick output --json`.
pub fn outputs_json(outputs: &BTreeMap<String, (Value, bool)>) -> Json {
    outputs_values(outputs)
}

/// [`plan_json`] with every sensitive value replaced by `null`: variables, resource values before and after, prior state, outputs.
pub fn plan_json_masked(plan: &Plan, prior: &PriorState, config: &Configuration) -> Json {
    let mut doc = plan_json(plan, prior, config);
    mask_sensitive(&mut doc);
    if let Some(Json::Object(vars)) = doc.get_mut("variables") {
        for (name, entry) in vars.iter_mut() {
            if let Some(v) = config.variables.get(name)
                && v.contains_sensitive()
            {
                // Terraform's document has no field to say so here (terraform-json would drop
                // it); the configuration's variable block carries `"sensitive": true`.
                *entry = json!({"value": to_json(&plain(&without_secrets(v)))});
            }
        }
    }
    doc
}

/// `v` with each sensitive part replaced by a null of its type.
fn without_secrets(v: &Value) -> Value {
    if v.is_sensitive() {
        return Value::null(v.ty());
    }
    let mut out = v.clone();
    match &mut out.kind {
        Kind::Object(m) | Kind::Map(_, m) => m.values_mut().for_each(|x| *x = without_secrets(x)),
        Kind::List(_, xs) | Kind::Set(_, xs) | Kind::Tuple(xs) => {
            xs.iter_mut().for_each(|x| *x = without_secrets(x))
        }
        _ => {}
    }
    out
}

/// Replaces sensitive values in a JSON plan or state document by `null`, guided by the
/// masks beside them: `values`/`sensitive_values`, `before`/`before_sensitive`,
/// `after`/`after_sensitive`, and an output's `value` when it is `"sensitive": true`.
fn mask_sensitive(doc: &mut Json) {
    match doc {
        Json::Object(m) => {
            for (value, mask) in [
                ("values", "sensitive_values"),
                ("before", "before_sensitive"),
                ("after", "after_sensitive"),
            ] {
                if let Some(mask) = m.get(mask).cloned()
                    && let Some(v) = m.get_mut(value)
                {
                    apply_mask(v, &mask);
                }
            }
            if m.get("sensitive") == Some(&Json::Bool(true)) && m.contains_key("value") {
                m.insert("value".into(), Json::Null);
            }
            m.values_mut().for_each(mask_sensitive);
        }
        Json::Array(xs) => xs.iter_mut().for_each(mask_sensitive),
        _ => {}
    }
}

fn apply_mask(v: &mut Json, mask: &Json) {
    match (v, mask) {
        (v, Json::Bool(true)) => *v = Json::Null,
        (Json::Object(m), Json::Object(mask)) => {
            for (k, sub) in mask {
                if let Some(x) = m.get_mut(k) {
                    apply_mask(x, sub);
                }
            }
        }
        (Json::Array(xs), Json::Array(mask)) => {
            for (x, sub) in xs.iter_mut().zip(mask) {
                apply_mask(x, sub);
            }
        }
        _ => {}
    }
}

/// Terraform's JSON plan representation.
pub fn plan_json(plan: &Plan, prior: &PriorState, config: &Configuration) -> Json {
    let mut o = Map::new();
    o.insert("format_version".into(), json!(PLAN_FORMAT));
    o.insert("terraform_version".into(), json!(version()));
    o.insert("brick_version".into(), json!(version()));
    if !config.variables.is_empty() {
        o.insert(
            "variables".into(),
            Json::Object(
                config
                    .variables
                    .iter()
                    .map(|(k, v)| (k.clone(), json!({"value": to_json(&plain(v))})))
                    .collect(),
            ),
        );
    }
    // planned_values: what exists after apply.
    let mut planned = Vec::new();
    for c in &plan.changes {
        if c.action == Action::Delete || read_while_planning(c) {
            continue;
        }
        if c.action == Action::Forget {
            // Terraform lists a forgotten object with no values.
            let mut r = resource_values(&c.addr, &c.provider, c.schema_version, &c.after, &[]);
            if let Json::Object(m) = &mut r {
                m.remove("values");
                m.insert("sensitive_values".into(), json!(false));
            }
            planned.push((c.addr.resource.module.clone(), r));
            continue;
        }
        let mut r = resource_values(&c.addr, &c.provider, c.schema_version, &c.after, &[]);
        // Unknown values are omitted from planned values, as Terraform does.
        if let Json::Object(m) = &mut r {
            m.insert("values".into(), known_json(&plain(&c.after)));
        }
        planned.push((c.addr.resource.module.clone(), r));
    }
    let mut planned_outputs = Map::new();
    for oc in &plan.outputs {
        if oc.action == Action::Delete {
            continue;
        }
        let mut m = Map::new();
        m.insert("sensitive".into(), json!(oc.sensitive));
        if oc.after.is_wholly_known() {
            m.insert("value".into(), to_json(&plain(&oc.after)));
            m.insert("type".into(), type_to_json(&oc.after.ty()));
        }
        planned_outputs.insert(oc.name.clone(), Json::Object(m));
    }
    let mut planned_values = Map::new();
    if !planned_outputs.is_empty() {
        planned_values.insert("outputs".into(), Json::Object(planned_outputs));
    }
    planned_values.insert("root_module".into(), module_json(planned));
    o.insert("planned_values".into(), Json::Object(planned_values));
    if !plan.drift.is_empty() {
        o.insert(
            "resource_drift".into(),
            Json::Array(
                plan.drift
                    .iter()
                    .map(|d| {
                        let mut m = Map::new();
                        addr_fields(&mut m, &d.addr, &d.provider);
                        let actions: &[&str] = if d.after.is_null() {
                            &["delete"]
                        } else {
                            &["update"]
                        };
                        m.insert(
                            "change".into(),
                            Json::Object(change_json(&d.before, &d.after, actions)),
                        );
                        Json::Object(m)
                    })
                    .collect(),
            ),
        );
    }
    // A data source read while planning is no change to show (Terraform lists reads only
    // when they happen during apply); its value is in the prior state. As Terraform's, no
    // changes at all leave the key out.
    let resource_changes: Vec<Json> = plan
        .changes
        .iter()
        .filter(|c| !read_while_planning(c))
        .map(resource_change)
        .collect();
    if !resource_changes.is_empty() {
        o.insert("resource_changes".into(), Json::Array(resource_changes));
    }
    let outs = output_changes(plan);
    if !outs.is_empty() {
        o.insert("output_changes".into(), Json::Object(outs));
    }
    let mut prior_state = Map::new();
    prior_state.insert("format_version".into(), json!(STATE_FORMAT));
    prior_state.insert("terraform_version".into(), json!(version()));
    // As Terraform's, the prior state is the state the plan was made from, refreshed: it holds
    // what data sources read while planning and the root outputs' new values where they are
    // already known. An empty one is left out.
    let mut p = prior.clone();
    for c in plan.changes.iter().filter(|c| read_while_planning(c)) {
        p.instances.insert(
            c.addr.clone(),
            crate::plan::model::PriorInstance {
                provider: c.provider.clone(),
                value: c.after.clone(),
                depends_on: c.depends_on.clone(),
                tainted: false,
                schema_version: c.schema_version,
                create_before_destroy: false,
            },
        );
    }
    // A data source read again during apply is not in it (Terraform removes the planned
    // read's object from the refreshed state).
    for c in plan.changes.iter().filter(|c| c.action == Action::Read) {
        p.instances.remove(&c.addr);
    }
    // Imported objects are part of it, as read by the import.
    for c in plan.changes.iter().filter(|c| c.importing.is_some()) {
        p.instances
            .entry(c.addr.clone())
            .or_insert_with(|| crate::plan::model::PriorInstance {
                provider: c.provider.clone(),
                value: c.before.clone(),
                depends_on: Vec::new(),
                tainted: false,
                schema_version: c.schema_version,
                create_before_destroy: false,
            });
    }
    // Moved objects are already at their new addresses.
    for c in &plan.changes {
        if let Some(prev) = c.previous_addr.as_ref().filter(|p| **p != c.addr)
            && let Some(i) = p.instances.remove(prev)
        {
            p.instances.insert(c.addr.clone(), i);
        }
    }
    for oc in &plan.outputs {
        // A destroyed output's value is the one the destroy plan found (see the planner).
        let now = if oc.action == Action::Delete {
            &oc.before
        } else {
            &oc.after
        };
        if now.is_wholly_known() && !now.is_null() {
            p.outputs
                .insert(oc.name.clone(), (now.clone(), oc.sensitive));
        }
    }
    if !p.instances.is_empty() || !p.outputs.is_empty() {
        prior_state.insert("values".into(), state_values(&p));
        o.insert("prior_state".into(), Json::Object(prior_state));
    }
    o.insert("configuration".into(), configuration_json(config));
    if !plan.relevant_attributes.is_empty() {
        o.insert(
            "relevant_attributes".into(),
            Json::Array(
                plan.relevant_attributes
                    .iter()
                    .map(|(r, p)| json!({"resource": r, "attribute": p}))
                    .collect(),
            ),
        );
    }
    // Terraform 1.10+'s shape: each deferred instance's change as in `resource_changes`,
    // with the reason it waits for a later run.
    if !plan.deferred.is_empty() {
        o.insert(
            "deferred_changes".into(),
            Json::Array(
                plan.deferred
                    .iter()
                    .map(|d| json!({"reason": d.reason.as_str(), "resource_change": resource_change(&d.change)}))
                    .collect(),
            ),
        );
    }
    // brick's own: the providers configured only during apply, once what their
    // configuration reads is applied (Terraform has no field for this; consumers that do
    // not know it ignore it).
    if !plan.configured_during_apply.is_empty() {
        o.insert(
            "brick_configured_during_apply".into(),
            Json::Array(
                plan.configured_during_apply
                    .iter()
                    .map(|l| {
                        json!({
                            "name": l.name,
                            "provider_name": provider_name(&l.name),
                            "after": l.depends_on.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                        })
                    })
                    .collect(),
            ),
        );
    }
    o.insert("applyable".into(), json!(plan.applyable()));
    // Terraform 1.8+: a plan limited by -target/-exclude does not bring everything in line
    // with the configuration, so it is not complete.
    o.insert(
        "complete".into(),
        json!(
            plan.deferred.is_empty()
                && !plan.errored
                && plan.targets.is_empty()
                && plan.excludes.is_empty()
        ),
    );
    o.insert("errored".into(), json!(plan.errored));
    if let Some(t) = &plan.timestamp {
        o.insert("timestamp".into(), json!(t));
    }
    Json::Object(o)
}

/// Terraform's `output_changes`: the masks of an output are plain booleans (its sensitivity,
/// and `after_unknown` false when the value is wholly known), and an unknown value is left out
/// of `after`.
pub(crate) fn output_changes(plan: &Plan) -> Map<String, Json> {
    let mut outs = Map::new();
    for oc in &plan.outputs {
        let mut ch = Map::new();
        ch.insert("actions".into(), json!(oc.action.terraform_actions()));
        ch.insert("before".into(), to_json(&plain(&oc.before)));
        let after = plain(&oc.after);
        if after.is_wholly_known() {
            ch.insert("after".into(), to_json(&after));
            ch.insert("after_unknown".into(), json!(false));
        } else {
            if after.is_known() {
                ch.insert("after".into(), known_json(&after));
            }
            ch.insert("after_unknown".into(), unknown_mask(&oc.after));
        }
        ch.insert("before_sensitive".into(), json!(oc.sensitive));
        ch.insert("after_sensitive".into(), json!(oc.sensitive));
        outs.insert(oc.name.clone(), Json::Object(ch));
    }
    outs
}

fn configuration_json(config: &Configuration) -> Json {
    let mut providers = Map::new();
    // A provider used in a child module that does not inherit it from its parent has an
    // entry of its own (`module.a:brick`), as Terraform's.
    for r in &config.resources {
        let (key, module) =
            crate::input::terraform_provider_key(&config.resources, &config.providers, r);
        if let Some(module) = module.filter(|_| !r.addr.module.is_empty()) {
            let local = crate::addr::provider_module(&r.provider).1;
            providers.entry(key).or_insert_with(|| {
                json!({
                    "name": local.split('.').next().unwrap_or(local),
                    "full_name": provider_name(&r.provider),
                    "module_address": module,
                })
            });
        }
    }
    for name in config
        .resources
        .iter()
        .filter(|r| {
            r.addr.module.is_empty()
                || crate::input::terraform_provider_key(&config.resources, &config.providers, r)
                    .1
                    .is_none()
        })
        .map(|r| r.provider.clone())
        .chain(config.providers.iter().map(|p| p.name.clone()))
    {
        // A child module's own configuration: `module.a:maas` with its `module_address`.
        let (path, key) = crate::addr::provider_module(&name);
        providers
            .entry(crate::input::provider_config_key(&name))
            .or_insert_with(|| {
                let mut p = json!({"name": key.split('.').next().unwrap_or(key), "full_name": provider_name(&name)});
                if !path.is_empty() {
                    p["module_address"] = json!(crate::addr::module_text(&path));
                }
                p
            });
    }
    let resources: Vec<Json> = config
        .resources
        .iter()
        .filter(|r| r.addr.module.is_empty())
        .map(|r| {
            let address = r.addr.to_string();
            let mut o = Map::new();
            o.insert("address".into(), json!(address));
            o.insert("mode".into(), json!(mode_str(r.addr.mode)));
            o.insert("type".into(), json!(r.addr.type_name));
            o.insert("name".into(), json!(r.addr.name));
            o.insert("provider_config_key".into(), json!(r.provider));
            if let Some(d) = config.described.resources.get(&address) {
                for (k, v) in d.make() {
                    // As Terraform's, empty expression maps are left out.
                    if v.as_object().is_some_and(|m| m.is_empty()) {
                        continue;
                    }
                    o.insert(k, v);
                }
            }
            o.insert("schema_version".into(), json!(0));
            Json::Object(o)
        })
        .collect();
    let outputs: Map<String, Json> = config
        .outputs
        .iter()
        .filter(|o| o.module.is_empty())
        .map(|o| {
            let mut m = Map::new();
            m.insert(
                "expression".into(),
                config
                    .described
                    .outputs
                    .get(&o.name)
                    .cloned()
                    .unwrap_or_else(|| json!({})),
            );
            if o.sensitive {
                m.insert("sensitive".into(), json!(true));
            }
            (o.name.clone(), Json::Object(m))
        })
        .collect();
    let mut root = Map::new();
    if !resources.is_empty() {
        root.insert("resources".into(), Json::Array(resources));
    }
    if !outputs.is_empty() {
        root.insert("outputs".into(), Json::Object(outputs));
    }
    if !config.described.module_calls.is_empty() {
        root.insert(
            "module_calls".into(),
            Json::Object(config.described.module_calls.clone()),
        );
    }
    // Terraform leaves `variables` out when the module declares none.
    if !config.described.variables.is_empty() {
        root.insert(
            "variables".into(),
            Json::Object(config.described.variables.clone()),
        );
    }
    json!({
        "provider_config": providers,
        "root_module": root,
    })
}
