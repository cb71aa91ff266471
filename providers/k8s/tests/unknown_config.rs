//! The `k8s` provider with a configuration only apply knows (its cluster is created in the
//! same run): it plans creates without being configured, and never takes the environment's
//! cluster (`KUBECONFIG`) in place of an unknown argument. No server needed.

use std::collections::BTreeMap;

use brick_provider_api::lifecycle::{check_planned, proposed_new_state};
use brick_provider_api::provider::PlanRequest;
use brick_provider_api::schema::Nesting;
use brick_provider_api::{Provider, Type, Value};
use brick_provider_k8s::K8sProvider;
use brick_provider_k8s::resources::manifest;

fn config_map() -> Value {
    let block = manifest::schema().block;
    let mut m = BTreeMap::new();
    for (k, a) in &block.attributes {
        m.insert(k.clone(), Value::null(a.ty.clone()));
    }
    for (k, b) in &block.blocks {
        let obj = b.block.value_type();
        let ty = match b.nesting {
            Nesting::Single => obj,
            Nesting::List { .. } => Type::list(obj),
            Nesting::Set { .. } => Type::set(obj),
            Nesting::Map => Type::map(obj),
        };
        m.insert(k.clone(), Value::null(ty));
    }
    m.insert(
        "manifest".into(),
        Value::object_from([
            ("apiVersion", Value::string("v1")),
            ("kind", Value::string("ConfigMap")),
            (
                "metadata",
                Value::object_from([
                    ("name", Value::string("late")),
                    ("namespace", Value::string("default")),
                ]),
            ),
            ("data", Value::object_from([("a", Value::string("1"))])),
        ]),
    );
    Value::object(m)
}

#[tokio::test]
async fn a_create_is_planned_by_the_unconfigured_provider_from_configuration_alone() {
    let p = K8sProvider::default();
    assert!(p.plans_unconfigured(manifest::TYPE));
    let block = manifest::schema().block;
    let cfg = config_map();
    let null = Value::null(block.value_type());
    let proposed = proposed_new_state(&block, &null, &cfg);
    let resp = p
        .plan_resource(PlanRequest {
            type_name: manifest::TYPE,
            prior: &null,
            proposed: &proposed,
        })
        .await;
    assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
    assert!(
        check_planned(&block, &null, &cfg, &resp.planned).is_empty(),
        "a valid plan"
    );
    assert_eq!(resp.planned.get("manifest"), cfg.get("manifest"));
    assert_eq!(p.requests(), 0, "no request: there is no connection");
}

#[tokio::test]
async fn an_unknown_argument_never_falls_back_to_kubeconfig() {
    // Whatever KUBECONFIG or ~/.kube/config say (tests/e2e_late_providers.rs runs brick with
    // KUBECONFIG naming the real peer), an unknown argument is refused, never replaced.
    for arg in ["kubeconfig", "host", "config_path", "token"] {
        let p = K8sProvider::default();
        let d = p
            .configure(&Value::object_from([(arg, Value::unknown(Type::String))]))
            .await;
        assert!(
            d.iter()
                .any(|d| d.code == "brick::k8s::config" && d.detail.contains("never falls back")),
            "{arg}: {d:?}"
        );
        assert!(p.ctx().is_err(), "{arg}: not configured");
    }
}
