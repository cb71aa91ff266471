//! `provisioner "local-exec"` as Terraform runs it: after the object is created (or, with
//! `when = destroy`, before it is destroyed), `command` runs through `interpreter` (default
//! `/bin/sh -c`) in `working_dir` with `environment` added; its output (stdout and stderr, line
//! by line) is streamed as [`Event::ProvisionerOutput`] — suppressed when the arguments hold a
//! sensitive value, the command itself not shown with `quiet = true`. A failure taints the new
//! object (or stops its destroy), unless `on_failure = continue`. Destroy-time provisioners may
//! read only `self`, `count.index` and `each`. Plans show nothing of provisioners (as
//! Terraform's).
//!
//! The configuration side (`plan::provisioners::configs`) turns the loader's blocks into
//! evaluators; the apply side runs a resource's provisioners in order ([`provision`]), each one evaluated and run
//! by [`run`].

use std::process::Stdio;
use std::sync::Arc;

use brick_provider_api::schema::{Attribute, Block};
use brick_provider_api::{Type, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::addr::InstanceAddr;
use crate::diag::Diagnostic;
use crate::event::{Event, EventSink};
use crate::input::{ProvisionerConfig, ResourceConfig};
use crate::plan::model::ResourceChange;
use crate::plan::scope::{InstanceScope, SelfScope};

use super::Cancel;
use super::values::Values;

/// The arguments of `local-exec`.
pub fn schema() -> Block {
    Block::default()
        .attr("command", Attribute::required(Type::String))
        .attr("interpreter", Attribute::optional(Type::list(Type::String)))
        .attr("working_dir", Attribute::optional(Type::String))
        .attr("environment", Attribute::optional(Type::map(Type::String)))
        .attr("quiet", Attribute::optional(Type::Bool))
}

/// Runs one `local-exec` with its evaluated arguments `args` for the object at `addr`.
/// `Err` is its failure (already an error diagnostic; whether it taints is the caller's, from
/// `on_failure`).
pub async fn run(
    addr: &InstanceAddr,
    args: &Value,
    events: &Arc<dyn EventSink>,
) -> Result<(), Diagnostic> {
    let say = |line: String| {
        events.emit(Event::ProvisionerOutput {
            addr: addr.clone(),
            provisioner: "local-exec".into(),
            line,
        })
    };
    let sensitive = args.contains_sensitive();
    let (args, _) = args.unmark_deep();
    let failed = |detail: String| {
        Diagnostic::error(
            "brick::apply::provisioner_failed",
            "local-exec provisioner error",
            format!("{addr}: {detail}"),
        )
    };
    let Some(command) = args.get("command").and_then(Value::as_str) else {
        return Err(failed("The command is null.".into()));
    };
    let shown = if sensitive {
        "(sensitive value)".to_string()
    } else {
        format!("{command:?}")
    };
    let mut argv: Vec<String> = match args.get("interpreter").and_then(Value::as_sequence) {
        Some(items) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect(),
        _ => vec!["/bin/sh".into(), "-c".into()],
    };
    argv.push(command.to_string());
    let quiet = args.get("quiet").and_then(Value::as_bool) == Some(true);
    if sensitive {
        say("(output suppressed due to sensitive value in config)".into());
    } else if quiet {
        say("Executing: Suppressed by quiet=true".into());
    } else {
        say(format!(
            "Executing: [{}]",
            argv.iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = args.get("working_dir").and_then(Value::as_str) {
        cmd.current_dir(dir);
    }
    if let Some(env) = args.get("environment").and_then(Value::as_mapping) {
        for (k, v) in env {
            if let Some(v) = v.as_str() {
                cmd.env(k, v);
            }
        }
    }
    let mut child = cmd.spawn().map_err(|e| {
        failed(format!(
            "Error running command {shown}: cannot start {}: {e}.",
            argv[0]
        ))
    })?;
    // stdout and stderr as one stream of lines, as they come.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        readers.push(tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = tx.send(l);
            }
        }));
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        readers.push(tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = tx.send(l);
            }
        }));
    }
    drop(tx);
    let mut tail: Vec<String> = Vec::new();
    while let Some(line) = rx.recv().await {
        if !sensitive {
            say(line.clone());
            tail.push(line);
            if tail.len() > 20 {
                tail.remove(0);
            }
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| failed(format!("Error running command {shown}: {e}.")))?;
    if status.success() {
        return Ok(());
    }
    let why = match status.code() {
        Some(c) => format!("exit status {c}"),
        None => "killed by a signal".to_string(),
    };
    let mut detail = format!("Error running command {shown}: {why}.");
    if !tail.is_empty() {
        detail.push_str(&format!(" Output: {}", tail.join("\n")));
    }
    Err(failed(detail))
}

/// Runs the resource's create-time (or destroy-time) `local-exec` provisioners in order, with
/// `self` the object; returns the errors (a failure stops the rest) and the warnings (failures
/// under `on_failure = continue`).
pub(super) async fn provision(
    when_destroy: bool,
    rc: &ResourceConfig,
    c: &ResourceChange,
    self_value: &Value,
    values: &mut Values<'_>,
    events: &Arc<dyn EventSink>,
    cancel: &Cancel,
) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let schema = schema();
    let chosen: Vec<&ProvisionerConfig> = rc
        .lifecycle
        .provisioners
        .iter()
        .filter(|p| p.when_destroy == when_destroy)
        .collect();
    // Evaluated first, all of them (the scope borrows what the runs need not).
    let evaluated: Vec<Result<Value, Vec<Diagnostic>>> = {
        let known = values.known();
        let base = known.scope(&c.addr.resource.module);
        let each = rc.expansion.each_value(&base, &c.addr.key).ok().flatten();
        let inst = InstanceScope {
            base: &base,
            key: &c.addr.key,
            each_value: each.as_ref(),
        };
        let scope = SelfScope {
            base: &inst,
            value: self_value,
        };
        chosen.iter().map(|p| (p.args)(&scope, &schema)).collect()
    };
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    for (p, args) in chosen.iter().zip(evaluated) {
        let result = match args {
            Err(ds) => Err(ds),
            Ok(args) if !args.is_wholly_known() => Err(vec![
                Diagnostic::error(
                    "brick::apply::provisioner_unknown",
                    "Provisioner arguments not known",
                    format!(
                        "{}: the local-exec provisioner's arguments are not known after the apply.",
                        c.addr
                    ),
                )
                .at(p.span),
            ]),
            Ok(args) => {
                tokio::select! {
                    r = run(&c.addr, &args, events) => r.map_err(|d| vec![d.at(p.span)]),
                    _ = cancel.aborted() => Err(vec![Diagnostic::error(
                        "brick::apply::provisioner_cancelled",
                        "Provisioner cancelled",
                        format!("{}: the local-exec provisioner was stopped by the second interrupt.", c.addr),
                    )]),
                }
            }
        };
        match result {
            Ok(()) => {}
            Err(ds) if p.on_failure_continue => warnings.extend(ds.into_iter().map(|mut d| {
                d.severity = crate::diag::Severity::Warning;
                d.detail.push_str(" (on_failure = continue: carried on)");
                d
            })),
            Err(ds) => {
                errors.extend(ds);
                break;
            }
        }
    }
    (errors, warnings)
}
