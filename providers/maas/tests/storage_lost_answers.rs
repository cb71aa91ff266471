//! Storage operations whose answer a gateway lost (a 504 after MAAS did the work) are read
//! back, not sent again: a second `create_logical_volume`, `unmount` or `unformat` is refused
//! by MAAS, a second `format` or `mount` does the work twice.

mod common;

use std::collections::BTreeMap;

use brick_provider_api::Value;
use brick_provider_maas::resources::machine;
use brick_provider_maas::sim::SimOptions;
use brick_provider_maas::sim::world::Status;
use common::*;

/// How many times `op` was sent.
fn sent(sim: &brick_provider_maas::sim::Simulator, op: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.op.as_deref() == Some(op))
        .count()
}

/// The garage node with its root volume in `xfs`: the layout's ext4 root is unmounted,
/// unformatted, formatted and mounted again; `srv`: with an ext4 volume at /srv too.
fn xfs_root_node(host: &str, srv: bool) -> Value {
    let vol_ty = machine::schema().block.blocks["storage"].block.blocks["volume"]
        .block
        .value_type();
    let mut vols = BTreeMap::new();
    vols.insert("root".to_string(), volume("100G", Some("xfs"), Some("/")));
    vols.insert("ceph".to_string(), volume("rest", None, None));
    if srv {
        vols.insert("srv".to_string(), volume("20G", Some("ext4"), Some("/srv")));
    }
    let storage = Value::object_from([
        ("layout", Value::string("lvm")),
        ("volume", Value::map(vol_ty, vols)),
    ]);
    let mut m = garage_node(host).as_mapping().cloned().unwrap();
    m.insert("storage".into(), storage);
    Value::object(m)
}

/// Deploys `config` on kvm4 with the first answer to `op` lost; the operation is sent once
/// and the machine ends with the whole layout.
async fn deploy_with_lost_answer_to(op: &str, config: Value) {
    let (sim, p) = lab(SimOptions::fast()).await;
    sim.clear_requests();
    sim.lose_answers_to(op, 1);
    let out = create(&p, &config).await;
    assert!(out.errors.is_empty(), "{op}: {:?}", out.errors);
    assert_eq!(attr(&out.state, "status"), "Deployed");
    assert_eq!(sim.faults_injected(), 1, "{op}: one answer lost");
    assert_eq!(
        sent(&sim, op),
        1,
        "{op} was sent again: {:?}",
        sim.requests()
    );
    assert_eq!(sent(&sim, "set_storage_layout"), 1, "{op}: layout redone");
    let root_fs = if op == "create_logical_volume" {
        "ext4"
    } else {
        "xfs"
    };
    sim.with_world(|w| {
        let m = w.by_hostname("kvm4").unwrap();
        assert_eq!(m.status, Status::Deployed);
        assert_eq!(m.storage.vgs.len(), 1);
        let vg = &m.storage.vgs[0];
        let lvs: Vec<_> = m.storage.lvs(vg.id).collect();
        let root = lvs.iter().find(|d| d.name == "vgroot-root").unwrap();
        let fs = root.fs.as_ref().unwrap();
        assert_eq!(fs.fstype, root_fs, "{op}");
        assert_eq!(fs.mount_point.as_deref(), Some("/"), "{op}");
        let ceph = lvs.iter().find(|d| d.name == "vgroot-ceph").unwrap();
        assert!(ceph.fs.is_none(), "{op}");
        assert_eq!(m.storage.vg_size(vg), m.storage.vg_used(vg), "{op}");
    });
}

/// The flaky `three_machines_converge_…` test's failure: "Logical volume with this name
/// already exists in the volume group" after a 504 to `create_logical_volume`.
#[tokio::test]
async fn a_logical_volume_whose_create_answer_was_lost_is_read_back_not_created_twice() {
    deploy_with_lost_answer_to("create_logical_volume", garage_node("kvm4")).await;
}

#[tokio::test]
async fn an_unmount_whose_answer_was_lost_is_read_back_not_sent_twice() {
    deploy_with_lost_answer_to("unmount", xfs_root_node("kvm4", false)).await;
}

#[tokio::test]
async fn an_unformat_whose_answer_was_lost_is_read_back_not_sent_twice() {
    deploy_with_lost_answer_to("unformat", xfs_root_node("kvm4", false)).await;
}

#[tokio::test]
async fn a_format_whose_answer_was_lost_is_read_back_not_sent_twice() {
    deploy_with_lost_answer_to("format", xfs_root_node("kvm4", false)).await;
}

#[tokio::test]
async fn a_mount_whose_answer_was_lost_is_read_back_not_sent_twice() {
    deploy_with_lost_answer_to("mount", xfs_root_node("kvm4", false)).await;
}

/// A lost answer to the create of a volume that is formatted and mounted (srv): its id comes
/// from the read-back, and the format and mount that follow reach the right device.
#[tokio::test]
async fn a_formatted_volume_whose_create_answer_was_lost_is_formatted_and_mounted() {
    let (sim, p) = lab(SimOptions::fast()).await;
    sim.lose_answers_to("create_logical_volume", 2);
    let out = create(&p, &xfs_root_node("kvm4", true)).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(sim.faults_injected(), 2);
    assert_eq!(sent(&sim, "create_logical_volume"), 2);
    sim.with_world(|w| {
        let m = w.by_hostname("kvm4").unwrap();
        let vg = &m.storage.vgs[0];
        let srv = m
            .storage
            .lvs(vg.id)
            .find(|d| d.name == "vgroot-srv")
            .unwrap();
        assert!(srv.size >= 20_000_000_000 && srv.size < 20_004_194_304);
        let fs = srv.fs.as_ref().unwrap();
        assert_eq!(fs.fstype, "ext4");
        assert_eq!(fs.mount_point.as_deref(), Some("/srv"));
    });
}
