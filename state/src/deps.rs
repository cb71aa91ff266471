//! Recorded dependencies: direct ones in memory and on disk, the transitive rest derived
//! where it is read.
//!
//! Terraform records in each object every resource upstream; a chain of L resources so lists
//! about L²/2 addresses. brick keeps, in memory and on disk (format 2), a set per object whose
//! closure gives them back: the resources it depends on directly (or, from an older state,
//! its whole list minus what the resources it names depend on). The whole list is the set
//! expanded by the (expanded) sets of every object of the resources it names, each resource
//! once, in dependency order: [`crate::State::with_whole_dependencies`], linear in what it
//! produces. Readers that need only an order (destroys) follow the direct sets.
//!
//! Exactness: when a whole list read from an older state (format 1, Terraform's v4) would not
//! be given back by expanding its reduced set (its upstream resources recorded dependencies
//! it does not list, e.g. instances applied with different configurations), the object keeps
//! the whole list, marked [`crate::ObjectState::dependencies_whole`], and is written as
//! `all_dependencies`. Dependencies name configuration resources (module instance keys
//! dropped), so every instance of a resource, in every module instance, contributes to that
//! resource's set.

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

/// For saving: every address named, interned once; each object's dependencies as numbers;
/// which objects each configuration resource holds. Reducing an object is then array work,
/// linear in the lists it reads.
pub(crate) struct Reducer {
    names: Vec<String>,
    /// Each object's dependencies, in [`objects`] order.
    object_ids: Vec<Vec<u32>>,
    /// An object's position, by the address of its dependency list's buffer.
    by_list: HashMap<usize, usize>,
    /// The configuration resource a name is, if it is one.
    resource_of: Vec<Option<u32>>,
    members: Vec<Vec<usize>>,
    longest: Vec<usize>,
    marks: std::cell::RefCell<(Vec<u32>, Vec<u32>, u32)>,
}

impl Reducer {
    pub(crate) fn new(state: &State) -> Reducer {
        let mut names: Vec<String> = Vec::new();
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut intern = |name: &str, names: &mut Vec<String>| -> u32 {
            if let Some(&id) = ids.get(name) {
                return id;
            }
            let id = names.len() as u32;
            names.push(name.to_string());
            ids.insert(name.to_string(), id);
            id
        };
        let mut members: Vec<Vec<usize>> = Vec::new();
        let mut longest: Vec<usize> = Vec::new();
        let mut object_ids = Vec::new();
        let mut by_list = HashMap::new();
        let mut last: Option<(&ResourceAddr, u32)> = None;
        for (n, (addr, o)) in objects(state).enumerate() {
            let r = match last {
                Some((a, r)) if a == addr => r,
                _ => {
                    let r = intern(&config_address(addr), &mut names);
                    last = Some((addr, r));
                    r
                }
            };
            if r as usize >= members.len() {
                members.resize(r as usize + 1, Vec::new());
                longest.resize(r as usize + 1, 0);
            }
            members[r as usize].push(n);
            longest[r as usize] = longest[r as usize].max(o.dependencies.len());
            object_ids.push(Vec::new());
            if !o.dependencies.is_empty() {
                by_list.insert(o.dependencies.as_ptr() as usize, n);
            }
        }
        let resources = members.len();
        for (n, (_, o)) in objects(state).enumerate() {
            object_ids[n] = o
                .dependencies
                .iter()
                .map(|d| intern(d, &mut names))
                .collect();
        }
        let mut resource_of = vec![None; names.len()];
        for (r, slot) in resource_of.iter_mut().enumerate().take(resources) {
            *slot = Some(r as u32);
        }
        let marks = std::cell::RefCell::new((vec![0; names.len()], vec![0; names.len()], 0));
        Reducer {
            names,
            object_ids,
            by_list,
            resource_of,
            members,
            longest,
            marks,
        }
    }

    /// The reduced set of one object's dependencies, sorted; or `Literal` when expanding
    /// the reduced set on load would not give exactly the object's list back.
    pub(crate) fn reduce(&self, deps: &[String]) -> Written {
        if deps.is_empty() {
            return Written::Reduced(Vec::new());
        }
        let Some(&o) = self.by_list.get(&(deps.as_ptr() as usize)) else {
            return Written::Literal;
        };
        let mut marks = self.marks.borrow_mut();
        let (in_all, covered, stamp) = &mut *marks;
        *stamp += 1;
        let s = *stamp;
        let ids = &self.object_ids[o];
        for &id in ids {
            if in_all[id as usize] == s {
                return Written::Literal;
            }
            in_all[id as usize] = s;
        }
        let size = |id: u32| {
            self.resource_of[id as usize]
                .map(|r| self.longest[r as usize])
                .unwrap_or(0)
        };
        // Larger upstream sets first: a resource that another dependency reaches has a
        // smaller set than that one (the graph is acyclic), so it is covered first. (The
        // order only makes the set small; expanding gives the whole list back in any order.)
        let mut order: Vec<u32> = ids.clone();
        order.sort_unstable_by(|a, b| size(*b).cmp(&size(*a)).then(a.cmp(b)));
        let mut out = Vec::new();
        for d in order {
            if covered[d as usize] == s {
                continue;
            }
            if let Some(r) = self.resource_of[d as usize] {
                for &m in &self.members[r as usize] {
                    for &e in &self.object_ids[m] {
                        if in_all[e as usize] != s || e == d {
                            return Written::Literal;
                        }
                        covered[e as usize] = s;
                    }
                }
            }
            out.push(self.names[d as usize].clone());
        }
        out.sort_unstable();
        Written::Reduced(out)
    }
}

/// After loading an older state (format 1, Terraform's v4) whose objects list their whole
/// upstream: each object keeps its reduced set, or its whole list marked
/// `dependencies_whole` when expanding the reduced set would not give it back.
pub(crate) fn reduce_whole(state: &mut State) {
    let written: Vec<Written> = {
        let reducer = Reducer::new(state);
        objects(state)
            .map(|(_, o)| reducer.reduce(&o.dependencies))
            .collect()
    };
    let mut written = written.into_iter();
    for o in objects_mut(state) {
        match written.next() {
            Some(Written::Reduced(d)) => o.dependencies = d,
            Some(Written::Literal) => o.dependencies_whole = true,
            None => {}
        }
    }
}

fn objects_mut(state: &mut State) -> impl Iterator<Item = &mut ObjectState> {
    state.resources.values_mut().flat_map(|r| {
        r.instances.values_mut().flat_map(|i| {
            i.current
                .iter_mut()
                .map(|o| &mut **o)
                .chain(i.deposed.values_mut())
        })
    })
}

/// Expands every object's dependencies (those not marked `dependencies_whole`) into the whole
/// list, sorted, and marks every object `dependencies_whole`. Each configuration resource's expanded set is computed once (iteratively, in
/// dependency order) as numbers naming interned addresses, so the work and the extra memory
/// are linear in the sets produced.
pub(crate) fn expand(state: &mut State) {
    let literal: HashSet<usize> = objects(state)
        .enumerate()
        .filter(|(_, (_, o))| o.dependencies_whole)
        .map(|(n, _)| n)
        .collect();
    // Every address named, interned; configuration resources are interned first.
    let mut names: Vec<String> = Vec::new();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut intern = |name: &str, names: &mut Vec<String>| -> u32 {
        if let Some(&id) = ids.get(name) {
            return id;
        }
        let id = names.len() as u32;
        names.push(name.to_string());
        ids.insert(name.to_string(), id);
        id
    };
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut recorded: Vec<Vec<u32>> = Vec::new();
    let mut last: Option<(&ResourceAddr, u32)> = None;
    for (addr, _) in objects(state) {
        let r = match last {
            Some((a, r)) if a == addr => r,
            _ => {
                let r = intern(&config_address(addr), &mut names);
                last = Some((addr, r));
                r
            }
        };
        if r as usize >= members.len() {
            members.resize(r as usize + 1, Vec::new());
        }
        members[r as usize].push(recorded.len());
        recorded.push(Vec::new());
    }
    let resources = members.len();
    for (n, (_, o)) in objects(state).enumerate() {
        recorded[n] = o
            .dependencies
            .iter()
            .map(|d| intern(d, &mut names))
            .collect();
    }
    // Alphabetical rank of every name, to sort the results without comparing strings.
    let mut by_name: Vec<u32> = (0..names.len() as u32).collect();
    by_name.sort_unstable_by(|a, b| names[*a as usize].cmp(&names[*b as usize]));
    let mut rank = vec![0u32; names.len()];
    for (r, id) in by_name.iter().enumerate() {
        rank[*id as usize] = r as u32;
    }
    // Post-order walk over configuration resources (a cycle, which brick never records, is
    // cut where it is found).
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; resources];
    let mut full: Vec<Option<Vec<u32>>> = vec![None; recorded.len()];
    let mut res_full: Vec<Vec<u32>> = vec![Vec::new(); resources];
    let mut seen = vec![u32::MAX; names.len()];
    let upstream_of = |r: usize| -> Vec<usize> {
        members[r]
            .iter()
            .filter(|o| !literal.contains(o))
            .flat_map(|o| recorded[*o].iter())
            .map(|&d| d as usize)
            .filter(|&d| d < resources)
            .collect()
    };
    for root in 0..resources {
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
            // `seen[id] == stamp` marks what this resource's set already holds.
            let res_stamp = r as u32;
            let mut set: Vec<u32> = Vec::new();
            for &o in &members[r] {
                let mut deps: Vec<u32> = Vec::new();
                let mut mine: HashSet<u32> = HashSet::new();
                let mut add = |id: u32, deps: &mut Vec<u32>| {
                    if mine.insert(id) {
                        deps.push(id);
                    }
                };
                for &d in &recorded[o] {
                    add(d, &mut deps);
                    if !literal.contains(&o) && (d as usize) < resources {
                        for &e in &res_full[d as usize] {
                            add(e, &mut deps);
                        }
                    }
                }
                deps.sort_unstable_by_key(|id| rank[*id as usize]);
                for &id in &deps {
                    if seen[id as usize] != res_stamp {
                        seen[id as usize] = res_stamp;
                        set.push(id);
                    }
                }
                full[o] = Some(deps);
            }
            res_full[r] = set;
            mark[r] = Mark::Done;
        }
    }
    let mut full = full.into_iter();
    for o in objects_mut(state) {
        if let Some(Some(d)) = full.next() {
            o.dependencies = d.iter().map(|id| names[*id as usize].clone()).collect();
        }
        o.dependencies_whole = true;
    }
}
