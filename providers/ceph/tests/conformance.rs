//! The provider conformance suite (brick_provider_api::conformance) run against the ceph
//! provider and the real Ceph peer.

mod common;

use brick_provider_api::Value;
use brick_provider_api::conformance::{Fixture, assert_conforms};
use brick_provider_ceph::resources::pool;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_ceph_provider_keeps_the_provider_contract_on_the_real_peer() {
    let Some(p) = peer().await else { return };
    let name = unique("conformance");
    let base = vec![
        ("name", Value::string(&name)),
        ("size", num(1)),
        ("require_safe_replica_size", Value::bool(false)),
        ("pg_num", num(8)),
    ];
    let created = pool_config(base.clone());
    let mut changed = base;
    changed.extend([
        ("pg_num", num(16)),
        ("application", Value::string("rbd")),
        ("quota_max_bytes", num(1 << 30)),
        ("quota_max_objects", num(1000)),
    ]);
    let updated = pool_config(changed);
    assert_conforms(
        &p,
        &[Fixture::new(pool::TYPE, created)
            .updated(updated)
            .import_id_attr("name")],
    )
    .await;
    assert!(cli_pool(&name).is_none(), "the suite deletes the pool");
}
