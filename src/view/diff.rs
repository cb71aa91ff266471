//! Terraform's structured plan renderer, rebuilt for brick: a change in Terraform's JSON form
//! (`before`, `after`, `after_unknown`, `before_sensitive`, `after_sensitive`, `replace_paths`)
//! becomes a tree of [`Diff`]s, each with an action and a renderer, which then prints as
//! Terraform prints it: the same symbols, alignment, `# (N unchanged attributes hidden)`
//! summaries, list context lines, `jsonencode(...)` for JSON strings and line diffs for
//! multi-line strings. `tests/plandiff` proves the result against real Terraform 1.15.
//!
//! Attributes whose schema type is dynamic (brick_data's `input` and `output`) are compared
//! as plain JSON, as Terraform does; typed attributes use their type (lists keep order, sets
//! match equal elements, maps quote their keys).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use brick_provider_api::Type;
use serde_json::Value as Json;

use super::text::Style;

/// A diff's action, as Terraform's renderer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    NoOp,
    Create,
    Delete,
    Update,
}

/// Which attribute paths a change refers to (`replace_paths`, relevant attributes).
#[derive(Clone, Debug)]
pub enum Matcher {
    Always,
    Paths {
        paths: Vec<Vec<Json>>,
        propagate: bool,
    },
}

impl Matcher {
    pub fn paths(paths: Vec<Vec<Json>>, propagate: bool) -> Matcher {
        Matcher::Paths { paths, propagate }
    }
    fn none() -> Matcher {
        Matcher::paths(Vec::new(), false)
    }
    fn matches(&self) -> bool {
        match self {
            Matcher::Always => true,
            Matcher::Paths { paths, .. } => paths.iter().any(Vec::is_empty),
        }
    }
    fn matches_partial(&self) -> bool {
        match self {
            Matcher::Always => true,
            Matcher::Paths { paths, .. } => !paths.is_empty(),
        }
    }
    fn child(&self, step: Step<'_>) -> Matcher {
        match self {
            Matcher::Always => Matcher::Always,
            Matcher::Paths { paths, propagate } => {
                let mut out = Vec::new();
                for p in paths {
                    let Some(first) = p.first() else {
                        if *propagate {
                            out.push(p.clone());
                        }
                        continue;
                    };
                    let hit = match (step, first) {
                        (Step::Key(k), Json::String(s)) => s == k,
                        (Step::Index(i), Json::Number(n)) => n.as_f64() == Some(i as f64),
                        (Step::Index(i), Json::String(s)) => {
                            s.parse::<f64>().is_ok_and(|f| f as i64 == i as i64)
                        }
                        _ => false,
                    };
                    if hit {
                        out.push(p[1..].to_vec());
                    }
                }
                Matcher::paths(out, *propagate)
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// One value's change in Terraform's JSON terms. `Json::Null` is Terraform's nil; the
/// `explicit` flags say a key or index was present (with a null value).
///
/// A child change borrows its parts from its parent (`Cow`): a nested value is never copied
/// to be compared or rendered, which made the diff of a deep object (a CRD's schema)
/// quadratic in its depth.
#[derive(Clone, Debug)]
pub struct Change<'a> {
    pub before: Cow<'a, Json>,
    pub after: Cow<'a, Json>,
    pub before_explicit: bool,
    pub after_explicit: bool,
    pub unknown: Cow<'a, Json>,
    pub before_sensitive: Cow<'a, Json>,
    pub after_sensitive: Cow<'a, Json>,
    pub replace: Matcher,
    pub relevant: Matcher,
    pub non_legacy: bool,
}

impl<'a> Change<'a> {
    /// A whole change from its JSON plan parts.
    pub fn from_json(
        before: Json,
        after: Json,
        unknown: Json,
        before_sensitive: Json,
        after_sensitive: Json,
        replace: Matcher,
        relevant: Matcher,
    ) -> Change<'static> {
        Change {
            before: Cow::Owned(before),
            after: Cow::Owned(after),
            before_explicit: false,
            after_explicit: false,
            unknown: Cow::Owned(unknown),
            before_sensitive: Cow::Owned(before_sensitive),
            after_sensitive: Cow::Owned(after_sensitive),
            replace,
            relevant,
            non_legacy: false,
        }
    }

    fn is_unknown(&self) -> bool {
        *self.unknown == Json::Bool(true)
    }
    fn before_sens(&self) -> bool {
        *self.before_sensitive == Json::Bool(true)
    }
    fn after_sens(&self) -> bool {
        *self.after_sensitive == Json::Bool(true)
    }

    fn action(&self) -> Act {
        let b_nil = self.before.is_null();
        let a_nil = self.after.is_null();
        if (b_nil && !self.before_explicit) && (!a_nil || self.after_explicit) {
            return Act::Create;
        }
        if (a_nil && !self.after_explicit) && (!b_nil || self.before_explicit) {
            return Act::Delete;
        }
        if self.before == self.after
            && self.after_explicit == self.before_explicit
            && self.after_sens() == self.before_sens()
        {
            return Act::NoOp;
        }
        Act::Update
    }

    fn default_action_for_iteration(&self) -> Act {
        match (self.before.is_null(), self.after.is_null()) {
            (true, true) => Act::NoOp,
            (true, false) => Act::Create,
            (false, true) => Act::Delete,
            _ => Act::NoOp,
        }
    }

    /// The change as nothing happening (a `forget` shows the object as it is).
    pub fn into_noop(self) -> Change<'a> {
        Change {
            after: self.before.clone(),
            after_explicit: self.before_explicit,
            unknown: Cow::Owned(Json::Bool(false)),
            after_sensitive: self.before_sensitive.clone(),
            ..self
        }
    }

    fn as_delete(&self) -> Change<'_> {
        Change {
            before: Cow::Borrowed(&*self.before),
            after: Cow::Owned(Json::Null),
            before_explicit: self.before_explicit,
            after_explicit: false,
            unknown: Cow::Owned(Json::Null),
            before_sensitive: Cow::Borrowed(&*self.before_sensitive),
            after_sensitive: Cow::Owned(Json::Null),
            replace: self.replace.clone(),
            relevant: self.relevant.clone(),
            non_legacy: self.non_legacy,
        }
    }

    fn as_create(&self) -> Change<'_> {
        Change {
            before: Cow::Owned(Json::Null),
            after: Cow::Borrowed(&*self.after),
            before_explicit: false,
            after_explicit: self.after_explicit,
            unknown: Cow::Borrowed(&*self.unknown),
            before_sensitive: Cow::Owned(Json::Null),
            after_sensitive: Cow::Borrowed(&*self.after_sensitive),
            replace: self.replace.clone(),
            relevant: self.relevant.clone(),
            non_legacy: self.non_legacy,
        }
    }

    fn key_child<'b>(&'b self, key: &str) -> Change<'b> {
        let get = |j: &'b Json| j.as_object().and_then(|m| m.get(key)).map(Cow::Borrowed);
        let b = get(&self.before);
        let a = get(&self.after);
        Change {
            before_explicit: b.is_some(),
            after_explicit: a.is_some(),
            before: b.unwrap_or(Cow::Owned(Json::Null)),
            after: a.unwrap_or(Cow::Owned(Json::Null)),
            unknown: get(&self.unknown).unwrap_or(Cow::Owned(Json::Null)),
            before_sensitive: get(&self.before_sensitive).unwrap_or(Cow::Owned(Json::Null)),
            after_sensitive: get(&self.after_sensitive).unwrap_or(Cow::Owned(Json::Null)),
            replace: self.replace.child(Step::Key(key)),
            relevant: self.relevant.child(Step::Key(key)),
            non_legacy: self.non_legacy,
        }
    }

    fn index_child<'b>(&'b self, bi: usize, ai: usize) -> Change<'b> {
        let get = |j: &'b Json, i: usize| j.as_array().and_then(|v| v.get(i)).map(Cow::Borrowed);
        let b = get(&self.before, bi);
        let a = get(&self.after, ai);
        let before_len = self.before.as_array().map_or(0, Vec::len);
        let most = if bi >= before_len { ai } else { bi };
        Change {
            before_explicit: b.is_some(),
            after_explicit: a.is_some(),
            before: b.unwrap_or(Cow::Owned(Json::Null)),
            after: a.unwrap_or(Cow::Owned(Json::Null)),
            unknown: get(&self.unknown, ai).unwrap_or(Cow::Owned(Json::Null)),
            before_sensitive: get(&self.before_sensitive, bi).unwrap_or(Cow::Owned(Json::Null)),
            after_sensitive: get(&self.after_sensitive, ai).unwrap_or(Cow::Owned(Json::Null)),
            replace: self.replace.child(Step::Index(most)),
            relevant: self.relevant.child(Step::Index(most)),
            non_legacy: self.non_legacy,
        }
    }

    /// Keys of both sides, the unknown mask and the sensitive masks, sorted.
    fn all_keys(&self) -> BTreeSet<String> {
        [
            &*self.before,
            &*self.after,
            &*self.unknown,
            &*self.after_sensitive,
            &*self.before_sensitive,
        ]
        .into_iter()
        .filter_map(Json::as_object)
        .flat_map(|m| m.keys().cloned())
        .collect()
    }
}

/// The kind of a primitive, as the renderer needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prim {
    Nil,
    Bool,
    Number,
    String,
}

#[derive(Clone, Debug)]
enum Renderer {
    Primitive {
        before: Json,
        after: Json,
        ty: Prim,
    },
    Object {
        attrs: BTreeMap<String, Diff>,
        override_null: bool,
    },
    Map {
        elems: BTreeMap<String, Diff>,
    },
    List {
        elems: Vec<Diff>,
        context: bool,
    },
    Set {
        elems: Vec<Diff>,
    },
    Sensitive {
        inner: Box<Diff>,
        before: bool,
        after: bool,
    },
    Unknown {
        before: Option<Box<Diff>>,
    },
    TypeChange {
        before: Box<Diff>,
        after: Box<Diff>,
    },
    Block {
        attrs: BTreeMap<String, Diff>,
        blocks: Box<Blocks>,
    },
    SensitiveBlock {
        before: bool,
        after: bool,
        inner: Act,
    },
}

/// One computed diff: what happens, how it prints, whether it forces replacement.
#[derive(Clone, Debug)]
pub struct Diff {
    renderer: Renderer,
    pub action: Act,
    replace: bool,
}

fn diff(renderer: Renderer, action: Act, replace: bool) -> Diff {
    Diff {
        renderer,
        action,
        replace,
    }
}

fn compare_actions(current: Act, next: Act) -> Act {
    if next == Act::NoOp {
        current
    } else if current != next {
        Act::Update
    } else {
        current
    }
}

// ------------------------------------------------------------------------------------------
// Computing diffs

/// How a nested block type repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nest {
    Single,
    List,
    Set,
    Map,
}

/// What the differ knows of a schema block: attribute types (`Type::Dynamic` for dynamic
/// ones, compared as JSON) and nested block types.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub attrs: BTreeMap<String, Type>,
    pub blocks: BTreeMap<String, (Nest, Schema)>,
}

/// The diffs of one nested block type inside a block, with what Terraform keeps of it.
#[derive(Clone, Debug)]
enum BlockGroup {
    Single(Diff),
    List(Vec<Diff>),
    Set(Vec<Diff>),
    Map(BTreeMap<String, Diff>),
}

#[derive(Clone, Debug)]
struct Blocks {
    groups: BTreeMap<String, BlockGroup>,
    replace: BTreeMap<String, bool>,
    before_sensitive: BTreeMap<String, bool>,
    after_sensitive: BTreeMap<String, bool>,
    unknown: BTreeMap<String, bool>,
}

/// The diff of a resource object (Terraform's `ComputeDiffForBlock`).
pub fn block_diff(change: &Change, schema: &Schema) -> Diff {
    if let Some(d) = check_sensitive(change, |c| block_diff(c, schema), true) {
        return d;
    }
    if change.is_unknown() {
        let mut c = change.clone();
        c.after_explicit = true;
        if c.before.is_null() {
            return diff(
                Renderer::Unknown { before: None },
                c.action(),
                c.replace.matches(),
            );
        }
        let mut before = c.as_delete();
        before.unknown = Cow::Owned(Json::Object(
            schema
                .attrs
                .keys()
                .map(|k| (k.clone(), Json::Bool(true)))
                .collect(),
        ));
        let inner = block_diff(&before, schema);
        return diff(
            Renderer::Unknown {
                before: Some(Box::new(inner)),
            },
            c.action(),
            c.replace.matches(),
        );
    }
    let mut change = change.clone();
    change.non_legacy = change.non_legacy
        || schema.attrs.values().any(non_legacy_type)
        || schema.blocks.values().any(|(n, _)| matches!(n, Nest::Map));
    let mut current = change.default_action_for_iteration();
    let mut out = BTreeMap::new();
    for (key, ty) in &schema.attrs {
        let mut child = change.key_child(key);
        if !child.relevant.matches_partial() {
            child = child.into_noop();
        }
        child.before_explicit = false;
        child.after_explicit = false;
        let d = type_diff(&child, ty);
        if d.action == Act::NoOp && child.before.is_null() && child.after.is_null() {
            continue;
        }
        current = compare_actions(current, d.action);
        out.insert(key.clone(), d);
    }
    let mut blocks = Blocks {
        groups: BTreeMap::new(),
        replace: BTreeMap::new(),
        before_sensitive: BTreeMap::new(),
        after_sensitive: BTreeMap::new(),
        unknown: BTreeMap::new(),
    };
    for (key, (nest, inner)) in &schema.blocks {
        let mut child = change.key_child(key);
        if !child.relevant.matches_partial() {
            child = child.into_noop();
        }
        let unknown = child.is_unknown();
        let both_null = child.before.is_null() && child.after.is_null();
        let (group, action) = match nest {
            Nest::Single => {
                let d = block_diff(&child, inner);
                let a = d.action;
                (BlockGroup::Single(d), a)
            }
            Nest::List => {
                let mut current = child.default_action_for_iteration();
                let n = child
                    .before
                    .as_array()
                    .map_or(0, Vec::len)
                    .max(child.after.as_array().map_or(0, Vec::len));
                let mut diffs = Vec::new();
                for i in 0..n {
                    let mut v = child.index_child(i, i);
                    if !v.relevant.matches_partial() {
                        v = v.into_noop();
                    }
                    let d = block_diff(&v, inner);
                    current = compare_actions(current, d.action);
                    diffs.push(d);
                }
                (BlockGroup::List(diffs), current)
            }
            Nest::Set => {
                let mut current = child.default_action_for_iteration();
                let mut diffs = Vec::new();
                for mut v in set_children(&child) {
                    v.relevant = Matcher::Always;
                    let d = block_diff(&v, inner);
                    current = compare_actions(current, d.action);
                    diffs.push(d);
                }
                (BlockGroup::Set(diffs), current)
            }
            Nest::Map => {
                let mut current = map_start(&child);
                let keys: BTreeSet<String> = [&*child.before, &*child.after]
                    .into_iter()
                    .filter_map(Json::as_object)
                    .flat_map(|m| m.keys().cloned())
                    .collect();
                let mut diffs = BTreeMap::new();
                for k in keys {
                    let mut v = child.key_child(&k);
                    if !v.relevant.matches_partial() {
                        v = v.into_noop();
                    }
                    let d = block_diff(&v, inner);
                    current = compare_actions(current, d.action);
                    diffs.insert(k, d);
                }
                (BlockGroup::Map(diffs), current)
            }
        };
        if action == Act::NoOp && both_null && !unknown {
            continue;
        }
        blocks.replace.insert(key.clone(), child.replace.matches());
        blocks
            .before_sensitive
            .insert(key.clone(), child.before_sens());
        blocks
            .after_sensitive
            .insert(key.clone(), child.after_sens());
        blocks.unknown.insert(key.clone(), unknown);
        blocks.groups.insert(key.clone(), group);
        current = compare_actions(current, action);
    }
    diff(
        Renderer::Block {
            attrs: out,
            blocks: Box::new(blocks),
        },
        current,
        change.replace.matches(),
    )
}

/// Terraform's `containsNonLegacyFeatures` for one attribute type.
fn non_legacy_type(t: &Type) -> bool {
    match t {
        Type::Dynamic | Type::Tuple(_) | Type::Object(_) => true,
        Type::List(e) | Type::Set(e) | Type::Map(e) => {
            has_dynamic(e)
                || matches!(&**e, Type::List(x) | Type::Set(x) | Type::Map(x) if !is_primitive(x))
        }
        _ => false,
    }
}

fn has_dynamic(t: &Type) -> bool {
    match t {
        Type::Dynamic => true,
        Type::List(e) | Type::Set(e) | Type::Map(e) => has_dynamic(e),
        Type::Tuple(es) => es.iter().any(has_dynamic),
        Type::Object(m) => m.values().any(has_dynamic),
        _ => false,
    }
}

fn is_primitive(t: &Type) -> bool {
    matches!(t, Type::Bool | Type::Number | Type::String)
}

fn check_sensitive(change: &Change, inner: impl Fn(&Change) -> Diff, block: bool) -> Option<Diff> {
    let (bs, as_) = (change.before_sens(), change.after_sens());
    if !bs && !as_ {
        return None;
    }
    let mut value = change.clone();
    value.before_sensitive = Cow::Owned(Json::Bool(false));
    value.after_sensitive = Cow::Owned(Json::Bool(false));
    let inner = inner(&value);
    let mut action = inner.action;
    let null_noop = change.before.is_null()
        && !change.before_explicit
        && change.after.is_null()
        && !change.after_explicit;
    if action == Act::NoOp && bs != as_ && !null_noop {
        action = Act::Update;
    }
    let r = if block {
        Renderer::SensitiveBlock {
            before: bs,
            after: as_,
            inner: inner.action,
        }
    } else {
        Renderer::Sensitive {
            inner: Box::new(inner),
            before: bs,
            after: as_,
        }
    };
    Some(diff(r, action, change.replace.matches()))
}

/// Terraform's `ComputeDiffForType`.
fn type_diff(change: &Change, ty: &Type) -> Diff {
    let mut change = change.clone();
    if !change.non_legacy {
        if change.before.as_str() == Some("") {
            change.before = Cow::Owned(Json::Null);
        }
        if change.after.as_str() == Some("") {
            change.after = Cow::Owned(Json::Null);
        }
    }
    if let Some(d) = check_sensitive(&change, |c| type_diff(c, ty), false) {
        return d;
    }
    if change.is_unknown() {
        let mut c = change.clone();
        c.after_explicit = true;
        if c.before.is_null() {
            return diff(
                Renderer::Unknown { before: None },
                c.action(),
                c.replace.matches(),
            );
        }
        let mut before = c.as_delete();
        before.unknown = Cow::Owned(Json::Bool(false));
        let inner = type_diff(&before, ty);
        return diff(
            Renderer::Unknown {
                before: Some(Box::new(inner)),
            },
            c.action(),
            c.replace.matches(),
        );
    }
    let replace = change.replace.matches();
    match ty {
        Type::Dynamic => json_diff(&change),
        Type::Bool => diff(prim(&change, Prim::Bool), change.action(), replace),
        Type::Number => diff(prim(&change, Prim::Number), change.action(), replace),
        Type::String => diff(prim(&change, Prim::String), change.action(), replace),
        Type::Object(attrs) => {
            let mut current = change.default_action_for_iteration();
            let mut out = BTreeMap::new();
            for (key, t) in attrs {
                let mut child = change.key_child(key);
                if !child.relevant.matches_partial() {
                    child = child.into_noop();
                }
                child.before_explicit = false;
                child.after_explicit = false;
                let d = type_diff(&child, t);
                if d.action == Act::NoOp && child.before.is_null() && child.after.is_null() {
                    continue;
                }
                current = compare_actions(current, d.action);
                out.insert(key.clone(), d);
            }
            diff(
                Renderer::Object {
                    attrs: out,
                    override_null: true,
                },
                current,
                replace,
            )
        }
        Type::Map(elem) => {
            let mut current = map_start(&change);
            let mut out = BTreeMap::new();
            for key in change.all_keys() {
                let mut child = change.key_child(&key);
                if !child.relevant.matches_partial() {
                    child = child.into_noop();
                }
                let d = type_diff(&child, elem);
                current = compare_actions(current, d.action);
                out.insert(key, d);
            }
            diff(Renderer::Map { elems: out }, current, replace)
        }
        Type::List(elem) => {
            let is_obj = matches!(**elem, Type::Object(_));
            let (elems, action) = transform_slice(
                &change,
                |c| {
                    let mut c = c;
                    c.relevant = Matcher::Always;
                    type_diff(&c, elem)
                },
                |_| is_obj,
            );
            diff(
                Renderer::List {
                    elems,
                    context: true,
                },
                action,
                replace,
            )
        }
        Type::Tuple(types) => {
            let mut current = change.default_action_for_iteration();
            let mut elems = Vec::new();
            for (i, t) in types.iter().enumerate() {
                let mut child = change.index_child(i, i);
                if !child.relevant.matches_partial() {
                    child = child.into_noop();
                }
                let d = type_diff(&child, t);
                current = compare_actions(current, d.action);
                elems.push(d);
            }
            diff(
                Renderer::List {
                    elems,
                    context: true,
                },
                current,
                replace,
            )
        }
        Type::Set(elem) => {
            let mut current = change.default_action_for_iteration();
            let mut elems = Vec::new();
            for mut c in set_children(&change) {
                c.relevant = Matcher::Always;
                let d = type_diff(&c, elem);
                current = compare_actions(current, d.action);
                elems.push(d);
            }
            diff(Renderer::Set { elems }, current, replace)
        }
    }
}

fn prim(change: &Change, ty: Prim) -> Renderer {
    Renderer::Primitive {
        before: change.before.clone().into_owned(),
        after: change.after.clone().into_owned(),
        ty,
    }
}

fn map_start(change: &Change) -> Act {
    match (change.before.is_object(), change.after.is_object()) {
        (true, false) => Act::Delete,
        (false, true) => Act::Create,
        _ => Act::NoOp,
    }
}

/// Terraform's set matching: an element equal on both sides is unchanged; the rest are
/// deleted (before) or created (after).
fn set_children<'b>(change: &'b Change<'_>) -> Vec<Change<'b>> {
    let empty = Vec::new();
    let before = change.before.as_array().unwrap_or(&empty);
    let after = change.after.as_array().unwrap_or(&empty);
    let mut found_before: BTreeMap<usize, Option<usize>> = BTreeMap::new();
    let mut found_after: BTreeMap<usize, usize> = BTreeMap::new();
    for ix in 0..before.len() {
        let mut matched = false;
        for jx in 0..after.len() {
            if found_after.contains_key(&jx) {
                continue;
            }
            let c = change.index_child(ix, jx);
            if c.before == c.after && c.before_sens() == c.after_sens() && !c.is_unknown() {
                matched = true;
                found_before.insert(ix, Some(jx));
                found_after.insert(jx, ix);
            }
        }
        if !matched {
            found_before.insert(ix, None);
        }
    }
    let mut out = Vec::new();
    for ix in 0..before.len() {
        match found_before.get(&ix).copied().flatten() {
            Some(jx) => out.push(change.index_child(ix, jx)),
            None => out.push(change.index_child(ix, after.len())),
        }
    }
    for jx in 0..after.len() {
        if !found_after.contains_key(&jx) {
            out.push(change.index_child(before.len(), jx));
        }
    }
    out
}

/// Terraform's `TransformSlice`: element diffs in display order and the overall action.
fn transform_slice(
    change: &Change,
    process: impl Fn(Change) -> Diff,
    is_obj: impl Fn(&Json) -> bool,
) -> (Vec<Diff>, Act) {
    let mut current = match (change.before.is_array(), change.after.is_array()) {
        (true, false) => Act::Delete,
        (false, true) => Act::Create,
        _ => Act::NoOp,
    };
    let empty = Vec::new();
    let before = change.before.as_array().unwrap_or(&empty);
    let after = change.after.as_array().unwrap_or(&empty);
    let mut out = Vec::new();
    process_slice(before, after, &is_obj, |b, a| {
        let d = process(change.index_child(b, a));
        current = compare_actions(current, d.action);
        out.push(d);
    });
    (out, current)
}

/// Terraform's `ProcessSlice`: same-length lists that are not a reordering compare position by
/// position; otherwise the longest common subsequence stays, and what is around it is deleted
/// and created (objects facing each other are compared instead).
fn process_slice<T: PartialEq>(
    before: &[T],
    after: &[T],
    is_obj: &dyn Fn(&T) -> bool,
    mut process: impl FnMut(usize, usize),
) {
    if before.len() == after.len() && !is_reorder(before, after) {
        for i in 0..before.len() {
            process(i, i);
        }
        return;
    }
    let lcs = longest_common_subsequence(before, after);
    let (mut bi, mut ai, mut li) = (0, 0, 0);
    while bi < before.len() || ai < after.len() || li < lcs.len() {
        while bi < before.len() && (li >= lcs.len() || before[bi] != *lcs[li]) {
            let object_diff = is_obj(&before[bi])
                && ai < after.len()
                && is_obj(&after[ai])
                && (li >= lcs.len() || after[ai] != *lcs[li]);
            if object_diff {
                process(bi, ai);
                bi += 1;
                ai += 1;
                continue;
            }
            process(bi, after.len());
            bi += 1;
        }
        while ai < after.len() && (li >= lcs.len() || after[ai] != *lcs[li]) {
            process(before.len(), ai);
            ai += 1;
        }
        if li < lcs.len() {
            process(bi, ai);
            bi += 1;
            ai += 1;
            li += 1;
        }
    }
}

fn is_reorder<T: PartialEq>(before: &[T], after: &[T]) -> bool {
    before.len() == after.len() && before.iter().all(|b| after.contains(b))
}

/// The longest common subsequence, walked back the way Terraform's `objchange` walks it (which
/// decides which of several equally long ones is found).
fn longest_common_subsequence<'a, T: PartialEq>(xs: &'a [T], ys: &[T]) -> Vec<&'a T> {
    if xs.is_empty() || ys.is_empty() {
        return Vec::new();
    }
    let w = xs.len();
    let mut c = vec![0usize; xs.len() * ys.len()];
    let mut eqs = vec![false; xs.len() * ys.len()];
    for y in 0..ys.len() {
        for x in 0..xs.len() {
            if xs[x] == ys[y] {
                eqs[w * y + x] = true;
                c[w * y + x] = if x == 0 || y == 0 {
                    1
                } else {
                    c[w * (y - 1) + (x - 1)] + 1
                };
            } else {
                let l = if x > 0 { c[w * y + (x - 1)] } else { 0 };
                let u = if y > 0 { c[w * (y - 1) + x] } else { 0 };
                c[w * y + x] = l.max(u);
            }
        }
    }
    let mut seq: Vec<&T> = Vec::with_capacity(c[c.len() - 1]);
    let (mut x, mut y) = (xs.len() as isize - 1, ys.len() as isize - 1);
    while x > -1 && y > -1 && seq.len() < c[c.len() - 1] {
        let (xu, yu) = (x as usize, y as usize);
        if eqs[w * yu + xu] {
            seq.push(&xs[xu]);
            x -= 1;
            y -= 1;
        } else {
            let l = if x > 0 { c[w * yu + (xu - 1)] } else { 0 };
            let u = if y > 0 { c[w * (yu - 1) + xu] } else { 0 };
            if l > u {
                x -= 1;
            } else {
                y -= 1;
            }
        }
    }
    seq.reverse();
    seq
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum JType {
    Null,
    Bool,
    Number,
    String,
    Object,
    Array,
}

fn jtype(j: &Json) -> JType {
    match j {
        Json::Null => JType::Null,
        Json::Bool(_) => JType::Bool,
        Json::Number(_) => JType::Number,
        Json::String(_) => JType::String,
        Json::Object(_) => JType::Object,
        Json::Array(_) => JType::Array,
    }
}

/// Terraform's JSON differ (`jsondiff.Transform`), used for dynamic values.
pub fn json_diff(change: &Change) -> Diff {
    json_diff_plain(change)
}

/// The diff of an output value (Terraform's `ComputeDiffForOutput`).
pub fn output_diff(change: &Change) -> Diff {
    let mut c = change.clone();
    c.non_legacy = true;
    type_diff(&c, &Type::Dynamic)
}

fn json_diff_plain(change: &Change) -> Diff {
    if let Some(d) = check_sensitive(change, json_diff_plain, false) {
        return Diff {
            replace: false,
            ..d
        };
    }
    if change.is_unknown() {
        let mut c = change.clone();
        c.after_explicit = true;
        if c.before.is_null() {
            return diff(Renderer::Unknown { before: None }, Act::Create, false);
        }
        let mut before = c.as_delete();
        before.unknown = Cow::Owned(Json::Bool(false));
        return diff(
            Renderer::Unknown {
                before: Some(Box::new(json_diff_plain(&before))),
            },
            Act::Update,
            false,
        );
    }
    let bt = jtype(&change.before);
    let at = jtype(&change.after);
    let deleted = at == JType::Null && !change.after_explicit;
    let created = bt == JType::Null && !change.before_explicit;
    if bt == at || created || deleted {
        let target = if bt == JType::Null { at } else { bt };
        return json_update(change, target);
    }
    let b = json_update(&change.as_delete(), bt);
    let a = json_update(&change.as_create(), at);
    diff(
        Renderer::TypeChange {
            before: Box::new(b),
            after: Box::new(a),
        },
        Act::Update,
        false,
    )
}

fn json_update(change: &Change, t: JType) -> Diff {
    match t {
        JType::Null => json_prim(change, Prim::Nil),
        JType::Bool => json_prim(change, Prim::Bool),
        JType::Number => json_prim(change, Prim::Number),
        JType::String => json_prim(change, Prim::String),
        JType::Object => {
            let mut current = map_start(change);
            let mut out = BTreeMap::new();
            for key in change.all_keys() {
                let mut child = change.key_child(&key);
                if !child.relevant.matches_partial() {
                    child = child.into_noop();
                }
                let d = json_diff_plain(&child);
                current = compare_actions(current, d.action);
                out.insert(key, d);
            }
            diff(
                Renderer::Object {
                    attrs: out,
                    override_null: true,
                },
                current,
                false,
            )
        }
        JType::Array => {
            let (elems, action) =
                transform_slice(change, |c| json_diff_plain(&c), |j| j.is_object());
            diff(
                Renderer::List {
                    elems,
                    context: true,
                },
                action,
                false,
            )
        }
    }
}

fn json_prim(change: &Change, ty: Prim) -> Diff {
    let b_missing = change.before.is_null() && !change.before_explicit;
    let a_missing = change.after.is_null() && !change.after_explicit;
    let action = if b_missing && !a_missing {
        Act::Create
    } else if !b_missing && a_missing {
        Act::Delete
    } else if change.before == change.after {
        Act::NoOp
    } else {
        Act::Update
    };
    diff(prim(change, ty), action, false)
}

// ------------------------------------------------------------------------------------------
// Rendering

/// Options that travel down the tree (Terraform's `RenderHumanOpts`).
#[derive(Clone, Copy)]
pub struct Opts {
    pub style: Style,
    pub override_null_suffix: bool,
    pub force_forces_replacement: bool,
    pub forbid_forces_replacement: bool,
    pub show_unchanged_children: bool,
}

impl Opts {
    pub fn new(style: Style) -> Opts {
        Opts {
            style,
            override_null_suffix: false,
            force_forces_replacement: false,
            forbid_forces_replacement: false,
            show_unchanged_children: false,
        }
    }
    /// A copy for children: the forcing flags do not cascade.
    fn child(&self) -> Opts {
        Opts {
            force_forces_replacement: false,
            forbid_forces_replacement: false,
            ..*self
        }
    }
}

/// The action symbol, four columns wide with its trailing space.
pub fn symbol(action: Act, style: Style) -> String {
    match action {
        Act::Create => format!("  {} ", style.green("+")),
        Act::Delete => format!("  {} ", style.red("-")),
        Act::Update => format!("  {} ", style.yellow("~")),
        Act::NoOp => "    ".to_string(),
    }
}

fn indent(n: usize) -> String {
    "    ".repeat(n)
}

fn null_suffix(action: Act, opts: &Opts) -> String {
    if !opts.override_null_suffix && action == Act::Delete {
        format!(" {}", opts.style.dark_gray("-> null"))
    } else {
        String::new()
    }
}

fn forces(replace: bool, opts: &Opts) -> String {
    if (replace || opts.force_forces_replacement) && !opts.forbid_forces_replacement {
        format!(" {}", opts.style.red("# forces replacement"))
    } else {
        String::new()
    }
}

/// `# (N unchanged KEYWORDs hidden)` on its own line, at `ind`.
fn hidden_line(buf: &mut String, ind: usize, keyword: &str, count: usize, opts: &Opts) {
    let _ = writeln!(
        buf,
        "{}{}{}",
        indent(ind),
        symbol(Act::NoOp, opts.style),
        unchanged(keyword, count, opts)
    );
}

/// The bracket that closes a collection or object at `ind`, with `-> null` when it is deleted.
fn close_bracket(buf: &mut String, ind: usize, bracket: char, action: Act, opts: &Opts) {
    let _ = write!(
        buf,
        "{}{}{bracket}{}",
        indent(ind),
        symbol(Act::NoOp, opts.style),
        null_suffix(action, opts)
    );
}

fn unchanged(keyword: &str, count: usize, opts: &Opts) -> String {
    let s = if count == 1 { "" } else { "s" };
    opts.style
        .dark_gray(&format!("# ({count} unchanged {keyword}{s} hidden)"))
}

/// A name as HCL would accept it, quoted otherwise.
pub fn attribute_name(name: &str) -> String {
    if valid_identifier(name) {
        name.to_string()
    } else {
        go_quote(name)
    }
}

fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

pub use brick_provider_api::value::go_quote;

fn important(name: &str) -> bool {
    matches!(name, "id" | "name" | "tags")
}

impl Diff {
    /// The diff as Terraform prints it; lines after the first are indented for `indent`.
    pub fn render(&self, ind: usize, opts: &Opts) -> String {
        let st = opts.style;
        match &self.renderer {
            Renderer::Primitive { before, after, ty } => {
                if *ty == Prim::String {
                    return self.render_string(before, after, ind, opts);
                }
                let bv = prim_value(before, st);
                let av = prim_value(after, st);
                let f = forces(self.replace, opts);
                match self.action {
                    Act::Create => format!("{av}{f}"),
                    Act::Delete => format!("{bv}{}{f}", null_suffix(self.action, opts)),
                    Act::NoOp => format!("{bv}{f}"),
                    Act::Update => format!("{bv} {} {av}{f}", st.yellow("->")),
                }
            }
            Renderer::Object {
                attrs,
                override_null,
            } => {
                if attrs.is_empty() {
                    return format!(
                        "{{}}{}{}",
                        null_suffix(self.action, opts),
                        forces(self.replace, opts)
                    );
                }
                let mut aopts = opts.child();
                aopts.override_null_suffix = *override_null;
                let width = attrs
                    .keys()
                    .map(|k| attribute_name(k).len())
                    .max()
                    .unwrap_or(0);
                let mut hidden = 0;
                let mut buf = format!("{{{}\n", forces(self.replace, opts));
                for (key, attr) in attrs {
                    let o = if important(key) {
                        let mut o = aopts.child();
                        o.show_unchanged_children = true;
                        o
                    } else if attr.action == Act::NoOp && !opts.show_unchanged_children {
                        hidden += 1;
                        continue;
                    } else {
                        aopts
                    };
                    for w in attr.warnings(ind + 1, &o) {
                        let _ = writeln!(buf, "{}{w}", indent(ind + 1));
                    }
                    let _ = writeln!(
                        buf,
                        "{}{}{:<width$} = {}",
                        indent(ind + 1),
                        symbol(attr.action, st),
                        attribute_name(key),
                        attr.render(ind + 1, &o)
                    );
                }
                if hidden > 0 {
                    hidden_line(&mut buf, ind + 1, "attribute", hidden, opts);
                }
                close_bracket(&mut buf, ind, '}', self.action, opts);
                buf
            }
            Renderer::Map { elems } => {
                if elems.is_empty() {
                    return format!(
                        "{{}}{}{}",
                        null_suffix(self.action, opts),
                        forces(self.replace, opts)
                    );
                }
                let width = elems.keys().map(|k| go_quote(k).len()).max().unwrap_or(0);
                let mut eopts = opts.child();
                eopts.override_null_suffix = self.action == Act::Delete;
                let mut hidden = 0;
                let mut buf = format!("{{{}\n", forces(self.replace, opts));
                for (key, e) in elems {
                    if e.action == Act::NoOp && !opts.show_unchanged_children {
                        hidden += 1;
                        continue;
                    }
                    for w in e.warnings(ind + 1, opts) {
                        let _ = writeln!(buf, "{}{w}", indent(ind + 1));
                    }
                    let comma = if matches!(e.renderer, Renderer::Object { .. }) {
                        ","
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        buf,
                        "{}{}{:<width$} = {}{comma}",
                        indent(ind + 1),
                        symbol(e.action, st),
                        go_quote(key),
                        e.render(ind + 1, &eopts)
                    );
                }
                if hidden > 0 {
                    hidden_line(&mut buf, ind + 1, "element", hidden, opts);
                }
                close_bracket(&mut buf, ind, '}', self.action, opts);
                buf
            }
            Renderer::List { elems, context } => self.render_list(elems, *context, ind, opts),
            Renderer::Set { elems } => {
                if elems.is_empty() {
                    return format!(
                        "[]{}{}",
                        null_suffix(self.action, opts),
                        forces(self.replace, opts)
                    );
                }
                let mut eopts = opts.child();
                eopts.override_null_suffix = true;
                let mut hidden = 0;
                let mut buf = format!("[{}\n", forces(self.replace, opts));
                for e in elems {
                    if e.action == Act::NoOp && !opts.show_unchanged_children {
                        hidden += 1;
                        continue;
                    }
                    for w in e.warnings(ind + 1, opts) {
                        let _ = writeln!(buf, "{}{w}", indent(ind + 1));
                    }
                    let _ = writeln!(
                        buf,
                        "{}{}{},",
                        indent(ind + 1),
                        symbol(e.action, st),
                        e.render(ind + 1, &eopts)
                    );
                }
                if hidden > 0 {
                    hidden_line(&mut buf, ind + 1, "element", hidden, opts);
                }
                close_bracket(&mut buf, ind, ']', self.action, opts);
                buf
            }
            Renderer::Sensitive { .. } => format!(
                "(sensitive value){}{}",
                null_suffix(self.action, opts),
                forces(self.replace, opts)
            ),
            Renderer::SensitiveBlock { .. } => {
                let p = format!("{}{}", indent(ind), symbol(Act::NoOp, st));
                format!(
                    "{{{}\n{p}  # At least one attribute in this block is (or was) sensitive,\n{p}  # so its contents will not be displayed.\n{p}}}",
                    forces(self.replace, opts)
                )
            }
            Renderer::Unknown { before } => match before {
                Some(b) if self.action != Act::Create => {
                    let mut bo = opts.child();
                    bo.override_null_suffix = true;
                    if self.replace {
                        bo.forbid_forces_replacement = true;
                    }
                    format!(
                        "{} -> (known after apply){}",
                        b.render(ind, &bo),
                        forces(self.replace, opts)
                    )
                }
                _ => format!("(known after apply){}", forces(self.replace, opts)),
            },
            Renderer::TypeChange { before, after } => {
                let mut o = *opts;
                o.override_null_suffix = true;
                format!(
                    "{} {} {}",
                    before.render(ind, &o),
                    st.yellow("->"),
                    after.render(ind, &o)
                )
            }
            Renderer::Block { attrs, blocks } => {
                if attrs.is_empty() && blocks.groups.is_empty() {
                    return format!("{{}}{}", forces(self.replace, opts));
                }
                let width = attrs
                    .keys()
                    .map(|k| attribute_name(k).len())
                    .max()
                    .unwrap_or(0);
                let mut important_opts = opts.child();
                important_opts.show_unchanged_children = true;
                let aopts = opts.child();
                let mut hidden = 0;
                let mut buf = format!("{{{}\n", forces(self.replace, opts));
                for (key, attr) in attrs {
                    let (o, name) = if important(key) {
                        (important_opts, key.clone())
                    } else if attr.action == Act::NoOp && !opts.show_unchanged_children {
                        hidden += 1;
                        continue;
                    } else {
                        (aopts, attribute_name(key))
                    };
                    for w in attr.warnings(ind + 1, &o) {
                        let _ = writeln!(buf, "{}{w}", indent(ind + 1));
                    }
                    let _ = writeln!(
                        buf,
                        "{}{}{:<width$} = {}",
                        indent(ind + 1),
                        symbol(attr.action, st),
                        name,
                        attr.render(ind + 1, &o)
                    );
                }
                if hidden > 0 {
                    hidden_line(&mut buf, ind + 1, "attribute", hidden, opts);
                }
                let mut unchanged_blocks = 0;
                for (key, group) in &blocks.groups {
                    let mut found_changed = false;
                    let flag = |m: &BTreeMap<String, bool>| m.get(key).copied().unwrap_or(false);
                    let mut render_block = |d: &Diff, map_key: &str, buf: &mut String| {
                        let (bs, as_) = (
                            flag(&blocks.before_sensitive),
                            flag(&blocks.after_sensitive),
                        );
                        let sensitive = match d.action {
                            Act::Create => as_,
                            Act::Delete => bs,
                            Act::Update | Act::NoOp => as_ || bs,
                        };
                        let shown;
                        let d = if sensitive {
                            let action = if d.action == Act::NoOp && bs != as_ {
                                Act::Update
                            } else {
                                d.action
                            };
                            shown = diff(
                                Renderer::SensitiveBlock {
                                    before: bs,
                                    after: as_,
                                    inner: d.action,
                                },
                                action,
                                d.replace,
                            );
                            &shown
                        } else {
                            d
                        };
                        if d.action == Act::NoOp && !opts.show_unchanged_children {
                            unchanged_blocks += 1;
                            return;
                        }
                        if !found_changed && !attrs.is_empty() {
                            buf.push('\n');
                            found_changed = true;
                        }
                        let mut bo = opts.child();
                        bo.force_forces_replacement = flag(&blocks.replace);
                        for w in d.warnings(ind + 1, &bo) {
                            let _ = writeln!(buf, "{}{w}", indent(ind + 1));
                        }
                        let _ = writeln!(
                            buf,
                            "{}{}{}{map_key} {}",
                            indent(ind + 1),
                            symbol(d.action, st),
                            attribute_name(key),
                            d.render(ind + 1, &bo)
                        );
                    };
                    let unknown = flag(&blocks.unknown)
                        .then(|| diff(Renderer::Unknown { before: None }, self.action, false));
                    match group {
                        BlockGroup::Single(d) => render_block(d, "", &mut buf),
                        BlockGroup::Map(m) => {
                            if let Some(u) = &unknown {
                                render_block(u, "", &mut buf);
                            }
                            for (k, d) in m {
                                render_block(d, &format!(" {}", go_quote(k)), &mut buf);
                            }
                        }
                        BlockGroup::List(ds) | BlockGroup::Set(ds) => {
                            if let Some(u) = &unknown {
                                render_block(u, "", &mut buf);
                            }
                            for d in ds {
                                render_block(d, "", &mut buf);
                            }
                        }
                    }
                }
                if unchanged_blocks > 0 {
                    let _ = writeln!(
                        buf,
                        "\n{}{}{}",
                        indent(ind + 1),
                        symbol(Act::NoOp, st),
                        unchanged("block", unchanged_blocks, opts)
                    );
                }
                let _ = write!(buf, "{}{}}}", indent(ind), symbol(Act::NoOp, st));
                buf
            }
        }
    }

    fn warnings(&self, ind: usize, opts: &Opts) -> Vec<String> {
        if let Renderer::SensitiveBlock {
            before,
            after,
            inner,
        } = &self.renderer
        {
            if before == after || matches!(inner, Act::Create | Act::Delete) {
                return Vec::new();
            }
            let w = opts.style.yellow("Warning");
            return vec![if *before {
                format!(
                    "  # {w}: this block will no longer be marked as sensitive\n{}  # after applying this change.",
                    indent(ind)
                )
            } else {
                format!(
                    "  # {w}: this block will be marked as sensitive and will not\n{}  # display in UI output after applying this change.",
                    indent(ind)
                )
            }];
        }
        let Renderer::Sensitive {
            inner,
            before,
            after,
        } = &self.renderer
        else {
            return Vec::new();
        };
        if before == after || matches!(inner.action, Act::Create | Act::Delete) {
            return Vec::new();
        }
        let w = opts.style.yellow("Warning");
        let warning = if *before {
            format!(
                "  # {w}: this attribute value will no longer be marked as sensitive\n{}  # after applying this change.",
                indent(ind)
            )
        } else {
            format!(
                "  # {w}: this attribute value will be marked as sensitive and will not\n{}  # display in UI output after applying this change.",
                indent(ind)
            )
        };
        if inner.action == Act::NoOp {
            vec![format!("{warning} The value is unchanged.")]
        } else {
            vec![warning]
        }
    }

    fn render_list(&self, elems: &[Diff], context: bool, ind: usize, opts: &Opts) -> String {
        let st = opts.style;
        if elems.is_empty() {
            return format!(
                "[]{}{}",
                null_suffix(self.action, opts),
                forces(self.replace, opts)
            );
        }
        let mut eopts = opts.child();
        eopts.override_null_suffix = true;
        let mut uopts = opts.child();
        uopts.show_unchanged_children = true;
        let mut pending: Vec<&Diff> = Vec::new();
        let mut render_next = false;
        let mut buf = format!("[{}\n", forces(self.replace, opts));
        for e in elems {
            if e.action == Act::NoOp && !render_next && !opts.show_unchanged_children {
                pending.push(e);
                continue;
            }
            render_next = false;
            let mut o = eopts;
            if context {
                if pending.len() > 1 {
                    hidden_line(&mut buf, ind + 1, "element", pending.len() - 1, &o);
                }
                if let Some(last) = pending.last() {
                    let _ = writeln!(
                        buf,
                        "{}{}{},",
                        indent(ind + 1),
                        symbol(last.action, st),
                        last.render(ind + 1, &uopts)
                    );
                }
                pending.clear();
                if e.action == Act::NoOp {
                    o = uopts;
                } else {
                    render_next = true;
                }
            }
            for w in e.warnings(ind + 1, &o) {
                let _ = writeln!(buf, "{}{w}", indent(ind + 1));
            }
            let _ = writeln!(
                buf,
                "{}{}{},",
                indent(ind + 1),
                symbol(e.action, st),
                e.render(ind + 1, &o)
            );
        }
        if !pending.is_empty() {
            hidden_line(&mut buf, ind + 1, "element", pending.len(), opts);
        }
        close_bracket(&mut buf, ind, ']', self.action, opts);
        buf
    }

    fn render_string(&self, before: &Json, after: &Json, ind: usize, opts: &Opts) -> String {
        let st = opts.style;
        let noop = symbol(Act::NoOp, st);
        let f = forces(self.replace, opts);
        let lines: Vec<String> = match self.action {
            Act::Create | Act::NoOp => {
                let s = evaluate(after, st);
                if s.json.is_some() {
                    return if self.action == Act::NoOp {
                        self.render_json_string(&s, &s, ind, opts)
                    } else {
                        self.render_json_string(&Evaluated::default(), &s, ind, opts)
                    };
                }
                if !s.multiline {
                    return format!("{}{f}", s.simple());
                }
                s.text
                    .split('\n')
                    .map(|l| format!("{}{noop}{l}", indent(ind + 1)))
                    .collect()
            }
            Act::Delete => {
                let s = evaluate(before, st);
                if s.null {
                    return format!("{}{f}", s.simple());
                }
                if s.json.is_some() {
                    return self.render_json_string(&s, &Evaluated::default(), ind, opts);
                }
                if !s.multiline {
                    return format!("{}{}{f}", s.simple(), null_suffix(self.action, opts));
                }
                s.text
                    .split('\n')
                    .map(|l| format!("{}{noop}{l}", indent(ind + 1)))
                    .collect()
            }
            Act::Update => {
                let b = evaluate(before, st);
                let a = evaluate(after, st);
                if b.json.is_some() && a.json.is_some() {
                    return self.render_json_string(&b, &a, ind, opts);
                }
                if b.json.is_some() || a.json.is_some() {
                    let tc = diff(
                        Renderer::TypeChange {
                            before: Box::new(diff(
                                Renderer::Primitive {
                                    before: before.clone(),
                                    after: Json::Null,
                                    ty: Prim::String,
                                },
                                Act::Delete,
                                false,
                            )),
                            after: Box::new(diff(
                                Renderer::Primitive {
                                    before: Json::Null,
                                    after: after.clone(),
                                    ty: Prim::String,
                                },
                                Act::Create,
                                false,
                            )),
                        },
                        self.action,
                        self.replace,
                    );
                    return tc.render(ind, opts);
                }
                if !b.multiline && !a.multiline {
                    return format!("{} {} {}{f}", b.simple(), st.yellow("->"), a.simple());
                }
                let bl: Vec<&str> = b.text.split('\n').collect();
                let al: Vec<&str> = a.text.split('\n').collect();
                let mut lines = Vec::new();
                let pad = indent(ind + 1);
                process_slice(&bl, &al, &|_| false, |bi, ai| {
                    if bi >= bl.len() {
                        lines.push(format!("{pad}{}{}", symbol(Act::Create, st), al[ai]));
                    } else if ai >= al.len() {
                        lines.push(format!("{pad}{}{}", symbol(Act::Delete, st), bl[bi]));
                    } else if bl[bi] != al[ai] {
                        lines.push(format!("{pad}{}{}", symbol(Act::Delete, st), bl[bi]));
                        lines.push(format!("{pad}{}{}", symbol(Act::Create, st), al[ai]));
                    } else {
                        lines.push(format!("{pad}{noop}{}", bl[bi]));
                    }
                });
                lines
            }
        };
        format!(
            "<<-EOT{f}\n{}\n{}{noop}EOT{}",
            lines.join("\n"),
            indent(ind),
            null_suffix(self.action, opts)
        )
    }

    fn render_json_string(
        &self,
        before: &Evaluated,
        after: &Evaluated,
        ind: usize,
        opts: &Opts,
    ) -> String {
        let st = opts.style;
        let json = json_diff(&Change {
            before: Cow::Owned(before.json.clone().unwrap_or(Json::Null)),
            after: Cow::Owned(after.json.clone().unwrap_or(Json::Null)),
            before_explicit: self.action != Act::Create,
            after_explicit: self.action != Act::Delete,
            unknown: Cow::Owned(Json::Bool(false)),
            before_sensitive: Cow::Owned(Json::Bool(false)),
            after_sensitive: Cow::Owned(Json::Bool(false)),
            replace: Matcher::none(),
            relevant: Matcher::Always,
            non_legacy: true,
        });
        let mut action = self.action;
        let mut jopts = opts.child();
        jopts.override_null_suffix = true;
        let (mut whitespace, mut replace) = (String::new(), String::new());
        if json.action == Act::NoOp && self.action == Act::Update {
            whitespace = if self.replace {
                " # whitespace changes force replacement".into()
            } else {
                " # whitespace changes".into()
            };
            jopts.show_unchanged_children = true;
            action = Act::NoOp;
        } else {
            replace = forces(self.replace, opts);
        }
        let rendered = json.render(ind + 1, &jopts);
        if matches!(self.action, Act::Create | Act::Delete) {
            action = Act::NoOp;
        }
        if rendered.contains('\n') {
            format!(
                "jsonencode({whitespace}\n{}{}{rendered}{replace}\n{}{})",
                indent(ind + 1),
                symbol(action, st),
                indent(ind),
                symbol(Act::NoOp, st),
            ) + &null_suffix(self.action, opts)
        } else {
            format!("jsonencode({rendered}){whitespace}{replace}")
        }
    }
}

fn prim_value(v: &Json, st: Style) -> String {
    match v {
        Json::Null => st.dark_gray("null"),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => go_quote(s),
        other => other.to_string(),
    }
}

/// Terraform's `evaluatePrimitiveString`: null, JSON, multi-line or plain.
#[derive(Default)]
struct Evaluated {
    text: String,
    json: Option<Json>,
    multiline: bool,
    null: bool,
}

impl Evaluated {
    fn simple(&self) -> String {
        if self.null {
            self.text.clone()
        } else {
            go_quote(&self.text)
        }
    }
}

fn evaluate(v: &Json, st: Style) -> Evaluated {
    let Some(s) = v.as_str() else {
        return Evaluated {
            text: st.dark_gray("null"),
            null: true,
            ..Default::default()
        };
    };
    if (s.starts_with('{') || s.starts_with('['))
        && let Ok(j) = serde_json::from_str::<Json>(s)
    {
        return Evaluated {
            text: s.to_string(),
            json: Some(j),
            ..Default::default()
        };
    }
    if s.contains('\n') {
        return Evaluated {
            text: s.trim().to_string(),
            multiline: true,
            ..Default::default()
        };
    }
    Evaluated {
        text: s.to_string(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_of_equal_length_that_are_not_reorderings_compare_position_by_position() {
        let mut seen = Vec::new();
        process_slice(
            &["a", "b", "c", "d"],
            &["a", "c", "b", "e"],
            &|_| false,
            |b, a| seen.push((b, a)),
        );
        assert_eq!(seen, vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
    }

    #[test]
    fn a_shorter_list_keeps_its_longest_common_subsequence() {
        let mut seen = Vec::new();
        process_slice(&[1, 2, 3], &[1, 3], &|_| false, |b, a| seen.push((b, a)));
        // 1 kept, 2 deleted (index 2 = after.len()), 3 kept.
        assert_eq!(seen, vec![(0, 0), (1, 2), (2, 1)]);
    }

    #[test]
    fn go_quoting_escapes_like_percent_q() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
    }
}
