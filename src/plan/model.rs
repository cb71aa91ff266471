//! The plan as plain data: one [`ResourceChange`] per resource instance (no-ops included),
//! the drift found by refresh, output changes, and what the plan was made against (state
//! serial and lineage, configuration hash) so that a saved plan is refused once stale.
//! Also the engine's in-memory view of recorded state, [`PriorState`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use brick_provider_api::Value;
use brick_provider_api::provider::{AttrPath, PathStep};

use crate::diag::Diagnostic;
use serde::{Deserialize, Serialize};

use super::address::{InstanceAddr, ResourceAddr};

/// Version of the saved-plan file format.
pub const PLAN_FORMAT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PlanMode {
    #[default]
    Normal,
    Destroy,
    RefreshOnly,
}

pub use crate::action::Action;

/// Why an action was chosen, as Terraform's `action_reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionReason {
    ReplaceBecauseTainted,
    ReplaceBecauseCannotUpdate,
    ReplaceByRequest,
    ReplaceByTriggers,
    DeleteBecauseNoResourceConfig,
    DeleteBecauseWrongRepetition,
    DeleteBecauseCountIndex,
    DeleteBecauseEachKey,
    DeleteBecauseNoModule,
    ReadBecauseConfigUnknown,
    ReadBecauseDependencyPending,
}

/// One resource instance's change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub addr: InstanceAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_addr: Option<InstanceAddr>,
    pub provider: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ActionReason>,
    /// The (refreshed) prior state; null when creating.
    #[serde(with = "exact")]
    pub before: Value,
    /// The planned state, possibly with unknown values; null when deleting.
    #[serde(with = "exact")]
    pub after: Value,
    #[serde(default, with = "paths", skip_serializing_if = "Vec::is_empty")]
    pub replace_paths: Vec<AttrPath>,
    /// The resources this instance depends on (recorded in state, used to order destroys).
    #[serde(default)]
    pub depends_on: Dependencies,
    #[serde(default)]
    pub create_before_destroy: bool,
    /// `Some(id)` when this change imports an existing object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importing: Option<String>,
    #[serde(default)]
    pub schema_version: u64,
}

/// The shape of a schema block, as the plan renderer needs it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockShape {
    /// Attributes of dynamic type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dynamic: Vec<String>,
    /// Nested block types by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub blocks: BTreeMap<String, NestedShape>,
}

/// A nested block type: its nesting (`single`, `list`, `set`, `map`) and its own shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NestedShape {
    pub nesting: String,
    pub block: BlockShape,
}

impl BlockShape {
    /// The shape of a provider schema block.
    pub fn of(block: &brick_provider_api::schema::Block) -> BlockShape {
        use brick_provider_api::schema::Nesting;
        BlockShape {
            dynamic: block
                .attributes
                .iter()
                .filter(|(_, a)| a.ty == brick_provider_api::Type::Dynamic)
                .map(|(n, _)| n.clone())
                .collect(),
            blocks: block
                .blocks
                .iter()
                .map(|(n, nb)| {
                    let nesting = match nb.nesting {
                        Nesting::Single => "single",
                        Nesting::List { .. } => "list",
                        Nesting::Set { .. } => "set",
                        Nesting::Map => "map",
                    };
                    (
                        n.clone(),
                        NestedShape {
                            nesting: nesting.to_string(),
                            block: BlockShape::of(&nb.block),
                        },
                    )
                })
                .collect(),
        }
    }
}

/// An object that changed outside of brick (found by refresh).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceDrift {
    pub addr: InstanceAddr,
    pub provider: String,
    #[serde(with = "exact")]
    pub before: Value,
    /// The object as it is now; null when it was deleted.
    #[serde(with = "exact")]
    pub after: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputChange {
    pub name: String,
    pub action: Action,
    #[serde(with = "exact")]
    pub before: Value,
    #[serde(with = "exact")]
    pub after: Value,
    pub sensitive: bool,
}

/// Why a change waits for a later run: Terraform's deferred reasons (the ones brick uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeferredReason {
    /// The provider's configuration is known only during apply and the object already
    /// exists: it can be neither read nor planned before its provider is configured.
    ProviderConfigUnknown,
    /// Something it depends on was deferred.
    DeferredPrereq,
}

impl DeferredReason {
    /// Terraform's name of the reason (`deferred_changes[].reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeferredReason::ProviderConfigUnknown => "provider_config_unknown",
            DeferredReason::DeferredPrereq => "deferred_prereq",
        }
    }
}

/// An instance whose change waits for a later run; this run neither reads nor changes it.
/// `change` is what the configuration asks compared with the recorded object (computed
/// attributes as recorded, or unknown for a create), not a provider's plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deferred {
    pub change: ResourceChange,
    pub reason: DeferredReason,
}

/// A provider whose configuration is known only during apply (it reads values of changes
/// this plan makes): it is configured as soon as those are applied, and its planned changes
/// are planned again then and checked against this plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LateProvider {
    /// The provider configuration's name (`k8s`, `k8s.garage`).
    pub name: String,
    /// The resources its configuration reads, directly or through other values
    /// (configuration addresses): every change of theirs is applied first.
    pub depends_on: Dependencies,
}

/// A refreshed instance whose state is to be recorded as it is (no-ops after drift, and every
/// instance of a `--refresh-only` plan).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refreshed {
    pub addr: InstanceAddr,
    #[serde(with = "exact")]
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub brick_version: String,
    pub mode: PlanMode,
    pub state_lineage: Option<String>,
    pub state_serial: Option<u64>,
    pub config_hash: String,
    /// One entry per instance, sorted by address, no-ops included.
    pub changes: Vec<ResourceChange>,
    pub drift: Vec<ResourceDrift>,
    pub outputs: Vec<OutputChange>,
    /// Instances this plan leaves for a later run, sorted by address.
    #[serde(default)]
    pub deferred: Vec<Deferred>,
    /// Providers configured only during apply, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configured_during_apply: Vec<LateProvider>,
    #[serde(default)]
    pub targets: Vec<String>,
    /// The `--exclude` addresses the plan was limited by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, serde_json::Value>,
    /// Set when planning failed part-way; such a plan cannot be applied.
    pub errored: bool,
    /// When the plan was made (RFC 3339, UTC), set by the CLI; Terraform's `timestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Why tainted instances are tainted, by instance address, when the state says more
    /// than "tainted"; set by the CLI from the state.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tainted_reasons: BTreeMap<String, String>,
    /// What the renderer needs of each resource type's schema (`brick_data`,
    /// `data.brick_remote_state`): which attributes are dynamic (compared as plain JSON, as
    /// Terraform's renderer does; the others by their type) and which are nested blocks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schemas: BTreeMap<String, BlockShape>,
    /// Terraform's `relevant_attributes`: the resource attributes (resource instance address,
    /// attribute path) that the changes and changed outputs refer to, directly or through
    /// locals and other resources; drift outside them is not shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relevant_attributes: Vec<(String, Vec<serde_json::Value>)>,
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
}

impl Plan {
    /// Counts of (add, change, destroy) as Terraform's closing line.
    pub fn counts(&self) -> (usize, usize, usize) {
        let (mut add, mut change, mut destroy) = (0, 0, 0);
        for c in &self.changes {
            match c.action {
                Action::Create => add += 1,
                Action::Update => change += 1,
                Action::Delete => destroy += 1,
                a if a.is_replace() => {
                    add += 1;
                    destroy += 1
                }
                _ => {}
            }
        }
        (add, change, destroy)
    }
    /// Whether applying would change anything real or recorded.
    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| !matches!(c.action, Action::NoOp | Action::Read) || c.importing.is_some())
            || self.outputs.iter().any(|o| o.action != Action::NoOp)
            || (self.mode == PlanMode::RefreshOnly && !self.drift.is_empty())
    }
    /// Whether the plan leaves changes for a later run (`--detailed-exitcode` counts them as
    /// changes: the configuration is not yet what exists).
    pub fn has_deferred(&self) -> bool {
        !self.deferred.is_empty()
    }
    pub fn applyable(&self) -> bool {
        !self.errored && (self.has_changes() || !self.drift.is_empty())
    }
}

/// The resources an instance depends on directly, as recorded in state (configuration
/// addresses): with what those resources record, transitively, every resource upstream, as
/// Terraform records them (`show --json` prints those: [`PriorState::whole_dependencies`]).
/// Direct, so that a chain of N resources records N addresses, not N²/2; each address is
/// shared, not copied.
pub type Dependencies = Vec<Arc<ResourceAddr>>;

/// Whether two dependency lists name the same resources, in any order.
pub fn same_dependencies(a: &Dependencies, b: &Dependencies) -> bool {
    if a.len() != b.len() {
        return false;
    }
    fn sorted(d: &Dependencies) -> Vec<&ResourceAddr> {
        let mut v: Vec<&ResourceAddr> = d.iter().map(|x| &**x).collect();
        v.sort_unstable();
        v
    }
    a == b || sorted(a) == sorted(b)
}

/// One instance as recorded in state (sensitive values marked).
#[derive(Clone, Debug, PartialEq)]
pub struct PriorInstance {
    pub provider: String,
    pub value: Value,
    pub depends_on: Dependencies,
    pub tainted: bool,
    pub schema_version: u64,
    pub create_before_destroy: bool,
}

/// The recorded state as the planner reads it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriorState {
    pub lineage: Option<String>,
    pub serial: Option<u64>,
    pub instances: BTreeMap<InstanceAddr, PriorInstance>,
    pub outputs: BTreeMap<String, (Value, bool)>,
    /// Objects whose recorded schema version could not be brought to the provider's current
    /// one (no upgrade, or written by a newer provider): a plan from this state fails.
    pub upgrade_errors: Vec<Diagnostic>,
}

impl PriorState {
    /// Every instance's whole upstream, sorted, as Terraform records `dependencies`: its
    /// recorded (direct) dependencies and, for each resource they name, what every instance
    /// of that resource depends on, transitively. Each resource's upstream set is computed
    /// once, in dependency order, so the work is linear in the lists produced. (A cycle, which
    /// recorded dependencies never hold, is cut where it is found.)
    pub fn whole_dependencies(&self) -> HashMap<&InstanceAddr, Vec<String>> {
        let mut ids: HashMap<ResourceAddr, usize> = HashMap::new();
        let mut names: Vec<ResourceAddr> = Vec::new();
        let mut intern = |r: ResourceAddr, names: &mut Vec<ResourceAddr>| -> usize {
            *ids.entry(r).or_insert_with_key(|r| {
                names.push(r.clone());
                names.len() - 1
            })
        };
        let mut members: HashMap<usize, Vec<&InstanceAddr>> = HashMap::new();
        let mut direct: HashMap<&InstanceAddr, Vec<usize>> = HashMap::new();
        for (addr, inst) in &self.instances {
            let r = intern(addr.resource.config_addr(), &mut names);
            members.entry(r).or_default().push(addr);
            let ds = inst
                .depends_on
                .iter()
                .map(|d| intern((**d).clone(), &mut names))
                .collect();
            direct.insert(addr, ds);
        }
        // Each resource's upstream: post-order over resources.
        let n = names.len();
        let mut full: Vec<Option<Vec<usize>>> = vec![None; n];
        let mut open = vec![false; n];
        let upstream_of = |r: usize| -> Vec<usize> {
            members
                .get(&r)
                .into_iter()
                .flatten()
                .flat_map(|a| direct[a].iter().copied())
                .collect()
        };
        let mut mark = vec![0usize; n];
        let mut stamp = 0usize;
        for root in 0..n {
            if full[root].is_some() {
                continue;
            }
            let mut stack: Vec<(usize, Vec<usize>)> = vec![(root, upstream_of(root))];
            open[root] = true;
            while let Some((r, pending)) = stack.last_mut() {
                if let Some(next) = pending.pop() {
                    if full[next].is_none() && !open[next] {
                        open[next] = true;
                        let up = upstream_of(next);
                        stack.push((next, up));
                    }
                    continue;
                }
                let r = *r;
                stack.pop();
                stamp += 1;
                let mut set = Vec::new();
                for d in upstream_of(r) {
                    for e in std::iter::once(d).chain(full[d].iter().flatten().copied()) {
                        if mark[e] != stamp {
                            mark[e] = stamp;
                            set.push(e);
                        }
                    }
                }
                full[r] = Some(set);
            }
        }
        let text: Vec<String> = names.iter().map(|r| r.to_string()).collect();
        direct
            .into_iter()
            .map(|(addr, ds)| {
                stamp += 1;
                let mut out: Vec<&str> = Vec::new();
                for d in ds {
                    for e in std::iter::once(d).chain(full[d].iter().flatten().copied()) {
                        if mark[e] != stamp {
                            mark[e] = stamp;
                            out.push(&text[e]);
                        }
                    }
                }
                out.sort_unstable();
                (addr, out.into_iter().map(String::from).collect())
            })
            .collect()
    }
}

/// Serde for values in the exact encoding (saved plans).
pub mod exact {
    use super::*;
    pub fn serialize<S: serde::Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
        super::super::codec::encode_exact(v).serialize(s)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        let j = serde_json::Value::deserialize(d)?;
        super::super::codec::decode_exact(&j)
            .ok_or_else(|| serde::de::Error::custom("malformed value"))
    }
}

/// The order Terraform lists instances in: by module, then data sources before managed
/// resources, then type, name and instance key.
pub fn terraform_order(a: &InstanceAddr, b: &InstanceAddr) -> std::cmp::Ordering {
    // Compared in place: sorting 100,000 changes made two copies of four strings per
    // comparison.
    fn key(x: &InstanceAddr) -> (&str, bool, &str, &str) {
        (
            x.resource.module.as_str(),
            x.resource.mode != super::address::ResourceMode::Data,
            x.resource.type_name.as_str(),
            x.resource.name.as_str(),
        )
    }
    key(a).cmp(&key(b)).then_with(|| a.key.cmp(&b.key))
}

/// Attribute paths as JSON arrays of names (strings) and indices (numbers).
pub fn path_to_json(p: &AttrPath) -> serde_json::Value {
    serde_json::Value::Array(
        p.iter()
            .map(|s| match s {
                PathStep::Attr(a) | PathStep::Key(a) => serde_json::json!(a),
                PathStep::Index(i) => serde_json::json!(i),
            })
            .collect(),
    )
}

mod paths {
    use super::*;
    pub fn serialize<S: serde::Serializer>(v: &[AttrPath], s: S) -> Result<S::Ok, S::Error> {
        serde_json::Value::Array(v.iter().map(path_to_json).collect()).serialize(s)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<AttrPath>, D::Error> {
        let j: Vec<Vec<serde_json::Value>> = Vec::deserialize(d)?;
        Ok(j.into_iter()
            .map(|steps| {
                steps
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| match s {
                        serde_json::Value::Number(n) => PathStep::Index(n.as_u64().unwrap_or(0)),
                        serde_json::Value::String(a) if i == 0 => PathStep::Attr(a),
                        serde_json::Value::String(a) => PathStep::Key(a),
                        other => PathStep::Key(other.to_string()),
                    })
                    .collect()
            })
            .collect())
    }
}
