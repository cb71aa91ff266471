//! Builds the planner's [`Configuration`] from a loaded [`crate::config::Config`]: each
//! resource, local, output and provider block becomes an evaluation function over `eval`
//! plus the references it makes; meta-arguments (`count`, `for_each`, `depends_on`,
//! `lifecycle`, `timeouts`) and `moved` / `removed` / `import` blocks become plain data.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use brick_provider_api::Value;
use sha2::Digest;

use super::address::{InstanceKey, ResourceAddr, Target};
use super::input::*;
use crate::config::{Body, Config, Expr, SourceFile, StaticStep};
use crate::diag::Diagnostic;
use crate::eval::{self, Environment, Reference};

/// Every reference made anywhere in a body (attributes and nested blocks; iterators of
/// `dynamic` blocks excluded).
pub fn body_references(body: &Body, out: &mut Vec<Reference>) {
    out.extend(eval::body_references(body).into_iter().map(|(r, _)| r));
}

fn expr_refs(e: &Expr) -> Vec<Reference> {
    eval::references(e).into_iter().map(|(r, _)| r).collect()
}

/// A reference as Terraform's JSON configuration writes it (`var.n`, `brick_data.x`).
fn reference_string(r: &Reference) -> String {
    match r {
        Reference::Variable(n) => format!("var.{n}"),
        Reference::Local(n) => format!("local.{n}"),
        Reference::Resource { type_name, name } => format!("{type_name}.{name}"),
        Reference::Data { type_name, name } => format!("data.{type_name}.{name}"),
        Reference::Module(n) => format!("module.{n}"),
        Reference::EachKey => "each.key".into(),
        Reference::EachValue => "each.value".into(),
        Reference::CountIndex => "count.index".into(),
        Reference::PathModule => "path.module".into(),
        Reference::PathRoot => "path.root".into(),
        Reference::PathCwd => "path.cwd".into(),
        Reference::SelfObject => "self".into(),
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
            let base = reference_string(&r);
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
            for n in (0..=steps.len()).rev() {
                let s = format!("{base}{}", steps[..n].concat());
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        out
    }

    /// An expression in Terraform's JSON configuration form: `{"constant_value": …}` when
    /// it references nothing and evaluates alone, else `{"references": […]}`.
    fn expression(&self, e: &Expr) -> serde_json::Value {
        let refs = self.references(e);
        let mut o = serde_json::Map::new();
        if refs.is_empty() {
            let (v, d) = eval::evaluate(e, &eval::EmptyScope, self.env);
            if !crate::diag::has_errors(&d) && v.is_wholly_known() {
                o.insert(
                    "constant_value".into(),
                    super::codec::to_json(&v.unmark_deep().0),
                );
            }
        } else {
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

/// `10m`, `1h30m`, `45s`, `2h` → a duration.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut num = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        any = true;
    }
    if !num.is_empty() || !any {
        return None;
    }
    Some(Duration::from_secs(total))
}

/// A static traversal (`brick_data.x`, `brick_data.x[0]`, `module.m.brick_data.x`) as a
/// target address.
pub fn target_of(e: &Expr) -> Option<Target> {
    let (root, steps) = e.as_static_traversal()?;
    let mut text = root;
    for s in steps {
        match s {
            StaticStep::Attr(a) => {
                text.push('.');
                text.push_str(&a);
            }
            StaticStep::Index(v) => {
                if let Some(s) = v.as_str() {
                    text.push_str(&format!("[{}]", serde_json::Value::String(s.to_string())));
                } else if let Some(n) = v.as_number().and_then(|n| n.to_i64()) {
                    text.push_str(&format!("[{n}]"));
                } else {
                    return None;
                }
            }
        }
    }
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

fn duration_attr(body: &Body, name: &str, diags: &mut Vec<Diagnostic>) -> Option<Duration> {
    let a = body.attribute(name)?;
    let (v, _) = eval::evaluate_const(&a.expr);
    let text = v.as_str().map(String::from);
    match text.as_deref().and_then(parse_duration) {
        Some(d) => Some(d),
        None => {
            diags.push(
                Diagnostic::error(
                    "brick::plan::invalid_timeout",
                    "Invalid timeout",
                    format!("The {name} timeout must be a duration such as \"30s\", \"10m\" or \"1h30m\"."),
                )
                .at(a.expr.span),
            );
            None
        }
    }
}

/// Builds the planner's input. `variables` are the resolved root input variables.
pub fn from_config(
    config: &Config,
    variables: BTreeMap<String, Value>,
    env: Arc<dyn Environment>,
) -> (Configuration, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let m = &config.root;
    let mut out = Configuration {
        variables,
        hash: config_hash(config),
        ..Default::default()
    };
    if !m.module_calls.is_empty() {
        diags.push(Diagnostic::warning(
            "brick::plan::modules_unsupported",
            "Module calls are not planned yet",
            "This build of brick plans the root module only; resources of child modules are ignored.",
        ));
    }
    let describe = Describe {
        env: &*env,
        files: &config.files,
    };
    for v in m.variables.values() {
        let mut d = serde_json::Map::new();
        // A sensitive variable's default is its secret: leave it out rather than publish it.
        if let Some(def) = &v.default
            && !v.sensitive
            && let Some(c) = describe.expression(def).get("constant_value")
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
        out.described
            .variables
            .insert(v.name.clone(), serde_json::Value::Object(d));
    }
    for l in m.locals.values() {
        let expr = l.expr.clone();
        let env = env.clone();
        out.locals.push(NamedExpr {
            name: l.name.clone(),
            references: dedup(expr_refs(&l.expr)),
            expr: Arc::new(move |scope, _| {
                let (v, d) = eval::evaluate(&expr, scope, &*env);
                if crate::diag::has_errors(&d) {
                    Err(d)
                } else {
                    Ok(v)
                }
            }),
        });
    }
    for o in m.outputs.values() {
        let expr = o.value.clone();
        let env = env.clone();
        let mut refs = expr_refs(&o.value);
        for d in &o.depends_on {
            refs.extend(expr_refs(d));
        }
        out.described
            .outputs
            .insert(o.name.clone(), describe.expression(&o.value));
        out.outputs.push(OutputConfig {
            name: o.name.clone(),
            references: dedup(refs),
            sensitive: o.sensitive,
            expr: Arc::new(move |scope, _| {
                let (v, d) = eval::evaluate(&expr, scope, &*env);
                if crate::diag::has_errors(&d) {
                    Err(d)
                } else {
                    Ok(v)
                }
            }),
        });
    }
    for (key, p) in &m.providers {
        let body = p.body.clone();
        let env = env.clone();
        let mut refs = Vec::new();
        body_references(&p.body, &mut refs);
        out.providers.push(ProviderConfig {
            name: key.clone(),
            type_name: p.name.clone(),
            references: dedup(refs),
            body: Arc::new(move |scope, block| {
                let (v, d) = eval::evaluate_body(&body, block, scope, &*env);
                if crate::diag::has_errors(&d) {
                    Err(d)
                } else {
                    Ok(v)
                }
            }),
        });
    }
    for r in m.resources.values() {
        let addr = ResourceAddr {
            module: String::new(),
            mode: r.mode,
            type_name: r.type_name.clone(),
            name: r.name.clone(),
        };
        let mut refs = Vec::new();
        let mut body = r.body.clone();
        // `timeouts { … }` is the engine's, not the provider's.
        let mut timeouts = Timeouts::default();
        if let Some(t) = body.blocks.iter().find(|b| b.kind == "timeouts") {
            timeouts.create = duration_attr(&t.body, "create", &mut diags);
            timeouts.update = duration_attr(&t.body, "update", &mut diags);
            timeouts.delete = duration_attr(&t.body, "delete", &mut diags);
        }
        body.blocks.retain(|b| b.kind != "timeouts");
        body_references(&body, &mut refs);
        let expansion = match (&r.count, &r.for_each) {
            (Some(c), _) => {
                refs.extend(expr_refs(c));
                Expansion::Count(expr_fn(c.clone(), env.clone()))
            }
            (None, Some(f)) => {
                refs.extend(expr_refs(f));
                Expansion::ForEach(expr_fn(f.clone(), env.clone()))
            }
            _ => Expansion::Single,
        };
        let depends_on: Vec<Reference> = r.depends_on.iter().flat_map(expr_refs).collect();
        let lc = &r.lifecycle;
        let mut replace_triggered_by = Vec::new();
        for e in &lc.replace_triggered_by {
            refs.extend(expr_refs(e));
            match target_of(e) {
                Some(t) => replace_triggered_by.push(t),
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
        let mut described = serde_json::Map::new();
        described.insert("expressions".into(), describe.body(&body));
        if let Some(c) = &r.count {
            described.insert("count_expression".into(), describe.expression(c));
        }
        if let Some(f) = &r.for_each {
            described.insert("for_each_expression".into(), describe.expression(f));
        }
        if !depends_on.is_empty() {
            described.insert(
                "depends_on".into(),
                dedup(depends_on.clone())
                    .iter()
                    .map(reference_string)
                    .collect(),
            );
        }
        out.described.resources.insert(addr.to_string(), described);
        let env2 = env.clone();
        out.resources.push(ResourceConfig {
            addr,
            provider: r.provider_ref().key(),
            expansion,
            body: Arc::new(move |scope, block| {
                let (v, d) = eval::evaluate_body(&body, block, scope, &*env2);
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
                ignore_changes,
                replace_triggered_by,
            },
            timeouts,
        });
    }
    for mv in &m.moved {
        match (target_of(&mv.from), target_of(&mv.to)) {
            (Some(from), Some(to)) => out.moved.push(Moved { from, to }),
            _ => diags.push(
                Diagnostic::error(
                    "brick::plan::invalid_moved",
                    "Invalid moved block",
                    "from and to must be resource addresses.",
                )
                .at(mv.span),
            ),
        }
    }
    for rm in &m.removed {
        match target_of(&rm.from) {
            Some(from) => out.removed.push(Removed {
                from,
                destroy: rm.destroy,
            }),
            None => diags.push(
                Diagnostic::error(
                    "brick::plan::invalid_removed",
                    "Invalid removed block",
                    "from must be a resource address.",
                )
                .at(rm.span),
            ),
        }
    }
    for im in &m.imports {
        let to = match target_of(&im.to) {
            Some(Target::Instance(i)) => i,
            Some(Target::Resource(r)) => r.instance(InstanceKey::None),
            None => {
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
    (out, diags)
}

fn expr_fn(e: Expr, env: Arc<dyn Environment>) -> EvalFn {
    Arc::new(move |scope, _| {
        let (v, d) = eval::evaluate(&e, scope, &*env);
        if crate::diag::has_errors(&d) {
            Err(d)
        } else {
            Ok(v)
        }
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
    use super::*;

    #[test]
    fn durations_parse_like_terraform_timeouts() {
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45s"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("x"), None);
    }
}
