//! Shared helpers of the end-to-end tests that watch a running `brick`: a temporary
//! configuration directory, one-shot runs, and a running child whose output is read line by
//! line so a test can act (send a signal) when a given line appears; `lab`, the MAAS lab with
//! MicroK8s clusters.

#![allow(dead_code)]

pub mod lab;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Only to keep a broken build from hanging the suite; never a measure of speed.
pub const PATIENCE: Duration = Duration::from_secs(180);

pub struct Dir(pub tempfile::TempDir);

impl Dir {
    pub fn new(main_hcl: &str) -> Dir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("main.hcl"), main_hcl).unwrap();
        Dir(d)
    }
    pub fn path(&self) -> &Path {
        self.0.path()
    }
    pub fn sub(&self, name: &str, main_hcl: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("main.hcl"), main_hcl).unwrap();
        p
    }
    pub fn state(&self) -> serde_json::Value {
        state_at(self.path())
    }
}

pub fn state_at(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("brick.state.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brick"));
    c.arg("-C").arg(dir).args(args).env("NO_COLOR", "1");
    c
}

/// `brick -C dir args...` on a pseudo-terminal (util-linux `script`), in colour unless asked
/// otherwise; `None` (after saying the test is skipped) when `script` is not installed.
pub fn on_terminal(dir: &Path, args: &[&str]) -> Option<Command> {
    if Command::new("script").arg("--version").output().is_err() {
        brick_provider_api::testing::skip(
            "util-linux `script` is not installed, no pseudo-terminal available",
        );
        return None;
    }
    // `exec`: brick itself is the terminal's foreground process, so Ctrl-C reaches only brick.
    // Without it a shell that stays brick's parent (dash, CI's /bin/sh) dies of the SIGINT too.
    let mut line = format!("exec {} -C {}", env!("CARGO_BIN_EXE_brick"), dir.display());
    for a in args {
        line.push(' ');
        line.push_str(a);
    }
    let mut c = Command::new("script");
    c.args(["-qfec", &line, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env_remove("NO_COLOR");
    Some(c)
}

/// A finished run: its exit code and output.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `cmd` to the end.
    pub fn of(cmd: &mut Command) -> Run {
        let out = cmd.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts success (showing the output otherwise).
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts failure with `text` in stderr or stdout (showing the output otherwise).
    pub fn failed_with(self, text: &str) -> Run {
        assert_ne!(self.code, 0, "expected a failure; stdout:\n{}", self.stdout);
        assert!(
            self.stderr.contains(text) || self.stdout.contains(text),
            "expected {text:?}; stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs brick to the end.
pub fn brick(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The id recorded for a single-instance resource `type.name`, if any.
pub fn recorded_id(state: &serde_json::Value, ty: &str, name: &str) -> Option<String> {
    state["resources"]
        .as_array()?
        .iter()
        .find(|r| r["type"] == ty && r["name"] == name && r["mode"] == "managed")
        .and_then(|r| r["instances"][0]["attributes"]["id"].as_str())
        .map(String::from)
}

/// A running brick whose stdout and stderr arrive line by line.
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Running {
    pub fn start(cmd: Command) -> Running {
        Running::start_with_stdin(cmd, Stdio::null())
    }

    /// Like `start`, with a pipe on stdin that the test writes to through `child.stdin`.
    pub fn start_with_input(cmd: Command) -> Running {
        Running::start_with_stdin(cmd, Stdio::piped())
    }

    fn start_with_stdin(mut cmd: Command, stdin: Stdio) -> Running {
        let mut child = cmd
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for r in [Box::new(out) as Box<dyn Read + Send>, Box::new(err)] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines() {
                    let Ok(l) = l else { break };
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
        }
        Running {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one contains `needle`; panics (showing the output) when the process
    /// ends first.
    pub fn wait_for(&mut self, needle: &str) {
        if self.seen.iter().any(|l| l.contains(needle)) {
            return;
        }
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    self.seen.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "brick never printed {needle:?}; output:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Writes to the child's stdin (started with `start_with_input`).
    pub fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let stdin = self
            .child
            .stdin
            .as_mut()
            .expect("started with start_with_input");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub fn interrupt(&self) {
        let ok = Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -INT failed");
    }

    /// Reads the rest of the output and returns the exit code with every line seen.
    pub fn finish(mut self) -> (Option<i32>, String) {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(l) => self.seen.push(l),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = self.child.wait().unwrap();
        (status.code(), self.seen.join("\n"))
    }
}

/// A configuration of several files (paths may name subdirectories) in a temporary directory,
/// run with `--no-color`.
pub struct Project {
    tmp: tempfile::TempDir,
}

impl Project {
    pub fn new(files: &[(&str, &str)]) -> Project {
        let p = Project {
            tmp: tempfile::tempdir().unwrap(),
        };
        for (name, text) in files {
            let path = p.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        p
    }
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
    pub fn brick(&self, args: &[&str]) -> Run {
        Run::of(
            Command::new(env!("CARGO_BIN_EXE_brick"))
                .args(["-C", self.path().to_str().unwrap(), "--no-color"])
                .args(args),
        )
    }
    pub fn state(&self) -> serde_json::Value {
        state_at(self.path())
    }
}
