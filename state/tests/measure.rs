//! Measurements, not tests: run with
//! `cargo test -p brick-state --release --test measure -- --ignored --nocapture`.
//! Prints a table: the cost of one fsync here, recording 5,000 results with group commit
//! against one fsync per record, a whole 5,000-resource apply journal, and loading and
//! saving a 5,000-resource state.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brick_state::{
    Change, Durability, IndexKey, InstanceAddr, IntentAction, ObjectState, ResourceAddr, State,
    StateStore,
};
use serde_json::json;
use tempfile::TempDir;

const N: usize = 5_000;
const PROVIDER: &str = "provider[\"brick/maas\"]";

fn addr(i: usize) -> InstanceAddr {
    ResourceAddr::managed("maas_machine", "node").instance(IndexKey::String(format!("node-{i:05}")))
}

/// A machine-like object of about 600 bytes.
fn object(i: usize) -> ObjectState {
    let mut o = ObjectState::new(json!({
        "system_id": format!("x{i:07}"),
        "hostname": format!("node-{i:05}"),
        "distro_series": "noble",
        "status_name": "Deployed",
        "power_type": "ipmi",
        "power_parameters": {"power_address": format!("10.1.{}.{}", i / 250, i % 250), "power_user": "maas", "power_pass": "hunter2"},
        "tag_names": ["ceph", "k8s", "rack-a"],
        "ip_addresses": [format!("10.0.{}.{}", i / 250, i % 250)],
        "cpu_count": 8,
        "memory": 16384,
        "storage_layout": "lvm",
        "zone": "default",
        "pool": "default",
        "user_data": "#cloud-config\npackages:\n  - lvm2\n",
    }));
    o.sensitive_paths = vec![vec![
        brick_state::PathStep::Attr("power_parameters".into()),
        brick_state::PathStep::Key("power_pass".into()),
    ]];
    o.dependencies = vec!["maas_tag.ceph".into()];
    o
}

fn big_state() -> State {
    let mut s = State::with_lineage("measure", "0.1.0");
    for i in 0..N {
        s.apply(&Change::Set {
            intent: None,
            addr: addr(i),
            deposed: None,
            provider: PROVIDER.into(),
            object: object(i),
        });
    }
    s
}

fn row(what: &str, d: Duration, extra: &str) {
    println!(
        "| {what:<66} | {:>10.1} ms | {extra}",
        d.as_secs_f64() * 1e3
    );
}

fn fresh(dir: &TempDir) -> (StateStore, brick_state::StateLock) {
    let store = StateStore::new(dir.path().join("brick.state.json"), "0.1.0");
    let lock = store.lock("measure").unwrap();
    (store, lock)
}

/// A whole apply of N creates where each of `workers` threads announces the intents of the
/// next `ahead` operations it will run with one `record_all` (one fsync), then runs them,
/// recording each result as it completes.
fn apply_ahead(workers: usize, ahead: usize) -> (Duration, Duration, brick_state::JournalStats) {
    let dir = TempDir::new().unwrap();
    let (store, lock) = fresh(&dir);
    let t = Instant::now();
    let journal = Arc::new(
        store
            .begin_apply(&lock, State::with_lineage("m", "0.1.0"))
            .unwrap(),
    );
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let journal = Arc::clone(&journal);
            std::thread::spawn(move || {
                let mine: Vec<usize> = (w..N).step_by(workers).collect();
                for chunk in mine.chunks(ahead) {
                    let ids: Vec<u64> = chunk.iter().map(|_| journal.next_intent_id()).collect();
                    let intents = chunk.iter().zip(&ids).map(|(&i, &id)| {
                        Change::Intent(brick_state::Intent {
                            id,
                            addr: addr(i),
                            deposed: None,
                            action: IntentAction::Create,
                            provider: PROVIDER.into(),
                            planned: json!({"hostname": format!("node-{i:05}")}),
                        })
                    });
                    journal.record_all(intents, Durability::Sync).unwrap();
                    for (&i, &id) in chunk.iter().zip(&ids) {
                        journal
                            .record(
                                Change::Set {
                                    intent: Some(id),
                                    addr: addr(i),
                                    deposed: None,
                                    provider: PROVIDER.into(),
                                    object: object(i),
                                },
                                Durability::Batched,
                            )
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    journal.flush().unwrap();
    let stats = journal.stats();
    let journaled = t.elapsed();
    let journal = Arc::into_inner(journal).unwrap();
    let state = journal.finish().unwrap();
    assert_eq!(state.object_count(), N);
    assert!(state.pending.is_empty());
    (journaled, t.elapsed(), stats)
}

/// A whole apply of N creates: intent (Sync) then result (Batched) for each, from `workers`
/// threads like the engine's `--parallelism`, then the final snapshot.
fn apply(workers: usize) -> (Duration, Duration, brick_state::JournalStats) {
    let dir = TempDir::new().unwrap();
    let (store, lock) = fresh(&dir);
    let t = Instant::now();
    let journal = Arc::new(
        store
            .begin_apply(&lock, State::with_lineage("m", "0.1.0"))
            .unwrap(),
    );
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let journal = Arc::clone(&journal);
            std::thread::spawn(move || {
                for i in (w..N).step_by(workers) {
                    let id = journal
                        .record_intent(
                            addr(i),
                            None,
                            IntentAction::Create,
                            PROVIDER,
                            json!({"hostname": format!("node-{i:05}")}),
                        )
                        .unwrap();
                    journal
                        .record(
                            Change::Set {
                                intent: Some(id),
                                addr: addr(i),
                                deposed: None,
                                provider: PROVIDER.into(),
                                object: object(i),
                            },
                            Durability::Batched,
                        )
                        .unwrap();
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    journal.flush().unwrap();
    let stats = journal.stats();
    let journaled = t.elapsed();
    let journal = Arc::into_inner(journal).unwrap();
    let state = journal.finish().unwrap();
    assert_eq!(state.object_count(), N);
    (journaled, t.elapsed(), stats)
}

#[test]
#[ignore = "a measurement; run with --ignored --nocapture, preferably --release"]
fn measure_journal_and_snapshot_costs() {
    println!();
    println!("| {:<66} | {:>13} | notes", "operation", "time");
    println!("|{}|{}|------", "-".repeat(68), "-".repeat(15));

    // One fsync of a small append.
    let dir = TempDir::new().unwrap();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path().join("f"))
        .unwrap();
    let mut times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        f.write_all(&[b'x'; 200]).unwrap();
        f.sync_data().unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    row(
        "one fdatasync of a 200-byte append (median of 200)",
        times[100],
        &format!("p90 {:.2} ms", times[180].as_secs_f64() * 1e3),
    );

    // N results, one fsync each.
    let dir = TempDir::new().unwrap();
    let (store, lock) = fresh(&dir);
    let journal = store
        .begin_apply(&lock, State::with_lineage("m", "0.1.0"))
        .unwrap();
    let t = Instant::now();
    for i in 0..N {
        journal
            .record(
                Change::Set {
                    intent: None,
                    addr: addr(i),
                    deposed: None,
                    provider: PROVIDER.into(),
                    object: object(i),
                },
                Durability::Sync,
            )
            .unwrap();
    }
    let s = journal.stats();
    row(
        "5,000 results, Durability::Sync each (fsync per record)",
        t.elapsed(),
        &format!("{} fsyncs", s.fsyncs),
    );
    drop(journal);

    // N results, group commit.
    let dir = TempDir::new().unwrap();
    let (store, lock) = fresh(&dir);
    let journal = store
        .begin_apply(&lock, State::with_lineage("m", "0.1.0"))
        .unwrap();
    let t = Instant::now();
    for i in 0..N {
        journal
            .record(
                Change::Set {
                    intent: None,
                    addr: addr(i),
                    deposed: None,
                    provider: PROVIDER.into(),
                    object: object(i),
                },
                Durability::Batched,
            )
            .unwrap();
    }
    journal.flush().unwrap();
    let s = journal.stats();
    row(
        "5,000 results, Durability::Batched + flush (group commit)",
        t.elapsed(),
        &format!("{} fsyncs", s.fsyncs),
    );
    drop(journal);

    for workers in [10, 50] {
        let (journaled, total, s) = apply(workers);
        row(
            &format!("apply of 5,000 creates, {workers} workers: journal"),
            journaled,
            &format!("{} records, {} fsyncs", s.records, s.fsyncs),
        );
        row(
            &format!("apply of 5,000 creates, {workers} workers: + final snapshot"),
            total,
            "",
        );
    }

    let (journaled, total, s) = apply_ahead(10, 50);
    row(
        "apply of 5,000 creates, 10 workers, intents 50 ahead: journal",
        journaled,
        &format!("{} records, {} fsyncs", s.records, s.fsyncs),
    );
    row(
        "apply of 5,000 creates, 10 workers, intents 50 ahead: + snapshot",
        total,
        "",
    );

    // Snapshot of N resources.
    let state = big_state();
    let t = Instant::now();
    let bytes = brick_state::to_bytes(&state);
    row(
        "serialize a 5,000-resource state",
        t.elapsed(),
        &format!("{:.1} MB", bytes.len() as f64 / 1e6),
    );
    let t = Instant::now();
    let back = brick_state::from_bytes(&bytes, std::path::Path::new("x")).unwrap();
    row("parse a 5,000-resource state", t.elapsed(), "");
    assert_eq!(back, state);
    let dir = TempDir::new().unwrap();
    let (store, lock) = fresh(&dir);
    let t = Instant::now();
    store.save(&lock, &state).unwrap();
    row("save a 5,000-resource state (first write)", t.elapsed(), "");
    let mut next = state.clone();
    next.serial += 1;
    let t = Instant::now();
    store.save(&lock, &next).unwrap();
    row(
        "save over it (serial check, backup, atomic replace)",
        t.elapsed(),
        "",
    );
    let t = Instant::now();
    let loaded = store.load().unwrap().unwrap();
    row("load a 5,000-resource state", t.elapsed(), "");
    assert_eq!(loaded.state, next);
}

/// The benchmark workload's shape (bench/workload.py) as a state: N `brick_data` resources,
/// every 10th depending on the previous 10th (a chain of N/10), every i % 10 == 5 on the
/// chain member before it; each object lists its direct dependencies, as brick records them.
fn chain_state(n: usize) -> State {
    let name = |i: usize| format!("r{i}");
    let mut s = State::with_lineage("measure", "0.1.0");
    let mut last: Option<String> = None;
    for i in 0..n {
        let deps: Vec<String> = if i % 10 == 0 && i >= 10 || i % 10 == 5 && i >= 5 {
            last.iter().cloned().collect()
        } else {
            Vec::new()
        };
        let mut o = ObjectState::new(json!({
            "id": format!("{i:08x}-0000-4000-8000-000000000000"),
            "input": format!("bench-perf-garage-{i}"),
            "output": format!("bench-perf-garage-{i}"),
            "triggers_replace": null,
        }));
        o.dependencies = deps;
        s.apply(&Change::Set {
            intent: None,
            addr: ResourceAddr::managed("brick_data", name(i)).instance(IndexKey::None),
            deposed: None,
            provider: "provider[\"brick/brick\"]".into(),
            object: o,
        });
        if i % 10 == 0 {
            last = Some(format!("brick_data.{}", name(i)));
        }
    }
    s
}

#[test]
#[ignore = "a measurement; run with --ignored --nocapture, preferably --release"]
fn measure_dependency_chains() {
    println!();
    println!(
        "| N | addresses in memory | bytes written | save | load | exponent (bytes, save, load) |"
    );
    println!("|---:|---:|---:|---:|---:|---|");
    let mut last: Option<(f64, f64, f64, f64)> = None;
    for n in [5_000usize, 20_000, 100_000] {
        let state = chain_state(n);
        let in_memory: usize = state
            .resources
            .values()
            .flat_map(|r| r.instances.values())
            .filter_map(|i| i.current.as_ref())
            .map(|o| o.dependencies.len())
            .sum();
        let t = Instant::now();
        let bytes = brick_state::to_bytes(&state);
        let save = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let back = brick_state::from_bytes(&bytes, std::path::Path::new("m")).unwrap();
        let load = t.elapsed().as_secs_f64();
        assert!(back == state, "N = {n} does not load back as saved");
        let size = bytes.len() as f64;
        let exps = match last {
            Some((n0, b0, s0, l0)) => {
                let k = (n as f64 / n0).ln();
                format!(
                    "{:.2}, {:.2}, {:.2}",
                    (size / b0).ln() / k,
                    (save / s0).ln() / k,
                    (load / l0).ln() / k
                )
            }
            None => "—".into(),
        };
        println!(
            "| {n} | {in_memory} | {} | {:.0} ms | {:.0} ms | {exps} |",
            bytes.len(),
            save * 1e3,
            load * 1e3
        );
        last = Some((n as f64, size, save, load));
    }
}
