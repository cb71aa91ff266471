//! End-to-end tests of the command line's conventions as users of Terraform expect them: exit
//! codes of usage errors, the precedence of `--var` and `--var-file`, commands that need no
//! variable values, saved plans that refuse what they cannot honour, `state mv` and
//! `state push` keeping the state truthful, `import` configuring its provider from the
//! configuration, `force-unlock` asking first, durations parsed one way everywhere, and
//! `apply --json` speaking Terraform's machine-readable UI.

mod support;

use std::process::Command;

use support::{Dir, Run, Running, on_terminal};

fn cmd(d: &Dir, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = support::command(d.path(), args);
    // Only what the test gives: no variables or MAAS settings from the caller's environment.
    for (k, _) in std::env::vars() {
        if k.starts_with("BRICK_VAR_") || k.starts_with("MAAS_") {
            c.env_remove(k);
        }
    }
    c.envs(env.iter().copied());
    c
}

fn brick(d: &Dir, args: &[&str]) -> Run {
    Run::of(&mut cmd(d, args, &[]))
}

fn brick_env(d: &Dir, args: &[&str], env: &[(&str, &str)]) -> Run {
    Run::of(&mut cmd(d, args, env))
}

fn write(d: &Dir, name: &str, text: &str) {
    std::fs::write(d.path().join(name), text).unwrap();
}

fn has_state(d: &Dir) -> bool {
    d.path().join("brick.state.json").exists()
}

#[test]
fn a_usage_error_exits_1_never_2_and_help_and_version_exit_0() {
    let d = Dir::new("");
    // Exit 2 means "changes present" under --detailed-exitcode: a typo must not look like it.
    let r = brick(&d, &["plan", "--detailed-exitcode", "--no-such-flag"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--no-such-flag"), "{}", r.stderr);
    let r = brick(&d, &["plan", "--parallelism", "many"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = brick(&d, &["frobnicate"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = brick(&d, &["--help"]).ok();
    assert!(r.stdout.contains("Usage"), "{}", r.stdout);
    let r = brick(&d, &["plan", "--help"]).ok();
    assert!(r.stdout.contains("--detailed-exitcode"), "{}", r.stdout);
    let r = brick(&d, &["--version"]).ok();
    assert!(r.stdout.contains(env!("CARGO_PKG_VERSION")), "{}", r.stdout);
}

const WORD: &str = r#"
variable "word" {
  type    = string
  default = "default"
}

output "w" {
  value = var.word
}
"#;

/// The value `plan --json` would give output `w`.
fn planned_word(d: &Dir, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut all = vec!["plan", "--json"];
    all.extend_from_slice(args);
    let r = brick_env(d, &all, env).ok();
    r.json()["output_changes"]["w"]["after"]
        .as_str()
        .unwrap_or_else(|| panic!("no output w in {}", r.stdout))
        .to_string()
}

#[test]
fn variables_take_terraforms_precedence_and_later_command_line_options_win() {
    let d = Dir::new(WORD);
    let env = [("BRICK_VAR_word", "env")];
    assert_eq!(planned_word(&d, &[], &[]), "default");
    assert_eq!(planned_word(&d, &[], &env), "env");
    write(&d, "brick.vars.hcl", "word = \"brick.vars\"\n");
    assert_eq!(planned_word(&d, &[], &env), "brick.vars");
    write(&d, "b.auto.vars.hcl", "word = \"auto-b\"\n");
    write(&d, "a.auto.vars.hcl", "word = \"auto-a\"\n");
    assert_eq!(planned_word(&d, &[], &env), "auto-b", "lexical order");
    write(&d, "f.vars", "word = \"file-f\"\n");
    write(&d, "g.vars", "word = \"file-g\"\n");
    // The command line in order: a later --var or --var-file overrides an earlier one.
    let cases: [(&[&str], &str); 4] = [
        (&["--var", "word=flag", "--var-file", "f.vars"], "file-f"),
        (&["--var-file", "f.vars", "--var", "word=flag"], "flag"),
        (
            &[
                "--var-file",
                "f.vars",
                "--var",
                "word=flag",
                "--var-file",
                "g.vars",
            ],
            "file-g",
        ),
        (&["--var-file=g.vars", "--var=word=last"], "last"),
    ];
    for (args, want) in cases {
        assert_eq!(planned_word(&d, args, &env), want, "{args:?}");
    }
}

#[test]
fn problems_in_variable_files_point_at_their_file_and_line() {
    let d = Dir::new(WORD);
    write(&d, "extra.vars", "word = \"x\"\nnope = 1\n");
    let r = brick(&d, &["plan", "--var-file", "extra.vars"]).ok();
    assert!(
        r.stderr.contains("Value for undeclared variable"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("on extra.vars line 2:"), "{}", r.stderr);
    write(&d, "broken.auto.vars.hcl", "\nword = \n");
    let r = brick(&d, &["plan"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("on broken.auto.vars.hcl line 2:"),
        "{}",
        r.stderr
    );
}

const REQUIRED: &str = r#"
variable "word" {
  type = string
}

resource "brick_data" "a" {
  input = var.word
}
"#;

#[test]
fn init_graph_and_show_of_a_saved_plan_need_no_variable_values() {
    let d = Dir::new(REQUIRED);
    let r = brick(&d, &["init"]).ok();
    assert!(
        r.stdout.contains("successfully initialized"),
        "{}",
        r.stdout
    );
    let r = brick(&d, &["graph"]).ok();
    assert!(r.stdout.contains("brick_data.a"), "{}", r.stdout);
    brick(&d, &["plan", "--var", "word=hello", "--out", "p.json"]).ok();
    let r = brick(&d, &["show", "--json", "p.json"]).ok();
    let j = r.json();
    assert_eq!(j["variables"]["word"]["value"], "hello", "{j}");
    assert_eq!(
        j["resource_changes"][0]["change"]["after"]["input"], "hello",
        "{j}"
    );
    // Plan still needs the value.
    brick(&d, &["plan"]).failed_with("No value for required variable");
}

#[test]
fn a_saved_plan_with_an_unreadable_variable_is_refused_not_defaulted() {
    let d = Dir::new(
        r#"
variable "word" {
  type    = string
  default = "one"
}
resource "brick_data" "a" {
  input = var.word
}
"#,
    );
    brick(&d, &["plan", "--var", "word=two", "--out", "p.json"]).ok();
    let path = d.path().join("p.json");
    let mut plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        plan["variables"]["word"].is_object(),
        "{}",
        plan["variables"]
    );
    plan["variables"]["word"] = serde_json::json!({"type": "no such type", "value": 2});
    std::fs::write(&path, plan.to_string()).unwrap();
    let r = brick(&d, &["apply", "p.json"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("Invalid plan file"), "{}", r.stderr);
    assert!(r.stderr.contains("var.word"), "{}", r.stderr);
    assert!(!has_state(&d), "nothing was applied");
    let r = brick(&d, &["show", "--json", "p.json"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
}

#[test]
fn planning_options_are_refused_with_a_saved_plan_instead_of_ignored() {
    let d = Dir::new("resource \"brick_data\" \"a\" {\n  input = \"x\"\n}\n");
    brick(&d, &["plan", "--out", "p.json"]).ok();
    for flags in [
        &["--target", "brick_data.a"][..],
        &["--exclude", "brick_data.a"],
        &["--replace", "brick_data.a"],
        &["--destroy"],
        &["--refresh-only"],
        &["--refresh=false"],
    ] {
        let mut args = vec!["apply"];
        args.extend_from_slice(flags);
        args.push("p.json");
        let r = brick(&d, &args);
        assert_eq!(r.code, 1, "{flags:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr
                .contains("brick::cli::planning_options_with_saved_plan"),
            "{flags:?}: {}",
            r.stderr
        );
        assert!(r.stderr.contains(flags[0]), "{flags:?}: {}", r.stderr);
        assert!(!has_state(&d), "{flags:?}: nothing was applied");
    }
    let r = brick(&d, &["apply", "--parallelism", "2", "p.json"]).ok();
    assert!(r.stdout.contains("1 added"), "{}", r.stdout);
}

#[test]
fn state_mv_refuses_another_resource_type() {
    let d = Dir::new(
        "resource \"brick_data\" \"a\" {\n  input = \"x\"\n}\nresource \"brick_data\" \"b\" {\n  input = \"y\"\n}\n",
    );
    brick(&d, &["apply", "--auto-approve"]).ok();
    for dest in ["maas_machine.a", "maas_machine.a[0]", "data.brick_data.a"] {
        let r = brick(&d, &["state", "mv", "brick_data.a", dest]);
        assert_eq!(r.code, 1, "{dest}: {}", r.stdout);
        assert!(
            r.stderr.contains("Invalid target address"),
            "{dest}: {}",
            r.stderr
        );
        let r = brick(&d, &["state", "list"]).ok();
        assert_eq!(
            r.stdout, "brick_data.a\nbrick_data.b\n",
            "{dest}: unchanged"
        );
    }
    let r = brick(&d, &["state", "mv", "brick_data.a", "maas_machine.a"]);
    assert!(
        r.stderr.contains("resource types don't match"),
        "{}",
        r.stderr
    );
    brick(&d, &["state", "mv", "brick_data.a", "brick_data.z"]).ok();
    let r = brick(&d, &["state", "list"]).ok();
    assert_eq!(r.stdout, "brick_data.b\nbrick_data.z\n");
}

#[test]
fn state_push_refuses_while_an_interrupted_apply_is_unsettled_and_keeps_its_journal() {
    let d = Dir::new("resource \"brick_data\" \"a\" {\n  input = \"x\"\n}\n");
    brick(&d, &["apply", "--auto-approve"]).ok();
    let old = brick(&d, &["state", "pull"]).ok().stdout;
    write(&d, "old.json", &old);
    let provider = d.state()["resources"][0]["provider"]
        .as_str()
        .unwrap()
        .to_string();
    // An apply that recorded its intent to create brick_data.b and was killed before it
    // learned the outcome: the journal holds the intent, the snapshot knows nothing of it.
    {
        let store = brick_state::StateStore::new(d.path().join("brick.state.json"), "test");
        let lock = store.lock("apply").unwrap();
        let state = store.load_locked(&lock).unwrap().unwrap().state;
        let journal = store.begin_apply(&lock, state).unwrap();
        journal
            .record_intent(
                brick_state::ResourceAddr::managed("brick_data", "b")
                    .instance(brick_state::IndexKey::None),
                None,
                brick_state::IntentAction::Create,
                provider,
                serde_json::json!({"input": "y", "output": null, "id": null}),
            )
            .unwrap();
        drop(journal); // not finished: as if killed
        drop(lock);
    }
    for args in [
        &["state", "push", "--force", "old.json"][..],
        &["state", "push", "old.json"],
    ] {
        let r = brick(&d, args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stdout);
        assert!(
            r.stderr.contains("brick::state::pending_changes"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("brick_data.b"), "{args:?}: {}", r.stderr);
    }
    // The intent survived: the next run settles it (brick_data.b was never created).
    let r = brick(&d, &["plan"]).ok();
    assert!(r.stderr.contains("brick_data.b"), "{}", r.stderr);
    assert!(r.stderr.contains("had not taken effect"), "{}", r.stderr);
}

#[test]
fn import_configures_the_provider_from_the_configuration_and_reports_its_errors() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(brick_provider_maas::sim::Simulator::start(
            brick_provider_maas::sim::SimOptions::fast(),
        ))
        .unwrap();
    // A tag that exists in MAAS, made by another brick configuration (from the environment).
    let maker = Dir::new("resource \"maas_tag\" \"t\" {\n  name = \"rack1\"\n}\n");
    let maas_env = [
        ("MAAS_API_URL", sim.url().to_string()),
        ("MAAS_API_KEY", sim.api_key()),
    ];
    let maas_env: Vec<(&str, &str)> = maas_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    brick_env(&maker, &["apply", "--auto-approve"], &maas_env).ok();
    let d = Dir::new(
        r#"
variable "maas_url" {
  type = string
}
variable "maas_key" {
  type      = string
  sensitive = true
}
provider "maas" {
  api_url = var.maas_url
  api_key = var.maas_key
}
resource "maas_tag" "rack" {
  name = "rack1"
}
"#,
    );
    let url = format!("maas_url={}", sim.url());
    let key = format!("maas_key={}", sim.api_key());
    // No MAAS_* in the environment: only the provider block says where MAAS is.
    let r = brick(
        &d,
        &[
            "import",
            "--var",
            &url,
            "--var",
            &key,
            "maas_tag.rack",
            "rack1",
        ],
    )
    .ok();
    assert!(r.stdout.contains("Import successful!"), "{}", r.stdout);
    let r = brick(&d, &["state", "list"]).ok();
    assert_eq!(r.stdout, "maas_tag.rack\n");

    // A provider block that cannot configure the provider: its error is reported.
    let d =
        Dir::new("provider \"maas\" {}\nresource \"maas_tag\" \"rack\" {\n  name = \"rack1\"\n}\n");
    let r = brick(&d, &["import", "maas_tag.rack", "rack1"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("Missing MAAS URL"), "{}", r.stderr);
    assert!(r.stderr.contains("brick::maas::config"), "{}", r.stderr);
    assert!(!has_state(&d));
}

#[test]
fn settling_an_interrupted_apply_configures_the_provider_from_the_configuration() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(brick_provider_maas::sim::Simulator::start(
            brick_provider_maas::sim::SimOptions::fast(),
        ))
        .unwrap();
    // MAAS has the tag: an apply created it and was killed before recording it.
    let maker = Dir::new("resource \"maas_tag\" \"t\" {\n  name = \"rack1\"\n}\n");
    let url = sim.url().to_string();
    let key = sim.api_key();
    let maas_env = [
        ("MAAS_API_URL", url.as_str()),
        ("MAAS_API_KEY", key.as_str()),
    ];
    brick_env(&maker, &["apply", "--auto-approve"], &maas_env).ok();
    let provider = maker.state()["resources"][0]["provider"]
        .as_str()
        .unwrap()
        .to_string();
    let d = Dir::new(
        r#"
variable "maas_url" {
  type = string
}
variable "maas_key" {
  type      = string
  sensitive = true
}
provider "maas" {
  api_url = var.maas_url
  api_key = var.maas_key
}
resource "maas_tag" "rack" {
  name = "rack1"
}
"#,
    );
    {
        let store = brick_state::StateStore::new(d.path().join("brick.state.json"), "test");
        let lock = store.lock("apply").unwrap();
        let journal = store
            .begin_apply(&lock, brick_state::State::new("test"))
            .unwrap();
        journal
            .record_intent(
                brick_state::ResourceAddr::managed("maas_tag", "rack")
                    .instance(brick_state::IndexKey::None),
                None,
                brick_state::IntentAction::Create,
                provider,
                serde_json::json!({"id": null, "name": "rack1", "comment": null, "definition": null, "kernel_opts": null}),
            )
            .unwrap();
        drop(journal); // as if killed
        drop(lock);
    }
    // No MAAS_* in the environment: only the provider block (from --var) says where MAAS is.
    let url_var = format!("maas_url={url}");
    let key_var = format!("maas_key={key}");
    let r = brick(&d, &["plan", "--var", &url_var, "--var", &key_var]).ok();
    assert!(
        r.stderr
            .contains("maas_tag.rack: an interrupted create had finished; recorded it"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    let r = brick(&d, &["state", "list"]).ok();
    assert_eq!(r.stdout, "maas_tag.rack\n");
}

#[test]
fn force_unlock_asks_first_and_refuses_without_a_terminal_unless_forced() {
    let d = Dir::new("resource \"brick_data\" \"a\" {\n  input = \"x\"\n}\n");
    let store = brick_state::StateStore::new(d.path().join("brick.state.json"), "test");
    // Held by this test process: alive, on this host.
    let lock = store.lock("apply").unwrap();
    let id = lock.info().id.clone();
    let r = brick(&d, &["force-unlock", &id]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert!(
        r.stderr.contains("The lock holder is still running"),
        "{}",
        r.stderr
    );
    assert!(store.lock_status().unwrap().is_some(), "the lock stays");

    // The holder (this test) still runs: only --even-if-running gets as far as asking.
    let r = brick(&d, &["force-unlock", "--force", &id]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("--even-if-running"), "{}", r.stderr);
    assert!(store.lock_status().unwrap().is_some(), "the lock stays");
    if on_terminal(d.path(), &["force-unlock", &id]).is_some() {
        for (answer, code) in [(&b"no\n"[..], 1), (b"yes\n", 0)] {
            let mut c = on_terminal(d.path(), &["force-unlock", "--even-if-running", &id]).unwrap();
            c.env("NO_COLOR", "1");
            let mut r = Running::start_with_input(c);
            r.wait_for("Only 'yes' will be accepted to confirm.");
            r.send(answer);
            let (got, out) = r.finish();
            assert_eq!(got, Some(code), "{out}");
            assert!(out.contains("Do you really want to force-unlock?"), "{out}");
            if code == 1 {
                assert!(out.contains("force-unlock cancelled."), "{out}");
                assert!(store.lock_status().unwrap().is_some(), "the lock stays");
            } else {
                assert!(store.lock_status().unwrap().is_none(), "removed: {out}");
            }
        }
        drop(lock);
        let lock = store.lock("apply").unwrap();
        let id = lock.info().id.clone();
        brick(&d, &["force-unlock", "--force", "--even-if-running", &id]).ok();
        assert!(store.lock_status().unwrap().is_none());
        drop(lock);
    } else {
        let r = brick(&d, &["force-unlock", "--force", "--even-if-running", &id]).ok();
        assert!(r.stdout.contains("successfully unlocked"), "{}", r.stdout);
        assert!(store.lock_status().unwrap().is_none());
        drop(lock);
    }
}

#[test]
fn durations_parse_one_way_everywhere_and_a_huge_timeout_is_a_diagnostic() {
    let d = Dir::new(
        "resource \"brick_data\" \"a\" {\n  input = \"x\"\n  timeouts {\n    create = \"9999999999999999h\"\n  }\n}\n",
    );
    for cmd in ["validate", "plan"] {
        let r = brick(&d, &[cmd]);
        assert_eq!(r.code, 1, "{cmd}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("Invalid timeout"), "{cmd}: {}", r.stderr);
        assert!(
            r.stderr.contains("on main.hcl line 4"),
            "{cmd}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("longest duration"), "{cmd}: {}", r.stderr);
    }
    let d = Dir::new(
        "resource \"brick_data\" \"a\" {\n  input = \"x\"\n  timeouts {\n    create = \"500ms\"\n    update = \"1.5h\"\n    delete = \"2h45m30s\"\n  }\n}\n",
    );
    brick(&d, &["validate"]).ok();
    brick(&d, &["plan"]).ok();
    brick(&d, &["apply", "--auto-approve"]).ok();
}

#[test]
fn apply_json_needs_auto_approve_and_a_failed_apply_ends_with_json_diagnostics_not_a_summary() {
    let d = Dir::new(
        r#"resource "brick_data" "a" {
  input = "x"
  lifecycle {
    postcondition {
      condition     = self.output == "y"
      error_message = "output must be y."
    }
  }
}
"#,
    );
    let lines = |r: &Run| -> Vec<serde_json::Value> {
        r.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    };
    let r = brick(&d, &["apply", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let l = lines(&r);
    assert!(
        l.iter().any(|j| j["type"] == "diagnostic"
            && j["diagnostic"]["summary"] == "Plan file or auto-approve required"),
        "{}",
        r.stdout
    );
    assert!(!has_state(&d));

    let r = brick(&d, &["apply", "--json", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let l = lines(&r);
    assert!(
        !l.iter().any(|j| j["type"] == "change_summary"
            && j["@message"]
                .as_str()
                .unwrap_or("")
                .starts_with("Apply complete")),
        "{}",
        r.stdout
    );
    let diag = l
        .iter()
        .find(|j| j["type"] == "diagnostic" && j["@level"] == "error")
        .unwrap_or_else(|| panic!("no error diagnostic in {}", r.stdout));
    assert_eq!(
        diag["diagnostic"]["summary"],
        "Resource postcondition failed"
    );
    assert_eq!(
        diag["diagnostic"]["range"]["filename"], "main.hcl",
        "{diag}"
    );
    assert_eq!(diag["diagnostic"]["range"]["start"]["line"], 5, "{diag}");
    assert!(diag["@timestamp"].is_string(), "{diag}");

    // State errors too: a lock held by another brick.
    let store = brick_state::StateStore::new(d.path().join("brick.state.json"), "test");
    let lock = store.lock("apply").unwrap();
    let r = brick(&d, &["apply", "--json", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let l = lines(&r);
    assert!(
        l.iter().any(|j| j["type"] == "diagnostic"
            && j["diagnostic"]["detail"]
                .as_str()
                .is_some_and(|t| t.contains(&lock.info().id))),
        "{}",
        r.stdout
    );
    drop(lock);
}

#[test]
fn plan_json_keeps_stdout_one_document_and_gives_diagnostics_as_json_lines_on_stderr() {
    let d = Dir::new(WORD);
    write(&d, "extra.vars", "nope = 1\n");
    let r = brick(&d, &["plan", "--json", "--var-file", "extra.vars"]).ok();
    assert_eq!(r.json()["output_changes"]["w"]["after"], "default");
    let diag: serde_json::Value = serde_json::from_str(r.stderr.trim())
        .unwrap_or_else(|e| panic!("stderr is not one JSON line ({e}): {}", r.stderr));
    assert_eq!(diag["type"], "diagnostic");
    assert_eq!(diag["@level"], "warn");
    assert_eq!(diag["diagnostic"]["severity"], "warning");
    assert_eq!(
        diag["diagnostic"]["summary"],
        "Value for undeclared variable"
    );
    assert_eq!(diag["diagnostic"]["range"]["filename"], "extra.vars");
    assert_eq!(diag["diagnostic"]["range"]["start"]["line"], 1);
}

#[test]
fn a_refresh_only_apply_asks_whether_to_update_the_state_not_to_perform_actions() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(brick_provider_maas::sim::Simulator::start(
            brick_provider_maas::sim::SimOptions::fast(),
        ))
        .unwrap();
    let d = Dir::new("resource \"maas_tag\" \"t\" {\n  name = \"rack1\"\n}\n");
    let url = sim.url().to_string();
    let key = sim.api_key();
    let maas_env = [
        ("MAAS_API_URL", url.as_str()),
        ("MAAS_API_KEY", key.as_str()),
    ];
    brick_env(&d, &["apply", "--auto-approve"], &maas_env).ok();
    // The tag is deleted behind brick's back: drift.
    sim.with_world(|w| w.tags.remove("rack1"))
        .expect("the tag existed");
    let Some(mut c) = on_terminal(d.path(), &["apply", "--refresh-only"]) else {
        return;
    };
    c.envs(maas_env).env("NO_COLOR", "1");
    let mut r = Running::start_with_input(c);
    r.wait_for("Only 'yes' will be accepted to approve.");
    r.send(b"no\n");
    let (code, out) = r.finish();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Would you like to update the brick state to reflect these detected changes?"),
        "{out}"
    );
    assert!(
        out.contains(
            "brick will write these changes to the state without modifying any real infrastructure."
        ),
        "{out}"
    );
    assert!(
        !out.contains("Do you want to perform these actions?"),
        "{out}"
    );
    let r = brick(&d, &["state", "list"]).ok();
    assert_eq!(r.stdout, "maas_tag.t\n", "declined: the state is unchanged");
}
