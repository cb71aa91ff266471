//! The drift model: what `brick drift` found, told apart from pending configuration changes.
//! Built from a refresh-only plan (reality against the recorded state), the providers'
//! explanations of each drifted object (who changed it, how much it matters), the
//! configuration's `drift { ignore }` rules, and a plan without refresh (the configuration
//! against the recorded state). The views in `view/drift.rs` render it as text, Markdown or
//! versioned JSON; nothing here prints.

use brick_provider_api::Value;
use brick_provider_api::provider::{
    AttrPath, DriftExplanation, DriftNote, DriftRequest, DriftSeverity, PathStep,
};
use brick_provider_api::value::Kind;

use crate::config::{DriftIgnore, StaticStep};
use crate::diag::Diagnostic;
use crate::plan::model::{Action, Plan, ResourceDrift};
use crate::plan::providers::ProviderSet;

/// The version of the JSON report (`brick drift --format json`); documented in
/// `schemas/drift-report.schema.json`. The minor version grows with additions, the major one
/// with anything a consumer could trip on.
pub const FORMAT_VERSION: &str = "1.0";

/// `deleted`: the object is gone. `changed`: it exists with other attribute values (a MAAS
/// machine released behind brick's back is `changed`: its status is no longer `Deployed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classification {
    Deleted,
    Changed,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Deleted => "deleted",
            Classification::Changed => "changed",
        }
    }
}

/// The report's name of a severity.
pub fn severity_str(s: DriftSeverity) -> &'static str {
    match s {
        DriftSeverity::Cosmetic => "cosmetic",
        DriftSeverity::Normal => "normal",
        DriftSeverity::DataRisk => "data-risk",
    }
}

/// One attribute value of a drifted path: JSON (unknowns as null), or masked when sensitive.
#[derive(Clone, Debug, PartialEq)]
pub enum DriftValue {
    /// The attribute is absent (or null) on this side.
    Absent,
    Json(serde_json::Value),
    Sensitive,
}

/// One changed attribute path of a drifted object.
#[derive(Clone, Debug, PartialEq)]
pub struct PathDrift {
    pub path: AttrPath,
    pub before: DriftValue,
    pub after: DriftValue,
    pub severity: DriftSeverity,
    /// Who changed it, as the system records it.
    pub by: Option<String>,
    pub detail: Option<String>,
}

/// A change (or a whole object) left out of the count by a `drift { ignore }` rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Ignored {
    /// The rule as written (`maas_machine.node.tags`).
    pub rule: String,
    pub reason: Option<String>,
    /// The path ignored; `None` for a whole object.
    pub change: Option<PathDrift>,
}

/// What a provider said about a drifted object apart from its changed paths.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectNote {
    pub path: AttrPath,
    pub by: Option<String>,
    pub detail: Option<String>,
}

/// One object that differs from its recorded state.
#[derive(Clone, Debug, PartialEq)]
pub struct DriftedObject {
    pub address: String,
    pub type_name: String,
    pub provider: String,
    pub classification: Classification,
    /// The highest severity of what counts (a deleted object: `DataRisk` unless its provider
    /// says otherwise).
    pub severity: DriftSeverity,
    /// The changed paths that count (empty for a deleted object).
    pub changes: Vec<PathDrift>,
    /// What `drift { ignore }` rules left out.
    pub ignored: Vec<Ignored>,
    pub notes: Vec<ObjectNote>,
}

impl DriftedObject {
    /// Whether anything of it counts as drift (not everything was ignored).
    pub fn counts(&self) -> bool {
        match self.classification {
            Classification::Deleted => !self.ignored.iter().any(|i| i.change.is_none()),
            Classification::Changed => !self.changes.is_empty(),
        }
    }
    /// Everyone the system names as having changed it, in order of first mention.
    pub fn changed_by(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let named = self
            .changes
            .iter()
            .filter_map(|c| c.by.as_deref())
            .chain(self.notes.iter().filter_map(|n| n.by.as_deref()));
        for b in named {
            if !out.contains(&b) {
                out.push(b);
            }
        }
        out
    }
}

/// One pending change: the configuration differs from the recorded state.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingChange {
    pub address: String,
    pub action: Action,
}

/// Everything `brick drift` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct DriftReport {
    pub brick_version: String,
    pub timestamp: Option<String>,
    /// How many managed objects were refreshed (`None` when `--target`/`--exclude` narrowed
    /// the check).
    pub checked: Option<usize>,
    /// Every object that differs, the ones wholly ignored included, sorted by address.
    pub objects: Vec<DriftedObject>,
    /// `None` when pending changes were not computed (the plan without refresh failed).
    pub pending: Option<Vec<PendingChange>>,
    /// Whether the output values would change too (part of pending changes).
    pub pending_outputs: usize,
    /// Whether pending changes make the exit code 2 (`--count-pending`).
    pub count_pending: bool,
}

impl DriftReport {
    /// The objects whose drift counts.
    pub fn drifted(&self) -> impl Iterator<Item = &DriftedObject> {
        self.objects.iter().filter(|o| o.counts())
    }
    pub fn has_drift(&self) -> bool {
        self.drifted().next().is_some()
    }
    pub fn has_pending(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| !p.is_empty()) || self.pending_outputs > 0
    }
    /// 2 when drift counts (or pending changes, with `--count-pending`), else 0.
    pub fn exit_code(&self) -> u8 {
        if self.has_drift() || (self.count_pending && self.has_pending()) {
            2
        } else {
            0
        }
    }
    /// How many ignore entries apply (whole objects and single paths).
    pub fn ignored_count(&self) -> usize {
        self.objects.iter().map(|o| o.ignored.len()).sum()
    }
}

/// The pending changes of a plan made without refresh: every instance whose action is not a
/// no-op (reads of data sources left out), and how many outputs would change.
pub fn pending_of(plan: &Plan) -> (Vec<PendingChange>, usize) {
    let changes = plan
        .changes
        .iter()
        .filter(|c| !matches!(c.action, Action::NoOp | Action::Read) || c.importing.is_some())
        .map(|c| PendingChange {
            address: c.addr.to_string(),
            action: c.action,
        })
        .collect();
    let outputs = plan
        .outputs
        .iter()
        .filter(|o| o.action != Action::NoOp)
        .count();
    (changes, outputs)
}

/// Ignore rules that name no resource of the configuration (a typo, a resource since
/// removed): a warning each at the entry, since such a rule silently ignores nothing.
pub fn unmatched_ignores(
    ignores: &[DriftIgnore],
    config: &crate::input::Configuration,
) -> Vec<Diagnostic> {
    ignores
        .iter()
        .filter(|r| !config.resources.iter().any(|c| r.target.touches(&c.addr)))
        .map(|r| {
            Diagnostic::warning(
                "brick::drift::ignore_matches_nothing",
                "Drift ignore rule matches nothing",
                format!(
                    "The entry {} names no resource of the configuration, so it ignores nothing.",
                    r.text
                ),
            )
            .at(r.span)
            .help("Check the address: module.NAME.TYPE.NAME, then the attribute path.")
        })
        .collect()
}

/// Builds the drifted objects of a refresh-only plan: asks each one's provider to explain
/// it, applies the ignore rules. Diagnostics are warnings (a provider that cannot say who
/// changed something does not stop the report).
pub async fn drifted_objects(
    plan: &Plan,
    providers: &ProviderSet,
    ignores: &[DriftIgnore],
) -> (Vec<DriftedObject>, Vec<Diagnostic>) {
    let mut out = Vec::with_capacity(plan.drift.len());
    let mut diags = Vec::new();
    for d in &plan.drift {
        let (before, _) = d.before.unmark_deep();
        let (after, _) = d.after.unmark_deep();
        let live = (!d.after.is_null()).then_some(&after);
        let changed = match live {
            Some(_) => changed_paths(&d.before, &d.after),
            None => Vec::new(),
        };
        let mut explanation = match providers.get(&d.provider) {
            Some(p) => match p
                .explain_drift(DriftRequest {
                    type_name: &d.addr.resource.type_name,
                    recorded: &before,
                    live,
                    changed: &changed,
                })
                .await
            {
                Ok(e) => e,
                Err(ds) => {
                    for x in ds {
                        let x: Diagnostic = x.into();
                        diags.push(Diagnostic::warning(
                            "brick::drift::unexplained",
                            "Cannot tell who changed it",
                            format!("{}: {}", d.addr, x.detail),
                        ));
                    }
                    DriftExplanation::default()
                }
            },
            None => DriftExplanation::default(),
        };
        // What a provider says an object now is gets the schema's sensitive marks, as a
        // refreshed value does.
        if let (Some(now), Some(schema)) = (
            &explanation.still_exists,
            providers
                .schema(&d.provider)
                .and_then(|s| s.resources.get(&d.addr.resource.type_name)),
        ) {
            explanation.still_exists = Some(crate::plan::marks::mark_sensitive(now, &schema.block));
        }
        out.push(object_of(d, explanation, ignores));
    }
    out.sort_by(|a, b| a.address.cmp(&b.address));
    (out, diags)
}

/// One drifted object from its refresh result, its provider's explanation and the rules.
pub fn object_of(
    d: &ResourceDrift,
    explanation: DriftExplanation,
    ignores: &[DriftIgnore],
) -> DriftedObject {
    let notes = explanation.notes;
    let (classification, after) = match (&explanation.still_exists, d.after.is_null()) {
        (_, false) => (Classification::Changed, Some(d.after.clone())),
        // Gone as brick's object, there in another form: changed, shown against the record.
        (Some(now), true) => (Classification::Changed, Some(now.clone())),
        (None, true) => (Classification::Deleted, None),
    };
    let rules: Vec<&DriftIgnore> = ignores
        .iter()
        .filter(|r| r.target.matches(&d.addr))
        .collect();
    let mut obj = DriftedObject {
        address: d.addr.to_string(),
        type_name: d.addr.resource.type_name.clone(),
        provider: d.provider.clone(),
        classification,
        severity: DriftSeverity::Normal,
        changes: Vec::new(),
        ignored: Vec::new(),
        notes: Vec::new(),
    };
    // A rule without a path takes the whole object, whatever happened to it.
    if let Some(r) = rules.iter().find(|r| r.path.is_empty()) {
        obj.ignored.push(Ignored {
            rule: r.text.clone(),
            reason: r.reason.clone(),
            change: None,
        });
    }
    let whole_ignored = !obj.ignored.is_empty();
    let mut used_notes = vec![false; notes.len()];
    match &after {
        None => {
            let root = best_note(&notes, &[]);
            obj.severity = root
                .and_then(|i| notes[i].severity)
                .unwrap_or(DriftSeverity::DataRisk);
            if let Some(i) = root {
                used_notes[i] = true;
                obj.notes.push(ObjectNote {
                    path: Vec::new(),
                    by: notes[i].by.clone(),
                    detail: notes[i].detail.clone(),
                });
            }
        }
        Some(after) => {
            let mut paths = changed_paths(&d.before, after);
            if paths.is_empty() {
                paths.push(Vec::new());
            }
            let mut max = None;
            for path in paths {
                let note = best_note(&notes, &path);
                if let Some(i) = note {
                    used_notes[i] = true;
                    if notes[i].bookkeeping {
                        continue;
                    }
                }
                let n = note.map(|i| &notes[i]);
                let (mut before, mut after) = (value_at(&d.before, &path), value_at(after, &path));
                // One sensitive side masks both: the other would tell what the secret was or
                // became.
                if before == DriftValue::Sensitive || after == DriftValue::Sensitive {
                    (before, after) = (DriftValue::Sensitive, DriftValue::Sensitive);
                }
                let change = PathDrift {
                    before,
                    after,
                    severity: n.and_then(|n| n.severity).unwrap_or(DriftSeverity::Normal),
                    by: n.and_then(|n| n.by.clone()),
                    detail: n.and_then(|n| n.detail.clone()),
                    path,
                };
                let rule = rules
                    .iter()
                    .find(|r| !r.path.is_empty() && covers(&r.path, &change.path));
                if whole_ignored {
                    continue;
                }
                match rule {
                    Some(r) => obj.ignored.push(Ignored {
                        rule: r.text.clone(),
                        reason: r.reason.clone(),
                        change: Some(change),
                    }),
                    None => {
                        max = max.max(Some(change.severity));
                        obj.changes.push(change);
                    }
                }
            }
            obj.severity = max.unwrap_or(DriftSeverity::Normal);
        }
    }
    // Notes about no changed path (a machine's owner, its status message) are the object's;
    // their severity is about a change that did not happen, so it counts for nothing.
    for (n, used) in notes.iter().zip(used_notes) {
        if !used && !n.bookkeeping && (n.by.is_some() || n.detail.is_some()) {
            obj.notes.push(ObjectNote {
                path: n.path.clone(),
                by: n.by.clone(),
                detail: n.detail.clone(),
            });
        }
    }
    obj
}

/// The most specific note whose path covers `path` (a note about the whole object covers
/// no path: it is the object's, see [`object_of`]).
fn best_note(notes: &[DriftNote], path: &[PathStep]) -> Option<usize> {
    notes
        .iter()
        .enumerate()
        .filter(|(_, n)| path_prefix(&n.path, path) && (path.is_empty() || !n.path.is_empty()))
        .max_by_key(|(_, n)| n.path.len())
        .map(|(i, _)| i)
}

/// Whether `prefix` is a prefix of `path` (an attribute and a map key of the same name are
/// the same step: the schema decides which a value holds, the writer of a rule need not).
fn path_prefix(prefix: &[PathStep], path: &[PathStep]) -> bool {
    prefix.len() <= path.len()
        && prefix.iter().zip(path).all(|(a, b)| match (a, b) {
            (PathStep::Attr(x) | PathStep::Key(x), PathStep::Attr(y) | PathStep::Key(y)) => x == y,
            (PathStep::Index(x), PathStep::Index(y)) => x == y,
            _ => false,
        })
}

/// Whether an ignore rule's path covers a changed path.
fn covers(rule: &[StaticStep], path: &[PathStep]) -> bool {
    let steps: Option<AttrPath> = rule
        .iter()
        .map(|s| match s {
            StaticStep::Attr(a) => Some(PathStep::Attr(a.clone())),
            StaticStep::Index(v) => match (v.as_str(), v.as_number().and_then(|n| n.to_i64())) {
                (Some(k), _) => Some(PathStep::Key(k.to_string())),
                (None, Some(i)) if i >= 0 => Some(PathStep::Index(i as u64)),
                _ => None,
            },
        })
        .collect();
    steps.is_some_and(|s| path_prefix(&s, path))
}

/// The leaf paths where two values differ: objects and maps key by key, lists and tuples of
/// the same length index by index; anything else (sets, lists that grew or shrank, a
/// changed type) is one change at its path.
pub fn changed_paths(before: &Value, after: &Value) -> Vec<AttrPath> {
    let mut out = Vec::new();
    diff(before, after, &mut Vec::new(), &mut out);
    out
}

fn diff(a: &Value, b: &Value, at: &mut AttrPath, out: &mut Vec<AttrPath>) {
    if a.unmark_deep().0 == b.unmark_deep().0 {
        return;
    }
    match (&a.kind, &b.kind) {
        (Kind::Object(x), Kind::Object(y)) | (Kind::Map(_, x), Kind::Map(_, y)) => {
            let object = matches!(a.kind, Kind::Object(_));
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            let absent = Value::null_dynamic();
            for k in keys {
                at.push(if object {
                    PathStep::Attr(k.clone())
                } else {
                    PathStep::Key(k.clone())
                });
                diff(
                    x.get(k).unwrap_or(&absent),
                    y.get(k).unwrap_or(&absent),
                    at,
                    out,
                );
                at.pop();
            }
        }
        (Kind::List(_, x), Kind::List(_, y)) | (Kind::Tuple(x), Kind::Tuple(y))
            if x.len() == y.len() =>
        {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                at.push(PathStep::Index(i as u64));
                diff(p, q, at, out);
                at.pop();
            }
        }
        _ => out.push(at.clone()),
    }
}

/// The value at `path`, for the report.
fn value_at(v: &Value, path: &[PathStep]) -> DriftValue {
    let mut cur = v;
    for step in path {
        if cur.is_sensitive() {
            return DriftValue::Sensitive;
        }
        let next = match (step, &cur.kind) {
            (PathStep::Attr(k) | PathStep::Key(k), Kind::Object(m) | Kind::Map(_, m)) => m.get(k),
            (PathStep::Index(i), Kind::List(_, xs) | Kind::Tuple(xs)) => xs.get(*i as usize),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return DriftValue::Absent,
        }
    }
    if cur.contains_sensitive() {
        DriftValue::Sensitive
    } else if cur.is_null() {
        DriftValue::Absent
    } else {
        DriftValue::Json(crate::plan::codec::to_json(cur))
    }
}

/// A path as the configuration language writes it: `manifest.data["retention.ms"]`,
/// `block_devices[0].size`; the whole object is `(object)`.
pub fn path_text(path: &[PathStep]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            PathStep::Attr(a) if crate::config::is_identifier(a) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(a);
            }
            PathStep::Attr(k) | PathStep::Key(k) => {
                out.push_str(&format!("[{}]", serde_json::Value::String(k.clone())))
            }
            PathStep::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        "(object)".to_string()
    } else {
        out
    }
}

/// The path as JSON: attribute names and map keys as strings, indices as numbers.
pub fn path_json(path: &[PathStep]) -> serde_json::Value {
    serde_json::Value::Array(
        path.iter()
            .map(|s| match s {
                PathStep::Attr(a) | PathStep::Key(a) => serde_json::json!(a),
                PathStep::Index(i) => serde_json::json!(i),
            })
            .collect(),
    )
}
