//! The architecture invariants of ARCHITECTURE.md, made executable (after rust-analyzer's
//! `tidy.rs`): every source file says what it is for; the engine's lower floors do no I/O and
//! read no clock or randomness outside their seams; nothing below `cli` imports `cli` or
//! `view`; the lower floors import only the floors below them; only `src/registry.rs` names
//! concrete providers.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir` (build output and snapshots left out).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if name != "target" && name != "snapshots" && !name.to_string_lossy().starts_with('.') {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn files_under(dirs: &[&str]) -> Vec<(String, String)> {
    let mut paths = Vec::new();
    for d in dirs {
        rust_files(&root().join(d), &mut paths);
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            (rel, text)
        })
        .collect()
}

/// The text before the file's `#[cfg(test)]` module, if any: tests may use what the code may
/// not.
fn non_test(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// Lines that are code, not comments.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
}

fn report(problems: Vec<String>, what: &str) {
    assert!(
        problems.is_empty(),
        "{what}:\n{}",
        problems
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_source_file_starts_with_a_doc_line() {
    let problems = files_under(&["src", "providers", "state", "tests", "benches", "fuzz"])
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//!"))
        .map(|(path, _)| path)
        .collect();
    report(
        problems,
        "files without a leading `//!` line saying what they are for",
    );
}

#[test]
fn config_eval_plan_and_graph_touch_no_disk_environment_clock_or_randomness() {
    // The seams: `RealFs` (the one place `config` reads the disk; only `cli` uses it).
    const SEAMS: &[&str] = &["src/config/memfs.rs"];
    const FORBIDDEN: &[&str] = &[
        "std::fs",
        "std::env",
        "SystemTime",
        "Instant::now",
        "Utc::now",
        "Local::now",
        "new_v4",
        "rand::",
        "getrandom",
    ];
    let mut problems = Vec::new();
    for (path, text) in files_under(&[
        "src/config",
        "src/eval",
        "src/plan",
        "src/graph",
        "src/addr.rs",
        "src/diag.rs",
    ]) {
        if SEAMS.contains(&path.as_str()) || path.ends_with("/tests.rs") {
            continue;
        }
        for (n, line) in code_lines(non_test(&text)) {
            for f in FORBIDDEN {
                if line.contains(f) {
                    problems.push(format!("{path}:{n}: `{f}`: {}", line.trim()));
                }
            }
        }
    }
    report(
        problems,
        "I/O, environment, clock or randomness outside the seams (go through config::FileSystem or eval::Environment)",
    );
}

#[test]
fn nothing_below_cli_imports_cli_or_view() {
    let mut problems = Vec::new();
    for (path, text) in files_under(&["src"]) {
        if path.starts_with("src/cli/")
            || path.starts_with("src/view/")
            || path == "src/main.rs"
            || path == "src/lib.rs"
        {
            continue;
        }
        for (n, line) in code_lines(non_test(&text)) {
            for f in ["crate::cli", "crate::view"] {
                if line.contains(f) {
                    problems.push(format!("{path}:{n}: {}", line.trim()));
                }
            }
        }
    }
    report(
        problems,
        "the engine imports a floor above it (events are the engine's: crate::event)",
    );
}

/// The engine's lower floors, ground first, and what each may import of the crate (outside
/// its tests): a module path prefix after `crate::`. A floor reaches the one above it only
/// through a seam it defines itself (`config::FileSystem`, `config::ConstEval`,
/// `eval::Scope`, `eval::Environment`).
const FLOORS: &[(&str, &[&str])] = &[
    ("src/diag.rs", &[]),
    ("src/timing.rs", &[]),
    ("src/action.rs", &[]),
    ("src/addr.rs", &["diag"]),
    ("src/config/", &["diag", "addr", "config"]),
    ("src/eval/", &["diag", "addr", "config", "eval"]),
    // The configuration as evaluators: what the graph is built from and the planner plans.
    ("src/input.rs", &["diag", "addr", "config", "eval"]),
    ("src/graph/", &["diag", "addr", "graph", "input"]),
    (
        "src/plan/",
        &[
            "diag", "action", "addr", "config", "eval", "input", "graph", "plan", "timing", "event",
        ],
    ),
    // Events carry addresses and planned actions; planner and executor emit them.
    ("src/event.rs", &["diag", "action", "addr", "timing"]),
];

/// Imports that run back up today, each with the reason it is still there. Remove an entry
/// when its import goes; do not add one without a reason.
const KNOWN_UPWARD: &[(&str, &str)] = &[];

/// The module path after each `crate::` on a line.
fn crate_paths(line: &str) -> impl Iterator<Item = &str> {
    line.match_indices("crate::").map(|(i, m)| {
        let rest = &line[i + m.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        &rest[..end]
    })
}

#[test]
fn each_lower_floor_imports_only_the_floors_below_it() {
    let mut problems = Vec::new();
    for (floor, allowed) in FLOORS {
        for (path, text) in files_under(&[floor.trim_end_matches('/')]) {
            for (n, line) in code_lines(non_test(&text)) {
                for used in crate_paths(line) {
                    let ok = allowed
                        .iter()
                        .any(|a| used == *a || used.starts_with(&format!("{a}::")))
                        || KNOWN_UPWARD
                            .iter()
                            .any(|(p, u)| *p == path && used.starts_with(u));
                    if !ok {
                        problems.push(format!("{path}:{n}: `crate::{used}`: {}", line.trim()));
                    }
                }
            }
        }
    }
    report(
        problems,
        "a lower floor imports a floor above it (pass what it needs through a seam it defines, or move the item down)",
    );
}

#[test]
fn only_the_registry_names_concrete_providers() {
    // A provider crate other than the API, or the built-in provider's type.
    fn names_provider(line: &str) -> Option<&str> {
        let mut rest = line;
        while let Some(i) = rest.find("brick_provider_") {
            let tail = &rest[i + "brick_provider_".len()..];
            if !tail.starts_with("api") {
                return Some("a provider crate");
            }
            rest = tail;
        }
        line.contains("BrickProvider").then_some("BrickProvider")
    }
    let mut problems = Vec::new();
    for (path, text) in files_under(&["src"]) {
        // The registry names them; the built-in provider is itself one.
        if path == "src/registry.rs" || path.starts_with("src/builtin/") {
            continue;
        }
        for (n, line) in code_lines(&text) {
            if let Some(what) = names_provider(line) {
                problems.push(format!("{path}:{n}: {what}: {}", line.trim()));
            }
        }
    }
    report(
        problems,
        "concrete providers named outside src/registry.rs (add them there; use registry::instantiate)",
    );
}

#[test]
fn the_executor_does_not_import_the_planner() {
    // What apply shares with planning lives in modules of its own (plan::call, plan::marks,
    // plan::scope), so the planner can change without the executor.
    let mut problems = Vec::new();
    for (path, text) in files_under(&["src/apply"]) {
        for (n, line) in code_lines(non_test(&text)) {
            if line.contains("plan::planner") {
                problems.push(format!("{path}:{n}: {}", line.trim()));
            }
        }
    }
    report(problems, "apply imports the planner");
}
