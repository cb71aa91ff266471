//! End-to-end tests of Terraform's custom conditions with the real `brick` binary: resource
//! and data source `precondition` / `postcondition` blocks and output `precondition`s. A
//! condition known at plan time is checked by `plan`; one that reads a value known only
//! after apply is checked by `apply` once it is known.

mod support;

use support::Project;

#[test]
fn a_false_precondition_fails_the_plan_with_its_message_code_and_location() {
    let p = Project::new(&[(
        "main.hcl",
        r#"variable "n" {
  type    = number
  default = 1
}

resource "brick_data" "a" {
  input = "x"
  lifecycle {
    precondition {
      condition     = var.n == 2
      error_message = "n must be 2, not ${var.n}."
    }
  }
}
"#,
    )]);
    let r = p
        .brick(&["plan"])
        .failed_with("Resource precondition failed");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("n must be 2, not 1."), "{}", r.stderr);
    assert!(
        r.stderr.contains("brick::plan::precondition_failed"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("main.hcl line 10"), "{}", r.stderr);
    assert!(r.stderr.contains("brick_data.a"), "{}", r.stderr);
    // As Terraform, the values the condition read are listed.
    assert!(r.stderr.contains("  var.n is 1\n"), "{}", r.stderr);
    p.brick(&["plan", "--var", "n=2"]).ok();
}

#[test]
fn a_precondition_reading_another_resource_waits_for_it_and_holds() {
    let p = Project::new(&[(
        "main.hcl",
        r#"resource "brick_data" "b" {
  input = "x"
  lifecycle {
    precondition {
      condition     = brick_data.a.output == "x"
      error_message = "a must output x."
    }
  }
}

resource "brick_data" "a" {
  input = "x"
}
"#,
    )]);
    p.brick(&["apply", "--auto-approve"]).ok();
    p.brick(&["plan"]).ok();
}

#[test]
fn a_precondition_known_only_after_apply_is_checked_during_apply() {
    let p = Project::new(&[(
        "main.hcl",
        r#"resource "brick_data" "a" {
  input = "x"
}

resource "brick_data" "b" {
  input = "y"
  lifecycle {
    precondition {
      condition     = brick_data.a.output == "nope"
      error_message = "a's output is ${brick_data.a.output}."
    }
  }
}

resource "brick_data" "c" {
  input = brick_data.b.output
}

resource "brick_data" "other" {
  input = "z"
}
"#,
    )]);
    p.brick(&["plan"]).ok();
    p.brick(&["apply", "--auto-approve"])
        .failed_with("Resource precondition failed")
        .failed_with("a's output is x.");
    let state = p.state().to_string();
    assert!(state.contains("\"other\""), "{state}");
    assert!(state.contains("\"a\""), "{state}");
    assert!(!state.contains("\"b\""), "{state}");
    assert!(!state.contains("\"c\""), "{state}");
}

#[test]
fn a_postcondition_on_self_known_at_plan_fails_the_plan() {
    let p = Project::new(&[(
        "main.hcl",
        r#"resource "brick_data" "a" {
  input = "x"
  lifecycle {
    postcondition {
      condition     = self.input == "y"
      error_message = "input must be y, not ${self.input}."
    }
  }
}
"#,
    )]);
    p.brick(&["plan"])
        .failed_with("Resource postcondition failed")
        .failed_with("input must be y, not x.")
        .failed_with("  self.input is \"x\"\n");
}

#[test]
fn a_postcondition_failing_after_apply_records_the_object_and_fails_the_run() {
    let p = Project::new(&[(
        "main.hcl",
        r#"resource "brick_data" "a" {
  input = "x"
  lifecycle {
    postcondition {
      condition     = self.output == "y"
      error_message = "output must be y."
    }
  }
}

resource "brick_data" "b" {
  input = brick_data.a.output
}
"#,
    )]);
    p.brick(&["plan"]).ok();
    p.brick(&["apply", "--auto-approve"])
        .failed_with("Resource postcondition failed")
        .failed_with("output must be y.");
    let state = p.state().to_string();
    assert!(state.contains("\"a\""), "{state}");
    assert!(!state.contains("\"b\""), "{state}");
    // As Terraform 1.15: the object is kept as it is, not tainted.
    assert!(!state.contains("tainted"), "{state}");
}

#[test]
fn a_false_output_precondition_fails_the_plan() {
    let p = Project::new(&[(
        "main.hcl",
        r#"variable "n" {
  default = 1
}

output "n" {
  value = var.n
  precondition {
    condition     = var.n > 5
    error_message = "n is too small."
  }
}
"#,
    )]);
    p.brick(&["plan"])
        .failed_with("Module output value precondition failed")
        .failed_with("n is too small.");
    p.brick(&["plan", "--var", "n=6"]).ok();
}

#[test]
fn a_condition_that_is_not_a_bool_is_an_invalid_condition_result() {
    let p = Project::new(&[(
        "main.hcl",
        r#"variable "gate" {
  type    = bool
  default = null
}
resource "brick_data" "a" {
  input = "x"
  lifecycle {
    precondition {
      condition     = var.gate
      error_message = "never."
    }
  }
}
"#,
    )]);
    p.brick(&["plan"]).failed_with("Invalid condition result");
}

#[test]
fn conditions_inside_a_child_module_instance_name_the_instance() {
    let p = Project::new(&[
        (
            "main.hcl",
            r#"module "m" {
  source   = "./m"
  for_each = toset(["ok", "bad"])
  word     = each.key
}
"#,
        ),
        (
            "m/main.hcl",
            r#"variable "word" {
  type = string
}

resource "brick_data" "r" {
  input = var.word
  lifecycle {
    precondition {
      condition     = var.word != "bad"
      error_message = "the word ${var.word} is not allowed."
    }
  }
}

output "word" {
  value = var.word
  precondition {
    condition     = length(var.word) > 2
    error_message = "the word ${var.word} is too short."
  }
}
"#,
        ),
    ]);
    let r = p
        .brick(&["plan"])
        .failed_with("the word bad is not allowed.")
        .failed_with("Module output value precondition failed")
        .failed_with("the word ok is too short.");
    assert!(
        r.stderr.contains("module.m[\"bad\"].brick_data.r"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("module.m[\"ok\"].output.word"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("the word ok is not allowed"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_output_precondition_known_only_after_apply_is_checked_during_apply() {
    let p = Project::new(&[(
        "main.hcl",
        r#"resource "brick_data" "a" {
  input = "x"
}

output "o" {
  value = brick_data.a.output
  precondition {
    condition     = brick_data.a.output == "y"
    error_message = "a's output is ${brick_data.a.output}, not y."
  }
}
"#,
    )]);
    p.brick(&["plan"]).ok();
    p.brick(&["apply", "--auto-approve"])
        .failed_with("Module output value precondition failed")
        .failed_with("a's output is x, not y.");
    let state = p.state();
    assert!(state["resources"].to_string().contains("\"a\""), "{state}");
    assert!(
        state["outputs"].get("o").is_none(),
        "the output must not be recorded: {state}"
    );
}

#[test]
fn a_child_module_output_precondition_known_only_after_apply_names_the_instance() {
    let p = Project::new(&[
        (
            "main.hcl",
            r#"module "m" {
  source   = "./m"
  for_each = toset(["a", "b"])
  word     = each.key
}
"#,
        ),
        (
            "m/main.hcl",
            r#"variable "word" {
  type = string
}

resource "brick_data" "r" {
  input = var.word
}

output "o" {
  value = brick_data.r.output
  precondition {
    condition     = brick_data.r.output != "b"
    error_message = "the output is ${brick_data.r.output}."
  }
}
"#,
        ),
    ]);
    p.brick(&["plan"]).ok();
    let r = p
        .brick(&["apply", "--auto-approve"])
        .failed_with("Module output value precondition failed")
        .failed_with("module.m[\"b\"].output.o: the output is b.");
    assert!(!r.stderr.contains("the output is a."), "{}", r.stderr);
    // Both objects exist and are recorded.
    let state = p.state().to_string();
    assert_eq!(state.matches("\"brick_data\"").count(), 2, "{state}");
}

#[test]
fn data_source_conditions_are_checked_when_it_is_read() {
    let p = Project::new(&[
        (
            "main.hcl",
            r#"data "brick_remote_state" "s" {
  backend  = "local"
  config   = { path = "other.json" }
  lifecycle {
    precondition {
      condition     = endswith(path.module, ".")
      error_message = "never."
    }
    postcondition {
      condition     = self.outputs.region == "attic"
      error_message = "the region is ${self.outputs.region}."
    }
  }
}
"#,
        ),
        (
            "other.json",
            r#"{"version": 4, "terraform_version": "1.15.0", "serial": 1, "lineage": "l",
"outputs": {"region": {"value": "garage", "type": "string"}}, "resources": []}"#,
        ),
    ]);
    p.brick(&["plan"])
        .failed_with("Resource postcondition failed")
        .failed_with("data.brick_remote_state.s: the region is garage.");
}

#[test]
fn a_false_condition_lists_what_it_read_and_hides_sensitive_values() {
    let p = Project::new(&[(
        "main.hcl",
        r#"variable "tags" {
  type    = map(string)
  default = { a = "x", b = "y" }
}
variable "pw" {
  type      = string
  default   = "hunter2"
  sensitive = true
}
resource "brick_data" "a" {
  input = "x"
  lifecycle {
    precondition {
      condition     = length(var.tags) > 5 || var.pw == "other"
      error_message = "Too few tags."
    }
  }
}
"#,
    )]);
    let r = p.brick(&["plan"]).failed_with("Too few tags.");
    assert!(
        r.stderr.contains("  var.tags is map with 2 elements\n"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("  var.pw has a sensitive value\n"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
}
