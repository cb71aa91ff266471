//! Renders the engine's drift report (`crate::drift::DriftReport`) for `brick drift --format`:
//! `text` for a terminal or a CI log, `markdown` for a pull-request comment or
//! `$GITHUB_STEP_SUMMARY` (kept under GitHub's comment limit by folding long values and, past
//! a budget, whole sections), and `json`, the versioned document described by
//! `schemas/drift-report.schema.json`. Decides nothing: the model says what counts.

use serde_json::{Value as Json, json};

use crate::drift::{
    DriftReport, DriftValue, DriftedObject, FORMAT_VERSION, Ignored, PathDrift, path_json,
    path_text, severity_str,
};
use brick_provider_api::DriftSeverity;

/// GitHub refuses comments longer than 65,536 characters; the Markdown report stays below
/// this, leaving room for what a workflow adds around it.
pub const MARKDOWN_BUDGET: usize = 60_000;
/// Values longer than this are folded in the Markdown report (`…, N characters`).
const MARKDOWN_VALUE: usize = 200;
/// Values longer than this are folded in the text report.
const TEXT_VALUE: usize = 400;

fn value_text(v: &DriftValue) -> String {
    match v {
        DriftValue::Absent => "(absent)".to_string(),
        DriftValue::Sensitive => "(sensitive value)".to_string(),
        DriftValue::Json(j) => serde_json::to_string(j).unwrap_or_default(),
    }
}

/// A value cut to `max` characters, saying how long it was.
fn folded(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max).collect();
    format!("{head}… ({n} characters)")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn annotations(c: &PathDrift) -> String {
    let mut parts = Vec::new();
    if let Some(b) = &c.by {
        parts.push(format!("by {b}"));
    }
    if c.severity != DriftSeverity::Normal {
        parts.push(severity_str(c.severity).to_string());
    }
    if let Some(d) = &c.detail {
        parts.push(d.clone());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("  ({})", parts.join("; "))
    }
}

fn object_heading(o: &DriftedObject) -> String {
    let mut h = format!("{}: {}", o.address, o.classification.as_str());
    if o.severity != DriftSeverity::Normal {
        h.push_str(&format!(", {}", severity_str(o.severity)));
    }
    h
}

fn rule_text(i: &Ignored) -> String {
    match &i.reason {
        Some(r) => format!("rule {}: {r}", i.rule),
        None => format!("rule {}", i.rule),
    }
}

/// The closing verdict: what changed or was deleted outside of brick, how many objects were
/// checked (when known).
pub fn verdict(r: &DriftReport) -> String {
    let of = r
        .checked
        .map_or(String::new(), |n| format!(" ({n} object(s) checked)"));
    let mut out = if r.has_drift() {
        let deleted = r
            .drifted()
            .filter(|o| o.classification == crate::drift::Classification::Deleted)
            .count();
        let all = r.drifted().count();
        format!(
            "Drift: {} changed, {deleted} deleted outside of brick{of}.",
            all - deleted
        )
    } else {
        format!("No drift{of}.")
    };
    let ignored = r.ignored_count();
    if ignored > 0 {
        out.push_str(&format!(" Ignored by drift {{ ignore }} rules: {ignored}."));
    }
    out.push('\n');
    out.push_str(&match &r.pending {
        None => "Pending changes: unknown (planning the configuration failed).".to_string(),
        Some(_) if !r.has_pending() => {
            "No pending changes: the configuration matches the state.".to_string()
        }
        Some(p) => format!(
            "Pending changes: {} in the configuration, not yet applied ({}).",
            pending_count(r, p.len()),
            if r.count_pending {
                "they count: --count-pending"
            } else {
                "not drift; --count-pending makes them count"
            }
        ),
    });
    out.push('\n');
    out
}

fn pending_count(r: &DriftReport, objects: usize) -> String {
    let mut s = plural(objects, "object", "objects");
    if r.pending_outputs > 0 {
        s.push_str(&format!(
            " and {}",
            plural(r.pending_outputs, "output", "outputs")
        ));
    }
    s
}

/// The text report.
pub fn render_text(r: &DriftReport) -> String {
    let mut out = String::new();
    let drifted: Vec<&DriftedObject> = r.drifted().collect();
    if drifted.is_empty() {
        out.push_str("No objects have changed outside of brick.\n");
    } else {
        out.push_str("Objects have changed outside of brick:\n");
        for o in &drifted {
            out.push_str(&format!("\n  # {}\n", object_heading(o)));
            if o.classification == crate::drift::Classification::Deleted {
                out.push_str("      (the object no longer exists)\n");
            }
            for c in &o.changes {
                out.push_str(&format!(
                    "      {}: {} → {}{}\n",
                    path_text(&c.path),
                    folded(&value_text(&c.before), TEXT_VALUE),
                    folded(&value_text(&c.after), TEXT_VALUE),
                    annotations(c)
                ));
            }
            for n in &o.notes {
                let mut parts = Vec::new();
                if let Some(b) = &n.by {
                    parts.push(format!("by {b}"));
                }
                if let Some(d) = &n.detail {
                    parts.push(d.clone());
                }
                let at = if n.path.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", path_text(&n.path))
                };
                out.push_str(&format!("      note: {at}{}\n", parts.join("; ")));
            }
            for i in &o.ignored {
                if let Some(c) = &i.change {
                    out.push_str(&format!(
                        "      ignored {}: {} → {}  ({})\n",
                        path_text(&c.path),
                        folded(&value_text(&c.before), TEXT_VALUE),
                        folded(&value_text(&c.after), TEXT_VALUE),
                        rule_text(i)
                    ));
                }
            }
        }
    }
    // Objects whose every change a rule ignored: listed, never silently dropped.
    let quiet: Vec<&DriftedObject> = r.objects.iter().filter(|o| !o.counts()).collect();
    if !quiet.is_empty() {
        out.push_str("\nIgnored by drift { ignore } rules (not counted):\n");
        for o in quiet {
            for i in &o.ignored {
                match &i.change {
                    None => out.push_str(&format!(
                        "  {}: {}  ({})\n",
                        o.address,
                        o.classification.as_str(),
                        rule_text(i)
                    )),
                    Some(c) => out.push_str(&format!(
                        "  {}.{}: {} → {}  ({})\n",
                        o.address,
                        path_text(&c.path),
                        folded(&value_text(&c.before), TEXT_VALUE),
                        folded(&value_text(&c.after), TEXT_VALUE),
                        rule_text(i)
                    )),
                }
            }
        }
    }
    if let Some(p) = &r.pending
        && !p.is_empty()
    {
        out.push_str("\nPending changes (the configuration differs from the state; `brick plan` shows them):\n");
        for c in p {
            out.push_str(&format!("  {}: {}\n", c.address, action_word(c.action)));
        }
    }
    out.push('\n');
    out.push_str(&verdict(r));
    out
}

fn action_word(a: crate::plan::model::Action) -> &'static str {
    use crate::plan::model::Action::*;
    match a {
        NoOp => "no-op",
        Create => "create",
        Read => "read",
        Update => "update",
        DeleteThenCreate | CreateThenDelete => "replace",
        Delete => "delete",
        Forget => "forget",
    }
}

// ---- Markdown ------------------------------------------------------------------------------

/// Text for an HTML context (a table cell, a summary): escaped, `|` kept out of table syntax.
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "&#124;")
        .replace('\n', " ")
}

fn code(s: &str) -> String {
    format!("<code>{}</code>", html(s))
}

fn md_value(v: &DriftValue) -> String {
    match v {
        DriftValue::Absent => "<i>absent</i>".to_string(),
        DriftValue::Sensitive => "<i>sensitive</i>".to_string(),
        DriftValue::Json(_) => code(&folded(&value_text(v), MARKDOWN_VALUE)),
    }
}

fn what_changed(o: &DriftedObject) -> String {
    if o.classification == crate::drift::Classification::Deleted {
        return "<i>deleted</i>".to_string();
    }
    let mut paths: Vec<String> = o
        .changes
        .iter()
        .map(|c| code(&path_text(&c.path)))
        .collect();
    if paths.len() > 3 {
        let more = paths.len() - 3;
        paths.truncate(3);
        paths.push(format!("and {more} more"));
    }
    paths.join(", ")
}

fn by_cell(o: &DriftedObject) -> String {
    let by = o.changed_by();
    if by.is_empty() {
        "—".to_string()
    } else {
        by.iter().map(|b| html(b)).collect::<Vec<_>>().join(", ")
    }
}

fn severity_cell(s: DriftSeverity) -> &'static str {
    match s {
        DriftSeverity::DataRisk => "🔴 data-risk",
        DriftSeverity::Normal => "🟡 normal",
        DriftSeverity::Cosmetic => "⚪ cosmetic",
    }
}

fn md_details(o: &DriftedObject) -> String {
    let mut s = format!(
        "<details><summary>{}: {}</summary>\n\n",
        code(&o.address),
        html(&object_heading(o)[o.address.len() + 2..])
    );
    if o.classification == crate::drift::Classification::Deleted {
        s.push_str("The object no longer exists.\n\n");
    }
    if !o.changes.is_empty() {
        s.push_str(
            "| Attribute | Before | After | By | Severity | Detail |\n|---|---|---|---|---|---|\n",
        );
        for c in &o.changes {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                code(&path_text(&c.path)),
                md_value(&c.before),
                md_value(&c.after),
                c.by.as_deref().map_or("—".to_string(), html),
                severity_str(c.severity),
                c.detail.as_deref().map_or(String::new(), html)
            ));
        }
        s.push('\n');
    }
    for n in &o.notes {
        let mut parts = Vec::new();
        if let Some(b) = &n.by {
            parts.push(format!("by {}", html(b)));
        }
        if let Some(d) = &n.detail {
            parts.push(html(d));
        }
        let at = if n.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", code(&path_text(&n.path)))
        };
        s.push_str(&format!("- {at}{}\n", parts.join("; ")));
    }
    if !o.notes.is_empty() {
        s.push('\n');
    }
    s.push_str("</details>\n\n");
    s
}

/// The Markdown report: a summary line, a table (address, type, what changed, by whom,
/// severity), details per object in `<details>` blocks, then what rules ignored and the
/// pending changes. Never longer than [`MARKDOWN_BUDGET`] characters.
pub fn render_markdown(r: &DriftReport) -> String {
    let drifted: Vec<&DriftedObject> = r.drifted().collect();
    let risky = drifted
        .iter()
        .filter(|o| o.severity == DriftSeverity::DataRisk)
        .count();
    let checked = r.checked.map_or(String::new(), |n| {
        format!(" ({} checked)", plural(n, "object", "objects"))
    });
    let mut out = if drifted.is_empty() {
        format!("### ✅ brick drift: no drift{checked}\n\n")
    } else {
        let risk = if risky > 0 {
            format!(", {risky} with data at risk")
        } else {
            String::new()
        };
        format!(
            "### ⚠️ brick drift: {} changed outside of brick{risk}{checked}\n\n",
            plural(drifted.len(), "object", "objects")
        )
    };
    let ignored = r.ignored_count();
    let pending = match &r.pending {
        None => "pending changes unknown".to_string(),
        Some(p) if r.has_pending() => format!(
            "{} pending in the configuration (not drift{})",
            pending_count(r, p.len()),
            if r.count_pending { ", counted" } else { "" }
        ),
        Some(_) => "no pending configuration changes".to_string(),
    };
    out.push_str(&format!(
        "{} · {} ignored by rules · {pending} · exit code {}\n\n",
        plural(drifted.len(), "drifted object", "drifted objects"),
        ignored,
        r.exit_code()
    ));
    // The closing sections are kept whatever happens: reserve room for them.
    let mut tail = String::new();
    if ignored > 0 {
        tail.push_str(&format!(
            "<details><summary>Ignored by drift rules ({ignored})</summary>\n\n| Address | Attribute | Rule | Reason |\n|---|---|---|---|\n"
        ));
        let mut rows = 0;
        for o in r.objects.iter() {
            for i in &o.ignored {
                rows += 1;
                if rows > 50 {
                    continue;
                }
                tail.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    code(&o.address),
                    i.change
                        .as_ref()
                        .map_or("<i>whole object</i>".to_string(), |c| code(&path_text(
                            &c.path
                        ))),
                    code(&i.rule),
                    i.reason.as_deref().map_or(String::new(), html)
                ));
            }
        }
        if rows > 50 {
            tail.push_str(&format!(
                "\n…and {} more (see the JSON report).\n",
                rows - 50
            ));
        }
        tail.push_str("\n</details>\n\n");
    }
    if let Some(p) = &r.pending
        && !p.is_empty()
    {
        tail.push_str(&format!(
            "<details><summary>Pending configuration changes ({})</summary>\n\nThe configuration differs from the state: `brick plan` shows these; they are not drift.\n\n",
            p.len()
        ));
        for (n, c) in p.iter().enumerate() {
            if n == 50 {
                tail.push_str(&format!("- …and {} more\n", p.len() - 50));
                break;
            }
            tail.push_str(&format!(
                "- {}: {}\n",
                code(&c.address),
                action_word(c.action)
            ));
        }
        tail.push_str("\n</details>\n\n");
    }
    tail.push_str("<sub>Made by <code>brick drift --format markdown</code>.</sub>\n");
    let budget = MARKDOWN_BUDGET.saturating_sub(tail.len() + 200);
    if !drifted.is_empty() {
        let mut table = String::from(
            "| Address | Type | What changed | By | Severity |\n|---|---|---|---|---|\n",
        );
        let mut shown = 0;
        for o in &drifted {
            let row = format!(
                "| {} | {} | {} | {} | {} |\n",
                code(&o.address),
                html(&o.type_name),
                what_changed(o),
                by_cell(o),
                severity_cell(o.severity)
            );
            if out.len() + table.len() + row.len() > budget / 2 {
                break;
            }
            table.push_str(&row);
            shown += 1;
        }
        out.push_str(&table);
        if shown < drifted.len() {
            out.push_str(&format!(
                "\n…and {} more objects: the report is folded to stay under GitHub's comment limit (see the JSON report).\n",
                drifted.len() - shown
            ));
        }
        out.push('\n');
        let mut detailed = 0;
        for o in drifted.iter().take(shown) {
            let d = md_details(o);
            if out.len() + d.len() > budget {
                break;
            }
            out.push_str(&d);
            detailed += 1;
        }
        if detailed < shown {
            out.push_str(&format!(
                "Details of {} more objects are left out to stay under GitHub's comment limit.\n\n",
                shown - detailed
            ));
        }
    }
    out.push_str(&tail);
    out
}

// ---- JSON ----------------------------------------------------------------------------------

fn value_json(v: &DriftValue) -> Json {
    match v {
        DriftValue::Absent | DriftValue::Sensitive => Json::Null,
        DriftValue::Json(j) => j.clone(),
    }
}

fn change_json(c: &PathDrift) -> Json {
    let sensitive =
        matches!(c.before, DriftValue::Sensitive) || matches!(c.after, DriftValue::Sensitive);
    // One sensitive side masks both: the other would tell what the secret was or became.
    let shown = |v: &DriftValue| {
        if sensitive { Json::Null } else { value_json(v) }
    };
    json!({
        "path": path_json(&c.path),
        "path_text": path_text(&c.path),
        "before": shown(&c.before),
        "after": shown(&c.after),
        "before_absent": matches!(c.before, DriftValue::Absent),
        "after_absent": matches!(c.after, DriftValue::Absent),
        "sensitive": sensitive,
        "severity": severity_str(c.severity),
        "changed_by": c.by,
        "detail": c.detail,
    })
}

/// The JSON report (`format_version` [`FORMAT_VERSION`]).
pub fn render_json(r: &DriftReport) -> Json {
    let resources: Vec<Json> = r
        .drifted()
        .map(|o| {
            json!({
                "address": o.address,
                "type": o.type_name,
                "provider": o.provider,
                "classification": o.classification.as_str(),
                "severity": severity_str(o.severity),
                "changed_by": o.changed_by(),
                "changes": o.changes.iter().map(change_json).collect::<Vec<_>>(),
                "notes": o.notes.iter().map(|n| json!({
                    "path": path_json(&n.path),
                    "changed_by": n.by,
                    "detail": n.detail,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let ignored: Vec<Json> = r
        .objects
        .iter()
        .flat_map(|o| {
            o.ignored.iter().map(|i| {
                json!({
                    "address": o.address,
                    "classification": o.classification.as_str(),
                    "rule": i.rule,
                    "reason": i.reason,
                    "change": i.change.as_ref().map(change_json),
                })
            })
        })
        .collect();
    let deleted = r
        .drifted()
        .filter(|o| o.classification == crate::drift::Classification::Deleted)
        .count();
    let data_risk = r
        .drifted()
        .filter(|o| o.severity == DriftSeverity::DataRisk)
        .count();
    json!({
        "format_version": FORMAT_VERSION,
        "brick_version": r.brick_version,
        "timestamp": r.timestamp,
        "checked": r.checked,
        "drift": r.has_drift(),
        "exit_code": r.exit_code(),
        "summary": {
            "drifted": resources.len(),
            "changed": resources.len() - deleted,
            "deleted": deleted,
            "data_risk": data_risk,
            "ignored": ignored.len(),
        },
        "resources": resources,
        "ignored": ignored,
        "pending": {
            "known": r.pending.is_some(),
            "has_changes": r.has_pending(),
            "counted": r.count_pending,
            "outputs": r.pending_outputs,
            "changes": r.pending.as_deref().unwrap_or_default().iter().map(|c| json!({
                "address": c.address,
                "action": action_word(c.action),
            })).collect::<Vec<_>>(),
        },
    })
}
