//! End to end in the lab: the real `brick` binary applies examples/garage with four PCs, then
//! removes one by deleting its entry from the `nodes` variable's map. The removal is
//! interrupted three times: kill -9 while the OSD drains (the next plan picks the removal up
//! again: the purge finishes before the node and the machine go), kill -9 while the Node drains
//! (the machine stays deployed and its release planned), and Ctrl-C (SIGINT) while the machine
//! is released; a last run converges. The test watches the order brick applies over the re-runs
//! (the CephCluster updated and its OSD drained and purged, then the Node drained and deleted,
//! then the machine released), that the data stays (pool size 2, HEALTH_OK, one OSD fewer),
//! that the machine is Ready in MAAS afterwards, and that a removal below the mons' or the
//! pool's needs is refused at plan.
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
            // The default of `variable "nodes"`: the map the user edits, one line per PC.
            let var = text.find("variable \"nodes\" {").unwrap();
            let start = var + text[var..].find("  default = {").unwrap();
            let end = start + text[start..].find("\n  }\n").unwrap() + 4;
            let entries: String = nodes
                .iter()
                .map(|n| format!("    {n} = {{ control_plane = {} }}\n", *n == "maas"))
                .collect();
            text.replace_range(start..end, &format!("  default = {{\n{entries}  }}\n"));
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
    apply_signalled_at(dir, sim, at, "KILL").await.0
}

/// Runs `brick apply` and sends it `signal` (`KILL`, or `INT` as Ctrl-C does) at the first
/// output line containing `at`; after SIGINT reads on until brick exits. Returns the output
/// and the exit code (None when killed).
async fn apply_signalled_at(
    dir: &Path,
    sim: &Simulator,
    at: &'static str,
    signal: &'static str,
) -> (String, Option<i32>) {
    let mut c = command(dir, sim, &["apply", "--auto-approve"]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || {
        let mut child = c.spawn().unwrap();
        let mut seen = String::new();
        let mut sent = false;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if !sent && line.contains(at) {
                sent = true;
                let ok = Command::new("kill")
                    .arg(format!("-{signal}"))
                    .arg(child.id().to_string())
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "kill -{signal} failed");
                if signal == "KILL" {
                    break;
                }
            }
        }
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        seen.push_str(&err);
        let status = child.wait().unwrap();
        assert!(sent, "{at:?} never appeared:\n{seen}");
        (seen, status.code())
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

async fn lab() -> (Simulator, brick::lab::Labs) {
    let mut opts = SimOptions {
        time_scale: 0.002,
        ..SimOptions::fast()
    };
    opts.network = Some(network().to_string());
    let labs = brick::lab::with_clusters(&mut opts);
    let sim = maas_lab::serve("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    (sim, labs)
}

/// The pace of the lab's clusters (Rook's backfill, Kubernetes' node grace) for the removal:
/// a quarter of real time, so that the OSD's drain lasts 15 s (Rook's simulated backfill is
/// 60 s) and is still under way when brick, killed during it, runs again. (Rook goes on with
/// the purge job while brick is down; a drain finished by then leaves nothing to redo.)
const REMOVAL_PACE: f64 = 0.25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_pc_drains_its_osd_then_its_node_then_releases_it_and_survives_kill_9() {
    let (sim, labs) = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    garage_with(d, &["maas", "kvm4", "kvm5", "spare1"]);
    let t0 = Instant::now();
    let o = brick(d, &sim, &["apply", "--auto-approve"]).await;
    assert_eq!(o.status.code(), Some(0), "four PCs: {}", text(&o));
    println!("four PCs applied in {:.1}s", t0.elapsed().as_secs_f64());

    // Remove kvm5; kill -9 while its OSD drains, kill -9 while its Node drains, Ctrl-C while
    // its machine is released; each re-run continues.
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

    labs.set_time_scale(REMOVAL_PACE);
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

    // The CephCluster no longer lists kvm5, but its OSD still exists: the next plan updates
    // the cluster again (the removal is not done), before the node and the machine.
    let o = brick(d, &sim, &["plan"]).await;
    let replanned = text(&o);
    assert_eq!(o.status.code(), Some(0), "{replanned}");
    assert!(
        replanned.contains("rook_cluster.ceph will be updated in-place"),
        "the interrupted drain is planned again: {replanned}"
    );

    // The re-run finishes the purge, then drains the Node: kill -9 again while it drains.
    let seen2 = apply_killed_at(d, &sim, "microk8s_node.n[\"kvm5\"]: Destroying...").await;
    println!(
        "killed (-9) while the Node drained after {:.1}s",
        t1.elapsed().as_secs_f64()
    );
    assert!(
        !seen2.contains("maas_machine.node[\"kvm5\"]: Destroying"),
        "{seen2}"
    );
    // The machine is still deployed and still planned for release, after the node.
    sim.with_world(|w| assert_eq!(w.by_hostname("kvm5").unwrap().status, Status::Deployed));
    let o = brick(d, &sim, &["plan"]).await;
    let replanned = text(&o);
    assert_eq!(o.status.code(), Some(0), "{replanned}");
    assert!(
        replanned.contains("maas_machine.node[\"kvm5\"] will be destroyed"),
        "the interrupted node drain leaves the release planned: {replanned}"
    );

    // Ctrl-C (SIGINT) while the machine is released: the running release finishes, nothing
    // new starts, brick exits; kill -9 would leave the same for the next run to pick up.
    let (seen3, code3) =
        apply_signalled_at(d, &sim, "maas_machine.node[\"kvm5\"]: Destroying...", "INT").await;
    println!(
        "interrupted (SIGINT) while the machine was released after {:.1}s: exit {code3:?}",
        t1.elapsed().as_secs_f64()
    );
    assert!(
        matches!(code3, Some(0 | 1)),
        "an interrupted apply exits by itself (0 when nothing was left, 1 when it stopped early): {seen3}"
    );

    let o = brick(d, &sim, &["apply", "--auto-approve"]).await;
    let last = text(&o);
    assert_eq!(o.status.code(), Some(0), "the re-run continues: {last}");
    let applied = format!("{seen2}{seen3}{last}");
    let took = t1.elapsed();
    println!(
        "removal converged {:.1}s after the first apply started; the re-runs' steps:",
        took.as_secs_f64()
    );
    for line in applied.lines().filter(|l| {
        ["Modifying...", "complete after", "Destroying...", "purged"]
            .iter()
            .any(|k| l.contains(k))
    }) {
        println!("  {line}");
    }
    // The order over the three re-runs: the cluster (OSD out, drained, purged, PGs
    // active+clean: HEALTH_OK) before the node, the node before the machine.
    let cluster = position(&applied, "rook_cluster.ceph: Modifying...");
    let purged = position(
        &applied,
        "of kvm5 purged: their data lives on the other OSDs",
    );
    let cluster_done = position(&applied, "rook_cluster.ceph: Modifications complete");
    let node = position(&applied, "microk8s_node.n[\"kvm5\"]: Destroying...");
    let node_done = position(&applied, "microk8s_node.n[\"kvm5\"]: Destruction complete");
    let machine = position(&applied, "maas_machine.node[\"kvm5\"]: Destroying...");
    assert!(cluster < purged && purged < cluster_done, "{applied}");
    assert!(cluster_done < node, "{applied}");
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

    // Three nodes left; removing two of them is refused at plan, with the file and line, and
    // nothing changes. First the cluster's three mons would not fit on one node...
    garage_with(d, &["maas"]);
    let o = brick(d, &sim, &["plan"]).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("brick::rook::mons_exceed_nodes"), "{out}");
    assert!(out.contains("mon_count = 3 with 1 node listed"), "{out}");
    assert!(out.contains("on storage.hcl line"), "{out}");
    // ...and with mons allowed to share a node, the live pool's two copies on different hosts
    // would not: replicapool (size 2, failure domain host) still needs a second host.
    let f = d.join("storage.hcl");
    let hcl = std::fs::read_to_string(&f).unwrap();
    let hcl = hcl.replace(
        "  depends_on = [rook_operator.rook]",
        "  allow_multiple_mons_per_node = true\n  depends_on = [rook_operator.rook]",
    );
    std::fs::write(&f, hcl).unwrap();
    let o = brick(d, &sim, &["plan"]).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("brick::rook::node_holds_needed_copies"),
        "{out}"
    );
    assert!(
        out.contains("Removing a node the pools still need"),
        "{out}"
    );
    assert!(
        out.contains(r#"pool "replicapool" keeps 2 copies, each on a different host"#),
        "{out}"
    );
    assert!(out.contains("kvm4") && out.contains("spare1"), "{out}");
    assert!(out.contains("on storage.hcl line"), "{out}");
    assert!(
        out.contains(r#"Lower pool "replicapool"'s size to 1 first"#),
        "{out}"
    );
    sim.with_world(|w| {
        for h in ["maas", "kvm4", "spare1"] {
            assert_eq!(w.by_hostname(h).unwrap().status, Status::Deployed, "{h}");
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
}
