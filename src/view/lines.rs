//! Event views for apply and refresh: Terraform-style lines (`brick_data.a: Creating...`,
//! `Still creating... [2m10s elapsed]`), optionally timestamped (when output is not a
//! terminal), a live view that keeps a status line of running operations on a terminal, and
//! JSON lines for `--json`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::event::{Event, EventSink};
use crate::plan::address::InstanceAddr;
use crate::plan::model::Action;

/// `2m10s`, `45s`, `1h2m3s`.
pub fn format_elapsed(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

fn verbs(action: Action, destroying: bool) -> (&'static str, &'static str, &'static str) {
    if destroying {
        return (
            "Destroying...",
            "Still destroying...",
            "Destruction complete",
        );
    }
    match action {
        Action::Update => (
            "Modifying...",
            "Still modifying...",
            "Modifications complete",
        ),
        Action::Read => ("Reading...", "Still reading...", "Read complete"),
        _ => ("Creating...", "Still creating...", "Creation complete"),
    }
}

fn noun(action: Action, destroying: bool) -> &'static str {
    if destroying {
        "Destruction"
    } else if action == Action::Update {
        "Modification"
    } else if action == Action::Read {
        "Read"
    } else {
        "Creation"
    }
}

/// The text of one event, without timestamp; `None` for events this view does not show.
pub fn event_line(e: &Event) -> Option<String> {
    Some(match e {
        Event::Timing(_) => return None,
        Event::RefreshStart { addr, id } => match id {
            Some(id) => format!("{addr}: Refreshing state... [id={id}]"),
            None => format!("{addr}: Refreshing state..."),
        },
        Event::ApplyStart { addr, action, destroying, id } => {
            let (start, _, _) = verbs(*action, *destroying);
            match (id, *destroying || *action == Action::Update) {
                (Some(id), true) => format!("{addr}: {start} [id={id}]"),
                _ => format!("{addr}: {start}"),
            }
        }
        Event::ApplyProgress { addr, action, destroying, elapsed, status } => {
            let (_, still, _) = verbs(*action, *destroying);
            match status {
                Some(s) => format!("{addr}: {still} [{} elapsed, {s}]", format_elapsed(*elapsed)),
                None => format!("{addr}: {still} [{} elapsed]", format_elapsed(*elapsed)),
            }
        }
        Event::ApplyDone { addr, action, destroying, elapsed, id } => {
            let (_, _, done) = verbs(*action, *destroying);
            match (id, *destroying) {
                (Some(id), false) => format!("{addr}: {done} after {} [id={id}]", format_elapsed(*elapsed)),
                _ => format!("{addr}: {done} after {}", format_elapsed(*elapsed)),
            }
        }
        Event::ApplyFailed { addr, action, destroying, elapsed } => {
            format!("{addr}: {} failed after {}", noun(*action, *destroying), format_elapsed(*elapsed))
        }
        Event::Cancelled { addr, action, destroying, elapsed } => {
            format!("{addr}: {} cancelled after {}", noun(*action, *destroying), format_elapsed(*elapsed))
        }
        Event::Skipped { addr, because } => format!("{addr}: Skipped because {because} failed"),
        Event::ProvisionerOutput { addr, provisioner, line } => format!("{addr} ({provisioner}): {line}"),
        Event::Interrupted => "Interrupt received. Please wait for brick to exit or data loss may occur.\nGracefully shutting down...".to_string(),
        Event::ProviderConfigured { name } => {
            format!("provider \"{name}\": Configured during apply, its configuration now known")
        }
        Event::Diagnostic(d) => {
            let prefix = if d.is_error() { "Error: " } else { "Warning: " };
            format!("{prefix}{}. {}", d.summary, d.detail)
        }
    })
}

/// A clock for timestamps, so tests can fix it.
pub trait Clock: Send + Sync {
    /// RFC 3339 UTC, e.g. `2026-11-25T03:50:00Z`.
    fn now_rfc3339(&self) -> String;
}

/// Lines to a writer; with a clock, each line starts with a timestamp.
pub struct LineView<W: Write + Send> {
    out: Mutex<W>,
    clock: Option<Box<dyn Clock>>,
}

impl<W: Write + Send> LineView<W> {
    pub fn new(out: W, clock: Option<Box<dyn Clock>>) -> Self {
        LineView {
            out: Mutex::new(out),
            clock,
        }
    }
    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap()
    }
}

impl<W: Write + Send> EventSink for LineView<W> {
    fn emit(&self, e: Event) {
        let Some(line) = event_line(&e) else { return };
        let mut out = self.out.lock().unwrap();
        let _ = match &self.clock {
            Some(c) => {
                // Every line carries the timestamp, so logs can be filtered line by line.
                let now = c.now_rfc3339();
                line.lines().try_for_each(|l| writeln!(out, "{now} {l}"))
            }
            None => writeln!(out, "{line}"),
        };
    }
}

/// On a terminal: finished events scroll by; a last line lists what is running and for how
/// long, redrawn on every event and by [`LiveView::tick`].
pub struct LiveView<W: Write + Send> {
    out: Mutex<(W, BTreeMap<String, Instant>)>,
    /// The terminal's width: the status line is cut to fit, because a wrapped line cannot be
    /// redrawn in place.
    width: Option<usize>,
}

impl<W: Write + Send> LiveView<W> {
    pub fn new(out: W) -> Self {
        LiveView {
            out: Mutex::new((out, BTreeMap::new())),
            width: None,
        }
    }

    /// Cuts the status line to `columns` (when known and non-zero).
    pub fn with_width(mut self, columns: Option<usize>) -> Self {
        self.width = columns.filter(|c| *c > 10);
        self
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap().0
    }

    fn fit(&self, line: String) -> String {
        match self.width {
            Some(w) if line.chars().count() >= w => {
                let mut cut: String = line.chars().take(w - 2).collect();
                cut.push('…');
                cut
            }
            _ => line,
        }
    }

    fn status_line(running: &BTreeMap<String, Instant>) -> String {
        if running.is_empty() {
            return String::new();
        }
        let mut parts: Vec<String> = running
            .iter()
            .take(4)
            .map(|(a, t)| format!("{a} ({})", format_elapsed(t.elapsed())))
            .collect();
        if running.len() > 4 {
            parts.push(format!("and {} more", running.len() - 4));
        }
        format!("Running {}: {}", running.len(), parts.join(", "))
    }

    /// Redraws the status line (call about once a second).
    pub fn tick(&self) {
        let mut g = self.out.lock().unwrap();
        let line = self.fit(Self::status_line(&g.1));
        let _ = write!(g.0, "\r\x1b[K{line}");
        let _ = g.0.flush();
    }

    /// Clears the status line.
    pub fn finish(&self) {
        let mut g = self.out.lock().unwrap();
        let _ = write!(g.0, "\r\x1b[K");
        let _ = g.0.flush();
    }
}

impl<W: Write + Send> EventSink for LiveView<W> {
    fn emit(&self, e: Event) {
        let mut g = self.out.lock().unwrap();
        match &e {
            Event::ApplyStart { addr, .. } => {
                g.1.insert(addr.to_string(), Instant::now());
            }
            Event::ApplyDone { addr, .. }
            | Event::ApplyFailed { addr, .. }
            | Event::Cancelled { addr, .. } => {
                g.1.remove(&addr.to_string());
            }
            // Progress is shown by the status line.
            Event::ApplyProgress { status: None, .. } => return,
            _ => {}
        }
        let Some(line) = event_line(&e) else { return };
        let status = self.fit(Self::status_line(&g.1));
        let _ = write!(g.0, "\r\x1b[K{line}\n{status}");
        let _ = g.0.flush();
    }
}

/// JSON lines, in the shape of Terraform's machine-readable UI.
pub struct JsonView<W: Write + Send> {
    out: Mutex<W>,
    clock: Box<dyn Clock>,
}

impl<W: Write + Send> JsonView<W> {
    pub fn new(out: W, clock: Box<dyn Clock>) -> Self {
        JsonView {
            out: Mutex::new(out),
            clock,
        }
    }
}

fn hook_resource(addr: &InstanceAddr) -> serde_json::Value {
    json!({
        "addr": addr.to_string(),
        "module": addr.resource.module,
        "resource": format!("{}.{}{}", addr.resource.type_name, addr.resource.name, addr.key),
        "implied_provider": addr.resource.implied_provider(),
        "resource_type": addr.resource.type_name,
        "resource_name": addr.resource.name,
        "resource_key": addr.key.to_json(),
    })
}

fn action_name(action: Action, destroying: bool) -> &'static str {
    if destroying {
        return "delete";
    }
    match action {
        Action::Update => "update",
        Action::Read => "read",
        Action::NoOp => "noop",
        _ => "create",
    }
}

impl<W: Write + Send> EventSink for JsonView<W> {
    fn emit(&self, e: Event) {
        let message = event_line(&e);
        let (ty, level, hook) = match &e {
            // Terraform's machine-readable UI has no such message: consumers see none.
            Event::Timing(_) => return,
            Event::RefreshStart { addr, id } => (
                "refresh_start",
                "info",
                json!({"resource": hook_resource(addr), "id_key": "id", "id_value": id}),
            ),
            Event::ApplyStart {
                addr,
                action,
                destroying,
                id,
            } => (
                "apply_start",
                "info",
                json!({"resource": hook_resource(addr), "action": action_name(*action, *destroying), "id_key": id.as_ref().map(|_| "id"), "id_value": id}),
            ),
            Event::ApplyProgress {
                addr,
                action,
                destroying,
                elapsed,
                ..
            } => (
                "apply_progress",
                "info",
                json!({"resource": hook_resource(addr), "action": action_name(*action, *destroying), "elapsed_seconds": elapsed.as_secs()}),
            ),
            Event::ApplyDone {
                addr,
                action,
                destroying,
                elapsed,
                id,
            } => (
                "apply_complete",
                "info",
                json!({"resource": hook_resource(addr), "action": action_name(*action, *destroying), "elapsed_seconds": elapsed.as_secs(), "id_key": id.as_ref().map(|_| "id"), "id_value": id}),
            ),
            Event::ApplyFailed {
                addr,
                action,
                destroying,
                elapsed,
            } => (
                "apply_errored",
                "error",
                json!({"resource": hook_resource(addr), "action": action_name(*action, *destroying), "elapsed_seconds": elapsed.as_secs()}),
            ),
            // Terraform's UI has no cancel message; consumers know an errored apply.
            Event::Cancelled {
                addr,
                action,
                destroying,
                elapsed,
            } => (
                "apply_errored",
                "error",
                json!({"resource": hook_resource(addr), "action": action_name(*action, *destroying), "elapsed_seconds": elapsed.as_secs()}),
            ),
            Event::Skipped { addr, because } => (
                "apply_skipped",
                "warn",
                json!({"resource": hook_resource(addr), "because": because.to_string()}),
            ),
            Event::ProvisionerOutput {
                addr,
                provisioner,
                line,
            } => (
                "provision_progress",
                "info",
                json!({"resource": hook_resource(addr), "provisioner": provisioner, "output": line}),
            ),
            Event::Interrupted => ("interrupted", "warn", json!({})),
            Event::ProviderConfigured { name } => {
                ("provider_configured", "info", json!({"provider": name}))
            }
            Event::Diagnostic(d) => {
                let level = if d.severity == brick_provider_api::Severity::Error {
                    "error"
                } else {
                    "warn"
                };
                let mut out = self.out.lock().unwrap();
                let _ = writeln!(
                    out,
                    "{}",
                    json!({
                        "@level": level,
                        "@message": format!("{}: {}", if level == "error" { "Error" } else { "Warning" }, d.summary),
                        "@module": "brick.ui",
                        "@timestamp": self.clock.now_rfc3339(),
                        "diagnostic": {"severity": level, "summary": d.summary, "detail": d.detail, "code": d.code},
                        "type": "diagnostic",
                    })
                );
                return;
            }
        };
        let mut out = self.out.lock().unwrap();
        let _ = writeln!(
            out,
            "{}",
            json!({
                "@level": level,
                "@message": message.unwrap_or_default(),
                "@module": "brick.ui",
                "@timestamp": self.clock.now_rfc3339(),
                "hook": hook,
                "type": ty,
            })
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_status_line_lists_running_operations_and_fits_the_terminal() {
        let v = LiveView::new(Vec::new()).with_width(Some(40));
        for name in ["a", "b"] {
            v.emit(Event::ApplyStart {
                addr: format!("brick_sleep.{name}").parse().unwrap(),
                action: Action::Create,
                destroying: false,
                id: None,
            });
        }
        v.emit(Event::ApplyDone {
            addr: "brick_sleep.a".parse().unwrap(),
            action: Action::Create,
            destroying: false,
            elapsed: Duration::from_secs(3),
            id: Some("x".into()),
        });
        v.finish();
        let text = String::from_utf8(v.into_inner()).unwrap();
        let frames: Vec<&str> = text.split("\r\x1b[K").collect();
        assert_eq!(
            frames,
            [
                "",
                "brick_sleep.a: Creating...\nRunning 1: brick_sleep.a (0s)",
                "brick_sleep.b: Creating...\nRunning 2: brick_sleep.a (0s), brick_s…",
                "brick_sleep.a: Creation complete after 3s [id=x]\nRunning 1: brick_sleep.b (0s)",
                "",
            ]
        );
    }

    struct Fixed;
    impl Clock for Fixed {
        fn now_rfc3339(&self) -> String {
            "2026-01-02T03:04:05Z".into()
        }
    }

    #[test]
    fn long_operations_report_elapsed_time_on_timestamped_lines() {
        let v = LineView::new(Vec::new(), Some(Box::new(Fixed)));
        let addr: InstanceAddr = "maas_machine.node[\"kvm4\"]".parse().unwrap();
        v.emit(Event::ApplyStart {
            addr: addr.clone(),
            action: Action::Create,
            destroying: false,
            id: None,
        });
        v.emit(Event::ApplyProgress {
            addr: addr.clone(),
            action: Action::Create,
            destroying: false,
            elapsed: Duration::from_secs(130),
            status: None,
        });
        v.emit(Event::ApplyDone {
            addr,
            action: Action::Create,
            destroying: false,
            elapsed: Duration::from_secs(600),
            id: Some("abc".into()),
        });
        let text = String::from_utf8(v.into_inner()).unwrap();
        assert_eq!(
            text,
            "2026-01-02T03:04:05Z maas_machine.node[\"kvm4\"]: Creating...\n\
             2026-01-02T03:04:05Z maas_machine.node[\"kvm4\"]: Still creating... [2m10s elapsed]\n\
             2026-01-02T03:04:05Z maas_machine.node[\"kvm4\"]: Creation complete after 10m0s [id=abc]\n"
        );
    }
}
