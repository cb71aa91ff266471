//! End to end in the lab: the real `brick` binary applies examples/garage with four PCs, then
//! removes one by deleting its entry from the nodes map. The test watches the order brick
//! applies (the CephCluster updated and its OSD drained and purged, then the Node drained and
//! deleted, then the machine released), that the data stays (pool size 2, HEALTH_OK, one OSD
//! fewer), that the machine is Ready in MAAS afterwards and that its Node went NotReady; that a
//! removal below the pool's size is refused at plan; and that kill -9 in the middle of the
//! removal, then another apply, converges.
//!
//! The lab takes its own loopback network (`brick::lab::free_loopback_network`) and the
//! example's `api_address` is set from it, so that labs running beside it do not meet.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use brick::registry::maas_lab::{self, SimOptions, Simulator};
use brick_provider_maas::sim::world::Status;

fn garage_with(dir: &Path, nodes: &[&str]) {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/garage");
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        let mut text = std::fs::read_to_string(e.path()).unwrap();
        if e.file_name() == "machines.hcl" {
            let start = text.find("  nodes = {").unwrap();
            let end = start + text[start..].find("\n  }\n").unwrap() + 4;
            let entries: String = nodes
                .iter()
                .map(|n| format!("    {n} = {{ control_plane = {} }}\n", *n == "maas"))
                .collect();
            text.replace_range(start..end, &format!("  nodes = {{\n{entries}  }}\n"));
        }
        std::fs::write(dir.join(e.file_name()), text).unwrap();
    }
}

/// This lab's loopback network (first three octets), taken once.
fn network() -> &'static str {
    static NET: OnceLock<String> = OnceLock::new();
    NET.get_or_init(brick::lab::free_loopback_network)
}

fn command(dir: &Path, sim: &Simulator, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brick"));
    c.args(args)
        .current_dir(dir)
        .env("BRICK_VAR_api_address", format!("{}.10", network()))
        .env("MAAS_API_URL", sim.url())
        .env("MAAS_API_KEY", sim.api_key())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG");
    c
}

async fn brick(dir: &Path, sim: &Simulator, args: &[&str]) -> Output {
    let mut c = command(dir, sim, args);
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

/// Runs `brick apply` and kills it (SIGKILL) at the first output line containing `at`.
/// Returns the output seen until then.
async fn apply_killed_at(dir: &Path, sim: &Simulator, at: &'static str) -> String {
    let mut c = command(dir, sim, &["apply", "--auto-approve"]);
    c.stdout(Stdio::piped()).stderr(Stdio::null());
    tokio::task::spawn_blocking(move || {
        let mut child = c.spawn().unwrap();
        let mut seen = String::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(at) {
                child.kill().unwrap();
                break;
            }
        }
        let _ = child.wait();
        seen
    })
    .await
    .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn position(out: &str, needle: &str) -> usize {
    out.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the output:\n{out}"))
}

async fn lab() -> Simulator {
    let mut opts = SimOptions {
        time_scale: 0.002,
        ..SimOptions::fast()
    };
    opts.network = Some(network().to_string());
    brick::lab::with_clusters(&mut opts);
    maas_lab::serve("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_pc_drains_its_osd_then_its_node_then_releases_it_and_survives_kill_9() {
    let sim = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    garage_with(d, &["maas", "kvm4", "kvm5", "spare1"]);
    let t0 = Instant::now();
    let o = brick(d, &sim, &["apply", "--auto-approve"]).await;
    assert_eq!(o.status.code(), Some(0), "four PCs: {}", text(&o));
    println!("four PCs applied in {:.1}s", t0.elapsed().as_secs_f64());

    // Down to one node: refused at plan by the Rook layer (the first check to fail is the
    // cluster's three mons on one node; the pool's two copies on hosts would fail next).
    garage_with(d, &["maas"]);
    let o = brick(d, &sim, &["plan"]).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("brick::rook::"), "{out}");
    assert!(
        out.contains("storage.hcl:") || out.contains("rook_cluster.ceph"),
        "{out}"
    );

    // Remove kvm5; kill -9 while its OSD drains, then while its Node drains; each re-run
    // continues.
    garage_with(d, &["maas", "kvm4", "spare1"]);
    let o = brick(d, &sim, &["plan"]).await;
    let planned = text(&o);
    assert_eq!(o.status.code(), Some(0), "{planned}");
    assert!(
        planned.contains("rook_cluster.ceph will be updated in-place"),
        "{planned}"
    );
    assert!(
        planned.contains("maas_machine.node[\"kvm5\"] will be destroyed"),
        "{planned}"
    );
    assert!(
        planned.contains("microk8s_node.n[\"kvm5\"] will be destroyed"),
        "{planned}"
    );

    let t1 = Instant::now();
    let seen = apply_killed_at(d, &sim, "draining until PGs are active+clean").await;
    println!(
        "killed (-9) while the OSD drained after {:.1}s",
        t1.elapsed().as_secs_f64()
    );
    assert!(seen.contains("rook_cluster.ceph: Modifying..."), "{seen}");
    assert!(
        !seen.contains("microk8s_node.n[\"kvm5\"]: Destroying"),
        "{seen}"
    );

    let o = brick(d, &sim, &["apply", "--auto-approve"]).await;
    let applied = text(&o);
    assert_eq!(o.status.code(), Some(0), "the re-run continues: {applied}");
    println!(
        "removal converged {:.1}s after the first apply started",
        t1.elapsed().as_secs_f64()
    );
    // The order: the cluster (OSD out, drained, purged) before the node, the node before the
    // machine.
    // The killed apply had started the cluster's update; the re-run either finishes it first or
    // found it settled from the journal (observed: "Recovered … from an interrupted apply").
    let node = position(&applied, "microk8s_node.n[\"kvm5\"]: Destroying...");
    let node_done = position(&applied, "microk8s_node.n[\"kvm5\"]: Destruction complete");
    let machine = position(&applied, "maas_machine.node[\"kvm5\"]: Destroying...");
    if let Some(cluster) = applied.find("rook_cluster.ceph: Modifications complete") {
        assert!(cluster < node, "{applied}");
    }
    assert!(node_done < machine, "{applied}");

    // Strimzi reschedules kvm5's broker onto another node, so the Kafka's external bootstrap
    // list changes outside brick: one apply records it (no infrastructure change)...
    let o = brick(d, &sim, &["apply", "--auto-approve"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("0 added, 0 changed, 0 destroyed"),
        "{}",
        text(&o)
    );
    // ...then converged: nothing left to do.
    let o = brick(d, &sim, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The data stays: three OSDs, HEALTH_OK, the pool still two copies on hosts.
    let o = brick(d, &sim, &["output", "-json", "ceph"]).await;
    let ceph: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ceph["osds"], 3, "{ceph}");
    assert_eq!(ceph["health"], "HEALTH_OK", "{ceph}");
    let o = brick(d, &sim, &["state", "show", "rook_block_pool.replicapool"]).await;
    assert!(text(&o).contains("size"), "{}", text(&o));
    // The machine is back in MAAS' pool.
    sim.with_world(|w| assert_eq!(w.by_hostname("kvm5").unwrap().status, Status::Ready));
    tokio::time::sleep(Duration::from_millis(300)).await;
}
