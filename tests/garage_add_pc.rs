//! Adding PCs to the garage (issue 17), as `brick lab bench` measures it, at a compressed
//! pace: the facts that do not depend on the machine's speed. Three new PCs deploy at once
//! (their apply steps overlap, from the engine's events), each one's disk, CPU and memory end up
//! in use (an OSD per PC, the Node's capacity), and brick's own time is reported. The speed
//! targets (wall time within 5% of the critical path, brick's own time under a second) are
//! measured by bench/garage-add-pc.sh at the realistic pace, not asserted here.

mod support;

use std::process::{Command, Stdio};

use support::text;

fn brick() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brick"));
    c.env("NO_COLOR", "1")
        .env_remove("MAAS_API_URL")
        .env_remove("MAAS_API_KEY");
    c
}

/// The `STEP addr start=…s end=…s` lines of the bench: address, start and end in seconds.
fn steps(out: &str) -> Vec<(String, f64, Option<f64>)> {
    let secs = |v: &str| v.trim_end_matches('s').parse::<f64>().ok();
    out.lines()
        .filter_map(|l| l.strip_prefix("STEP "))
        .filter_map(|l| {
            let mut parts = l.rsplitn(3, ' ');
            let end = parts.next()?.strip_prefix("end=")?;
            let start = parts.next()?.strip_prefix("start=")?;
            Some((parts.next()?.to_string(), secs(start)?, secs(end)))
        })
        .collect()
}

/// A `key=value` field of the bench's `BENCH` line.
fn field<'a>(bench: &'a str, key: &str) -> Option<&'a str> {
    bench
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// Runs `brick lab bench` adding three PCs; returns its output and the state it left.
fn bench(commissioned: bool) -> (String, serde_json::Value) {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("garage");
    let mut cmd = brick();
    cmd.args([
        "lab",
        "bench",
        "--pcs",
        "3",
        "--time-scale",
        "0.001",
        "--dir",
    ])
    .arg(&work);
    if commissioned {
        cmd.arg("--commissioned");
    }
    let o = cmd
        .current_dir(tmp.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let o = brick()
        .arg("-C")
        .arg(&work)
        .args(["show", "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    (out, serde_json::from_slice(&o.stdout).unwrap())
}

fn check_three_pcs_added(out: &str, state: &serde_json::Value, new_pcs: &str) {
    let bench = out
        .lines()
        .find(|l| l.starts_with("BENCH "))
        .unwrap_or_else(|| panic!("no BENCH line: {out}"));
    assert_eq!(field(bench, "pcs"), Some("3"), "{bench}");
    assert_eq!(field(bench, "new_pcs"), Some(new_pcs), "{bench}");
    // brick's own time is reported (its size is the benchmark's business).
    let own = field(bench, "own")
        .and_then(|v| v.trim_end_matches('s').parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no own time: {bench}"));
    assert!(own > 0.0, "{bench}");
    assert!(out.contains("brick's own (planning"), "the table: {out}");

    // The three machines' deploys overlap: each started before any of them ended.
    let steps = steps(out);
    let spares = ["spare1", "spare2", "spare3"];
    for kind in ["maas_machine.node", "microk8s_node.n"] {
        let of: Vec<&(String, f64, Option<f64>)> = spares
            .iter()
            .map(|h| {
                let addr = format!("{kind}[\"{h}\"]");
                steps
                    .iter()
                    .find(|s| s.0 == addr)
                    .unwrap_or_else(|| panic!("no step for {addr}: {out}"))
            })
            .collect();
        let last_start = of.iter().map(|s| s.1).fold(f64::MIN, f64::max);
        let first_end = of
            .iter()
            .map(|s| s.2.unwrap_or_else(|| panic!("{} did not end: {out}", s.0)))
            .fold(f64::MAX, f64::min);
        assert!(
            last_start < first_end,
            "the three {kind} steps ran one after another, not at once: {of:?}"
        );
    }

    // Every PC's disk, CPU and memory are in use: an OSD on each (three old PCs and three new),
    // Ceph healthy, each new Node Ready with the machine's CPUs and memory.
    let resources = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("{state}"));
    let one = |t: &str, index: Option<&str>| -> &serde_json::Value {
        resources
            .iter()
            .find(|r| r["type"] == t && index.is_none_or(|i| r["index"] == i))
            .unwrap_or_else(|| panic!("no {t} {index:?}: {state}"))
    };
    let ceph = &one("rook_cluster", None)["values"];
    assert_eq!(ceph["osds"], 6, "an OSD per PC: {ceph}");
    assert_eq!(ceph["health"], "HEALTH_OK", "{ceph}");
    for h in spares {
        let m = &one("maas_machine", Some(h))["values"];
        assert_eq!(m["status"], "Deployed", "{m}");
        assert_eq!(
            m["volume_paths"]["ceph"], "/dev/disk/by-dname/vgroot-ceph",
            "{m}"
        );
        assert!(
            ceph["nodes"][h]
                .as_array()
                .is_some_and(|d| d.contains(&m["volume_paths"]["ceph"])),
            "{h}'s ceph volume is an OSD device: {ceph}"
        );
        let n = &one("microk8s_node", Some(h))["values"];
        // The node's create ends when its Node is Ready; Kubernetes reported it.
        assert!(
            n["kubelet_version"].as_str().is_some_and(|v| !v.is_empty()),
            "{n}"
        );
        let cpus = m["cpu_count"].as_u64().unwrap_or(0);
        assert!(cpus > 0, "{m}");
        assert_eq!(n["capacity"]["cpu"], cpus.to_string(), "{n}");
        let mib = m["memory_mib"].as_u64().unwrap_or(0);
        assert_eq!(n["capacity"]["memory"], format!("{}Ki", mib * 1024), "{n}");
    }
}

#[test]
fn three_new_pcs_are_commissioned_and_deployed_at_once_and_all_their_resources_are_in_use() {
    let (out, state) = bench(false);
    assert!(
        out.contains("Commissioning"),
        "New PCs are commissioned by the apply: {out}"
    );
    check_three_pcs_added(&out, &state, "New");
}

#[test]
fn three_commissioned_pcs_are_deployed_at_once_without_commissioning_again() {
    let (out, state) = bench(true);
    let apply = out
        .split("Adding 3 PC(s)")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        !apply.contains("Commissioning"),
        "Ready PCs are deployed straight away: {apply}"
    );
    check_three_pcs_added(&out, &state, "Ready");
}
