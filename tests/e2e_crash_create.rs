//! `kill -9` in the middle of a create whose provider cannot find an object from its
//! configuration alone (`maas_machine` reads by `system_id`, which only the create learns): the
//! MAAS simulator deploys the machine slowly, brick is killed while MAAS deploys, and the next
//! run must neither lose the machine nor deploy it twice. The interrupted create is recorded
//! as possibly created (tainted), the next plan replaces it and says why, and the apply adopts
//! the machine MAAS is already deploying for brick.
//!
//! Ctrl-C while the next run settles that journal (MAAS answering slowly): once lets the
//! settling finish, folds it into the state and stops; twice stops at once and leaves the
//! unsettled create in the journal for the run after. The lock is released either way.

mod support;

use std::time::{Duration, Instant};

use brick_provider_maas::sim::world::Status;
use brick_provider_maas::sim::{SimOptions, Simulator};
use support::{Dir, PATIENCE, Running, text};

const ONE_MACHINE: &str = r#"
resource "maas_machine" "node" {
  hostname      = "kvm4"
  distro_series = "jammy"
}
"#;

fn with_maas(cmd: &mut std::process::Command, sim: &Simulator) {
    cmd.env("MAAS_API_URL", sim.url())
        .env("MAAS_API_KEY", sim.api_key());
}

fn run(d: &Dir, sim: &Simulator, args: &[&str]) -> std::process::Output {
    let mut c = support::command(d.path(), args);
    with_maas(&mut c, sim);
    c.output().unwrap()
}

fn status(sim: &Simulator) -> Status {
    sim.with_world(|w| w.by_hostname("kvm4").unwrap().status)
}

fn count_ops(sim: &Simulator, op: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.op.as_deref() == Some(op))
        .count()
}

/// Starts a MAAS simulator whose deploy takes about ten seconds, runs `brick apply` for
/// [`ONE_MACHINE`] and kills it (SIGKILL) while MAAS deploys, then removes the stale lock as a
/// user would. The journal holds the unfinished create.
fn killed_mid_deploy() -> (tokio::runtime::Runtime, Simulator, Dir) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(Simulator::start(SimOptions {
            time_scale: 1.0 / 60.0,
            ..SimOptions::fast()
        }))
        .unwrap();
    let d = Dir::new(ONE_MACHINE);

    let mut cmd = support::command(d.path(), &["apply", "--auto-approve"]);
    with_maas(&mut cmd, &sim);
    let mut apply = Running::start(cmd);
    apply.wait_for("maas_machine.node: Creating...");
    let started = Instant::now();
    while status(&sim) != Status::Deploying {
        assert!(started.elapsed() < PATIENCE, "MAAS never started deploying");
        std::thread::sleep(Duration::from_millis(50));
    }
    apply.child.kill().unwrap(); // SIGKILL: no chance to record anything
    let _ = apply.finish();
    assert_eq!(status(&sim), Status::Deploying, "MAAS carries on deploying");
    // The killed run's lock is stale; the user removes it by its id, as with Terraform.
    let store = brick_state::StateStore::new(d.path().join("brick.state.json"), "test");
    let lock = store
        .lock_status()
        .unwrap()
        .expect("the killed run held the lock");
    assert!(lock.stale);
    let o = run(&d, &sim, &["force-unlock", "--force", &lock.holder.id]);
    assert!(o.status.success(), "{}", text(&o));

    (rt, sim, d)
}

#[test]
fn a_create_killed_mid_deploy_is_recorded_as_possibly_created_and_replaced_without_deploying_twice()
{
    let (rt, sim, d) = killed_mid_deploy();

    // The next plan settles the journal: the machine may exist, so it is kept, tainted, and
    // replaced, with a note saying why.
    let o = run(&d, &sim, &["plan"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("maas_machine.node: an interrupted create may have created an object"),
        "the note explains the replacement:\n{out}"
    );
    assert!(
        out.contains("# maas_machine.node is tainted, so must be replaced"),
        "{out}"
    );
    assert!(
        out.contains("-/+ resource \"maas_machine\" \"node\""),
        "{out}"
    );
    assert!(
        out.contains("Plan: 1 to add, 0 to change, 1 to destroy."),
        "{out}"
    );
    // The reason is recorded in the state, so every later plan still says why.
    let inst = &d.state()["resources"][0]["instances"][0];
    assert_eq!(inst["tainted"], true, "{inst}");
    assert!(
        inst["tainted_reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("possibly created")),
        "{inst}"
    );
    for _ in 0..2 {
        let o = run(&d, &sim, &["plan"]);
        let out = text(&o);
        assert!(o.status.success(), "{out}");
        assert!(
            !out.contains("an interrupted create may have created an object that"),
            "the journal was settled once: {out}"
        );
        assert!(
            out.contains("# maas_machine.node is tainted, so must be replaced\n  # (possibly created: an interrupted create may have created it"),
            "{out}"
        );
    }
    let listed = run(&d, &sim, &["state", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        "maas_machine.node",
        "the possibly created machine is tracked"
    );

    // The apply adopts the machine MAAS is deploying for brick: deployed once, tracked once.
    let o = run(&d, &sim, &["apply", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(status(&sim), Status::Deployed);
    assert_eq!(count_ops(&sim, "allocate"), 1, "allocated once");
    assert_eq!(count_ops(&sim, "deploy"), 1, "deployed once");
    let state = d.state();
    let inst = &state["resources"][0]["instances"][0];
    let sid = sim.with_world(|w| w.by_hostname("kvm4").unwrap().system_id.clone());
    assert_eq!(inst["attributes"]["system_id"], sid.as_str());
    assert!(
        inst.get("tainted").is_none_or(|t| t == false),
        "the replacement is not tainted: {inst}"
    );
    assert!(inst.get("tainted_reason").is_none(), "{inst}");
    let o = run(&d, &sim, &["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    drop(rt);
}

/// Starts `brick plan` on the killed run's journal with every MAAS answer slowed down, and waits
/// until brick is settling it.
fn settling_slowly(d: &Dir, sim: &Simulator) -> Running {
    sim.set_latency(Duration::from_secs(2));
    let mut cmd = support::command(d.path(), &["plan"]);
    with_maas(&mut cmd, sim);
    let mut plan = Running::start(cmd);
    plan.wait_for("change(s) from an interrupted apply.");
    plan
}

fn lock_is_free(d: &Dir) -> bool {
    let store = brick_state::StateStore::new(d.path().join("brick.state.json"), "test");
    store.lock_status().unwrap().is_none()
}

#[test]
fn an_interrupt_while_settling_the_journal_lets_the_settling_finish_then_stops() {
    let (rt, sim, d) = killed_mid_deploy();
    let mut plan = settling_slowly(&d, &sim);
    plan.interrupt();
    plan.wait_for("Interrupt received: settling the interrupted apply's changes first");
    let (code, out) = plan.finish();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("maas_machine.node: an interrupted create may have created an object"),
        "the settling finished:\n{out}"
    );
    assert!(
        out.contains("plan interrupted; nothing was started."),
        "{out}"
    );
    assert!(!out.contains("Plan:"), "no plan was made: {out}");
    // What was settled is in the state, and the lock is free for the next run.
    let inst = &d.state()["resources"][0]["instances"][0];
    assert_eq!(inst["tainted"], true, "{inst}");
    assert!(lock_is_free(&d));

    sim.set_latency(Duration::ZERO);
    let o = run(&d, &sim, &["plan"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        !out.contains("an interrupted create may have created an object that"),
        "settled once: {out}"
    );
    assert!(
        out.contains("# maas_machine.node is tainted, so must be replaced"),
        "{out}"
    );
    drop(rt);
}

#[test]
fn a_second_interrupt_while_settling_stops_at_once_and_the_next_run_settles_the_rest() {
    let (rt, sim, d) = killed_mid_deploy();
    let mut plan = settling_slowly(&d, &sim);
    plan.interrupt();
    plan.wait_for("Interrupt received: settling the interrupted apply's changes first");
    plan.interrupt();
    let (code, out) = plan.finish();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Second interrupt: stopped settling; the unsettled changes stay in the journal for the next run."),
        "{out}"
    );
    assert!(
        !out.contains("an interrupted create may have created an object"),
        "the settling was cut short: {out}"
    );
    assert!(lock_is_free(&d));
    // Nothing was lost: the unfinished create is still pending, so the next run settles it.
    sim.set_latency(Duration::ZERO);
    let o = run(&d, &sim, &["plan"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("maas_machine.node: an interrupted create may have created an object"),
        "{out}"
    );
    assert!(
        out.contains("# maas_machine.node is tainted, so must be replaced"),
        "{out}"
    );
    let o = run(&d, &sim, &["apply", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(count_ops(&sim, "deploy"), 1, "deployed once");
    drop(rt);
}
