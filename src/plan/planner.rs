//! The planner: walks the configuration graph in dependency order, evaluates each object in a
//! [`Working`] scope that holds the planned values of what it depends on, asks the provider to
//! plan every resource instance, and decides the action. Refresh happens per provider, batched
//! by resource type through `read_many`.

// Diagnostics are rich data (spans, help); returning them by value is deliberate.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use brick_provider_api::lifecycle::{proposed_new_state, same};
use brick_provider_api::provider::PathStep;
use brick_provider_api::schema::Block;
use brick_provider_api::value::Kind;
use brick_provider_api::{Severity, Type, Value};

use crate::diag::Diagnostic;

use super::address::{
    InstanceAddr, InstanceKey, ResourceAddr, ResourceMode, Target, module_names, moved_module,
};
use super::call::{diag_at, import_one, plan_call, plan_check};
use super::marks::{mark_sensitive, mark_sensitive_owned};
use super::model::*;
use super::providers::ProviderSet;
use super::scope::{InstanceScope, SelfScope, Shape, Working, unknown_resource};
use crate::event::{Event, EventSink};
use crate::graph::{ConfigGraph, Node};
use crate::input::{Configuration, Expansion, IgnoreChanges, Keys, ResourceConfig};

/// What the user asked for on the command line.
#[derive(Clone, Debug)]
pub struct Options {
    pub mode: PlanMode,
    pub refresh: bool,
    pub targets: Vec<Target>,
    pub excludes: Vec<Target>,
    pub replace: Vec<Target>,
    pub parallelism: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            mode: PlanMode::Normal,
            refresh: true,
            targets: Vec::new(),
            excludes: Vec::new(),
            replace: Vec::new(),
            parallelism: 10,
        }
    }
}

/// Fills attributes the body left out with nulls of their types.
fn conform(v: Value, block: &Block) -> Value {
    let Kind::Object(mut m) = v.kind else {
        return v;
    };
    for (name, a) in &block.attributes {
        m.entry(name.clone())
            .or_insert_with(|| Value::null(a.ty.clone()));
    }
    for name in block.blocks.keys() {
        m.entry(name.clone()).or_insert_with(Value::null_dynamic);
    }
    Value {
        kind: Kind::Object(m),
        marks: v.marks,
    }
}

struct Planner<'a> {
    config: &'a Configuration,
    prior: &'a PriorState,
    providers: &'a ProviderSet,
    opts: &'a Options,
    events: &'a dyn EventSink,
    graph: ConfigGraph,
    /// Each configured resource's address, shared by the dependency lists naming it.
    addrs: Vec<std::sync::Arc<ResourceAddr>>,
    working: Working,
    /// Refreshed prior values (None: the object is gone).
    refreshed: HashMap<InstanceAddr, Option<Value>>,
    /// Prior instances after `moved` blocks, with where they came from. Borrowed from
    /// `prior`: a copy of every recorded value would cost ~1.5 KiB per instance.
    instances: BTreeMap<InstanceAddr, (&'a PriorInstance, Option<InstanceAddr>)>,
    changes: Vec<ResourceChange>,
    action_of: HashMap<InstanceAddr, Action>,
    drift: Vec<ResourceDrift>,
    refreshed_out: Vec<Refreshed>,
    /// Providers whose configuration is known only during apply (never configured here).
    deferred_providers: HashSet<String>,
    late: Vec<LateProvider>,
    configured: HashSet<String>,
    deferred: Vec<Deferred>,
    /// Resources (configuration addresses) with a deferred instance: what depends on them
    /// is deferred too.
    deferred_resources: HashSet<ResourceAddr>,
    deferred_instances: HashSet<InstanceAddr>,
    /// Providers whose configuration reads a deferred resource: everything of theirs waits.
    prereq_deferred_providers: HashSet<String>,
    diags: Vec<Diagnostic>,
    /// Resources to plan (None: all).
    in_scope: Option<HashSet<usize>>,
    /// Resources (in module instances) the walk visited: recorded instances of others are
    /// orphans.
    seen: HashSet<ResourceAddr>,
    /// Configuration module paths whose call could not be expanded (nothing in them is
    /// treated as removed).
    unexpanded: Vec<Vec<String>>,
    /// Each configured resource's recorded dependencies, once computed (see
    /// [`Planner::resource_dependencies`]).
    direct_deps: Vec<Option<Dependencies>>,
    /// Configured resources known to hold an instance once planned.
    has_instances: Vec<bool>,
}

/// Plans a change. Never fails as a whole: problems become diagnostics and `errored`.
pub async fn plan(
    config: &Configuration,
    prior: &PriorState,
    providers: &ProviderSet,
    opts: &Options,
    events: &dyn EventSink,
) -> Plan {
    let started = providers.clock().now();
    let mut p = Planner::new(config, prior, providers, opts, events);
    // Objects the state holds in a schema version their provider cannot read.
    p.diags.extend(prior.upgrade_errors.iter().cloned());
    p.apply_moves();
    p.compute_scope();
    let outputs = p.walk().await;
    p.plan_orphans();
    p.order_and_check().await;
    p.plan_diagnostics(&outputs);
    p.into_plan(outputs, started)
}

impl<'a> Planner<'a> {
    fn new(
        config: &'a Configuration,
        prior: &'a PriorState,
        providers: &'a ProviderSet,
        opts: &'a Options,
        events: &'a dyn EventSink,
    ) -> Planner<'a> {
        let graph = ConfigGraph::build(config);
        Planner {
            config,
            prior,
            providers,
            opts,
            events,
            graph,
            addrs: config
                .resources
                .iter()
                .map(|r| std::sync::Arc::new(r.addr.clone()))
                .collect(),
            direct_deps: vec![None; config.resources.len()],
            has_instances: vec![false; config.resources.len()],
            working: Working {
                variables: config.variables.clone(),
                ..Default::default()
            },
            refreshed: HashMap::new(),
            instances: BTreeMap::new(),
            // One change per recorded instance at least (no-op ones included): grown once.
            changes: Vec::with_capacity(prior.instances.len()),
            action_of: HashMap::with_capacity(prior.instances.len()),
            drift: Vec::new(),
            refreshed_out: Vec::new(),
            deferred_providers: HashSet::new(),
            late: Vec::new(),
            configured: HashSet::new(),
            deferred: Vec::new(),
            deferred_resources: HashSet::new(),
            deferred_instances: HashSet::new(),
            prereq_deferred_providers: HashSet::new(),
            diags: Vec::new(),
            in_scope: None,
            seen: HashSet::new(),
            unexpanded: Vec::new(),
        }
    }

    /// Puts the changes, deferrals and drift in Terraform's order, keeps only the providers
    /// configured during apply that have changes, and runs the providers' plan checks.
    async fn order_and_check(&mut self) {
        self.changes
            .sort_by(|a, b| terraform_order(&a.addr, &b.addr));
        self.deferred
            .sort_by(|a, b| terraform_order(&a.change.addr, &b.change.addr));
        // Only providers with changes of their own are configured during apply.
        let with_changes: HashSet<&str> =
            self.changes.iter().map(|c| c.provider.as_str()).collect();
        let mut late = std::mem::take(&mut self.late);
        late.retain(|l| with_changes.contains(l.name.as_str()));
        late.sort_by(|a, b| a.name.cmp(&b.name));
        self.late = late;
        if self.opts.mode != PlanMode::RefreshOnly {
            self.check_plan().await;
        }
        self.drift.sort_by(|a, b| terraform_order(&a.addr, &b.addr));
    }

    /// The plan's own diagnostics once everything is planned: values state cannot hold,
    /// targeting and forgetting warnings; the same problem in every instance of a module
    /// reported once.
    fn plan_diagnostics(&mut self, outputs: &[OutputChange]) {
        // State is JSON, which has no infinities: as Terraform, a planned value that holds one
        // is an error now rather than an object that could not be recorded after apply.
        for c in &self.changes {
            if matches!(c.action, Action::NoOp | Action::Delete | Action::Forget) {
                continue;
            }
            let found = super::codec::infinity_paths(&c.after);
            if !found.is_empty() {
                self.diags
                    .push(super::codec::infinite_number(&c.addr.to_string(), &found));
            }
        }
        for o in outputs {
            let found = super::codec::infinity_paths(&o.after);
            if o.action != Action::Delete && !found.is_empty() {
                self.diags.push(super::codec::infinite_number(
                    &format!("output.{}", o.name),
                    &found,
                ));
            }
        }
        // As Terraform, a plan limited by targets and one that forgets objects say so.
        if !self.opts.targets.is_empty() {
            self.diags.push(
                Diagnostic::warning(
                    "brick::plan::targeting",
                    "Resource targeting is in effect",
                    "You are creating a plan with the --target option, which means that the result of this plan may not represent all of the changes requested by the current configuration.\n\nThe --target option is not for routine use, and is provided only for exceptional situations such as recovering from errors or mistakes, or when brick specifically suggests to use it as part of an error message.",
                )
                .help("Plan without --target once the exceptional situation is over."),
            );
        }
        let forgotten: Vec<String> = self
            .changes
            .iter()
            .filter(|c| c.action == Action::Forget)
            .map(|c| format!(" - {}", c.addr))
            .collect();
        if !forgotten.is_empty() {
            self.diags.push(
                Diagnostic::warning(
                    "brick::plan::forgetting",
                    "Some objects will no longer be managed by brick",
                    format!(
                        "If you apply this plan, brick will discard its tracking information for the following objects, but it will not delete them:\n{}\n\nAfter applying this plan, brick will no longer manage these objects. You will need to import them into brick to manage them again.",
                        forgotten.join("\n")
                    ),
                )
                .help("Remove the removed block (or set destroy = true) to keep managing them."),
            );
        }
        // The same problem in every instance of a module is reported once.
        let mut shown = HashSet::new();
        self.diags
            .retain(|d| shown.insert(format!("{}|{:?}|{}", d.code, d.span, d.detail)));
    }

    /// The plan, with the time it took (since `started`) emitted.
    fn into_plan(self, outputs: Vec<OutputChange>, started: std::time::Instant) -> Plan {
        let opts = self.opts;
        let errored = self.diags.iter().any(|d| d.severity == Severity::Error);
        // As Terraform, a refresh-only plan still plans the root outputs, from the refreshed
        // objects.
        let outputs = if opts.mode == PlanMode::RefreshOnly {
            refresh_only_outputs(self.config, self.prior, &self.drift)
        } else {
            outputs
        };
        let schemas = schema_shapes(self.providers, &self.changes, &self.drift);
        // Where the plan's time went: each layer's objects, its waits (refresh, checks).
        let mut op_times = crate::timing::OpTimes::default();
        for c in &self.changes {
            op_times.add(&c.provider, std::time::Duration::ZERO);
        }
        self.events
            .emit(crate::event::Event::Timing(self.providers.clock().report(
                crate::timing::Phase::Plan,
                started,
                &op_times,
            )));
        let mut changes = self.changes;
        if opts.mode == PlanMode::RefreshOnly {
            changes.clear();
        }
        let relevant = super::relevant::relevant_attributes(
            &changes,
            &outputs,
            self.config,
            opts.mode == PlanMode::Destroy,
        );
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            brick_version: env!("CARGO_PKG_VERSION").to_string(),
            mode: opts.mode,
            state_lineage: self.prior.lineage.clone(),
            state_serial: self.prior.serial,
            config_hash: self.config.hash.clone(),
            changes,
            drift: self.drift,
            outputs,
            deferred: self.deferred,
            configured_during_apply: self.late,
            targets: opts.targets.iter().map(|t| t.to_string()).collect(),
            excludes: opts.excludes.iter().map(|t| t.to_string()).collect(),
            variables: self
                .config
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), super::codec::encode_exact(v)))
                .collect(),
            errored,
            timestamp: None,
            tainted_reasons: BTreeMap::new(),
            schemas,
            relevant_attributes: relevant,
            diagnostics: self.diags,
        }
        .with_refreshed(self.refreshed_out)
    }
}

/// The root outputs of a refresh-only plan: evaluated against the prior state with the drift
/// found by refresh applied (wholly known values only; one holding sensitive values is
/// recorded sensitive).
fn refresh_only_outputs(
    config: &Configuration,
    prior: &PriorState,
    drift: &[ResourceDrift],
) -> Vec<OutputChange> {
    let mut refreshed = prior.clone();
    for d in drift {
        if d.after.is_null() {
            refreshed.instances.remove(&d.addr);
        } else if let Some(i) = refreshed.instances.get_mut(&d.addr) {
            i.value = d.after.clone();
        }
    }
    let working = super::scope::values_from_state(config, &refreshed);
    let mut out = Vec::new();
    for o in config.outputs.iter().filter(|o| o.module.is_empty()) {
        let Ok(v) = (o.expr)(&working, &Block::default()) else {
            continue;
        };
        if !v.is_wholly_known() {
            continue;
        }
        let sensitive = o.sensitive || v.contains_sensitive();
        let after = if sensitive { v.sensitive() } else { v };
        let before = prior.outputs.get(&o.name).map(|(v, _)| v.clone());
        let action = match &before {
            None => Action::Create,
            Some(b) if same(b, &after) => Action::NoOp,
            Some(_) => Action::Update,
        };
        out.push(OutputChange {
            name: o.name.clone(),
            action,
            before: before.unwrap_or_else(Value::null_dynamic),
            after,
            sensitive,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The schema shape of every resource type in the plan, for the renderer.
fn schema_shapes(
    providers: &ProviderSet,
    changes: &[ResourceChange],
    drift: &[ResourceDrift],
) -> BTreeMap<String, BlockShape> {
    let mut out = BTreeMap::new();
    let addrs = changes
        .iter()
        .map(|c| (&c.provider, &c.addr.resource))
        .chain(drift.iter().map(|d| (&d.provider, &d.addr.resource)));
    // Changes come sorted by type: a run of one type is looked at once.
    let mut last: Option<(&str, &ResourceAddr)> = None;
    for (provider, addr) in addrs {
        if let Some((p, a)) = last
            && p == provider.as_str()
            && a.mode == addr.mode
            && a.type_name == addr.type_name
        {
            continue;
        }
        last = Some((provider.as_str(), addr));
        let key = super::relevant::type_key(addr);
        if out.contains_key(&key) {
            continue;
        }
        let Ok(schema) = providers.resource_schema(provider, addr) else {
            continue;
        };
        let shape = BlockShape::of(&schema.block);
        if shape != BlockShape::default() {
            out.insert(key, shape);
        }
    }
    out
}

impl Plan {
    fn with_refreshed(mut self, refreshed: Vec<Refreshed>) -> Plan {
        // Refreshed values travel in `drift` (changed objects) and in no-op changes' `before`;
        // nothing else needs recording.
        let _ = refreshed;
        self.drift.sort_by(|a, b| a.addr.cmp(&b.addr));
        self
    }
}

impl<'a> Planner<'a> {
    fn apply_moves(&mut self) {
        let prior = self.prior;
        let mut inst: BTreeMap<InstanceAddr, (&'a PriorInstance, Option<InstanceAddr>)> = prior
            .instances
            .iter()
            .map(|(a, i)| (a.clone(), (i, None)))
            .collect();
        for mv in &self.config.moved {
            let moving: Vec<InstanceAddr> = inst
                .keys()
                .filter(|a| mv.from.matches(a))
                .cloned()
                .collect();
            for from in moving {
                let to = match (&mv.from, &mv.to) {
                    (Target::Module(m1), Target::Module(m2)) => {
                        match moved_module(&from.resource.module, m1, m2) {
                            Some(m) => from.resource.in_module(&m).instance(from.key.clone()),
                            None => continue,
                        }
                    }
                    // Within the same module (a child module's own moved block, or one
                    // naming a module without keys): each module instance keeps its key.
                    (Target::Resource(f), Target::Resource(r)) if f.module == r.module => r
                        .in_module(&from.resource.module)
                        .instance(from.key.clone()),
                    (Target::Instance(f), Target::Instance(i))
                        if f.resource.module == i.resource.module =>
                    {
                        i.resource
                            .in_module(&from.resource.module)
                            .instance(i.key.clone())
                    }
                    (Target::Resource(_), Target::Resource(r)) => r.instance(from.key.clone()),
                    (_, Target::Instance(i)) => i.clone(),
                    (Target::Instance(_), Target::Resource(r)) => r.instance(InstanceKey::None),
                    _ => continue,
                };
                if inst.contains_key(&to) {
                    self.diags.push(Diagnostic::error(
                        "brick::plan::moved_collision",
                        "Moved object still exists",
                        format!("Cannot move {from} to {to}: {to} already exists in state."),
                    ));
                    continue;
                }
                if let Some((i, prev)) = inst.remove(&from) {
                    inst.insert(to, (i, Some(prev.unwrap_or(from))));
                }
            }
        }
        // Terraform's implied moves: a resource that gained `count` takes its single instance
        // as index 0, and one that lost it takes index 0 as its single instance. The recorded
        // candidates (no key, or key 0) by configuration address, found in one pass.
        let mut by_config: HashMap<ResourceAddr, Vec<InstanceAddr>> = HashMap::new();
        for a in inst.keys() {
            if matches!(a.key, InstanceKey::None | InstanceKey::Int(0)) {
                by_config
                    .entry(a.resource.config_addr())
                    .or_default()
                    .push(a.clone());
            }
        }
        for rc in &self.config.resources {
            let (from, to) = match rc.expansion {
                Expansion::Count(..) => (InstanceKey::None, InstanceKey::Int(0)),
                Expansion::Single => (InstanceKey::Int(0), InstanceKey::None),
                Expansion::ForEach(..) => continue,
            };
            // In every instance of the resource's module.
            let candidates: Vec<InstanceAddr> = by_config
                .get(&rc.addr)
                .into_iter()
                .flatten()
                .filter(|a| a.key == from)
                .cloned()
                .collect();
            for from in candidates {
                let to = from.resource.instance(to.clone());
                let explicit = self.config.moved.iter().any(|m| m.from.matches(&from));
                if explicit || inst.contains_key(&to) {
                    continue;
                }
                if let Some((i, prev)) = inst.remove(&from) {
                    inst.insert(to, (i, Some(prev.unwrap_or(from))));
                }
            }
        }
        self.instances = inst;
    }

    fn compute_scope(&mut self) {
        let resources = &self.config.resources;
        let index = |t: &Target| {
            resources
                .iter()
                .enumerate()
                .filter(|(_, r)| t.touches(&r.addr))
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
        };
        if !self.opts.targets.is_empty() {
            let start: Vec<usize> = self.opts.targets.iter().flat_map(index).collect();
            let destroy = self.opts.mode == PlanMode::Destroy;
            self.in_scope = Some(self.graph.closure(&start, destroy));
        }
        if !self.opts.excludes.is_empty() {
            let start: Vec<usize> = self.opts.excludes.iter().flat_map(index).collect();
            let destroy = self.opts.mode == PlanMode::Destroy;
            // Excluding X also excludes what depends on X (or, destroying, what X needs).
            let excluded = self.graph.closure(&start, !destroy);
            let all: HashSet<usize> = self
                .in_scope
                .take()
                .unwrap_or_else(|| (0..self.config.resources.len()).collect());
            self.in_scope = Some(all.difference(&excluded).copied().collect());
        }
    }

    /// Whether an instance is selected by `--target`/`--exclude`.
    fn instance_selected(&self, resource: Option<usize>, addr: &InstanceAddr) -> bool {
        let cfg = addr.resource.config_addr();
        if let Some(i) = resource {
            if let Some(s) = &self.in_scope
                && !s.contains(&i)
            {
                return false;
            }
        } else if !self.opts.targets.is_empty()
            && !self.opts.targets.iter().any(|t| t.touches(&cfg))
        {
            return false;
        }
        // Targets naming instance keys narrow within what they touch.
        let mut touching = self
            .opts
            .targets
            .iter()
            .filter(|t| t.touches(&cfg))
            .peekable();
        if touching.peek().is_some() && !touching.any(|t| t.matches(addr)) {
            return false;
        }
        !self
            .opts
            .excludes
            .iter()
            .any(|t| t.is_keyed() && t.matches(addr))
    }

    fn prior_instances_of(&self, r: &ResourceAddr) -> Vec<InstanceAddr> {
        self.instances
            .range(r.instance(InstanceKey::None)..)
            .take_while(|(a, _)| a.resource == *r)
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// The recorded value after refresh; `None` when there is no object.
    fn current(&self, addr: &InstanceAddr) -> Option<Value> {
        match self.refreshed.get(addr) {
            Some(v) => v.clone(),
            None => self.instances.get(addr).map(|(i, _)| i.value.clone()),
        }
    }

    async fn configure(&mut self, name: &str, config: Value) {
        if !self.configured.insert(name.to_string()) {
            return;
        }
        let Some(p) = self.providers.get(name).cloned() else {
            return;
        };
        for d in p.configure(&config).await {
            self.diags.push(d.into());
        }
        if self.opts.refresh || self.opts.mode == PlanMode::RefreshOnly {
            self.refresh(name).await;
        }
    }

    /// Refreshes every recorded instance that uses provider `name`, one `read_many` per type.
    async fn refresh(&mut self, name: &str) {
        let Some(p) = self.providers.get(name).cloned() else {
            return;
        };
        if !p.manages_remote_objects() {
            // Its objects live only in state: reading one gives back what was recorded.
            return;
        }
        let mut by_type: BTreeMap<String, Vec<InstanceAddr>> = BTreeMap::new();
        for (addr, (inst, _)) in &self.instances {
            if inst.provider != name || addr.resource.mode != ResourceMode::Managed {
                continue;
            }
            let idx = self
                .graph
                .by_resource
                .get(&addr.resource.config_addr())
                .copied();
            if !self.instance_selected(idx, addr) {
                continue;
            }
            // A possibly created object (an interrupted create its provider could not look
            // up) has no id to read by: it stays as recorded, tainted, and is replaced.
            if inst.tainted
                && inst.value.get("id").is_none_or(|id| {
                    id.is_null() || !id.is_known() || id.as_str().is_some_and(str::is_empty)
                })
            {
                continue;
            }
            by_type
                .entry(addr.resource.type_name.clone())
                .or_default()
                .push(addr.clone());
        }
        for (type_name, addrs) in by_type {
            let values: Vec<Value> = addrs
                .iter()
                .map(|a| self.instances[a].0.value.unmark_deep().0)
                .collect();
            for (a, v) in addrs.iter().zip(&values) {
                self.events.emit(Event::RefreshStart {
                    addr: a.clone(),
                    id: v.get("id").and_then(Value::as_str).map(String::from),
                });
            }
            let results = p.read_many(&type_name, &values).await;
            let block = self
                .providers
                .schema(name)
                .and_then(|s| s.resources.get(&type_name))
                .map(|r| r.block.clone())
                .unwrap_or_default();
            for ((addr, before), result) in addrs.iter().zip(values).zip(results) {
                match result {
                    Err(ds) => {
                        for d in ds {
                            self.diags.push(diag_at(d, addr));
                        }
                    }
                    Ok(now) => {
                        let now = now.map(|v| mark_sensitive(&v, &block));
                        let prior_marked = &self.instances[addr].0.value;
                        let changed = match &now {
                            None => true,
                            Some(n) => !same(n, &before),
                        };
                        if changed {
                            self.drift.push(ResourceDrift {
                                addr: addr.clone(),
                                provider: name.to_string(),
                                before: prior_marked.clone(),
                                after: now
                                    .clone()
                                    .unwrap_or_else(|| Value::null(block.value_type())),
                            });
                            if let Some(n) = &now {
                                self.refreshed_out.push(Refreshed {
                                    addr: addr.clone(),
                                    value: n.clone(),
                                });
                            }
                        }
                        self.refreshed.insert(addr.clone(), now);
                    }
                }
            }
        }
    }

    async fn walk(&mut self) -> Vec<OutputChange> {
        let order = match self.graph.order(self.config) {
            Ok(o) => o,
            Err(d) => {
                self.diags.push(d);
                return Vec::new();
            }
        };
        // Providers without a configuration block are configured with an empty one first.
        let explicit: HashSet<&str> = self
            .config
            .providers
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        let mut implicit: BTreeSet<String> = self
            .config
            .resources
            .iter()
            .map(|r| r.provider.clone())
            .chain(self.instances.values().map(|(i, _)| i.provider.clone()))
            .filter(|n| !explicit.contains(n.as_str()))
            .collect();
        implicit.retain(|n| self.providers.get(n).is_some());
        for name in implicit {
            self.configure(&name, Value::empty_object()).await;
        }
        let mut outputs = Vec::new();
        let mut destroy_before: HashMap<String, Value> = HashMap::new();
        // Under --target/--exclude, values nothing planned needs are still evaluated (root
        // outputs may read them) but their problems are not this plan's.
        let needed: Option<HashSet<petgraph::graph::NodeIndex>> = self.in_scope.as_ref().map(|s| {
            let start: Vec<usize> = s.iter().copied().collect();
            self.graph.ancestors(&start)
        });
        for n in order {
            match self.graph.graph[n].clone() {
                Node::Provider(i) => {
                    let pc = &self.config.providers[i];
                    let block = self
                        .providers
                        .schema(&pc.name)
                        .map(|s| s.provider.clone())
                        .unwrap_or_default();
                    // A child module's own provider block (never under count/for_each):
                    // its scope is the one instance of that module.
                    let module =
                        crate::addr::module_text(&crate::addr::provider_module(&pc.name).0);
                    match (pc.body)(&self.working.view(&module), &block) {
                        Err(ds) => self.diags.extend(ds),
                        // Known only during apply (it reads what this plan creates): never
                        // configured here, nor from any default in its place.
                        Ok(v) if !v.is_wholly_known() => {
                            if self.deferred_providers.insert(pc.name.clone()) {
                                let depends_on: Dependencies = self
                                    .graph
                                    .provider_dependencies(i)
                                    .into_iter()
                                    .map(|j| self.addrs[j].clone())
                                    .collect();
                                // It reads something deferred: configured by no run before
                                // that is planned, so all of its changes wait too.
                                if depends_on
                                    .iter()
                                    .any(|d| self.deferred_resources.contains(&**d))
                                {
                                    self.prereq_deferred_providers.insert(pc.name.clone());
                                }
                                self.late.push(LateProvider {
                                    name: pc.name.clone(),
                                    depends_on,
                                });
                            }
                        }
                        Ok(v) => {
                            let name = pc.name.clone();
                            self.configure(&name, v).await;
                        }
                    }
                }
                Node::Resource(i) => self.plan_resource(i).await,
                Node::Output(i) if self.config.outputs[i].module.is_empty() => {
                    if self.opts.mode == PlanMode::Normal && self.output_in_scope(i) {
                        outputs.push(self.plan_output(i));
                    } else if self.opts.mode == PlanMode::Destroy {
                        // As Terraform, whose destroy plan starts from a refresh that
                        // evaluates the outputs: what is destroyed is the output's current
                        // value, where it is known.
                        let kept = std::mem::take(&mut self.diags);
                        let now = self.plan_output(i).after;
                        self.diags = kept;
                        if now.is_wholly_known() {
                            destroy_before.insert(self.config.outputs[i].name.clone(), now);
                        }
                    }
                }
                other => {
                    let mut diags = Vec::new();
                    super::scope::eval_value_node(
                        self.config,
                        &other,
                        &mut self.working,
                        None,
                        &mut diags,
                        &mut self.unexpanded,
                    );
                    if needed.as_ref().is_none_or(|s| s.contains(&n)) {
                        self.diags.extend(diags);
                    }
                }
            }
        }
        // Outputs recorded but no longer configured (or all of them, when destroying).
        // Under --target (destroying too), outputs are left as they are, as Terraform.
        let leave_outputs = self.in_scope.is_some()
            && (!self.opts.targets.is_empty() || self.opts.mode != PlanMode::Destroy);
        let configured: HashSet<&str> = if leave_outputs {
            self.prior.outputs.keys().map(String::as_str).collect()
        } else if self.opts.mode == PlanMode::Destroy {
            HashSet::new()
        } else {
            self.config
                .outputs
                .iter()
                .filter(|o| o.module.is_empty())
                .map(|o| o.name.as_str())
                .collect()
        };
        if self.opts.mode != PlanMode::RefreshOnly {
            for (name, (v, sensitive)) in &self.prior.outputs {
                if !configured.contains(name.as_str()) {
                    outputs.push(OutputChange {
                        name: name.clone(),
                        action: Action::Delete,
                        before: destroy_before.remove(name).unwrap_or_else(|| v.clone()),
                        after: Value::null_dynamic(),
                        sensitive: *sensitive,
                    });
                }
            }
        }
        outputs.sort_by(|a, b| a.name.cmp(&b.name));
        outputs
    }

    /// Under `--target`/`--exclude`, only outputs whose resources are all planned.
    fn output_in_scope(&self, i: usize) -> bool {
        let Some(scope) = &self.in_scope else {
            return true;
        };
        self.config.outputs[i].references.iter().all(|r| match r {
            crate::eval::Reference::Resource { type_name, name } => self
                .graph
                .by_resource
                .get(&ResourceAddr::managed(type_name, name))
                .is_none_or(|idx| scope.contains(idx)),
            // An output of a module: every resource inside it must be planned.
            crate::eval::Reference::Module(n) => {
                let prefix = format!("module.{n}");
                self.config.resources.iter().enumerate().all(|(i, rc)| {
                    !(rc.addr.module == prefix || rc.addr.module.starts_with(&format!("{prefix}.")))
                        || scope.contains(&i)
                })
            }
            _ => true,
        })
    }

    fn plan_output(&mut self, i: usize) -> OutputChange {
        let o = &self.config.outputs[i];
        let failed =
            super::scope::check_output_preconditions(o, &self.working, "", &mut self.diags);
        let after = match (o.expr)(&self.working, &Block::default()) {
            _ if failed => Value::unknown(Type::Dynamic),
            Ok(v) => v,
            Err(ds) => {
                self.diags.extend(ds);
                Value::unknown(Type::Dynamic)
            }
        };
        let after = if o.sensitive {
            after.sensitive()
        } else {
            after
        };
        let before = self.prior.outputs.get(&o.name).map(|(v, _)| v.clone());
        let action = match &before {
            None => Action::Create,
            Some(b) if after.is_wholly_known() && same(b, &after) => Action::NoOp,
            Some(_) => Action::Update,
        };
        OutputChange {
            name: o.name.clone(),
            action,
            before: before.unwrap_or_else(Value::null_dynamic),
            after,
            sensitive: o.sensitive,
        }
    }

    /// The instance keys of a resource (with `each.value`) in module instance `module`, or
    /// a diagnostic.
    fn expand(&self, rc: &ResourceConfig, module: &str) -> Result<(Shape, Keys), Diagnostic> {
        expand_with(
            &rc.expansion,
            &self.working.view(module),
            &rc.addr.in_module(module).to_string(),
        )
    }
}

/// [`Expansion::instances`], kept under its old name for callers outside `plan`.
pub(crate) fn expand_with(
    expansion: &Expansion,
    scope: &dyn crate::eval::Scope,
    what: &str,
) -> Result<(Shape, Keys), Diagnostic> {
    expansion.instances(scope, what)
}

impl<'a> Planner<'a> {
    /// Returns whether the resource holds an instance.
    fn set_from_prior(&mut self, rc: &ResourceConfig, module: &str) -> bool {
        let shape = rc.expansion.shape();
        let addr = rc.addr.in_module(module);
        let vals: BTreeMap<InstanceKey, Value> = self
            .prior_instances_of(&addr)
            .into_iter()
            .filter_map(|a| self.current(&a).map(|v| (a.key, v)))
            .collect();
        let any = !vals.is_empty();
        self.working.set_resource_owned(&addr, shape, vals);
        self.seen.insert(addr);
        any
    }

    /// What a resource's instances record as their dependencies: the resources it depends on
    /// directly, and, through each of those that holds no instance or is a data source (so
    /// records nothing in state), what that one records. With what the named resources record, transitively,
    /// that is every resource upstream (Terraform's `dependencies`); each resource so costs
    /// its direct edges, not its whole upstream. Computed once per resource, when it is
    /// planned (after what it depends on).
    fn resource_dependencies(&mut self, i: usize) -> Dependencies {
        if let Some(d) = &self.direct_deps[i] {
            return d.clone();
        }
        let mut out: Dependencies = Vec::new();
        let mut seen: HashSet<*const ResourceAddr> = HashSet::new();
        for j in self.graph.direct_resource_dependencies(i) {
            if seen.insert(std::sync::Arc::as_ptr(&self.addrs[j])) {
                out.push(self.addrs[j].clone());
            }
            // A data source's object records no dependencies in state (as Terraform's): what
            // it reads is recorded by what reads it.
            if !self.has_instances[j] || self.config.resources[j].addr.mode == ResourceMode::Data {
                for d in self.resource_dependencies(j) {
                    if seen.insert(std::sync::Arc::as_ptr(&d)) {
                        out.push(d);
                    }
                }
            }
        }
        self.direct_deps[i] = Some(out.clone());
        out
    }

    /// Plans a resource in every instance of its module.
    async fn plan_resource(&mut self, i: usize) {
        let rc = &self.config.resources[i];
        if rc.addr.module.is_empty() {
            return self.plan_resource_in(i, "").await;
        }
        for m in self.working.instances_of(&module_names(&rc.addr.module)) {
            self.plan_resource_in(i, &m).await;
        }
    }

    async fn plan_resource_in(&mut self, i: usize, module: &str) {
        let rc = &self.config.resources[i];
        let addr = rc.addr.in_module(module);
        if self.opts.mode != PlanMode::Normal
            || self.in_scope.as_ref().is_some_and(|s| !s.contains(&i))
        {
            // A refresh-only plan cannot read the objects of a provider configured only
            // during apply: their refresh is deferred (as Terraform's deferred read).
            if self.opts.mode == PlanMode::RefreshOnly
                && self.deferred_providers.contains(&rc.provider)
            {
                for a in self.prior_instances_of(&addr) {
                    let (inst, prev) = self.instances[&a].clone();
                    let v = inst.value.clone();
                    self.defer(
                        ResourceChange {
                            addr: a,
                            previous_addr: prev,
                            provider: inst.provider.clone(),
                            action: Action::Read,
                            reason: None,
                            before: v.clone(),
                            after: v,
                            replace_paths: Vec::new(),
                            depends_on: inst.depends_on.clone(),
                            create_before_destroy: false,
                            importing: None,
                            schema_version: inst.schema_version,
                        },
                        DeferredReason::ProviderConfigUnknown,
                    );
                }
            }
            if self.set_from_prior(rc, module) {
                self.has_instances[i] = true;
            }
            return;
        }
        self.seen.insert(addr.clone());
        let schema = match self.providers.resource_schema(&rc.provider, &addr) {
            Ok(s) => s.clone(),
            Err(d) => {
                self.diags.push(d);
                self.working.resources.insert(addr, unknown_resource());
                return;
            }
        };
        let (shape, keys) = match self.expand(rc, module) {
            Ok(k) => k,
            Err(d) => {
                self.diags.push(d);
                self.working.resources.insert(addr, unknown_resource());
                return;
            }
        };
        let deps = self.resource_dependencies(i);
        let mut values: BTreeMap<InstanceKey, Value> = BTreeMap::new();
        let wanted: HashSet<InstanceKey> = keys.iter().map(|(k, _)| k.clone()).collect();
        for (key, each) in keys {
            let iaddr = addr.instance(key.clone());
            if !self.instance_selected(Some(i), &iaddr) {
                if let Some(v) = self.current(&iaddr) {
                    values.insert(key, v);
                }
                continue;
            }
            let v = self
                .plan_instance(rc, module, &schema, iaddr.clone(), each.as_ref(), &deps)
                .await;
            // `postcondition` blocks, with `self` the planned object: checked now when
            // known, else after the instance is applied.
            if !rc.lifecycle.postconditions.is_empty() {
                let base = self.working.view(module);
                let inst = InstanceScope {
                    base: &base,
                    key: &iaddr.key,
                    each_value: each.as_ref(),
                };
                let scope = SelfScope {
                    base: &inst,
                    value: &v,
                };
                for c in &rc.lifecycle.postconditions {
                    if let Some(ds) = (c.check)(&scope) {
                        self.diags
                            .extend(ds.into_iter().map(|d| diag_at(d, &iaddr)));
                    }
                }
            }
            values.insert(key, v);
        }
        // Recorded instances the expansion no longer has.
        for old in self.prior_instances_of(&addr) {
            if wanted.contains(&old.key) || !self.instance_selected(Some(i), &old) {
                continue;
            }
            let reason = match (&old.key, shape) {
                (InstanceKey::Int(_), Shape::Count) => ActionReason::DeleteBecauseCountIndex,
                (InstanceKey::Str(_), Shape::ForEach) => ActionReason::DeleteBecauseEachKey,
                _ => ActionReason::DeleteBecauseWrongRepetition,
            };
            let prevent = rc
                .lifecycle
                .prevent_destroy
                .then_some(rc.lifecycle.decl_span);
            self.plan_delete(old, Some(reason), prevent);
        }
        if !values.is_empty() {
            self.has_instances[i] = true;
        }
        self.working.set_resource_owned(&addr, shape, values);
    }

    /// `prevent`: the resource has `prevent_destroy` (with its block's header, when known).
    fn plan_delete(
        &mut self,
        addr: InstanceAddr,
        reason: Option<ActionReason>,
        prevent: Option<Option<crate::config::Span>>,
    ) {
        let Some((inst, prev)) = self.instances.get(&addr).cloned() else {
            return;
        };
        if self.deferred_providers.contains(&inst.provider) {
            // Its provider is configured only during apply, maybe against another cluster:
            // the object is neither read nor destroyed by this run.
            let before = inst.value.clone();
            let null = Value::null_dynamic();
            self.defer(
                ResourceChange {
                    addr,
                    previous_addr: prev,
                    provider: inst.provider.clone(),
                    action: Action::Delete,
                    reason,
                    before,
                    after: null,
                    replace_paths: Vec::new(),
                    depends_on: inst.depends_on.clone(),
                    create_before_destroy: inst.create_before_destroy,
                    importing: None,
                    schema_version: inst.schema_version,
                },
                DeferredReason::ProviderConfigUnknown,
            );
            return;
        }
        let Some(before) = self.current(&addr) else {
            // Already gone: nothing to destroy; the drift says so and apply forgets it.
            self.push_change(ResourceChange {
                addr,
                previous_addr: prev,
                provider: inst.provider.clone(),
                action: Action::Forget,
                reason,
                before: Value::null_dynamic(),
                after: Value::null_dynamic(),
                replace_paths: Vec::new(),
                depends_on: inst.depends_on.clone(),
                create_before_destroy: false,
                importing: None,
                schema_version: inst.schema_version,
            });
            return;
        };
        if let Some(at) = prevent {
            self.diags.push(prevent_destroy(&addr, at));
        }
        // The untyped null: nothing reads a deletion's planned value's type (apply sends the
        // provider a null of the prior's type), and typing it cost 0.7 KiB per object.
        let null = Value::null_dynamic();
        self.push_change(ResourceChange {
            addr,
            previous_addr: prev,
            provider: inst.provider.clone(),
            action: Action::Delete,
            reason,
            before,
            after: null,
            replace_paths: Vec::new(),
            depends_on: inst.depends_on.clone(),
            create_before_destroy: inst.create_before_destroy,
            importing: None,
            schema_version: inst.schema_version,
        });
    }

    fn push_change(&mut self, c: ResourceChange) {
        self.action_of.insert(c.addr.clone(), c.action);
        self.changes.push(c);
    }

    /// Leaves a change for a later run; what depends on its resource is deferred too.
    fn defer(&mut self, change: ResourceChange, reason: DeferredReason) {
        self.deferred_resources
            .insert(change.addr.resource.config_addr());
        self.deferred_instances.insert(change.addr.clone());
        self.deferred.push(Deferred { change, reason });
    }

    /// Why an instance of `rc` cannot be planned in this run, if it cannot: its provider's
    /// configuration is known only during apply and the object exists already (or is to be
    /// imported, or its type cannot be planned unconfigured), or something it depends on
    /// was deferred.
    fn deferral(
        &self,
        rc: &ResourceConfig,
        addr: &InstanceAddr,
        deps: &[std::sync::Arc<ResourceAddr>],
    ) -> Option<DeferredReason> {
        if self.prereq_deferred_providers.contains(&rc.provider) {
            return Some(DeferredReason::DeferredPrereq);
        }
        // The direct cause first: the object's own provider.
        if self.deferred_providers.contains(&rc.provider)
            && addr.resource.mode == ResourceMode::Managed
        {
            let exists = self.instances.contains_key(addr)
                || self.config.imports.iter().any(|im| im.to == *addr);
            let plannable = self
                .providers
                .get(&rc.provider)
                .is_some_and(|p| p.plans_unconfigured(&addr.resource.type_name));
            if exists || !plannable {
                return Some(DeferredReason::ProviderConfigUnknown);
            }
        }
        deps.iter()
            .any(|d| self.deferred_resources.contains(&**d))
            .then_some(DeferredReason::DeferredPrereq)
    }

    /// The change a deferred instance would make as far as its configuration tells, without
    /// its provider: configured values over the recorded object (computed attributes as
    /// recorded, unknown for a create).
    fn deferred_change(
        &self,
        rc: &ResourceConfig,
        addr: &InstanceAddr,
        config: &Value,
        schema: &brick_provider_api::schema::ResourceSchema,
        deps: &[std::sync::Arc<ResourceAddr>],
    ) -> ResourceChange {
        let block = &schema.block;
        let null = Value::null(block.value_type());
        let (prior_inst, previous_addr) = match self.instances.get(addr) {
            Some((i, p)) => (Some(*i), p.clone()),
            None => (None, None),
        };
        let before = prior_inst.map(|i| i.value.clone());
        let mut after = proposed_new_state(block, &before.clone().unwrap_or(null.clone()), config);
        let (action, reason) = match (&before, prior_inst) {
            (_, Some(i)) if i.tainted => (
                Action::DeleteThenCreate,
                Some(ActionReason::ReplaceBecauseTainted),
            ),
            (Some(b), _) if same(b, &after) => (Action::NoOp, None),
            (Some(_), _) => (Action::Update, None),
            (None, _) => (Action::Create, None),
        };
        if action.creates()
            && let Some(m) = after.as_mapping()
        {
            let mut m = m.clone();
            for (name, a) in &block.attributes {
                let fills = matches!(
                    a.presence,
                    brick_provider_api::schema::Presence::Computed
                        | brick_provider_api::schema::Presence::OptionalComputed
                );
                if fills && m.get(name).is_none_or(Value::is_null) {
                    m.insert(name.clone(), Value::unknown(a.ty.clone()));
                }
            }
            after = Value::object(m);
        }
        let action = if addr.resource.mode == ResourceMode::Data {
            Action::Read
        } else {
            action
        };
        ResourceChange {
            addr: addr.clone(),
            previous_addr,
            provider: rc.provider.clone(),
            action,
            reason,
            before: before.unwrap_or(null),
            after: mark_sensitive(&after, block),
            replace_paths: Vec::new(),
            depends_on: deps.to_vec(),
            create_before_destroy: rc.lifecycle.create_before_destroy,
            importing: self
                .config
                .imports
                .iter()
                .find(|im| im.to == *addr && prior_inst.is_none())
                .map(|im| im.id.clone()),
            schema_version: schema.version,
        }
    }

    fn triggered(&self, rc: &ResourceConfig) -> bool {
        rc.lifecycle.replace_triggered_by.iter().any(|t| {
            self.action_of.iter().any(|(a, act)| {
                t.matches(a) && !matches!(act, Action::NoOp | Action::Read | Action::Forget)
            }) || matches!(t, Target::Resource(r) if self.action_of.iter().any(|(a, act)| a.resource == *r && !matches!(act, Action::NoOp | Action::Read | Action::Forget)))
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn plan_instance(
        &mut self,
        rc: &ResourceConfig,
        module: &str,
        schema: &brick_provider_api::schema::ResourceSchema,
        addr: InstanceAddr,
        each: Option<&Value>,
        deps: &[std::sync::Arc<ResourceAddr>],
    ) -> Value {
        let block = &schema.block;
        // Made only when this instance cannot be planned (most are).
        let unknown_obj = || Value::unknown(block.value_type());
        let base = self.working.view(module);
        let scope = InstanceScope {
            base: &base,
            key: &addr.key,
            each_value: each,
        };
        // `precondition` blocks: a false one stops this instance from being planned; an
        // unknown one is checked again during apply.
        let mut failed = false;
        for c in &rc.lifecycle.preconditions {
            if let Some(ds) = (c.check)(&scope) {
                failed |= crate::diag::has_errors(&ds);
                self.diags.extend(ds.into_iter().map(|d| diag_at(d, &addr)));
            }
        }
        if failed {
            return unknown_obj();
        }
        let config = match (rc.body)(&scope, block) {
            Ok(v) => mark_sensitive_owned(conform(v, block), block),
            Err(ds) => {
                self.diags.extend(ds.into_iter().map(|d| diag_at(d, &addr)));
                return unknown_obj();
            }
        };
        // Placed at the argument they name, or at the block when the argument is not written
        // (a default the provider judged), as the plan check's diagnostics are.
        for d in self
            .providers
            .get(&rc.provider)
            .map(|p| p.validate_resource(&addr.resource.type_name, &config))
            .unwrap_or_default()
        {
            let span = rc.source.span_of(&d.attribute);
            self.diags.push(diag_at(d, &addr).at_opt(span));
        }
        let provider = self
            .providers
            .get(&rc.provider)
            .cloned()
            .expect("schema found");
        if let Some(reason) = self.deferral(rc, &addr, deps) {
            let change = self.deferred_change(rc, &addr, &config, schema, deps);
            self.defer(change, reason);
            return unknown_obj();
        }
        if addr.resource.mode == ResourceMode::Data {
            return self
                .plan_data(rc, &*provider, addr, config, deps, schema)
                .await;
        }
        let (prior_inst, previous_addr) = match self.instances.get(&addr) {
            Some((i, p)) => (Some(*i), p.clone()),
            None => (None, None),
        };
        let mut importing = None;
        let mut before = self.current(&addr);
        if before.is_none()
            && prior_inst.is_none()
            && let Some(imp) = self.config.imports.iter().find(|im| im.to == addr)
        {
            match import_one(&*provider, &addr, &imp.id, block).await {
                Ok(v) => {
                    before = Some(v);
                    importing = Some(imp.id.clone());
                }
                Err(d) => {
                    self.diags.push(d);
                    return unknown_obj();
                }
            }
        }
        // ignore_changes: configured values of the listed attributes come from the prior state.
        let config = match (&before, &rc.lifecycle.ignore_changes) {
            (Some(b), IgnoreChanges::All) => {
                let mut m = config.as_mapping().cloned().unwrap_or_default();
                for (name, a) in &block.attributes {
                    if a.settable() {
                        m.insert(
                            name.clone(),
                            b.get(name)
                                .cloned()
                                .unwrap_or_else(|| Value::null(a.ty.clone())),
                        );
                    }
                }
                Value::object(m)
            }
            (Some(b), IgnoreChanges::Attributes(names)) => {
                let mut m = config.as_mapping().cloned().unwrap_or_default();
                for name in names {
                    if let Some(v) = b.get(name) {
                        m.insert(name.clone(), v.clone());
                    }
                }
                Value::object(m)
            }
            _ => config,
        };
        let null;
        let before_or_null = match &before {
            Some(b) => b,
            None => {
                null = Value::null(block.value_type());
                &null
            }
        };
        let (planned, requires_replace) =
            match plan_call(&*provider, &addr, block, before_or_null, &config).await {
                Ok(x) => x,
                Err(ds) => {
                    self.diags.extend(ds);
                    return unknown_obj();
                }
            };
        let tainted = prior_inst.as_ref().is_some_and(|p| p.tainted);
        let by_request = self.opts.replace.iter().any(|t| t.matches(&addr));
        // What changes, decided on borrowed values; the change takes them afterwards.
        let action;
        let mut reason = None;
        let mut replace_paths = Vec::new();
        let mut after = None;
        match &before {
            None => action = Action::Create,
            Some(b) => {
                let mut paths = requires_replace;
                for (name, a) in &block.attributes {
                    if a.forces_replacement
                        && !same(
                            b.get(name).unwrap_or(&Value::null_dynamic()),
                            planned.get(name).unwrap_or(&Value::null_dynamic()),
                        )
                    {
                        let p = vec![PathStep::Attr(name.clone())];
                        if !paths.contains(&p) {
                            paths.push(p);
                        }
                    }
                }
                reason = if tainted {
                    Some(ActionReason::ReplaceBecauseTainted)
                } else if by_request {
                    Some(ActionReason::ReplaceByRequest)
                } else if !paths.is_empty() {
                    Some(ActionReason::ReplaceBecauseCannotUpdate)
                } else if self.triggered(rc) {
                    Some(ActionReason::ReplaceByTriggers)
                } else {
                    None
                };
                if reason.is_some() {
                    // Plan the replacement object from scratch.
                    let null = Value::null(block.value_type());
                    match plan_call(&*provider, &addr, block, &null, &config).await {
                        Ok((p, _)) => after = Some(p),
                        Err(ds) => {
                            self.diags.extend(ds);
                            return unknown_obj();
                        }
                    }
                    action = if rc.lifecycle.create_before_destroy {
                        Action::CreateThenDelete
                    } else {
                        Action::DeleteThenCreate
                    };
                    replace_paths = paths;
                    if rc.lifecycle.prevent_destroy {
                        self.diags
                            .push(prevent_destroy(&addr, rc.lifecycle.decl_span));
                    }
                } else if same(b, &planned) && b.is_wholly_known() {
                    action = Action::NoOp;
                    after = Some(b.clone());
                } else {
                    action = Action::Update;
                }
            }
        }
        let after = mark_sensitive_owned(after.unwrap_or(planned), block);
        self.push_change(ResourceChange {
            addr,
            previous_addr,
            provider: rc.provider.clone(),
            action,
            reason,
            before: before.unwrap_or_else(|| Value::null(block.value_type())),
            after: after.clone(),
            replace_paths,
            depends_on: deps.to_vec(),
            create_before_destroy: rc.lifecycle.create_before_destroy,
            importing,
            schema_version: schema.version,
        });
        after
    }

    /// A data source: read now when its configuration is known and nothing it depends on
    /// changes; otherwise planned as a read during apply.
    async fn plan_data(
        &mut self,
        rc: &ResourceConfig,
        provider: &dyn brick_provider_api::Provider,
        addr: InstanceAddr,
        config: Value,
        deps: &[std::sync::Arc<ResourceAddr>],
        schema: &brick_provider_api::schema::ResourceSchema,
    ) -> Value {
        let pending = deps.iter().any(|d| {
            self.action_of.iter().any(|(a, act)| {
                a.resource.config_addr() == **d && !matches!(act, Action::NoOp | Action::Read)
            })
        });
        // A provider configured only during apply reads then.
        let pending = pending || self.deferred_providers.contains(&rc.provider);
        let reason = if !config.is_wholly_known() {
            Some(ActionReason::ReadBecauseConfigUnknown)
        } else if pending {
            Some(ActionReason::ReadBecauseDependencyPending)
        } else {
            None
        };
        if reason.is_none() {
            match provider
                .read_data_source(&addr.resource.type_name, &config.unmark_deep().0)
                .await
            {
                Ok(v) => {
                    // Recorded as a no-op change, so that apply sees the value read now (and
                    // records it in state, as Terraform does) without reading again.
                    let v = mark_sensitive(&v, &schema.block);
                    let before = self
                        .instances
                        .get(&addr)
                        .map(|(i, _)| i.value.clone())
                        .unwrap_or_else(|| Value::null(schema.block.value_type()));
                    self.push_change(ResourceChange {
                        addr,
                        previous_addr: None,
                        provider: rc.provider.clone(),
                        action: Action::NoOp,
                        reason: None,
                        before,
                        after: v.clone(),
                        replace_paths: Vec::new(),
                        depends_on: deps.to_vec(),
                        create_before_destroy: false,
                        importing: None,
                        schema_version: schema.version,
                    });
                    return v;
                }
                Err(ds) => {
                    self.diags.extend(ds.into_iter().map(|d| diag_at(d, &addr)));
                    return Value::unknown(schema.block.value_type());
                }
            }
        }
        // Computed attributes are unknown until the read.
        let mut after = config.as_mapping().cloned().unwrap_or_default();
        for (name, a) in &schema.block.attributes {
            if !a.settable()
                || after.get(name).is_none_or(Value::is_null)
                    && a.presence != brick_provider_api::schema::Presence::Optional
            {
                after.insert(name.clone(), Value::unknown(a.ty.clone()));
            }
        }
        let after = Value::object(after);
        self.push_change(ResourceChange {
            addr,
            previous_addr: None,
            provider: rc.provider.clone(),
            action: Action::Read,
            reason,
            before: Value::null(schema.block.value_type()),
            after: after.clone(),
            replace_paths: Vec::new(),
            depends_on: deps.to_vec(),
            create_before_destroy: false,
            importing: None,
            schema_version: schema.version,
        });
        after
    }

    /// The provider-level plan check: every configured provider sees every planned change of
    /// the whole plan at once ([`brick_provider_api::Provider::check_plan`]). Its diagnostics
    /// are placed at the resource block (or the argument they name). A plan that already
    /// failed is not checked as a whole: some of its instances were never planned. Providers
    /// configured only during apply are checked there, once configured ([`plan_check`]).
    async fn check_plan(&mut self) {
        if self.diags.iter().any(Diagnostic::is_error) {
            return;
        }
        let mut names: Vec<&String> = self.configured.iter().collect();
        names.sort();
        let mut found = Vec::new();
        for name in names {
            let Some(p) = self.providers.get(name) else {
                continue;
            };
            found.extend(
                plan_check(name, &**p, &self.changes, |addr| {
                    self.graph
                        .by_resource
                        .get(addr)
                        .map(|&i| &self.config.resources[i].source)
                })
                .await,
            );
        }
        self.diags.extend(found);
    }

    fn plan_orphans(&mut self) {
        let all: Vec<InstanceAddr> = self.instances.keys().cloned().collect();
        for addr in all {
            if self.action_of.contains_key(&addr) || self.deferred_instances.contains(&addr) {
                continue;
            }
            let idx = self
                .graph
                .by_resource
                .get(&addr.resource.config_addr())
                .copied();
            match self.opts.mode {
                PlanMode::RefreshOnly => continue,
                PlanMode::Destroy => {
                    if !self.instance_selected(idx, &addr) {
                        continue;
                    }
                    let prevent = idx
                        .map(|i| &self.config.resources[i].lifecycle)
                        .and_then(|lc| lc.prevent_destroy.then_some(lc.decl_span));
                    self.plan_delete(addr, None, prevent);
                }
                PlanMode::Normal => {
                    if self.seen.contains(&addr.resource) || !self.instance_selected(idx, &addr) {
                        continue;
                    }
                    let path = module_names(&addr.resource.module);
                    if self.unexpanded.iter().any(|p| path.starts_with(p)) {
                        continue; // its module's expansion failed: already an error
                    }
                    // As Terraform: "no module" when the call is still configured but this
                    // instance of it is not; with the call gone, the resource's configuration
                    // is gone.
                    let config_module = crate::addr::config_module(&addr.resource.module);
                    let call_configured = self.config.module_calls.iter().any(|c| {
                        let mut path = c.module.clone();
                        path.push(c.name.clone());
                        crate::addr::module_text(&path) == config_module
                    });
                    let reason = if !addr.resource.module.is_empty()
                        && call_configured
                        && !self.working.modules.contains_key(&addr.resource.module)
                    {
                        ActionReason::DeleteBecauseNoModule
                    } else {
                        ActionReason::DeleteBecauseNoResourceConfig
                    };
                    let removed = self.config.removed.iter().find(|r| r.from.matches(&addr));
                    if removed.is_some_and(|r| !r.destroy) {
                        let (inst, prev) = self.instances[&addr].clone();
                        let before = self.current(&addr).unwrap_or_else(Value::null_dynamic);
                        self.push_change(ResourceChange {
                            addr,
                            previous_addr: prev,
                            provider: inst.provider.clone(),
                            action: Action::Forget,
                            reason: Some(reason),
                            before,
                            after: Value::null_dynamic(),
                            replace_paths: Vec::new(),
                            depends_on: inst.depends_on.clone(),
                            create_before_destroy: false,
                            importing: None,
                            schema_version: inst.schema_version,
                        });
                    } else {
                        self.plan_delete(addr, Some(reason), None);
                    }
                }
            }
        }
    }
}

fn prevent_destroy(addr: &InstanceAddr, at: Option<crate::config::Span>) -> Diagnostic {
    let d = Diagnostic::error(
        "brick::plan::prevent_destroy",
        "Instance cannot be destroyed",
        format!(
            "Resource {addr} has lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed."
        ),
    )
    .help("To avoid this error and continue with the plan, either disable lifecycle.prevent_destroy or reduce the scope of the plan using --target.");
    match at {
        Some(span) => d.at(span),
        None => d,
    }
}
