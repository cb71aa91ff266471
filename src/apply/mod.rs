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
pub mod memory;
pub mod provisioner;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brick_provider_api::lifecycle::check_new_state;
use brick_provider_api::provider::{ApplyRequest, Progress};
use brick_provider_api::schema::Block;
use brick_provider_api::{Provider, Severity, Value};

use crate::diag::Diagnostic;
use tokio::sync::mpsc;

use crate::eval::{Reference, Scope};
use crate::event::{Event, EventSink};
use crate::plan::address::{InstanceAddr, InstanceKey, ResourceAddr};
use crate::plan::call::{plan_call, plan_check};
use crate::plan::input::{Configuration, ResourceConfig};
use crate::plan::marks::mark_sensitive;
use crate::plan::model::{Action, LateProvider, Plan, PlanMode, PriorState};
use crate::plan::providers::ProviderSet;
use crate::plan::scope::{InstanceScope, ModuleView, Shape, Working};
pub use cancel::Cancel;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepKind {
    /// Create, update, no-op or read: produces the instance's new value.
    Apply,
    /// Destroys the current object (delete, or the first half of delete-then-create).
    Destroy,
    /// Destroys the deposed object after its replacement exists (create-then-delete).
    DestroyDeposed,
    Forget,
}

struct Step {
    change: usize,
    kind: StepKind,
    waiting: usize,
    dependents: Vec<usize>,
    /// Set when a dependency failed.
    skipped_because: Option<InstanceAddr>,
}

struct Done {
    step: usize,
    /// The planned value sent (with marks), to carry configuration marks into state.
    planned: Value,
    result: Result<Value, Vec<Diagnostic>>,
    /// The state to record on failure (what the provider said exists now).
    partial: Option<Value>,
    elapsed: Duration,
}

impl Done {
    /// A step settled without calling its provider: a trivial result, or the problems that
    /// kept it from starting.
    fn without_provider(step: usize, result: Result<Value, Vec<Diagnostic>>) -> Done {
        Done {
            step,
            planned: Value::null_dynamic(),
            result,
            partial: None,
            elapsed: Duration::ZERO,
        }
    }
}

/// The value of a resource (in a module instance) assembled from its instances' values.
fn resource_value(
    addr: &ResourceAddr,
    instances: &HashMap<ResourceAddr, BTreeMap<InstanceKey, Value>>,
    shapes: &HashMap<ResourceAddr, Shape>,
) -> Option<Value> {
    let cfg = addr.config_addr();
    let shape = shapes.get(&cfg).copied().unwrap_or(Shape::Single);
    let empty = BTreeMap::new();
    let inst = instances.get(addr).unwrap_or(&empty);
    let mut w = Working::default();
    w.set_resource(addr, shape, inst);
    w.resources.remove(addr)
}

/// The scope of apply in one module instance: variables, locals and module values from a
/// values walk ([`eval_locals_in`]), resource values assembled on demand from instances.
struct ApplyScope<'a> {
    module: &'a str,
    values: &'a Working,
    instances: &'a HashMap<ResourceAddr, BTreeMap<InstanceKey, Value>>,
    shapes: &'a HashMap<ResourceAddr, Shape>,
}

impl Scope for ApplyScope<'_> {
    fn get(&self, reference: &Reference) -> Option<Value> {
        let lookup = |a: &ResourceAddr| resource_value(a, self.instances, self.shapes);
        ModuleView {
            working: self.values,
            module: self.module,
            lookup: Some(&lookup),
        }
        .get(reference)
    }
}

struct ProgressSink {
    addr: InstanceAddr,
    action: Action,
    destroying: bool,
    started: Instant,
    events: Arc<dyn EventSink>,
}

impl Progress for ProgressSink {
    fn report(&self, status: &str) {
        self.events.emit(Event::ApplyProgress {
            addr: self.addr.clone(),
            action: self.action,
            destroying: self.destroying,
            elapsed: self.started.elapsed(),
            status: Some(status.to_string()),
        });
    }
}

fn shape_of(rc: &ResourceConfig) -> Shape {
    rc.expansion.shape()
}

/// Applies a plan. `prior` is the state the plan was made against (for values of instances
/// the plan does not touch).
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    plan: &Plan,
    config: &Configuration,
    prior: &PriorState,
    providers: &ProviderSet,
    sink: &mut dyn StateSink,
    events: Arc<dyn EventSink>,
    opts: &ApplyOptions,
    cancel: &Cancel,
) -> ApplyOutcome {
    let started = Instant::now();
    let mut out = ApplyOutcome::default();
    // Keyed by configuration address (module keys dropped); look up with `config_addr()`.
    let resources: HashMap<&ResourceAddr, &ResourceConfig> =
        config.resources.iter().map(|r| (&r.addr, r)).collect();
    let shapes: HashMap<ResourceAddr, Shape> = config
        .resources
        .iter()
        .map(|r| (r.addr.clone(), shape_of(r)))
        .collect();

    // Working values: recorded state overlaid with the plan.
    let mut instances: HashMap<ResourceAddr, BTreeMap<InstanceKey, Value>> = HashMap::new();
    for (a, i) in &prior.instances {
        instances
            .entry(a.resource.clone())
            .or_default()
            .insert(a.key.clone(), i.value.clone());
    }
    for c in &plan.changes {
        if let Some(prev) = &c.previous_addr
            && let Some(pm) = instances.get_mut(&prev.resource)
        {
            pm.remove(&prev.key);
        }
        let m2 = instances.entry(c.addr.resource.clone()).or_default();
        if matches!(c.action, Action::Delete | Action::Forget) {
            m2.remove(&c.addr.key);
        } else {
            m2.insert(c.addr.key.clone(), c.after.clone());
        }
    }

    // Configure the providers the plan uses.
    let mut used: Vec<&str> = plan.changes.iter().map(|c| c.provider.as_str()).collect();
    used.sort_unstable();
    used.dedup();
    // The order of locals is fixed by the configuration: work it out once, not per step.
    let local_order = locals_order(config);
    // Provider configurations read what exists while their provider works: an object this
    // plan destroys still exists then (a destroy plan of a cluster and the objects in it
    // configures the objects' provider from the cluster's recorded values).
    let destroyed: Vec<&crate::plan::model::ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Forget) && !c.before.is_null())
        .collect();
    let provider_instances = if config.providers.is_empty() || destroyed.is_empty() {
        None
    } else {
        let mut m = instances.clone();
        for c in destroyed {
            m.entry(c.addr.resource.clone())
                .or_default()
                .insert(c.addr.key.clone(), c.before.clone());
        }
        Some(m)
    };
    let provider_instances = provider_instances.as_ref().unwrap_or(&instances);
    // Provider configurations may read locals and module outputs.
    let root_values = if config.providers.is_empty() {
        Working::default()
    } else {
        eval_locals_in(config, &local_order, provider_instances, &shapes)
    };
    // Providers whose configuration is known only during apply are configured when their
    // first change is about to start (after what their configuration reads).
    let late: HashMap<&str, &LateProvider> = plan
        .configured_during_apply
        .iter()
        .map(|l| (l.name.as_str(), l))
        .collect();
    let mut late_configured: HashMap<String, Result<(), LateFailure>> = HashMap::new();
    for name in used {
        if late.contains_key(name) {
            continue;
        }
        let Some(p) = providers.get(name) else {
            out.diagnostics.push(Diagnostic::error(
                "brick::apply::unknown_provider",
                "Provider not available",
                format!("The plan uses the provider {name:?}, which brick does not have."),
            ));
            continue;
        };
        let block = providers
            .schema(name)
            .map(|s| s.provider.clone())
            .unwrap_or_default();
        let cfg = match config.providers.iter().find(|pc| pc.name == name) {
            None => Value::empty_object(),
            Some(pc) => {
                let module = crate::addr::module_text(&crate::addr::provider_module(name).0);
                let scope = ApplyScope {
                    module: &module,
                    values: &root_values,
                    instances: provider_instances,
                    shapes: &shapes,
                };
                match (pc.body)(&scope, &block) {
                    Ok(v) => v,
                    Err(ds) => {
                        out.diagnostics.extend(ds);
                        continue;
                    }
                }
            }
        };
        out.diagnostics
            .extend(p.configure(&cfg).await.into_iter().map(Diagnostic::from));
    }
    if out.has_errors() {
        return out;
    }

    // Steps and their order.
    let mut steps: Vec<Step> = Vec::new();
    let mut apply_step: HashMap<&InstanceAddr, usize> = HashMap::new();
    let mut destroy_step: HashMap<&InstanceAddr, usize> = HashMap::new();
    // By configuration address: a dependency is recorded without module instance keys.
    let mut by_resource: HashMap<ResourceAddr, Vec<usize>> = HashMap::new();
    let new_step = |steps: &mut Vec<Step>, change, kind| {
        steps.push(Step {
            change,
            kind,
            waiting: 0,
            dependents: Vec::new(),
            skipped_because: None,
        });
        steps.len() - 1
    };
    for (ci, c) in plan.changes.iter().enumerate() {
        if plan.mode == PlanMode::RefreshOnly {
            break;
        }
        by_resource
            .entry(c.addr.resource.config_addr())
            .or_default()
            .push(ci);
        match c.action {
            Action::NoOp | Action::Create | Action::Update | Action::Read => {
                apply_step.insert(&c.addr, new_step(&mut steps, ci, StepKind::Apply));
            }
            Action::Delete => {
                destroy_step.insert(&c.addr, new_step(&mut steps, ci, StepKind::Destroy));
            }
            Action::DeleteThenCreate => {
                destroy_step.insert(&c.addr, new_step(&mut steps, ci, StepKind::Destroy));
                apply_step.insert(&c.addr, new_step(&mut steps, ci, StepKind::Apply));
            }
            Action::CreateThenDelete => {
                apply_step.insert(&c.addr, new_step(&mut steps, ci, StepKind::Apply));
                destroy_step.insert(&c.addr, new_step(&mut steps, ci, StepKind::DestroyDeposed));
            }
            Action::Forget => {
                new_step(&mut steps, ci, StepKind::Forget);
            }
        }
    }
    // Recorded dependencies are direct (see `Dependencies`): a change waits for the steps of
    // the resources it names, and through their steps for everything upstream. Where a named
    // resource has no step of the kind in question, the order follows its changes'
    // dependencies on to the nearest resources that do (`nearest_with`), as the whole
    // transitive lists Terraform records would order them.
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let has_destroy = |r: &ResourceAddr| {
        by_resource.get(r).is_some_and(|cs| {
            cs.iter()
                .any(|&ci| destroy_step.contains_key(&plan.changes[ci].addr))
        })
    };
    let upstream = |r: &ResourceAddr| -> Vec<&ResourceAddr> {
        let mut out: Vec<&ResourceAddr> = Vec::new();
        for &ci in by_resource.get(r).into_iter().flatten() {
            out.extend(plan.changes[ci].depends_on.iter().map(|d| &**d));
        }
        out.sort_unstable();
        out.dedup();
        out
    };
    let mut nearest_destroyed: HashMap<&ResourceAddr, std::rc::Rc<Vec<&ResourceAddr>>> =
        HashMap::new();
    for c in plan.changes.iter() {
        if plan.mode == PlanMode::RefreshOnly {
            break;
        }
        let mine_destroy = destroy_step.get(&c.addr).copied();
        for dep in &c.depends_on {
            let Some(dep_changes) = by_resource.get(&**dep) else {
                continue;
            };
            for &dci in dep_changes {
                let d = &plan.changes[dci];
                // Creates and updates wait for what they depend on.
                if let (Some(&a), Some(&b)) = (apply_step.get(&d.addr), apply_step.get(&c.addr)) {
                    edges.push((a, b));
                }
            }
            // Destroys go in reverse: the dependent's destroy first, before those of the
            // nearest resources upstream that are destroyed.
            if let Some(mine) = mine_destroy {
                let targets = if has_destroy(dep) {
                    std::rc::Rc::new(vec![&**dep])
                } else {
                    nearest_with(dep, &has_destroy, &upstream, &mut nearest_destroyed)
                };
                for t in targets.iter() {
                    for &dci in by_resource.get(*t).into_iter().flatten() {
                        if let Some(&theirs) = destroy_step.get(&plan.changes[dci].addr) {
                            edges.push((mine, theirs));
                        }
                    }
                }
            }
        }
        match c.action {
            Action::DeleteThenCreate => {
                edges.push((destroy_step[&c.addr], apply_step[&c.addr]));
            }
            Action::CreateThenDelete => {
                edges.push((apply_step[&c.addr], destroy_step[&c.addr]));
            }
            _ => {}
        }
    }
    // The deposed half of a create-before-destroy waits for the new objects of everything
    // that depends on it, directly or not (one walk of the dependents per such resource).
    if plan.mode != PlanMode::RefreshOnly {
        let mut dependents: HashMap<&ResourceAddr, Vec<&ResourceAddr>> = HashMap::new();
        let mut deposing: Vec<&ResourceAddr> = Vec::new();
        for (r, cs) in &by_resource {
            let mut applied = false;
            for &ci in cs {
                let c = &plan.changes[ci];
                if c.action == Action::CreateThenDelete {
                    deposing.push(r);
                }
                applied |= apply_step.contains_key(&c.addr);
            }
            if applied {
                for &ci in cs {
                    if apply_step.contains_key(&plan.changes[ci].addr) {
                        for d in &plan.changes[ci].depends_on {
                            dependents.entry(&**d).or_default().push(r);
                        }
                    }
                }
            }
        }
        deposing.sort_unstable();
        deposing.dedup();
        for d in deposing {
            let mut seen: std::collections::HashSet<&ResourceAddr> =
                std::collections::HashSet::new();
            let mut stack: Vec<&ResourceAddr> = dependents.get(d).cloned().unwrap_or_default();
            while let Some(r) = stack.pop() {
                if !seen.insert(r) {
                    continue;
                }
                stack.extend(dependents.get(r).into_iter().flatten().copied());
            }
            for &dci in &by_resource[d] {
                let dc = &plan.changes[dci];
                if dc.action != Action::CreateThenDelete {
                    continue;
                }
                let Some(&dd) = destroy_step.get(&dc.addr) else {
                    continue;
                };
                for r in &seen {
                    for &ci in &by_resource[*r] {
                        if let Some(&a) = apply_step.get(&plan.changes[ci].addr) {
                            edges.push((a, dd));
                        }
                    }
                }
            }
        }
    }
    // A change of a provider configured during apply waits for every change of what the
    // provider's configuration reads.
    for c in &plan.changes {
        let (Some(l), Some(&mine)) = (late.get(c.provider.as_str()), apply_step.get(&c.addr))
        else {
            continue;
        };
        for dep in &l.depends_on {
            for &dci in by_resource.get(&**dep).into_iter().flatten() {
                if let Some(&theirs) = apply_step.get(&plan.changes[dci].addr) {
                    edges.push((theirs, mine));
                }
            }
        }
    }
    // As Terraform does: an update of a dependent runs before the destroy of an instance it
    // depended on (a cluster losing a node is updated before the node is destroyed), unless
    // that ordering would close a cycle with the edges above (a replacement in between).
    let mut later: Vec<(usize, usize)> = Vec::new();
    for c in &plan.changes {
        if c.action != Action::Update || plan.mode == PlanMode::RefreshOnly {
            continue;
        }
        let Some(&mine) = apply_step.get(&c.addr) else {
            continue;
        };
        for dep in &c.depends_on {
            for &dci in by_resource.get(dep).into_iter().flatten() {
                let d = &plan.changes[dci];
                if d.action == Action::Delete
                    && let Some(&theirs) = destroy_step.get(&d.addr)
                {
                    later.push((mine, theirs));
                }
            }
        }
    }
    for (a, b) in later {
        if !reaches(steps.len(), &edges, b, a) {
            edges.push((a, b));
        }
    }
    edges.sort_unstable();
    edges.dedup();
    for (a, b) in edges {
        if a == b {
            continue;
        }
        steps[a].dependents.push(b);
        steps[b].waiting += 1;
    }

    // Among the steps ready at once, those the provider ranks first start first (a stable
    // order: the plan's otherwise).
    let rank: Vec<i8> = steps
        .iter()
        .map(|s| {
            let c = &plan.changes[s.change];
            let destroying = s.kind != StepKind::Apply && s.kind != StepKind::Forget;
            let value = if destroying { &c.before } else { &c.after };
            providers.get(&c.provider).map_or(0, |p| {
                p.apply_order(&c.addr.resource.type_name, value, destroying)
            })
        })
        .collect();
    let ranked = rank.iter().any(|r| *r != 0);
    let mut ready: std::collections::VecDeque<usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.waiting == 0)
        .map(|(i, _)| i)
        .collect();
    let mut remaining = steps.len();
    let mut running = 0usize;
    // Time accounting (see crate::timing): when each step could start, and the longest chain
    // of provider calls that ends where each step starts.
    let mut ready_at: Vec<Instant> = vec![started; steps.len()];
    let mut chain_before: Vec<Duration> = vec![Duration::ZERO; steps.len()];
    let mut op_times = crate::timing::OpTimes::default();
    let mut longest = Duration::ZERO;
    let (tx, mut rx) = mpsc::unbounded_channel::<Done>();
    let mut handles: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let parallelism = opts.parallelism.max(1);
    let mut locals_cache = ValuesCache::default();
    let validation_graph =
        (!config.validations.is_empty()).then(|| crate::graph::ConfigGraph::build(config));
    let mut launch: Vec<Task> = Vec::new();
    // Per-provider limits: running counts, the steps counted, and ready steps held back.
    let mut per_provider: HashMap<String, usize> = HashMap::new();
    let mut counted: std::collections::HashSet<usize> = std::collections::HashSet::new();
    let mut held: Vec<usize> = Vec::new();
    let mut intents_queued = false;

    while remaining > 0 {
        if ranked {
            ready.make_contiguous().sort_by_key(|&i| rank[i]);
        }
        // Start what is ready.
        while running < parallelism && !cancel.stopping() {
            let Some(si) = ready.pop_front() else { break };
            let step = &steps[si];
            let c = &plan.changes[step.change];
            if let Some(because) = step.skipped_because.clone() {
                events.emit(Event::Skipped {
                    addr: c.addr.clone(),
                    because,
                });
                remaining -= 1;
                let deps = steps[si].dependents.clone();
                for d in deps {
                    steps[d].waiting -= 1;
                    if steps[d].skipped_because.is_none() {
                        steps[d].skipped_because = Some(c.addr.clone());
                    }
                    if steps[d].waiting == 0 {
                        ready.push_back(d);
                    }
                }
                continue;
            }
            let kind = step.kind;
            // Steps that need no provider call finish at once.
            if kind == StepKind::Forget || (kind == StepKind::Apply && c.action == Action::NoOp) {
                let result = if kind == StepKind::Forget {
                    if let Err(e) = sink.record(&c.addr, None) {
                        out.diagnostics.push(state_error(e));
                    }
                    Ok(Value::null_dynamic())
                } else {
                    // Record a refreshed value that differs from the recorded one.
                    let recorded = prior.instances.get(&c.addr).map(|i| &i.value);
                    if recorded != Some(&c.after) || c.previous_addr.is_some() {
                        if let Some(prev) = &c.previous_addr {
                            let _ = sink.record(prev, None);
                        }
                        if let Err(e) =
                            sink.record(&c.addr, Some(recorded_of(c, c.after.clone(), false)))
                        {
                            out.diagnostics.push(state_error(e));
                        }
                    }
                    Ok(c.after.clone())
                };
                let _ = tx.send(Done::without_provider(si, result));
                running += 1;
                continue;
            }
            let Some(provider) = providers.get(&c.provider).cloned() else {
                let _ = tx.send(Done::without_provider(
                    si,
                    Err(vec![Diagnostic::error(
                        "brick::apply::unknown_provider",
                        "Provider not available",
                        format!("{} needs the provider {:?}.", c.addr, c.provider),
                    )]),
                ));
                running += 1;
                continue;
            };
            if let Some(limit) = provider.max_concurrency()
                && per_provider.get(&c.provider).copied().unwrap_or(0) >= limit.max(1)
            {
                held.push(si);
                continue;
            }
            // A provider configured during apply: configured now that what its
            // configuration reads has been applied, then given the plan check it could not
            // run at plan time — before its first change, once; its other changes reuse the
            // result. Its warnings join the run's, as those of providers configured at plan.
            if let Some(l) = late.get(c.provider.as_str()) {
                let first = !late_configured.contains_key(&c.provider);
                if first {
                    let r = match configure_late(
                        l,
                        config,
                        providers,
                        &*provider,
                        &instances,
                        &shapes,
                        &mut locals_cache,
                        &local_order,
                    )
                    .await
                    {
                        Err(ds) => Err(LateFailure::NotConfigured(ds)),
                        Ok(warnings) => {
                            out.diagnostics.extend(warnings);
                            let found = plan_check(&c.provider, &*provider, &plan.changes, |a| {
                                resources.get(a).copied().map(|rc| &rc.source)
                            })
                            .await;
                            let (errors, warnings): (Vec<_>, Vec<_>) =
                                found.into_iter().partition(Diagnostic::is_error);
                            out.diagnostics.extend(warnings);
                            if errors.is_empty() {
                                Ok(())
                            } else {
                                Err(LateFailure::PlanRefused(errors))
                            }
                        }
                    };
                    if r.is_ok() {
                        events.emit(Event::ProviderConfigured {
                            name: c.provider.clone(),
                        });
                    }
                    late_configured.insert(c.provider.clone(), r);
                }
                if let Err(failure) = &late_configured[&c.provider] {
                    let ds = failure.diagnostics_for(first, &c.addr, &c.provider);
                    let _ = tx.send(Done::without_provider(si, Err(ds)));
                    running += 1;
                    continue;
                }
            }
            let destroying = kind != StepKind::Apply;
            // The `validation` checks of the variables this resource reads that were not
            // decided at plan time: decided now, before the value is used (Terraform ≥ 1.9).
            if !destroying
                && let Some(g) = &validation_graph
                && let Some(ri) = g.by_resource.get(&c.addr.resource.config_addr())
            {
                let checks = g.upstream_validations(*ri);
                let mut failed = Vec::new();
                if !checks.is_empty() {
                    let values = locals_cache.get(config, &local_order, &instances, &shapes);
                    for vi in checks {
                        let v = &config.validations[vi];
                        for m in values.instances_of(&v.module) {
                            let scope = ApplyScope {
                                module: &m,
                                values,
                                instances: &instances,
                                shapes: &shapes,
                            };
                            if let Some(ds) = (v.check)(&scope) {
                                failed.extend(ds.into_iter().filter(Diagnostic::is_error));
                            }
                        }
                    }
                }
                if !failed.is_empty() {
                    let _ = tx.send(Done::without_provider(si, Err(failed)));
                    running += 1;
                    continue;
                }
            }
            // `precondition` blocks, checked again now that what they read is known: a
            // failure skips the operation and everything that depends on it.
            if !destroying
                && let Some(rc) = resources.get(&c.addr.resource.config_addr())
                && !rc.lifecycle.preconditions.is_empty()
            {
                let failed = conditions_at_apply(
                    &rc.lifecycle.preconditions,
                    c,
                    rc,
                    None,
                    config,
                    &instances,
                    &shapes,
                    &mut locals_cache,
                    &local_order,
                );
                if !failed.is_empty() {
                    let _ = tx.send(Done::without_provider(si, Err(failed)));
                    running += 1;
                    continue;
                }
            }
            // Destroy-time `local-exec` provisioners, with `self` the object to destroy: a
            // failure (without `on_failure = continue`) keeps the object and fails the step.
            if kind == StepKind::Destroy
                && let Some(rc) = resources.get(&c.addr.resource.config_addr())
                && rc.lifecycle.provisioners.iter().any(|p| p.when_destroy)
            {
                let (errors, warnings) = provision(
                    true,
                    rc,
                    c,
                    &c.before,
                    config,
                    &instances,
                    &shapes,
                    &mut locals_cache,
                    &local_order,
                    &events,
                    cancel,
                )
                .await;
                out.diagnostics.extend(warnings);
                if !errors.is_empty() {
                    let _ = tx.send(Done::without_provider(si, Err(errors)));
                    running += 1;
                    continue;
                }
            }
            // What to send to the provider.
            let (prior_v, planned) = if destroying {
                (c.before.clone(), Value::null(c.before.ty()))
            } else {
                let prior_v = if c.action.is_replace() {
                    Value::null(c.after.ty())
                } else {
                    c.before.clone()
                };
                // A change of a provider configured during apply was planned without its
                // connection: planned again now, and checked against what was shown.
                let configured_late = late.contains_key(c.provider.as_str());
                let planned = if !configured_late
                    && (c.after.is_wholly_known()
                        || (c.action != Action::Read
                            && providers
                                .resource_schema(&c.provider, &c.addr.resource)
                                .is_ok_and(|s| only_computed_unknown(&c.after, &s.block))))
                {
                    c.after.clone()
                } else {
                    match final_plan(
                        c,
                        &resources,
                        config,
                        providers,
                        &*provider,
                        &prior_v,
                        &instances,
                        &shapes,
                        &mut locals_cache,
                        &local_order,
                        configured_late,
                    )
                    .await
                    {
                        Ok(p) => p,
                        Err(ds) => {
                            let _ = tx.send(Done::without_provider(si, Err(ds)));
                            running += 1;
                            continue;
                        }
                    }
                };
                (prior_v, planned)
            };
            if (c.action.creates() || destroying) && provider.manages_remote_objects() {
                let target = if destroying { &prior_v } else { &planned };
                if let Err(e) = sink.intent(&c.addr, c.action, destroying, target) {
                    out.diagnostics.push(state_error(e));
                    cancel.stop();
                    ready.push_front(si);
                    break;
                }
                intents_queued = true;
            }
            // A type whose schema declares `timeouts` enforces them itself (Terraform's
            // semantics): the engine's cut-off then only backs it up, a grace period later.
            let own_timeouts = providers
                .resource_schema(&c.provider, &c.addr.resource)
                .is_ok_and(|s| s.block.blocks.contains_key("timeouts"));
            let timeout = resources
                .get(&c.addr.resource.config_addr())
                .and_then(|rc| {
                    if destroying {
                        rc.timeouts.delete
                    } else if c.action == Action::Update {
                        rc.timeouts.update
                    } else {
                        rc.timeouts.create
                    }
                })
                .map(|t| {
                    if own_timeouts {
                        t.saturating_add(PROVIDER_TIMEOUT_GRACE)
                    } else {
                        t
                    }
                });
            events.emit(Event::ApplyStart {
                addr: c.addr.clone(),
                action: c.action,
                destroying,
                id: c
                    .before
                    .get("id")
                    .filter(|v| !v.is_sensitive() && !c.before.is_sensitive())
                    .and_then(Value::as_str)
                    .map(String::from),
            });
            let task = Task {
                step: si,
                addr: c.addr.clone(),
                action: c.action,
                destroying,
                type_name: c.addr.resource.type_name.clone(),
                provider,
                prior: prior_v.unmark_deep().0,
                planned: planned.clone(),
                planned_plain: planned.unmark_deep().0,
                timeout,
                spans: resources
                    .get(&c.addr.resource.config_addr())
                    .map(|rc| rc.source.clone())
                    .unwrap_or_default(),
                events: events.clone(),
                interval: opts.progress_interval,
                tx: tx.clone(),
            };
            launch.push(task);
            *per_provider.entry(c.provider.clone()).or_default() += 1;
            counted.insert(si);
            running += 1;
        }
        for h in held.drain(..).rev() {
            ready.push_front(h);
        }
        // Intents become durable together, before any of their provider calls starts.
        if intents_queued {
            intents_queued = false;
            if let Err(e) = sink.flush_intents() {
                out.diagnostics.push(state_error(e));
                cancel.stop();
                for t in launch.drain(..) {
                    let _ = tx.send(Done::without_provider(
                        t.step,
                        Err(vec![Diagnostic::error(
                            "brick::apply::not_started",
                            "Operation not started",
                            format!(
                                "{} was not started because its intent could not be recorded.",
                                t.addr
                            ),
                        )]),
                    ));
                }
            }
        }
        for t in launch.drain(..) {
            handles.push(tokio::spawn(t.run()));
        }
        if running == 0 {
            // Nothing running and nothing may start: interrupted, or a state write failed.
            break;
        }
        let done = tokio::select! {
            d = rx.recv() => d,
            _ = cancel.aborted() => {
                for h in &handles { h.abort(); }
                out.interrupted = true;
                break;
            }
        };
        let Some(done) = done else { break };
        running -= 1;
        remaining -= 1;
        let step = &steps[done.step];
        let c = &plan.changes[step.change];
        if counted.remove(&done.step)
            && let Some(n) = per_provider.get_mut(&c.provider)
        {
            *n = n.saturating_sub(1);
        }
        let kind = step.kind;
        let destroying = kind != StepKind::Apply && kind != StepKind::Forget;
        let rc = resources.get(&c.addr.resource.config_addr()).copied();
        let block = rc
            .and_then(|_| {
                providers
                    .resource_schema(&c.provider, &c.addr.resource)
                    .ok()
            })
            .map(|s| s.block.clone())
            .unwrap_or_default();
        let failed = match done.result {
            Ok(new_state) => {
                let trivial = kind == StepKind::Forget || c.action == Action::NoOp;
                let mut provision_failed = false;
                if !trivial {
                    let recorded = match kind {
                        StepKind::Apply => {
                            let v = crate::plan::marks::propagate_sensitive(
                                &done.planned,
                                crate::plan::marks::copy_marks(
                                    &done.planned,
                                    mark_sensitive(&new_state, &block),
                                ),
                            );
                            instances
                                .entry(c.addr.resource.clone())
                                .or_default()
                                .insert(c.addr.key.clone(), v.clone());
                            locals_cache.changed(&c.addr.resource);
                            if let Some(prev) = &c.previous_addr {
                                let _ = sink.record(prev, None);
                            }
                            // The provider returned an infinity state cannot hold: record
                            // the object (with null there) so it stays tracked, and say so.
                            let (v, found) = crate::plan::codec::without_infinities(&v);
                            if !found.is_empty() {
                                let mut d = crate::plan::codec::infinite_number(
                                    &c.addr.to_string(),
                                    &found,
                                );
                                d.code = "brick::apply::infinite_number".into();
                                d.detail
                                    .push_str(" The object was recorded with null in its place.");
                                out.diagnostics.push(d);
                            }
                            sink.record(&c.addr, Some(recorded_of(c, v, false)))
                        }
                        StepKind::Destroy => {
                            if c.action == Action::Delete {
                                if let Some(m) = instances.get_mut(&c.addr.resource) {
                                    m.remove(&c.addr.key);
                                }
                                locals_cache.changed(&c.addr.resource);
                                if let Some(prev) = &c.previous_addr {
                                    let _ = sink.record(prev, None);
                                }
                            }
                            sink.record(&c.addr, None)
                        }
                        StepKind::DestroyDeposed => sink.record_deposed(&c.addr, None),
                        StepKind::Forget => Ok(()),
                    };
                    if let Err(e) = recorded {
                        out.diagnostics.push(state_error(e));
                        cancel.stop();
                    }
                    // Create-time `local-exec` provisioners, with `self` the new object: a
                    // failure (without `on_failure = continue`) taints it, as Terraform does.
                    provision_failed = match rc {
                        Some(rc)
                            if kind == StepKind::Apply
                                && c.action.creates()
                                && rc.lifecycle.provisioners.iter().any(|p| !p.when_destroy) =>
                        {
                            let new = instances
                                .get(&c.addr.resource)
                                .and_then(|m| m.get(&c.addr.key))
                                .cloned()
                                .unwrap_or_else(|| new_state.clone());
                            let (errors, warnings) = provision(
                                false,
                                rc,
                                c,
                                &new,
                                config,
                                &instances,
                                &shapes,
                                &mut locals_cache,
                                &local_order,
                                &events,
                                cancel,
                            )
                            .await;
                            out.diagnostics.extend(warnings);
                            let failed = !errors.is_empty();
                            if failed {
                                let (v, _) = crate::plan::codec::without_infinities(&new);
                                if let Err(e) = sink.record(&c.addr, Some(recorded_of(c, v, true)))
                                {
                                    out.diagnostics.push(state_error(e));
                                }
                                out.diagnostics.extend(errors);
                            }
                            failed
                        }
                        _ => false,
                    };
                    match (kind, c.action) {
                        (StepKind::Apply, Action::Create) => out.added += 1,
                        (StepKind::Apply, Action::Update) => out.changed += 1,
                        (StepKind::Apply, a) if a.is_replace() => out.added += 1,
                        (StepKind::Destroy | StepKind::DestroyDeposed, _) => out.destroyed += 1,
                        _ => {}
                    }
                    if provision_failed {
                        events.emit(Event::ApplyFailed {
                            addr: c.addr.clone(),
                            action: c.action,
                            destroying,
                            elapsed: done.elapsed,
                        });
                    } else {
                        events.emit(Event::ApplyDone {
                            addr: c.addr.clone(),
                            action: c.action,
                            destroying,
                            elapsed: done.elapsed,
                            id: new_state
                                .get("id")
                                // A sensitive id is never printed (as Terraform's UI).
                                .filter(|v| !v.is_sensitive() && !new_state.is_sensitive())
                                .and_then(Value::as_str)
                                .map(String::from),
                        });
                    }
                }
                // `postcondition` blocks, with `self` the new object: a failure leaves the
                // object recorded but fails the run and skips what depends on it.
                match rc {
                    _ if provision_failed => true,
                    Some(rc)
                        if kind == StepKind::Apply && !rc.lifecycle.postconditions.is_empty() =>
                    {
                        let new = instances
                            .get(&c.addr.resource)
                            .and_then(|m| m.get(&c.addr.key))
                            .cloned()
                            .unwrap_or_else(|| new_state.clone());
                        let failed = conditions_at_apply(
                            &rc.lifecycle.postconditions,
                            c,
                            rc,
                            Some(&new),
                            config,
                            &instances,
                            &shapes,
                            &mut locals_cache,
                            &local_order,
                        );
                        let any = !failed.is_empty();
                        out.diagnostics.extend(failed);
                        any
                    }
                    _ => false,
                }
            }
            Err(ds) => {
                events.emit(Event::ApplyFailed {
                    addr: c.addr.clone(),
                    action: c.action,
                    destroying,
                    elapsed: done.elapsed,
                });
                out.diagnostics.extend(ds);
                // Record what exists now, so that nothing is lost track of.
                if let Some(partial) = done.partial {
                    let r = if partial.is_null() {
                        if kind == StepKind::DestroyDeposed {
                            sink.record_deposed(&c.addr, None)
                        } else {
                            sink.record(&c.addr, None)
                        }
                    } else {
                        let v = mark_sensitive(&partial, &block);
                        let tainted = kind == StepKind::Apply && c.action.creates();
                        if kind == StepKind::DestroyDeposed {
                            sink.record_deposed(&c.addr, Some(recorded_of(c, v, false)))
                        } else {
                            sink.record(&c.addr, Some(recorded_of(c, v, tainted)))
                        }
                    };
                    if let Err(e) = r {
                        out.diagnostics.push(state_error(e));
                    }
                }
                true
            }
        };
        // The step's provider call was a wait; the rest of its time, since it could start
        // until its result was recorded, was brick's own.
        if c.action != Action::NoOp {
            op_times.add(
                &c.provider,
                ready_at[done.step].elapsed().saturating_sub(done.elapsed),
            );
        }
        let chain = chain_before[done.step] + done.elapsed;
        longest = longest.max(chain);
        let deps = steps[done.step].dependents.clone();
        for d in deps {
            steps[d].waiting -= 1;
            chain_before[d] = chain_before[d].max(chain);
            if failed && steps[d].skipped_because.is_none() {
                steps[d].skipped_because = Some(c.addr.clone());
            }
            if steps[d].waiting == 0 {
                ready_at[d] = Instant::now();
                ready.push_back(d);
            }
        }
    }
    if remaining > 0 && cancel.stopping() {
        out.interrupted = true;
    }

    // Outputs, evaluated with the final values (only when everything they need was applied).
    if plan.mode == PlanMode::Normal && !out.interrupted {
        let values = eval_locals_in(config, &local_order, &instances, &shapes);
        // `validation` blocks whose condition was unknown at plan time, now that what they
        // read is known (one known at plan time gives the same answer again: no error).
        for v in &config.validations {
            for m in values.instances_of(&v.module) {
                let scope = ApplyScope {
                    module: &m,
                    values: &values,
                    instances: &instances,
                    shapes: &shapes,
                };
                if let Some(ds) = (v.check)(&scope) {
                    // Reported already when a resource waited for it.
                    for d in ds {
                        if !out
                            .diagnostics
                            .iter()
                            .any(|x| x.code == d.code && x.detail == d.detail && x.span == d.span)
                        {
                            out.diagnostics.push(d);
                        }
                    }
                }
            }
        }
        // Child modules' output `precondition` blocks, now that what they read is known.
        for o in config
            .outputs
            .iter()
            .filter(|o| !o.module.is_empty() && !o.preconditions.is_empty())
        {
            for m in values.instances_of(&o.module) {
                let scope = ApplyScope {
                    module: &m,
                    values: &values,
                    instances: &instances,
                    shapes: &shapes,
                };
                let mut ds = Vec::new();
                crate::plan::scope::check_output_preconditions(o, &scope, &m, &mut ds);
                out.diagnostics
                    .extend(ds.into_iter().filter(Diagnostic::is_error));
            }
        }
        let scope = ApplyScope {
            module: "",
            values: &values,
            instances: &instances,
            shapes: &shapes,
        };
        let planned: std::collections::HashSet<&str> = plan
            .outputs
            .iter()
            .filter(|o| o.action != Action::Delete)
            .map(|o| o.name.as_str())
            .collect();
        for o in config
            .outputs
            .iter()
            .filter(|o| o.module.is_empty() && planned.contains(o.name.as_str()))
        {
            // `precondition` blocks unknown at plan time: a failing one leaves the output
            // unrecorded and fails the run.
            let mut pre = Vec::new();
            if crate::plan::scope::check_output_preconditions(o, &scope, "", &mut pre) {
                out.diagnostics
                    .extend(pre.into_iter().filter(Diagnostic::is_error));
                continue;
            }
            let eval = o.at_apply.as_ref().unwrap_or(&o.expr);
            match eval(&scope, &Block::default()) {
                Ok(v) if !crate::plan::codec::infinity_paths(&v).is_empty() => {
                    let mut d = crate::plan::codec::infinite_number(
                        &format!("output.{}", o.name),
                        &crate::plan::codec::infinity_paths(&v),
                    );
                    d.code = "brick::apply::infinite_number".into();
                    out.diagnostics.push(d);
                }
                Ok(v) if v.is_wholly_known() => {
                    let became_sensitive = !o.sensitive && v.contains_sensitive();
                    if became_sensitive {
                        out.diagnostics.push(Diagnostic::warning(
                            "brick::apply::output_became_sensitive",
                            "Output recorded as sensitive",
                            format!(
                                "The value of output \"{}\" holds values that became sensitive only during apply (an attribute that repeats a sensitive input, or one its provider hides), so it was recorded as sensitive although the output is not declared so.",
                                o.name
                            ),
                        ).help("Add `sensitive = true` to the output block to say so, or output only values that are not secret."));
                    }
                    let sensitive = o.sensitive || became_sensitive;
                    let v = if sensitive { v.sensitive() } else { v };
                    if let Err(e) = sink.record_output(&o.name, Some((v.clone(), sensitive))) {
                        out.diagnostics.push(state_error(e));
                    }
                    out.outputs.insert(o.name.clone(), (v, sensitive));
                }
                Ok(_) => {}
                Err(ds) => out.diagnostics.extend(ds),
            }
        }
    }
    for oc in &plan.outputs {
        if oc.action == Action::Delete
            && let Err(e) = sink.record_output(&oc.name, None)
        {
            out.diagnostics.push(state_error(e));
        }
    }
    if plan.mode == PlanMode::RefreshOnly {
        // The root outputs the plan found from the refreshed objects, recorded as planned.
        for oc in &plan.outputs {
            if matches!(oc.action, Action::Create | Action::Update) {
                if let Err(e) = sink.record_output(&oc.name, Some((oc.after.clone(), oc.sensitive)))
                {
                    out.diagnostics.push(state_error(e));
                }
                out.outputs
                    .insert(oc.name.clone(), (oc.after.clone(), oc.sensitive));
            }
        }
        for d in &plan.drift {
            let r = if d.after.is_null() {
                sink.record(&d.addr, None)
            } else {
                let mut rec = prior
                    .instances
                    .get(&d.addr)
                    .map(|i| Recorded {
                        provider: i.provider.clone(),
                        value: d.after.clone(),
                        depends_on: i.depends_on.clone(),
                        schema_version: i.schema_version,
                        tainted: i.tainted,
                        create_before_destroy: i.create_before_destroy,
                    })
                    .unwrap_or_else(|| Recorded {
                        provider: d.provider.clone(),
                        value: d.after.clone(),
                        depends_on: Vec::new(),
                        schema_version: 0,
                        tainted: false,
                        create_before_destroy: false,
                    });
                rec.value = d.after.clone();
                sink.record(&d.addr, Some(rec))
            };
            if let Err(e) = r {
                out.diagnostics.push(state_error(e));
            }
        }
    } else if plan.mode == PlanMode::Destroy {
        for name in prior.outputs.keys() {
            let _ = sink.record_output(name, None);
        }
    }
    if let Err(e) = sink.finish() {
        out.diagnostics.push(state_error(e));
    }
    if out.interrupted {
        out.diagnostics.push(
            Diagnostic::error(
                "brick::apply::interrupted",
                "Apply interrupted",
                "The apply was interrupted; the operations that finished were recorded in state.",
            )
            .help("Run `brick plan` to see what remains to be done."),
        );
    }
    op_times.critical_path = Some(longest);
    events.emit(Event::Timing(providers.clock().report(
        crate::timing::Phase::Apply,
        started,
        &op_times,
    )));
    out
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

/// The nodes the values walk evaluates (locals, module calls, child module inputs and
/// outputs) in dependency order; empty when they form a cycle, which planning has already
/// reported.
fn locals_order(config: &Configuration) -> Vec<crate::graph::Node> {
    if config.locals.is_empty() && config.module_calls.is_empty() {
        return Vec::new();
    }
    let graph = crate::graph::ConfigGraph::build(config);
    let Ok(order) = graph.order(config) else {
        return Vec::new();
    };
    order
        .into_iter()
        .map(|n| graph.graph[n].clone())
        .filter(|n| match n {
            crate::graph::Node::Local(_)
            | crate::graph::Node::ModuleCall(_)
            | crate::graph::Node::ModuleVariable(_) => true,
            crate::graph::Node::Output(i) => !config.outputs[*i].module.is_empty(),
            _ => false,
        })
        .collect()
}

/// The last values walk ([`eval_locals_in`]) and the resources it read: it stays valid
/// until one of those changes, so a large apply does not walk every module instance again
/// for each step that needs a final plan.
#[derive(Default)]
struct ValuesCache {
    values: Working,
    reads: std::collections::HashSet<ResourceAddr>,
    valid: bool,
}

impl ValuesCache {
    fn changed(&mut self, resource: &ResourceAddr) {
        if self.valid && self.reads.contains(resource) {
            self.valid = false;
        }
    }

    fn get(
        &mut self,
        config: &Configuration,
        order: &[crate::graph::Node],
        instances: &HashMap<ResourceAddr, BTreeMap<InstanceKey, Value>>,
        shapes: &HashMap<ResourceAddr, Shape>,
    ) -> &Working {
        if !self.valid {
            let reads = std::cell::RefCell::new(std::collections::HashSet::new());
            self.values = eval_locals_with(config, order, instances, shapes, Some(&reads));
            self.reads = reads.into_inner();
            self.valid = true;
        }
        &self.values
    }
}

/// Every module instance's variables, locals and outputs, evaluated with the resource
/// values known now.
fn eval_locals_in(
    config: &Configuration,
    order: &[crate::graph::Node],
    instances: &HashMap<ResourceAddr, BTreeMap<InstanceKey, Value>>,
    shapes: &HashMap<ResourceAddr, Shape>,
) -> Working {
    eval_locals_with(config, order, instances, shapes, None)
}

/// [`eval_locals_in`], noting in `reads` every resource the walk read.
fn eval_locals_with(
    config: &Configuration,
    order: &[crate::graph::Node],
    instances: &HashMap<ResourceAddr, BTreeMap<InstanceKey, Value>>,
    shapes: &HashMap<ResourceAddr, Shape>,
    reads: Option<&std::cell::RefCell<std::collections::HashSet<ResourceAddr>>>,
) -> Working {
    let mut w = Working {
        variables: config.variables.clone(),
        ..Default::default()
    };
    let lookup = |a: &ResourceAddr| {
        if let Some(r) = reads {
            r.borrow_mut().insert(a.clone());
        }
        resource_value(a, instances, shapes)
    };
    let mut diags = Vec::new();
    let mut unexpanded = Vec::new();
    for n in order {
        crate::plan::scope::eval_value_node(
            config,
            n,
            &mut w,
            Some(&lookup),
            &mut diags,
            &mut unexpanded,
        );
    }
    w
}

/// Whether the only unknowns of a planned value are attributes the provider alone computes
/// (an id, a uid): the configuration was then wholly known at plan time, and planning again
/// with it (same prior, same configuration, a pure `plan_resource`) gives the same value, so
/// the engine sends the plan as it is instead of evaluating the configuration again — which,
/// for a `for_each` over a large collection, costs as much as the collection for every
/// instance.
fn only_computed_unknown(after: &Value, block: &Block) -> bool {
    let Some(m) = after.as_mapping().filter(|_| after.is_known()) else {
        return false;
    };
    m.iter()
        .all(|(k, v)| v.is_wholly_known() || block.attributes.get(k).is_some_and(|a| !a.settable()))
}

/// Evaluates the configuration again with the values now known, plans once more, and checks
/// that every value known when the plan was shown is unchanged.
#[allow(clippy::too_many_arguments)]
async fn final_plan(
    c: &crate::plan::model::ResourceChange,
    resources: &HashMap<&ResourceAddr, &ResourceConfig>,
    config: &Configuration,
    providers: &ProviderSet,
    provider: &dyn Provider,
    prior: &Value,
    instances: &HashMap<ResourceAddr, BTreeMap<InstanceKey, Value>>,
    shapes: &HashMap<ResourceAddr, Shape>,
    locals_cache: &mut ValuesCache,
    local_order: &[crate::graph::Node],
    configured_late: bool,
) -> Result<Value, Vec<Diagnostic>> {
    let Some(rc) = resources.get(&c.addr.resource.config_addr()) else {
        return Err(vec![Diagnostic::error(
            "brick::apply::config_missing",
            "Configuration changed since the plan",
            format!("{} is no longer in the configuration.", c.addr),
        )]);
    };
    let schema = providers
        .resource_schema(&c.provider, &c.addr.resource)
        .map_err(|d| vec![d])?;
    let values = locals_cache.get(config, local_order, instances, shapes);
    let base = ApplyScope {
        module: &c.addr.resource.module,
        values,
        instances,
        shapes,
    };
    let each = rc.expansion.each_value(&base, &c.addr.key)?;
    let scope = InstanceScope {
        base: &base,
        key: &c.addr.key,
        each_value: each.as_ref(),
    };
    let block = &schema.block;
    let cfg = (rc.body)(&scope, block)?;
    let cfg = mark_sensitive(&fill(cfg, block), block);
    if c.action == Action::Read {
        // Data sources have no provider plan: the configuration, now known, is read as it is
        // and what the read computes stays unknown until then.
        let mut m = cfg.as_mapping().cloned().unwrap_or_default();
        for (name, a) in &block.attributes {
            if !a.settable() {
                m.insert(name.clone(), Value::unknown(a.ty.clone()));
            }
        }
        return Ok(Value::object(m));
    }
    let (planned, _) = plan_call(provider, &c.addr, block, prior, &cfg).await?;
    let violations = check_new_state(&c.after, &planned)
        .into_iter()
        .filter(|v| !v.message.contains("unknown"))
        .collect::<Vec<_>>();
    if !violations.is_empty() {
        if configured_late {
            return Err(violations
                .into_iter()
                .map(|v| {
                    Diagnostic::error(
                        "brick::apply::plan_changed_after_configure",
                        "Plan changed once the provider was configured",
                        format!(
                            "The plan for {}, made again once provider \"{}\" was configured during apply, differs from the plan that was shown: {v}. Nothing was sent for {}.",
                            c.addr, c.provider, c.addr
                        ),
                    )
                    .help("Run `brick plan` again: the provider's configuration is known now, so the next plan is made with the provider configured.")
                })
                .collect());
        }
        return Err(violations
            .into_iter()
            .map(|v| {
                Diagnostic::error(
                    "brick::apply::inconsistent_final_plan",
                    "Provider produced inconsistent final plan",
                    format!(
                        "When expanding the plan for {} to include new values learned so far during apply, {v}.",
                        c.addr
                    ),
                )
                .help("This is a bug in the provider; please report it.")
            })
            .collect());
    }
    Ok(planned)
}

/// Configures a provider whose configuration was known only during apply: evaluated with
/// the values applied so far, it must now be wholly known. Returns the provider's warnings.
#[allow(clippy::too_many_arguments)]
async fn configure_late(
    late: &LateProvider,
    config: &Configuration,
    providers: &ProviderSet,
    provider: &dyn Provider,
    instances: &HashMap<ResourceAddr, BTreeMap<InstanceKey, Value>>,
    shapes: &HashMap<ResourceAddr, Shape>,
    locals_cache: &mut ValuesCache,
    local_order: &[crate::graph::Node],
) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
    let Some(pc) = config.providers.iter().find(|pc| pc.name == late.name) else {
        return Err(vec![Diagnostic::error(
            "brick::apply::config_missing",
            "Configuration changed since the plan",
            format!(
                "The provider \"{}\" block is no longer in the configuration.",
                late.name
            ),
        )]);
    };
    let block = providers
        .schema(&late.name)
        .map(|s| s.provider.clone())
        .unwrap_or_default();
    let module = crate::addr::module_text(&crate::addr::provider_module(&late.name).0);
    let values = locals_cache.get(config, local_order, instances, shapes);
    let scope = ApplyScope {
        module: &module,
        values,
        instances,
        shapes,
    };
    let cfg = (pc.body)(&scope, &block)?;
    if !cfg.is_wholly_known() {
        return Err(vec![Diagnostic::error(
            "brick::apply::provider_config_unknown",
            "Provider configuration still unknown",
            format!(
                "The configuration of provider \"{}\" is still not known after what it reads was applied; none of its changes were started.",
                late.name
            ),
        )
        .help("Make the provider block read only values that are known once the resources it names are applied.")]);
    }
    let diags: Vec<Diagnostic> = provider
        .configure(&cfg)
        .await
        .into_iter()
        .map(Diagnostic::from)
        .collect();
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    Ok(diags)
}

/// Why the changes of a provider configured during apply are not started.
enum LateFailure {
    /// Its configuration could not be evaluated, or `configure` failed.
    NotConfigured(Vec<Diagnostic>),
    /// Configured, its plan check refused the plan (its errors).
    PlanRefused(Vec<Diagnostic>),
}

impl LateFailure {
    /// The errors of one of the provider's changes: the first carries the cause, every one
    /// says that it was not started and why.
    fn diagnostics_for(&self, first: bool, addr: &InstanceAddr, provider: &str) -> Vec<Diagnostic> {
        match self {
            LateFailure::NotConfigured(ds) if first => ds.clone(),
            LateFailure::NotConfigured(_) => vec![Diagnostic::error(
                "brick::apply::provider_not_configured",
                "Provider not configured",
                format!(
                    "{addr} was not started: provider \"{provider}\" could not be configured (see above)."
                ),
            )],
            LateFailure::PlanRefused(ds) => {
                let mut out = if first { ds.clone() } else { Vec::new() };
                out.push(
                    Diagnostic::error(
                        "brick::apply::plan_refused_after_configure",
                        "Provider refused the plan once configured",
                        format!(
                            "{addr} was not started: provider \"{provider}\", configured during apply, refused the plan in its plan check{}. Nothing was sent to it.",
                            if first { "" } else { " (see above)" }
                        ),
                    )
                    .help("Its configuration was unknown when the plan was made, so its plan check ran only now. Fix what it reports and run `brick plan` again."),
                );
                out
            }
        }
    }
}

fn fill(v: Value, block: &Block) -> Value {
    let Some(m) = v.as_mapping() else { return v };
    let mut m = m.clone();
    for (name, a) in &block.attributes {
        m.entry(name.clone())
            .or_insert_with(|| Value::null(a.ty.clone()));
    }
    Value::object(m)
}

struct Task {
    step: usize,
    addr: InstanceAddr,
    action: Action,
    destroying: bool,
    type_name: String,
    provider: Arc<dyn Provider>,
    prior: Value,
    planned: Value,
    planned_plain: Value,
    timeout: Option<Duration>,
    /// Where the resource block is, for the provider's diagnostics.
    spans: crate::plan::input::ResourceSource,
    events: Arc<dyn EventSink>,
    interval: Duration,
    tx: mpsc::UnboundedSender<Done>,
}

impl Task {
    async fn run(self) {
        let started = Instant::now();
        let progress = ProgressSink {
            addr: self.addr.clone(),
            action: self.action,
            destroying: self.destroying,
            started,
            events: self.events.clone(),
        };
        let call = async {
            if self.action == Action::Read {
                match self
                    .provider
                    .read_data_source(&self.type_name, &self.planned_plain)
                    .await
                {
                    Ok(v) => brick_provider_api::provider::ApplyResponse {
                        new_state: v,
                        diagnostics: Vec::new(),
                    },
                    Err(d) => brick_provider_api::provider::ApplyResponse {
                        new_state: Value::null_dynamic(),
                        diagnostics: d,
                    },
                }
            } else {
                self.provider
                    .apply_resource(ApplyRequest {
                        type_name: &self.type_name,
                        prior: &self.prior,
                        planned: &self.planned_plain,
                        progress: &progress,
                    })
                    .await
            }
        };
        tokio::pin!(call);
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + self.interval, self.interval);
        let deadline = self.timeout.map(|t| tokio::time::Instant::now() + t);
        let resp = loop {
            tokio::select! {
                r = &mut call => break Some(r),
                _ = ticker.tick() => {
                    self.events.emit(Event::ApplyProgress {
                        addr: self.addr.clone(),
                        action: self.action,
                        destroying: self.destroying,
                        elapsed: started.elapsed(),
                        status: None,
                    });
                }
                _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break None,
            }
        };
        let elapsed = started.elapsed();
        let done = match resp {
            None => Done {
                step: self.step,
                planned: self.planned.clone(),
                result: Err(vec![Diagnostic::error(
                    "brick::apply::timeout",
                    "Operation timed out",
                    format!(
                        "{} did not finish within {}s.",
                        self.addr,
                        self.timeout.unwrap_or_default().as_secs()
                    ),
                )
                .help("Raise the limit in the resource's timeouts block, or check the object by hand.")]),
                partial: None,
                elapsed,
            },
            Some(r) => {
                let errors = r
                    .diagnostics
                    .iter()
                    .any(|d| d.severity == Severity::Error);
                if errors {
                    Done {
                        step: self.step,
                        planned: self.planned.clone(),
                        result: Err(r
                            .diagnostics
                            .into_iter()
                            .map(|d| {
                                let span = self.spans.span_of(&d.attribute);
                                let mut d = Diagnostic::from(d);
                                d.detail = format!("{}: {}", self.addr, d.detail);
                                if d.span.is_none() {
                                    d.span = span;
                                }
                                d
                            })
                            .collect()),
                        partial: Some(r.new_state),
                        elapsed,
                    }
                } else {
                    // A destroy's result is null, whatever its type (a provider may answer an
                    // untyped null).
                    let mut violations = if self.destroying && r.new_state.is_null() {
                        Vec::new()
                    } else {
                        check_new_state(&self.planned_plain, &r.new_state)
                    };
                    if self.destroying && !r.new_state.is_null() {
                        violations.push(brick_provider_api::lifecycle::Violation {
                            path: String::new(),
                            message: "a destroy returned a non-null state".into(),
                        });
                    }
                    if violations.is_empty() {
                        Done {
                            step: self.step,
                            planned: self.planned.clone(),
                            result: Ok(r.new_state),
                            partial: None,
                            elapsed,
                        }
                    } else {
                        Done {
                            step: self.step,
                            planned: self.planned.clone(),
                            result: Err(violations
                                .into_iter()
                                .map(|v| {
                                    Diagnostic::error(
                                        "brick::apply::inconsistent_result",
                                        "Provider produced inconsistent result after apply",
                                        format!("When applying changes to {}, {v}.", self.addr),
                                    )
                                    .help("This is a bug in the provider; please report it.")
                                })
                                .collect()),
                            partial: Some(r.new_state),
                            elapsed,
                        }
                    }
                }
            }
        };
        let _ = self.tx.send(done);
    }
}

/// Runs the resource's create-time (or destroy-time) `local-exec` provisioners in order, with
/// `self` the object; returns the errors (a failure stops the rest) and the warnings (failures
/// under `on_failure = continue`).
#[allow(clippy::too_many_arguments)]
async fn provision(
    when_destroy: bool,
    rc: &ResourceConfig,
    c: &crate::plan::model::ResourceChange,
    self_value: &Value,
    config: &Configuration,
    instances: &HashMap<ResourceAddr, BTreeMap<InstanceKey, Value>>,
    shapes: &HashMap<ResourceAddr, Shape>,
    locals_cache: &mut ValuesCache,
    local_order: &[crate::graph::Node],
    events: &Arc<dyn EventSink>,
    cancel: &Cancel,
) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let schema = provisioner::schema();
    let chosen: Vec<&crate::plan::input::ProvisionerConfig> = rc
        .lifecycle
        .provisioners
        .iter()
        .filter(|p| p.when_destroy == when_destroy)
        .collect();
    // Evaluated first, all of them (the scope borrows what the runs need not).
    let evaluated: Vec<Result<Value, Vec<Diagnostic>>> = {
        let values = locals_cache.get(config, local_order, instances, shapes);
        let base = ApplyScope {
            module: &c.addr.resource.module,
            values,
            instances,
            shapes,
        };
        let each = rc.expansion.each_value(&base, &c.addr.key).ok().flatten();
        let inst = InstanceScope {
            base: &base,
            key: &c.addr.key,
            each_value: each.as_ref(),
        };
        let scope = crate::plan::scope::SelfScope {
            base: &inst,
            value: self_value,
        };
        chosen.iter().map(|p| (p.args)(&scope, &schema)).collect()
    };
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    for (p, args) in chosen.iter().zip(evaluated) {
        let result = match args {
            Err(ds) => Err(ds),
            Ok(args) if !args.is_wholly_known() => Err(vec![
                Diagnostic::error(
                    "brick::apply::provisioner_unknown",
                    "Provisioner arguments not known",
                    format!(
                        "{}: the local-exec provisioner's arguments are not known after the apply.",
                        c.addr
                    ),
                )
                .at(p.span),
            ]),
            Ok(args) => {
                tokio::select! {
                    r = provisioner::run(&c.addr, &args, events) => r.map_err(|d| vec![d.at(p.span)]),
                    _ = cancel.aborted() => Err(vec![Diagnostic::error(
                        "brick::apply::provisioner_cancelled",
                        "Provisioner cancelled",
                        format!("{}: the local-exec provisioner was stopped by the second interrupt.", c.addr),
                    )]),
                }
            }
        };
        match result {
            Ok(()) => {}
            Err(ds) if p.on_failure_continue => warnings.extend(ds.into_iter().map(|mut d| {
                d.severity = crate::diag::Severity::Warning;
                d.detail.push_str(" (on_failure = continue: carried on)");
                d
            })),
            Err(ds) => {
                errors.extend(ds);
                break;
            }
        }
    }
    (errors, warnings)
}

/// Checks custom conditions of the instance `c` during apply, in its instance scope (with
/// `self` when given): the error diagnostics, naming the instance. Conditions still unknown
/// are not errors.
#[allow(clippy::too_many_arguments)]
fn conditions_at_apply(
    conditions: &[crate::plan::input::Condition],
    c: &crate::plan::model::ResourceChange,
    rc: &ResourceConfig,
    self_value: Option<&Value>,
    config: &Configuration,
    instances: &HashMap<ResourceAddr, BTreeMap<InstanceKey, Value>>,
    shapes: &HashMap<ResourceAddr, Shape>,
    locals_cache: &mut ValuesCache,
    local_order: &[crate::graph::Node],
) -> Vec<Diagnostic> {
    let values = locals_cache.get(config, local_order, instances, shapes);
    let base = ApplyScope {
        module: &c.addr.resource.module,
        values,
        instances,
        shapes,
    };
    let each = rc.expansion.each_value(&base, &c.addr.key).ok().flatten();
    let inst = InstanceScope {
        base: &base,
        key: &c.addr.key,
        each_value: each.as_ref(),
    };
    let mut out = Vec::new();
    for cond in conditions {
        let ds = match self_value {
            Some(v) => (cond.check)(&crate::plan::scope::SelfScope {
                base: &inst,
                value: v,
            }),
            None => (cond.check)(&inst),
        };
        for mut d in ds
            .unwrap_or_default()
            .into_iter()
            .filter(Diagnostic::is_error)
        {
            let name = c.addr.to_string();
            if !d.detail.contains(&name) {
                d.detail = format!("{name}: {}", d.detail);
            }
            out.push(d);
        }
    }
    out
}

/// Whether `to` is reachable from `from` along `edges` (step indices below `n`).
fn reaches(n: usize, edges: &[(usize, usize)], from: usize, to: usize) -> bool {
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges {
        next[a].push(b);
    }
    let mut seen = vec![false; n];
    let mut stack = vec![from];
    while let Some(s) = stack.pop() {
        if s == to {
            return true;
        }
        if !std::mem::replace(&mut seen[s], true) {
            stack.extend(next[s].iter().copied());
        }
    }
    false
}

/// The resources nearest `start` upstream (following each resource's changes' dependencies,
/// `start` excluded) for which `has` holds, not looking past them; memoized per resource, one
/// walk for all (iterative: a chain may be long). A cycle, which recorded dependencies never
/// hold, is cut where it is found.
fn nearest_with<'p>(
    start: &'p ResourceAddr,
    has: &dyn Fn(&ResourceAddr) -> bool,
    upstream: &dyn Fn(&ResourceAddr) -> Vec<&'p ResourceAddr>,
    memo: &mut HashMap<&'p ResourceAddr, std::rc::Rc<Vec<&'p ResourceAddr>>>,
) -> std::rc::Rc<Vec<&'p ResourceAddr>> {
    if let Some(m) = memo.get(start) {
        return m.clone();
    }
    // Post-order: a resource's set is the union of what each resource above it gives (itself
    // when `has` holds, else its own set).
    let mut open: std::collections::HashSet<&ResourceAddr> = std::collections::HashSet::new();
    let mut stack: Vec<(&'p ResourceAddr, Vec<&'p ResourceAddr>)> = vec![(start, upstream(start))];
    open.insert(start);
    while let Some((r, pending)) = stack.last_mut() {
        if let Some(next) = pending.pop() {
            if !has(next) && !memo.contains_key(next) && open.insert(next) {
                let up = upstream(next);
                stack.push((next, up));
            }
            continue;
        }
        let r = *r;
        stack.pop();
        let mut set: Vec<&ResourceAddr> = Vec::new();
        for u in upstream(r) {
            if has(u) {
                set.push(u);
            } else if let Some(m) = memo.get(u) {
                set.extend(m.iter().copied());
            }
        }
        set.sort_unstable();
        set.dedup();
        memo.insert(r, std::rc::Rc::new(set));
    }
    memo.get(start).cloned().unwrap_or_default()
}
