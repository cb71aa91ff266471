//! What a provider declares about its configuration, resource types and data sources.

use std::collections::BTreeMap;

use crate::types::Type;
use crate::value::Value;

/// Whether the user must, may or may not set an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// The user must set it.
    Required,
    /// The user may set it; the provider never fills it in.
    Optional,
    /// The provider fills it in; the user cannot set it.
    Computed,
    /// The user may set it; when they do not, the provider fills it in.
    OptionalComputed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub ty: Type,
    pub presence: Presence,
    pub sensitive: bool,
    /// A change of this attribute cannot be made in place: the object is replaced.
    pub forces_replacement: bool,
    /// The value used when the user sets none (for `Optional` attributes).
    pub default: Option<Value>,
    pub description: String,
}

impl Attribute {
    pub fn new(ty: Type, presence: Presence) -> Attribute {
        Attribute {
            ty,
            presence,
            sensitive: false,
            forces_replacement: false,
            default: None,
            description: String::new(),
        }
    }
    pub fn required(ty: Type) -> Attribute {
        Attribute::new(ty, Presence::Required)
    }
    pub fn optional(ty: Type) -> Attribute {
        Attribute::new(ty, Presence::Optional)
    }
    pub fn computed(ty: Type) -> Attribute {
        Attribute::new(ty, Presence::Computed)
    }
    pub fn optional_computed(ty: Type) -> Attribute {
        Attribute::new(ty, Presence::OptionalComputed)
    }
    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }
    pub fn forces_replacement(mut self) -> Attribute {
        self.forces_replacement = true;
        self
    }
    pub fn default(mut self, v: Value) -> Attribute {
        self.default = Some(v);
        self
    }
    pub fn describe(mut self, d: impl Into<String>) -> Attribute {
        self.description = d.into();
        self
    }
    pub fn settable(&self) -> bool {
        !matches!(self.presence, Presence::Computed)
    }
}

/// How many times a nested block may appear and how its instances are collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// At most one; the value is an object or null.
    Single,
    /// A list of objects.
    List { min: usize, max: Option<usize> },
    /// A set of objects.
    Set { min: usize, max: Option<usize> },
    /// Labelled blocks (`volume "root" { … }`), a map of objects keyed by label.
    Map,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    pub nesting: Nesting,
    pub block: Block,
}

/// The body of a resource, data source or provider configuration.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Block {
    pub attributes: BTreeMap<String, Attribute>,
    pub blocks: BTreeMap<String, NestedBlock>,
    pub description: String,
}

impl Block {
    pub fn attr(mut self, name: impl Into<String>, a: Attribute) -> Block {
        self.attributes.insert(name.into(), a);
        self
    }
    pub fn block(mut self, name: impl Into<String>, nesting: Nesting, b: Block) -> Block {
        self.blocks
            .insert(name.into(), NestedBlock { nesting, block: b });
        self
    }

    /// The object type of a value conforming to this block.
    pub fn value_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|(k, a)| (k.clone(), a.ty.clone()))
            .collect();
        for (name, nb) in &self.blocks {
            let obj = nb.block.value_type();
            let ty = match nb.nesting {
                Nesting::Single => obj,
                Nesting::List { .. } => Type::list(obj),
                Nesting::Set { .. } => Type::set(obj),
                Nesting::Map => Type::map(obj),
            };
            attrs.insert(name.clone(), ty);
        }
        Type::Object(attrs)
    }
}

/// A resource type or data source.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceSchema {
    /// Bumped when the stored attributes change shape; state records it.
    pub version: u64,
    pub block: Block,
}

/// Everything a provider declares.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ProviderSchema {
    /// The `provider "NAME" { … }` block.
    pub provider: Block,
    pub resources: BTreeMap<String, ResourceSchema>,
    pub data_sources: BTreeMap<String, ResourceSchema>,
}
