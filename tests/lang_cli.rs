//! The language commands end to end through the `brick` binary: `fmt` (`--check` exit 3,
//! `--diff`, comments kept, idempotent) and `console` reading expressions from stdin.

use std::io::Write;
use std::process::{Command, Stdio};

const MESSY: &str = "# the nodes\nvariable \"n\" {\n    default=3 # three\n}\nlocals {\n  a=1\n  long_name = 2 /* kept */\n}\n";
const TIDY: &str = "# the nodes\nvariable \"n\" {\n  default = 3 # three\n}\nlocals {\n  a         = 1\n  long_name = 2 /* kept */\n}\n";

fn brick(dir: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_brick"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn fmt_check_exits_3_and_changes_nothing_then_fmt_rewrites_keeping_comments() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("main.hcl");
    std::fs::write(&file, MESSY).unwrap();

    let (code, out, err) = brick(dir.path(), &["fmt", "--check"], "");
    assert_eq!(code, 3, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("main.hcl"), "the changed file is named: {out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), MESSY);

    let (code, out, _) = brick(dir.path(), &["fmt", "--check", "--diff"], "");
    assert_eq!(code, 3);
    assert!(out.contains("-    default=3 # three"), "{out}");
    assert!(out.contains("+  default = 3 # three"), "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), MESSY);

    let (code, _, err) = brick(dir.path(), &["fmt"], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TIDY);

    // Idempotent: the formatted file passes the check and a second run changes nothing.
    let (code, out, _) = brick(dir.path(), &["fmt", "--check"], "");
    assert_eq!((code, out.as_str()), (0, ""));
    brick(dir.path(), &["fmt"], "");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TIDY);
}

#[test]
fn fmt_of_invalid_hcl_is_a_diagnostic_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.hcl"), "locals {\n  a = \n").unwrap();
    let (code, _, err) = brick(dir.path(), &["fmt", "--check"], "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("main.hcl"), "{err}");
}

#[test]
fn the_console_reads_expressions_from_stdin_in_the_context_of_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.hcl"), TIDY).unwrap();
    std::fs::write(
        dir.path().join("main.hcl"),
        format!("{TIDY}resource \"brick_data\" \"r\" {{\n  input = local.a\n}}\n"),
    )
    .unwrap();
    let (code, out, err) = brick(
        dir.path(),
        &["console"],
        "var.n * local.long_name\nbrick_data.r.id\n{\n  k = upper(\"x\")\n}\n",
    );
    assert_eq!(code, 0, "{err}");
    // No state yet: the declared resource is known after apply.
    assert_eq!(out, "6\n(known after apply)\n{\n  \"k\" = \"X\"\n}\n");

    let (code, out, err) = brick(dir.path(), &["console"], "var.nodes\n");
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("brick::eval::undeclared_reference"), "{err}");
}

#[test]
fn for_each_over_sensitive_keys_fails_validate_and_over_unknown_keys_fails_plan() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = "resource \"brick_data\" \"a\" {\n  input = \"x\"\n}\nresource \"brick_data\" \"b\" {\n  for_each = toset([brick_data.a.id])\n  input    = each.key\n}\nresource \"brick_data\" \"c\" {\n  for_each = { for k in [brick_data.a.id] : k => 1 }\n  input    = each.value\n}\n";
    std::fs::write(dir.path().join("main.hcl"), unknown).unwrap();
    // Offline, as in Terraform, keys known only after apply are no error yet ...
    let (code, _, err) = brick(dir.path(), &["validate"], "");
    assert_eq!(code, 0, "{err}");
    // ... but a plan cannot expand them.
    let (code, out, err) = brick(dir.path(), &["plan"], "");
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let all = format!("{out}{err}");
    // Each at its own line, in Terraform's words (a set holds values, a map keys).
    for (line, words) in [
        (
            "on main.hcl line 5, in resource \"brick_data\" \"b\":",
            "The \"for_each\" set includes values derived from resource attributes that cannot be determined until apply",
        ),
        (
            "on main.hcl line 9, in resource \"brick_data\" \"c\":",
            "The \"for_each\" map includes keys derived from resource attributes that cannot be determined until apply",
        ),
    ] {
        assert!(all.contains(line), "{all}");
        assert!(all.contains(words), "{all}");
    }

    let sensitive = "variable \"secret\" {\n  default   = [\"s\"]\n  sensitive = true\n}\nresource \"brick_data\" \"d\" {\n  for_each = toset(var.secret)\n}\n";
    std::fs::write(dir.path().join("main.hcl"), sensitive).unwrap();
    let (code, out, err) = brick(dir.path(), &["validate"], "");
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("brick::eval::invalid_for_each"), "{err}");
    assert!(err.contains("main.hcl line 6"), "{err}");
    assert!(err.contains("Sensitive values"), "{err}");
}

#[test]
fn validate_collects_every_problem_with_code_snippet_detail_and_did_you_mean() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.hcl"),
        "variable \"nodes\" {\n  default = []\n}\nlocals {\n  a = var.node\n  b = lenght([])\n}\n",
    )
    .unwrap();
    let (code, out, err) = brick(dir.path(), &["validate"], "");
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert_eq!(
        err,
        "
Error: Reference to undeclared input variable

  on main.hcl line 5, in locals:
    5:   a = var.node
             ^^^^^^^^ not declared

An input variable named \"node\" is not declared in this module.

Help: Did you mean `var.nodes`?
(brick::config::undeclared_reference)


Error: Call to unknown function

  on main.hcl line 6, in locals:
    6:   b = lenght([])

There is no function named \"lenght\".

Help: Did you mean `length`?
(brick::eval::unknown_function)

"
    );
}

#[test]
fn path_root_module_and_cwd_are_terraforms_in_the_console() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.hcl"), TIDY).unwrap();
    let (code, out, err) = brick(
        dir.path(),
        &["console"],
        "path.root\npath.module\npath.cwd\n",
    );
    assert_eq!(code, 0, "{err}");
    let cwd = dir.path().canonicalize().unwrap();
    assert_eq!(out, format!("\".\"\n\".\"\n\"{}\"\n", cwd.display()));
}

#[test]
fn validate_json_is_terraforms_document_with_ranges_and_snippets() {
    // The same configuration given to Terraform 1.15 (with terraform_data, four bytes longer)
    // gave range 5:11 (byte 73) to 5:17 (byte 79), the block header as context and the
    // highlight at offsets 10..16 of the code line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.hcl"),
        "variable \"n\" {\n  default = 1\n}\nresource \"brick_data\" \"a\" {\n  input = var.nn\n}\n",
    )
    .unwrap();
    let (code, out, _) = brick(dir.path(), &["validate", "--json"], "");
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format_version"], "1.0");
    assert_eq!(v["valid"], false);
    assert_eq!(v["error_count"], 1);
    assert_eq!(v["warning_count"], 0);
    let d = &v["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["summary"], "Reference to undeclared input variable");
    assert_eq!(
        d["range"],
        serde_json::json!({
            "filename": "main.hcl",
            "start": {"line": 5, "column": 11, "byte": 69},
            "end": {"line": 5, "column": 17, "byte": 75},
        })
    );
    assert_eq!(
        d["snippet"],
        serde_json::json!({
            "context": "resource \"brick_data\" \"a\"",
            "code": "  input = var.nn",
            "start_line": 5,
            "highlight_start_offset": 10,
            "highlight_end_offset": 16,
            "values": [],
        })
    );
    assert_eq!(d["code"], "brick::config::undeclared_reference");

    std::fs::write(
        dir.path().join("main.hcl"),
        "resource \"brick_data\" \"a\" {\n  input = 1\n}\n",
    )
    .unwrap();
    let (code, out, _) = brick(dir.path(), &["validate", "--json"], "");
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"format_version": "1.0", "valid": true, "error_count": 0,
            "warning_count": 0, "diagnostics": []})
    );
}
