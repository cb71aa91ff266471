//! Measures each real store's operations at the benchmark's size (ignored by default):
//! `cargo test -p brick-state-backends --release --test measure -- --ignored --nocapture`
//! with the peers' settings (BRICK_PEERS_S3_*, BRICK_PEERS_PG_CONN, BRICK_PEERS_KUBECONFIG).
//! A state of 5,000 objects (the bench workload's attributes) is written compare-and-swap
//! (push), read (pull), and the lock taken and released, each several times (medians), plain
//! and sealed with AES-256-GCM under a passphrase.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use brick_state::{Change, IndexKey, LockInfo, ObjectState, ResourceAddr, State};
use brick_state_backends::{self as be, BackendConfig, Encryption, Key, KeySource};
use serde_json::json;

fn configs() -> Vec<BackendConfig> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let mut out = Vec::new();
    if let (Some(ep), Some(ak), Some(sk)) = (
        env("BRICK_PEERS_S3_ENDPOINT"),
        env("BRICK_PEERS_S3_ACCESS_KEY"),
        env("BRICK_PEERS_S3_SECRET_KEY"),
    ) {
        let mut s = BTreeMap::new();
        s.insert(
            "bucket".into(),
            env("BRICK_PEERS_S3_BUCKET").unwrap_or("brick-state".into()),
        );
        s.insert("key".into(), format!("measure/{id}/brick.state.json"));
        s.insert("endpoints.s3".into(), ep);
        s.insert("access_key".into(), ak);
        s.insert("secret_key".into(), sk);
        out.push(BackendConfig {
            kind: "s3".into(),
            settings: s,
        });
    }
    if let Some(conn) = env("BRICK_PEERS_PG_CONN") {
        let mut s = BTreeMap::new();
        s.insert("conn_str".into(), conn);
        s.insert("schema_name".into(), format!("measure_{id}"));
        out.push(BackendConfig {
            kind: "pg".into(),
            settings: s,
        });
    }
    if let Some(kc) = env("BRICK_PEERS_KUBECONFIG") {
        let mut s = BTreeMap::new();
        s.insert("secret_suffix".into(), format!("measure-{id}"));
        s.insert("namespace".into(), "default".into());
        s.insert("config_path".into(), kc);
        out.push(BackendConfig {
            kind: "kubernetes".into(),
            settings: s,
        });
    }
    out
}

fn document(n: usize) -> Vec<u8> {
    let mut state = State::new("0.1.0");
    for i in 0..n {
        let input = format!("bench-perf-garage-{i}");
        state.apply(&Change::Set {
            intent: None,
            addr: ResourceAddr::managed("brick_data", format!("r{i}")).instance(IndexKey::None),
            deposed: None,
            provider: "provider[\"brick/builtin\"]".into(),
            object: ObjectState::new(json!({
                "id": uuid::Uuid::new_v4().to_string(),
                "input": input,
                "output": input,
                "triggers_replace": if i % 10 == 0 { json!({"env": "perf", "index": i}) } else { json!(null) },
            })),
        });
    }
    brick_state::to_bytes(&state)
}

fn median(mut v: Vec<Duration>) -> String {
    v.sort();
    format!("{:.1} ms", v[v.len() / 2].as_secs_f64() * 1000.0)
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture against the peers"]
fn measure_store_operations_at_5000_resources() {
    let plain = document(5000);
    let enc = Encryption::new(
        Key::load(KeySource::Passphrase {
            source: "BRICK_STATE_PASSPHRASE",
            value: "the benchmark's long passphrase",
        })
        .unwrap(),
        None,
        false,
    );
    let t = Instant::now();
    let sealed = enc.seal(&plain).unwrap();
    let seal_first = t.elapsed();
    let seals: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            enc.seal(&plain).unwrap();
            t.elapsed()
        })
        .collect();
    let opens: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            enc.open(&sealed, "x").unwrap();
            t.elapsed()
        })
        .collect();
    println!(
        "document: {:.2} MiB plain, {:.2} MiB sealed; seal {} (first, with argon2id: {:.0} ms), open {}",
        plain.len() as f64 / 1048576.0,
        sealed.len() as f64 / 1048576.0,
        median(seals),
        seal_first.as_secs_f64() * 1000.0,
        median(opens)
    );
    println!("| store | document | push (CAS write) | pull (read) | lock + release |");
    println!("|---|---|---:|---:|---:|");
    for cfg in configs() {
        let b = be::open(&cfg).unwrap();
        for (label, doc) in [("plain", &plain), ("encrypted", &sealed)] {
            let mut version = b.read("default").unwrap().map(|s| s.version);
            let mut pushes = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                version = Some(b.write("default", doc.clone(), version.as_deref()).unwrap());
                pushes.push(t.elapsed());
            }
            let pulls: Vec<Duration> = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    let s = b.read("default").unwrap().unwrap();
                    assert_eq!(s.bytes.len(), doc.len());
                    t.elapsed()
                })
                .collect();
            let locks: Vec<Duration> = (0..10)
                .map(|_| {
                    let t = Instant::now();
                    let held = b
                        .lock("default", &LockInfo::new("measure", "0.1.0", "measure"))
                        .unwrap();
                    held.release().unwrap();
                    t.elapsed()
                })
                .collect();
            println!(
                "| {} | {label} | {} | {} | {} |",
                cfg.kind,
                median(pushes),
                median(pulls),
                median(locks)
            );
        }
        b.delete_workspace("default").unwrap();
    }
}
