//! State safety and secrets through the real binary (issue 10, items 1 to 8): a plan is
//! never written over the state's files or through a link, and privately; sensitive values
//! never reach `--json` output; every input is bounded and read before the lock is taken; a
//! state that is a symbolic link keeps its link; a live lock holder is not broken silently and
//! its journal is never folded by another run; a dead holder's lock is taken over.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use support::{Project, Running, command};

const SECRET_CONFIG: &str = r#"
variable "api_key" {
  type      = string
  default   = "Sekr1t-api-key"
  sensitive = true
}
resource "brick_data" "a" {
  input = var.api_key
}
resource "brick_data" "b" {
  input = "plain"
}
output "key" {
  value     = var.api_key
  sensitive = true
}
"#;

fn applied(config: &str) -> Project {
    let p = Project::new(&[("main.hcl", config)]);
    p.brick(&["apply", "--auto-approve"]).ok();
    p
}

// ---- item 1: plan --out never lands on the state's files or follows a link ----------------

#[test]
fn plan_out_refuses_the_state_its_backup_journal_and_lock() {
    let p = applied("resource \"brick_data\" \"a\" {\n  input = \"x\"\n}\n");
    // A second apply makes a backup.
    std::fs::write(
        p.path().join("main.hcl"),
        "resource \"brick_data\" \"a\" {\n  input = \"y\"\n}\n",
    )
    .unwrap();
    p.brick(&["apply", "--auto-approve"]).ok();
    let state = std::fs::read(p.path().join("brick.state.json")).unwrap();
    let backup = std::fs::read(p.path().join("brick.state.json.backup")).unwrap();
    for target in [
        "brick.state.json",
        "./brick.state.json",
        "brick.state.json.backup",
        "brick.state.json.journal",
        "brick.state.json.lock",
    ] {
        let run = p.brick(&["plan", "--out", target]);
        let run = run.failed_with("brick::cli::plan_out_refused");
        assert!(run.stderr.contains("would destroy it"), "{}", run.stderr);
    }
    assert_eq!(
        std::fs::read(p.path().join("brick.state.json")).unwrap(),
        state
    );
    assert_eq!(
        std::fs::read(p.path().join("brick.state.json.backup")).unwrap(),
        backup
    );
    assert!(!p.path().join("brick.state.json.journal").exists());
    assert!(!p.path().join("brick.state.json.lock").exists());
    // The state named by --state is protected as well, by any path that leads to it.
    std::fs::create_dir(p.path().join("sub")).unwrap();
    let other = p.path().join("other.json");
    std::fs::copy(p.path().join("brick.state.json"), &other).unwrap();
    p.brick(&[
        "--state",
        "other.json",
        "plan",
        "--out",
        "sub/../other.json",
    ])
    .failed_with("brick::cli::plan_out_refused");
    assert_eq!(std::fs::read(&other).unwrap(), state);
}

#[test]
fn plan_out_never_writes_through_a_symbolic_link() {
    let p = Project::new(&[(
        "main.hcl",
        "resource \"brick_data\" \"a\" {\n  input = \"x\"\n}\n",
    )]);
    let victim = p.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, p.path().join("link.plan")).unwrap();
    let run = p
        .brick(&["plan", "--out", "link.plan"])
        .failed_with("brick::cli::plan_out_refused");
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(
        std::fs::symlink_metadata(p.path().join("link.plan"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

// ---- item 2: --json output masks sensitive values -----------------------------------------

#[test]
fn plan_json_and_the_apply_json_stream_never_show_a_sensitive_value() {
    let p = Project::new(&[("main.hcl", SECRET_CONFIG)]);
    let plan = p.brick(&["plan", "--json"]).ok();
    assert!(!plan.stdout.contains("Sekr1t"), "{}", plan.stdout);
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(
        doc["variables"]["api_key"],
        serde_json::json!({"value": null})
    );
    assert_eq!(
        doc["configuration"]["root_module"]["variables"]["api_key"]["sensitive"],
        serde_json::json!(true)
    );
    // What is not sensitive is still shown.
    assert!(plan.stdout.contains("\"plain\""), "{}", plan.stdout);
    let apply = p.brick(&["apply", "--auto-approve", "--json"]).ok();
    assert!(!apply.stdout.contains("Sekr1t"), "{}", apply.stdout);
    assert!(apply.stdout.contains("\"plain\""), "{}", apply.stdout);
    // A later plan (prior state with the secret) and drift are masked too.
    std::fs::write(
        p.path().join("main.hcl"),
        SECRET_CONFIG.replace("\"plain\"", "\"plainer\""),
    )
    .unwrap();
    let plan = p.brick(&["plan", "--json"]).ok();
    assert!(!plan.stdout.contains("Sekr1t"), "{}", plan.stdout);
    let drift = p.brick(&["drift", "--json"]).ok();
    assert!(!drift.stdout.contains("Sekr1t"), "{}", drift.stdout);
}

// ---- item 3: a saved plan is private ------------------------------------------------------

#[test]
fn a_saved_plan_is_readable_by_its_owner_only() {
    let p = Project::new(&[("main.hcl", SECRET_CONFIG)]);
    // Even over an existing world-readable file.
    std::fs::write(p.path().join("x.plan"), "old").unwrap();
    std::fs::set_permissions(
        p.path().join("x.plan"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    p.brick(&["plan", "--out", "x.plan"]).ok();
    let mode = std::fs::metadata(p.path().join("x.plan"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    p.brick(&["apply", "--auto-approve", "x.plan"]).ok();
}

// ---- item 5: inputs are bounded and read before the lock ----------------------------------

#[test]
fn an_endless_variables_file_is_refused_at_once_and_leaves_no_lock() {
    let p = applied(
        "variable \"v\" {\n  default = \"d\"\n}\nresource \"brick_data\" \"a\" {\n  input = var.v\n}\n",
    );
    let t = Instant::now();
    // Under a memory limit, so that reading without bound fails here instead of filling the
    // machine's memory.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 4000000; exec {} -C {} --no-color plan --var-file /dev/zero",
            env!("CARGO_BIN_EXE_brick"),
            p.path().display()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("brick::vars::file_too_large"), "{stderr}");
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    assert!(!p.path().join("brick.state.json.lock").exists());
    // A file function is bounded too (a sparse file: huge, yet no room on disk).
    std::fs::File::create(p.path().join("huge.txt"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let mut console = command(p.path(), &["console"]);
    console
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = console.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"length(file(\"huge.txt\"))\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("larger than 64 MiB"), "{text}");
}

#[test]
fn the_lock_is_taken_only_once_the_variables_files_are_read() {
    let p = applied(
        "variable \"v\" {\n  default = \"d\"\n}\nresource \"brick_data\" \"a\" {\n  input = var.v\n}\n",
    );
    let fifo = p.path().join("vars.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut cmd = command(p.path(), &["plan", "--var-file", fifo.to_str().unwrap()]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // brick now waits for the variables file; it must not hold the lock meanwhile.
    std::thread::sleep(Duration::from_millis(1500));
    let locked_while_reading = p.path().join("brick.state.json.lock").exists();
    std::fs::write(&fifo, "v = \"from-fifo\"\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("from-fifo"));
    assert!(
        !locked_while_reading,
        "the state was locked while a variables file was still being read"
    );
}

// ---- item 6: a state that is a symbolic link ----------------------------------------------

#[test]
fn a_state_that_is_a_symbolic_link_is_written_through_to_its_target() {
    let p = Project::new(&[(
        "main.hcl",
        "resource \"brick_data\" \"a\" {\n  input = \"one\"\n}\n",
    )]);
    let store = p.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let target = store.join("real.json");
    p.brick(&[
        "--state",
        target.to_str().unwrap(),
        "apply",
        "--auto-approve",
    ])
    .ok();
    std::os::unix::fs::symlink("store/real.json", p.path().join("brick.state.json")).unwrap();
    for input in ["two", "three"] {
        std::fs::write(
            p.path().join("main.hcl"),
            format!("resource \"brick_data\" \"a\" {{\n  input = \"{input}\"\n}}\n"),
        )
        .unwrap();
        p.brick(&["apply", "--auto-approve"]).ok();
        let link = std::fs::symlink_metadata(p.path().join("brick.state.json")).unwrap();
        assert!(link.file_type().is_symlink(), "the link was replaced");
        let text = std::fs::read_to_string(&target).unwrap();
        assert!(text.contains(input), "the target did not receive the write");
    }
    // The backup sits beside the target and holds the previous state.
    let backup = std::fs::read_to_string(store.join("real.json.backup")).unwrap();
    assert!(backup.contains("\"two\""), "{backup}");
    assert!(!p.path().join("brick.state.json.backup").exists());
    let mode = std::fs::metadata(&target).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    p.brick(&["plan", "--detailed-exitcode"]).ok();
}

// ---- items 7 and 8: live and dead lock holders --------------------------------------------

const SLOW: &str = "resource \"brick_sleep\" \"slow\" {\n  create_duration = \"4s\"\n}\nresource \"brick_data\" \"quick\" {\n  input = \"q\"\n}\n";

fn lock_id(dir: &Path) -> (String, u32) {
    let text = std::fs::read_to_string(dir.join("brick.state.json.lock")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    (
        v["id"].as_str().unwrap().to_string(),
        v["pid"].as_u64().unwrap() as u32,
    )
}

fn slow_apply(dir: &Path) -> Running {
    let mut c = command(dir, &["apply", "--auto-approve"]);
    c.env("BRICK_PROGRESS_INTERVAL", "1h");
    let mut run = Running::start(c);
    run.wait_for("brick_sleep.slow: Creating...");
    run
}

#[test]
fn force_unlock_refuses_to_break_the_lock_of_a_running_brick_unless_told() {
    let p = applied("resource \"brick_data\" \"quick\" {\n  input = \"q\"\n}\n");
    std::fs::write(p.path().join("main.hcl"), SLOW).unwrap();
    let first = slow_apply(p.path());
    let (id, pid) = lock_id(p.path());
    let run = p
        .brick(&["force-unlock", "--force", &id])
        .failed_with("brick::state::lock_holder_running");
    assert!(
        run.stderr.contains(&format!("process {pid}")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--even-if-running"), "{}", run.stderr);
    assert!(p.path().join("brick.state.json.lock").exists());
    // Told explicitly: the lock goes, loudly; but the running apply's journal is protected.
    let run = p.brick(&["force-unlock", "--force", "--even-if-running", &id]);
    let run = run.ok();
    assert!(run.stderr.contains("still running"), "{}", run.stderr);
    let second = p.brick(&["apply", "--auto-approve"]);
    let second = second.failed_with("brick::state::journal_in_use");
    assert!(!second.stdout.contains("Creating"), "{}", second.stdout);
    let (code, out) = first.finish();
    assert_eq!(code, Some(0), "{out}");
    // Every object recorded once; nothing left to do.
    p.brick(&["plan", "--detailed-exitcode"]).ok();
    let list = p.brick(&["state", "list"]).ok();
    assert_eq!(list.stdout.lines().count(), 2, "{}", list.stdout);
}

#[test]
fn an_apply_whose_changes_cannot_be_recorded_names_the_objects() {
    let p = applied("resource \"brick_data\" \"quick\" {\n  input = \"q\"\n}\n");
    std::fs::write(p.path().join("main.hcl"), SLOW).unwrap();
    let first = slow_apply(p.path());
    // Someone writes a newer state under the running apply (by hand, or an old brick).
    let path = p.path().join("brick.state.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["serial"] = serde_json::json!(doc["serial"].as_u64().unwrap() + 10);
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    let (code, out) = first.finish();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("brick::state::changes_not_recorded"), "{out}");
    assert!(out.contains("brick_sleep.slow"), "{out}");
    assert!(out.contains("brick import"), "{out}");
    // What it did is kept aside, where no later run folds or removes it.
    assert!(
        p.path()
            .join("brick.state.json.journal.unrecorded")
            .exists()
    );
}

#[test]
fn after_kill_nine_the_next_command_takes_the_dead_holders_lock_over() {
    let p = applied("resource \"brick_data\" \"quick\" {\n  input = \"q\"\n}\n");
    std::fs::write(p.path().join("main.hcl"), SLOW).unwrap();
    let mut first = slow_apply(p.path());
    let (_, pid) = lock_id(p.path());
    first.child.kill().unwrap(); // SIGKILL
    let (code, _) = first.finish();
    assert_eq!(code, None);
    assert!(p.path().join("brick.state.json.lock").exists());
    // The next command takes over, says so, and settles the journal.
    let run = p.brick(&["plan"]).ok();
    assert!(
        run.stderr.contains("brick::state::stale_lock_taken_over"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("process {pid}")),
        "{}",
        run.stderr
    );
    assert!(!p.path().join("brick.state.json.lock").exists());
    assert!(!p.path().join("brick.state.json.journal").exists());
    p.brick(&["apply", "--auto-approve"]).ok();
    p.brick(&["plan", "--detailed-exitcode"]).ok();
}

#[test]
fn the_help_of_a_lock_names_force() {
    let p = applied("resource \"brick_data\" \"quick\" {\n  input = \"q\"\n}\n");
    std::fs::write(p.path().join("main.hcl"), SLOW).unwrap();
    let first = slow_apply(p.path());
    let (id, _) = lock_id(p.path());
    let run = p.brick(&["plan"]).failed_with("brick::state::locked");
    assert!(
        run.stderr
            .contains(&format!("brick force-unlock --force {id}")),
        "{}",
        run.stderr
    );
    let (code, out) = first.finish();
    assert_eq!(code, Some(0), "{out}");
}
