//! How the rook provider's read of the Ceph mgr's metrics (`pg_metrics::read`, through the API
//! server's service proxy to Rook's `rook-ceph-mgr` Service) fails on the real kube-apiserver of
//! the peers (`tests/peers/up.sh k8s`, with RBAC), sorted as the PG wait needs it: no Service
//! and a refusal by RBAC last (the wait is skipped with a warning at once); a Service without
//! endpoints is passing (503: the wait tries again for a while). A successful read through the
//! proxy cannot be had here — the peers' Ceph listens on loopback, and the real API server
//! refuses loopback endpoints — and is tested against the lab's API (`rook_lab.rs`). Everything
//! happens in a namespace of the test's own, deleted at the end. Skipped, visibly, without the
//! peers' settings.

use std::process::{Command, Stdio};

use base64::Engine;
use brick_provider_api::Value;
use brick_provider_ceph::pg_metrics::{self, Unreadable};
use brick_provider_k8s::machinery::Cluster;

const SKIP: &str = "no Kubernetes API — run tests/peers/up.sh k8s";

struct Peer {
    kubeconfig: String,
    kubectl: String,
}

impl Peer {
    fn get() -> Option<Peer> {
        let (Ok(kubeconfig), Ok(kubectl)) = (
            std::env::var("BRICK_PEERS_KUBECONFIG"),
            std::env::var("KUBECTL"),
        ) else {
            brick_provider_api::testing::skip(SKIP);
            return None;
        };
        Some(Peer {
            kubeconfig,
            kubectl,
        })
    }

    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut c = Command::new(&self.kubectl);
        c.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("kubectl");
        if let Some(text) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// Deletes the test's namespace at the end.
struct Gone<'a>(&'a Peer, String);
impl Drop for Gone<'_> {
    fn drop(&mut self) {
        let _ = Command::new(&self.0.kubectl)
            .args(["delete", "namespace", &self.1, "--wait=false"])
            .env("KUBECONFIG", &self.0.kubeconfig)
            .output();
    }
}

/// A connection as ServiceAccount `sa` of namespace `ns` (a token from the TokenRequest API).
async fn as_account(p: &Peer, ns: &str, sa: &str) -> Cluster {
    let jsonpath = |path: &str| {
        p.kubectl(
            &[
                "config",
                "view",
                "--raw",
                "--minify",
                "--flatten",
                "-o",
                &format!("jsonpath={{.clusters[0].cluster.{path}}}"),
            ],
            None,
        )
    };
    let server = jsonpath("server");
    let ca = base64::engine::general_purpose::STANDARD
        .decode(jsonpath("certificate-authority-data"))
        .expect("the peers' CA");
    let token = p.kubectl(&["create", "token", sa, "-n", ns], None);
    Cluster::connect(&Value::object_from([
        ("host", Value::string(server)),
        (
            "cluster_ca_certificate",
            Value::string(String::from_utf8(ca).unwrap()),
        ),
        ("token", Value::string(token)),
    ]))
    .await
    .unwrap()
}

#[tokio::test]
async fn an_absent_service_and_an_rbac_refusal_last_and_a_service_without_endpoints_passes() {
    let Some(p) = Peer::get() else { return };
    let ns = format!(
        "brick-pgm-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    p.kubectl(&["create", "namespace", &ns], None);
    let _gone = Gone(&p, ns.clone());
    let admin = Cluster::connect(&Value::object_from([(
        "config_path",
        Value::string(p.kubeconfig.clone()),
    )]))
    .await
    .unwrap();

    // No Service: lasting, said in words.
    let (why, path) = pg_metrics::read(&admin, &ns).await.unwrap_err();
    assert!(
        matches!(&why, Unreadable::Lasting(w) if w.contains(&format!("the Service {ns}/rook-ceph-mgr")) && w.contains("does not exist")),
        "{why:?}"
    );
    assert_eq!(
        path,
        format!("/api/v1/namespaces/{ns}/services/http:rook-ceph-mgr:http-metrics/proxy/metrics")
    );

    // Rook's Service before the mgr runs (no endpoints): 503 from the real proxy, passing.
    let svc = format!(
        r#"{{"apiVersion":"v1","kind":"Service","metadata":{{"name":"rook-ceph-mgr","namespace":"{ns}"}},"spec":{{"selector":{{"app":"rook-ceph-mgr","mgr_role":"active"}},"ports":[{{"name":"http-metrics","port":9283,"protocol":"TCP"}}]}}}}"#
    );
    p.kubectl(&["apply", "-f", "-"], Some(&svc));
    let (why, _) = pg_metrics::read(&admin, &ns).await.unwrap_err();
    assert!(
        matches!(&why, Unreadable::Passing(w) if w.contains("HTTP 503") && w.contains("no endpoints available for service")),
        "{why:?}"
    );

    // A user who may read Services but not proxy to them: the real 403, lasting.
    let rbac = format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[
  {{"apiVersion":"v1","kind":"ServiceAccount","metadata":{{"name":"reader","namespace":"{ns}"}}}},
  {{"apiVersion":"v1","kind":"ServiceAccount","metadata":{{"name":"nobody","namespace":"{ns}"}}}},
  {{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{{"name":"services","namespace":"{ns}"}},
    "rules":[{{"apiGroups":[""],"resources":["services"],"verbs":["get"]}}]}},
  {{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{{"name":"reader","namespace":"{ns}"}},
    "roleRef":{{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"services"}},
    "subjects":[{{"kind":"ServiceAccount","name":"reader","namespace":"{ns}"}}]}}]}}"#
    );
    p.kubectl(&["apply", "-f", "-"], Some(&rbac));
    let reader = as_account(&p, &ns, "reader").await;
    let (why, _) = pg_metrics::read(&reader, &ns).await.unwrap_err();
    assert!(
        matches!(&why, Unreadable::Lasting(w) if w.contains("HTTP 403") && w.contains("services/proxy")),
        "{why:?}"
    );
    // One who may not even read the Service: lasting too.
    let nobody = as_account(&p, &ns, "nobody").await;
    let (why, _) = pg_metrics::read(&nobody, &ns).await.unwrap_err();
    assert!(
        matches!(&why, Unreadable::Lasting(w) if w.contains("HTTP 403")),
        "{why:?}"
    );
}
