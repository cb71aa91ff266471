//! Criterion benchmarks of the engine's hot paths at N = 5,000 `brick_data` resources, on the
//! same workload as `bench/compare.sh` (bench/workload.py): every input interpolates a
//! variable and two locals, every 10th resource references the previous 10th, every
//! `i % 10 == 5` has `depends_on`, every `i % 10 == 0` has `triggers_replace`.
//!
//! - `graph/*`: building the `ConfigGraph` and its topological order;
//! - `plan/*`: planning on an empty state (5,000 creates) and against a state that matches
//!   the configuration (the no-op plan: refresh and diff of 5,000 instances);
//! - `apply/*`: the executor walking the graph and scheduling 5,000 creates against the
//!   in-process `brick` provider (no I/O) into an in-memory state;
//! - `state/*`: the state's document (serialise and parse a 5,000-resource state), saving it
//!   through `StateStore` (atomic write, fsync), converting the engine's values into state
//!   objects, and the apply journal's group commit of 5,000 results.
//!
//! Run: `cargo bench --bench hot_paths` (a few minutes; `-- plan/` for one group). Loading
//! and evaluating a large configuration is `benches/eval.rs`; the whole CLI at scale is
//! `bench/compare.sh` (and `benches/engine_scale.rs`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use brick::apply::memory::MemoryState;
use brick::apply::{ApplyInput, ApplyOptions, Cancel, Recorded, apply};
use brick::builtin::{BrickProvider, IdSource};
use brick::config::{self, MemoryFs};
use brick::eval::{NullEnvironment, resolve_variables};
use brick::event::NoEvents;
use brick::graph::ConfigGraph;
use brick::input::Configuration;
use brick::plan::from_config::from_config;
use brick::plan::model::{Plan, PriorState};
use brick::plan::providers::ProviderSet;
use brick::plan::{Options, plan};
use brick::statefile::{addr_to_state, object_to_state, provider_addr};
use brick_state::{Change, Durability, State, StateStore};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const N: usize = 5_000;

/// The workload of bench/workload.py for brick, as one file.
fn workload(n: usize) -> String {
    let mut s = String::with_capacity(n * 140);
    s.push_str("variable \"prefix\" {\n  type    = string\n  default = \"bench\"\n}\n\n");
    s.push_str("locals {\n  env    = \"perf\"\n  region = \"garage\"\n}\n\n");
    s.push_str(&format!(
        "output \"chain_tail\" {{\n  value = brick_data.r{}.output\n}}\n\n",
        ((n - 1) / 10) * 10
    ));
    for i in 0..n {
        let base = format!("${{var.prefix}}-${{local.env}}-${{local.region}}-{i}");
        s.push_str(&format!("resource \"brick_data\" \"r{i}\" {{\n"));
        if i % 10 == 0 && i >= 10 {
            s.push_str(&format!(
                "  input = \"{base}-after-${{brick_data.r{}.id}}\"\n",
                i - 10
            ));
        } else {
            s.push_str(&format!("  input = \"{base}\"\n"));
        }
        if i % 10 == 0 {
            s.push_str(&format!(
                "  triggers_replace = {{\n    env   = local.env\n    index = {i}\n  }}\n"
            ));
        }
        if i % 10 == 5 {
            s.push_str(&format!("  depends_on = [brick_data.r{}]\n", i - 5));
        }
        s.push_str("}\n\n");
    }
    s
}

/// The engine's configuration for the workload, loaded from HCL as the CLI loads it.
fn configuration(n: usize) -> Configuration {
    let fs = MemoryFs::new().with("/bench/main.hcl", workload(n));
    let (c, d) = config::load(&fs, &brick::eval::Constants, Path::new("/bench"));
    let c = c.unwrap_or_else(|| panic!("the workload does not load: {d:?}"));
    let env: Arc<dyn brick::eval::Environment> = Arc::new(NullEnvironment);
    let (vars, d) = resolve_variables(&c.root.variables, &[], &*env);
    assert!(d.is_empty(), "variables: {d:?}");
    let (engine, d) = from_config(&c, vars, env);
    assert!(d.is_empty(), "from_config: {d:?}");
    engine
}

fn sequential_ids() -> IdSource {
    let next = Arc::new(AtomicU64::new(1));
    Arc::new(move || {
        let n = next.fetch_add(1, Ordering::Relaxed);
        format!("00000000-0000-4000-8000-{n:012}")
    })
}

fn providers() -> ProviderSet {
    let mut p = ProviderSet::new();
    p.insert("brick", Arc::new(BrickProvider::new(sequential_ids())));
    p
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn make_plan(rt: &Runtime, engine: &Configuration, prior: &PriorState, ps: &ProviderSet) -> Plan {
    let p = rt.block_on(plan(engine, prior, ps, &Options::default(), &NoEvents));
    assert!(!p.errored, "planning failed: {:?}", p.diagnostics);
    assert_eq!(p.changes.len(), N);
    p
}

/// Plans and applies the workload from an empty state; returns the resulting state.
fn applied(rt: &Runtime, engine: &Configuration, ps: &ProviderSet) -> MemoryState {
    let empty = PriorState::default();
    let p = make_plan(rt, engine, &empty, ps);
    let mut sink = MemoryState::new(empty.clone());
    let outcome = rt.block_on(apply(ApplyInput {
        plan: &p,
        config: engine,
        prior: &empty,
        providers: ps,
        sink: &mut sink,
        events: Arc::new(NoEvents),
        options: ApplyOptions::default(),
        cancel: &Cancel::new(),
    }));
    assert!(
        !outcome.has_errors(),
        "apply failed: {:?}",
        outcome.diagnostics
    );
    assert_eq!(sink.state.instances.len(), N);
    sink
}

/// The brick_state document of an applied workload, converted as the CLI converts it.
fn state_of(prior: &PriorState, ps: &ProviderSet) -> State {
    let ty = ps
        .resource_schema(
            "brick",
            &brick::plan::address::ResourceAddr::managed("brick_data", "r0"),
        )
        .expect("brick_data has a schema")
        .block
        .value_type();
    let mut s = State::with_lineage("bench", "0.1.0");
    for (addr, inst) in &prior.instances {
        let rec = Recorded {
            provider: inst.provider.clone(),
            value: inst.value.clone(),
            depends_on: inst.depends_on.clone(),
            schema_version: inst.schema_version,
            tainted: inst.tainted,
            create_before_destroy: inst.create_before_destroy,
        };
        s.apply_owned(Change::Set {
            intent: None,
            addr: addr_to_state(addr),
            deposed: None,
            provider: provider_addr(&inst.provider),
            object: object_to_state(&rec, &ty),
        });
    }
    s
}

fn graph(c: &mut Criterion) {
    let engine = configuration(N);
    let mut g = c.benchmark_group("graph");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.bench_function("build_5000", |b| b.iter(|| ConfigGraph::build(&engine)));
    let built = ConfigGraph::build(&engine);
    g.bench_function("topological_order_5000", |b| {
        b.iter(|| built.order(&engine).expect("the workload has no cycle"))
    });
    g.finish();
}

fn planning(c: &mut Criterion) {
    let rt = runtime();
    let engine = configuration(N);
    let ps = providers();
    let prior = applied(&rt, &engine, &ps).state;
    let mut g = c.benchmark_group("plan");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    g.bench_function("create_5000", |b| {
        let empty = PriorState::default();
        b.iter(|| make_plan(&rt, &engine, &empty, &ps))
    });
    // What is timed is a real no-op: every instance planned and found unchanged.
    let noop = make_plan(&rt, &engine, &prior, &ps);
    assert!(
        noop.changes
            .iter()
            .all(|c| c.action == brick::plan::model::Action::NoOp),
        "the plan against the applied state is not a no-op"
    );
    g.bench_function("noop_diff_5000", |b| {
        b.iter(|| make_plan(&rt, &engine, &prior, &ps))
    });
    g.finish();
}

fn executing(c: &mut Criterion) {
    let rt = runtime();
    let engine = configuration(N);
    let ps = providers();
    let empty = PriorState::default();
    let p = make_plan(&rt, &engine, &empty, &ps);
    let mut g = c.benchmark_group("apply");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    g.bench_function("execute_5000_creates_in_memory", |b| {
        b.iter_batched(
            || MemoryState::new(empty.clone()),
            |mut sink| {
                let outcome = rt.block_on(apply(ApplyInput {
                    plan: &p,
                    config: &engine,
                    prior: &empty,
                    providers: &ps,
                    sink: &mut sink,
                    events: Arc::new(NoEvents),
                    options: ApplyOptions::default(),
                    cancel: &Cancel::new(),
                }));
                assert!(!outcome.has_errors());
                sink
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn state(c: &mut Criterion) {
    let rt = runtime();
    let engine = configuration(N);
    let ps = providers();
    let prior = applied(&rt, &engine, &ps).state;
    let doc = state_of(&prior, &ps);
    let bytes = brick_state::to_bytes(&doc);
    let dir = tempfile::tempdir().expect("a temporary directory");

    let mut g = c.benchmark_group("state");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("values_to_state_objects_5000", |b| {
        b.iter(|| state_of(&prior, &ps))
    });
    g.bench_function("serialise_5000", |b| b.iter(|| brick_state::to_bytes(&doc)));
    g.bench_function("parse_5000", |b| {
        b.iter(|| brick_state::from_bytes(&bytes, Path::new("bench.json")).expect("parses"))
    });
    let store = StateStore::new(dir.path().join("save.state.json"), "0.1.0");
    let lock = store.lock("bench").expect("the lock");
    g.bench_function("save_5000", |b| {
        b.iter(|| store.save(&lock, &doc).expect("saved"))
    });
    drop(lock);

    // One apply's journal: 5,000 results recorded with group commit (Batched, as the
    // executor records results), flushed, and folded into the final snapshot.
    let changes: Vec<Change> = doc
        .resources
        .iter()
        .flat_map(|(raddr, r)| {
            r.instances.iter().filter_map(move |(key, inst)| {
                inst.current.as_ref().map(|o| Change::Set {
                    intent: None,
                    addr: raddr.instance(key.clone()),
                    deposed: None,
                    provider: r.provider.clone(),
                    object: (**o).clone(),
                })
            })
        })
        .collect();
    let jstore = StateStore::new(dir.path().join("journal.state.json"), "0.1.0");
    let jlock = jstore.lock("bench").expect("the lock");
    g.bench_function("journal_group_commit_5000_results", |b| {
        b.iter_batched(
            || {
                // Each apply starts from no state file, as the first apply of a workload.
                let _ = std::fs::remove_file(jstore.path());
                changes.clone()
            },
            |changes| {
                let journal = jstore
                    .begin_apply(&jlock, State::with_lineage("bench", "0.1.0"))
                    .expect("the journal opens");
                for ch in changes {
                    journal.record(ch, Durability::Batched).expect("recorded");
                }
                journal.flush().expect("flushed");
                let s = journal.finish().expect("folded");
                assert_eq!(s.object_count(), N);
                s
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, graph, planning, executing, state);
criterion_main!(benches);
