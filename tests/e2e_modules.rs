//! End-to-end tests of child modules with the real `brick` binary: module instances in plans
//! (text snapshot, JSON), apply, no-op plans, inputs, `count` / `for_each` on module calls,
//! `moved` into and between modules, `--target module.x`, removed module calls, state
//! commands with module addresses, providers passed to modules, and the diagnostics of bad
//! module inputs and cycles through module boundaries.

use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;

mod support;
use support::Run;

struct Project {
    tmp: tempfile::TempDir,
}

/// A small module used by most tests: two resources and an output.
const BOX: &str = r#"
variable "word" {
  type = string
}

resource "brick_data" "x" {
  input = var.word
}

resource "brick_data" "y" {
  input = "${var.word}-y"
}

output "out" {
  value = brick_data.x.output
}
"#;

impl Project {
    fn new(main_hcl: &str) -> Project {
        let p = Project {
            tmp: tempfile::tempdir().unwrap(),
        };
        p.write("main.hcl", main_hcl);
        p.write("box/main.hcl", BOX);
        p
    }

    /// A copy of `examples/modules`.
    fn example() -> Project {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/modules");
        let p = Project {
            tmp: tempfile::tempdir().unwrap(),
        };
        for f in ["main.hcl", "node/main.hcl"] {
            p.write(f, &std::fs::read_to_string(src.join(f)).unwrap());
        }
        p
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn brick(&self, args: &[&str]) -> Run {
        Run::of(
            Command::new(env!("CARGO_BIN_EXE_brick"))
                .args(["-C", self.path().to_str().unwrap(), "--no-color"])
                .args(args),
        )
    }

    fn apply(&self, args: &[&str]) -> Run {
        let mut a = vec!["apply", "--auto-approve"];
        a.extend_from_slice(args);
        self.brick(&a).ok()
    }

    /// `resource_changes` of `brick plan --json`: address → actions joined with `,`.
    fn changes(&self, args: &[&str]) -> Vec<(String, String)> {
        let mut a = vec!["plan", "--json"];
        a.extend_from_slice(args);
        let plan = self.brick(&a).ok().json();
        plan["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rc| {
                let actions: Vec<&str> = rc["change"]["actions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap())
                    .collect();
                (
                    rc["address"].as_str().unwrap().to_string(),
                    actions.join(","),
                )
            })
            .collect()
    }

    fn state_list(&self) -> Vec<String> {
        self.brick(&["state", "list"])
            .ok()
            .stdout
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The recorded `id` of one instance (from `brick show --json`).
    fn id_of(&self, addr: &str) -> String {
        fn find(m: &Json, addr: &str) -> Option<String> {
            for r in m["resources"].as_array().into_iter().flatten() {
                if r["address"] == addr {
                    return r["values"]["id"].as_str().map(String::from);
                }
            }
            m["child_modules"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|c| find(c, addr))
        }
        let state = self.brick(&["show", "--json"]).ok().json();
        find(&state["values"]["root_module"], addr)
            .unwrap_or_else(|| panic!("{addr} is not in the state: {state:#}"))
    }
}

fn pairs(xs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = xs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

/// The JSON plan without the fields that change from run to run or build to build.
fn stable(mut plan: Json) -> Json {
    fn scrub(v: &mut Json) {
        match v {
            Json::Object(m) => {
                for k in ["timestamp", "terraform_version", "brick_version"] {
                    m.remove(k);
                }
                m.values_mut().for_each(scrub);
            }
            Json::Array(xs) => xs.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    scrub(&mut plan);
    plan
}

// ------------------------------------------------------------------------------------------

#[test]
fn the_modules_example_plans_module_instances_applies_and_then_has_nothing_to_do() {
    let p = Project::example();
    let valid = p.brick(&["validate"]).ok();
    assert!(
        valid.stdout.contains("The configuration is valid."),
        "{}",
        valid.stdout
    );
    let plan = p.brick(&["plan"]).ok();
    assert!(
        plan.stdout
            .contains("# module.node[\"kvm2\"].brick_data.join will be created"),
        "{}",
        plan.stdout
    );
    insta::assert_snapshot!("modules_example_plan_text", plan.stdout);
    let json = p.brick(&["plan", "--json"]).ok().json();
    insta::assert_json_snapshot!("modules_example_plan_json", stable(json));

    let applied = p.apply(&[]);
    assert!(
        applied
            .stdout
            .contains("Apply complete! Resources: 7 added, 0 changed, 0 destroyed."),
        "{}",
        applied.stdout
    );
    assert!(
        applied.stdout.contains("\"kvm3\" = \"kvm3.garage.lan\""),
        "{}",
        applied.stdout
    );
    let again = p.brick(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    assert_eq!(
        p.state_list(),
        [
            "brick_data.cluster_token",
            "module.node[\"kvm1\"].brick_data.identity",
            "module.node[\"kvm1\"].brick_data.join",
            "module.node[\"kvm2\"].brick_data.identity",
            "module.node[\"kvm2\"].brick_data.join",
            "module.node[\"kvm3\"].brick_data.identity",
            "module.node[\"kvm3\"].brick_data.join",
        ]
    );
    let state = p.brick(&["show", "--json"]).ok().json();
    let children = state["values"]["root_module"]["child_modules"]
        .as_array()
        .unwrap();
    let addrs: Vec<&str> = children
        .iter()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addrs,
        [
            "module.node[\"kvm1\"]",
            "module.node[\"kvm2\"]",
            "module.node[\"kvm3\"]"
        ]
    );
    assert_eq!(
        children[0]["resources"][0]["address"],
        "module.node[\"kvm1\"].brick_data.identity"
    );
    let outputs = p.brick(&["output", "--json"]).ok().json();
    assert_eq!(outputs["fqdns"]["value"]["kvm1"], "kvm1.garage.lan");
    assert_eq!(
        outputs["control_plane"]["value"],
        serde_json::json!(["kvm1.garage.lan"])
    );
    let shown = p
        .brick(&["state", "show", "module.node[\"kvm1\"].brick_data.identity"])
        .ok();
    assert!(shown.stdout.contains("kvm1.garage.lan"), "{}", shown.stdout);

    // Everything is destroyed again, dependents first.
    p.brick(&["destroy", "--auto-approve"]).ok();
    assert!(p.state_list().is_empty());
}

#[test]
fn changing_one_module_input_updates_only_that_modules_resources() {
    let main = |a: &str| {
        format!(
            r#"
module "a" {{
  source = "./box"
  word   = "{a}"
}}
module "b" {{
  source = "./box"
  word   = "bee"
}}
output "a" {{
  value = module.a.out
}}
"#
        )
    };
    let p = Project::new(&main("ay"));
    p.apply(&[]);
    let id_b = p.id_of("module.b.brick_data.x");
    p.write("main.hcl", &main("ay2"));
    let plan = p.brick(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("# module.a.brick_data.x will be updated in-place"),
        "{}",
        plan.stdout
    );
    assert_eq!(
        sorted(p.changes(&[])),
        pairs(&[
            ("module.a.brick_data.x", "update"),
            ("module.a.brick_data.y", "update"),
            ("module.b.brick_data.x", "no-op"),
            ("module.b.brick_data.y", "no-op"),
        ])
    );
    p.apply(&[]);
    assert_eq!(p.id_of("module.b.brick_data.x"), id_b);
    let out = p.brick(&["output", "--json"]).ok().json();
    assert_eq!(out["a"]["value"], "ay2");
}

#[test]
fn lowering_a_module_count_destroys_only_the_last_instance() {
    let main = |n: u32| {
        format!(
            r#"
module "x" {{
  source = "./box"
  count  = {n}
  word   = "w${{count.index}}"
}}
output "words" {{
  value = module.x[*].out
}}
"#
        )
    };
    let p = Project::new(&main(2));
    p.apply(&[]);
    let kept = p.id_of("module.x[0].brick_data.x");
    p.write("main.hcl", &main(1));
    let plan = p.brick(&["plan"]).ok();
    assert!(
        plan.stdout
            .contains("# module.x[1].brick_data.x will be destroyed"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("# (because module.x[1] is not in configuration)"),
        "{}",
        plan.stdout
    );
    assert_eq!(
        sorted(p.changes(&[])),
        pairs(&[
            ("module.x[0].brick_data.x", "no-op"),
            ("module.x[0].brick_data.y", "no-op"),
            ("module.x[1].brick_data.x", "delete"),
            ("module.x[1].brick_data.y", "delete"),
        ])
    );
    p.apply(&[]);
    assert_eq!(
        p.state_list(),
        ["module.x[0].brick_data.x", "module.x[0].brick_data.y"]
    );
    assert_eq!(p.id_of("module.x[0].brick_data.x"), kept);
    let out = p.brick(&["output", "--json"]).ok().json();
    assert_eq!(out["words"]["value"], serde_json::json!(["w0"]));
}

#[test]
fn re_keying_a_module_for_each_replaces_only_the_keys_that_changed() {
    let main = |keys: &str| {
        format!(
            r#"
module "x" {{
  source   = "./box"
  for_each = toset([{keys}])
  word     = each.key
}}
"#
        )
    };
    let p = Project::new(&main(r#""a", "b""#));
    p.apply(&[]);
    let b = p.id_of("module.x[\"b\"].brick_data.x");
    p.write("main.hcl", &main(r#""b", "c""#));
    assert_eq!(
        sorted(p.changes(&[])),
        pairs(&[
            ("module.x[\"a\"].brick_data.x", "delete"),
            ("module.x[\"a\"].brick_data.y", "delete"),
            ("module.x[\"b\"].brick_data.x", "no-op"),
            ("module.x[\"b\"].brick_data.y", "no-op"),
            ("module.x[\"c\"].brick_data.x", "create"),
            ("module.x[\"c\"].brick_data.y", "create"),
        ])
    );
    p.apply(&[]);
    assert_eq!(p.id_of("module.x[\"b\"].brick_data.x"), b);
}

#[test]
fn moved_blocks_move_resources_into_modules_and_rename_modules_without_replacing_anything() {
    let p = Project::new(
        r#"
resource "brick_data" "x" {
  input = "kept"
}
"#,
    );
    p.apply(&[]);
    let id = p.id_of("brick_data.x");
    p.write(
        "main.hcl",
        r#"
module "m" {
  source = "./box"
  word   = "kept"
}
moved {
  from = brick_data.x
  to   = module.m.brick_data.x
}
"#,
    );
    let plan = p.brick(&["plan"]).ok();
    assert!(
        plan.stdout
            .contains("# brick_data.x has moved to module.m.brick_data.x"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "only brick_data.y is new:\n{}",
        plan.stdout
    );
    p.apply(&[]);
    assert_eq!(p.id_of("module.m.brick_data.x"), id);

    // Renaming the module call moves every instance inside it.
    p.write(
        "main.hcl",
        r#"
module "renamed" {
  source = "./box"
  word   = "kept"
}
moved {
  from = module.m
  to   = module.renamed
}
"#,
    );
    assert_eq!(
        sorted(p.changes(&[])),
        pairs(&[
            ("module.renamed.brick_data.x", "no-op"),
            ("module.renamed.brick_data.y", "no-op"),
        ])
    );
    p.apply(&[]);
    assert_eq!(p.id_of("module.renamed.brick_data.x"), id);
}

#[test]
fn targeting_a_module_plans_everything_inside_it_and_what_it_needs() {
    let p = Project::new(
        r#"
resource "brick_data" "base" {
  input = "base"
}
resource "brick_data" "other" {
  input = "other"
}
module "a" {
  source = "./box"
  word   = brick_data.base.output
}
module "b" {
  source = "./box"
  word   = "bee"
}
"#,
    );
    assert_eq!(
        sorted(p.changes(&["--target", "module.a"])),
        pairs(&[
            ("brick_data.base", "create"),
            ("module.a.brick_data.x", "create"),
            ("module.a.brick_data.y", "create"),
        ])
    );
    assert_eq!(
        sorted(p.changes(&["--target", "module.b.brick_data.y"])),
        pairs(&[("module.b.brick_data.y", "create")])
    );
    p.apply(&["--target", "module.a"]);
    assert_eq!(
        p.state_list(),
        [
            "brick_data.base",
            "module.a.brick_data.x",
            "module.a.brick_data.y"
        ]
    );
}

#[test]
fn removing_a_module_call_destroys_its_resources_and_removed_blocks_forget_them() {
    let p = Project::new(
        r#"
module "gone" {
  source = "./box"
  word   = "g"
}
module "forgotten" {
  source = "./box"
  word   = "f"
}
"#,
    );
    p.apply(&[]);
    p.write(
        "main.hcl",
        r#"
removed {
  from = module.forgotten
  lifecycle {
    destroy = false
  }
}
"#,
    );
    let plan = p.brick(&["plan"]).ok();
    assert!(
        plan.stdout
            .contains("# module.gone.brick_data.x will be destroyed"),
        "{}",
        plan.stdout
    );
    // As Terraform 1.15 (tests/plandiff's module_moves recording): with the module call gone,
    // the resource's configuration is gone (`delete_because_no_resource_config`).
    assert!(
        plan.stdout
            .contains("# (because brick_data.x is not in configuration)"),
        "{}",
        plan.stdout
    );
    assert_eq!(
        sorted(p.changes(&[])),
        pairs(&[
            ("module.forgotten.brick_data.x", "forget"),
            ("module.forgotten.brick_data.y", "forget"),
            ("module.gone.brick_data.x", "delete"),
            ("module.gone.brick_data.y", "delete"),
        ])
    );
    p.apply(&[]);
    assert!(p.state_list().is_empty());
}

#[test]
fn nested_modules_have_nested_addresses_and_nested_child_modules_in_json() {
    let p = Project::new(
        r#"
module "outer" {
  source   = "./outer"
  for_each = { k = "kay" }
  word     = each.value
}
output "deep" {
  value = module.outer["k"].inner_out
}
"#,
    );
    p.write(
        "outer/main.hcl",
        r#"
variable "word" {
  type = string
}
module "inner" {
  source = "../box"
  word   = "${var.word}-inner"
}
output "inner_out" {
  value = module.inner.out
}
"#,
    );
    p.apply(&[]);
    assert_eq!(
        p.state_list(),
        [
            "module.outer[\"k\"].module.inner.brick_data.x",
            "module.outer[\"k\"].module.inner.brick_data.y",
        ]
    );
    let out = p.brick(&["output", "--json"]).ok().json();
    assert_eq!(out["deep"]["value"], "kay-inner");
    let state = p.brick(&["show", "--json"]).ok().json();
    let outer = &state["values"]["root_module"]["child_modules"][0];
    assert_eq!(outer["address"], "module.outer[\"k\"]");
    assert_eq!(
        outer["child_modules"][0]["address"],
        "module.outer[\"k\"].module.inner"
    );
    let plan = p.brick(&["plan", "--json"]).ok().json();
    let call = &plan["configuration"]["root_module"]["module_calls"]["outer"];
    assert_eq!(call["source"], "./outer");
    assert_eq!(call["module"]["module_calls"]["inner"]["source"], "../box");
    let targeted = p.changes(&["--target", "module.outer[\"k\"].module.inner.brick_data.x"]);
    assert_eq!(
        targeted,
        pairs(&[("module.outer[\"k\"].module.inner.brick_data.x", "no-op")])
    );
}

#[test]
fn state_mv_and_rm_accept_module_addresses() {
    let p = Project::new(
        r#"
module "a" {
  source = "./box"
  word   = "w"
}
"#,
    );
    p.apply(&[]);
    let mv = p.brick(&["state", "mv", "module.a", "module.b"]).ok();
    assert!(
        mv.stdout.contains("Successfully moved 2 object(s)."),
        "{}",
        mv.stdout
    );
    assert_eq!(
        p.state_list(),
        ["module.b.brick_data.x", "module.b.brick_data.y"]
    );
    let rm = p.brick(&["state", "rm", "module.b"]).ok();
    assert!(
        rm.stdout.contains("Removed module.b.brick_data.x"),
        "{}",
        rm.stdout
    );
    assert!(p.state_list().is_empty());
}

#[test]
fn depends_on_a_module_waits_for_everything_inside_it_and_is_recorded() {
    let p = Project::new(
        r#"
resource "brick_data" "first" {
  input = 1
}
module "m" {
  source     = "./box"
  word       = "w"
  depends_on = [brick_data.first]
}
resource "brick_data" "last" {
  input      = 2
  depends_on = [module.m]
}
"#,
    );
    p.apply(&[]);
    let state = state_with_whole_dependencies(&p.path().join("brick.state.json"));
    let deps = |module: Option<&str>, name: &str| -> Vec<String> {
        let r = state["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name && r["module"].as_str() == module)
            .unwrap_or_else(|| panic!("{name} not in {state:#}"));
        r["instances"][0]["dependencies"]
            .as_array()
            .map(|d| d.iter().map(|x| x.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    assert_eq!(deps(Some("module.m"), "x"), ["brick_data.first"]);
    // Recorded transitively, as Terraform does: `last` waits for the module, which waits
    // for `first`.
    assert_eq!(
        deps(None, "last"),
        [
            "brick_data.first",
            "module.m.brick_data.x",
            "module.m.brick_data.y"
        ]
    );
}

#[test]
fn a_module_uses_the_provider_configuration_its_call_passes() {
    let p = Project::new(
        r#"
provider "brick" {
  alias = "other"
}
module "a" {
  source    = "./box"
  word      = "w"
  providers = {
    brick = brick.other
  }
}
module "b" {
  source = "./box"
  word   = "w"
}
"#,
    );
    p.apply(&[]);
    let state: Json =
        serde_json::from_str(&std::fs::read_to_string(p.path().join("brick.state.json")).unwrap())
            .unwrap();
    let provider = |module: &str| -> String {
        state["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["module"] == module)
            .unwrap()["provider"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(provider("module.a").ends_with(".other"), "{state:#}");
    assert!(!provider("module.b").ends_with(".other"), "{state:#}");
}

#[test]
fn bad_module_inputs_are_diagnostics_with_codes_and_locations() {
    let p = Project::new(
        r#"
module "typo" {
  source = "./box"
  word   = "w"
  wrod   = "x"
}
module "missing" {
  source = "./box"
}
"#,
    );
    let r = p.brick(&["plan"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("(brick::config::unsupported_argument)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("on main.hcl line 5"), "{}", r.stderr);
    assert!(r.stderr.contains("Did you mean `word`?"), "{}", r.stderr);
    assert!(
        r.stderr.contains("(brick::config::missing_argument)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("on main.hcl line 7"), "{}", r.stderr);

    p.write(
        "main.hcl",
        r#"
module "wrong" {
  source = "./box"
  word   = ["not", "a", "string"]
}
"#,
    );
    for cmd in ["validate", "plan"] {
        let r = p.brick(&[cmd]);
        assert_eq!(r.code, 1, "{cmd}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("(brick::vars::invalid_value)"),
            "{cmd}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("on main.hcl line 4"), "{}", r.stderr);
    }
    let r = p.brick(&["plan"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("(brick::vars::invalid_value)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("on main.hcl line 4"), "{}", r.stderr);
    assert!(
        r.stderr.contains("var.word of module \"wrong\""),
        "{}",
        r.stderr
    );
}

#[test]
fn a_cycle_through_a_module_boundary_is_reported_with_the_cycle() {
    let p = Project::new(
        r#"
resource "brick_data" "r" {
  input = module.m.out
}
module "m" {
  source = "./box"
  word   = brick_data.r.id
}
"#,
    );
    let v = p.brick(&["validate"]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stderr.contains("(brick::config::cycle)"), "{}", v.stderr);
    assert!(
        v.stderr.contains(
            "module.m.output.out → brick_data.r → module.m.var.word → module.m.brick_data.x → module.m.output.out"
        ),
        "{}",
        v.stderr
    );
    assert!(v.stderr.contains("on main.hcl line 5"), "{}", v.stderr);
    // plan validates first, as Terraform's does: the same cycle, found before planning.
    let r = p.brick(&["plan"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("(brick::config::cycle)"), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "module.m.output.out → brick_data.r → module.m.var.word → module.m.brick_data.x → module.m.output.out"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn count_and_for_each_together_on_a_module_call_is_an_error() {
    let p = Project::new(
        r#"
module "both" {
  source   = "./box"
  count    = 1
  for_each = toset(["a"])
  word     = "w"
}
"#,
    );
    for cmd in ["validate", "plan"] {
        let r = p.brick(&[cmd]);
        assert_eq!(r.code, 1, "{cmd}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("(brick::config::count_and_for_each)"),
            "{cmd}: {}",
            r.stderr
        );
    }
}

#[test]
fn an_import_block_can_import_into_a_module() {
    let p = Project::new(
        r#"
module "m" {
  source = "./box"
  word   = "w"
}
import {
  to = module.m.brick_data.x
  id = "abc-123"
}
"#,
    );
    let plan = p.brick(&["plan"]).ok();
    assert!(
        plan.stdout.contains(
            "# module.m.brick_data.x will be updated in-place\n  # (imported from \"abc-123\")"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 1 to import, 1 to add, 1 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    p.apply(&[]);
    assert_eq!(p.id_of("module.m.brick_data.x"), "abc-123");
}

#[test]
fn a_saved_plan_with_module_instances_applies_and_destroy_goes_dependents_first() {
    let p = Project::new(
        r#"
module "m" {
  source = "./box"
  word   = path.module
}
resource "brick_data" "after" {
  input = module.m.out
}
"#,
    );
    p.write(
        "box/main.hcl",
        r#"
variable "word" {
  type = string
}
resource "brick_data" "x" {
  input = "${var.word} ${path.module}"
}
output "out" {
  value = brick_data.x.output
}
"#,
    );
    p.brick(&["plan", "--out", "saved.plan"]).ok();
    let applied = p.brick(&["apply", "saved.plan"]).ok();
    let created: Vec<&str> = applied
        .stdout
        .lines()
        .filter(|l| l.ends_with(": Creating..."))
        .collect();
    assert_eq!(created.len(), 2, "{}", applied.stdout);
    assert!(created[0].contains("module.m.brick_data.x"), "{created:?}");
    assert!(created[1].contains("brick_data.after"), "{created:?}");
    let state = p.brick(&["show", "--json"]).ok().json();
    let x = &state["values"]["root_module"]["child_modules"][0]["resources"][0];
    // path.module is the module's directory relative to the root, as Terraform gives it.
    assert_eq!(x["values"]["input"], ". box");

    let destroyed = p.brick(&["destroy", "--auto-approve"]).ok();
    let order: Vec<&str> = destroyed
        .stdout
        .lines()
        .filter(|l| l.contains(": Destroying..."))
        .collect();
    assert_eq!(order.len(), 2, "{}", destroyed.stdout);
    assert!(order[0].contains("brick_data.after"), "{order:?}");
    assert!(order[1].contains("module.m.brick_data.x"), "{order:?}");
}

#[test]
fn a_module_input_failing_its_validation_is_reported_at_the_argument() {
    let p = Project::example();
    let r = p.brick(&["plan", "--var", "hosts={KVM_1=\"worker\"}"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("(brick::vars::validation)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("A hostname is lower-case letters, digits and dashes."),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("on main.hcl line 27"), "{}", r.stderr);
}

#[test]
fn a_moved_block_inside_a_module_applies_within_each_of_its_instances() {
    let p = Project::new(
        r#"
module "x" {
  source   = "./box"
  for_each = toset(["a", "b"])
  word     = each.key
}
"#,
    );
    p.apply(&[]);
    let a = p.id_of("module.x[\"a\"].brick_data.x");
    let b = p.id_of("module.x[\"b\"].brick_data.x");
    p.write(
        "box/main.hcl",
        &(BOX
            .replace("\"x\"", "\"renamed\"")
            .replace("brick_data.x.", "brick_data.renamed.")
            + r#"
moved {
  from = brick_data.x
  to   = brick_data.renamed
}
"#),
    );
    let plan = p.brick(&["plan"]).ok();
    assert!(
        plan.stdout.contains(
            "# module.x[\"a\"].brick_data.x has moved to module.x[\"a\"].brick_data.renamed"
        ),
        "{}",
        plan.stdout
    );
    assert_eq!(
        sorted(p.changes(&[])),
        pairs(&[
            ("module.x[\"a\"].brick_data.renamed", "no-op"),
            ("module.x[\"a\"].brick_data.y", "no-op"),
            ("module.x[\"b\"].brick_data.renamed", "no-op"),
            ("module.x[\"b\"].brick_data.y", "no-op"),
        ])
    );
    p.apply(&[]);
    assert_eq!(p.id_of("module.x[\"a\"].brick_data.renamed"), a);
    assert_eq!(p.id_of("module.x[\"b\"].brick_data.renamed"), b);
}

#[test]
fn the_console_shows_module_outputs_from_the_state() {
    let p = Project::example();
    p.apply(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_brick"))
        .args(["-C", p.path().to_str().unwrap(), "console"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"module.node[\"kvm2\"].fqdn\nlength(module.node)\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "\"kvm2.garage.lan\"\n3\n"
    );
}

#[test]
fn the_import_command_and_the_graph_know_module_addresses() {
    let p = Project::new(
        r#"
module "m" {
  source = "./box"
  word   = "w"
}
"#,
    );
    p.brick(&["import", "module.m.brick_data.x", "imp-1"]).ok();
    assert_eq!(p.state_list(), ["module.m.brick_data.x"]);
    assert_eq!(p.id_of("module.m.brick_data.x"), "imp-1");
    let dot = p.brick(&["graph"]).ok().stdout;
    for edge in [
        "\"module.m.brick_data.x\" -> \"module.m.var.word\"",
        "\"module.m.brick_data.x\" -> \"module.m\"",
        "\"module.m.output.out\" -> \"module.m.brick_data.x\"",
    ] {
        assert!(dot.contains(edge), "{edge} missing from:\n{dot}");
    }
}

#[test]
fn a_module_output_that_does_not_use_the_input_fed_from_it_is_not_a_cycle() {
    let p = Project::new(
        r#"
resource "brick_data" "r" {
  input = module.m.fixed
}
module "m" {
  source = "./two"
  word   = brick_data.r.output
}
output "echo" {
  value = module.m.echo
}
"#,
    );
    p.write(
        "two/main.hcl",
        r#"
variable "word" {
  type = string
}
output "fixed" {
  value = "constant"
}
output "echo" {
  value = var.word
}
"#,
    );
    p.brick(&["validate"]).ok();
    p.apply(&[]);
    let out = p.brick(&["output", "--json"]).ok().json();
    assert_eq!(out["echo"]["value"], "constant");
}

#[test]
fn targeting_one_module_instance_leaves_the_other_instances_alone() {
    let p = Project::example();
    assert_eq!(
        sorted(p.changes(&["--target", "module.node[\"kvm1\"]"])),
        pairs(&[
            ("brick_data.cluster_token", "create"),
            ("module.node[\"kvm1\"].brick_data.identity", "create"),
            ("module.node[\"kvm1\"].brick_data.join", "create"),
        ])
    );
    p.apply(&[]);
    let replace = p.changes(&["--replace", "module.node[\"kvm3\"].brick_data.identity"]);
    let replaced: Vec<&(String, String)> = replace.iter().filter(|(_, a)| a != "no-op").collect();
    assert_eq!(
        replaced,
        [&(
            "module.node[\"kvm3\"].brick_data.identity".to_string(),
            "delete,create".to_string()
        )]
    );
}

#[test]
fn a_root_output_containing_a_sensitive_value_must_be_declared_sensitive_even_through_a_module() {
    let p = Project::new(
        r#"
variable "secret" {
  type      = string
  default   = "hunter2"
  sensitive = true
}

module "b" {
  source = "./box"
  word   = var.secret
}

output "direct" {
  value = "x-${var.secret}"
}

output "through_module" {
  value = module.pass.v
}

module "pass" {
  source = "./pass"
  word   = var.secret
}
"#,
    );
    p.write(
        "pass/main.hcl",
        "variable \"word\" {\n  type = string\n}\n\noutput \"v\" {\n  value = var.word\n}\n",
    );
    let r = p.brick(&["plan"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert_eq!(
        r.stderr
            .matches("Output refers to sensitive values")
            .count(),
        2,
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("brick::plan::output_sensitive"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("sensitive = true"), "{}", r.stderr);
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);

    // Declared sensitive: accepted, and recorded as sensitive.
    let fixed = std::fs::read_to_string(p.path().join("main.hcl"))
        .unwrap()
        .replace(
            "value = \"x-${var.secret}\"",
            "value     = \"x-${var.secret}\"\n  sensitive = true",
        )
        .replace(
            "value = module.pass.v",
            "value     = module.pass.v\n  sensitive = true",
        );
    p.write("main.hcl", &fixed);
    p.apply(&[]);
    let out = p.brick(&["output", "--json"]).ok().json();
    assert_eq!(out["direct"]["sensitive"], true);
    assert_eq!(out["through_module"]["sensitive"], true);
}

const LEGACY: &str = r#"
variable "word" {
  type = string
}

provider "brick" {}

resource "brick_data" "x" {
  input = var.word
}

output "out" {
  value = brick_data.x.output
}
"#;

#[test]
fn a_module_called_without_count_may_configure_its_own_provider_as_terraform_legacy_modules() {
    let p = Project::new(
        r#"
module "legacy" {
  source = "./legacy"
  word   = "own"
}

output "o" {
  value = module.legacy.out
}
"#,
    );
    p.write("legacy/main.hcl", LEGACY);
    p.apply(&[]);
    let state: Json =
        serde_json::from_str(&std::fs::read_to_string(p.path().join("brick.state.json")).unwrap())
            .unwrap();
    let providers: Vec<&str> = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["provider"].as_str().unwrap())
        .collect();
    assert_eq!(
        providers,
        ["module.legacy.provider[\"brick/brick\"]"],
        "{state}"
    );
    // The JSON plan's configuration keys it as Terraform does (`module.b:terraform`).
    let plan = p.brick(&["plan", "--json"]).ok().json();
    let config = &plan["configuration"];
    assert_eq!(
        config["provider_config"]["module.legacy:brick"]["module_address"], "module.legacy",
        "{config}"
    );
    assert_eq!(
        config["provider_config"]["module.legacy:brick"]["name"],
        "brick"
    );
    assert_eq!(
        config["root_module"]["module_calls"]["legacy"]["module"]["resources"][0]["provider_config_key"],
        "module.legacy:brick"
    );
    assert_eq!(
        p.brick(&["output", "--json"]).ok().json()["o"]["value"],
        "own"
    );
    // Recorded with the module's configuration, it plans as nothing to do.
    assert_eq!(
        p.changes(&[]),
        pairs(&[("module.legacy.brick_data.x", "no-op")])
    );
}

#[test]
fn a_module_with_its_own_provider_block_cannot_be_called_with_count_for_each_or_depends_on() {
    for arg in [
        "count = 2",
        "for_each = toset([\"a\"])",
        "depends_on = [brick_data.d]",
    ] {
        let p = Project::new(&format!(
            r#"
resource "brick_data" "d" {{
  input = "d"
}}

module "legacy" {{
  source = "./legacy"
  word   = "own"
  {arg}
}}
"#
        ));
        p.write("legacy/main.hcl", LEGACY);
        let r = p.brick(&["plan"]);
        assert_ne!(r.code, 0, "{arg}: {}", r.stdout);
        assert!(
            r.stderr
                .contains("Module is incompatible with count, for_each, and depends_on"),
            "{arg}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("brick::plan::module_provider_block"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn module_sources_are_normalised_and_a_module_calling_its_own_directory_is_an_error() {
    let p = Project::new(
        r#"
module "b" {
  source = "./x/../box"
  word   = "w"
}

output "o" {
  value = module.b.out
}
"#,
    );
    p.apply(&[]);
    assert_eq!(
        p.brick(&["output", "--json"]).ok().json()["o"]["value"],
        "w"
    );

    for (source, module_hcl) in [("./", "main.hcl"), ("../", "sub/main.hcl")] {
        let p = Project::new("");
        p.write(
            module_hcl,
            &format!("module \"again\" {{\n  source = \"{source}\"\n}}\n"),
        );
        if module_hcl != "main.hcl" {
            p.write("main.hcl", "module \"sub\" {\n  source = \"./sub\"\n}\n");
        }
        let r = p.brick(&["validate"]);
        assert_ne!(r.code, 0, "{source}: {}", r.stdout);
        assert!(
            r.stderr.contains("Module calls itself"),
            "{source}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("brick::config::module_calls_itself"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_module_source_that_is_not_a_local_path_says_brick_supports_only_local_modules() {
    let p = Project::new(
        "module \"consul\" {\n  source = \"hashicorp/consul/aws\"\n}\n\nmodule \"g\" {\n  source = \"git::https://example.com/x.git\"\n}\n",
    );
    let r = p.brick(&["validate"]);
    assert_ne!(r.code, 0);
    assert_eq!(
        r.stderr.matches("Unsupported module source").count(),
        2,
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("brick has no module registry"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("brick does not download modules"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("supports only local modules"),
        "{}",
        r.stderr
    );
}

/// As Terraform 1.15 records them (checked with `terraform_data`): every upstream resource,
/// transitively and through module outputs, as configuration addresses without the module
/// instance keys.
#[test]
fn recorded_dependencies_are_transitive_configuration_addresses_as_terraform_records_them() {
    let p = Project::new(
        r#"
module "a" {
  source   = "./m"
  for_each = toset(["x", "y"])
  w        = each.key
}

resource "brick_data" "r" {
  input = [for k, v in module.a : v.o]
}
"#,
    );
    p.write(
        "m/main.hcl",
        r#"
variable "w" {
  type = string
}

resource "brick_data" "base" {
  input = var.w
}

resource "brick_data" "inner" {
  input = brick_data.base.output
}

output "o" {
  value = brick_data.inner.output
}
"#,
    );
    p.apply(&[]);
    let state = state_with_whole_dependencies(&p.path().join("brick.state.json"));
    let mut deps = Vec::new();
    for r in state["resources"].as_array().unwrap() {
        for i in r["instances"].as_array().unwrap() {
            deps.push(format!(
                "{}{}.{} {}",
                r["module"]
                    .as_str()
                    .map(|m| format!("{m}."))
                    .unwrap_or_default(),
                r["type"].as_str().unwrap(),
                r["name"].as_str().unwrap(),
                i.get("dependencies").cloned().unwrap_or(Json::Null)
            ));
        }
    }
    deps.sort();
    assert_eq!(
        deps,
        [
            "brick_data.r [\"module.a.brick_data.base\",\"module.a.brick_data.inner\"]",
            "module.a[\"x\"].brick_data.base null",
            "module.a[\"x\"].brick_data.inner [\"module.a.brick_data.base\"]",
            "module.a[\"y\"].brick_data.base null",
            "module.a[\"y\"].brick_data.inner [\"module.a.brick_data.base\"]",
        ]
    );
}

/// The state document as saved, with every object's `dependencies` as brick reads them back:
/// the file (format 2) and memory list direct ones, `with_whole_dependencies` expands them to
/// every resource upstream.
fn state_with_whole_dependencies(path: &Path) -> Json {
    use brick_state::{IndexKey, ResourceAddr};
    let bytes = std::fs::read(path).unwrap();
    let state = brick_state::from_bytes(&bytes, path)
        .unwrap()
        .with_whole_dependencies();
    let mut doc: Json = serde_json::from_slice(&bytes).unwrap();
    for r in doc["resources"].as_array_mut().unwrap() {
        let addr = ResourceAddr {
            module: r["module"].as_str().unwrap_or_default().to_string(),
            mode: serde_json::from_value(r["mode"].clone()).unwrap(),
            type_name: r["type"].as_str().unwrap().to_string(),
            name: r["name"].as_str().unwrap().to_string(),
        };
        for i in r["instances"].as_array_mut().unwrap() {
            let key = match &i["index_key"] {
                Json::Null => IndexKey::None,
                Json::String(k) => IndexKey::String(k.clone()),
                n => IndexKey::Int(n.as_i64().unwrap()),
            };
            let inst = state.instance(&addr.instance(key)).unwrap();
            let obj = match i["deposed"].as_str() {
                Some(d) => &inst.deposed[d],
                None => inst.current.as_deref().unwrap(),
            };
            let o = i.as_object_mut().unwrap();
            o.remove("all_dependencies");
            if obj.dependencies.is_empty() {
                o.remove("dependencies");
            } else {
                o.insert("dependencies".into(), serde_json::json!(obj.dependencies));
            }
        }
    }
    doc
}
