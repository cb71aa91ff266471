//! Crash safety: `kill -9` of `brick apply` at random moments of its apply phase never leaves a
//! state that fails to load, and the next run converges with every resource tracked exactly
//! once, keeping the objects the killed run recorded (nothing recreated). The kills are timed
//! from the first "Creating..." line, and the test checks that most of them really cut an
//! apply short. Creating an object twice where the object lives outside brick is checked
//! against the MAAS simulator by `e2e_crash_create.rs`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::Running;

fn config(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i % 10 == 0 && i >= 10 {
            s.push_str(&format!(
                "resource \"brick_data\" \"r{i}\" {{\n  input = brick_data.r{}.output\n}}\n",
                i - 10
            ));
        } else {
            s.push_str(&format!(
                "resource \"brick_data\" \"r{i}\" {{\n  input = \"v{i}\"\n}}\n"
            ));
        }
    }
    s
}

fn brick(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_brick"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

/// A cheap pseudo-random number from the clock (no extra dependency needed).
fn jitter(max: u64) -> u64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    (n.wrapping_mul(6364136223846793005) >> 17) % max.max(1)
}

#[test]
fn kill_nine_during_apply_always_leaves_a_loadable_state_and_a_rerun_converges() {
    let n = 200;
    let rounds: usize = std::env::var("BRICK_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    // How long the apply phase of one uninterrupted run takes here (from its first
    // "Creating..." line to its end), to spread the kills over it.
    let probe = tempfile::tempdir().unwrap();
    std::fs::write(probe.path().join("main.hcl"), config(n)).unwrap();
    let mut run = Running::start(apply_command(probe.path()));
    run.wait_for(": Creating...");
    let t = Instant::now();
    let (code, out) = run.finish();
    assert_eq!(code, Some(0), "{out}");
    let window = t.elapsed().as_millis() as u64;
    let mut cut_short = 0;

    for round in 0..rounds {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("main.hcl"), config(n)).unwrap();
        // Some rounds start from a partly applied state, so kills also hit updates.
        if round % 3 == 2 {
            assert!(
                brick(
                    d.path(),
                    &["apply", "--auto-approve", "--target", "brick_data.r5"]
                )
                .status
                .success()
            );
        }
        let before = recorded(d.path());
        let mut run = Running::start(apply_command(d.path()));
        run.wait_for(": Creating...");
        std::thread::sleep(Duration::from_millis(jitter(window + 5)));
        let _ = run.child.kill(); // SIGKILL
        let (code, _) = run.finish();
        if code.is_none() {
            cut_short += 1;
        }

        // The state loads, without a lock, at once.
        let out = brick(d.path(), &["state", "list"]);
        assert!(
            out.status.success(),
            "round {round}: state list after kill failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The killed process's lock is stale; the next command takes it over and says so.
        let store = brick_state::StateStore::new(d.path().join("brick.state.json"), "test");
        if let Some(status) = store.lock_status().unwrap() {
            assert!(
                status.stale,
                "round {round}: the lock of a killed process is stale"
            );
            let out = brick(d.path(), &["plan", "--detailed-exitcode", "--no-color"]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                matches!(out.status.code(), Some(0 | 2)),
                "round {round}: {err}"
            );
            assert!(
                err.contains(&format!("process {}", status.holder.pid))
                    && err.contains("took the lock over"),
                "round {round}: {err}"
            );
            assert!(store.lock_status().unwrap().is_none());
        }
        // Plan works (exit 0 or 2 with --detailed-exitcode).
        let out = brick(d.path(), &["plan", "--detailed-exitcode", "--no-color"]);
        let code = out.status.code().unwrap();
        assert!(
            code == 0 || code == 2,
            "round {round}: plan after kill failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let kept = recorded(d.path());
        assert!(
            before.iter().all(|(a, id)| kept.get(a) == Some(id)),
            "round {round}: what was recorded before the run stays recorded"
        );
        let out = brick(d.path(), &["apply", "--auto-approve", "--no-color"]);
        assert!(
            out.status.success(),
            "round {round}: rerun failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let after = recorded(d.path());
        assert!(
            kept.iter().all(|(a, id)| after.get(a) == Some(id)),
            "round {round}: the rerun keeps every object the killed run recorded (none recreated)"
        );
        let out = brick(d.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: not converged:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let list = brick(d.path(), &["state", "list"]);
        let text = String::from_utf8_lossy(&list.stdout);
        assert_eq!(
            text.lines().count(),
            n,
            "round {round}: every resource tracked exactly once"
        );
        let mut seen: Vec<&str> = text.lines().collect();
        seen.dedup();
        assert_eq!(seen.len(), n);
        assert!(
            !d.path().join("brick.state.json.journal").exists(),
            "round {round}: journal folded"
        );
    }
    // A kill after brick exited cuts nothing short; most kills must have hit a running apply.
    assert!(
        cut_short * 2 >= rounds,
        "only {cut_short} of {rounds} kills landed while the apply ran (window {window} ms)"
    );
}

fn apply_command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brick"));
    c.arg("-C")
        .arg(dir)
        .args(["apply", "--auto-approve", "--no-color"])
        .env("BRICK_PROGRESS_INTERVAL", "1h");
    c
}

/// The ids recorded in the state, by resource address (empty without a state).
fn recorded(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let Ok(text) = std::fs::read_to_string(dir.join("brick.state.json")) else {
        return Default::default();
    };
    let state: serde_json::Value = serde_json::from_str(&text).unwrap();
    state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let id = r["instances"][0]["attributes"]["id"].as_str()?;
            Some((format!("{}.{}", r["type"], r["name"]), id.to_string()))
        })
        .collect()
}
