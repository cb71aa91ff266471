//! The microk8s provider's checks over a whole plan: the last control plane, node membership
//! and role, node documents no machine uses, a live cluster replaced — each with its code, on
//! the change it concerns.

use std::collections::BTreeMap;

use brick_provider_api::provider::{ChangeAction, PlannedChange, Provider};
use brick_provider_api::{Type, Value};
use brick_provider_microk8s::Microk8sProvider;

const KC: &str = "apiVersion: v1\nkind: Config\n# cluster A\n";

fn cluster(nodes: &[(&str, bool)], token: &str, docs: Option<&[(&str, &str)]>) -> Value {
    let n: BTreeMap<String, Value> = nodes
        .iter()
        .map(|(k, cp)| {
            (
                k.to_string(),
                Value::object_from([("control_plane", Value::bool(*cp))]),
            )
        })
        .collect();
    let cloud_init = match docs {
        Some(d) => Value::map(
            Type::String,
            d.iter()
                .map(|(k, v)| (k.to_string(), Value::string(*v)))
                .collect(),
        ),
        None => Value::unknown(Type::map(Type::String)),
    };
    Value::object_from([
        (
            "nodes",
            Value::map(Type::object([("control_plane", Type::Bool)]), n),
        ),
        ("token", Value::string(token)),
        ("kubeconfig", Value::string(KC)),
        ("cloud_init", cloud_init),
    ])
}

fn node(name: &str, cp: bool) -> Value {
    Value::object_from([
        ("name", Value::string(name)),
        ("kubeconfig", Value::string(KC)),
        ("control_plane", Value::bool(cp)),
    ])
}

fn machine(user_data: &str) -> Value {
    Value::object_from([("user_data", Value::string(user_data))])
}

fn change<'a>(
    address: &'a str,
    type_name: &'a str,
    action: ChangeAction,
    prior: &'a Value,
    planned: &'a Value,
) -> PlannedChange<'a> {
    PlannedChange {
        address,
        type_name,
        action,
        prior,
        planned,
    }
}

async fn codes(changes: &[PlannedChange<'_>]) -> Vec<(String, String)> {
    Microk8sProvider
        .check_plan(changes)
        .await
        .into_iter()
        .map(|d| (changes[d.change].address.to_string(), d.diagnostic.code))
        .collect()
}

fn null() -> Value {
    Value::null(Type::Dynamic)
}

#[tokio::test]
async fn removing_the_only_control_plane_node_is_refused_unless_the_cluster_goes_too() {
    let c = cluster(&[("maas", true), ("kvm4", false)], "t", None);
    let (maas, kvm4, n) = (node("maas", true), node("kvm4", false), null());
    let changes = [
        change(
            "microk8s_cluster.c",
            "microk8s_cluster",
            ChangeAction::NoOp,
            &c,
            &c,
        ),
        change(
            "microk8s_node.n[\"kvm4\"]",
            "microk8s_node",
            ChangeAction::NoOp,
            &kvm4,
            &kvm4,
        ),
        change(
            "microk8s_node.n[\"maas\"]",
            "microk8s_node",
            ChangeAction::Delete,
            &maas,
            &n,
        ),
    ];
    assert_eq!(
        codes(&changes).await,
        [(
            "microk8s_node.n[\"maas\"]".to_string(),
            "brick::microk8s::last_control_plane".to_string()
        )]
    );
    // A worker may go; and the whole cluster may go.
    let changes = [
        change(
            "microk8s_cluster.c",
            "microk8s_cluster",
            ChangeAction::NoOp,
            &c,
            &c,
        ),
        change(
            "microk8s_node.n[\"kvm4\"]",
            "microk8s_node",
            ChangeAction::Delete,
            &kvm4,
            &n,
        ),
        change(
            "microk8s_node.n[\"maas\"]",
            "microk8s_node",
            ChangeAction::NoOp,
            &maas,
            &maas,
        ),
    ];
    assert!(codes(&changes).await.is_empty());
    let changes = [
        change(
            "microk8s_cluster.c",
            "microk8s_cluster",
            ChangeAction::Delete,
            &c,
            &n,
        ),
        change(
            "microk8s_node.n[\"kvm4\"]",
            "microk8s_node",
            ChangeAction::Delete,
            &kvm4,
            &n,
        ),
        change(
            "microk8s_node.n[\"maas\"]",
            "microk8s_node",
            ChangeAction::Delete,
            &maas,
            &n,
        ),
    ];
    assert!(codes(&changes).await.is_empty());
}

#[tokio::test]
async fn a_node_must_be_one_of_its_clusters_with_the_same_role() {
    let c = cluster(&[("maas", true), ("kvm4", false)], "t", None);
    let (stranger, wrong_role, n) = (node("kvm9", false), node("kvm4", true), null());
    let changes = [
        change(
            "microk8s_cluster.c",
            "microk8s_cluster",
            ChangeAction::Create,
            &n,
            &c,
        ),
        change(
            "microk8s_node.a",
            "microk8s_node",
            ChangeAction::Create,
            &n,
            &stranger,
        ),
        change(
            "microk8s_node.b",
            "microk8s_node",
            ChangeAction::Create,
            &n,
            &wrong_role,
        ),
    ];
    assert_eq!(
        codes(&changes).await,
        [
            (
                "microk8s_node.a".to_string(),
                "brick::microk8s::node_not_in_cluster".to_string()
            ),
            (
                "microk8s_node.b".to_string(),
                "brick::microk8s::node_role_mismatch".to_string()
            ),
        ]
    );
}

#[tokio::test]
async fn a_node_document_no_machine_deploys_with_is_refused_once_the_documents_are_known() {
    let docs = [
        ("maas", "#cloud-config A"),
        ("kvm4", "#cloud-config B"),
        ("kvm5", "#cloud-config C"),
    ];
    let c = cluster(
        &[("maas", true), ("kvm4", false), ("kvm5", false)],
        "t",
        Some(&docs),
    );
    let (a, b) = (machine("#cloud-config A"), machine("#cloud-config B"));
    let changes = [
        change("maas_machine.a", "maas_machine", ChangeAction::NoOp, &a, &a),
        change("maas_machine.b", "maas_machine", ChangeAction::NoOp, &b, &b),
        change(
            "microk8s_cluster.c",
            "microk8s_cluster",
            ChangeAction::Update,
            &c,
            &c,
        ),
    ];
    let d = Microk8sProvider.check_plan(&changes).await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        d[0].diagnostic.code,
        "brick::microk8s::unused_node_document"
    );
    assert!(d[0].diagnostic.detail.contains("\"kvm5\""), "{:?}", d[0]);
    assert_eq!(d[0].diagnostic.attribute, ["nodes"]);
    // Unknown documents (the cluster's first plan) cannot be judged.
    let unknown = cluster(&[("maas", true), ("kvm5", false)], "t", None);
    let changes = [
        change("maas_machine.a", "maas_machine", ChangeAction::NoOp, &a, &a),
        change(
            "microk8s_cluster.c",
            "microk8s_cluster",
            ChangeAction::Update,
            &unknown,
            &unknown,
        ),
    ];
    assert!(codes(&changes).await.is_empty());
}

#[tokio::test]
async fn a_changed_token_on_a_live_cluster_warns_what_the_replacement_destroys() {
    let before = cluster(&[("maas", true)], "old-token", None);
    let after = cluster(&[("maas", true)], "new-token", None);
    let (m, n, maas) = (machine("x"), null(), node("maas", true));
    let changes = [
        change(
            "maas_machine.node[\"maas\"]",
            "maas_machine",
            ChangeAction::Replace,
            &m,
            &m,
        ),
        change(
            "microk8s_cluster.c",
            "microk8s_cluster",
            ChangeAction::Replace,
            &before,
            &after,
        ),
        change(
            "microk8s_node.n[\"maas\"]",
            "microk8s_node",
            ChangeAction::Replace,
            &maas,
            &n,
        ),
    ];
    let d = Microk8sProvider.check_plan(&changes).await;
    assert_eq!(d.len(), 1, "{d:?}");
    let w = &d[0].diagnostic;
    assert_eq!(w.code, "brick::microk8s::token_changed");
    assert!(
        w.attribute.is_empty(),
        "at the block: the token's line would print it"
    );
    assert!(
        w.detail
            .contains("everything stored in the cluster is lost"),
        "{}",
        w.detail
    );
    assert!(
        w.detail.contains("maas_machine.node[\"maas\"]")
            && w.detail.contains("microk8s_node.n[\"maas\"]"),
        "{}",
        w.detail
    );
    assert!(!w.detail.contains("old-token") && !w.detail.contains("new-token"));
}

/// `cluster` with a bootstrap node and an api_address.
fn cluster_at(nodes: &[(&str, bool)], bootstrap: &str, api: &str) -> Value {
    let mut m = cluster(nodes, "t", None).as_mapping().cloned().unwrap();
    m.insert("bootstrap_node".into(), Value::string(bootstrap));
    m.insert("api_address".into(), Value::string(api));
    Value::object(m)
}

#[tokio::test]
async fn removing_or_replacing_the_bootstrap_node_is_refused_while_its_cluster_stays() {
    let c = cluster_at(&[("maas", true), ("kvm4", true)], "maas", "10.0.0.11");
    let (maas, kvm4, n) = (node("maas", true), node("kvm4", true), null());
    for action in [ChangeAction::Delete, ChangeAction::Replace] {
        let planned = if action == ChangeAction::Delete {
            &n
        } else {
            &maas
        };
        let changes = [
            change(
                "microk8s_cluster.c",
                "microk8s_cluster",
                ChangeAction::NoOp,
                &c,
                &c,
            ),
            change(
                "microk8s_node.n[\"kvm4\"]",
                "microk8s_node",
                ChangeAction::NoOp,
                &kvm4,
                &kvm4,
            ),
            change(
                "microk8s_node.n[\"maas\"]",
                "microk8s_node",
                action,
                &maas,
                planned,
            ),
        ];
        // Another control-plane node stays, so only the bootstrap refusal applies.
        assert_eq!(
            codes(&changes).await,
            [(
                "microk8s_node.n[\"maas\"]".to_string(),
                "brick::microk8s::bootstrap_node_removed".to_string()
            )],
            "{action:?}"
        );
    }
    // Another control-plane node may go; and the bootstrap node may go with its cluster.
    let changes = [
        change(
            "microk8s_cluster.c",
            "microk8s_cluster",
            ChangeAction::NoOp,
            &c,
            &c,
        ),
        change(
            "microk8s_node.n[\"kvm4\"]",
            "microk8s_node",
            ChangeAction::Delete,
            &kvm4,
            &n,
        ),
        change(
            "microk8s_node.n[\"maas\"]",
            "microk8s_node",
            ChangeAction::NoOp,
            &maas,
            &maas,
        ),
    ];
    assert!(codes(&changes).await.is_empty());
    let changes = [
        change(
            "microk8s_cluster.c",
            "microk8s_cluster",
            ChangeAction::Delete,
            &c,
            &n,
        ),
        change(
            "microk8s_node.n[\"kvm4\"]",
            "microk8s_node",
            ChangeAction::Delete,
            &kvm4,
            &n,
        ),
        change(
            "microk8s_node.n[\"maas\"]",
            "microk8s_node",
            ChangeAction::Delete,
            &maas,
            &n,
        ),
    ];
    assert!(codes(&changes).await.is_empty());
}

#[tokio::test]
async fn an_api_address_that_is_not_the_bootstrap_machines_static_ip_is_refused() {
    let c = cluster_at(&[("maas", true), ("kvm4", false)], "maas", "10.0.0.11");
    let machine_at = |host: &str, ip: Option<&str>| {
        Value::object_from([
            ("hostname", Value::string(host)),
            (
                "static_ip",
                ip.map_or_else(|| Value::null(Type::String), Value::string),
            ),
            ("user_data", Value::unknown(Type::String)),
        ])
    };
    async fn check(c: &Value, maas: Value, kvm4: Value) -> Vec<(String, String)> {
        let n = null();
        let changes = [
            change(
                "microk8s_cluster.c",
                "microk8s_cluster",
                ChangeAction::Create,
                &n,
                c,
            ),
            change(
                "maas_machine.node[\"maas\"]",
                "maas_machine",
                ChangeAction::Create,
                &n,
                &maas,
            ),
            change(
                "maas_machine.node[\"kvm4\"]",
                "maas_machine",
                ChangeAction::Create,
                &n,
                &kvm4,
            ),
        ];
        codes(&changes).await
    }
    assert_eq!(
        check(
            &c,
            machine_at("maas", Some("10.0.0.12")),
            machine_at("kvm4", None)
        )
        .await,
        [(
            "microk8s_cluster.c".to_string(),
            "brick::microk8s::api_address_mismatch".to_string()
        )]
    );
    // The same address, no static address on the bootstrap machine, or another machine's
    // static address: nothing to say.
    assert!(
        check(
            &c,
            machine_at("maas", Some("10.0.0.11")),
            machine_at("kvm4", None)
        )
        .await
        .is_empty()
    );
    assert!(
        check(
            &c,
            machine_at("maas", None),
            machine_at("kvm4", Some("10.0.0.12"))
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn an_api_address_unknown_at_plan_is_refused() {
    let mut m = cluster_at(&[("maas", true)], "maas", "x")
        .as_mapping()
        .cloned()
        .unwrap();
    m.insert("api_address".into(), Value::unknown(Type::String));
    let (c, n) = (Value::object(m), null());
    let changes = [change(
        "microk8s_cluster.c",
        "microk8s_cluster",
        ChangeAction::Create,
        &n,
        &c,
    )];
    let found = Microk8sProvider.check_plan(&changes).await;
    let got: Vec<(&str, &[String])> = found
        .iter()
        .map(|d| {
            (
                d.diagnostic.code.as_str(),
                d.diagnostic.attribute.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [(
            "brick::microk8s::api_address_unknown",
            &["api_address".to_string()][..]
        )]
    );
}
