//! The scale benchmark: N `brick_data` resources, every 10th depending on the previous 10th.
//! For N = 1,000 and 5,000 it runs the real binary and prints wall time and peak memory of:
//! plan on an empty state, apply, a no-op plan, and a plan after changing 1% of the inputs.
//!
//! Run with `cargo bench --bench engine_scale` (optionally `-- 1000 5000 20000`).
//! Targets at N = 5,000: apply < 2 s, no-op plan < 0.5 s, peak RSS < 150 MB.
//! Peak RSS comes from `/usr/bin/time -f %M` when it exists.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn config(n: usize, changed_every: Option<usize>) -> String {
    let mut s = String::with_capacity(n * 64);
    for i in 0..n {
        let suffix = match changed_every {
            Some(k) if i % k == 1 => "-changed",
            _ => "",
        };
        if i % 10 == 0 && i >= 10 {
            s.push_str(&format!(
                "resource \"brick_data\" \"r{i}\" {{\n  input = brick_data.r{}.output\n}}\n",
                i - 10
            ));
        } else {
            s.push_str(&format!(
                "resource \"brick_data\" \"r{i}\" {{\n  input = \"v{i}{suffix}\"\n}}\n"
            ));
        }
    }
    s
}

/// Runs brick; returns (seconds, peak RSS in MB if measurable, exit code).
fn run(dir: &Path, args: &[&str]) -> (f64, Option<f64>, i32) {
    let bin = env!("CARGO_BIN_EXE_brick");
    let time = Path::new("/usr/bin/time");
    let start = Instant::now();
    let out = if time.exists() {
        Command::new(time)
            .args(["-f", "%M", bin, "-C"])
            .arg(dir)
            .args(args)
            .output()
            .unwrap()
    } else {
        Command::new(bin)
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .unwrap()
    };
    let secs = start.elapsed().as_secs_f64();
    let rss = if time.exists() {
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .and_then(|l| l.trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    } else {
        None
    };
    (secs, rss, out.status.code().unwrap_or(-1))
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1000, 5000]
    } else {
        sizes
    };
    println!("| N | step | wall (s) | peak RSS (MB) | exit |");
    println!("|---|---|---|---|---|");
    for n in sizes {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("main.hcl"), config(n, None)).unwrap();
        let steps: Vec<(&str, Vec<&str>, Option<String>)> = vec![
            (
                "plan (empty state)",
                vec!["plan", "--detailed-exitcode"],
                None,
            ),
            ("apply", vec!["apply", "--auto-approve"], None),
            ("no-op plan", vec!["plan", "--detailed-exitcode"], None),
            (
                "plan after 1% changed",
                vec!["plan", "--detailed-exitcode"],
                Some(config(n, Some(100))),
            ),
            ("apply 1% changed", vec!["apply", "--auto-approve"], None),
        ];
        for (name, args, new_config) in steps {
            if let Some(c) = new_config {
                std::fs::write(d.path().join("main.hcl"), c).unwrap();
            }
            let (secs, rss, code) = run(d.path(), &args);
            let rss = rss
                .map(|r| format!("{r:.0}"))
                .unwrap_or_else(|| "n/a".into());
            println!("| {n} | {name} | {secs:.3} | {rss} | {code} |");
        }
    }
}
