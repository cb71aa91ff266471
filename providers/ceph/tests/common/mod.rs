//! Helpers shared by the provider's peer tests: a provider configured for the real Ceph peer
//! (`CEPH_CONF`, `CEPH_KEYRING`; the test is skipped without them), configuration values as
//! the engine sends them, and unique pool names.

#![allow(dead_code)]

use std::collections::BTreeMap;

use brick_provider_api::provider::{ApplyRequest, NoProgress, PlanRequest};
use brick_provider_api::{Number, Provider, Type, Value};
use brick_provider_ceph::CephProvider;
use brick_provider_ceph::resources::pool;

pub const SKIP: &str = "no Ceph — run tests/peers/up.sh ceph";

/// A provider connected to the peer, or `None` (the test is skipped) without one.
pub async fn peer() -> Option<CephProvider> {
    let Some(conf) = std::env::var_os("CEPH_CONF") else {
        brick_provider_api::testing::skip(SKIP);
        return None;
    };
    let p = CephProvider::default();
    let keyring = std::env::var("CEPH_KEYRING")
        .map(Value::string)
        .unwrap_or_else(|_| Value::null(Type::String));
    let diags = p
        .configure(&Value::object_from([
            ("config_file", Value::string(conf.to_string_lossy())),
            ("keyring", keyring),
            ("client", Value::null(Type::String)),
        ]))
        .await;
    assert!(diags.is_empty(), "{diags:?}");
    Some(p)
}

/// A pool name no other test (or run) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("brick-{prefix}-{}-{nanos}", std::process::id())
}

pub fn num(x: i64) -> Value {
    Value::number(Number::from_i64(x))
}

/// A `ceph_pool` configuration with every attribute null (as the engine sends unset ones),
/// the schema's defaults applied, then `set`.
pub fn pool_config(set: Vec<(&str, Value)>) -> Value {
    let mut m = BTreeMap::new();
    for (k, a) in &pool::schema().block.attributes {
        m.insert(
            k.clone(),
            a.default
                .clone()
                .unwrap_or_else(|| Value::null(a.ty.clone())),
        );
    }
    for (k, v) in set {
        m.insert(k.to_string(), v);
    }
    Value::object(m)
}

/// Plans and applies one change as the engine would; panics on error diagnostics.
pub async fn plan_apply(p: &CephProvider, prior: &Value, config: &Value) -> Value {
    let block = pool::schema().block;
    let proposed = brick_provider_api::lifecycle::proposed_new_state(&block, prior, config);
    let planned = p
        .plan_resource(PlanRequest {
            type_name: pool::TYPE,
            prior,
            proposed: &proposed,
        })
        .await;
    assert!(planned.diagnostics.is_empty(), "{:?}", planned.diagnostics);
    let applied = p
        .apply_resource(ApplyRequest {
            type_name: pool::TYPE,
            prior,
            planned: &planned.planned,
            progress: &NoProgress,
        })
        .await;
    assert!(applied.diagnostics.is_empty(), "{:?}", applied.diagnostics);
    let v = brick_provider_api::lifecycle::check_new_state(&planned.planned, &applied.new_state);
    assert!(v.is_empty(), "{v:?}");
    applied.new_state
}

/// `ceph osd pool ls detail --format json` through the real CLI: the pool named `name`.
pub fn cli_pool(name: &str) -> Option<serde_json::Value> {
    let out = std::process::Command::new("ceph")
        .args(["osd", "pool", "ls", "detail", "--format", "json"])
        .output()
        .expect("the ceph CLI runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    all.as_array()?
        .iter()
        .find(|p| p["pool_name"] == name)
        .cloned()
}

/// Runs the real `ceph` CLI; panics when it fails.
pub fn ceph(args: &[&str]) -> String {
    let out = std::process::Command::new("ceph")
        .args(args)
        .output()
        .expect("the ceph CLI runs");
    assert!(
        out.status.success(),
        "ceph {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Deletes a pool with the CLI whatever brick left (cleanup at a test's end).
pub fn remove_pool(name: &str) {
    let _ = std::process::Command::new("ceph")
        .args([
            "osd",
            "pool",
            "rm",
            name,
            name,
            "--yes-i-really-really-mean-it",
        ])
        .output();
}
