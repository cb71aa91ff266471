//! The [`Scope`] the planner and executor evaluate expressions in: variables, locals and the
//! current values of resources (planned values while planning, new states while applying),
//! plus `count.index` / `each.key` / `each.value` for one instance.
//!
//! Child module instances are identified by their instance path (`module.a[0].module.b`,
//! the same text as [`ResourceAddr::module`]); [`ModuleView`] is the scope of one of them.

use std::collections::{BTreeMap, HashMap};

use brick_provider_api::{Type, Value};

use brick_provider_api::schema::Block;

use super::address::{InstanceKey, ResourceAddr};
use crate::diag::Diagnostic;
use crate::eval::{Reference, Scope};
use crate::graph::Node;
use crate::input::Configuration;

pub use crate::input::Shape;

/// The values of one child module instance.
#[derive(Clone, Debug, Default)]
pub struct ModuleValues {
    /// The caller's instance path, and this instance's key and `each.value` in the call.
    pub caller: String,
    pub key: InstanceKey,
    pub each: Option<Value>,
    /// `path.module`.
    pub dir: String,
    pub variables: BTreeMap<String, Value>,
    pub locals: HashMap<String, Value>,
    pub outputs: BTreeMap<String, Value>,
}

/// How a module call expanded in one caller instance: `None` keys when it could not be
/// expanded (its value is then unknown).
#[derive(Clone, Debug)]
pub struct CallExpansion {
    pub shape: Shape,
    pub keys: Option<Vec<InstanceKey>>,
}

/// Values of everything evaluated so far.
#[derive(Default)]
pub struct Working {
    /// Root module variables.
    pub variables: BTreeMap<String, Value>,
    /// Root module locals.
    pub locals: HashMap<String, Value>,
    pub resources: HashMap<ResourceAddr, Value>,
    /// Child module instances by instance path.
    pub modules: HashMap<String, ModuleValues>,
    /// Module call expansions by (caller instance path, call name).
    pub calls: HashMap<(String, String), CallExpansion>,
}

/// `parent.module.NAME[KEY]`.
pub fn child_instance(parent: &str, name: &str, key: &InstanceKey) -> String {
    if parent.is_empty() {
        format!("module.{name}{key}")
    } else {
        format!("{parent}.module.{name}{key}")
    }
}

impl Working {
    /// The instance paths of the configuration module `path` (call names) expanded so far;
    /// `[""]` for the root.
    pub fn instances_of(&self, path: &[String]) -> Vec<String> {
        let Some((last, parent)) = path.split_last() else {
            return vec![String::new()];
        };
        let mut out = Vec::new();
        for p in self.instances_of(parent) {
            if let Some(CallExpansion {
                keys: Some(keys), ..
            }) = self.calls.get(&(p.clone(), last.clone()))
            {
                for k in keys {
                    out.push(child_instance(&p, last, k));
                }
            }
        }
        out
    }

    /// The value of `module.NAME` in the module instance `module`: an object of the outputs
    /// (a tuple or an object of such objects under `count` / `for_each`).
    pub fn module_value(&self, module: &str, name: &str) -> Option<Value> {
        let exp = self.calls.get(&(module.to_string(), name.to_string()))?;
        let Some(keys) = &exp.keys else {
            return Some(Value::unknown(Type::Dynamic));
        };
        let one = |k: &InstanceKey| -> Value {
            match self.modules.get(&child_instance(module, name, k)) {
                Some(m) => Value::object(m.outputs.clone()),
                None => Value::unknown(Type::Dynamic),
            }
        };
        Some(match exp.shape {
            Shape::Single => one(&InstanceKey::None),
            Shape::Count => Value::tuple(keys.iter().map(one).collect()),
            Shape::ForEach => Value::object(
                keys.iter()
                    .map(|k| {
                        let key = match k {
                            InstanceKey::Str(s) => s.clone(),
                            InstanceKey::Int(i) => i.to_string(),
                            InstanceKey::None => String::new(),
                        };
                        (key, one(k))
                    })
                    .collect(),
            ),
        })
    }

    /// Sets `local.NAME` of module instance `module`.
    pub fn set_local(&mut self, module: &str, name: &str, v: Value) {
        if module.is_empty() {
            self.locals.insert(name.to_string(), v);
        } else if let Some(m) = self.modules.get_mut(module) {
            m.locals.insert(name.to_string(), v);
        }
    }

    /// The scope of module instance `module` (`""` for the root).
    pub fn view<'a>(&'a self, module: &'a str) -> ModuleView<'a> {
        ModuleView {
            working: self,
            module,
            lookup: None,
        }
    }

    /// Sets a resource's value from its instances.
    pub fn set_resource(
        &mut self,
        addr: &ResourceAddr,
        shape: Shape,
        instances: &BTreeMap<InstanceKey, Value>,
    ) {
        self.set_resource_owned(addr, shape, instances.clone());
    }

    /// [`Working::set_resource`] taking the instances' values, which saves a copy of every
    /// object (the planner has no further use for them).
    pub fn set_resource_owned(
        &mut self,
        addr: &ResourceAddr,
        shape: Shape,
        mut instances: BTreeMap<InstanceKey, Value>,
    ) {
        let v = match shape {
            Shape::Single => instances
                .remove(&InstanceKey::None)
                .unwrap_or_else(Value::null_dynamic),
            Shape::Count => Value::tuple(instances.into_values().collect()),
            Shape::ForEach => Value::object(
                instances
                    .into_iter()
                    .map(|(k, v)| {
                        let key = match k {
                            InstanceKey::Str(s) => s,
                            InstanceKey::Int(i) => i.to_string(),
                            InstanceKey::None => String::new(),
                        };
                        (key, v)
                    })
                    .collect(),
            ),
        };
        self.resources.insert(addr.clone(), v);
    }
}

impl Scope for Working {
    fn get(&self, reference: &Reference) -> Option<Value> {
        self.view("").get(reference)
    }
}

/// Looks up a resource's value (all its instances) when [`Working::resources`] does not
/// hold them (the executor assembles them on demand).
pub type ResourceLookup<'a> = dyn Fn(&ResourceAddr) -> Option<Value> + 'a;

/// The scope of one module instance over a [`Working`].
pub struct ModuleView<'a> {
    pub working: &'a Working,
    /// The instance path, `""` for the root.
    pub module: &'a str,
    /// Where resource values come from instead of `working.resources`.
    pub lookup: Option<&'a ResourceLookup<'a>>,
}

impl Scope for ModuleView<'_> {
    fn get(&self, reference: &Reference) -> Option<Value> {
        let w = self.working;
        if let Some(addr) = crate::graph::resource_of(reference, self.module) {
            return match self.lookup {
                Some(l) => l(&addr),
                None => w.resources.get(&addr).cloned(),
            };
        }
        if self.module.is_empty() {
            return match reference {
                Reference::Variable(n) => w.variables.get(n).cloned(),
                Reference::Local(n) => w.locals.get(n).cloned(),
                Reference::Module(n) => w.module_value("", n),
                Reference::PathModule | Reference::PathRoot => Some(Value::string(".")),
                _ => None,
            };
        }
        let m = w.modules.get(self.module);
        match reference {
            Reference::Variable(n) => m?.variables.get(n).cloned(),
            Reference::Local(n) => m?.locals.get(n).cloned(),
            Reference::Module(n) => w.module_value(self.module, n),
            Reference::PathModule => Some(Value::string(m?.dir.clone())),
            Reference::PathRoot => Some(Value::string(".")),
            _ => None,
        }
    }
}

/// A scope for one instance: `count.index`, `each.key`, `each.value` over a base scope.
pub struct InstanceScope<'a> {
    pub base: &'a dyn Scope,
    pub key: &'a InstanceKey,
    pub each_value: Option<&'a Value>,
}

impl Scope for InstanceScope<'_> {
    fn get(&self, reference: &Reference) -> Option<Value> {
        match (reference, self.key) {
            (Reference::CountIndex, InstanceKey::Int(i)) => Some(Value::number(*i)),
            (Reference::EachKey, InstanceKey::Str(s)) => Some(Value::string(s.clone())),
            (Reference::EachValue, _) => self.each_value.cloned(),
            (Reference::CountIndex | Reference::EachKey, _) => None,
            _ => self.base.get(reference),
        }
    }
}

/// The value a deferred or unknown resource shows to references.
pub fn unknown_resource() -> Value {
    Value::unknown(Type::Dynamic)
}

/// Evaluates one node of the configuration graph that is not a resource, a provider or a
/// root output — a local, a module call's expansion, a child module's input variable or
/// output — in every instance of its module, storing the results in `w`. Shared by the
/// planner and the executor (which passes `lookup` for resource values). A call that
/// cannot be expanded adds its module path to `unexpanded`.
pub fn eval_value_node(
    config: &Configuration,
    node: &Node,
    w: &mut Working,
    lookup: Option<&ResourceLookup<'_>>,
    diags: &mut Vec<Diagnostic>,
    unexpanded: &mut Vec<Vec<String>>,
) {
    let block = Block::default();
    match node {
        Node::Local(i) => {
            let l = &config.locals[*i];
            for m in w.instances_of(&l.module) {
                let scope = ModuleView {
                    working: w,
                    module: &m,
                    lookup,
                };
                let v = (l.expr)(&scope, &block).unwrap_or_else(|ds| {
                    diags.extend(ds);
                    Value::unknown(Type::Dynamic)
                });
                w.set_local(&m, &l.name, v);
            }
        }
        Node::Output(i) if !config.outputs[*i].module.is_empty() => {
            let o = &config.outputs[*i];
            for m in w.instances_of(&o.module) {
                let scope = ModuleView {
                    working: w,
                    module: &m,
                    lookup,
                };
                let failed = check_output_preconditions(o, &scope, &m, diags);
                let v = match (o.expr)(&scope, &block) {
                    _ if failed => Value::unknown(Type::Dynamic),
                    Ok(v) if o.sensitive => v.sensitive(),
                    Ok(v) => v,
                    Err(ds) => {
                        diags.extend(ds);
                        Value::unknown(Type::Dynamic)
                    }
                };
                if let Some(mv) = w.modules.get_mut(&m) {
                    mv.outputs.insert(o.name.clone(), v);
                }
            }
        }
        Node::Validation(i) => {
            let v = &config.validations[*i];
            for m in w.instances_of(&v.module) {
                let scope = ModuleView {
                    working: w,
                    module: &m,
                    lookup,
                };
                // Unknown now: checked again during apply, once known.
                if let Some(ds) = (v.check)(&scope) {
                    diags.extend(ds);
                }
            }
        }
        Node::ModuleVariable(i) => {
            let v = &config.module_variables[*i];
            for m in w.instances_of(&v.module) {
                let Some(mv) = w.modules.get(&m) else {
                    continue;
                };
                let base = ModuleView {
                    working: w,
                    module: &mv.caller,
                    lookup,
                };
                let scope = InstanceScope {
                    base: &base,
                    key: &mv.key,
                    each_value: mv.each.as_ref(),
                };
                let value = (v.value)(&scope, &block).unwrap_or_else(|ds| {
                    diags.extend(ds);
                    Value::unknown(Type::Dynamic)
                });
                if let Some(mv) = w.modules.get_mut(&m) {
                    mv.variables.insert(v.name.clone(), value);
                }
            }
        }
        Node::ModuleCall(i) => {
            let c = &config.module_calls[*i];
            let child_path = c.child_path();
            let dir = config
                .module_dirs
                .get(&child_path)
                .cloned()
                .unwrap_or_else(|| ".".into());
            let what = child_path
                .iter()
                .map(|n| format!("module.{n}"))
                .collect::<Vec<_>>()
                .join(".");
            let shape = c.expansion.shape();
            for caller in w.instances_of(&c.module) {
                let scope = ModuleView {
                    working: w,
                    module: &caller,
                    lookup,
                };
                match c.expansion.instances(&scope, &what) {
                    Ok((shape, keys)) => {
                        for (k, each) in &keys {
                            w.modules.insert(
                                child_instance(&caller, &c.name, k),
                                ModuleValues {
                                    caller: caller.clone(),
                                    key: k.clone(),
                                    each: each.clone(),
                                    dir: dir.clone(),
                                    ..Default::default()
                                },
                            );
                        }
                        w.calls.insert(
                            (caller, c.name.clone()),
                            CallExpansion {
                                shape,
                                keys: Some(keys.into_iter().map(|(k, _)| k).collect()),
                            },
                        );
                    }
                    Err(d) => {
                        diags.push(d);
                        unexpanded.push(child_path.clone());
                        w.calls.insert(
                            (caller, c.name.clone()),
                            CallExpansion { shape, keys: None },
                        );
                    }
                }
            }
        }
        _ => {}
    }
}

/// Every value the configuration has given the recorded state: resources (from `prior`,
/// shaped by their configuration's `count`/`for_each`), then locals, module calls, module
/// inputs and child module outputs in dependency order, in every module instance. For
/// `console`, which shows values as they are now.
pub fn values_from_state(config: &Configuration, prior: &super::model::PriorState) -> Working {
    let mut w = Working {
        variables: config.variables.clone(),
        ..Default::default()
    };
    let mut by_resource: HashMap<ResourceAddr, BTreeMap<InstanceKey, Value>> = HashMap::new();
    for (a, i) in &prior.instances {
        by_resource
            .entry(a.resource.clone())
            .or_default()
            .insert(a.key.clone(), i.value.clone());
    }
    let shapes: HashMap<&ResourceAddr, Shape> = config
        .resources
        .iter()
        .map(|rc| {
            let shape = rc.expansion.shape();
            (&rc.addr, shape)
        })
        .collect();
    for (addr, inst) in &by_resource {
        if let Some(shape) = shapes.get(&addr.config_addr()) {
            w.set_resource(addr, *shape, inst);
        }
    }
    let graph = crate::graph::ConfigGraph::build(config);
    let Ok(order) = graph.order(config) else {
        return w;
    };
    let (mut diags, mut unexpanded) = (Vec::new(), Vec::new());
    for n in order {
        eval_value_node(
            config,
            &graph.graph[n],
            &mut w,
            None,
            &mut diags,
            &mut unexpanded,
        );
    }
    w
}

/// A scope with `self`: the object a resource's `postcondition` checks.
pub struct SelfScope<'a> {
    pub base: &'a dyn Scope,
    pub value: &'a Value,
}

impl Scope for SelfScope<'_> {
    fn get(&self, reference: &Reference) -> Option<Value> {
        match reference {
            Reference::SelfObject => Some(self.value.clone()),
            _ => self.base.get(reference),
        }
    }
}

/// Checks the `precondition` blocks of output `o` in module instance `module` (empty for
/// the root), adding their diagnostics (naming the output) to `diags`; whether one failed.
pub fn check_output_preconditions(
    o: &crate::input::OutputConfig,
    scope: &dyn Scope,
    module: &str,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let mut failed = false;
    for c in &o.preconditions {
        if let Some(ds) = (c.check)(scope) {
            failed |= crate::diag::has_errors(&ds);
            let name = if module.is_empty() {
                format!("output.{}", o.name)
            } else {
                format!("{module}.output.{}", o.name)
            };
            diags.extend(ds.into_iter().map(|mut d| {
                if !d.detail.contains(&name) {
                    d.detail = format!("{name}: {}", d.detail);
                }
                d
            }));
        }
    }
    failed
}
