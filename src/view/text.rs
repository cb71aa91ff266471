//! Plans as text, the way Terraform prints them: a symbol per action (`+`, `~`, `-/+`, `+/-`,
//! `-`, `<=`), nested values indented, `(known after apply)`, `(sensitive value)`,
//! `# forces replacement`, multi-line strings diffed line by line, and the closing
//! `Plan: N to add, N to change, N to destroy.` The value diffs are computed and printed by
//! [`super::diff`] from the same JSON form the JSON plan has, as Terraform's renderer does;
//! this module lays out the plan around them. Also `brick output` and `brick show` text.

use std::collections::BTreeMap;
use std::fmt::Write;

use brick_provider_api::provider::AttrPath;
use brick_provider_api::value::Kind;
use brick_provider_api::{Type, Value};
use serde_json::Value as Json;

use super::diff::{
    Act, Change, Diff, Matcher, Nest, Opts, Schema, attribute_name, block_diff, go_quote,
    output_diff,
};
use crate::plan::address::{InstanceAddr, ResourceMode};
use crate::plan::model::{
    Action, ActionReason, BlockShape, DeferredReason, OutputChange, Plan, PlanMode, ResourceChange,
    path_to_json,
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
    pub fn dark_gray(&self, s: &str) -> String {
        self.paint("90", s)
    }
    fn sym(&self, sym: Sym) -> String {
        match sym {
            Sym::None => " ".into(),
        }
    }
}

/// The symbol before nested lines of a plain value (`brick output`, `brick show`): none.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sym {
    None,
}

const UNKNOWN: &str = "(known after apply)";
const SENSITIVE: &str = "(sensitive value)";

/// Terraform wraps prose at its default 78 columns (lines of at most 77 characters).
const WRAP: usize = 77;

/// Greedy word wrapping, line by line; lines that start with a space are left alone.
fn word_wrap(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            if line.starts_with(' ') {
                return line.to_string();
            }
            let mut out = String::new();
            let mut len = 0;
            for word in line.split(' ') {
                if len > 0 && len + 1 + word.chars().count() > WRAP {
                    out.push('\n');
                    len = 0;
                } else if len > 0 || out.ends_with(' ') {
                    out.push(' ');
                    len += 1;
                }
                out.push_str(word);
                len += word.chars().count();
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn rule(style: Style) -> String {
    style.dark_gray(&format!("\n{}", "─".repeat(WRAP)))
}

/// Terraform's action symbol before a resource header (three columns, or the replace pair).
fn action_symbol(action: Action, style: Style) -> String {
    match action {
        Action::Create => format!("  {}", style.green("+")),
        Action::Delete => format!("  {}", style.red("-")),
        Action::Update => format!("  {}", style.yellow("~")),
        Action::DeleteThenCreate => format!("{}/{}", style.red("-"), style.green("+")),
        Action::CreateThenDelete => format!("{}/{}", style.green("+"), style.red("-")),
        Action::Read => format!(" {}", style.cyan("<=")),
        Action::Forget => format!(" {}", style.red(".")),
        Action::NoOp => "   ".to_string(),
    }
}

fn act_symbol(a: Act, style: Style) -> String {
    match a {
        Act::Create => format!("  {}", style.green("+")),
        Act::Delete => format!("  {}", style.red("-")),
        Act::Update => format!("  {}", style.yellow("~")),
        Act::NoOp => "   ".to_string(),
    }
}

/// What the differ needs of a resource object's schema: its attribute types (the schema's
/// dynamic attributes as `Type::Dynamic`, the others as their values' types) and its nested
/// block types (from the plan's schema shapes).
fn object_schema(plan: &Plan, addr: &InstanceAddr, values: &[&Value]) -> Schema {
    let shape = plan
        .schemas
        .get(&crate::plan::relevant::type_key(&addr.resource))
        .cloned()
        .unwrap_or_default();
    let types: Vec<Type> = values.iter().map(|v| v.ty()).collect();
    schema_of(&shape, &types)
}

/// A schema from a block shape and the object types values of it have.
fn schema_of(shape: &BlockShape, types: &[Type]) -> Schema {
    let mut attrs: BTreeMap<String, Type> = BTreeMap::new();
    for t in types {
        if let Type::Object(m) = t {
            for (k, t) in m {
                attrs.entry(k.clone()).or_insert_with(|| t.clone());
            }
        }
    }
    for n in &shape.dynamic {
        attrs.insert(n.clone(), Type::Dynamic);
    }
    let mut blocks = BTreeMap::new();
    for (name, nested) in &shape.blocks {
        let nest = match nested.nesting.as_str() {
            "list" => Nest::List,
            "set" => Nest::Set,
            "map" => Nest::Map,
            _ => Nest::Single,
        };
        // The nested block's object type, from the values' types of the block.
        let inner: Vec<Type> = attrs
            .get(name)
            .map(|t| match (nest, t) {
                (Nest::Single, t) => t.clone(),
                (_, Type::List(e) | Type::Set(e) | Type::Map(e)) => (**e).clone(),
                (_, t) => t.clone(),
            })
            .into_iter()
            .collect();
        attrs.remove(name);
        blocks.insert(name.clone(), (nest, schema_of(&nested.block, &inner)));
    }
    Schema { attrs, blocks }
}

/// The computed diff of one resource object, as Terraform's renderer computes it from the
/// JSON plan.
fn object_diff(
    plan: &Plan,
    addr: &InstanceAddr,
    before: &Value,
    after: &Value,
    replace_paths: &[AttrPath],
    relevant: Matcher,
    forget: bool,
) -> Diff {
    let j = crate::view::json::change_json(before, after, &[]);
    let get = |k: &str| j.get(k).cloned().unwrap_or(Json::Null);
    let mut change = Change::from_json(
        get("before"),
        get("after"),
        get("after_unknown"),
        get("before_sensitive"),
        get("after_sensitive"),
        Matcher::paths(
            replace_paths
                .iter()
                .map(|p| match path_to_json(p) {
                    Json::Array(xs) => xs,
                    _ => Vec::new(),
                })
                .collect(),
            false,
        ),
        relevant,
    );
    if forget {
        change = change.into_noop();
    }
    let schema = object_schema(plan, addr, &[after, before]);
    block_diff(&change, &schema)
}

/// The comment lines above a resource block (Terraform's `resourceChangeComment`).
fn change_comment(
    c: &ResourceChange,
    drift: bool,
    tainted_reason: Option<&str>,
    style: Style,
) -> String {
    let addr = c.addr.to_string();
    let b = |s: &str| style.bold(s);
    let mut buf = String::new();
    let mut printed_moved = false;
    let mut printed_imported = false;
    match c.action {
        Action::Create => buf.push_str(&format!("  # {} will be created", b(&addr))),
        Action::Read => {
            buf.push_str(&format!("  # {} will be read during apply", b(&addr)));
            match c.reason {
                Some(ActionReason::ReadBecauseConfigUnknown) => {
                    buf.push_str("\n  # (config refers to values not yet known)")
                }
                Some(ActionReason::ReadBecauseDependencyPending) => {
                    buf.push_str("\n  # (depends on a resource or a module with changes pending)")
                }
                _ => {}
            }
        }
        Action::Update if drift => buf.push_str(&format!("  # {} has changed", b(&addr))),
        Action::Update => buf.push_str(&format!("  # {} will be updated in-place", b(&addr))),
        Action::DeleteThenCreate | Action::CreateThenDelete => {
            let r = style.bold(&style.red("replaced"));
            buf.push_str(&match c.reason {
                Some(ActionReason::ReplaceBecauseTainted) => {
                    format!("  # {} is tainted, so must be {r}", b(&addr))
                }
                Some(ActionReason::ReplaceByRequest) => {
                    format!("  # {} will be {r}, as requested", b(&addr))
                }
                Some(ActionReason::ReplaceByTriggers) => format!(
                    "  # {} will be {r} due to changes in replace_triggered_by",
                    b(&addr)
                ),
                _ => format!("  # {} must be {r}", b(&addr)),
            });
            // brick's own note: why the instance is tainted, when the state says.
            if c.reason == Some(ActionReason::ReplaceBecauseTainted)
                && let Some(why) = tainted_reason
            {
                buf.push_str(&format!("\n  # ({why})"));
            }
        }
        Action::Forget => {
            buf.push_str(&format!(
                " # {} will no longer be managed by brick, but {}",
                b(&addr),
                style.bold(&style.red("will not be destroyed"))
            ));
            buf.push_str("\n # (destroy = false is set in the configuration)");
        }
        Action::Delete => {
            if drift {
                buf.push_str(&format!("  # {} has been deleted", b(&addr)));
            } else {
                buf.push_str(&format!(
                    "  # {} will be {}",
                    b(&addr),
                    style.bold(&style.red("destroyed"))
                ));
            }
            let index = c.addr.key.to_string();
            match c.reason {
                Some(ActionReason::DeleteBecauseNoResourceConfig) => buf.push_str(&format!(
                    "\n  # (because {}.{} is not in configuration)",
                    c.addr.resource.type_name, c.addr.resource.name
                )),
                Some(ActionReason::DeleteBecauseNoModule) => buf.push_str(&format!(
                    "\n  # (because {} is not in configuration)",
                    c.addr.resource.module
                )),
                Some(ActionReason::DeleteBecauseWrongRepetition) => {
                    buf.push_str(match c.addr.key.to_json() {
                        None => "\n  # (because resource uses count or for_each)",
                        Some(Json::Number(_)) => "\n  # (because resource does not use count)",
                        Some(_) => "\n  # (because resource does not use for_each)",
                    })
                }
                Some(ActionReason::DeleteBecauseCountIndex) => buf.push_str(&format!(
                    "\n  # (because index {index} is out of range for count)"
                )),
                Some(ActionReason::DeleteBecauseEachKey) => buf.push_str(&format!(
                    "\n  # (because key {index} is not in for_each map)"
                )),
                _ => {}
            }
        }
        Action::NoOp => {
            if let Some(prev) = c.previous_addr.as_ref().filter(|p| **p != c.addr) {
                buf.push_str(&format!(
                    "  # {} has moved to {}",
                    b(&prev.to_string()),
                    b(&addr)
                ));
                printed_moved = true;
            } else if c.importing.is_some() {
                buf.push_str(&format!("  # {} will be imported", b(&addr)));
                printed_imported = true;
            }
        }
    }
    buf.push('\n');
    if let Some(prev) = c.previous_addr.as_ref().filter(|p| **p != c.addr)
        && !printed_moved
    {
        buf.push_str(&format!("  # (moved from {prev})\n"));
    }
    if let Some(id) = &c.importing
        && !printed_imported
    {
        buf.push_str(&format!("  # (imported from {})\n", go_quote(id)));
    }
    if c.importing.is_some() && c.action.is_replace() {
        buf.push_str(&format!(
            "  # {}\n",
            style.yellow("Warning: this will destroy the imported resource")
        ));
    }
    buf
}

fn header(addr: &InstanceAddr) -> String {
    let mode = if addr.resource.mode == ResourceMode::Data {
        "data"
    } else {
        "resource"
    };
    format!(
        "{mode} \"{}\" \"{}\"",
        addr.resource.type_name, addr.resource.name
    )
}

/// One resource change as `brick plan` prints it (Terraform's `renderHumanDiff`).
fn render_change(plan: &Plan, c: &ResourceChange, style: Style) -> String {
    let diff = object_diff(
        plan,
        &c.addr,
        &c.before,
        &c.after,
        &c.replace_paths,
        Matcher::Always,
        c.action == Action::Forget,
    );
    let mut opts = Opts::new(style);
    opts.show_unchanged_children = c.importing.is_some();
    let why = plan.tainted_reasons.get(&c.addr.to_string());
    format!(
        "{}{} {} {}",
        change_comment(c, false, why.map(String::as_str), style),
        action_symbol(c.action, style),
        header(&c.addr),
        diff.render(0, &opts)
    )
}

/// The drift section, or `None` when there is nothing to show (Terraform's
/// `renderHumanDiffDrift`).
fn render_drift(plan: &Plan, style: Style, plan_is_empty: bool) -> Option<String> {
    let mut rendered = Vec::new();
    for d in &plan.drift {
        let relevant = if plan.mode == PlanMode::RefreshOnly {
            Matcher::Always
        } else {
            let addr = d.addr.to_string();
            let paths: Vec<Vec<Json>> = plan
                .relevant_attributes
                .iter()
                .filter(|(r, _)| r.is_empty() || *r == addr)
                .map(|(_, p)| p.clone())
                .collect();
            if paths.is_empty() {
                continue;
            }
            Matcher::paths(paths, true)
        };
        let diff = object_diff(plan, &d.addr, &d.before, &d.after, &[], relevant, false);
        let action = if d.after.is_null() {
            Action::Delete
        } else {
            Action::Update
        };
        if plan.mode != PlanMode::RefreshOnly && diff.action == Act::NoOp {
            continue;
        }
        let as_change = ResourceChange {
            addr: d.addr.clone(),
            previous_addr: None,
            provider: d.provider.clone(),
            action,
            reason: None,
            before: d.before.clone(),
            after: d.after.clone(),
            replace_paths: Vec::new(),
            depends_on: Vec::new(),
            create_before_destroy: false,
            importing: None,
            schema_version: 0,
        };
        rendered.push(format!(
            "{}{} {} {}",
            change_comment(&as_change, true, None, style),
            action_symbol(action, style),
            header(&d.addr),
            diff.render(0, &Opts::new(style))
        ));
    }
    if rendered.is_empty() || (plan_is_empty && plan.mode != PlanMode::RefreshOnly) {
        return None;
    }
    let mut out = format!(
        "\n{} {}\n\n",
        style.bold(&style.cyan("Note:")),
        style.bold("Objects have changed outside of brick")
    );
    out.push_str(&word_wrap(
        "brick detected the following changes made outside of brick since the last \"brick apply\" which may have affected this plan:\n",
    ));
    for r in rendered {
        let _ = write!(out, "\n{r}\n");
    }
    let closing = if plan.mode == PlanMode::RefreshOnly {
        "\n\nThis is a refresh-only plan, so brick will not take any actions to undo these. If you were expecting these changes then you can apply this plan to record the updated values in the brick state without changing any remote objects."
    } else {
        "\n\nUnless you have made equivalent changes to your configuration, or ignored the relevant attributes using ignore_changes, the following plan may include actions to undo or respond to these changes."
    };
    out.push_str(&word_wrap(closing));
    out.push('\n');
    Some(out)
}

/// The output changes, each `SYM NAME = VALUE`, names aligned over every output of the plan.
fn render_outputs_changes(plan: &Plan, style: Style) -> Vec<String> {
    let json = crate::view::json::output_changes(plan);
    let width = plan
        .outputs
        .iter()
        .map(|o| attribute_name(&o.name).len())
        .max()
        .unwrap_or(0);
    let mut out = Vec::new();
    let mut outputs: Vec<&OutputChange> = plan.outputs.iter().collect();
    outputs.sort_by(|a, b| a.name.cmp(&b.name));
    for o in outputs {
        let Some(j) = json.get(&o.name) else { continue };
        let get = |k: &str| j.get(k).cloned().unwrap_or(Json::Null);
        let change = Change::from_json(
            get("before"),
            get("after"),
            get("after_unknown"),
            get("before_sensitive"),
            get("after_sensitive"),
            Matcher::paths(Vec::new(), false),
            Matcher::Always,
        );
        let diff = output_diff(&change);
        if diff.action == Act::NoOp {
            continue;
        }
        out.push(format!(
            "{} {:<width$} = {}",
            act_symbol(diff.action, style),
            attribute_name(&o.name),
            diff.render(0, &Opts::new(style))
        ));
    }
    out
}

/// A whole plan, as `brick plan` prints it (Terraform's `renderHuman`).
pub fn render_plan(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    let changes: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| {
            let moved = c.previous_addr.as_ref().is_some_and(|p| *p != c.addr);
            let quiet = c.action == Action::NoOp && !moved && c.importing.is_none();
            let data_delete =
                c.action == Action::Delete && c.addr.resource.mode != ResourceMode::Managed;
            !quiet && !data_delete
        })
        .collect();
    let outputs = render_outputs_changes(plan, style);
    let plan_is_empty = !plan.changes.iter().any(|c| {
        c.action != Action::NoOp || c.previous_addr.as_ref().is_some_and(|p| *p != c.addr)
    }) && outputs.is_empty();
    let drift = render_drift(plan, style, plan_is_empty);
    let have_drift = drift.is_some();
    if let Some(d) = drift {
        out.push_str(&d);
    }
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut importing = 0;
    for c in &changes {
        if c.importing.is_some() {
            importing += 1;
        }
        if c.action != Action::NoOp {
            *counts.entry(action_key(c.action)).or_default() += 1;
        }
    }
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    if changes.is_empty() && outputs.is_empty() {
        if plan.errored {
            if have_drift {
                out.push_str(&rule(style));
                out.push('\n');
            }
            out.push_str(&format!(
                "\n{} {}\n\n",
                style.bold(&style.red("Planning failed.")),
                style.bold("brick encountered an error while generating this plan.")
            ));
        } else if !plan.deferred.is_empty() {
            if have_drift {
                out.push_str(&rule(style));
                out.push('\n');
            }
            out.push_str(&format!(
                "\n{} {}\n\n",
                style.bold(&style.green("No current changes.")),
                style.bold("This plan requires another plan to be applied first.")
            ));
        } else {
            match plan.mode {
                PlanMode::RefreshOnly => {
                    if have_drift {
                        return out;
                    }
                    out.push_str(&format!(
                        "\n{} {}\n\n",
                        style.bold(&style.green("No changes.")),
                        style.bold("Your infrastructure still matches the configuration.")
                    ));
                    out.push_str(&word_wrap("brick has checked that the real remote objects still match the result of your most recent changes, and found no differences."));
                    out.push('\n');
                }
                PlanMode::Destroy => {
                    if have_drift {
                        out.push_str(&rule(style));
                        out.push('\n');
                    }
                    out.push_str(&format!(
                        "\n{} {}\n\n",
                        style.bold(&style.green("No changes.")),
                        style.bold("No objects need to be destroyed.")
                    ));
                    out.push_str(&word_wrap("Either you have not created any objects yet or the existing objects were already deleted outside of brick."));
                    out.push('\n');
                }
                PlanMode::Normal => {
                    if have_drift {
                        out.push_str(&rule(style));
                        out.push('\n');
                    }
                    out.push_str(&format!(
                        "\n{} {}\n\n",
                        style.bold(&style.green("No changes.")),
                        style.bold("Your infrastructure matches the configuration.")
                    ));
                    if have_drift {
                        out.push_str(&word_wrap("Your configuration already matches the changes detected above, so applying this plan will only update the state to include the changes detected above and won't change any real infrastructure."));
                        out.push('\n');
                        return out;
                    }
                    out.push_str(&word_wrap("brick has compared your real infrastructure against your configuration and found no differences, so no changes are needed."));
                    out.push('\n');
                }
            }
        }
    }
    if have_drift {
        out.push_str(&rule(style));
        out.push('\n');
    }
    render_deferred(&mut out, plan, style);
    if !counts.is_empty() {
        out.push_str(&word_wrap("\nbrick used the selected providers to generate the following execution plan. Resource actions are indicated with the following symbols:"));
        out.push('\n');
        for (key, line) in [
            ("create", format!("  {} create", style.green("+"))),
            ("update", format!("  {} update in-place", style.yellow("~"))),
            ("delete", format!("  {} destroy", style.red("-"))),
            (
                "delete-create",
                format!(
                    "{}/{} destroy and then create replacement",
                    style.red("-"),
                    style.green("+")
                ),
            ),
            (
                "create-delete",
                format!(
                    "{}/{} create replacement and then destroy",
                    style.green("+"),
                    style.red("-")
                ),
            ),
            (
                "read",
                format!(" {} read (data resources)", style.cyan("<=")),
            ),
        ] {
            if count(key) > 0 {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    if !changes.is_empty() {
        if plan.errored {
            out.push_str(
                "\nbrick planned the following actions, but then encountered a problem:\n",
            );
        } else {
            out.push_str("\nbrick will perform the following actions:\n");
        }
        for c in &changes {
            let _ = write!(out, "\n{}\n", render_change(plan, c, style));
        }
        let _ = write!(out, "\n{} ", style.bold("Plan:"));
        if importing > 0 {
            let _ = write!(out, "{importing} to import, ");
        }
        let replaced = count("delete-create") + count("create-delete");
        let _ = writeln!(
            out,
            "{} to add, {} to change, {} to destroy.",
            count("create") + replaced,
            count("update"),
            count("delete") + replaced
        );
    }
    if !outputs.is_empty() {
        out.push_str("\nChanges to Outputs:\n");
        out.push_str(&outputs.join("\n"));
        out.push('\n');
        if counts.is_empty() {
            out.push_str(&word_wrap("\nYou can apply this plan to save these new output values to the brick state, without changing any real infrastructure."));
            out.push('\n');
        }
    }
    out
}

fn action_key(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::DeleteThenCreate => "delete-create",
        Action::CreateThenDelete => "create-delete",
        Action::Read => "read",
        Action::Forget => "forget",
        Action::NoOp => "no-op",
    }
}

/// The instances left for a later run (Terraform's `renderHumanDeferredDiff`), and the
/// providers configured only during apply.
fn render_deferred(out: &mut String, plan: &Plan, style: Style) {
    if !plan.configured_during_apply.is_empty() {
        let _ = writeln!(
            out,
            "\n{} {}\n",
            style.bold(&style.cyan("Note:")),
            style.bold("Some providers are configured only during apply.")
        );
        for l in &plan.configured_during_apply {
            let after: Vec<String> = l.depends_on.iter().map(|a| a.to_string()).collect();
            let line = if after.is_empty() {
                format!(
                    "provider \"{}\" is configured during apply, once its configuration is known.",
                    l.name
                )
            } else {
                format!(
                    "provider \"{}\" is configured during apply, once {} {} applied; its changes below are planned from configuration alone and planned again then.",
                    l.name,
                    after.join(", "),
                    if after.len() == 1 { "is" } else { "are" }
                )
            };
            let _ = writeln!(out, "  - {line}");
        }
    }
    if plan.deferred.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{} {}",
        style.bold(&style.cyan("Note:")),
        style.bold(
            "This is a partial plan, parts can only be known in the next plan / apply cycle."
        )
    );
    for d in &plan.deferred {
        let c = &d.change;
        let why = match d.reason {
            DeferredReason::ProviderConfigUnknown => format!(
                "because the configuration of provider \"{}\" is known only during apply; the next run plans it",
                c.provider
            ),
            DeferredReason::DeferredPrereq => {
                "because a prerequisite for this resource has been deferred".to_string()
            }
        };
        let diff = object_diff(
            plan,
            &c.addr,
            &c.before,
            &c.after,
            &c.replace_paths,
            Matcher::Always,
            false,
        );
        let _ = writeln!(
            out,
            "\n  {} was deferred\n  {}({})\n{} {} {}",
            style.bold(&format!("# {}", c.addr)),
            style.bold("# "),
            why,
            action_symbol(c.action, style),
            header(&c.addr),
            diff.render(0, &Opts::new(style))
        );
    }
    out.push_str(&rule(style));
    out.push('\n');
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
    // As Terraform's `Outputs:` and `terraform output`: each value as its console prints it,
    // a sensitive one as `<sensitive>`.
    let mut out = String::new();
    for (name, (v, sensitive)) in outputs {
        let text = if *sensitive {
            "<sensitive>".to_string()
        } else {
            crate::eval::value_to_display(&v.unmark_deep().0)
        };
        let _ = writeln!(out, "{name} = {text}");
    }
    out
}

/// A value as `brick output NAME` prints it (strings raw with `-raw`).
pub fn render_plain_value(v: &Value) -> String {
    crate::eval::value_to_display(&v.unmark_deep().0)
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
        let m = inst.value.as_mapping().cloned().unwrap_or_default();
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
