//! How a slow apply looks, through the real binary: piped, one timestamped line per event
//! ("Still creating... [1s elapsed]"); on a terminal (a pseudo-terminal made by util-linux
//! `script`), a status line of the running operations with their elapsed time, redrawn in
//! place; with `--json`, progress as JSON lines.

mod support;

use support::{Dir, brick, command, on_terminal, text};

const TWO_SLOW: &str = r#"
resource "brick_sleep" "a" {
  create_duration = "4s"
}
resource "brick_sleep" "b" {
  create_duration = "3s"
}
resource "brick_data" "after" {
  input = [brick_sleep.a.id, brick_sleep.b.id]
}
"#;

/// `2026-11-25T06:40:58Z ` at the start of a line.
fn timestamp_of(line: &str) -> Option<&str> {
    let ts = line.get(..20)?;
    let b = ts.as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    let ok = digits.iter().all(|&i| b[i].is_ascii_digit())
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && line[20..].starts_with(' ');
    ok.then_some(ts)
}

#[test]
fn without_a_terminal_every_event_is_one_timestamped_line_with_elapsed_time() {
    let d = Dir::new(TWO_SLOW);
    let o = command(d.path(), &["apply", "--auto-approve"])
        .env("BRICK_PROGRESS_INTERVAL", "1s")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !out.contains('\r') && !out.contains('\x1b'),
        "no terminal control codes in piped output:\n{out:?}"
    );
    let events: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("brick_sleep.") || l.contains("brick_data.after:"))
        .filter(|l| !l.trim_start().starts_with('#') && !l.contains("resource \""))
        .collect();
    assert!(!events.is_empty(), "{out}");
    for l in &events {
        assert!(timestamp_of(l).is_some(), "line without timestamp: {l:?}");
    }
    let has = |needle: &str| events.iter().any(|l| l[21..].starts_with(needle));
    assert!(has("brick_sleep.a: Creating..."), "{out}");
    assert!(has("brick_sleep.b: Creating..."), "{out}");
    let still: Vec<&&str> = events
        .iter()
        .filter(|l| l[21..].starts_with("brick_sleep.a: Still creating... ["))
        .collect();
    assert!(!still.is_empty(), "progress of a running create:\n{out}");
    for l in still {
        assert!(l.ends_with("s elapsed]"), "{l}");
    }
    assert!(has("brick_sleep.a: Creation complete after "), "{out}");
    assert!(has("brick_data.after: Creation complete after "), "{out}");
    assert!(
        out.contains("Apply complete! Resources: 3 added, 0 changed, 0 destroyed."),
        "{out}"
    );
}

#[test]
fn on_a_terminal_a_live_status_line_shows_running_operations_and_their_elapsed_time() {
    let d = Dir::new(TWO_SLOW);
    let Some(mut cmd) = on_terminal(d.path(), &["apply", "--auto-approve"]) else {
        return;
    };
    let o = cmd
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{out}");
    // Every redraw starts at column 0 and clears the line.
    let frames: Vec<&str> = out.split("\r\x1b[K").map(|f| f.trim_end()).collect();
    assert!(frames.len() > 3, "the view redraws in place:\n{out:?}");
    assert!(
        frames
            .iter()
            .any(|f| f.starts_with("Running 2: brick_sleep.a (") && f.contains("brick_sleep.b (")),
        "both running operations are listed:\n{out:?}"
    );
    // The ticker redraws while nothing else happens: elapsed time grows past zero.
    assert!(
        frames.iter().any(|f| {
            f.starts_with("Running ")
                && f.contains("brick_sleep.a (")
                && !f.contains("brick_sleep.a (0s)")
        }),
        "elapsed time advances:\n{out:?}"
    );
    assert!(
        out.contains("brick_sleep.a: Creation complete after"),
        "{out:?}"
    );
    // Finished events are plain lines, without timestamps on a terminal.
    assert!(
        frames
            .iter()
            .flat_map(|f| f.lines())
            .all(|l| timestamp_of(l).is_none()),
        "{out:?}"
    );
    // The status line is cleared before the summary.
    let summary = out
        .find("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.")
        .unwrap_or_else(|| panic!("no summary:\n{out:?}"));
    let last_running = out.rfind("Running ").unwrap();
    let clear_after = out[last_running..summary].contains("\r\x1b[K");
    assert!(clear_after, "{out:?}");
}

#[test]
fn with_json_progress_arrives_as_apply_progress_lines() {
    let d = Dir::new(TWO_SLOW);
    let o = command(d.path(), &["apply", "--auto-approve", "--json"])
        .env("BRICK_PROGRESS_INTERVAL", "1s")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let progress: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["type"] == "apply_progress")
        .collect();
    assert!(!progress.is_empty(), "{lines:?}");
    for p in progress {
        assert_eq!(p["hook"]["action"], "create");
        assert!(p["hook"]["elapsed_seconds"].as_u64().is_some());
        assert!(
            p["@message"]
                .as_str()
                .unwrap()
                .contains(": Still creating... ["),
            "{p}"
        );
    }
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "change_summary");
    assert_eq!(last["changes"]["add"], 3);
    // The state the run left converges.
    let o = brick(d.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
