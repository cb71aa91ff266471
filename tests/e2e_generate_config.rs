//! `brick plan --generate-config-out=FILE` writes `resource` blocks for import blocks whose
//! target has none, plans the imports with them, refuses an existing FILE and a keyed target
//! (issue 10, item 20).

mod support;

use brick_provider_maas::sim::{SimOptions, Simulator};
use support::{Dir, Run, command};

const IMPORT: &str = "import {\n  to = brick_data.x\n  id = \"abc\"\n}\n";

#[test]
fn generated_configuration_is_written_planned_and_applied() {
    let dir = Dir::new(IMPORT);
    let gen_file = dir.path().join("generated.hcl");
    let out = Run::of(&mut command(
        dir.path(),
        &["plan", "-generate-config-out=generated.hcl", "-no-color"],
    ))
    .ok();
    assert!(
        out.stdout.contains("brick_data.x will be imported"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("1 to import"), "{}", out.stdout);
    let text = std::fs::read_to_string(&gen_file).unwrap();
    assert!(text.starts_with("# __generated__ by brick\n"), "{text}");
    assert!(text.contains("resource \"brick_data\" \"x\" {"), "{text}");
    // Computed-only attributes (id, output) are not arguments.
    assert!(!text.contains("id ="), "{text}");
    assert!(!text.contains("output"), "{text}");
    Run::of(&mut command(
        dir.path(),
        &["apply", "-auto-approve", "-no-color"],
    ))
    .ok();
    let out = Run::of(&mut command(dir.path(), &["plan", "-no-color"])).ok();
    assert!(out.stdout.contains("No changes."), "{}", out.stdout);
}

#[test]
fn the_two_dash_spelling_with_a_space_works_and_nothing_to_generate_warns() {
    let dir = Dir::new(
        "resource \"brick_data\" \"x\" {}\nimport {\n  to = brick_data.x\n  id = \"abc\"\n}\n",
    );
    let out = Run::of(&mut command(
        dir.path(),
        &[
            "plan",
            "--generate-config-out",
            "generated.hcl",
            "-no-color",
        ],
    ))
    .ok();
    assert!(
        out.stderr.contains("No configuration generated"),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join("generated.hcl").exists());
}

#[test]
fn an_existing_file_is_refused_and_left_untouched() {
    let dir = Dir::new(IMPORT);
    let gen_file = dir.path().join("generated.hcl");
    std::fs::write(&gen_file, "# mine\n").unwrap();
    let out = Run::of(&mut command(
        dir.path(),
        &["plan", "--generate-config-out=generated.hcl", "-no-color"],
    ))
    .failed_with("Target generated file already exists");
    assert!(
        out.stderr.contains("brick::plan::generate_config_exists"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&gen_file).unwrap(), "# mine\n");
}

#[test]
fn a_target_with_an_instance_key_is_refused() {
    let dir = Dir::new("import {\n  to = brick_data.x[0]\n  id = \"abc\"\n}\n");
    Run::of(&mut command(
        dir.path(),
        &["plan", "--generate-config-out=generated.hcl", "-no-color"],
    ))
    .failed_with("Cannot generate configuration for resource instance keys");
    assert!(!dir.path().join("generated.hcl").exists());
}

#[test]
fn without_the_flag_an_import_without_a_resource_stays_an_error() {
    let dir = Dir::new(IMPORT);
    Run::of(&mut command(dir.path(), &["plan", "-no-color"]))
        .failed_with("Import block target does not exist");
}

#[test]
fn a_deployed_maas_machine_gets_its_arguments_written() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt.block_on(Simulator::start(SimOptions::fast())).unwrap();
    let provider = format!(
        "provider \"maas\" {{\n  api_url = \"{}\"\n  api_key = \"{}\"\n}}\n",
        sim.url(),
        sim.api_key()
    );
    // One configuration deploys the machine; another, with no resource block, imports it.
    let first = Dir::new(&format!(
        "{provider}resource \"maas_machine\" \"m\" {{\n  hostname = \"kvm4\"\n}}\n"
    ));
    Run::of(&mut command(
        first.path(),
        &["apply", "-auto-approve", "-no-color"],
    ))
    .ok();
    let dir = Dir::new(&format!(
        "{provider}import {{\n  to = maas_machine.m\n  id = \"kvm4\"\n}}\n"
    ));
    let out = Run::of(&mut command(
        dir.path(),
        &["plan", "-generate-config-out=generated.hcl", "-no-color"],
    ))
    .ok();
    assert!(
        out.stdout.contains("maas_machine.m will be imported"),
        "{}",
        out.stdout
    );
    let text = std::fs::read_to_string(dir.path().join("generated.hcl")).unwrap();
    assert!(text.contains("resource \"maas_machine\" \"m\" {"), "{text}");
    assert!(
        text.contains("hostname") && text.contains("\"kvm4\""),
        "{text}"
    );
    Run::of(&mut command(
        dir.path(),
        &["apply", "-auto-approve", "-no-color"],
    ))
    .ok();
    let out = Run::of(&mut command(dir.path(), &["plan", "-no-color"])).ok();
    assert!(out.stdout.contains("No changes."), "{}", out.stdout);
}
