//! The planner and the executor on configurations built directly (no HCL): actions, ordering,
//! failures, parallelism, drift, expansion and lifecycle rules, with the built-in `brick_data`
//! and the fake provider.

use std::sync::Arc;
use std::time::Duration;

use brick::apply::memory::MemoryState;
use brick::apply::{ApplyInput, ApplyOptions, Cancel, apply};
use brick::builtin::BrickProvider;
use brick::eval::{Reference, Scope};
use brick::event::{CollectEvents, Event, NoEvents};
use brick::input::*;
use brick::plan::address::{InstanceKey, ResourceAddr, Target};
use brick::plan::model::{Action, ActionReason, Plan, PlanMode, PriorState};
use brick::plan::providers::ProviderSet;
use brick::plan::{Options, plan};
use brick_provider_api::fake::FakeProvider;
use brick_provider_api::{Type, Value};

fn rref(name: &str) -> Reference {
    Reference::Resource {
        type_name: "brick_data".into(),
        name: name.into(),
    }
}

/// `brick_data.NAME { input = INPUT }` where INPUT is a constant.
fn data(name: &str, input: Value) -> ResourceConfig {
    let body: EvalFn = Arc::new(move |_, _| Ok(Value::object_from([("input", input.clone())])));
    resource("brick_data", name, "brick", body, vec![])
}

/// `brick_data.NAME { input = brick_data.FROM.output }`.
fn data_from(name: &str, from: &str) -> ResourceConfig {
    let r = rref(from);
    let r2 = r.clone();
    let body: EvalFn = Arc::new(move |scope: &dyn Scope, _| {
        let v = scope
            .get(&r2)
            .and_then(|o| o.get("output").cloned())
            .unwrap_or_else(|| Value::unknown(Type::Dynamic));
        Ok(Value::object_from([("input", v)]))
    });
    resource("brick_data", name, "brick", body, vec![r])
}

fn resource(
    ty: &str,
    name: &str,
    provider: &str,
    body: EvalFn,
    refs: Vec<Reference>,
) -> ResourceConfig {
    ResourceConfig {
        addr: ResourceAddr::managed(ty, name),
        provider: provider.into(),
        expansion: Expansion::Single,
        body,
        references: refs,
        depends_on: vec![],
        lifecycle: Lifecycle::default(),
        timeouts: Timeouts::default(),
        source: Default::default(),
    }
}

fn fake(name: &str, deps: &[&str]) -> ResourceConfig {
    let n = name.to_string();
    let refs: Vec<Reference> = deps
        .iter()
        .map(|d| Reference::Resource {
            type_name: "fake_thing".into(),
            name: d.to_string(),
        })
        .collect();
    let body: EvalFn =
        Arc::new(move |_, _| Ok(Value::object_from([("name", Value::string(n.clone()))])));
    resource("fake_thing", name, "fake", body, refs)
}

fn config(resources: Vec<ResourceConfig>) -> Configuration {
    Configuration {
        resources,
        hash: "h".into(),
        ..Default::default()
    }
}

struct World {
    providers: ProviderSet,
    fake: Arc<FakeProvider>,
    state: PriorState,
}

impl World {
    fn new() -> World {
        let fake = Arc::new(FakeProvider::new());
        let mut providers = ProviderSet::new();
        providers.insert("brick", Arc::new(BrickProvider::with_sequential_ids()));
        providers.insert("fake", fake.clone());
        World {
            providers,
            fake,
            state: PriorState::default(),
        }
    }

    async fn plan(&self, c: &Configuration, opts: &Options) -> Plan {
        plan(c, &self.state, &self.providers, opts, &NoEvents).await
    }

    async fn apply(
        &mut self,
        c: &Configuration,
        p: &Plan,
        parallelism: usize,
    ) -> (brick::apply::ApplyOutcome, MemoryState) {
        let mut sink = MemoryState::new(self.state.clone());
        let events = Arc::new(CollectEvents::default());
        let out = apply(ApplyInput {
            plan: p,
            config: c,
            prior: &self.state,
            providers: &self.providers,
            sink: &mut sink,
            events,
            options: ApplyOptions {
                parallelism,
                ..Default::default()
            },
            cancel: &Cancel::new(),
        })
        .await;
        self.state = sink.state.clone();
        (out, sink)
    }

    async fn converge(&mut self, c: &Configuration) -> Plan {
        let p = self.plan(c, &Options::default()).await;
        assert!(!p.errored, "{:?}", p.diagnostics);
        let (out, _) = self.apply(c, &p, 10).await;
        assert!(!out.has_errors(), "{:?}", out.diagnostics);
        p
    }
}

fn actions(p: &Plan) -> Vec<(String, Action)> {
    p.changes
        .iter()
        .map(|c| (c.addr.to_string(), c.action))
        .collect()
}

#[tokio::test]
async fn a_chain_is_created_then_planned_as_no_op_then_updated_through_unknown_values() {
    let mut w = World::new();
    let c = config(vec![
        data("a", Value::string("one")),
        data_from("b", "a"),
        data_from("c", "b"),
    ]);
    let p = w.plan(&c, &Options::default()).await;
    assert_eq!(
        actions(&p),
        [
            ("brick_data.a".into(), Action::Create),
            ("brick_data.b".into(), Action::Create),
            ("brick_data.c".into(), Action::Create)
        ]
    );
    assert!(
        !p.changes[1].after.get("input").unwrap().is_known(),
        "b's input is known after apply"
    );
    let (out, _) = w.apply(&c, &p, 10).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    assert_eq!(out.added, 3);
    let c_state = &w.state.instances[&"brick_data.c".parse().unwrap()].value;
    assert_eq!(c_state.get("output"), Some(&Value::string("one")));

    let p = w.plan(&c, &Options::default()).await;
    assert!(p.changes.iter().all(|c| c.action == Action::NoOp));
    assert!(!p.has_changes());

    let c2 = config(vec![
        data("a", Value::string("two")),
        data_from("b", "a"),
        data_from("c", "b"),
    ]);
    let p = w.plan(&c2, &Options::default()).await;
    assert_eq!(
        p.changes.iter().map(|c| c.action).collect::<Vec<_>>(),
        [Action::Update; 3]
    );
    let (out, _) = w.apply(&c2, &p, 10).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let c_state = &w.state.instances[&"brick_data.c".parse().unwrap()].value;
    assert_eq!(c_state.get("output"), Some(&Value::string("two")));
    assert!(!w.plan(&c2, &Options::default()).await.has_changes());
}

#[tokio::test]
async fn a_failure_skips_only_its_dependents_and_every_error_is_reported() {
    let mut w = World::new();
    w.fake.fail_on("b");
    w.fake.fail_on("x");
    let c = config(vec![
        fake("a", &[]),
        fake("b", &["a"]),
        fake("c", &["b"]),
        fake("d", &[]),
        fake("x", &[]),
    ]);
    let p = w.plan(&c, &Options::default()).await;
    let (out, _) = w.apply(&c, &p, 10).await;
    assert_eq!(out.diagnostics.len(), 2, "{:?}", out.diagnostics);
    let names: Vec<String> = w.state.instances.keys().map(|a| a.to_string()).collect();
    assert_eq!(names, ["fake_thing.a", "fake_thing.d"]);
}

#[tokio::test]
async fn apply_never_runs_more_than_parallelism_operations_at_once() {
    let mut w = World::new();
    *w.fake.apply_delay.lock().unwrap() = Duration::from_millis(40);
    let c = config((0..12).map(|i| fake(&format!("n{i}"), &[])).collect());
    let p = w.plan(&c, &Options::default()).await;
    let (out, _) = w.apply(&c, &p, 3).await;
    assert!(!out.has_errors());
    assert_eq!(
        w.fake
            .max_concurrent
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    assert_eq!(w.state.instances.len(), 12);
}

#[tokio::test]
async fn creates_and_deletes_a_provider_batches_take_one_slot_of_parallelism_per_batch() {
    use std::sync::atomic::Ordering::SeqCst;
    let mut w = World::new();
    *w.fake.apply_delay.lock().unwrap() = Duration::from_millis(40);
    w.fake.batch_size.store(5, SeqCst);
    let c = config((0..12).map(|i| fake(&format!("n{i}"), &[])).collect());
    let p = w.plan(&c, &Options::default()).await;
    let (out, _) = w.apply(&c, &p, 2).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    assert_eq!(w.state.instances.len(), 12);
    assert_eq!(
        w.fake.max_concurrent.load(SeqCst),
        10,
        "two slots of parallelism, each a batch of five creates"
    );

    w.fake.max_concurrent.store(0, SeqCst);
    let destroy = Options {
        mode: PlanMode::Destroy,
        ..Default::default()
    };
    let p = w.plan(&c, &destroy).await;
    let (out, _) = w.apply(&c, &p, 2).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    assert!(w.state.instances.is_empty());
    assert_eq!(w.fake.max_concurrent.load(SeqCst), 10, "deletes batch too");

    // The provider's own limit counts batches the same way: one batch of five at a time.
    w.fake.max_concurrent.store(0, SeqCst);
    w.fake.concurrency_limit.store(1, SeqCst);
    let p = w.plan(&c, &Options::default()).await;
    let (out, _) = w.apply(&c, &p, 10).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    assert_eq!(w.state.instances.len(), 12);
    assert_eq!(w.fake.max_concurrent.load(SeqCst), 5);
}

#[tokio::test]
async fn among_ready_steps_the_provider_apply_order_starts_first_and_destroys_last() {
    // Like a namespace (rank -2 applying, 1 destroying) and a CRD (-1, 1) among objects of
    // rank 0: no dependency between them, parallelism 1, so the start order is the ranking.
    let mut w = World::new();
    w.fake
        .order
        .lock()
        .unwrap()
        .extend([("ns".to_string(), (-2, 1)), ("crd".to_string(), (-1, 1))]);
    let c = config(vec![
        fake("a", &[]),
        fake("crd", &[]),
        fake("b", &[]),
        fake("ns", &[]),
    ]);
    let p = w.plan(&c, &Options::default()).await;
    let (out, _) = w.apply(&c, &p, 1).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let creates: Vec<String> = w
        .fake
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            brick_provider_api::fake::Call::Create(id) => {
                Some(id.rsplit_once('-').unwrap().0.to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(creates, ["ns", "crd", "a", "b"]);
    let p = w
        .plan(
            &c,
            &Options {
                mode: PlanMode::Destroy,
                ..Default::default()
            },
        )
        .await;
    let (out, sink) = w.apply(&c, &p, 1).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let order: Vec<String> = sink.intents.iter().map(|(a, _, _)| a.to_string()).collect();
    assert_eq!(
        order,
        [
            "fake_thing.a",
            "fake_thing.b",
            "fake_thing.crd",
            "fake_thing.ns"
        ]
    );
}

#[tokio::test]
async fn destroy_removes_dependents_before_their_dependencies() {
    let mut w = World::new();
    let c = config(vec![fake("a", &[]), fake("b", &["a"]), fake("c", &["b"])]);
    w.converge(&c).await;
    let p = w
        .plan(
            &c,
            &Options {
                mode: PlanMode::Destroy,
                ..Default::default()
            },
        )
        .await;
    assert!(p.changes.iter().all(|c| c.action == Action::Delete));
    let (out, sink) = w.apply(&c, &p, 10).await;
    assert!(!out.has_errors());
    let order: Vec<String> = sink.intents.iter().map(|(a, _, _)| a.to_string()).collect();
    assert_eq!(order, ["fake_thing.c", "fake_thing.b", "fake_thing.a"]);
    assert!(w.state.instances.is_empty());
    assert!(w.fake.objects().is_empty());
}

#[tokio::test]
async fn a_changed_trigger_replaces_and_create_before_destroy_creates_first() {
    let mut w = World::new();
    let mk = |t: i64, cbd: bool| {
        let body: EvalFn = Arc::new(move |_, _| {
            Ok(Value::object_from([
                ("input", Value::string("x")),
                ("triggers_replace", Value::number(t)),
            ]))
        });
        let mut r = resource("brick_data", "r", "brick", body, vec![]);
        r.lifecycle.create_before_destroy = cbd;
        config(vec![r])
    };
    w.converge(&mk(1, false)).await;
    let p = w.plan(&mk(2, false), &Options::default()).await;
    assert_eq!(p.changes[0].action, Action::DeleteThenCreate);
    assert_eq!(
        p.changes[0].reason,
        Some(ActionReason::ReplaceBecauseCannotUpdate)
    );
    assert_eq!(p.changes[0].replace_paths.len(), 1);
    let old_id = w
        .state
        .instances
        .values()
        .next()
        .unwrap()
        .value
        .get("id")
        .cloned();
    w.apply(&mk(2, false), &p, 10).await;
    let new_id = w
        .state
        .instances
        .values()
        .next()
        .unwrap()
        .value
        .get("id")
        .cloned();
    assert_ne!(old_id, new_id);
    let p = w.plan(&mk(3, true), &Options::default()).await;
    assert_eq!(p.changes[0].action, Action::CreateThenDelete);
}

#[tokio::test]
async fn prevent_destroy_makes_the_plan_fail_with_a_clear_error() {
    let mut w = World::new();
    let mut r = data("keep", Value::string("x"));
    r.lifecycle.prevent_destroy = true;
    let c = config(vec![r]);
    w.converge(&c).await;
    let p = w
        .plan(
            &c,
            &Options {
                mode: PlanMode::Destroy,
                ..Default::default()
            },
        )
        .await;
    assert!(p.errored);
    assert_eq!(p.diagnostics[0].code, "brick::plan::prevent_destroy");
}

#[tokio::test]
async fn drift_is_reported_separately_and_the_fix_is_planned() {
    let mut w = World::new();
    let c = config(vec![fake("a", &[])]);
    w.converge(&c).await;
    let id = w.fake.objects().keys().next().unwrap().clone();
    w.fake.tamper(&id, "value", Value::string("changed"));
    let p = w.plan(&c, &Options::default()).await;
    assert_eq!(p.drift.len(), 1);
    assert_eq!(
        p.drift[0].after.get("value"),
        Some(&Value::string("changed"))
    );
    assert_eq!(p.changes[0].action, Action::Update);
    let p = w
        .plan(
            &c,
            &Options {
                mode: PlanMode::RefreshOnly,
                ..Default::default()
            },
        )
        .await;
    assert!(p.changes.is_empty());
    assert!(
        p.has_changes(),
        "a refresh-only plan with drift has something to record"
    );
    w.fake.remove_object(&id);
    let p = w.plan(&c, &Options::default()).await;
    assert_eq!(
        p.changes[0].action,
        Action::Create,
        "a deleted object is created again"
    );
}

#[tokio::test]
async fn shrinking_a_count_deletes_the_highest_indices_with_their_reason() {
    let mut w = World::new();
    let mk = |n: i64| {
        let mut r = data("n", Value::string("x"));
        r.expansion = Expansion::Count(constant(Value::number(n)), None);
        config(vec![r])
    };
    w.converge(&mk(3)).await;
    assert_eq!(w.state.instances.len(), 3);
    let p = w.plan(&mk(1), &Options::default()).await;
    let dels: Vec<_> = p
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .collect();
    assert_eq!(dels.len(), 2);
    assert_eq!(dels[0].addr.key, InstanceKey::Int(1));
    assert_eq!(dels[0].reason, Some(ActionReason::DeleteBecauseCountIndex));
}

#[tokio::test]
async fn targeting_plans_only_the_target_and_what_it_depends_on() {
    let w = World::new();
    let c = config(vec![
        data("a", Value::string("x")),
        data_from("b", "a"),
        data("z", Value::string("y")),
    ]);
    let opts = Options {
        targets: vec!["brick_data.b".parse::<Target>().unwrap()],
        ..Default::default()
    };
    let p = w.plan(&c, &opts).await;
    let names: Vec<_> = p.changes.iter().map(|c| c.addr.to_string()).collect();
    assert_eq!(names, ["brick_data.a", "brick_data.b"]);
    let opts = Options {
        excludes: vec!["brick_data.a".parse::<Target>().unwrap()],
        ..Default::default()
    };
    let p = w.plan(&c, &opts).await;
    let names: Vec<_> = p.changes.iter().map(|c| c.addr.to_string()).collect();
    assert_eq!(names, ["brick_data.z"]);
}

#[tokio::test]
async fn a_moved_block_renames_without_replacing() {
    let mut w = World::new();
    w.converge(&config(vec![data("old", Value::string("x"))]))
        .await;
    let mut c = config(vec![data("new", Value::string("x"))]);
    c.moved.push(Moved {
        from: "brick_data.old".parse().unwrap(),
        to: "brick_data.new".parse().unwrap(),
    });
    let p = w.plan(&c, &Options::default()).await;
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].action, Action::NoOp);
    assert_eq!(
        p.changes[0].previous_addr.as_ref().unwrap().to_string(),
        "brick_data.old"
    );
    w.apply(&c, &p, 10).await;
    let names: Vec<String> = w.state.instances.keys().map(|a| a.to_string()).collect();
    assert_eq!(names, ["brick_data.new"]);
}

#[tokio::test]
async fn replace_by_request_and_an_import_block_are_planned() {
    let mut w = World::new();
    let c = config(vec![data("a", Value::string("x"))]);
    w.converge(&c).await;
    let p = w
        .plan(
            &c,
            &Options {
                replace: vec!["brick_data.a".parse().unwrap()],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(p.changes[0].action, Action::DeleteThenCreate);
    assert_eq!(p.changes[0].reason, Some(ActionReason::ReplaceByRequest));

    let mut c = config(vec![
        data("a", Value::string("x")),
        data("imp", Value::null_dynamic()),
    ]);
    c.imports.push(Import {
        to: "brick_data.imp".parse().unwrap(),
        id: "given-id".into(),
    });
    let p = w.plan(&c, &Options::default()).await;
    let imp = p
        .changes
        .iter()
        .find(|c| c.addr.to_string() == "brick_data.imp")
        .unwrap();
    assert_eq!(imp.importing.as_deref(), Some("given-id"));
    assert_eq!(imp.action, Action::NoOp);
    w.apply(&c, &p, 10).await;
    let v = &w.state.instances[&"brick_data.imp".parse().unwrap()].value;
    assert_eq!(v.get("id"), Some(&Value::string("given-id")));
}

// A provider whose configuration is unknown at plan time is configured during apply; its
// creates are planned now (tests/engine_late_providers.rs covers the rest).
#[tokio::test]
async fn a_provider_configured_from_unknown_values_is_configured_during_apply() {
    let w = World::new();
    let mut c = config(vec![data("a", Value::string("x")), fake("f", &[])]);
    let r = rref("a");
    let r2 = r.clone();
    c.providers.push(ProviderConfig {
        name: "fake".into(),
        type_name: "fake".into(),
        body: Arc::new(move |s: &dyn Scope, _| {
            Ok(Value::object_from([(
                "endpoint",
                s.get(&r2).and_then(|o| o.get("id").cloned()).unwrap(),
            )]))
        }),
        references: vec![r],
    });
    let p = w.plan(&c, &Options::default()).await;
    assert!(!p.errored, "{:?}", p.diagnostics);
    assert!(p.deferred.is_empty());
    assert_eq!(p.configured_during_apply.len(), 1);
    assert_eq!(p.configured_during_apply[0].name, "fake");
    assert_eq!(
        actions(&p),
        [
            ("brick_data.a".into(), Action::Create),
            ("fake_thing.f".into(), Action::Create)
        ]
    );
    assert!(
        w.fake.calls().is_empty(),
        "not configured at plan: {:?}",
        w.fake.calls()
    );
}

#[tokio::test]
async fn outputs_are_recorded_even_without_resources() {
    let mut w = World::new();
    let mut c = config(vec![]);
    c.outputs.push(OutputConfig {
        module: Vec::new(),
        name: "greeting".into(),
        expr: constant(Value::string("hi")),
        at_apply: None,
        preconditions: Vec::new(),
        references: vec![],
        sensitive: false,
    });
    let p = w.plan(&c, &Options::default()).await;
    assert!(p.has_changes());
    let (out, _) = w.apply(&c, &p, 10).await;
    assert!(!out.has_errors());
    assert_eq!(w.state.outputs["greeting"].0, Value::string("hi"));
    assert!(!w.plan(&c, &Options::default()).await.has_changes());
}

#[tokio::test]
async fn events_report_start_and_completion_of_each_step() {
    let w = World::new();
    let c = config(vec![data("a", Value::string("x"))]);
    let p = w.plan(&c, &Options::default()).await;
    let mut sink = MemoryState::new(w.state.clone());
    let events = Arc::new(CollectEvents::default());
    apply(ApplyInput {
        plan: &p,
        config: &c,
        prior: &w.state,
        providers: &w.providers,
        sink: &mut sink,
        events: events.clone(),
        options: ApplyOptions::default(),
        cancel: &Cancel::new(),
    })
    .await;
    let ev = events.0.lock().unwrap();
    assert!(matches!(
        ev[0],
        Event::ApplyStart {
            action: Action::Create,
            ..
        }
    ));
    assert!(matches!(
        ev[1],
        Event::ApplyDone {
            action: Action::Create,
            ..
        }
    ));
}

#[tokio::test]
async fn a_step_past_its_timeout_fails_and_independent_work_continues() {
    let mut w = World::new();
    *w.fake.apply_delay.lock().unwrap() = Duration::from_millis(300);
    let mut slow = fake("slow", &[]);
    slow.timeouts.create = Some(Duration::from_millis(50));
    let c = config(vec![slow, fake("other", &[])]);
    let p = w.plan(&c, &Options::default()).await;
    let (out, _) = w.apply(&c, &p, 10).await;
    assert_eq!(out.diagnostics.len(), 1, "{:?}", out.diagnostics);
    assert_eq!(out.diagnostics[0].code, "brick::apply::timeout");
    assert!(
        w.state
            .instances
            .contains_key(&"fake_thing.other".parse().unwrap())
    );
}

#[tokio::test]
async fn an_interrupt_lets_running_steps_finish_and_starts_nothing_new() {
    let w = World::new();
    *w.fake.apply_delay.lock().unwrap() = Duration::from_millis(200);
    let c = config((0..6).map(|i| fake(&format!("n{i}"), &[])).collect());
    let p = w.plan(&c, &Options::default()).await;
    let mut sink = MemoryState::new(w.state.clone());
    let cancel = Cancel::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        c2.interrupt();
    });
    let out = apply(ApplyInput {
        plan: &p,
        config: &c,
        prior: &w.state,
        providers: &w.providers,
        sink: &mut sink,
        events: Arc::new(NoEvents),
        options: ApplyOptions {
            parallelism: 2,
            ..Default::default()
        },
        cancel: &cancel,
    })
    .await;
    assert!(out.interrupted);
    assert_eq!(
        sink.state.instances.len(),
        2,
        "the two running creates finished and were recorded"
    );
    assert_eq!(w.fake.objects().len(), 2, "nothing else was created");
    assert!(
        out.diagnostics
            .iter()
            .any(|d| d.code == "brick::apply::interrupted")
    );
}

#[tokio::test]
async fn ignore_changes_keeps_the_recorded_value() {
    let mut w = World::new();
    let mut r = data("a", Value::string("one"));
    r.lifecycle.ignore_changes = IgnoreChanges::Attributes(vec!["input".into()]);
    w.converge(&config(vec![r.clone()])).await;
    let mut r2 = data("a", Value::string("two"));
    r2.lifecycle = r.lifecycle.clone();
    let p = w.plan(&config(vec![r2]), &Options::default()).await;
    assert_eq!(p.changes[0].action, Action::NoOp);
}

#[tokio::test]
async fn replace_triggered_by_replaces_when_the_trigger_changes() {
    let mut w = World::new();
    let mk = |v: &str| {
        let mut b = data("b", Value::string("fixed"));
        b.lifecycle.replace_triggered_by = vec!["brick_data.a".parse().unwrap()];
        b.references.push(rref("a"));
        config(vec![data("a", Value::string(v)), b])
    };
    w.converge(&mk("one")).await;
    let p = w.plan(&mk("two"), &Options::default()).await;
    let b = p
        .changes
        .iter()
        .find(|c| c.addr.to_string() == "brick_data.b")
        .unwrap();
    assert_eq!(b.action, Action::DeleteThenCreate);
    assert_eq!(b.reason, Some(ActionReason::ReplaceByTriggers));
}

#[tokio::test]
async fn applying_a_refresh_only_plan_records_drift_and_changes_nothing_real() {
    let mut w = World::new();
    let c = config(vec![fake("a", &[])]);
    w.converge(&c).await;
    let id = w.fake.objects().keys().next().unwrap().clone();
    w.fake.tamper(&id, "value", Value::string("outside"));
    let calls_before = w.fake.calls().len();
    let p = w
        .plan(
            &c,
            &Options {
                mode: PlanMode::RefreshOnly,
                ..Default::default()
            },
        )
        .await;
    let (out, _) = w.apply(&c, &p, 10).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let v = &w.state.instances[&"fake_thing.a".parse().unwrap()].value;
    assert_eq!(v.get("value"), Some(&Value::string("outside")));
    let writes = w.fake.calls()[calls_before..]
        .iter()
        .filter(|c| {
            !matches!(
                c,
                brick_provider_api::fake::Call::Read(_) | brick_provider_api::fake::Call::Configure
            )
        })
        .count();
    assert_eq!(writes, 0, "no create, update or delete was called");
}

#[tokio::test]
async fn a_provider_limit_caps_its_operations_below_the_run_parallelism() {
    let mut w = World::new();
    *w.fake.apply_delay.lock().unwrap() = Duration::from_millis(30);
    w.fake
        .concurrency_limit
        .store(2, std::sync::atomic::Ordering::SeqCst);
    let mut rs: Vec<ResourceConfig> = (0..8).map(|i| fake(&format!("n{i}"), &[])).collect();
    rs.push(data("unlimited", Value::string("x")));
    let c = config(rs);
    let p = w.plan(&c, &Options::default()).await;
    let (out, _) = w.apply(&c, &p, 10).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    assert_eq!(
        w.fake
            .max_concurrent
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    assert_eq!(w.state.instances.len(), 9);
}

/// The configuration of HCL `text` (one file, `/cfg/main.hcl`), as the CLI builds it, and the
/// loaded files for locating diagnostics.
fn from_hcl(text: &str) -> (Configuration, Vec<brick::config::SourceFile>) {
    let fs = brick::config::MemoryFs::new().with("/cfg/main.hcl", text);
    let (c, d) = brick::config::load(&fs, &brick::eval::Constants, std::path::Path::new("/cfg"));
    let c = c.unwrap_or_else(|| panic!("the configuration does not load: {d:?}"));
    let env: Arc<dyn brick::eval::Environment> = Arc::new(brick::eval::NullEnvironment);
    let (engine, d) = brick::plan::from_config::from_config(&c, Default::default(), env);
    assert!(d.is_empty(), "from_config: {d:?}");
    (engine, c.files)
}

/// 1-based line of a diagnostic's span.
fn line_of(d: &brick::diag::Diagnostic, files: &[brick::config::SourceFile]) -> usize {
    let span = d.span.unwrap_or_else(|| panic!("no span: {d:?}"));
    files[span.file].text[..span.start].matches('\n').count() + 1
}

#[tokio::test]
async fn a_provider_level_plan_check_sees_the_whole_plan_and_its_errors_fail_it_at_the_block() {
    use brick_provider_api::diag::Diagnostic as ProviderDiagnostic;
    use brick_provider_api::{ChangeAction, ChangeDiagnostic};
    let w = World::new();
    // Refuses any fake_thing bigger than the sum of the others' sizes; brick_data changes
    // (another provider's) are seen as well.
    w.fake.on_check_plan(|changes| {
        let size = |v: &Value| {
            v.get("size")
                .and_then(Value::as_number)
                .map_or(0.0, |n| n.to_f64())
        };
        let total: f64 = changes.iter().map(|c| size(c.planned)).sum();
        let mut out = Vec::new();
        for (i, c) in changes.iter().enumerate() {
            if c.type_name == "fake_thing" && size(c.planned) * 2.0 > total {
                out.push(ChangeDiagnostic {
                    change: i,
                    diagnostic: ProviderDiagnostic::error(
                        "brick::fake::too_big",
                        "Thing too big",
                        format!("{} is bigger than all the others together.", c.address),
                    )
                    .at(["size"]),
                });
            }
            if c.type_name == "brick_data" {
                out.push(ChangeDiagnostic {
                    change: i,
                    diagnostic: ProviderDiagnostic::warning(
                        "brick::fake::seen",
                        "Seen",
                        format!("{} was seen.", c.address),
                    ),
                });
            }
        }
        out
    });
    let text = r#"resource "brick_data" "d" {
  input = "x"
}

resource "fake_thing" "small" {
  name = "small"
  size = 1
}

resource "fake_thing" "big" {
  name = "big"
  size = 5
}
"#;
    let (c, files) = from_hcl(text);
    let p = w.plan(&c, &Options::default()).await;
    assert!(p.errored, "{:?}", p.diagnostics);
    assert_eq!(
        w.fake.plan_checks(),
        [vec![
            ("brick_data.d".to_string(), ChangeAction::Create),
            ("fake_thing.big".to_string(), ChangeAction::Create),
            ("fake_thing.small".to_string(), ChangeAction::Create),
        ]],
        "one check per plan, with every provider's changes"
    );
    let too_big: Vec<_> = p
        .diagnostics
        .iter()
        .filter(|d| d.code == "brick::fake::too_big")
        .collect();
    assert_eq!(too_big.len(), 1, "{:?}", p.diagnostics);
    assert!(too_big[0].is_error());
    assert!(
        too_big[0].detail.contains("fake_thing.big"),
        "{:?}",
        too_big[0]
    );
    assert_eq!(line_of(too_big[0], &files), 12, "at the size argument");
    let seen = p
        .diagnostics
        .iter()
        .find(|d| d.code == "brick::fake::seen")
        .expect("the warning about brick_data.d");
    assert!(!seen.is_error());
    assert_eq!(line_of(seen, &files), 1, "at the block header");

    // Without the big one the check finds nothing wrong and the plan stands.
    let (c, _) = from_hcl(&text.replace("size = 5", "size = 1"));
    let p = w.plan(&c, &Options::default()).await;
    assert!(!p.errored, "{:?}", p.diagnostics);
    assert_eq!(w.fake.plan_checks().len(), 2);
}

#[test]
fn a_timeouts_block_reaches_a_type_whose_schema_declares_it_and_the_engine_reads_it_always() {
    use brick_provider_api::schema::{Attribute, Block, Nesting};
    let (c, _) = from_hcl(
        "resource \"fake_thing\" \"a\" {\n  name = \"a\"\n  timeouts {\n    create = \"3s\"\n    delete = \"1m\"\n  }\n}\n",
    );
    let rc = &c.resources[0];
    // The engine's own limits (a type without a `timeouts` block gets only these).
    assert_eq!(rc.timeouts.create, Some(Duration::from_secs(3)));
    assert_eq!(rc.timeouts.delete, Some(Duration::from_secs(60)));
    assert_eq!(rc.timeouts.update, None);
    let plain = Block::default().attr("name", Attribute::required(Type::String));
    let v = (rc.body)(&brick::eval::EmptyScope, &plain).expect("no timeouts block expected");
    assert_eq!(v.get("timeouts"), None);
    // Terraform's semantics: a schema that declares `timeouts` receives it as a block.
    let timeouts = Block::default()
        .attr("create", Attribute::optional(Type::String))
        .attr("update", Attribute::optional(Type::String))
        .attr("delete", Attribute::optional(Type::String));
    let declaring = plain.block("timeouts", Nesting::Single, timeouts);
    let v = (rc.body)(&brick::eval::EmptyScope, &declaring).expect("evaluates");
    let t = v.get("timeouts").expect("the block is passed on");
    assert_eq!(t.get("create").and_then(Value::as_str), Some("3s"));
    assert_eq!(t.get("delete").and_then(Value::as_str), Some("1m"));
    assert!(t.get("update").is_some_and(Value::is_null));
    assert!(rc.source.attributes.contains_key("timeouts"));
}

#[tokio::test]
async fn an_update_of_a_dependent_runs_before_the_destroy_of_what_it_no_longer_uses() {
    // As Terraform orders it: a cluster that lists its nodes is updated (the node left) before
    // the node's instance is destroyed, and the node's destroy before its machine's.
    let mut w = World::new();
    let text = |nodes: &str| {
        format!(
            r#"locals {{
  nodes = [{nodes}]
}}

resource "fake_thing" "machine" {{
  for_each = toset(local.nodes)
  name     = each.key
}}

resource "fake_thing" "node" {{
  for_each = toset(local.nodes)
  name     = fake_thing.machine[each.key].name
}}

resource "fake_thing" "cluster" {{
  name = join(",", [for n in fake_thing.node : n.name])
}}
"#
        )
    };
    let (c, _) = from_hcl(&text(r#""a", "b", "c""#));
    w.converge(&c).await;
    let (c, _) = from_hcl(&text(r#""a", "b""#));
    let p = w.plan(&c, &Options::default()).await;
    assert!(!p.errored, "{:?}", p.diagnostics);
    let before = w.fake.calls().len();
    let (out, _) = w.apply(&c, &p, 10).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    use brick_provider_api::fake::Call;
    // Ids are "<name>-<n>": the name says which object.
    let name = |id: &str| id.rsplit_once('-').map_or(id, |(n, _)| n).to_string();
    let order: Vec<String> = w.fake.calls()[before..]
        .iter()
        .filter_map(|c| match c {
            Call::Update(id) => Some(format!("update {}", name(id))),
            Call::Delete(id) => Some(format!("delete {}", name(id))),
            _ => None,
        })
        .collect();
    // The update keeps the cluster's id (named at its create); the node is deleted before
    // its machine (both objects are named "c").
    assert_eq!(
        order,
        ["update a,b,c", "delete c", "delete c"],
        "{:?}",
        actions(&p)
    );
}

/// Terraform's planner rewrites the recorded `dependencies` of an instance whose plan is a
/// no-op when they differ from the configuration's (node_resource_plan_instance.go, "If this
/// plan resulted in a NoOp ... write them out now"), and its apply persists that. brick
/// records direct dependencies and derives the whole lists from the upstream records, so a
/// stale direct list would keep naming an upstream that the configuration no longer reads:
/// here `c` dropped `depends_on = [brick_data.b]` and `b` is gone, and Terraform's state
/// lists nothing for `c`.
#[tokio::test]
async fn a_no_op_whose_dependencies_changed_records_the_new_ones_as_terraform_does() {
    let mut w = World::new();
    let mut c_on_b = data("c", Value::string("same"));
    c_on_b.depends_on = vec![rref("b")];
    w.converge(&config(vec![
        data("a", Value::string("x")),
        data_from("b", "a"),
        c_on_b,
    ]))
    .await;
    let c_addr = "brick_data.c".parse().unwrap();
    let named = |w: &World| -> Vec<String> {
        w.state.instances[&c_addr]
            .depends_on
            .iter()
            .map(|d| d.to_string())
            .collect()
    };
    assert_eq!(named(&w), ["brick_data.b"]);
    let whole = w.state.whole_dependencies();
    assert_eq!(whole[&c_addr], ["brick_data.a", "brick_data.b"]);

    // `b` removed from the configuration, `c` no longer depends on it: `c` is a no-op.
    let c2 = config(vec![
        data("a", Value::string("x")),
        data("c", Value::string("same")),
    ]);
    let p = w.plan(&c2, &Options::default()).await;
    assert_eq!(
        actions(&p),
        [
            ("brick_data.a".into(), Action::NoOp),
            ("brick_data.b".into(), Action::Delete),
            ("brick_data.c".into(), Action::NoOp),
        ]
    );
    let (out, _) = w.apply(&c2, &p, 10).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    assert!(named(&w).is_empty(), "recorded: {:?}", named(&w));
    assert!(w.state.whole_dependencies()[&c_addr].is_empty());
    // Recorded once: the next plan and apply leave it alone.
    let p = w.plan(&c2, &Options::default()).await;
    assert!(!p.has_changes());
}
