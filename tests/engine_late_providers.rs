//! One plan across layers, on configurations built directly (no HCL) with two fake providers:
//! `kube`, configured from a computed attribute of an object `fake` creates (a cluster and
//! the objects in it), is planned without being configured, configured during apply as soon
//! as the cluster exists, and applied in the same run; when the cluster is being replaced, the
//! objects `kube` already manages are deferred (never read, planned or touched) and listed
//! with Terraform's reasons; the plan round-trips through a saved file; the JSON plan has
//! Terraform 1.10+'s `deferred_changes`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use brick::apply::memory::MemoryState;
use brick::apply::{ApplyInput, ApplyOptions, Cancel, apply};
use brick::builtin::BrickProvider;
use brick::eval::{Reference, Scope};
use brick::event::{CollectEvents, Event, NoEvents};
use brick::input::*;
use brick::plan::address::ResourceAddr;
use brick::plan::model::{Action, DeferredReason, Plan, PriorState};
use brick::plan::providers::ProviderSet;
use brick::plan::{Options, plan};
use brick_provider_api::fake::{Call, FakeProvider};
use brick_provider_api::{Type, Value};

fn thing_ref(name: &str) -> Reference {
    Reference::Resource {
        type_name: "fake_thing".into(),
        name: name.into(),
    }
}

/// `fake_thing.NAME { name = OBJECT_NAME, size = SIZE }` of `provider`, reading `deps`'
/// ids into `value` (so it depends on them).
fn thing(
    name: &str,
    provider: &str,
    object_name: &str,
    size: i64,
    deps: &[&str],
) -> ResourceConfig {
    let object_name = object_name.to_string();
    let refs: Vec<Reference> = deps.iter().map(|d| thing_ref(d)).collect();
    let reads = refs.clone();
    let body: EvalFn = Arc::new(move |scope: &dyn Scope, _| {
        let ids: Vec<Value> = reads
            .iter()
            .map(|r| {
                scope
                    .get(r)
                    .and_then(|o| o.get("id").cloned())
                    .unwrap_or_else(|| Value::unknown(Type::String))
            })
            .collect();
        let value = if ids.is_empty() {
            Value::null(Type::Dynamic)
        } else {
            Value::tuple(ids)
        };
        Ok(Value::object_from([
            ("name", Value::string(object_name.clone())),
            ("size", Value::number(size)),
            ("value", value),
        ]))
    });
    ResourceConfig {
        addr: ResourceAddr::managed("fake_thing", name),
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

/// `provider "kube" { endpoint = fake_thing.cluster.id }`.
fn kube_provider() -> ProviderConfig {
    let r = thing_ref("cluster");
    let r2 = r.clone();
    ProviderConfig {
        name: "kube".into(),
        type_name: "fake".into(),
        body: Arc::new(move |s: &dyn Scope, _| {
            let id = s
                .get(&r2)
                .and_then(|o| o.get("id").cloned())
                .unwrap_or_else(|| Value::unknown(Type::String));
            Ok(Value::object_from([("endpoint", id)]))
        }),
        references: vec![r],
    }
}

/// The cluster (provider `fake`) and, in it, `cm` and `app` (which reads `cm`).
fn layered(cluster_size: i64, objects: &[(&str, &str, &[&str])]) -> Configuration {
    let mut resources = vec![thing("cluster", "fake", "garage", cluster_size, &[])];
    for (name, object_name, deps) in objects {
        resources.push(thing(name, "kube", object_name, 1, deps));
    }
    Configuration {
        resources,
        providers: vec![kube_provider()],
        hash: "h".into(),
        ..Default::default()
    }
}

struct World {
    providers: ProviderSet,
    cloud: Arc<FakeProvider>,
    kube: Arc<FakeProvider>,
    state: PriorState,
}

impl World {
    fn new() -> World {
        let mut w = World {
            providers: ProviderSet::new(),
            cloud: Arc::new(FakeProvider::new()),
            kube: Arc::new(FakeProvider::new()),
            state: PriorState::default(),
        };
        w.fresh_run();
        w
    }

    /// New provider instances, as a new brick process has; the cloud's objects survive (it
    /// is the real world), the kube provider starts unconfigured and strict.
    fn fresh_run(&mut self) {
        let kube = Arc::new(FakeProvider::new());
        kube.require_configure.store(true, Ordering::SeqCst);
        for (id, obj) in self.kube.objects() {
            kube.put_object(&id, obj);
        }
        self.kube = kube;
        let mut providers = ProviderSet::new();
        providers.insert("brick", Arc::new(BrickProvider::with_sequential_ids()));
        providers.insert("fake", self.cloud.clone());
        providers.insert("kube", self.kube.clone());
        self.providers = providers;
    }

    async fn plan(&self, c: &Configuration) -> Plan {
        plan(
            c,
            &self.state,
            &self.providers,
            &Options::default(),
            &NoEvents,
        )
        .await
    }

    async fn apply(
        &mut self,
        c: &Configuration,
        p: &Plan,
    ) -> (brick::apply::ApplyOutcome, Vec<Event>) {
        let mut sink = MemoryState::new(self.state.clone());
        let events = Arc::new(CollectEvents::default());
        let out = apply(ApplyInput {
            plan: p,
            config: c,
            prior: &self.state,
            providers: &self.providers,
            sink: &mut sink,
            events: events.clone(),
            options: ApplyOptions::default(),
            cancel: &Cancel::new(),
        })
        .await;
        self.state = sink.state.clone();
        let events = events.0.lock().unwrap().clone();
        (out, events)
    }
}

fn actions(p: &Plan) -> Vec<(String, Action)> {
    p.changes
        .iter()
        .map(|c| (c.addr.to_string(), c.action))
        .collect()
}

fn deferred(p: &Plan) -> Vec<(String, Action, DeferredReason)> {
    p.deferred
        .iter()
        .map(|d| (d.change.addr.to_string(), d.change.action, d.reason))
        .collect()
}

fn kube_names(w: &World) -> Vec<String> {
    let mut v: Vec<String> = w
        .kube
        .objects()
        .values()
        .map(|o| o.get("name").and_then(Value::as_str).unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn recorded_id(w: &World, addr: &str) -> String {
    w.state.instances[&addr.parse().unwrap()]
        .value
        .get("id")
        .and_then(Value::as_str)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_first_plan_creates_every_layer_and_one_apply_configures_the_second_provider_on_the_way()
 {
    let mut w = World::new();
    let c = layered(1, &[("cm", "cm", &[]), ("app", "app", &["cm"])]);
    let p = w.plan(&c).await;
    assert!(!p.errored, "{:?}", p.diagnostics);
    assert_eq!(
        actions(&p),
        [
            ("fake_thing.app".into(), Action::Create),
            ("fake_thing.cluster".into(), Action::Create),
            ("fake_thing.cm".into(), Action::Create),
        ],
        "every resource of the chain is a create in the first plan"
    );
    assert!(
        p.deferred.is_empty(),
        "nothing exists yet: nothing is deferred"
    );
    assert_eq!(p.configured_during_apply.len(), 1);
    assert_eq!(p.configured_during_apply[0].name, "kube");
    assert_eq!(
        p.configured_during_apply[0]
            .depends_on
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
        ["fake_thing.cluster"]
    );
    assert!(
        w.kube.calls().is_empty() && w.kube.configured_with().is_none(),
        "planning never configured nor called the provider whose configuration is unknown: {:?}",
        w.kube.calls()
    );
    let text = brick::view::text::render_plan(&p, brick::view::text::Style { color: false });
    assert!(
        text.contains(
            "provider \"kube\" is configured during apply, once fake_thing.cluster is applied"
        ),
        "{text}"
    );
    assert!(
        text.contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{text}"
    );

    let (out, events) = w.apply(&c, &p).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    assert_eq!(out.added, 3);
    let cluster_id = recorded_id(&w, "fake_thing.cluster");
    assert_eq!(
        w.kube.configured_with(),
        Some(Value::object_from([(
            "endpoint",
            Value::string(cluster_id)
        )])),
        "configured with the cluster's id, known only once the cluster was created"
    );
    assert_eq!(kube_names(&w), ["app", "cm"]);
    let configured_at = events
        .iter()
        .position(|e| matches!(e, Event::ProviderConfigured { name } if name == "kube"))
        .expect("the provider's configuration is reported");
    let cluster_done = events
        .iter()
        .position(|e| matches!(e, Event::ApplyDone { addr, .. } if addr.to_string() == "fake_thing.cluster"))
        .unwrap();
    let cm_start = events
        .iter()
        .position(
            |e| matches!(e, Event::ApplyStart { addr, .. } if addr.to_string() == "fake_thing.cm"),
        )
        .unwrap();
    assert!(
        cluster_done < configured_at && configured_at < cm_start,
        "{events:?}"
    );

    w.fresh_run();
    let p = w.plan(&c).await;
    assert!(!p.errored, "{:?}", p.diagnostics);
    assert!(!p.has_changes() && !p.has_deferred(), "{:?}", actions(&p));
    assert!(p.configured_during_apply.is_empty());
    assert!(
        w.kube.calls().contains(&Call::Configure),
        "known now: configured at plan"
    );
}

#[tokio::test]
async fn objects_of_a_provider_whose_cluster_is_replaced_are_deferred_and_never_touched() {
    let mut w = World::new();
    let c = layered(
        1,
        &[
            ("cm", "cm", &[]),
            ("app", "app", &["cm"]),
            ("old", "old", &[]),
        ],
    );
    let p = w.plan(&c).await;
    let (out, _) = w.apply(&c, &p).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let before = w.kube.objects();

    // The cluster is replaced (size forces it): its id, the provider's endpoint, is unknown.
    // `old` is gone from the configuration, `new` is new and `extra` reads `cm`.
    w.fresh_run();
    let c2 = layered(
        2,
        &[
            ("cm", "cm", &[]),
            ("app", "app2", &["cm"]),
            ("new", "new", &[]),
            ("extra", "extra", &["cm"]),
        ],
    );
    let p = w.plan(&c2).await;
    assert!(!p.errored, "{:?}", p.diagnostics);
    assert!(
        w.kube.calls().is_empty(),
        "nothing of the deferred provider was read or configured: {:?}",
        w.kube.calls()
    );
    assert_eq!(
        actions(&p),
        [
            ("fake_thing.cluster".into(), Action::DeleteThenCreate),
            ("fake_thing.new".into(), Action::Create),
        ]
    );
    assert_eq!(
        deferred(&p),
        [
            (
                "fake_thing.app".into(),
                Action::Update,
                DeferredReason::ProviderConfigUnknown
            ),
            (
                "fake_thing.cm".into(),
                Action::NoOp,
                DeferredReason::ProviderConfigUnknown
            ),
            (
                "fake_thing.extra".into(),
                Action::Create,
                DeferredReason::DeferredPrereq
            ),
            (
                "fake_thing.old".into(),
                Action::Delete,
                DeferredReason::ProviderConfigUnknown
            ),
        ]
    );
    assert!(p.has_deferred());

    // JSON: Terraform 1.10+'s deferred_changes.
    let j = brick::view::json::plan_json(&p, &w.state, &c2);
    let dc = j["deferred_changes"].as_array().expect("deferred_changes");
    assert_eq!(dc.len(), 4);
    assert_eq!(dc[0]["reason"], "provider_config_unknown");
    assert_eq!(dc[0]["resource_change"]["address"], "fake_thing.app");
    assert_eq!(dc[0]["resource_change"]["type"], "fake_thing");
    assert_eq!(
        dc[0]["resource_change"]["change"]["actions"],
        serde_json::json!(["update"])
    );
    assert_eq!(dc[2]["reason"], "deferred_prereq");
    assert_eq!(j["complete"], false);
    assert_eq!(j["brick_configured_during_apply"][0]["name"], "kube");
    let text = brick::view::text::render_plan(&p, brick::view::text::Style { color: false });
    assert!(
        text.contains("# fake_thing.old was deferred")
            && text.contains(
                "because the configuration of provider \"kube\" is known only during apply"
            ),
        "{text}"
    );

    // A saved plan round-trips them, and applying it runs exactly that plan.
    let saved: Plan = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(saved.deferred, p.deferred);
    assert_eq!(saved.configured_during_apply, p.configured_during_apply);
    let (out, _) = w.apply(&c2, &saved).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let after = w.kube.objects();
    for (id, obj) in &before {
        assert_eq!(after.get(id), Some(obj), "{id} was not touched");
    }
    assert_eq!(kube_names(&w), ["app", "cm", "new", "old"]);
    assert!(
        !w.kube
            .calls()
            .iter()
            .any(|c| matches!(c, Call::Update(_) | Call::Delete(_) | Call::Read(_))),
        "{:?}",
        w.kube.calls()
    );
    assert!(
        w.state
            .instances
            .contains_key(&"fake_thing.old".parse().unwrap())
    );

    // The next run plans them, the provider now configured.
    w.fresh_run();
    let p = w.plan(&c2).await;
    assert!(!p.errored, "{:?}", p.diagnostics);
    assert!(p.deferred.is_empty() && p.configured_during_apply.is_empty());
    let mut a = actions(&p);
    a.retain(|(_, act)| *act != Action::NoOp);
    assert_eq!(
        a,
        [
            ("fake_thing.app".into(), Action::Update),
            ("fake_thing.extra".into(), Action::Create),
            ("fake_thing.old".into(), Action::Delete),
        ]
    );
}

#[tokio::test]
async fn a_plan_that_changes_once_the_provider_is_configured_is_refused_before_anything_is_sent() {
    let mut w = World::new();
    // The kube provider guesses an id it cannot know before it is configured, as one that
    // fell back to a default cluster would.
    *w.kube.unconfigured_id.lock().unwrap() = Some("guessed".into());
    let c = layered(1, &[("cm", "cm", &[])]);
    let p = w.plan(&c).await;
    assert!(!p.errored, "{:?}", p.diagnostics);
    assert_eq!(
        p.changes[1].after.get("id"),
        Some(&Value::string("guessed"))
    );
    let (out, _) = w.apply(&c, &p).await;
    let d = out
        .diagnostics
        .iter()
        .find(|d| d.code == "brick::apply::plan_changed_after_configure")
        .unwrap_or_else(|| panic!("{:?}", out.diagnostics));
    assert!(
        d.detail.contains("fake_thing.cm") && d.detail.contains("Nothing was sent"),
        "{}",
        d.detail
    );
    assert!(
        w.kube.objects().is_empty(),
        "nothing was created in the cluster"
    );
    assert!(
        !w.state
            .instances
            .contains_key(&"fake_thing.cm".parse().unwrap()),
        "nothing half-written"
    );
    assert!(
        w.state
            .instances
            .contains_key(&"fake_thing.cluster".parse().unwrap()),
        "the cluster, which did not depend on it, is recorded"
    );
}

#[tokio::test]
async fn a_type_that_cannot_be_planned_unconfigured_is_deferred_to_the_next_run() {
    let mut w = World::new();
    w.kube
        .needs_configure_to_plan
        .lock()
        .unwrap()
        .insert("fake_thing".into());
    let c = layered(1, &[("cm", "cm", &[])]);
    let p = w.plan(&c).await;
    assert!(!p.errored, "{:?}", p.diagnostics);
    assert_eq!(actions(&p), [("fake_thing.cluster".into(), Action::Create)]);
    assert_eq!(
        deferred(&p),
        [(
            "fake_thing.cm".into(),
            Action::Create,
            DeferredReason::ProviderConfigUnknown
        )]
    );
    let (out, _) = w.apply(&c, &p).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    assert!(w.kube.objects().is_empty());
    w.fresh_run();
    let p = w.plan(&c).await;
    assert_eq!(
        actions(&p),
        [
            ("fake_thing.cluster".into(), Action::NoOp),
            ("fake_thing.cm".into(), Action::Create)
        ]
    );
}

#[tokio::test]
async fn a_provider_whose_dependency_fails_is_never_configured() {
    let mut w = World::new();
    w.cloud.fail_on("garage");
    let c = layered(1, &[("cm", "cm", &[])]);
    let p = w.plan(&c).await;
    let (out, events) = w.apply(&c, &p).await;
    assert!(out.has_errors());
    assert!(w.kube.configured_with().is_none());
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Skipped { addr, .. } if addr.to_string() == "fake_thing.cm")
        ),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_provider_configured_from_a_deferred_object_defers_everything_of_its_own() {
    let mut w = World::new();
    let c = layered(1, &[("cm", "cm", &[])]);
    let p = w.plan(&c).await;
    let (out, _) = w.apply(&c, &p).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);

    // A third layer: provider `app` is configured from `cm`'s id; `cm` is deferred once the
    // cluster is being replaced, so `app`'s create waits for the next run too.
    w.fresh_run();
    let app = Arc::new(FakeProvider::new());
    app.require_configure.store(true, Ordering::SeqCst);
    w.providers.insert("app", app.clone());
    let mut c2 = layered(2, &[("cm", "cm", &[])]);
    c2.resources.push(thing("svc", "app", "svc", 1, &[]));
    let r = thing_ref("cm");
    let r2 = r.clone();
    c2.providers.push(ProviderConfig {
        name: "app".into(),
        type_name: "fake".into(),
        body: Arc::new(move |s: &dyn Scope, _| {
            let id = s
                .get(&r2)
                .and_then(|o| o.get("id").cloned())
                .unwrap_or_else(|| Value::unknown(Type::String));
            Ok(Value::object_from([("endpoint", id)]))
        }),
        references: vec![r],
    });
    let p = w.plan(&c2).await;
    assert!(!p.errored, "{:?}", p.diagnostics);
    assert_eq!(
        deferred(&p),
        [
            (
                "fake_thing.cm".into(),
                Action::NoOp,
                DeferredReason::ProviderConfigUnknown
            ),
            (
                "fake_thing.svc".into(),
                Action::Create,
                DeferredReason::DeferredPrereq
            ),
        ]
    );
    assert!(
        p.configured_during_apply.is_empty(),
        "neither kube nor app has a change of its own: {:?}",
        p.configured_during_apply
    );
    let (out, _) = w.apply(&c2, &p).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    assert!(app.calls().is_empty(), "{:?}", app.calls());
}

/// The kube provider's plan check, scripted: an error (`refuse`) or a warning about every
/// change of its objects named `cm`.
fn check_cm(w: &World, refuse: bool) {
    use brick_provider_api::Diagnostic as ProviderDiagnostic;
    use brick_provider_api::provider::ChangeDiagnostic;
    w.kube.on_check_plan(move |changes| {
        changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.planned.get("name").and_then(Value::as_str) == Some("cm"))
            .map(|(i, c)| ChangeDiagnostic {
                change: i,
                diagnostic: if refuse {
                    ProviderDiagnostic::error(
                        "brick::kube::too_big",
                        "Object too big for the cluster",
                        format!("{} does not fit in the cluster.", c.address),
                    )
                } else {
                    ProviderDiagnostic::warning(
                        "brick::kube::deprecated",
                        "Deprecated kind",
                        format!("{} uses a deprecated kind.", c.address),
                    )
                },
            })
            .collect()
    });
}

#[tokio::test]
async fn a_provider_configured_during_apply_whose_plan_check_refuses_the_plan_applies_nothing() {
    let mut w = World::new();
    check_cm(&w, true);
    let c = layered(1, &[("cm", "cm", &[]), ("app", "app", &[])]);
    let p = w.plan(&c).await;
    assert!(!p.errored, "{:?}", p.diagnostics);
    assert!(
        w.kube.plan_checks().is_empty(),
        "not checked at plan: its configuration is unknown"
    );
    let (out, events) = w.apply(&c, &p).await;
    assert_eq!(
        w.kube.plan_checks().len(),
        1,
        "checked once, when configured during apply"
    );
    assert_eq!(
        w.kube.plan_checks()[0]
            .iter()
            .map(|(a, _)| a.as_str())
            .collect::<Vec<_>>(),
        ["fake_thing.app", "fake_thing.cluster", "fake_thing.cm"],
        "it sees the whole plan, as a plan check at plan time does"
    );
    let refusal = out
        .diagnostics
        .iter()
        .find(|d| d.code == "brick::kube::too_big")
        .unwrap_or_else(|| panic!("{:?}", out.diagnostics));
    assert!(
        refusal.detail.contains("fake_thing.cm does not fit"),
        "{}",
        refusal.detail
    );
    let not_started: Vec<&str> = out
        .diagnostics
        .iter()
        .filter(|d| d.code == "brick::apply::plan_refused_after_configure")
        .map(|d| d.detail.as_str())
        .collect();
    assert_eq!(not_started.len(), 2, "{:?}", out.diagnostics);
    assert!(
        not_started.iter().all(|d| d.contains("Nothing was sent")),
        "{not_started:?}"
    );
    assert!(
        w.kube.objects().is_empty(),
        "nothing of the refused provider was applied"
    );
    assert!(
        !w.kube.calls().iter().any(|c| matches!(c, Call::Create(_))),
        "{:?}",
        w.kube.calls()
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ApplyStart { addr, .. } if addr.to_string() != "fake_thing.cluster")),
        "no change of the refused provider started: {events:?}"
    );
    assert!(
        w.state
            .instances
            .contains_key(&"fake_thing.cluster".parse().unwrap()),
        "the cluster, which the refusal does not concern, is applied and recorded"
    );
    assert!(
        !w.state
            .instances
            .contains_key(&"fake_thing.cm".parse().unwrap()),
        "nothing half-written"
    );
}

#[tokio::test]
async fn a_warning_of_a_provider_configured_during_apply_is_shown_and_its_changes_go_on() {
    let mut w = World::new();
    check_cm(&w, false);
    let c = layered(1, &[("cm", "cm", &[])]);
    let p = w.plan(&c).await;
    assert!(!p.errored, "{:?}", p.diagnostics);
    assert!(
        p.diagnostics
            .iter()
            .all(|d| d.code != "brick::kube::deprecated")
    );
    let (out, _) = w.apply(&c, &p).await;
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let warning = out
        .diagnostics
        .iter()
        .find(|d| d.code == "brick::kube::deprecated")
        .unwrap_or_else(|| panic!("the warning is among the run's: {:?}", out.diagnostics));
    assert_eq!(warning.severity, brick_provider_api::Severity::Warning);
    assert!(
        warning
            .detail
            .contains("fake_thing.cm uses a deprecated kind"),
        "{}",
        warning.detail
    );
    assert_eq!(kube_names(&w), ["cm"]);
}
