//! End-to-end tests of `brick` on a terminal (a pseudo-terminal made by util-linux `script`):
//! the confirmation prompt of `apply` and `destroy` (only `yes` approves, Ctrl-C cancels at
//! once) and colour, which `--no-color` turns off.

mod support;

use support::{Dir, Running, brick, on_terminal, text};

const ONE: &str = r#"
resource "brick_data" "a" {
  input = "x"
}
"#;

fn resources(d: &Dir) -> usize {
    if !d.path().join("brick.state.json").exists() {
        return 0;
    }
    d.state()["resources"].as_array().map_or(0, |r| r.len())
}

/// Runs `args` on a terminal, answers the prompt with `answer` once it is asked, and returns
/// the exit code and everything printed. The answer's pipe stays open until brick ends, so
/// brick never sees the end of its input.
fn answer(d: &Dir, args: &[&str], answer: &[u8]) -> Option<(Option<i32>, String)> {
    let cmd = on_terminal(d.path(), args)?;
    let mut r = Running::start_with_input(cmd);
    r.wait_for("Only 'yes' will be accepted to approve.");
    r.send(answer);
    Some(r.finish())
}

#[test]
fn on_a_terminal_apply_asks_first_and_only_yes_approves() {
    let d = Dir::new(ONE);
    let Some((code, out)) = answer(&d, &["apply"], b"no\n") else {
        return;
    };
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Do you want to perform these actions?"),
        "{out}"
    );
    assert!(out.contains("Apply cancelled."), "{out}");
    assert_eq!(resources(&d), 0, "nothing was created");

    let (code, out) = answer(&d, &["apply"], b"yes\n").unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Apply complete! Resources: 1 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    assert_eq!(resources(&d), 1);

    let (code, out) = answer(&d, &["destroy"], b"y\n").unwrap();
    assert_eq!(code, Some(1), "only the whole word approves: {out}");
    assert!(
        out.contains("Do you really want to destroy all resources?"),
        "{out}"
    );
    assert!(out.contains("Destroy cancelled."), "{out}");
    assert_eq!(resources(&d), 1, "nothing was destroyed");
}

#[test]
fn ctrl_c_at_the_confirmation_prompt_cancels_at_once_and_releases_the_lock() {
    let d = Dir::new(ONE);
    // 0x03 is what the Ctrl-C key sends: the terminal turns it into SIGINT for brick.
    let Some((code, out)) = answer(&d, &["apply"], b"\x03") else {
        return;
    };
    // brick ends although its input stays open (it does not wait for an answer any more).
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Apply cancelled."), "{out}");
    assert_eq!(resources(&d), 0, "nothing was created");
    // The lock was released: the next writer gets it.
    let o = brick(d.path(), &["apply", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(resources(&d), 1);
}

#[test]
fn on_a_terminal_the_plan_is_in_colour_and_no_color_turns_it_off() {
    let d = Dir::new(ONE);
    let Some(mut cmd) = on_terminal(d.path(), &["plan"]) else {
        return;
    };
    let o = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{out}");
    assert!(out.contains("\x1b[32m+\x1b[0m create"), "{out:?}");

    let o = on_terminal(d.path(), &["plan", "--no-color"])
        .unwrap()
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{out}");
    assert!(out.contains("  + create"), "{out:?}");
    assert!(!out.contains('\x1b'), "no escape codes at all: {out:?}");
}
