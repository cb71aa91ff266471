//! End to end: providers configured from values only apply knows (the cluster they talk to is
//! created in the same run). The real `brick` binary plans their creates without configuring
//! them (every provider brick has, and no default cluster in their place), applies the chain
//! in one run through the MAAS simulator, defers the objects of a provider whose endpoint is
//! being replaced (exit 2 with `--detailed-exitcode`, a saved plan applied as shown, nothing
//! sent to that endpoint), and on the real kube-apiserver of tests/peers configures `k8s`
//! from a kubeconfig known only during apply — with `KUBECONFIG` pointing at that same server,
//! which a deferred plan never touches.

mod support;

use std::path::Path;
use std::process::Command;

use brick_provider_maas::sim::{SimOptions, Simulator};
use support::{Dir, Run, command};

/// Every provider configured from `brick_data.cluster.output`, which is unknown until apply.
const EVERY_PROVIDER: &str = r#"
resource "brick_data" "cluster" {
  input = "127.0.0.1:9"
}

provider "k8s" {
  kubeconfig = brick_data.cluster.output
}

provider "maas" {
  api_url = "http://${brick_data.cluster.output}/MAAS"
  api_key = "a:b:c"
}

provider "ceph" {
  config_file = brick_data.cluster.output
}

provider "kafka" {
  bootstrap_servers = [brick_data.cluster.output]
}

resource "k8s_manifest" "cm" {
  manifest = {
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = { name = "late", namespace = "default" }
    data       = { a = "1" }
  }
}

resource "maas_tag" "garage" {
  name = "garage"
}

resource "ceph_pool" "data" {
  name                      = "data"
  size                      = 1
  require_safe_replica_size = false
}

resource "kafka_topic" "events" {
  name               = "events"
  partitions         = 1
  replication_factor = 1
}
"#;

#[test]
fn every_provider_plans_its_creates_unconfigured_and_says_it_is_configured_during_apply() {
    let dir = Dir::new(EVERY_PROVIDER);
    // Defaults that would be used if brick configured a provider without its block: none may
    // be read (a fallback would fail on these, or talk to whatever they name).
    let run = |args: &[&str]| {
        Run::of(
            command(dir.path(), args)
                .env("KUBECONFIG", dir.path().join("no-such-kubeconfig"))
                .env("MAAS_API_URL", "http://127.0.0.1:9/MAAS")
                .env("CEPH_CONF", dir.path().join("no-such-ceph.conf"))
                .env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9"),
        )
    };
    let r = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "changes present:\n{}{}", r.stdout, r.stderr);
    for addr in [
        "brick_data.cluster",
        "k8s_manifest.cm",
        "maas_tag.garage",
        "ceph_pool.data",
        "kafka_topic.events",
    ] {
        assert!(
            r.stdout.contains(&format!("# {addr} will be created")),
            "{addr}:\n{}",
            r.stdout
        );
    }
    assert!(
        r.stdout
            .contains("Plan: 5 to add, 0 to change, 0 to destroy."),
        "{}",
        r.stdout
    );
    for p in ["ceph", "k8s", "kafka", "maas"] {
        assert!(
            r.stdout.contains(&format!(
                "provider \"{p}\" is configured during apply, once brick_data.cluster is applied"
            )),
            "{p}:\n{}",
            r.stdout
        );
    }
    assert!(!r.stdout.contains("deferred"), "{}", r.stdout);

    let j = run(&["plan", "--json"]);
    assert_eq!(j.code, 0, "{}", j.stderr);
    let j = j.json();
    let names: Vec<&str> = j["brick_configured_during_apply"]
        .as_array()
        .expect("brick_configured_during_apply")
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ceph", "k8s", "kafka", "maas"]);
    assert!(j.get("deferred_changes").is_none());
    assert_eq!(j["complete"], true);

    // A saved plan keeps it.
    let r = run(&["plan", "--out", "late.plan"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shown = run(&["show", "--json", "late.plan"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert_eq!(
        shown.json()["brick_configured_during_apply"][3]["after"],
        serde_json::json!(["brick_data.cluster"])
    );
}

/// MAAS reached through an endpoint known only during apply: `brick_data.endpoint` carries
/// the simulator's URL and a generation; a new generation replaces it (its output is unknown
/// again), as a cluster being replaced would.
fn maas_layers(url: &str, generation: u32, comment: &str) -> String {
    format!(
        r#"
resource "brick_data" "endpoint" {{
  input = {{ url = "{url}", generation = {generation} }}
}}

provider "maas" {{
  api_url = brick_data.endpoint.output.url
}}

resource "maas_tag" "garage" {{
  name    = "garage"
  comment = "{comment}"
}}
"#
    )
}

async fn brick_with(dir: &Path, sim: &Simulator, args: &[&str]) -> Run {
    let (dir, key) = (dir.to_path_buf(), sim.api_key());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Run::of(
            command(&dir, &args)
                .env("MAAS_API_KEY", key)
                // A fallback to the environment's MAAS would reach nothing.
                .env("MAAS_API_URL", "http://127.0.0.1:9/MAAS"),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_apply_goes_through_a_provider_configured_on_the_way_and_a_replaced_endpoint_defers_its_objects()
 {
    let sim = Simulator::start(SimOptions::fast()).await.unwrap();
    let url = sim.url().to_string();
    let dir = Dir::new(&maas_layers(&url, 1, "first"));
    let d = dir.path();

    let r = brick_with(d, &sim, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Plan: 2 to add"), "{}", r.stdout);
    assert!(
        sim.requests().is_empty(),
        "planning sent nothing to MAAS: {:?}",
        sim.requests()
    );

    // Saved, then applied: exactly that plan, the provider configured on the way.
    let r = brick_with(d, &sim, &["plan", "--out", "first.plan"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = brick_with(d, &sim, &["apply", "first.plan"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("provider \"maas\": Configured during apply, its configuration now known"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("2 added"), "{}", r.stdout);
    let comment =
        |sim: &Simulator| sim.with_world(|w| w.tags.get("garage").map(|t| t.comment.clone()));
    assert_eq!(comment(&sim).as_deref(), Some("first"));

    let r = brick_with(d, &sim, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(
        r.code, 0,
        "a second plan is empty:\n{}{}",
        r.stdout, r.stderr
    );

    // The endpoint is replaced and the tag's comment changes: the tag waits for the next run.
    std::fs::write(d.join("main.hcl"), maas_layers(&url, 2, "second")).unwrap();
    sim.clear_requests();
    let r = brick_with(d, &sim, &["plan", "--detailed-exitcode", "--out", "p.plan"]).await;
    assert_eq!(
        r.code, 2,
        "deferred changes are changes:\n{}{}",
        r.stdout, r.stderr
    );
    assert!(
        r.stdout.contains("# maas_tag.garage was deferred")
            && r.stdout.contains(
                "because the configuration of provider \"maas\" is known only during apply"
            ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "This is a partial plan, parts can only be known in the next plan / apply cycle."
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("is configured during apply"),
        "a provider with no change of its own is not configured: {}",
        r.stdout
    );
    let shown = brick_with(d, &sim, &["show", "--json", "p.plan"]).await;
    let j = shown.json();
    let dc = &j["deferred_changes"];
    assert_eq!(dc[0]["reason"], "provider_config_unknown", "{dc}");
    assert_eq!(dc[0]["resource_change"]["address"], "maas_tag.garage");
    assert_eq!(
        dc[0]["resource_change"]["change"]["actions"],
        serde_json::json!(["update"])
    );
    assert_eq!(j["complete"], false);

    let r = brick_with(d, &sim, &["apply", "p.plan"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("1 change(s) deferred to the next run"),
        "{}",
        r.stdout
    );
    assert!(
        sim.requests().is_empty(),
        "nothing was sent to the endpoint being replaced: {:?}",
        sim.requests()
    );
    assert_eq!(
        comment(&sim).as_deref(),
        Some("first"),
        "the tag was not touched"
    );

    // The next run plans it, its provider configured.
    let r = brick_with(d, &sim, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("# maas_tag.garage will be updated in-place"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("deferred"), "{}", r.stdout);
    let r = brick_with(d, &sim, &["apply", "--auto-approve"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(comment(&sim).as_deref(), Some("second"));
}

/// A ConfigMap in a cluster whose kubeconfig only apply knows (it is the real peer's, passed
/// through `brick_data` as a cluster resource would output it).
fn k8s_layers(kubeconfig_path: &str, generation: u32, name: &str, value: &str) -> String {
    format!(
        r#"
resource "brick_data" "cluster" {{
  input = {{ kubeconfig = sensitive(file({kubeconfig_path:?})), generation = {generation} }}
}}

provider "k8s" {{
  kubeconfig = brick_data.cluster.output.kubeconfig
}}

resource "k8s_manifest" "cm" {{
  manifest = {{
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = {{ name = "{name}", namespace = "default" }}
    data       = {{ value = "{value}" }}
  }}
  delete_propagation = "Background"
}}
"#
    )
}

#[test]
fn on_the_real_kube_apiserver_k8s_is_configured_during_apply_and_never_falls_back_to_kubeconfig() {
    let (Ok(kubeconfig), Ok(kubectl)) = (
        std::env::var("BRICK_PEERS_KUBECONFIG"),
        std::env::var("KUBECTL"),
    ) else {
        brick_provider_api::testing::skip(
            "no Kubernetes API or kubectl — run tests/peers/up.sh k8s",
        );
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("late-{}-{}", std::process::id(), nanos % 1_000_000);
    let dir = Dir::new(&k8s_layers(&kubeconfig, 1, &name, "one"));
    // KUBECONFIG names the very server: a provider falling back to it would reach it.
    let run = |args: &[&str]| Run::of(command(dir.path(), args).env("KUBECONFIG", &kubeconfig));
    let kubectl = |args: &[&str]| {
        Run::of(
            Command::new(&kubectl)
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(args),
        )
    };
    let live = || -> serde_json::Value {
        let r = kubectl(&["get", "configmap", &name, "-n", "default", "-o", "json"]).ok();
        serde_json::from_str(&r.stdout).unwrap()
    };

    let r = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("# k8s_manifest.cm will be created"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "provider \"k8s\" is configured during apply, once brick_data.cluster is applied"
        ),
        "{}",
        r.stdout
    );
    let r = run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("2 added"), "{}", r.stdout);
    assert_eq!(live()["data"]["value"], "one");
    let r = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        r.code, 0,
        "a second plan is empty:\n{}{}",
        r.stdout, r.stderr
    );

    // Another manager changes the object; then the cluster is "replaced" and the object's
    // configuration changes: the object is deferred — not read (no drift shown), not
    // planned, not applied — although KUBECONFIG points at the server that holds it.
    kubectl(&[
        "patch",
        "configmap",
        &name,
        "-n",
        "default",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"other":"kubectl"}}"#,
    ])
    .ok();
    let version = live()["metadata"]["resourceVersion"].clone();
    std::fs::write(
        dir.path().join("main.hcl"),
        k8s_layers(&kubeconfig, 2, &name, "two"),
    )
    .unwrap();
    let r = run(&["plan", "--detailed-exitcode", "--out", "p.plan"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("# k8s_manifest.cm was deferred"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("changed outside of brick"),
        "nothing was read: {}",
        r.stdout
    );
    let r = run(&["apply", "p.plan"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let now = live();
    assert_eq!(
        now["metadata"]["resourceVersion"], version,
        "not touched: {now}"
    );
    assert_eq!(now["data"]["value"], "one");

    // The next run plans it with the provider configured, and applies it.
    let r = run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(live()["data"]["value"], "two");
    // Destroying the whole chain configures k8s from the cluster's recorded kubeconfig.
    run(&["destroy", "--auto-approve"]).ok();
    let gone = kubectl(&["get", "configmap", &name, "-n", "default"]);
    assert_ne!(gone.code, 0, "the ConfigMap was deleted: {}", gone.stdout);
}

/// The garage chain: machines (MAAS), the MicroK8s cluster they form, and Kubernetes objects
/// in that cluster, through `provider "k8s" { kubeconfig = microk8s_cluster.garage.kubeconfig }`.
const GARAGE_CHAIN: &str = r#"
provider "maas" {}

provider "k8s" {
  kubeconfig = microk8s_cluster.garage.kubeconfig
}

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
}

resource "maas_machine" "node" {
  for_each = local.nodes

  hostname      = each.key
  distro_series = "jammy"
  user_data     = microk8s_cluster.garage.cloud_init[each.key]
}

resource "k8s_manifest" "ns" {
  manifest = {
    apiVersion = "v1"
    kind       = "Namespace"
    metadata   = { name = "garage" }
  }
}

resource "k8s_manifest" "settings" {
  manifest = {
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = { name = "settings", namespace = k8s_manifest.ns.manifest.metadata.name }
    data       = { retention = "7d" }
  }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_plan_of_the_garage_chain_shows_every_layer_as_a_create() {
    let sim = Simulator::start(SimOptions::fast()).await.unwrap();
    let dir = Dir::new(GARAGE_CHAIN);
    let (url, key) = (sim.url().to_string(), sim.api_key());
    let d = dir.path().to_path_buf();
    let r = tokio::task::spawn_blocking(move || {
        Run::of(
            command(&d, &["plan", "--detailed-exitcode"])
                .env("MAAS_API_URL", url)
                .env("MAAS_API_KEY", key)
                // Were the unknown kubeconfig replaced by the environment's, it would be this.
                .env("KUBECONFIG", "/nonexistent/kubeconfig"),
        )
    })
    .await
    .unwrap();
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    for addr in [
        "maas_machine.node[\"kvm4\"]",
        "maas_machine.node[\"kvm5\"]",
        "maas_machine.node[\"maas\"]",
        "microk8s_cluster.garage",
        "k8s_manifest.ns",
        "k8s_manifest.settings",
    ] {
        assert!(
            r.stdout.contains(&format!("# {addr} will be created")),
            "{addr}:\n{}",
            r.stdout
        );
    }
    assert!(
        r.stdout
            .contains("Plan: 6 to add, 0 to change, 0 to destroy."),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "provider \"k8s\" is configured during apply, once microk8s_cluster.garage is applied"
        ),
        "{}",
        r.stdout
    );
}
