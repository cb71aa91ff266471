//! End to end: the real `brick` binary plans and applies a `microk8s_cluster` together with the
//! `maas_machine`s (MAAS simulator) whose user_data is the cluster's cloud-init, never prints a
//! secret, and a second plan is empty.

use std::path::Path;
use std::process::Output;

use brick_provider_maas::sim::world::{Status, World};
use brick_provider_maas::sim::{SimOptions, Simulator};

const CONFIG: &str = r#"
provider "maas" {}

locals {
  nodes = {
    maas = { control_plane = true }
    kvm4 = { control_plane = false }
    kvm5 = { control_plane = false }
  }
  static_ips = { maas = "10.0.0.50" }
}

resource "microk8s_cluster" "garage" {
  channel     = "1.32/stable"
  api_address = local.static_ips["maas"]
  nodes       = local.nodes
  addons      = ["dns", "hostpath-storage"]
}

resource "maas_machine" "node" {
  for_each = local.nodes

  hostname      = each.key
  distro_series = "jammy"
  static_ip     = lookup(local.static_ips, each.key, null)
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
    assert!(applied.contains("https://10.0.0.50:16443"), "{applied}");

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
                // Its boot interface has the static address the join URL names.
                assert_eq!(World::ip_addresses(m), ["10.0.0.50"]);
            } else {
                let at = ud.find("10.0.0.50:25000/").expect("join url") + 16;
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

    // Bad input is refused at plan with its code, at its line.
    let api_line = "  api_address = local.static_ips[\"maas\"]";
    let refused_at = |config: String, code: &'static str, line: usize| {
        let sim = &sim;
        async move {
            std::fs::write(d.join("main.hcl"), &config).unwrap();
            let o = brick(d, sim, &["plan"]).await;
            let refused = text(&o);
            assert_eq!(o.status.code(), Some(1), "{code}: {refused}");
            assert!(
                refused.contains(&format!("brick::microk8s::{code}")),
                "{refused}"
            );
            assert!(
                refused.contains(&format!("on main.hcl line {line}")),
                "{code} at line {line}: {refused}"
            );
        }
    };
    // A host name as api_address.
    let named = CONFIG.replace(api_line, "  api_address = \"maas.garage.lan\"");
    refused_at(named, "api_address_not_ip", 15).await;
    // An api_address that is not the bootstrap machine's static address.
    let elsewhere = CONFIG.replace(api_line, "  api_address = \"10.0.0.51\"");
    refused_at(elsewhere, "api_address_mismatch", 15).await;
    // An address known only after apply (another machine's, given by MAAS at deploy).
    let later = format!(
        "{}\nresource \"maas_machine\" \"other\" {{\n  hostname = \"spare1\"\n}}\n",
        CONFIG.replace(
            api_line,
            "  api_address = maas_machine.other.ip_addresses[0]"
        )
    );
    refused_at(later, "api_address_unknown", 15).await;
    // Two control-plane nodes and no bootstrap_node: the error is at `nodes`.
    let two = CONFIG.replace(
        "kvm4 = { control_plane = false }",
        "kvm4 = { control_plane = true }",
    );
    refused_at(two, "ambiguous_bootstrap_node", 16).await;
    // A node whose document no machine deploys with (a control-plane joiner: every worker's
    // document is the same, so an unused worker's cannot be told from the others').
    let unused = CONFIG.replace(
        "  nodes       = local.nodes",
        "  nodes       = merge(local.nodes, { spare1 = { control_plane = true } })\n  bootstrap_node = \"maas\"",
    );
    refused_at(unused, "unused_node_document", 16).await;
    // A node whose role is not the cluster's.
    let lines = CONFIG.lines().count();
    let mismatch = format!(
        "{CONFIG}\nresource \"microk8s_node\" \"kvm4\" {{\n  name          = maas_machine.node[\"kvm4\"].hostname\n  kubeconfig    = microk8s_cluster.garage.kubeconfig\n  control_plane = true\n}}\n"
    );
    refused_at(mismatch, "node_role_mismatch", lines + 5).await;
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
