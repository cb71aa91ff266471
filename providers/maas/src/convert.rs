//! Small conversions between brick's [`Value`]s and the plain Rust and JSON values the MAAS
//! resources work with, and the provider's diagnostics.

use std::collections::BTreeMap;
use std::time::Duration;

use brick_provider_api::{Diagnostic, Number, Type, Value};
use serde_json::Value as Json;

use crate::client::MaasError;

/// A known, non-null string attribute.
pub fn str_attr<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

pub fn bool_attr(v: &Value, name: &str) -> Option<bool> {
    v.get(name).and_then(Value::as_bool)
}

/// Known strings of a list or set attribute (unknown or null gives `None`).
pub fn strings_attr(v: &Value, name: &str) -> Option<Vec<String>> {
    let x = v.get(name)?;
    if x.is_null() || !x.is_wholly_known() {
        return None;
    }
    Some(
        x.as_sequence()?
            .iter()
            .filter_map(|e| e.as_str().map(str::to_string))
            .collect(),
    )
}

/// Whether the attribute is present, known and not null.
pub fn is_set(v: &Value, name: &str) -> bool {
    v.get(name).is_some_and(|x| !x.is_null() && x.is_known())
}

pub fn s(x: impl Into<String>) -> Value {
    Value::string(x)
}
pub fn null_str() -> Value {
    Value::null(Type::String)
}
pub fn opt_s(x: Option<&str>) -> Value {
    x.map_or_else(null_str, s)
}
pub fn n(x: i64) -> Value {
    Value::number(Number::from_i64(x))
}
pub fn string_set(items: impl IntoIterator<Item = String>) -> Value {
    Value::set(Type::String, items.into_iter().map(Value::string).collect())
}
pub fn string_list(items: impl IntoIterator<Item = String>) -> Value {
    Value::list(Type::String, items.into_iter().map(Value::string).collect())
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

/// An object value with one attribute replaced.
pub fn with_attr(v: &Value, name: &str, x: Value) -> Value {
    let mut m = v.as_mapping().cloned().unwrap_or_default();
    m.insert(name.to_string(), x);
    Value::object(m).with_marks(v.marks)
}

pub fn json_str<'a>(j: &'a Json, k: &str) -> &'a str {
    j.get(k).and_then(Json::as_str).unwrap_or("")
}
pub fn json_i64(j: &Json, k: &str) -> i64 {
    j.get(k)
        .and_then(|x| x.as_i64().or_else(|| x.as_f64().map(|f| f as i64)))
        .unwrap_or(0)
}

/// Parses a Terraform-style duration: `40m`, `1h30m`, `90s`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = t.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0.001
        } else {
            match c {
                'h' => 3600.0,
                'm' => 60.0,
                's' => 1.0,
                _ => return None,
            }
        };
        let v: f64 = num.parse().ok()?;
        total += v * unit;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return None;
    }
    Some(Duration::from_secs_f64(total))
}

/// A provider diagnostic from a MAAS error, with context about what was being done.
pub fn maas_diag(summary: &str, doing: &str, e: &MaasError) -> Diagnostic {
    let text = e.to_string();
    let stop = if text.ends_with('.') { "" } else { "." };
    // A refused key is the provider's problem, not the resource's: the same words for every
    // resource, so that the engine says it once.
    if let MaasError::Auth { status: 401, .. } = e {
        return Diagnostic::error(e.code(), "MAAS refused the API key", format!("{text}{stop}"))
            .with_help(
                "Check the provider's api_key (or MAAS_API_KEY): it must be a key of a MAAS user, as `maas apikey --username USER` prints it.",
            );
    }
    let d = Diagnostic::error(e.code(), summary, format!("While {doing}: {text}{stop}"));
    match e {
        MaasError::Auth { .. } => d.with_help(
            "Check the provider's api_key (or MAAS_API_KEY): it must be a key of a MAAS user, as `maas apikey --username USER` prints it.",
        ),
        MaasError::Transport { .. } => d.with_help(
            "Check the provider's api_url (or MAAS_API_URL) and that MAAS is reachable; brick retried with backoff before giving up.",
        ),
        _ => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_terraform_timeouts() {
        assert_eq!(parse_duration("40m"), Some(Duration::from_secs(2400)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("forty"), None);
        assert_eq!(parse_duration("40"), None);
    }
}
