//! End to end: the shape of every JSON output, as README's "JSON output" section promises.
//! What a person reads is pretty-printed (`drift --format json`, `output --json`,
//! `validate --json`, `version --json`, `state pull`); the documents tools take in Terraform's
//! exact shape (`show --json` of a state and of a saved plan, `plan --json`,
//! `providers schema --json`, `output --json NAME`) are one line when piped or redirected, as
//! Terraform prints them, and pretty-printed on a terminal (checked on a pseudo-terminal);
//! streams (`apply --json`) are one JSON object per line, one line per event, even on a
//! terminal.

mod support;

use support::{Dir, Run, command, on_terminal};

const CONFIG: &str = "resource \"brick_data\" \"a\" {\n  input = { name = \"a\", size = 3 }\n}\n\noutput \"name\" {\n  value = brick_data.a.output.name\n}\n";

fn run(dir: &Dir, args: &[&str]) -> Run {
    Run::of(&mut command(dir.path(), args)).ok()
}

/// One JSON document on one line, ending with a newline.
fn one_line(what: &str, out: &str) -> serde_json::Value {
    assert!(
        out.ends_with('\n') && out.trim_end().lines().count() == 1,
        "{what} is one line: {out}"
    );
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{what} is JSON: {e}: {out}"))
}

/// One JSON document, pretty-printed with two-space indents, ending with a newline.
fn pretty(what: &str, out: &str) -> serde_json::Value {
    let j: serde_json::Value =
        serde_json::from_str(out).unwrap_or_else(|e| panic!("{what} is JSON: {e}: {out}"));
    assert!(out.ends_with("}\n"), "{what} ends with a newline: {out}");
    assert!(
        out.lines().count() > 2 && out.lines().nth(1).unwrap().starts_with("  \""),
        "{what} is pretty-printed: {out}"
    );
    j
}

#[test]
fn what_a_person_reads_is_pretty_printed_what_tools_read_is_one_line_and_streams_are_one_line_per_event()
 {
    let dir = Dir::new(CONFIG);

    // A stream: one event per line, each a JSON object.
    let apply = run(&dir, &["apply", "--auto-approve", "--json"]);
    let events: Vec<serde_json::Value> = apply
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(events.len() > 2, "{}", apply.stdout);
    assert!(events.iter().all(serde_json::Value::is_object));

    // Read by a person: pretty.
    let j = pretty("output --json", &run(&dir, &["output", "--json"]).stdout);
    assert_eq!(j["name"]["value"], "a");
    let j = pretty(
        "drift --format json",
        &run(&dir, &["drift", "--format", "json"]).stdout,
    );
    assert_eq!(j["format_version"], "1.0");
    let j = pretty(
        "validate --json",
        &run(&dir, &["validate", "--json"]).stdout,
    );
    assert_eq!(j["valid"], true);
    let j = pretty("version --json", &run(&dir, &["version", "--json"]).stdout);
    assert!(j["brick_version"].is_string());
    let j = pretty("state pull", &run(&dir, &["state", "pull"]).stdout);
    assert!(j["serial"].is_number());

    // Read by tools, in Terraform's shape: one line, as Terraform prints it.
    let j = one_line("show --json", &run(&dir, &["show", "--json"]).stdout);
    assert!(j["values"].is_object(), "{j}");
    let j = one_line(
        "output --json NAME",
        &run(&dir, &["output", "--json", "name"]).stdout,
    );
    assert_eq!(j, "a");
    let j = one_line(
        "providers schema --json",
        &run(&dir, &["providers", "schema", "--json"]).stdout,
    );
    assert!(j["provider_schemas"].is_object());
    std::fs::write(
        dir.path().join("main.hcl"),
        CONFIG.replace("size = 3", "size = 4"),
    )
    .unwrap();
    let j = one_line("plan --json", &run(&dir, &["plan", "--json"]).stdout);
    assert!(j["resource_changes"].is_array(), "{j}");
    run(&dir, &["plan", "--out", "saved.plan"]);
    let j = one_line(
        "show --json PLAN",
        &run(&dir, &["show", "--json", "saved.plan"]).stdout,
    );
    assert!(j["resource_changes"].is_array(), "{j}");
}

/// What `brick args` writes on a pseudo-terminal (stdout and stderr both, as a person sees
/// them), the terminal's CRLF turned back into LF; `None` without `script`.
fn seen_on_terminal(dir: &Dir, args: &[&str]) -> Option<String> {
    let mut cmd = on_terminal(dir.path(), args)?;
    let run = Run::of(cmd.env("NO_COLOR", "1")).ok();
    Some(run.stdout.replace("\r\n", "\n"))
}

#[test]
fn the_documents_tools_read_are_pretty_printed_on_a_terminal_and_streams_stay_one_line_per_event() {
    let dir = Dir::new(CONFIG);
    let Some(apply) = seen_on_terminal(&dir, &["apply", "--auto-approve", "--json"]) else {
        return;
    };
    let events: Vec<serde_json::Value> = apply
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(events.len() > 2, "{apply}");

    let j = pretty(
        "show --json on a terminal",
        &seen_on_terminal(&dir, &["show", "--json"]).unwrap(),
    );
    assert!(j["values"].is_object(), "{j}");
    let j = pretty(
        "providers schema --json on a terminal",
        &seen_on_terminal(&dir, &["providers", "schema", "--json"]).unwrap(),
    );
    assert!(j["provider_schemas"].is_object());
    std::fs::write(
        dir.path().join("main.hcl"),
        CONFIG.replace("size = 3", "size = 4"),
    )
    .unwrap();
    let j = pretty(
        "plan --json on a terminal",
        &seen_on_terminal(&dir, &["plan", "--json"]).unwrap(),
    );
    assert!(j["resource_changes"].is_array(), "{j}");
    run(&dir, &["plan", "--out", "saved.plan"]);
    let j = pretty(
        "show --json PLAN on a terminal",
        &seen_on_terminal(&dir, &["show", "--json", "saved.plan"]).unwrap(),
    );
    assert!(j["resource_changes"].is_array(), "{j}");
}
