//! brick's own expression tree: what `config` lowers hcl-edit's syntax tree into and what
//! `eval` walks.
//!
//! It is smaller than hcl-edit's tree (no whitespace or comments), every node carries a
//! [`Span`], template strip markers (`~`) are already applied to literals, and its depth is
//! bounded by [`MAX_DEPTH`] so that walking it recursively can never overflow the stack.

use brick_provider_api::Value;

use super::Span;

/// The deepest expression nesting the loader accepts. Deeper input is reported as a
/// diagnostic (`brick::config::nested_too_deeply`) instead of risking a stack overflow.
pub const MAX_DEPTH: usize = 200;

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `null`, `true`, a number, or a string without interpolation.
    Literal(Value),
    /// A quoted string or heredoc with interpolations or directives.
    Template(Vec<TemplatePart>),
    /// `[a, b]`
    Tuple(Vec<Expr>),
    /// `{ k = v }`; a bare identifier key is a string literal key.
    Object(Vec<(Expr, Expr)>),
    /// A bare name: `var`, `local`, a resource type, a `for` variable, `each`, `count`…
    Variable(String),
    /// `expr.attr`, `expr[index]`, `expr.0`
    Traversal(Box<Expr>, Vec<Step>),
    /// `source[*].rest` or `source.*.rest`: `each` is evaluated once per element with
    /// [`ExprKind::SplatItem`] standing for the element.
    Splat {
        source: Box<Expr>,
        each: Box<Expr>,
    },
    /// The current element inside a splat's `each`.
    SplatItem,
    /// `name(args…)`, `name(args…, list...)` when `expand_final`.
    Call {
        name: String,
        name_span: Span,
        args: Vec<Expr>,
        expand_final: bool,
    },
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
    For(Box<ForExpr>),
    /// `( expr )` — kept so that formatting-sensitive checks (object keys) can tell.
    Paren(Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Attr(String, Span),
    /// Boxed: an index is rare and an inline [`Expr`] would double every step's size.
    Index(Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }
}

/// `[for k, v in coll : key => value... if cond]` or the tuple form without `key =>`.
#[derive(Clone, Debug, PartialEq)]
pub struct ForExpr {
    pub key_var: Option<String>,
    pub value_var: String,
    pub collection: Expr,
    /// Present for the object form `{for …: k => v}`.
    pub key: Option<Expr>,
    pub value: Expr,
    /// `...` after the value: group values with the same key into a tuple.
    pub grouping: bool,
    pub cond: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    Literal(String),
    Interpolation(Expr),
    // The directives' expressions are boxed: directives are rare, and inline they made every
    // part (most are literals) nearly twice as large.
    If {
        cond: Box<Expr>,
        then: Vec<TemplatePart>,
        otherwise: Vec<TemplatePart>,
    },
    For {
        key_var: Option<String>,
        value_var: String,
        collection: Box<Expr>,
        body: Vec<TemplatePart>,
    },
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// The string of a literal string expression.
    pub fn as_literal_str(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Literal(v) => v.as_str(),
            ExprKind::Template(parts) if parts.is_empty() => Some(""),
            ExprKind::Template(parts) => match parts.as_slice() {
                [TemplatePart::Literal(s)] => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    /// A bare traversal like `aws_instance.web[0].id` as its parts (root name and steps with
    /// constant indices), for meta-arguments that take references rather than values
    /// (`depends_on`, `ignore_changes`, `moved.from`).
    pub fn as_static_traversal(&self) -> Option<(String, Vec<StaticStep>)> {
        match &self.kind {
            ExprKind::Variable(n) => Some((n.clone(), Vec::new())),
            ExprKind::Traversal(root, steps) => {
                let ExprKind::Variable(n) = &root.kind else {
                    return None;
                };
                let mut out = Vec::new();
                for s in steps {
                    match s {
                        Step::Attr(a, _) => out.push(StaticStep::Attr(a.clone())),
                        Step::Index(e) => match &e.kind {
                            ExprKind::Literal(v) => out.push(StaticStep::Index(v.clone())),
                            _ => return None,
                        },
                    }
                }
                Some((n.clone(), out))
            }
            _ => None,
        }
    }

    /// Visits this expression and every sub-expression, parents first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Literal(_) | ExprKind::Variable(_) | ExprKind::SplatItem => {}
            ExprKind::Template(parts) => walk_parts(parts, f),
            ExprKind::Tuple(items) => items.iter().for_each(|e| e.walk(f)),
            ExprKind::Object(items) => items.iter().for_each(|(k, v)| {
                k.walk(f);
                v.walk(f)
            }),
            ExprKind::Traversal(root, steps) => {
                root.walk(f);
                for s in steps {
                    if let Step::Index(e) = s {
                        e.walk(f)
                    }
                }
            }
            ExprKind::Splat { source, each } => {
                source.walk(f);
                each.walk(f)
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|e| e.walk(f)),
            ExprKind::Unary(_, e) | ExprKind::Paren(e) => e.walk(f),
            ExprKind::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f)
            }
            ExprKind::Conditional(a, b, c) => {
                a.walk(f);
                b.walk(f);
                c.walk(f)
            }
            ExprKind::For(fe) => {
                fe.collection.walk(f);
                if let Some(k) = &fe.key {
                    k.walk(f)
                }
                fe.value.walk(f);
                if let Some(c) = &fe.cond {
                    c.walk(f)
                }
            }
        }
    }
}

fn walk_parts<'a>(parts: &'a [TemplatePart], f: &mut dyn FnMut(&'a Expr)) {
    for p in parts {
        match p {
            TemplatePart::Literal(_) => {}
            TemplatePart::Interpolation(e) => e.walk(f),
            TemplatePart::If {
                cond,
                then,
                otherwise,
            } => {
                cond.walk(f);
                walk_parts(then, f);
                walk_parts(otherwise, f)
            }
            TemplatePart::For {
                collection, body, ..
            } => {
                collection.walk(f);
                walk_parts(body, f)
            }
        }
    }
}

/// One step of a static traversal (an address's own type).
pub use crate::addr::StaticStep;
