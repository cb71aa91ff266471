//! End-to-end tests of what a Terraform user does first, through the real `brick` binary: the
//! file functions reading files beside the configuration (and `~`), Terraform's single-dash
//! flags, answering the apply prompt from a pipe, Terraform-named variable files and
//! `TF_VAR_` variables that brick does not read, and `init` checking `required_version` and
//! the providers this build has.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Dir, Run};

/// `brick args...` run in `cwd`, with only the variables the test gives.
fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brick"));
    c.current_dir(cwd).args(args).env("NO_COLOR", "1");
    for (k, _) in std::env::vars() {
        if k.starts_with("BRICK_VAR_") || k.starts_with("TF_VAR_") || k.starts_with("MAAS_") {
            c.env_remove(k);
        }
    }
    c.envs(env.iter().copied());
    Run::of(&mut c)
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

// ---- item 11: file functions -------------------------------------------------------------

/// A configuration using every file function, on files beside it, in a child module and
/// under `~`; each value is an output and the input of a `brick_data`.
const FILE_FUNCTIONS: &str = r#"
locals {
  files = {
    file             = file("greeting.txt")
    filebase64       = filebase64("greeting.txt")
    filemd5          = filemd5("greeting.txt")
    filesha1         = filesha1("greeting.txt")
    filesha256       = filesha256("${path.module}/greeting.txt")
    filesha512       = filesha512("./greeting.txt")
    filebase64sha256 = filebase64sha256("greeting.txt")
    filebase64sha512 = filebase64sha512("greeting.txt")
    templatefile     = templatefile("${path.module}/hello.tpl", { names = ["kvm4", "kvm5"] })
    fileexists       = fileexists("greeting.txt")
    missing          = fileexists("nothing.txt")
    fileset          = join(",", fileset(path.module, "keys/*.pub"))
    home             = file("~/.ssh/id_ed25519.pub")
    home_template    = templatefile("~/t.tpl", { x = 1 })
  }
}

resource "brick_data" "key" {
  input = file("~/.ssh/id_ed25519.pub")
}

module "child" {
  source = "./child"
}

output "files" { value = local.files }
output "key" { value = brick_data.key.output }
output "child" { value = module.child.text }
"#;

const CHILD: &str = r#"
output "text" { value = file("${path.module}/own.txt") }
"#;

fn file_functions_dir() -> (Dir, tempfile::TempDir) {
    let d = Dir::new(FILE_FUNCTIONS);
    write(d.path(), "greeting.txt", "hello");
    write(
        d.path(),
        "hello.tpl",
        "%{ for n in names }node ${n}\n%{ endfor }",
    );
    write(d.path(), "keys/a.pub", "a");
    write(d.path(), "keys/b.pub", "b");
    write(d.path(), "keys/c.txt", "c");
    d.sub("child", CHILD);
    write(d.path(), "child/own.txt", "mine");
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        ".ssh/id_ed25519.pub",
        "ssh-ed25519 AAAA me@garage\n",
    );
    write(home.path(), "t.tpl", "x=${x}");
    (d, home)
}

fn check_file_outputs(outputs: &serde_json::Value) {
    let f = &outputs["files"]["value"];
    let expect = [
        ("file", "hello"),
        ("filebase64", "aGVsbG8="),
        ("filemd5", "5d41402abc4b2a76b9719d911017c592"),
        ("filesha1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
        (
            "filesha256",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        ),
        (
            "filesha512",
            "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043",
        ),
        (
            "filebase64sha256",
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
        ),
        (
            "filebase64sha512",
            "m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==",
        ),
        ("templatefile", "node kvm4\nnode kvm5\n"),
        ("fileset", "keys/a.pub,keys/b.pub"),
        ("home", "ssh-ed25519 AAAA me@garage\n"),
        ("home_template", "x=1"),
    ];
    for (k, v) in expect {
        assert_eq!(f[k], v, "{k} in {f:#}");
    }
    assert_eq!(f["fileexists"], true);
    assert_eq!(f["missing"], false);
    assert_eq!(outputs["key"]["value"], "ssh-ed25519 AAAA me@garage\n");
    assert_eq!(outputs["child"]["value"], "mine");
}

/// validate, plan, apply and output, run from `cwd` with `args_before` (`-C DIR` or nothing).
fn file_functions_work(cwd: &Path, dir_args: &[&str], home: &Path) {
    let env = [("HOME", home.to_str().unwrap())];
    let with = |args: &[&str]| -> Vec<String> {
        dir_args.iter().chain(args).map(|s| s.to_string()).collect()
    };
    let go = |args: &[&str]| {
        let a = with(args);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run_in(cwd, &a, &env).ok()
    };
    go(&["init"]);
    let v = go(&["validate"]);
    assert!(
        v.stdout.contains("The configuration is valid"),
        "{}",
        v.stdout
    );
    let p = go(&["plan"]);
    assert!(p.stdout.contains("node kvm4"), "{}", p.stdout);
    assert!(p.stdout.contains("me@garage"), "{}", p.stdout);
    go(&["apply", "--auto-approve"]);
    let out = go(&["output", "--json"]);
    check_file_outputs(&out.json());
    // A second plan sees no change: the files read the same at plan and at apply.
    let p = go(&["plan", "--detailed-exitcode"]);
    assert!(p.stdout.contains("No changes"), "{}", p.stdout);
}

#[test]
fn every_file_function_reads_files_beside_the_configuration_in_validate_plan_and_apply() {
    let (d, home) = file_functions_dir();
    file_functions_work(d.path(), &[], home.path());
}

#[test]
fn every_file_function_reads_files_of_the_directory_given_with_dash_c() {
    let (d, home) = file_functions_dir();
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap().to_string();
    file_functions_work(elsewhere.path(), &["-C", &dir], home.path());
}

#[test]
fn a_missing_file_is_one_error_at_its_call_in_validate_and_plan() {
    let d = Dir::new("output \"k\" { value = file(\"~/.ssh/none.pub\") }\n");
    let home = tempfile::tempdir().unwrap();
    let env = [("HOME", home.path().to_str().unwrap())];
    for cmd in ["validate", "plan"] {
        let r = run_in(d.path(), &[cmd], &env).failed_with("no file exists at \"~/.ssh/none.pub\"");
        assert!(r.stderr.contains("main.hcl line 1"), "{}", r.stderr);
        assert_eq!(
            r.stderr.matches("no file exists").count(),
            1,
            "one error, not one per check: {}",
            r.stderr
        );
    }
}
