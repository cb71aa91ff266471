//! `rook_cluster`: a Rook CephCluster — mons, and one OSD per device listed for each node
//! (written as `storage.nodes[].devices[].name`, the only form Rook accepts for LVM logical
//! volumes), or an existing Ceph in external mode — with its readiness (phase Ready, or
//! Connected when external, **and** HEALTH_OK) and the progress an apply reports.

use std::collections::BTreeMap;

use brick_provider_api::provider::PlanResponse;
use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use brick_provider_k8s::ready::Status;
use serde_json::{Value as Json, json};

use crate::convert::{bool_attr, int_attr, is_set, n, non_integer, s, str_attr};

pub const TYPE: &str = "rook_cluster";
pub const API_VERSION: &str = "ceph.rook.io/v1";
pub const KIND: &str = "CephCluster";
/// The Ceph image when none is given: the one Rook v1.20.6's cluster.yaml names.
pub const DEFAULT_IMAGE: &str = "quay.io/ceph/ceph:v20.2.4";

pub fn schema() -> ResourceSchema {
    let string = || Type::String;
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "id",
                Attribute::computed(string()).describe("namespace/name of the CephCluster."),
            )
            .attr(
                "name",
                Attribute::optional(string())
                    .default(s("rook-ceph"))
                    .forces_replacement()
                    .describe("The CephCluster's name. Default: rook-ceph."),
            )
            .attr(
                "namespace",
                Attribute::optional(string())
                    .default(s("rook-ceph"))
                    .forces_replacement()
                    .describe("The namespace Rook runs the cluster in. Default: rook-ceph."),
            )
            .attr(
                "external",
                Attribute::optional(Type::Bool)
                    .default(Value::bool(false))
                    .forces_replacement()
                    .describe("Connect to an existing Ceph instead of running one (external mode)."),
            )
            .attr(
                "mon_count",
                Attribute::optional(Type::Number)
                    .default(n(3))
                    .describe("Monitors to run (odd, 1–9). Default: 3."),
            )
            .attr(
                "allow_multiple_mons_per_node",
                Attribute::optional(Type::Bool)
                    .default(Value::bool(false))
                    .describe("Allow several mons on one node (test clusters). Default: false."),
            )
            .attr(
                "nodes",
                Attribute::optional(Type::map(Type::list(Type::String))).describe(
                    "Node name → device paths for OSDs (e.g. /dev/vgroot/ceph); one OSD per device.",
                ),
            )
            .attr(
                "ceph_image",
                Attribute::optional(string())
                    .default(s(DEFAULT_IMAGE))
                    .describe("The Ceph container image."),
            )
            .attr(
                "data_dir_host_path",
                Attribute::optional(string())
                    .default(s("/var/lib/rook"))
                    .forces_replacement()
                    .describe("Where Rook keeps configuration on each node. Default: /var/lib/rook."),
            )
            .attr(
                "external_fsid",
                Attribute::optional(string())
                    .describe("External mode: the Ceph cluster's fsid (with the two below, brick writes Rook's rook-ceph-mon Secret and mon endpoints)."),
            )
            .attr(
                "external_mon_endpoints",
                Attribute::optional(Type::list(string()))
                    .describe("External mode: monitor addresses, IP:PORT (msgr2, port 3300)."),
            )
            .attr(
                "external_admin_key",
                Attribute::optional(string())
                    .sensitive()
                    .describe("External mode: the key of client.admin."),
            )
            .attr(
                "phase",
                Attribute::computed(string()).describe("status.phase as Rook last reported it."),
            )
            .attr(
                "health",
                Attribute::computed(string()).describe("status.ceph.health (HEALTH_OK, HEALTH_WARN, HEALTH_ERR)."),
            )
            .attr(
                "osds",
                Attribute::computed(Type::Number).describe("OSDs Rook reports (status.storage.osd)."),
            )
            .attr(
                "capacity_bytes",
                Attribute::computed(Type::Number).describe("Raw capacity (status.ceph.capacity.bytesTotal)."),
            )
            .attr(
                "fsid",
                Attribute::computed(string()).describe("The Ceph cluster's fsid."),
            ),
    }
}

fn invalid(attr: &str, summary: &str, detail: String) -> Diagnostic {
    Diagnostic::error("brick::rook::invalid_cluster", summary, detail).at([attr])
}

/// The configured nodes and their devices (known ones only), sorted.
pub fn nodes(v: &Value) -> Option<BTreeMap<String, Vec<String>>> {
    let m = v.get("nodes")?;
    if !m.is_wholly_known() || m.is_null() {
        return None;
    }
    Some(
        m.as_mapping()?
            .iter()
            .map(|(node, devs)| {
                let devs = devs
                    .as_sequence()
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect();
                (node.clone(), devs)
            })
            .collect(),
    )
}

/// The `nodes` attribute's value for these nodes and devices.
pub fn nodes_value(nodes: &BTreeMap<String, Vec<String>>) -> Value {
    Value::map(
        Type::list(Type::String),
        nodes
            .iter()
            .map(|(node, devs)| {
                let devs = devs.iter().map(|d| s(d.as_str())).collect();
                (node.clone(), Value::list(Type::String, devs))
            })
            .collect(),
    )
}

pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Vec::new();
    let external = bool_attr(config, "external") == Some(true);
    if non_integer(config, "mon_count") {
        d.push(invalid(
            "mon_count",
            "Invalid number",
            "mon_count must be a whole number.".into(),
        ));
    }
    if let Some(m) = int_attr(config, "mon_count") {
        if !(1..=9).contains(&m) {
            d.push(invalid(
                "mon_count",
                "Invalid number",
                format!("mon_count = {m}: Rook runs 1 to 9 monitors."),
            ));
        } else if m % 2 == 0 {
            d.push(
                Diagnostic::warning(
                    "brick::rook::even_mon_count",
                    "Even number of monitors",
                    format!("mon_count = {m}: an even count tolerates no more failures than {} and Rook advises an odd one.", m - 1),
                )
                .at(["mon_count"]),
            );
        }
    }
    if external {
        for attr in ["nodes"] {
            if is_set(config, attr) {
                d.push(invalid(
                    attr,
                    "Nodes in external mode",
                    "An external cluster's OSDs are not Rook's: nodes cannot be listed with external = true.".into(),
                ));
            }
        }
        let given: Vec<&str> = [
            "external_fsid",
            "external_mon_endpoints",
            "external_admin_key",
        ]
        .into_iter()
        .filter(|a| config.get(a).is_some_and(|v| !v.is_null()))
        .collect();
        if !given.is_empty() && given.len() < 3 {
            d.push(invalid(
                given[0],
                "Incomplete external connection",
                format!("Only {} of external_fsid, external_mon_endpoints and external_admin_key are set: brick writes Rook's connection Secret from all three, or from none (when it exists already).", given.join(", ")),
            ));
        }
        return d;
    }
    for attr in [
        "external_fsid",
        "external_mon_endpoints",
        "external_admin_key",
    ] {
        if config.get(attr).is_some_and(|v| !v.is_null()) {
            d.push(invalid(
                attr,
                "External setting of an internal cluster",
                format!("{attr} is for external = true only."),
            ));
        }
    }
    if let Some(nodes) = nodes(config) {
        for (node, devs) in &nodes {
            for dev in devs {
                if !dev.starts_with("/dev/") && dev.contains('/') {
                    d.push(invalid(
                        "nodes",
                        "Invalid device",
                        format!("Node {node}: device \"{dev}\" is neither a name under /dev (sdb) nor a /dev/ path."),
                    ));
                }
            }
        }
        if let Some(m) = int_attr(config, "mon_count")
            && bool_attr(config, "allow_multiple_mons_per_node") != Some(true)
            && !nodes.is_empty()
            && m as usize > nodes.len()
        {
            d.push(
                Diagnostic::error(
                    "brick::rook::mons_exceed_nodes",
                    "More monitors than nodes",
                    format!(
                        "mon_count = {m} with {} node{} listed: Rook places each mon on a different node, so the cluster would wait forever for the others.",
                        nodes.len(),
                        if nodes.len() == 1 { "" } else { "s" }
                    ),
                )
                .at(["mon_count"])
                .with_help(format!("Lower mon_count to {}, or set allow_multiple_mons_per_node = true (test clusters).", odd_at_most(nodes.len()))),
            );
        }
    }
    d
}

fn odd_at_most(n: usize) -> usize {
    if n.is_multiple_of(2) {
        n.saturating_sub(1).max(1)
    } else {
        n
    }
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
    let id = match (str_attr(proposed, "namespace"), str_attr(proposed, "name")) {
        (Some(ns), Some(name)) => s(format!("{ns}/{name}")),
        _ => Value::unknown(Type::String),
    };
    m.insert("id".into(), id);
    let same_spec = !prior.is_null()
        && [
            "mon_count",
            "nodes",
            "ceph_image",
            "allow_multiple_mons_per_node",
            "external_mon_endpoints",
            "external_fsid",
            "external_admin_key",
        ]
        .iter()
        .all(|a| prior.get(a) == proposed.get(a));
    for (attr, ty) in [
        ("phase", Type::String),
        ("health", Type::String),
        ("osds", Type::Number),
        ("capacity_bytes", Type::Number),
        ("fsid", Type::String),
    ] {
        let keep = prior.get(attr).filter(|_| same_spec).cloned();
        m.insert(attr.into(), keep.unwrap_or_else(|| Value::unknown(ty)));
    }
    done(Value::object(m))
}

/// The objects of a cluster: the CephCluster, and in external mode with a connection given,
/// Rook's `rook-ceph-mon` Secret and `rook-ceph-mon-endpoints` ConfigMap before it.
pub fn render(planned: &Value) -> Vec<Json> {
    let name = str_attr(planned, "name").unwrap_or("rook-ceph");
    let ns = str_attr(planned, "namespace").unwrap_or("rook-ceph");
    let data_dir = str_attr(planned, "data_dir_host_path").unwrap_or("/var/lib/rook");
    let mut out = Vec::new();
    if bool_attr(planned, "external") == Some(true) {
        if let (Some(fsid), Some(key), Some(eps)) = (
            str_attr(planned, "external_fsid"),
            str_attr(planned, "external_admin_key"),
            planned
                .get("external_mon_endpoints")
                .and_then(Value::as_sequence),
        ) {
            out.extend(external_connection(ns, fsid, key, eps));
        }
        out.push(json!({
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "external": {"enable": true},
                "dataDirHostPath": data_dir,
                "crashCollector": {"disable": true},
                // Without it Rook's pool controller cannot read the Ceph version (rook#13088).
                "monitoring": {"enabled": true},
            }
        }));
        return out;
    }
    let mons = int_attr(planned, "mon_count").unwrap_or(3);
    let multiple = bool_attr(planned, "allow_multiple_mons_per_node").unwrap_or(false);
    let nodes: Vec<Json> = nodes(planned)
        .unwrap_or_default()
        .into_iter()
        .map(|(node, devs)| {
            let devices: Vec<Json> = devs.iter().map(|d| json!({"name": d})).collect();
            json!({"name": node, "devices": devices})
        })
        .collect();
    out.push(json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "cephVersion": {"image": str_attr(planned, "ceph_image").unwrap_or(DEFAULT_IMAGE)},
            "dataDirHostPath": data_dir,
            "mon": {"count": mons, "allowMultiplePerNode": multiple},
            "storage": {
                "useAllNodes": false,
                "useAllDevices": false,
                "nodes": nodes,
            },
        }
    }));
    out
}

/// Rook's external-mode connection objects, as its import script writes them.
fn external_connection(ns: &str, fsid: &str, key: &str, endpoints: &[Value]) -> Vec<Json> {
    use base64::Engine;
    let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
    let data: Vec<String> = endpoints
        .iter()
        .filter_map(Value::as_str)
        .enumerate()
        .map(|(i, ep)| format!("{}={ep}", mon_id(i)))
        .collect();
    vec![
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "rook-ceph-mon", "namespace": ns},
            "type": "kubernetes.io/rook",
            "data": {
                "cluster-name": b64(ns),
                "fsid": b64(fsid),
                "admin-secret": b64("admin-secret"),
                "mon-secret": b64("mon-secret"),
                "ceph-username": b64("client.admin"),
                "ceph-secret": b64(key),
            }
        }),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "rook-ceph-mon-endpoints", "namespace": ns},
            "data": {
                "data": data.join(","),
                "mapping": "{}",
                "maxMonId": (endpoints.len().max(1) - 1).to_string(),
            }
        }),
    ]
}

/// Rook's mon ids: a, b, …, z, aa, …
fn mon_id(i: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    if i < 26 {
        (letters[i] as char).to_string()
    } else {
        format!("{}{}", mon_id(i / 26 - 1), letters[i % 26] as char)
    }
}

/// What a CephCluster's status says, as brick reads it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterStatus {
    pub phase: String,
    pub health: String,
    pub message: String,
    /// OSDs Rook counts (`status.storage.osd.storeType`, summed).
    pub osds: i64,
    /// OSDs down, from the health check OSD_DOWN ("2 osds down").
    pub osds_down: i64,
    /// Health checks: code and message.
    pub checks: Vec<(String, String)>,
    pub capacity_bytes: i64,
    pub fsid: String,
    /// status.observedGeneration.
    pub observed: Option<i64>,
}

impl ClusterStatus {
    pub fn of(obj: &Json) -> ClusterStatus {
        let st = &obj["status"];
        let str_at = |p: &str| {
            st.pointer(p)
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string()
        };
        let osds = st
            .pointer("/storage/osd/storeType")
            .and_then(Json::as_object)
            .map(|m| m.values().filter_map(Json::as_i64).sum())
            .unwrap_or(0);
        let mut checks: Vec<(String, String)> = st
            .pointer("/ceph/details")
            .and_then(Json::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v["message"].as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        checks.sort();
        let osds_down = checks
            .iter()
            .find(|(k, _)| k == "OSD_DOWN")
            .and_then(|(_, m)| m.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let observed = st.get("observedGeneration").and_then(Json::as_i64);
        ClusterStatus {
            phase: str_at("/phase"),
            health: str_at("/ceph/health"),
            message: str_at("/message"),
            osds,
            osds_down,
            checks,
            capacity_bytes: st
                .pointer("/ceph/capacity/bytesTotal")
                .and_then(Json::as_i64)
                .unwrap_or(0),
            fsid: str_at("/ceph/fsid"),
            observed,
        }
    }

    /// `Progressing, HEALTH_WARN, OSDs 2 up / 3 (3 devices): PG_DEGRADED …` for progress lines.
    pub fn describe(&self, devices: Option<usize>) -> String {
        let mut out = if self.phase.is_empty() {
            "waiting for the operator".to_string()
        } else {
            self.phase.clone()
        };
        if !self.health.is_empty() {
            out.push_str(&format!(", {}", self.health));
        }
        if let Some(want) = devices {
            out.push_str(&format!(
                ", OSDs {} up / {} ({want} device{})",
                self.osds - self.osds_down,
                self.osds,
                if want == 1 { "" } else { "s" }
            ));
        }
        if let Some((code, msg)) = self.checks.first() {
            out.push_str(&format!(": {code} {msg}"));
        } else if !self.message.is_empty() && self.health != "HEALTH_OK" {
            out.push_str(&format!(": {}", self.message));
        }
        out
    }
}

/// Whether the cluster is ready: phase Ready (Connected in external mode) **and** HEALTH_OK,
/// the latest spec seen, and — when devices are listed — as many OSDs as devices, all up.
/// `applied` is the generation brick's apply produced (see `rook_block_pool::judge`).
pub fn judge(obj: &Json, external: bool, devices: Option<usize>, applied: Option<i64>) -> Status {
    let st = ClusterStatus::of(obj);
    let current = match (applied, st.observed) {
        (Some(g), Some(o)) => o >= g,
        _ => true,
    };
    let phase_ok = if external {
        st.phase == "Connected"
    } else {
        st.phase == "Ready"
    };
    let osds_ok = devices.is_none_or(|want| st.osds >= want as i64 && st.osds_down == 0);
    if current && phase_ok && st.health == "HEALTH_OK" && osds_ok {
        Status::Ready
    } else {
        Status::Waiting(st.describe(devices))
    }
}

/// Whether the plan lists a (node, device) the prior state did not (every one on create): the
/// apply then waits for the new OSDs' backfill (see `rook::wait_pgs`).
pub fn adds_devices(prior: &Value, planned: &Value) -> bool {
    let before = if prior.is_null() {
        BTreeMap::new()
    } else {
        nodes(prior).unwrap_or_default()
    };
    nodes(planned)
        .unwrap_or_default()
        .iter()
        .any(|(node, devs)| {
            devs.iter()
                .any(|d| !before.get(node).is_some_and(|b| b.contains(d)))
        })
}

/// How many OSD devices the cluster lists (None in external mode or without nodes).
pub fn device_count(v: &Value) -> Option<usize> {
    if bool_attr(v, "external") == Some(true) {
        return None;
    }
    nodes(v).map(|n| n.values().map(Vec::len).sum())
}

/// The state from the configuration-side value and the live object's status.
pub fn with_status(state: &Value, live: &Json) -> Value {
    let st = ClusterStatus::of(live);
    let mut m = state.as_mapping().cloned().unwrap_or_default();
    m.insert("phase".into(), s(st.phase));
    m.insert("health".into(), s(st.health));
    m.insert("osds".into(), n(st.osds));
    m.insert("capacity_bytes".into(), n(st.capacity_bytes));
    m.insert("fsid".into(), s(st.fsid));
    Value::object(m)
}

/// The configuration-side attributes read back from a live CephCluster (for refresh and
/// import): what brick renders, so a change made with kubectl shows as drift.
pub fn from_live(carry: &Value, live: &Json) -> Value {
    let spec = &live["spec"];
    let mut m = carry.as_mapping().cloned().unwrap_or_default();
    let md = &live["metadata"];
    let name = md["name"].as_str().unwrap_or("");
    let ns = md["namespace"].as_str().unwrap_or("");
    m.insert("id".into(), s(format!("{ns}/{name}")));
    m.insert("name".into(), s(name));
    m.insert("namespace".into(), s(ns));
    let external = spec
        .pointer("/external/enable")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    m.insert("external".into(), Value::bool(external));
    if let Some(p) = spec["dataDirHostPath"].as_str() {
        m.insert("data_dir_host_path".into(), s(p));
    }
    if !external {
        if let Some(c) = spec.pointer("/mon/count").and_then(Json::as_i64) {
            m.insert("mon_count".into(), n(c));
        }
        if let Some(b) = spec
            .pointer("/mon/allowMultiplePerNode")
            .and_then(Json::as_bool)
        {
            m.insert("allow_multiple_mons_per_node".into(), Value::bool(b));
        }
        if let Some(img) = spec.pointer("/cephVersion/image").and_then(Json::as_str) {
            m.insert("ceph_image".into(), s(img));
        }
        let mut nodes = BTreeMap::new();
        for node in spec
            .pointer("/storage/nodes")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let devs: Vec<Value> = node["devices"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["name"].as_str().map(s))
                .collect();
            if let Some(name) = node["name"].as_str() {
                nodes.insert(name.to_string(), Value::list(Type::String, devs));
            }
        }
        let had = carry.get("nodes").is_some_and(|v| !v.is_null());
        if had || !nodes.is_empty() {
            m.insert("nodes".into(), Value::map(Type::list(Type::String), nodes));
        }
    }
    with_status(&Value::object(m), live)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(nodes: &[(&str, &[&str])]) -> Value {
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
            ("name", s("rook-ceph")),
            ("namespace", s("rook-ceph")),
            ("external", Value::bool(false)),
            ("mon_count", n(3)),
            ("allow_multiple_mons_per_node", Value::bool(false)),
            ("nodes", Value::map(Type::list(Type::String), nodes)),
            ("ceph_image", s(DEFAULT_IMAGE)),
            ("data_dir_host_path", s("/var/lib/rook")),
        ])
    }

    #[test]
    fn devices_are_written_by_name_per_node_as_rook_needs_for_logical_volumes() {
        let docs = render(&cfg(&[
            ("kvm4", &["/dev/vgroot/ceph"]),
            ("kvm5", &["sdb", "sdc"]),
        ]));
        assert_eq!(docs.len(), 1);
        let spec = &docs[0]["spec"];
        assert_eq!(spec["storage"]["useAllDevices"], false);
        assert_eq!(
            spec["storage"]["nodes"],
            json!([
                {"name": "kvm4", "devices": [{"name": "/dev/vgroot/ceph"}]},
                {"name": "kvm5", "devices": [{"name": "sdb"}, {"name": "sdc"}]}
            ])
        );
        assert_eq!(
            spec["mon"],
            json!({"count": 3, "allowMultiplePerNode": false})
        );
    }

    #[test]
    fn more_mons_than_nodes_is_refused_at_the_mon_count() {
        let d = validate(&cfg(&[("a", &["sdb"]), ("b", &["sdb"])]));
        assert_eq!(d[0].code, "brick::rook::mons_exceed_nodes", "{d:?}");
        assert!(
            d[0].help
                .as_deref()
                .unwrap()
                .contains("Lower mon_count to 1")
        );
    }

    #[test]
    fn ready_needs_phase_ready_and_health_ok_and_every_device_an_osd() {
        let obj = |phase: &str, health: &str, osds: i64, details: Json| {
            json!({"metadata": {"generation": 2}, "status": {
                "phase": phase, "observedGeneration": 2,
                "ceph": {"health": health, "details": details},
                "storage": {"osd": {"storeType": {"bluestore": osds}}}
            }})
        };
        assert_eq!(
            judge(
                &obj("Ready", "HEALTH_OK", 3, json!({})),
                false,
                Some(3),
                Some(2)
            ),
            Status::Ready
        );
        let warn = judge(
            &obj(
                "Ready",
                "HEALTH_WARN",
                3,
                json!({"PG_DEGRADED": {"message": "5 pgs degraded", "severity": "HEALTH_WARN"}}),
            ),
            false,
            Some(3),
            Some(2),
        );
        assert_eq!(
            warn,
            Status::Waiting(
                "Ready, HEALTH_WARN, OSDs 3 up / 3 (3 devices): PG_DEGRADED 5 pgs degraded".into()
            )
        );
        let down = judge(
            &obj(
                "Ready",
                "HEALTH_WARN",
                3,
                json!({"OSD_DOWN": {"message": "1 osds down"}}),
            ),
            false,
            Some(3),
            Some(2),
        );
        assert!(matches!(down, Status::Waiting(w) if w.contains("OSDs 2 up / 3")));
        assert!(matches!(
            judge(
                &obj("Ready", "HEALTH_OK", 2, json!({})),
                false,
                Some(3),
                Some(2)
            ),
            Status::Waiting(_)
        ));
        assert_eq!(
            judge(
                &obj("Connected", "HEALTH_OK", 0, json!({})),
                true,
                None,
                Some(2)
            ),
            Status::Ready
        );
        assert!(matches!(
            judge(
                &obj("Ready", "HEALTH_OK", 0, json!({})),
                true,
                None,
                Some(2)
            ),
            Status::Waiting(_)
        ));
    }

    #[test]
    fn a_new_device_or_node_or_a_create_adds_devices_and_a_removal_does_not() {
        let two = cfg(&[("a", &["sdb"]), ("b", &["sdb"])]);
        let null = Value::null(two.ty());
        assert!(adds_devices(&null, &two));
        assert!(adds_devices(&cfg(&[("a", &["sdb"])]), &two));
        assert!(adds_devices(
            &two,
            &cfg(&[("a", &["sdb", "sdc"]), ("b", &["sdb"])])
        ));
        assert!(!adds_devices(&two, &two));
        assert!(!adds_devices(&two, &cfg(&[("a", &["sdb"])])));
    }

    #[test]
    fn external_mode_writes_rooks_connection_objects() {
        let mut m = cfg(&[]).as_mapping().cloned().unwrap();
        m.insert("external".into(), Value::bool(true));
        m.insert("external_fsid".into(), s("f"));
        m.insert("external_admin_key".into(), s("k"));
        m.insert(
            "external_mon_endpoints".into(),
            Value::list(Type::String, vec![s("127.0.0.1:3300")]),
        );
        let docs = render(&Value::object(m));
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1]["data"]["data"], "a=127.0.0.1:3300");
        assert_eq!(docs[2]["spec"]["external"]["enable"], true);
        assert_eq!(docs[2]["spec"]["monitoring"]["enabled"], true);
    }

    #[test]
    fn live_spec_reads_back_as_the_configuration() {
        let c = cfg(&[("kvm4", &["/dev/vgroot/ceph"])]);
        let mut live = render(&c).remove(0);
        live["status"] = json!({"phase": "Ready", "ceph": {"health": "HEALTH_OK", "fsid": "x", "capacity": {"bytesTotal": 100}}, "storage": {"osd": {"storeType": {"bluestore": 1}}}});
        let back = from_live(&c, &live);
        for a in ["nodes", "mon_count", "ceph_image", "name", "namespace"] {
            assert_eq!(back.get(a), c.get(a), "{a}");
        }
        assert_eq!(back.get("osds"), Some(&n(1)));
        assert_eq!(back.get("health"), Some(&s("HEALTH_OK")));
    }
}
