//! The rook provider through the real `brick` binary against the real peers: the real
//! kube-apiserver with the real Rook operator (v1.12.11, external mode on the real Ceph peer;
//! `source .peers/env`). A `rook_block_pool` becomes a real Ceph pool (checked with the `ceph`
//! CLI), changes size, and goes away with its destroy; a CephBlockPool made with kubectl and the
//! peer's own external CephCluster import and then plan no change; a `rook_storage_class` is a real
//! StorageClass (checked with kubectl); impossible pools are refused at plan with file and line;
//! a pool's size lowered with kubectl is data-risk drift.
//! Skipped, visibly, without the peers' settings. Touches only its own uniquely named objects.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{Dir, Run, command};

const SKIP: &str = "no Rook operator — run tests/peers/up.sh rook";

struct Peer {
    kubeconfig: String,
    namespace: String,
    kubectl: Option<String>,
}

fn peer() -> Option<Peer> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let (Some(kubeconfig), Some(namespace), Some(_)) = (
        var("BRICK_PEERS_KUBECONFIG"),
        var("ROOK_NAMESPACE"),
        var("CEPH_CONF"),
    ) else {
        brick_provider_api::testing::skip(SKIP);
        return None;
    };
    Some(Peer {
        kubeconfig,
        namespace,
        kubectl: var("KUBECTL"),
    })
}

impl Peer {
    fn provider(&self) -> String {
        format!(
            "provider \"rook\" {{\n  config_path = {:?}\n}}\n",
            self.kubeconfig
        )
    }

    fn kubectl(&self, args: &[&str]) -> Option<String> {
        let k = self.kubectl.as_ref()?;
        let out = Command::new(k)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .expect("kubectl runs");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("brick-{prefix}-{}-{nanos}", std::process::id())
}

fn brick(dir: &Dir, args: &[&str]) -> Run {
    Run::of(&mut command(dir.path(), args))
}

/// The third-party view of a pool: `ceph osd pool ls detail --format json`.
fn live_pool(name: &str) -> Option<serde_json::Value> {
    let out = Command::new("ceph")
        .args([
            "--connect-timeout",
            "20",
            "osd",
            "pool",
            "ls",
            "detail",
            "--format",
            "json",
        ])
        .output()
        .expect("ceph runs");
    assert!(
        out.status.success(),
        "ceph: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|p| p["pool_name"] == name)
        .cloned()
}

/// Ceph applies Rook's changes a moment after Rook reports them: look again for a while.
fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 60 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Removes the CephBlockPool (and so the pool) if the test ends early.
struct Cleanup<'a>(&'a Peer, String);
impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.kubectl(&[
            "-n",
            &self.0.namespace,
            "delete",
            "cephblockpool",
            &self.1,
            "--ignore-not-found",
            "--wait=false",
        ]);
    }
}

fn pool_hcl(p: &Peer, name: &str, size: u32) -> String {
    format!(
        "{}\nresource \"rook_block_pool\" \"p\" {{\n  name                      = \"{name}\"\n  namespace                 = \"{ns}\"\n  failure_domain            = \"osd\"\n  size                      = {size}\n  require_safe_replica_size = false\n}}\n",
        p.provider(),
        ns = p.namespace
    )
}

#[test]
fn a_rook_block_pool_is_a_real_pool_that_changes_size_and_goes_away_with_its_destroy() {
    let Some(p) = peer() else { return };
    let name = unique("rook-pool");
    let _cleanup = Cleanup(&p, name.clone());
    let dir = Dir::new(&pool_hcl(&p, &name, 1));

    let r = brick(&dir, &["apply", "--auto-approve"]).ok();
    assert!(
        r.stdout.contains("Apply complete! Resources: 1 added"),
        "{}",
        r.stdout
    );
    let live = live_pool(&name).expect("ceph osd pool ls detail shows the pool Rook made");
    assert_eq!(live["size"], 1, "{live}");
    assert!(
        live["application_metadata"].get("rbd").is_some(),
        "Rook enables rbd on a block pool: {live}"
    );
    let st = dir.state();
    let attrs = &st["resources"][0]["instances"][0]["attributes"];
    assert_eq!(attrs["phase"], "Ready");
    assert_eq!(attrs["id"], format!("{}/{name}", p.namespace));

    let again = brick(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.code, 0,
        "no changes after apply:\n{}{}",
        again.stdout, again.stderr
    );

    std::fs::write(dir.path().join("main.hcl"), pool_hcl(&p, &name, 2)).unwrap();
    let r = brick(&dir, &["apply", "--auto-approve"]).ok();
    assert!(r.stdout.contains("1 changed"), "{}", r.stdout);
    eventually("size 2 in Ceph", || {
        live_pool(&name).is_some_and(|l| l["size"] == 2)
    });

    let r = brick(&dir, &["destroy", "--auto-approve"]).ok();
    assert!(r.stdout.contains("1 destroyed"), "{}", r.stdout);
    // Rook's finalizer deleted the pool before the CephBlockPool went away.
    assert!(live_pool(&name).is_none(), "the pool is gone from Ceph");
}

#[test]
fn a_rook_storage_class_is_rooks_storage_class_for_the_pool() {
    let Some(p) = peer() else { return };
    if p.kubectl.is_none() {
        brick_provider_api::testing::skip("no kubectl (KUBECTL) to look at the StorageClass");
        return;
    }
    let name = unique("rook-sc");
    let dir = Dir::new(&format!(
        "{}\nresource \"rook_storage_class\" \"block\" {{\n  name              = \"{name}\"\n  pool              = \"replicapool\"\n  cluster_namespace = \"{ns}\"\n}}\n",
        p.provider(),
        ns = p.namespace
    ));
    brick(&dir, &["apply", "--auto-approve"]).ok();
    let sc: serde_json::Value = serde_json::from_str(
        &p.kubectl(&["get", "storageclass", &name, "-o", "json"])
            .expect("the StorageClass exists"),
    )
    .unwrap();
    assert_eq!(
        sc["provisioner"],
        format!("{}.rbd.csi.ceph.com", p.namespace)
    );
    assert_eq!(sc["parameters"]["clusterID"], p.namespace);
    assert_eq!(sc["parameters"]["pool"], "replicapool");
    assert_eq!(
        sc["parameters"]["csi.storage.k8s.io/node-stage-secret-name"],
        "rook-csi-rbd-node"
    );
    assert_eq!(sc["allowVolumeExpansion"], true);
    let again = brick(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    brick(&dir, &["destroy", "--auto-approve"]).ok();
    assert!(
        p.kubectl(&["get", "storageclass", &name]).is_none(),
        "deleted"
    );
}

#[test]
fn a_pool_larger_than_the_planned_clusters_hosts_is_refused_at_plan_with_file_and_line() {
    let Some(p) = peer() else { return };
    // Nothing is applied: the plan fails before, so the scratch namespace is never made.
    let ns = unique("rook-scratch");
    let dir = Dir::new(&format!(
        "{}\nresource \"rook_cluster\" \"ceph\" {{\n  namespace = \"{ns}\"\n  mon_count = 1\n  nodes = {{\n    kvm4 = [\"/dev/vgroot/ceph\"]\n    kvm5 = [\"/dev/vgroot/ceph\"]\n  }}\n}}\n\nresource \"rook_block_pool\" \"replicapool\" {{\n  name      = \"replicapool\"\n  namespace = rook_cluster.ceph.namespace\n  size      = 3\n}}\n",
        p.provider()
    ));
    let r = brick(&dir, &["plan"]).failed_with("Pool size exceeds the failure domains");
    assert!(
        r.stderr.contains("on main.hcl line 17"),
        "points at size:\n{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("2 hosts carry OSDs: kvm4 (/dev/vgroot/ceph), kvm5 (/dev/vgroot/ceph)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("lower size to 2"), "{}", r.stderr);
}

/// The peer's own CephCluster: `$ROOK_CLUSTER` (default rook-ceph) in `$ROOK_NAMESPACE`.
fn peer_cluster_name() -> String {
    std::env::var("ROOK_CLUSTER")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "rook-ceph".into())
}

/// `ceph fsid` of the Ceph peer.
fn ceph_fsid() -> String {
    let out = Command::new("ceph")
        .args(["--connect-timeout", "20", "fsid"])
        .output()
        .expect("ceph runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_peers_external_cluster_imports_as_a_rook_cluster_and_then_plans_no_change() {
    // Only import and plan: the shared CephCluster is never applied to nor destroyed.
    let Some(p) = peer() else { return };
    let name = peer_cluster_name();
    let dir = Dir::new(&format!(
        "{}\nresource \"rook_cluster\" \"peer\" {{\n  name      = \"{name}\"\n  namespace = \"{ns}\"\n  external  = true\n}}\n",
        p.provider(),
        ns = p.namespace
    ));
    brick(
        &dir,
        &[
            "import",
            "rook_cluster.peer",
            &format!("{}/{name}", p.namespace),
        ],
    )
    .ok();
    let st = dir.state();
    let attrs = &st["resources"][0]["instances"][0]["attributes"];
    assert_eq!(attrs["external"], true, "{attrs}");
    assert_eq!(
        attrs["phase"], "Connected",
        "Rook's phase for external mode: {attrs}"
    );
    assert_eq!(attrs["health"], "HEALTH_OK", "{attrs}");
    assert_eq!(attrs["fsid"], ceph_fsid(), "the real Ceph's fsid: {attrs}");
    assert_eq!(attrs["id"], format!("{}/{name}", p.namespace));

    let plan = brick(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "the imported cluster matches its configuration:\n{}{}",
        plan.stdout, plan.stderr
    );
}

#[test]
fn a_ceph_block_pool_made_with_kubectl_imports_plans_no_change_and_is_destroyed_with_its_pool() {
    let Some(p) = peer() else { return };
    if p.kubectl.is_none() {
        brick_provider_api::testing::skip("no kubectl (KUBECTL) to make the CephBlockPool");
        return;
    }
    let name = unique("rook-import");
    let _cleanup = Cleanup(&p, name.clone());
    let dir = Dir::new(&pool_hcl(&p, &name, 1));
    // Made outside brick, as a user would have before adopting it.
    let manifest = dir.path().join("pool.yaml");
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: ceph.rook.io/v1\nkind: CephBlockPool\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  failureDomain: osd\n  replicated:\n    size: 1\n    requireSafeReplicaSize: false\n",
            ns = p.namespace
        ),
    )
    .unwrap();
    p.kubectl(&["apply", "-f", manifest.to_str().unwrap()])
        .expect("kubectl creates the CephBlockPool");
    eventually("Rook reports the pool Ready", || {
        p.kubectl(&[
            "-n",
            &p.namespace,
            "get",
            "cephblockpool",
            &name,
            "-o",
            "jsonpath={.status.phase}",
        ])
        .is_some_and(|phase| phase == "Ready")
    });
    assert!(live_pool(&name).is_some(), "Rook made the pool in Ceph");

    brick(
        &dir,
        &[
            "import",
            "rook_block_pool.p",
            &format!("{}/{name}", p.namespace),
        ],
    )
    .ok();
    let st = dir.state();
    let attrs = &st["resources"][0]["instances"][0]["attributes"];
    assert_eq!(attrs["phase"], "Ready", "{attrs}");
    assert_eq!(attrs["size"], 1, "{attrs}");
    assert_eq!(attrs["failure_domain"], "osd", "{attrs}");
    let plan = brick(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "the imported pool matches its configuration:\n{}{}",
        plan.stdout, plan.stderr
    );

    // Adopted: brick's destroy deletes it, and Rook's finalizer the Ceph pool.
    let r = brick(&dir, &["destroy", "--auto-approve"]).ok();
    assert!(r.stdout.contains("1 destroyed"), "{}", r.stdout);
    assert!(live_pool(&name).is_none(), "the pool is gone from Ceph");
}

#[test]
fn a_pool_size_lowered_with_kubectl_is_data_risk_drift_named_after_kubectl() {
    let Some(p) = peer() else { return };
    if p.kubectl.is_none() {
        brick_provider_api::testing::skip("no kubectl (KUBECTL) to change the CephBlockPool");
        return;
    }
    let name = unique("rook-drift");
    let _cleanup = Cleanup(&p, name.clone());
    let dir = Dir::new(&pool_hcl(&p, &name, 2));
    brick(&dir, &["apply", "--auto-approve"]).ok();
    brick(&dir, &["drift"]).ok();

    // Behind brick's back: one copy fewer.
    p.kubectl(&[
        "-n",
        &p.namespace,
        "patch",
        "cephblockpool",
        &name,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"replicated":{"size":1}}}"#,
    ])
    .expect("kubectl patches the CephBlockPool");

    let r = brick(&dir, &["drift"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("# rook_block_pool.p: changed, data-risk"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("size: 2 → 1  (by kubectl-patch; data-risk"),
        "{}",
        r.stdout
    );
    brick(&dir, &["destroy", "--auto-approve"]).ok();
    assert!(live_pool(&name).is_none(), "the pool is gone from Ceph");
}
