//! The conformance suite run against the fake provider: proves the suite passes a provider that
//! keeps the contract, and fails one that does not.

use brick_provider_api::conformance::{Fixture, assert_conforms, check_lifecycle};
use brick_provider_api::fake::{FAKE_THING, FakeProvider};
use brick_provider_api::{Type, Value};

fn config(name: &str, size: i64) -> Value {
    Value::object_from([
        ("name", Value::string(name)),
        ("value", Value::string("v")),
        ("size", Value::number(size)),
        ("secret", Value::null(Type::String)),
        ("id", Value::null(Type::String)),
    ])
}

#[tokio::test]
async fn the_fake_provider_keeps_the_contract_for_update_and_replace() {
    let p = FakeProvider::new();
    assert_conforms(
        &p,
        &[
            Fixture::new(FAKE_THING, config("a", 1))
                .updated(config("a", 2))
                .import_id_attr("id"),
            Fixture::new(FAKE_THING, config("b", 1)).updated(config("b2", 1)),
        ],
    )
    .await;
    assert!(p.objects().is_empty(), "every object was deleted again");
}

#[tokio::test]
async fn a_provider_that_fails_to_apply_is_reported() {
    let p = FakeProvider::new();
    p.fail_on("broken");
    let v = check_lifecycle(&p, &Fixture::new(FAKE_THING, config("broken", 1))).await;
    assert!(
        v.iter().any(|x| x.message.contains("apply failed")),
        "violations: {v:?}"
    );
}

#[tokio::test]
async fn an_unknown_resource_type_is_reported() {
    let p = FakeProvider::new();
    let v = check_lifecycle(&p, &Fixture::new("fake_nothing", config("a", 1))).await;
    assert_eq!(v.len(), 1);
    assert!(v[0].message.contains("no resource type"));
}
