//! Discovery documents: `/api` (APIVersions), `/apis` (APIGroupList), `/api/v1` and
//! `/apis/<group>/<version>` (APIResourceList), `/apis/<group>` (APIGroup), and the aggregated
//! form (`apidiscovery.k8s.io/v2` APIGroupDiscoveryList) that kubectl and client-go ask for
//! first.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::types::ResourceType;

/// The order the real server lists its built-in groups in (others follow, sorted).
const GROUP_ORDER: &[&str] = &[
    "",
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "resource.k8s.io",
];

/// Groups with their versions, in discovery order (the core group excluded).
fn groups(types: &[ResourceType]) -> Vec<(String, Vec<String>, String)> {
    let mut by: BTreeMap<String, (Vec<String>, String)> = BTreeMap::new();
    for t in types {
        if t.group.is_empty() {
            continue;
        }
        let e = by.entry(t.group.clone()).or_default();
        if !e.0.contains(&t.version) {
            e.0.push(t.version.clone());
        }
        if t.storage || e.1.is_empty() {
            e.1 = t.version.clone();
        }
    }
    let mut out: Vec<(String, Vec<String>, String)> =
        by.into_iter().map(|(g, (v, p))| (g, v, p)).collect();
    out.sort_by_key(|(g, _, _)| {
        (
            GROUP_ORDER
                .iter()
                .position(|o| o == g)
                .unwrap_or(usize::MAX),
            g.clone(),
        )
    });
    out
}

pub fn api_versions(addr: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}]})
}

fn group_doc(g: &str, versions: &[String], preferred: &str) -> Value {
    let gv = |v: &str| json!({"groupVersion": format!("{g}/{v}"), "version": v});
    json!({"name": g,
        "versions": versions.iter().map(|v| gv(v)).collect::<Vec<_>>(),
        "preferredVersion": gv(preferred)})
}

pub fn api_group_list(types: &[ResourceType]) -> Value {
    let gs: Vec<Value> = groups(types)
        .iter()
        .map(|(g, v, p)| group_doc(g, v, p))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": gs})
}

pub fn api_group(types: &[ResourceType], group: &str) -> Option<Value> {
    groups(types)
        .into_iter()
        .find(|(g, _, _)| g == group)
        .map(|(g, v, p)| {
            let mut d = group_doc(&g, &v, &p);
            d["kind"] = json!("APIGroup");
            d["apiVersion"] = json!("v1");
            d
        })
}

pub fn resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut resources = Vec::new();
    for t in served {
        let mut r = json!({"name": t.plural, "singularName": t.singular,
            "namespaced": t.namespaced, "kind": t.kind, "verbs": t.verbs()});
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        resources.push(r);
        for sub in &t.subresources {
            let (kind, verbs, g, v) = match sub.as_str() {
                "status" => (
                    t.kind.clone(),
                    json!(["get", "patch", "update"]),
                    None,
                    None,
                ),
                "scale" => (
                    "Scale".to_string(),
                    json!(["get", "patch", "update"]),
                    Some("autoscaling"),
                    Some("v1"),
                ),
                "eviction" => (
                    "Eviction".to_string(),
                    json!(["create"]),
                    Some("policy"),
                    Some("v1"),
                ),
                "finalize" => (t.kind.clone(), json!(["update"]), None, None),
                _ => continue,
            };
            let mut r = json!({"name": format!("{}/{sub}", t.plural), "singularName": "",
                "namespaced": t.namespaced, "kind": kind, "verbs": verbs});
            if let (Some(g), Some(v)) = (g, v) {
                r["group"] = json!(g);
                r["version"] = json!(v);
            }
            resources.push(r);
        }
    }
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
        "resources": resources}),
    )
}

/// The aggregated discovery document for `/api` (core) or `/apis` (groups).
pub fn aggregated(types: &[ResourceType], core: bool) -> Value {
    let mut items = Vec::new();
    let list: Vec<(String, Vec<String>, String)> = if core {
        vec![(String::new(), vec!["v1".into()], "v1".into())]
    } else {
        groups(types)
    };
    for (g, versions, _) in list {
        let mut vs = Vec::new();
        for v in &versions {
            let mut resources = Vec::new();
            for t in types.iter().filter(|t| t.group == g && &t.version == v) {
                let mut r = json!({"resource": t.plural,
                    "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
                    "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                    "singularResource": t.singular, "verbs": t.verbs()});
                if !t.short_names.is_empty() {
                    r["shortNames"] = json!(t.short_names);
                }
                if !t.categories.is_empty() {
                    r["categories"] = json!(t.categories);
                }
                let subs: Vec<Value> = t
                    .subresources
                    .iter()
                    .filter_map(|s| {
                        let (kind, verbs, gg, vv) = match s.as_str() {
                            "status" => (
                                t.kind.as_str(),
                                json!(["get", "patch", "update"]),
                                t.group.as_str(),
                                t.version.as_str(),
                            ),
                            "scale" => (
                                "Scale",
                                json!(["get", "patch", "update"]),
                                "autoscaling",
                                "v1",
                            ),
                            "eviction" => ("Eviction", json!(["create"]), "policy", "v1"),
                            "finalize" => (
                                t.kind.as_str(),
                                json!(["update"]),
                                t.group.as_str(),
                                t.version.as_str(),
                            ),
                            _ => return None,
                        };
                        Some(json!({"subresource": s,
                            "responseKind": {"group": gg, "version": vv, "kind": kind},
                            "verbs": verbs}))
                    })
                    .collect();
                if !subs.is_empty() {
                    r["subresources"] = Value::Array(subs);
                }
                resources.push(r);
            }
            vs.push(json!({"version": v, "resources": resources, "freshness": "Current"}));
        }
        let mut md = json!({"creationTimestamp": null});
        if !g.is_empty() {
            md["name"] = json!(g);
        }
        items.push(json!({"metadata": md, "versions": vs}));
    }
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {}, "items": items})
}
