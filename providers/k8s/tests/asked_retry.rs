//! The client sends again what a busy API server refused with `Retry-After` (429, 500, 503):
//! against the lab's simulated kube-apiserver answering half of all requests with such a fault,
//! every create and read succeeds, with kube's own retry off (as `microk8s_node` has it), so
//! that brick's retry alone carries them.

use brick_k8s_sim::{Faults, SimOptions, SimServer};
use brick_provider_k8s::client::Ctx;
use kube::api::{Api, PostParams};

#[tokio::test]
async fn requests_refused_with_retry_after_are_sent_again_until_they_succeed() {
    let server = SimServer::start(SimOptions {
        faults: Faults {
            error_rate: 0.5,
            seed: 11,
            ..Faults::default()
        },
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let mut config = kube::Config::new(server.url().parse().unwrap());
    config.default_retry = false;
    let ctx = Ctx::new(config).unwrap();
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(ctx.client.clone(), "default");
    for i in 0..4 {
        let cm = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("cm{i}")}, "data": {"i": i.to_string()}
        }))
        .unwrap();
        api.create(&PostParams::default(), &cm)
            .await
            .unwrap_or_else(|e| panic!("create cm{i}: {e}"));
        let got = api.get(&format!("cm{i}")).await.unwrap();
        assert_eq!(got.data.unwrap()["i"], i.to_string());
    }
    assert!(
        server.faults_injected() >= 2,
        "{} faults",
        server.faults_injected()
    );
    assert_eq!(
        ctx.requests(),
        8 + server.faults_injected(),
        "one attempt more per fault"
    );
}
