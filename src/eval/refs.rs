//! [`references`]: the references an expression makes, for dependency edges and `validate`.
//! Names bound by `for` expressions and template `for` directives are not references.

use super::Reference;
use crate::config::Span;
use crate::config::expr::{Expr, ExprKind, Step, TemplatePart};

/// Every reference in `expr` with the span of the traversal that makes it, in source order.
/// `bound` names (e.g. a dynamic block's iterator) are treated as local, not as references.
pub fn references(expr: &Expr) -> Vec<(Reference, Span)> {
    references_with(expr, &[])
}

/// [`references`] with extra names bound locally (dynamic block iterators).
pub fn references_with(expr: &Expr, bound: &[&str]) -> Vec<(Reference, Span)> {
    let mut out = Vec::new();
    let mut names: Vec<String> = bound.iter().map(|s| s.to_string()).collect();
    walk(expr, &mut names, &mut out);
    out
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

fn walk(e: &Expr, bound: &mut Vec<String>, out: &mut Vec<(Reference, Span)>) {
    match &e.kind {
        ExprKind::Variable(n) => {
            if !bound.iter().any(|b| b == n)
                && let Some(r) = reference_of(n, &[])
            {
                out.push((r, e.span));
            }
        }
        ExprKind::Traversal(root, steps) => {
            if let ExprKind::Variable(n) = &root.kind {
                if !bound.iter().any(|b| b == n)
                    && let Some(r) = reference_of(n, steps)
                {
                    out.push((r, e.span));
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

fn walk_parts(parts: &[TemplatePart], bound: &mut Vec<String>, out: &mut Vec<(Reference, Span)>) {
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
