//! Conversions between brick's [`Value`]s and the JSON the API server speaks, and small
//! readers of attributes.

use std::collections::BTreeMap;
use std::time::Duration;

use brick_provider_api::{Number, Type, Value, value::Kind};
use serde_json::Value as Json;

/// A manifest value as JSON. Null attributes of objects are left out (HCL writes `x = null`
/// for "not set"); unknown values cannot reach here (apply sees wholly known values).
pub fn to_json(v: &Value) -> Json {
    match &v.kind {
        Kind::Null(_) | Kind::Unknown(_) => Json::Null,
        Kind::Bool(b) => Json::Bool(*b),
        Kind::Number(n) => number_json(n),
        Kind::String(s) => Json::String(s.clone()),
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            Json::Array(items.iter().map(to_json).collect())
        }
        Kind::Map(_, m) | Kind::Object(m) => Json::Object(
            m.iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k.clone(), to_json(x)))
                .collect(),
        ),
    }
}

fn number_json(n: &Number) -> Json {
    let text = n.to_string();
    serde_json::from_str::<Json>(&text).unwrap_or(Json::String(text))
}

/// JSON as a value: objects become objects, arrays tuples (as `jsondecode` makes them).
pub fn from_json(j: &Json) -> Value {
    match j {
        Json::Null => Value::null_dynamic(),
        Json::Bool(b) => Value::bool(*b),
        Json::Number(n) => Number::parse(&n.to_string())
            .map(Value::number)
            .unwrap_or_else(|| Value::string(n.to_string())),
        Json::String(s) => Value::string(s.clone()),
        Json::Array(items) => Value::tuple(items.iter().map(from_json).collect()),
        Json::Object(m) => Value::object(
            m.iter()
                .map(|(k, x)| (k.clone(), from_json(x)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// A known, non-null string attribute.
pub fn str_attr<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

pub fn bool_attr(v: &Value, name: &str) -> Option<bool> {
    v.get(name).and_then(Value::as_bool)
}

/// A string map attribute's known entries.
pub fn string_map_attr(v: &Value, name: &str) -> BTreeMap<String, String> {
    v.get(name)
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, x)| x.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn string_map(m: BTreeMap<String, String>) -> Value {
    Value::map(
        Type::String,
        m.into_iter().map(|(k, v)| (k, Value::string(v))).collect(),
    )
}

/// A Go-style duration: `30s`, `5m`, `1h30m`, `500ms`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += Duration::from_secs_f64(secs);
    }
    Some(total)
}

/// A path of JSON object keys, e.g. `status.phase`, read from `j`.
pub fn json_path<'a>(j: &'a Json, dotted: &str) -> Option<&'a Json> {
    dotted
        .split('.')
        .filter(|s| !s.is_empty())
        .try_fold(j, |at, key| at.get(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_as_go_writes_them() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5x"), None);
    }

    #[test]
    fn json_round_trips_through_values_and_nulls_in_objects_are_dropped() {
        let j: Json = serde_json::json!({"a": 1, "b": [true, "x", 2.5], "c": {"d": null}});
        let v = from_json(&j);
        assert_eq!(
            to_json(&v),
            serde_json::json!({"a": 1, "b": [true, "x", 2.5], "c": {}})
        );
    }
}
