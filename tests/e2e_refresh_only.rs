//! A refresh-only plan plans the root outputs from the refreshed objects, as Terraform's does,
//! and applying it records exactly those values (tests/plandiff's `drift` scenario compares the
//! plan with Terraform's; this proves the apply side).

mod support;

use support::{Dir, Run, command, state_at};

const CONFIG: &str = r#"
resource "brick_data" "a" {
  input = { name = "inside" }
}
locals {
  x = brick_data.a.output.name
}
output "from_local" {
  value = local.x
}
"#;

/// Rewrites `brick_data.a`'s recorded input and output name, as a change made behind brick's
/// back would leave the state.
fn edit_name(dir: &std::path::Path, name: &str) {
    let mut state = state_at(dir);
    for r in state["resources"].as_array_mut().unwrap() {
        if r["name"] == "a" {
            let attributes = &mut r["instances"][0]["attributes"];
            attributes["input"]["name"] = name.into();
            attributes["output"]["name"] = name.into();
        }
    }
    std::fs::write(
        dir.join("brick.state.json"),
        serde_json::to_string_pretty(&state).unwrap() + "\n",
    )
    .unwrap();
}

#[test]
fn a_refresh_only_plan_shows_and_its_apply_records_the_outputs_of_the_refreshed_objects() {
    let d = Dir::new(CONFIG);
    Run::of(&mut command(d.path(), &["apply", "--auto-approve"])).ok();
    assert_eq!(d.state()["outputs"]["from_local"]["value"], "inside");
    edit_name(d.path(), "changed outside");

    let plan = Run::of(&mut command(
        d.path(),
        &["plan", "--refresh-only", "--detailed-exitcode"],
    ));
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("~ from_local = \"inside\" -> \"changed outside\""),
        "{}",
        plan.stdout
    );

    Run::of(&mut command(
        d.path(),
        &["apply", "--refresh-only", "--auto-approve"],
    ))
    .ok();
    assert_eq!(
        d.state()["outputs"]["from_local"]["value"],
        "changed outside"
    );
    let again = Run::of(&mut command(
        d.path(),
        &["plan", "--refresh-only", "--detailed-exitcode"],
    ));
    assert_eq!(again.code, 0, "{}", again.stdout);
}
