//! End to end: the real `brick` binary plans and applies a `microk8s_cluster` together with the
//! `maas_machine`s (MAAS simulator) whose user_data is the cluster's cloud-init, never prints a
//! secret, and a second plan is empty.

use std::path::Path;
use std::process::Output;

use brick_provider_maas::sim::world::Status;
use brick_provider_maas::sim::{SimOptions, Simulator};

const CONFIG: &str = r#"
provider "maas" {}

locals {
  nodes = {
    maas = { control_plane = true }
    kvm4 = { control_plane = false }
    kvm5 = { control_plane = false }
  }
}

resource "microk8s_cluster" "garage" {
  channel     = "1.32/stable"
  api_address = "10.0.0.11"
  nodes       = local.nodes
  addons      = ["dns", "hostpath-storage"]
}

resource "maas_machine" "node" {
  for_each = local.nodes

  hostname      = each.key
  distro_series = "jammy"
  user_data     = microk8s_cluster.garage.cloud_init[each.key]
}

output "kubeconfig" {
  value     = microk8s_cluster.garage.kubeconfig
  sensitive = true
}

output "api_endpoint" {
  value = microk8s_cluster.garage.api_endpoint
}
"#;

async fn brick(dir: &Path, sim: &Simulator, args: &[&str]) -> Output {
    let (dir, url, key) = (dir.to_path_buf(), sim.url().to_string(), sim.api_key());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_brick"))
            .args(&args)
            .current_dir(dir)
            .env("MAAS_API_URL", url)
            .env("MAAS_API_KEY", key)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_and_its_machines_apply_in_one_run_without_printing_a_secret() {
    let sim = Simulator::start(SimOptions {
        time_scale: 0.002,
        ..SimOptions::fast()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("main.hcl"), CONFIG).unwrap();

    let o = brick(d, &sim, &["plan", "--detailed-exitcode"]).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("Plan: 4 to add, 0 to change, 0 to destroy."),
        "{out}"
    );
    assert!(out.contains("microk8s_cluster.garage"), "{out}");
    assert!(out.contains("(known after apply)"), "{out}");

    let o = brick(d, &sim, &["apply", "--auto-approve"]).await;
    let applied = text(&o);
    assert_eq!(o.status.code(), Some(0), "{applied}");
    assert!(applied.contains("https://10.0.0.11:16443"), "{applied}");

    // Each machine was deployed with its own document; the workers join the first node.
    let mut token = String::new();
    sim.with_world(|w| {
        for h in ["maas", "kvm4", "kvm5"] {
            let m = w.by_hostname(h).unwrap();
            assert_eq!(m.status, Status::Deployed, "{h}");
            let ud = String::from_utf8(m.user_data.clone().unwrap()).unwrap();
            assert!(ud.starts_with("#cloud-config\n"), "{ud}");
            if h == "maas" {
                assert!(ud.contains("microk8s refresh-certs"), "{ud}");
            } else {
                let at = ud.find("10.0.0.11:25000/").expect("join url") + 16;
                token = ud[at..at + 32].to_string();
                assert!(ud.contains("worker: true"), "{ud}");
            }
        }
    });
    assert_eq!(token.len(), 32);

    let o = brick(d, &sim, &["plan", "--detailed-exitcode"]).await;
    let second = text(&o);
    assert_eq!(o.status.code(), Some(0), "a second plan is empty: {second}");

    let o = brick(d, &sim, &["output"]).await;
    let outputs = text(&o);
    assert_eq!(o.status.code(), Some(0), "{outputs}");
    assert!(outputs.contains("<sensitive>"), "{outputs}");

    // A token written in the configuration that differs from the cluster's replaces it, and
    // the plan says so (without printing either token).
    let new_token = "0123456789abcdef0123456789abcdef";
    let changed = CONFIG.replace(
        "  addons      = [\"dns\", \"hostpath-storage\"]",
        &format!(
            "  addons      = [\"dns\", \"hostpath-storage\"]\n  token       = \"{new_token}\""
        ),
    );
    std::fs::write(d.join("main.hcl"), &changed).unwrap();
    let o = brick(d, &sim, &["plan", "--detailed-exitcode"]).await;
    let replaced = text(&o);
    assert_eq!(o.status.code(), Some(2), "{replaced}");
    assert!(
        replaced.contains("microk8s_cluster.garage must be replaced"),
        "{replaced}"
    );
    assert!(replaced.contains("forces replacement"), "{replaced}");
    assert!(!replaced.contains(new_token), "{replaced}");
    // … and says what the replacement destroys.
    assert!(
        replaced.contains("brick::microk8s::token_changed")
            && replaced.contains("everything stored in the cluster is lost"),
        "{replaced}"
    );

    // A host name as api_address is refused at plan, at its line.
    let named = CONFIG.replace("\"10.0.0.11\"", "\"maas.garage.lan\"");
    std::fs::write(d.join("main.hcl"), &named).unwrap();
    let o = brick(d, &sim, &["plan"]).await;
    let refused = text(&o);
    assert_eq!(o.status.code(), Some(1), "{refused}");
    assert!(
        refused.contains("brick::microk8s::api_address_not_ip"),
        "{refused}"
    );
    assert!(refused.contains("on main.hcl line 14"), "{refused}");
    std::fs::write(d.join("main.hcl"), CONFIG).unwrap();

    for (what, printed) in [
        ("replacing plan", &replaced),
        ("plan", &out),
        ("apply", &applied),
        ("second plan", &second),
        ("output", &outputs),
    ] {
        assert!(
            !printed.contains(&token),
            "{what} printed the token: {printed}"
        );
        assert!(
            !printed.contains("PRIVATE KEY"),
            "{what} printed a key: {printed}"
        );
        assert!(
            !printed.contains("client-key-data"),
            "{what} printed the kubeconfig: {printed}"
        );
    }
}
