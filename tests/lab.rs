//! `brick lab`: the demo runs the garage end to end unattended (three machines, then `spare1`
//! alone), and `brick lab serve` prints export lines that reach a working MAAS API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn brick() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brick"));
    c.env("NO_COLOR", "1")
        .env_remove("MAAS_API_URL")
        .env_remove("MAAS_API_KEY");
    c
}

/// The lines of `out` that announce a planned creation of a `maas_machine`.
fn machines_created(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| {
            let l = l.trim_start_matches([' ', '#']);
            l.strip_suffix(" will be created")
                .filter(|a| a.starts_with("maas_machine."))
                .map(str::to_string)
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn the_lab_demo_deploys_the_garage_then_adds_only_spare1() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("garage");
    let o = brick()
        .args(["lab", "demo", "--time-scale", "fast", "--dir"])
        .arg(&work)
        .current_dir(tmp.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");

    let split = all
        .find("A fourth PC has PXE-booted")
        .unwrap_or_else(|| panic!("no second step: {all}"));
    let (first, second) = all.split_at(split);
    assert_eq!(
        machines_created(first),
        [
            r#"maas_machine.node["kvm4"]"#,
            r#"maas_machine.node["kvm5"]"#,
            r#"maas_machine.node["maas"]"#
        ],
        "{first}"
    );
    assert!(
        first.contains("Plan: 17 to add, 0 to change, 0 to destroy."),
        "the whole garage (examples/garage: machines and tag, cluster and nodes, Rook, Strimzi, topics): {first}"
    );
    assert!(first.contains("Deploying"), "live progress: {first}");
    assert_eq!(
        machines_created(second),
        [r#"maas_machine.node["spare1"]"#],
        "{second}"
    );
    assert!(
        second.contains("Plan: 2 to add, 2 to change, 0 to destroy."),
        "spare1's machine and node; the cluster's node list and the CephCluster gain it: {second}"
    );
    assert!(
        second.contains("Commissioning"),
        "spare1 is New and gets commissioned first: {second}"
    );
    assert!(second.contains("4 machine(s) deployed"), "{second}");
    assert!(
        second.contains("ceph=/dev/disk/by-dname/vgroot-ceph"),
        "{second}"
    );

    // The state left in the work dir: four deployed machines, the new one included.
    let o = brick()
        .arg("-C")
        .arg(&work)
        .args(["show", "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let resources = j["values"]["root_module"]["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("{j}"));
    let mut deployed: Vec<&str> = resources
        .iter()
        .filter(|r| r["type"] == "maas_machine" && r["values"]["status"] == "Deployed")
        .map(|r| r["values"]["hostname"].as_str().unwrap())
        .collect();
    deployed.sort();
    assert_eq!(deployed, ["kvm4", "kvm5", "maas", "spare1"], "{j}");
    // Every layer really happened (issue 17): four Kubernetes nodes, spare1's among them; an
    // OSD per node, healthy; the Kafka cluster and its topics.
    let of_type = |t: &str| -> Vec<&serde_json::Value> {
        resources.iter().filter(|r| r["type"] == t).collect()
    };
    let mut nodes: Vec<String> = of_type("microk8s_node")
        .iter()
        .map(|r| r["index"].as_str().unwrap_or("?").to_string())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["kvm4", "kvm5", "maas", "spare1"], "{j}");
    let ceph = of_type("rook_cluster");
    assert_eq!(ceph.len(), 1, "{j}");
    assert_eq!(
        ceph[0]["values"]["osds"], 4,
        "spare1's OSD is up and in: {j}"
    );
    assert_eq!(ceph[0]["values"]["health"], "HEALTH_OK", "{j}");
    assert_eq!(of_type("strimzi_kafka").len(), 1, "{j}");
    assert_eq!(of_type("strimzi_topic").len(), 2, "{j}");
    // The plan of the one-line change was described from its data.
    assert!(
        second.contains("update rook_cluster.ceph (nodes: 3 -> 4)"),
        "{second}"
    );
    assert!(
        second.contains("create microk8s_node.n[\"spare1\"]"),
        "{second}"
    );
    // What Kafka gains: spare1's CPUs and memory (MAAS learned them when it enlisted), its Ceph
    // volume (a 500 GB disk less the 100 GB root), half of it usable at the pool's two copies.
    assert!(
        second
            .contains("spare1: 4 CPUs, 8 GiB of memory, a 400 GB Ceph volume (of its 500 GB disk)"),
        "{second}"
    );
    assert!(
        second.contains("in all: +4 CPUs and +8 GiB of memory for pods")
            && second.contains("+400 GB, +200 GB for volumes of rook-ceph-block at 2 copies"),
        "{second}"
    );
    // kvm5 released behind brick's back: `brick drift` found it and exited 2.
    assert!(
        second.contains("`brick drift` exited 2"),
        "drift's exit code: {second}"
    );
    // Its Node went NotReady and its OSD down: the storage layer drifted too (HEALTH_WARN).
    assert!(
        second.contains("# rook_cluster.ceph: changed")
            && second.contains(r#"health: "HEALTH_OK" → "HEALTH_WARN""#),
        "{second}"
    );
    assert!(
        second.contains("Drift: 2 changed, 0 deleted outside of brick"),
        "{second}"
    );
    // The summary table: a row per layer, then where the time went.
    for layer in ["maas", "microk8s", "rook", "strimzi"] {
        assert!(
            second
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{layer} "))),
            "no {layer} row: {second}"
        );
    }
    assert!(second.contains("brick's own (planning"), "{second}");
    // No secret printed: no private key, no kubeconfig credentials.
    for secret in ["PRIVATE KEY", "client-key-data", "client-certificate-data"] {
        assert!(!all.contains(secret), "{secret} printed");
    }
    // And nothing is left to do.
    let o = brick()
        .arg("-C")
        .arg(&work)
        .args(["state", "list"])
        .output()
        .unwrap();
    assert!(
        text(&o).contains(r#"maas_machine.node["spare1"]"#),
        "{}",
        text(&o)
    );
}

#[test]
fn the_lab_demo_refuses_a_work_directory_that_is_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let o = brick()
        .args(["lab", "demo", "--time-scale", "fast", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is not empty"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(),
        "mine"
    );
}

/// A GET signed with OAuth 1.0 PLAINTEXT as MAAS clients sign it; returns the status line and
/// the body.
fn maas_get(url: &str, key: &str, path: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (hostport, base) = rest.split_once('/').unwrap();
    let parts: Vec<&str> = key.split(':').collect();
    let auth = format!(
        "OAuth realm=\"\", oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature_method=\"PLAINTEXT\", oauth_signature=\"%26{}\", oauth_nonce=\"1\", oauth_timestamp=\"1\", oauth_version=\"1.0\"",
        parts[0], parts[1], parts[2]
    );
    let mut s = TcpStream::connect(hostport).unwrap();
    write!(
        s,
        "GET /{base}{path} HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn lab_serve_prints_export_lines_that_reach_the_maas_api() {
    let mut child = brick()
        .args([
            "lab",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--time-scale",
            "fast",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut vars = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let line = lines.next().unwrap().unwrap();
        let (k, v) = line
            .strip_prefix("export ")
            .and_then(|l| l.split_once('='))
            .unwrap_or_else(|| panic!("not an export line: {line}"));
        vars.insert(k.to_string(), v.to_string());
    }
    let url = vars["MAAS_API_URL"].clone();
    let key = vars["MAAS_API_KEY"].clone();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let (status, body) = maas_get(&url, &key, "api/2.0/machines/");
    let machines: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let mut seen: Vec<(String, String)> = machines
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["hostname"].as_str().unwrap().to_string(),
                m["status_name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert!(status.contains(" 200"), "{status}");
    assert_eq!(
        seen,
        [
            ("kvm4", "Ready"),
            ("kvm5", "Ready"),
            ("maas", "Ready"),
            ("spare1", "New"),
            ("spare2", "New"),
            ("spare3", "New")
        ]
        .map(|(h, s)| (h.to_string(), s.to_string()))
    );
    let (status, _) = maas_get(&url, "c:t:wrong", "api/2.0/machines/");
    assert!(status.contains(" 401"), "a wrong key is refused: {status}");

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let code = child.wait().unwrap();
    assert_eq!(code.code(), Some(0), "stops cleanly when terminated");
}

/// `brick lab serve` once, until it printed its export lines; returns them and the child.
fn serve_keys(extra: &[&str]) -> (String, String, std::process::Child) {
    let mut child = brick()
        .args([
            "lab",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--time-scale",
            "fast",
        ])
        .args(extra)
        .env_remove("BRICK_LAB_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap();
    let key = lines.next().unwrap().unwrap();
    (
        url.trim_start_matches("export MAAS_API_URL=").to_string(),
        key.trim_start_matches("export MAAS_API_KEY=").to_string(),
        child,
    )
}

/// Issue 10, item 10: another local user cannot guess the lab's key.
#[test]
fn lab_serve_makes_a_new_api_key_on_every_start_unless_one_is_given() {
    let (url1, key1, mut c1) = serve_keys(&[]);
    let (_, key2, mut c2) = serve_keys(&[]);
    assert_ne!(key1, key2, "the same key twice");
    assert_eq!(
        key1.split(':').map(str::len).collect::<Vec<_>>(),
        [18, 18, 32]
    );
    let (status, _) = maas_get(&url1, &key1, "api/2.0/machines/");
    assert!(status.contains(" 200"), "{status}");
    let (status, _) = maas_get(&url1, &key2, "api/2.0/machines/");
    assert!(status.contains(" 401"), "{status}");
    let (url3, key3, mut c3) = serve_keys(&["--api-key", "mine:token:s3cret"]);
    assert_eq!(key3, "mine:token:s3cret");
    let (status, _) = maas_get(&url3, &key3, "api/2.0/machines/");
    assert!(status.contains(" 200"), "{status}");
    for c in [&mut c1, &mut c2, &mut c3] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    let bad = brick()
        .args([
            "lab",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "nocolons",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad).contains("consumer:token:secret"),
        "{}",
        text(&bad)
    );
}
