//! The configuration as the planner and executor see it: resources, locals, outputs and
//! providers, each with the references it makes and a function that evaluates it against a
//! [`Scope`]. The CLI builds it from the loaded `config::Config` (see `plan::from_config`); tests
//! build it directly. Keeping the planner behind this small surface means it never depends on
//! how expressions are represented.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use brick_provider_api::Value;
use brick_provider_api::schema::Block;

use crate::diag::Diagnostic;

/// Diagnostics of the engine (with source spans when they come from configuration).
pub type Diagnostics = Vec<Diagnostic>;

use crate::addr::{InstanceAddr, ResourceAddr, Target};
use crate::eval::{Reference, Scope};

/// Evaluates an expression (or a block body against its schema) in a scope.
pub type EvalFn = Arc<dyn Fn(&dyn Scope, &Block) -> Result<Value, Diagnostics> + Send + Sync>;

/// An expression given as a constant: for tests and for values known when loading.
pub fn constant(v: Value) -> EvalFn {
    Arc::new(move |_, _| Ok(v.clone()))
}

/// How a resource's instances are gathered into the value a reference sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Single,
    Count,
    ForEach,
}

/// Instance keys with their `each.value`.
pub type Keys = Vec<(crate::addr::InstanceKey, Option<Value>)>;

/// How many instances a resource has; the expression's source span, where there is one,
/// places the diagnostics about its value.
#[derive(Clone)]
pub enum Expansion {
    Single,
    /// `count = EXPR` (a whole number).
    Count(EvalFn, Option<crate::config::Span>),
    /// `for_each = EXPR` (a map, or a set of strings).
    ForEach(EvalFn, Option<crate::config::Span>),
}

impl Expansion {
    /// The instance keys (with `each.value`) of `count` / `for_each` evaluated in `scope`, with
    /// Terraform's rules (`eval::count_of`, `eval::for_each_of`: the values of a `for_each` map may
    /// be unknown or sensitive, its keys may not); `what` names the object when the expression has
    /// no source location.
    #[allow(
        clippy::result_large_err,
        reason = "one diagnostic, returned once per resource; boxing it buys nothing"
    )]
    pub fn instances(
        &self,
        scope: &dyn crate::eval::Scope,
        what: &str,
    ) -> Result<(Shape, Keys), Diagnostic> {
        let evaluated = |e: &EvalFn| {
            e(scope, &Block::default()).map_err(|ds| {
                ds.into_iter().next().unwrap_or_else(|| {
                    Diagnostic::error(
                        "brick::eval::invalid_expansion",
                        "Invalid count or for_each argument",
                        format!("The count or for_each of {what} failed to evaluate."),
                    )
                })
            })
        };
        let placed = |p: crate::eval::ExpansionProblem, span: &Option<crate::config::Span>| {
            let d = p.diagnostic(*span);
            if span.is_some() {
                d
            } else {
                let detail = format!("{what}: {}", d.detail);
                Diagnostic { detail, ..d }
            }
        };
        match self {
            Expansion::Single => Ok((Shape::Single, vec![(crate::addr::InstanceKey::None, None)])),
            Expansion::Count(e, span) => {
                let n = crate::eval::count_of(&evaluated(e)?).map_err(|p| placed(p, span))?;
                Ok((
                    Shape::Count,
                    (0..n as i64)
                        .map(|i| (crate::addr::InstanceKey::Int(i), None))
                        .collect(),
                ))
            }
            Expansion::ForEach(e, span) => {
                let m = crate::eval::for_each_of(&evaluated(e)?).map_err(|p| placed(p, span))?;
                Ok((
                    Shape::ForEach,
                    m.into_iter()
                        .map(|(k, x)| (crate::addr::InstanceKey::Str(k), Some(x)))
                        .collect(),
                ))
            }
        }
    }

    /// How references see the instances gathered.
    pub fn shape(&self) -> Shape {
        match self {
            Expansion::Single => Shape::Single,
            Expansion::Count(..) => Shape::Count,
            Expansion::ForEach(..) => Shape::ForEach,
        }
    }

    /// `each.value` of the instance `key` (evaluating `for_each` in `scope`); `None` without
    /// `for_each`.
    pub fn each_value(
        &self,
        scope: &dyn Scope,
        key: &crate::addr::InstanceKey,
    ) -> Result<Option<Value>, Diagnostics> {
        let Expansion::ForEach(e, _) = self else {
            return Ok(None);
        };
        let crate::addr::InstanceKey::Str(k) = key else {
            return Ok(None);
        };
        let v = e(scope, &Block::default())?;
        Ok(Some(
            crate::eval::for_each_of(&v)
                .ok()
                .and_then(|mut m| m.remove(k))
                .unwrap_or_else(|| Value::string(k.clone())),
        ))
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum IgnoreChanges {
    #[default]
    None,
    /// `ignore_changes = all`
    All,
    /// Top-level attribute names.
    Attributes(Vec<String>),
}

#[derive(Clone, Default)]
pub struct Lifecycle {
    pub create_before_destroy: bool,
    pub prevent_destroy: bool,
    /// The resource block's header (`resource "TYPE" "NAME"`), where an error about its
    /// lifecycle points (`prevent_destroy`), as Terraform's does.
    pub decl_span: Option<crate::config::Span>,
    pub ignore_changes: IgnoreChanges,
    /// `replace_triggered_by`: the resources or instances whose change replaces this one.
    pub replace_triggered_by: Vec<Target>,
    /// `precondition` blocks: checked in the instance's scope before it is planned.
    pub preconditions: Vec<Condition>,
    /// `postcondition` blocks: checked with `self` as the planned (or, when that is not
    /// known, the applied) object.
    pub postconditions: Vec<Condition>,
    /// `provisioner "local-exec"` blocks, run by apply after a create (or before a destroy);
    /// plans do not show them, as Terraform's do not.
    pub provisioners: Vec<ProvisionerConfig>,
}

/// One `provisioner "local-exec"` block. `args` evaluates its arguments (with `self` the
/// object) to an object of `command`, `interpreter`, `working_dir`, `environment`, `quiet`.
#[derive(Clone)]
pub struct ProvisionerConfig {
    pub when_destroy: bool,
    pub on_failure_continue: bool,
    pub args: EvalFn,
    pub span: crate::config::Span,
}

/// One `precondition` or `postcondition` block (Terraform's custom conditions). `check`
/// returns `None` while the condition is unknown, else its diagnostics (empty when it
/// holds); its references are dependencies of the object it belongs to.
#[derive(Clone)]
pub struct Condition {
    pub check: CheckFn,
    pub references: Vec<Reference>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub create: Option<Duration>,
    pub update: Option<Duration>,
    pub delete: Option<Duration>,
}

#[derive(Clone)]
pub struct ResourceConfig {
    pub addr: ResourceAddr,
    /// The provider configuration's name (`brick`, `maas`, `maas.east`).
    pub provider: String,
    pub expansion: Expansion,
    pub body: EvalFn,
    /// Every reference in the body, `count`/`for_each` and lifecycle.
    pub references: Vec<Reference>,
    pub depends_on: Vec<Reference>,
    pub lifecycle: Lifecycle,
    pub timeouts: Timeouts,
    /// Where the block is written (empty when built without source, as in tests).
    pub source: ResourceSource,
}

/// Where a resource block is written, for diagnostics about the resource as a whole (a
/// provider-level plan check) that point at the block or at one of its arguments.
#[derive(Clone, Debug, Default)]
pub struct ResourceSource {
    /// The `resource "TYPE" "NAME"` header.
    pub decl: Option<crate::config::Span>,
    /// Each top-level argument and nested block of the body, by name (a nested block written
    /// more than once: its first).
    pub attributes: BTreeMap<String, crate::config::Span>,
}

impl ResourceSource {
    /// The span of the argument at the head of `path`, or else of the block header.
    pub fn span_of(&self, path: &[String]) -> Option<crate::config::Span> {
        path.first()
            .and_then(|name| self.attributes.get(name).copied())
            .or(self.decl)
    }
}

#[derive(Clone)]
pub struct NamedExpr {
    /// The module path (call names) it is declared in; empty for the root module.
    pub module: Vec<String>,
    pub name: String,
    pub expr: EvalFn,
    pub references: Vec<Reference>,
}

#[derive(Clone)]
pub struct OutputConfig {
    /// The module path (call names) it is declared in; empty for the root module. Only root
    /// outputs are plan outputs; a child module's outputs are the value of `module.NAME`.
    pub module: Vec<String>,
    pub name: String,
    pub expr: EvalFn,
    /// The value without the plan's check that a root output not declared sensitive holds
    /// no sensitive value; apply uses it, so a value that turns out sensitive only then (a
    /// provider hid an attribute the plan could not know) is recorded hidden, not refused
    /// after the change was made. `None`: `expr` serves both.
    pub at_apply: Option<EvalFn>,
    pub references: Vec<Reference>,
    pub sensitive: bool,
    /// `precondition` blocks, checked in the module instance's scope before the value.
    pub preconditions: Vec<Condition>,
}

/// A `module "NAME"` block: how many instances of the child module there are. Its
/// expressions are evaluated in the caller's module instances.
#[derive(Clone)]
pub struct ModuleCallConfig {
    /// The caller's module path (call names); empty when the root calls it.
    pub module: Vec<String>,
    pub name: String,
    /// `source` as written (`./node`).
    pub source: String,
    pub expansion: Expansion,
    /// References of `count` / `for_each`, in the caller.
    pub references: Vec<Reference>,
    /// `depends_on`, in the caller: everything inside the module waits for these.
    pub depends_on: Vec<Reference>,
}

impl ModuleCallConfig {
    /// The called module's path (call names).
    pub fn child_path(&self) -> Vec<String> {
        let mut p = self.module.clone();
        p.push(self.name.clone());
        p
    }
}

/// One input variable of a child module: its argument in the module call, evaluated in the
/// caller's instance scope (`each.*`, `count.index` of the call), then converted to the
/// declared type with defaults, `nullable`, `sensitive` and `validation` applied. `value`
/// does all of that and returns the variable's final value.
#[derive(Clone)]
pub struct ModuleVariable {
    /// The child module's path (call names).
    pub module: Vec<String>,
    pub name: String,
    pub value: EvalFn,
    /// References of the argument, in the caller.
    pub references: Vec<Reference>,
}

/// Checks one `validation` block in a module instance's scope: `None` while the condition
/// is unknown, else its diagnostics (empty when it holds).
pub type CheckFn = Arc<dyn Fn(&dyn Scope) -> Option<Diagnostics> + Send + Sync>;

/// A `validation` block of an input variable that is checked in its module's scope: every
/// one of a child module's variables, and a root variable's when it reads locals,
/// resources, data sources or module outputs (Terraform ≥ 1.9). Checked during plan once
/// what it reads is known, else during apply.
#[derive(Clone)]
pub struct VariableValidation {
    /// The module path (call names) of the variable's module; empty for the root.
    pub module: Vec<String>,
    /// The variable's name.
    pub name: String,
    pub check: CheckFn,
    /// References of the condition and the error message (the variable's own included).
    pub references: Vec<Reference>,
}

#[derive(Clone)]
pub struct ProviderConfig {
    /// `maas` or `maas.east` (with `alias`); in a child module (Terraform's legacy provider
    /// blocks in modules) prefixed by the module path: `module.a.maas`
    /// (see [`provider_module`]).
    pub name: String,
    /// The provider type (`maas`).
    pub type_name: String,
    pub body: EvalFn,
    pub references: Vec<Reference>,
}

pub use crate::addr::provider_module;

/// The key of a provider configuration in the JSON plan's `configuration`, as Terraform
/// writes it: the root's keys as they are (`maas`, `maas.east`), a child module's own
/// configuration as `module.a:maas`.
pub fn provider_config_key(name: &str) -> String {
    let (path, key) = provider_module(name);
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{}:{key}", crate::addr::module_text(&path))
    }
}

/// The `provider_config_key` Terraform's JSON configuration gives a resource, and the module
/// whose provider entry it names (`None` for the root's). Terraform keys a provider per module
/// (`module.a:brick`) and then points each resource at the topmost of an unbroken chain of
/// modules that use the same provider: a child module inherits the key of its parent only
/// when the parent uses that provider too (a resource of it, or a `provider` block).
pub fn terraform_provider_key(
    resources: &[ResourceConfig],
    providers: &[ProviderConfig],
    rc: &ResourceConfig,
) -> (String, Option<String>) {
    let (own, key) = provider_module(&rc.provider);
    if rc.addr.module.is_empty() || !own.is_empty() {
        let module = (!own.is_empty()).then(|| crate::addr::module_text(&own));
        return (provider_config_key(&rc.provider), module);
    }
    let local = key.split('.').next().unwrap_or(key);
    let uses = |module: &str| {
        resources.iter().any(|r| {
            r.addr.module == module
                && provider_module(&r.provider).0.is_empty()
                && provider_module(&r.provider).1.split('.').next() == Some(local)
        }) || providers.iter().any(|p| {
            let (path, k) = provider_module(&p.name);
            crate::addr::module_text(&path) == module && k == local
        })
    };
    let mut top = rc.addr.module.clone();
    loop {
        let parent = match top.rfind(".module.") {
            Some(i) => top[..i].to_string(),
            None => String::new(),
        };
        if !uses(&parent) {
            return (format!("{top}:{local}"), Some(top));
        }
        if parent.is_empty() {
            return (provider_config_key(&rc.provider), None);
        }
        top = parent;
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Moved {
    pub from: Target,
    pub to: Target,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Removed {
    pub from: Target,
    /// `lifecycle { destroy = false }` forgets instead of destroying.
    pub destroy: bool,
}

#[derive(Clone)]
pub struct Import {
    pub to: InstanceAddr,
    pub id: String,
}

/// A root resource's entry in the JSON plan's `configuration` (`expressions`,
/// `count_expression`, `for_each_expression`, `depends_on`), made each time it is asked for
/// (by the JSON views and by `relevant_attributes` for the resources that change): a plan of
/// 100,000 resources that nobody shows as JSON builds none of them (about 0.7 KiB and 1.7 µs
/// each).
#[derive(Clone)]
pub struct Description(Arc<DescribeFn>);

type DescribeFn = dyn Fn() -> serde_json::Map<String, serde_json::Value> + Send + Sync;

impl Description {
    pub fn new(
        make: impl Fn() -> serde_json::Map<String, serde_json::Value> + Send + Sync + 'static,
    ) -> Description {
        Description(Arc::new(make))
    }

    /// The entry.
    pub fn make(&self) -> serde_json::Map<String, serde_json::Value> {
        (self.0)()
    }
}

impl std::fmt::Debug for Description {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.make(), f)
    }
}

/// What the JSON plan's `configuration` says of the source, already in Terraform's shape:
/// each variable's declaration, and each resource's and output's expressions. Built by
/// `from_config`; empty when a test builds a [`Configuration`] directly.
#[derive(Clone, Debug, Default)]
pub struct Described {
    /// `{"NAME": {"default": …, "description": …, "sensitive": true}}`.
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// Keyed by resource address: `expressions`, `count_expression`, `for_each_expression`,
    /// `depends_on`, made when asked.
    pub resources: BTreeMap<String, Description>,
    /// Keyed by output name: the `expression`.
    pub outputs: BTreeMap<String, serde_json::Value>,
    /// Keyed by call name: Terraform's `module_calls` entries (`source`, `expressions`,
    /// `count_expression`, `for_each_expression`, `depends_on`, `module`).
    pub module_calls: serde_json::Map<String, serde_json::Value>,
    /// Keyed by root local name: the traversals its expression makes, as `references`
    /// lists them (for `relevant_attributes` through locals).
    pub locals: BTreeMap<String, Vec<String>>,
}

/// One module's configuration, flattened (child modules' objects carry their module path).
#[derive(Clone, Default)]
pub struct Configuration {
    /// The source as the JSON plan's `configuration` describes it.
    pub described: Described,
    pub variables: BTreeMap<String, Value>,
    pub locals: Vec<NamedExpr>,
    pub outputs: Vec<OutputConfig>,
    pub resources: Vec<ResourceConfig>,
    pub providers: Vec<ProviderConfig>,
    pub moved: Vec<Moved>,
    pub removed: Vec<Removed>,
    pub imports: Vec<Import>,
    /// Module calls of every module, callers before the modules they call.
    pub module_calls: Vec<ModuleCallConfig>,
    /// Input variables of every child module.
    pub module_variables: Vec<ModuleVariable>,
    /// `validation` blocks checked in their module's scope.
    pub validations: Vec<VariableValidation>,
    /// `path.module` of each child module, keyed by its path (call names).
    pub module_dirs: BTreeMap<Vec<String>, String>,
    /// Which module outputs each object reads, keyed by the object's graph node name
    /// (`brick_data.r`, `module.a.local.x`, …): `(call, Some(output))`, or `(call, None)`
    /// for a use of the whole module. Objects absent here depend on every output of the
    /// modules they reference.
    pub module_output_uses: BTreeMap<String, Vec<(String, Option<String>)>>,
    /// A digest of the configuration's source, recorded in saved plans.
    pub hash: String,
}
