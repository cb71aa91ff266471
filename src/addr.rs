//! Typed addresses, the one representation every part of brick uses: a module instance
//! path (`module.net["a"].module.dns`, kept as its canonical text), a resource
//! ([`ResourceAddr`]: mode, type, name) and an instance key ([`InstanceAddr`]), and the
//! [`Target`]s that `--target`, `--replace`, `moved`, `removed`, `import` and `state`
//! commands name (a whole module, a resource or one instance). `Display` writes them the
//! way Terraform does (string keys quoted, numbers bare); `FromStr` reads text back and
//! [`parse_target`] reads the static traversal of a `moved` / `removed` / `import` block.
//! Module path helpers: [`module_steps`], [`config_module`] (keys dropped: the module in
//! the configuration), [`module_covers`] (does a pattern name a module instance or an
//! ancestor), [`moved_module`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// One step of a static traversal (`moved`, `removed`, `import`, `ignore_changes`, `drift {
/// ignore }`): an attribute name or a literal key. The loader makes them; [`parse_target`]
/// reads an address from them.
#[derive(Clone, Debug, PartialEq)]
pub enum StaticStep {
    Attr(String),
    Index(brick_provider_api::Value),
}

/// A managed resource (`resource`) or a data source (`data`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceMode {
    Managed,
    Data,
}

/// The root of a reference in an expression (`var.x`, `aws_instance.web`, `each.key`): what
/// an expression names, what the graph's edges are made of and what an evaluation scope is
/// asked for (`eval::Scope`). The evaluator applies the remaining attribute and index steps
/// itself. `config::refs` finds them in an expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    /// `var.NAME`
    Variable(String),
    /// `local.NAME`
    Local(String),
    /// `TYPE.NAME` (managed) — the object, or a tuple/map of objects under `count`/`for_each`.
    Resource {
        type_name: String,
        name: String,
    },
    /// `data.TYPE.NAME`
    Data {
        type_name: String,
        name: String,
    },
    /// `module.NAME` — an object of its outputs (tuple/map under `count`/`for_each`).
    Module(String),
    /// `each.key`
    EachKey,
    /// `each.value`
    EachValue,
    /// `count.index`
    CountIndex,
    /// `path.module`, `path.root`, `path.cwd`
    PathModule,
    PathRoot,
    PathCwd,
    /// `self` inside provisioners, postconditions and connection blocks.
    SelfObject,
}

/// The key of one instance: none, a `count` index or a `for_each` key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InstanceKey {
    #[default]
    None,
    Int(i64),
    Str(String),
}

impl InstanceKey {
    pub fn is_none(&self) -> bool {
        matches!(self, InstanceKey::None)
    }
    /// The key as Terraform's JSON `index` (absent, a number or a string).
    pub fn to_json(&self) -> Option<serde_json::Value> {
        match self {
            InstanceKey::None => None,
            InstanceKey::Int(i) => Some(serde_json::json!(i)),
            InstanceKey::Str(s) => Some(serde_json::json!(s)),
        }
    }
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::None => Ok(()),
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{}]", serde_json::Value::String(s.clone())),
        }
    }
}

/// A resource (all its instances).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceAddr {
    /// `module.a.module.b` or empty for the root module.
    pub module: String,
    pub mode: ResourceMode,
    pub type_name: String,
    pub name: String,
}

impl ResourceAddr {
    pub fn managed(type_name: impl Into<String>, name: impl Into<String>) -> ResourceAddr {
        ResourceAddr {
            module: String::new(),
            mode: ResourceMode::Managed,
            type_name: type_name.into(),
            name: name.into(),
        }
    }
    pub fn instance(&self, key: InstanceKey) -> InstanceAddr {
        InstanceAddr {
            resource: self.clone(),
            key,
        }
    }
    /// The provider's name: the type's prefix before the first `_` (`maas_machine` → `maas`).
    pub fn implied_provider(&self) -> String {
        self.type_name
            .split('_')
            .next()
            .unwrap_or(&self.type_name)
            .to_string()
    }
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.module.is_empty() {
            write!(f, "{}.", self.module)?;
        }
        if self.mode == ResourceMode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}", self.type_name, self.name)
    }
}

/// One resource instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceAddr {
    pub resource: ResourceAddr,
    pub key: InstanceKey,
}

impl fmt::Display for InstanceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.resource, self.key)
    }
}

/// One step of a module instance path: `module.NAME` or `module.NAME[KEY]`.
pub type ModuleStep = (String, InstanceKey);

/// Parses a module instance path (`module.a[0].module.b`, `""` for the root) into its steps.
/// Returns `None` for text that is not a module path.
pub fn module_steps(module: &str) -> Option<Vec<ModuleStep>> {
    if module.is_empty() {
        return Some(Vec::new());
    }
    let parts = split_parts(module)?;
    if parts.len() % 2 != 0 {
        return None;
    }
    parts
        .chunks(2)
        .map(|c| {
            if c[0] != "module" {
                return None;
            }
            let (name, key) = parse_key(&c[1]).ok()?;
            is_ident(&name).then_some((name, key))
        })
        .collect()
}

/// Writes module steps back as text (`module.a[0].module.b`).
pub fn module_string(steps: &[ModuleStep]) -> String {
    let mut out = String::new();
    for (i, (name, key)) in steps.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&format!("module.{name}{key}"));
    }
    out
}

/// A module instance path without its instance keys (`module.a[0].module.b["x"]` →
/// `module.a.module.b`): the module in the configuration it is an instance of.
pub fn config_module(module: &str) -> String {
    if !module.contains('[') {
        return module.to_string();
    }
    match module_steps(module) {
        Some(steps) => module_string(
            &steps
                .into_iter()
                .map(|(n, _)| (n, InstanceKey::None))
                .collect::<Vec<_>>(),
        ),
        None => module.to_string(),
    }
}

/// The call names of a configuration module path (`module.a.module.b` → `["a", "b"]`).
pub fn module_names(module: &str) -> Vec<String> {
    module_steps(module)
        .unwrap_or_default()
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

/// Whether `pattern` (a module path whose steps may leave out keys, meaning every instance)
/// names `module` itself (`exact`) or `module` or one of its ancestors (otherwise).
pub fn module_covers(pattern: &str, module: &str, exact: bool) -> bool {
    if pattern == module {
        return true;
    }
    let (Some(p), Some(m)) = (module_steps(pattern), module_steps(module)) else {
        return false;
    };
    if p.len() > m.len() || (exact && p.len() != m.len()) {
        return false;
    }
    p.iter()
        .zip(&m)
        .all(|((pn, pk), (mn, mk))| pn == mn && (pk.is_none() || pk == mk))
}

impl ResourceAddr {
    /// The resource in the configuration this is an instance of (module keys dropped).
    pub fn config_addr(&self) -> ResourceAddr {
        ResourceAddr {
            module: config_module(&self.module),
            ..self.clone()
        }
    }
    /// The same resource in another module instance.
    pub fn in_module(&self, module: &str) -> ResourceAddr {
        ResourceAddr {
            module: module.to_string(),
            ..self.clone()
        }
    }
}

/// Where `moved { from = module.A  to = module.B }` puts an object of module instance
/// `module` (which `from` covers): `from`'s steps replaced by `to`'s, keys the pattern
/// leaves out kept.
pub fn moved_module(module: &str, from: &str, to: &str) -> Option<String> {
    let have = module_steps(module)?;
    let from = module_steps(from)?;
    let to = module_steps(to)?;
    let mut out: Vec<(String, InstanceKey)> = if from.len() == to.len() {
        to.iter()
            .zip(&have)
            .zip(&from)
            .map(|(((tn, tk), (_, hk)), (_, fk))| {
                let key = if tk.is_none() && fk.is_none() {
                    hk.clone()
                } else {
                    tk.clone()
                };
                (tn.clone(), key)
            })
            .collect()
    } else {
        to
    };
    out.extend(have.into_iter().skip(from.len()));
    Some(module_string(&out))
}

/// What `--target`, `--replace`, `moved`, `removed` and `state mv` accept: a whole module
/// (`module.x`, `module.x[0]`), a resource or one instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A module instance path; a step without a key names every instance of that call.
    Module(String),
    Resource(ResourceAddr),
    Instance(InstanceAddr),
}

impl Target {
    pub fn matches(&self, addr: &InstanceAddr) -> bool {
        match self {
            Target::Module(m) => module_covers(m, &addr.resource.module, false),
            Target::Resource(r) => {
                addr.resource == *r
                    || (r.mode == addr.resource.mode
                        && r.type_name == addr.resource.type_name
                        && r.name == addr.resource.name
                        && module_covers(&r.module, &addr.resource.module, true))
            }
            Target::Instance(i) => {
                i == addr
                    || (i.key == addr.key
                        && Target::Resource(i.resource.clone())
                            .matches(&addr.resource.instance(addr.key.clone())))
            }
        }
    }
    /// Whether this target could select instances of the configuration resource `config`
    /// (an address with keyless module steps).
    pub fn touches(&self, config: &ResourceAddr) -> bool {
        match self {
            Target::Module(m) => module_covers(&config_module(m), &config.module, false),
            Target::Resource(r) | Target::Instance(InstanceAddr { resource: r, .. }) => {
                r.config_addr() == *config
            }
        }
    }
    /// Whether this target is narrower than everything it [`touches`](Target::touches):
    /// it names an instance key somewhere.
    pub fn is_keyed(&self) -> bool {
        match self {
            Target::Module(m) => m.contains('['),
            Target::Resource(r) => r.module.contains('['),
            Target::Instance(_) => true,
        }
    }
    /// The resource named, if the target names one.
    pub fn resource_addr(&self) -> Option<&ResourceAddr> {
        match self {
            Target::Module(_) => None,
            Target::Resource(r) => Some(r),
            Target::Instance(i) => Some(&i.resource),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Module(m) => f.write_str(m),
            Target::Resource(r) => r.fmt(f),
            Target::Instance(i) => i.fmt(f),
        }
    }
}

/// Why an address could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid address {text:?}: {reason}")]
pub struct AddrError {
    pub text: String,
    pub reason: String,
}

fn is_ident(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Splits `a.b["x.y"][0].c` into dot-separated parts, keeping bracketed keys intact.
fn split_parts(text: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut in_str = false;
    let mut depth = 0;
    let mut prev_escape = false;
    for c in text.chars() {
        if in_str {
            cur.push(c);
            if c == '"' && !prev_escape {
                in_str = false;
            }
            prev_escape = c == '\\' && !prev_escape;
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                prev_escape = false;
                cur.push(c);
            }
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if in_str || depth != 0 {
        return None;
    }
    parts.push(cur);
    Some(parts)
}

fn parse_key(text: &str) -> Result<(String, InstanceKey), String> {
    let Some(open) = text.find('[') else {
        return Ok((text.to_string(), InstanceKey::None));
    };
    let name = &text[..open];
    let rest = &text[open..];
    if !rest.ends_with(']') {
        return Err("an index must end with ]".into());
    }
    let inner = &rest[1..rest.len() - 1];
    let key = if inner.starts_with('"') {
        InstanceKey::Str(
            serde_json::from_str::<String>(inner).map_err(|_| "a bad string key".to_string())?,
        )
    } else {
        InstanceKey::Int(
            inner
                .parse()
                .map_err(|_| format!("{inner:?} is not a number or a quoted string"))?,
        )
    };
    Ok((name.to_string(), key))
}

impl std::str::FromStr for Target {
    type Err = AddrError;
    fn from_str(text: &str) -> Result<Target, AddrError> {
        let err = |reason: &str| AddrError {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let parts = split_parts(text.trim()).ok_or_else(|| err("unbalanced quotes or brackets"))?;
        let mut i = 0;
        let mut module = Vec::new();
        while i + 1 < parts.len() && parts[i] == "module" {
            let (name, key) = parse_key(&parts[i + 1]).map_err(|r| err(&r))?;
            if !is_ident(&name) {
                return Err(err("a module name must be an identifier"));
            }
            module.push(format!("module.{name}{key}"));
            i += 2;
        }
        if i == parts.len() && !module.is_empty() {
            return Ok(Target::Module(module.join(".")));
        }
        let mut mode = ResourceMode::Managed;
        if parts.get(i).map(String::as_str) == Some("data") {
            mode = ResourceMode::Data;
            i += 1;
        }
        if let Some(reserved) = parts.get(i).filter(|p| RESERVED.contains(&p.as_str())) {
            return Err(err(&format!("\"{reserved}\" is not a resource type")));
        }
        if parts.len() > i + 2 {
            return Err(err("an address cannot refer to an attribute of a resource"));
        }
        if parts.len() != i + 2 {
            return Err(err("expected TYPE.NAME, optionally with an index"));
        }
        let type_name = &parts[i];
        let (name, key) = parse_key(&parts[i + 1]).map_err(|r| err(&r))?;
        if !is_ident(type_name) || !is_ident(&name) {
            return Err(err("a type and a name must be identifiers"));
        }
        let r = ResourceAddr {
            module: module.join("."),
            mode,
            type_name: type_name.clone(),
            name,
        };
        Ok(if key.is_none() && !parts[i + 1].contains('[') {
            Target::Resource(r)
        } else {
            Target::Instance(r.instance(key))
        })
    }
}

impl std::str::FromStr for InstanceAddr {
    type Err = AddrError;
    fn from_str(text: &str) -> Result<InstanceAddr, AddrError> {
        Ok(match text.parse::<Target>()? {
            Target::Resource(r) => r.instance(InstanceKey::None),
            Target::Instance(i) => i,
            Target::Module(m) => {
                return Err(AddrError {
                    text: m,
                    reason: "expected a resource instance, not a module".into(),
                });
            }
        })
    }
}

impl Serialize for InstanceAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for InstanceAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
impl Serialize for ResourceAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for ResourceAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.parse().map_err(serde::de::Error::custom)? {
            Target::Resource(r) => Ok(r),
            _ => Err(serde::de::Error::custom("expected a resource address")),
        }
    }
}

/// Root names that start references, never resource addresses.
const RESERVED: &[&str] = &["var", "local", "each", "count", "path", "self", "module"];

/// Parses a static traversal (root name + steps, as written in a `moved`, `removed` or
/// `import` block) into a target address.
pub fn parse_target(root: &str, steps: &[StaticStep]) -> Result<Target, String> {
    traversal_text(root, steps)?
        .parse::<Target>()
        .map_err(|e| e.reason)
}

/// A static traversal written as address text: `module.a`, `brick_data.x["k"]` (string keys
/// quoted, whole numbers bare).
pub fn traversal_text(root: &str, steps: &[StaticStep]) -> Result<String, String> {
    let mut text = root.to_string();
    for s in steps {
        match s {
            StaticStep::Attr(a) => {
                text.push('.');
                text.push_str(a);
            }
            StaticStep::Index(v) => {
                if let Some(s) = v.as_str() {
                    text.push_str(&format!("[{}]", serde_json::Value::String(s.to_string())));
                } else if let Some(n) = v.as_number().and_then(|n| n.to_i64()) {
                    text.push_str(&format!("[{n}]"));
                } else {
                    return Err("an instance key must be a string or a whole number".into());
                }
            }
        }
    }
    Ok(text)
}

/// Splits a static traversal that names a resource (or one instance of it) and then an
/// attribute path inside it (`module.a.maas_machine.node["kvm4"].tags`, as a `drift { ignore }`
/// entry writes it): the target and the remaining steps. An index right after the resource
/// name is an instance key; a path starts with an attribute name.
pub fn parse_attr_target(
    root: &str,
    steps: &[StaticStep],
) -> Result<(Target, Vec<StaticStep>), String> {
    let mut all = vec![StaticStep::Attr(root.to_string())];
    all.extend(steps.iter().cloned());
    let name_at = |i: usize| match all.get(i) {
        Some(StaticStep::Attr(a)) => Some(a.clone()),
        _ => None,
    };
    let mut i = 0;
    while name_at(i).as_deref() == Some("module") {
        if name_at(i + 1).is_none() {
            return Err("module must be followed by the module call's name".into());
        }
        i += 2;
        if matches!(all.get(i), Some(StaticStep::Index(_))) {
            i += 1;
        }
    }
    if name_at(i).as_deref() == Some("data") {
        return Err("data sources are read, not managed: they cannot drift".into());
    }
    if name_at(i).is_none() || name_at(i + 1).is_none() {
        return Err("expected a resource address such as maas_machine.node".into());
    }
    i += 2;
    if matches!(all.get(i), Some(StaticStep::Index(_))) {
        i += 1;
    }
    let rest = all.split_off(i);
    let (StaticStep::Attr(first), prefix) = (all[0].clone(), &all[1..]) else {
        unreachable!("the first step is the root name");
    };
    let target = parse_target(&first, prefix)?;
    if matches!(target, Target::Module(_)) {
        return Err("expected a resource address, not a module".into());
    }
    if let Some(StaticStep::Index(_)) = rest.first() {
        return Err("an attribute path starts with an attribute name".into());
    }
    Ok((target, rest))
}

/// Parses an address written as text (`-target`, `state rm`): `module.a["x"].t.n[0]`.
pub fn parse_target_str(text: &str) -> Result<Target, String> {
    text.parse::<Target>().map_err(|e| e.reason)
}

/// `module.a.module.b` for the path `["a", "b"]`.
pub fn module_text(path: &[String]) -> String {
    path.iter()
        .map(|n| format!("module.{n}"))
        .collect::<Vec<_>>()
        .join(".")
}

/// Splits a provider configuration name into the module path it is declared in and its
/// key in that module: `module.a.module.b.maas.east` → (`["a", "b"]`, `maas.east`).
pub fn provider_module(name: &str) -> (Vec<String>, &str) {
    let mut path = Vec::new();
    let mut rest = name;
    while let Some(r) = rest.strip_prefix("module.")
        && let Some((call, tail)) = r.split_once('.')
    {
        path.push(call.to_string());
        rest = tail;
    }
    (path, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_roots_are_not_resource_types() {
        assert!(parse_target_str("var.nodes").is_err());
        assert!(parse_target_str("local.x").is_err());
        assert!(parse_target_str("brick_data.x.output").is_err());
    }

    #[test]
    fn addresses_parse_and_print_back_unchanged() {
        for text in [
            "brick_data.x",
            "brick_data.x[0]",
            "brick_data.x[\"a.b\"]",
            "data.maas_machine.m[\"kvm4\"]",
            "module.net.brick_data.x",
            "module.net[1].module.inner.brick_data.x[2]",
            "module.net",
            "module.net[\"a\"].module.inner",
        ] {
            let t: Target = text.parse().unwrap();
            assert_eq!(t.to_string(), text);
        }
    }

    #[test]
    fn module_targets_cover_every_instance_inside_them() {
        let t: Target = "module.net".parse().unwrap();
        let a: InstanceAddr = "module.net[1].module.inner.brick_data.x[2]"
            .parse()
            .unwrap();
        assert!(t.matches(&a));
        let t1: Target = "module.net[0]".parse().unwrap();
        assert!(!t1.matches(&a));
        let r: Target = "module.net.module.inner.brick_data.x".parse().unwrap();
        assert!(r.matches(&a));
        assert!(!r.matches(&"brick_data.x[2]".parse().unwrap()));
        assert_eq!(
            config_module("module.net[1].module.inner[\"k\"]"),
            "module.net.module.inner"
        );
        assert!(t.touches(&a.resource.config_addr()));
    }

    #[test]
    fn malformed_addresses_are_errors_not_panics() {
        for text in [
            "",
            "brick_data",
            "brick_data.x[",
            "a.b.c",
            "brick_data.x[zz]",
            "1x.y",
        ] {
            assert!(text.parse::<Target>().is_err(), "{text} should not parse");
        }
    }
}
