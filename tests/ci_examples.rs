//! The CI examples of `examples/ci` checked with real validators: the GitHub Actions workflow
//! with actionlint (which also runs shellcheck on its scripts when installed) and with
//! GitHub's workflow schema, the GitLab CI job with GitLab's schema (both schemas as vendored
//! by check-jsonschema). Without a validator the test says it is skipped. One mistake neither
//! validator sees is checked here: a step's `if` reading `env.X` where X is set only in that
//! step's own `env:` (GitHub evaluates the `if` before the step's env exists, so it is empty).

use std::path::{Path, PathBuf};
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

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

/// The names `expression` reads from the `env` context (`env.NAME`, `env['NAME']`).
fn env_reads(expression: &str) -> Vec<String> {
    let bytes = expression.as_bytes();
    let mut names = Vec::new();
    let mut at = 0;
    while let Some(found) = expression[at..].find("env") {
        let start = at + found;
        at = start + 3;
        let standalone = start == 0
            || !(bytes[start - 1].is_ascii_alphanumeric()
                || matches!(bytes[start - 1], b'_' | b'.'));
        if !standalone {
            continue;
        }
        let rest = &expression[at..];
        let name: String = if let Some(dotted) = rest.strip_prefix('.') {
            dotted
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect()
        } else if let Some(quoted) = rest.strip_prefix("['") {
            quoted.chars().take_while(|c| *c != '\'').collect()
        } else {
            continue;
        };
        if !name.is_empty() {
            names.push(name);
        }
    }
    names
}

fn env_names(node: &Yaml) -> Vec<String> {
    node["env"]
        .as_hash()
        .map(|env| {
            env.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Steps whose `if` reads an env variable that only the step itself sets, as
/// "job/step: NAME" lines.
fn step_ifs_reading_their_own_env(workflow: &str) -> Vec<String> {
    let docs = YamlLoader::load_from_str(workflow).unwrap();
    let doc = &docs[0];
    let workflow_env = env_names(doc);
    let mut found = Vec::new();
    for (job_name, job) in doc["jobs"].as_hash().into_iter().flatten() {
        let job_env = env_names(job);
        for (i, step) in job["steps"].as_vec().into_iter().flatten().enumerate() {
            let condition = match &step["if"] {
                Yaml::String(s) => s.clone(),
                Yaml::Boolean(_) | Yaml::BadValue | Yaml::Null => continue,
                other => format!("{other:?}"),
            };
            let own = env_names(step);
            for name in env_reads(&condition) {
                if own.contains(&name) && !job_env.contains(&name) && !workflow_env.contains(&name)
                {
                    let step_name = step["name"].as_str().map_or(i.to_string(), str::to_owned);
                    found.push(format!(
                        "{}/{step_name}: {name}",
                        job_name.as_str().unwrap_or("?")
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn no_step_condition_reads_an_env_variable_only_that_step_sets() {
    let workflow = std::fs::read_to_string(example("github-drift.yml")).unwrap();
    let found = step_ifs_reading_their_own_env(&workflow);
    assert!(
        found.is_empty(),
        "a step's `if` is evaluated before its own `env:`, so these conditions are always \
         false; set the variable at the job level (or test it inside `run:`): {found:?}"
    );
}

#[test]
fn the_own_env_check_catches_a_condition_on_the_steps_own_env() {
    let workflow = r#"
on: push
env:
  GLOBAL: x
jobs:
  j:
    runs-on: ubuntu-latest
    env:
      JOBWIDE: y
    steps:
      - name: bad
        if: ${{ env.SECRET_DATA != '' }}
        env:
          SECRET_DATA: ${{ secrets.S }}
        run: "true"
      - name: bad too
        if: env['OTHER'] == 'a'
        env:
          OTHER: a
        run: "true"
      - name: fine
        if: env.JOBWIDE != '' && env.GLOBAL != ''
        env:
          JOBWIDE: z
        run: "true"
"#;
    assert_eq!(
        step_ifs_reading_their_own_env(workflow),
        ["j/bad: SECRET_DATA", "j/bad too: OTHER"]
    );
    assert_eq!(env_reads("github.env.X || myenv.Y || env.Z"), ["Z"]);
}
