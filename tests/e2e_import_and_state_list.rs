//! `brick import` refuses what Terraform refuses and says why a MAAS machine cannot be
//! imported (issue 10, item 20); `brick state list` tells which objects the next apply replaces
//! (item 21).

mod support;

use brick_provider_maas::sim::{SimOptions, Simulator};
use support::{Dir, Run, command};

#[test]
fn import_into_an_instance_the_configuration_does_not_make_is_refused() {
    let dir = Dir::new(
        r#"
resource "brick_data" "d" {
  for_each = toset(["a", "b"])
  input    = each.key
}
resource "brick_data" "single" {}
"#,
    );
    let out = Run::of(&mut command(
        dir.path(),
        &["import", r#"brick_data.d["zzz"]"#, "x"],
    ))
    .failed_with("Configuration for import target does not exist");
    assert!(
        out.stderr.contains(r#"brick_data.d["a"]"#),
        "{}",
        out.stderr
    );
    Run::of(&mut command(
        dir.path(),
        &["import", "brick_data.single[0]", "x"],
    ))
    .failed_with("Configuration for import target does not exist");
    assert!(!dir.path().join("brick.state.json").exists());
}

#[test]
fn importing_a_maas_machine_that_is_ready_or_new_says_so() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt.block_on(Simulator::start(SimOptions::fast())).unwrap();
    let dir = Dir::new(&format!(
        "provider \"maas\" {{\n  api_url = \"{}\"\n  api_key = \"{}\"\n}}\nresource \"maas_machine\" \"m\" {{\n  hostname = \"kvm4\"\n}}\n",
        sim.url(),
        sim.api_key()
    ));
    let out = Run::of(&mut command(
        dir.path(),
        &["import", "maas_machine.m", "kvm4"],
    ))
    .failed_with("kvm4 is Ready: it is not deployed");
    assert!(!out.stderr.contains("non-existent"), "{}", out.stderr);
    assert!(out.stderr.contains("No import is needed"), "{}", out.stderr);
    Run::of(&mut command(
        dir.path(),
        &["import", "maas_machine.m", "spare1"],
    ))
    .failed_with("spare1 is New");
}

#[test]
fn state_list_prints_addresses_and_says_on_stderr_which_are_tainted() {
    let dir = Dir::new("resource \"brick_data\" \"a\" {}\nresource \"brick_data\" \"b\" {}\n");
    Run::of(&mut command(dir.path(), &["apply", "--auto-approve"])).ok();
    let path = dir.path().join("brick.state.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&text).unwrap();
    let b = state["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["name"] == "b")
        .unwrap();
    b["instances"][0]["tainted"] = serde_json::Value::Bool(true);
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    let out = Run::of(&mut command(dir.path(), &["state", "list"])).ok();
    assert_eq!(out.stdout, "brick_data.a\nbrick_data.b\n");
    assert!(
        out.stderr.contains("brick_data.b: tainted (")
            && out.stderr.contains("the next apply replaces it"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("brick_data.a"), "{}", out.stderr);
}
