//! `maas_tag` and the data source `maas_machines` through the Provider trait.

mod common;

use brick_provider_api::{Provider, Type, Value};
use brick_provider_maas::resources::{machines_data, tag};
use brick_provider_maas::sim::SimOptions;
use common::*;

fn tag_config(name: &str, comment: Option<&str>) -> Value {
    let mut set = vec![("name", Value::string(name))];
    if let Some(c) = comment {
        set.push(("comment", Value::string(c)));
    }
    conform(&tag::schema().block, set)
}

#[tokio::test]
async fn a_tag_is_created_updated_in_place_read_imported_and_deleted() {
    let (sim, p) = lab(SimOptions::fast()).await;
    let out = plan_apply(
        &p,
        tag::TYPE,
        &Value::null(Type::Dynamic),
        &tag_config("garage", None),
    )
    .await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let state = out.state;
    assert_eq!(attr(&state, "id"), "garage");
    // An unset comment stays null (MAAS answers "").
    assert!(state.get("comment").unwrap().is_null());
    assert_eq!(read(&p, tag::TYPE, &state).await.as_ref(), Some(&state));

    let out = plan_apply(
        &p,
        tag::TYPE,
        &state,
        &tag_config("garage", Some("the old PCs")),
    )
    .await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(attr(&out.state, "comment"), "the old PCs");
    sim.with_world(|w| assert_eq!(w.tags["garage"].comment, "the old PCs"));

    let imported = p.import_resource(tag::TYPE, "garage").await.unwrap();
    assert_eq!(imported[0].state, out.state);

    let gone = destroy(&p, tag::TYPE, &out.state).await;
    assert!(gone.errors.is_empty() && gone.state.is_null());
    assert!(read(&p, tag::TYPE, &out.state).await.is_none());
}

#[tokio::test]
async fn creating_a_tag_that_exists_suggests_importing_it() {
    let (_sim, p) = lab(SimOptions::fast()).await;
    plan_apply(
        &p,
        tag::TYPE,
        &Value::null(Type::Dynamic),
        &tag_config("dup", None),
    )
    .await;
    let again = plan_apply(
        &p,
        tag::TYPE,
        &Value::null(Type::Dynamic),
        &tag_config("dup", None),
    )
    .await;
    assert_eq!(again.errors.len(), 1);
    assert!(
        again.errors[0].detail.contains("already exists"),
        "{:?}",
        again.errors
    );
    assert!(
        again.errors[0]
            .help
            .as_deref()
            .unwrap_or("")
            .contains("brick import")
    );
}

/// Issue 10, item 9: a gateway's 504 after MAAS created the tag is settled by looking the tag
/// up, not by sending the create again (which MAAS would refuse: "already exists").
#[tokio::test]
async fn a_create_whose_answer_a_gateway_lost_is_looked_up_and_not_sent_again() {
    let (sim, p) = lab(SimOptions::fast()).await;
    sim.clear_requests();
    sim.lose_answers(1);
    let out = plan_apply(
        &p,
        tag::TYPE,
        &Value::null(Type::Dynamic),
        &tag_config("lost", Some("answer lost")),
    )
    .await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(attr(&out.state, "comment"), "answer lost");
    assert_eq!(sim.faults_injected(), 1);
    let posts = sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/tags/"))
        .count();
    assert_eq!(posts, 1, "{:?}", sim.requests());
    // A machine's tags go through the same create.
    sim.lose_answers(1);
    let c = brick_provider_maas::client::MaasClient::new(
        &brick_provider_maas::client::ClientConfig::new(sim.url(), sim.api_key()),
    )
    .unwrap();
    let made = tag::create(&c, "lost2", &[("name", "lost2".to_string())])
        .await
        .unwrap();
    assert_eq!(made["name"], "lost2");
    // A tag that was there before is MAAS's "already exists", never adopted.
    let e = tag::create(&c, "lost2", &[("name", "lost2".to_string())])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
}

#[tokio::test]
async fn the_machines_data_source_filters_by_status_and_hostname() {
    let (_sim, p) = lab(SimOptions::fast()).await;
    let cfg = conform(
        &machines_data::schema().block,
        vec![("status", Value::string("New"))],
    );
    let v = p.read_data_source(machines_data::TYPE, &cfg).await.unwrap();
    let names: Vec<&str> = v
        .get("machines")
        .unwrap()
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| attr(m, "hostname"))
        .collect();
    assert_eq!(names, ["spare1", "spare2", "spare3"]);
    let cfg = conform(
        &machines_data::schema().block,
        vec![(
            "hostnames",
            Value::list(Type::String, vec![Value::string("kvm4")]),
        )],
    );
    let v = p.read_data_source(machines_data::TYPE, &cfg).await.unwrap();
    let ms = v.get("machines").unwrap().as_sequence().unwrap();
    assert_eq!(ms.len(), 1);
    assert_eq!(attr(&ms[0], "pxe_mac_address"), "52:54:00:6b:34:01");
    assert_eq!(attr(&ms[0], "status"), "Ready");
}

#[tokio::test]
async fn configuring_without_url_or_key_names_both_settings() {
    let p = brick_provider_maas::MaasProvider::default();
    // The environment supplies defaults; the test needs it free of them.
    let url_env = std::env::var_os("MAAS_API_URL");
    let key_env = std::env::var_os("MAAS_API_KEY");
    if url_env.is_some() || key_env.is_some() {
        brick_provider_api::testing::skip("MAAS_API_URL/MAAS_API_KEY are set in this environment");
        return;
    }
    let cfg = conform(&brick_provider_maas::MaasProvider::provider_block(), vec![]);
    let d = p.configure(&cfg).await;
    let attrs: Vec<Vec<String>> = d.iter().map(|x| x.attribute.clone()).collect();
    assert_eq!(
        attrs,
        vec![vec!["api_url".to_string()], vec!["api_key".to_string()]]
    );
}
