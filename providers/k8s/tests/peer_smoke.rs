//! Smoke tests against a real kube-apiserver (`tests/peers/up.sh k8s`) through the `kube` crate,
//! the route the provider uses. They read `BRICK_PEERS_KUBECONFIG` (which up.sh exports next to
//! `KUBECONFIG`) rather than `KUBECONFIG` itself, so a developer's own cluster is never touched;
//! skipped, with a visible line, when it is not set.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

/// Says that a test is skipped for want of the peer (a failure under `BRICK_TEST_STRICT=1`).
fn skip() {
    brick_provider_api::testing::skip(SKIP);
}

const SKIP: &str = "no Kubernetes API — run tests/peers/up.sh k8s";

async fn client() -> Option<Client> {
    let Some(path) = std::env::var_os("BRICK_PEERS_KUBECONFIG") else {
        skip();
        return None;
    };
    let kubeconfig = Kubeconfig::read_from(&path).expect("reading the peer's kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a client configuration from the kubeconfig");
    Some(Client::try_from(config).expect("a client"))
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

#[tokio::test]
async fn listing_namespaces_shows_the_ones_the_api_server_creates_itself() {
    let Some(client) = client().await else { return };
    let namespaces: Api<Namespace> = Api::all(client);
    let list = namespaces
        .list(&ListParams::default())
        .await
        .expect("list namespaces");
    let names: Vec<String> = list
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    for want in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    assert!(
        list.metadata.resource_version.is_some(),
        "a list carries its resourceVersion"
    );
}

#[tokio::test]
async fn a_config_map_applied_server_side_is_created_read_back_updated_and_owned_by_our_field_manager()
 {
    let Some(client) = client().await else { return };
    let config_maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let name = unique("brick-smoke");
    let params = PatchParams::apply("brick-smoke").force();

    let desired = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "brick"}},
        "data": {"greeting": "hello"}
    });
    let created = config_maps
        .patch(&name, &params, &Patch::Apply(&desired))
        .await
        .expect("server-side apply creates the ConfigMap");
    assert!(created.metadata.uid.is_some());

    let read = config_maps.get(&name).await.expect("get the ConfigMap");
    assert_eq!(
        read.data
            .as_ref()
            .and_then(|d| d.get("greeting"))
            .map(String::as_str),
        Some("hello")
    );
    let managers: Vec<(String, String)> = read
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        managers.contains(&("brick-smoke".to_string(), "Apply".to_string())),
        "managed fields: {managers:?}"
    );

    // Applying again with a changed value and a dropped label updates in place.
    let changed = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"greeting": "hello again"}
    });
    let updated = config_maps
        .patch(&name, &params, &Patch::Apply(&changed))
        .await
        .expect("server-side apply updates the ConfigMap");
    assert_eq!(updated.metadata.uid, created.metadata.uid);
    assert_eq!(
        updated
            .data
            .as_ref()
            .and_then(|d| d.get("greeting"))
            .map(String::as_str),
        Some("hello again")
    );
    let labels = updated.metadata.labels.unwrap_or_default();
    assert!(
        !labels.contains_key("app.kubernetes.io/managed-by"),
        "a field our manager no longer applies is removed: {labels:?}"
    );

    config_maps
        .delete(&name, &DeleteParams::default())
        .await
        .expect("delete the ConfigMap");
    let gone = config_maps.get_opt(&name).await.expect("get after delete");
    assert!(gone.is_none(), "the ConfigMap is gone after deletion");
}
