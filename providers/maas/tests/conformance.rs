//! The provider conformance suite (brick_provider_api::conformance) run against the maas
//! provider and the simulator.

mod common;

use brick_provider_api::Value;
use brick_provider_api::conformance::{Fixture, assert_conforms};
use brick_provider_maas::resources::{machine, tag};
use brick_provider_maas::sim::SimOptions;
use common::*;

#[tokio::test]
async fn the_maas_provider_keeps_the_provider_contract() {
    let (_sim, p) = lab(SimOptions::fast()).await;
    let node = garage_node("kvm4");
    let mut retagged = node.as_mapping().cloned().unwrap();
    retagged.insert("tags".into(), strs(&["garage", "ceph"]));
    let mut redeployed = retagged.clone();
    redeployed.insert("distro_series".into(), Value::string("noble"));
    let tag_cfg = conform(
        &tag::schema().block,
        vec![("name", Value::string("garage-x"))],
    );
    let tag_upd = conform(
        &tag::schema().block,
        vec![
            ("name", Value::string("garage-x")),
            ("comment", Value::string("old PCs")),
        ],
    );
    assert_conforms(
        &p,
        &[
            Fixture::new(machine::TYPE, node.clone())
                .updated(Value::object(retagged))
                .import_id_attr("system_id"),
            Fixture::new(machine::TYPE, garage_node("kvm5")).updated(Value::object(redeployed)),
            Fixture::new(tag::TYPE, tag_cfg)
                .updated(tag_upd)
                .import_id_attr("name"),
        ],
    )
    .await;
}
