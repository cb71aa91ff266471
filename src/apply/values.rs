//! The values apply evaluates with: every instance's value as it stands now (recorded state
//! overlaid with the plan, then each applied step's new state), the module values walk over
//! them (variables, locals, module calls and outputs, cached until what it read changes), and
//! [`ApplyScope`], the `Scope` of one module instance over both.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use brick_provider_api::Value;

use crate::addr::{InstanceAddr, InstanceKey, ResourceAddr};
use crate::eval::{Reference, Scope};
use crate::graph::Node;
use crate::input::Configuration;
use crate::plan::model::{Action, Plan, PriorState};
use crate::plan::scope::{ModuleView, Shape, Working};

/// Instance values by resource (in a module instance) and key.
pub(super) type Instances = HashMap<ResourceAddr, BTreeMap<InstanceKey, Value>>;

/// The value of a resource (in a module instance) assembled from its instances' values.
fn resource_value(
    addr: &ResourceAddr,
    instances: &Instances,
    shapes: &HashMap<ResourceAddr, Shape>,
) -> Option<Value> {
    let cfg = addr.config_addr();
    let shape = shapes.get(&cfg).copied().unwrap_or(Shape::Single);
    let empty = BTreeMap::new();
    let inst = instances.get(addr).unwrap_or(&empty);
    let mut w = Working::default();
    w.set_resource(addr, shape, inst);
    w.resources.remove(addr)
}

/// The scope of apply in one module instance: variables, locals and module values from a
/// values walk ([`eval_locals_in`]), resource values assembled on demand from instances.
pub(super) struct ApplyScope<'a> {
    pub module: &'a str,
    pub values: &'a Working,
    pub instances: &'a Instances,
    pub shapes: &'a HashMap<ResourceAddr, Shape>,
}

impl Scope for ApplyScope<'_> {
    fn get(&self, reference: &Reference) -> Option<Value> {
        let lookup = |a: &ResourceAddr| resource_value(a, self.instances, self.shapes);
        ModuleView {
            working: self.values,
            module: self.module,
            lookup: Some(&lookup),
        }
        .get(reference)
    }
}

/// A values walk and the instances it was made with: what scopes of any module instance
/// are made from.
pub(super) struct Known<'a> {
    pub values: &'a Working,
    pub instances: &'a Instances,
    pub shapes: &'a HashMap<ResourceAddr, Shape>,
}

impl<'a> Known<'a> {
    /// The scope of module instance `module` (`""` for the root).
    pub fn scope<'m>(&'m self, module: &'m str) -> ApplyScope<'m> {
        ApplyScope {
            module,
            values: self.values,
            instances: self.instances,
            shapes: self.shapes,
        }
    }
}

/// Every instance's value as apply goes, and the module values walked over them.
pub(super) struct Values<'a> {
    config: &'a Configuration,
    /// Recorded state overlaid with the plan, then each applied step's new state.
    pub instances: Instances,
    /// Keyed by configuration address (module keys dropped).
    pub shapes: HashMap<ResourceAddr, Shape>,
    /// The order of locals is fixed by the configuration: worked out once, not per step.
    order: Vec<Node>,
    cache: ValuesCache,
}

impl<'a> Values<'a> {
    /// The values before the first step: what `prior` records, overlaid with what `plan`
    /// plans.
    pub fn new(config: &'a Configuration, plan: &Plan, prior: &PriorState) -> Values<'a> {
        let shapes: HashMap<ResourceAddr, Shape> = config
            .resources
            .iter()
            .map(|r| (r.addr.clone(), r.expansion.shape()))
            .collect();
        // What a change removes or overwrites is never copied from the prior first (a
        // destroy of 100,000 objects would copy them all, only to remove them).
        let touched: HashSet<&InstanceAddr> = plan
            .changes
            .iter()
            .flat_map(|c| std::iter::once(&c.addr).chain(c.previous_addr.as_ref()))
            .collect();
        let mut instances: Instances = HashMap::new();
        for (a, i) in &prior.instances {
            if touched.contains(a) {
                continue;
            }
            instances
                .entry(a.resource.clone())
                .or_default()
                .insert(a.key.clone(), i.value.clone());
        }
        for c in &plan.changes {
            if let Some(prev) = &c.previous_addr
                && let Some(pm) = instances.get_mut(&prev.resource)
            {
                pm.remove(&prev.key);
            }
            let m2 = instances.entry(c.addr.resource.clone()).or_default();
            if matches!(c.action, Action::Delete | Action::Forget) {
                m2.remove(&c.addr.key);
            } else {
                m2.insert(c.addr.key.clone(), c.after.clone());
            }
        }
        Values {
            config,
            instances,
            shapes,
            order: locals_order(config),
            cache: ValuesCache::default(),
        }
    }

    /// The value of an instance now.
    pub fn get(&self, addr: &InstanceAddr) -> Option<&Value> {
        self.instances
            .get(&addr.resource)
            .and_then(|m| m.get(&addr.key))
    }

    /// An instance's new value.
    pub fn set(&mut self, addr: &InstanceAddr, value: Value) {
        self.instances
            .entry(addr.resource.clone())
            .or_default()
            .insert(addr.key.clone(), value);
        self.cache.changed(&addr.resource);
    }

    /// An instance that no longer exists.
    pub fn remove(&mut self, addr: &InstanceAddr) {
        if let Some(m) = self.instances.get_mut(&addr.resource) {
            m.remove(&addr.key);
        }
        self.cache.changed(&addr.resource);
    }

    /// The values walk of now, cached until a resource it read changes.
    pub fn known(&mut self) -> Known<'_> {
        let values = self
            .cache
            .get(self.config, &self.order, &self.instances, &self.shapes);
        Known {
            values,
            instances: &self.instances,
            shapes: &self.shapes,
        }
    }

    /// A values walk (not cached) over `instances`, these or others.
    pub fn walk(&self, instances: &Instances) -> Working {
        eval_locals_in(self.config, &self.order, instances, &self.shapes)
    }
}

/// The nodes the values walk evaluates (locals, module calls, child module inputs and
/// outputs) in dependency order; empty when they form a cycle, which planning has already
/// reported.
fn locals_order(config: &Configuration) -> Vec<Node> {
    if config.locals.is_empty() && config.module_calls.is_empty() {
        return Vec::new();
    }
    let graph = crate::graph::ConfigGraph::build(config);
    let Ok(order) = graph.order(config) else {
        return Vec::new();
    };
    order
        .into_iter()
        .map(|n| graph.graph[n].clone())
        .filter(|n| match n {
            Node::Local(_) | Node::ModuleCall(_) | Node::ModuleVariable(_) => true,
            Node::Output(i) => !config.outputs[*i].module.is_empty(),
            _ => false,
        })
        .collect()
}

/// The last values walk ([`eval_locals_in`]) and the resources it read: it stays valid
/// until one of those changes, so a large apply does not walk every module instance again
/// for each step that needs a final plan.
#[derive(Default)]
struct ValuesCache {
    values: Working,
    reads: HashSet<ResourceAddr>,
    valid: bool,
}

impl ValuesCache {
    fn changed(&mut self, resource: &ResourceAddr) {
        if self.valid && self.reads.contains(resource) {
            self.valid = false;
        }
    }

    fn get(
        &mut self,
        config: &Configuration,
        order: &[Node],
        instances: &Instances,
        shapes: &HashMap<ResourceAddr, Shape>,
    ) -> &Working {
        if !self.valid {
            let reads = RefCell::new(HashSet::new());
            self.values = eval_locals_with(config, order, instances, shapes, Some(&reads));
            self.reads = reads.into_inner();
            self.valid = true;
        }
        &self.values
    }
}

/// Every module instance's variables, locals and outputs, evaluated with the resource
/// values known now.
fn eval_locals_in(
    config: &Configuration,
    order: &[Node],
    instances: &Instances,
    shapes: &HashMap<ResourceAddr, Shape>,
) -> Working {
    eval_locals_with(config, order, instances, shapes, None)
}

/// [`eval_locals_in`], noting in `reads` every resource the walk read.
fn eval_locals_with(
    config: &Configuration,
    order: &[Node],
    instances: &Instances,
    shapes: &HashMap<ResourceAddr, Shape>,
    reads: Option<&RefCell<HashSet<ResourceAddr>>>,
) -> Working {
    let mut w = Working {
        variables: config.variables.clone(),
        ..Default::default()
    };
    let lookup = |a: &ResourceAddr| {
        if let Some(r) = reads {
            r.borrow_mut().insert(a.clone());
        }
        resource_value(a, instances, shapes)
    };
    let mut diags = Vec::new();
    let mut unexpanded = Vec::new();
    for n in order {
        crate::plan::scope::eval_value_node(
            config,
            n,
            &mut w,
            Some(&lookup),
            &mut diags,
            &mut unexpanded,
        );
    }
    w
}
