//! The executor: runs exactly the plan that was shown. Every change becomes one or two steps
//! (a replacement is a destroy and a create, in the order `create_before_destroy` asks for);
//! a step starts as soon as the steps it depends on have finished, within `parallelism`.
//! Each step is a provider call plus a durable record through [`StateSink`]: an intent before
//! anything is created or destroyed, the result as soon as the call returns. A failed step
//! skips only what depends on it; the run reports every error.
//!
//! Values that were unknown at plan time are resolved by evaluating the configuration again
//! with the new states of what the instance depends on, and planning once more; the provider
//! must keep every value that was known when the plan was shown. A provider whose
//! configuration was known only during apply (`Plan::configured_during_apply`) is configured
//! as soon as what its configuration reads has been applied, and each of its changes is
//! planned again the same way before it is sent.

pub mod cancel;
mod configure;
mod finish;
pub mod memory;
mod prepare;
pub mod provisioner;
mod record;
mod schedule;
mod steps;
mod task;
mod values;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brick_provider_api::{Severity, Value};

use crate::addr::{InstanceAddr, ResourceAddr};
use crate::diag::Diagnostic;
use crate::event::EventSink;
use crate::graph::ConfigGraph;
use crate::input::{Configuration, ResourceConfig};
use crate::plan::model::{Action, LateProvider, Plan, PriorState};
use crate::plan::providers::ProviderSet;
pub use cancel::Cancel;
use configure::LateFailure;
use schedule::Queue;
use values::Values;

/// How long after a `timeouts` limit the engine cuts off an operation of a resource type that
/// enforces its own `timeouts` block, so that the provider's own diagnostic (saying what it
/// was waiting for) comes first.
const PROVIDER_TIMEOUT_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// One instance as it is to be recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub provider: String,
    /// The new state, sensitive values marked.
    pub value: Value,
    pub depends_on: crate::plan::model::Dependencies,
    pub schema_version: u64,
    pub tainted: bool,
    pub create_before_destroy: bool,
}

/// Where the executor records progress. Implementations make each call durable (or batch
/// calls into group commits that are durable before `finish` returns).
pub trait StateSink: Send {
    /// Called before a provider call that may create or destroy a real object.
    /// `planned` is the planned state (create, update) or the object to destroy.
    fn intent(
        &mut self,
        addr: &InstanceAddr,
        action: Action,
        destroying: bool,
        planned: &Value,
    ) -> Result<(), String>;
    /// The instance's new state; `None` removes it.
    /// Makes every intent recorded so far durable. The executor records the intents of all
    /// the steps it is about to start, then calls this once (group commit).
    fn flush_intents(&mut self) -> Result<(), String> {
        Ok(())
    }
    fn record(&mut self, addr: &InstanceAddr, state: Option<Recorded>) -> Result<(), String>;
    /// A deposed object (the old half of a create-before-destroy) that still exists.
    fn record_deposed(
        &mut self,
        addr: &InstanceAddr,
        state: Option<Recorded>,
    ) -> Result<(), String>;
    fn record_output(&mut self, name: &str, value: Option<(Value, bool)>) -> Result<(), String>;
    /// Makes everything recorded so far durable.
    fn finish(&mut self) -> Result<(), String>;
}

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub parallelism: usize,
    /// How often a running step reports that it is still running.
    pub progress_interval: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 10,
            progress_interval: Duration::from_secs(10),
        }
    }
}

/// How an apply ended.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    pub diagnostics: Vec<Diagnostic>,
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    pub interrupted: bool,
    /// Outputs after apply.
    pub outputs: BTreeMap<String, (Value, bool)>,
}

impl ApplyOutcome {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}
/// What an apply works from and reports to.
pub struct ApplyInput<'a> {
    /// The plan to carry out, exactly as it was shown.
    pub plan: &'a Plan,
    /// The configuration the plan was made from: evaluated again for values that were
    /// unknown at plan time.
    pub config: &'a Configuration,
    /// The state the plan was made against (for values of instances the plan does not touch).
    pub prior: &'a PriorState,
    pub providers: &'a ProviderSet,
    /// Where each step is recorded.
    pub sink: &'a mut dyn StateSink,
    pub events: Arc<dyn EventSink>,
    pub options: ApplyOptions,
    pub cancel: &'a Cancel,
}

/// Applies a plan: see [`ApplyInput`] for what it needs, the module's documentation for how.
pub async fn apply(input: ApplyInput<'_>) -> ApplyOutcome {
    Executor::new(input).run().await
}

/// The executor of one apply: what it was given, the values as they stand, and the steps as
/// they run. Its methods live with their stage: `configure.rs` (providers), `steps.rs` (the
/// step graph), `schedule.rs` (starting steps), `prepare.rs` (what a step checks and sends
/// before its provider call), `task.rs` (the call), `record.rs` (recording its result) and
/// `finish.rs` (outputs and the outcome).
struct Executor<'a> {
    plan: &'a Plan,
    config: &'a Configuration,
    prior: &'a PriorState,
    providers: &'a ProviderSet,
    sink: &'a mut dyn StateSink,
    events: Arc<dyn EventSink>,
    options: ApplyOptions,
    cancel: &'a Cancel,
    started: Instant,
    out: ApplyOutcome,
    /// Keyed by configuration address (module keys dropped); look up with `config_addr()`.
    resources: HashMap<&'a ResourceAddr, &'a ResourceConfig>,
    values: Values<'a>,
    /// Providers whose configuration is known only during apply, configured when their first
    /// change is about to start (after what their configuration reads).
    late: HashMap<&'a str, &'a LateProvider>,
    /// The late providers configured so far, and how that went.
    late_configured: HashMap<String, Result<(), LateFailure>>,
    /// What orders the `validation` checks of variables, when there are any.
    validation_graph: Option<ConfigGraph>,
    /// The steps and where each stands.
    queue: Queue,
}

impl<'a> Executor<'a> {
    fn new(input: ApplyInput<'a>) -> Executor<'a> {
        let started = Instant::now();
        let ApplyInput {
            plan,
            config,
            prior,
            providers,
            sink,
            events,
            options,
            cancel,
        } = input;
        Executor {
            plan,
            config,
            prior,
            providers,
            sink,
            events,
            options,
            cancel,
            started,
            out: ApplyOutcome::default(),
            resources: config.resources.iter().map(|r| (&r.addr, r)).collect(),
            values: Values::new(config, plan, prior),
            late: plan
                .configured_during_apply
                .iter()
                .map(|l| (l.name.as_str(), l))
                .collect(),
            late_configured: HashMap::new(),
            validation_graph: None,
            queue: Queue::new(Vec::new(), Vec::new(), started),
        }
    }

    async fn run(mut self) -> ApplyOutcome {
        self.configure_providers().await;
        if self.out.has_errors() {
            return self.out;
        }
        let steps = steps::build(self.plan, &self.late);
        let rank = self.ranks(&steps);
        self.queue = Queue::new(steps, rank, self.started);
        self.validation_graph =
            (!self.config.validations.is_empty()).then(|| ConfigGraph::build(self.config));
        self.run_steps().await;
        self.finish()
    }

    /// The configuration of the resource of change `c`, if it is still configured.
    fn resource_of(&self, c: &crate::plan::model::ResourceChange) -> Option<&'a ResourceConfig> {
        self.resources.get(&c.addr.resource.config_addr()).copied()
    }
}

fn recorded_of(c: &crate::plan::model::ResourceChange, value: Value, tainted: bool) -> Recorded {
    Recorded {
        provider: c.provider.clone(),
        value,
        depends_on: c.depends_on.clone(),
        schema_version: c.schema_version,
        tainted,
        create_before_destroy: c.create_before_destroy,
    }
}

fn state_error(e: String) -> Diagnostic {
    Diagnostic::error(
        "brick::apply::state_write",
        "Failed to record state",
        format!("Writing the state failed: {e}."),
    )
    .help("Nothing more is started; fix the problem and run apply again.")
}
