//! [`references`]: the references an expression makes, for dependency edges, `validate` and
//! the loader's own checks. A walk of the syntax tree, nothing evaluated (`eval` re-exports
//! it). Names bound by `for` expressions and template `for` directives are not references.

use super::expr::{Expr, ExprKind, Step, TemplatePart};
use super::{Body, Span};
use crate::addr::Reference;

/// Every reference in `expr` with the span of the traversal that makes it, in source order.
/// `bound` names (e.g. a dynamic block's iterator) are treated as local, not as references.
pub fn references(expr: &Expr) -> Vec<(Reference, Span)> {
    references_with(expr, &[])
}

/// [`references`] with extra names bound locally (dynamic block iterators).
pub fn references_with(expr: &Expr, bound: &[&str]) -> Vec<(Reference, Span)> {
    let mut out = Out::default();
    let mut names: Vec<String> = bound.iter().map(|s| s.to_string()).collect();
    walk(expr, &mut names, &mut out);
    out.refs
}

/// The module outputs an expression reads: `(call, Some(output))` for `module.NAME.OUTPUT`
/// and `module.NAME[KEY].OUTPUT`, `(call, None)` when it uses `module.NAME` as a whole (a
/// splat, a `for` over its instances, the object itself). The graph uses this to make an
/// object depend on just the outputs it reads.
pub fn module_output_uses(expr: &Expr) -> Vec<(String, Option<String>)> {
    let mut out = Out::default();
    walk(expr, &mut Vec::new(), &mut out);
    out.outputs
}

/// [`module_output_uses`] of a block body (see [`body_references`]).
pub fn body_module_output_uses(body: &Body) -> Vec<(String, Option<String>)> {
    let mut out = Out::default();
    walk_body(body, &mut Vec::new(), &mut out);
    out.outputs
}

/// What a walk collects.
#[derive(Default)]
struct Out {
    refs: Vec<(Reference, Span)>,
    outputs: Vec<(String, Option<String>)>,
}

fn attr(steps: &[Step], i: usize) -> Option<&str> {
    match steps.get(i) {
        Some(Step::Attr(a, _)) => Some(a),
        _ => None,
    }
}

/// The reference made by a root name and its first steps, if it is one.
pub(crate) fn reference_of(name: &str, steps: &[Step]) -> Option<Reference> {
    Some(match name {
        "var" => Reference::Variable(attr(steps, 0)?.into()),
        "local" => Reference::Local(attr(steps, 0)?.into()),
        "module" => Reference::Module(attr(steps, 0)?.into()),
        "each" => match attr(steps, 0)? {
            "key" => Reference::EachKey,
            "value" => Reference::EachValue,
            _ => return None,
        },
        "count" => match attr(steps, 0)? {
            "index" => Reference::CountIndex,
            _ => return None,
        },
        "path" => match attr(steps, 0)? {
            "module" => Reference::PathModule,
            "root" => Reference::PathRoot,
            "cwd" => Reference::PathCwd,
            _ => return None,
        },
        "data" => Reference::Data {
            type_name: attr(steps, 0)?.into(),
            name: attr(steps, 1)?.into(),
        },
        "self" => Reference::SelfObject,
        "terraform" => return None,
        t => Reference::Resource {
            type_name: t.into(),
            name: attr(steps, 0)?.into(),
        },
    })
}

fn walk(e: &Expr, bound: &mut Vec<String>, out: &mut Out) {
    match &e.kind {
        ExprKind::Variable(n) => {
            if !bound.iter().any(|b| b == n)
                && let Some(r) = reference_of(n, &[])
            {
                out.refs.push((r, e.span));
            }
        }
        ExprKind::Traversal(root, steps) => {
            if let ExprKind::Variable(n) = &root.kind {
                if !bound.iter().any(|b| b == n)
                    && let Some(r) = reference_of(n, steps)
                {
                    if let Reference::Module(call) = &r {
                        let output = match (steps.get(1), steps.get(2)) {
                            (Some(Step::Attr(a, _)), _) => Some(a.clone()),
                            (Some(Step::Index(_)), Some(Step::Attr(a, _))) => Some(a.clone()),
                            _ => None,
                        };
                        out.outputs.push((call.clone(), output));
                    }
                    out.refs.push((r, e.span));
                }
            } else {
                walk(root, bound, out);
            }
            for s in steps {
                if let Step::Index(ix) = s {
                    walk(ix, bound, out);
                }
            }
        }
        ExprKind::Literal(_) | ExprKind::SplatItem => {}
        ExprKind::Template(parts) => walk_parts(parts, bound, out),
        ExprKind::Tuple(items) => items.iter().for_each(|i| walk(i, bound, out)),
        ExprKind::Object(items) => items.iter().for_each(|(k, v)| {
            // A bare identifier key is a literal, already lowered to one.
            walk(k, bound, out);
            walk(v, bound, out);
        }),
        ExprKind::Splat { source, each } => {
            walk(source, bound, out);
            walk(each, bound, out);
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|a| walk(a, bound, out)),
        ExprKind::Unary(_, x) | ExprKind::Paren(x) => walk(x, bound, out),
        ExprKind::Binary(_, a, b) => {
            walk(a, bound, out);
            walk(b, bound, out);
        }
        ExprKind::Conditional(a, b, c) => {
            walk(a, bound, out);
            walk(b, bound, out);
            walk(c, bound, out);
        }
        ExprKind::For(fe) => {
            walk(&fe.collection, bound, out);
            let n = bound.len();
            bound.extend(fe.key_var.iter().cloned());
            bound.push(fe.value_var.clone());
            if let Some(k) = &fe.key {
                walk(k, bound, out);
            }
            walk(&fe.value, bound, out);
            if let Some(c) = &fe.cond {
                walk(c, bound, out);
            }
            bound.truncate(n);
        }
    }
}

fn walk_parts(parts: &[TemplatePart], bound: &mut Vec<String>, out: &mut Out) {
    for p in parts {
        match p {
            TemplatePart::Literal(_) => {}
            TemplatePart::Interpolation(e) => walk(e, bound, out),
            TemplatePart::If {
                cond,
                then,
                otherwise,
            } => {
                walk(cond, bound, out);
                walk_parts(then, bound, out);
                walk_parts(otherwise, bound, out);
            }
            TemplatePart::For {
                key_var,
                value_var,
                collection,
                body,
            } => {
                walk(collection, bound, out);
                let n = bound.len();
                bound.extend(key_var.iter().cloned());
                bound.push(value_var.clone());
                walk_parts(body, bound, out);
                bound.truncate(n);
            }
        }
    }
}

/// Every reference made by a block body (attributes and nested blocks, recursively), with
/// `dynamic` block iterators treated as local names, not references. Use this for resource,
/// data source and provider bodies.
pub fn body_references(body: &Body) -> Vec<(Reference, Span)> {
    let mut out = Out::default();
    let mut bound: Vec<String> = Vec::new();
    walk_body(body, &mut bound, &mut out);
    out.refs
}

fn walk_body(body: &Body, bound: &mut Vec<String>, out: &mut Out) {
    for a in &body.attributes {
        walk(&a.expr, bound, out);
    }
    for b in &body.blocks {
        if b.kind == "dynamic" {
            if let Some(fe) = b.body.attribute("for_each") {
                walk(&fe.expr, bound, out);
            }
            let it = b
                .body
                .attribute("iterator")
                .and_then(|a| match &a.expr.kind {
                    ExprKind::Variable(n) => Some(n.clone()),
                    _ => None,
                })
                .or_else(|| b.labels.first().cloned())
                .unwrap_or_default();
            bound.push(it);
            if let Some(l) = b.body.attribute("labels") {
                walk(&l.expr, bound, out);
            }
            for c in b.body.blocks_of("content") {
                walk_body(&c.body, bound, out);
            }
            bound.pop();
        } else {
            walk_body(&b.body, bound, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs_of(src: &str) -> Vec<String> {
        let (e, d) = crate::config::syntax::parse_expression(src, 0);
        assert!(d.is_empty(), "{d:?}");
        references(&e.unwrap())
            .into_iter()
            .map(|(r, _)| crate::eval::reference_text(&r))
            .collect()
    }

    #[test]
    fn references_name_their_roots_and_skip_bound_names() {
        assert_eq!(
            refs_of(
                "[for n in var.nodes : maas_machine.node[n].id if local.on] ++ []"
                    .trim_end_matches(" ++ []")
            ),
            ["var.nodes", "maas_machine.node", "local.on"]
        );
        assert_eq!(
            refs_of("data.brick_data.x.output[each.key]"),
            ["data.brick_data.x", "each.key"]
        );
        assert_eq!(refs_of("module.net[\"a\"].cidr"), ["module.net"]);
        assert_eq!(
            refs_of("\"%{for x in var.l}${x}${count.index}%{endfor}\""),
            ["var.l", "count.index"]
        );
        assert_eq!(refs_of("self.id"), ["self"]);
        assert_eq!(refs_of("path.module"), ["path.module"]);
    }

    #[test]
    fn module_output_uses_name_the_output_read_or_none_for_the_whole_module() {
        let uses = |src: &str| {
            let (e, _) = crate::config::syntax::parse_expression(src, 0);
            module_output_uses(&e.unwrap())
        };
        assert_eq!(uses("module.a.out"), [("a".into(), Some("out".into()))]);
        assert_eq!(
            uses("module.a[\"k\"].out"),
            [("a".into(), Some("out".into()))]
        );
        assert_eq!(uses("module.a[*].out"), [("a".into(), None)]);
        assert_eq!(uses("[for m in module.a : m.x]"), [("a".into(), None)]);
    }

    #[test]
    fn dynamic_block_iterators_are_not_references() {
        let (b, d) = crate::config::syntax::parse_file(
            "dynamic \"volume\" {\n  for_each = var.v\n  content {\n    size = volume.value\n    x = brick_data.y.id\n  }\n}\n",
            0,
        );
        assert!(d.is_empty());
        let refs: Vec<String> = body_references(&b.unwrap())
            .into_iter()
            .map(|(r, _)| crate::eval::reference_text(&r))
            .collect();
        assert_eq!(refs, ["var.v", "brick_data.y"]);
    }
}
