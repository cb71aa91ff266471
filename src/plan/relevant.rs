//! Terraform's `relevant_attributes`: the resource attributes that the plan's changes and
//! changed outputs read, directly or through locals and the resources they read, transitively.
//! A renderer shows only drift in these attributes; the JSON plan lists them.
//!
//! As Terraform's reference analyser, a path stops at the resource's attribute (a dynamic or
//! structured attribute is a leaf: `local.x = brick_data.a.output.k` makes
//! `brick_data.a` `["output"]` relevant), an instance key stays on the resource
//! (`brick_data.a[0]`), and a splat or a whole-resource reference has an empty path.
//! References are followed into child modules (a root output reading `module.x` reads the
//! outputs of `module.x`, resolved in the module without instance keys, as Terraform does),
//! and every output of a configured child module instance counts as changed (Terraform keeps no
//! child module outputs in state, so it plans each of them as created).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as Json, json};

use super::address::{ResourceAddr, ResourceMode};
use super::model::{Action, OutputChange, ResourceChange};
use crate::input::Configuration;

/// The key under which a resource type's dynamic attributes are recorded in a plan:
/// `brick_data`, or `data.brick_remote_state` for a data source.
pub fn type_key(addr: &ResourceAddr) -> String {
    match addr.mode {
        ResourceMode::Managed => addr.type_name.clone(),
        ResourceMode::Data => format!("data.{}", addr.type_name),
    }
}

/// What the JSON configuration says of one child module (keyed by its keyless path): each
/// output's references and each resource's (by address inside the module).
#[derive(Default)]
struct ModuleRefs {
    outputs: BTreeMap<String, Vec<String>>,
    resources: BTreeMap<String, Vec<String>>,
}

fn module_refs(calls: &Map<String, Json>, prefix: &str, out: &mut BTreeMap<String, ModuleRefs>) {
    for (name, call) in calls {
        let path = if prefix.is_empty() {
            format!("module.{name}")
        } else {
            format!("{prefix}.module.{name}")
        };
        let Some(module) = call.get("module") else {
            continue;
        };
        let mut refs = ModuleRefs::default();
        if let Some(outputs) = module.get("outputs").and_then(Json::as_object) {
            for (o, d) in outputs {
                let mut r = Vec::new();
                collect_references(d, &mut r);
                refs.outputs.insert(o.clone(), r);
            }
        }
        for res in module
            .get("resources")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(addr) = res.get("address").and_then(Json::as_str) {
                let mut r = Vec::new();
                collect_references(res, &mut r);
                refs.resources.insert(addr.to_string(), r);
            }
        }
        if let Some(inner) = module.get("module_calls").and_then(Json::as_object) {
            module_refs(inner, &path, out);
        }
        out.insert(path, refs);
    }
}

/// `module.NAME`, `module.NAME["k"]` or `module.NAME[0]`, then an optional `.OUTPUT`.
fn split_module_ref(r: &str) -> Option<(String, String, Option<String>)> {
    let rest = r.strip_prefix("module.")?;
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    let name = &rest[..end];
    let steps = super::from_config::traversal_steps(&rest[end..]);
    let mut key = String::new();
    let mut output = None;
    for st in steps {
        if let Some(o) = st.strip_prefix('.') {
            output = Some(o.to_string());
            break;
        }
        if key.is_empty() && output.is_none() {
            key = st.to_string();
        }
    }
    Some((format!("module.{name}"), key, output))
}

/// The relevant attributes of a plan, sorted (Terraform's own order varies from run to run).
pub fn relevant_attributes(
    changes: &[ResourceChange],
    outputs: &[OutputChange],
    config: &Configuration,
    destroy: bool,
) -> Vec<(String, Vec<Json>)> {
    let described = &config.described;
    let mut modules = BTreeMap::new();
    module_refs(&described.module_calls, "", &mut modules);
    // (module instance path, reference as written in that module)
    let mut pending: Vec<(String, String)> = Vec::new();
    let changing = |c: &&ResourceChange| !matches!(c.action, Action::NoOp | Action::Forget);
    for c in changes.iter().filter(changing) {
        let module = &c.addr.resource.module;
        let refs = if module.is_empty() {
            described
                .resources
                .get(&c.addr.resource.to_string())
                .map(|d| {
                    let mut r = Vec::new();
                    d.make()
                        .values()
                        .for_each(|v| collect_references(v, &mut r));
                    r
                })
        } else {
            modules
                .get(&crate::addr::config_module(module))
                .and_then(|m| m.resources.get(&c.addr.resource.in_module("").to_string()))
                .cloned()
        };
        pending.extend(refs.into_iter().flatten().map(|r| (module.clone(), r)));
    }
    for o in outputs.iter().filter(|o| o.action != Action::NoOp) {
        if let Some(d) = described.outputs.get(&o.name) {
            let mut r = Vec::new();
            collect_references(d, &mut r);
            pending.extend(r.into_iter().map(|r| (String::new(), r)));
        }
    }
    // Child module outputs are not kept in state, so Terraform plans every output of every
    // module instance that is still configured as a change: what they read is relevant.
    let instances: BTreeSet<&String> = changes
        .iter()
        .filter(|c| {
            // A destroy plan plans no module outputs.
            !destroy
                && !c.addr.resource.module.is_empty()
                && !matches!(
                    c.reason,
                    Some(
                        super::model::ActionReason::DeleteBecauseNoModule
                            | super::model::ActionReason::DeleteBecauseNoResourceConfig
                    )
                )
                && c.action != Action::Forget
        })
        .map(|c| &c.addr.resource.module)
        .collect();
    for m in instances {
        let Some(desc) = modules.get(&crate::addr::config_module(m)) else {
            continue;
        };
        for refs in desc.outputs.values() {
            pending.extend(refs.iter().map(|r| (m.clone(), r.clone())));
        }
    }
    let mut visited: BTreeSet<(String, String)> = BTreeSet::new();
    let mut found: Vec<(String, Vec<Json>)> = Vec::new();
    // Lookups by key, so that a large configuration costs linear time: the declared resource
    // addresses, and what `found` holds (resource, path as JSON text).
    let declared_addrs: std::collections::HashSet<String> = config
        .resources
        .iter()
        .map(|rc| rc.addr.to_string())
        .collect();
    let mut found_keys: std::collections::HashSet<(String, String)> = Default::default();
    while let Some((module, r)) = pending.pop() {
        if !visited.insert((module.clone(), r.clone())) {
            continue;
        }
        let config_module = crate::addr::config_module(&module);
        if let Some(name) = r.strip_prefix("local.") {
            let name = &name[..name.find(['.', '[']).unwrap_or(name.len())];
            if module.is_empty()
                && let Some(refs) = described.locals.get(name)
            {
                pending.extend(refs.iter().map(|r| (String::new(), r.clone())));
            }
            continue;
        }
        if let Some((call, key, output)) = split_module_ref(&r) {
            let inner = if module.is_empty() {
                call.clone()
            } else {
                format!("{module}.{call}")
            };
            let inner_config = if config_module.is_empty() {
                call
            } else {
                format!("{config_module}.{call}")
            };
            if let Some(desc) = modules.get(&inner_config) {
                let instance = format!("{inner}{key}");
                for (name, refs) in &desc.outputs {
                    if output.as_ref().is_none_or(|o| o == name) {
                        pending.extend(refs.iter().map(|r| (instance.clone(), r.clone())));
                    }
                }
            }
            continue;
        }
        let Some((resource, path, base)) = split_resource_ref(&r) else {
            continue;
        };
        // Only references to resources the configuration declares count.
        let declared = if config_module.is_empty() {
            base.clone()
        } else {
            format!("{config_module}.{base}")
        };
        if !declared_addrs.contains(&declared) {
            continue;
        }
        let more = if module.is_empty() {
            described.resources.get(&base).map(|d| {
                let mut r = Vec::new();
                d.make()
                    .values()
                    .for_each(|v| collect_references(v, &mut r));
                r
            })
        } else {
            modules
                .get(&config_module)
                .and_then(|m| m.resources.get(&base))
                .cloned()
        };
        pending.extend(more.into_iter().flatten().map(|r| (module.clone(), r)));
        let resource = if module.is_empty() {
            resource
        } else {
            format!("{module}.{resource}")
        };
        if found_keys.insert((resource.clone(), Json::Array(path.clone()).to_string())) {
            found.push((resource, path));
        }
    }
    // `references` lists every traversal with its prefixes: a resource's bare reference is
    // only the prefix of a longer one when that one names an attribute of it.
    // The resources some reference with an attribute names: itself, or (`r[key]`) `r`.
    let mut with_attribute: std::collections::HashSet<&str> = Default::default();
    for (r2, p2) in &found {
        if p2.is_empty() {
            continue;
        }
        with_attribute.insert(r2);
        for (i, _) in r2.match_indices('[') {
            with_attribute.insert(&r2[..i]);
        }
    }
    let mut keep: Vec<(String, Vec<Json>)> = found
        .iter()
        .filter(|(r, p)| !(p.is_empty() && with_attribute.contains(r.as_str())))
        .cloned()
        .collect();
    keep.sort_by(|(ra, pa), (rb, pb)| {
        let data_first = |r: &str| if r.contains("data.") { 0 } else { 1 };
        (data_first(ra), ra, Json::Array(pa.clone()).to_string()).cmp(&(
            data_first(rb),
            rb,
            Json::Array(pb.clone()).to_string(),
        ))
    });
    keep
}

/// Every `references` list inside a described expression tree.
fn collect_references(j: &Json, out: &mut Vec<String>) {
    match j {
        Json::Object(m) => {
            for (k, v) in m {
                if k == "references" {
                    out.extend(
                        v.as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Json::as_str)
                            .map(str::to_string),
                    );
                } else {
                    collect_references(v, out);
                }
            }
        }
        Json::Array(xs) => xs.iter().for_each(|x| collect_references(x, out)),
        _ => {}
    }
}

/// A reference to a resource split into the resource (instance) it names, the attribute it
/// reads (as Terraform, only the attribute: a path stops there) and the resource:
/// `brick_data.a[0].output["k"]` → (`brick_data.a[0]`, `["output"]`, `brick_data.a`).
/// `None` for references to anything else.
fn split_resource_ref(r: &str) -> Option<(String, Vec<Json>, String)> {
    let ident = |s: &str| {
        s.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(s.len())
    };
    let mut end = ident(r);
    let first = &r[..end];
    let parts = match first {
        "data" => 3,
        "var" | "local" | "module" | "each" | "count" | "path" | "self" | "terraform" => {
            return None;
        }
        _ => 2,
    };
    for _ in 1..parts {
        if !r[end..].starts_with('.') {
            return None;
        }
        end += 1 + ident(&r[end + 1..]);
    }
    let base = r[..end].to_string();
    let steps = super::from_config::traversal_steps(&r[end..]);
    let mut resource = base.clone();
    let mut attrs = Vec::new();
    for (i, st) in steps.iter().enumerate() {
        if let Some(name) = st.strip_prefix('.') {
            attrs.push(json!(name));
            break;
        }
        let inner = &st[1..st.len() - 1];
        if inner == "*" {
            break;
        }
        if i > 0 {
            break;
        }
        match serde_json::from_str::<Json>(inner) {
            Ok(Json::String(_) | Json::Number(_)) => resource.push_str(st),
            _ => return None,
        }
    }
    Some((resource, attrs, base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_path_stops_at_the_attribute_it_reads() {
        assert_eq!(
            split_resource_ref("brick_data.a[0].output[\"k\"].x"),
            Some((
                "brick_data.a[0]".into(),
                vec![json!("output")],
                "brick_data.a".into()
            ))
        );
        assert_eq!(
            split_resource_ref("data.brick_remote_state.n.outputs.region"),
            Some((
                "data.brick_remote_state.n".into(),
                vec![json!("outputs")],
                "data.brick_remote_state.n".into()
            ))
        );
        assert_eq!(
            split_resource_ref("brick_data.d[*].output"),
            Some(("brick_data.d".into(), vec![], "brick_data.d".into()))
        );
        assert_eq!(split_resource_ref("local.x"), None);
    }
}
