//! The scheduling loop: steps start as soon as what they wait for has settled, within
//! `parallelism` and each provider's own limit (among those ready at once, the ones their
//! provider ranks first start first); both count operations, that is requests to a system, so
//! the creates (or deletes) of a type its provider sends together as one request
//! ([`Provider::batch_size`]) take one slot per batch, not one each; the intents of the steps
//! started together become durable in one group commit before any of their provider calls;
//! each result is received and recorded ([`record`](super::record)), releasing or skipping
//! what waits for it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brick_provider_api::{Provider, Value};
use tokio::sync::mpsc;

use super::steps::{Step, StepKind};
use super::task::{Done, Task};
use super::{Executor, PROVIDER_TIMEOUT_GRACE, state_error};
use crate::addr::InstanceAddr;
use crate::diag::Diagnostic;
use crate::event::Event;
use crate::plan::model::{Action, ResourceChange};

/// Steps whose provider sends them together as one request: its name, the resource type, and
/// whether they are deletes (creates otherwise).
type BatchGroup = (String, String, bool);

/// The steps and where each stands.
pub(super) struct Queue {
    pub steps: Vec<Step>,
    /// How each step's provider ranks it (lower first), and whether any ranks differ.
    rank: Vec<i8>,
    ranked: bool,
    ready: VecDeque<usize>,
    /// Steps not settled yet.
    remaining: usize,
    /// Steps started (or settled without a provider call) whose result is not received yet.
    running: usize,
    /// The operations those steps are, which `parallelism` bounds: one per step, except that
    /// the steps of one batch group in flight take one per batch (`ceil(n / batch size)`).
    slots: usize,
    /// Batched steps in flight per group, and each such step's group and batch size.
    batches: HashMap<BatchGroup, usize>,
    batch_of: HashMap<usize, (BatchGroup, usize)>,
    // Time accounting (see crate::timing): when each step could start, and the longest chain
    // of provider calls that ends where each step starts.
    ready_at: Vec<Instant>,
    chain_before: Vec<Duration>,
    pub op_times: crate::timing::OpTimes,
    pub longest: Duration,
    /// Per-provider limits: running counts, the steps counted, and ready steps held back.
    per_provider: HashMap<String, usize>,
    counted: HashSet<usize>,
    held: Vec<usize>,
    /// Intents recorded since the last flush.
    intents_queued: bool,
    /// Tasks whose intents are to be flushed before they start.
    launch: Vec<Task>,
    handles: Vec<tokio::task::JoinHandle<()>>,
    tx: mpsc::UnboundedSender<Done>,
    rx: mpsc::UnboundedReceiver<Done>,
}

impl Queue {
    /// `steps` (none waiting yet), with their providers' `rank`s.
    pub fn new(steps: Vec<Step>, rank: Vec<i8>, started: Instant) -> Queue {
        let (tx, rx) = mpsc::unbounded_channel::<Done>();
        Queue {
            ranked: rank.iter().any(|r| *r != 0),
            rank,
            ready: steps
                .iter()
                .enumerate()
                .filter(|(_, s)| s.waiting == 0)
                .map(|(i, _)| i)
                .collect(),
            remaining: steps.len(),
            running: 0,
            slots: 0,
            batches: HashMap::new(),
            batch_of: HashMap::new(),
            ready_at: vec![started; steps.len()],
            chain_before: vec![Duration::ZERO; steps.len()],
            op_times: crate::timing::OpTimes::default(),
            longest: Duration::ZERO,
            per_provider: HashMap::new(),
            counted: HashSet::new(),
            held: Vec::new(),
            intents_queued: false,
            launch: Vec::new(),
            handles: Vec::new(),
            tx,
            rx,
            steps,
        }
    }

    /// A step's result arrived: it no longer runs, nor counts against its provider's limit
    /// (a batched step frees its slot when its group needs one batch fewer).
    pub fn received(&mut self, step: usize, provider: &str) {
        self.running -= 1;
        self.remaining -= 1;
        // A batched step's slot, in the run and in its provider's limit, is freed when its
        // group needs one batch fewer; another step's provider count is freed when it was
        // started through its provider (not settled at once).
        let (frees_slot, provider_slot) = match self.batch_of.remove(&step) {
            Some((group, size)) => {
                let n = self.batches.entry(group).or_default();
                *n = n.saturating_sub(1);
                let whole = n.is_multiple_of(size);
                (whole, whole)
            }
            None => (true, self.counted.remove(&step)),
        };
        if frees_slot {
            self.slots = self.slots.saturating_sub(1);
        }
        if provider_slot && let Some(n) = self.per_provider.get_mut(provider) {
            *n = n.saturating_sub(1);
        }
    }

    /// Whether a step of `batch` (its group and batch size; `None`: not batched) would take a
    /// slot of its own: unbatched, or the first of a new batch of its group.
    fn opens_slot(&self, batch: Option<&(BatchGroup, usize)>) -> bool {
        batch.is_none_or(|(group, size)| {
            self.batches
                .get(group)
                .copied()
                .unwrap_or(0)
                .is_multiple_of(*size)
        })
    }

    /// A step settled after `elapsed` in its provider call: its time accounted, what waits
    /// for it one wait closer to starting (and skipped when it `failed`).
    pub fn release(&mut self, step: usize, c: &ResourceChange, elapsed: Duration, failed: bool) {
        // The step's provider call was a wait; the rest of its time, since it could start
        // until its result was recorded, was brick's own.
        if c.action != Action::NoOp {
            self.op_times.add(
                &c.provider,
                self.ready_at[step].elapsed().saturating_sub(elapsed),
            );
        }
        let chain = self.chain_before[step] + elapsed;
        self.longest = self.longest.max(chain);
        for d in std::mem::take(&mut self.steps[step].dependents) {
            self.steps[d].waiting -= 1;
            self.chain_before[d] = self.chain_before[d].max(chain);
            if failed && self.steps[d].skipped_because.is_none() {
                self.steps[d].skipped_because = Some(c.addr.clone());
            }
            if self.steps[d].waiting == 0 {
                self.ready_at[d] = Instant::now();
                self.ready.push_back(d);
            }
        }
    }

    /// A step skipped because `addr` failed: settled, and what waits for it skipped too.
    fn skip(&mut self, step: usize, addr: &InstanceAddr) {
        self.remaining -= 1;
        for d in std::mem::take(&mut self.steps[step].dependents) {
            self.steps[d].waiting -= 1;
            if self.steps[d].skipped_because.is_none() {
                self.steps[d].skipped_because = Some(addr.clone());
            }
            if self.steps[d].waiting == 0 {
                self.ready.push_back(d);
            }
        }
    }

    /// A step settled without a provider call: its result is received as any other.
    fn settle(&mut self, step: usize, result: Result<Value, Vec<Diagnostic>>) {
        let _ = self.tx.send(Done::without_provider(step, result));
        self.running += 1;
        self.slots += 1;
    }
}

impl<'a> Executor<'a> {
    /// How each step's provider ranks it among the steps ready at once (a stable order: the
    /// plan's otherwise).
    pub(super) fn ranks(&self, steps: &[Step]) -> Vec<i8> {
        steps
            .iter()
            .map(|s| {
                let c = &self.plan.changes[s.change];
                let destroying = s.kind != StepKind::Apply && s.kind != StepKind::Forget;
                let value = if destroying { &c.before } else { &c.after };
                self.providers.get(&c.provider).map_or(0, |p| {
                    p.apply_order(&c.addr.resource.type_name, value, destroying)
                })
            })
            .collect()
    }

    /// Runs the steps until each has settled, or until nothing more may start (interrupted,
    /// or a state write failed).
    pub(super) async fn run_steps(&mut self) {
        while self.queue.remaining > 0 {
            if self.queue.ranked {
                let rank = &self.queue.rank;
                self.queue.ready.make_contiguous().sort_by_key(|&i| rank[i]);
            }
            self.start_ready().await;
            self.flush_intents();
            for t in self.queue.launch.drain(..) {
                self.queue.handles.push(tokio::spawn(t.run()));
            }
            // A handle keeps its finished task's memory (about 1.7 KB a step): kept only for
            // the steps still running, pruned once the finished ones outnumber them (amortised
            // O(1)).
            if self.queue.handles.len() > 2 * self.queue.running.max(64) {
                self.queue.handles.retain(|h| !h.is_finished());
            }
            if self.queue.running == 0 {
                // Nothing running and nothing may start: interrupted, or a state write failed.
                break;
            }
            let done = tokio::select! {
                d = self.queue.rx.recv() => d,
                _ = self.cancel.aborted() => {
                    for h in &self.queue.handles { h.abort(); }
                    self.out.interrupted = true;
                    break;
                }
            };
            let Some(done) = done else { break };
            self.finished(done).await;
        }
        if self.queue.remaining > 0 && self.cancel.stopping() {
            self.out.interrupted = true;
        }
    }

    /// Starts what is ready, as much as `parallelism` and the providers' limits allow (a step
    /// that joins a batch already in flight takes no slot: it may start when all are taken).
    async fn start_ready(&mut self) {
        let parallelism = self.options.parallelism.max(1);
        while !self.cancel.stopping() {
            let Some(&si) = self.queue.ready.front() else {
                break;
            };
            if self.queue.slots >= parallelism
                && self.queue.opens_slot(self.batch_of_step(si).as_ref())
            {
                break;
            }
            self.queue.ready.pop_front();
            if self.start(si).await.is_break() {
                break;
            }
        }
        for h in self.queue.held.drain(..).rev() {
            self.queue.ready.push_front(h);
        }
    }

    /// The batch group of step `si` and its batch size, when its provider sends such steps
    /// together ([`Provider::batch_size`]): creates (updates never) or deletes.
    fn batch_of_step(&self, si: usize) -> Option<(BatchGroup, usize)> {
        let step = &self.queue.steps[si];
        let c = &self.plan.changes[step.change];
        let destroying = match step.kind {
            StepKind::Apply if c.action.creates() => false,
            StepKind::Destroy | StepKind::DestroyDeposed => true,
            StepKind::Apply | StepKind::Forget => return None,
        };
        if step.skipped_because.is_some() {
            return None;
        }
        let provider = self.providers.get(&c.provider)?;
        let size = provider.batch_size(&c.addr.resource.type_name, destroying);
        (size > 1).then(|| {
            (
                (
                    c.provider.clone(),
                    c.addr.resource.type_name.clone(),
                    destroying,
                ),
                size,
            )
        })
    }

    /// Starts step `si`: skipped, settled at once, held back for its provider's limit, or
    /// checked, planned finally, its intent recorded and its task queued to launch. `Break`
    /// when its intent could not be recorded: nothing more starts.
    async fn start(&mut self, si: usize) -> ControlFlow<()> {
        let plan = self.plan;
        let step = &self.queue.steps[si];
        let c = &plan.changes[step.change];
        let kind = step.kind;
        if let Some(because) = step.skipped_because.clone() {
            self.events.emit(Event::Skipped {
                addr: c.addr.clone(),
                because,
            });
            self.queue.skip(si, &c.addr);
            return ControlFlow::Continue(());
        }
        // Steps that need no provider call finish at once.
        if kind == StepKind::Forget || (kind == StepKind::Apply && c.action == Action::NoOp) {
            let result = self.record_untouched(c, kind);
            self.queue.settle(si, result);
            return ControlFlow::Continue(());
        }
        let Some(provider) = self.providers.get(&c.provider).cloned() else {
            self.queue.settle(
                si,
                Err(vec![Diagnostic::error(
                    "brick::apply::unknown_provider",
                    "Provider not available",
                    format!("{} needs the provider {:?}.", c.addr, c.provider),
                )]),
            );
            return ControlFlow::Continue(());
        };
        let batch = self.batch_of_step(si);
        let opens_slot = self.queue.opens_slot(batch.as_ref());
        if let Some(limit) = provider.max_concurrency()
            && opens_slot
            && self
                .queue
                .per_provider
                .get(&c.provider)
                .copied()
                .unwrap_or(0)
                >= limit.max(1)
        {
            self.queue.held.push(si);
            return ControlFlow::Continue(());
        }
        if let Err(ds) = self.late_provider_ready(c, &*provider).await {
            self.queue.settle(si, Err(ds));
            return ControlFlow::Continue(());
        }
        if let Err(ds) = self.check_before_call(c, kind).await {
            self.queue.settle(si, Err(ds));
            return ControlFlow::Continue(());
        }
        let destroying = kind != StepKind::Apply;
        let (prior, planned) = match self.values_to_send(c, destroying, &*provider).await {
            Ok(sent) => sent,
            Err(ds) => {
                self.queue.settle(si, Err(ds));
                return ControlFlow::Continue(());
            }
        };
        if (c.action.creates() || destroying) && provider.manages_remote_objects() {
            let target = if destroying { &prior } else { &planned };
            if let Err(e) = self.sink.intent(&c.addr, c.action, destroying, target) {
                self.out.diagnostics.push(state_error(e));
                self.cancel.stop();
                self.queue.ready.push_front(si);
                return ControlFlow::Break(());
            }
            self.queue.intents_queued = true;
        }
        let task = self.begin(si, c, destroying, provider, prior, planned);
        self.queue.launch.push(task);
        if opens_slot {
            *self
                .queue
                .per_provider
                .entry(c.provider.clone())
                .or_default() += 1;
            self.queue.slots += 1;
        }
        match batch {
            Some((group, size)) => {
                *self.queue.batches.entry(group.clone()).or_default() += 1;
                self.queue.batch_of.insert(si, (group, size));
            }
            None => {
                self.queue.counted.insert(si);
            }
        }
        self.queue.running += 1;
        ControlFlow::Continue(())
    }

    /// Says that step `si` starts, and makes its provider call's task: `prior` and `planned`
    /// as sent, cut off at the resource's `timeouts` (a type that enforces its own `timeouts`
    /// block, as Terraform's semantics have it, is only backed up by the engine, a grace
    /// period later).
    fn begin(
        &self,
        si: usize,
        c: &ResourceChange,
        destroying: bool,
        provider: Arc<dyn Provider>,
        prior: Value,
        planned: Value,
    ) -> Task {
        let rc = self.resource_of(c);
        let own_timeouts = self
            .providers
            .resource_schema(&c.provider, &c.addr.resource)
            .is_ok_and(|s| s.block.blocks.contains_key("timeouts"));
        let timeout = rc
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
        self.events.emit(Event::ApplyStart {
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
        Task {
            step: si,
            addr: c.addr.clone(),
            action: c.action,
            destroying,
            type_name: c.addr.resource.type_name.clone(),
            provider,
            prior: prior.unmark_deep().0,
            planned_plain: planned.unmark_deep().0,
            planned,
            timeout,
            spans: rc.map(|rc| rc.source.clone()).unwrap_or_default(),
            events: self.events.clone(),
            interval: self.options.progress_interval,
            tx: self.queue.tx.clone(),
        }
    }

    /// Intents become durable together, before any of their provider calls starts; when that
    /// fails, none of those calls starts.
    fn flush_intents(&mut self) {
        if !std::mem::take(&mut self.queue.intents_queued) {
            return;
        }
        if let Err(e) = self.sink.flush_intents() {
            self.out.diagnostics.push(state_error(e));
            self.cancel.stop();
            for t in self.queue.launch.drain(..) {
                let _ = self.queue.tx.send(Done::without_provider(
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
}
