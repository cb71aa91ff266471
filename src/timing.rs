//! Where a run's time goes: waiting on the remote systems (inside provider calls) or in brick
//! itself (evaluation, planning, state writes, scheduling). The engine owns the accounting:
//! every provider in a [`crate::plan::providers::ProviderSet`] is wrapped in [`Timed`], which
//! records each call's interval on the set's [`Clock`]; the planner and the executor turn the
//! intervals of their run into a [`TimeReport`] and emit it as an event (views render it).
//!
//! Calls that reach the system (configure, refresh, apply, data sources, plan checks, drift
//! explanations, imports) are waits; `plan_resource` is pure by contract, so its time is
//! brick's own. Waits of parallel calls overlap: a layer's wait is the union of its calls'
//! intervals (wall time during which brick waited on that system), and brick's own time is the
//! wall time during which no call was in flight.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use brick_provider_api::provider::{
    ApplyRequest, ApplyResponse, ChangeDiagnostic, DriftExplanation, DriftRequest,
    ImportedResource, PlanRequest, PlanResponse, PlannedChange, ReadRequest,
};
use brick_provider_api::schema::ProviderSchema;
use brick_provider_api::{Diagnostics, Provider, Value};

/// One provider call that waited on the system.
#[derive(Clone, Debug)]
struct Span {
    provider: String,
    start: Instant,
    end: Instant,
}

/// The intervals of the provider calls of a set of providers.
#[derive(Default)]
pub struct Clock {
    spans: Mutex<Vec<Span>>,
}

impl Clock {
    /// The current instant: the one clock reading the planner may make (the seam `tidy` keeps
    /// planning code behind), where its report starts.
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    fn record(&self, provider: &str, start: Instant) {
        let end = Instant::now();
        self.spans.lock().expect("clock").push(Span {
            provider: provider.to_string(),
            start,
            end,
        });
    }

    /// A report of the time since `since`: the calls that overlapped it, clipped to it.
    pub fn report(&self, phase: Phase, since: Instant, ops: &OpTimes) -> TimeReport {
        let now = Instant::now();
        let spans: Vec<Span> = self
            .spans
            .lock()
            .expect("clock")
            .iter()
            .filter(|s| s.end > since)
            .map(|s| Span {
                provider: s.provider.clone(),
                start: s.start.max(since),
                end: s.end.min(now),
            })
            .collect();
        let wall = now.duration_since(since);
        let waited = union(spans.iter().map(|s| (s.start, s.end)));
        let mut by: BTreeMap<&str, Vec<(Instant, Instant)>> = BTreeMap::new();
        for s in &spans {
            by.entry(&s.provider).or_default().push((s.start, s.end));
        }
        let mut names: Vec<&str> = by.keys().copied().collect();
        for p in ops.by_provider.keys() {
            if !names.contains(&p.as_str()) {
                names.push(p);
            }
        }
        names.sort_unstable();
        let layers = names
            .into_iter()
            .map(|p| {
                let calls = by.get(p).cloned().unwrap_or_default();
                let o = ops.by_provider.get(p).copied().unwrap_or_default();
                LayerTime {
                    provider: p.to_string(),
                    objects: o.objects,
                    calls: calls.len(),
                    waited: union(calls.into_iter()),
                    own: o.own,
                }
            })
            .collect();
        TimeReport {
            phase,
            wall,
            waited,
            own: wall.saturating_sub(waited),
            critical_path: ops.critical_path,
            layers,
        }
    }
}

/// The length of the union of intervals.
fn union(it: impl Iterator<Item = (Instant, Instant)>) -> Duration {
    let mut v: Vec<(Instant, Instant)> = it.filter(|(a, b)| b > a).collect();
    v.sort_unstable();
    let mut total = Duration::ZERO;
    let mut cur: Option<(Instant, Instant)> = None;
    for (a, b) in v {
        match &mut cur {
            Some((_, e)) if a <= *e => *e = (*e).max(b),
            _ => {
                if let Some((s, e)) = cur {
                    total += e - s;
                }
                cur = Some((a, b));
            }
        }
    }
    if let Some((s, e)) = cur {
        total += e - s;
    }
    total
}

/// What the planner or the executor knows of its operations, per provider.
#[derive(Clone, Debug, Default)]
pub struct OpTimes {
    pub by_provider: BTreeMap<String, LayerOps>,
    /// The executor's longest chain of dependent provider calls (apply only).
    pub critical_path: Option<Duration>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct LayerOps {
    /// Resource instances planned (plan) or changed (apply).
    pub objects: usize,
    /// brick's own time for them: for each operation, from the moment it could start (its
    /// dependencies done) to its result recorded in state, minus its provider call.
    pub own: Duration,
}

impl OpTimes {
    pub fn add(&mut self, provider: &str, own: Duration) {
        // Looked up before inserting: one name copied per provider, not per object.
        if !self.by_provider.contains_key(provider) {
            self.by_provider
                .insert(provider.to_string(), LayerOps::default());
        }
        let Some(e) = self.by_provider.get_mut(provider) else {
            return;
        };
        e.objects += 1;
        e.own += own;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Plan,
    Apply,
}

/// Where one plan's or apply's time went.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeReport {
    pub phase: Phase,
    pub wall: Duration,
    /// Wall time during which at least one provider call was in flight.
    pub waited: Duration,
    /// Wall time during which none was: brick's own time.
    pub own: Duration,
    /// Apply: the longest chain of provider calls that depend on each other — the least wall
    /// time any executor could take.
    pub critical_path: Option<Duration>,
    pub layers: Vec<LayerTime>,
}

/// One provider's share (a layer of the stack: machines, cluster, storage, Kafka).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerTime {
    pub provider: String,
    pub objects: usize,
    pub calls: usize,
    /// Wall time during which one of its calls was in flight.
    pub waited: Duration,
    /// brick's own time for its operations (they overlap other layers' waits).
    pub own: Duration,
}

/// A provider whose calls are timed on a [`Clock`].
pub struct Timed {
    pub inner: Arc<dyn Provider>,
    /// The name the set knows it by (its configuration name: `maas`, `k8s.lab`).
    pub key: String,
    pub clock: Arc<Clock>,
}

impl Timed {
    fn done(&self, start: Instant) {
        self.clock.record(&self.key, start);
    }
}

#[async_trait]
impl Provider for Timed {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn schema(&self) -> ProviderSchema {
        self.inner.schema()
    }
    fn manages_remote_objects(&self) -> bool {
        self.inner.manages_remote_objects()
    }
    fn max_concurrency(&self) -> Option<usize> {
        self.inner.max_concurrency()
    }
    fn apply_order(&self, type_name: &str, value: &Value, destroying: bool) -> i8 {
        self.inner.apply_order(type_name, value, destroying)
    }
    fn batch_size(&self, type_name: &str, destroying: bool) -> usize {
        self.inner.batch_size(type_name, destroying)
    }
    async fn configure(&self, config: &Value) -> Diagnostics {
        let t = Instant::now();
        let r = self.inner.configure(config).await;
        self.done(t);
        r
    }
    fn validate_resource(&self, type_name: &str, config: &Value) -> Diagnostics {
        self.inner.validate_resource(type_name, config)
    }
    fn upgrade_resource_state(
        &self,
        type_name: &str,
        from_version: u64,
        attributes: &serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        // Pure by contract: brick's own time.
        self.inner
            .upgrade_resource_state(type_name, from_version, attributes)
    }
    async fn plan_resource(&self, req: PlanRequest<'_>) -> PlanResponse {
        // Pure by contract: brick's own time.
        self.inner.plan_resource(req).await
    }
    fn plans_unconfigured(&self, type_name: &str) -> bool {
        self.inner.plans_unconfigured(type_name)
    }
    async fn apply_resource(&self, req: ApplyRequest<'_>) -> ApplyResponse {
        let t = Instant::now();
        let r = self.inner.apply_resource(req).await;
        self.done(t);
        r
    }
    async fn read_resource(&self, req: ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        let t = Instant::now();
        let r = self.inner.read_resource(req).await;
        self.done(t);
        r
    }
    async fn read_many(
        &self,
        type_name: &str,
        current: &[Value],
    ) -> Vec<Result<Option<Value>, Diagnostics>> {
        let t = Instant::now();
        let r = self.inner.read_many(type_name, current).await;
        self.done(t);
        r
    }
    async fn import_resource(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<Vec<ImportedResource>, Diagnostics> {
        let t = Instant::now();
        let r = self.inner.import_resource(type_name, id).await;
        self.done(t);
        r
    }
    async fn check_plan(&self, changes: &[PlannedChange<'_>]) -> Vec<ChangeDiagnostic> {
        let t = Instant::now();
        let r = self.inner.check_plan(changes).await;
        self.done(t);
        r
    }
    async fn explain_drift(&self, req: DriftRequest<'_>) -> Result<DriftExplanation, Diagnostics> {
        let t = Instant::now();
        let r = self.inner.explain_drift(req).await;
        self.done(t);
        r
    }
    async fn read_data_source(
        &self,
        type_name: &str,
        config: &Value,
    ) -> Result<Value, Diagnostics> {
        let t = Instant::now();
        let r = self.inner.read_data_source(type_name, config).await;
        self.done(t);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_calls_count_once_and_the_rest_is_brick_s_own() {
        let clock = Clock::default();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut spans = clock.spans.lock().unwrap();
        for (p, a, b) in [("maas", 10, 50), ("maas", 20, 60), ("rook", 70, 80)] {
            spans.push(Span {
                provider: p.into(),
                start: at(a),
                end: at(b),
            });
        }
        drop(spans);
        std::thread::sleep(Duration::from_millis(100));
        let mut ops = OpTimes::default();
        ops.add("maas", Duration::from_millis(3));
        ops.add("maas", Duration::from_millis(2));
        let r = clock.report(Phase::Apply, t0, &ops);
        assert_eq!(r.waited, Duration::from_millis(60));
        assert_eq!(r.own, r.wall - Duration::from_millis(60));
        assert_eq!(r.layers.len(), 2);
        assert_eq!(r.layers[0].provider, "maas");
        assert_eq!(r.layers[0].calls, 2);
        assert_eq!(r.layers[0].objects, 2);
        assert_eq!(r.layers[0].waited, Duration::from_millis(50));
        assert_eq!(r.layers[0].own, Duration::from_millis(5));
        assert_eq!(r.layers[1].waited, Duration::from_millis(10));
    }
}
