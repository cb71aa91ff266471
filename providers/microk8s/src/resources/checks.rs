//! The microk8s provider's checks over a whole plan (`Provider::check_plan`): what one
//! instance cannot see — a cluster document no machine uses, a node removal that leaves no
//! control plane or takes the bootstrap node away, a node that is not one of its cluster's, a
//! token changed on a live cluster, an api_address that is not the bootstrap machine's static
//! address.

use std::collections::{BTreeMap, BTreeSet};

use brick_provider_api::Value;
use brick_provider_api::diag::Diagnostic;
use brick_provider_api::provider::{ChangeAction, ChangeDiagnostic, PlannedChange};

use super::{cluster, node};

/// The machines' type whose `user_data` carries the clusters' documents.
const MACHINE_TYPE: &str = "maas_machine";

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn known_map(v: &Value, k: &str) -> Option<BTreeMap<String, String>> {
    v.get(k)?
        .as_mapping()?
        .iter()
        .map(|(n, d)| Some((n.clone(), d.as_str()?.to_string())))
        .collect()
}

fn cluster_nodes(v: &Value) -> Option<BTreeMap<String, bool>> {
    v.get("nodes")?
        .as_mapping()?
        .iter()
        .map(|(k, n)| Some((k.clone(), n.get("control_plane")?.as_bool()?)))
        .collect()
}

fn diag(change: usize, d: Diagnostic) -> ChangeDiagnostic {
    ChangeDiagnostic {
        change,
        diagnostic: d,
    }
}

fn live(c: &PlannedChange<'_>) -> bool {
    !c.prior.is_null()
}

pub fn check_plan(changes: &[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> {
    let mut out = Vec::new();
    let clusters: Vec<(usize, &PlannedChange<'_>)> = changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.type_name == cluster::TYPE)
        .collect();
    let nodes: Vec<(usize, &PlannedChange<'_>)> = changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.type_name == node::TYPE)
        .collect();
    let machines: Vec<&PlannedChange<'_>> = changes
        .iter()
        .filter(|c| c.type_name == MACHINE_TYPE && c.action != ChangeAction::Delete)
        .collect();

    for &(i, c) in &clusters {
        replaced_cluster(i, c, changes, &mut out);
        unused_documents(i, c, &machines, &mut out);
        bootstrap_address(i, c, &machines, &mut out);
        known_address(i, c, &mut out);
    }
    node_membership(&clusters, &nodes, &mut out);
    last_control_plane(&clusters, &nodes, &mut out);
    bootstrap_node_kept(&clusters, &nodes, &mut out);
    out
}

/// The cluster's address is known at plan: every join document and the kubeconfig hold it,
/// and they are needed before the first machine is deployed. (A plan check rather than part of
/// `plan_resource`: its findings are shown at the argument's file and line.)
fn known_address(i: usize, c: &PlannedChange<'_>, out: &mut Vec<ChangeDiagnostic>) {
    if c.action == ChangeAction::Delete || c.planned.get("api_address").is_none_or(Value::is_known)
    {
        return;
    }
    out.push(diag(
        i,
        Diagnostic::error(
            "brick::microk8s::api_address_unknown",
            "api_address is not known at plan",
            format!("{}: api_address is known only after apply, but every join document and the kubeconfig need it before the first machine is deployed.", c.address),
        )
        .with_help("Give the bootstrap node's machine a static address (maas_machine.static_ip) and write that same value here, e.g. from one local or variable.")
        .at(["api_address"]),
    ));
}

/// The bootstrap node's machine (the `maas_machine` whose hostname is the node's name), when
/// it sets a static address, has `api_address`: the address every join URL and the
/// kubeconfig name.
fn bootstrap_address(
    i: usize,
    c: &PlannedChange<'_>,
    machines: &[&PlannedChange<'_>],
    out: &mut Vec<ChangeDiagnostic>,
) {
    if c.action == ChangeAction::Delete {
        return;
    }
    let (Some(api), Some(boot)) = (s(c.planned, "api_address"), s(c.planned, "bootstrap_node"))
    else {
        return;
    };
    for m in machines {
        if s(m.planned, "hostname") != Some(boot) {
            continue;
        }
        if let Some(ip) = s(m.planned, "static_ip")
            && ip != api
        {
            out.push(diag(
                i,
                Diagnostic::error(
                    "brick::microk8s::api_address_mismatch",
                    "api_address is not the bootstrap node's address",
                    format!("{} has api_address {api}, but its bootstrap node {boot:?} is {}, whose static_ip is {ip}: the other nodes would try to join an address where no cluster is.", c.address, m.address),
                )
                .with_help(format!("Write api_address = {}.static_ip (or the same value from one local).", m.address))
                .at(["api_address"]),
            ));
        }
    }
}

/// The bootstrap node stays while its cluster does: the kubeconfig's API server and every
/// join URL are its address.
fn bootstrap_node_kept(
    clusters: &[(usize, &PlannedChange<'_>)],
    nodes: &[(usize, &PlannedChange<'_>)],
    out: &mut Vec<ChangeDiagnostic>,
) {
    for &(i, n) in nodes {
        if !matches!(n.action, ChangeAction::Delete | ChangeAction::Replace) || !live(n) {
            continue;
        }
        let (Some(name), Some(kc)) = (s(n.prior, "name"), s(n.prior, "kubeconfig")) else {
            continue;
        };
        let cluster = clusters.iter().find(|(_, c)| {
            s(c.prior, "kubeconfig") == Some(kc) || s(c.planned, "kubeconfig") == Some(kc)
        });
        let Some((_, c)) = cluster else {
            continue;
        };
        if matches!(c.action, ChangeAction::Delete | ChangeAction::Replace) {
            continue; // the whole cluster goes: nothing is left to reach
        }
        let boot = s(c.planned, "bootstrap_node").or_else(|| s(c.prior, "bootstrap_node"));
        if boot != Some(name) {
            continue;
        }
        let api = s(c.planned, "api_address").or_else(|| s(c.prior, "api_address"));
        out.push(diag(
            i,
            Diagnostic::error(
                "brick::microk8s::bootstrap_node_removed",
                "Removal takes away the bootstrap node",
                format!(
                    "{} {} node {name:?}, the bootstrap node of {}: the kubeconfig's API server and every node's join URL are its address{}, so the cluster would be left unreachable.",
                    if n.action == ChangeAction::Delete { "removes" } else { "replaces" },
                    n.address,
                    c.address,
                    api.map(|a| format!(" ({a})")).unwrap_or_default(),
                ),
            )
            .with_help("Keep the bootstrap node. MicroK8s cannot move a formed cluster's API address: to run the cluster elsewhere, destroy or replace the whole cluster (its microk8s_cluster too)."),
        ));
    }
}

/// A live cluster replaced (a changed token, api_address or bootstrap_node, or -replace): the
/// plan shows the replacement; this warning says what it destroys.
fn replaced_cluster(
    i: usize,
    c: &PlannedChange<'_>,
    changes: &[PlannedChange<'_>],
    out: &mut Vec<ChangeDiagnostic>,
) {
    if c.action != ChangeAction::Replace || !live(c) {
        return;
    }
    let kubeconfig = s(c.prior, "kubeconfig");
    let mut lost: Vec<String> = changes
        .iter()
        .filter(|o| {
            (o.type_name == node::TYPE
                && kubeconfig.is_some()
                && s(o.prior, "kubeconfig") == kubeconfig)
                || (o.type_name == MACHINE_TYPE
                    && matches!(o.action, ChangeAction::Replace | ChangeAction::Update))
        })
        .map(|o| o.address.to_string())
        .collect();
    lost.sort();
    let what = format!(
        "Replacing it makes a new join token, CA and admin certificate: the running cluster's nodes keep the old ones and cannot be reached with the new kubeconfig, every node's cloud-init changes (the machines must be deployed again to form the new cluster), and everything stored in the cluster is lost.{}",
        if lost.is_empty() {
            String::new()
        } else {
            format!(" This plan also changes: {}.", lost.join(", "))
        }
    );
    let token_changed = match (s(c.prior, "token"), c.planned.get("token")) {
        (Some(before), Some(after)) => after.is_known() && after.as_str() != Some(before),
        _ => false,
    };
    // A warning, not an error: the plan shows the replacement, and this says what it costs.
    let (code, summary, detail) = if token_changed {
        (
            "brick::microk8s::token_changed",
            "Token changed on a live cluster",
            format!(
                "The join token of {} changed. MicroK8s cannot change a formed cluster's token in place, so the cluster is replaced. {what}",
                c.address
            ),
        )
    } else {
        (
            "brick::microk8s::cluster_replaced",
            "The cluster is replaced",
            format!("{} is replaced. {what}", c.address),
        )
    };
    // Shown at the resource block, not at `token`: the engine quotes the source line of the
    // attribute, which would print the token.
    let d = Diagnostic::warning(code, summary, detail).with_help(
        "If this is not meant, put the old value back (the token is in the state) before applying.",
    );
    out.push(diag(i, d));
}

/// Every node document of a cluster is some machine's `user_data`, once both are known
/// (a cluster's documents are known from its second plan on; its first plan cannot tell).
/// Checked only when the plan's machines carry this cluster's documents at all.
fn unused_documents(
    i: usize,
    c: &PlannedChange<'_>,
    machines: &[&PlannedChange<'_>],
    out: &mut Vec<ChangeDiagnostic>,
) {
    if c.action == ChangeAction::Delete {
        return;
    }
    let Some(docs) = known_map(c.planned, "cloud_init") else {
        return;
    };
    let mut used = BTreeSet::new();
    for m in machines {
        match m.planned.get("user_data") {
            Some(u) if !u.is_known() => return, // cannot tell yet
            Some(u) => {
                if let Some(text) = u.as_str() {
                    used.insert(text.to_string());
                }
            }
            None => {}
        }
    }
    if !docs.values().any(|d| used.contains(d)) {
        return; // the machines are not brick's (or not these): nothing to compare with
    }
    for (name, doc) in &docs {
        if !used.contains(doc) {
            out.push(diag(
                i,
                Diagnostic::error(
                    "brick::microk8s::unused_node_document",
                    "Node document used by no machine",
                    format!("{} has a node {name:?} whose cloud-init no machine of this plan deploys with: that node would never join.", c.address),
                )
                .with_help(format!("Give a machine user_data = {}.cloud_init[\"{name}\"], or remove {name:?} from nodes.", c.address))
                .at(["nodes"]),
            ));
        }
    }
}

/// The cluster a node belongs to: the one with the same kubeconfig, else the only one.
fn cluster_of<'a>(
    n: &PlannedChange<'_>,
    clusters: &'a [(usize, &'a PlannedChange<'a>)],
) -> Option<&'a PlannedChange<'a>> {
    let v = if n.planned.is_null() {
        n.prior
    } else {
        n.planned
    };
    if let Some(kc) = s(v, "kubeconfig") {
        let side = |c: &PlannedChange<'_>| {
            if c.planned.is_null() {
                s(c.prior, "kubeconfig") == Some(kc)
            } else {
                s(c.planned, "kubeconfig") == Some(kc)
            }
        };
        if let Some((_, c)) = clusters.iter().find(|(_, c)| side(c)) {
            return Some(c);
        }
    }
    match clusters {
        [(_, only)] => Some(only),
        _ => None,
    }
}

/// A node is one of its cluster's nodes, with the same role.
fn node_membership(
    clusters: &[(usize, &PlannedChange<'_>)],
    nodes: &[(usize, &PlannedChange<'_>)],
    out: &mut Vec<ChangeDiagnostic>,
) {
    for &(i, n) in nodes {
        if n.planned.is_null() {
            continue;
        }
        let Some(c) = cluster_of(n, clusters) else {
            continue;
        };
        let (Some(members), Some(name)) = (cluster_nodes(c.planned), s(n.planned, "name")) else {
            continue;
        };
        match members.get(name) {
            None => out.push(diag(
                i,
                Diagnostic::error(
                    "brick::microk8s::node_not_in_cluster",
                    "Node not in the cluster",
                    format!("{} is named {name:?}, which is not one of {}'s nodes: no machine gets a document to join as it.", n.address, c.address),
                )
                .with_help(format!("Add {name:?} to {}.nodes, or name one of: {}.", c.address, members.keys().cloned().collect::<Vec<_>>().join(", ")))
                .at(["name"]),
            )),
            Some(cp) => {
                if let Some(said) = n.planned.get("control_plane").and_then(Value::as_bool)
                    && said != *cp
                {
                    out.push(diag(
                        i,
                        Diagnostic::error(
                            "brick::microk8s::node_role_mismatch",
                            "Node role differs from the cluster's",
                            format!("{} has control_plane = {said}, but {} has control_plane = {cp} for {name:?}.", n.address, c.address),
                        )
                        .with_help(format!("Write control_plane = {}.nodes[\"{name}\"].control_plane.", c.address))
                        .at(["control_plane"]),
                    ));
                }
            }
        }
    }
}

/// Removing nodes must leave the cluster a control plane, unless the cluster itself goes.
fn last_control_plane(
    clusters: &[(usize, &PlannedChange<'_>)],
    nodes: &[(usize, &PlannedChange<'_>)],
    out: &mut Vec<ChangeDiagnostic>,
) {
    // Group by the cluster's kubeconfig as recorded (removals are of live nodes).
    let mut groups: BTreeMap<&str, Vec<(usize, &PlannedChange<'_>)>> = BTreeMap::new();
    for &(i, n) in nodes {
        let v = if n.prior.is_null() {
            n.planned
        } else {
            n.prior
        };
        if let Some(kc) = s(v, "kubeconfig") {
            groups.entry(kc).or_default().push((i, n));
        }
    }
    for (kc, members) in groups {
        let cluster_goes = clusters.iter().any(|(_, c)| {
            matches!(c.action, ChangeAction::Delete | ChangeAction::Replace)
                && s(c.prior, "kubeconfig") == Some(kc)
        });
        if cluster_goes {
            continue;
        }
        let cp = |v: &Value| v.get("control_plane").and_then(Value::as_bool) == Some(true);
        let removed: Vec<&(usize, &PlannedChange<'_>)> = members
            .iter()
            .filter(|(_, n)| n.action == ChangeAction::Delete && cp(n.prior))
            .collect();
        // Control-plane nodes of the cluster that no microk8s_node declares stay as they are.
        let declared: BTreeSet<&str> = members
            .iter()
            .filter_map(|(_, n)| s(n.prior, "name").or_else(|| s(n.planned, "name")))
            .collect();
        let undeclared_cp = clusters
            .iter()
            .find(|(_, c)| s(c.planned, "kubeconfig") == Some(kc))
            .and_then(|(_, c)| cluster_nodes(c.planned))
            .is_some_and(|m| {
                m.iter()
                    .any(|(n, cp)| *cp && !declared.contains(n.as_str()))
            });
        let kept = undeclared_cp
            || members
                .iter()
                .any(|(_, n)| n.action != ChangeAction::Delete && cp(n.planned));
        if removed.is_empty() || kept {
            continue;
        }
        for (i, n) in removed {
            out.push(diag(
                *i,
                Diagnostic::error(
                    "brick::microk8s::last_control_plane",
                    "Removal leaves no control plane",
                    format!("Removing {} leaves the cluster without a control-plane node: the Kubernetes API and the datastore would be gone with it.", n.address),
                )
                .with_help("Add another control-plane node first, or destroy the whole cluster (its microk8s_cluster too)."),
            ));
        }
    }
}
