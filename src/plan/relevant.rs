//! Terraform's `relevant_attributes`: the resource attributes that the plan's changes and
//! changed outputs read, directly or through locals and the resources they read, transitively.
//! A renderer shows only drift in these attributes; the JSON plan lists them.
//!
//! As Terraform's reference analyser, a path stops at the resource's attribute (a dynamic or
//! structured attribute is a leaf: `local.x = brick_data.a.output.k` makes
//! `brick_data.a` `["output"]` relevant), an instance key stays on the resource
//! (`brick_data.a[0]`), and a splat or a whole-resource reference has an empty path.
//! References from child modules are not followed yet.

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};

use super::address::{ResourceAddr, ResourceMode};
use super::input::Configuration;
use super::model::{Action, OutputChange, ResourceChange};

/// The key under which a resource type's dynamic attributes are recorded in a plan:
/// `brick_data`, or `data.brick_remote_state` for a data source.
pub fn type_key(addr: &ResourceAddr) -> String {
    match addr.mode {
        ResourceMode::Managed => addr.type_name.clone(),
        ResourceMode::Data => format!("data.{}", addr.type_name),
    }
}

/// The relevant attributes of a plan, sorted as Terraform sorts them (data sources before
/// managed resources, then type, name, key and path).
pub fn relevant_attributes(
    changes: &[ResourceChange],
    outputs: &[OutputChange],
    config: &Configuration,
) -> Vec<(String, Vec<Json>)> {
    let described = &config.described;
    let mut pending: Vec<String> = Vec::new();
    for c in changes.iter().filter(|c| c.action != Action::NoOp) {
        if c.addr.resource.module.is_empty()
            && let Some(d) = described.resources.get(&c.addr.resource.to_string())
        {
            d.values().for_each(|v| collect_references(v, &mut pending));
        }
    }
    for o in outputs.iter().filter(|o| o.action != Action::NoOp) {
        if let Some(d) = described.outputs.get(&o.name) {
            collect_references(d, &mut pending);
        }
    }
    let mut visited: BTreeSet<String> = BTreeSet::new();
    let mut found: Vec<(String, Vec<Json>)> = Vec::new();
    while let Some(r) = pending.pop() {
        if !visited.insert(r.clone()) {
            continue;
        }
        if let Some(name) = r.strip_prefix("local.") {
            let name = &name[..name.find(['.', '[']).unwrap_or(name.len())];
            if let Some(refs) = described.locals.get(name) {
                pending.extend(refs.iter().cloned());
            }
            continue;
        }
        let Some((resource, path, base)) = split_resource_ref(&r) else {
            continue;
        };
        // Only references to resources the configuration declares count.
        if !config
            .resources
            .iter()
            .any(|rc| rc.addr.module.is_empty() && rc.addr.to_string() == base)
        {
            continue;
        }
        if let Some(d) = described.resources.get(&base) {
            d.values().for_each(|v| collect_references(v, &mut pending));
        }
        if !found.iter().any(|(r2, p2)| *r2 == resource && *p2 == path) {
            found.push((resource, path));
        }
    }
    // `references` lists every traversal with its prefixes: a resource's bare reference is
    // only the prefix of a longer one when that one names an attribute of it.
    let keep: Vec<(String, Vec<Json>)> = found
        .iter()
        .filter(|(r, p)| {
            !(p.is_empty()
                && found.iter().any(|(r2, p2)| {
                    (r2 == r || r2.starts_with(&format!("{r}["))) && !p2.is_empty()
                }))
        })
        .cloned()
        .collect();
    let mut keep = keep;
    keep.sort_by(|(ra, pa), (rb, pb)| {
        let data_first = |r: &str| if r.starts_with("data.") { 0 } else { 1 };
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
