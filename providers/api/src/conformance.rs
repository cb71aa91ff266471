//! The provider conformance suite: checks that every provider's tests run against their own
//! fixtures, so that the engine can rely on the contract written in `CONTRACT.md`.
//!
//! ```ignore
//! let fixture = Fixture::new("brick_data", config).updated(new_config).import_id_attr("id");
//! brick_provider_api::conformance::assert_conforms(&provider, &[fixture]).await;
//! ```
//!
//! Each check returns every violation it finds rather than stopping at the first.

use crate::lifecycle::{Violation, check_new_state, check_planned, proposed_new_state, same};
use crate::provider::{ApplyRequest, NoProgress, PlanRequest, Provider, ReadRequest};
use crate::schema::ResourceSchema;
use crate::value::Value;

/// One resource type and the configurations to exercise it with.
#[derive(Clone, Debug)]
pub struct Fixture {
    pub type_name: String,
    /// A wholly known configuration (an object conforming to the schema).
    pub config: Value,
    /// A second configuration to update (or replace) to, when the type supports changes.
    pub updated: Option<Value>,
    /// The attribute whose value `import_resource` accepts as id; `None` skips the import check.
    pub import_id_attr: Option<String>,
}

impl Fixture {
    pub fn new(type_name: impl Into<String>, config: Value) -> Fixture {
        Fixture {
            type_name: type_name.into(),
            config,
            updated: None,
            import_id_attr: None,
        }
    }
    pub fn updated(mut self, config: Value) -> Fixture {
        self.updated = Some(config);
        self
    }
    pub fn import_id_attr(mut self, attr: impl Into<String>) -> Fixture {
        self.import_id_attr = Some(attr.into());
        self
    }
}

fn v(step: &str, message: impl Into<String>) -> Violation {
    Violation {
        path: step.to_string(),
        message: message.into(),
    }
}

/// Runs the whole lifecycle for one fixture against a configured provider and returns every
/// violation: plan is pure and idempotent, apply returns a wholly known state that agrees with
/// the plan, read after apply returns that state, a second plan is a no-op, update, import,
/// delete, and read after delete returns nothing.
pub async fn check_lifecycle(provider: &dyn Provider, fx: &Fixture) -> Vec<Violation> {
    let mut out = Vec::new();
    let schema = provider.schema();
    let Some(rs) = schema.resources.get(&fx.type_name) else {
        return vec![v("schema", format!("no resource type {}", fx.type_name))];
    };
    check_schema(rs, &fx.type_name, &mut out);
    let tn = fx.type_name.as_str();

    // validate: accepts the fixture, and accepts unknown values.
    let d = provider.validate_resource(tn, &fx.config);
    if crate::diag::has_errors(&d) {
        out.push(v("validate", format!("rejects the fixture: {d:?}")));
    }
    let unknown_cfg = with_settable_unknown(rs, &fx.config);
    let d = provider.validate_resource(tn, &unknown_cfg);
    if crate::diag::has_errors(&d) {
        out.push(v("validate", format!("rejects unknown values: {d:?}")));
    }

    // create
    let null = Value::null(rs.block.value_type());
    let Some(state) = plan_and_apply(provider, rs, tn, &null, &fx.config, "create", &mut out).await
    else {
        return out;
    };
    read_equals(provider, tn, &state, "read after create", &mut out).await;
    noop_plan(
        provider,
        rs,
        tn,
        &state,
        &fx.config,
        "plan after create",
        &mut out,
    )
    .await;

    let mut state = state;
    if let Some(updated) = &fx.updated
        && let Some(s) = plan_and_apply(provider, rs, tn, &state, updated, "update", &mut out).await
    {
        read_equals(provider, tn, &s, "read after update", &mut out).await;
        noop_plan(provider, rs, tn, &s, updated, "plan after update", &mut out).await;
        state = s;
    }

    if let Some(attr) = &fx.import_id_attr {
        match state.get(attr).and_then(Value::as_str) {
            None => out.push(v(
                "import",
                format!("the state has no string attribute {attr}"),
            )),
            Some(id) => match provider.import_resource(tn, id).await {
                Err(d) => out.push(v("import", format!("import failed: {d:?}"))),
                Ok(found) => {
                    if found.len() != 1 || found[0].type_name != tn {
                        out.push(v("import", "expected exactly one object of the type"));
                    } else {
                        let req = ReadRequest {
                            type_name: tn,
                            current: &found[0].state,
                        };
                        match provider.read_resource(req).await {
                            Ok(Some(r)) => {
                                if r.get(attr).is_none_or(|x| x.as_str() != Some(id)) {
                                    out.push(v(
                                        "import",
                                        "read of the imported object lost its id",
                                    ));
                                }
                            }
                            other => {
                                out.push(v("import", format!("read of import gave {other:?}")))
                            }
                        }
                    }
                }
            },
        }
    }

    // delete
    let plan = provider
        .plan_resource(PlanRequest {
            type_name: tn,
            prior: &state,
            proposed: &null,
        })
        .await;
    if !plan.planned.is_null() {
        out.push(v("delete", "a destroy was not planned as null"));
    }
    let r = provider
        .apply_resource(ApplyRequest {
            type_name: tn,
            prior: &state,
            planned: &plan.planned,
            progress: &NoProgress,
        })
        .await;
    if crate::diag::has_errors(&r.diagnostics) {
        out.push(v("delete", format!("apply failed: {:?}", r.diagnostics)));
    } else if !r.new_state.is_null() {
        out.push(v("delete", "apply of a destroy returned a non-null state"));
    }
    // Objects that live only in state have nothing real to consult after a delete.
    if provider.manages_remote_objects() {
        match provider
            .read_resource(ReadRequest {
                type_name: tn,
                current: &state,
            })
            .await
        {
            Ok(None) => {}
            other => out.push(v(
                "read after delete",
                format!("expected None, got {other:?}"),
            )),
        }
    }
    out
}

/// Panics listing every violation of every fixture.
pub async fn assert_conforms(provider: &dyn Provider, fixtures: &[Fixture]) {
    let mut all = Vec::new();
    for fx in fixtures {
        for viol in check_lifecycle(provider, fx).await {
            all.push(format!("{}: {viol}", fx.type_name));
        }
    }
    assert!(
        all.is_empty(),
        "provider contract violations:\n{}",
        all.join("\n")
    );
}

fn check_schema(rs: &ResourceSchema, tn: &str, out: &mut Vec<Violation>) {
    for (name, a) in &rs.block.attributes {
        if a.default.is_some() && !a.settable() {
            out.push(v(
                "schema",
                format!("{tn}.{name} is computed but has a default"),
            ));
        }
        if a.forces_replacement && !a.settable() {
            out.push(v(
                "schema",
                format!("{tn}.{name} is computed but forces replacement"),
            ));
        }
    }
}

fn with_settable_unknown(rs: &ResourceSchema, config: &Value) -> Value {
    let mut m = config.as_mapping().cloned().unwrap_or_default();
    for (name, a) in &rs.block.attributes {
        if a.settable() && m.get(name).is_some_and(|x| !x.is_null()) {
            m.insert(name.clone(), Value::unknown(a.ty.clone()));
        }
    }
    Value::object(m)
}

async fn plan_and_apply(
    provider: &dyn Provider,
    rs: &ResourceSchema,
    tn: &str,
    prior: &Value,
    config: &Value,
    step: &str,
    out: &mut Vec<Violation>,
) -> Option<Value> {
    let proposed = proposed_new_state(&rs.block, prior, config);
    let req = || PlanRequest {
        type_name: tn,
        prior,
        proposed: &proposed,
    };
    let p1 = provider.plan_resource(req()).await;
    let p2 = provider.plan_resource(req()).await;
    if crate::diag::has_errors(&p1.diagnostics) {
        out.push(v(step, format!("plan failed: {:?}", p1.diagnostics)));
        return None;
    }
    if p1.planned != p2.planned || p1.requires_replace != p2.requires_replace {
        out.push(v(
            step,
            "plan is not idempotent: two calls gave different results",
        ));
    }
    for viol in check_planned(&rs.block, prior, config, &p1.planned) {
        out.push(v(step, format!("plan: {viol}")));
    }
    let replace = !prior.is_null() && !p1.requires_replace.is_empty();
    let (apply_prior, planned) = if replace {
        // Replacement: destroy, then plan and apply a create.
        let null = Value::null(rs.block.value_type());
        let d = provider
            .apply_resource(ApplyRequest {
                type_name: tn,
                prior,
                planned: &null,
                progress: &NoProgress,
            })
            .await;
        if crate::diag::has_errors(&d.diagnostics) {
            out.push(v(
                step,
                format!("destroy for replacement failed: {:?}", d.diagnostics),
            ));
            return None;
        }
        let proposed = proposed_new_state(&rs.block, &null, config);
        let p = provider
            .plan_resource(PlanRequest {
                type_name: tn,
                prior: &null,
                proposed: &proposed,
            })
            .await;
        (null, p.planned)
    } else {
        (prior.clone(), p1.planned)
    };
    let r = provider
        .apply_resource(ApplyRequest {
            type_name: tn,
            prior: &apply_prior,
            planned: &planned,
            progress: &NoProgress,
        })
        .await;
    if crate::diag::has_errors(&r.diagnostics) {
        out.push(v(step, format!("apply failed: {:?}", r.diagnostics)));
        return None;
    }
    for viol in check_new_state(&planned, &r.new_state) {
        out.push(v(step, format!("apply: {viol}")));
    }
    Some(r.new_state)
}

async fn read_equals(
    provider: &dyn Provider,
    tn: &str,
    state: &Value,
    step: &str,
    out: &mut Vec<Violation>,
) {
    match provider
        .read_resource(ReadRequest {
            type_name: tn,
            current: state,
        })
        .await
    {
        Ok(Some(r)) if same(&r, state) => {}
        other => out.push(v(
            step,
            format!("expected the applied state, got {other:?}"),
        )),
    }
    let many = provider.read_many(tn, std::slice::from_ref(state)).await;
    match many.as_slice() {
        [Ok(Some(r))] if same(r, state) => {}
        other => out.push(v(step, format!("read_many disagrees with read: {other:?}"))),
    }
}

async fn noop_plan(
    provider: &dyn Provider,
    rs: &ResourceSchema,
    tn: &str,
    state: &Value,
    config: &Value,
    step: &str,
    out: &mut Vec<Violation>,
) {
    let proposed = proposed_new_state(&rs.block, state, config);
    let p = provider
        .plan_resource(PlanRequest {
            type_name: tn,
            prior: state,
            proposed: &proposed,
        })
        .await;
    if !same(&p.planned, state) || !p.requires_replace.is_empty() {
        out.push(v(
            step,
            "planning the applied configuration again is not a no-op",
        ));
    }
}
