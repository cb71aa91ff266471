//! Ctrl-C through the real binary: `brick apply --auto-approve` on operations that take real
//! time (`brick_sleep`), interrupted with SIGINT. One interrupt: nothing new starts, running
//! operations finish and are recorded, exit 1, and a rerun converges creating nothing twice.
//! Two interrupts: running operations are cancelled, the state still loads, a rerun converges.

mod support;

use support::{Dir, Running, brick, command, recorded_id, text};

const CHAIN: &str = r#"
variable "slow" {
  type    = string
  default = "6s" # ample time to interrupt it while it runs, even on a busy machine
}

resource "brick_data" "quick" {
  input = "q"
}

resource "brick_sleep" "slow" {
  create_duration = var.slow
}

resource "brick_sleep" "next" {
  create_duration = "1s"
  triggers        = { after = brick_sleep.slow.id }
}

resource "brick_data" "last" {
  input = brick_sleep.next.id
}
"#;

fn converges(d: &Dir, vars: &[&str]) {
    let mut args = vec!["plan", "--detailed-exitcode"];
    args.extend_from_slice(vars);
    let o = brick(d.path(), &args);
    assert_eq!(o.status.code(), Some(0), "not converged:\n{}", text(&o));
}

#[test]
fn one_interrupt_lets_running_operations_finish_starts_nothing_new_and_exits_1() {
    let d = Dir::new(CHAIN);
    let mut run = Running::start(command(d.path(), &["apply", "--auto-approve"]));
    run.wait_for("brick_sleep.slow: Creating...");
    run.interrupt();
    let (code, out) = run.finish();

    assert_eq!(code, Some(1), "an interrupted apply exits 1:\n{out}");
    assert!(
        out.contains("Interrupt received. Please wait for brick to exit or data loss may occur.")
            && out.contains("Gracefully shutting down..."),
        "brick says it is stopping:\n{out}"
    );
    let interrupt_at = out.find("Interrupt received").unwrap();
    let done_at = out
        .find("brick_sleep.slow: Creation complete")
        .unwrap_or_else(|| panic!("the running create finishes:\n{out}"));
    assert!(
        done_at > interrupt_at,
        "it finished after the signal:\n{out}"
    );
    assert!(
        !out.contains("brick_sleep.next: Creating") && !out.contains("brick_data.last: Creating"),
        "nothing starts after the signal:\n{out}"
    );
    assert!(out.contains("brick::apply::interrupted"), "{out}");

    // What finished is recorded.
    let state = d.state();
    let slow_id = recorded_id(&state, "brick_sleep", "slow").expect("slow recorded");
    let quick_id = recorded_id(&state, "brick_data", "quick").expect("quick recorded");
    assert!(recorded_id(&state, "brick_sleep", "next").is_none());
    let listed = text(&brick(d.path(), &["state", "list"]));
    assert!(listed.contains("brick_sleep.slow") && !listed.contains("brick_sleep.next"));

    // The rerun does the rest and nothing twice.
    let o = brick(d.path(), &["apply", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("Apply complete! Resources: 2 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    assert!(!out.contains("brick_sleep.slow: Creating"), "{out}");
    let state = d.state();
    assert_eq!(recorded_id(&state, "brick_sleep", "slow"), Some(slow_id));
    assert_eq!(recorded_id(&state, "brick_data", "quick"), Some(quick_id));
    assert!(recorded_id(&state, "brick_data", "last").is_some());
    converges(&d, &[]);
}

#[test]
fn a_second_interrupt_cancels_running_operations_and_the_state_still_loads() {
    let d = Dir::new(CHAIN);
    // Long enough that, were it not cancelled, its completion would show in the output.
    let mut run = Running::start(command(
        d.path(),
        &["apply", "--auto-approve", "--var", "slow=40s"],
    ));
    run.wait_for("brick_sleep.slow: Creating...");
    run.wait_for("brick_data.quick: Creation complete");
    run.interrupt();
    run.wait_for("Interrupt received");
    run.interrupt();
    let (code, out) = run.finish();

    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Two interrupts received"), "{out}");
    assert!(
        out.contains("brick_sleep.slow: Creation cancelled after"),
        "the abandoned operation is named:\n{out}"
    );
    assert!(
        !out.contains("brick_sleep.slow: Creation complete"),
        "the running create was cancelled:\n{out}"
    );
    assert!(!out.contains("brick_sleep.next: Creating"), "{out}");

    // The state loads and holds what finished.
    let o = brick(d.path(), &["state", "list"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "brick_data.quick"
    );
    let quick_id = recorded_id(&d.state(), "brick_data", "quick").unwrap();

    let o = brick(d.path(), &["apply", "--auto-approve", "--var", "slow=0s"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Apply complete! Resources: 3 added, 0 changed, 0 destroyed."),
        "{}",
        text(&o)
    );
    assert_eq!(
        recorded_id(&d.state(), "brick_data", "quick"),
        Some(quick_id),
        "nothing is created twice"
    );
    converges(&d, &["--var", "slow=0s"]);
}

#[test]
fn an_interrupted_destroy_finishes_what_runs_and_a_rerun_destroys_the_rest() {
    let d = Dir::new(
        r#"
resource "brick_sleep" "a" {
}
resource "brick_sleep" "b" {
  destroy_duration = "6s"
  triggers         = { a = brick_sleep.a.id }
}
"#,
    );
    assert!(
        brick(d.path(), &["apply", "--auto-approve"])
            .status
            .success()
    );
    // b depends on a, so b is destroyed first, then a.
    let mut run = Running::start(command(d.path(), &["destroy", "--auto-approve"]));
    run.wait_for("brick_sleep.b: Destroying...");
    run.interrupt();
    let (code, out) = run.finish();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("brick_sleep.b: Destruction complete"), "{out}");
    assert!(!out.contains("brick_sleep.a: Destroying"), "{out}");
    let listed = text(&brick(d.path(), &["state", "list"]));
    assert_eq!(listed.trim(), "brick_sleep.a");
    let o = brick(d.path(), &["destroy", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 destroyed"), "{}", text(&o));
}

#[test]
fn an_interrupt_while_planning_stops_at_once_and_releases_the_lock() {
    use brick_provider_maas::sim::{SimOptions, Simulator};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimOptions::fast())).unwrap();
    let d = Dir::new(
        r#"
resource "maas_machine" "node" {
  hostname      = "kvm4"
  distro_series = "jammy"
}
"#,
    );
    let with_maas = |mut c: std::process::Command| {
        c.env("MAAS_API_URL", sim.url())
            .env("MAAS_API_KEY", sim.api_key());
        c
    };
    let o = with_maas(command(d.path(), &["apply", "--auto-approve"]))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));

    // MAAS answers slowly now: the refresh would take half a minute.
    sim.set_latency(std::time::Duration::from_secs(30));
    let mut run = Running::start(with_maas(command(d.path(), &["plan"])));
    run.wait_for("maas_machine.node: Refreshing state...");
    run.interrupt();
    let (code, out) = run.finish();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Interrupt received. Stopped planning"),
        "{out}"
    );
    assert!(
        !out.contains("No changes"),
        "the plan did not finish:\n{out}"
    );
    let store = brick_state::StateStore::new(d.path().join("brick.state.json"), "test");
    assert!(
        store.lock_status().unwrap().is_none(),
        "the lock is released, no force-unlock needed"
    );

    sim.set_latency(std::time::Duration::ZERO);
    let o = with_maas(command(d.path(), &["plan", "--detailed-exitcode"]))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
