//! Small conversions between brick's [`Value`]s and the plain Rust values the resources use,
//! and the provider's diagnostics from Kafka's errors.

use std::collections::BTreeMap;

use brick_provider_api::{Diagnostic, Number, Type, Value};
use rdkafka::error::RDKafkaErrorCode;

use crate::ffi::AdminError;

/// A known, non-null string attribute.
pub fn str_attr<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

/// A known, non-null whole-number attribute.
pub fn int_attr(v: &Value, name: &str) -> Option<i64> {
    v.get(name)
        .and_then(Value::as_number)
        .and_then(Number::to_i64)
}

/// A known, non-null map of strings (`None` when null or not wholly known).
pub fn string_map_attr(v: &Value, name: &str) -> Option<BTreeMap<String, String>> {
    let m = v.get(name)?;
    if m.is_null() || !m.is_wholly_known() {
        return None;
    }
    Some(
        m.as_mapping()?
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect(),
    )
}

pub fn s(x: impl Into<String>) -> Value {
    Value::string(x)
}

pub fn n(x: i64) -> Value {
    Value::number(Number::from_i64(x))
}

pub fn string_map(items: BTreeMap<String, String>) -> Value {
    Value::map(
        Type::String,
        items
            .into_iter()
            .map(|(k, v)| (k, Value::string(v)))
            .collect(),
    )
}

pub fn null_string_map() -> Value {
    Value::null(Type::Map(Box::new(Type::String)))
}

/// A provider diagnostic from a Kafka error, saying what was being done.
pub fn kafka_diag(summary: &str, doing: &str, e: &AdminError) -> Diagnostic {
    let code = match e.code {
        RDKafkaErrorCode::TopicAlreadyExists => "brick::kafka::topic_exists",
        RDKafkaErrorCode::InvalidPartitions => "brick::kafka::invalid_partitions",
        RDKafkaErrorCode::InvalidReplicationFactor => "brick::kafka::invalid_replication_factor",
        RDKafkaErrorCode::InvalidConfig => "brick::kafka::invalid_config",
        RDKafkaErrorCode::SecurityDisabled => "brick::kafka::security_disabled",
        RDKafkaErrorCode::TopicAuthorizationFailed
        | RDKafkaErrorCode::ClusterAuthorizationFailed => "brick::kafka::not_authorized",
        RDKafkaErrorCode::OperationTimedOut
        | RDKafkaErrorCode::AllBrokersDown
        | RDKafkaErrorCode::BrokerTransportFailure => "brick::kafka::unreachable",
        _ => "brick::kafka::request_failed",
    };
    let d = Diagnostic::error(code, summary, format!("While {doing}: {e}."));
    match e.code {
        RDKafkaErrorCode::SecurityDisabled => d.with_help(
            "The cluster has no authorizer: set authorizer.class.name (StandardAuthorizer in KRaft) on the brokers to manage ACLs.",
        ),
        RDKafkaErrorCode::OperationTimedOut
        | RDKafkaErrorCode::AllBrokersDown
        | RDKafkaErrorCode::BrokerTransportFailure => d.with_help(
            "Check the provider's bootstrap_servers (or KAFKA_BOOTSTRAP_SERVERS), TLS and SASL settings, and that the brokers are up.",
        ),
        _ => d,
    }
}
