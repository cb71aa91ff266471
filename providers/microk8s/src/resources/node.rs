//! `microk8s_node`: one member of a MicroK8s cluster, seen through the Kubernetes API. Create
//! waits until the machine's kubelet has registered the Node and it is Ready, then applies
//! brick's labels and taints; destroy cordons the Node, drains it through the Eviction API
//! (PodDisruptionBudgets honoured), removes a control-plane node from the dqlite datastore
//! through a surviving node's cluster agent, and deletes the Node object.
//!
//! The connection is the cluster's admin kubeconfig (an argument, usually
//! `microk8s_cluster.<name>.kubeconfig`), connected through the k8s provider's machinery
//! (`brick_provider_k8s::machinery`), so the node needs no provider block and no SSH.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brick_provider_api::diag::{Diagnostic, Diagnostics};
use brick_provider_api::provider::Progress;
use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Type, Value};
use brick_provider_k8s::client::Ctx;
use brick_provider_k8s::machinery::{self, Cluster};

use crate::render::{self, AGENT_PORT};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};

use serde_json::json;

pub const TYPE: &str = "microk8s_node";
/// Field manager of brick's server-side applies.
pub const FIELD_MANAGER: &str = machinery::MANAGER;
/// How often the API is polled while waiting.
const POLL: Duration = Duration::from_millis(1000);
const DEFAULT_READY_TIMEOUT: &str = "30m";
const DEFAULT_DRAIN_TIMEOUT: &str = "10m";
const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

fn taint_type() -> Type {
    Type::object([
        ("key", Type::String),
        ("value", Type::String),
        ("effect", Type::String),
    ])
}

pub fn schema() -> ResourceSchema {
    let block = Block {
        description: "One member of a MicroK8s cluster: waits until its Node is Ready, labels and taints it; destroying it drains the Node and removes it.".into(),
        ..Block::default()
    }
    .attr(
        "name",
        Attribute::required(Type::String)
            .forces_replacement()
            .describe("The Node's name: the machine's hostname, e.g. `maas_machine.node[\"kvm4\"].hostname`."),
    )
    .attr(
        "kubeconfig",
        Attribute::required(Type::String)
            .sensitive()
            .describe("Admin kubeconfig of the cluster: `microk8s_cluster.<name>.kubeconfig`."),
    )
    .attr(
        "control_plane",
        Attribute::optional(Type::Bool)
            .default(Value::bool(false))
            .describe("Whether the node runs the control plane (as in the cluster's `nodes`)."),
    )
    .attr(
        "labels",
        Attribute::optional(Type::map(Type::String))
            .describe("Labels brick sets on the Node (server-side apply, field manager `brick`)."),
    )
    .attr(
        "taints",
        Attribute::optional(Type::list(taint_type()))
            .describe("Taints brick keeps on the Node: `{ key, value, effect }`."),
    )
    .attr(
        "ready_timeout",
        Attribute::optional(Type::String)
            .default(Value::string(DEFAULT_READY_TIMEOUT))
            .describe("How long create waits for the Node to register and be Ready, e.g. `30m`."),
    )
    .attr(
        "drain_timeout",
        Attribute::optional(Type::String)
            .default(Value::string(DEFAULT_DRAIN_TIMEOUT))
            .describe("How long destroy keeps evicting (PodDisruptionBudgets may refuse) before it fails, e.g. `10m`."),
    )
    .attr("id", Attribute::computed(Type::String).describe("The Node's name."))
    .attr(
        "internal_ip",
        Attribute::computed(Type::String).describe("The Node's InternalIP address."),
    )
    .attr(
        "kubelet_version",
        Attribute::computed(Type::String).describe("The kubelet's version, e.g. `v1.32.3`."),
    )
    .attr(
        "capacity",
        Attribute::computed(Type::map(Type::String))
            .describe("The Node's capacity: `cpu`, `memory`, `ephemeral-storage`, `pods`."),
    )
    .attr(
        "cluster_kubeconfig",
        Attribute::computed(Type::String)
            .sensitive()
            .describe("The kubeconfig again, known only once this node is Ready: configure a provider from it so that its objects wait for the node."),
    );
    ResourceSchema { version: 0, block }
}

fn err(code: &str, summary: &str, detail: String) -> Diagnostic {
    Diagnostic::error(format!("brick::microk8s::{code}"), summary, detail)
}

fn known_str<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

/// Parses `90s`, `30m`, `2h`, `1h30m`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut num = String::new();
    let mut any = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        any = true;
    }
    (any && num.is_empty()).then(|| Duration::from_secs(total))
}

/// A label key: `[prefix/]name`, the name 1–63 characters of letters, digits, `-`, `_`, `.`,
/// starting and ending with a letter or digit.
fn label_key_ok(key: &str) -> bool {
    let name = match key.rsplit_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() || prefix.len() > 253 {
                return false;
            }
            name
        }
        None => key,
    };
    label_value_ok(name) && !name.is_empty()
}

fn label_value_ok(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && v.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && v.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

/// Configured taints (when wholly known).
fn taints(v: &Value) -> Option<Vec<(String, String, String)>> {
    let x = v.get("taints")?;
    if x.is_null() {
        return Some(Vec::new());
    }
    x.as_sequence()?
        .iter()
        .map(|t| {
            Some((
                known_str(t, "key")?.to_string(),
                known_str(t, "value")?.to_string(),
                known_str(t, "effect")?.to_string(),
            ))
        })
        .collect()
}

fn labels(v: &Value) -> Option<BTreeMap<String, String>> {
    let x = v.get("labels")?;
    if x.is_null() {
        return Some(BTreeMap::new());
    }
    x.as_mapping()?
        .iter()
        .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// Static checks of whatever is known.
pub fn check(config: &Value) -> Diagnostics {
    let mut out = Vec::new();
    if let Some(n) = known_str(config, "name")
        && (n.is_empty()
            || n.len() > 253
            || !n
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c)))
    {
        out.push(
            err(
                "bad_node_name",
                "Malformed node name",
                format!(
                    "{n:?} is not a Kubernetes Node name (lower-case letters, digits, '-' and '.')."
                ),
            )
            .at(["name"]),
        );
    }
    for attr in ["ready_timeout", "drain_timeout"] {
        if let Some(t) = known_str(config, attr)
            && parse_duration(t).is_none()
        {
            out.push(
                err(
                    "bad_duration",
                    "Malformed duration",
                    format!(
                        "{attr} is {t:?}, not a duration such as \"90s\", \"30m\" or \"1h30m\"."
                    ),
                )
                .at([attr]),
            );
        }
    }
    for (k, v) in labels(config).unwrap_or_default() {
        if !label_key_ok(&k) || !label_value_ok(&v) {
            out.push(
                err(
                    "bad_label",
                    "Malformed label",
                    format!("The label {k:?} = {v:?} is not a valid Kubernetes label (names and values: up to 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit)."),
                )
                .at(["labels"]),
            );
        }
    }
    let mut seen = BTreeSet::new();
    for (k, v, e) in taints(config).unwrap_or_default() {
        if !EFFECTS.contains(&e.as_str()) {
            out.push(
                err(
                    "bad_taint_effect",
                    "Unknown taint effect",
                    format!("The taint {k:?} has effect {e:?}; Kubernetes knows NoSchedule, PreferNoSchedule and NoExecute."),
                )
                .at(["taints"]),
            );
        }
        if !label_key_ok(&k) || !label_value_ok(&v) {
            out.push(
                err(
                    "bad_taint",
                    "Malformed taint",
                    format!("The taint {k:?} = {v:?} has a key or value Kubernetes refuses (the rules of labels)."),
                )
                .at(["taints"]),
            );
        }
        if !seen.insert((k.clone(), e.clone())) {
            out.push(
                err(
                    "duplicate_taint",
                    "Duplicate taint",
                    format!("The taint {k:?} with effect {e:?} is listed twice."),
                )
                .at(["taints"]),
            );
        }
    }
    out
}

/// Plans a create or an update: what is configured, `id` the name; what the server reports is
/// kept from the prior state (unknown on create).
pub fn plan(prior: &Value, proposed: &Value) -> (Value, Diagnostics) {
    let diags = check(proposed);
    let Some(m) = proposed.as_mapping() else {
        return (proposed.clone(), diags);
    };
    let mut out = m.clone();
    out.insert(
        "id".into(),
        proposed
            .get("name")
            .cloned()
            .unwrap_or(Value::unknown(Type::String)),
    );
    let from_prior = !prior.is_null();
    for (name, ty) in [
        ("internal_ip", Type::String),
        ("kubelet_version", Type::String),
        ("capacity", Type::map(Type::String)),
    ] {
        let v = prior
            .get(name)
            .filter(|_| from_prior)
            .cloned()
            .unwrap_or(Value::unknown(ty));
        out.insert(name.into(), v);
    }
    // Known once the node is Ready: the kubeconfig as configured when the node already is.
    let kc = if from_prior {
        proposed
            .get("kubeconfig")
            .cloned()
            .unwrap_or(Value::unknown(Type::String))
    } else {
        Value::unknown(Type::String)
    };
    out.insert("cluster_kubeconfig".into(), kc);
    (Value::object(out), diags)
}

/// A connection to the cluster the kubeconfig names, through the k8s provider's machinery.
pub async fn connect(kubeconfig: &str) -> Result<Cluster, Diagnostic> {
    let cfg = Value::object_from([("kubeconfig", Value::string(kubeconfig))]);
    let mut config = brick_provider_k8s::config::client_config(&cfg)
        .await
        .map_err(|d| d.at(["kubeconfig"]))?;
    // kube retries 429 by itself, silently and for minutes: a PodDisruptionBudget's refusal
    // must come back here, to be reported as progress and bounded by drain_timeout.
    config.default_retry = false;
    let ctx = Ctx::new(config).map_err(|d| d.at(["kubeconfig"]))?;
    Ok(Cluster::from_ctx(Arc::new(ctx)))
}

fn api_error(e: &kube::Error, doing: &str) -> Diagnostic {
    match e {
        kube::Error::Api(s) => err(
            "api",
            "Kubernetes API error",
            format!(
                "The API server refused {doing}: {} (HTTP {}).",
                s.message, s.code
            ),
        ),
        other => err(
            "unreachable",
            "Kubernetes API server unreachable",
            format!(
                "{doing} failed: {}.",
                brick_provider_k8s::client::chain(other)
            ),
        ),
    }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// Says a status only when it changed.
struct Reporter<'a> {
    progress: &'a dyn Progress,
    last: String,
}

impl Reporter<'_> {
    fn say(&mut self, status: String) {
        if status != self.last {
            self.progress.report(&status);
            self.last = status;
        }
    }
}

fn ready_condition(node: &Node) -> Option<(String, String)> {
    let c = node
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    Some((c.status.clone(), c.reason.clone().unwrap_or_default()))
}

/// Waits until the Node `name` exists and is Ready. Until the first node has formed the
/// cluster the API server does not answer: that too is waited for.
pub async fn wait_ready(
    client: &Client,
    name: &str,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<Node, Diagnostic> {
    let nodes: Api<Node> = Api::all(client.clone());
    let start = Instant::now();
    let mut say = Reporter {
        progress,
        last: String::new(),
    };
    let mut last_seen: String;
    loop {
        match nodes.get_opt(name).await {
            Ok(Some(node)) => match ready_condition(&node) {
                Some((s, _)) if s == "True" => return Ok(node),
                Some((s, reason)) => {
                    last_seen = format!("the Node is registered, Ready={s} ({reason})");
                    say.say(format!("Node {name} registered, not Ready yet ({reason})"));
                }
                None => {
                    last_seen = "the Node is registered without a Ready condition".into();
                    say.say(format!("Node {name} registered, no Ready condition yet"));
                }
            },
            Ok(None) => {
                last_seen = "the API server answered, but no Node of that name registered".into();
                say.say(format!("Waiting for node {name} to join"));
            }
            Err(e) if is_status(&e, 401) || is_status(&e, 403) => {
                return Err(api_error(&e, &format!("reading Node {name}"))
                    .with_help("The kubeconfig's admin certificate was refused: the cluster's CA is not the one brick made (did refresh-certs run on the first node?)."));
            }
            Err(e) => {
                last_seen = format!(
                    "the API server did not answer ({})",
                    brick_provider_k8s::client::chain(&e)
                );
                say.say("Waiting for the cluster's API server".to_string());
            }
        }
        if start.elapsed() >= timeout {
            return Err(err(
                "node_not_ready",
                "Node not Ready",
                format!(
                    "Node {name} was not Ready within {}s; last: {last_seen}.",
                    timeout.as_secs()
                ),
            )
            .with_help("Check the machine's cloud-init log (/var/log/cloud-init-output.log): a wrong join token, an unreachable api_address:25000 or a failed snap install keep a node from joining. Raise ready_timeout for slow machines."));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Labels brick sets, by server-side apply (field manager `brick`): labels brick applied
/// before and no longer lists are removed by the apply itself.
async fn apply_labels(
    cluster: &Cluster,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), Diagnostic> {
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
    });
    cluster
        .apply(&doc, true)
        .await
        .map(|_| ())
        .map_err(|d| d.at(["labels"]))
}

type Taint = (String, String, String);

fn taint_json(t: &Taint) -> serde_json::Value {
    if t.1.is_empty() {
        json!({"key": t.0, "effect": t.2})
    } else {
        json!({"key": t.0, "value": t.1, "effect": t.2})
    }
}

fn node_taints(node: &Node) -> Vec<serde_json::Value> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .map(|ts| {
            ts.iter()
                .map(|t| serde_json::to_value(t).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

fn same_taint(j: &serde_json::Value, key: &str, effect: &str) -> bool {
    j["key"] == key && j["effect"] == effect
}

/// Sets brick's taints and removes those brick set before and no longer lists, leaving every
/// other taint alone. (`spec.taints` is an atomic list for server-side apply: applying it would
/// take the controllers' taints too, so this is a read-modify-write guarded by the
/// resourceVersion, retried on a conflict.)
async fn apply_taints(
    client: &Client,
    name: &str,
    before: &[Taint],
    wanted: &[Taint],
) -> Result<(), Diagnostic> {
    let nodes: Api<Node> = Api::all(client.clone());
    for _ in 0..10 {
        let node = nodes
            .get(name)
            .await
            .map_err(|e| api_error(&e, &format!("reading Node {name}")))?;
        let current = node_taints(&node);
        let mut next: Vec<serde_json::Value> = current
            .iter()
            .filter(|j| {
                !before
                    .iter()
                    .chain(wanted)
                    .any(|t| same_taint(j, &t.0, &t.2))
            })
            .cloned()
            .collect();
        next.extend(wanted.iter().map(taint_json));
        if next == current {
            return Ok(());
        }
        let patch = json!({
            "metadata": {"resourceVersion": node.resource_version()},
            "spec": {"taints": next},
        });
        match nodes
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if is_status(&e, 409) => continue,
            Err(e) => {
                return Err(
                    api_error(&e, &format!("setting the taints of Node {name}")).at(["taints"])
                );
            }
        }
    }
    Err(err(
        "taint_conflict",
        "Node kept changing",
        format!(
            "The taints of Node {name} could not be set: the Node changed under every attempt."
        ),
    )
    .at(["taints"]))
}

fn node_facts(node: &Node, out: &mut BTreeMap<String, Value>) {
    let status = node.status.clone().unwrap_or_default();
    let ip = status
        .addresses
        .unwrap_or_default()
        .into_iter()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address)
        .unwrap_or_default();
    let version = status
        .node_info
        .map(|i| i.kubelet_version)
        .unwrap_or_default();
    let capacity = status
        .capacity
        .unwrap_or_default()
        .into_iter()
        .map(|(k, q)| (k, Value::string(q.0)))
        .collect();
    out.insert("internal_ip".into(), Value::string(ip));
    out.insert("kubelet_version".into(), Value::string(version));
    out.insert("capacity".into(), Value::map(Type::String, capacity));
}

fn timeout_of(v: &Value, attr: &str, default: &str) -> Duration {
    known_str(v, attr)
        .and_then(parse_duration)
        .or_else(|| parse_duration(default))
        .unwrap_or(Duration::from_secs(600))
}

/// Create or update: wait for Ready (create, or an update after the Node went away), then
/// labels and taints. Returns the new state.
pub async fn apply(
    prior: &Value,
    planned: &Value,
    progress: &dyn Progress,
) -> Result<Value, Diagnostics> {
    let (Some(name), Some(kc)) = (known_str(planned, "name"), known_str(planned, "kubeconfig"))
    else {
        return Err(vec![err(
            "incomplete",
            "Incomplete node settings",
            "The node's name or kubeconfig is not known at apply.".into(),
        )]);
    };
    let cluster = connect(kc).await.map_err(|d| vec![d])?;
    let client = &cluster.ctx().client;
    let node = wait_ready(
        client,
        name,
        timeout_of(planned, "ready_timeout", DEFAULT_READY_TIMEOUT),
        progress,
    )
    .await
    .map_err(|d| vec![d])?;
    let want_labels = labels(planned).unwrap_or_default();
    let had_labels = if prior.is_null() {
        BTreeMap::new()
    } else {
        labels(prior).unwrap_or_default()
    };
    if !want_labels.is_empty() || !had_labels.is_empty() {
        progress.report("Applying labels");
        apply_labels(&cluster, name, &want_labels)
            .await
            .map_err(|d| vec![d])?;
    }
    let want_taints = taints(planned).unwrap_or_default();
    let had_taints = if prior.is_null() {
        Vec::new()
    } else {
        taints(prior).unwrap_or_default()
    };
    if !want_taints.is_empty() || !had_taints.is_empty() {
        progress.report("Applying taints");
        apply_taints(client, name, &had_taints, &want_taints)
            .await
            .map_err(|d| vec![d])?;
    }
    let mut out = planned.as_mapping().cloned().unwrap_or_default();
    out.insert("id".into(), Value::string(name));
    node_facts(&node, &mut out);
    out.insert("cluster_kubeconfig".into(), Value::string(kc));
    Ok(Value::object(out))
}

/// The node as it is: `None` when the Node object is gone. Labels and taints are read back
/// only for the keys brick set.
pub async fn read(current: &Value) -> Result<Option<Value>, Diagnostics> {
    let (Some(name), Some(kc)) = (known_str(current, "name"), known_str(current, "kubeconfig"))
    else {
        return Ok(None);
    };
    let cluster = connect(kc).await.map_err(|d| vec![d])?;
    let nodes: Api<Node> = Api::all(cluster.ctx().client.clone());
    let node = match nodes.get_opt(name).await {
        Ok(Some(n)) => n,
        Ok(None) => return Ok(None),
        Err(e) => return Err(vec![api_error(&e, &format!("reading Node {name}"))]),
    };
    let mut out = current.as_mapping().cloned().unwrap_or_default();
    if let Some(want) = current.get("labels").filter(|l| !l.is_null())
        && let Some(want) = want.as_mapping()
    {
        let live = node.labels();
        let seen: BTreeMap<String, Value> = want
            .keys()
            .filter_map(|k| live.get(k).map(|v| (k.clone(), Value::string(v))))
            .collect();
        out.insert("labels".into(), Value::map(Type::String, seen));
    }
    if let Some(want) = taints(current).filter(|t| !t.is_empty()) {
        let live = node_taints(&node);
        let seen: Vec<Value> = want
            .iter()
            .filter_map(|t| {
                let j = live.iter().find(|j| same_taint(j, &t.0, &t.2))?;
                Some(Value::object_from([
                    ("key", Value::string(&t.0)),
                    ("value", Value::string(j["value"].as_str().unwrap_or(""))),
                    ("effect", Value::string(&t.2)),
                ]))
            })
            .collect();
        out.insert("taints".into(), Value::list(taint_type(), seen));
    }
    node_facts(&node, &mut out);
    out.insert("cluster_kubeconfig".into(), Value::string(kc));
    Ok(Some(Value::object(out)))
}

/// Whether kubectl drain leaves the pod alone: DaemonSet pods (their controller would put them
/// back) and mirror pods (the kubelet's static pods).
fn drain_skips(pod: &Pod) -> bool {
    let mirror = pod
        .annotations()
        .contains_key("kubernetes.io/config.mirror");
    let daemon = pod
        .owner_references()
        .iter()
        .any(|o| o.kind == "DaemonSet" && o.controller == Some(true));
    mirror || daemon
}

async fn pods_on(client: &Client, name: &str) -> Result<Vec<Pod>, Diagnostic> {
    let pods: Api<Pod> = Api::all(client.clone());
    let list = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={name}")))
        .await
        .map_err(|e| api_error(&e, &format!("listing the pods on Node {name}")))?;
    Ok(list.items.into_iter().filter(|p| !drain_skips(p)).collect())
}

/// Cordons the Node and evicts its pods until none is left, retrying evictions a
/// PodDisruptionBudget refuses (HTTP 429) until `timeout`.
pub async fn drain(
    client: &Client,
    name: &str,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(), Diagnostic> {
    let nodes: Api<Node> = Api::all(client.clone());
    progress.report("Cordoning");
    nodes
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"unschedulable": true}})),
        )
        .await
        .map_err(|e| api_error(&e, &format!("cordoning Node {name}")))?;
    let start = Instant::now();
    let mut say = Reporter {
        progress,
        last: String::new(),
    };
    loop {
        let left = pods_on(client, name).await?;
        if left.is_empty() {
            return Ok(());
        }
        let mut blocked = Vec::new();
        for pod in &left {
            let ns = pod.namespace().unwrap_or_else(|| "default".into());
            let pn = pod.name_any();
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            match api.evict(&pn, &EvictParams::default()).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) => {}
                Err(e) if is_status(&e, 429) => blocked.push(format!("{ns}/{pn}")),
                Err(e) => {
                    return Err(api_error(&e, &format!("evicting pod {ns}/{pn}")));
                }
            }
        }
        if blocked.is_empty() {
            say.say(format!("Draining: {} pod(s) terminating", left.len()));
        } else {
            say.say(format!(
                "Draining: a PodDisruptionBudget refuses to evict {} (retrying)",
                blocked.join(", ")
            ));
        }
        if start.elapsed() >= timeout {
            let what = if blocked.is_empty() {
                format!("{} pod(s) were still terminating", left.len())
            } else {
                format!(
                    "a PodDisruptionBudget still refused to evict {}",
                    blocked.join(", ")
                )
            };
            return Err(err(
                "drain_timeout",
                "Node not drained",
                format!("Node {name} was not drained within {}s: {what}. The Node stays cordoned.", timeout.as_secs()),
            )
            .with_help("Make room for the pods elsewhere (more replicas, another node) or relax the PodDisruptionBudget, then destroy again; raise drain_timeout if the pods need longer."));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Destroy: cordon, drain, remove a control-plane node from the cluster's dqlite datastore
/// (through a surviving control-plane node's cluster agent, as `microk8s remove-node --force`
/// does on a node), delete the Node object and wait until it is gone.
pub async fn destroy(prior: &Value, progress: &dyn Progress) -> Result<Diagnostics, Diagnostics> {
    let (Some(name), Some(kc)) = (known_str(prior, "name"), known_str(prior, "kubeconfig")) else {
        return Ok(Vec::new());
    };
    let cluster = connect(kc).await.map_err(|d| vec![d])?;
    let client = &cluster.ctx().client;
    let nodes: Api<Node> = Api::all(client.clone());
    let node = match nodes.get_opt(name).await {
        Ok(None) => return Ok(Vec::new()),
        Ok(Some(n)) => n,
        Err(e) => return Err(vec![api_error(&e, &format!("reading Node {name}"))]),
    };
    drain(
        client,
        name,
        timeout_of(prior, "drain_timeout", DEFAULT_DRAIN_TIMEOUT),
        progress,
    )
    .await
    .map_err(|d| vec![d])?;
    if prior.get("control_plane").and_then(Value::as_bool) == Some(true) {
        let address = internal_ip(&node)
            .or_else(|| known_str(prior, "internal_ip").map(str::to_string))
            .ok_or_else(|| {
                vec![err(
                    "no_node_address",
                    "Node address unknown",
                    format!("Node {name} reports no InternalIP: its datastore member (<address>:{DQLITE_PORT}) cannot be named, so it was not removed. The Node stays drained and cordoned."),
                )]
            })?;
        leave_datastore(client, kc, name, &address, progress)
            .await
            .map_err(|d| vec![d])?;
    }
    progress.report("Deleting the Node");
    match nodes.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(e) if is_status(&e, 404) => {}
        Err(e) => return Err(vec![api_error(&e, &format!("deleting Node {name}"))]),
    }
    loop {
        match nodes.get_opt(name).await {
            Ok(None) => break,
            Ok(Some(_)) => tokio::time::sleep(POLL / 4).await,
            Err(e) => return Err(vec![api_error(&e, &format!("reading Node {name}"))]),
        }
    }
    Ok(Vec::new())
}

/// The dqlite port of a MicroK8s node: its datastore member is `<InternalIP>:19001`.
const DQLITE_PORT: u16 = 19001;
/// The label MicroK8s puts on its control-plane Nodes.
const CONTROL_PLANE_LABEL: &str = "node.kubernetes.io/microk8s-controlplane";

fn internal_ip(node: &Node) -> Option<String> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.clone())
}

/// Removes `name`'s member `<address>:19001` from the dqlite datastore through the cluster
/// agent (port 25000) of a surviving control-plane node — the API server's host first, then
/// the other control-plane Nodes — with `POST /cluster/api/v2.0/dqlite/remove`, the header
/// `capi-auth-token` (the token every control-plane node's cloud-init wrote to
/// `/capi/etc/token`, derived from the admin key) and `{"remove_endpoint": …}`. TLS is
/// verified with the cluster's CA (the agent serves the node's certificate, re-issued by
/// `refresh-certs` from brick's CA).
async fn leave_datastore(
    client: &Client,
    kubeconfig: &str,
    name: &str,
    address: &str,
    progress: &dyn Progress,
) -> Result<(), Diagnostic> {
    let failed = |detail: String| {
        err(
            "datastore_removal_failed",
            "Control-plane member not removed from the datastore",
            detail,
        )
        .with_help(format!("The Node stays drained and cordoned, and destroy can be run again. Check that the surviving control-plane nodes' agents (port {AGENT_PORT}) are reachable; by hand: `microk8s remove-node {name} --force` on a remaining control-plane node."))
    };
    let kc = render::read_kubeconfig(kubeconfig).ok_or_else(|| {
        failed("The kubeconfig is not one microk8s_cluster writes (a server URL, the CA and the admin key are needed).".into())
    })?;
    let token = render::agent_token(&kc.admin_private_key);
    let mut hosts = vec![kc.api_host.clone()];
    let nodes: Api<Node> = Api::all(client.clone());
    match nodes
        .list(&ListParams::default().labels(CONTROL_PLANE_LABEL))
        .await
    {
        Ok(list) => {
            for ip in list
                .items
                .iter()
                .filter(|n| n.name_any() != name)
                .filter_map(internal_ip)
            {
                if !hosts.contains(&ip) {
                    hosts.push(ip);
                }
            }
        }
        Err(e) => return Err(api_error(&e, "listing the control-plane Nodes")),
    }
    hosts.retain(|h| h != address);
    if hosts.is_empty() {
        return Err(failed(format!(
            "Node {name} is the last control-plane node: no other agent can remove it from the datastore."
        )));
    }
    let ca = reqwest::Certificate::from_pem(kc.ca_certificate.as_bytes()).map_err(|e| {
        failed(format!(
            "The kubeconfig's CA certificate is not usable: {e}."
        ))
    })?;
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| failed(format!("No HTTP client: {e}.")))?;
    let endpoint = format!("{address}:{DQLITE_PORT}");
    let mut tried = Vec::new();
    for host in &hosts {
        progress.report(&format!(
            "Removing {endpoint} from the datastore through the cluster agent on {host}"
        ));
        let sent = http
            .post(format!(
                "https://{host}:{AGENT_PORT}/cluster/api/v2.0/dqlite/remove"
            ))
            .header("capi-auth-token", &token)
            .json(&json!({ "remove_endpoint": endpoint }))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => {
                let status = r.status().as_u16();
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                let msg = body["error"].as_str().unwrap_or("no detail").to_string();
                tried.push(format!("{host}: HTTP {status}: {msg}"));
            }
            Err(e) => tried.push(format!("{host}: {e}")),
        }
    }
    Err(failed(format!(
        "Node {name} is drained, but its datastore member {endpoint} could not be removed: {}.",
        tried.join("; ")
    )))
}
