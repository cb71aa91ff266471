//! `data "brick_remote_state"` (Terraform's `terraform_remote_state`) through the real binary:
//! one configuration's outputs consumed by another, read at plan time when the configuration
//! is known and during apply (`<= read`) when it depends on unknown values; sensitive outputs
//! stay sensitive; a missing state file is a clear error.

mod support;

use support::{Dir, brick, text};

const NET: &str = r#"
variable "subnet" {
  type    = string
  default = "10.0.0.0/24"
}
resource "brick_data" "subnet" {
  input = var.subnet
}
output "subnet" {
  value = brick_data.subnet.output
}
output "token" {
  value     = "s3cret"
  sensitive = true
}
"#;

const APP: &str = r#"
data "brick_remote_state" "net" {
  backend  = "local"
  config   = { path = "../net/brick.state.json" }
  defaults = { region = "garage" }
}
resource "brick_data" "app" {
  input = {
    subnet = data.brick_remote_state.net.outputs.subnet
    region = data.brick_remote_state.net.outputs.region
  }
}
resource "brick_data" "secret" {
  input = data.brick_remote_state.net.outputs.token
}
output "token" {
  value     = data.brick_remote_state.net.outputs.token
  sensitive = true
}
"#;

#[test]
fn one_configuration_reads_the_outputs_of_another_at_plan_time() {
    let d = Dir::new("");
    let net = d.sub("net", NET);
    let app = d.sub("app", APP);
    let o = brick(&net, &["apply", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));

    let o = brick(&app, &["plan"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    // Read while planning: the values are known in the plan, and there is no read to do later.
    assert!(out.contains(r#"+ subnet = "10.0.0.0/24""#), "{out}");
    assert!(
        out.contains(r#"+ region = "garage""#),
        "defaults fill in:\n{out}"
    );
    assert!(!out.contains("<= data"), "{out}");
    assert!(
        !out.contains("s3cret"),
        "a sensitive output stays hidden:\n{out}"
    );
    assert!(out.contains("(sensitive value)"), "{out}");

    let o = brick(&app, &["apply", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("s3cret"), "{}", text(&o));
    let o = brick(&app, &["output", "--json"]);
    let outputs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(outputs["token"]["sensitive"], true);
    assert_eq!(outputs["token"]["value"], "s3cret");
    let state = support::state_at(&app);
    let data = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["mode"] == "data")
        .expect("the read is recorded");
    let paths = &data["instances"][0]["sensitive_attributes"];
    assert!(
        paths.to_string().contains(r#"{"attr":"token"}"#),
        "sensitive paths: {paths}"
    );

    // A change of the other configuration's outputs shows in the next plan.
    assert!(
        brick(
            &net,
            &["apply", "--auto-approve", "--var", "subnet=10.0.1.0/24"]
        )
        .status
        .success()
    );
    let o = brick(&app, &["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(r#"~ subnet = "10.0.0.0/24" -> "10.0.1.0/24""#),
        "{}",
        text(&o)
    );
}

#[test]
fn a_read_whose_configuration_is_unknown_is_deferred_to_apply() {
    let d = Dir::new("");
    let net = d.sub("net", NET);
    let app = d.sub(
        "app",
        r#"
resource "brick_data" "where" {
  input = "../net/brick.state.json"
}
data "brick_remote_state" "later" {
  backend = "local"
  config  = { path = brick_data.where.output }
}
resource "brick_data" "use" {
  input = data.brick_remote_state.later.outputs.subnet
}
"#,
    );
    assert!(brick(&net, &["apply", "--auto-approve"]).status.success());

    let o = brick(&app, &["plan"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("# data.brick_remote_state.later will be read during apply"),
        "{out}"
    );
    assert!(
        out.contains(r#"<= data "brick_remote_state" "later" {"#),
        "{out}"
    );
    assert!(out.contains("+ outputs = (known after apply)"), "{out}");

    let o = brick(&app, &["plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rc = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "data.brick_remote_state.later")
        .expect("the deferred read is a resource change");
    assert_eq!(rc["change"]["actions"], serde_json::json!(["read"]));
    assert_eq!(rc["action_reason"], "read_because_config_unknown");
    assert_eq!(rc["change"]["after_unknown"]["outputs"], true);

    let o = brick(&app, &["apply", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("data.brick_remote_state.later: Read complete"),
        "{}",
        text(&o)
    );
    let state = support::state_at(&app);
    let used = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "use")
        .unwrap();
    assert_eq!(
        used["instances"][0]["attributes"]["output"]["value"],
        "10.0.0.0/24"
    );
    let o = brick(&app, &["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_missing_state_file_is_a_clear_error_with_its_code() {
    let d = Dir::new("");
    let app = d.sub("app", APP);
    let o = brick(&app, &["plan"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("State file not found"), "{err}");
    assert!(
        err.contains("brick::builtin::remote_state_missing"),
        "{err}"
    );
    assert!(err.contains("../net/brick.state.json"), "{err}");
    assert!(err.contains("data.brick_remote_state.net"), "{err}");
    assert!(
        !app.join("brick.state.json").exists() || {
            let s = support::state_at(&app);
            s["resources"].as_array().is_none_or(|r| r.is_empty())
        }
    );
}

#[test]
fn an_unsupported_backend_is_refused_with_its_code() {
    let d = Dir::new("");
    let app = d.sub(
        "app",
        r#"
data "brick_remote_state" "s3" {
  backend = "s3"
  config  = { bucket = "b" }
}
"#,
    );
    let o = brick(&app, &["plan"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("brick::builtin::unsupported_backend"), "{err}");
}
