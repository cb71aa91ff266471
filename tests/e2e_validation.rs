//! End-to-end tests of `validation` blocks with the real `brick` binary: conditions that read
//! other variables, locals, resources and module outputs (Terraform ≥ 1.9), in the root
//! module and in child modules. A condition known at plan time is checked by `plan`; one
//! that reads a value known only after apply is checked by `apply` once it is known.
//!
//! `plan` and `apply` also run every check of `brick validate` first, as Terraform validates
//! before it plans.

mod support;

use support::Project;

const ROOT_LOCAL: &str = r#"
locals {
  limit = 3
}

variable "n" {
  type    = number
  default = 5
  validation {
    condition     = var.n < local.limit
    error_message = "n must be below the limit."
  }
}

resource "brick_data" "a" {
  input = var.n
}
"#;

#[test]
fn a_root_validation_reading_a_local_is_checked_at_plan() {
    let p = Project::new(&[("main.hcl", ROOT_LOCAL)]);
    let r = p
        .brick(&["plan"])
        .failed_with("n must be below the limit. (validation of var.n)");
    assert!(r.stderr.contains("brick::vars::validation"), "{}", r.stderr);
    p.brick(&["plan", "--var", "n=1"]).ok();
}

const ROOT_RESOURCE: &str = r#"
resource "brick_data" "a" {
  input = "x"
}

variable "s" {
  type    = string
  default = "zz"
  validation {
    condition     = var.s == brick_data.a.output
    error_message = "s must equal the output of brick_data.a."
  }
}

resource "brick_data" "b" {
  input = var.s
}
"#;

#[test]
fn a_root_validation_reading_a_value_known_only_after_apply_fails_the_apply() {
    let p = Project::new(&[("main.hcl", ROOT_RESOURCE)]);
    // Unknown at plan time: not decided, so the plan succeeds.
    p.brick(&["plan"]).ok();
    let r = p
        .brick(&["apply", "--auto-approve"])
        .failed_with("s must equal the output of brick_data.a. (validation of var.s)");
    assert_eq!(
        r.stderr.matches("s must equal the output").count(),
        1,
        "reported once:\n{}",
        r.stderr
    );
    // As Terraform 1.15: what was applied is recorded, and what reads the variable waits
    // for its check, so brick_data.b is not created with the invalid value.
    let state = p.state();
    let names: Vec<&str> = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a"], "{state}");
    // Now known: the next plan reports it straight away, and a good value passes.
    p.brick(&["plan"])
        .failed_with("s must equal the output of brick_data.a.");
    p.brick(&["apply", "--auto-approve", "--var", "s=x"]).ok();
}

const CHILD: &str = r#"
variable "size" {
  type = number
}

variable "max" {
  type    = number
  default = 10
}

locals {
  floor = 2
}

variable "name" {
  type = string
  validation {
    condition     = length(var.name) >= local.floor
    error_message = "name is too short for this module."
  }
}

resource "brick_data" "r" {
  input = "${var.name}-${var.size}"
}

output "word" {
  value = brick_data.r.output
}
"#;

fn child_with_cross_check() -> String {
    CHILD.replace(
        "variable \"size\" {\n  type = number\n}",
        "variable \"size\" {\n  type = number\n  validation {\n    condition     = var.size <= var.max\n    error_message = \"size may not exceed max.\"\n  }\n}",
    )
}

#[test]
fn a_module_variable_validation_may_read_another_variable_and_a_local_of_the_module() {
    let child = child_with_cross_check();
    let bad = r#"
module "m" {
  source = "./m"
  size   = 20
  max    = 5
  name   = "ok"
}
"#;
    let p = Project::new(&[("main.hcl", bad), ("m/main.hcl", &child)]);
    p.brick(&["plan"])
        .failed_with("size may not exceed max. (validation of var.size of module \"m\")");

    let short = bad
        .replace("size   = 20", "size   = 2")
        .replace("\"ok\"", "\"x\"");
    p.write_main(&short);
    p.brick(&["plan"])
        .failed_with("name is too short for this module. (validation of var.name of module \"m\")");

    let good = short.replace("\"x\"", "\"long\"");
    p.write_main(&good);
    p.brick(&["apply", "--auto-approve"]).ok();
}

#[test]
fn a_module_variable_validation_reading_a_module_output_known_after_apply_fails_the_apply() {
    let root = r#"
module "src" {
  source = "./m"
  size   = 1
  name   = "first"
}

module "dst" {
  source = "./dst"
  word   = "nope"
  other  = module.src.word
}
"#;
    let dst = r#"
variable "other" {
  type = string
}

variable "word" {
  type = string
  validation {
    condition     = var.word == var.other
    error_message = "word must match the other module's word."
  }
}

resource "brick_data" "d" {
  input = var.word
}
"#;
    let p = Project::new(&[
        ("main.hcl", root),
        ("m/main.hcl", CHILD),
        ("dst/main.hcl", dst),
    ]);
    p.brick(&["plan"]).ok();
    p.brick(&["apply", "--auto-approve"]).failed_with(
        "word must match the other module's word. (validation of var.word of module \"dst\")",
    );
}

#[test]
fn a_validation_known_at_plan_time_that_holds_does_not_fail_the_apply() {
    let p = Project::new(&[("main.hcl", ROOT_LOCAL)]);
    p.brick(&["apply", "--auto-approve", "--var", "n=2"]).ok();
    p.brick(&["plan", "--var", "n=2", "--detailed-exitcode"])
        .ok();
}

impl Project {
    fn write_main(&self, text: &str) {
        std::fs::write(self.path().join("main.hcl"), text).unwrap();
    }
}

/// Terraform 1.15 says `Cycle: var.s (validation), terraform_data.a` for the same file.
#[test]
fn a_validation_reading_a_resource_that_reads_the_variable_is_a_cycle() {
    let p = Project::new(&[(
        "main.hcl",
        r#"
variable "s" {
  type    = string
  default = "x"
  validation {
    condition     = var.s != brick_data.a.output
    error_message = "no."
  }
}

resource "brick_data" "a" {
  input = var.s
}
"#,
    )]);
    let r = p.brick(&["plan"]).failed_with("brick::graph::cycle");
    assert!(
        r.stderr.contains("var.s (validation) → brick_data.a"),
        "{}",
        r.stderr
    );
}

#[test]
fn plan_and_apply_validate_first_refusing_an_unmet_required_version_and_suggesting_names() {
    let p = Project::new(&[(
        "main.hcl",
        "brick {\n  required_version = \">= 99.0\"\n}\n\nresource \"brick_data\" \"a\" {\n  input = 1\n}\n",
    )]);
    for cmd in [&["plan"][..], &["apply", "--auto-approve"]] {
        let r = p.brick(cmd).failed_with("Unsupported brick version");
        assert_eq!(r.code, 1);
        assert!(
            r.stderr.contains("(brick::config::unsupported_version)"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.contains("on main.hcl line 2, in brick:"),
            "{}",
            r.stderr
        );
    }
    assert!(
        !p.path().join("brick.state.json").exists(),
        "nothing was written"
    );

    let p = Project::new(&[(
        "main.hcl",
        "variable \"nodes\" {\n  default = 1\n}\n\nresource \"brick_data\" \"a\" {\n  input = var.node\n}\n",
    )]);
    let r = p
        .brick(&["plan"])
        .failed_with("Reference to undeclared input variable");
    assert!(
        r.stderr.contains("Did you mean `var.nodes`?"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("(brick::config::undeclared_reference)"),
        "{}",
        r.stderr
    );
}
