//! The built-in provider `brick`, which needs no configuration and manages objects that live
//! only in state. `brick_data` behaves exactly like Terraform's `terraform_data`: `input` and
//! `triggers_replace` are set by the user, `output` mirrors `input`, `id` is a random UUID
//! chosen at creation, and a change of `triggers_replace` replaces the object. `brick_sleep`
//! (`sleep.rs`) is hashicorp/time's `time_sleep`; the data source `brick_remote_state`
//! (`remote_state.rs`) is Terraform's `terraform_remote_state`.
//!
//! Randomness comes in through [`IdSource`] and files through [`remote_state::SharedFs`], so
//! the provider does no ambient I/O of its own.

pub mod remote_state;
pub mod sleep;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use brick_provider_api::provider::{
    ApplyRequest, ApplyResponse, ImportedResource, PathStep, PlanRequest, PlanResponse, ReadRequest,
};
use brick_provider_api::schema::{Attribute, Block, ProviderSchema, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Provider, Type, Value};

pub const BRICK_DATA: &str = "brick_data";

/// Where new ids come from: a UUID v4 generator in the CLI, a counter in tests.
pub type IdSource = Arc<dyn Fn() -> String + Send + Sync>;

/// The `brick` provider.
pub struct BrickProvider {
    ids: IdSource,
    fs: remote_state::SharedFs,
}

impl BrickProvider {
    /// A provider reading `brick_remote_state` files from the real disk.
    pub fn new(ids: IdSource) -> BrickProvider {
        BrickProvider {
            ids,
            fs: Arc::new(crate::config::RealFs),
        }
    }

    /// The same provider reading files through `fs` (an in-memory one in tests).
    pub fn with_fs(mut self, fs: remote_state::SharedFs) -> BrickProvider {
        self.fs = fs;
        self
    }

    /// A provider whose ids are `00000000-0000-4000-8000-000000000001`, `…2`, …: for tests.
    pub fn with_sequential_ids() -> BrickProvider {
        let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
        BrickProvider::new(Arc::new(move || {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            format!("00000000-0000-4000-8000-{i:012}")
        }))
    }

    fn data_block() -> Block {
        Block::default()
            .attr(
                "input",
                Attribute::optional(Type::Dynamic)
                    .describe("A value to store; `output` reflects it after apply."),
            )
            .attr(
                "triggers_replace",
                Attribute::optional(Type::Dynamic)
                    .describe("A value whose change replaces the object."),
            )
            .attr(
                "output",
                Attribute::computed(Type::Dynamic).describe("The value of `input`."),
            )
            .attr(
                "id",
                Attribute::computed(Type::String).describe("A unique id chosen at creation."),
            )
    }
}

fn attr_or_null(v: &Value, name: &str) -> Value {
    v.get(name).cloned().unwrap_or_else(Value::null_dynamic)
}

/// Raw equality, as cty's RawEquals: types, values and unknowns alike, marks ignored.
fn raw_equal(a: &Value, b: &Value) -> bool {
    brick_provider_api::lifecycle::same(a, b)
}

/// The planned `output` when `input` changes: unknown of input's type, or null when input is.
fn output_after_change(input: &Value) -> Value {
    if input.is_null() {
        input.clone()
    } else {
        unknown_output(input)
    }
}

/// The unknown planned `output` for an `input`. Not marked sensitive even when the input is:
/// as Terraform, the plan accepts a root output that reads it, and apply records the output
/// hidden (with the warning `output_became_sensitive`) once its value echoes a secret.
fn unknown_output(input: &Value) -> Value {
    Value::unknown(input.ty())
}

#[async_trait]
impl Provider for BrickProvider {
    fn name(&self) -> &str {
        "brick"
    }

    fn manages_remote_objects(&self) -> bool {
        // brick_data objects live only in state.
        false
    }

    fn schema(&self) -> ProviderSchema {
        let mut s = ProviderSchema::default();
        s.resources.insert(
            BRICK_DATA.into(),
            ResourceSchema {
                version: 0,
                block: BrickProvider::data_block(),
            },
        );
        s.resources.insert(
            sleep::BRICK_SLEEP.into(),
            ResourceSchema {
                version: 0,
                block: sleep::block(),
            },
        );
        s.data_sources.insert(
            remote_state::BRICK_REMOTE_STATE.into(),
            ResourceSchema {
                version: 0,
                block: remote_state::block(),
            },
        );
        s
    }

    async fn configure(&self, _config: &Value) -> Diagnostics {
        Vec::new()
    }

    fn validate_resource(&self, type_name: &str, config: &Value) -> Diagnostics {
        match type_name {
            sleep::BRICK_SLEEP => sleep::validate(config),
            remote_state::BRICK_REMOTE_STATE => remote_state::validate(config),
            _ => Vec::new(),
        }
    }

    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        if req.type_name == sleep::BRICK_SLEEP {
            return sleep::plan(req);
        }
        let mut resp = PlanResponse {
            planned: req.proposed.clone(),
            requires_replace: Vec::new(),
            diagnostics: Vec::new(),
        };
        if req.proposed.is_null() || !req.proposed.is_known() {
            return resp;
        }
        let mut planned: BTreeMap<String, Value> =
            req.proposed.as_mapping().cloned().unwrap_or_default();
        let input = attr_or_null(req.proposed, "input");
        let trigger = attr_or_null(req.proposed, "triggers_replace");
        if req.prior.is_null() {
            planned.insert("id".into(), Value::unknown(Type::String));
            planned.insert("output".into(), output_after_change(&input));
        } else if !raw_equal(&attr_or_null(req.prior, "triggers_replace"), &trigger) {
            resp.requires_replace
                .push(vec![PathStep::Attr("triggers_replace".into())]);
            planned.insert("id".into(), Value::unknown(Type::String));
            planned.insert("output".into(), output_after_change(&input));
        } else if !raw_equal(&attr_or_null(req.prior, "input"), &input) {
            // As terraform_data: a changed input (even to null) makes the output unknown.
            planned.insert("output".into(), unknown_output(&input));
        }
        resp.planned = Value::object(planned);
        resp
    }

    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        if req.type_name == sleep::BRICK_SLEEP {
            return sleep::apply(req, &self.ids).await;
        }
        if req.planned.is_null() {
            return ApplyResponse {
                new_state: req.planned.clone(),
                diagnostics: Vec::new(),
            };
        }
        let mut state: BTreeMap<String, Value> =
            req.planned.as_mapping().cloned().unwrap_or_default();
        let input = attr_or_null(req.planned, "input");
        if !input.is_wholly_known() {
            return ApplyResponse {
                new_state: req.prior.clone(),
                diagnostics: vec![Diagnostic::error(
                    "brick::builtin::unknown_input",
                    "Unknown value at apply",
                    "The input of brick_data was still unknown when it was applied.",
                )],
            };
        }
        if state.get("id").is_none_or(|v| !v.is_known() || v.is_null()) {
            state.insert("id".into(), Value::string((self.ids)()));
        }
        state.insert("output".into(), input);
        ApplyResponse {
            new_state: Value::object(state).unmark_deep().0,
            diagnostics: Vec::new(),
        }
    }

    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        // The object lives only in state: it is exactly what was recorded.
        if req.current.is_null() {
            return Ok(None);
        }
        Ok(Some(req.current.clone()))
    }

    async fn read_many(
        &self,
        _type_name: &str,
        current: &[Value],
    ) -> Vec<Result<Option<Value>, Diagnostics>> {
        current
            .iter()
            .map(|c| Ok((!c.is_null()).then(|| c.clone())))
            .collect()
    }

    async fn import_resource(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<Vec<ImportedResource>, Diagnostics> {
        if type_name != BRICK_DATA {
            return Err(vec![unknown_type(type_name)]);
        }
        Ok(vec![ImportedResource {
            type_name: type_name.to_string(),
            state: Value::object_from([
                ("id", Value::string(id)),
                ("input", Value::null_dynamic()),
                ("output", Value::null_dynamic()),
                ("triggers_replace", Value::null_dynamic()),
            ]),
        }])
    }

    async fn read_data_source(
        &self,
        type_name: &str,
        config: &Value,
    ) -> Result<Value, Diagnostics> {
        match type_name {
            remote_state::BRICK_REMOTE_STATE => remote_state::read(&*self.fs, config),
            _ => Err(vec![unknown_type(type_name)]),
        }
    }
}

fn unknown_type(type_name: &str) -> Diagnostic {
    Diagnostic::error(
        "brick::builtin::unknown_type",
        "Unsupported resource type",
        format!("The provider brick has no type named {type_name}."),
    )
    .with_help(
        "The built-in provider offers the resources brick_data and brick_sleep and the data source brick_remote_state.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use brick_provider_api::conformance::{Fixture, assert_conforms};
    use brick_provider_api::lifecycle::proposed_new_state;

    fn config(input: Value, trigger: Value) -> Value {
        Value::object_from([
            ("input", input),
            ("triggers_replace", trigger),
            ("output", Value::null_dynamic()),
            ("id", Value::null(Type::String)),
        ])
    }

    async fn plan(p: &BrickProvider, prior: &Value, cfg: &Value) -> PlanResponse {
        let block = BrickProvider::data_block();
        let proposed = proposed_new_state(&block, prior, cfg);
        p.plan_resource(PlanRequest {
            type_name: BRICK_DATA,
            prior,
            proposed: &proposed,
        })
        .await
    }

    #[tokio::test]
    async fn brick_data_keeps_the_provider_contract() {
        let p = BrickProvider::with_sequential_ids();
        assert_conforms(
            &p,
            &[Fixture::new(
                BRICK_DATA,
                config(Value::string("a"), Value::null_dynamic()),
            )
            .updated(config(Value::string("b"), Value::null_dynamic()))],
        )
        .await;
        assert_conforms(
            &p,
            &[
                Fixture::new(BRICK_DATA, config(Value::number(1), Value::number(1)))
                    .updated(config(Value::number(1), Value::number(2))),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn brick_sleep_keeps_the_provider_contract() {
        let p = BrickProvider::with_sequential_ids();
        let cfg = |d: &str, t: &str| {
            Value::object_from([
                ("create_duration", Value::string(d)),
                ("destroy_duration", Value::string("1ms")),
                (
                    "triggers",
                    Value::map(Type::String, [("k".to_string(), Value::string(t))].into()),
                ),
                ("id", Value::null(Type::String)),
            ])
        };
        assert_conforms(
            &p,
            &[Fixture::new(sleep::BRICK_SLEEP, cfg("1ms", "a")).updated(cfg("2ms", "a"))],
        )
        .await;
        assert_conforms(
            &p,
            &[Fixture::new(sleep::BRICK_SLEEP, cfg("1ms", "a")).updated(cfg("1ms", "b"))],
        )
        .await;
    }

    #[test]
    fn an_invalid_sleep_duration_is_a_clear_error() {
        let p = BrickProvider::with_sequential_ids();
        let ds = p.validate_resource(
            sleep::BRICK_SLEEP,
            &Value::object_from([("create_duration", Value::string("10 minutes"))]),
        );
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0].code, "brick::builtin::invalid_duration");
    }

    #[tokio::test]
    async fn creating_plans_an_unknown_id_and_an_output_of_the_input_type() {
        let p = BrickProvider::with_sequential_ids();
        let null = Value::null(BrickProvider::data_block().value_type());
        let r = plan(
            &p,
            &null,
            &config(Value::string("x"), Value::null_dynamic()),
        )
        .await;
        assert_eq!(r.planned.get("id"), Some(&Value::unknown(Type::String)));
        assert_eq!(r.planned.get("output"), Some(&Value::unknown(Type::String)));
        assert!(r.requires_replace.is_empty());
    }

    #[tokio::test]
    async fn a_changed_trigger_forces_replacement_and_a_changed_input_does_not() {
        let p = BrickProvider::with_sequential_ids();
        let prior = Value::object_from([
            ("input", Value::string("a")),
            ("triggers_replace", Value::number(1)),
            ("output", Value::string("a")),
            ("id", Value::string("x")),
        ]);
        let r = plan(&p, &prior, &config(Value::string("b"), Value::number(1))).await;
        assert!(r.requires_replace.is_empty());
        assert_eq!(r.planned.get("id"), Some(&Value::string("x")));
        assert_eq!(r.planned.get("output"), Some(&Value::unknown(Type::String)));
        let r = plan(&p, &prior, &config(Value::string("a"), Value::number(2))).await;
        assert_eq!(
            r.requires_replace,
            vec![vec![PathStep::Attr("triggers_replace".into())]]
        );
        assert_eq!(r.planned.get("id"), Some(&Value::unknown(Type::String)));
        let r = plan(&p, &prior, &config(Value::string("a"), Value::number(1))).await;
        assert_eq!(
            r.planned, prior,
            "an unchanged configuration plans no change"
        );
    }

    #[tokio::test]
    async fn a_null_input_plans_a_null_output() {
        let p = BrickProvider::with_sequential_ids();
        let null = Value::null(BrickProvider::data_block().value_type());
        let r = plan(
            &p,
            &null,
            &config(Value::null_dynamic(), Value::null_dynamic()),
        )
        .await;
        assert_eq!(r.planned.get("output"), Some(&Value::null_dynamic()));
    }
}
