//! End to end in the lab: the real `brick` binary applies machines (MAAS simulator) deployed
//! with a `microk8s_cluster`'s cloud-init, the three `microk8s_node`s that wait for the cluster
//! the lab forms from those documents (brick-k8s-sim serving on the first machine's address,
//! TLS with the cluster's CA), and a namespace and a ConfigMap through the k8s provider
//! configured from the first node's `cluster_kubeconfig`. Real kubectl with the kubeconfig
//! brick outputs then sees three Ready nodes with the machines' capacity; a second plan is
//! empty; a joiner with a wrong token never appears; a released machine's Node goes NotReady
//! and is Ready again once brick deploys the machine again; a control-plane node removed from
//! the configuration is taken out of the datastore through the first node's cluster agent.

use std::path::Path;

mod support;

use support::lab::ClusterLab;
use support::text;

/// The lab machines' addresses: `<net>.<10 + index>` (maas, kvm4, kvm5, spare1…), `<net>` being
/// this lab's own loopback network (`ClusterLab::write` puts it in place of `127.0.10`).
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
  api_address = "127.0.10.10"
  nodes       = local.nodes
}

resource "maas_machine" "node" {
  for_each = local.nodes

  hostname      = each.key
  distro_series = "jammy"
  user_data     = microk8s_cluster.garage.cloud_init[each.key]
}

resource "microk8s_node" "n" {
  for_each = local.nodes

  name          = maas_machine.node[each.key].hostname
  kubeconfig    = microk8s_cluster.garage.kubeconfig
  control_plane = each.value.control_plane
  labels        = { "garage.lan/role" = each.value.control_plane ? "control-plane" : "worker" }
  ready_timeout = "60s"
}

provider "k8s" {
  kubeconfig = microk8s_node.n["maas"].cluster_kubeconfig
}

resource "k8s_manifest" "ns" {
  manifest = { apiVersion = "v1", kind = "Namespace", metadata = { name = "garage" } }
}

resource "k8s_manifest" "settings" {
  manifest = {
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = { name = "settings", namespace = k8s_manifest.ns.manifest.metadata.name }
    data       = { pool = "replicapool" }
  }
}

output "kubeconfig" {
  value     = microk8s_cluster.garage.kubeconfig
  sensitive = true
}
"#;

fn kubectl(kubectl: &str, kubeconfig: &Path, args: &[&str]) -> String {
    let o = std::process::Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "kubectl {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_a_microk8s_cluster_its_nodes_and_objects_in_it_come_up_in_the_lab() {
    let lab = ClusterLab::start().await;
    lab.write(CONFIG);

    // The first plan shows every resource of the chain as a create, the k8s provider being
    // configured only during apply.
    let o = lab.brick(&["plan", "--detailed-exitcode"]).await;
    let planned = text(&o);
    assert_eq!(o.status.code(), Some(2), "{planned}");
    assert!(
        planned.contains("Plan: 9 to add, 0 to change, 0 to destroy."),
        "{planned}"
    );

    let t0 = std::time::Instant::now();
    let o = lab.brick(&["apply", "--auto-approve"]).await;
    let applied = text(&o);
    assert_eq!(o.status.code(), Some(0), "one apply: {applied}");
    let took = t0.elapsed();
    assert!(!applied.contains("PRIVATE KEY"), "{applied}");

    let o = lab.brick(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "a second plan is empty: {}",
        text(&o)
    );

    let o = lab.brick(&["output", "-raw", "kubeconfig"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let kc = lab.path().join("kubeconfig");
    std::fs::write(&kc, &o.stdout).unwrap();
    println!(
        "lab: machines + cluster + 3 nodes + 2 objects applied in one run in {:.1}s",
        took.as_secs_f64()
    );

    let Ok(real) = std::env::var("KUBECTL") else {
        brick_provider_api::testing::skip(
            "KUBECTL is not set (source .peers/env for real kubectl)",
        );
        return;
    };
    let nodes = kubectl(
        &real,
        &kc,
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type==\"Ready\")].status} {.status.capacity.cpu} {.status.capacity.memory} {.metadata.labels.garage\\.lan/role}{\"\\n\"}{end}",
        ],
    );
    let mut lines: Vec<&str> = nodes.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "kvm4 True 20 33554432Ki worker",
            "kvm5 True 20 33554432Ki worker",
            "maas True 10 16777216Ki control-plane",
        ],
        "{nodes}"
    );
    let cm = kubectl(
        &real,
        &kc,
        &[
            "get",
            "configmap",
            "settings",
            "-n",
            "garage",
            "-o",
            "jsonpath={.data.pool}",
        ],
    );
    assert_eq!(cm, "replicapool");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_join_token_is_wrong_never_appears_and_its_wait_says_so() {
    use brick_provider_maas::sim::world::Status;
    let lab = ClusterLab::start().await;
    // kvm4 joins with a token the first node never registered. This lab has its own loopback
    // network (`127.0.10` below is replaced by it): the nodes here are kvm4 (…11) as the
    // first node and kvm5 (…12) as the joiner.
    let config = r#"
provider "maas" {}

resource "microk8s_cluster" "lab" {
  channel     = "1.32/stable"
  api_address = "127.0.10.11"
  nodes       = { kvm4 = { control_plane = true }, kvm5 = { control_plane = false } }
}

resource "maas_machine" "first" {
  hostname      = "kvm4"
  distro_series = "jammy"
  user_data     = microk8s_cluster.lab.cloud_init["kvm4"]
}

resource "maas_machine" "joiner" {
  hostname      = "kvm5"
  distro_series = "jammy"
  user_data     = replace(microk8s_cluster.lab.cloud_init["kvm5"], microk8s_cluster.lab.token, "wrongwrongwrongwrongwrongwrong00")
}

resource "microk8s_node" "first" {
  name       = maas_machine.first.hostname
  kubeconfig = microk8s_cluster.lab.kubeconfig
  control_plane = true
}

resource "microk8s_node" "joiner" {
  name          = maas_machine.joiner.hostname
  kubeconfig    = microk8s_cluster.lab.kubeconfig
  ready_timeout = "3s"
}
"#;
    lab.write(config);
    let o = lab.brick(&["apply", "--auto-approve"]).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("brick::microk8s::node_not_ready"), "{out}");
    assert!(out.contains("no Node of that name registered"), "{out}");
    assert!(out.contains("wrong join token"), "{out}");
    lab.sim
        .with_world(|w| assert_eq!(w.by_hostname("kvm5").unwrap().status, Status::Deployed));
}

/// The Node's Ready condition status and the taints the node lifecycle controller sets.
fn readiness(node: &serde_json::Value) -> (String, Vec<String>) {
    let ready = node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_string();
    let taints = node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some(format!("{}:{}", t["key"].as_str()?, t["effect"].as_str()?)))
        .collect();
    (ready, taints)
}

/// Waits until the lab's Node `name` is as `want` says, or panics after a minute.
async fn node_until(
    labs: &brick::lab::Labs,
    name: &str,
    what: &str,
    want: impl Fn(&(String, Vec<String>)) -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let seen = labs.node(name).map(|n| readiness(&n));
        if seen.as_ref().is_some_and(&want) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Node {name} never became {what}: {seen:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_node_goes_not_ready_and_is_ready_again_once_redeployed() {
    use brick_provider_maas::sim::world::Status;
    let lab = ClusterLab::start().await;
    // kvm4 (…11) forms the cluster, kvm5 (…12) joins it.
    let config = r#"
provider "maas" {}

locals {
  nodes = { kvm4 = { control_plane = true }, kvm5 = { control_plane = false } }
}

resource "microk8s_cluster" "lab" {
  channel     = "1.32/stable"
  api_address = "127.0.10.11"
  nodes       = local.nodes
}

resource "maas_machine" "node" {
  for_each      = local.nodes
  hostname      = each.key
  distro_series = "jammy"
  user_data     = microk8s_cluster.lab.cloud_init[each.key]
}

resource "microk8s_node" "n" {
  for_each      = local.nodes
  name          = maas_machine.node[each.key].hostname
  kubeconfig    = microk8s_cluster.lab.kubeconfig
  control_plane = each.value.control_plane
}
"#;
    lab.write(config);
    let o = lab.brick(&["apply", "--auto-approve"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ready = |r: &(String, Vec<String>)| r.0 == "True" && r.1.is_empty();
    node_until(&lab.labs, "kvm5", "Ready", ready).await;

    // Released behind brick's back: its kubelet stops, and after the node monitor's grace
    // period the Node's conditions are Unknown and it is tainted unreachable.
    let now = std::time::Instant::now();
    lab.sim.with_world(|w| {
        let i = w
            .index(&w.by_hostname("kvm5").unwrap().system_id.clone())
            .unwrap();
        w.release(i, &Default::default(), now).unwrap();
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while lab
        .sim
        .with_world(|w| w.by_hostname("kvm5").unwrap().status)
        != Status::Ready
    {
        assert!(
            std::time::Instant::now() < deadline,
            "kvm5 was never released"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    node_until(&lab.labs, "kvm5", "NotReady (unreachable)", |r| {
        r.0 == "Unknown"
            && r.1
                .contains(&"node.kubernetes.io/unreachable:NoExecute".to_string())
            && r.1
                .contains(&"node.kubernetes.io/unreachable:NoSchedule".to_string())
    })
    .await;

    // brick deploys it again; its new kubelet registers the existing Node, which is Ready and
    // loses the unreachable taints, as the node lifecycle controller does.
    let o = lab.brick(&["apply", "--auto-approve"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    lab.sim
        .with_world(|w| assert_eq!(w.by_hostname("kvm5").unwrap().status, Status::Deployed));
    node_until(&lab.labs, "kvm5", "Ready again", ready).await;
    // Past another grace period it stays Ready: the release's pending NotReady does not
    // strike the new kubelet's Node.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let r = readiness(&lab.labs.node("kvm5").unwrap());
    assert!(ready(&r), "{r:?}");
    let o = lab.brick(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_control_plane_node_takes_it_out_of_the_datastore_without_ssh() {
    let lab = ClusterLab::start().await;
    // Two control-plane nodes (maas forms the cluster, kvm4 joins as a voter) and a worker.
    let config = |nodes: &str| {
        format!(
            r#"
provider "maas" {{}}

locals {{
  nodes = {{ {nodes} }}
}}

resource "microk8s_cluster" "garage" {{
  channel        = "1.32/stable"
  api_address    = "127.0.10.10"
  bootstrap_node = "maas"
  nodes          = local.nodes
}}

resource "maas_machine" "node" {{
  for_each = local.nodes

  hostname      = each.key
  distro_series = "jammy"
  user_data     = microk8s_cluster.garage.cloud_init[each.key]
}}

resource "microk8s_node" "n" {{
  for_each = local.nodes

  name          = maas_machine.node[each.key].hostname
  kubeconfig    = microk8s_cluster.garage.kubeconfig
  control_plane = each.value.control_plane
  ready_timeout = "60s"
}}
"#
        )
    };
    let three = "maas = { control_plane = true }, kvm4 = { control_plane = true }, kvm5 = { control_plane = false }";
    lab.write(&config(three));
    let o = lab.brick(&["apply", "--auto-approve"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let voter = |host: u8| format!("{}.{host}:19001", lab.net);
    assert_eq!(
        lab.labs.datastore_members(&format!("{}.10", lab.net)),
        Some(vec![voter(10), voter(11)]),
        "the bootstrap node and the control-plane joiner are the datastore's voters; the worker is none"
    );

    // kvm4 leaves the garage: its node is drained, removed from the datastore through the
    // first node's cluster agent, its Node deleted, then its machine released.
    let two = "maas = { control_plane = true }, kvm5 = { control_plane = false }";
    lab.write(&config(two));
    let o = lab.brick(&["apply", "--auto-approve"]).await;
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        !out.contains("control_plane_member_left"),
        "no manual step is left: {out}"
    );
    assert_eq!(
        lab.labs.datastore_members(&format!("{}.10", lab.net)),
        Some(vec![voter(10)]),
        "kvm4 is no longer a voter: {out}"
    );
    let o = lab.brick(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Removing the bootstrap node's microk8s_node (the last control plane, and the node whose
    // address the kubeconfig and the join URLs name) is refused at plan, at the node's block.
    let without_maas = config(two).replace(
        "resource \"microk8s_node\" \"n\" {\n  for_each = local.nodes",
        "resource \"microk8s_node\" \"n\" {\n  for_each = { for k, v in local.nodes : k => v if k != \"maas\" }",
    );
    let line = without_maas
        .lines()
        .position(|l| l.starts_with("resource \"microk8s_node\""))
        .unwrap()
        + 1;
    lab.write(&without_maas);
    let o = lab.brick(&["plan"]).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    for code in ["last_control_plane", "bootstrap_node_removed"] {
        assert!(
            out.contains(&format!("brick::microk8s::{code}")),
            "{code}: {out}"
        );
    }
    assert!(
        out.contains(&format!("on main.hcl line {line}")),
        "line {line}: {out}"
    );
    assert!(out.contains("microk8s_node.n[\"maas\"]"), "{out}");
}
