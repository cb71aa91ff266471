//! Smoke tests of the k8s peer's controllers (`tests/peers/up.sh k8s`: kube-controller-manager,
//! kube-scheduler and KWOK's fake nodes beside the API server), driven through the real
//! `kubectl` ($KUBECTL) as a third-party client: the garage's nodes are Ready with the MAAS
//! simulator's capacity, a Deployment rolls out and becomes Available, a deleted namespace is
//! finalized and goes away. Skipped, with a visible line, without `BRICK_PEERS_KWOK_NODES`.

use std::process::{Command, Output};

const SKIP: &str = "no Kubernetes controllers — run tests/peers/up.sh k8s";

/// The kubectl binary and the peer's kubeconfig, or `None` (after saying so) without the peer.
fn kubectl() -> Option<(String, String)> {
    let vars = (
        std::env::var("BRICK_PEERS_KWOK_NODES"),
        std::env::var("KUBECTL"),
        std::env::var("BRICK_PEERS_KUBECONFIG"),
    );
    let (Ok(_), Ok(kubectl), Ok(kubeconfig)) = vars else {
        brick_provider_api::testing::skip(SKIP);
        return None;
    };
    Some((kubectl, kubeconfig))
}

fn run(k: &(String, String), args: &[&str]) -> Output {
    Command::new(&k.0)
        .arg("--kubeconfig")
        .arg(&k.1)
        .args(args)
        .output()
        .expect("running kubectl")
}

/// Runs kubectl and returns its stdout; panics with its stderr when it fails.
fn ok(k: &(String, String), args: &[&str]) -> String {
    let out = run(k, args);
    assert!(
        out.status.success(),
        "kubectl {}: {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

#[test]
fn the_garage_nodes_are_ready_with_the_maas_machines_capacity() {
    let Some(k) = kubectl() else { return };
    let want = [
        ("maas", "10", "16Gi"),
        ("kvm4", "20", "32Gi"),
        ("kvm5", "20", "32Gi"),
    ];
    for (node, cpu, memory) in want {
        ok(
            &k,
            &[
                "wait",
                "--for=condition=Ready",
                "--timeout=60s",
                &format!("node/{node}"),
            ],
        );
        let got = ok(
            &k,
            &[
                "get",
                "node",
                node,
                "-o",
                "jsonpath={.status.capacity.cpu} {.status.capacity.memory} {.status.conditions[?(@.type==\"Ready\")].status}",
            ],
        );
        assert_eq!(got, format!("{cpu} {memory} True"), "node {node}");
    }
}

#[test]
fn a_deployment_rolls_out_on_the_kwok_nodes_and_becomes_available() {
    let Some(k) = kubectl() else { return };
    let ns = unique("brick-rollout");
    ok(&k, &["create", "namespace", &ns]);
    ok(
        &k,
        &[
            "create",
            "deployment",
            "web",
            "-n",
            &ns,
            "--image=registry.invalid/web:1",
            "--replicas=3",
        ],
    );
    ok(
        &k,
        &[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            &ns,
            "--timeout=120s",
        ],
    );
    let available = ok(
        &k,
        &[
            "get",
            "deployment",
            "web",
            "-n",
            &ns,
            "-o",
            "jsonpath={.status.availableReplicas} {.status.conditions[?(@.type==\"Available\")].status}",
        ],
    );
    assert_eq!(available, "3 True");
    // The scheduler bound every pod to one of the garage's nodes, and KWOK runs them.
    let pods = ok(
        &k,
        &[
            "get",
            "pods",
            "-n",
            &ns,
            "-o",
            "jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{\"\\n\"}{end}",
        ],
    );
    let lines: Vec<&str> = pods.lines().collect();
    assert_eq!(lines.len(), 3, "{pods}");
    for line in lines {
        let (node, phase) = line.split_once(' ').expect("node and phase");
        assert!(["maas", "kvm4", "kvm5"].contains(&node), "{pods}");
        assert_eq!(phase, "Running", "{pods}");
    }
    ok(&k, &["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn a_deleted_namespace_is_finalized_and_goes_away_with_what_it_held() {
    let Some(k) = kubectl() else { return };
    let ns = unique("brick-ns-gone");
    ok(&k, &["create", "namespace", &ns]);
    ok(
        &k,
        &[
            "create",
            "configmap",
            "held",
            "-n",
            &ns,
            "--from-literal=a=b",
        ],
    );
    // The controller-manager also made the namespace's default ServiceAccount.
    ok(
        &k,
        &[
            "wait",
            "--for=create",
            "--timeout=60s",
            "serviceaccount/default",
            "-n",
            &ns,
        ],
    );
    ok(&k, &["delete", "namespace", &ns, "--timeout=120s"]);
    let out = run(&k, &["get", "namespace", &ns]);
    assert!(!out.status.success(), "namespace {ns} still exists");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NotFound"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
