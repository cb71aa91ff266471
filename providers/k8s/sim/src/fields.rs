//! Field ownership for server-side apply, as Kubernetes documents it: field sets in the
//! `FieldsV1` encoding (`f:name`, `k:{"name":"x"}`, `v:"x"`, `.`), the set an applied
//! configuration owns, the changes an update makes, the apply merge, and removal of fields a
//! manager stopped applying.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::types::{ListType, ResourceType, is_map_for, list_type_for};

/// The shape of a kind: which lists are associative or sets and which objects are maps.
#[derive(Clone, Copy)]
pub struct Shape<'a> {
    pub rt: Option<&'a ResourceType>,
}

impl Shape<'_> {
    fn list_type(&self, names: &[String]) -> ListType {
        list_type_for(self.rt, names)
    }
    fn is_map(&self, names: &[String]) -> bool {
        is_map_for(self.rt, names)
    }
}

/// A set of field paths as a tree; `member` marks the node itself as owned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSet {
    pub member: bool,
    pub children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// The `FieldsV1` JSON of this set.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, c) in &self.children {
            if !c.is_empty() {
                m.insert(k.clone(), c.to_json());
            }
        }
        Value::Object(m)
    }

    pub fn from_json(v: &Value) -> FieldSet {
        let mut s = FieldSet::default();
        if let Some(m) = v.as_object() {
            if m.is_empty() {
                s.member = true;
            }
            for (k, c) in m {
                if k == "." {
                    s.member = true;
                } else {
                    s.children.insert(k.clone(), FieldSet::from_json(c));
                }
            }
        }
        s
    }

    pub fn union(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (k, c) in &other.children {
            self.children.entry(k.clone()).or_default().union(c);
        }
    }

    /// Removes every member of `other` from this set.
    pub fn subtract(&mut self, other: &FieldSet) {
        if other.member {
            self.member = false;
        }
        for (k, c) in &other.children {
            if let Some(mine) = self.children.get_mut(k) {
                mine.subtract(c);
            }
        }
        self.children.retain(|_, c| !c.is_empty());
    }

    /// Removes this whole subtree's members at and below the nodes where `other` has members.
    pub fn subtract_subtrees(&mut self, other: &FieldSet) {
        if other.member {
            *self = FieldSet::default();
            return;
        }
        for (k, c) in &other.children {
            if let Some(mine) = self.children.get_mut(k) {
                mine.subtract_subtrees(c);
            }
        }
        self.children.retain(|_, c| !c.is_empty());
    }

    /// The members both sets hold.
    pub fn intersect(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (k, c) in &self.children {
            if let Some(o) = other.children.get(k) {
                let i = c.intersect(o);
                if !i.is_empty() {
                    out.children.insert(k.clone(), i);
                }
            }
        }
        out
    }

    /// Whether any member lies at or below `path`.
    pub fn has_under(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => !self.is_empty(),
            Some((h, rest)) => self.children.get(h).is_some_and(|c| c.has_under(rest)),
        }
    }

    /// Every member path.
    pub fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member {
            out.push(at.clone());
        }
        for (k, c) in &self.children {
            at.push(k.clone());
            c.collect(at, out);
            at.pop();
        }
    }

    pub fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.member = true,
            Some((h, rest)) => self.children.entry(h.clone()).or_default().insert(rest),
        }
    }
}

/// A path in the `.spec.containers[name="x"].image` form conflicts are reported in.
pub fn display_path(path: &[String]) -> String {
    let mut s = String::new();
    for p in path {
        if let Some(f) = p.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = p.strip_prefix("k:") {
            let parts: Vec<String> = serde_json::from_str::<Map<String, Value>>(k)
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = p.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        } else if let Some(i) = p.strip_prefix("i:") {
            s.push_str(&format!("[{i}]"));
        }
    }
    s
}

/// The `k:` element of a list item: its key fields as a JSON object, names sorted.
fn key_elem(item: &Value, keys: &[String]) -> Option<String> {
    let mut m = BTreeMap::new();
    for k in keys {
        if let Some(v) = item.get(k) {
            m.insert(k.clone(), v.clone());
        }
    }
    if m.is_empty() {
        return None;
    }
    let obj: Map<String, Value> = m.into_iter().collect();
    Some(format!("k:{}", Value::Object(obj)))
}

fn value_elem(v: &Value) -> String {
    format!("v:{v}")
}

/// The fields an applied configuration sets: leaves, list items (as members) and empty objects.
pub fn applied_set(v: &Value, shape: Shape) -> FieldSet {
    let mut names = Vec::new();
    owned(v, shape, &mut names, false)
}

fn owned(v: &Value, shape: Shape, names: &mut Vec<String>, mark_maps: bool) -> FieldSet {
    let mut s = FieldSet::default();
    match v {
        Value::Object(m) if !m.is_empty() => {
            if mark_maps && !names.is_empty() && shape.is_map(names) {
                s.member = true;
            }
            for (k, c) in m {
                names.push(k.clone());
                s.children
                    .insert(format!("f:{k}"), owned(c, shape, names, mark_maps));
                names.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match shape.list_type(names) {
            ListType::Atomic => s.member = true,
            ListType::Set => {
                for i in items {
                    s.children.insert(
                        value_elem(i),
                        FieldSet {
                            member: true,
                            children: BTreeMap::new(),
                        },
                    );
                }
            }
            ListType::Map(keys) => {
                for i in items {
                    let Some(e) = key_elem(i, &keys) else {
                        continue;
                    };
                    let mut c = owned(i, shape, names, mark_maps);
                    c.member = true;
                    s.children.insert(e, c);
                }
            }
        },
        _ => s.member = true,
    }
    s
}

/// What an update changed: the fields it added or modified (with added maps and list items as
/// members, as the API server records them), and the fields it removed.
pub fn changes(old: &Value, new: &Value, shape: Shape) -> (FieldSet, FieldSet) {
    let mut changed = FieldSet::default();
    let mut removed = FieldSet::default();
    diff(old, new, shape, &mut Vec::new(), &mut changed, &mut removed);
    (changed, removed)
}

fn diff(
    old: &Value,
    new: &Value,
    shape: Shape,
    names: &mut Vec<String>,
    changed: &mut FieldSet,
    removed: &mut FieldSet,
) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (k, nv) in n {
                names.push(k.clone());
                let key = format!("f:{k}");
                match o.get(k) {
                    Some(ov) => {
                        let c = changed.children.entry(key.clone()).or_default();
                        let r = removed.children.entry(key).or_default();
                        diff(ov, nv, shape, names, c, r);
                    }
                    None => {
                        changed.children.insert(key, owned(nv, shape, names, true));
                    }
                }
                names.pop();
            }
            for k in o.keys() {
                if !n.contains_key(k) {
                    removed.insert(&[format!("f:{k}")]);
                }
            }
        }
        (Value::Array(o), Value::Array(n)) if o != n => match shape.list_type(names) {
            ListType::Map(keys) if !o.is_empty() && !n.is_empty() => {
                let olds: BTreeMap<String, &Value> = o
                    .iter()
                    .filter_map(|i| key_elem(i, &keys).map(|k| (k, i)))
                    .collect();
                let mut seen = Vec::new();
                for ni in n {
                    let Some(e) = key_elem(ni, &keys) else {
                        continue;
                    };
                    seen.push(e.clone());
                    match olds.get(&e) {
                        Some(oi) => {
                            let c = changed.children.entry(e.clone()).or_default();
                            let r = removed.children.entry(e).or_default();
                            diff(oi, ni, shape, names, c, r);
                        }
                        None => {
                            let mut c = owned(ni, shape, names, true);
                            c.member = true;
                            changed.children.insert(e, c);
                        }
                    }
                }
                for e in olds.keys() {
                    if !seen.contains(e) {
                        removed.insert(std::slice::from_ref(e));
                    }
                }
            }
            ListType::Set if !o.is_empty() && !n.is_empty() => {
                for ni in n {
                    if !o.contains(ni) {
                        changed.insert(&[value_elem(ni)]);
                    }
                }
                for oi in o {
                    if !n.contains(oi) {
                        removed.insert(&[value_elem(oi)]);
                    }
                }
            }
            _ => {
                *changed = owned(new, shape, names, true);
                changed.member = true;
            }
        },
        (o, n) if o != n => {
            *changed = owned(n, shape, names, true);
            changed.member = true;
        }
        _ => {}
    }
    changed.children.retain(|_, c| !c.is_empty());
    removed.children.retain(|_, c| !c.is_empty());
}

/// The apply merge: the applied configuration's values over the live object's; maps merge,
/// associative lists merge item by item, sets unite, other lists and scalars are replaced.
pub fn merge(live: &Value, applied: &Value, shape: Shape) -> Value {
    merge_at(live, applied, shape, &mut Vec::new())
}

fn merge_at(live: &Value, applied: &Value, shape: Shape, names: &mut Vec<String>) -> Value {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            let mut out = l.clone();
            for (k, av) in a {
                names.push(k.clone());
                if av.is_null() {
                    out.remove(k);
                } else {
                    let v = match l.get(k) {
                        Some(lv) => merge_at(lv, av, shape, names),
                        None => av.clone(),
                    };
                    out.insert(k.clone(), v);
                }
                names.pop();
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(a)) => match shape.list_type(names) {
            ListType::Map(keys) => {
                let mut out = l.clone();
                for ai in a {
                    let e = key_elem(ai, &keys);
                    let pos = e.as_ref().and_then(|e| {
                        out.iter()
                            .position(|li| key_elem(li, &keys).as_ref() == Some(e))
                    });
                    match pos {
                        Some(p) => out[p] = merge_at(&out[p], ai, shape, names),
                        None => out.push(ai.clone()),
                    }
                }
                Value::Array(out)
            }
            ListType::Set => {
                let mut out = l.clone();
                for ai in a {
                    if !out.contains(ai) {
                        out.push(ai.clone());
                    }
                }
                Value::Array(out)
            }
            ListType::Atomic => applied.clone(),
        },
        _ => applied.clone(),
    }
}

/// Removes from `obj` the fields at the member paths of `set`, except where `keep` still owns
/// something below them.
pub fn remove_fields(obj: &mut Value, set: &FieldSet, keep: &FieldSet, shape: Shape) {
    for path in set.paths() {
        if path.is_empty() || keep.has_under(&path) {
            continue;
        }
        remove_path(obj, &path, shape);
    }
}

fn remove_path(obj: &mut Value, path: &[String], shape: Shape) {
    let _ = shape;
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for p in parents {
        let Some(next) = child_mut(cur, p) else {
            return;
        };
        cur = next;
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(items) = cur.as_array_mut() {
        items.retain(|i| !elem_matches(i, last));
    }
}

fn elem_matches(item: &Value, elem: &str) -> bool {
    if let Some(k) = elem.strip_prefix("k:") {
        let Ok(key) = serde_json::from_str::<Map<String, Value>>(k) else {
            return false;
        };
        key.iter().all(|(k, v)| item.get(k) == Some(v))
    } else if let Some(v) = elem.strip_prefix("v:") {
        serde_json::from_str::<Value>(v).is_ok_and(|v| &v == item)
    } else {
        false
    }
}

fn child_mut<'v>(v: &'v mut Value, elem: &str) -> Option<&'v mut Value> {
    if let Some(f) = elem.strip_prefix("f:") {
        v.get_mut(f)
    } else {
        v.as_array_mut()?.iter_mut().find(|i| elem_matches(i, elem))
    }
}

/// The value at a field-set path, if any.
pub fn value_at<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut cur = v;
    for elem in path {
        cur = if let Some(f) = elem.strip_prefix("f:") {
            cur.get(f)?
        } else {
            cur.as_array()?.iter().find(|i| elem_matches(i, elem))?
        };
    }
    Some(cur)
}

/// The fields no manager tracks: identity and bookkeeping kept by the server.
pub fn strip_untracked(set: &mut FieldSet, status_subresource: Option<bool>) {
    set.children.remove("f:apiVersion");
    set.children.remove("f:kind");
    if let Some(meta) = set.children.get_mut("f:metadata") {
        for f in [
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "managedFields",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            meta.children.remove(&format!("f:{f}"));
        }
        meta.member = false;
    }
    match status_subresource {
        Some(false) => {
            set.children.remove("f:status");
        }
        Some(true) => set.children.retain(|k, _| k == "f:status"),
        None => {}
    }
    set.member = false;
    set.children.retain(|_, c| !c.is_empty());
}
