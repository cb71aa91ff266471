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

// ---- item 14: prevent_destroy ------------------------------------------------------------

#[test]
fn prevent_destroy_points_at_the_resource_block_on_destroy_and_on_replace() {
    let d = Dir::new(
        "\nresource \"brick_data\" \"keep\" {\n  input = \"a\"\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n",
    );
    run_in(d.path(), &["apply", "--auto-approve"], &[]).ok();
    let shows_block = |r: &Run| {
        assert!(
            r.stderr.contains("on main.hcl line 2:")
                && r.stderr.contains("resource \"brick_data\" \"keep\" {"),
            "{}",
            r.stderr
        );
    };
    let r =
        run_in(d.path(), &["plan", "--destroy"], &[]).failed_with("Instance cannot be destroyed");
    shows_block(&r);
    write(
        d.path(),
        "main.hcl",
        "\nresource \"brick_data\" \"keep\" {\n  input = \"a\"\n  triggers_replace = 1\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n",
    );
    let r = run_in(d.path(), &["plan"], &[]).failed_with("Instance cannot be destroyed");
    shows_block(&r);
}

// ---- item 15: Terraform's single-dash flags ----------------------------------------------

const WORD: &str = r#"
variable "word" {
  type = string
}
variable "count_of" {
  type    = number
  default = 1
}
resource "brick_data" "a" {
  count = var.count_of
  input = var.word
}
output "word" { value = var.word }
"#;

#[test]
fn terraforms_single_dash_flags_work_as_the_double_dash_ones() {
    let d = Dir::new(WORD);
    write(d.path(), "more.vars.hcl", "count_of = 2\n");
    let elsewhere = tempfile::tempdir().unwrap();
    let chdir = format!("-chdir={}", d.path().display());
    let go = |args: &[&str]| {
        let mut all = vec![chdir.as_str()];
        all.extend_from_slice(args);
        run_in(elsewhere.path(), &all, &[])
    };
    go(&["init"]).ok();
    go(&["validate", "-json"]).ok();
    // `brick lab demo` prints this spelling.
    let p = go(&[
        "plan",
        "-out=garage.plan",
        "-var",
        "word=hi",
        "-var-file=more.vars.hcl",
        "-parallelism=2",
        "-refresh=false",
    ])
    .ok();
    assert!(p.stdout.contains("2 to add"), "{}", p.stdout);
    assert!(d.path().join("garage.plan").exists());
    go(&["apply", "-auto-approve", "garage.plan"]).ok();
    assert_eq!(go(&["output", "-raw", "word"]).ok().stdout, "hi");
    assert_eq!(go(&["output", "-json"]).ok().json()["word"]["value"], "hi");
    let same = ["-var=word=hi", "-var-file", "more.vars.hcl"];
    let r = go(&[&["plan", "-detailed-exitcode"][..], &same[..]].concat());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = go(&[
        &["plan", "-detailed-exitcode", "-replace=brick_data.a[0]"][..],
        &same[..],
    ]
    .concat());
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let r = go(&[
        &["plan", "-target=brick_data.a[1]", "-destroy"][..],
        &same[..],
    ]
    .concat())
    .ok();
    assert!(r.stdout.contains("1 to destroy"), "{}", r.stdout);
    go(&[&["plan", "-refresh-only", "-json"][..], &same[..]].concat())
        .ok()
        .json();
    go(&[
        &["apply", "-auto-approve", "-json", "-refresh-only"][..],
        &same[..],
    ]
    .concat())
    .ok();
    // The double-dash spellings and `-C` still work; a flag brick does not have is refused.
    let dir = d.path().to_str().unwrap();
    run_in(
        elsewhere.path(),
        &[
            "-C",
            dir,
            "plan",
            "--var",
            "word=hi",
            "--var-file=more.vars.hcl",
        ],
        &[],
    )
    .ok();
    run_in(elsewhere.path(), &["-C", dir, "plan", "-no-such-flag"], &[])
        .failed_with("unexpected argument");
    // A value is never rewritten, even when it looks like a flag.
    let r = run_in(
        elsewhere.path(),
        &[
            "-C",
            dir,
            "plan",
            "-var",
            "word=-json",
            "-var-file",
            "more.vars.hcl",
        ],
        &[],
    )
    .ok();
    assert!(r.stdout.contains("\"-json\""), "{}", r.stdout);
}

// ---- item 16: the apply prompt answered from a pipe --------------------------------------

/// `brick args...` in `dir` with `input` on its stdin.
fn piped(dir: &Path, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut c = Command::new(env!("CARGO_BIN_EXE_brick"));
    c.current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    // brick may stop reading (or never start) before all of it is written.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_apply_prompt_reads_its_answer_from_a_pipe_and_anything_but_yes_cancels() {
    let d = Dir::new("resource \"brick_data\" \"a\" {\n  input = 1\n}\n");
    for answer in ["no\n", "YES\n", "y\n", "\n", "yes please\n"] {
        let r = piped(d.path(), &["apply"], answer);
        assert_eq!(r.code, 1, "{answer:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("Apply cancelled"),
            "{answer:?}: {}",
            r.stderr
        );
        assert!(!d.path().join("brick.state.json").exists(), "{answer:?}");
    }
    // A closed stdin is no answer at all.
    let r = piped(d.path(), &["apply"], "");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("Cannot ask for confirmation"),
        "{}",
        r.stderr
    );
    let r = piped(d.path(), &["apply"], "yes\n");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("Do you want to perform these actions?"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("1 added"), "{}", r.stdout);
    let r = piped(d.path(), &["destroy"], "yes\n");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 destroyed"), "{}", r.stdout);
}

// ---- item 18: Terraform-named variable sources -------------------------------------------

#[test]
fn terraform_named_variable_files_and_tf_var_variables_are_named_in_warnings() {
    let d = Dir::new(
        "variable \"word\" {\n  default = \"dflt\"\n}\nvariable \"other\" {\n  default = \"o\"\n}\noutput \"word\" { value = var.word }\n",
    );
    write(d.path(), "terraform.tfvars", "word = \"tf\"\n");
    write(d.path(), "prod.auto.tfvars", "word = \"tf\"\n");
    write(d.path(), "terraform.tfvars.json", "{\"word\": \"tf\"}\n");
    let env = [
        ("TF_VAR_word", "x"),
        ("TF_VAR_other", "y"),
        ("BRICK_VAR_other", "b"),
        ("TF_VAR_undeclared", "z"),
    ];
    let r = run_in(d.path(), &["plan"], &env).ok();
    let warned = |what: &str| r.stderr.contains(what);
    assert!(r.stdout.contains("word = \"dflt\""), "{}", r.stdout);
    assert!(
        warned("brick does not read terraform.tfvars:")
            && warned("Rename terraform.tfvars to brick.vars.hcl"),
        "{}",
        r.stderr
    );
    assert!(
        warned("Rename prod.auto.tfvars to prod.auto.vars.hcl"),
        "{}",
        r.stderr
    );
    assert!(
        warned("brick does not read terraform.tfvars.json")
            && warned("Write its values as brick.vars.hcl in HCL"),
        "{}",
        r.stderr
    );
    assert!(
        warned("TF_VAR_word is set") && warned("Set BRICK_VAR_word instead"),
        "{}",
        r.stderr
    );
    // Set by BRICK_VAR_ too, or not declared: nothing to say.
    assert!(
        !warned("TF_VAR_other") && !warned("TF_VAR_undeclared"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches("Warning:").count(), 4, "{}", r.stderr);
    // Renamed as told, the values are used and the warnings are gone.
    std::fs::rename(
        d.path().join("terraform.tfvars"),
        d.path().join("brick.vars.hcl"),
    )
    .unwrap();
    std::fs::remove_file(d.path().join("prod.auto.tfvars")).unwrap();
    std::fs::remove_file(d.path().join("terraform.tfvars.json")).unwrap();
    let r = run_in(d.path(), &["plan"], &[]).ok();
    assert!(r.stdout.contains("word = \"tf\""), "{}", r.stdout);
    assert!(!r.stderr.contains("Warning"), "{}", r.stderr);
}

// ---- item 19: init checks required_version and the providers ----------------------------

#[test]
fn init_refuses_an_unmet_required_version_and_providers_this_build_lacks() {
    let d = Dir::new("terraform {\n  required_version = \">= 99.0\"\n}\n");
    let r = run_in(d.path(), &["init"], &[]).failed_with("Unsupported brick version");
    assert!(
        !r.stdout.contains("successfully initialized"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("main.hcl line 2"), "{}", r.stderr);
    // In a child module too.
    let d = Dir::new("module \"m\" {\n  source = \"./m\"\n}\n");
    d.sub("m", "terraform {\n  required_version = \"< 0.0.1\"\n}\n");
    run_in(d.path(), &["init"], &[]).failed_with("Unsupported brick version");

    let d = Dir::new(
        "provider \"mass\" {\n  api_url = \"http://127.0.0.1:5240/MAAS/\"\n}\n\nprovider \"kubernetes\" {}\n",
    );
    let r = run_in(d.path(), &["init"], &[]).failed_with("Provider not available");
    assert!(
        !r.stdout.contains("successfully initialized"),
        "{}",
        r.stdout
    );
    let mass = r.stderr.find("provider \"mass\" block").unwrap();
    let kube = r.stderr.find("provider \"kubernetes\" block").unwrap();
    assert!(mass < kube, "in source order: {}", r.stderr);
    assert!(r.stderr.contains("on main.hcl line 1"), "{}", r.stderr);
    assert!(r.stderr.contains("on main.hcl line 5"), "{}", r.stderr);
    assert!(r.stderr.contains("Did you mean \"maas\"?"), "{}", r.stderr);
    assert!(
        r.stderr.contains("Providers in this build: brick, maas."),
        "{}",
        r.stderr
    );

    // What this build has initializes.
    let d = Dir::new(
        "terraform {\n  required_version = \">= 0.1\"\n}\nprovider \"maas\" {\n  api_url = \"http://127.0.0.1:5240/MAAS/\"\n  api_key = \"a:b:c\"\n}\nresource \"brick_data\" \"a\" {}\n",
    );
    let r = run_in(d.path(), &["init"], &[]).ok();
    assert!(
        r.stdout.contains("successfully initialized"),
        "{}",
        r.stdout
    );
}
