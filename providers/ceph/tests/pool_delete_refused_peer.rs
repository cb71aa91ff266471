//! Deleting a `ceph_pool` while the monitors refuse pool deletion (`mon_allow_pool_delete =
//! false`), on the real Ceph peer: the refusal comes back as `brick::ceph::pool_delete_disabled`
//! with Ceph's reason and a hint, the pool stays in state and in Ceph. The option is
//! cluster-wide, so this is a test binary of its own: it turns the option off for as short a
//! time as it can (one delete attempt), takes a lock so two copies of this test never overlap,
//! and a guard puts the option back even when an assertion fails.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use brick_provider_api::provider::{ApplyRequest, NoProgress};
use brick_provider_api::{Provider, Value};
use brick_provider_ceph::resources::pool;
use common::*;

const OPTION: &str = "mon_allow_pool_delete";

/// The running value of the option, asked of the first monitor itself (`ceph config show`
/// answers from the manager's copy, which lags).
fn running_value() -> String {
    let dump = ceph(&["mon", "dump", "--format", "json"]);
    let dump: serde_json::Value = serde_json::from_str(&dump).unwrap();
    let mon = dump["mons"][0]["name"].as_str().expect("a mon").to_string();
    let got = ceph(&["tell", &format!("mon.{mon}"), "config", "get", OPTION]);
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    got[OPTION]
        .as_str()
        .expect("the option's value")
        .to_string()
}

/// A lock shared by every copy of this test on the machine (other worktrees use the same Ceph):
/// a directory made atomically; one older than two minutes is a crashed run's and is taken over.
struct Lock(PathBuf);

impl Lock {
    fn take() -> Lock {
        let path = std::env::temp_dir().join("brick-ceph-mon_allow_pool_delete.lock");
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if std::fs::create_dir(&path).is_ok() {
                return Lock(path);
            }
            let stale = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > Duration::from_secs(120));
            if stale {
                let _ = std::fs::remove_dir(&path);
                continue;
            }
            assert!(
                Instant::now() < deadline,
                "{} held too long",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Turns pool deletion off on every monitor (a runtime override, which beats the peer's
/// `ceph.conf`; the central config database would not) and back on when dropped: the
/// override is removed, and if that does not give back the value found, it is set explicitly.
struct DeletionOff {
    before: String,
}

impl DeletionOff {
    fn new() -> DeletionOff {
        let before = running_value();
        let guard = DeletionOff { before };
        ceph(&["tell", "mon.*", "config", "set", OPTION, "false"]);
        guard
    }
}

impl Drop for DeletionOff {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ceph")
            .args(["tell", "mon.*", "config", "unset", OPTION])
            .output();
        if running_value() != self.before {
            let _ = std::process::Command::new("ceph")
                .args(["tell", "mon.*", "config", "set", OPTION, &self.before])
                .output();
        }
        assert_eq!(running_value(), self.before, "{OPTION} restored");
    }
}

/// Removes the pool with the CLI when the test ends, however it ends.
struct PoolCleanup(String);

impl Drop for PoolCleanup {
    fn drop(&mut self) {
        remove_pool(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_pool_while_the_monitors_forbid_it_is_refused_with_the_reason_and_a_hint() {
    let Some(p) = peer().await else { return };
    let name = unique("deloff");
    let _cleanup = PoolCleanup(name.clone());
    let config = pool_config(vec![
        ("name", Value::string(&name)),
        ("size", num(1)),
        ("require_safe_replica_size", Value::bool(false)),
        ("pg_num", num(8)),
    ]);
    let state = plan_apply(&p, &Value::null_dynamic(), &config).await;
    assert!(cli_pool(&name).is_some());

    let lock = Lock::take();
    let refused = {
        let off = DeletionOff::new();
        assert_eq!(running_value(), "false", "the override took effect");
        let r = p
            .apply_resource(ApplyRequest {
                type_name: pool::TYPE,
                prior: &state,
                planned: &Value::null(state.ty()),
                progress: &NoProgress,
            })
            .await;
        drop(off);
        r
    };
    drop(lock);

    assert_eq!(refused.diagnostics.len(), 1, "{:?}", refused.diagnostics);
    let d = &refused.diagnostics[0];
    assert_eq!(d.code, "brick::ceph::pool_delete_disabled", "{d:?}");
    assert!(
        d.detail.contains(&name) && d.detail.contains(OPTION),
        "names the pool and Ceph's reason: {d:?}"
    );
    assert!(
        d.help
            .as_deref()
            .is_some_and(|h| h.contains("ceph config set mon mon_allow_pool_delete true")),
        "{d:?}"
    );
    assert_eq!(
        refused.new_state, state,
        "the pool is still recorded, unchanged"
    );
    assert!(cli_pool(&name).is_some(), "and still in Ceph");

    // With deletion allowed again the same change goes through.
    plan_apply(&p, &state, &Value::null(state.ty())).await;
    assert!(cli_pool(&name).is_none());
}
