//! `brick_provider_k8s::machinery` against the real kube-apiserver of tests/peers (with its
//! kube-controller-manager, scheduler and KWOK nodes): connection from a kubeconfig string,
//! apply, get, list, conflicts, wait-until-ready with progress, Foreground deletion and
//! wait-until-gone. Reads `BRICK_PEERS_KUBECONFIG`; skipped visibly without it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use brick_provider_api::Value;
use brick_provider_api::provider::{NoProgress, Progress};
use brick_provider_k8s::machinery::{Cluster, Ident, Propagation, Wait};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::json;

async fn cluster() -> Option<Cluster> {
    let Some(path) = std::env::var_os("BRICK_PEERS_KUBECONFIG") else {
        brick_provider_api::testing::skip("no Kubernetes API — run tests/peers/up.sh k8s");
        return None;
    };
    let doc = std::fs::read_to_string(path).expect("the peer's kubeconfig");
    // The `kubeconfig` argument: a document as a string, as another resource hands it over.
    Some(
        Cluster::from_kubeconfig(&doc)
            .await
            .expect("a connection from the kubeconfig string"),
    )
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Collects what a wait reports.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Progress for Log {
    fn report(&self, status: &str) {
        self.0.lock().unwrap().push(status.to_string());
    }
}

impl Log {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn namespace(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

#[tokio::test]
async fn apply_get_list_conflict_wait_and_foreground_delete_of_a_namespace_until_gone() {
    let Some(c) = cluster().await else { return };
    let ns = unique("brick-mach");
    let live = c
        .apply(&namespace(&ns), false)
        .await
        .expect("apply namespace");
    let ns_id = Ident::from_json(&live).unwrap();
    assert_eq!(ns_id.namespace, None, "a Namespace is cluster-scoped");
    c.wait_ready(
        &ns_id,
        &Wait::default(),
        Duration::from_secs(30),
        &NoProgress,
    )
    .await
    .expect("the namespace becomes Active");

    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": ns, "labels": {"app": "brick-mach"}},
        "data": {"retention": "7d"}});
    let live = c.apply(&cm, false).await.expect("apply configmap");
    assert_eq!(live["data"]["retention"], "7d");
    let managers: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["brick"], "applied as field manager brick");
    let id = Ident::from_json(&cm).unwrap();
    let got = c.get(&id).await.unwrap().expect("the configmap exists");
    assert_eq!(got["kind"], "ConfigMap");
    assert_eq!(got["metadata"]["uid"], live["metadata"]["uid"]);
    let other = Ident {
        name: "missing".into(),
        ..id.clone()
    };
    assert_eq!(c.get(&other).await.unwrap(), None);

    // Another object of the kind without the label: the selector leaves it out.
    let mut plain = cm.clone();
    plain["metadata"] = json!({"name": "plain", "namespace": ns});
    c.apply(&plain, false).await.unwrap();
    let listed = c
        .list("v1", "ConfigMap", Some(&ns), Some("app=brick-mach"))
        .await
        .unwrap();
    let names: Vec<&str> = listed
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["settings"]);
    // Without a selector: both, and kube-root-ca.crt once kube-controller-manager has published
    // it in the new namespace (it does so on its own time: the list may come before it).
    let all = c.list("v1", "ConfigMap", Some(&ns), None).await.unwrap();
    let mut names: Vec<&str> = all
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .filter(|n| *n != "kube-root-ca.crt")
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["plain", "settings"],
        "all configmaps of the namespace"
    );

    // Another manager takes the field: brick's apply is a conflict naming it, unless forced.
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
    let api: Api<DynamicObject> = Api::namespaced_with(c.ctx().client.clone(), &ns, &ar);
    let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings"}, "data": {"retention": "3d"}});
    api.patch(
        "settings",
        &PatchParams::apply("ops-team").force(),
        &Patch::Apply(&theirs),
    )
    .await
    .expect("ops-team applies");
    let mut changed = cm.clone();
    changed["data"]["retention"] = json!("14d");
    let d = c.apply(&changed, false).await.expect_err("a conflict");
    assert_eq!(d.code, "brick::k8s::conflict");
    assert!(d.detail.contains("ops-team"), "{}", d.detail);
    assert!(d.detail.contains(".data.retention"), "{}", d.detail);
    let live = c.apply(&changed, true).await.expect("forced apply");
    assert_eq!(live["data"]["retention"], "14d");

    // A wait that the object never satisfies ends at its timeout, saying what it waited for.
    let wait = Wait {
        fields: [("data.retention".to_string(), "30d".to_string())].into(),
        ..Wait::default()
    };
    let log = Log::default();
    let t = Instant::now();
    let d = c
        .wait_ready(&id, &wait, Duration::from_secs(2), &log)
        .await
        .expect_err("not ready");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(d.code, "brick::k8s::not_ready");
    assert!(d.detail.contains("data.retention is 14d"), "{}", d.detail);
    assert!(
        log.lines().iter().any(|l| l.contains("waiting for 30d")),
        "{:?}",
        log.lines()
    );

    // Foreground deletion of the namespace: the namespace controller empties it, and the
    // wait sees it through (finalizer kubernetes / foregroundDeletion) until it is gone.
    assert!(c.delete(&ns_id, Propagation::Foreground).await.unwrap());
    let log = Log::default();
    c.wait_gone(&ns_id, Duration::from_secs(120), &log)
        .await
        .expect("the namespace goes");
    assert!(!log.lines().is_empty(), "progress was reported");
    assert_eq!(c.get(&ns_id).await.unwrap(), None);
    assert_eq!(c.get(&id).await.unwrap(), None, "its objects went with it");
    assert!(
        !c.delete(&ns_id, Propagation::Foreground).await.unwrap(),
        "deleting what is gone says so"
    );
    assert!(c.requests() > 0);
}

#[tokio::test]
async fn a_deployment_is_waited_for_until_rolled_out_and_foreground_deletion_removes_its_pods_first()
 {
    let Some(c) = cluster().await else { return };
    let ns = unique("brick-mach-dep");
    c.apply(&namespace(&ns), false).await.unwrap();
    let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {
                    "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
                    "containers": [{"name": "web", "image": "nginx:1.27"}]}}}});
    c.apply(&dep, false).await.unwrap();
    let id = Ident::from_json(&dep).unwrap();
    let log = Log::default();
    let ready = c
        .wait_ready(&id, &Wait::default(), Duration::from_secs(120), &log)
        .await
        .expect("the deployment rolls out on the KWOK nodes");
    assert_eq!(ready["status"]["availableReplicas"], 2);
    assert!(
        log.lines()
            .iter()
            .any(|l| l.contains("replicas") || l.contains("controller to report status")),
        "progress names what it waits for: {:?}",
        log.lines()
    );
    let pods = c
        .list("v1", "Pod", Some(&ns), Some("app=web"))
        .await
        .unwrap();
    assert_eq!(pods.len(), 2, "two pods");

    // Foreground: the Deployment stays (finalizer foregroundDeletion) until its ReplicaSet
    // and pods are gone; then it goes.
    assert!(c.delete(&id, Propagation::Foreground).await.unwrap());
    let log = Log::default();
    c.wait_gone(&id, Duration::from_secs(120), &log)
        .await
        .expect("gone");
    assert!(
        c.list("apps/v1", "ReplicaSet", Some(&ns), None)
            .await
            .unwrap()
            .is_empty(),
        "its ReplicaSet went before it"
    );
    let ns_id = Ident::from_json(&namespace(&ns)).unwrap();
    c.delete(&ns_id, Propagation::Foreground).await.unwrap();
    c.wait_gone(&ns_id, Duration::from_secs(120), &NoProgress)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unserved_kind_and_an_unreachable_server_are_clear_diagnostics_within_seconds() {
    if let Some(c) = cluster().await {
        let d = c
            .apply(
                &json!({"apiVersion": "nothing.brick.test/v1", "kind": "Nothing",
                "metadata": {"name": "x", "namespace": "default"}}),
                false,
            )
            .await
            .expect_err("unknown kind");
        assert_eq!(d.code, "brick::k8s::unknown_kind");
        assert!(
            c.list("nothing.brick.test/v1", "Nothing", None, None)
                .await
                .unwrap()
                .is_empty()
        );
    }
    // No peer is needed for this one.
    let c = Cluster::connect(&Value::object_from([
        ("host", Value::string("https://127.0.0.1:1")),
        ("insecure", Value::bool(true)),
    ]))
    .await
    .expect("a connection is only a configuration");
    let t = Instant::now();
    let d = c
        .get(&Ident {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("default".into()),
            name: "x".into(),
        })
        .await
        .expect_err("unreachable");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(d.code, "brick::k8s::unreachable");
    assert!(d.detail.contains("127.0.0.1:1"), "{}", d.detail);

    // Something that is not a Kubernetes API server (a web server, a proxy at a wrong
    // address) answering 404: said so, not "kind not served".
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let c = Cluster::connect(&Value::object_from([(
        "host",
        Value::string(format!("http://127.0.0.1:{port}")),
    )]))
    .await
    .unwrap();
    let d = c
        .apply(
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
            false,
        )
        .await
        .expect_err("not Kubernetes");
    assert_eq!(d.code, "brick::k8s::unreachable");
    assert!(
        d.detail.contains("not a Kubernetes API server"),
        "{}",
        d.detail
    );
}
