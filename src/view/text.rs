//! Plans as text, the way Terraform prints them: a symbol per action (`+`, `~`, `-/+`, `+/-`,
//! `-`, `<=`), nested values indented, `(known after apply)`, `(sensitive value)`,
//! `# forces replacement`, multi-line strings diffed line by line, and the closing
//! `Plan: N to add, N to change, N to destroy.`

use std::fmt::Write;

use brick_provider_api::Value;
use brick_provider_api::provider::{AttrPath, PathStep};
use brick_provider_api::value::Kind;

use crate::plan::address::ResourceMode;
use crate::plan::model::{
    Action, ActionReason, OutputChange, Plan, PlanMode, ResourceChange, ResourceDrift,
};

/// Colours for a terminal; all empty when colour is off.
#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn cyan(&self, s: &str) -> String {
        self.paint("36", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn sym(&self, sym: Sym) -> String {
        match sym {
            Sym::Create => self.green("+"),
            Sym::Delete => self.red("-"),
            Sym::Update => self.yellow("~"),
            Sym::None => " ".into(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sym {
    Create,
    Delete,
    Update,
    None,
}

const UNKNOWN: &str = "(known after apply)";
const SENSITIVE: &str = "(sensitive value)";

/// A whole plan, as `brick plan` prints it.
pub fn render_plan(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    let drift: Vec<&ResourceDrift> = plan.drift.iter().collect();
    if !drift.is_empty() {
        render_drift(&mut out, &drift, plan.mode, style);
    }
    let changes: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp || c.previous_addr.is_some() || c.importing.is_some())
        .collect();
    let output_changes: Vec<&OutputChange> = plan
        .outputs
        .iter()
        .filter(|o| o.action != Action::NoOp)
        .collect();
    if plan.mode == PlanMode::RefreshOnly {
        if drift.is_empty() {
            out.push_str("\nNo changes. Your infrastructure still matches the configuration.\n\nbrick has checked that the real remote objects still match the result of your\nmost recent changes, and found no differences.\n");
        } else {
            out.push_str("\nThis is a refresh-only plan, so brick will not take any actions to undo\nthese. If you were expecting these changes then you can apply this plan to\nrecord the updated values in the brick state without changing any remote\nobjects.\n");
        }
        return out;
    }
    if changes.is_empty() && output_changes.is_empty() {
        if plan.mode == PlanMode::Destroy {
            out.push_str("\nNo changes. No objects need to be destroyed.\n\nEither you have not created any objects yet or the existing objects were\nalready deleted outside of brick.\n");
        } else {
            out.push_str("\nNo changes. Your infrastructure matches the configuration.\n\nbrick has compared your real infrastructure against your configuration\nand found no differences, so no changes are needed.\n");
        }
        render_deferred(&mut out, plan);
        return out;
    }
    if !changes.is_empty() {
        out.push_str("\nbrick used the selected providers to generate the following execution\nplan. Resource actions are indicated with the following symbols:\n");
        let mut seen: Vec<Action> = Vec::new();
        for c in &changes {
            if !seen.contains(&c.action) {
                seen.push(c.action);
            }
        }
        for (a, line) in [
            (Action::Create, format!("  {} create", style.green("+"))),
            (
                Action::Update,
                format!("  {} update in-place", style.yellow("~")),
            ),
            (Action::Delete, format!("  {} destroy", style.red("-"))),
            (
                Action::DeleteThenCreate,
                format!(
                    "{}{} destroy and then create replacement",
                    style.red("-"),
                    style.green("/+")
                ),
            ),
            (
                Action::CreateThenDelete,
                format!(
                    "{}{} create replacement and then destroy",
                    style.green("+"),
                    style.red("/-")
                ),
            ),
            (
                Action::Read,
                format!(" {} read (data resources)", style.cyan("<=")),
            ),
            (Action::Forget, "  . forget".to_string()),
        ] {
            if seen.contains(&a) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out.push_str("\nbrick will perform the following actions:\n");
        for c in &changes {
            out.push('\n');
            let why = plan.tainted_reasons.get(&c.addr.to_string());
            render_change_noted(&mut out, c, style, why.map(String::as_str));
        }
        let (add, change, destroy) = plan.counts();
        let imports = plan
            .changes
            .iter()
            .filter(|c| c.importing.is_some())
            .count();
        let forgets = plan
            .changes
            .iter()
            .filter(|c| c.action == Action::Forget)
            .count();
        let mut line = format!("\n{} ", style.bold("Plan:"));
        if imports > 0 {
            let _ = write!(line, "{imports} to import, ");
        }
        let _ = write!(
            line,
            "{add} to add, {change} to change, {destroy} to destroy"
        );
        if forgets > 0 {
            let _ = write!(line, ", {forgets} to forget");
        }
        line.push_str(".\n");
        out.push_str(&line);
    }
    if !output_changes.is_empty() {
        out.push_str("\nChanges to Outputs:\n");
        for o in output_changes {
            render_output(&mut out, o, style);
        }
    }
    render_deferred(&mut out, plan);
    out
}

fn render_deferred(out: &mut String, plan: &Plan) {
    if plan.deferred.is_empty() {
        return;
    }
    out.push_str("\nDeferred: these resources cannot be planned until a later run:\n");
    for d in &plan.deferred {
        let _ = writeln!(out, "  # {} (deferred)\n  # ({})", d.addr, d.reason);
    }
}

fn render_drift(out: &mut String, drift: &[&ResourceDrift], mode: PlanMode, style: Style) {
    out.push_str(&format!(
        "\n{}\n\n",
        style.bold("Note: Objects have changed outside of brick")
    ));
    out.push_str("brick detected the following changes made outside of brick since the\nlast \"brick apply\" which may have affected this plan:\n");
    for d in drift {
        out.push('\n');
        let (ty, name) = (&d.addr.resource.type_name, &d.addr.resource.name);
        let key = d.addr.key.to_string();
        if d.after.is_null() {
            let _ = writeln!(
                out,
                "  # {} has been deleted",
                style.bold(&d.addr.to_string())
            );
            let _ = writeln!(out, "  {} resource {ty:?} {name:?} {{", style.red("-"));
            render_attrs(out, Some(&d.before), None, &[], 4, style, true);
            out.push_str("    }\n");
        } else {
            let _ = writeln!(out, "  # {} has changed", style.bold(&d.addr.to_string()));
            let _ = writeln!(out, "  {} resource {ty:?} {name:?} {{", style.yellow("~"));
            render_attrs(out, Some(&d.before), Some(&d.after), &[], 4, style, true);
            out.push_str("    }\n");
        }
        let _ = key;
    }
    if mode != PlanMode::RefreshOnly {
        out.push_str("\nUnless you have made equivalent changes to your configuration, or ignored the\nrelevant attributes using ignore_changes, the following plan may include\nactions to undo or respond to these changes.\n");
    }
    out.push_str(
        "\n─────────────────────────────────────────────────────────────────────────────\n",
    );
}

fn header(c: &ResourceChange, tainted_reason: Option<&str>) -> String {
    let addr = c.addr.to_string();
    let mut lines = Vec::new();
    if let Some(prev) = &c.previous_addr {
        if c.action == Action::NoOp {
            lines.push(format!("# {prev} has moved to {addr}"));
        } else {
            lines.push(format!("# {addr} (moved from {prev})"));
        }
    }
    let main = match c.action {
        Action::Create => format!("# {addr} will be created"),
        Action::Update => format!("# {addr} will be updated in-place"),
        Action::DeleteThenCreate | Action::CreateThenDelete => {
            if c.reason == Some(ActionReason::ReplaceBecauseTainted) {
                format!("# {addr} is tainted, so must be replaced")
            } else if c.reason == Some(ActionReason::ReplaceByRequest) {
                format!("# {addr} will be replaced, as requested")
            } else if c.reason == Some(ActionReason::ReplaceByTriggers) {
                format!("# {addr} will be replaced due to changes in replace_triggered_by")
            } else {
                format!("# {addr} must be replaced")
            }
        }
        Action::Delete => format!("# {addr} will be destroyed"),
        Action::Read => format!("# {addr} will be read during apply"),
        Action::Forget => format!("# {addr} will no longer be managed by brick"),
        Action::NoOp => String::new(),
    };
    if c.importing.is_some() {
        lines.push(format!("# {addr} will be imported"));
    }
    if !main.is_empty() && (c.importing.is_none() || c.action != Action::NoOp) {
        if c.importing.is_some() && c.action != Action::NoOp {
            lines.pop();
            lines.push(format!("{main}, after import"));
        } else if !(c.previous_addr.is_some() && c.action == Action::NoOp) {
            lines.push(main);
        }
    }
    match c.reason {
        Some(ActionReason::ReplaceBecauseTainted) if c.action.is_replace() => {
            if let Some(why) = tainted_reason {
                lines.push(format!("# ({why})"));
            }
        }
        Some(ActionReason::DeleteBecauseNoResourceConfig) => lines.push(format!(
            "# (because {} is not in configuration)",
            c.addr.resource
        )),
        Some(ActionReason::DeleteBecauseNoModule) => lines.push(format!(
            "# (because {} is not in configuration)",
            c.addr.resource.module
        )),
        Some(ActionReason::DeleteBecauseCountIndex) => lines.push(format!(
            "# (because index {} is out of range for count)",
            c.addr
                .key
                .to_string()
                .trim_matches(|ch| ch == '[' || ch == ']')
        )),
        Some(ActionReason::DeleteBecauseEachKey) => lines.push(format!(
            "# (because key {} is not in for_each map)",
            c.addr
                .key
                .to_string()
                .trim_matches(|ch| ch == '[' || ch == ']')
        )),
        Some(ActionReason::DeleteBecauseWrongRepetition) => {
            lines.push("# (because the resource's repetition mode changed)".into())
        }
        Some(ActionReason::ReadBecauseConfigUnknown) => {
            lines.push("# (config refers to values not yet known)".into())
        }
        _ => {}
    }
    lines.into_iter().map(|l| format!("  {l}\n")).collect()
}

/// One resource change block.
pub fn render_change(out: &mut String, c: &ResourceChange, style: Style) {
    render_change_noted(out, c, style, None)
}

/// [`render_change`], with the state's reason when the instance is tainted.
pub fn render_change_noted(
    out: &mut String,
    c: &ResourceChange,
    style: Style,
    tainted_reason: Option<&str>,
) {
    out.push_str(&header(c, tainted_reason));
    let (sym, kw) = match c.action {
        Action::Create => (style.green("+"), "resource"),
        Action::Update => (style.yellow("~"), "resource"),
        Action::DeleteThenCreate => (
            format!("{}{}", style.red("-"), style.green("/+")),
            "resource",
        ),
        Action::CreateThenDelete => (
            format!("{}{}", style.green("+"), style.red("/-")),
            "resource",
        ),
        Action::Delete => (style.red("-"), "resource"),
        Action::Read => (style.cyan("<="), "data"),
        Action::Forget => (".".to_string(), "resource"),
        Action::NoOp => (" ".to_string(), "resource"),
    };
    let kw = if c.addr.resource.mode == ResourceMode::Data {
        "data"
    } else {
        kw
    };
    let pad = if c.action.is_replace() {
        ""
    } else if c.action == Action::Read {
        " "
    } else {
        "  "
    };
    let _ = writeln!(
        out,
        "{pad}{sym} {kw} {:?} {:?} {{",
        c.addr.resource.type_name, c.addr.resource.name
    );
    let (before, after) = match c.action {
        Action::Create | Action::Read => (None, Some(&c.after)),
        Action::Delete | Action::Forget => (Some(&c.before), None),
        _ => (Some(&c.before), Some(&c.after)),
    };
    render_attrs(
        out,
        before,
        after,
        &c.replace_paths,
        4,
        style,
        c.action == Action::Update || c.action.is_replace() || c.action == Action::NoOp,
    );
    out.push_str("    }\n");
}

fn attr_map(v: Option<&Value>) -> std::collections::BTreeMap<String, Value> {
    v.and_then(|v| v.as_mapping().cloned()).unwrap_or_default()
}

/// The attributes of an object: created, deleted or changed, aligned on `=`.
fn render_attrs(
    out: &mut String,
    before: Option<&Value>,
    after: Option<&Value>,
    replace_paths: &[AttrPath],
    indent: usize,
    style: Style,
    hide_unchanged: bool,
) {
    let b = attr_map(before);
    let a = attr_map(after);
    let mut names: Vec<&String> = b.keys().chain(a.keys()).collect();
    names.sort();
    names.dedup();
    // Nulls are not shown (Terraform hides unset attributes).
    let shown: Vec<&String> = names
        .into_iter()
        .filter(|n| {
            let bn = b.get(*n).is_none_or(Value::is_null);
            let an = a.get(*n).is_none_or(Value::is_null);
            !(bn && an)
        })
        .collect();
    let width = shown.iter().map(|n| n.len()).max().unwrap_or(0);
    let mut hidden = 0;
    for name in shown {
        let bv = if before.is_some() { b.get(name) } else { None };
        let av = if after.is_some() { a.get(name) } else { None };
        let forces = replace_paths
            .iter()
            .any(|p| p.first() == Some(&PathStep::Attr(name.clone())));
        let unchanged = matches!((bv, av), (Some(x), Some(y)) if x == y);
        if unchanged && hide_unchanged && name != "id" && name != "name" {
            hidden += 1;
            continue;
        }
        render_attr(out, name, width, bv, av, forces, indent, style);
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "{}    # ({hidden} unchanged attribute{} hidden)",
            " ".repeat(indent),
            if hidden == 1 { "" } else { "s" }
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn render_attr(
    out: &mut String,
    name: &str,
    width: usize,
    before: Option<&Value>,
    after: Option<&Value>,
    forces: bool,
    indent: usize,
    style: Style,
) {
    let pad = " ".repeat(indent + 2);
    let suffix = if forces {
        format!(" {}", style.red("# forces replacement"))
    } else {
        String::new()
    };
    let before = before.filter(|v| !v.is_null());
    let after = after.filter(|v| !v.is_null());
    let (sym, text) = match (before, after) {
        (None, Some(a)) => (Sym::Create, render_value(a, indent + 4, Sym::Create, style)),
        (Some(b), None) => (
            Sym::Delete,
            format!(
                "{} -> null",
                render_value(b, indent + 4, Sym::Delete, style)
            ),
        ),
        (Some(b), Some(a)) if b == a => (Sym::None, render_value(a, indent + 4, Sym::None, style)),
        (Some(b), Some(a)) => (Sym::Update, diff_values(b, a, indent + 4, style)),
        (None, None) => return,
    };
    let _ = writeln!(
        out,
        "{pad}{} {name:<width$} = {text}{suffix}",
        style.sym(sym)
    );
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A value in HCL-like notation. Nested lines carry `sym` and are indented by `indent`.
fn render_value(v: &Value, indent: usize, sym: Sym, style: Style) -> String {
    if v.is_sensitive() {
        return SENSITIVE.into();
    }
    if !v.is_known() {
        return UNKNOWN.into();
    }
    let pad = " ".repeat(indent);
    match &v.kind {
        Kind::Null(_) => "null".into(),
        Kind::Unknown(_) => UNKNOWN.into(),
        Kind::Bool(b) => b.to_string(),
        Kind::Number(n) => n.to_string(),
        Kind::String(s) if s.contains('\n') => {
            let mut t = String::from("<<-EOT\n");
            for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                let _ = writeln!(t, "{pad}    {line}");
            }
            let _ = write!(t, "{pad}EOT");
            t
        }
        Kind::String(s) => quote(s),
        Kind::List(_, xs) | Kind::Set(_, xs) | Kind::Tuple(xs) => {
            if xs.is_empty() {
                return "[]".into();
            }
            let mut t = String::from("[\n");
            for x in xs {
                let _ = writeln!(
                    t,
                    "{pad}  {} {},",
                    style.sym(sym),
                    render_value(x, indent + 4, sym, style)
                );
            }
            let _ = write!(t, "{pad}]");
            t
        }
        Kind::Map(_, m) | Kind::Object(m) => {
            if m.is_empty() {
                return "{}".into();
            }
            let width = m.keys().map(|k| key_text(k).len()).max().unwrap_or(0);
            let mut t = String::from("{\n");
            for (k, x) in m {
                let _ = writeln!(
                    t,
                    "{pad}  {} {:<width$} = {}",
                    style.sym(sym),
                    key_text(k),
                    render_value(x, indent + 4, sym, style)
                );
            }
            let _ = write!(t, "{pad}}}");
            t
        }
    }
}

fn key_text(k: &str) -> String {
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ident { k.to_string() } else { quote(k) }
}

/// `before -> after`, or a nested diff for collections and multi-line strings.
fn diff_values(b: &Value, a: &Value, indent: usize, style: Style) -> String {
    if b.is_sensitive() || a.is_sensitive() {
        return format!("{SENSITIVE} -> {SENSITIVE}").replace(
            &format!("{SENSITIVE} -> {SENSITIVE}"),
            &format!("({} value)", "sensitive"),
        );
    }
    if !a.is_known() {
        return format!(
            "{} -> {UNKNOWN}",
            render_value(b, indent, Sym::Delete, style)
        );
    }
    let pad = " ".repeat(indent);
    match (&b.kind, &a.kind) {
        (Kind::String(x), Kind::String(y)) if x.contains('\n') || y.contains('\n') => {
            let mut t = String::from("<<-EOT\n");
            let diff = similar::TextDiff::from_lines(x.as_str(), y.as_str());
            for change in diff.iter_all_changes() {
                let sym = match change.tag() {
                    similar::ChangeTag::Delete => Sym::Delete,
                    similar::ChangeTag::Insert => Sym::Create,
                    similar::ChangeTag::Equal => Sym::None,
                };
                let line = change.value().strip_suffix('\n').unwrap_or(change.value());
                let _ = writeln!(t, "{pad}  {} {line}", style.sym(sym));
            }
            let _ = write!(t, "{pad}EOT");
            t
        }
        (Kind::Map(_, x) | Kind::Object(x), Kind::Map(_, y) | Kind::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            let width = keys.iter().map(|k| key_text(k).len()).max().unwrap_or(0);
            let mut t = String::from("{\n");
            let mut hidden = 0;
            for k in keys {
                let (line_sym, text) = match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) if p == q => {
                        hidden += 1;
                        continue;
                    }
                    (Some(p), Some(q)) => (Sym::Update, diff_values(p, q, indent + 4, style)),
                    (None, Some(q)) => {
                        (Sym::Create, render_value(q, indent + 4, Sym::Create, style))
                    }
                    (Some(p), None) => (
                        Sym::Delete,
                        format!(
                            "{} -> null",
                            render_value(p, indent + 4, Sym::Delete, style)
                        ),
                    ),
                    (None, None) => continue,
                };
                let _ = writeln!(
                    t,
                    "{pad}  {} {:<width$} = {text}",
                    style.sym(line_sym),
                    key_text(k)
                );
            }
            if hidden > 0 {
                let _ = writeln!(
                    t,
                    "{pad}    # ({hidden} unchanged element{} hidden)",
                    if hidden == 1 { "" } else { "s" }
                );
            }
            let _ = write!(t, "{pad}}}");
            t
        }
        (
            Kind::List(_, x) | Kind::Set(_, x) | Kind::Tuple(x),
            Kind::List(_, y) | Kind::Set(_, y) | Kind::Tuple(y),
        ) => {
            let xs: Vec<String> = x
                .iter()
                .map(|v| render_value(v, indent + 4, Sym::None, Style { color: false }))
                .collect();
            let ys: Vec<String> = y
                .iter()
                .map(|v| render_value(v, indent + 4, Sym::None, Style { color: false }))
                .collect();
            let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &xs, &ys);
            let mut t = String::from("[\n");
            let mut hidden = 0;
            for op in ops {
                for (tag, old, new) in op
                    .iter_changes(&xs, &ys)
                    .map(|c| (c.tag(), c.old_index(), c.new_index()))
                {
                    match tag {
                        similar::ChangeTag::Equal => hidden += 1,
                        similar::ChangeTag::Delete => {
                            let v = &x[old.unwrap_or(0)];
                            let _ = writeln!(
                                t,
                                "{pad}  {} {},",
                                style.sym(Sym::Delete),
                                render_value(v, indent + 4, Sym::Delete, style)
                            );
                        }
                        similar::ChangeTag::Insert => {
                            let v = &y[new.unwrap_or(0)];
                            let _ = writeln!(
                                t,
                                "{pad}  {} {},",
                                style.sym(Sym::Create),
                                render_value(v, indent + 4, Sym::Create, style)
                            );
                        }
                    }
                }
            }
            if hidden > 0 {
                let _ = writeln!(
                    t,
                    "{pad}    # ({hidden} unchanged element{} hidden)",
                    if hidden == 1 { "" } else { "s" }
                );
            }
            let _ = write!(t, "{pad}]");
            t
        }
        _ => format!(
            "{} -> {}",
            render_value(b, indent, Sym::Delete, style),
            render_value(a, indent, Sym::Create, style)
        ),
    }
}

fn render_output(out: &mut String, o: &OutputChange, style: Style) {
    let (sym, text) = match o.action {
        Action::Create => (Sym::Create, render_value(&o.after, 4, Sym::Create, style)),
        Action::Delete => (
            Sym::Delete,
            format!("{} -> null", render_value(&o.before, 4, Sym::Delete, style)),
        ),
        _ => (Sym::Update, diff_values(&o.before, &o.after, 4, style)),
    };
    let text = if o.sensitive && o.action != Action::Delete {
        SENSITIVE.to_string()
    } else {
        text
    };
    let _ = writeln!(out, "  {} {} = {text}", style.sym(sym), o.name);
}

/// `Apply complete! Resources: N added, N changed, N destroyed.`
pub fn apply_summary(
    added: usize,
    changed: usize,
    destroyed: usize,
    destroy_mode: bool,
    style: Style,
) -> String {
    if destroy_mode {
        style.green(&style.bold(&format!(
            "Destroy complete! Resources: {destroyed} destroyed."
        )))
    } else {
        style.green(&style.bold(&format!(
            "Apply complete! Resources: {added} added, {changed} changed, {destroyed} destroyed."
        )))
    }
}

/// `name = value` lines for `brick output` and the end of apply.
pub fn render_outputs(outputs: &std::collections::BTreeMap<String, (Value, bool)>) -> String {
    let mut out = String::new();
    for (name, (v, sensitive)) in outputs {
        let text = if *sensitive {
            SENSITIVE.to_string()
        } else {
            render_value(v, 0, Sym::None, Style { color: false })
        };
        let _ = writeln!(out, "{name} = {text}");
    }
    out
}

/// A value as `brick output NAME` prints it (strings raw with `-raw`).
pub fn render_plain_value(v: &Value) -> String {
    render_value(&v.unmark_deep().0, 0, Sym::None, Style { color: false })
}

/// The state as `brick show` prints it.
pub fn render_state(state: &crate::plan::model::PriorState) -> String {
    let mut out = String::new();
    let style = Style { color: false };
    for (addr, inst) in &state.instances {
        let kw = if addr.resource.mode == ResourceMode::Data {
            "data"
        } else {
            "resource"
        };
        let _ = writeln!(
            out,
            "# {addr}:\n{kw} {:?} {:?} {{",
            addr.resource.type_name, addr.resource.name
        );
        let m = attr_map(Some(&inst.value));
        let shown: Vec<_> = m.iter().filter(|(_, v)| !v.is_null()).collect();
        let width = shown.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in shown {
            let _ = writeln!(
                out,
                "    {k:<width$} = {}",
                render_value(v, 4, Sym::None, style)
            );
        }
        out.push_str("}\n\n");
    }
    if !state.outputs.is_empty() {
        out.push_str("\nOutputs:\n\n");
        out.push_str(&render_outputs(&state.outputs));
    }
    out
}
