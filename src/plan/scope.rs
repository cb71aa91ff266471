//! The [`Scope`] the planner and executor evaluate expressions in: variables, locals and the
//! current values of resources (planned values while planning, new states while applying),
//! plus `count.index` / `each.key` / `each.value` for one instance.

use std::collections::{BTreeMap, HashMap};

use brick_provider_api::{Type, Value};

use super::address::{InstanceKey, ResourceAddr, ResourceMode};
use crate::eval::{Reference, Scope};

/// How a resource's instances are gathered into the value a reference sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Single,
    Count,
    ForEach,
}

/// Values of everything evaluated so far.
#[derive(Default)]
pub struct Working {
    pub variables: BTreeMap<String, Value>,
    pub locals: HashMap<String, Value>,
    pub resources: HashMap<ResourceAddr, Value>,
}

impl Working {
    /// Sets a resource's value from its instances.
    pub fn set_resource(
        &mut self,
        addr: &ResourceAddr,
        shape: Shape,
        instances: &BTreeMap<InstanceKey, Value>,
    ) {
        let v = match shape {
            Shape::Single => instances
                .get(&InstanceKey::None)
                .cloned()
                .unwrap_or_else(Value::null_dynamic),
            Shape::Count => Value::tuple(instances.values().cloned().collect()),
            Shape::ForEach => Value::object(
                instances
                    .iter()
                    .map(|(k, v)| {
                        let key = match k {
                            InstanceKey::Str(s) => s.clone(),
                            InstanceKey::Int(i) => i.to_string(),
                            InstanceKey::None => String::new(),
                        };
                        (key, v.clone())
                    })
                    .collect(),
            ),
        };
        self.resources.insert(addr.clone(), v);
    }
}

impl Scope for Working {
    fn get(&self, reference: &Reference) -> Option<Value> {
        match reference {
            Reference::Variable(n) => self.variables.get(n).cloned(),
            Reference::Local(n) => self.locals.get(n).cloned(),
            Reference::Resource { type_name, name } => self
                .resources
                .get(&ResourceAddr::managed(type_name, name))
                .cloned(),
            Reference::Data { type_name, name } => self
                .resources
                .get(&ResourceAddr {
                    module: String::new(),
                    mode: ResourceMode::Data,
                    type_name: type_name.clone(),
                    name: name.clone(),
                })
                .cloned(),
            Reference::PathModule | Reference::PathRoot => Some(Value::string(".")),
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
