//! Data source `ceph_status`: the cluster's health, monitors, OSDs up and in (in total and per
//! host), placement groups and capacity, from `status` and `osd tree` (two monitor commands),
//! for conditions and outputs.

use std::collections::BTreeMap;

use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostics, Type, Value};
use serde_json::{Value as Json, json};

use crate::convert::{json_i64, json_str, n, rados_diag, s, string_list};
use crate::provider::Ctx;

pub const TYPE: &str = "ceph_status";

fn host_type() -> Type {
    Type::object([
        ("osds", Type::list(Type::String)),
        ("osds_up", Type::Number),
        ("osds_in", Type::Number),
    ])
}

pub fn schema() -> ResourceSchema {
    let c = |ty: Type, d: &str| Attribute::computed(ty).describe(d);
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr("fsid", c(Type::String, "The cluster's fsid."))
            .attr(
                "health",
                c(Type::String, "HEALTH_OK, HEALTH_WARN or HEALTH_ERR."),
            )
            .attr(
                "health_checks",
                c(
                    Type::map(Type::String),
                    "Each failing health check's code (e.g. PG_DEGRADED) and its summary.",
                ),
            )
            .attr(
                "mon_quorum",
                c(Type::list(Type::String), "The monitors in quorum."),
            )
            .attr("osds", c(Type::Number, "OSDs in the OSD map."))
            .attr("osds_up", c(Type::Number, "OSDs up."))
            .attr("osds_in", c(Type::Number, "OSDs in."))
            .attr(
                "hosts",
                c(
                    Type::map(host_type()),
                    "Per host of the CRUSH map: its OSDs, how many are up and how many in.",
                ),
            )
            .attr("pools", c(Type::Number, "Pools."))
            .attr("pgs", c(Type::Number, "Placement groups."))
            .attr(
                "pgs_by_state",
                c(
                    Type::map(Type::Number),
                    "Placement groups per state, e.g. active+clean.",
                ),
            )
            .attr("bytes_total", c(Type::Number, "Raw capacity in bytes."))
            .attr("bytes_used", c(Type::Number, "Raw bytes used."))
            .attr("bytes_avail", c(Type::Number, "Raw bytes available.")),
    }
}

pub async fn read(ctx: &Ctx) -> Result<Value, Diagnostics> {
    let fail = |e| {
        vec![rados_diag(
            "Cannot read Ceph status",
            "reading the cluster's status",
            &e,
        )]
    };
    let status = ctx
        .mon_json(json!({"prefix": "status"}))
        .await
        .map_err(fail)?;
    let tree = ctx
        .mon_json(json!({"prefix": "osd tree"}))
        .await
        .map_err(fail)?;
    Ok(from_json(&status, &tree))
}

/// The data source's value from the answers of `status` and `osd tree`.
pub fn from_json(status: &Json, tree: &Json) -> Value {
    let health = &status["health"];
    let checks: BTreeMap<String, Value> = health["checks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(code, c)| (code.clone(), s(json_str(&c["summary"], "message"))))
        .collect();
    // `status` nests the OSD counts one level deeper in some releases.
    let osdmap = &status["osdmap"];
    let osdmap = if osdmap.get("osdmap").is_some() {
        &osdmap["osdmap"]
    } else {
        osdmap
    };
    let pgmap = &status["pgmap"];
    let by_state: BTreeMap<String, Value> = pgmap["pgs_by_state"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            (
                json_str(x, "state_name").to_string(),
                n(json_i64(x, "count")),
            )
        })
        .collect();
    let quorum = status["quorum_names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .map(str::to_string);
    Value::object_from([
        ("fsid", s(json_str(status, "fsid"))),
        ("health", s(json_str(health, "status"))),
        ("health_checks", Value::map(Type::String, checks)),
        ("mon_quorum", string_list(quorum)),
        ("osds", n(json_i64(osdmap, "num_osds"))),
        ("osds_up", n(json_i64(osdmap, "num_up_osds"))),
        ("osds_in", n(json_i64(osdmap, "num_in_osds"))),
        ("hosts", Value::map(host_type(), hosts(tree))),
        ("pools", n(json_i64(pgmap, "num_pools"))),
        ("pgs", n(json_i64(pgmap, "num_pgs"))),
        ("pgs_by_state", Value::map(Type::Number, by_state)),
        ("bytes_total", n(json_i64(pgmap, "bytes_total"))),
        ("bytes_used", n(json_i64(pgmap, "bytes_used"))),
        ("bytes_avail", n(json_i64(pgmap, "bytes_avail"))),
    ])
}

/// Each host bucket of the OSD tree with its OSDs, up (status `up`) and in (reweight above 0).
fn hosts(tree: &Json) -> BTreeMap<String, Value> {
    let nodes: BTreeMap<i64, &Json> = tree["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| Some((x["id"].as_i64()?, x)))
        .collect();
    let mut out = BTreeMap::new();
    for host in nodes.values().filter(|x| x["type"] == "host") {
        let osds: Vec<&Json> = host["children"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| nodes.get(&c.as_i64()?).copied())
            .filter(|c| c["type"] == "osd")
            .collect();
        let up = osds.iter().filter(|o| o["status"] == "up").count();
        let inn = osds
            .iter()
            .filter(|o| o["reweight"].as_f64().unwrap_or(0.0) > 0.0)
            .count();
        let mut names: Vec<String> = osds.iter().map(|o| json_str(o, "name").into()).collect();
        names.sort();
        out.insert(
            json_str(host, "name").to_string(),
            Value::object_from([
                ("osds", string_list(names)),
                ("osds_up", n(up as i64)),
                ("osds_in", n(inn as i64)),
            ]),
        );
    }
    out
}
