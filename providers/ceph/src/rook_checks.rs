//! The Rook provider's plan check: pools the cluster's failure domains cannot hold, and nodes
//! whose removal would take copies a pool still needs. The failure domains are counted with
//! [`crate::placement`] from the `rook_cluster`'s nodes planned in the same plan, else from the
//! live CephCluster's listed nodes; a cluster brick cannot count (external mode, `useAllNodes`,
//! unknown values, rack or zone domains, device classes) gets no verdict.

use std::collections::{BTreeMap, BTreeSet};

use brick_provider_api::provider::{ChangeAction, PlannedChange};
use brick_provider_api::{Diagnostic, Value};
use serde_json::Value as Json;

use crate::convert::{bool_attr, str_attr};
use crate::placement::{FailureDomains, check_size};
use crate::resources::{rook_block_pool as pool, rook_cluster as cluster};

/// Where a namespace's OSDs come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nodes {
    /// Node → devices.
    pub nodes: BTreeMap<String, Vec<String>>,
    /// Where they were counted from, for messages: `rook_cluster.ceph's nodes in this plan`.
    pub source: String,
}

/// What the live cluster says, per namespace, for namespaces the plan does not settle.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// The live CephCluster's listed nodes (None: none, or not countable).
    pub clusters: BTreeMap<String, Option<Nodes>>,
    /// The live CephBlockPools: namespace → name → (copies needed, failure domain).
    pub pools: BTreeMap<String, BTreeMap<String, (u64, String)>>,
}

/// Nodes of a live CephCluster, when brick can count them.
pub fn live_nodes(obj: &Json) -> Option<Nodes> {
    let spec = &obj["spec"];
    if spec.pointer("/external/enable").and_then(Json::as_bool) == Some(true)
        || spec.pointer("/storage/useAllNodes").and_then(Json::as_bool) == Some(true)
    {
        return None;
    }
    let mut nodes = BTreeMap::new();
    for node in spec.pointer("/storage/nodes").and_then(Json::as_array)? {
        let devs = node["devices"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["name"].as_str().map(str::to_string))
            .collect();
        nodes.insert(node["name"].as_str()?.to_string(), devs);
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or("");
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Json::as_str)
        .unwrap_or("");
    Some(Nodes {
        nodes,
        source: format!("the live CephCluster {ns}/{name}'s nodes"),
    })
}

/// Copies a live CephBlockPool needs and its failure domain.
pub fn live_pool(obj: &Json) -> Option<(String, u64, String)> {
    let spec = &obj["spec"];
    let name = obj.pointer("/metadata/name")?.as_str()?.to_string();
    let domain = spec["failureDomain"].as_str().unwrap_or("host").to_string();
    let k = spec
        .pointer("/erasureCoded/dataChunks")
        .and_then(Json::as_u64)
        .unwrap_or(0);
    let copies = if k > 0 {
        k + spec
            .pointer("/erasureCoded/codingChunks")
            .and_then(Json::as_u64)
            .unwrap_or(0)
    } else {
        spec.pointer("/replicated/size")
            .and_then(Json::as_u64)
            .unwrap_or(3)
    };
    Some((name, copies, domain))
}

/// The failure domains of `kind` the nodes give: hosts with devices, or the devices (OSDs)
/// themselves. `None` for kinds brick cannot count from a node list (rack, zone…).
pub fn domains(kind: &str, nodes: &BTreeMap<String, Vec<String>>) -> Option<FailureDomains> {
    match kind {
        "host" => Some(FailureDomains::from_members(
            "host",
            nodes.iter().map(|(n, d)| (n.clone(), d.clone())),
        )),
        "osd" => Some(FailureDomains::from_members(
            "osd",
            nodes.iter().flat_map(|(n, devs)| {
                devs.iter()
                    .map(move |d| (format!("{n}:{d}"), vec![d.clone()]))
            }),
        )),
        _ => None,
    }
}

/// Namespaces whose live cluster the check needs (pools whose namespace has no rook_cluster in
/// the plan, and clusters whose nodes shrink).
pub fn namespaces_to_read(changes: &[PlannedChange<'_>]) -> BTreeSet<String> {
    let planned_clusters: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c.type_name == cluster::TYPE && !c.planned.is_null())
        .filter_map(|c| str_attr(c.planned, "namespace"))
        .collect();
    let mut out = BTreeSet::new();
    for c in changes {
        if c.type_name == pool::TYPE
            && relevant_pool(c)
            && let Some(ns) = str_attr(c.planned, "namespace")
            && !planned_clusters.contains(ns)
        {
            out.insert(ns.to_string());
        }
        if c.type_name == cluster::TYPE
            && c.action == ChangeAction::Update
            && let Some(ns) = str_attr(c.planned, "namespace")
        {
            out.insert(ns.to_string());
        }
    }
    out
}

/// A pool change the size check judges: a creation, a replacement, or an update of what
/// placement depends on.
fn relevant_pool(c: &PlannedChange<'_>) -> bool {
    if c.planned.is_null() {
        return false;
    }
    match c.action {
        ChangeAction::Create | ChangeAction::Replace => true,
        ChangeAction::Update => ["size", "failure_domain", "erasure_coded", "device_class"]
            .iter()
            .any(|a| c.prior.get(a) != c.planned.get(a)),
        _ => false,
    }
}

/// Copies a planned pool needs: size, or data + coding chunks. None when unknown.
fn copies(v: &Value) -> Option<u64> {
    if pool::is_erasure(v) {
        pool::erasure(v).map(|(k, m)| (k + m) as u64)
    } else {
        pool::effective_size(v).map(|s| s as u64)
    }
}

fn what(v: &Value, n: u64) -> String {
    if pool::is_erasure(v) {
        format!("{n} chunks (data and coding)")
    } else {
        format!("{n} copies")
    }
}

/// placement.rs's help in Rook's words: a pool chooses a failure_domain, not a CRUSH rule.
fn rook_help(help: &str) -> String {
    match help.split_once("; or use a CRUSH rule") {
        Some((first, _)) => format!(
            "{first}; or choose a failure_domain with enough members (\"osd\" spreads copies over OSDs)."
        ),
        None => help.to_string(),
    }
}

/// The whole check, pure: `live` holds what was read for [`namespaces_to_read`].
pub fn check(changes: &[PlannedChange<'_>], live: &Live) -> Vec<(usize, Diagnostic)> {
    let mut out = Vec::new();
    // The nodes each namespace will have: a planned rook_cluster's, else the live one's.
    let mut planned_nodes: BTreeMap<String, Option<Nodes>> = BTreeMap::new();
    for c in changes
        .iter()
        .filter(|c| c.type_name == cluster::TYPE && !c.planned.is_null())
    {
        let Some(ns) = str_attr(c.planned, "namespace") else {
            continue;
        };
        let nodes = if bool_attr(c.planned, "external") == Some(true) {
            None
        } else {
            cluster::nodes(c.planned).map(|nodes| Nodes {
                nodes,
                source: format!("{}'s nodes in this plan", c.address),
            })
        };
        planned_nodes.insert(ns.to_string(), nodes);
    }
    let nodes_of = |ns: &str| -> Option<Nodes> {
        match planned_nodes.get(ns) {
            Some(n) => n.clone(),
            None => live.clusters.get(ns).cloned().flatten(),
        }
    };

    for (i, c) in changes.iter().enumerate() {
        if c.type_name != pool::TYPE || !relevant_pool(c) {
            continue;
        }
        let v = c.planned;
        let (Some(ns), Some(kind), Some(need)) = (
            str_attr(v, "namespace"),
            str_attr(v, "failure_domain"),
            copies(v),
        ) else {
            continue;
        };
        if v.get("device_class").is_some_and(|d| !d.is_null()) {
            continue;
        }
        let Some(nodes) = nodes_of(ns) else { continue };
        let Some(domains) = domains(kind, &nodes.nodes) else {
            continue;
        };
        if let Err(problem) = check_size(need, &domains) {
            let name = str_attr(v, "name").unwrap_or("?");
            let attr = if pool::is_erasure(v) {
                "erasure_coded"
            } else {
                "size"
            };
            out.push((
                i,
                Diagnostic::error(
                    "brick::ceph::pool_size_exceeds_failure_domains",
                    "Pool size exceeds the failure domains",
                    format!(
                        "Pool \"{name}\" asks for {}, each on a different {kind} (failure_domain = \"{kind}\"), but {} (counted from {}). Rook and Ceph would accept the pool, but its placement groups would stay undersized and writes to it would hang.",
                        what(v, need),
                        domains.describe(),
                        nodes.source
                    ),
                )
                .at([attr])
                .with_help(rook_help(&problem.help())),
            ));
        }
    }

    // Nodes leaving a cluster: the pools that stay must still find their copies' domains.
    for (i, c) in changes.iter().enumerate() {
        if c.type_name != cluster::TYPE || c.action != ChangeAction::Update {
            continue;
        }
        let (Some(before), Some(after), Some(ns)) = (
            cluster::nodes(c.prior),
            cluster::nodes(c.planned),
            str_attr(c.planned, "namespace"),
        ) else {
            continue;
        };
        let removed: Vec<(String, Vec<String>)> = before
            .iter()
            .filter_map(|(node, devs)| {
                let kept = after.get(node).cloned().unwrap_or_default();
                let gone: Vec<String> =
                    devs.iter().filter(|d| !kept.contains(d)).cloned().collect();
                (!gone.is_empty()).then(|| (node.clone(), gone))
            })
            .collect();
        if removed.is_empty() {
            continue;
        }
        // Pools that stay as they are: unchanged in this plan, or live and not in the plan.
        let mut pools: BTreeMap<String, (u64, String)> = BTreeMap::new();
        let mut in_plan = BTreeSet::new();
        for p in changes.iter().filter(|p| p.type_name == pool::TYPE) {
            let v = if p.planned.is_null() {
                p.prior
            } else {
                p.planned
            };
            if str_attr(v, "namespace") != Some(ns) {
                continue;
            }
            let Some(name) = str_attr(v, "name") else {
                continue;
            };
            in_plan.insert(name.to_string());
            if p.action == ChangeAction::NoOp
                && v.get("device_class").is_none_or(Value::is_null)
                && let (Some(n), Some(kind)) = (copies(v), str_attr(v, "failure_domain"))
            {
                pools.insert(name.to_string(), (n, kind.to_string()));
            }
        }
        for (name, p) in live.pools.get(ns).into_iter().flatten() {
            if !in_plan.contains(name) {
                pools.insert(name.clone(), p.clone());
            }
        }
        for (name, (need, kind)) in &pools {
            let Some(left) = domains(kind, &after) else {
                continue;
            };
            if check_size(*need, &left).is_ok() {
                continue;
            }
            let gone: Vec<String> = removed
                .iter()
                .map(|(node, devs)| format!("{node} ({})", devs.join(", ")))
                .collect();
            out.push((
                i,
                Diagnostic::error(
                    "brick::rook::node_holds_needed_copies",
                    "Removing a node the pools still need",
                    format!(
                        "Removing the OSDs of {} leaves {}, but pool \"{name}\" keeps {need} copies, each on a different {kind}: the copies on the removed OSDs are ones the pool still needs, and nowhere else could hold them.",
                        gone.join(", "),
                        left.describe()
                    ),
                )
                .at(["nodes"])
                .with_help(format!(
                    "Lower pool \"{name}\"'s size to {} first (its own apply), or add another node before removing this one.",
                    left.count()
                )),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::{n, s};
    use brick_provider_api::Type;

    fn cluster_value(nodes: &[(&str, &[&str])]) -> Value {
        let nodes: BTreeMap<String, Value> = nodes
            .iter()
            .map(|(n, d)| {
                (
                    n.to_string(),
                    Value::list(Type::String, d.iter().map(|x| s(*x)).collect()),
                )
            })
            .collect();
        Value::object_from([
            ("namespace", s("rook-ceph")),
            ("external", Value::bool(false)),
            ("nodes", Value::map(Type::list(Type::String), nodes)),
        ])
    }

    fn pool_value(size: i64, domain: &str) -> Value {
        Value::object_from([
            ("name", s("replicapool")),
            ("namespace", s("rook-ceph")),
            ("failure_domain", s(domain)),
            ("size", n(size)),
            ("erasure_coded", Value::null_dynamic()),
            ("device_class", Value::null(Type::String)),
        ])
    }

    fn change<'a>(
        address: &'a str,
        ty: &'a str,
        action: ChangeAction,
        prior: &'a Value,
        planned: &'a Value,
    ) -> PlannedChange<'a> {
        PlannedChange {
            address,
            type_name: ty,
            action,
            prior,
            planned,
        }
    }

    #[test]
    fn a_pool_larger_than_the_planned_hosts_is_refused_with_the_hosts_named() {
        let null = Value::null_dynamic();
        let c = cluster_value(&[
            ("kvm4", &["/dev/vgroot/ceph"]),
            ("kvm5", &["/dev/vgroot/ceph"]),
        ]);
        let p = pool_value(3, "host");
        let changes = [
            change(
                "rook_block_pool.replicapool",
                pool::TYPE,
                ChangeAction::Create,
                &null,
                &p,
            ),
            change(
                "rook_cluster.ceph",
                cluster::TYPE,
                ChangeAction::Create,
                &null,
                &c,
            ),
        ];
        let d = check(&changes, &Live::default());
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].0, 0);
        let text = &d[0].1.detail;
        assert!(
            text.contains("asks for 3 copies, each on a different host"),
            "{text}"
        );
        assert!(
            text.contains("2 hosts carry OSDs: kvm4 (/dev/vgroot/ceph), kvm5 (/dev/vgroot/ceph)"),
            "{text}"
        );
        assert!(
            text.contains("rook_cluster.ceph's nodes in this plan"),
            "{text}"
        );
        assert_eq!(d[0].1.attribute, ["size"]);
        // Size 2 fits; an OSD failure domain counts devices.
        let p2 = pool_value(2, "host");
        let changes = [
            change(
                "rook_block_pool.p",
                pool::TYPE,
                ChangeAction::Create,
                &null,
                &p2,
            ),
            changes[1],
        ];
        assert!(check(&changes, &Live::default()).is_empty());
    }

    #[test]
    fn the_live_cluster_counts_when_the_plan_has_none_and_external_clusters_are_not_judged() {
        let null = Value::null_dynamic();
        let p = pool_value(2, "host");
        let changes = [change(
            "rook_block_pool.p",
            pool::TYPE,
            ChangeAction::Create,
            &null,
            &p,
        )];
        assert_eq!(
            namespaces_to_read(&changes).into_iter().collect::<Vec<_>>(),
            ["rook-ceph"]
        );
        let one = live_nodes(
            &serde_json::json!({"metadata": {"name": "c", "namespace": "rook-ceph"}, "spec": {"storage": {"nodes": [{"name": "a", "devices": [{"name": "sdb"}]}]}}}),
        );
        let live = Live {
            clusters: [("rook-ceph".to_string(), one)].into(),
            ..Default::default()
        };
        let d = check(&changes, &live);
        assert!(
            d[0].1
                .detail
                .contains("the live CephCluster rook-ceph/c's nodes"),
            "{:?}",
            d
        );
        let ext = live_nodes(&serde_json::json!({"spec": {"external": {"enable": true}}}));
        assert!(ext.is_none());
        let live = Live {
            clusters: [("rook-ceph".to_string(), ext)].into(),
            ..Default::default()
        };
        assert!(check(&changes, &live).is_empty());
    }

    #[test]
    fn removing_a_node_whose_osds_hold_needed_copies_is_refused_at_nodes() {
        let before = cluster_value(&[
            ("kvm4", &["/dev/vgroot/ceph"]),
            ("kvm5", &["/dev/vgroot/ceph"]),
        ]);
        let after = cluster_value(&[("kvm4", &["/dev/vgroot/ceph"])]);
        let p = pool_value(2, "host");
        let changes = [
            change(
                "rook_block_pool.replicapool",
                pool::TYPE,
                ChangeAction::NoOp,
                &p,
                &p,
            ),
            change(
                "rook_cluster.ceph",
                cluster::TYPE,
                ChangeAction::Update,
                &before,
                &after,
            ),
        ];
        let d = check(&changes, &Live::default());
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].0, 1);
        assert_eq!(d[0].1.code, "brick::rook::node_holds_needed_copies");
        assert!(
            d[0].1.detail.contains("kvm5 (/dev/vgroot/ceph)"),
            "{}",
            d[0].1.detail
        );
        // A live pool outside the plan counts too; a pool of size 1 does not need kvm5.
        let live = Live {
            pools: [(
                "rook-ceph".to_string(),
                [("other".to_string(), (1, "host".to_string()))].into(),
            )]
            .into(),
            ..Default::default()
        };
        let changes = [changes[1]];
        assert!(check(&changes, &live).is_empty());
    }

    #[test]
    fn a_live_pool_outside_the_plan_that_needs_the_removed_node_refuses_the_removal() {
        let before = cluster_value(&[
            ("kvm4", &["/dev/vgroot/ceph"]),
            ("kvm5", &["/dev/vgroot/ceph"]),
        ]);
        let after = cluster_value(&[("kvm4", &["/dev/vgroot/ceph"])]);
        let changes = [change(
            "rook_cluster.ceph",
            cluster::TYPE,
            ChangeAction::Update,
            &before,
            &after,
        )];
        // The removal makes the check read the live cluster's namespace.
        assert_eq!(
            namespaces_to_read(&changes).into_iter().collect::<Vec<_>>(),
            ["rook-ceph"]
        );
        let pool = live_pool(&serde_json::json!({
            "metadata": {"name": "replicapool", "namespace": "rook-ceph"},
            "spec": {"failureDomain": "host", "replicated": {"size": 2}}
        }))
        .unwrap();
        assert_eq!(pool, ("replicapool".to_string(), 2, "host".to_string()));
        let live = Live {
            pools: [("rook-ceph".to_string(), [(pool.0, (pool.1, pool.2))].into())].into(),
            ..Default::default()
        };
        let d = check(&changes, &live);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].0, 0);
        let diag = &d[0].1;
        assert_eq!(diag.code, "brick::rook::node_holds_needed_copies");
        assert_eq!(diag.attribute, ["nodes"]);
        assert!(
            diag.detail
                .contains("Removing the OSDs of kvm5 (/dev/vgroot/ceph)")
                && diag.detail.contains("pool \"replicapool\" keeps 2 copies")
                && diag.detail.contains("1 host carries OSDs: kvm4"),
            "{}",
            diag.detail
        );
        assert!(
            diag.help
                .as_deref()
                .is_some_and(|h| h.contains("Lower pool \"replicapool\"'s size to 1")),
            "{diag:?}"
        );
        // When the plan itself lowers that pool to size 1, the plan's entry wins over the live
        // one and the removal is not refused for it.
        let p1 = Value::object_from([
            ("name", s("replicapool")),
            ("namespace", s("rook-ceph")),
            ("failure_domain", s("host")),
            ("size", n(1)),
            ("erasure_coded", Value::null_dynamic()),
            ("device_class", Value::null(Type::String)),
        ]);
        let p2 = pool_value(2, "host");
        let with_pool = [
            changes[0],
            change(
                "rook_block_pool.replicapool",
                pool::TYPE,
                ChangeAction::Update,
                &p2,
                &p1,
            ),
        ];
        assert!(
            check(&with_pool, &live)
                .iter()
                .all(|(_, d)| d.code != "brick::rook::node_holds_needed_copies"),
            "{:?}",
            check(&with_pool, &live)
        );
    }

    #[test]
    fn an_erasure_coded_pool_needs_data_plus_coding_domains() {
        let null = Value::null_dynamic();
        let c = cluster_value(&[("a", &["sdb"]), ("b", &["sdb"])]);
        let mut m = pool_value(1, "host").as_mapping().cloned().unwrap();
        m.insert("size".into(), Value::null(Type::Number));
        m.insert(
            "erasure_coded".into(),
            Value::object_from([("data_chunks", n(2)), ("coding_chunks", n(1))]),
        );
        let p = Value::object(m);
        let changes = [
            change(
                "rook_block_pool.ec",
                pool::TYPE,
                ChangeAction::Create,
                &null,
                &p,
            ),
            change(
                "rook_cluster.ceph",
                cluster::TYPE,
                ChangeAction::Create,
                &null,
                &c,
            ),
        ];
        let d = check(&changes, &Live::default());
        assert!(d[0].1.detail.contains("3 chunks"), "{d:?}");
        assert_eq!(d[0].1.attribute, ["erasure_coded"]);
    }
}
