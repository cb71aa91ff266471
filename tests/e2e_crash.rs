//! Crash safety: `kill -9` of `brick apply` at random moments never leaves a state that fails
//! to load, and the next run converges with every resource tracked exactly once.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    // How long one uninterrupted apply takes here, to spread the kills over it.
    let probe = tempfile::tempdir().unwrap();
    std::fs::write(probe.path().join("main.hcl"), config(n)).unwrap();
    let t = Instant::now();
    assert!(
        brick(probe.path(), &["apply", "--auto-approve"])
            .status
            .success()
    );
    let full = t.elapsed().as_millis() as u64;

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
        let mut child = Command::new(env!("CARGO_BIN_EXE_brick"))
            .arg("-C")
            .arg(d.path())
            .args(["apply", "--auto-approve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(jitter(full + 20)));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        // The state loads, without a lock, at once.
        let out = brick(d.path(), &["state", "list"]);
        assert!(
            out.status.success(),
            "round {round}: state list after kill failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The killed process's lock is reported as stale and removed by its id.
        let store = brick_state::StateStore::new(d.path().join("brick.state.json"), "test");
        if let Some(status) = store.lock_status().unwrap() {
            assert!(
                status.stale,
                "round {round}: the lock of a killed process is stale"
            );
            let out = brick(d.path(), &["plan"]);
            assert_eq!(out.status.code(), Some(1));
            assert!(String::from_utf8_lossy(&out.stderr).contains("stale"));
            assert!(
                brick(d.path(), &["force-unlock", "--force", &status.holder.id])
                    .status
                    .success()
            );
        }
        // Plan works (exit 0 or 2 with --detailed-exitcode).
        let out = brick(d.path(), &["plan", "--detailed-exitcode", "--no-color"]);
        let code = out.status.code().unwrap();
        assert!(
            code == 0 || code == 2,
            "round {round}: plan after kill failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = brick(d.path(), &["apply", "--auto-approve", "--no-color"]);
        assert!(
            out.status.success(),
            "round {round}: rerun failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
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
}
