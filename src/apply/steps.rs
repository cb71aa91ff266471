//! The step graph of an apply: every change becomes one or two steps (a replacement is a
//! destroy and a create, in the order `create_before_destroy` asks for), and each step waits
//! for the steps its change must follow — creates and updates after what they depend on,
//! destroys in reverse, the deposed half of a create-before-destroy after all its dependents,
//! a change of a provider configured during apply after what its configuration reads.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::addr::{InstanceAddr, ResourceAddr};
use crate::plan::model::{Action, LateProvider, Plan, PlanMode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StepKind {
    /// Create, update, no-op or read: produces the instance's new value.
    Apply,
    /// Destroys the current object (delete, or the first half of delete-then-create).
    Destroy,
    /// Destroys the deposed object after its replacement exists (create-then-delete).
    DestroyDeposed,
    Forget,
}

pub(super) struct Step {
    /// The index of its change in the plan.
    pub change: usize,
    pub kind: StepKind,
    /// How many steps it still waits for.
    pub waiting: usize,
    /// The steps that wait for it.
    pub dependents: Vec<usize>,
    /// Set when a dependency failed.
    pub skipped_because: Option<InstanceAddr>,
}

/// The steps of `plan` (none for a refresh-only plan), each with what waits for it. `late`
/// are the providers configured during apply.
pub(super) fn build(plan: &Plan, late: &HashMap<&str, &LateProvider>) -> Vec<Step> {
    if plan.mode == PlanMode::RefreshOnly {
        return Vec::new();
    }
    let mut g = StepGraph::new(plan);
    g.dependency_edges();
    g.deposed_edges();
    g.late_provider_edges(late);
    g.updates_before_destroys();
    g.into_steps()
}

/// The steps while their order is worked out.
struct StepGraph<'p> {
    plan: &'p Plan,
    steps: Vec<Step>,
    apply_step: HashMap<&'p InstanceAddr, usize>,
    destroy_step: HashMap<&'p InstanceAddr, usize>,
    /// By configuration address: a dependency is recorded without module instance keys.
    by_resource: HashMap<ResourceAddr, Vec<usize>>,
    /// (a, b): b waits for a.
    edges: Vec<(usize, usize)>,
}

impl<'p> StepGraph<'p> {
    /// One or two steps per change, not yet ordered.
    fn new(plan: &'p Plan) -> StepGraph<'p> {
        let mut g = StepGraph {
            plan,
            steps: Vec::new(),
            apply_step: HashMap::new(),
            destroy_step: HashMap::new(),
            by_resource: HashMap::new(),
            edges: Vec::new(),
        };
        for (ci, c) in plan.changes.iter().enumerate() {
            g.by_resource
                .entry(c.addr.resource.config_addr())
                .or_default()
                .push(ci);
            match c.action {
                Action::NoOp | Action::Create | Action::Update | Action::Read => {
                    let s = g.step(ci, StepKind::Apply);
                    g.apply_step.insert(&c.addr, s);
                }
                Action::Delete => {
                    let s = g.step(ci, StepKind::Destroy);
                    g.destroy_step.insert(&c.addr, s);
                }
                Action::DeleteThenCreate => {
                    let s = g.step(ci, StepKind::Destroy);
                    g.destroy_step.insert(&c.addr, s);
                    let s = g.step(ci, StepKind::Apply);
                    g.apply_step.insert(&c.addr, s);
                }
                Action::CreateThenDelete => {
                    let s = g.step(ci, StepKind::Apply);
                    g.apply_step.insert(&c.addr, s);
                    let s = g.step(ci, StepKind::DestroyDeposed);
                    g.destroy_step.insert(&c.addr, s);
                }
                Action::Forget => {
                    g.step(ci, StepKind::Forget);
                }
            }
        }
        g
    }

    fn step(&mut self, change: usize, kind: StepKind) -> usize {
        self.steps.push(Step {
            change,
            kind,
            waiting: 0,
            dependents: Vec::new(),
            skipped_because: None,
        });
        self.steps.len() - 1
    }

    /// Recorded dependencies are direct (see `Dependencies`): a change waits for the steps of
    /// the resources it names, and through their steps for everything upstream. Where a named
    /// resource has no step of the kind in question, the order follows its changes'
    /// dependencies on to the nearest resources that do (`nearest_with`), as the whole
    /// transitive lists Terraform records would order them.
    fn dependency_edges(&mut self) {
        let plan = self.plan;
        let (apply_step, destroy_step, by_resource) =
            (&self.apply_step, &self.destroy_step, &self.by_resource);
        let edges = &mut self.edges;
        let has_destroy = |r: &ResourceAddr| {
            by_resource.get(r).is_some_and(|cs| {
                cs.iter()
                    .any(|&ci| destroy_step.contains_key(&plan.changes[ci].addr))
            })
        };
        let upstream = |r: &ResourceAddr| -> Vec<&ResourceAddr> {
            let mut out: Vec<&ResourceAddr> = Vec::new();
            for &ci in by_resource.get(r).into_iter().flatten() {
                out.extend(plan.changes[ci].depends_on.iter().map(|d| &**d));
            }
            out.sort_unstable();
            out.dedup();
            out
        };
        let mut nearest_destroyed: HashMap<&ResourceAddr, Rc<Vec<&ResourceAddr>>> = HashMap::new();
        for c in plan.changes.iter() {
            let mine_destroy = destroy_step.get(&c.addr).copied();
            for dep in &c.depends_on {
                let Some(dep_changes) = by_resource.get(&**dep) else {
                    continue;
                };
                for &dci in dep_changes {
                    let d = &plan.changes[dci];
                    // Creates and updates wait for what they depend on.
                    if let (Some(&a), Some(&b)) = (apply_step.get(&d.addr), apply_step.get(&c.addr))
                    {
                        edges.push((a, b));
                    }
                }
                // Destroys go in reverse: the dependent's destroy first, before those of the
                // nearest resources upstream that are destroyed.
                if let Some(mine) = mine_destroy {
                    let targets = if has_destroy(dep) {
                        Rc::new(vec![&**dep])
                    } else {
                        nearest_with(dep, &has_destroy, &upstream, &mut nearest_destroyed)
                    };
                    for t in targets.iter() {
                        for &dci in by_resource.get(*t).into_iter().flatten() {
                            if let Some(&theirs) = destroy_step.get(&plan.changes[dci].addr) {
                                edges.push((mine, theirs));
                            }
                        }
                    }
                }
            }
            match c.action {
                Action::DeleteThenCreate => {
                    edges.push((destroy_step[&c.addr], apply_step[&c.addr]));
                }
                Action::CreateThenDelete => {
                    edges.push((apply_step[&c.addr], destroy_step[&c.addr]));
                }
                _ => {}
            }
        }
    }

    /// The deposed half of a create-before-destroy waits for the new objects of everything
    /// that depends on it, directly or not (one walk of the dependents per such resource).
    fn deposed_edges(&mut self) {
        let plan = self.plan;
        let mut dependents: HashMap<&ResourceAddr, Vec<&ResourceAddr>> = HashMap::new();
        let mut deposing: Vec<&ResourceAddr> = Vec::new();
        for (r, cs) in &self.by_resource {
            let mut applied = false;
            for &ci in cs {
                let c = &plan.changes[ci];
                if c.action == Action::CreateThenDelete {
                    deposing.push(r);
                }
                applied |= self.apply_step.contains_key(&c.addr);
            }
            if applied {
                for &ci in cs {
                    if self.apply_step.contains_key(&plan.changes[ci].addr) {
                        for d in &plan.changes[ci].depends_on {
                            dependents.entry(&**d).or_default().push(r);
                        }
                    }
                }
            }
        }
        deposing.sort_unstable();
        deposing.dedup();
        for d in deposing {
            let mut seen: HashSet<&ResourceAddr> = HashSet::new();
            let mut stack: Vec<&ResourceAddr> = dependents.get(d).cloned().unwrap_or_default();
            while let Some(r) = stack.pop() {
                if !seen.insert(r) {
                    continue;
                }
                stack.extend(dependents.get(r).into_iter().flatten().copied());
            }
            for &dci in &self.by_resource[d] {
                let dc = &plan.changes[dci];
                if dc.action != Action::CreateThenDelete {
                    continue;
                }
                let Some(&dd) = self.destroy_step.get(&dc.addr) else {
                    continue;
                };
                for r in &seen {
                    for &ci in &self.by_resource[*r] {
                        if let Some(&a) = self.apply_step.get(&plan.changes[ci].addr) {
                            self.edges.push((a, dd));
                        }
                    }
                }
            }
        }
    }

    /// A change of a provider configured during apply waits for every change of what the
    /// provider's configuration reads.
    fn late_provider_edges(&mut self, late: &HashMap<&str, &LateProvider>) {
        for c in &self.plan.changes {
            let (Some(l), Some(&mine)) =
                (late.get(c.provider.as_str()), self.apply_step.get(&c.addr))
            else {
                continue;
            };
            for dep in &l.depends_on {
                for &dci in self.by_resource.get(&**dep).into_iter().flatten() {
                    if let Some(&theirs) = self.apply_step.get(&self.plan.changes[dci].addr) {
                        self.edges.push((theirs, mine));
                    }
                }
            }
        }
    }

    /// As Terraform does: an update of a dependent runs before the destroy of an instance it
    /// depended on (a cluster losing a node is updated before the node is destroyed), unless
    /// that ordering would close a cycle with the edges above (a replacement in between).
    fn updates_before_destroys(&mut self) {
        let mut later: Vec<(usize, usize)> = Vec::new();
        for c in &self.plan.changes {
            if c.action != Action::Update {
                continue;
            }
            let Some(&mine) = self.apply_step.get(&c.addr) else {
                continue;
            };
            for dep in &c.depends_on {
                for &dci in self.by_resource.get(dep).into_iter().flatten() {
                    let d = &self.plan.changes[dci];
                    if d.action == Action::Delete
                        && let Some(&theirs) = self.destroy_step.get(&d.addr)
                    {
                        later.push((mine, theirs));
                    }
                }
            }
        }
        for (a, b) in later {
            if !reaches(self.steps.len(), &self.edges, b, a) {
                self.edges.push((a, b));
            }
        }
    }

    /// The steps with their waits and dependents.
    fn into_steps(self) -> Vec<Step> {
        let mut steps = self.steps;
        let mut edges = self.edges;
        edges.sort_unstable();
        edges.dedup();
        for (a, b) in edges {
            if a == b {
                continue;
            }
            steps[a].dependents.push(b);
            steps[b].waiting += 1;
        }
        steps
    }
}

/// Whether `to` is reachable from `from` along `edges` (step indices below `n`).
fn reaches(n: usize, edges: &[(usize, usize)], from: usize, to: usize) -> bool {
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges {
        next[a].push(b);
    }
    let mut seen = vec![false; n];
    let mut stack = vec![from];
    while let Some(s) = stack.pop() {
        if s == to {
            return true;
        }
        if !std::mem::replace(&mut seen[s], true) {
            stack.extend(next[s].iter().copied());
        }
    }
    false
}

/// The resources nearest `start` upstream (following each resource's changes' dependencies,
/// `start` excluded) for which `has` holds, not looking past them; memoized per resource, one
/// walk for all (iterative: a chain may be long). A cycle, which recorded dependencies never
/// hold, is cut where it is found.
fn nearest_with<'p>(
    start: &'p ResourceAddr,
    has: &dyn Fn(&ResourceAddr) -> bool,
    upstream: &dyn Fn(&ResourceAddr) -> Vec<&'p ResourceAddr>,
    memo: &mut HashMap<&'p ResourceAddr, Rc<Vec<&'p ResourceAddr>>>,
) -> Rc<Vec<&'p ResourceAddr>> {
    if let Some(m) = memo.get(start) {
        return m.clone();
    }
    // Post-order: a resource's set is the union of what each resource above it gives (itself
    // when `has` holds, else its own set).
    let mut open: HashSet<&ResourceAddr> = HashSet::new();
    let mut stack: Vec<(&'p ResourceAddr, Vec<&'p ResourceAddr>)> = vec![(start, upstream(start))];
    open.insert(start);
    while let Some((r, pending)) = stack.last_mut() {
        if let Some(next) = pending.pop() {
            if !has(next) && !memo.contains_key(next) && open.insert(next) {
                let up = upstream(next);
                stack.push((next, up));
            }
            continue;
        }
        let r = *r;
        stack.pop();
        let mut set: Vec<&ResourceAddr> = Vec::new();
        for u in upstream(r) {
            if has(u) {
                set.push(u);
            } else if let Some(m) = memo.get(u) {
                set.extend(m.iter().copied());
            }
        }
        set.sort_unstable();
        set.dedup();
        memo.insert(r, Rc::new(set));
    }
    memo.get(start).cloned().unwrap_or_default()
}
