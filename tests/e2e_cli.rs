//! End-to-end tests of the `brick` binary: each runs it in a fresh directory and checks exit
//! code, stdout and stderr.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::Run;

struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new(main_hcl: &str) -> Dir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("main.hcl"), main_hcl).unwrap();
        Dir { tmp }
    }
    fn path(&self) -> &Path {
        self.tmp.path()
    }
    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path().join(name), text).unwrap();
    }
    fn state_path(&self) -> PathBuf {
        self.path().join("brick.state.json")
    }
    fn state(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.state_path()).unwrap()).unwrap()
    }
    fn brick(&self, args: &[&str]) -> Run {
        self.brick_env(args, &[])
    }
    fn brick_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        Run::of(
            Command::new(env!("CARGO_BIN_EXE_brick"))
                .args(["-C", self.path().to_str().unwrap()])
                .args(args)
                .envs(env.iter().copied())
                .env_remove("NO_COLOR"),
        )
    }
}

const CHAIN: &str = r#"
variable "word" {
  type    = string
  default = "one"
}

resource "brick_data" "a" {
  input = var.word
}

resource "brick_data" "b" {
  input = "${brick_data.a.output}-b"
}

resource "brick_data" "c" {
  input = brick_data.b.output
}

output "c" {
  value = brick_data.c.output
}
"#;

#[test]
fn the_whole_cycle_validate_plan_apply_noop_change_apply_destroy() {
    let d = Dir::new(CHAIN);
    let r = d.brick(&["validate"]).ok();
    assert_eq!(r.stdout, "Success! The configuration is valid.\n");

    let r = d.brick(&["plan", "--detailed-exitcode", "--no-color"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.contains("  # brick_data.a will be created\n  + resource \"brick_data\" \"a\" {\n      + id     = (known after apply)\n      + input  = \"one\"\n"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("Plan: 3 to add, 0 to change, 0 to destroy.")
    );
    assert_eq!(r.stderr, "");

    let r = d.brick(&["apply", "--auto-approve", "--no-color"]).ok();
    assert!(
        r.stdout
            .contains("Apply complete! Resources: 3 added, 0 changed, 0 destroyed."),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("c = \"one-b\""), "{}", r.stdout);
    // Without a terminal the progress lines are timestamped.
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("brick_data.a: Creating..."))
        .unwrap();
    assert!(
        line.starts_with("20") && line.contains("Z brick_data.a"),
        "{line}"
    );

    let r = d.brick(&["plan", "--detailed-exitcode"]).ok();
    assert!(
        r.stdout
            .contains("No changes. Your infrastructure matches the configuration.")
    );

    let r = d.brick(&[
        "plan",
        "--detailed-exitcode",
        "--no-color",
        "--var",
        "word=two",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("  ~ resource \"brick_data\" \"a\" {"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("~ input  = \"one\" -> \"two\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 0 to add, 3 to change, 0 to destroy.")
    );

    d.brick(&["apply", "--auto-approve", "--var", "word=two"])
        .ok();
    let r = d.brick(&["output", "c"]).ok();
    assert_eq!(r.stdout, "\"two-b\"\n");
    let r = d.brick(&["output", "--json"]).ok();
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["c"]["value"], "two-b");
    assert_eq!(j["c"]["type"], "string");

    let r = d.brick(&["state", "list"]).ok();
    assert_eq!(r.stdout, "brick_data.a\nbrick_data.b\nbrick_data.c\n");

    let r = d
        .brick(&[
            "destroy",
            "--auto-approve",
            "--no-color",
            "--var",
            "word=two",
        ])
        .ok();
    assert!(
        r.stdout
            .contains("Destroy complete! Resources: 3 destroyed."),
        "{}",
        r.stdout
    );
    let order: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains("Destroying..."))
        .collect();
    assert!(
        order[0].contains("brick_data.c") && order[2].contains("brick_data.a"),
        "{order:?}"
    );
    let r = d.brick(&["state", "list"]).ok();
    assert_eq!(r.stdout, "");
}

#[test]
fn apply_without_a_terminal_and_without_auto_approve_refuses() {
    let d = Dir::new(CHAIN);
    let r = d.brick(&["apply", "--no-color"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("Cannot ask for confirmation"),
        "{}",
        r.stderr
    );
    assert!(!d.state_path().exists(), "nothing was applied");
}

#[test]
fn a_saved_plan_applies_exactly_and_a_stale_one_is_refused() {
    let d = Dir::new(CHAIN);
    d.brick(&["plan", "--out", "p1.json"]).ok();
    d.brick(&["plan", "--out", "p2.json"]).ok();
    let r = d.brick(&["apply", "p1.json"]).ok();
    assert!(r.stdout.contains("3 added"));
    // The state changed since p2 was made.
    let r = d.brick(&["apply", "p2.json"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Saved plan is stale"), "{}", r.stderr);
    assert!(
        r.stderr.contains("changed since the plan was made"),
        "{}",
        r.stderr
    );
    // Once the state exists, a plan made before the last apply names the serials.
    d.brick(&["plan", "--out", "p4.json", "--var", "word=y"])
        .ok();
    d.brick(&["apply", "--auto-approve", "--var", "word=z"])
        .ok();
    let r = d.brick(&["apply", "p4.json"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("serial 1 then, 2 now"), "{}", r.stderr);
    // A configuration change also makes a plan stale.
    d.brick(&["plan", "--var", "word=x", "--out", "p3.json"])
        .ok();
    d.write("extra.hcl", "resource \"brick_data\" \"z\" {}\n");
    let r = d.brick(&["apply", "p3.json"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("configuration changed"), "{}", r.stderr);
    // show --json of a saved plan is Terraform's plan format.
    let r = d.brick(&["show", "--json", "p3.json"]).ok();
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["format_version"], "1.2");
    assert_eq!(j["resource_changes"][0]["change"]["actions"][0], "update");
}

#[test]
fn a_saved_plan_brings_its_own_values_of_required_variables_and_refuses_others() {
    let d = Dir::new(
        r#"
variable "word" {
  type = string
}
variable "token" {
  type      = string
  sensitive = true
}
resource "brick_data" "a" {
  input = "${var.word}-${length(var.token)}"
}
output "a" {
  value = brick_data.a.output
}
"#,
    );
    let secret = [("BRICK_VAR_token", "secret")];
    d.brick_env(&["plan", "--var", "word=hello", "--out", "p.json"], &secret)
        .ok();
    // No --var, no environment: the plan's own values are used, as Terraform does.
    let r = d.brick(&["apply", "p.json"]).ok();
    assert!(r.stdout.contains("1 added"), "{}", r.stdout);
    let s = d.state();
    assert_eq!(s["outputs"]["a"]["value"], "hello-6", "{s}");
    // brick_data's output repeats its input, which holds a sensitive value's length; brick
    // hides such echoes, so the output, accepted by the plan, is recorded hidden with a warning
    // instead of being refused after the resource was created.
    assert!(
        r.stderr.contains("brick::apply::output_became_sensitive"),
        "{}",
        r.stderr
    );
    assert_eq!(s["outputs"]["a"]["sensitive"], true, "{s}");
    // Variables cannot be changed when applying a saved plan.
    d.brick_env(
        &["plan", "--var", "word=again", "--out", "p2.json"],
        &secret,
    )
    .ok();
    let r = d.brick(&["apply", "--var", "word=other", "p2.json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Can't set variables when applying a saved plan"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("brick::cli::vars_with_saved_plan"),
        "{}",
        r.stderr
    );
    assert_eq!(d.state()["outputs"]["a"]["value"], "hello-6");
    let r = d.brick(&["apply", "p2.json"]).ok();
    assert!(r.stdout.contains("1 changed"), "{}", r.stdout);
    assert_eq!(d.state()["outputs"]["a"]["value"], "again-6");
}

#[test]
fn target_exclude_and_replace_limit_and_force_changes() {
    let d = Dir::new(CHAIN);
    let r = d
        .brick(&["apply", "--auto-approve", "--target", "brick_data.b"])
        .ok();
    assert!(r.stdout.contains("2 added"), "{}", r.stdout);
    let r = d.brick(&["state", "list"]).ok();
    assert_eq!(r.stdout, "brick_data.a\nbrick_data.b\n");
    let r = d
        .brick(&["plan", "--no-color", "--exclude", "brick_data.c"])
        .ok();
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    d.brick(&["apply", "--auto-approve"]).ok();
    let r = d.brick(&[
        "plan",
        "--no-color",
        "--replace",
        "brick_data.a",
        "--detailed-exitcode",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout
            .contains("# brick_data.a will be replaced, as requested"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("-/+ resource \"brick_data\" \"a\""),
        "{}",
        r.stdout
    );
    let r = d.brick(&["plan", "--target", "brick_data[", "--no-color"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Invalid address"), "{}", r.stderr);
}

#[test]
fn a_held_lock_makes_a_second_writer_fail_at_once_naming_the_holder() {
    let d = Dir::new(CHAIN);
    d.brick(&["apply", "--auto-approve"]).ok();
    // Hold the lock as another live process would.
    let store = brick_state::StateStore::new(d.state_path(), "test");
    let lock = store.lock("apply").unwrap();
    let r = d.brick(&["plan", "--no-color"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains(&lock.info().id), "{}", r.stderr);
    let id = lock.info().id.clone();
    std::mem::forget(lock);
    // Its holder (this test) still runs: removing the lock must be asked for explicitly.
    d.brick(&["force-unlock", "--force", &id])
        .failed_with("--even-if-running");
    let r = d
        .brick(&["force-unlock", "--force", "--even-if-running", &id])
        .ok();
    assert!(r.stdout.contains("successfully unlocked"));
    d.brick(&["plan"]).ok();
}

#[test]
fn a_corrupt_state_is_refused_and_left_unchanged() {
    let d = Dir::new(CHAIN);
    d.brick(&["apply", "--auto-approve"]).ok();
    let good = std::fs::read(d.state_path()).unwrap();
    let bad = &good[..good.len() / 2];
    std::fs::write(d.state_path(), bad).unwrap();
    let r = d.brick(&["apply", "--auto-approve", "--var", "word=changed"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("corrupt"), "{}", r.stderr);
    assert_eq!(std::fs::read(d.state_path()).unwrap(), bad);
}

#[test]
fn a_configuration_with_only_outputs_can_be_applied() {
    let d = Dir::new("output \"x\" {\n  value = \"hi\"\n}\n");
    let r = d.brick(&["apply", "--auto-approve", "--no-color"]).ok();
    assert!(r.stdout.contains("x = \"hi\""), "{}", r.stdout);
    let r = d.brick(&["output", "x", "--raw"]).ok();
    assert_eq!(r.stdout, "hi");
}

#[test]
fn graph_prints_dot_and_show_prints_state() {
    let d = Dir::new(CHAIN);
    let r = d.brick(&["graph"]).ok();
    assert!(r.stdout.starts_with("digraph {"));
    assert!(
        r.stdout.contains("\"brick_data.b\" -> \"brick_data.a\""),
        "{}",
        r.stdout
    );
    d.brick(&["apply", "--auto-approve"]).ok();
    let r = d.brick(&["show", "--json"]).ok();
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rs = j["values"]["root_module"]["resources"].as_array().unwrap();
    assert_eq!(rs.len(), 3);
    assert_eq!(rs[0]["values"]["input"], "one");
    let r = d.brick(&["show", "--no-color"]).ok();
    assert!(
        r.stdout
            .contains("# brick_data.a:\nresource \"brick_data\" \"a\" {"),
        "{}",
        r.stdout
    );
}

#[test]
fn state_mv_renames_and_the_next_plan_follows() {
    let d = Dir::new(CHAIN);
    d.brick(&["apply", "--auto-approve"]).ok();
    let r = d
        .brick(&["state", "mv", "brick_data.c", "brick_data.d"])
        .ok();
    assert!(r.stdout.contains("Successfully moved 1 object(s)."));
    let r = d.brick(&["plan", "--no-color"]).ok();
    assert!(
        r.stdout.contains("# brick_data.c will be created"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("# brick_data.d will be destroyed"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("(because brick_data.d is not in configuration)"),
        "{}",
        r.stdout
    );
    let r = d.brick(&["state", "rm", "brick_data.d"]).ok();
    assert!(r.stdout.contains("Removed brick_data.d"));
}

#[test]
fn import_brings_an_object_under_management() {
    let d = Dir::new("resource \"brick_data\" \"x\" {}\n");
    let r = d.brick(&["import", "brick_data.x", "my-id"]).ok();
    assert!(r.stdout.contains("Import successful!"), "{}", r.stdout);
    let r = d.brick(&["state", "show", "brick_data.x"]).ok();
    assert!(r.stdout.contains("id = \"my-id\""), "{}", r.stdout);
    let r = d.brick(&["import", "brick_data.x", "my-id"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("already managed"), "{}", r.stderr);
}

#[test]
fn sensitive_values_stay_hidden_in_plans_state_and_show() {
    let d = Dir::new(
        "variable \"pw\" {\n  default   = \"hunter2\"\n  sensitive = true\n}\nresource \"brick_data\" \"s\" {\n  input = var.pw\n}\n",
    );
    let r = d.brick(&["plan", "--no-color"]).ok();
    assert!(
        r.stdout.contains("+ input  = (sensitive value)"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("hunter2"));
    d.brick(&["apply", "--auto-approve"]).ok();
    let state = std::fs::read_to_string(d.state_path()).unwrap();
    assert!(state.contains("sensitive_attributes"), "{state}");
    let r = d.brick(&["show", "--no-color"]).ok();
    assert!(
        r.stdout.contains("input  = (sensitive value)"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("hunter2"));
    let r = d.brick(&["plan", "--detailed-exitcode"]).ok();
    assert!(r.stdout.contains("No changes."));
}

#[test]
fn apply_json_emits_one_json_object_per_line() {
    let d = Dir::new(CHAIN);
    let r = d.brick(&["apply", "--auto-approve", "--json"]).ok();
    let mut types = Vec::new();
    for line in r.stdout.lines().filter(|l| !l.is_empty()) {
        let j: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        types.push(j["type"].as_str().unwrap_or("").to_string());
    }
    assert_eq!(types.first().map(String::as_str), Some("planned_changes"));
    assert_eq!(types.iter().filter(|t| *t == "apply_start").count(), 3);
    assert_eq!(types.iter().filter(|t| *t == "apply_complete").count(), 3);
    assert_eq!(types.last().map(String::as_str), Some("change_summary"));
}

/// The most operations running at once, read from `apply --json`'s start and complete lines.
fn most_running_at_once(stdout: &str) -> usize {
    let (mut running, mut most) = (0usize, 0usize);
    for line in stdout.lines().filter(|l| !l.is_empty()) {
        let j: serde_json::Value = serde_json::from_str(line).unwrap();
        match j["type"].as_str() {
            Some("apply_start") => running += 1,
            Some("apply_complete") | Some("apply_errored") => running -= 1,
            _ => {}
        }
        most = most.max(running);
    }
    most
}

#[test]
fn parallelism_caps_how_many_operations_run_at_once() {
    let d = Dir::new(
        "resource \"brick_sleep\" \"s\" {\n  count           = 4\n  create_duration = \"300ms\"\n}\n",
    );
    let r = d
        .brick(&["apply", "--auto-approve", "--json", "--parallelism", "1"])
        .ok();
    assert_eq!(most_running_at_once(&r.stdout), 1, "{}", r.stdout);
    d.brick(&["destroy", "--auto-approve"]).ok();
    // Four independent sleeps are all started before the first one can finish.
    let r = d
        .brick(&["apply", "--auto-approve", "--json", "--parallelism", "2"])
        .ok();
    assert_eq!(most_running_at_once(&r.stdout), 2, "{}", r.stdout);
    d.brick(&["destroy", "--auto-approve"]).ok();
    let r = d.brick(&["apply", "--auto-approve", "--json"]).ok();
    assert_eq!(most_running_at_once(&r.stdout), 4, "{}", r.stdout);
    let r = d.brick(&["apply", "--auto-approve", "--parallelism", "0"]);
    assert_eq!(r.code, 1, "a parallelism of 0 is refused");
    assert!(
        r.stderr.contains("brick::cli::invalid_parallelism"),
        "{}",
        r.stderr
    );
}

#[test]
fn state_pull_prints_the_state_and_push_refuses_going_back() {
    let d = Dir::new(CHAIN);
    d.brick(&["apply", "--auto-approve"]).ok();
    let r = d.brick(&["state", "pull"]).ok();
    assert_eq!(r.stdout, std::fs::read_to_string(d.state_path()).unwrap());
    let old = d.path().join("old.json");
    std::fs::write(&old, &r.stdout).unwrap();
    d.brick(&["apply", "--auto-approve", "--var", "word=newer"])
        .ok();
    let r = d.brick(&["state", "push", old.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("serial"), "{}", r.stderr);
    let r = d.brick(&["output", "c"]).ok();
    assert_eq!(r.stdout, "\"newer-b\"\n", "the newer state is untouched");
    // --force takes the older content as a new serial of the same lineage.
    d.brick(&["state", "push", "--force", old.to_str().unwrap()])
        .ok();
    let r = d.brick(&["output", "c"]).ok();
    assert_eq!(r.stdout, "\"one-b\"\n");
}

#[test]
fn version_prints_the_version_and_json_names_it_and_the_providers() {
    let d = Dir::new(CHAIN);
    let r = d.brick(&["version"]).ok();
    assert_eq!(
        r.stdout,
        format!("brick v{}\n", env!("CARGO_PKG_VERSION")),
        "{}",
        r.stdout
    );
    let r = d.brick(&["version", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["brick_version"], env!("CARGO_PKG_VERSION"));
    let providers = v["provider_selections"].as_array().unwrap();
    assert!(providers.iter().any(|p| p == "brick"), "{v}");
}

#[test]
fn shell_completions_know_every_command_and_flag() {
    let d = Dir::new(CHAIN);
    for shell in ["bash", "zsh", "fish"] {
        let r = d.brick(&["completions", shell]).ok();
        for word in [
            "force-unlock",
            "--detailed-exitcode",
            "--refresh-only",
            "--auto-approve",
        ] {
            // fish spells a long flag `-l detailed-exitcode`.
            let word = if shell == "fish" {
                word.trim_start_matches('-')
            } else {
                word
            };
            assert!(r.stdout.contains(word), "{shell} lacks {word}");
        }
    }
    let r = d.brick(&["completions", "tcsh"]);
    assert_eq!(
        r.code, 1,
        "an unknown shell is a usage error (exit 1, as Terraform): {}",
        r.stderr
    );
}

#[test]
fn init_lists_the_providers_and_fmt_check_exits_3_until_formatted() {
    let d = Dir::new("resource \"brick_data\" \"a\" {\n  input=\"x\"\n}\n");
    let r = d.brick(&["init", "--no-color"]).ok();
    assert!(
        r.stdout.contains("- Using built-in provider brick"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("successfully initialized"),
        "{}",
        r.stdout
    );
    let r = d.brick(&["fmt", "--check", "main.hcl"]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        std::fs::read_to_string(d.path().join("main.hcl")).unwrap(),
        "resource \"brick_data\" \"a\" {\n  input=\"x\"\n}\n",
        "--check writes nothing"
    );
    d.brick(&["fmt", "main.hcl"]).ok();
    d.brick(&["fmt", "--check", "main.hcl"]).ok();
    assert!(
        std::fs::read_to_string(d.path().join("main.hcl"))
            .unwrap()
            .contains("input = \"x\"")
    );
    let d = Dir::new("resource \"nowhere_thing\" \"a\" {}\n");
    let r = d.brick(&["init", "--no-color"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("brick::init::unknown_provider"),
        "{}",
        r.stderr
    );
}

#[test]
fn refresh_only_with_detailed_exitcode_is_2_only_for_drift_not_for_configuration_changes() {
    let d = Dir::new(CHAIN);
    d.brick(&["apply", "--auto-approve"]).ok();
    // The configuration asks for a change: a normal plan reports it with 2 ...
    let r = d.brick(&["plan", "--detailed-exitcode", "--var", "word=two"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    // ... but nothing changed outside of brick, so a refresh-only plan has nothing: 0.
    let r = d.brick(&[
        "plan",
        "--refresh-only",
        "--detailed-exitcode",
        "--no-color",
        "--var",
        "word=two",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    // --refresh=false plans without reading: still 2 for the configuration change.
    let r = d.brick(&[
        "plan",
        "--refresh=false",
        "--detailed-exitcode",
        "--var",
        "word=two",
    ]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let r = d.brick(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn outputs_of_a_configuration_without_resources_are_recorded_in_the_state() {
    let d = Dir::new("output \"x\" {\n  value = \"hi\"\n}\n");
    d.brick(&["apply", "--auto-approve"]).ok();
    let st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.state_path()).unwrap()).unwrap();
    assert_eq!(st["outputs"]["x"]["value"], "hi", "{st}");
    assert_eq!(st["serial"], 1, "{st}");
    let r = d.brick(&["output", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"x": {"value": "hi", "type": "string", "sensitive": false}})
    );
    let r = d.brick(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn validate_runs_the_providers_own_checks_on_known_values_offline() {
    let d = Dir::new(
        r#"
variable "later" {
  type = string
}

resource "brick_sleep" "bad" {
  create_duration = "soon"
}

resource "brick_sleep" "unknown_is_fine" {
  create_duration = var.later
}
"#,
    );
    let r = d.brick(&["validate", "--no-color"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("brick::builtin::invalid_duration"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("brick_sleep.bad"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("brick_sleep.unknown_is_fine"),
        "a value known only later is not judged: {}",
        r.stderr
    );
    // The location is the argument, as for the language's own errors.
    assert!(
        r.stderr
            .contains("on main.hcl line 7, in resource \"brick_sleep\""),
        "{}",
        r.stderr
    );
    let r = d.brick(&["validate", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["error_count"], 1, "{v}");
    assert_eq!(
        v["diagnostics"][0]["code"],
        "brick::builtin::invalid_duration"
    );
    // Validation is offline: no state, no lock, nothing written.
    assert!(!d.state_path().exists());
    d.write(
        "main.hcl",
        "resource \"brick_sleep\" \"ok\" {\n  create_duration = \"1s\"\n}\n",
    );
    d.brick(&["validate"]).ok();
}

#[test]
fn the_state_file_is_private_keeps_a_backup_and_state_moves_it_elsewhere() {
    use std::os::unix::fs::PermissionsExt;
    let d = Dir::new(CHAIN);
    d.brick(&["apply", "--auto-approve"]).ok();
    let first = std::fs::read(d.state_path()).unwrap();
    d.brick(&["apply", "--auto-approve", "--var", "word=two"])
        .ok();
    let backup = d.path().join("brick.state.json.backup");
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        first,
        "the backup is the state before the last write"
    );
    for p in [d.state_path(), backup] {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
    let text = std::fs::read_to_string(d.state_path()).unwrap();
    assert!(
        text.ends_with("}\n"),
        "pretty-printed with a trailing newline"
    );
    assert!(text.contains("\n  \"format_version\": "), "{text}");
    // --state puts the state (and its lock and journal) elsewhere; the default one is untouched.
    let elsewhere = d.path().join("sub").join("other.json");
    std::fs::create_dir_all(elsewhere.parent().unwrap()).unwrap();
    let before = std::fs::read(d.state_path()).unwrap();
    d.brick(&[
        "--state",
        elsewhere.to_str().unwrap(),
        "apply",
        "--auto-approve",
    ])
    .ok();
    let other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&elsewhere).unwrap()).unwrap();
    assert_eq!(other["resources"].as_array().unwrap().len(), 3);
    assert_eq!(std::fs::read(d.state_path()).unwrap(), before);
    let r = d
        .brick(&["--state", elsewhere.to_str().unwrap(), "state", "list"])
        .ok();
    assert_eq!(r.stdout, "brick_data.a\nbrick_data.b\nbrick_data.c\n");
}

#[test]
fn a_state_of_a_newer_format_is_refused_by_every_command_and_left_unchanged() {
    let d = Dir::new(CHAIN);
    d.brick(&["apply", "--auto-approve"]).ok();
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.state_path()).unwrap()).unwrap();
    doc["format_version"] = serde_json::json!(99);
    let newer = serde_json::to_vec_pretty(&doc).unwrap();
    std::fs::write(d.state_path(), &newer).unwrap();
    for args in [
        &["plan"][..],
        &["apply", "--auto-approve", "--var", "word=x"],
        &["state", "list"],
        &["show", "--json"],
        &["destroy", "--auto-approve"],
    ] {
        let r = d.brick(args);
        assert_eq!(r.code, 1, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("99"),
            "{args:?} names the version: {}",
            r.stderr
        );
        assert_eq!(std::fs::read(d.state_path()).unwrap(), newer, "{args:?}");
    }
}

#[test]
fn a_saved_plan_for_a_state_of_another_lineage_is_refused() {
    let d = Dir::new(CHAIN);
    d.brick(&["apply", "--auto-approve"]).ok();
    let lineage = |d: &Dir| {
        let st: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.state_path()).unwrap()).unwrap();
        (
            st["lineage"].as_str().unwrap().to_string(),
            st["serial"].clone(),
        )
    };
    let (first, serial) = lineage(&d);
    d.brick(&["plan", "--out", "p.plan", "--var", "word=two"])
        .ok();
    // The state is replaced by a new one with the same serial but another lineage.
    for f in ["brick.state.json", "brick.state.json.backup"] {
        let _ = std::fs::remove_file(d.path().join(f));
    }
    d.brick(&["apply", "--auto-approve"]).ok();
    let (second, serial2) = lineage(&d);
    assert_ne!(first, second);
    assert_eq!(serial, serial2);
    let before = std::fs::read(d.state_path()).unwrap();
    let r = d.brick(&["apply", "p.plan"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("another lineage"), "{}", r.stderr);
    assert_eq!(std::fs::read(d.state_path()).unwrap(), before);
}

/// What Terraform 1.15 printed for the same outputs (`terraform apply`'s `Outputs:` block and
/// `terraform output`): each value as its console prints it, `<sensitive>` for a secret.
const TERRAFORM_OUTPUTS: &str = r#"list = [
  1,
  "a",
  {
    "b" = 2
  },
]
nodes = {
  "kvm4" = {
    "ceph_device" = "/dev/x"
    "ip" = "10.0.0.11"
  }
  "spare1" = {
    "ceph_device" = "/dev/y"
    "ip" = "10.0.0.13"
  }
}
s = "x"
secret = <sensitive>
"#;

#[test]
fn outputs_after_apply_and_brick_output_print_as_terraform_does() {
    let p = support::Project::new(&[(
        "main.hcl",
        r#"
output "nodes" {
  value = { kvm4 = { ip = "10.0.0.11", ceph_device = "/dev/x" }, spare1 = { ip = "10.0.0.13", ceph_device = "/dev/y" } }
}
output "list" {
  value = [1, "a", { b = 2 }]
}
output "s" {
  value = "x"
}
output "secret" {
  value     = "x"
  sensitive = true
}
"#,
    )]);
    let applied = p.brick(&["apply", "--auto-approve"]).ok();
    let block = applied
        .stdout
        .split("\nOutputs:\n\n")
        .nth(1)
        .expect("an Outputs: block");
    assert_eq!(block, TERRAFORM_OUTPUTS);
    assert_eq!(p.brick(&["output"]).ok().stdout, TERRAFORM_OUTPUTS);
    // One output by name prints its value alone, a sensitive one included (as Terraform).
    assert_eq!(p.brick(&["output", "secret"]).ok().stdout, "\"x\"\n");
    assert_eq!(
        p.brick(&["output", "list"]).ok().stdout,
        "[\n  1,\n  \"a\",\n  {\n    \"b\" = 2\n  },\n]\n"
    );
}
