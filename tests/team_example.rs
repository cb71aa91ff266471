//! examples/team end to end: the whole garage (examples/garage's files: machines, MicroK8s,
//! Rook, Strimzi) with its state on the `s3` backend against the real RGW peer (Ceph's S3 gateway), encrypted with a
//! passphrase, applied in the lab (MAAS simulator forming MicroK8s clusters, simulated Rook
//! and Strimzi operators; not the real Rook peer). `brick init` proves RGW's conditional writes, plan
//! and apply run, a second working copy is refused the lock while the first holds it (two
//! processes), and the state comes back from RGW encrypted (nothing readable in the object),
//! readable with the key by the teammate.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use brick::registry::maas_lab::{self, SimOptions, Simulator};
use brick_provider_api::testing::skip;
use brick_state_backends::{self as be, BackendConfig};
use support::{Running, text};

const PASSPHRASE: &str = "the garage team's long passphrase";

struct Rgw {
    endpoint: String,
    access: String,
    secret: String,
    bucket: String,
}

fn rgw() -> Option<Rgw> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (Some(endpoint), Some(access), Some(secret)) = (
        env("BRICK_PEERS_S3_ENDPOINT"),
        env("BRICK_PEERS_S3_ACCESS_KEY"),
        env("BRICK_PEERS_S3_SECRET_KEY"),
    ) else {
        skip("no S3 store — run tests/peers/up.sh rgw");
        return None;
    };
    let bucket = env("BRICK_PEERS_S3_BUCKET").unwrap_or_else(|| "brick-state".into());
    Some(Rgw {
        endpoint,
        access,
        secret,
        bucket,
    })
}

/// A copy of examples/team (links followed) whose backend block points at `rgw`, under `key`.
fn team_copy(rgw: &Rgw, key: &str) -> tempfile::TempDir {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/team");
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name.to_string_lossy().ends_with(".md") {
            continue;
        }
        let mut body = std::fs::read_to_string(e.path()).unwrap();
        if name == "backend.hcl" {
            assert!(body.contains("http://127.0.0.1:7480"), "{body}");
            body = body
                .replace("http://127.0.0.1:7480", &rgw.endpoint)
                .replace("\"brick-state\"", &format!("\"{}\"", rgw.bucket))
                .replace("garage/brick.state.json", key);
        }
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    dir
}

fn brick(dir: &Path, (sim, net): &(Simulator, String), rgw: &Rgw, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brick"));
    c.args(args)
        .current_dir(dir)
        .env("MAAS_API_URL", sim.url())
        .env("MAAS_API_KEY", sim.api_key())
        .env("AWS_ACCESS_KEY_ID", &rgw.access)
        .env("AWS_SECRET_ACCESS_KEY", &rgw.secret)
        .env("BRICK_STATE_PASSPHRASE", PASSPHRASE)
        .env("NO_COLOR", "1")
        .env("BRICK_VAR_api_address", format!("{net}.10"))
        .env_remove("KUBECONFIG");
    c
}

fn ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    // The command's arguments only: its environment holds the store's keys.
    let args: Vec<_> = c.get_args().collect();
    assert!(o.status.success(), "brick {args:?} failed:\n{}", text(&o));
    text(&o)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_team_example_keeps_the_garage_state_in_rgw_encrypted() {
    let Some(rgw) = rgw() else {
        return;
    };
    let net = brick::lab::free_loopback_network();
    let mut opts = SimOptions {
        network: Some(net.clone()),
        time_scale: 0.002,
        ..SimOptions::fast()
    };
    brick::lab::with_clusters(&mut opts);
    let sim = maas_lab::serve("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let sim = (sim, net);
    let key = format!(
        "tests/team-{}/brick.state.json",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let (a, b) = (team_copy(&rgw, &key), team_copy(&rgw, &key));
    let (a, b) = (a.path().to_path_buf(), b.path().to_path_buf());
    let sim = std::sync::Arc::new(sim);
    let (s2, rgw) = (sim.clone(), std::sync::Arc::new(rgw));
    let r2 = rgw.clone();
    tokio::task::spawn_blocking(move || scenario(&a, &b, &s2, &r2, &key))
        .await
        .unwrap();
    drop(sim);
}

fn scenario(a: &Path, b: &Path, sim: &(Simulator, String), rgw: &Rgw, key: &str) {
    let t = ok(&mut brick(a, sim, rgw, &["init"]));
    assert!(t.contains("Conditional writes proved"), "{t}");
    assert!(t.contains("state encrypted (AES-256-GCM)"), "{t}");
    ok(&mut brick(b, sim, rgw, &["init"]));
    let t = ok(&mut brick(a, sim, rgw, &["plan"]));
    assert!(
        t.contains("maas_machine.node[\"kvm4\"] will be created"),
        "{t}"
    );

    // Two processes: the first apply holds the lock while it asks for confirmation; the
    // teammate's plan is refused, naming it.
    let mut first = Running::start_with_input(brick(a, sim, rgw, &["apply"]));
    first.wait_for("Do you want to perform these actions?");
    let pid = first.child.id();
    let o = brick(b, sim, rgw, &["plan"]).output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("brick::backend::locked") && t.contains(&format!("pid {pid}")),
        "{t}"
    );
    first
        .child
        .stdin
        .take()
        .unwrap()
        .write_all(b"yes\n")
        .unwrap();
    let (code, out) = first.finish();
    assert_eq!(code, Some(0), "the apply finishes:\n{out}");
    assert!(out.contains("Apply complete! Resources: "), "{out}");

    // The object in RGW is an encrypted envelope: no hostname, no lineage readable.
    let mut settings = std::collections::BTreeMap::new();
    for (k, v) in [
        ("bucket", rgw.bucket.as_str()),
        ("key", key),
        ("endpoints.s3", rgw.endpoint.as_str()),
        ("access_key", rgw.access.as_str()),
        ("secret_key", rgw.secret.as_str()),
        ("use_path_style", "true"),
    ] {
        settings.insert(k.to_string(), v.to_string());
    }
    let cfg = BackendConfig {
        kind: "s3".into(),
        settings,
    };
    let stored = be::open(&cfg)
        .unwrap()
        .read("default")
        .unwrap()
        .expect("the state is in RGW")
        .bytes;
    assert!(be::is_encrypted(&stored));
    let shown = String::from_utf8_lossy(&stored);
    assert!(
        !shown.contains("kvm4") && !shown.contains("maas_machine"),
        "{shown}"
    );

    // The teammate pulls it back with the key: the machines are there, nothing to do.
    let t = ok(&mut brick(b, sim, rgw, &["state", "list"]));
    for node in ["maas", "kvm4", "kvm5"] {
        assert!(t.contains(&format!("maas_machine.node[\"{node}\"]")), "{t}");
    }
    let t = ok(&mut brick(b, sim, rgw, &["plan"]));
    assert!(t.contains("No changes"), "{t}");
    // Its working copy is encrypted on disk too.
    for e in std::fs::read_dir(b.join(".brick/remote/default")).unwrap() {
        let e = e.unwrap();
        let bytes = std::fs::read(e.path()).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("kvm4"),
            "{} is readable",
            e.path().display()
        );
    }
    // Without the key: a clear error, nothing changed.
    let o = brick(b, sim, rgw, &["plan"])
        .env_remove("BRICK_STATE_PASSPHRASE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("brick::backend::encrypted"),
        "{}",
        text(&o)
    );
    let _ = be::open(&cfg).unwrap().delete_workspace("default");
}
