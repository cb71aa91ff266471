//! brick's plan output against real Terraform 1.15's. Each scenario of `tests/plandiff/scenarios`
//! was run with Terraform (`tests/plandiff/plandiff.py record`) and its plan text, diagnostics
//! and JSON plan recorded, normalised, under `tests/plandiff/recorded`. Here the real `brick`
//! binary runs the same steps on the mechanically translated configuration and the harness
//! compares what it prints with the recording, after the same normalisation: the text line by
//! line, `brick show --json PLANFILE` and `brick plan --json` field by field.
//!
//! The harness is Python (standard library only); without `python3` every test prints
//! `skipped: ...` and passes. Terraform itself is not needed here.

use std::path::Path;
use std::process::Command;

fn harness() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plandiff/plandiff.py")
}

fn python() -> Option<&'static str> {
    ["python3", "python"].into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Runs one scenario with brick and compares it with Terraform's recording.
fn check(scenario: &str) {
    let Some(py) = python() else {
        brick_provider_api::testing::skip(&format!(
            "plandiff {scenario}: no python3 to run tests/plandiff/plandiff.py"
        ));
        return;
    };
    let out = Command::new(py)
        .arg(harness())
        .args(["check", scenario, "--brick", env!("CARGO_BIN_EXE_brick")])
        .output()
        .expect("the harness runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "brick's plan output differs from Terraform's recording for {scenario}:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("same {scenario} (")),
        "the harness did not compare {scenario}:\n{stdout}"
    );
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*
        const ALL: &[&str] = &[$(stringify!($name)),*];
    };
}

scenarios!(
    collections_edge,
    conditions,
    count_foreach,
    create_unknowns,
    data_depends,
    data_sources,
    drift,
    heredoc,
    import_noop,
    module_moves,
    modules,
    moved_removed,
    nested_update,
    outputs_only,
    replace,
    scalars,
    sensitive,
    tainted,
    target,
    update_unknowns,
);

#[test]
fn every_recorded_scenario_is_checked() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plandiff/scenarios");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the scenarios directory") {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if !ALL.contains(&name.as_str()) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "scenarios without a test: {missing:?}");
}
