//! An in-memory provider for engine tests: one resource type `fake_thing` whose objects live in
//! a map, with knobs to make calls fail, take time, or see objects changed behind its back.
//! It keeps the provider contract, so it also serves as the conformance suite's own test.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::diag::{Diagnostic, Diagnostics};
use crate::provider::{
    ApplyRequest, ApplyResponse, ChangeAction, ChangeDiagnostic, DriftExplanation, DriftRequest,
    ImportedResource, PathStep, PlanRequest, PlanResponse, PlannedChange, Provider, ReadRequest,
};
use crate::schema::{Attribute, Block, ProviderSchema, ResourceSchema};
use crate::types::Type;
use crate::value::Value;

/// One recorded call, for tests that check what the engine asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Configure,
    Plan(String),
    Create(String),
    Update(String),
    Delete(String),
    Read(String),
    Import(String),
}

/// A scripted provider-level plan check (see [`FakeProvider::on_check_plan`]).
pub type PlanCheck = Box<dyn Fn(&[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> + Send + Sync>;

/// A scripted drift explanation (see [`FakeProvider::on_explain_drift`]).
pub type DriftExplainer = Box<dyn Fn(&DriftRequest<'_>) -> DriftExplanation + Send + Sync>;

/// The fake provider. Objects are keyed by their `id` (`"<name>-<n>"`).
#[derive(Default)]
pub struct FakeProvider {
    objects: Mutex<BTreeMap<String, Value>>,
    calls: Mutex<Vec<Call>>,
    next_id: AtomicU64,
    /// Names whose create or update fails.
    pub fail_names: Mutex<HashSet<String>>,
    /// How long each apply takes.
    pub apply_delay: Mutex<Duration>,
    running: AtomicU64,
    /// The most applies seen running at once.
    pub max_concurrent: AtomicU64,
    /// The provider's own concurrency limit (0: none).
    pub concurrency_limit: AtomicU64,
    /// [`Provider::batch_size`] of creates and deletes (0 or 1: not batched).
    pub batch_size: AtomicU64,
    /// The configuration `configure` was given (None: never configured).
    configured_with: Mutex<Option<Value>>,
    /// When set, applies, reads, imports and plan checks before `configure` fail, as they
    /// would in a provider that has no connection yet.
    pub require_configure: AtomicBool,
    /// When set, a create planned before `configure` gets this `id` instead of an unknown
    /// one: a provider guessing what only its server knows (as one that fell back to a
    /// default cluster would). The engine's plan after configuring must refuse it.
    pub unconfigured_id: Mutex<Option<String>>,
    /// Types whose creates cannot be planned before `configure` (see
    /// [`Provider::plans_unconfigured`]).
    pub needs_configure_to_plan: Mutex<HashSet<String>>,
    plan_check: Mutex<Option<PlanCheck>>,
    /// What each `check_plan` call saw: every change's address and action.
    plan_checks: Mutex<Vec<Vec<(String, ChangeAction)>>>,
    drift_explainer: Mutex<Option<DriftExplainer>>,
    /// [`Provider::apply_order`] by object name: (rank when applied, rank when destroyed).
    /// Names not listed rank 0.
    pub order: Mutex<std::collections::HashMap<String, (i8, i8)>>,
}

pub const FAKE_THING: &str = "fake_thing";

impl FakeProvider {
    pub fn new() -> FakeProvider {
        FakeProvider::default()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The objects that exist, by id.
    pub fn objects(&self) -> BTreeMap<String, Value> {
        self.objects.lock().unwrap().clone()
    }

    /// Changes an attribute of an existing object, as someone outside brick would.
    pub fn tamper(&self, id: &str, attr: &str, value: Value) {
        let mut objects = self.objects.lock().unwrap();
        if let Some(obj) = objects.get_mut(id) {
            let mut m = obj.as_mapping().cloned().unwrap_or_default();
            m.insert(attr.to_string(), value);
            *obj = Value::object(m);
        }
    }

    /// Puts an object in place by id, as it would exist in the real system (to hand the
    /// objects of one run's provider to the next run's).
    pub fn put_object(&self, id: &str, obj: Value) {
        self.objects.lock().unwrap().insert(id.to_string(), obj);
        self.next_id.fetch_add(1, Ordering::SeqCst);
    }

    /// Deletes an object behind the engine's back.
    pub fn remove_object(&self, id: &str) {
        self.objects.lock().unwrap().remove(id);
    }

    pub fn fail_on(&self, name: &str) {
        self.fail_names.lock().unwrap().insert(name.to_string());
    }

    /// Makes `check_plan` answer with `check` (by default it finds nothing).
    pub fn on_check_plan(
        &self,
        check: impl Fn(&[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> + Send + Sync + 'static,
    ) {
        *self.plan_check.lock().unwrap() = Some(Box::new(check));
    }

    /// Scripts `explain_drift`'s answer (default: nothing to say).
    pub fn on_explain_drift(
        &self,
        explain: impl Fn(&DriftRequest<'_>) -> DriftExplanation + Send + Sync + 'static,
    ) {
        *self.drift_explainer.lock().unwrap() = Some(Box::new(explain));
    }

    /// What each `check_plan` call saw, in call order: every change's address and action.
    pub fn plan_checks(&self) -> Vec<Vec<(String, ChangeAction)>> {
        self.plan_checks.lock().unwrap().clone()
    }

    fn record(&self, c: Call) {
        self.calls.lock().unwrap().push(c);
    }

    /// The configuration `configure` was given, if it was called.
    pub fn configured_with(&self) -> Option<Value> {
        self.configured_with.lock().unwrap().clone()
    }

    /// An error when [`FakeProvider::require_configure`] is set and `configure` was not
    /// called.
    fn unconfigured(&self, what: &str) -> Option<Diagnostics> {
        (self.require_configure.load(Ordering::SeqCst)
            && self.configured_with.lock().unwrap().is_none())
        .then(|| {
            vec![Diagnostic::error(
                "brick::fake::unconfigured",
                "Provider not configured",
                format!("The fake provider was asked to {what} before it was configured."),
            )]
        })
    }

    fn block() -> Block {
        Block::default()
            .attr(
                "name",
                Attribute::required(Type::String).describe("A name."),
            )
            .attr("value", Attribute::optional(Type::Dynamic))
            .attr(
                "size",
                Attribute::optional(Type::Number).forces_replacement(),
            )
            .attr("secret", Attribute::optional(Type::String).sensitive())
            .attr("id", Attribute::computed(Type::String))
    }
}

fn name_of(v: &Value) -> String {
    v.get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

#[async_trait]
impl Provider for FakeProvider {
    fn name(&self) -> &str {
        "fake"
    }

    fn max_concurrency(&self) -> Option<usize> {
        match self.concurrency_limit.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n as usize),
        }
    }

    fn batch_size(&self, _type_name: &str, _destroying: bool) -> usize {
        (self.batch_size.load(Ordering::SeqCst) as usize).max(1)
    }

    fn apply_order(&self, _type_name: &str, value: &Value, destroying: bool) -> i8 {
        let order = self.order.lock().unwrap();
        order.get(&name_of(value)).map_or(
            0,
            |&(apply, destroy)| if destroying { destroy } else { apply },
        )
    }

    fn schema(&self) -> ProviderSchema {
        let mut s = ProviderSchema {
            provider: Block::default().attr(
                "endpoint",
                Attribute::optional(Type::String).describe("Where the objects live."),
            ),
            ..Default::default()
        };
        s.resources.insert(
            FAKE_THING.into(),
            ResourceSchema {
                version: 0,
                block: FakeProvider::block(),
            },
        );
        s
    }

    async fn configure(&self, config: &Value) -> Diagnostics {
        self.record(Call::Configure);
        *self.configured_with.lock().unwrap() = Some(config.clone());
        Vec::new()
    }

    fn plans_unconfigured(&self, type_name: &str) -> bool {
        !self
            .needs_configure_to_plan
            .lock()
            .unwrap()
            .contains(type_name)
    }

    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        if req.proposed.is_null() {
            return PlanResponse::planned(req.proposed.clone());
        }
        let mut planned = req.proposed.as_mapping().cloned().unwrap_or_default();
        let mut requires_replace = Vec::new();
        if req.prior.is_null() {
            let guess = self
                .unconfigured_id
                .lock()
                .unwrap()
                .clone()
                .filter(|_| self.configured_with.lock().unwrap().is_none());
            planned.insert(
                "id".into(),
                guess.map_or_else(|| Value::unknown(Type::String), Value::string),
            );
        } else {
            let unchanged = |k: &str| {
                crate::lifecycle::same(
                    req.prior.get(k).unwrap_or(&Value::null_dynamic()),
                    req.proposed.get(k).unwrap_or(&Value::null_dynamic()),
                )
            };
            if !unchanged("size") {
                requires_replace.push(vec![PathStep::Attr("size".into())]);
                planned.insert("id".into(), Value::unknown(Type::String));
            }
        }
        PlanResponse {
            planned: Value::object(planned),
            requires_replace,
            diagnostics: Vec::new(),
        }
    }

    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        if let Some(diagnostics) = self.unconfigured("apply a change") {
            return ApplyResponse {
                new_state: req.prior.clone(),
                diagnostics,
            };
        }
        let delay = *self.apply_delay.lock().unwrap();
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_concurrent.fetch_max(now, Ordering::SeqCst);
        if !delay.is_zero() {
            tokio_free_sleep(delay).await;
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        if req.planned.is_null() {
            let id = req.prior.get("id").and_then(Value::as_str).unwrap_or("");
            self.record(Call::Delete(id.to_string()));
            self.objects.lock().unwrap().remove(id);
            // Untyped, as some providers answer a destroy: the engine takes any null.
            return ApplyResponse::done(Value::null_dynamic());
        }
        let name = name_of(req.planned);
        if self.fail_names.lock().unwrap().contains(&name) {
            return ApplyResponse {
                new_state: req.prior.clone(),
                diagnostics: vec![Diagnostic::error(
                    "brick::fake::failed",
                    "Apply failed",
                    format!("The fake provider was told to fail for {name:?}."),
                )],
            };
        }
        let mut m = req.planned.as_mapping().cloned().unwrap_or_default();
        let id = match req.planned.get("id") {
            Some(v) if v.is_known() && !v.is_null() => {
                let id = v.as_str().unwrap_or("").to_string();
                self.record(Call::Update(id.clone()));
                id
            }
            _ => {
                let n = self.next_id.fetch_add(1, Ordering::SeqCst);
                let id = format!("{name}-{n}");
                self.record(Call::Create(id.clone()));
                id
            }
        };
        m.insert("id".into(), Value::string(id.clone()));
        let new_state = Value::object(m).unmark_deep().0;
        self.objects.lock().unwrap().insert(id, new_state.clone());
        ApplyResponse {
            new_state,
            diagnostics: Vec::new(),
        }
    }

    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        let id = req.current.get("id").and_then(Value::as_str).unwrap_or("");
        self.record(Call::Read(id.to_string()));
        if let Some(d) = self.unconfigured("read an object") {
            return Err(d);
        }
        Ok(self.objects.lock().unwrap().get(id).cloned())
    }

    async fn import_resource(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<Vec<ImportedResource>, Diagnostics> {
        self.record(Call::Import(id.to_string()));
        if let Some(d) = self.unconfigured("import an object") {
            return Err(d);
        }
        match self.objects.lock().unwrap().get(id) {
            Some(v) => Ok(vec![ImportedResource {
                type_name: type_name.to_string(),
                state: v.clone(),
            }]),
            None => Err(vec![Diagnostic::error(
                "brick::fake::not_found",
                "Cannot import non-existent remote object",
                format!("No {type_name} with id {id:?} exists."),
            )]),
        }
    }

    async fn check_plan(&self, changes: &[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> {
        self.plan_checks.lock().unwrap().push(
            changes
                .iter()
                .map(|c| (c.address.to_string(), c.action))
                .collect(),
        );
        if let Some(ds) = self.unconfigured("check a plan") {
            return ds
                .into_iter()
                .map(|diagnostic| ChangeDiagnostic {
                    change: 0,
                    diagnostic,
                })
                .collect();
        }
        match &*self.plan_check.lock().unwrap() {
            Some(check) => check(changes),
            None => Vec::new(),
        }
    }

    async fn explain_drift(&self, req: DriftRequest<'_>) -> Result<DriftExplanation, Diagnostics> {
        Ok(match &*self.drift_explainer.lock().unwrap() {
            Some(explain) => explain(&req),
            None => DriftExplanation::default(),
        })
    }

    async fn read_data_source(
        &self,
        type_name: &str,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        Err(vec![Diagnostic::error(
            "brick::fake::no_data_source",
            "Unsupported data source",
            format!("The fake provider has no data source {type_name}."),
        )])
    }
}

/// A sleep that needs no runtime: the API crate does not depend on tokio.
async fn tokio_free_sleep(d: Duration) {
    let (tx, rx) = futures_oneshot();
    std::thread::spawn(move || {
        std::thread::sleep(d);
        tx.fire();
    });
    rx.await;
}

// A tiny one-shot signal built on std, to keep the API crate free of runtime dependencies.
struct Fire(std::sync::Arc<Mutex<(bool, Option<std::task::Waker>)>>);
struct Wait(std::sync::Arc<Mutex<(bool, Option<std::task::Waker>)>>);

fn futures_oneshot() -> (Fire, Wait) {
    let s = std::sync::Arc::new(Mutex::new((false, None)));
    (Fire(s.clone()), Wait(s))
}

impl Fire {
    fn fire(self) {
        let mut g = self.0.lock().unwrap();
        g.0 = true;
        if let Some(w) = g.1.take() {
            w.wake();
        }
    }
}

impl std::future::Future for Wait {
    type Output = ();
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let mut g = self.0.lock().unwrap();
        if g.0 {
            std::task::Poll::Ready(())
        } else {
            g.1 = Some(cx.waker().clone());
            std::task::Poll::Pending
        }
    }
}
