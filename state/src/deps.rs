//! Recorded dependencies on disk: direct ones written, the transitive rest derived on load.
//!
//! In memory an object's `dependencies` list every resource upstream (as Terraform records
//! them). A chain of L resources so lists about L²/2 addresses; on disk (format 2) each
//! object keeps only a set whose closure gives them back: its dependencies minus those of
//! the resources it depends on. Loading expands each object's set by the (already expanded)
//! dependencies of the resources it names, in dependency order, each resource once.
//!
//! Exactness: when expanding would give an object more than it had (its upstream resources
//! recorded dependencies it does not list, e.g. instances applied with different
//! configurations), the object's whole list is written literally instead (`all_dependencies`).
//! Dependencies name configuration resources (module instance keys dropped), so every
//! instance of a resource, in every module instance, contributes to that resource's set.

use std::collections::{HashMap, HashSet};

use crate::model::{ObjectState, ResourceAddr, State};

/// How an object's dependencies are written: a reduced set, or the whole list.
pub(crate) enum Written {
    Reduced(Vec<String>),
    Literal,
}

/// The configuration address of a state resource: module instance keys dropped
/// (`module.a["x"].brick_data.y` becomes `module.a.brick_data.y`), as dependencies name it.
pub(crate) fn config_address(addr: &ResourceAddr) -> String {
    let mut module = String::with_capacity(addr.module.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in addr.module.chars() {
        if depth > 0 {
            if escaped {
                escaped = false;
            } else if quoted && c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = !quoted;
            } else if !quoted && c == ']' {
                depth -= 1;
            } else if !quoted && c == '[' {
                depth += 1;
            }
            continue;
        }
        if c == '[' {
            depth = 1;
            continue;
        }
        module.push(c);
    }
    let plain = ResourceAddr {
        module,
        ..addr.clone()
    };
    plain.to_string()
}

fn objects(state: &State) -> impl Iterator<Item = (&ResourceAddr, &ObjectState)> {
    state.resources.iter().flat_map(|(addr, r)| {
        r.instances.values().flat_map(move |i| {
            i.current
                .iter()
                .map(|o| &**o)
                .chain(i.deposed.values())
                .map(move |o| (addr, o))
        })
    })
}

/// For saving: every configuration resource's dependencies (the union of its objects').
pub(crate) struct Reducer<'a> {
    by_resource: HashMap<String, HashSet<&'a str>>,
}

impl<'a> Reducer<'a> {
    pub(crate) fn new(state: &'a State) -> Reducer<'a> {
        let mut by_resource: HashMap<String, HashSet<&'a str>> = HashMap::new();
        let mut last: Option<(&ResourceAddr, String)> = None;
        for (addr, o) in objects(state) {
            let key = match &last {
                Some((a, k)) if *a == addr => k.clone(),
                _ => {
                    let k = config_address(addr);
                    last = Some((addr, k.clone()));
                    k
                }
            };
            by_resource
                .entry(key)
                .or_default()
                .extend(o.dependencies.iter().map(String::as_str));
        }
        Reducer { by_resource }
    }

    /// The reduced set of one object's dependencies, sorted; or `Literal` when expanding
    /// the reduced set on load would not give exactly the object's list back.
    pub(crate) fn reduce(&self, deps: &[String]) -> Written {
        if deps.is_empty() {
            return Written::Reduced(Vec::new());
        }
        let all: HashSet<&str> = deps.iter().map(String::as_str).collect();
        if all.len() != deps.len() {
            return Written::Literal;
        }
        let empty = HashSet::new();
        let upstream = |d: &str| self.by_resource.get(d).unwrap_or(&empty);
        // Larger upstream sets first: a resource that another dependency reaches has a
        // strictly smaller set than that one (the graph is acyclic), so it is covered first.
        let mut order: Vec<&str> = all.iter().copied().collect();
        order.sort_unstable_by(|a, b| upstream(b).len().cmp(&upstream(a).len()).then(a.cmp(b)));
        let mut covered: HashSet<&str> = HashSet::new();
        let mut out = Vec::new();
        for d in order {
            if covered.contains(d) {
                continue;
            }
            for e in upstream(d) {
                if !all.contains(e) || *e == d {
                    return Written::Literal;
                }
                covered.insert(e);
            }
            out.push(d.to_string());
        }
        out.sort_unstable();
        Written::Reduced(out)
    }
}

/// After loading a format 2 document: expands every object's reduced dependencies (those not
/// in `literal`, identified by their position in [`objects`] order) into the whole list,
/// sorted. Each configuration resource's expanded set is computed once (iteratively, in
/// dependency order), so the work is linear in the sets produced.
pub(crate) fn expand(state: &mut State, literal: &HashSet<usize>) {
    // Configuration resources, and which objects each one holds.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut object_resource: Vec<usize> = Vec::new();
    let mut recorded: Vec<&[String]> = Vec::new();
    for (addr, o) in objects(state) {
        let key = config_address(addr);
        let n = index.len();
        let r = *index.entry(key).or_insert(n);
        if r == members.len() {
            members.push(Vec::new());
        }
        members[r].push(recorded.len());
        object_resource.push(r);
        recorded.push(&o.dependencies);
    }
    // Post-order walk over configuration resources (a cycle, which brick never records, is
    // cut where it is found).
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; members.len()];
    let mut full: Vec<Option<Vec<String>>> = vec![None; recorded.len()];
    let mut res_full: Vec<HashSet<String>> = vec![HashSet::new(); members.len()];
    let upstream_of = |r: usize| -> Vec<usize> {
        members[r]
            .iter()
            .filter(|o| !literal.contains(o))
            .flat_map(|o| recorded[*o].iter())
            .filter_map(|d| index.get(d.as_str()).copied())
            .collect()
    };
    for root in 0..members.len() {
        if mark[root] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, Vec<usize>)> = vec![(root, upstream_of(root))];
        mark[root] = Mark::Open;
        while let Some((r, pending)) = stack.last_mut() {
            if let Some(next) = pending.pop() {
                if mark[next] == Mark::New {
                    mark[next] = Mark::Open;
                    let up = upstream_of(next);
                    stack.push((next, up));
                }
                continue;
            }
            let r = *r;
            stack.pop();
            let mut set = HashSet::new();
            for &o in &members[r] {
                let deps: Vec<String> = if literal.contains(&o) {
                    recorded[o].to_vec()
                } else {
                    let mut all: HashSet<&str> = recorded[o].iter().map(String::as_str).collect();
                    for d in recorded[o] {
                        if let Some(&u) = index.get(d.as_str()) {
                            all.extend(res_full[u].iter().map(String::as_str));
                        }
                    }
                    let mut v: Vec<String> = all.into_iter().map(str::to_string).collect();
                    v.sort_unstable();
                    v
                };
                set.extend(deps.iter().cloned());
                full[o] = Some(deps);
            }
            res_full[r] = set;
            mark[r] = Mark::Done;
        }
    }
    let mut full = full.into_iter();
    for r in state.resources.values_mut() {
        for i in r.instances.values_mut() {
            let objs = i
                .current
                .iter_mut()
                .map(|o| &mut **o)
                .chain(i.deposed.values_mut());
            for o in objs {
                if let Some(Some(d)) = full.next() {
                    o.dependencies = d;
                }
            }
        }
    }
}
