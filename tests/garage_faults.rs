//! kill -9 campaign over the whole garage in the lab: the real `brick apply` of examples/garage
//! (machines, MicroK8s cluster and nodes, Rook, Strimzi) is SIGKILLed at seeded random moments
//! spread over the apply; the lab lives in this test process and survives it. Each trial then
//! runs `brick apply` until it converges and checks that nothing was created twice in MAAS
//! (one allocate and one deploy per node) nor in the cluster (the CephCluster, its pool, the
//! Kafka, its node pools and topics each created once by the lab's Kubernetes API), every
//! configured object is tracked once in the state, and the next plan is empty. Three trials by default; 20 when BRICK_TEST_STRICT=1 (the full
//! run) or BRICK_CRASH_TRIALS=N.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use brick::registry::maas_lab::{self, SimOptions, Simulator};

const NODES: usize = 3;

fn garage_copy() -> tempfile::TempDir {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/garage");
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
    }
    dir
}

fn command(dir: &Path, sim: &Simulator, net: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brick"));
    c.args(args)
        .current_dir(dir)
        .env("MAAS_API_URL", sim.url())
        .env("MAAS_API_KEY", sim.api_key())
        .env("NO_COLOR", "1")
        // brick reads variables from BRICK_VAR_<name> (not TF_VAR_): the lab's address of `maas`.
        .env("BRICK_VAR_api_address", format!("{net}.10"))
        .env_remove("KUBECONFIG");
    c
}

/// How long one `brick` run may take before the test gives up on it (a hang fails with a message).
const RUN_BOUND: Duration = Duration::from_secs(240);

/// Runs `c` to completion within `bound`; past it the run is killed and the test fails with what
/// it printed so far.
fn run_bounded(mut c: Command, bound: Duration, what: &str) -> Output {
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    c.stdin(Stdio::null())
        .stdout(Stdio::from(out.reopen().unwrap()))
        .stderr(Stdio::from(err.reopen().unwrap()));
    let t0 = Instant::now();
    let mut child = c.spawn().unwrap();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}: still running after {bound:?}; killed. stdout:\n{}\nstderr:\n{}",
                std::fs::read_to_string(out.path()).unwrap_or_default(),
                std::fs::read_to_string(err.path()).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: std::fs::read(out.path()).unwrap(),
        stderr: std::fs::read(err.path()).unwrap(),
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The layer a resource type belongs to.
fn layer(ty: &str) -> &'static str {
    match ty.split('_').next().unwrap_or("") {
        "maas" => "machines",
        "microk8s" => "cluster",
        "rook" => "storage",
        "strimzi" => "kafka",
        _ => "other",
    }
}

/// The layer of the last resource brick said it was working on.
fn working_on(out: &str) -> &'static str {
    out.lines()
        .rev()
        .find(|l| l.contains("Creating...") || l.contains("Still creating"))
        // Output to a file is timestamped: `2026-…Z maas_machine.node["kvm4"]: Creating...`.
        .and_then(|l| l.split_whitespace().find(|w| w.contains('.')))
        .and_then(|a| a.split('.').next())
        .map(layer)
        .unwrap_or("before any create")
}

fn lab_options() -> (SimOptions, String, brick::lab::Labs) {
    let mut opts = SimOptions {
        time_scale: 0.002,
        ..SimOptions::fast()
    };
    let net = brick::lab::free_loopback_network();
    opts.network = Some(net.clone());
    let labs = brick::lab::with_clusters(&mut opts);
    (opts, net, labs)
}

/// The Kubernetes objects of the garage's layers that brick creates (Rook's CephCluster, the
/// Kafka, its node pools and topics), with how many times the lab's API created each.
fn k8s_creations(labs: &brick::lab::Labs) -> Vec<(&'static str, BTreeMap<String, u32>)> {
    [
        ("ceph.rook.io/v1", "CephCluster"),
        ("ceph.rook.io/v1", "CephBlockPool"),
        ("kafka.strimzi.io/v1", "Kafka"),
        ("kafka.strimzi.io/v1", "KafkaNodePool"),
        ("kafka.strimzi.io/v1", "KafkaTopic"),
    ]
    .into_iter()
    .map(|(api, kind)| (kind, labs.creations(api, kind)))
    .collect()
}

fn count_ops(sim: &Simulator, op: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.op.as_deref() == Some(op))
        .count()
}

/// A small seeded generator (xorshift), so a failing trial is reproduced from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn trials() -> usize {
    if let Ok(n) = std::env::var("BRICK_CRASH_TRIALS") {
        return n.parse().expect("BRICK_CRASH_TRIALS is a number");
    }
    if std::env::var("BRICK_TEST_STRICT").as_deref() == Ok("1") {
        20
    } else {
        3
    }
}

#[test]
fn the_garage_killed_at_random_moments_converges_with_nothing_twice_and_nothing_untracked() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _in_runtime = rt.enter(); // the lab's clusters spawn their tasks on it

    // A clean apply first: how long the whole garage takes, over which kill points spread.
    let (opts, net, labs) = lab_options();
    let sim = rt
        .block_on(maas_lab::serve("127.0.0.1:0".parse().unwrap(), opts))
        .unwrap();
    let dir = garage_copy();
    let t0 = Instant::now();
    eprintln!("garage_faults: clean apply (network {net})…");
    let o = run_bounded(
        command(dir.path(), &sim, &net, &["apply", "--auto-approve"]),
        RUN_BOUND,
        "clean apply",
    );
    assert_eq!(o.status.code(), Some(0), "clean apply: {}", text(&o));
    let full = t0.elapsed();
    eprintln!("garage_faults: clean apply took {:.1}s", full.as_secs_f64());
    let list = run_bounded(
        command(dir.path(), &sim, &net, &["state", "list"]),
        RUN_BOUND,
        "state list",
    );
    let expected: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    // What a clean apply creates in the cluster: the objects each trial must create once.
    let expected_k8s: Vec<(&str, Vec<String>)> = k8s_creations(&labs)
        .into_iter()
        .map(|(kind, objs)| {
            assert!(
                objs.values().all(|n| *n == 1),
                "clean apply: {kind} created once each: {objs:?}"
            );
            (kind, objs.into_keys().collect())
        })
        .collect();
    for (kind, names) in &expected_k8s {
        assert!(!names.is_empty(), "the clean apply created no {kind}");
    }
    drop(sim);

    let seed: u64 = std::env::var("BRICK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut rng = Rng(seed);
    let campaign = Instant::now();
    let mut per_layer: BTreeMap<&str, usize> = BTreeMap::new();
    let mut runs_needed: Vec<usize> = Vec::new();
    for trial in 0..trials() {
        let trial_t0 = Instant::now();
        let (opts, net, labs) = lab_options();
        let sim = rt
            .block_on(maas_lab::serve("127.0.0.1:0".parse().unwrap(), opts))
            .unwrap();
        let dir = garage_copy();
        let d = dir.path();
        let kill_at = Duration::from_millis(rng.next() % (full.as_millis() as u64).max(1));
        let log = d.join("killed.log");
        let mut cmd = command(d, &sim, &net, &["apply", "--auto-approve"]);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(kill_at);
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        let where_ = working_on(&std::fs::read_to_string(&log).unwrap_or_default());
        eprintln!("garage_faults: trial {trial}: killed at {kill_at:?} in {where_}");
        *per_layer.entry(where_).or_default() += 1;

        // The killed run's lock is stale; remove it as a user would.
        let store = brick_state::StateStore::new(d.join("brick.state.json"), "test");
        if let Some(lock) = store.lock_status().unwrap() {
            let o = run_bounded(
                command(d, &sim, &net, &["force-unlock", "--force", &lock.holder.id]),
                RUN_BOUND,
                "force-unlock",
            );
            assert!(o.status.success(), "trial {trial}: {}", text(&o));
        }

        let mut runs = 0;
        loop {
            runs += 1;
            let t = Instant::now();
            let o = run_bounded(
                command(d, &sim, &net, &["apply", "--auto-approve"]),
                RUN_BOUND,
                &format!("trial {trial}: apply run {runs}"),
            );
            eprintln!(
                "garage_faults: trial {trial}: apply run {runs} exit {:?} in {:.1}s",
                o.status.code(),
                t.elapsed().as_secs_f64()
            );
            if o.status.success() {
                break;
            }
            assert!(
                runs < 3,
                "trial {trial} (seed {seed:#x}, killed at {kill_at:?} in {where_}) does not converge: {}",
                text(&o)
            );
        }
        runs_needed.push(runs);
        let ctx = format!("trial {trial} (seed {seed:#x}, killed at {kill_at:?} in {where_})");
        let o = run_bounded(
            command(d, &sim, &net, &["plan", "--detailed-exitcode"]),
            RUN_BOUND,
            &format!("{ctx}: second plan"),
        );
        assert_eq!(o.status.code(), Some(0), "{ctx}: second plan: {}", text(&o));
        assert_eq!(
            count_ops(&sim, "allocate"),
            NODES,
            "{ctx}: allocated once per node"
        );
        assert_eq!(
            count_ops(&sim, "deploy"),
            NODES,
            "{ctx}: deployed once per node"
        );
        let list = run_bounded(
            command(d, &sim, &net, &["state", "list"]),
            RUN_BOUND,
            &format!("{ctx}: state list"),
        );
        let tracked: Vec<String> = String::from_utf8_lossy(&list.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(tracked, expected, "{ctx}: every object tracked once");
        // Nothing created twice in the cluster either: each object of the storage and Kafka
        // layers was created once by the lab's Kubernetes API, the same ones as a clean apply.
        for (kind, objs) in k8s_creations(&labs) {
            let twice: Vec<_> = objs.iter().filter(|(_, n)| **n != 1).collect();
            assert!(
                twice.is_empty(),
                "{ctx}: {kind} created more than once: {twice:?}"
            );
            let names: Vec<String> = objs.into_keys().collect();
            let want = &expected_k8s.iter().find(|(k, _)| *k == kind).unwrap().1;
            assert_eq!(&names, want, "{ctx}: the {kind}s of a clean apply");
        }
        eprintln!(
            "garage_faults: {ctx}: converged in {runs} run(s), trial took {:.1}s",
            trial_t0.elapsed().as_secs_f64()
        );
        drop(sim);
    }
    println!(
        "garage kill -9 campaign: {} trial(s), clean apply {:.1}s, campaign {:.1}s, kill points per layer {per_layer:?}, runs to converge {runs_needed:?}",
        runs_needed.len(),
        full.as_secs_f64(),
        campaign.elapsed().as_secs_f64()
    );
}

#[test]
fn the_garage_converges_in_one_apply_when_a_tenth_of_maas_and_kubernetes_answers_fail() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _in_runtime = rt.enter(); // the lab's clusters spawn their tasks on it
    let mut opts = SimOptions {
        time_scale: 0.002,
        error_rate: 0.1,
        latency: Duration::from_millis(5),
        ..SimOptions::fast()
    };
    let net = brick::lab::free_loopback_network();
    opts.network = Some(net.clone());
    let labs = brick::lab::with_clusters(&mut opts);
    let sim = rt
        .block_on(maas_lab::serve("127.0.0.1:0".parse().unwrap(), opts))
        .unwrap();
    let dir = garage_copy();
    let t0 = Instant::now();
    let o = run_bounded(
        command(dir.path(), &sim, &net, &["apply", "--auto-approve"]),
        RUN_BOUND,
        "apply with faults",
    );
    let took = t0.elapsed();
    assert_eq!(
        o.status.code(),
        Some(0),
        "one apply with faults: {}",
        text(&o)
    );
    let (maas_faults, k8s_faults) = (sim.faults_injected(), labs.faults_injected());
    assert!(maas_faults > 0, "MAAS answered no fault");
    assert!(k8s_faults > 0, "the Kubernetes APIs answered no fault");
    sim.with_world(|w| {
        for h in ["maas", "kvm4", "kvm5"] {
            let m = w.by_hostname(h).unwrap();
            assert_eq!(m.status.name(), "Deployed", "{h}");
        }
    });
    // The second plan runs under the same faults and finds nothing to do.
    let o = run_bounded(
        command(dir.path(), &sim, &net, &["plan", "--detailed-exitcode"]),
        RUN_BOUND,
        "second plan with faults",
    );
    assert_eq!(o.status.code(), Some(0), "second plan: {}", text(&o));
    println!(
        "garage with --error-rate 0.1 and 5 ms latency: converged in one apply of {:.1}s; faults injected: MAAS {maas_faults}, Kubernetes APIs {k8s_faults}",
        took.as_secs_f64()
    );
}
