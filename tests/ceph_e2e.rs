//! The ceph provider through the real `brick` binary against the real Ceph peer (one host,
//! one OSD; `source .peers/env` for CEPH_CONF and CEPH_KEYRING, skipped without them), each
//! result checked with the real `ceph` CLI: a pool's life (create, change, drift, import,
//! delete), impossible pools refused at plan with file and line, `ceph_status` against
//! `ceph status`, and an unreachable cluster.

mod support;

use std::process::Command;

use support::{Dir, Run, command};

const SKIP: &str = "no Ceph — run tests/peers/up.sh ceph";

/// Whether the Ceph peer's settings are present (else the test is skipped).
fn have_peer() -> bool {
    if std::env::var_os("CEPH_CONF").is_none() {
        brick_provider_api::testing::skip(SKIP);
        return false;
    }
    true
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("brick-e2e-{prefix}-{}-{nanos}", std::process::id())
}

/// The real `ceph` CLI; panics when it fails.
fn ceph(args: &[&str]) -> String {
    let out = Command::new("ceph").args(args).output().expect("ceph runs");
    assert!(
        out.status.success(),
        "ceph {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ceph_json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    serde_json::from_str(&ceph(&all)).unwrap()
}

/// The third-party view of a pool: `ceph osd pool ls detail --format json`.
fn live_pool(name: &str) -> Option<serde_json::Value> {
    ceph_json(&["osd", "pool", "ls", "detail"])
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pool_name"] == name)
        .cloned()
}

/// Deletes the named pools when the test ends, however it ends.
struct Cleanup(Vec<String>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = Command::new("ceph")
                .args(["osd", "pool", "rm", p, p, "--yes-i-really-really-mean-it"])
                .output();
        }
    }
}

fn brick(dir: &Dir, args: &[&str]) -> Run {
    Run::of(&mut command(dir.path(), args))
}

fn write(dir: &Dir, hcl: &str) {
    std::fs::write(dir.path().join("main.hcl"), hcl).unwrap();
}

fn pool_hcl(name: &str, body: &str) -> String {
    format!(
        "resource \"ceph_pool\" \"data\" {{\n  name = \"{name}\"\n  size = 1\n  require_safe_replica_size = false\n{body}}}\n"
    )
}

#[test]
fn a_pool_is_created_changed_drifted_imported_and_deleted_through_brick() {
    if !have_peer() {
        return;
    }
    let name = unique("life");
    let adopted = unique("adopted");
    let _cleanup = Cleanup(vec![name.clone(), adopted.clone()]);
    let dir = Dir::new(&pool_hcl(
        &name,
        "  pg_num = 8\n  application = \"rbd\"\n  quota_max_bytes = 1073741824\n",
    ));

    // Create.
    brick(&dir, &["apply", "--auto-approve"]).ok();
    let p = live_pool(&name).expect("the pool exists");
    assert_eq!(p["size"], 1);
    assert_eq!(p["pg_num_target"], 8);
    assert_eq!(
        p["pg_autoscale_mode"], "off",
        "pg_num fixed: autoscaler off"
    );
    assert_eq!(p["quota_max_bytes"], 1073741824u64);
    assert!(p["application_metadata"].get("rbd").is_some(), "{p}");
    let id = p["pool_id"].clone();
    brick(&dir, &["plan", "--detailed-exitcode"]).ok();

    // Change quotas and placement groups in place.
    write(
        &dir,
        &pool_hcl(
            &name,
            "  pg_num = 16\n  application = \"rbd\"\n  quota_max_objects = 500\n",
        ),
    );
    let plan = brick(&dir, &["plan"]).ok();
    assert!(
        plan.stdout.contains("will be updated in-place")
            && plan
                .stdout
                .contains("quota_max_bytes           = 1073741824 -> 0")
            && plan.stdout.contains("pg_num                    = 8 -> 16"),
        "{}",
        plan.stdout
    );
    brick(&dir, &["apply", "--auto-approve"]).ok();
    let p = live_pool(&name).unwrap();
    assert_eq!(p["pool_id"], id, "changed in place");
    assert_eq!(p["pg_num_target"], 16);
    assert_eq!(p["quota_max_bytes"], 0);
    assert_eq!(p["quota_max_objects"], 500);

    // Drift: a change made with the ceph CLI shows in the plan, and apply undoes it.
    ceph(&["osd", "pool", "set-quota", &name, "max_objects", "77"]);
    ceph(&[
        "osd",
        "pool",
        "application",
        "enable",
        &name,
        "rgw",
        "--yes-i-really-mean-it",
    ]);
    let drift = brick(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift
            .stdout
            .contains("quota_max_objects         = 77 -> 500")
            && drift
                .stdout
                .contains("application               = \"rbd,rgw\" -> \"rbd\""),
        "{}",
        drift.stdout
    );
    brick(&dir, &["apply", "--auto-approve"]).ok();
    let p = live_pool(&name).unwrap();
    assert_eq!(p["quota_max_objects"], 500);
    let apps: Vec<&String> = p["application_metadata"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(apps, ["rbd"]);

    // Import a pool made with the CLI; a configuration matching it plans no change.
    ceph(&[
        "osd",
        "pool",
        "create",
        &adopted,
        "--pg_num",
        "4",
        "--autoscale_mode",
        "off",
    ]);
    ceph(&["osd", "pool", "application", "enable", &adopted, "cephfs"]);
    let both = format!(
        "{}resource \"ceph_pool\" \"adopted\" {{\n  name = \"{adopted}\"\n  size = 1\n  require_safe_replica_size = false\n  pg_num = 4\n  pg_autoscale_mode = \"off\"\n  application = \"cephfs\"\n}}\n",
        pool_hcl(
            &name,
            "  pg_num = 16\n  application = \"rbd\"\n  quota_max_objects = 500\n"
        )
    );
    write(&dir, &both);
    brick(&dir, &["import", "ceph_pool.adopted", &adopted]).ok();
    let state = dir.state();
    assert!(
        state.to_string().contains(&format!("\"id\":\"{adopted}\"")),
        "{state}"
    );
    let plan = brick(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);

    // Delete both.
    write(&dir, "");
    let gone = brick(&dir, &["apply", "--auto-approve"]).ok();
    assert!(gone.stdout.contains("2 destroyed"), "{}", gone.stdout);
    assert!(live_pool(&name).is_none() && live_pool(&adopted).is_none());
}

#[test]
fn a_deletion_ceph_refuses_fails_with_cephs_reason_and_keeps_the_pool_in_state() {
    if !have_peer() {
        return;
    }
    let name = unique("nodelete");
    let _cleanup = Cleanup(vec![name.clone()]);
    let dir = Dir::new(&pool_hcl(&name, ""));
    brick(&dir, &["apply", "--auto-approve"]).ok();
    ceph(&["osd", "pool", "set", &name, "nodelete", "true"]);
    write(&dir, "");
    let r = brick(&dir, &["apply", "--auto-approve"]).failed_with("Cannot delete pool");
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("pool deletion is disabled")
            && all.contains("brick::ceph::pool_delete_disabled")
            && all.contains(&format!("ceph osd pool set {name} nodelete false")),
        "{all}"
    );
    assert!(live_pool(&name).is_some());
    assert!(dir.state().to_string().contains(&name), "still recorded");
    ceph(&["osd", "pool", "set", &name, "nodelete", "false"]);
    brick(&dir, &["apply", "--auto-approve"]).ok();
    assert!(live_pool(&name).is_none());
}

#[test]
fn pools_without_redundancy_or_with_min_size_above_size_are_refused_at_plan_with_file_and_line() {
    if !have_peer() {
        return;
    }
    let name = unique("refused");
    let dir = Dir::new(&format!(
        "resource \"ceph_pool\" \"data\" {{\n  name = \"{name}\"\n  size = 1\n  min_size = 2\n}}\n"
    ));
    let r = brick(&dir, &["plan"]);
    assert_eq!(r.code, 1);
    let all = format!("{}{}", r.stdout, r.stderr);
    for want in [
        "Error: Pool without redundancy",
        "on main.hcl line 3, in resource \"ceph_pool\" \"data\"",
        "brick::ceph::unsafe_replica_size",
        "require_safe_replica_size = false",
        "Error: min_size above size",
        "on main.hcl line 4",
        "min_size = 2 asks for more available copies than the pool keeps (size = 1)",
        "brick::ceph::min_size_above_size",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
    assert!(live_pool(&name).is_none(), "nothing was created");
}

#[test]
fn two_copies_on_the_peers_one_osd_and_one_host_are_refused_at_plan_naming_them() {
    if !have_peer() {
        return;
    }
    let name = unique("toobig");
    let rule = unique("host-rule");
    let host_rule = HostRule::create(&rule);
    let dir = Dir::new(&format!(
        "resource \"ceph_pool\" \"data\" {{\n  name = \"{name}\"\n  size = 2\n}}\n\nresource \"ceph_pool\" \"by_host\" {{\n  name       = \"{name}-h\"\n  size       = 2\n  crush_rule = \"{rule}\"\n}}\n"
    ));
    let r = brick(&dir, &["plan"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    let host = host_rule.host.clone();
    for want in [
        "Error: Pool size exceeds the failure domains",
        "on main.hcl line 3, in resource \"ceph_pool\" \"data\"",
        "asks for 2 copies, each on a different OSD (CRUSH rule \"replicated_rule\"), but 1 OSD receives data: osd.0",
        "on main.hcl line 8, in resource \"ceph_pool\" \"by_host\"",
        &format!(
            "each on a different host (CRUSH rule \"{rule}\"), but 1 host carries OSDs: {host} (osd.0)"
        ),
        "lower size to 1, or add OSDs on 1 more host",
        "brick::ceph::pool_size_exceeds_failure_domains",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
    assert!(live_pool(&name).is_none() && live_pool(&format!("{name}-h")).is_none());

    // Growing an existing pool is refused the same way.
    write(&dir, &pool_hcl(&name, ""));
    let _cleanup = Cleanup(vec![name.clone()]);
    brick(&dir, &["apply", "--auto-approve"]).ok();
    write(&dir, &pool_hcl(&name, "").replace("size = 1", "size = 2"));
    brick(&dir, &["plan"]).failed_with("1 OSD receives data: osd.0");
    assert_eq!(live_pool(&name).unwrap()["size"], 1);
    write(&dir, "");
    brick(&dir, &["apply", "--auto-approve"]).ok();
}

/// A CRUSH rule with host as failure domain, made with the CLI and removed on drop; `host`
/// is the peer's one host.
struct HostRule {
    name: String,
    host: String,
}
impl HostRule {
    fn create(name: &str) -> HostRule {
        ceph(&[
            "osd",
            "crush",
            "rule",
            "create-replicated",
            name,
            "default",
            "host",
        ]);
        let tree = ceph_json(&["osd", "tree"]);
        let host = tree["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["type"] == "host")
            .unwrap()["name"]
            .as_str()
            .unwrap()
            .to_string();
        HostRule {
            name: name.to_string(),
            host,
        }
    }
}
impl Drop for HostRule {
    fn drop(&mut self) {
        let _ = Command::new("ceph")
            .args(["osd", "crush", "rule", "rm", &self.name])
            .output();
    }
}

#[test]
fn ceph_status_outputs_agree_with_the_ceph_cli() {
    if !have_peer() {
        return;
    }
    let dir = Dir::new(
        "data \"ceph_status\" \"c\" {}\noutput \"status\" { value = data.ceph_status.c }\n",
    );
    brick(&dir, &["apply", "--auto-approve"]).ok();
    let out = brick(&dir, &["output", "--json", "status"]).ok().json();
    let cli = ceph_json(&["status"]);
    assert_eq!(out["fsid"], cli["fsid"]);
    assert_eq!(out["health"], cli["health"]["status"]);
    assert_eq!(out["osds"], cli["osdmap"]["num_osds"]);
    assert_eq!(out["osds_up"], cli["osdmap"]["num_up_osds"]);
    assert_eq!(out["osds_in"], cli["osdmap"]["num_in_osds"]);
    assert_eq!(out["bytes_total"], cli["pgmap"]["bytes_total"]);
    assert_eq!(out["mon_quorum"], cli["quorum_names"]);
    let tree = ceph_json(&["osd", "tree"]);
    let nodes = tree["nodes"].as_array().unwrap();
    let hosts: Vec<&serde_json::Value> = nodes.iter().filter(|n| n["type"] == "host").collect();
    assert_eq!(out["hosts"].as_object().unwrap().len(), hosts.len());
    for h in hosts {
        let name = h["name"].as_str().unwrap();
        let osds: Vec<&str> = h["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                nodes.iter().find(|n| n["id"] == *c).unwrap()["name"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(out["hosts"][name]["osds"], serde_json::json!(osds));
    }
}

#[test]
fn an_unreachable_cluster_fails_the_plan_within_seconds_with_a_clear_error() {
    if !have_peer() {
        return;
    }
    let conf = std::env::var("CEPH_CONF").unwrap();
    let text: String = std::fs::read_to_string(&conf)
        .unwrap()
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("mon host") {
                "mon host = [v2:127.0.0.1:1,v1:127.0.0.1:2]\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let dir = Dir::new("data \"ceph_status\" \"c\" {}\n");
    let dead = dir.path().join("dead.conf");
    std::fs::write(&dead, text).unwrap();
    let t0 = std::time::Instant::now();
    let r = Run::of(command(dir.path(), &["plan"]).env("CEPH_CONF", &dead));
    let took = t0.elapsed();
    let all = format!("{}{}", r.stdout, r.stderr);
    assert_eq!(r.code, 1, "{all}");
    assert!(
        all.contains("Cannot connect to Ceph")
            && all.contains("answered within 10 s")
            && all.contains("brick::ceph::unreachable"),
        "{all}"
    );
    assert!(took.as_secs() < 20, "took {took:?}");
}
