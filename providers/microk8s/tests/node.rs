//! `microk8s_node` against the real kube-apiserver of the peers (tests/peers: KWOK plays the
//! kubelets): the wait for a Node that registers late, labels and taints as kubectl sees them
//! (other taints left alone), a drain that a PodDisruptionBudget blocks until it is released,
//! the drain timeout, and the Node deleted. Every Node here is the test's own (KWOK manages
//! any Node annotated `kwok.x-k8s.io/node: fake`); the peers' nodes are not touched.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brick_provider_api::provider::{ApplyRequest, PlanRequest, Progress, Provider, ReadRequest};
use brick_provider_api::{Type, Value};
use brick_provider_microk8s::Microk8sProvider;
use brick_provider_microk8s::resources::node;

struct Peer {
    kubeconfig_path: String,
    kubeconfig: String,
    kubectl: String,
}

fn peer() -> Option<Peer> {
    let (Ok(path), Ok(kubectl)) = (
        std::env::var("BRICK_PEERS_KUBECONFIG"),
        std::env::var("KUBECTL"),
    ) else {
        brick_provider_api::testing::skip(
            "BRICK_PEERS_KUBECONFIG and KUBECTL are not set (source .peers/env)",
        );
        return None;
    };
    let kubeconfig = std::fs::read_to_string(&path).ok()?;
    Some(Peer {
        kubeconfig_path: path,
        kubeconfig,
        kubectl,
    })
}

impl Peer {
    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        let mut child = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig_path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).to_string();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    fn must(&self, args: &[&str], stdin: Option<&str>) -> String {
        let (ok, out) = self.kubectl(args, stdin);
        assert!(ok, "kubectl {args:?} failed: {out}");
        out
    }

    /// A KWOK Node of the test's own, as a kubelet registering would make it.
    fn register_node(&self, name: &str) {
        self.must(
            &["create", "-f", "-"],
            Some(&format!(
                "apiVersion: v1
kind: Node
metadata:
  name: {name}
  annotations: {{kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: \"0\"}}
  labels: {{kubernetes.io/hostname: {name}, kubernetes.io/os: linux, type: kwok}}
spec:
  taints: [{{key: someone-else, value: keep, effect: PreferNoSchedule}}]
status:
  capacity: {{cpu: \"4\", memory: 8Gi, ephemeral-storage: 100Gi, pods: \"110\"}}
  allocatable: {{cpu: \"4\", memory: 8Gi, ephemeral-storage: 100Gi, pods: \"110\"}}
  nodeInfo: {{architecture: amd64, operatingSystem: linux, kubeletVersion: fake}}
"
            )),
        );
    }

    fn cleanup(&self, node: &str, namespace: &str) {
        let _ = self.kubectl(
            &["delete", "node", node, "--ignore-not-found", "--wait=false"],
            None,
        );
        let _ = self.kubectl(
            &[
                "delete",
                "namespace",
                namespace,
                "--ignore-not-found",
                "--wait=false",
            ],
            None,
        );
    }
}

#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<String>>>);
impl Progress for Seen {
    fn report(&self, status: &str) {
        self.0.lock().unwrap().push(status.to_string());
    }
}
impl Seen {
    fn any(&self, needle: &str) -> bool {
        self.0.lock().unwrap().iter().any(|s| s.contains(needle))
    }
}

fn unique(prefix: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000;
    format!("{prefix}-{}-{t}", std::process::id())
}

fn config(
    peer: &Peer,
    name: &str,
    labels: &[(&str, &str)],
    taints: &[(&str, &str, &str)],
    extra: &[(&str, Value)],
) -> Value {
    let mut m: BTreeMap<String, Value> = BTreeMap::from([
        ("name".into(), Value::string(name)),
        ("kubeconfig".into(), Value::string(&peer.kubeconfig)),
        ("control_plane".into(), Value::bool(false)),
        (
            "labels".into(),
            Value::map(
                Type::String,
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::string(*v)))
                    .collect(),
            ),
        ),
        (
            "taints".into(),
            Value::list(
                Type::object([
                    ("key", Type::String),
                    ("value", Type::String),
                    ("effect", Type::String),
                ]),
                taints
                    .iter()
                    .map(|(k, v, e)| {
                        Value::object_from([
                            ("key", Value::string(*k)),
                            ("value", Value::string(*v)),
                            ("effect", Value::string(*e)),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("ready_timeout".into(), Value::string("60s")),
        ("drain_timeout".into(), Value::string("60s")),
    ]);
    for (k, v) in extra {
        m.insert(k.to_string(), v.clone());
    }
    // Computed attributes are null in a proposed state.
    for k in ["id", "internal_ip", "kubelet_version", "cluster_kubeconfig"] {
        m.insert(k.into(), Value::null(Type::String));
    }
    m.insert("capacity".into(), Value::null(Type::map(Type::String)));
    Value::object(m)
}

async fn plan(p: &Microk8sProvider, prior: &Value, proposed: &Value) -> Value {
    let r = p
        .plan_resource(PlanRequest {
            type_name: node::TYPE,
            prior,
            proposed,
        })
        .await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    r.planned
}

async fn apply(
    p: &Microk8sProvider,
    prior: &Value,
    planned: &Value,
    seen: &Seen,
) -> (Value, Vec<String>) {
    let r = p
        .apply_resource(ApplyRequest {
            type_name: node::TYPE,
            prior,
            planned,
            progress: seen,
        })
        .await;
    let errors = r
        .diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.code, d.detail))
        .collect();
    (r.new_state, errors)
}

fn jsonpath(peer: &Peer, node: &str, path: &str) -> String {
    peer.must(
        &["get", "node", node, "-o", &format!("jsonpath={path}")],
        None,
    )
}

#[tokio::test]
async fn a_node_is_waited_for_labelled_tainted_drained_past_a_pdb_and_deleted() {
    let Some(peer) = peer() else { return };
    let p = Microk8sProvider;
    let name = unique("mk8s-node");
    let ns = unique("mk8s-drain");
    let t0 = Instant::now();

    // Create: the Node registers only 3 s after the apply started.
    let cfg = config(
        &peer,
        &name,
        &[("brick.test/role", "storage"), ("tier", "a")],
        &[("dedicated", "ceph", "NoSchedule")],
        &[],
    );
    let planned = plan(&p, &Value::null(Type::Dynamic), &cfg).await;
    assert!(!planned.get("cluster_kubeconfig").unwrap().is_known());
    let seen = Seen::default();
    let late = {
        let name = name.clone();
        let kc = peer.kubeconfig_path.clone();
        let kubectl = peer.kubectl.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(3));
            Peer {
                kubeconfig_path: kc,
                kubeconfig: String::new(),
                kubectl,
            }
            .register_node(&name);
        })
    };
    let (state, errors) = apply(&p, &Value::null(Type::Dynamic), &planned, &seen).await;
    late.join().unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        seen.any(&format!("Waiting for node {name} to join")),
        "{:?}",
        seen.0
    );
    assert!(t0.elapsed() >= Duration::from_secs(3));
    assert!(state.is_wholly_known());
    assert_eq!(
        state.get("capacity").unwrap().get("cpu").unwrap().as_str(),
        Some("4")
    );
    assert_eq!(
        state.get("cluster_kubeconfig").unwrap().as_str(),
        Some(peer.kubeconfig.as_str())
    );
    assert_eq!(jsonpath(&peer, &name, "{.metadata.labels.tier}"), "a");
    assert_eq!(
        jsonpath(&peer, &name, "{.metadata.labels.brick\\.test/role}"),
        "storage"
    );
    let taints = jsonpath(&peer, &name, "{.spec.taints}");
    assert!(
        taints.contains("\"dedicated\"") && taints.contains("someone-else"),
        "{taints}"
    );
    let managers = jsonpath(&peer, &name, "{.metadata.managedFields[*].manager}");
    assert!(managers.split(' ').any(|m| m == "brick"), "{managers}");

    // Refresh reads the same; a second plan is empty.
    let read = p
        .read_resource(ReadRequest {
            type_name: node::TYPE,
            current: &state,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, state);

    // Update: one label dropped, one changed, the taint replaced; the foreign taint stays.
    let cfg2 = config(
        &peer,
        &name,
        &[("tier", "b")],
        &[("gpu", "", "NoExecute")],
        &[],
    );
    let planned2 = plan(&p, &state, &cfg2).await;
    let (state2, errors) = apply(&p, &state, &planned2, &Seen::default()).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(jsonpath(&peer, &name, "{.metadata.labels.tier}"), "b");
    assert_eq!(
        jsonpath(&peer, &name, "{.metadata.labels.brick\\.test/role}"),
        ""
    );
    let taints = jsonpath(&peer, &name, "{.spec.taints}");
    assert!(
        !taints.contains("dedicated") && taints.contains("gpu") && taints.contains("someone-else"),
        "{taints}"
    );
    // A taint removed behind brick's back shows as drift.
    peer.must(&["taint", "node", &name, "gpu:NoExecute-"], None);
    let read = p
        .read_resource(ReadRequest {
            type_name: node::TYPE,
            current: &state2,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.get("taints").unwrap().as_sequence().unwrap().len(), 0);

    // A pod on the node, guarded by a PodDisruptionBudget that allows no disruption.
    peer.must(&["create", "namespace", &ns], None);
    peer.must(
        &["apply", "-n", &ns, "-f", "-"],
        Some(&format!(
            "apiVersion: v1
kind: Pod
metadata: {{name: guarded, labels: {{app: guarded}}}}
spec:
  nodeName: {name}
  tolerations: [{{operator: Exists}}]
  terminationGracePeriodSeconds: 0
  containers: [{{name: c, image: fake}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: guarded}}
spec:
  minAvailable: 1
  selector: {{matchLabels: {{app: guarded}}}}
"
        )),
    );
    peer.must(
        &[
            "wait",
            "-n",
            &ns,
            "--for=condition=Ready",
            "--timeout=30s",
            "pod/guarded",
        ],
        None,
    );

    // Destroy: the eviction is refused (429) and retried, until the budget is released.
    let seen = Seen::default();
    let destroy = {
        let p2 = Microk8sProvider;
        let prior = state2.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            let r = p2
                .apply_resource(ApplyRequest {
                    type_name: node::TYPE,
                    prior: &prior,
                    planned: &Value::null(Type::Dynamic),
                    progress: &seen,
                })
                .await;
            (r.new_state, r.diagnostics)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.any("PodDisruptionBudget") {
        if destroy.is_finished() || Instant::now() >= deadline {
            panic!(
                "the drain never reported the budget: {:?}: {:?}",
                seen.0,
                destroy.await
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(jsonpath(&peer, &name, "{.spec.unschedulable}"), "true");
    let (ok, _) = peer.kubectl(&["get", "-n", &ns, "pod/guarded"], None);
    assert!(ok, "the pod was evicted past its budget");
    peer.must(&["delete", "-n", &ns, "pdb", "guarded"], None);
    let (new_state, diags) = tokio::time::timeout(Duration::from_secs(60), destroy)
        .await
        .expect("the destroy finishes once the budget is gone")
        .unwrap();
    assert!(diags.is_empty(), "{diags:?}");
    assert!(new_state.is_null());
    let (ok, out) = peer.kubectl(&["get", "node", &name], None);
    assert!(!ok && out.contains("NotFound"), "{out}");
    let (ok, out) = peer.kubectl(&["get", "-n", &ns, "pod/guarded"], None);
    assert!(!ok && out.contains("NotFound"), "{out}");
    assert!(
        p.read_resource(ReadRequest {
            type_name: node::TYPE,
            current: &state2
        })
        .await
        .unwrap()
        .is_none()
    );
    println!(
        "node lifecycle on the peers' kube-apiserver: {:.1}s, progress {:?}",
        t0.elapsed().as_secs_f64(),
        seen.0.lock().unwrap()
    );
    peer.cleanup(&name, &ns);
}

#[tokio::test]
async fn a_drain_a_budget_keeps_blocking_fails_at_its_timeout_and_leaves_the_node_cordoned() {
    let Some(peer) = peer() else { return };
    let p = Microk8sProvider;
    let name = unique("mk8s-stuck");
    let ns = unique("mk8s-stuck");
    peer.register_node(&name);
    let cfg = config(
        &peer,
        &name,
        &[],
        &[],
        &[("drain_timeout", Value::string("3s"))],
    );
    let planned = plan(&p, &Value::null(Type::Dynamic), &cfg).await;
    let (state, errors) = apply(&p, &Value::null(Type::Dynamic), &planned, &Seen::default()).await;
    assert!(errors.is_empty(), "{errors:?}");
    peer.must(&["create", "namespace", &ns], None);
    peer.must(
        &["apply", "-n", &ns, "-f", "-"],
        Some(&format!(
            "apiVersion: v1
kind: Pod
metadata: {{name: stuck, labels: {{app: stuck}}}}
spec:
  nodeName: {name}
  tolerations: [{{operator: Exists}}]
  containers: [{{name: c, image: fake}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: stuck}}
spec:
  maxUnavailable: 0
  selector: {{matchLabels: {{app: stuck}}}}
"
        )),
    );
    let (after, errors) = apply(&p, &state, &Value::null(Type::Dynamic), &Seen::default()).await;
    assert_eq!(after, state, "a failed destroy keeps the node in state");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("brick::microk8s::drain_timeout")
                && e.contains("PodDisruptionBudget")),
        "{errors:?}"
    );
    assert_eq!(jsonpath(&peer, &name, "{.spec.unschedulable}"), "true");
    peer.cleanup(&name, &ns);
}

#[tokio::test]
async fn a_node_that_never_joins_fails_at_its_ready_timeout_saying_what_was_seen() {
    let Some(peer) = peer() else { return };
    let p = Microk8sProvider;
    let name = unique("mk8s-never");
    let cfg = config(
        &peer,
        &name,
        &[],
        &[],
        &[("ready_timeout", Value::string("2s"))],
    );
    let planned = plan(&p, &Value::null(Type::Dynamic), &cfg).await;
    let (after, errors) = apply(&p, &Value::null(Type::Dynamic), &planned, &Seen::default()).await;
    assert!(after.is_null());
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("brick::microk8s::node_not_ready")
                && e.contains("no Node of that name registered")),
        "{errors:?}"
    );
}
