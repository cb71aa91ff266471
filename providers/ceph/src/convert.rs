//! Small conversions between brick's [`Value`]s and the JSON Ceph answers with, and the
//! provider's diagnostics for librados errors.

use brick_provider_api::{Diagnostic, Number, Type, Value};
use serde_json::Value as Json;

use crate::rados::RadosError;

/// A known, non-null string attribute.
pub fn str_attr<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

/// A known, non-null whole-number attribute (`None` for fractions too).
pub fn int_attr(v: &Value, name: &str) -> Option<i64> {
    v.get(name)
        .and_then(Value::as_number)
        .and_then(Number::to_i64)
}

/// A known, non-null number attribute that is not a whole number (or too large).
pub fn non_integer(v: &Value, name: &str) -> bool {
    v.get(name)
        .and_then(Value::as_number)
        .is_some_and(|n| n.to_i64().is_none())
}

pub fn bool_attr(v: &Value, name: &str) -> Option<bool> {
    v.get(name).and_then(Value::as_bool)
}

/// Whether the attribute is known and not null.
pub fn is_set(v: &Value, name: &str) -> bool {
    v.get(name).is_some_and(|x| x.is_known() && !x.is_null())
}

pub fn s(x: impl Into<String>) -> Value {
    Value::string(x)
}
pub fn n(x: i64) -> Value {
    Value::number(Number::from_i64(x))
}

pub fn json_str<'a>(j: &'a Json, k: &str) -> &'a str {
    j.get(k).and_then(Json::as_str).unwrap_or("")
}
pub fn json_i64(j: &Json, k: &str) -> i64 {
    j.get(k)
        .and_then(|x| x.as_i64().or_else(|| x.as_f64().map(|f| f as i64)))
        .unwrap_or(0)
}

/// A list of strings.
pub fn string_list(items: impl IntoIterator<Item = String>) -> Value {
    Value::list(Type::String, items.into_iter().map(Value::string).collect())
}

/// A diagnostic for a failed librados call or monitor command, with a help line fitting its
/// cause. `doing` completes "While …".
pub fn rados_diag(summary: &str, doing: &str, e: &RadosError) -> Diagnostic {
    let text = e.to_string();
    let stop = if text.ends_with('.') { "" } else { "." };
    let detail = format!("While {doing}: {text}{stop}");
    match e {
        RadosError::Load { .. } => Diagnostic::error("brick::ceph::librados", summary, detail)
            .with_help(
                "The ceph provider needs librados at run time: install it (Debian and Ubuntu: `apt-get install librados2`).",
            ),
        RadosError::Call { errno, .. } => {
            let d = Diagnostic::error(code_of(*errno), summary, detail);
            match *errno {
                ETIMEDOUT => d.with_help(
                    "No monitor answered in time: check `mon host` in the provider's config_file (or CEPH_CONF) and that the monitors are running and reachable.",
                ),
                EACCES | EPERM if doing.starts_with("connecting") => d.with_help(
                    "The monitors refused the credentials: check the provider's keyring (or CEPH_KEYRING) and client (the key must be client.<client>'s).",
                ),
                _ => d,
            }
        }
        _ => Diagnostic::error("brick::ceph::error", summary, detail),
    }
}

/// The diagnostic code for an errno returned by librados or a monitor.
fn code_of(errno: i32) -> &'static str {
    match errno {
        ETIMEDOUT => "brick::ceph::unreachable",
        EACCES => "brick::ceph::access_denied",
        EPERM => "brick::ceph::refused",
        ENOENT => "brick::ceph::not_found",
        EINVAL => "brick::ceph::invalid",
        _ => "brick::ceph::error",
    }
}

pub const EPERM: i32 = 1;
pub const ENOENT: i32 = 2;
pub const EACCES: i32 = 13;
pub const EEXIST: i32 = 17;
pub const EINVAL: i32 = 22;
pub const ETIMEDOUT: i32 = 110;
