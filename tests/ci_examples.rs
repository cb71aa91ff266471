//! The CI examples of `examples/ci` checked with real validators: the GitHub Actions workflow
//! with actionlint (which also runs shellcheck on its scripts when installed) and with
//! GitHub's workflow schema, the GitLab CI job with GitLab's schema (both schemas as vendored
//! by check-jsonschema). Without a validator the test says it is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/ci")
        .join(name)
}

/// `name` from PATH, or from Go's bin directory (where `go install` puts it).
fn tool(name: &str) -> Option<PathBuf> {
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    in_path.or_else(|| {
        let gopath = Command::new("go").args(["env", "GOPATH"]).output().ok()?;
        let p = PathBuf::from(String::from_utf8_lossy(&gopath.stdout).trim())
            .join("bin")
            .join(name);
        p.is_file().then_some(p)
    })
}

fn passes(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_github_actions_workflow_passes_actionlint() {
    let Some(actionlint) = tool("actionlint") else {
        brick_provider_api::testing::skip(
            "no actionlint (go install github.com/rhysd/actionlint/cmd/actionlint@latest)",
        );
        return;
    };
    passes(Command::new(actionlint).arg(example("github-drift.yml")));
}

#[test]
fn both_ci_examples_follow_their_platforms_schemas() {
    let Some(check) = tool("check-jsonschema") else {
        brick_provider_api::testing::skip("no check-jsonschema (pip install check-jsonschema)");
        return;
    };
    for (schema, file) in [
        ("vendor.github-workflows", "github-drift.yml"),
        ("vendor.gitlab-ci", "gitlab-drift.yml"),
    ] {
        passes(
            Command::new(&check)
                .args(["--builtin-schema", schema])
                .arg(example(file)),
        );
    }
}
