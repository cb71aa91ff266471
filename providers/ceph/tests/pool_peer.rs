//! `ceph_pool` and `ceph_status` through the provider against the real Ceph peer (one host,
//! one OSD), each checked with the real `ceph` CLI: in-place size changes (including Ceph's
//! size-1 confirmation), renames, deletion refused by Ceph, the placement check on the live
//! OSD tree and CRUSH rules, the status against `ceph status`, and an unreachable cluster.

mod common;

use brick_provider_api::provider::{ApplyRequest, NoProgress, ReadRequest};
use brick_provider_api::{Provider, Type, Value};
use brick_provider_ceph::CephProvider;
use brick_provider_ceph::resources::{pool, status};
use common::*;

fn size_one(name: &str, extra: Vec<(&'static str, Value)>) -> Value {
    let mut set = vec![
        ("name", Value::string(name)),
        ("size", num(1)),
        ("require_safe_replica_size", Value::bool(false)),
        ("pg_num", num(8)),
    ];
    set.extend(extra);
    pool_config(set)
}

fn with(v: &Value, attr: &str, x: Value) -> Value {
    let mut m = v.as_mapping().cloned().unwrap();
    m.insert(attr.into(), x);
    Value::object(m)
}

#[tokio::test(flavor = "multi_thread")]
async fn size_changes_in_place_and_back_to_one_with_cephs_confirmation() {
    let Some(p) = peer().await else { return };
    let name = unique("size");
    let cfg = size_one(&name, vec![]);
    let state = plan_apply(&p, &Value::null_dynamic(), &cfg).await;
    let id = cli_pool(&name).expect("created")["pool_id"].clone();

    // Two copies on one OSD: Ceph takes it (brick's plan check is what refuses it).
    let two = with(&cfg, "size", num(2));
    let state = plan_apply(&p, &state, &two).await;
    let live = cli_pool(&name).unwrap();
    assert_eq!(
        (live["size"].as_i64(), live["min_size"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(live["pool_id"], id, "changed in place, not replaced");

    // Back to one copy: Ceph wants --yes-i-really-mean-it, which brick sends.
    let state = plan_apply(&p, &state, &cfg).await;
    assert_eq!(cli_pool(&name).unwrap()["size"], 1);

    // Renamed in place: same pool id.
    let renamed = format!("{name}-renamed");
    let state = plan_apply(&p, &state, &with(&cfg, "name", Value::string(&renamed))).await;
    assert!(cli_pool(&name).is_none());
    assert_eq!(cli_pool(&renamed).unwrap()["pool_id"], id);

    plan_apply(&p, &state, &Value::null(state.ty())).await;
    assert!(cli_pool(&renamed).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_ceph_refuses_to_delete_stays_in_state_with_the_reason() {
    let Some(p) = peer().await else { return };
    let name = unique("nodelete");
    let state = plan_apply(&p, &Value::null_dynamic(), &size_one(&name, vec![])).await;
    ceph(&["osd", "pool", "set", &name, "nodelete", "true"]);

    let r = p
        .apply_resource(ApplyRequest {
            type_name: pool::TYPE,
            prior: &state,
            planned: &Value::null(state.ty()),
            progress: &NoProgress,
        })
        .await;
    let d = &r.diagnostics[0];
    assert_eq!(d.code, "brick::ceph::pool_delete_disabled", "{d:?}");
    assert!(
        d.detail.contains("nodelete"),
        "Ceph's reason is shown: {d:?}"
    );
    assert!(
        d.help.as_deref().unwrap().contains("nodelete false"),
        "{d:?}"
    );
    assert_eq!(
        r.new_state, state,
        "the pool is still there and still recorded"
    );
    assert!(cli_pool(&name).is_some());

    ceph(&["osd", "pool", "set", &name, "nodelete", "false"]);
    plan_apply(&p, &state, &Value::null(state.ty())).await;
    assert!(cli_pool(&name).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn creating_a_pool_that_exists_already_is_refused_and_records_nothing() {
    let Some(p) = peer().await else { return };
    let name = unique("exists");
    ceph(&["osd", "pool", "create", &name, "--pg_num", "1"]);
    let cfg = size_one(&name, vec![]);
    let planned = p
        .plan_resource(brick_provider_api::provider::PlanRequest {
            type_name: pool::TYPE,
            prior: &Value::null_dynamic(),
            proposed: &cfg,
        })
        .await
        .planned;
    let r = p
        .apply_resource(ApplyRequest {
            type_name: pool::TYPE,
            prior: &Value::null_dynamic(),
            planned: &planned,
            progress: &NoProgress,
        })
        .await;
    remove_pool(&name);
    assert_eq!(r.diagnostics[0].code, "brick::ceph::pool_exists");
    assert!(r.new_state.is_null(), "someone else's pool is not recorded");
}

/// The plan check of `size`, on the peer's real OSD tree and CRUSH rules.
async fn placement(p: &CephProvider, planned: &Value) -> Vec<brick_provider_api::Diagnostic> {
    let ctx = p.ctx().unwrap();
    let changes = [pool::PoolChange {
        index: 0,
        prior: &Value::null_dynamic(),
        planned,
    }];
    pool::check_placement(&ctx, &changes)
        .await
        .into_iter()
        .map(|(i, d)| {
            assert_eq!(i, 0);
            d
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_live_placement_check_refuses_two_copies_on_the_peers_single_osd_and_single_host() {
    let Some(p) = peer().await else { return };
    let one = size_one("brick-placement", vec![]);
    assert!(placement(&p, &one).await.is_empty(), "one copy fits");

    // The default rule of the peer spreads copies over OSDs (`osd crush chooseleaf type = 0`).
    let d = placement(&p, &with(&one, "size", num(2))).await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, "brick::ceph::pool_size_exceeds_failure_domains");
    assert_eq!(d[0].attribute, ["size"]);
    assert!(
        d[0].detail.contains(
            "asks for 2 copies, each on a different OSD (CRUSH rule \"replicated_rule\")"
        ) && d[0].detail.contains("1 OSD receives data: osd.0"),
        "{}",
        d[0].detail
    );

    // A rule with host as failure domain: the host is named, with its OSD.
    let rule = unique("host-rule");
    ceph(&[
        "osd",
        "crush",
        "rule",
        "create-replicated",
        &rule,
        "default",
        "host",
    ]);
    let hosts: Vec<String> = {
        let tree: serde_json::Value =
            serde_json::from_str(&ceph(&["osd", "tree", "--format", "json"])).unwrap();
        tree["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["type"] == "host")
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect()
    };
    let by_host = with(
        &with(&one, "size", num(2)),
        "crush_rule",
        Value::string(&rule),
    );
    let d = placement(&p, &by_host).await;
    ceph(&["osd", "crush", "rule", "rm", &rule]);
    assert_eq!(hosts.len(), 1, "the peer has one host: {hosts:?}");
    assert!(
        d[0].detail
            .contains(&format!("1 host carries OSDs: {} (osd.0)", hosts[0])),
        "{}",
        d[0].detail
    );
    assert!(d[0].help.as_deref().unwrap().contains("lower size to 1"));

    let d = placement(&p, &with(&one, "crush_rule", Value::string("no-such-rule"))).await;
    assert_eq!(d[0].code, "brick::ceph::unknown_crush_rule");
    assert!(d[0].help.as_deref().unwrap().contains("replicated_rule"));
}

#[tokio::test(flavor = "multi_thread")]
async fn ceph_status_agrees_with_the_ceph_cli() {
    let Some(p) = peer().await else { return };
    let v = p
        .read_data_source(status::TYPE, &Value::empty_object())
        .await
        .unwrap();
    let cli: serde_json::Value =
        serde_json::from_str(&ceph(&["status", "--format", "json"])).unwrap();
    let tree: serde_json::Value =
        serde_json::from_str(&ceph(&["osd", "tree", "--format", "json"])).unwrap();
    let num_of = |attr: &str| v.get(attr).unwrap().as_number().unwrap().to_i64().unwrap();
    assert_eq!(v.get("fsid").unwrap().as_str(), cli["fsid"].as_str());
    assert_eq!(
        v.get("health").unwrap().as_str(),
        cli["health"]["status"].as_str()
    );
    assert_eq!(num_of("osds"), cli["osdmap"]["num_osds"].as_i64().unwrap());
    assert_eq!(
        num_of("osds_up"),
        cli["osdmap"]["num_up_osds"].as_i64().unwrap()
    );
    assert_eq!(
        num_of("osds_in"),
        cli["osdmap"]["num_in_osds"].as_i64().unwrap()
    );
    assert_eq!(
        num_of("bytes_total"),
        cli["pgmap"]["bytes_total"].as_i64().unwrap()
    );
    let quorum: Vec<&str> = v
        .get("mon_quorum")
        .unwrap()
        .as_sequence()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    let cli_quorum: Vec<&str> = cli["quorum_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(quorum, cli_quorum);
    // Per host: the tree's hosts and OSDs.
    let hosts = v.get("hosts").unwrap().as_mapping().unwrap();
    for node in tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "host")
    {
        let h = &hosts[node["name"].as_str().unwrap()];
        let osds = h.get("osds").unwrap().as_sequence().unwrap().len();
        assert_eq!(osds, node["children"].as_array().unwrap().len(), "{h:?}");
        assert_eq!(
            h.get("osds_up").unwrap().as_number().unwrap().to_i64(),
            Some(osds as i64),
            "every OSD of the peer is up"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_cluster_is_a_clear_error_within_seconds() {
    let Ok(conf) = std::env::var("CEPH_CONF") else {
        brick_provider_api::testing::skip(SKIP);
        return;
    };
    // The peer's configuration with the monitors moved to a port nobody listens on.
    let text = std::fs::read_to_string(&conf).unwrap();
    let dead: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("mon host") {
                "mon host = [v2:127.0.0.1:1,v1:127.0.0.1:2]".to_string()
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    let dir = std::env::temp_dir().join(format!("brick-ceph-dead-{}", std::process::id()));
    std::fs::write(&dir, dead).unwrap();
    let p = CephProvider::default();
    let t0 = std::time::Instant::now();
    let d = p
        .configure(&Value::object_from([
            ("config_file", Value::string(dir.to_string_lossy())),
            (
                "keyring",
                Value::string(std::env::var("CEPH_KEYRING").unwrap_or_default()),
            ),
            ("client", Value::null(Type::String)),
        ]))
        .await;
    let took = t0.elapsed();
    std::fs::remove_file(&dir).unwrap();
    assert_eq!(d[0].code, "brick::ceph::unreachable", "{d:?}");
    assert!(d[0].detail.contains("answered within 10 s"), "{d:?}");
    assert!(took.as_secs() < 20, "gave up after {took:?}");
    // Used anyway, it says it is not configured rather than hanging.
    let r = p
        .read_resource(ReadRequest {
            type_name: pool::TYPE,
            current: &Value::null_dynamic(),
        })
        .await;
    assert_eq!(r.unwrap_err()[0].code, "brick::ceph::unconfigured");
}
