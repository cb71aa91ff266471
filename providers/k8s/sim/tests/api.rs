//! The simulated API server in process, no peers needed: TLS with client-certificate and
//! token authentication, server-side apply conflicts and forced ownership, watch from a
//! resourceVersion, namespace finalization, garbage collection, CRD validation, eviction
//! against a PodDisruptionBudget, and a Controller plug-in.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use brick_k8s_sim::pki::TestPki;
use brick_k8s_sim::{Cluster, Controller, Event, NodeSpec, SimOptions, SimServer};
use serde_json::{Value, json};

async fn lab(controllers: Vec<Arc<dyn Controller>>) -> (SimServer, TestPki, reqwest::Client) {
    let pki = TestPki::generate().expect("pki");
    let server = SimServer::start(SimOptions {
        tls: Some(pki.serving.clone()),
        client_ca_pem: Some(pki.ca_cert_pem.clone()),
        tokens: vec!["s3cret".into()],
        time_scale: 0.01,
        controllers,
        ..SimOptions::default()
    })
    .await
    .expect("start");
    let id = reqwest::Identity::from_pem(
        format!("{}{}", pki.admin_cert_pem, pki.admin_key_pem).as_bytes(),
    )
    .expect("identity");
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(pki.ca_cert_pem.as_bytes()).expect("ca"),
        )
        .identity(id)
        .build()
        .expect("client");
    (server, pki, client)
}

async fn send(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    ctype: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = c.request(method, url).header("Content-Type", ctype);
    if let Some(b) = body {
        r = r.body(b.to_string());
    }
    let resp = r.send().await.expect("request");
    let code = resp.status().as_u16();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    (code, v)
}

async fn eventually(mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the condition never held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_or_a_token_is_admitted_and_nothing_else() {
    let (server, pki, client) = lab(vec![]).await;
    let url = format!("{}/api/v1/namespaces", server.url());
    let (code, list) = send(
        &client,
        reqwest::Method::GET,
        url.clone(),
        "application/json",
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["metadata"]["name"] == "default")
    );
    let anonymous = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = anonymous.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = anonymous
        .get(&url)
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = anonymous
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_another_manager_applied_is_a_conflict_until_forced() {
    let (server, _pki, client) = lab(vec![]).await;
    let url = |m: &str, force: bool| {
        format!(
            "{}/api/v1/namespaces/default/configmaps/c?fieldManager={m}&force={force}",
            server.url()
        )
    };
    let apply = "application/apply-patch+yaml";
    let cm = |v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": v}});
    let (code, _) = send(
        &client,
        reqwest::Method::PATCH,
        url("one", false),
        apply,
        Some(cm("1")),
    )
    .await;
    assert_eq!(code, 201);
    let (code, st) = send(
        &client,
        reqwest::Method::PATCH,
        url("two", false),
        apply,
        Some(cm("2")),
    )
    .await;
    assert_eq!(code, 409);
    assert_eq!(st["reason"], "Conflict");
    assert_eq!(
        st["message"],
        "Apply failed with 1 conflict: conflict with \"one\": .data.a"
    );
    assert_eq!(st["details"]["causes"][0]["reason"], "FieldManagerConflict");
    assert_eq!(st["details"]["causes"][0]["field"], ".data.a");
    // The same value is shared ownership, not a conflict.
    let (code, o) = send(
        &client,
        reqwest::Method::PATCH,
        url("two", false),
        apply,
        Some(cm("1")),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(o["metadata"]["managedFields"].as_array().unwrap().len(), 2);
    let (code, o) = send(
        &client,
        reqwest::Method::PATCH,
        url("two", true),
        apply,
        Some(cm("2")),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(o["data"]["a"], "2");
    let managers: Vec<&str> = o["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert_eq!(
        managers,
        ["two"],
        "the forced apply took the field from one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_a_resource_version_sees_the_changes_after_it() {
    let (server, _pki, client) = lab(vec![]).await;
    let base = format!("{}/api/v1/namespaces/default/configmaps", server.url());
    let (_, list) = send(
        &client,
        reqwest::Method::GET,
        base.clone(),
        "application/json",
        None,
    )
    .await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let mut resp = client
        .get(format!(
            "{base}?watch=1&resourceVersion={rv}&timeoutSeconds=5"
        ))
        .send()
        .await
        .unwrap();
    let created = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}});
    let (code, _) = send(
        &client,
        reqwest::Method::POST,
        base.clone(),
        "application/json",
        Some(created),
    )
    .await;
    assert_eq!(code, 201);
    let mut buf = Vec::new();
    while !buf.contains(&b'\n') {
        let chunk = resp.chunk().await.unwrap().expect("an event");
        buf.extend_from_slice(&chunk);
    }
    let line = buf.split(|b| *b == b'\n').next().unwrap();
    let ev: Value = serde_json::from_slice(line).unwrap();
    assert_eq!(ev["type"], "ADDED");
    assert_eq!(ev["object"]["metadata"]["name"], "w");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_namespace_terminates_loses_its_contents_and_goes() {
    let (server, _pki, client) = lab(vec![]).await;
    let u = server.url();
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}});
    send(
        &client,
        reqwest::Method::POST,
        format!("{u}/api/v1/namespaces"),
        "application/json",
        Some(ns),
    )
    .await;
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    let (code, _) = send(
        &client,
        reqwest::Method::POST,
        format!("{u}/api/v1/namespaces/doomed/configmaps"),
        "application/json",
        Some(cm.clone()),
    )
    .await;
    assert_eq!(code, 201);
    let (code, o) = send(
        &client,
        reqwest::Method::DELETE,
        format!("{u}/api/v1/namespaces/doomed"),
        "application/json",
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(o["status"]["phase"], "Terminating");
    let (code, st) = send(
        &client,
        reqwest::Method::POST,
        format!("{u}/api/v1/namespaces/doomed/configmaps"),
        "application/json",
        Some(cm),
    )
    .await;
    assert_eq!(code, 403);
    assert_eq!(st["details"]["causes"][0]["reason"], "NamespaceTerminating");
    eventually(async || {
        send(
            &client,
            reqwest::Method::GET,
            format!("{u}/api/v1/namespaces/doomed"),
            "application/json",
            None,
        )
        .await
        .0 == 404
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependents_go_with_their_owner_and_a_finalizer_holds_an_object() {
    let (server, _pki, _client) = lab(vec![]).await;
    let c = server.cluster();
    let owner = c
        .create("t", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner", "namespace": "default"}}))
        .unwrap();
    c.create("t", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dep", "namespace": "default",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]}}))
        .unwrap();
    c.create("t", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "namespace": "default",
        "finalizers": ["lab/hold"]}}))
        .unwrap();
    c.delete("v1", "ConfigMap", "default", "owner").unwrap();
    c.delete("v1", "ConfigMap", "default", "held").unwrap();
    eventually(async || c.get("v1", "ConfigMap", "default", "dep").is_none()).await;
    let held = c
        .get("v1", "ConfigMap", "default", "held")
        .expect("held by its finalizer");
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    let mut released = held.clone();
    released["metadata"]["finalizers"] = json!([]);
    c.update("t", released).unwrap();
    assert!(c.get("v1", "ConfigMap", "default", "held").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_adds_a_kind_whose_objects_are_checked_against_the_schema() {
    let (server, _pki, _client) = lab(vec![]).await;
    let c = server.cluster();
    c.create("t", json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.lab.dev"},
        "spec": {"group": "lab.dev", "scope": "Namespaced", "names": {"plural": "gadgets", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object", "properties": {"spec": {"type": "object", "required": ["size"],
                    "properties": {"size": {"type": "integer"}, "color": {"type": "string", "enum": ["red"]}}}}}}}]}}))
        .unwrap();
    let crd = c
        .get(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            "gadgets.lab.dev",
        )
        .unwrap();
    let established = crd["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Established" && c["status"] == "True");
    assert!(established);
    assert!(c.serves("lab.dev/v1", "Gadget"));
    let e = c
        .create("t", json!({"apiVersion": "lab.dev/v1", "kind": "Gadget", "metadata": {"name": "g", "namespace": "default"},
            "spec": {"color": "blue"}}))
        .unwrap_err();
    assert_eq!(e.code, 422);
    assert!(
        e.message.contains("spec.size: Required value"),
        "{}",
        e.message
    );
    assert!(
        e.message
            .contains("spec.color: Unsupported value: \"blue\""),
        "{}",
        e.message
    );
    let ok = c
        .create("t", json!({"apiVersion": "lab.dev/v1", "kind": "Gadget", "metadata": {"name": "g", "namespace": "default"},
            "spec": {"size": 2, "extra": true}}))
        .unwrap();
    assert!(
        ok["spec"].get("extra").is_none(),
        "unknown fields are pruned"
    );
    assert_eq!(ok["metadata"]["generation"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_rolls_out_on_nodes_and_an_eviction_honours_its_budget() {
    let (server, _pki, _client) = lab(vec![]).await;
    let c = server.cluster();
    server.add_node(&NodeSpec::new("n1")).unwrap();
    c.create("t", json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}}))
        .unwrap();
    c.create("t", json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}))
        .unwrap();
    eventually(async || {
        c.get("apps/v1", "Deployment", "default", "web")
            .is_some_and(|d| {
                d["status"]["readyReplicas"] == 2 && d["status"]["observedGeneration"] == 1
            })
    })
    .await;
    let pods = c.list("v1", "Pod", Some("default"), "app=web");
    assert_eq!(pods.len(), 2);
    assert!(
        pods.iter()
            .all(|p| p["spec"]["nodeName"] == "n1" && p["status"]["phase"] == "Running")
    );
    let e = brick_k8s_sim::controllers::evict(
        c.store(),
        "default",
        pods[0]["metadata"]["name"].as_str().unwrap(),
        &json!({}),
    )
    .unwrap_err();
    assert_eq!(e.code, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_node_registered_again_is_ready_without_the_unreachable_taints() {
    let (server, _pki, _client) = lab(vec![]).await;
    let c = server.cluster();
    server.add_node(&NodeSpec::new("n1")).unwrap();
    // A taint of someone else's, and a cordon, which the kubelet leaves alone.
    let mut node = c.get("v1", "Node", "", "n1").unwrap();
    node["spec"]["taints"] = json!([{"key": "garage.lan/slow", "effect": "NoSchedule"}]);
    node["spec"]["unschedulable"] = json!(true);
    c.update("t", node).unwrap();
    let ready = |n: &serde_json::Value| {
        n["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap()["status"]
            .clone()
    };
    let taint_keys = |n: &serde_json::Value| -> Vec<String> {
        n["spec"]["taints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{}:{}",
                    t["key"].as_str().unwrap(),
                    t["effect"].as_str().unwrap()
                )
            })
            .collect()
    };

    server.node_lost("n1").unwrap();
    let lost = c.get("v1", "Node", "", "n1").unwrap();
    assert_eq!(ready(&lost), "Unknown");
    assert_eq!(
        taint_keys(&lost),
        [
            "garage.lan/slow:NoSchedule",
            "node.kubernetes.io/unreachable:NoSchedule",
            "node.kubernetes.io/unreachable:NoExecute"
        ]
    );

    // The machine deployed again: its kubelet registers the Node that is still there.
    let back = server.add_node(&NodeSpec::new("n1")).unwrap();
    assert_eq!(ready(&back), "True");
    assert_eq!(taint_keys(&back), ["garage.lan/slow:NoSchedule"]);
    assert_eq!(back["spec"]["unschedulable"], true);
    assert_eq!(back["metadata"]["labels"]["kubernetes.io/hostname"], "n1");
}

#[derive(Default)]
struct Stamp(AtomicUsize);

#[async_trait]
impl Controller for Stamp {
    fn name(&self) -> &str {
        "stamp"
    }
    async fn on_event(&self, c: &Cluster, e: &Event) {
        if e.kind_name() == "ConfigMap" && e.object["metadata"]["labels"]["stamp"] == "please" {
            self.0.fetch_add(1, Ordering::SeqCst);
            let mut o = e.object.clone();
            o["metadata"]["labels"]["stamp"] = json!("done");
            let _ = c.apply(
                "stamp",
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"],
                    "annotations": {"stamped": "yes"}}}),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_plug_in_sees_events_and_writes_objects() {
    let stamp = Arc::new(Stamp::default());
    let (server, _pki, _client) = lab(vec![stamp.clone()]).await;
    let c = server.cluster();
    c.create("t", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s", "namespace": "default",
        "labels": {"stamp": "please"}}}))
        .unwrap();
    eventually(async || {
        c.get("v1", "ConfigMap", "default", "s")
            .is_some_and(|o| o["metadata"]["annotations"]["stamped"] == "yes")
    })
    .await;
    assert!(stamp.0.load(Ordering::SeqCst) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_proxy_reaches_what_a_controller_serves_behind_a_service_port() {
    let (server, _pki, client) = lab(vec![]).await;
    let base = format!("{}/api/v1/namespaces/default/services", server.url());
    let get = |path: &str| {
        let c = client.clone();
        let url = format!("{base}/{path}");
        async move {
            let r = c.get(url).send().await.expect("request");
            let code = r.status().as_u16();
            let ctype = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            (code, ctype, r.text().await.unwrap_or_default())
        }
    };
    let (code, _, body) = get("http:mgr:http-metrics/proxy/metrics").await;
    assert_eq!(code, 404, "{body}");
    assert!(body.contains(r#"services \"mgr\" not found"#), "{body}");
    let svc = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "mgr", "namespace": "default"},
        "spec": {"ports": [{"name": "http-metrics", "port": 9283}]}});
    let (code, _) = send(
        &client,
        reqwest::Method::POST,
        base.clone(),
        "application/json",
        Some(svc),
    )
    .await;
    assert_eq!(code, 201);
    let (code, _, body) = get("http:mgr:http-metrics/proxy/metrics").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("no endpoints available"), "{body}");
    server.cluster().serve(
        "default",
        "mgr",
        "http-metrics",
        Some(Arc::new(|path: &str| brick_k8s_sim::ProxyReply {
            status: 200,
            content_type: "text/plain; version=0.0.4".into(),
            body: format!("# path {path}\nup 1\n").into_bytes(),
        })),
    );
    for spec in [
        "http:mgr:http-metrics",
        "mgr:http-metrics",
        "mgr:9283",
        "mgr",
    ] {
        let (code, ctype, body) = get(&format!("{spec}/proxy/metrics")).await;
        assert_eq!(
            (code, ctype.as_str()),
            (200, "text/plain; version=0.0.4"),
            "{spec}"
        );
        assert_eq!(body, "# path /metrics\nup 1\n", "{spec}");
    }
    let (code, _, body) = get("mgr:dashboard/proxy/").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains(r#"no service port \"dashboard\""#), "{body}");
}
