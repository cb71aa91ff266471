//! Smoke test of the rook peer (`tests/peers/up.sh rook`): the real Rook operator, watching
//! namespace $ROOK_NAMESPACE of the k8s peer with a CephCluster in external mode connected to the
//! real Ceph peer. Driven by third-party clients only: `kubectl` ($KUBECTL) creates and deletes a
//! CephBlockPool, Ceph's own `ceph` CLI shows the pool coming and going. Skipped, with a visible
//! line, without `ROOK_NAMESPACE`.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SKIP: &str = "no Rook operator — run tests/peers/up.sh rook";

struct Peer {
    kubectl: String,
    kubeconfig: String,
    namespace: String,
}

fn peer() -> Option<Peer> {
    let var = |n: &str| std::env::var(n).ok();
    let (Some(kubectl), Some(kubeconfig), Some(namespace), Some(_), Some(_)) = (
        var("KUBECTL"),
        var("BRICK_PEERS_KUBECONFIG"),
        var("ROOK_NAMESPACE"),
        var("CEPH_CONF"),
        var("CEPH_KEYRING"),
    ) else {
        brick_provider_api::testing::skip(SKIP);
        return None;
    };
    Some(Peer {
        kubectl,
        kubeconfig,
        namespace,
    })
}

impl Peer {
    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut child = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("-n")
            .arg(&self.namespace)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running kubectl");
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.unwrap_or("").as_bytes())
            .expect("writing to kubectl");
        drop(input);
        let out = child.wait_with_output().expect("kubectl's output");
        assert!(
            out.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// `ceph osd pool ls`, through Ceph's CLI with the peer's configuration and keyring.
fn pools() -> Vec<String> {
    let out: Output = Command::new("ceph")
        .args(["--connect-timeout", "20", "osd", "pool", "ls"])
        .output()
        .expect("running ceph");
    assert!(
        out.status.success(),
        "ceph osd pool ls: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn wait(what: &str, secs: u64, mut done: impl FnMut() -> Option<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = done() {
            return v;
        }
        assert!(Instant::now() < deadline, "no {what} after {secs} s");
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn a_ceph_block_pool_created_through_rook_becomes_a_real_pool_and_goes_away_with_it() {
    let Some(p) = peer() else { return };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("brick-rook-{}-{nanos}", std::process::id());
    let manifest = format!(
        "apiVersion: ceph.rook.io/v1\nkind: CephBlockPool\nmetadata:\n  name: {name}\nspec:\n  failureDomain: osd\n  replicated:\n    size: 1\n    requireSafeReplicaSize: false\n"
    );
    p.kubectl(&["apply", "-f", "-"], Some(&manifest));
    let phase = wait("Ready CephBlockPool", 180, || {
        let phase = p.kubectl(
            &[
                "get",
                "cephblockpool",
                &name,
                "-o",
                "jsonpath={.status.phase}",
            ],
            None,
        );
        (phase == "Ready").then_some(phase)
    });
    assert_eq!(phase, "Ready");
    assert!(
        pools().contains(&name),
        "ceph osd pool ls does not show {name}: {:?}",
        pools()
    );

    p.kubectl(&["delete", "cephblockpool", &name, "--timeout=120s"], None);
    wait("pool deletion", 60, || {
        (!pools().contains(&name)).then(String::new)
    });
}
