//! Tools written for Terraform must read brick's JSON unchanged: HashiCorp's Go library
//! `terraform-json` (tests/cli/tfjson) parses and validates our plan and state documents.
//! Skips, saying so, when no Go toolchain is installed.

use std::path::Path;
use std::process::Command;

fn brick(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_brick"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success() || out.status.code() == Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn terraform_json_parses_and_validates_our_plans_and_state() {
    if Command::new("go").arg("version").output().is_err() {
        eprintln!("SKIPPED: no Go toolchain; the terraform-json consumer test needs `go`.");
        return;
    }
    let tool_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/tfjson");
    let work = tempfile::tempdir().unwrap();
    let tool = work.path().join("tfjson");
    let build = Command::new("go")
        .current_dir(&tool_dir)
        .args(["build", "-o"])
        .arg(&tool)
        .arg(".")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "go build failed: {}",
        String::from_utf8_lossy(&build.stderr)
    );

    let d = tempfile::tempdir().unwrap();
    let v1 = r#"
variable "n" {
  default = 1
}
variable "secret" {
  default   = "s"
  sensitive = true
}
resource "brick_data" "keep" {
  input = "same"
}
resource "brick_data" "change" {
  input = { a = var.n, secret = var.secret }
}
resource "brick_data" "swap" {
  input            = "x"
  triggers_replace = var.n
}
resource "brick_data" "drop" {
  count = 2 - var.n
}
output "o" {
  value = brick_data.change.output
  sensitive = true
}
"#;
    std::fs::write(d.path().join("main.hcl"), v1).unwrap();
    brick(d.path(), &["apply", "--auto-approve"]);
    brick(d.path(), &["plan", "--var", "n=2", "--out", "p.json"]);
    let show = brick(d.path(), &["show", "--json", "p.json"]);
    let plan_file = work.path().join("plan.json");
    std::fs::write(&plan_file, &show.stdout).unwrap();
    let out = Command::new(&tool)
        .arg("plan")
        .arg(&plan_file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "terraform-json rejected the plan: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("brick_data.keep [no-op]"), "{text}");
    assert!(text.contains("brick_data.change [update]"), "{text}");
    assert!(text.contains("brick_data.swap [delete create]"), "{text}");
    assert!(text.contains("brick_data.drop[0] [delete]"), "{text}");

    let plan_json = brick(d.path(), &["plan", "--json", "--var", "n=2"]);
    std::fs::write(&plan_file, &plan_json.stdout).unwrap();
    let out = Command::new(&tool)
        .arg("plan")
        .arg(&plan_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "terraform-json rejected plan --json: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let state = brick(d.path(), &["show", "--json"]);
    let state_file = work.path().join("state.json");
    std::fs::write(&state_file, &state.stdout).unwrap();
    let out = Command::new(&tool)
        .arg("state")
        .arg(&state_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "terraform-json rejected the state: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "resources=4\n");
}
