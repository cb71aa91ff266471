//! `provisioner "local-exec"` through the real binary (issue 10, item 17): it runs after a
//! create with `self`, `count.index`, `each`, `environment` and `working_dir`; its output is
//! streamed and masked when sensitive; a failure taints the object (unless `on_failure =
//! continue`); destroy-time ones run before the destroy and read only `self`/`count`/`each`;
//! other provisioners and `connection` blocks are refused; plans show nothing of them.

mod support;

use support::{Dir, Run, command};

fn apply(dir: &Dir) -> Run {
    Run::of(&mut command(dir.path(), &["apply", "--auto-approve"]))
}

#[test]
fn local_exec_runs_after_create_with_self_count_each_environment_and_working_dir() {
    let dir = Dir::new(
        r#"
resource "brick_data" "n" {
  count = 2
  input = "node${count.index}"
  provisioner "local-exec" {
    command     = "echo made ${self.output} at ${count.index} with $GREETING; pwd"
    environment = { GREETING = "hello" }
    working_dir = "/"
  }
}
resource "brick_data" "e" {
  for_each = toset(["k"])
  input    = each.key
  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = "echo each ${each.key}=${each.value} >> ran.txt"
    quiet       = true
  }
}
"#,
    );
    let plan = Run::of(&mut command(dir.path(), &["plan"])).ok();
    assert!(
        !plan.stdout.contains("local-exec"),
        "plans show nothing: {}",
        plan.stdout
    );
    let out = apply(&dir).ok();
    for i in 0..2 {
        assert!(
            out.stdout.contains(&format!(
                "brick_data.n[{i}] (local-exec): made node{i} at {i} with hello"
            )),
            "{}",
            out.stdout
        );
    }
    assert!(
        out.stdout
            .contains("brick_data.n[0] (local-exec): Executing: [\"/bin/sh\" \"-c\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("brick_data.e[\"k\"] (local-exec): Executing: Suppressed by quiet=true"),
        "{}",
        out.stdout
    );
    // The output comes before the create is reported complete, as in Terraform.
    let run = out
        .stdout
        .find("brick_data.n[0] (local-exec): made")
        .unwrap();
    let done = out
        .stdout
        .find("brick_data.n[0]: Creation complete")
        .unwrap();
    assert!(run < done, "{}", out.stdout);
    // working_dir
    assert!(
        out.stdout.contains("brick_data.n[1] (local-exec): /\n"),
        "{}",
        out.stdout
    );
    // Without working_dir, brick's own directory.
    let ran = std::fs::read_to_string(dir.path().join("ran.txt")).unwrap();
    assert_eq!(ran, "each k=k\n");
    // Provisioners run at creation only.
    let again = apply(&dir).ok();
    assert!(!again.stdout.contains("local-exec"), "{}", again.stdout);
}

#[test]
fn a_failing_provisioner_taints_the_object_and_skips_its_dependents_unless_told_to_continue() {
    let dir = Dir::new(
        r#"
resource "brick_data" "bad" {
  provisioner "local-exec" {
    command = "echo trying; exit 3"
  }
}
resource "brick_data" "after" {
  input = brick_data.bad.id
}
resource "brick_data" "tolerant" {
  provisioner "local-exec" {
    command    = "exit 4"
    on_failure = continue
  }
}
"#,
    );
    let out = apply(&dir).failed_with("local-exec provisioner error");
    assert!(
        out.stdout.contains("brick_data.bad (local-exec): trying"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("exit status 3"), "{}", out.stderr);
    assert!(out.stderr.contains("main.hcl line 3"), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("brick_data.after: Skipped because brick_data.bad failed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("exit status 4"),
        "a warning: {}",
        out.stderr
    );
    let list = Run::of(&mut command(dir.path(), &["state", "list"])).ok();
    assert_eq!(list.stdout, "brick_data.bad\nbrick_data.tolerant\n");
    assert!(
        list.stderr.contains("brick_data.bad: tainted"),
        "{}",
        list.stderr
    );
    let plan = Run::of(&mut command(dir.path(), &["plan"])).ok();
    assert!(
        plan.stdout
            .contains("brick_data.bad is tainted, so must be replaced"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("brick_data.tolerant is tainted"),
        "{}",
        plan.stdout
    );
}

#[test]
fn sensitive_values_in_a_provisioner_suppress_its_output() {
    let dir = Dir::new(
        r#"
variable "token" {
  default   = "s3cr3t-value"
  sensitive = true
}
resource "brick_data" "s" {
  provisioner "local-exec" {
    command = "echo ${var.token}; exit 1"
  }
}
"#,
    );
    let out = apply(&dir).failed_with("local-exec provisioner error");
    assert!(
        out.stdout.contains(
            "brick_data.s (local-exec): (output suppressed due to sensitive value in config)"
        ),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("s3cr3t-value"), "{}", out.stdout);
    assert!(!out.stderr.contains("s3cr3t-value"), "{}", out.stderr);
}

#[test]
fn destroy_time_provisioners_run_before_the_destroy_and_a_failure_keeps_the_object() {
    let dir = Dir::new(
        r#"
resource "brick_data" "d" {
  input = "x"
  provisioner "local-exec" {
    when    = destroy
    command = "echo bye ${self.output} >> gone.txt; test -f allow"
  }
}
"#,
    );
    let out = apply(&dir).ok();
    assert!(!out.stdout.contains("local-exec"), "{}", out.stdout);
    Run::of(&mut command(dir.path(), &["destroy", "--auto-approve"]))
        .failed_with("local-exec provisioner error");
    let list = Run::of(&mut command(dir.path(), &["state", "list"])).ok();
    assert_eq!(list.stdout, "brick_data.d\n", "the object stays");
    std::fs::write(dir.path().join("allow"), "").unwrap();
    let out = Run::of(&mut command(dir.path(), &["destroy", "--auto-approve"])).ok();
    let bye = out
        .stdout
        .find("brick_data.d (local-exec): Executing")
        .unwrap();
    let destroying = out.stdout.find("brick_data.d: Destroying").unwrap();
    assert!(bye < destroying, "{}", out.stdout);
    let gone = std::fs::read_to_string(dir.path().join("gone.txt")).unwrap();
    assert_eq!(gone, "bye x\nbye x\n");
}

#[test]
fn other_provisioners_connection_blocks_and_wider_destroy_references_are_refused() {
    let dir = Dir::new(
        r#"
variable "v" {
  default = "x"
}
resource "brick_data" "a" {
  connection {
    host = "h"
  }
  provisioner "remote-exec" {
    inline = ["true"]
  }
  provisioner "file" {
    source = "a"
    destination = "b"
  }
  provisioner "local-exec" {
    when    = sometimes
    command = "true"
  }
}
"#,
    );
    let out = Run::of(&mut command(dir.path(), &["validate"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let errors: Vec<&str> = out.stderr.split("Error: ").collect();
    for (text, line) in [
        ("Connection blocks are not supported", "line 6"),
        ("The provisioner \"remote-exec\" is not supported", "line 9"),
        ("The provisioner \"file\" is not supported", "line 12"),
        ("must be one of the keywords create, destroy", "line 17"),
    ] {
        let e = errors
            .iter()
            .find(|e| e.contains(text))
            .unwrap_or_else(|| panic!("{text}: {}", out.stderr));
        assert!(e.contains(line), "{text} {line}: {}", out.stderr);
    }
    assert!(
        out.stderr
            .contains("brick::config::unsupported_provisioner"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Help:"), "{}", out.stderr);

    let dir = Dir::new(
        r#"
variable "v" {
  default = "x"
}
resource "brick_data" "a" {
  provisioner "local-exec" {
    when    = destroy
    command = "echo ${var.v} ${self.id}"
  }
}
"#,
    );
    let out = Run::of(&mut command(dir.path(), &["plan"]))
        .failed_with("Invalid reference from destroy provisioner");
    assert!(out.stderr.contains("main.hcl line 8"), "{}", out.stderr);
}
