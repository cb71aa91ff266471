//! `microk8s_cluster`: a MicroK8s cluster as data brick generates, touching no network. Create
//! makes the join token, the CA and the admin certificate once and keeps them in state; every
//! rendered document (cloud-init per node, kubeconfig) follows from them and the settings.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use brick_provider_api::diag::{Diagnostic, Diagnostics};
use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Type, Value};

use crate::pki::{self, ClusterPki};
use crate::render::{self, ClusterSpec, Secrets};

pub const TYPE: &str = "microk8s_cluster";

fn node_type() -> Type {
    Type::object([("control_plane", Type::Bool)])
}

pub fn schema() -> ResourceSchema {
    let strings = || Type::list(Type::String);
    let block = Block {
        description: "A MicroK8s cluster formed by its machines' cloud-init.".into(),
        ..Block::default()
    }
    .attr(
        "channel",
        Attribute::required(Type::String)
            .describe("Snap channel MicroK8s is installed from, e.g. `1.32/stable` (1.27 or later)."),
    )
    .attr(
        "api_address",
        Attribute::required(Type::String)
            .forces_replacement()
            .describe("IPv4 address of the bootstrap node: the join URL and the API endpoint use it."),
    )
    .attr(
        "bootstrap_node",
        Attribute::optional_computed(Type::String)
            .forces_replacement()
            .describe("The node that forms the cluster (its address is api_address). Default: the only control-plane node."),
    )
    .attr(
        "nodes",
        Attribute::required(Type::map(node_type()))
            .describe("Node name → `{ control_plane = bool }`."),
    )
    .attr(
        "addons",
        Attribute::optional(strings())
            .default(Value::list(Type::String, vec![Value::string("dns")]))
            .describe("Addons enabled on the bootstrap node once the cluster is formed: `name` or `name arg…`."),
    )
    .attr(
        "extra_sans",
        Attribute::optional(strings())
            .default(Value::list(Type::String, vec![]))
            .describe("Extra subject alternative names of the API server certificate."),
    )
    .attr(
        "token",
        Attribute::optional_computed(Type::String)
            .sensitive()
            .forces_replacement()
            .describe("The join token (MicroK8s' persistentClusterToken), 32+ letters and digits. Generated when unset."),
    )
    .attr("id", Attribute::computed(Type::String))
    .attr(
        "api_endpoint",
        Attribute::computed(Type::String).describe("`https://<api_address>:16443`."),
    )
    .attr(
        "ca_certificate",
        Attribute::computed(Type::String).describe("The cluster CA certificate (PEM, RSA)."),
    )
    .attr(
        "ca_private_key",
        Attribute::computed(Type::String).sensitive().describe("The cluster CA's key (PEM)."),
    )
    .attr(
        "admin_certificate",
        Attribute::computed(Type::String)
            .describe("Admin client certificate (PEM), CN=admin, O=system:masters."),
    )
    .attr(
        "admin_private_key",
        Attribute::computed(Type::String).sensitive().describe("The admin certificate's key (PEM)."),
    )
    .attr(
        "kubeconfig",
        Attribute::computed(Type::String)
            .sensitive()
            .describe("Admin kubeconfig for the cluster."),
    )
    .attr(
        "cloud_init",
        Attribute::computed(Type::map(Type::String))
            .sensitive()
            .describe("Node name → cloud-init document, for maas_machine.user_data."),
    );
    ResourceSchema { version: 0, block }
}

fn known_str<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

fn is_unknown(v: &Value, name: &str) -> bool {
    v.get(name).is_some_and(|x| !x.is_known())
}

fn strings(v: &Value, name: &str) -> Option<Vec<String>> {
    let x = v.get(name)?;
    if x.is_null() {
        return Some(Vec::new());
    }
    x.as_sequence()?
        .iter()
        .map(|e| e.as_str().map(str::to_string))
        .collect()
}

/// Node name → control plane, when wholly known.
fn nodes(v: &Value) -> Option<BTreeMap<String, bool>> {
    let m = v.get("nodes")?.as_mapping()?;
    m.iter()
        .map(|(k, n)| Some((k.clone(), n.get("control_plane")?.as_bool()?)))
        .collect()
}

fn err(code: &str, summary: &str, detail: String, attr: &str) -> Diagnostic {
    Diagnostic::error(format!("brick::microk8s::{code}"), summary, detail).at([attr])
}

/// Checks a channel: `<track>[/<risk>[/<branch>]]`, the track `latest` or `1.<minor>` with minor
/// ≥ 27 (launch configurations exist from 1.27), the risk one of stable, candidate, beta, edge.
pub fn check_channel(channel: &str) -> Result<(), String> {
    let parts: Vec<&str> = channel.split('/').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "{channel:?} is not a snap channel (<track>/<risk>)"
        ));
    }
    let track = parts[0];
    if track != "latest" {
        let minor = track
            .strip_prefix("1.")
            .and_then(|m| m.split('-').next())
            .and_then(|m| m.parse::<u32>().ok());
        match minor {
            None => {
                return Err(format!(
                    "{channel:?}: the track {track:?} is not `latest` or a Kubernetes version such as 1.32"
                ));
            }
            Some(m) if m < 27 => {
                return Err(format!(
                    "{channel:?}: MicroK8s reads launch configurations from 1.27 on; 1.{m} cannot form the cluster from cloud-init"
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(risk) = parts.get(1)
        && !["stable", "candidate", "beta", "edge"].contains(risk)
    {
        return Err(format!(
            "{channel:?}: the risk {risk:?} is not one of stable, candidate, beta, edge"
        ));
    }
    Ok(())
}

/// The node that forms the cluster: `bootstrap_node` when set, else the only control-plane
/// node. `Err` says why none can be chosen.
fn choose_bootstrap(
    nodes: &BTreeMap<String, bool>,
    configured: Option<&str>,
) -> Result<String, Box<Diagnostic>> {
    let cps: Vec<&String> = nodes
        .iter()
        .filter(|(_, cp)| **cp)
        .map(|(n, _)| n)
        .collect();
    if cps.is_empty() {
        return Err(Box::new(err(
            "no_control_plane",
            "No control-plane node",
            "No node of the cluster has control_plane = true: nothing would run Kubernetes' control plane.".into(),
            "nodes",
        )
        .with_help("Set control_plane = true on the node whose address is api_address.")));
    }
    match configured {
        Some(b) => match nodes.get(b) {
            None => Err(Box::new(err(
                "unknown_bootstrap_node",
                "Unknown bootstrap node",
                format!("bootstrap_node is {b:?}, which is not one of the cluster's nodes."),
                "bootstrap_node",
            )
            .with_help(format!("Name one of: {}.", join_names(nodes.keys()))))),
            Some(false) => Err(Box::new(err(
                "bootstrap_node_is_worker",
                "Bootstrap node is a worker",
                format!("bootstrap_node {b:?} has control_plane = false: the node that forms the cluster must be a control-plane node."),
                "bootstrap_node",
            ))),
            Some(true) => Ok(b.to_string()),
        },
        None if cps.len() == 1 => Ok(cps[0].clone()),
        None => Err(Box::new(err(
            "ambiguous_bootstrap_node",
            "Several nodes could form the cluster",
            format!(
                "The control-plane nodes {} could each be the first node that forms the cluster; exactly one must.",
                join_names(cps.iter().copied())
            ),
            "nodes",
        )
        .with_help("Set bootstrap_node to the node whose address is api_address."))),
    }
}

fn join_names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Static checks of whatever is known (`validate_resource` and `plan_resource` both run them).
pub fn check(config: &Value) -> Diagnostics {
    let mut out = Vec::new();
    if let Some(c) = known_str(config, "channel")
        && let Err(e) = check_channel(c)
    {
        out.push(
            err("bad_channel", "Malformed channel", e, "channel")
                .with_help("Write a snap channel such as \"1.32/stable\"."),
        );
    }
    if let Some(a) = known_str(config, "api_address") {
        match a.parse::<Ipv4Addr>() {
            Err(_) => out.push(
                err(
                    "api_address_not_ip",
                    "api_address is not an IPv4 address",
                    format!("api_address is {a:?}; MicroK8s' join URL (<address>:25000/<token>) accepts only an IPv4 literal, not a host name."),
                    "api_address",
                )
                .with_help("Give the bootstrap node a static address (MAAS: a STATIC link on its boot interface) and write it here."),
            ),
            // 127.0.0.1 is every machine's own address (and MicroK8s refuses it in its CA);
            // other loopback addresses are what the lab gives its machines, one each.
            Ok(ip) if ip == Ipv4Addr::LOCALHOST || ip.is_unspecified() => out.push(err(
                "api_address_not_routable",
                "api_address is not reachable by other nodes",
                format!("api_address is {a}; the other nodes join through it, and MicroK8s refuses 127.0.0.1 in its CA."),
                "api_address",
            )),
            Ok(_) => {}
        }
    }
    if let Some(t) = known_str(config, "token")
        && (t.len() < pki::TOKEN_LEN || !t.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        out.push(
            err(
                "bad_token",
                "Malformed token",
                format!("The token has {} characters; MicroK8s needs at least 32, and brick accepts only letters and digits (it is part of the join URL).", t.len()),
                "token",
            )
            .with_help("Leave token unset and brick generates one."),
        );
    }
    if let Some(ns) = nodes(config) {
        if ns.is_empty() {
            out.push(err(
                "no_nodes",
                "No nodes",
                "The cluster has no nodes.".into(),
                "nodes",
            ));
        } else if !is_unknown(config, "bootstrap_node")
            && let Err(d) = choose_bootstrap(&ns, known_str(config, "bootstrap_node"))
        {
            out.push(*d);
        }
    }
    for sans in strings(config, "extra_sans").into_iter().flatten() {
        if sans.trim().is_empty() || sans.contains(char::is_whitespace) {
            out.push(err(
                "bad_san",
                "Malformed subject alternative name",
                format!("{sans:?} is not a host name or an IP address."),
                "extra_sans",
            ));
        }
    }
    for a in strings(config, "addons").into_iter().flatten() {
        if a.split_whitespace().next().is_none() {
            out.push(err(
                "bad_addon",
                "Empty addon",
                "An addon is empty; write its name, then any arguments.".into(),
                "addons",
            ));
        }
    }
    out
}

/// The settings, when everything they need is known.
fn spec(v: &Value) -> Option<ClusterSpec> {
    let nodes = nodes(v)?;
    let bootstrap_node = choose_bootstrap(&nodes, known_str(v, "bootstrap_node")).ok()?;
    Some(ClusterSpec {
        channel: known_str(v, "channel")?.to_string(),
        api_address: known_str(v, "api_address")?.to_string(),
        bootstrap_node,
        nodes,
        addons: strings(v, "addons")?,
        extra_sans: strings(v, "extra_sans")?,
    })
}

fn stored_pki(v: &Value) -> Option<ClusterPki> {
    Some(ClusterPki {
        ca_certificate: known_str(v, "ca_certificate")?.to_string(),
        ca_private_key: known_str(v, "ca_private_key")?.to_string(),
        admin_certificate: known_str(v, "admin_certificate")?.to_string(),
        admin_private_key: known_str(v, "admin_private_key")?.to_string(),
    })
}

/// Sets every rendered attribute of `out` from the settings and secrets.
fn render_into(
    out: &mut BTreeMap<String, Value>,
    spec: &ClusterSpec,
    token: &str,
    pki: &ClusterPki,
) {
    let secrets = Secrets { token, pki };
    let docs = spec
        .nodes
        .keys()
        .filter_map(|n| {
            Some((
                n.clone(),
                Value::string(render::cloud_init(spec, n, &secrets)?),
            ))
        })
        .collect();
    out.insert("cloud_init".into(), Value::map(Type::String, docs));
    out.insert(
        "kubeconfig".into(),
        Value::string(render::kubeconfig(spec, pki)),
    );
    out.insert("token".into(), Value::string(token));
    out.insert("ca_certificate".into(), Value::string(&pki.ca_certificate));
    out.insert("ca_private_key".into(), Value::string(&pki.ca_private_key));
    out.insert(
        "admin_certificate".into(),
        Value::string(&pki.admin_certificate),
    );
    out.insert(
        "admin_private_key".into(),
        Value::string(&pki.admin_private_key),
    );
}

const GENERATED: [&str; 7] = [
    "token",
    "ca_certificate",
    "ca_private_key",
    "admin_certificate",
    "admin_private_key",
    "kubeconfig",
    "cloud_init",
];

/// Plans a create or an update. Pure: generated values are unknown until apply makes them
/// (create), or come from the prior state (update).
pub fn plan(prior: &Value, proposed: &Value) -> (Value, Diagnostics) {
    let diags = check(proposed);
    let Some(m) = proposed.as_mapping() else {
        return (proposed.clone(), diags);
    };
    let ty = |n: &str| schema().block.attributes[n].ty.clone();
    let mut out = m.clone();
    let api = known_str(proposed, "api_address");
    let endpoint = api.map(render::api_endpoint);
    out.insert(
        "api_endpoint".into(),
        endpoint
            .clone()
            .map(Value::string)
            .unwrap_or(Value::unknown(Type::String)),
    );
    out.insert(
        "id".into(),
        api.map(Value::string)
            .unwrap_or(Value::unknown(Type::String)),
    );
    let spec = spec(proposed);
    if proposed.get("bootstrap_node").is_none_or(Value::is_null) {
        out.insert(
            "bootstrap_node".into(),
            match &spec {
                Some(s) => Value::string(&s.bootstrap_node),
                None => Value::unknown(Type::String),
            },
        );
    }
    // The secrets of the prior state, when this is an update (not a create, and not a
    // replacement: the engine plans a replacement again from a null prior).
    let kept = (!prior.is_null())
        .then(|| Some((known_str(prior, "token")?, stored_pki(prior)?)))
        .flatten();
    let token_cfg = proposed.get("token").filter(|t| !t.is_null());
    for name in GENERATED {
        out.insert(name.into(), Value::unknown(ty(name)));
    }
    match (kept, &spec) {
        (Some((token, pki)), Some(spec)) => render_into(&mut out, spec, token, &pki),
        (Some((token, pki)), None) => {
            out.insert("token".into(), Value::string(token));
            out.insert("ca_certificate".into(), Value::string(pki.ca_certificate));
            out.insert("ca_private_key".into(), Value::string(pki.ca_private_key));
            out.insert(
                "admin_certificate".into(),
                Value::string(pki.admin_certificate),
            );
            out.insert(
                "admin_private_key".into(),
                Value::string(pki.admin_private_key),
            );
        }
        _ => {}
    }
    if let Some(t) = token_cfg {
        // As configured (a change forces replacement: the engine compares it with the prior).
        out.insert("token".into(), t.clone());
    }
    (Value::object(out), diags)
}

/// Applies a create or an update: makes the secrets when there are none yet, then renders.
pub fn apply(prior: &Value, planned: &Value) -> Result<Value, Diagnostics> {
    let Some(spec) = spec(planned) else {
        let mut d = check(planned);
        if d.is_empty() {
            d.push(Diagnostic::error(
                "brick::microk8s::incomplete",
                "Incomplete cluster settings",
                "The cluster's settings are not wholly known at apply.",
            ));
        }
        return Err(d);
    };
    let token = known_str(planned, "token")
        .map(str::to_string)
        .or_else(|| {
            (!prior.is_null())
                .then(|| known_str(prior, "token").map(str::to_string))
                .flatten()
        })
        .unwrap_or_else(pki::new_token);
    let kept = (!prior.is_null()).then(|| stored_pki(prior)).flatten();
    let pki = match kept.or_else(|| stored_pki(planned)) {
        Some(p) => p,
        None => pki::new_cluster_pki(&spec.bootstrap_node).map_err(|e| {
            vec![Diagnostic::error(
                "brick::microk8s::pki",
                "Could not make the cluster's certificates",
                e,
            )]
        })?,
    };
    let mut out = planned.as_mapping().cloned().unwrap_or_default();
    render_into(&mut out, &spec, &token, &pki);
    Ok(Value::object(out))
}
