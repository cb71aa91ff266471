//! The data source `maas_machines`: what MAAS already knows, filtered by hostname, tags, status,
//! pool and zone, for adopting machines (`for_each` over it, or `brick import`).

use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostics, Type, Value};
use serde_json::Value as Json;

use crate::convert::{json_i64, json_str, maas_diag, n, s, str_attr, string_list, strings_attr};
use crate::provider::Ctx;

pub const TYPE: &str = "maas_machines";

fn machine_type() -> Type {
    Type::object([
        ("system_id", Type::String),
        ("hostname", Type::String),
        ("fqdn", Type::String),
        ("status", Type::String),
        ("power_state", Type::String),
        ("pxe_mac_address", Type::String),
        ("cpu_count", Type::Number),
        ("memory_mib", Type::Number),
        ("tags", Type::list(Type::String)),
        ("ip_addresses", Type::list(Type::String)),
        ("pool", Type::String),
        ("zone", Type::String),
    ])
}

pub fn schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "hostnames",
                Attribute::optional(Type::list(Type::String))
                    .describe("Only machines with one of these hostnames."),
            )
            .attr(
                "tags",
                Attribute::optional(Type::list(Type::String))
                    .describe("Only machines with all of these tags."),
            )
            .attr(
                "status",
                Attribute::optional(Type::String)
                    .describe("Only machines in this status (MAAS's name, e.g. \"Ready\")."),
            )
            .attr(
                "pool",
                Attribute::optional(Type::String).describe("Only machines in this resource pool."),
            )
            .attr(
                "zone",
                Attribute::optional(Type::String).describe("Only machines in this zone."),
            )
            .attr(
                "machines",
                Attribute::computed(Type::list(machine_type()))
                    .describe("The machines that match, each with its system_id, hostname, status, tags, addresses and hardware."),
            ),
    }
}

pub fn machine_value(m: &Json) -> Value {
    let strings = |k: &str| -> Vec<String> {
        m.get(k)
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    Value::object_from([
        ("system_id", s(json_str(m, "system_id"))),
        ("hostname", s(json_str(m, "hostname"))),
        ("fqdn", s(json_str(m, "fqdn"))),
        ("status", s(json_str(m, "status_name"))),
        ("power_state", s(json_str(m, "power_state"))),
        (
            "pxe_mac_address",
            s(m.get("boot_interface")
                .map(|b| json_str(b, "mac_address"))
                .unwrap_or("")),
        ),
        ("cpu_count", n(json_i64(m, "cpu_count"))),
        ("memory_mib", n(json_i64(m, "memory"))),
        ("tags", string_list(strings("tag_names"))),
        ("ip_addresses", string_list(strings("ip_addresses"))),
        (
            "pool",
            s(m.get("pool").map(|p| json_str(p, "name")).unwrap_or("")),
        ),
        (
            "zone",
            s(m.get("zone").map(|p| json_str(p, "name")).unwrap_or("")),
        ),
    ])
}

pub async fn read(ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
    let mut filters: Vec<(&str, String)> = Vec::new();
    for h in strings_attr(config, "hostnames").unwrap_or_default() {
        filters.push(("hostname", h));
    }
    for t in strings_attr(config, "tags").unwrap_or_default() {
        filters.push(("tags", t));
    }
    for f in ["pool", "zone"] {
        if let Some(v) = str_attr(config, f) {
            filters.push((f, v.to_string()));
        }
    }
    let status = str_attr(config, "status").map(str::to_string);
    let machines = ctx
        .client
        .machines(&filters)
        .await
        .map_err(|e| vec![maas_diag("Cannot list machines", "listing machines", &e)])?;
    // Filter status here too: older MAAS releases ignore the status filter.
    let list: Vec<Value> = machines
        .iter()
        .filter(|m| {
            status
                .as_deref()
                .is_none_or(|st| json_str(m, "status_name").eq_ignore_ascii_case(st))
        })
        .map(machine_value)
        .collect();
    let mut out = config.as_mapping().cloned().unwrap_or_default();
    out.insert("machines".into(), Value::list(machine_type(), list));
    Ok(Value::object(out))
}
