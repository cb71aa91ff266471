//! Typed addresses: `maas_machine.node["kvm4"]`, `module.net.brick_data.x[0]`, `var.nodes`.
//!
//! An [`AbsResourceInstance`] is a module instance path plus a resource plus an optional
//! instance key; `Display` writes them the way Terraform does (string keys quoted, numbers
//! bare) and [`parse_target`] reads them back from the static traversal of a `moved`,
//! `removed` or `import` block or from a `-target` string.

use std::fmt;

use brick_provider_api::Value;

use crate::config::{ResourceMode, StaticStep};

/// The key of one instance under `count` (`[0]`) or `for_each` (`["a"]`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InstanceKey {
    Int(usize),
    Str(String),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{}]", quote(s)),
        }
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// `module.NAME` or `module.NAME[KEY]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleStep {
    pub name: String,
    pub key: Option<InstanceKey>,
}

/// A resource within a module instance, without an instance key: `module.a.brick_data.x`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AbsResource {
    pub module: Vec<ModuleStep>,
    pub mode: ResourceMode,
    pub type_name: String,
    pub name: String,
}

/// One resource instance: `module.a["x"].maas_machine.node["kvm4"]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AbsResourceInstance {
    pub resource: AbsResource,
    pub key: Option<InstanceKey>,
}

fn write_module(f: &mut fmt::Formatter<'_>, module: &[ModuleStep]) -> fmt::Result {
    for m in module {
        write!(f, "module.{}", m.name)?;
        if let Some(k) = &m.key {
            write!(f, "{k}")?;
        }
        f.write_str(".")?;
    }
    Ok(())
}

impl fmt::Display for AbsResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_module(f, &self.module)?;
        if self.mode == ResourceMode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}", self.type_name, self.name)
    }
}

impl fmt::Display for AbsResourceInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.resource)?;
        if let Some(k) = &self.key {
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

/// What a `moved`/`removed`/`import` address or a `-target` names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `module.a` or `module.a["x"]` (every resource inside).
    Module(Vec<ModuleStep>),
    /// `TYPE.NAME` — all instances.
    Resource(AbsResource),
    /// `TYPE.NAME[KEY]`
    Instance(AbsResourceInstance),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Module(steps) => {
                for (i, m) in steps.iter().enumerate() {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    write!(f, "module.{}", m.name)?;
                    if let Some(k) = &m.key {
                        write!(f, "{k}")?;
                    }
                }
                Ok(())
            }
            Target::Resource(r) => write!(f, "{r}"),
            Target::Instance(r) => write!(f, "{r}"),
        }
    }
}

fn key_of(v: &Value) -> Result<InstanceKey, String> {
    if let Some(s) = v.as_str() {
        return Ok(InstanceKey::Str(s.to_string()));
    }
    if let Some(n) = v.as_number()
        && let Some(i) = n.to_i64().filter(|i| *i >= 0)
    {
        return Ok(InstanceKey::Int(i as usize));
    }
    Err("an instance key must be a string or a whole number".into())
}

/// Parses a static traversal (root name + steps) into a target address.
pub fn parse_target(root: &str, steps: &[StaticStep]) -> Result<Target, String> {
    let mut all = Vec::with_capacity(steps.len() + 1);
    all.push(StaticStep::Attr(root.to_string()));
    all.extend(steps.iter().cloned());
    let mut i = 0;
    let mut module = Vec::new();
    let attr = |i: usize| match all.get(i) {
        Some(StaticStep::Attr(a)) => Some(a.clone()),
        _ => None,
    };
    let index = |i: usize| match all.get(i) {
        Some(StaticStep::Index(v)) => Some(v.clone()),
        _ => None,
    };
    while attr(i).as_deref() == Some("module") {
        let name = attr(i + 1).ok_or("module must be followed by a module name")?;
        i += 2;
        let key = match index(i) {
            Some(v) => {
                i += 1;
                Some(key_of(&v)?)
            }
            None => None,
        };
        module.push(ModuleStep { name, key });
    }
    if i >= all.len() {
        return if module.is_empty() {
            Err("an address is needed".into())
        } else {
            Ok(Target::Module(module))
        };
    }
    let mut mode = ResourceMode::Managed;
    if attr(i).as_deref() == Some("data") {
        mode = ResourceMode::Data;
        i += 1;
    }
    let type_name = attr(i).ok_or("expected a resource type")?;
    let name = attr(i + 1)
        .ok_or_else(|| format!("\"{type_name}\" must be followed by a resource name"))?;
    for reserved in ["var", "local", "each", "count", "path", "self"] {
        if type_name == reserved {
            return Err(format!("\"{reserved}\" is not a resource type"));
        }
    }
    i += 2;
    let resource = AbsResource {
        module,
        mode,
        type_name,
        name,
    };
    let key = match index(i) {
        Some(v) => {
            i += 1;
            Some(key_of(&v)?)
        }
        None => None,
    };
    if i < all.len() {
        return Err("an address cannot refer to an attribute of a resource".into());
    }
    Ok(match key {
        Some(k) => Target::Instance(AbsResourceInstance {
            resource,
            key: Some(k),
        }),
        None => Target::Resource(resource),
    })
}

/// Parses an address written as text (`-target`, `state rm`): `module.a["x"].t.n[0]`.
pub fn parse_target_str(text: &str) -> Result<Target, String> {
    let (e, diags) = crate::config::syntax::parse_expression(text, 0);
    let e = e.ok_or_else(|| {
        diags
            .first()
            .map(|d| d.detail.clone())
            .unwrap_or_else(|| "not an address".into())
    })?;
    let (root, steps) = e
        .as_static_traversal()
        .ok_or("an address is a plain reference such as brick_data.x[\"a\"]")?;
    parse_target(&root, &steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_text() {
        for text in [
            "brick_data.x",
            "brick_data.x[0]",
            "maas_machine.node[\"kvm4\"]",
            "module.net.brick_data.x",
            "module.net[\"a\"].data.brick_data.y[2]",
            "module.net",
        ] {
            let t = parse_target_str(text).unwrap();
            assert_eq!(t.to_string(), text);
        }
    }

    #[test]
    fn attribute_references_are_not_addresses() {
        assert!(parse_target_str("brick_data.x.output").is_err());
        assert!(parse_target_str("var.nodes").is_err());
    }
}
