//! Offline checks of a configuration against provider schemas (`brick validate`; every plan
//! runs them first).
//!
//! [`validate`] is pure: it takes a loaded [`Config`] and the schemas and returns every
//! problem — undeclared references (with "did you mean"), unknown resource types and
//! arguments, wrong argument types where they are known, unsuitable `count`/`for_each`
//! values, reference cycles (listing the cycle), invalid `moved`/`removed`/`import`
//! addresses. The `validate` command itself is `cli::run::validate`.

use std::collections::{BTreeMap, BTreeSet};

use brick_provider_api::schema::{ProviderSchema, ResourceSchema};
use brick_provider_api::{Type, Value};

use crate::addr::{Target, parse_target};
use crate::config::{Config, Expr, Module, ResourceMode, Span};
use crate::diag::{Diagnostic, did_you_mean, has_errors};
use crate::eval::scope::ModuleScope;
use crate::eval::{
    Environment, Expansion, NullEnvironment, Reference, evaluate, evaluate_body, expansion,
    references, references_with,
};

/// The schema of the built-in `brick_data` resource (Terraform's `terraform_data`).
pub fn brick_data_schema() -> ResourceSchema {
    crate::registry::builtin_schema().resources["brick_data"].clone()
}

fn err(code: &str, summary: &str, detail: impl Into<String>, span: Span) -> Diagnostic {
    Diagnostic::error(format!("brick::config::{code}"), summary, detail).at(span)
}

/// Every problem `brick validate` finds in a loaded configuration, against the schemas of every
/// provider brick has; the providers check values offline, never configured. Planning commands
/// run it too, as Terraform's plan validates first. `env` is the file system and clock that
/// `file()`, `templatefile()`, `fileset()` … read, as Terraform's validate reads them.
pub fn check_offline(
    config: &Config,
    ids: &crate::builtin::IdSource,
    env: &dyn Environment,
) -> Vec<Diagnostic> {
    let set = crate::registry::provider_set(crate::registry::available().iter().copied(), ids);
    let mut schemas = BTreeMap::new();
    for name in set.names() {
        if let Some(s) = set.schema(name) {
            schemas.insert(name.clone(), (**s).clone());
        }
    }
    let check = |provider: &str, ty: &str, v: &Value| {
        set.get(provider)
            .map(|p| p.validate_resource(ty, v))
            .unwrap_or_default()
    };
    validate_with(config, &schemas, &check, env)
}

/// Every problem in `config`, given the provider schemas keyed by provider name (`brick` is
/// added when missing).
pub fn validate(config: &Config, schemas: &BTreeMap<String, ProviderSchema>) -> Vec<Diagnostic> {
    validate_with(config, schemas, &|_, _, _| Vec::new(), &NullEnvironment)
}

/// A provider's own offline check of one resource's configuration (Terraform's
/// `ValidateResourceConfig`): provider name, resource type, the configuration with every value
/// that is not known offline unknown. It must not configure the provider or do I/O.
pub type ResourceCheck<'a> = &'a dyn Fn(&str, &str, &Value) -> Vec<brick_provider_api::Diagnostic>;

/// [`validate`], also asking each resource's provider to check the values known offline, with
/// functions reading files through `env`.
pub fn validate_with(
    config: &Config,
    schemas: &BTreeMap<String, ProviderSchema>,
    check: ResourceCheck<'_>,
    env: &dyn Environment,
) -> Vec<Diagnostic> {
    let mut schemas = schemas.clone();
    schemas
        .entry("brick".into())
        .or_insert_with(crate::registry::builtin_schema);
    let mut diags = Vec::new();
    validate_module(&config.root, &schemas, check, env, &mut diags);
    module_cycles(config, &mut diags);
    diags
}

/// Cycles through module boundaries, found on the planner's graph, where each module input,
/// output and object is its own node (`module.m.output.out → brick_data.r →
/// module.m.var.word → module.m.brick_data.x → module.m.output.out`).
fn module_cycles(config: &Config, diags: &mut Vec<Diagnostic>) {
    if config.root.module_calls.is_empty() {
        return;
    }
    let env: std::sync::Arc<dyn crate::eval::Environment> =
        std::sync::Arc::new(crate::eval::NullEnvironment);
    let (engine, _) = crate::plan::from_config::from_config(config, BTreeMap::new(), env);
    let graph = crate::graph::ConfigGraph::build(&engine);
    let Err(d) = graph.order(&engine) else {
        return;
    };
    let Some(cycle) = d
        .detail
        .split_once(": ")
        .map(|(_, c)| c.trim_end_matches('.'))
    else {
        return;
    };
    if !cycle.contains("module.") {
        return; // a cycle within one module: reported by `cycles`
    }
    // Point at the first module call the cycle passes through.
    let span = cycle
        .split(" → ")
        .find_map(|n| n.strip_prefix("module.")?.split('.').next())
        .and_then(|name| config.root.module_calls.get(name))
        .map(|c| c.decl_span);
    diags.push(
        Diagnostic::error(
            "brick::config::cycle",
            "Cycle in references",
            format!("These objects refer to each other in a cycle: {cycle}."),
        )
        .at_opt(span)
        .help("Break the cycle by removing one of the references, or moving a value into a variable or local that does not depend on the others."),
    );
}

fn resource_schema<'a>(
    schemas: &'a BTreeMap<String, ProviderSchema>,
    mode: ResourceMode,
    type_name: &str,
) -> Option<&'a ResourceSchema> {
    schemas.values().find_map(|p| match mode {
        ResourceMode::Managed => p.resources.get(type_name),
        ResourceMode::Data => p.data_sources.get(type_name),
    })
}

/// Where an expression sits: which instance references it may use.
#[derive(Clone, Copy, PartialEq)]
struct Context {
    count: bool,
    for_each: bool,
    self_ok: bool,
}

const PLAIN: Context = Context {
    count: false,
    for_each: false,
    self_ok: false,
};

struct Checker<'a> {
    module: &'a Module,
    diags: &'a mut Vec<Diagnostic>,
}

impl Checker<'_> {
    fn check_refs(&mut self, e: &Expr, ctx: Context, bound: &[&str]) {
        for (r, span) in references_with(e, bound) {
            self.check_ref(&r, span, ctx);
        }
    }

    fn check_ref(&mut self, r: &Reference, span: Span, ctx: Context) {
        let m = self.module;
        let undeclared = |what: &str, text: String, help: Option<String>| {
            err(
                "undeclared_reference",
                &format!("Reference to undeclared {what}"),
                format!("{text} is not declared in this module."),
                span,
            )
            .label("not declared")
            .help_opt(help)
        };
        let d = match r {
            Reference::Variable(n) if !m.variables.contains_key(n) => Some(undeclared(
                "input variable",
                format!("An input variable named \"{n}\""),
                did_you_mean(n, m.variables.keys().map(String::as_str))
                    .map(|s| format!("Did you mean `var.{s}`?"))
                    .or_else(|| Some(format!("Declare it with variable \"{n}\" {{ … }}."))),
            )),
            Reference::Local(n) if !m.locals.contains_key(n) => Some(undeclared(
                "local value",
                format!("A local value named \"{n}\""),
                did_you_mean(n, m.locals.keys().map(String::as_str))
                    .map(|s| format!("Did you mean `local.{s}`?")),
            )),
            Reference::Resource { type_name, name }
                if m.resource(ResourceMode::Managed, type_name, name).is_none() =>
            {
                let keys: Vec<String> = m
                    .resources
                    .values()
                    .filter(|r| r.mode == ResourceMode::Managed)
                    .map(|r| r.key())
                    .collect();
                let want = format!("{type_name}.{name}");
                Some(undeclared(
                    "resource",
                    format!("A managed resource \"{type_name}\" \"{name}\""),
                    did_you_mean(&want, keys.iter().map(String::as_str))
                        .map(|s| format!("Did you mean `{s}`?")),
                ))
            }
            Reference::Data { type_name, name }
                if m.resource(ResourceMode::Data, type_name, name).is_none() =>
            {
                let keys: Vec<String> = m
                    .resources
                    .values()
                    .filter(|r| r.mode == ResourceMode::Data)
                    .map(|r| r.key())
                    .collect();
                let want = format!("data.{type_name}.{name}");
                Some(undeclared(
                    "data source",
                    format!("A data source \"{type_name}\" \"{name}\""),
                    did_you_mean(&want, keys.iter().map(String::as_str))
                        .map(|s| format!("Did you mean `{s}`?")),
                ))
            }
            Reference::Module(n) if !m.module_calls.contains_key(n) => Some(undeclared(
                "module",
                format!("A module call named \"{n}\""),
                did_you_mean(n, m.module_calls.keys().map(String::as_str))
                    .map(|s| format!("Did you mean `module.{s}`?")),
            )),
            Reference::EachKey | Reference::EachValue if !ctx.for_each => Some(err(
                "invalid_each",
                "Reference to \"each\" in context without for_each",
                "The \"each\" object can be used only in \"module\" or \"resource\" blocks, and only when the \"for_each\" argument is set.",
                span,
            )),
            Reference::CountIndex if !ctx.count => Some(err(
                "invalid_count_index",
                "Reference to \"count\" in non-counted context",
                "The \"count\" object can only be used in \"module\", \"resource\", and \"data\" blocks, and only when the \"count\" argument is set.",
                span,
            )),
            Reference::SelfObject if !ctx.self_ok => Some(err(
                "invalid_self",
                "Invalid \"self\" reference",
                "The \"self\" object is available only in postconditions, provisioner and connection blocks of a resource.",
                span,
            )),
            _ => None,
        };
        if let Some(d) = d {
            self.diags.push(d);
        }
    }

    /// References inside a body, including dynamic block iterators.
    fn check_body(&mut self, body: &crate::config::Body, ctx: Context, bound: &mut Vec<String>) {
        for a in &body.attributes {
            let b: Vec<&str> = bound.iter().map(String::as_str).collect();
            self.check_refs(&a.expr, ctx, &b);
        }
        for blk in &body.blocks {
            if blk.kind == "dynamic" {
                let it = blk
                    .body
                    .attribute("iterator")
                    .and_then(|a| a.expr.as_static_traversal().map(|t| t.0))
                    .or_else(|| blk.labels.first().cloned())
                    .unwrap_or_default();
                if let Some(fe) = blk.body.attribute("for_each") {
                    let b: Vec<&str> = bound.iter().map(String::as_str).collect();
                    self.check_refs(&fe.expr, ctx, &b);
                }
                bound.push(it);
                if let Some(l) = blk.body.attribute("labels") {
                    let b: Vec<&str> = bound.iter().map(String::as_str).collect();
                    self.check_refs(&l.expr, ctx, &b);
                }
                for c in blk.body.blocks_of("content") {
                    self.check_body(&c.body, ctx, bound);
                }
                bound.pop();
            } else {
                self.check_body(&blk.body, ctx, bound);
            }
        }
    }
}

/// What `validate` evaluates against: everything declared is unknown of its best-known type,
/// so that type errors in the known parts still surface.
fn unknown_lookup<'a>(
    m: &'a Module,
    schemas: &'a BTreeMap<String, ProviderSchema>,
) -> impl Fn(&Reference) -> Option<Value> + 'a {
    move |r: &Reference| match r {
        Reference::Resource { type_name, name } | Reference::Data { type_name, name } => {
            let mode = if matches!(r, Reference::Data { .. }) {
                ResourceMode::Data
            } else {
                ResourceMode::Managed
            };
            let res = m.resource(mode, type_name, name)?;
            let ty = match resource_schema(schemas, mode, type_name) {
                Some(s) if res.count.is_none() && res.for_each.is_none() => s.block.value_type(),
                _ => Type::Dynamic,
            };
            Some(Value::unknown(ty))
        }
        Reference::Module(n) => m.module_calls.get(n).map(|_| Value::unknown(Type::Dynamic)),
        Reference::EachKey => Some(Value::unknown(Type::String)),
        Reference::EachValue | Reference::SelfObject => Some(Value::unknown(Type::Dynamic)),
        Reference::CountIndex => Some(Value::unknown(Type::Number)),
        _ => None,
    }
}

fn validate_module(
    m: &Module,
    schemas: &BTreeMap<String, ProviderSchema>,
    check: ResourceCheck<'_>,
    env: &dyn Environment,
    diags: &mut Vec<Diagnostic>,
) {
    let variables: BTreeMap<String, Value> = m
        .variables
        .iter()
        .map(|(n, v)| {
            let ty = v.constraint().to_type();
            let val = Value::unknown(ty);
            (n.clone(), if v.sensitive { val.sensitive() } else { val })
        })
        .collect();
    let scope = ModuleScope::new(m, env, variables, Box::new(unknown_lookup(m, schemas)));

    // 1. References.
    {
        let mut c = Checker { module: m, diags };
        for v in m.variables.values() {
            if let Some(d) = &v.default {
                // Defaults must be constant.
                for (_, span) in references(d) {
                    c.diags.push(err("invalid_default", "Variables not allowed", "A variable's default value must be a constant; it cannot refer to other values.", span));
                }
            }
            for check in &v.validations {
                c.check_refs(&check.condition, PLAIN, &[]);
                c.check_refs(&check.error_message, PLAIN, &[]);
            }
        }
        for l in m.locals.values() {
            c.check_refs(&l.expr, PLAIN, &[]);
        }
        for o in m.outputs.values() {
            c.check_refs(&o.value, PLAIN, &[]);
            for e in &o.depends_on {
                c.check_refs(e, PLAIN, &[]);
            }
            for p in &o.preconditions {
                c.check_refs(&p.condition, PLAIN, &[]);
                c.check_refs(&p.error_message, PLAIN, &[]);
            }
        }
        for p in m.providers.values() {
            c.check_body(&p.body, PLAIN, &mut Vec::new());
        }
        for r in m.resources.values() {
            let ctx = Context {
                count: r.count.is_some(),
                for_each: r.for_each.is_some(),
                self_ok: false,
            };
            if let Some(e) = &r.count {
                c.check_refs(e, PLAIN, &[]);
            }
            if let Some(e) = &r.for_each {
                c.check_refs(e, PLAIN, &[]);
            }
            for e in r.depends_on.iter().chain(&r.lifecycle.replace_triggered_by) {
                c.check_refs(e, ctx, &[]);
            }
            for p in &r.lifecycle.preconditions {
                c.check_refs(&p.condition, ctx, &[]);
                c.check_refs(&p.error_message, ctx, &[]);
            }
            let post = Context {
                self_ok: true,
                ..ctx
            };
            for p in &r.lifecycle.postconditions {
                c.check_refs(&p.condition, post, &[]);
                c.check_refs(&p.error_message, post, &[]);
            }
            c.check_body(&r.body, ctx, &mut Vec::new());
            // Provider configuration exists when named explicitly.
            if let Some(p) = &r.provider
                && p.alias.is_some()
                && !m.providers.contains_key(&p.key())
            {
                c.diags.push(err(
                    "undeclared_provider",
                    "Reference to undeclared provider configuration",
                    format!(
                        "There is no provider \"{}\" block with alias \"{}\" in this module.",
                        p.name,
                        p.alias.clone().unwrap_or_default()
                    ),
                    r.decl_span,
                ));
            }
        }
        for call in m.module_calls.values() {
            let ctx = Context {
                count: call.count.is_some(),
                for_each: call.for_each.is_some(),
                self_ok: false,
            };
            for e in call.count.iter().chain(&call.for_each) {
                c.check_refs(e, PLAIN, &[]);
            }
            for a in call.inputs.values() {
                c.check_refs(&a.expr, ctx, &[]);
            }
            for e in &call.depends_on {
                c.check_refs(e, PLAIN, &[]);
            }
            if let Some(child) = &call.module {
                for (name, a) in &call.inputs {
                    if !child.variables.contains_key(name) {
                        let help = did_you_mean(name, child.variables.keys().map(String::as_str))
                            .map(|s| format!("Did you mean `{s}`?"));
                        c.diags.push(
                            err(
                                "unsupported_argument",
                                "Unsupported argument",
                                format!(
                                    "The module \"{}\" has no input variable named \"{name}\".",
                                    call.name
                                ),
                                a.name_span,
                            )
                            .help_opt(help),
                        );
                    }
                }
                for (vn, v) in &child.variables {
                    if v.default.is_none() && !call.inputs.contains_key(vn) {
                        c.diags.push(err(
                            "missing_argument",
                            "Missing required argument",
                            format!("The module \"{}\" needs a value for its input variable \"{vn}\", which has no default.", call.name),
                            call.decl_span,
                        ));
                    }
                }
                // A constant argument of the wrong type is wrong for every instance.
                for (vn, a) in &call.inputs {
                    let Some(v) = child.variables.get(vn) else {
                        continue;
                    };
                    let (value, d) = crate::eval::evaluate_const(&a.expr);
                    if d.iter().any(Diagnostic::is_error) || !value.is_wholly_known() {
                        continue;
                    }
                    if let Err(why) = crate::eval::convert_with_defaults(&value, &v.constraint()) {
                        c.diags.push(
                            Diagnostic::error(
                                "brick::vars::invalid_value",
                                "Invalid value for input variable",
                                format!(
                                    "The value given for var.{vn} of module \"{}\" is not suitable: {}.",
                                    call.name,
                                    why.trim_end_matches('.')
                                ),
                            )
                            .at(a.expr.span)
                            .help(format!(
                                "The module declares var.{vn} with type {}.",
                                v.constraint().to_type()
                            )),
                        );
                    }
                }
            }
        }
    }

    // depends_on names whole objects: resources, data sources, module calls.
    let depends: Vec<&Expr> = m
        .resources
        .values()
        .flat_map(|r| r.depends_on.iter())
        .chain(m.outputs.values().flat_map(|o| o.depends_on.iter()))
        .chain(m.module_calls.values().flat_map(|c| c.depends_on.iter()))
        .collect();
    for e in depends {
        for (r, span) in references(e) {
            if !matches!(
                r,
                Reference::Resource { .. } | Reference::Data { .. } | Reference::Module(_)
            ) {
                diags.push(err(
                    "invalid_depends_on",
                    "Invalid depends_on reference",
                    "depends_on may only name resources, data sources and module calls, not variables, locals or other values.",
                    span,
                ));
            }
        }
    }

    // Module output references: module.NAME.OUTPUT must exist.
    for (r, span, out_name) in module_output_refs(m) {
        if let Some(child) = m.module_calls.get(&r).and_then(|c| c.module.as_deref())
            && !child.outputs.contains_key(&out_name)
        {
            let help = did_you_mean(&out_name, child.outputs.keys().map(String::as_str))
                .map(|s| format!("Did you mean `module.{r}.{s}`?"));
            diags.push(
                err(
                    "unsupported_attribute",
                    "Unsupported attribute",
                    format!("The module \"{r}\" has no output named \"{out_name}\"."),
                    span,
                )
                .help_opt(help),
            );
        }
    }

    // 2. Resource types, arguments, types; count/for_each values.
    for r in m.resources.values() {
        let Some(schema) = resource_schema(schemas, r.mode, &r.type_name) else {
            let all: Vec<&str> = schemas
                .values()
                .flat_map(|p| match r.mode {
                    ResourceMode::Managed => p.resources.keys(),
                    ResourceMode::Data => p.data_sources.keys(),
                })
                .map(String::as_str)
                .collect();
            let what = if r.mode == ResourceMode::Data {
                "data source"
            } else {
                "resource type"
            };
            let help = did_you_mean(&r.type_name, all.iter().copied())
                .map(|s| format!("Did you mean `{s}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "The provider \"{}\" does not offer it, or is not installed.",
                        r.provider_name()
                    )
                });
            diags.push(
                err(
                    "unknown_resource_type",
                    &format!("Invalid {what}"),
                    format!(
                        "The {what} \"{}\" is not supported by any provider.",
                        r.type_name
                    ),
                    r.decl_span,
                )
                .help(help),
            );
            continue;
        };
        let (exp, d) = expansion(r.count.as_ref(), r.for_each.as_ref(), &scope, env);
        // Unknown values are fine offline; wrong types and sensitive values are not.
        diags.extend(d.into_iter().filter(|d| {
            d.code != "brick::eval::count_and_for_each"
                && !d.detail.contains("cannot be determined until apply")
                && !d.detail.contains("cannot predict")
        }));
        let _ = matches!(exp, Expansion::Unknown);
        let (value, d) = evaluate_body(&r.body, &schema.block, &scope, env);
        let body_ok = !has_errors(&d);
        diags.extend(
            d.into_iter()
                .filter(|d| d.code != "brick::eval::undeclared_reference"),
        );
        // The provider's own rules, for the values known offline (a bad duration, a name
        // the API would refuse), as the plan would report them, but without configuring it.
        if body_ok && r.mode == ResourceMode::Managed {
            for pd in check(r.provider_name(), &r.type_name, &value) {
                let span = pd
                    .attribute
                    .first()
                    .and_then(|a| r.body.attribute(a))
                    .map_or(r.decl_span, |a| a.expr.span);
                let mut d: Diagnostic = pd.into();
                let addr = format!("{}.{}", r.type_name, r.name);
                if !d.detail.contains(&addr) {
                    d.detail = format!("{addr}: {}", d.detail);
                }
                diags.push(d.at_opt(Some(span)));
            }
        }
    }
    for p in m.providers.values() {
        if let Some(ps) = schemas.get(&p.name) {
            let (_, d) = evaluate_body(&p.body, &ps.provider, &scope, env);
            diags.extend(
                d.into_iter()
                    .filter(|d| d.code != "brick::eval::undeclared_reference"),
            );
        }
    }
    // Locals and outputs: evaluation errors that do not depend on unknowns (unknown functions,
    // type errors of constants).
    for l in m.locals.values() {
        let _ = scope.local(&l.name);
    }
    for o in m.outputs.values() {
        let (_, d) = evaluate(&o.value, &scope, env);
        diags.extend(
            d.into_iter()
                .filter(|d| d.code != "brick::eval::undeclared_reference"),
        );
    }
    diags.extend(scope.take_diagnostics().into_iter().filter(|d| {
        d.code != "brick::eval::undeclared_reference" && d.code != "brick::eval::cycle"
    }));

    // Version constraint of the settings block.
    required_version(m, diags);

    // 3. Cycles.
    cycles(m, diags);

    // 4. moved / removed / import.
    addresses(m, diags);

    for call in m.module_calls.values() {
        if let Some(child) = &call.module {
            validate_module(child, schemas, check, env, diags);
        }
    }
}

/// Whether this brick satisfies the `required_version` of `m`'s settings block.
fn required_version(m: &Module, diags: &mut Vec<Diagnostic>) {
    if let Some(st) = &m.settings
        && let Some(req) = &st.required_version
    {
        let span = st
            .body
            .attribute("required_version")
            .map(|a| a.expr.span)
            .unwrap_or(st.span);
        match version_satisfies(env!("CARGO_PKG_VERSION"), req) {
                Ok(true) => {}
                Ok(false) => diags.push(
                    err(
                        "unsupported_version",
                        "Unsupported brick version",
                        format!(
                            "This configuration requires brick {req}, but this is brick {}.",
                            env!("CARGO_PKG_VERSION")
                        ),
                        span,
                    )
                    .help("Use a brick version that satisfies the constraint, or change required_version."),
                ),
                Err(m) => diags.push(err(
                    "invalid_version_constraint",
                    "Invalid version constraint",
                    format!("The required_version \"{req}\" is not a valid constraint: {m}."),
                    span,
                )),
            }
    }
}

/// The `required_version` problems of every module of `config` (`brick init` checks them
/// first, as `terraform init` does).
pub fn version_problems(config: &Config) -> Vec<Diagnostic> {
    fn walk(m: &Module, diags: &mut Vec<Diagnostic>) {
        required_version(m, diags);
        for call in m.module_calls.values() {
            if let Some(child) = &call.module {
                walk(child, diags);
            }
        }
    }
    let mut diags = Vec::new();
    walk(&config.root, &mut diags);
    diags
}

fn module_output_refs(m: &Module) -> Vec<(String, Span, String)> {
    let mut out = Vec::new();
    let mut visit = |e: &Expr| {
        e.walk(&mut |x| {
            if let crate::config::ExprKind::Traversal(root, steps) = &x.kind
                && let crate::config::ExprKind::Variable(n) = &root.kind
                && n == "module"
            {
                let mut it = steps.iter();
                if let Some(crate::config::Step::Attr(name, _)) = it.next() {
                    // Skip an instance key.
                    let mut next = it.next();
                    if let Some(crate::config::Step::Index(_)) = next {
                        next = it.next();
                    }
                    if let Some(crate::config::Step::Attr(o, s)) = next {
                        out.push((name.clone(), *s, o.clone()));
                    }
                }
            }
        })
    };
    for l in m.locals.values() {
        visit(&l.expr);
    }
    for o in m.outputs.values() {
        visit(&o.value);
    }
    for r in m.resources.values() {
        for a in &r.body.attributes {
            visit(&a.expr);
        }
    }
    out
}

/// Node names for the reference graph: `local.x`, `brick_data.x`, `data.t.n`, `module.m`,
/// `output.o`, `var.v`.
fn cycles(m: &Module, diags: &mut Vec<Diagnostic>) {
    // Looked up by name once per reference: hashed, not searched (100,000 resources made
    // a sorted map's string comparisons half of this check).
    let mut graph = petgraph::graph::DiGraph::<String, ()>::new();
    let mut index: std::collections::HashMap<String, petgraph::graph::NodeIndex> =
        std::collections::HashMap::with_capacity(m.resources.len() + m.locals.len());
    let mut spans: std::collections::HashMap<String, Span> =
        std::collections::HashMap::with_capacity(m.resources.len() + m.locals.len());
    let mut node = |g: &mut petgraph::graph::DiGraph<String, ()>, name: String| {
        *index
            .entry(name.clone())
            .or_insert_with(|| g.add_node(name))
    };
    let mut edges: Vec<(String, Vec<Reference>)> = Vec::new();
    let refs_of = |exprs: &[&Expr]| -> Vec<Reference> {
        exprs
            .iter()
            .flat_map(|e| references(e).into_iter().map(|(r, _)| r))
            .collect()
    };
    fn body_exprs(b: &crate::config::Body) -> Vec<&Expr> {
        let mut out: Vec<&Expr> = b.attributes.iter().map(|a| &a.expr).collect();
        for blk in &b.blocks {
            out.extend(body_exprs(&blk.body));
        }
        out
    }
    for l in m.locals.values() {
        spans.insert(format!("local.{}", l.name), l.expr.span);
        edges.push((format!("local.{}", l.name), refs_of(&[&l.expr])));
    }
    for r in m.resources.values() {
        let mut ex = body_exprs(&r.body);
        ex.extend(r.count.iter());
        ex.extend(r.for_each.iter());
        ex.extend(r.depends_on.iter());
        ex.extend(r.lifecycle.replace_triggered_by.iter());
        for p in &r.lifecycle.preconditions {
            ex.push(&p.condition);
        }
        spans.insert(r.key(), r.decl_span);
        edges.push((r.key(), refs_of(&ex)));
    }
    for c in m.module_calls.values() {
        let mut ex: Vec<&Expr> = c.inputs.values().map(|a| &a.expr).collect();
        ex.extend(c.count.iter());
        ex.extend(c.for_each.iter());
        ex.extend(c.depends_on.iter());
        spans.insert(format!("module.{}", c.name), c.decl_span);
        edges.push((format!("module.{}", c.name), refs_of(&ex)));
    }
    for p in m.providers.values() {
        let key = format!("provider.{}", p.name);
        spans.insert(key.clone(), p.span);
        edges.push((key, refs_of(&body_exprs(&p.body))));
    }
    // Resources depend on their provider configuration.
    for r in m.resources.values() {
        let pk = format!("provider.{}", r.provider_name());
        if m.providers.values().any(|p| p.name == r.provider_name()) {
            let from = node(&mut graph, r.key());
            let to = node(&mut graph, pk);
            graph.add_edge(from, to, ());
        }
    }
    for (from, refs) in edges {
        let f = node(&mut graph, from);
        for r in refs {
            let to = match r {
                Reference::Local(n) => format!("local.{n}"),
                Reference::Resource { type_name, name } => format!("{type_name}.{name}"),
                Reference::Data { type_name, name } => format!("data.{type_name}.{name}"),
                Reference::Module(n) => format!("module.{n}"),
                _ => continue,
            };
            if !spans.contains_key(&to) {
                continue; // undeclared: reported elsewhere
            }
            let t = node(&mut graph, to);
            graph.add_edge(f, t, ());
        }
    }
    let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
    for scc in petgraph::algo::tarjan_scc(&graph) {
        let self_loop = scc.len() == 1 && graph.contains_edge(scc[0], scc[0]);
        if scc.len() < 2 && !self_loop {
            continue;
        }
        // Order the cycle by following edges inside the component from its smallest name.
        let members: BTreeSet<_> = scc.iter().copied().collect();
        let start = *scc
            .iter()
            .min_by_key(|n| graph[**n].clone())
            .unwrap_or(&scc[0]);
        let mut path = vec![start];
        let mut cur = start;
        while path.len() <= scc.len() {
            let mut nexts: Vec<_> = graph
                .neighbors(cur)
                .filter(|n| members.contains(n))
                .collect();
            nexts.sort_by_key(|n| graph[*n].clone());
            let next = nexts
                .iter()
                .find(|n| !path.contains(n))
                .or(nexts.first())
                .copied();
            match next {
                Some(n) if n == start => break,
                Some(n) if path.contains(&n) => break,
                Some(n) => {
                    path.push(n);
                    cur = n;
                }
                None => break,
            }
        }
        let names: Vec<String> = path.iter().map(|n| graph[*n].clone()).collect();
        // A module call is one node here, which over-approximates: whether a cycle really
        // passes through a module depends on which outputs use which inputs. Those cycles
        // are found on the planner's graph instead (see `module_cycles`).
        if names.iter().any(|n| n.starts_with("module.")) {
            continue;
        }
        if !reported.insert(names.clone()) {
            continue;
        }
        let mut shown = names.clone();
        shown.push(names[0].clone());
        let span = spans.get(&names[0]).copied();
        diags.push(
            Diagnostic::error(
                "brick::config::cycle",
                "Cycle in references",
                format!("These objects refer to each other in a cycle: {}.", shown.join(" → ")),
            )
            .at_opt(span)
            .help("Break the cycle by removing one of the references, or moving a value into a variable or local that does not depend on the others."),
        );
    }
}

fn target_of(e: &Expr, diags: &mut Vec<Diagnostic>, what: &str) -> Option<Target> {
    let Some((root, steps)) = e.as_static_traversal() else {
        diags.push(err(
            "invalid_address",
            "Invalid address",
            format!("The \"{what}\" address must be a plain reference such as brick_data.x or module.net, not an expression."),
            e.span,
        ));
        return None;
    };
    match parse_target(&root, &steps) {
        Ok(t) => Some(t),
        Err(m) => {
            diags.push(err(
                "invalid_address",
                "Invalid address",
                format!("The \"{what}\" address is not valid: {m}."),
                e.span,
            ));
            None
        }
    }
}

fn addresses(m: &Module, diags: &mut Vec<Diagnostic>) {
    // The module a (keyed or keyless) module path names, followed through the module calls.
    let module_at = |path: &str| -> Option<&Module> {
        let mut at = m;
        for (name, _) in crate::addr::module_steps(path)? {
            at = at.module_calls.get(&name)?.module.as_deref()?;
        }
        Some(at)
    };
    let declared = |t: &Target| -> bool {
        match t {
            Target::Module(path) => module_at(path).is_some(),
            Target::Resource(r) => module_at(&r.module)
                .is_some_and(|c| c.resource(r.mode, &r.type_name, &r.name).is_some()),
            Target::Instance(i) => {
                let r = &i.resource;
                module_at(&r.module)
                    .is_some_and(|c| c.resource(r.mode, &r.type_name, &r.name).is_some())
            }
        }
    };
    for mv in &m.moved {
        let from = target_of(&mv.from, diags, "from");
        let to = target_of(&mv.to, diags, "to");
        let (Some(from), Some(to)) = (from, to) else {
            continue;
        };
        let is_data = |t: &Target| match t {
            Target::Resource(r) => r.mode == ResourceMode::Data,
            Target::Instance(i) => i.resource.mode == ResourceMode::Data,
            _ => false,
        };
        if is_data(&from) || is_data(&to) {
            diags.push(err(
                "invalid_moved",
                "Invalid \"moved\" address",
                "Data sources cannot be moved: brick reads them again on every plan.",
                mv.span,
            ));
            continue;
        }
        if from == to {
            diags.push(err(
                "invalid_moved",
                "Redundant move statement",
                format!("This statement declares a move from {from} to the same address."),
                mv.span,
            ));
            continue;
        }
        let kind = |t: &Target| matches!(t, Target::Module(_));
        if kind(&from) != kind(&to) {
            diags.push(err("invalid_moved", "Invalid \"moved\" addresses", format!("Cannot move {from} to {to}: a module can only move to a module, a resource only to a resource."), mv.span));
            continue;
        }
        if let (
            Target::Resource(a) | Target::Instance(crate::addr::InstanceAddr { resource: a, .. }),
            Target::Resource(b) | Target::Instance(crate::addr::InstanceAddr { resource: b, .. }),
        ) = (&from, &to)
            && a.type_name != b.type_name
        {
            diags.push(err("invalid_moved", "Resource type mismatch", format!("This statement declares a move from {from} to {to}, which is a resource of a different type."), mv.span));
            continue;
        }
        if declared(&from) && matches!(from, Target::Resource(_) | Target::Module(_)) {
            diags.push(err("invalid_moved", "Moved object still exists", format!("This statement declares a move from {from}, but that is still declared in the configuration."), mv.from.span).help("Remove the old block, or remove this moved block."));
        }
    }
    for rm in &m.removed {
        let Some(from) = target_of(&rm.from, diags, "from") else {
            continue;
        };
        if matches!(from, Target::Instance(_)) {
            diags.push(err(
                "invalid_removed",
                "Resource instance keys not allowed",
                "A removed block names a whole resource or module, without an instance key.",
                rm.from.span,
            ));
            continue;
        }
        if declared(&from) {
            diags.push(err("invalid_removed", "Removed object still exists", format!("This removed block refers to {from}, which is still declared in the configuration."), rm.from.span).help("Remove the resource block too, or remove this removed block."));
        }
    }
    for im in &m.imports {
        let Some(to) = target_of(&im.to, diags, "to") else {
            continue;
        };
        let ok = match &to {
            Target::Resource(r) => r.mode == ResourceMode::Managed,
            Target::Instance(i) => i.resource.mode == ResourceMode::Managed,
            Target::Module(_) => false,
        };
        if !ok {
            diags.push(err("invalid_import", "Invalid import address", "An import block imports into a managed resource: to = TYPE.NAME or TYPE.NAME[KEY].", im.to.span));
            continue;
        }
        if !declared(&to) {
            diags.push(
                err(
                    "invalid_import",
                    "Import block target does not exist",
                    format!("The import target {to} is not declared in the configuration."),
                    im.to.span,
                )
                .help("Add a resource block for it."),
            );
        }
        let (idv, d) = evaluate(
            &im.id,
            &crate::eval::EmptyScope,
            &NullEnvironment as &dyn Environment,
        );
        if d.is_empty() && idv.is_known() && idv.as_str().is_none_or(str::is_empty) {
            diags.push(err(
                "invalid_import",
                "Invalid import id argument",
                "The import id must be a non-empty string.",
                im.id.span,
            ));
        }
    }
}

/// Whether `version` satisfies a Terraform-style constraint list: `">= 1.2, < 2.0"`,
/// `"~> 0.1"` (pessimistic: the last given part may grow), `"= 0.1.0"`, `"!= 0.2"`.
pub fn version_satisfies(version: &str, constraint: &str) -> Result<bool, String> {
    fn parse(v: &str) -> Result<Vec<u64>, String> {
        let core = v.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next().unwrap_or("");
        core.split('.')
            .map(|p| {
                p.parse::<u64>()
                    .map_err(|_| format!("\"{v}\" is not a version number"))
            })
            .collect()
    }
    fn cmp(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
        let n = a.len().max(b.len());
        (0..n)
            .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    }
    let have = parse(version)?;
    let mut ok = true;
    for part in constraint.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err("an empty constraint".into());
        }
        let (op, rest) = ["~>", ">=", "<=", "!=", ">", "<", "="]
            .iter()
            .find_map(|op| part.strip_prefix(op).map(|r| (*op, r)))
            .unwrap_or(("=", part));
        let want = parse(rest)?;
        let o = cmp(&have, &want);
        ok &= match op {
            ">=" => o.is_ge(),
            "<=" => o.is_le(),
            ">" => o.is_gt(),
            "<" => o.is_lt(),
            "!=" => o.is_ne(),
            "=" => o.is_eq(),
            _ => {
                // ~> 1.2 means >= 1.2, < 2.0; ~> 1.2.3 means >= 1.2.3, < 1.3.0.
                let mut upper = want.clone();
                if upper.len() > 1 {
                    upper.pop();
                }
                if let Some(last) = upper.last_mut() {
                    *last += 1;
                }
                o.is_ge() && cmp(&have, &upper).is_lt()
            }
        };
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::version_satisfies;

    #[test]
    fn version_constraints_follow_terraform_syntax() {
        assert_eq!(version_satisfies("0.1.0", ">= 0.1"), Ok(true));
        assert_eq!(version_satisfies("0.1.0", ">= 0.1, < 0.2"), Ok(true));
        assert_eq!(version_satisfies("0.1.0", "> 0.1.0"), Ok(false));
        assert_eq!(version_satisfies("0.1.5", "~> 0.1.2"), Ok(true));
        assert_eq!(version_satisfies("0.2.0", "~> 0.1.2"), Ok(false));
        assert_eq!(version_satisfies("1.9.0", "~> 1.2"), Ok(true));
        assert_eq!(version_satisfies("2.0.0", "~> 1.2"), Ok(false));
        assert_eq!(version_satisfies("0.1.0", "0.1.0"), Ok(true));
        assert!(version_satisfies("0.1.0", ">= banana").is_err());
    }
}
