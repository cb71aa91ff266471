//! Builds the planner's [`Configuration`] from a loaded [`crate::config::Config`]: each
//! resource, local, output and provider block becomes an evaluation function over `eval`
//! plus the references it makes; meta-arguments (`count`, `for_each`, `depends_on`,
//! `lifecycle`, `timeouts`) and `moved` / `removed` / `import` blocks become plain data.

use std::collections::BTreeMap;
use std::sync::Arc;

use brick_provider_api::Value;
use sha2::Digest;

use super::address::{InstanceKey, ResourceAddr, Target};
use crate::config::{Body, Config, Expr, SourceFile, StaticStep};
use crate::diag::Diagnostic;
use crate::eval::{self, Environment, Reference};
use crate::input::*;
#[allow(unused_imports)]
use crate::input::{ModuleCallConfig, ModuleVariable, VariableValidation};

/// Every reference made anywhere in a body (attributes and nested blocks; iterators of
/// `dynamic` blocks excluded).
pub fn body_references(body: &Body, out: &mut Vec<Reference>) {
    out.extend(eval::body_references(body).into_iter().map(|(r, _)| r));
}

fn expr_refs(e: &Expr) -> Vec<Reference> {
    eval::references(e).into_iter().map(|(r, _)| r).collect()
}

/// Whether an expression calls a function anywhere inside.
fn calls_function(e: &Expr) -> bool {
    use crate::config::expr::{ExprKind as K, Step, TemplatePart as T};
    fn parts(ps: &[T]) -> bool {
        ps.iter().any(|p| match p {
            T::Literal(_) => false,
            T::Interpolation(e) => calls_function(e),
            T::If {
                cond,
                then,
                otherwise,
            } => calls_function(cond) || parts(then) || parts(otherwise),
            T::For {
                collection, body, ..
            } => calls_function(collection) || parts(body),
        })
    }
    match &e.kind {
        K::Call { .. } => true,
        K::Literal(_) | K::Variable(_) | K::SplatItem => false,
        K::Template(ps) => parts(ps),
        K::Tuple(xs) => xs.iter().any(calls_function),
        K::Object(kvs) => kvs
            .iter()
            .any(|(k, v)| calls_function(k) || calls_function(v)),
        K::Traversal(x, steps) => {
            calls_function(x)
                || steps
                    .iter()
                    .any(|s| matches!(s, Step::Index(i) if calls_function(i)))
        }
        K::Splat { source, each } => calls_function(source) || calls_function(each),
        K::Unary(_, x) | K::Paren(x) => calls_function(x),
        K::Binary(_, a, b) => calls_function(a) || calls_function(b),
        K::Conditional(a, b, c) => calls_function(a) || calls_function(b) || calls_function(c),
        K::For(f) => {
            calls_function(&f.collection)
                || f.key.as_ref().is_some_and(calls_function)
                || calls_function(&f.value)
                || f.cond.as_ref().is_some_and(calls_function)
        }
    }
}

/// What describing expressions needs: the environment (for constants) and the source text
/// (for the traversals references are written as).
struct Describe<'a> {
    env: &'a dyn Environment,
    files: &'a [SourceFile],
}

impl Describe<'_> {
    /// Terraform's `references` for one expression: each traversal as written
    /// (`brick_data.x.id`) followed by the object it starts from (`brick_data.x`).
    fn references(&self, e: &Expr) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (r, span) in eval::references(e) {
            let base = eval::reference_text(&r);
            let written = self
                .files
                .get(span.file)
                .and_then(|f| f.text.get(span.start..span.end))
                .filter(|t| {
                    t.starts_with(base.as_str())
                        && t.chars()
                            .all(|c| c.is_alphanumeric() || "_-.[]\"".contains(c))
                });
            // As Terraform: the whole traversal, then each shorter prefix down to the object
            // it starts from (`brick_data.a.output.x`, `brick_data.a.output`, `brick_data.a`).
            let steps = written
                .map(|w| traversal_steps(&w[base.len()..]))
                .unwrap_or_default();
            // Terraform lists every reference this way, repeats included.
            for n in (0..=steps.len()).rev() {
                out.push(format!("{base}{}", steps[..n].concat()));
            }
        }
        out
    }

    /// An expression in Terraform's JSON configuration form: `{"constant_value": …}` when
    /// it references nothing and evaluates alone, else `{"references": […]}`.
    fn expression(&self, e: &Expr) -> serde_json::Value {
        let refs = self.references(e);
        let mut o = serde_json::Map::new();
        // Terraform evaluates the expression without a context: a function call fails there,
        // so an expression that calls one has no constant value.
        if refs.is_empty() && !calls_function(e) {
            let (v, d) = eval::evaluate(e, &eval::EmptyScope, self.env);
            if !crate::diag::has_errors(&d) && v.is_wholly_known() {
                o.insert(
                    "constant_value".into(),
                    super::codec::to_json(&v.unmark_deep().0),
                );
            }
        } else if !refs.is_empty() {
            o.insert("references".into(), refs.into());
        }
        serde_json::Value::Object(o)
    }

    /// A body's expressions: attributes by name, nested blocks as lists of bodies.
    fn body(&self, body: &Body) -> serde_json::Value {
        let mut o = serde_json::Map::new();
        for a in &body.attributes {
            o.insert(a.name.clone(), self.expression(&a.expr));
        }
        for b in &body.blocks {
            let entry = o
                .entry(b.kind.clone())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let serde_json::Value::Array(xs) = entry {
                xs.push(self.body(&b.body));
            }
        }
        serde_json::Value::Object(o)
    }
}

/// The steps of a written traversal after its root: `.output["k"][0]` → `.output`, `["k"]`,
/// `[0]`. Anything it cannot split cleanly gives no steps.
pub(crate) fn traversal_steps(rest: &str) -> Vec<&str> {
    let mut steps = Vec::new();
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        match b[i] {
            b'.' => {
                i += 1;
                while i < b.len() && b[i] != b'.' && b[i] != b'[' {
                    i += 1;
                }
            }
            b'[' => {
                let mut quoted = false;
                i += 1;
                while i < b.len() && (quoted || b[i] != b']') {
                    if b[i] == b'"' {
                        quoted = !quoted;
                    }
                    i += 1;
                }
                if i == b.len() {
                    return Vec::new();
                }
                i += 1;
            }
            _ => return Vec::new(),
        }
        steps.push(&rest[start..i]);
    }
    steps
}

fn dedup(mut v: Vec<Reference>) -> Vec<Reference> {
    v.sort();
    v.dedup();
    v
}

/// A static traversal (`brick_data.x`, `brick_data.x[0]`, `module.m.brick_data.x`) as a
/// target address.
pub fn target_of(e: &Expr) -> Option<Target> {
    let (root, steps) = e.as_static_traversal()?;
    let text = crate::addr::traversal_text(&root, &steps).ok()?;
    // `brick_data.x.output` in replace_triggered_by names an attribute: drop trailing
    // attribute steps until what is left is an address.
    let mut cur = text.as_str();
    loop {
        if let Ok(t) = cur.parse() {
            return Some(t);
        }
        let (head, _) = cur.rsplit_once('.')?;
        cur = head;
    }
}

/// Builds the planner's input. `variables` are the resolved root input variables.
pub fn from_config(
    config: &Config,
    variables: BTreeMap<String, Value>,
    env: Arc<dyn Environment>,
) -> (Configuration, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut out = Configuration {
        variables,
        hash: config_hash(config),
        ..Default::default()
    };
    let describe = Describe {
        env: &*env,
        files: &config.files,
    };
    // The root resources' descriptions are made when asked, from these (the texts are
    // shared, not copied).
    let files: Arc<[SourceFile]> = config.files.iter().cloned().collect();
    let root_dir = config.root.dir.clone();
    let mut b = Builder {
        out: &mut out,
        diags: &mut diags,
        describe: &describe,
        files: &files,
        env: &env,
        root_dir: &root_dir,
        expanded_call: None,
    };
    let root_json = b.module(&config.root, &[], &BTreeMap::new());
    if let serde_json::Value::Object(mut o) = root_json
        && let Some(serde_json::Value::Object(calls)) = o.remove("module_calls")
    {
        out.described.module_calls = calls;
    }
    (out, diags)
}

/// Walks the module tree, adding each module's objects to the flat [`Configuration`].
struct Builder<'a, 'b> {
    out: &'a mut Configuration,
    diags: &'a mut Vec<Diagnostic>,
    describe: &'a Describe<'b>,
    /// The files, shared with the root resources' descriptions.
    files: &'a Arc<[SourceFile]>,
    env: &'a Arc<dyn Environment>,
    root_dir: &'a std::path::Path,
    /// The nearest enclosing module call with `count`, `for_each` or `depends_on` (its
    /// name and span): a module below it may not configure providers.
    expanded_call: Option<(String, crate::config::Span)>,
}

/// An expression as planning evaluates it: its value, or its error diagnostics.
fn eval_fn(expr: Expr, env: Arc<dyn Environment>) -> EvalFn {
    Arc::new(move |scope, _| {
        let (v, d) = eval::evaluate(&expr, scope, &*env);
        if crate::diag::has_errors(&d) {
            Err(d)
        } else {
            Ok(v)
        }
    })
}

/// A root module output not declared `sensitive`: as Terraform, an error when its value
/// contains sensitive values (a child module's outputs only carry the marks on).
fn root_output_fn(
    expr: Expr,
    name: String,
    span: crate::config::Span,
    env: Arc<dyn Environment>,
) -> EvalFn {
    Arc::new(move |scope, _| {
        let (v, d) = eval::evaluate(&expr, scope, &*env);
        if crate::diag::has_errors(&d) {
            return Err(d);
        }
        if v.contains_sensitive() {
            return Err(vec![
                Diagnostic::error(
                    "brick::plan::output_sensitive",
                    "Output refers to sensitive values",
                    format!(
                        "To reduce the risk of accidentally exporting sensitive data that was intended to be only internal, brick requires that any root module output containing sensitive data be explicitly marked as sensitive, to confirm your intent. The value of output \"{name}\" contains sensitive values."
                    ),
                )
                .at(span)
                .help("If you do intend to export this data, annotate the output value as sensitive by adding `sensitive = true` to the output block."),
            ]);
        }
        Ok(v)
    })
}

/// Which custom condition a [`Condition`] checks (it decides the diagnostic's wording).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionKind {
    ResourcePre,
    ResourcePost,
    OutputPre,
}

/// A `precondition` / `postcondition` block as a [`Condition`]: its references (without
/// `self`) and the check.
fn condition(
    kind: ConditionKind,
    check: &crate::config::Check,
    env: Arc<dyn Environment>,
) -> Condition {
    let mut references = expr_refs(&check.condition);
    references.extend(expr_refs(&check.error_message));
    references.retain(|r| *r != Reference::SelfObject);
    let check = check.clone();
    Condition {
        references: dedup(references),
        check: Arc::new(move |scope| check_condition(kind, &check, scope, &*env)),
    }
}

/// Evaluates one custom condition, as Terraform: `None` while the condition is unknown;
/// else its diagnostics — an error when it is false (with the evaluated `error_message`)
/// or is not a bool.
/// What a false condition read, as Terraform lists it under the source line: `var.n is 0`,
/// `self.output is "x"`, `var.tags is map with 2 elements`, `var.pw has a sensitive value`.
fn condition_values(
    condition: &Expr,
    scope: &dyn crate::eval::Scope,
    env: &dyn Environment,
) -> Vec<String> {
    use crate::config::{ExprKind, Step};
    use brick_provider_api::value::Kind;
    fn text(e: &Expr) -> Option<String> {
        let ExprKind::Traversal(root, steps) = &e.kind else {
            return None;
        };
        let ExprKind::Variable(name) = &root.kind else {
            return None;
        };
        let mut t = name.clone();
        for s in steps {
            match s {
                Step::Attr(a, _) => {
                    t.push('.');
                    t.push_str(a);
                }
                Step::Index(i) => match &i.kind {
                    ExprKind::Literal(v) => {
                        t.push('[');
                        t.push_str(&eval::value_to_display(v));
                        t.push(']');
                    }
                    _ => return None,
                },
            }
        }
        Some(t)
    }
    let mut out: Vec<String> = Vec::new();
    condition.walk(&mut |e| {
        let Some(t) = text(e) else { return };
        let (v, d) = eval::evaluate(e, scope, env);
        if crate::diag::has_errors(&d) || !v.is_wholly_known() {
            return;
        }
        let line = if v.contains_sensitive() {
            format!("{t} has a sensitive value")
        } else {
            match &v.kind {
                Kind::Null(_) => format!("{t} is null"),
                Kind::List(_, items) => format!("{t} is list with {} elements", items.len()),
                Kind::Set(_, items) => format!("{t} is set with {} elements", items.len()),
                Kind::Tuple(items) => format!("{t} is tuple with {} elements", items.len()),
                Kind::Map(_, m) => format!("{t} is map with {} elements", m.len()),
                Kind::Object(m) => format!("{t} is object with {} attributes", m.len()),
                _ => format!("{t} is {}", eval::value_to_display(&v)),
            }
        };
        if !out.contains(&line) {
            out.push(line);
        }
    });
    out
}

pub fn check_condition(
    kind: ConditionKind,
    check: &crate::config::Check,
    scope: &dyn crate::eval::Scope,
    env: &dyn Environment,
) -> Option<Vec<Diagnostic>> {
    let (c, mut diags) = eval::evaluate(&check.condition, scope, env);
    if crate::diag::has_errors(&diags) {
        return Some(diags);
    }
    if !c.is_wholly_known() {
        return None;
    }
    let (code, summary) = match kind {
        ConditionKind::ResourcePre => (
            "brick::plan::precondition_failed",
            "Resource precondition failed",
        ),
        ConditionKind::ResourcePost => (
            "brick::plan::postcondition_failed",
            "Resource postcondition failed",
        ),
        ConditionKind::OutputPre => (
            "brick::plan::output_precondition_failed",
            "Module output value precondition failed",
        ),
    };
    match (c.is_null(), c.as_bool()) {
        (false, Some(true)) => {}
        (false, Some(false)) => {
            let (m, md) = eval::evaluate(&check.error_message, scope, env);
            let msg = if crate::diag::has_errors(&md) {
                diags.extend(md);
                "The error message could not be evaluated.".to_string()
            } else if m.is_sensitive() {
                "The error message included a sensitive value, so it will not be displayed."
                    .to_string()
            } else if !m.is_wholly_known() {
                "The error message is not yet known.".to_string()
            } else {
                m.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| "The condition is false.".to_string())
            };
            // As Terraform, the values the condition read, below the message.
            let values = condition_values(&check.condition, scope, env);
            let msg = if values.is_empty() {
                msg
            } else {
                format!("{msg}\n\n  {}", values.join("\n  "))
            };
            diags.push(
                Diagnostic::error(code, summary, msg)
                    .at(check.condition.span)
                    .label("this condition is false")
                    .help(match kind {
                        ConditionKind::ResourcePre => "Fix what the precondition reads, or the condition itself.",
                        ConditionKind::ResourcePost => "The object does not meet the postcondition: fix its configuration, or the condition.",
                        ConditionKind::OutputPre => "Fix what the output value's precondition reads, or the condition itself.",
                    }),
            );
        }
        (true, _) => diags.push(
            Diagnostic::error(
                "brick::plan::invalid_condition",
                "Invalid condition result",
                "Condition expression must return either true or false, not null.",
            )
            .at(check.condition.span),
        ),
        (false, None) => diags.push(
            Diagnostic::error(
                "brick::plan::invalid_condition",
                "Invalid condition result",
                format!(
                    "Invalid condition result value: a bool is required, but the condition is {}.",
                    c.ty()
                ),
            )
            .at(check.condition.span),
        ),
    }
    Some(diags)
}

impl Builder<'_, '_> {
    /// Adds the `validation` blocks of variable `v` of the module at `path` that are checked
    /// in the module's scope: every one in a child module, those reading more than input
    /// variables in the root. `at` is the call's argument that gives the value.
    fn validations(
        &mut self,
        v: &crate::config::Variable,
        path: &[String],
        at: Option<crate::config::Span>,
    ) {
        for check in &v.validations {
            if path.is_empty() && eval::reads_only_variables(check) {
                continue;
            }
            let mut references = vec![Reference::Variable(v.name.clone())];
            references.extend(expr_refs(&check.condition));
            references.extend(expr_refs(&check.error_message));
            let name = v.name.clone();
            let call = path.last().cloned();
            let check = check.clone();
            let env = self.env.clone();
            self.out.validations.push(VariableValidation {
                module: path.to_vec(),
                name: v.name.clone(),
                references: dedup(references),
                check: Arc::new(move |scope| {
                    eval::check_validation(&name, call.as_deref(), at, &check, scope, &*env)
                }),
            });
        }
    }

    /// Records which module outputs the object `node` reads.
    fn uses(&mut self, node: String, uses: Vec<(String, Option<String>)>) {
        if !uses.is_empty() {
            self.out
                .module_output_uses
                .entry(node)
                .or_default()
                .extend(uses);
        }
    }

    /// Adds module `m` at `path`; `providers` maps the module's provider keys to the root's
    /// (empty at the root, where every key is its own). Returns the module's description
    /// in the shape of Terraform's JSON configuration (used for child modules).
    fn module(
        &mut self,
        m: &crate::config::Module,
        path: &[String],
        providers: &BTreeMap<String, String>,
    ) -> serde_json::Value {
        let mut providers = providers.clone();
        let providers = &mut providers;
        let env = self.env.clone();
        let is_root = path.is_empty();
        let module_str = path
            .iter()
            .map(|n| format!("module.{n}"))
            .collect::<Vec<_>>()
            .join(".");
        let mut described_vars = serde_json::Map::new();
        for v in m.variables.values() {
            let mut d = serde_json::Map::new();
            // A sensitive variable's default is its secret: leave it out rather than publish it.
            if let Some(def) = &v.default
                && !v.sensitive
                && let Some(c) = self.describe.expression(def).get("constant_value")
            {
                d.insert("default".into(), c.clone());
            }
            if let Some(desc) = &v.description {
                d.insert("description".into(), serde_json::json!(desc));
            }
            if v.sensitive {
                d.insert("sensitive".into(), serde_json::json!(true));
            }
            if !v.nullable {
                d.insert("nullable".into(), serde_json::json!(false));
            }
            described_vars.insert(v.name.clone(), serde_json::Value::Object(d));
        }
        if is_root {
            self.out.described.variables = described_vars.clone();
        }
        // A root variable's `validation` blocks that read more than input variables are
        // checked in the module's scope (`resolve_variables` checks the others); a child
        // module's are added with its call (see `call`).
        if is_root {
            for v in m.variables.values() {
                self.validations(v, path, None);
            }
        }
        for l in m.locals.values() {
            self.uses(
                node_name(&module_str, &format!("local.{}", l.name)),
                eval::module_output_uses(&l.expr),
            );
            if is_root {
                self.out
                    .described
                    .locals
                    .insert(l.name.clone(), self.describe.references(&l.expr));
            }
            self.out.locals.push(NamedExpr {
                module: path.to_vec(),
                name: l.name.clone(),
                references: dedup(expr_refs(&l.expr)),
                expr: eval_fn(l.expr.clone(), env.clone()),
            });
        }
        let mut described_outputs = serde_json::Map::new();
        for o in m.outputs.values() {
            let mut uses = eval::module_output_uses(&o.value);
            for d in &o.depends_on {
                uses.extend(eval::module_output_uses(d));
            }
            self.uses(node_name(&module_str, &format!("output.{}", o.name)), uses);
            let mut refs = expr_refs(&o.value);
            for d in &o.depends_on {
                refs.extend(expr_refs(d));
            }
            let preconditions: Vec<Condition> = o
                .preconditions
                .iter()
                .map(|c| condition(ConditionKind::OutputPre, c, env.clone()))
                .collect();
            for c in &preconditions {
                refs.extend(c.references.iter().cloned());
            }
            let expr = self.describe.expression(&o.value);
            let mut od = serde_json::Map::new();
            od.insert("expression".into(), expr.clone());
            if o.sensitive {
                od.insert("sensitive".into(), serde_json::json!(true));
            }
            if let Some(desc) = &o.description {
                od.insert("description".into(), serde_json::json!(desc));
            }
            described_outputs.insert(o.name.clone(), serde_json::Value::Object(od));
            if is_root {
                self.out.described.outputs.insert(o.name.clone(), expr);
            }
            self.out.outputs.push(OutputConfig {
                module: path.to_vec(),
                name: o.name.clone(),
                references: dedup(refs),
                sensitive: o.sensitive,
                expr: if is_root && !o.sensitive {
                    root_output_fn(o.value.clone(), o.name.clone(), o.span, env.clone())
                } else {
                    eval_fn(o.value.clone(), env.clone())
                },
                at_apply: (is_root && !o.sensitive).then(|| eval_fn(o.value.clone(), env.clone())),
                preconditions,
            });
        }
        for (key, p) in &m.providers {
            // A child module's own provider configuration (Terraform's legacy form): only
            // in modules called without count, for_each and depends_on.
            if !is_root && let Some((call, call_span)) = &self.expanded_call {
                self.diags.push(
                    Diagnostic::error(
                        "brick::plan::module_provider_block",
                        "Module is incompatible with count, for_each, and depends_on",
                        format!(
                            "The module at {module_str} is a legacy module which contains its own local provider configuration (\"{key}\"), and so the call of module \"{call}\" may not use the count, for_each, or depends_on arguments."
                        ),
                    )
                    .at(*call_span)
                    .help("Move the provider block to the root module and pass it with `providers = { NAME = NAME }` in the module call, or remove count, for_each and depends_on."),
                );
                continue;
            }
            let name = if is_root {
                key.clone()
            } else {
                let name = format!("{module_str}.{key}");
                providers.insert(key.clone(), name.clone());
                name
            };
            let mut refs = Vec::new();
            body_references(&p.body, &mut refs);
            self.uses(
                format!("provider[\"{name}\"]"),
                eval::body_module_output_uses(&p.body),
            );
            self.out.providers.push(ProviderConfig {
                name,
                type_name: p.name.clone(),
                references: dedup(refs),
                body: {
                    let body = p.body.clone();
                    let env = env.clone();
                    Arc::new(move |scope, block| {
                        let (v, d) = eval::evaluate_body(&body, block, scope, &*env);
                        if crate::diag::has_errors(&d) {
                            Err(d)
                        } else {
                            Ok(v)
                        }
                    })
                },
            });
        }
        let mut described_resources = Vec::new();
        // Grown once: a resource's configuration is large, and doubling left up to half of
        // the vector unused (60 MiB at 100,000 resources).
        self.out.resources.reserve(m.resources.len());
        for r in m.resources.values() {
            let addr = ResourceAddr {
                module: module_str.clone(),
                mode: r.mode,
                type_name: r.type_name.clone(),
                name: r.name.clone(),
            };
            let local_key = r.provider_ref().key();
            let provider = match resolve_provider(providers, &local_key, is_root) {
                Some(p) => p,
                None => {
                    self.diags.push(
                        Diagnostic::error(
                            "brick::plan::provider_not_passed",
                            "Provider configuration not passed",
                            format!(
                                "{addr} uses the provider configuration \"{local_key}\", which the call of {module_str} does not pass."
                            ),
                        )
                        .at(r.decl_span)
                        .help(format!("Pass it in the module call: `providers = {{ {local_key} = … }}`.")),
                    );
                    local_key.clone()
                }
            };
            let mut uses = eval::body_module_output_uses(&r.body);
            for e in r.count.iter().chain(&r.for_each).chain(&r.depends_on) {
                uses.extend(eval::module_output_uses(e));
            }
            self.uses(addr.to_string(), uses);
            let (rc, described) = self.resource(r, addr, provider);
            if is_root {
                self.out
                    .described
                    .resources
                    .insert(rc.addr.to_string(), described);
            } else {
                described_resources.push((rc.addr.clone(), described.make()));
            }
            self.out.resources.push(rc);
        }
        self.moves(m, &module_str);
        let mut calls_json = serde_json::Map::new();
        for call in m.module_calls.values() {
            calls_json.insert(call.name.clone(), self.call(call, path, providers));
        }
        let mut o = serde_json::Map::new();
        if !is_root {
            let resources: Vec<serde_json::Value> = described_resources
                .into_iter()
                .map(|(addr, d)| {
                    let rc = self.out.resources.iter().find(|r| r.addr == addr);
                    let mut j = serde_json::Map::new();
                    // Addresses inside a module's configuration are relative to it.
                    j.insert(
                        "address".into(),
                        serde_json::json!(addr.in_module("").to_string()),
                    );
                    j.insert(
                        "mode".into(),
                        serde_json::json!(match addr.mode {
                            crate::config::ResourceMode::Managed => "managed",
                            crate::config::ResourceMode::Data => "data",
                        }),
                    );
                    j.insert("type".into(), serde_json::json!(addr.type_name));
                    j.insert("name".into(), serde_json::json!(addr.name));
                    if let Some(rc) = rc {
                        let (key, _) = crate::input::terraform_provider_key(
                            &self.out.resources,
                            &self.out.providers,
                            rc,
                        );
                        j.insert("provider_config_key".into(), serde_json::json!(key));
                    }
                    for (k, v) in d {
                        j.insert(k, v);
                    }
                    j.insert("schema_version".into(), serde_json::json!(0));
                    serde_json::Value::Object(j)
                })
                .collect();
            o.insert("resources".into(), resources.into());
            o.insert("outputs".into(), described_outputs.into());
            if !described_vars.is_empty() {
                o.insert("variables".into(), described_vars.into());
            }
        }
        if !calls_json.is_empty() {
            o.insert("module_calls".into(), calls_json.into());
        }
        serde_json::Value::Object(o)
    }

    /// A module call: its expansion, its child's input variables, then the child itself.
    fn call(
        &mut self,
        call: &crate::config::ModuleCall,
        path: &[String],
        providers: &BTreeMap<String, String>,
    ) -> serde_json::Value {
        let env = self.env.clone();
        let mut child_path = path.to_vec();
        child_path.push(call.name.clone());
        let mut described = serde_json::Map::new();
        described.insert("source".into(), serde_json::json!(call.source));
        let mut refs = Vec::new();
        if call.count.is_some() && call.for_each.is_some() {
            self.diags.push(
                Diagnostic::error(
                    "brick::config::count_and_for_each",
                    "Invalid combination of \"count\" and \"for_each\"",
                    format!(
                        "The module call \"{}\" sets both count and for_each; only one of them may be set.",
                        call.name
                    ),
                )
                .at(call.decl_span)
                .help("Use count for a number of identical instances, for_each for one instance per key."),
            );
        }
        let expansion = match (&call.count, &call.for_each) {
            (Some(c), _) => {
                refs.extend(expr_refs(c));
                let e = self.describe.expression(c);
                if e.as_object().is_some_and(|m| !m.is_empty()) {
                    described.insert("count_expression".into(), e);
                }
                Expansion::Count(eval_fn(c.clone(), env.clone()), Some(c.span))
            }
            (None, Some(f)) => {
                refs.extend(expr_refs(f));
                let e = self.describe.expression(f);
                if e.as_object().is_some_and(|m| !m.is_empty()) {
                    described.insert("for_each_expression".into(), e);
                }
                Expansion::ForEach(eval_fn(f.clone(), env.clone()), Some(f.span))
            }
            _ => Expansion::Single,
        };
        let depends_on: Vec<Reference> = call.depends_on.iter().flat_map(expr_refs).collect();
        let caller = path
            .iter()
            .map(|n| format!("module.{n}"))
            .collect::<Vec<_>>()
            .join(".");
        let mut uses = Vec::new();
        for e in call
            .count
            .iter()
            .chain(&call.for_each)
            .chain(&call.depends_on)
        {
            uses.extend(eval::module_output_uses(e));
        }
        self.uses(node_name(&caller, &format!("module.{}", call.name)), uses);
        if !depends_on.is_empty() {
            described.insert(
                "depends_on".into(),
                dedup(depends_on.clone())
                    .iter()
                    .map(eval::reference_text)
                    .collect(),
            );
        }
        let mut expressions = serde_json::Map::new();
        for (name, a) in &call.inputs {
            expressions.insert(name.clone(), self.describe.expression(&a.expr));
        }
        described.insert("expressions".into(), expressions.into());
        self.out.module_calls.push(ModuleCallConfig {
            module: path.to_vec(),
            name: call.name.clone(),
            source: call.source.clone(),
            expansion,
            references: dedup(refs),
            depends_on: dedup(depends_on),
        });
        let Some(child) = call.module.as_deref() else {
            return serde_json::Value::Object(described);
        };
        let dir = child
            .dir
            .strip_prefix(self.root_dir)
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|_| child.dir.clone());
        let dir = dir.display().to_string();
        self.out.module_dirs.insert(
            child_path.clone(),
            if dir.is_empty() { ".".into() } else { dir },
        );
        // Arguments the child does not declare, and required ones not given.
        for (name, a) in &call.inputs {
            if !child.variables.contains_key(name) {
                let help =
                    crate::diag::did_you_mean(name, child.variables.keys().map(String::as_str))
                        .map(|s| format!("Did you mean `{s}`?"));
                self.diags.push(
                    Diagnostic::error(
                        "brick::config::unsupported_argument",
                        "Unsupported argument",
                        format!(
                            "An argument named \"{name}\" is not expected here: the module \"{}\" ({}) has no input variable of that name.",
                            call.name, call.source
                        ),
                    )
                    .at(a.name_span)
                    .help_opt(help),
                );
            }
        }
        for (vn, v) in &child.variables {
            let arg = call.inputs.get(vn);
            if arg.is_none() && v.default.is_none() {
                self.diags.push(
                    Diagnostic::error(
                        "brick::config::missing_argument",
                        "Missing required argument",
                        format!(
                            "The argument \"{vn}\" is required by the module \"{}\" ({}), but no definition was found.",
                            call.name, call.source
                        ),
                    )
                    .at(call.decl_span)
                    .help(format!("Add `{vn} = …` to the module \"{}\" block.", call.name)),
                );
                continue;
            }
            let references = arg.map(|a| dedup(expr_refs(&a.expr))).unwrap_or_default();
            if let Some(a) = arg {
                self.uses(
                    node_name(
                        &node_name(&caller, &format!("module.{}", call.name)),
                        &format!("var.{vn}"),
                    ),
                    eval::module_output_uses(&a.expr),
                );
            }
            self.out.module_variables.push(ModuleVariable {
                module: child_path.clone(),
                name: vn.clone(),
                value: module_input_fn(
                    v.clone(),
                    arg.map(|a| a.expr.clone()),
                    call.name.clone(),
                    env.clone(),
                ),
                references,
            });
        }
        for v in child.variables.values() {
            let at = call.inputs.get(&v.name).map(|a| a.expr.span);
            self.validations(v, &child_path, at);
        }
        // The child's provider configurations: what the call passes, else (for default,
        // unaliased ones) what the caller has.
        let mut child_providers: BTreeMap<String, String> = providers
            .iter()
            .filter(|(k, _)| !k.contains('.'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (child_key, parent) in &call.providers {
            let pk = parent.key();
            match resolve_provider(providers, &pk, path.is_empty()) {
                Some(root_key) => {
                    child_providers.insert(child_key.clone(), root_key);
                }
                None => self.diags.push(
                    Diagnostic::error(
                        "brick::plan::provider_not_passed",
                        "Provider configuration not passed",
                        format!(
                            "The module call \"{}\" passes the provider configuration \"{pk}\", which its caller does not have.",
                            call.name
                        ),
                    )
                    .at(call.decl_span),
                ),
            }
        }
        let saved = self.expanded_call.clone();
        if call.count.is_some() || call.for_each.is_some() || !call.depends_on.is_empty() {
            self.expanded_call = Some((call.name.clone(), call.decl_span));
        }
        let module_json = self.module(child, &child_path, &child_providers);
        self.expanded_call = saved;
        described.insert("module".into(), module_json);
        serde_json::Value::Object(described)
    }

    fn resource(
        &mut self,
        r: &crate::config::Resource,
        addr: ResourceAddr,
        provider: String,
    ) -> (ResourceConfig, Description) {
        let env = self.env.clone();
        let diags = &mut *self.diags;
        let mut refs = Vec::new();
        let body = r.body.clone();
        // `timeouts { … }` (decoded when the configuration was loaded) is the engine's; a
        // type whose schema declares a `timeouts` block gets it too (Terraform's semantics:
        // such a provider enforces its timeouts itself).
        let timeouts = Timeouts {
            create: r.timeouts.create,
            update: r.timeouts.update,
            delete: r.timeouts.delete,
        };
        let with_timeouts = r.timeouts_block.clone().map(|t| {
            let mut b = Body::clone(&body);
            b.blocks.push(*t);
            b
        });
        body_references(&body, &mut refs);
        let expansion = match (&r.count, &r.for_each) {
            (Some(c), _) => {
                refs.extend(expr_refs(c));
                Expansion::Count(eval_fn(c.clone(), env.clone()), Some(c.span))
            }
            (None, Some(f)) => {
                refs.extend(expr_refs(f));
                Expansion::ForEach(eval_fn(f.clone(), env.clone()), Some(f.span))
            }
            _ => Expansion::Single,
        };
        let depends_on: Vec<Reference> = r.depends_on.iter().flat_map(expr_refs).collect();
        let lc = &r.lifecycle;
        let mut replace_triggered_by = Vec::new();
        for e in &lc.replace_triggered_by {
            refs.extend(expr_refs(e));
            match target_of(e) {
                Some(t) => replace_triggered_by.push(match t {
                    // Written relative to the resource's own module.
                    Target::Resource(r) => Target::Resource(r.in_module(&addr.module)),
                    Target::Instance(i) => Target::Instance(i.resource.in_module(&addr.module).instance(i.key)),
                    other => other,
                }),
                None => diags.push(
                    Diagnostic::error(
                        "brick::plan::invalid_replace_triggered_by",
                        "Invalid replace_triggered_by expression",
                        "Each replace_triggered_by entry must be a reference to a resource or one of its attributes.",
                    )
                    .at(e.span),
                ),
            }
        }
        let ignore_changes = match &lc.ignore_changes {
            crate::config::IgnoreChanges::None => IgnoreChanges::None,
            crate::config::IgnoreChanges::All => IgnoreChanges::All,
            crate::config::IgnoreChanges::Paths(ps) => IgnoreChanges::Attributes(
                ps.iter()
                    .filter_map(|(steps, _)| match steps.first() {
                        Some(StaticStep::Attr(a)) => Some(a.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
        };
        let described = {
            let (body, count, for_each) = (body.clone(), r.count.clone(), r.for_each.clone());
            let depends_on: Vec<String> = dedup(depends_on.clone())
                .iter()
                .map(eval::reference_text)
                .collect();
            let (env, files) = (env.clone(), self.files.clone());
            Description::new(move || {
                let describe = Describe {
                    env: &*env,
                    files: &files,
                };
                let mut d = serde_json::Map::new();
                d.insert("expressions".into(), describe.body(&body));
                if let Some(c) = &count {
                    d.insert("count_expression".into(), describe.expression(c));
                }
                if let Some(f) = &for_each {
                    d.insert("for_each_expression".into(), describe.expression(f));
                }
                if !depends_on.is_empty() {
                    d.insert("depends_on".into(), depends_on.clone().into());
                }
                d
            })
        };
        let preconditions: Vec<Condition> = lc
            .preconditions
            .iter()
            .map(|c| condition(ConditionKind::ResourcePre, c, env.clone()))
            .collect();
        let postconditions: Vec<Condition> = lc
            .postconditions
            .iter()
            .map(|c| condition(ConditionKind::ResourcePost, c, env.clone()))
            .collect();
        for c in preconditions.iter().chain(&postconditions) {
            refs.extend(c.references.iter().cloned());
        }
        let provisioners = super::provisioners::configs(&r.provisioners, &env, &mut refs, diags);
        let source = ResourceSource {
            decl: Some(r.decl_span),
            attributes: body
                .attributes
                .iter()
                .map(|a| (a.name.clone(), a.span))
                .chain(body.blocks.iter().rev().map(|b| (b.kind.clone(), b.span)))
                .chain(r.timeouts_block.iter().map(|b| (b.kind.clone(), b.span)))
                .collect(),
        };
        let env2 = env.clone();
        let rc = ResourceConfig {
            addr,
            provider,
            expansion,
            body: Arc::new(move |scope, block| {
                let body = match &with_timeouts {
                    Some(b) if block.blocks.contains_key("timeouts") => b,
                    _ => &body,
                };
                let (v, d) = eval::evaluate_body(body, block, scope, &*env2);
                if crate::diag::has_errors(&d) {
                    Err(d)
                } else {
                    Ok(v)
                }
            }),
            references: dedup(refs),
            depends_on: dedup(depends_on),
            lifecycle: Lifecycle {
                create_before_destroy: lc.create_before_destroy,
                prevent_destroy: lc.prevent_destroy,
                decl_span: Some(r.decl_span),
                ignore_changes,
                replace_triggered_by,
                preconditions,
                postconditions,
                provisioners,
            },
            timeouts,
            source,
        };
        (rc, described)
    }

    /// A module's `moved`, `removed` and `import` blocks. Those of a child module (at
    /// `module`, keyless) are relative to it and apply within each of its instances; import
    /// blocks belong in the root module only, as in Terraform.
    fn moves(&mut self, m: &crate::config::Module, module: &str) {
        let env = self.env.clone();
        let out = &mut *self.out;
        let diags = &mut *self.diags;
        if !module.is_empty() {
            for im in &m.imports {
                diags.push(
                    Diagnostic::error(
                        "brick::plan::import_in_module",
                        "Import block in a child module",
                        format!("The module {module} has an import block; import blocks are allowed only in the root module."),
                    )
                    .at(im.span)
                    .help(format!("Move it to the root module with the full address, such as `to = {module}.TYPE.NAME`.")),
                );
            }
        }
        let within = |t: Option<Target>| t.map(|t| prefix_target(t, module));
        for mv in &m.moved {
            match (within(target_of(&mv.from)), within(target_of(&mv.to))) {
                (Some(from), Some(to))
                    if matches!(from, Target::Module(_)) == matches!(to, Target::Module(_)) =>
                {
                    out.moved.push(Moved { from, to })
                }
                _ => diags.push(
                    Diagnostic::error(
                        "brick::plan::invalid_moved",
                        "Invalid moved block",
                        "from and to must both be resource addresses, or both module addresses.",
                    )
                    .at(mv.span),
                ),
            }
        }
        for rm in &m.removed {
            match within(target_of(&rm.from)) {
                Some(from) => out.removed.push(Removed {
                    from,
                    destroy: rm.destroy,
                }),
                None => diags.push(
                    Diagnostic::error(
                        "brick::plan::invalid_removed",
                        "Invalid removed block",
                        "from must be a resource or module address.",
                    )
                    .at(rm.span),
                ),
            }
        }
        for im in m.imports.iter().filter(|_| module.is_empty()) {
            let to = match target_of(&im.to) {
                Some(Target::Instance(i)) => i,
                Some(Target::Resource(r)) => r.instance(InstanceKey::None),
                _ => {
                    diags.push(
                        Diagnostic::error(
                            "brick::plan::invalid_import",
                            "Invalid import block",
                            "to must be a resource instance address.",
                        )
                        .at(im.span),
                    );
                    continue;
                }
            };
            let (id, d) = eval::evaluate(
                &im.id,
                &crate::plan::scope::Working {
                    variables: out.variables.clone(),
                    ..Default::default()
                },
                &*env,
            );
            diags.extend(d);
            match id.as_str() {
                Some(s) => out.imports.push(Import {
                    to,
                    id: s.to_string(),
                }),
                None => diags.push(
                    Diagnostic::error(
                        "brick::plan::invalid_import_id",
                        "Invalid import id",
                        "The import id must be a string known before apply.",
                    )
                    .at(im.id.span),
                ),
            }
        }
    }
}

/// The graph node name of an object named `name` in module `module` (keyless text).
fn node_name(module: &str, name: &str) -> String {
    if module.is_empty() {
        name.to_string()
    } else {
        format!("{module}.{name}")
    }
}

/// `t`, written inside the module `module` (keyless; `""` for the root), as an absolute
/// target.
fn prefix_target(t: Target, module: &str) -> Target {
    if module.is_empty() {
        return t;
    }
    let join = |m: &str| {
        if m.is_empty() {
            module.to_string()
        } else {
            format!("{module}.{m}")
        }
    };
    match t {
        Target::Module(m) => Target::Module(join(&m)),
        Target::Resource(r) => {
            let m = join(&r.module);
            Target::Resource(r.in_module(&m))
        }
        Target::Instance(i) => {
            let m = join(&i.resource.module);
            Target::Instance(i.resource.in_module(&m).instance(i.key))
        }
    }
}

/// The root provider configuration a module's provider key stands for; `None` when an
/// aliased configuration was not passed to the module.
fn resolve_provider(map: &BTreeMap<String, String>, key: &str, is_root: bool) -> Option<String> {
    match map.get(key) {
        Some(k) => Some(k.clone()),
        None if is_root || !key.contains('.') => Some(key.to_string()),
        None => None,
    }
}

/// The value of a child module's input variable, as [`crate::eval::resolve_variables`]
/// does for root variables: the argument (evaluated in the caller's scope) or the default,
/// converted to the declared type, `nullable` and `sensitive` applied (its `validation`
/// blocks are [`VariableValidation`]s, checked in the module's scope).
fn module_input_fn(
    var: crate::config::Variable,
    arg: Option<Expr>,
    call: String,
    env: Arc<dyn Environment>,
) -> EvalFn {
    Arc::new(move |scope, _| {
        let name = &var.name;
        let invalid = |why: &str, span: crate::config::Span| {
            vec![
                Diagnostic::error(
                    "brick::vars::invalid_value",
                    "Invalid value for input variable",
                    format!(
                        "The value given for var.{name} of module \"{call}\" is not suitable: {}.",
                        why.trim_end_matches('.')
                    ),
                )
                .at(span)
                .help(format!(
                    "The module declares var.{name} with type {}.",
                    var.constraint().to_type()
                )),
            ]
        };
        let default = || var.default.as_ref().map(|d| eval::evaluate_const(d).0);
        let given = match &arg {
            Some(e) => {
                let (v, d) = eval::evaluate(e, scope, &*env);
                if crate::diag::has_errors(&d) {
                    return Err(d);
                }
                Some((v, e.span))
            }
            None => None,
        };
        let (value, span) = match given {
            Some((v, s)) if v.is_null() && !var.nullable => match default() {
                Some(d) => (d, s),
                None => {
                    return Err(invalid(
                        "the variable is not nullable and null was given",
                        s,
                    ));
                }
            },
            Some(x) => x,
            None => match default() {
                Some(d) => (d, var.default.as_ref().map(|d| d.span).unwrap_or(var.span)),
                None => {
                    return Err(vec![
                        Diagnostic::error(
                            "brick::config::missing_argument",
                            "Missing required argument",
                            format!("The argument \"{name}\" is required by the module \"{call}\", but no definition was found."),
                        )
                        .at(var.span),
                    ]);
                }
            },
        };
        let tc = var.constraint();
        let mut value = match eval::convert_with_defaults(&value, &tc) {
            Ok(v) => v,
            Err(m) => return Err(invalid(&m, span)),
        };
        if var.sensitive {
            value = value.sensitive();
        }
        Ok(value)
    })
}

/// A digest of every source file (path and text), for refusing stale saved plans.
pub fn config_hash(config: &Config) -> String {
    let mut h = sha2::Sha256::new();
    let mut files: Vec<_> = config.files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for f in files {
        h.update(f.path.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(f.text.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations_parse_like_terraform_timeouts() {
        use crate::config::parse_duration;
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("9999999999999999h").is_err());
        assert!(parse_duration("2562048h").is_err());
        assert_eq!(
            parse_duration("2562047h47m16.854775807s"),
            Ok(crate::config::MAX_DURATION)
        );
    }
}
