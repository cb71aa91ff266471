//! End-to-end tests of infinite numbers with the real `brick` binary: a saved plan keeps
//! them exactly (its values are JSON, which has none, so they travel beside the value), and
//! a value bound for state (JSON) that holds one is an error at plan time, as in Terraform.

use std::process::Command;

fn brick(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_brick"))
        .args(["-C", dir.to_str().unwrap(), "--no-color"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_saved_plan_keeps_an_infinite_variable_value_and_applies_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("main.hcl"),
        r#"
variable "limit" {
  type    = number
  default = 5
}

resource "brick_data" "x" {
  input = var.limit > 10 ? "unbounded" : "bounded"
}

output "o" {
  value = brick_data.x.output
}
"#,
    )
    .unwrap();
    let (code, out, err) = brick(
        tmp.path(),
        &["plan", "--var", "limit=-Inf", "--out", "p.bin"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let saved = std::fs::read_to_string(tmp.path().join("p.bin")).unwrap();
    assert!(saved.contains("negative_infinity"), "{saved}");
    let (code, out, err) = brick(
        tmp.path(),
        &["plan", "--var", "limit=+Inf", "--out", "p.bin"],
    );
    assert_eq!(code, 0, "{out}{err}");
    // Applied without --var: the saved plan's +Inf (not null, not the default 5) is used.
    let (code, out, err) = brick(tmp.path(), &["apply", "p.bin"]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = brick(tmp.path(), &["output", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["o"]["value"], "unbounded");
}

#[test]
fn an_infinite_number_bound_for_state_is_an_error_at_plan_not_a_silent_null() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("main.hcl"),
        r#"
resource "brick_data" "x" {
  input = { big = 1 / 0, small = 1 }
}

output "neg" {
  value = -1 / 0
}
"#,
    )
    .unwrap();
    let (code, out, err) = brick(tmp.path(), &["apply", "--auto-approve"]);
    assert_ne!(code, 0, "{out}");
    assert_eq!(
        err.matches("Infinite number cannot be stored").count(),
        2,
        "{err}"
    );
    assert!(
        err.contains("The value of brick_data.x contains an infinite number (at input[\"big\"])"),
        "{err}"
    );
    assert!(err.contains("output.neg"), "{err}");
    assert!(err.contains("brick::plan::infinite_number"), "{err}");
    assert!(
        !tmp.path().join("brick.state.json").exists() || {
            let s = std::fs::read_to_string(tmp.path().join("brick.state.json")).unwrap();
            !s.contains("brick_data")
        }
    );
}
