//! `rook_block_pool`: a Rook CephBlockPool — replicated (`size`, `require_safe_replica_size`,
//! `min_size`) or erasure coded, with failure domain, device class, parameters and quotas —
//! ready when Rook reports phase Ready for the latest spec.

use std::collections::BTreeMap;

use brick_provider_api::provider::PlanResponse;
use brick_provider_api::schema::{Attribute, Block, Nesting, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use brick_provider_k8s::ready::Status;
use serde_json::{Map, Value as Json, json};

use crate::convert::{bool_attr, int_attr, is_set, n, non_integer, s, str_attr};
use crate::resources::pool::replica_checks;

pub const TYPE: &str = "rook_block_pool";
pub const API_VERSION: &str = "ceph.rook.io/v1";
pub const KIND: &str = "CephBlockPool";

pub fn schema() -> ResourceSchema {
    let num = || Type::Number;
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr("id", Attribute::computed(Type::String).describe("namespace/name."))
            .attr(
                "name",
                Attribute::required(Type::String)
                    .forces_replacement()
                    .describe("The CephBlockPool's name, which is the Ceph pool's name."),
            )
            .attr(
                "namespace",
                Attribute::optional(Type::String)
                    .default(s("rook-ceph"))
                    .forces_replacement()
                    .describe("The cluster's namespace. Default: rook-ceph."),
            )
            .attr(
                "failure_domain",
                Attribute::optional(Type::String)
                    .default(s("host"))
                    .describe("The CRUSH type copies are spread over: host (default), osd, rack, zone…"),
            )
            .attr(
                "size",
                Attribute::optional(num())
                    .describe("Copies of each object (replicated pools). Default: 3 unless erasure_coded is given."),
            )
            .attr(
                "require_safe_replica_size",
                Attribute::optional(Type::Bool)
                    .default(Value::bool(true))
                    .describe("Refuse size = 1 unless false (Rook's requireSafeReplicaSize). Default: true."),
            )
            .attr(
                "min_size",
                Attribute::optional(num())
                    .describe("Copies that must be available for I/O (written as the pool parameter min_size)."),
            )
            .attr(
                "device_class",
                Attribute::optional(Type::String).describe("Only OSDs of this device class (hdd, ssd, nvme)."),
            )
            .attr(
                "parameters",
                Attribute::optional(Type::map(Type::String))
                    .describe("Ceph pool settings Rook applies with `osd pool set` (compression_mode, …)."),
            )
            .attr(
                "phase",
                Attribute::computed(Type::String).describe("status.phase as Rook last reported it."),
            )
            .block(
                "erasure_coded",
                Nesting::Single,
                Block::default()
                    .attr("data_chunks", Attribute::required(num()).describe("Data chunks (k)."))
                    .attr("coding_chunks", Attribute::required(num()).describe("Coding chunks (m).")),
            )
            .block(
                "quotas",
                Nesting::Single,
                Block::default()
                    .attr("max_bytes", Attribute::optional(num()).describe("Byte quota."))
                    .attr("max_objects", Attribute::optional(num()).describe("Object quota.")),
            ),
    }
}

fn invalid(attr: &str, summary: &str, detail: String) -> Diagnostic {
    Diagnostic::error("brick::rook::invalid_pool", summary, detail).at([attr])
}

/// The erasure-code profile (k, m) when the pool is erasure coded and both are known.
pub fn erasure(v: &Value) -> Option<(i64, i64)> {
    let ec = v.get("erasure_coded").filter(|e| !e.is_null())?;
    Some((int_attr(ec, "data_chunks")?, int_attr(ec, "coding_chunks")?))
}

pub fn is_erasure(v: &Value) -> bool {
    v.get("erasure_coded").is_some_and(|e| !e.is_null())
}

/// The size the pool will have: configured, or Rook's default 3 for a replicated pool.
pub fn effective_size(v: &Value) -> Option<i64> {
    if is_erasure(v) {
        return None;
    }
    match v.get("size") {
        Some(x) if !x.is_known() => None,
        Some(x) if !x.is_null() => int_attr(v, "size"),
        _ => Some(3),
    }
}

pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Vec::new();
    for attr in ["size", "min_size"] {
        if non_integer(config, attr) || int_attr(config, attr).is_some_and(|v| v < 1) {
            d.push(invalid(
                attr,
                "Invalid number",
                format!("{attr} must be a whole number of at least 1."),
            ));
        }
    }
    if is_erasure(config) {
        if is_set(config, "size") {
            d.push(invalid(
                "size",
                "Replicated and erasure coded",
                "size is for replicated pools; this pool has an erasure_coded block. A pool is one or the other.".into(),
            ));
        }
        if let Some((k, m)) = erasure(config)
            && (k < 2 || m < 1)
        {
            d.push(
                Diagnostic::error(
                    "brick::rook::invalid_pool",
                    "Invalid erasure code",
                    format!("data_chunks = {k}, coding_chunks = {m}: Ceph needs at least 2 data chunks and 1 coding chunk."),
                )
                .at(["erasure_coded"]),
            );
        }
    } else {
        // The replicated pool's own refusals, with ceph_pool's codes and words.
        let mut v = config.as_mapping().cloned().unwrap_or_default();
        if v.get("size").is_none_or(Value::is_null) {
            v.insert("size".into(), n(3));
        }
        d.extend(replica_checks(&Value::object(v)));
    }
    if str_attr(config, "failure_domain").is_some_and(str::is_empty) {
        d.push(invalid(
            "failure_domain",
            "Invalid failure domain",
            "failure_domain cannot be empty.".into(),
        ));
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
    let id = match (str_attr(proposed, "namespace"), str_attr(proposed, "name")) {
        (Some(ns), Some(name)) => s(format!("{ns}/{name}")),
        _ => Value::unknown(Type::String),
    };
    m.insert("id".into(), id);
    let unchanged = !prior.is_null() && {
        let strip = |v: &Value| {
            let mut x = v.as_mapping().cloned().unwrap_or_default();
            x.remove("phase");
            x.remove("id");
            x
        };
        strip(prior) == strip(proposed)
    };
    let phase = if unchanged {
        prior.get("phase").cloned().unwrap_or(s("Ready"))
    } else {
        // What apply waits for.
        s("Ready")
    };
    m.insert("phase".into(), phase);
    done(Value::object(m))
}

/// The CephBlockPool object.
pub fn render(planned: &Value) -> Json {
    let name = str_attr(planned, "name").unwrap_or("");
    let ns = str_attr(planned, "namespace").unwrap_or("rook-ceph");
    let mut spec = Map::new();
    spec.insert(
        "failureDomain".into(),
        json!(str_attr(planned, "failure_domain").unwrap_or("host")),
    );
    if let Some((k, m)) = erasure(planned) {
        spec.insert(
            "erasureCoded".into(),
            json!({"dataChunks": k, "codingChunks": m}),
        );
    } else {
        spec.insert(
            "replicated".into(),
            json!({
                "size": effective_size(planned).unwrap_or(3),
                "requireSafeReplicaSize": bool_attr(planned, "require_safe_replica_size").unwrap_or(true),
            }),
        );
    }
    if let Some(dc) = str_attr(planned, "device_class") {
        spec.insert("deviceClass".into(), json!(dc));
    }
    let mut params: BTreeMap<String, String> = planned
        .get("parameters")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    if let Some(min) = int_attr(planned, "min_size") {
        params.insert("min_size".into(), min.to_string());
    }
    if !params.is_empty() {
        spec.insert("parameters".into(), json!(params));
    }
    if let Some(q) = planned.get("quotas").filter(|q| !q.is_null()) {
        let mut quotas = Map::new();
        if let Some(b) = int_attr(q, "max_bytes") {
            quotas.insert("maxBytes".into(), json!(b));
        }
        if let Some(o) = int_attr(q, "max_objects") {
            quotas.insert("maxObjects".into(), json!(o));
        }
        if !quotas.is_empty() {
            spec.insert("quotas".into(), Json::Object(quotas));
        }
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    })
}

/// Ready when Rook says phase Ready having seen the generation brick applied (`applied`, from
/// the apply's answer: Rook's own first update — its finalizer and defaults — raises the
/// generation again without Rook ever observing that one); Failure is reported while Rook
/// retries.
pub fn judge(obj: &Json, applied: Option<i64>) -> Status {
    let phase = obj
        .pointer("/status/phase")
        .and_then(Json::as_str)
        .unwrap_or("");
    let observed = obj
        .pointer("/status/observedGeneration")
        .and_then(Json::as_i64);
    let current = match (applied, observed) {
        (Some(g), Some(o)) => o >= g,
        _ => true,
    };
    if phase == "Ready" && current {
        return Status::Ready;
    }
    let info = obj
        .pointer("/status/info/failureReason")
        .or_else(|| obj.pointer("/status/message"))
        .and_then(Json::as_str)
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    if phase.is_empty() {
        Status::Waiting("waiting for the Rook operator".into())
    } else if !current {
        Status::Waiting(format!("{phase} (Rook has not yet seen the change)"))
    } else {
        Status::Waiting(format!("{phase}{info}"))
    }
}

/// The configuration-side attributes read back from a live CephBlockPool.
pub fn from_live(carry: &Value, live: &Json) -> Value {
    let spec = &live["spec"];
    let mut m = carry.as_mapping().cloned().unwrap_or_default();
    let name = live
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or("");
    let ns = live
        .pointer("/metadata/namespace")
        .and_then(Json::as_str)
        .unwrap_or("");
    m.insert("id".into(), s(format!("{ns}/{name}")));
    m.insert("name".into(), s(name));
    m.insert("namespace".into(), s(ns));
    m.insert(
        "failure_domain".into(),
        s(spec["failureDomain"].as_str().unwrap_or("host")),
    );
    let carried_size = carry.get("size").is_some_and(|v| !v.is_null());
    if let Some(size) = spec.pointer("/replicated/size").and_then(Json::as_i64)
        && spec
            .get("erasureCoded")
            .is_none_or(|e| e.get("dataChunks").and_then(Json::as_i64).unwrap_or(0) == 0)
    {
        // A size left to Rook's default 3 stays unset while it is 3.
        if carried_size || size != 3 {
            m.insert("size".into(), n(size));
        }
        m.insert(
            "require_safe_replica_size".into(),
            Value::bool(
                spec.pointer("/replicated/requireSafeReplicaSize")
                    .and_then(Json::as_bool)
                    .unwrap_or(false),
            ),
        );
    }
    m.insert(
        "device_class".into(),
        spec["deviceClass"]
            .as_str()
            .map_or(Value::null(Type::String), s),
    );
    let mut params: BTreeMap<String, Value> = spec["parameters"]
        .as_object()
        .map(|p| {
            p.iter()
                .filter_map(|(k, v)| Some((k.clone(), s(v.as_str()?))))
                .collect()
        })
        .unwrap_or_default();
    let min = params
        .remove("min_size")
        .and_then(|v| v.as_str().and_then(|t| t.parse::<i64>().ok()));
    m.insert("min_size".into(), min.map_or(Value::null(Type::Number), n));
    let carried_params = carry.get("parameters").is_some_and(|v| !v.is_null());
    if carried_params || !params.is_empty() {
        m.insert("parameters".into(), Value::map(Type::String, params));
    }
    m.insert(
        "phase".into(),
        s(live
            .pointer("/status/phase")
            .and_then(Json::as_str)
            .unwrap_or("")),
    );
    Value::object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(extra: &[(&str, Value)]) -> Value {
        let mut m: BTreeMap<String, Value> = [
            ("name", s("replicapool")),
            ("namespace", s("rook-ceph")),
            ("failure_domain", s("host")),
            ("require_safe_replica_size", Value::bool(true)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in extra {
            m.insert(k.to_string(), v.clone());
        }
        Value::object(m)
    }

    #[test]
    fn a_replicated_pool_renders_as_rooks_example() {
        let obj = render(&pool(&[("size", n(2)), ("min_size", n(1))]));
        assert_eq!(
            obj["spec"],
            json!({"failureDomain": "host", "replicated": {"size": 2, "requireSafeReplicaSize": true}, "parameters": {"min_size": "1"}})
        );
    }

    #[test]
    fn an_erasure_coded_pool_has_no_replicated_section() {
        let ec = Value::object_from([("data_chunks", n(2)), ("coding_chunks", n(1))]);
        let obj = render(&pool(&[("erasure_coded", ec)]));
        assert_eq!(
            obj["spec"]["erasureCoded"],
            json!({"dataChunks": 2, "codingChunks": 1})
        );
        assert!(obj["spec"].get("replicated").is_none());
    }

    #[test]
    fn size_one_and_min_size_above_size_are_refused_with_ceph_pools_codes() {
        let d = validate(&pool(&[("size", n(1))]));
        assert_eq!(d[0].code, "brick::ceph::unsafe_replica_size");
        let d = validate(&pool(&[("size", n(2)), ("min_size", n(3))]));
        assert_eq!(d[0].code, "brick::ceph::min_size_above_size");
        // The default size 3 counts too.
        let d = validate(&pool(&[("min_size", n(4))]));
        assert_eq!(d[0].code, "brick::ceph::min_size_above_size");
        let ok = validate(&pool(&[
            ("size", n(1)),
            ("require_safe_replica_size", Value::bool(false)),
        ]));
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn ready_is_phase_ready_for_the_latest_generation() {
        let o = |phase: &str, g: i64, og: i64| json!({"metadata": {"generation": g}, "status": {"phase": phase, "observedGeneration": og}});
        assert_eq!(judge(&o("Ready", 2, 2), Some(2)), Status::Ready);
        assert!(matches!(
            judge(&o("Ready", 3, 2), Some(3)),
            Status::Waiting(_)
        ));
        assert!(matches!(
            judge(&o("Progressing", 1, 1), Some(1)),
            Status::Waiting(_)
        ));
        // Rook 1.12 raises the generation itself when it adds its finalizer and never observes
        // that one: what counts is the generation brick applied.
        assert_eq!(judge(&o("Ready", 2, 1), Some(1)), Status::Ready);
    }

    #[test]
    fn the_live_pool_reads_back_as_configured() {
        let c = pool(&[("size", n(2)), ("min_size", n(1)), ("phase", s("Ready"))]);
        let mut live = render(&c);
        live["status"] = json!({"phase": "Ready"});
        let back = from_live(&c, &live);
        assert_eq!(back.get("size"), Some(&n(2)));
        assert_eq!(back.get("min_size"), Some(&n(1)));
        assert_eq!(back.get("phase"), Some(&s("Ready")));
    }
}
