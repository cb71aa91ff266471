//! State written under an older schema version of a resource type is upgraded by its provider
//! (`Provider::upgrade_resource_state`) while the state is loaded, before refresh and plan;
//! state written by a newer provider, or one the provider cannot upgrade, fails the plan.

use std::sync::Arc;

use async_trait::async_trait;
use brick::apply::memory::MemoryState;
use brick::apply::{ApplyInput, ApplyOptions, Cancel, apply};
use brick::event::{CollectEvents, NoEvents};
use brick::input::*;
use brick::plan::address::ResourceAddr;
use brick::plan::model::{Action, Plan, PriorState};
use brick::plan::providers::ProviderSet;
use brick::plan::{Options, plan};
use brick::statefile::prior_from_state;
use brick_provider_api::diag::Diagnostics;
use brick_provider_api::provider::{
    ApplyRequest, ApplyResponse, PlanRequest, PlanResponse, Provider, ReadRequest,
};
use brick_provider_api::schema::{Attribute, Block, ProviderSchema, ResourceSchema};
use brick_provider_api::{Type, Value};
use brick_state as st;
use serde_json::json;

/// `renamer_thing`, at schema version 2. Version 0 called `name` `label`; version 1 had no
/// `size`.
struct Renamer {
    version: u64,
    /// Whether it overrides `upgrade_resource_state` (else the trait's default refuses).
    upgrades: bool,
}

#[async_trait]
impl Provider for Renamer {
    fn name(&self) -> &str {
        "renamer"
    }
    fn schema(&self) -> ProviderSchema {
        let mut s = ProviderSchema::default();
        s.resources.insert(
            "renamer_thing".into(),
            ResourceSchema {
                version: self.version,
                block: Block::default()
                    .attr("name", Attribute::required(Type::String))
                    .attr("size", Attribute::optional(Type::Number))
                    .attr("id", Attribute::computed(Type::String)),
            },
        );
        s
    }
    fn upgrade_resource_state(
        &self,
        type_name: &str,
        from_version: u64,
        attributes: &serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        if !self.upgrades {
            return Err(vec![brick_provider_api::Diagnostic::error(
                "brick::renamer::no_upgrade",
                "No upgrade",
                format!("{type_name} from {from_version}"),
            )]);
        }
        let mut a = attributes.clone();
        let o = a.as_object_mut().expect("an object");
        if from_version < 1 {
            let label = o.remove("label").unwrap_or(serde_json::Value::Null);
            o.insert("name".into(), label);
        }
        if from_version < 2 {
            o.insert("size".into(), serde_json::Value::Null);
        }
        Ok(a)
    }
    async fn configure(&self, _config: &Value) -> Diagnostics {
        Vec::new()
    }
    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        let mut attrs = req.proposed.as_mapping().cloned().unwrap_or_default();
        let id = if req.prior.is_null() {
            Value::unknown(Type::String)
        } else {
            req.prior.get("id").cloned().unwrap()
        };
        attrs.insert("id".into(), id);
        PlanResponse::planned(Value::object(attrs))
    }
    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        let mut attrs = req.planned.as_mapping().cloned().unwrap_or_default();
        if attrs.get("id").is_some_and(|v| !v.is_known()) {
            attrs.insert("id".into(), Value::string("t-2"));
        }
        ApplyResponse::done(Value::object(attrs))
    }
    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        Ok(Some(req.current.clone()))
    }
    async fn read_data_source(&self, _t: &str, _c: &Value) -> Result<Value, Diagnostics> {
        unreachable!("no data sources")
    }
}

fn providers(version: u64, upgrades: bool) -> ProviderSet {
    let mut p = ProviderSet::new();
    p.insert("renamer", Arc::new(Renamer { version, upgrades }));
    p
}

/// A state holding `renamer_thing.a` as written with `schema_version`.
fn state(schema_version: u64, attributes: serde_json::Value) -> st::State {
    let mut s = st::State::with_lineage("l", "test");
    let raddr = st::ResourceAddr::managed("renamer_thing", "a");
    let mut obj = st::ObjectState::new(attributes);
    obj.schema_version = schema_version;
    let mut r = st::Resource {
        provider: "provider[\"brick/renamer\"]".into(),
        instances: Default::default(),
    };
    r.instances.insert(
        st::IndexKey::None,
        st::Instance {
            current: Some(Box::new(obj)),
            deposed: Default::default(),
        },
    );
    s.resources.insert(raddr, r);
    s
}

/// `renamer_thing.a { name = NAME }`.
fn config(name: &str) -> Configuration {
    let n = name.to_string();
    let body: EvalFn =
        Arc::new(move |_, _| Ok(Value::object_from([("name", Value::string(n.clone()))])));
    Configuration {
        resources: vec![ResourceConfig {
            addr: ResourceAddr::managed("renamer_thing", "a"),
            provider: "renamer".into(),
            expansion: Expansion::Single,
            body,
            references: vec![],
            depends_on: vec![],
            lifecycle: Lifecycle::default(),
            timeouts: Timeouts::default(),
            source: Default::default(),
        }],
        hash: "h".into(),
        ..Default::default()
    }
}

async fn plan_of(c: &Configuration, prior: &PriorState, p: &ProviderSet) -> Plan {
    plan(c, prior, p, &Options::default(), &NoEvents).await
}

fn codes(p: &Plan) -> Vec<String> {
    p.diagnostics.iter().map(|d| d.code.clone()).collect()
}

#[tokio::test]
async fn state_two_versions_old_is_upgraded_step_by_step_and_plans_no_change() {
    let p = providers(2, true);
    let prior = prior_from_state(&state(0, json!({"id": "t-1", "label": "old"})), &p);
    assert!(
        prior.upgrade_errors.is_empty(),
        "{:?}",
        prior.upgrade_errors
    );
    let inst = prior.instances.values().next().unwrap();
    assert_eq!(inst.schema_version, 2);
    assert_eq!(inst.value.get("name").and_then(Value::as_str), Some("old"));
    assert!(inst.value.get("size").is_some_and(Value::is_null));
    assert_eq!(inst.value.get("id").and_then(Value::as_str), Some("t-1"));

    let planned = plan_of(&config("old"), &prior, &p).await;
    assert!(!planned.errored, "{:?}", planned.diagnostics);
    assert_eq!(planned.changes.len(), 1);
    assert_eq!(planned.changes[0].action, Action::NoOp);
}

#[tokio::test]
async fn an_update_after_an_upgrade_records_the_current_schema_version() {
    let p = providers(2, true);
    let prior = prior_from_state(&state(0, json!({"id": "t-1", "label": "old"})), &p);
    let c = config("new");
    let planned = plan_of(&c, &prior, &p).await;
    assert!(!planned.errored, "{:?}", planned.diagnostics);
    assert_eq!(planned.changes[0].action, Action::Update);
    let mut sink = MemoryState::new(prior.clone());
    let out = apply(ApplyInput {
        plan: &planned,
        config: &c,
        prior: &prior,
        providers: &p,
        sink: &mut sink,
        events: Arc::new(CollectEvents::default()),
        options: ApplyOptions::default(),
        cancel: &Cancel::new(),
    })
    .await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let inst = sink.state.instances.values().next().unwrap();
    assert_eq!(inst.schema_version, 2);
    assert_eq!(inst.value.get("name").and_then(Value::as_str), Some("new"));
    assert_eq!(inst.value.get("id").and_then(Value::as_str), Some("t-1"));
}

#[tokio::test]
async fn state_written_by_a_newer_provider_fails_the_plan_naming_the_object() {
    let p = providers(2, true);
    let prior = prior_from_state(&state(3, json!({"id": "t-1", "name": "x"})), &p);
    let planned = plan_of(&config("x"), &prior, &p).await;
    assert!(planned.errored);
    assert_eq!(codes(&planned), ["brick::state::newer_schema"]);
    let d = &planned.diagnostics[0];
    assert!(d.detail.contains("renamer_thing.a"), "{}", d.detail);
    assert!(d.detail.contains("schema version 3"), "{}", d.detail);
    assert!(d.help.is_some());
}

#[tokio::test]
async fn a_provider_that_cannot_upgrade_fails_the_plan_with_its_own_diagnostic() {
    let p = providers(1, false);
    let prior = prior_from_state(&state(0, json!({"id": "t-1", "label": "x"})), &p);
    let planned = plan_of(&config("x"), &prior, &p).await;
    assert!(planned.errored);
    assert_eq!(codes(&planned), ["brick::renamer::no_upgrade"]);
    assert!(planned.diagnostics[0].detail.contains("renamer_thing.a"));
}

/// The trait's default: a provider that bumps a version and forgets the upgrade refuses
/// instead of misreading the recorded attributes.
struct Forgetful;

#[async_trait]
impl Provider for Forgetful {
    fn name(&self) -> &str {
        "renamer"
    }
    fn schema(&self) -> ProviderSchema {
        Renamer {
            version: 1,
            upgrades: false,
        }
        .schema()
    }
    async fn configure(&self, _config: &Value) -> Diagnostics {
        Vec::new()
    }
    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        PlanResponse::planned(req.proposed.clone())
    }
    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        ApplyResponse::done(req.planned.clone())
    }
    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        Ok(Some(req.current.clone()))
    }
    async fn read_data_source(&self, _t: &str, _c: &Value) -> Result<Value, Diagnostics> {
        unreachable!("no data sources")
    }
}

#[tokio::test]
async fn the_default_upgrade_refuses_with_a_code_and_a_hint() {
    let mut p = ProviderSet::new();
    p.insert("renamer", Arc::new(Forgetful));
    let prior = prior_from_state(&state(0, json!({"id": "t-1", "label": "x"})), &p);
    let planned = plan_of(&config("x"), &prior, &p).await;
    assert!(planned.errored);
    assert_eq!(codes(&planned), ["brick::state::schema_upgrade"]);
    let d = &planned.diagnostics[0];
    assert!(d.detail.contains("schema version 0"), "{}", d.detail);
    assert!(
        d.help
            .as_deref()
            .unwrap_or("")
            .contains("upgrade_resource_state")
    );
}

#[tokio::test]
async fn an_unchanged_version_reads_the_state_as_recorded() {
    let p = providers(2, false);
    let prior = prior_from_state(&state(2, json!({"id": "t-1", "name": "x", "size": 3})), &p);
    assert!(prior.upgrade_errors.is_empty());
    let planned = plan_of(&config("x"), &prior, &p).await;
    // `size` is recorded as 3 and configured as null: an update, read without any upgrade.
    assert!(!planned.errored, "{:?}", planned.diagnostics);
    assert_eq!(planned.changes[0].action, Action::Update);
}
