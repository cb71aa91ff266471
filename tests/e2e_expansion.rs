//! `count` and `for_each` through the binary, with Terraform's rules (checked against
//! Terraform 1.15): a `for_each` map's keys must be known at plan time but its values need
//! not be (`for_each = brick_data.src`, the usual way to make one instance per instance of
//! another resource), sensitive values of the map stay sensitive in `each.value`, a `count`
//! given as a string is converted, and the values that cannot expand are errors at the
//! expression's file and line, with nothing written.

mod support;

use support::Project;

#[test]
fn for_each_over_another_resource_plans_with_values_known_after_apply_and_converges() {
    let p = Project::new(&[(
        "main.hcl",
        r#"
resource "brick_data" "src" {
  for_each = toset(["a", "b"])
  input    = each.key
}

resource "brick_data" "dst" {
  for_each = brick_data.src
  input    = each.value.id
}

resource "brick_data" "outputs" {
  for_each = { for k, s in brick_data.src : k => s.output }
  input    = "${each.key}=${each.value}"
}
"#,
    )]);
    let plan = p.brick(&["plan"]).ok();
    for addr in [
        "brick_data.dst[\"a\"]",
        "brick_data.dst[\"b\"]",
        "brick_data.outputs[\"b\"]",
    ] {
        assert!(
            plan.stdout.contains(&format!("# {addr} will be created")),
            "{}",
            plan.stdout
        );
    }
    assert!(
        plan.stdout
            .contains("Plan: 6 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    p.brick(&["apply", "--auto-approve"]).ok();
    let state = p.state();
    let dst_a = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "dst")
        .unwrap()["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["index_key"] == "a")
        .unwrap()["attributes"]["input"]
        .clone();
    let src_a = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "src")
        .unwrap()["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["index_key"] == "a")
        .unwrap()["attributes"]["id"]
        .clone();
    assert!(src_a.is_string());
    // `input` is of any type, so the state records its type beside its value.
    assert_eq!(
        dst_a["value"], src_a,
        "each.value is the instance of brick_data.src"
    );
    let again = p.brick(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
}

#[test]
fn sensitive_values_of_a_for_each_map_stay_sensitive_and_a_string_count_is_converted() {
    let p = Project::new(&[(
        "main.hcl",
        r#"
resource "brick_data" "s" {
  for_each = { a = sensitive("secret") }
  input    = each.value
}

resource "brick_data" "c" {
  count = "2"
  input = count.index
}
"#,
    )]);
    let plan = p.brick(&["plan"]).ok();
    assert!(
        plan.stdout.contains("+ input  = (sensitive value)"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("secret"), "{}", plan.stdout);
    assert!(plan.stdout.contains("# brick_data.c[1] will be created"));
    assert!(
        plan.stdout
            .contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    let json = p.brick(&["plan", "--json"]).ok().json();
    let s = json["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "brick_data.s[\"a\"]")
        .unwrap()
        .clone();
    assert_eq!(s["change"]["after_sensitive"]["input"], true, "{s}");
}

#[test]
fn values_that_cannot_expand_are_errors_at_their_line_and_nothing_is_written() {
    for (hcl, summary, detail, line) in [
        (
            "resource \"brick_data\" \"a\" {\n  input = 1\n}\n\nresource \"brick_data\" \"b\" {\n  for_each = toset([brick_data.a.id])\n  input    = each.key\n}\n",
            "Invalid for_each argument",
            "cannot be determined until apply",
            "on main.hcl line 6, in resource",
        ),
        (
            "variable \"n\" {\n  default   = 2\n  sensitive = true\n}\n\nresource \"brick_data\" \"b\" {\n  count = var.n\n}\n",
            "Invalid count argument",
            "Sensitive values, or values derived from sensitive values, cannot be used as count arguments.",
            "on main.hcl line 7, in resource",
        ),
        (
            "resource \"brick_data\" \"b\" {\n  count = -1\n}\n",
            "Invalid count argument",
            "must be greater than or equal to zero",
            "on main.hcl line 2, in resource",
        ),
        (
            "resource \"brick_data\" \"b\" {\n  for_each = [\"a\"]\n}\n",
            "Invalid for_each argument",
            "must be a map, or set of strings",
            "on main.hcl line 2, in resource",
        ),
    ] {
        let p = Project::new(&[("main.hcl", hcl)]);
        let run = p.brick(&["plan"]).failed_with(summary);
        assert_eq!(run.code, 1, "{hcl}");
        let err = format!("{}{}", run.stdout, run.stderr);
        assert!(err.contains(detail), "{hcl}\n{err}");
        assert!(err.contains(line), "at its line: {hcl}\n{err}");
        p.brick(&["apply", "--auto-approve"]).failed_with(summary);
        assert!(
            !p.path().join("brick.state.json").exists()
                || p.state()["resources"]
                    .as_array()
                    .is_none_or(|r| r.is_empty()),
            "nothing was written: {hcl}"
        );
    }
}
