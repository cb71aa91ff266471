//! The in-memory model of a state: resources, their instances and objects, outputs and the
//! pending intents of an interrupted apply. Knows nothing of the on-disk layout (see
//! `format`), nor of any provider: attributes are plain JSON.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::attributes::Attributes;

/// A whole state: everything brick tracks for one configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Incremented on every snapshot written; never goes down on disk.
    pub serial: u64,
    /// Identifies the history this state belongs to; fixed when the state is first created.
    pub lineage: String,
    /// The brick version that wrote this state last.
    pub brick_version: String,
    /// Resources in address order.
    pub resources: BTreeMap<ResourceAddr, Resource>,
    /// Root module outputs by name.
    pub outputs: BTreeMap<String, Output>,
    /// Intents recorded by an apply whose outcome is not known: the provider call may or may
    /// not have created (or destroyed) the object. The engine must resolve each one.
    pub pending: BTreeMap<u64, Intent>,
}

impl State {
    /// An empty state of a new lineage (a random UUID), serial 0.
    pub fn new(brick_version: impl Into<String>) -> State {
        State::with_lineage(uuid::Uuid::new_v4().to_string(), brick_version)
    }

    /// An empty state of the given lineage, serial 0.
    pub fn with_lineage(lineage: impl Into<String>, brick_version: impl Into<String>) -> State {
        State {
            serial: 0,
            lineage: lineage.into(),
            brick_version: brick_version.into(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    /// The current object of an instance, if any.
    pub fn object(&self, addr: &InstanceAddr) -> Option<&ObjectState> {
        self.instance(addr)?.current.as_deref()
    }

    /// An instance (current and deposed objects), if any.
    pub fn instance(&self, addr: &InstanceAddr) -> Option<&Instance> {
        self.resources.get(&addr.resource)?.instances.get(&addr.key)
    }

    /// Every instance address with its instance, in order.
    pub fn instances(&self) -> impl Iterator<Item = (InstanceAddr, &Instance)> {
        self.resources.iter().flat_map(|(raddr, r)| {
            r.instances.iter().map(move |(key, inst)| {
                (
                    InstanceAddr {
                        resource: raddr.clone(),
                        key: key.clone(),
                    },
                    inst,
                )
            })
        })
    }

    /// A copy with every object's `dependencies` listing every resource upstream, sorted, as
    /// Terraform records them (and every object marked `dependencies_whole`). Linear in the
    /// lists it produces.
    pub fn with_whole_dependencies(&self) -> State {
        let mut s = self.clone();
        crate::deps::expand(&mut s);
        s
    }

    /// Number of objects (current and deposed) tracked.
    pub fn object_count(&self) -> usize {
        self.resources
            .values()
            .flat_map(|r| r.instances.values())
            .map(|i| usize::from(i.current.is_some()) + i.deposed.len())
            .sum()
    }

    /// Applies one change, as the journal does on replay. Changes are idempotent where they
    /// can be: setting an object twice or removing an absent one is harmless.
    pub fn apply(&mut self, change: &Change) {
        self.apply_owned(change.clone());
    }

    /// [`State::apply`] taking the change by value, which saves copying its attributes.
    pub fn apply_owned(&mut self, change: Change) {
        match change {
            Change::Intent(intent) => {
                self.pending.insert(intent.id, intent);
            }
            Change::Set {
                intent,
                addr,
                deposed,
                provider,
                object,
            } => {
                if let Some(id) = intent {
                    self.pending.remove(&id);
                }
                let resource = match self.resources.get_mut(&addr.resource) {
                    Some(r) => {
                        if r.provider != provider {
                            r.provider = provider;
                        }
                        r
                    }
                    None => self
                        .resources
                        .entry(addr.resource)
                        .or_insert_with(|| Resource {
                            provider,
                            instances: BTreeMap::new(),
                        }),
                };
                let instance = resource.instances.entry(addr.key).or_default();
                match deposed {
                    None => instance.current = Some(Box::new(object)),
                    Some(key) => {
                        instance.deposed.insert(key, object);
                    }
                }
            }
            Change::Remove {
                intent,
                addr,
                deposed,
            } => {
                if let Some(id) = intent {
                    self.pending.remove(&id);
                }
                self.remove_object(&addr, deposed.as_deref());
            }
            Change::Depose { addr, key } => {
                if let Some(instance) = self
                    .resources
                    .get_mut(&addr.resource)
                    .and_then(|r| r.instances.get_mut(&addr.key))
                    && let Some(object) = instance.current.take()
                {
                    instance.deposed.insert(key, *object);
                }
            }
            Change::Resolve { intent, .. } => {
                self.pending.remove(&intent);
            }
            Change::SetOutput { name, output } => match output {
                Some(o) => {
                    self.outputs.insert(name, o);
                }
                None => {
                    self.outputs.remove(&name);
                }
            },
        }
    }

    fn remove_object(&mut self, addr: &InstanceAddr, deposed: Option<&str>) {
        let Some(resource) = self.resources.get_mut(&addr.resource) else {
            return;
        };
        if let Some(instance) = resource.instances.get_mut(&addr.key) {
            match deposed {
                None => instance.current = None,
                Some(k) => {
                    instance.deposed.remove(k);
                }
            }
            if instance.current.is_none() && instance.deposed.is_empty() {
                resource.instances.remove(&addr.key);
            }
        }
        if resource.instances.is_empty() {
            self.resources.remove(&addr.resource);
        }
    }
}

/// Managed resources are created by brick; data resources are only read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Managed,
    Data,
}

/// The address of a resource (all its instances): `module.net.maas_machine.node`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceAddr {
    /// The module path, `""` for the root module, else like `module.net` or
    /// `module.net["a"].module.dns`.
    pub module: String,
    pub mode: Mode,
    pub type_name: String,
    pub name: String,
}

impl ResourceAddr {
    /// A managed resource in the root module.
    pub fn managed(type_name: impl Into<String>, name: impl Into<String>) -> ResourceAddr {
        ResourceAddr {
            module: String::new(),
            mode: Mode::Managed,
            type_name: type_name.into(),
            name: name.into(),
        }
    }

    /// The address of one instance of this resource.
    pub fn instance(&self, key: IndexKey) -> InstanceAddr {
        InstanceAddr {
            resource: self.clone(),
            key,
        }
    }
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.module.is_empty() {
            write!(f, "{}.", self.module)?;
        }
        if self.mode == Mode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}", self.type_name, self.name)
    }
}

/// The key of one instance: none (single), a `count` index or a `for_each` key.
/// Ordered none, then integers numerically, then strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndexKey {
    #[default]
    None,
    Int(i64),
    String(String),
}

impl fmt::Display for IndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexKey::None => Ok(()),
            IndexKey::Int(i) => write!(f, "[{i}]"),
            IndexKey::String(s) => write!(f, "[{}]", serde_json::Value::String(s.clone())),
        }
    }
}

/// The address of one resource instance: `maas_machine.node["kvm4"]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceAddr {
    pub resource: ResourceAddr,
    pub key: IndexKey,
}

impl fmt::Display for InstanceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.resource, self.key)
    }
}

/// One resource: the provider configuration it belongs to and its instances.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The provider configuration address, e.g. `provider["brick/maas"]` or
    /// `provider["brick/maas"].site2`.
    pub provider: String,
    pub instances: BTreeMap<IndexKey, Instance>,
}

/// One instance: its current object and objects deposed by create-before-destroy that are
/// still to be destroyed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instance {
    /// Boxed: nearly every resource has one instance, kept in a `BTreeMap` whose first node
    /// has room for eleven; inline, those ten empty slots cost about 1.4 KiB per resource.
    pub current: Option<Box<ObjectState>>,
    /// Deposed objects by deposed key (eight hex digits, see [`new_deposed_key`]).
    pub deposed: BTreeMap<String, ObjectState>,
}

/// One real object as brick last knew it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectState {
    /// The version of the resource type's schema the attributes follow.
    pub schema_version: u64,
    /// The attributes, wholly known, as a JSON object (held as text, see [`Attributes`]).
    pub attributes: Attributes,
    /// Paths of the attributes whose values are sensitive.
    pub sensitive_paths: Vec<AttrPath>,
    /// The resources this object depended on directly when it was last applied, as
    /// configuration addresses; with what those resources' objects record, transitively,
    /// every resource upstream (Terraform's `dependencies`, see
    /// [`State::with_whole_dependencies`]). Kept direct so that a chain of L resources
    /// records L addresses, not L²/2.
    pub dependencies: Vec<String>,
    /// `dependencies` already lists every resource upstream, and is not expanded: an older
    /// state's whole list that expanding its direct part would not give back exactly.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dependencies_whole: bool,
    /// The object must be replaced at the next apply (a create that failed half-way).
    pub tainted: bool,
    /// Why the object is tainted, when brick knows more than "a create failed half-way"
    /// (e.g. "possibly created" by an interrupted create); shown by every plan until the
    /// object is replaced. Optional: older states have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tainted_reason: Option<String>,
    /// The object was created with `create_before_destroy`; destroy ordering follows it.
    pub create_before_destroy: bool,
}

impl ObjectState {
    /// An untainted object with the given attributes and nothing else.
    pub fn new(attributes: impl Into<Attributes>) -> ObjectState {
        ObjectState {
            schema_version: 0,
            attributes: attributes.into(),
            sensitive_paths: Vec::new(),
            dependencies: Vec::new(),
            dependencies_whole: false,
            tainted: false,
            tainted_reason: None,
            create_before_destroy: false,
        }
    }
}

/// One step of a path to an attribute; mirrors the provider API's `PathStep`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathStep {
    /// An attribute of an object.
    Attr(String),
    /// A key of a map.
    Key(String),
    /// An index of a list.
    Index(u64),
}

/// A path to an attribute inside an object value.
pub type AttrPath = Vec<PathStep>;

/// A root module output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub value: Value,
    /// The type in Terraform's JSON type notation (`"string"`, `["list","string"]`).
    #[serde(rename = "type")]
    pub type_: Value,
    pub sensitive: bool,
}

/// What a provider call is about to do to a real object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntentAction {
    Create,
    Update,
    Delete,
}

/// A provider call recorded before it is made; resolved by the `Set`, `Remove` or `Resolve`
/// change that names its id.
#[derive(Clone, Debug, PartialEq)]
pub struct Intent {
    /// Unique among the pending intents of a state and within one journal: a journal
    /// numbers its intents from above the highest pending one.
    pub id: u64,
    pub addr: InstanceAddr,
    /// The deposed key, when the call concerns a deposed object.
    pub deposed: Option<String>,
    pub action: IntentAction,
    /// The provider configuration address.
    pub provider: String,
    /// The planned attributes (create, update) or the identity of the object (delete): what
    /// the engine needs to ask the provider whether the object exists.
    pub planned: Value,
}

/// One change to a state. The apply journal is a sequence of these; [`State::apply`] applies
/// one.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A provider call is about to create, update or destroy a real object.
    Intent(Intent),
    /// An object now exists with these attributes (create or update returned, or recovery
    /// found it). Resolves `intent` if given.
    Set {
        intent: Option<u64>,
        addr: InstanceAddr,
        deposed: Option<String>,
        provider: String,
        object: ObjectState,
    },
    /// The object is gone (delete returned, or recovery found it absent). Resolves `intent`
    /// if given.
    Remove {
        intent: Option<u64>,
        addr: InstanceAddr,
        deposed: Option<String>,
    },
    /// Create-before-destroy: the current object becomes deposed under `key` before its
    /// replacement is created.
    Depose { addr: InstanceAddr, key: String },
    /// The call of `intent` failed without changing anything real; the state stays as it
    /// was.
    Resolve { intent: u64, message: String },
    /// An output changed (`None`: removed).
    SetOutput {
        name: String,
        output: Option<Output>,
    },
}

/// A fresh deposed key: eight random hex digits, as Terraform uses.
pub fn new_deposed_key() -> String {
    let u = uuid::Uuid::new_v4();
    u.simple().to_string()[..8].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(name: &str, deposed: Option<&str>) -> Change {
        Change::Set {
            intent: None,
            addr: ResourceAddr::managed("t", "r").instance(IndexKey::String(name.into())),
            deposed: deposed.map(String::from),
            provider: "p".into(),
            object: ObjectState::new(json!({"n": name})),
        }
    }

    #[test]
    fn setting_the_same_object_twice_is_the_same_as_once() {
        let mut once = State::with_lineage("l", "v");
        once.apply(&set("a", None));
        let mut twice = once.clone();
        twice.apply(&set("a", None));
        assert_eq!(once, twice);
    }

    #[test]
    fn removing_the_last_object_removes_the_instance_and_the_resource() {
        let mut s = State::with_lineage("l", "v");
        s.apply(&set("a", None));
        s.apply(&set("a", Some("0000beef")));
        let addr = ResourceAddr::managed("t", "r").instance(IndexKey::String("a".into()));
        s.apply(&Change::Remove {
            intent: None,
            addr: addr.clone(),
            deposed: None,
        });
        assert!(
            s.instance(&addr).is_some(),
            "the deposed object keeps the instance"
        );
        s.apply(&Change::Remove {
            intent: None,
            addr: addr.clone(),
            deposed: Some("0000beef".into()),
        });
        assert!(s.resources.is_empty());
        // Removing what is absent is harmless.
        s.apply(&Change::Remove {
            intent: None,
            addr,
            deposed: None,
        });
        assert!(s.resources.is_empty());
    }

    #[test]
    fn deposing_without_a_current_object_changes_nothing() {
        let mut s = State::with_lineage("l", "v");
        s.apply(&set("a", Some("k1")));
        let before = s.clone();
        let addr = ResourceAddr::managed("t", "r").instance(IndexKey::String("a".into()));
        s.apply(&Change::Depose {
            addr,
            key: "k2".into(),
        });
        assert_eq!(s, before);
    }

    #[test]
    fn index_keys_order_none_then_integers_numerically_then_strings() {
        let mut keys = vec![
            IndexKey::String("a".into()),
            IndexKey::Int(10),
            IndexKey::None,
            IndexKey::Int(-1),
            IndexKey::Int(2),
        ];
        keys.sort();
        assert_eq!(
            keys,
            vec![
                IndexKey::None,
                IndexKey::Int(-1),
                IndexKey::Int(2),
                IndexKey::Int(10),
                IndexKey::String("a".into())
            ]
        );
    }

    #[test]
    fn deposed_keys_are_eight_hex_digits_and_differ() {
        let a = new_deposed_key();
        let b = new_deposed_key();
        assert_eq!(a.len(), 8);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
