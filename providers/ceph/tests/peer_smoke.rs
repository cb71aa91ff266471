//! Smoke tests against a real Ceph cluster (`tests/peers/up.sh ceph`): the monitor-command route
//! the provider uses, through librados loaded at run time. Skipped, with a visible line, when
//! `CEPH_CONF` is not set.

use brick_provider_ceph::rados::{ConnectOptions, Rados};
use serde_json::{Value, json};

/// Says that a test is skipped for want of the peer (a failure under `BRICK_TEST_STRICT=1`).
fn skip() {
    brick_provider_api::testing::skip(SKIP);
}

const SKIP: &str = "no Ceph — run tests/peers/up.sh ceph";

fn connect() -> Option<Rados> {
    let Some(conf) = std::env::var_os("CEPH_CONF") else {
        skip();
        return None;
    };
    let mut opts = ConnectOptions::new(conf);
    opts.keyring = std::env::var_os("CEPH_KEYRING").map(Into::into);
    Some(Rados::connect(&opts).expect("connecting to the Ceph peer"))
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn pool_detail(rados: &Rados, name: &str) -> Option<Value> {
    let pools = rados
        .mon_command_json(&json!({"prefix": "osd pool ls", "detail": "detail"}))
        .expect("osd pool ls detail");
    pools
        .as_array()
        .expect("osd pool ls detail returns a list")
        .iter()
        .find(|p| p["pool_name"] == name)
        .cloned()
}

#[test]
fn a_pool_created_with_a_monitor_command_is_listed_with_its_settings_and_is_gone_after_deletion() {
    let Some(rados) = connect() else { return };
    let pool = unique("brick-smoke");

    let reply = rados
        .mon_command(&json!({"prefix": "osd pool create", "pool": pool, "pg_num": 8}))
        .expect("osd pool create");
    assert!(
        reply.status.contains(&pool),
        "unexpected status: {}",
        reply.status
    );

    let detail = pool_detail(&rados, &pool).expect("the new pool is listed");
    assert_eq!(detail["pg_num_target"], 8, "{detail}");
    assert_eq!(
        detail["size"], 1,
        "the peer's default pool size is 1: {detail}"
    );

    // Creating it again is idempotent, as the provider relies on.
    rados
        .mon_command(&json!({"prefix": "osd pool create", "pool": pool, "pg_num": 8}))
        .expect("creating an existing pool again succeeds");

    // Without the confirmation flag the monitor refuses to delete.
    let refused = rados
        .mon_command(&json!({"prefix": "osd pool rm", "pool": pool, "pool2": pool}))
        .expect_err("deleting without confirmation is refused");
    assert_eq!(refused.errno(), Some(EPERM), "{refused}");
    assert!(pool_detail(&rados, &pool).is_some());

    rados
        .mon_command(&json!({
            "prefix": "osd pool rm",
            "pool": pool,
            "pool2": pool,
            "yes_i_really_really_mean_it": true
        }))
        .expect("osd pool rm");
    assert!(
        pool_detail(&rados, &pool).is_none(),
        "the pool is gone after deletion"
    );
}

#[test]
fn an_unknown_monitor_command_is_an_error_with_the_monitors_explanation() {
    let Some(rados) = connect() else { return };
    let err = rados
        .mon_command(&json!({"prefix": "osd pool frobnicate", "pool": "x"}))
        .expect_err("an unknown command fails");
    assert_eq!(err.errno(), Some(22), "EINVAL expected: {err}");
}

#[test]
fn connecting_with_a_configuration_file_that_does_not_exist_fails_cleanly() {
    if std::env::var_os("CEPH_CONF").is_none() {
        skip();
        return;
    }
    let err = Rados::connect(&ConnectOptions::new("/nonexistent/brick/ceph.conf"))
        .expect_err("a missing ceph.conf is an error");
    assert_eq!(err.errno(), Some(2), "ENOENT expected: {err}");
}

/// errno EPERM, as the monitor returns it for a refused pool deletion.
const EPERM: i32 = 1;
