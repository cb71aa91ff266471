//! `kafka_quota`: the client quotas of one entity (a user, a client id or an IP), with the
//! arguments of Terraform's Mongey/kafka provider. librdkafka has no client-quota API, so this
//! speaks DescribeClientQuotas and AlterClientQuotas through [`crate::wire`]. The resource owns
//! every quota of its entity; a key removed from `config` is removed from Kafka.

use std::collections::BTreeMap;

use brick_provider_api::provider::{ApplyResponse, PathStep, PlanResponse};
use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, ApiKey, DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::client::{CONNECT_TIMEOUT, Client, settle};
use crate::ffi::AdminError;
use crate::value::{kafka_diag, null_string_map, s, str_attr, string_map, string_map_attr};
use crate::wire::{Conn, kafka_code};

pub const TYPE: &str = "kafka_quota";

/// The entity types and the quota keys Kafka accepts for each.
const ENTITY_TYPES: &[(&str, &[&str])] = &[
    (
        "user",
        &[
            "producer_byte_rate",
            "consumer_byte_rate",
            "request_percentage",
            "controller_mutation_rate",
        ],
    ),
    (
        "client-id",
        &[
            "producer_byte_rate",
            "consumer_byte_rate",
            "request_percentage",
            "controller_mutation_rate",
        ],
    ),
    ("ip", &["connection_creation_rate"]),
];

pub fn schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "id",
                Attribute::computed(Type::String)
                    .describe("entity_name|entity_type; also the import id."),
            )
            .attr(
                "entity_name",
                Attribute::required(Type::String)
                    .forces_replacement()
                    .describe("The user name, client id or IP address."),
            )
            .attr(
                "entity_type",
                Attribute::required(Type::String)
                    .forces_replacement()
                    .describe("user, client-id or ip."),
            )
            .attr(
                "config",
                Attribute::required(Type::Map(Box::new(Type::String))).describe(
                    "Quotas as numbers in strings: producer_byte_rate, consumer_byte_rate, request_percentage, controller_mutation_rate; connection_creation_rate for an ip.",
                ),
            ),
    }
}

pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Vec::new();
    let ty = str_attr(config, "entity_type");
    let keys = ty.and_then(|t| ENTITY_TYPES.iter().find(|(n, _)| *n == t));
    if let (Some(t), None) = (ty, keys) {
        d.push(
            Diagnostic::error(
                "brick::kafka::invalid_quota",
                "Invalid quota entity type",
                format!("entity_type \"{t}\" is not one of user, client-id, ip."),
            )
            .at(["entity_type"]),
        );
    }
    if let Some(cfg) = string_map_attr(config, "config") {
        for (k, v) in cfg {
            if let Some((t, allowed)) = keys
                && !allowed.contains(&k.as_str())
            {
                d.push(
                    Diagnostic::error(
                        "brick::kafka::invalid_quota",
                        "Unknown quota",
                        format!(
                            "\"{k}\" is not a quota of a {t} entity; it takes {}.",
                            allowed.join(", ")
                        ),
                    )
                    .at(["config".to_string(), k.clone()]),
                );
            }
            if v.trim().parse::<f64>().is_err() {
                d.push(
                    Diagnostic::error(
                        "brick::kafka::invalid_quota",
                        "Invalid quota value",
                        format!("The quota {k} = \"{v}\" is not a number."),
                    )
                    .at(["config".to_string(), k.clone()]),
                );
            }
        }
    }
    d
}

fn id(name: &str, ty: &str) -> String {
    format!("{name}|{ty}")
}

pub fn plan(prior: &Value, proposed: &Value) -> PlanResponse {
    if proposed.is_null() {
        return PlanResponse::planned(proposed.clone());
    }
    let mut m = proposed.as_mapping().cloned().unwrap_or_default();
    let new_id = match (
        str_attr(proposed, "entity_name"),
        str_attr(proposed, "entity_type"),
    ) {
        (Some(n), Some(t)) => s(id(n, t)),
        _ => Value::unknown(Type::String),
    };
    m.insert("id".into(), new_id);
    let requires_replace = if prior.is_null() {
        Vec::new()
    } else {
        ["entity_name", "entity_type"]
            .iter()
            .filter(|a| prior.get(a) != proposed.get(a))
            .map(|a| vec![PathStep::Attr(a.to_string())])
            .collect()
    };
    PlanResponse {
        planned: Value::object(m),
        requires_replace,
        diagnostics: Vec::new(),
    }
}

/// The quotas Kafka holds for one entity (empty when none).
fn describe(client: &Client, name: &str, ty: &str) -> Result<BTreeMap<String, f64>, AdminError> {
    let mut conn = Conn::open(&client.settings, CONNECT_TIMEOUT)?;
    let req = DescribeClientQuotasRequest::default()
        .with_components(vec![
            ComponentData::default()
                .with_entity_type(StrBytes::from_string(ty.into()))
                .with_match_type(0)
                .with_match(Some(StrBytes::from_string(name.into()))),
        ])
        .with_strict(true);
    let r: DescribeClientQuotasResponse = conn.call(ApiKey::DescribeClientQuotas, 1, &req)?;
    kafka_code(r.error_code, r.error_message.as_ref().map(|m| m.as_str()))?;
    let mut out = BTreeMap::new();
    for e in r.entries.unwrap_or_default() {
        for v in e.values {
            out.insert(v.key.to_string(), v.value);
        }
    }
    Ok(out)
}

/// One AlterClientQuotas: set `set`, remove `remove`.
fn alter(
    client: &Client,
    name: &str,
    ty: &str,
    set: &BTreeMap<String, f64>,
    remove: &[String],
) -> Result<(), AdminError> {
    let mut conn = Conn::open(&client.settings, CONNECT_TIMEOUT)?;
    let mut ops: Vec<OpData> = set
        .iter()
        .map(|(k, v)| {
            OpData::default()
                .with_key(StrBytes::from_string(k.clone()))
                .with_value(*v)
        })
        .collect();
    ops.extend(remove.iter().map(|k| {
        OpData::default()
            .with_key(StrBytes::from_string(k.clone()))
            .with_remove(true)
    }));
    let req = AlterClientQuotasRequest::default().with_entries(vec![
        EntryData::default()
            .with_entity(vec![
                EntityData::default()
                    .with_entity_type(StrBytes::from_string(ty.into()))
                    .with_entity_name(Some(StrBytes::from_string(name.into()))),
            ])
            .with_ops(ops),
    ]);
    let r: AlterClientQuotasResponse = conn.call(ApiKey::AlterClientQuotas, 1, &req)?;
    for e in r.entries {
        kafka_code(e.error_code, e.error_message.as_ref().map(|m| m.as_str()))?;
    }
    Ok(())
}

/// A quota as text: the user's spelling when it is the same number, else Kafka's.
fn text(v: f64, carry: Option<&String>) -> String {
    if let Some(c) = carry
        && c.trim().parse::<f64>() == Ok(v)
    {
        return c.clone();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn state_of(name: &str, ty: &str, live: &BTreeMap<String, f64>, carry: &Value) -> Value {
    let wrote = string_map_attr(carry, "config").unwrap_or_default();
    let config = if live.is_empty() && carry.get("config").is_none_or(Value::is_null) {
        null_string_map()
    } else {
        string_map(
            live.iter()
                .map(|(k, v)| (k.clone(), text(*v, wrote.get(k))))
                .collect(),
        )
    };
    Value::object_from([
        ("id", s(id(name, ty))),
        ("entity_name", s(name)),
        ("entity_type", s(ty)),
        ("config", config),
    ])
}

fn numbers(m: &BTreeMap<String, String>) -> BTreeMap<String, f64> {
    m.iter()
        .filter_map(|(k, v)| Some((k.clone(), v.trim().parse().ok()?)))
        .collect()
}

pub async fn apply(
    client: &std::sync::Arc<crate::provider::Ctx>,
    prior: &Value,
    planned: &Value,
) -> ApplyResponse {
    let gone = planned.is_null();
    let subject = if gone { prior } else { planned };
    let name = str_attr(subject, "entity_name").unwrap_or("").to_string();
    let ty = str_attr(subject, "entity_type").unwrap_or("").to_string();
    let was = numbers(&string_map_attr(prior, "config").unwrap_or_default());
    let now = if gone {
        BTreeMap::new()
    } else {
        numbers(&string_map_attr(planned, "config").unwrap_or_default())
    };
    let remove: Vec<String> = was
        .keys()
        .filter(|k| !now.contains_key(*k))
        .cloned()
        .collect();
    let set: BTreeMap<String, f64> = now
        .iter()
        .filter(|(k, v)| was.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let ctx = client.clone();
    let (n2, t2, want) = (name.clone(), ty.clone(), now.clone());
    let r = tokio::task::spawn_blocking(move || {
        if !set.is_empty() || !remove.is_empty() {
            alter(&ctx.client, &n2, &t2, &set, &remove)?;
        }
        Ok::<_, AdminError>(())
    })
    .await
    .unwrap_or_else(|e| {
        Err(AdminError {
            code: rdkafka::error::RDKafkaErrorCode::Unknown,
            message: e.to_string(),
        })
    });
    let r = match r {
        Ok(()) => {
            let ctx = client.clone();
            settle("the quotas", || {
                let (ctx, n, t, want) = (ctx.clone(), name.clone(), ty.clone(), want.clone());
                async move {
                    let live = tokio::task::spawn_blocking(move || describe(&ctx.client, &n, &t))
                        .await
                        .unwrap_or_else(|e| {
                            Err(AdminError {
                                code: rdkafka::error::RDKafkaErrorCode::Unknown,
                                message: e.to_string(),
                            })
                        })?;
                    Ok(live == want)
                }
            })
            .await
        }
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => ApplyResponse {
            new_state: if gone {
                Value::null(prior.ty())
            } else {
                planned.clone()
            },
            diagnostics: Vec::new(),
        },
        Err(e) => ApplyResponse {
            new_state: prior.clone(),
            diagnostics: vec![kafka_diag(
                "Cannot change quotas",
                &format!("changing the quotas of {ty} {name}"),
                &e,
            )],
        },
    }
}

pub async fn read(
    ctx: &std::sync::Arc<crate::provider::Ctx>,
    current: &Value,
) -> Result<Option<Value>, Diagnostics> {
    let name = str_attr(current, "entity_name").unwrap_or("").to_string();
    let ty = str_attr(current, "entity_type").unwrap_or("").to_string();
    let c = ctx.clone();
    let (n2, t2) = (name.clone(), ty.clone());
    let live = tokio::task::spawn_blocking(move || describe(&c.client, &n2, &t2))
        .await
        .unwrap_or_else(|e| {
            Err(AdminError {
                code: rdkafka::error::RDKafkaErrorCode::Unknown,
                message: e.to_string(),
            })
        })
        .map_err(|e| {
            vec![kafka_diag(
                "Cannot read quotas",
                &format!("reading the quotas of {ty} {name}"),
                &e,
            )]
        })?;
    if live.is_empty() {
        return Ok(None);
    }
    Ok(Some(state_of(&name, &ty, &live, current)))
}

pub async fn import(
    ctx: &std::sync::Arc<crate::provider::Ctx>,
    import_id: &str,
) -> Result<Value, Diagnostics> {
    let Some((name, ty)) = import_id.rsplit_once('|') else {
        return Err(vec![
            Diagnostic::error(
                "brick::kafka::invalid_quota_id",
                "Invalid quota import id",
                format!("\"{import_id}\" is not entity_name|entity_type."),
            )
            .with_help("For example alice|user or billing-app|client-id."),
        ]);
    };
    let v = Value::object_from([
        ("entity_name", s(name)),
        ("entity_type", s(ty)),
        ("config", null_string_map()),
    ]);
    match read(ctx, &v).await? {
        Some(st) => Ok(st),
        None => Err(vec![Diagnostic::error(
            "brick::kafka::no_such_quota",
            "Quota not found",
            format!("Kafka has no quota for {ty} {name}."),
        )]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_keeps_the_users_spelling_of_the_same_number() {
        assert_eq!(text(4000000.0, Some(&"4000000".to_string())), "4000000");
        assert_eq!(text(4000000.0, Some(&"4e6".to_string())), "4e6");
        assert_eq!(text(4000000.0, None), "4000000");
        assert_eq!(text(12.5, Some(&"10".to_string())), "12.5");
    }

    #[test]
    fn quotas_are_checked_against_the_entity_type() {
        let v = |ty: &str, k: &str, val: &str| {
            Value::object_from([
                ("entity_name", s("alice")),
                ("entity_type", s(ty)),
                (
                    "config",
                    string_map([(k.to_string(), val.to_string())].into()),
                ),
            ])
        };
        assert!(validate(&v("user", "producer_byte_rate", "1024")).is_empty());
        assert!(!validate(&v("ip", "producer_byte_rate", "1024")).is_empty());
        assert!(!validate(&v("user", "producer_byte_rate", "fast")).is_empty());
        assert!(!validate(&v("group", "producer_byte_rate", "1")).is_empty());
    }
}
