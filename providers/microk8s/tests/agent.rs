//! The lab's cluster agent (`lab::Agent`) answers `POST /cluster/api/v2.0/dqlite/remove` as
//! MicroK8s' agent does (pkg/api/v2/remove.go): TLS with the node's certificate from the
//! cluster's CA, 401 for another token, 500 without a token file or for an endpoint that is not
//! a member, and a removed member is no longer a voter.

use brick_provider_microk8s::lab::{Agent, serving_certificate};
use brick_provider_microk8s::{pki, render};

async fn remove(
    http: &reqwest::Client,
    agent: &Agent,
    token: &str,
    endpoint: &str,
) -> (u16, serde_json::Value) {
    let r = http
        .post(format!(
            "https://127.0.0.1:{}/cluster/api/v2.0/dqlite/remove",
            agent.addr().port()
        ))
        .header("capi-auth-token", token)
        .json(&serde_json::json!({ "remove_endpoint": endpoint }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn the_agent_removes_a_voter_only_for_its_token_and_only_a_member() {
    let pki = pki::new_cluster_pki("lab").unwrap();
    let (cert, key) = serving_certificate(
        &pki.ca_certificate,
        &pki.ca_private_key,
        &["127.0.0.1".into()],
    )
    .unwrap();
    let token = render::agent_token(&pki.admin_private_key);
    let agent = Agent::start(
        "127.0.0.1:0".parse().unwrap(),
        &cert,
        &key,
        Some(token.clone()),
        "10.0.0.11",
    )
    .await
    .unwrap();
    agent.join("10.0.0.12");
    assert_eq!(agent.members(), ["10.0.0.11:19001", "10.0.0.12:19001"]);
    // Verified with the cluster's CA, as microk8s_node connects.
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(pki.ca_certificate.as_bytes()).unwrap(),
        )
        .build()
        .unwrap();

    let (status, body) = remove(&http, &agent, "another", "10.0.0.12:19001").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("invalid CAPI auth token")
    );
    let (status, body) = remove(&http, &agent, &token, "10.0.0.99:19001").await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(agent.members().len(), 2);

    let (status, body) = remove(&http, &agent, &token, "10.0.0.12:19001").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(agent.members(), ["10.0.0.11:19001"]);

    let without = Agent::start(
        "127.0.0.1:0".parse().unwrap(),
        &cert,
        &key,
        None,
        "10.0.0.11",
    )
    .await
    .unwrap();
    let (status, body) = remove(&http, &without, &token, "10.0.0.11:19001").await;
    assert_eq!(status, 500, "no token file: {body}");
}
