//! The expression evaluator: walks [`Expr`] trees producing [`Value`]s with the unknown and
//! sensitive marks carried through every operation.
//!
//! Errors are recorded as diagnostics and the failing sub-expression yields `Err(())`, which
//! propagates to the top where [`evaluate`] turns it into an unknown value.

use std::collections::BTreeMap;

use brick_provider_api::value::Kind;
use brick_provider_api::{Marks, Number, Type, Value};

use super::{Environment, Reference, Scope, convert, functions};
use crate::config::expr::{BinaryOp, Expr, ExprKind, ForExpr, Step, TemplatePart, UnaryOp};
use crate::config::{Span, TypeConstraint};
use crate::diag::{Diagnostic, did_you_mean};

pub(crate) type R = Result<Value, ()>;

/// A scope that declares nothing (constant expressions).
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyScope;

impl Scope for EmptyScope {
    fn get(&self, _: &Reference) -> Option<Value> {
        None
    }
}

/// Evaluates `expr`. On error the value is unknown (of dynamic type) and the diagnostics say
/// why.
pub fn evaluate(expr: &Expr, scope: &dyn Scope, env: &dyn Environment) -> (Value, Vec<Diagnostic>) {
    evaluate_with(expr, scope, env, &[])
}

/// Like [`evaluate`] with extra local names bound (e.g. an iterator of a `dynamic` block).
pub fn evaluate_with(
    expr: &Expr,
    scope: &dyn Scope,
    env: &dyn Environment,
    bindings: &[(String, Value)],
) -> (Value, Vec<Diagnostic>) {
    let mut ev = Evaluator::new(scope, env);
    ev.locals.extend(bindings.iter().cloned());
    let v = ev
        .eval(expr)
        .unwrap_or_else(|()| Value::unknown(Type::Dynamic));
    (v, ev.diags)
}

/// Evaluates an expression that may refer to nothing (type defaults, literal settings).
pub fn evaluate_const(expr: &Expr) -> (Value, Vec<Diagnostic>) {
    evaluate(expr, &EmptyScope, &super::NullEnvironment)
}

/// Evaluates parsed template parts with the given variables (for `templatefile`).
pub fn evaluate_template(
    parts: &[TemplatePart],
    vars: &[(String, Value)],
    env: &dyn Environment,
) -> (Value, Vec<Diagnostic>) {
    let mut ev = Evaluator::new(&EmptyScope, env);
    ev.locals.extend(vars.iter().cloned());
    ev.template_only = true;
    let v = ev
        .template(parts)
        .unwrap_or_else(|()| Value::unknown(Type::String));
    (v, ev.diags)
}

/// Whether the value is the known, true boolean (marks ignored).
pub fn is_true(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

pub(crate) struct Evaluator<'a> {
    pub scope: &'a dyn Scope,
    pub env: &'a dyn Environment,
    pub diags: Vec<Diagnostic>,
    /// Names bound by `for` expressions, template `for`, dynamic-block iterators, innermost last.
    pub locals: Vec<(String, Value)>,
    splat_items: Vec<Value>,
    /// Inside `templatefile`: only the given variables exist.
    template_only: bool,
    /// Nesting of `templatefile` calls (a template may call templatefile).
    template_depth: usize,
}

fn error(code: &str, summary: &str, detail: impl Into<String>, span: Span) -> Diagnostic {
    Diagnostic::error(format!("brick::eval::{code}"), summary, detail).at(span)
}

/// The unknown value of `ty`, with `marks`.
fn unknown(ty: Type, marks: Marks) -> Value {
    Value::unknown(ty).with_marks(marks)
}

/// A short description of a value's type for messages ("a number", "a string"…).
pub(crate) fn describe(ty: &Type) -> String {
    match ty {
        Type::Dynamic => "a value of unknown type".into(),
        Type::Bool => "a bool".into(),
        Type::Number => "a number".into(),
        Type::String => "a string".into(),
        Type::List(_) => format!("a {ty}"),
        Type::Set(_) => format!("a {ty}"),
        Type::Map(_) => format!("a {ty}"),
        Type::Tuple(_) => "a tuple".into(),
        Type::Object(_) => "an object".into(),
    }
}

/// How a value is shown in console output and error messages (HCL-ish syntax).
pub fn value_to_display(v: &Value) -> String {
    let mut out = String::new();
    display_into(v, 0, &mut out);
    out
}

/// What `brick console` prints for a value, as Terraform's console: a type description made
/// by `type()` bare, any other value as [`value_to_display`]. A value that merely contains a
/// type description (`[type(1)]`, `type(1) == type(2)`) is refused, as in Terraform.
pub fn console_display(v: &Value) -> Result<String, Vec<Diagnostic>> {
    if v.contains_marks(Marks::TYPE) && !(v.marks.contains(Marks::TYPE) && v.as_str().is_some()) {
        return Err(vec![
            Diagnostic::error(
                "brick::eval::invalid_type_function_use",
                "Invalid use of type function",
                "The console-only \"type\" function cannot be used as part of an expression.",
            )
            .help("Call type() on its own, e.g. `type(var.nodes)`."),
        ]);
    }
    Ok(value_to_display(v))
}

/// A type as Terraform's console prints it: objects and tuples one element a line, indented
/// by four spaces; collections inline unless their element is an object or tuple.
pub fn type_expression(ty: &Type) -> String {
    let mut out = String::new();
    type_expression_into(ty, 0, &mut out);
    out
}

fn type_expression_into(ty: &Type, indent: usize, out: &mut String) {
    let pad = "    ".repeat(indent + 1);
    let close = "    ".repeat(indent);
    match ty {
        Type::Dynamic | Type::Bool | Type::Number | Type::String => out.push_str(&ty.to_string()),
        Type::List(e) | Type::Set(e) | Type::Map(e) => {
            out.push_str(match ty {
                Type::List(_) => "list(",
                Type::Set(_) => "set(",
                _ => "map(",
            });
            let structural = matches!(&**e, Type::Object(a) if !a.is_empty())
                || matches!(&**e, Type::Tuple(t) if !t.is_empty());
            if structural {
                out.push('\n');
                out.push_str(&pad);
                type_expression_into(e, indent + 1, out);
                out.push_str(",\n");
                out.push_str(&close);
            } else {
                type_expression_into(e, indent, out);
            }
            out.push(')');
        }
        Type::Tuple(items) if items.is_empty() => out.push_str("tuple([])"),
        Type::Tuple(items) => {
            out.push_str("tuple([\n");
            for t in items {
                out.push_str(&pad);
                type_expression_into(t, indent + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&close);
            out.push_str("])");
        }
        Type::Object(attrs) if attrs.is_empty() => out.push_str("object({})"),
        Type::Object(attrs) => {
            out.push_str("object({\n");
            for (name, t) in attrs {
                out.push_str(&pad);
                out.push_str(name);
                out.push_str(": ");
                type_expression_into(t, indent + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&close);
            out.push_str("})");
        }
    }
}

/// A multi-line string as Terraform's console prints it: a heredoc whose lines are indented
/// to the nesting depth (`<<-EOT` when nested), with a delimiter no line could end early.
fn heredoc_into(s: &str, indent: usize, out: &mut String) {
    let lines: Vec<&str> = s.split('\n').collect();
    let mut delimiter = String::from("EOT");
    while lines.iter().any(|l| l.trim() == delimiter) {
        delimiter.push('_');
    }
    let pad = "  ".repeat(indent);
    out.push_str(if indent > 0 { "<<-" } else { "<<" });
    out.push_str(&delimiter);
    for line in lines {
        out.push('\n');
        out.push_str(&pad);
        out.push_str(line);
    }
    out.push('\n');
    out.push_str(&pad);
    out.push_str(&delimiter);
}

fn display_into(v: &Value, indent: usize, out: &mut String) {
    // An unknown value prints as unknown even when it is sensitive, as in Terraform.
    if v.is_sensitive() && v.is_known() {
        out.push_str("(sensitive value)");
        return;
    }
    let pad = "  ".repeat(indent + 1);
    let close = "  ".repeat(indent);
    match &v.kind {
        // A typed null shows its type, as Terraform's console writes it.
        Kind::Null(ty) => match ty {
            Type::String => out.push_str("tostring(null)"),
            Type::Number => out.push_str("tonumber(null)"),
            Type::Bool => out.push_str("tobool(null)"),
            Type::List(e) => out.push_str(&format!("tolist(null) /* of {e} */")),
            Type::Set(e) => out.push_str(&format!("toset(null) /* of {e} */")),
            Type::Map(e) => out.push_str(&format!("tomap(null) /* of {e} */")),
            Type::Object(_) => out.push_str("null /* object */"),
            Type::Tuple(_) => out.push_str("null /* tuple */"),
            _ => out.push_str("null"),
        },
        Kind::Unknown(_) => out.push_str("(known after apply)"),
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::Number(n) => out.push_str(&n.to_string()),
        // A type description from `type()` prints bare.
        Kind::String(s) if v.marks.contains(Marks::TYPE) => out.push_str(s),
        Kind::String(s) if s.contains('\n') => heredoc_into(s, indent, out),
        Kind::String(s) => out.push_str(&brick_provider_api::value::go_quote(s)),
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            let (open, end) = match &v.kind {
                Kind::List(..) => ("tolist([", "])"),
                Kind::Set(..) => ("toset([", "])"),
                _ => ("[", "]"),
            };
            if items.is_empty() {
                out.push_str(open);
                out.push_str(end);
                return;
            }
            out.push_str(open);
            out.push('\n');
            for i in items {
                out.push_str(&pad);
                display_into(i, indent + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&close);
            out.push_str(end);
        }
        Kind::Map(_, m) | Kind::Object(m) => {
            let (open, end) = match &v.kind {
                Kind::Map(..) => ("tomap({", "})"),
                _ => ("{", "}"),
            };
            if m.is_empty() {
                out.push_str(open);
                out.push_str(end);
                return;
            }
            out.push_str(open);
            out.push('\n');
            for (k, val) in m {
                out.push_str(&pad);
                // A key with a newline is a heredoc too, as Terraform prints it.
                if k.contains('\n') {
                    heredoc_into(k, indent + 1, out);
                } else {
                    out.push_str(&brick_provider_api::value::go_quote(k));
                }
                out.push_str(" = ");
                display_into(val, indent + 1, out);
                out.push('\n');
            }
            out.push_str(&close);
            out.push_str(end);
        }
    }
}

// ---- primitive conversions (cty's rules for string ↔ number ↔ bool) -------------------------

/// A primitive value as a string: numbers in decimal, bools as `true`/`false`.
pub(crate) fn prim_to_string(v: &Value) -> Option<String> {
    match &v.kind {
        Kind::String(s) => Some(s.clone()),
        Kind::Number(n) => Some(n.to_string()),
        Kind::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An operand of a logical operator, checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Logical {
    Known(bool),
    Null,
    Unknown,
}

/// Which operand of an operator a message is about.
#[derive(Clone, Copy)]
enum Side {
    Left,
    Right,
    Unary,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
            Side::Unary => "unary",
        }
    }
}

/// The arithmetic operators on two known numbers; the errors are Terraform's (`1/0` is
/// `+Inf`, but `0/0` and `Inf - Inf` have no result).
fn arithmetic(op: BinaryOp, x: &Number, y: &Number) -> brick_provider_api::Arithmetic {
    match op {
        BinaryOp::Add => x.add(y),
        BinaryOp::Sub => x.sub(y),
        BinaryOp::Mul => x.mul(y),
        BinaryOp::Div => x.div(y),
        BinaryOp::Mod => x.rem(y),
        _ => unreachable!("only arithmetic operators reach here"),
    }
}

pub(crate) fn prim_to_number(v: &Value) -> Option<Number> {
    match &v.kind {
        Kind::Number(n) => Some(n.clone()),
        Kind::String(s) => crate::eval::convert::parse_number(s),
        _ => None,
    }
}

pub(crate) fn prim_to_bool(v: &Value) -> Option<bool> {
    match &v.kind {
        Kind::Bool(b) => Some(*b),
        Kind::String(s) if s == "true" => Some(true),
        Kind::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// Converts to `ty` through [`convert::convert`], falling back to the primitive rules above
/// (so operators work the same whatever stage the conversion library is at).
pub(crate) fn convert_value(v: &Value, ty: &Type) -> Result<Value, String> {
    if *ty == Type::Dynamic {
        return Ok(v.clone());
    }
    if !v.is_known() {
        return Ok(Value::unknown(ty.clone()).with_marks(v.marks));
    }
    if v.is_null() {
        return Ok(Value::null(ty.clone()).with_marks(v.marks));
    }
    let prim = match ty {
        Type::String => prim_to_string(v).map(Value::string),
        Type::Number => prim_to_number(v).map(Value::number),
        Type::Bool => prim_to_bool(v).map(Value::bool),
        _ => None,
    };
    if let Some(p) = prim {
        return Ok(p.with_marks(v.marks));
    }
    convert::convert(v, ty).map_err(|e| {
        if e.path.is_empty() {
            e.message
        } else {
            format!("{}: {}", e.path.join("."), e.message)
        }
    })
}

/// Applies `optional(…, default)` defaults from `tc`, then converts to its type.
pub fn convert_with_defaults(v: &Value, tc: &TypeConstraint) -> Result<Value, String> {
    let with = apply_defaults(v, tc)?;
    convert_value(&with, &tc.to_type())
}

fn apply_defaults(v: &Value, tc: &TypeConstraint) -> Result<Value, String> {
    if v.is_null() || !v.is_known() {
        return Ok(v.clone());
    }
    let marks = v.marks;
    match (tc, &v.kind) {
        (TypeConstraint::Object(attrs), Kind::Object(m) | Kind::Map(_, m)) => {
            let mut out = BTreeMap::new();
            for (name, a) in attrs {
                match m.get(name) {
                    Some(x) if !x.is_null() => {
                        out.insert(name.clone(), apply_defaults(x, &a.ty)?);
                    }
                    Some(x) if !a.optional => {
                        out.insert(name.clone(), x.clone());
                    }
                    _ if a.optional => {
                        let d = match &a.default {
                            Some(d) => apply_defaults(d, &a.ty)?,
                            None => Value::null(a.ty.to_type()),
                        };
                        out.insert(name.clone(), d);
                    }
                    _ => return Err(format!("attribute \"{name}\" is required")),
                }
            }
            // Extra attributes are dropped by the conversion to the object type.
            Ok(Value::object(out).with_marks(marks))
        }
        (
            TypeConstraint::List(e) | TypeConstraint::Set(e),
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items),
        ) => {
            let items: Result<Vec<_>, _> = items.iter().map(|i| apply_defaults(i, e)).collect();
            Ok(Value::tuple(items?).with_marks(marks))
        }
        (TypeConstraint::Map(e), Kind::Map(_, m) | Kind::Object(m)) => {
            let m: Result<BTreeMap<_, _>, String> = m
                .iter()
                .map(|(k, x)| apply_defaults(x, e).map(|x| (k.clone(), x)))
                .collect();
            Ok(Value::object(m?).with_marks(marks))
        }
        (TypeConstraint::Tuple(ts), Kind::Tuple(items) | Kind::List(_, items))
            if ts.len() == items.len() =>
        {
            let items: Result<Vec<_>, _> = items
                .iter()
                .zip(ts)
                .map(|(i, t)| apply_defaults(i, t))
                .collect();
            Ok(Value::tuple(items?).with_marks(marks))
        }
        _ => Ok(v.clone()),
    }
}

/// The common type of `types` for conditionals and collection literals: `Dynamic` entries
/// (untyped nulls, unknowns) do not constrain it.
pub(crate) fn unify_types(types: &[Type]) -> Option<Type> {
    let concrete: Vec<Type> = types
        .iter()
        .filter(|t| **t != Type::Dynamic)
        .cloned()
        .collect();
    if concrete.is_empty() {
        return Some(Type::Dynamic);
    }
    if concrete.iter().all(|t| *t == concrete[0]) {
        return Some(concrete[0].clone());
    }
    if let Some(t) = convert::unify(&concrete) {
        return Some(t);
    }
    // Primitive unification: anything with a string → string; number+bool do not unify.
    if concrete.iter().all(Type::is_primitive) && concrete.contains(&Type::String) {
        return Some(Type::String);
    }
    None
}

/// Whether `d` is about a reference to something undeclared, which Terraform reports before
/// evaluating anything (so even from a conditional result that is not chosen).
fn is_static(d: &Diagnostic) -> bool {
    d.code.ends_with("undeclared_reference") || d.code.ends_with("undeclared_template_variable")
}

/// Terraform's error for a conditional (or `%{if}`) whose condition is null.
fn null_condition(span: Span) -> Diagnostic {
    error(
        "null_condition",
        "Null condition",
        "The condition value is null. Conditions must either be true or false.",
        span,
    )
}

/// Structural equality for the `==` operator: marks ignored, any null equals only null.
fn lang_equal(a: &Value, b: &Value) -> bool {
    match (&a.kind, &b.kind) {
        (Kind::Null(_), Kind::Null(_)) => true,
        (Kind::Null(_), _) | (_, Kind::Null(_)) => false,
        (Kind::Number(x), Kind::Number(y)) => x == y,
        (Kind::String(x), Kind::String(y)) => x == y,
        (Kind::Bool(x), Kind::Bool(y)) => x == y,
        (Kind::List(_, x), Kind::List(_, y))
        | (Kind::Set(_, x), Kind::Set(_, y))
        | (Kind::Tuple(x), Kind::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| lang_equal(p, q))
        }
        (Kind::Map(_, x), Kind::Map(_, y)) | (Kind::Object(x), Kind::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && lang_equal(v1, v2))
        }
        _ => false,
    }
}

impl<'a> Evaluator<'a> {
    pub fn new(scope: &'a dyn Scope, env: &'a dyn Environment) -> Evaluator<'a> {
        Evaluator {
            scope,
            env,
            diags: Vec::new(),
            locals: Vec::new(),
            splat_items: Vec::new(),
            template_only: false,
            template_depth: 0,
        }
    }

    /// Records `d` and fails (the error itself travels in the diagnostics).
    fn fail<T>(&mut self, d: Diagnostic) -> Result<T, ()> {
        self.diags.push(d);
        Err(())
    }

    fn local(&self, name: &str) -> Option<&Value> {
        self.locals
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    pub fn eval(&mut self, e: &Expr) -> R {
        match &e.kind {
            ExprKind::Literal(v) => Ok(v.clone()),
            ExprKind::Paren(inner) => self.eval(inner),
            ExprKind::Template(parts) => self.template(parts),
            ExprKind::Tuple(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut failed = false;
                for i in items {
                    match self.eval(i) {
                        Ok(v) => out.push(v),
                        Err(()) => failed = true,
                    }
                }
                if failed {
                    Err(())
                } else {
                    Ok(Value::tuple(out))
                }
            }
            ExprKind::Object(items) => self.object(items),
            ExprKind::Variable(name) => self.root(name, &[], e.span),
            ExprKind::Traversal(root, steps) => {
                if let ExprKind::Variable(name) = &root.kind {
                    self.root(name, steps, e.span)
                } else {
                    let v = self.eval(root)?;
                    self.apply_steps(v, steps)
                }
            }
            ExprKind::SplatItem => Ok(self
                .splat_items
                .last()
                .cloned()
                .unwrap_or_else(Value::null_dynamic)),
            ExprKind::Splat { source, each } => self.splat(source, each),
            ExprKind::Call {
                name,
                name_span,
                args,
                expand_final,
            } => self.call(name, *name_span, args, *expand_final, e.span),
            ExprKind::Unary(op, x) => self.unary(*op, x, e.span),
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, e.span),
            ExprKind::Conditional(c, t, f) => self.conditional(c, t, f),
            ExprKind::For(fe) => self.for_expr(fe, e.span),
        }
    }

    fn object(&mut self, items: &[(Expr, Expr)]) -> R {
        let mut out = BTreeMap::new();
        let mut failed = false;
        let mut unknown_key = false;
        let mut key_marks = Marks::NONE;
        for (k, v) in items {
            // `{ (var.x) = 1 }` and `{ "${x}" = 1 }` evaluate; a bare identifier is a literal.
            let key = self.eval(k);
            let val = self.eval(v);
            let (Ok(key), Ok(val)) = (key, val) else {
                failed = true;
                continue;
            };
            if !key.is_known() {
                unknown_key = true;
                continue;
            }
            key_marks = key_marks.union(key.marks);
            let Some(ks) = (!key.is_null()).then(|| prim_to_string(&key)).flatten() else {
                self.diags.push(error(
                    "invalid_key",
                    "Invalid object key",
                    if key.is_null() {
                        "An object key cannot be null.".to_string()
                    } else {
                        format!(
                            "An object key must be a string, not {}.",
                            describe(&key.ty())
                        )
                    },
                    k.span,
                ));
                failed = true;
                continue;
            };
            // As in Terraform, a repeated key takes the last value.
            out.insert(ks, val);
        }
        if failed {
            return Err(());
        }
        if unknown_key {
            return Ok(unknown(Type::Dynamic, key_marks));
        }
        Ok(Value::object(out).with_marks(key_marks))
    }

    /// Resolves a reference rooted at `name` and applies the remaining steps.
    fn root(&mut self, name: &str, steps: &[Step], span: Span) -> R {
        if let Some(v) = self.local(name).cloned() {
            return self.apply_steps(v, steps);
        }
        if self.template_only {
            let names: Vec<&str> = self.locals.iter().map(|(n, _)| n.as_str()).collect();
            let help =
                did_you_mean(name, names.iter().copied()).map(|s| format!("Did you mean `{s}`?"));
            return self.fail(
                error(
                    "undeclared_template_variable",
                    "Unknown template variable",
                    format!("The template refers to \"{name}\", which is not among the variables passed to templatefile."),
                    span,
                )
                .help_opt(help),
            );
        }
        let attr = |i: usize| match steps.get(i) {
            Some(Step::Attr(a, _)) => Some(a.as_str()),
            _ => None,
        };
        let (reference, used) = match name {
            "var" | "local" | "module" | "each" | "count" | "path" => {
                let Some(a) = attr(0) else {
                    return self.fail(error(
                        "invalid_reference",
                        "Invalid reference",
                        format!(
                            "The \"{name}\" object cannot be used on its own; write {name}.NAME."
                        ),
                        span,
                    ));
                };
                let r = match (name, a) {
                    ("var", a) => Reference::Variable(a.into()),
                    ("local", a) => Reference::Local(a.into()),
                    ("module", a) => Reference::Module(a.into()),
                    ("each", "key") => Reference::EachKey,
                    ("each", "value") => Reference::EachValue,
                    ("count", "index") => Reference::CountIndex,
                    ("path", "module") => Reference::PathModule,
                    ("path", "root") => Reference::PathRoot,
                    ("path", "cwd") => Reference::PathCwd,
                    _ => {
                        return self.fail(error(
                            "invalid_reference",
                            "Invalid reference",
                            format!("\"{name}.{a}\" is not a valid reference."),
                            span,
                        ));
                    }
                };
                (r, 1)
            }
            "data" => match (attr(0), attr(1)) {
                (Some(t), Some(n)) => (
                    Reference::Data {
                        type_name: t.into(),
                        name: n.into(),
                    },
                    2,
                ),
                _ => {
                    return self.fail(error(
                        "invalid_reference",
                        "Invalid reference",
                        "A data source reference needs a type and a name: data.TYPE.NAME.",
                        span,
                    ));
                }
            },
            "self" => (Reference::SelfObject, 0),
            "terraform" => {
                return self.fail(error(
                    "invalid_reference",
                    "Invalid reference",
                    "brick has no terraform.* values; use brick's own settings instead.",
                    span,
                ));
            }
            t => match attr(0) {
                Some(n) => (
                    Reference::Resource {
                        type_name: t.into(),
                        name: n.into(),
                    },
                    1,
                ),
                None => {
                    return self.fail(error(
                        "invalid_reference",
                        "Invalid reference",
                        format!("A reference to a resource type must be followed by at least one attribute access, specifying the resource name; \"{t}\" alone is not a value."),
                        span,
                    ));
                }
            },
        };
        let rest = &steps[used..];
        let attrs: Vec<&str> = rest
            .iter()
            .map_while(|s| match s {
                Step::Attr(a, _) => Some(a.as_str()),
                Step::Index(_) => None,
            })
            .collect();
        match self.scope.get_path(&reference, &attrs) {
            Some((v, followed)) => self.apply_steps(v, &rest[followed.min(rest.len())..]),
            None => {
                // Terraform's summaries name what kind of thing is missing.
                let summary = match &reference {
                    Reference::Variable(_) => "Reference to undeclared input variable",
                    Reference::Local(_) => "Reference to undeclared local value",
                    Reference::Resource { .. } | Reference::Data { .. } => {
                        "Reference to undeclared resource"
                    }
                    Reference::Module(_) => "Reference to undeclared module",
                    _ => "Reference to undeclared value",
                };
                self.fail(error(
                    "undeclared_reference",
                    summary,
                    format!(
                        "{} is not declared or not available here.",
                        reference_text(&reference)
                    ),
                    span,
                ))
            }
        }
    }

    pub(crate) fn apply_steps(&mut self, mut v: Value, steps: &[Step]) -> R {
        for s in steps {
            v = match s {
                Step::Attr(name, span) => self.get_attr(v, name, *span)?,
                Step::Index(ix) => {
                    let key = self.eval(ix)?;
                    self.index(v, key, ix.span)?
                }
            };
        }
        Ok(v)
    }

    fn get_attr(&mut self, v: Value, name: &str, span: Span) -> R {
        let marks = v.marks;
        match &v.kind {
            Kind::Unknown(ty) => {
                let t = match ty {
                    Type::Object(attrs) => match attrs.get(name) {
                        Some(t) => t.clone(),
                        None => return self.no_attr(ty, name, span),
                    },
                    Type::Map(e) => (**e).clone(),
                    _ => Type::Dynamic,
                };
                Ok(unknown(t, marks))
            }
            Kind::Null(_) => self.fail(error(
                "null_value",
                "Attempt to get attribute from null value",
                format!("This value is null, so it does not have an attribute named \"{name}\"."),
                span,
            )),
            Kind::Object(m) => match m.get(name) {
                Some(x) => Ok(x.clone().with_marks(marks)),
                None => {
                    let ty = v.ty();
                    self.no_attr(&ty, name, span)
                }
            },
            Kind::Map(_, m) => match m.get(name) {
                Some(x) => Ok(x.clone().with_marks(marks)),
                None => self.fail(error(
                    "missing_key",
                    "Missing map element",
                    format!("This map does not have an element with the key \"{name}\"."),
                    span,
                )),
            },
            Kind::List(..) | Kind::Tuple(_) | Kind::Set(..) => self.fail(error(
                "unsupported_attribute",
                "Unsupported attribute",
                format!("This value is {}, which does not have attributes; to get \"{name}\" from each element use a splat: [*].{name}.", describe(&v.ty())),
                span,
            )),
            _ => self.fail(error(
                "unsupported_attribute",
                "Unsupported attribute",
                format!("Can't access attributes on a primitive-typed value ({}).", v.ty()),
                span,
            )),
        }
    }

    fn no_attr(&mut self, ty: &Type, name: &str, span: Span) -> R {
        let help = match ty {
            Type::Object(attrs) => did_you_mean(name, attrs.keys().map(String::as_str))
                .map(|s| format!("Did you mean `{s}`?")),
            _ => None,
        };
        self.fail(
            error(
                "unsupported_attribute",
                "Unsupported attribute",
                format!("This object does not have an attribute named \"{name}\"."),
                span,
            )
            .help_opt(help),
        )
    }

    fn index(&mut self, v: Value, key: Value, span: Span) -> R {
        let marks = v.marks.union(key.marks);
        if key.is_null() {
            return self.fail(error(
                "invalid_index",
                "Invalid index",
                "Can't use a null value as an indexing key.",
                span,
            ));
        }
        match &v.kind {
            Kind::Null(_) => self.fail(error(
                "null_value",
                "Attempt to index null value",
                "This value is null, so it does not have any indices.",
                span,
            )),
            Kind::Unknown(ty) => {
                let t = match ty {
                    Type::List(e) | Type::Map(e) => (**e).clone(),
                    _ => Type::Dynamic,
                };
                Ok(unknown(t, marks))
            }
            Kind::List(_, items) | Kind::Tuple(items) => {
                let ety = match &v.kind {
                    Kind::List(t, _) => t.clone(),
                    _ => Type::Dynamic,
                };
                if !key.is_known() {
                    return Ok(unknown(ety, marks));
                }
                let _ = ety;
                let Some(n) = prim_to_number(&key) else {
                    return self.fail(error(
                        "invalid_index",
                        "Invalid index",
                        format!("The index of a list or tuple must be a number, not {}.", describe(&key.ty())),
                        span,
                    ));
                };
                let idx = n.to_i64().filter(|i| *i >= 0).map(|i| i as usize);
                match idx.and_then(|i| items.get(i)) {
                    Some(x) => Ok(x.clone().with_marks(marks)),
                    None => self.fail(error(
                        "invalid_index",
                        "Invalid index",
                        if !n.is_integer() {
                            "The given key does not identify an element in this collection value: indexing a sequence requires a whole number, but the given index has a fractional part.".to_string()
                        } else if n.is_negative() {
                            "The given key does not identify an element in this collection value: a negative number is not a valid index for a sequence.".to_string()
                        } else if n.to_i64().is_some() {
                            format!("The given key does not identify an element in this collection value: the given index ({n}) is greater than or equal to the length of the collection ({}).", items.len())
                        } else {
                            "The given key does not identify an element in this collection value.".to_string()
                        },
                        span,
                    )),
                }
            }
            Kind::Map(_, m) | Kind::Object(m) => {
                if !key.is_known() {
                    let t = match &v.kind {
                        Kind::Map(t, _) => t.clone(),
                        _ => Type::Dynamic,
                    };
                    return Ok(unknown(t, marks));
                }
                let Some(k) = prim_to_string(&key) else {
                    return self.fail(error(
                        "invalid_index",
                        "Invalid index",
                        format!("The key of a map or object must be a string, not {}.", describe(&key.ty())),
                        span,
                    ));
                };
                // As in Terraform, a marked key selecting an object attribute leaves its marks
                // behind (`{a = 1}[sensitive("a")]` is 1); a map element takes them.
                let marks = if matches!(v.kind, Kind::Object(_)) {
                    v.marks
                } else {
                    marks
                };
                match m.get(&k) {
                    Some(x) => Ok(x.clone().with_marks(marks)),
                    None => {
                        let help = did_you_mean(&k, m.keys().map(String::as_str))
                            .map(|s| format!("Did you mean \"{s}\"?"));
                        self.fail(
                            error(
                                "invalid_index",
                                "Invalid index",
                                format!("The given key \"{k}\" does not identify an element in this collection value."),
                                span,
                            )
                            .help_opt(help),
                        )
                    }
                }
            }
            Kind::Set(..) => self.fail(error(
                "invalid_index",
                "Invalid index",
                "Elements of a set are identified only by their value and don't have any separate index or key to select with, so it's only possible to perform operations across all elements of the set.",
                span,
            ).help("Convert it with tolist() first, or use a for expression.")),
            _ => self.fail(error(
                "invalid_index",
                "Invalid index",
                format!("This value is {}, which does not have any indices.", describe(&v.ty())),
                span,
            )),
        }
    }

    fn splat(&mut self, source: &Expr, each: &Expr) -> R {
        let src = self.eval(source)?;
        let marks = src.marks;
        let (items, is_list) = match &src.kind {
            // A null list, set or tuple cannot be splatted; any other null splats to [].
            Kind::Null(Type::List(_) | Type::Set(_) | Type::Tuple(_)) => {
                return self.fail(error(
                    "splat_null",
                    "Splat of null value",
                    "Splat expressions (with the * symbol) cannot be applied to null sequences.",
                    source.span,
                ));
            }
            Kind::Null(_) => return Ok(Value::tuple(Vec::new()).with_marks(marks)),
            Kind::Unknown(_) => return Ok(unknown(Type::Dynamic, marks)),
            Kind::List(_, items) | Kind::Set(_, items) => (items.clone(), true),
            Kind::Tuple(items) => (items.clone(), false),
            _ => (vec![src.unmarked()], false),
        };
        let mut out = Vec::with_capacity(items.len());
        let mut failed = false;
        for it in items {
            self.splat_items.push(it);
            let r = self.eval(each);
            self.splat_items.pop();
            match r {
                Ok(v) => out.push(v),
                Err(()) => failed = true,
            }
        }
        if failed {
            return Err(());
        }
        if is_list {
            let types: Vec<Type> = out.iter().map(Value::ty).collect();
            if let Some(t) = types.first().filter(|t| types.iter().all(|x| x == *t)) {
                return Ok(Value::list(t.clone(), out).with_marks(marks));
            }
            if out.is_empty() {
                return Ok(Value::list(Type::Dynamic, out).with_marks(marks));
            }
        }
        Ok(Value::tuple(out).with_marks(marks))
    }

    pub(crate) fn template(&mut self, parts: &[TemplatePart]) -> R {
        // "${x}" alone yields x itself, unconverted.
        if let [TemplatePart::Interpolation(e)] = parts {
            return self.eval(e);
        }
        let mut s = String::new();
        let mut marks = Marks::NONE;
        let mut is_unknown = false;
        self.template_into(parts, &mut s, &mut marks, &mut is_unknown)?;
        if is_unknown {
            return Ok(unknown(Type::String, marks));
        }
        Ok(Value::string(s).with_marks(marks))
    }

    fn template_into(
        &mut self,
        parts: &[TemplatePart],
        out: &mut String,
        marks: &mut Marks,
        is_unknown: &mut bool,
    ) -> Result<(), ()> {
        for p in parts {
            match p {
                TemplatePart::Literal(l) => out.push_str(l),
                TemplatePart::Interpolation(e) => {
                    let v = self.eval(e)?;
                    let (v, m) = shallow_marks(&v);
                    *marks = marks.union(m);
                    if !v.is_known() {
                        *is_unknown = true;
                        continue;
                    }
                    if v.is_null() {
                        return self.fail(error(
                            "invalid_template_value",
                            "Invalid template interpolation value",
                            "The expression result is null. Cannot include a null value in a string template.",
                            e.span,
                        ));
                    }
                    match prim_to_string(&v).filter(|_| !m.contains(Marks::TYPE)) {
                        Some(s) => out.push_str(&s),
                        None => {
                            let have = if m.contains(Marks::TYPE) {
                                "type".to_string()
                            } else {
                                convert::friendly(&v.ty())
                            };
                            return self.fail(error(
                                "invalid_template_value",
                                "Invalid template interpolation value",
                                format!("Cannot include the given value in a string template: string required, but have {have}."),
                                e.span,
                            ));
                        }
                    }
                }
                TemplatePart::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    let c = self.eval(cond)?;
                    *marks = marks.union(c.marks);
                    if !c.is_known() {
                        *is_unknown = true;
                        continue;
                    }
                    match prim_to_bool(&c) {
                        Some(true) => self.template_into(then, out, marks, is_unknown)?,
                        Some(false) => self.template_into(otherwise, out, marks, is_unknown)?,
                        // Terraform's `%{if}` is a conditional expression, with its errors.
                        None if c.is_null() => return self.fail(null_condition(cond.span)),
                        None => {
                            return self.fail(error(
                                "invalid_condition",
                                "Incorrect condition type",
                                format!(
                                    "The condition expression must be a bool, not {}.",
                                    describe(&c.ty())
                                ),
                                cond.span,
                            ));
                        }
                    }
                }
                TemplatePart::For {
                    key_var,
                    value_var,
                    collection,
                    body,
                } => {
                    let c = self.eval(collection)?;
                    *marks = marks.union(c.marks);
                    if !c.is_known() {
                        *is_unknown = true;
                        continue;
                    }
                    let Some(pairs) = self.iterate(&c, collection.span)? else {
                        *is_unknown = true;
                        continue;
                    };
                    for (k, v) in pairs {
                        let n = self.locals.len();
                        if let Some(kv) = key_var {
                            self.locals.push((kv.clone(), k));
                        }
                        self.locals.push((value_var.clone(), v));
                        let r = self.template_into(body, out, marks, is_unknown);
                        self.locals.truncate(n);
                        r?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The (key, value) pairs of a collection for `for`: index/value for sequences,
    /// value/value for sets, key/value for maps and objects. `Ok(None)` when unknown.
    fn iterate(&mut self, c: &Value, span: Span) -> Result<Option<Vec<(Value, Value)>>, ()> {
        let marks = c.marks;
        match &c.kind {
            Kind::Unknown(ty) if !ty.is_primitive() => Ok(None),
            Kind::Null(_) => self.fail(error(
                "null_value",
                "Iteration over null value",
                "A null value cannot be used as the collection in a 'for' expression.",
                span,
            )),
            Kind::List(_, items) | Kind::Tuple(items) => Ok(Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (Value::number(i), v.clone().with_marks(marks)))
                    .collect(),
            )),
            Kind::Set(_, items) => Ok(Some(
                items
                    .iter()
                    .map(|v| (v.clone().with_marks(marks), v.clone().with_marks(marks)))
                    .collect(),
            )),
            Kind::Map(_, m) | Kind::Object(m) => Ok(Some(
                m.iter()
                    .map(|(k, v)| {
                        (
                            Value::string(k.clone()).with_marks(marks),
                            v.clone().with_marks(marks),
                        )
                    })
                    .collect(),
            )),
            _ => self.fail(error(
                "iteration_over_non_collection",
                "Iteration over non-iterable value",
                format!(
                    "A value of type {} cannot be used as the collection in a 'for' expression.",
                    c.ty()
                ),
                span,
            )),
        }
    }

    fn for_expr(&mut self, fe: &ForExpr, span: Span) -> R {
        let c = self.eval(&fe.collection)?;
        let marks = c.marks;
        let Some(pairs) = self.iterate(&c, fe.collection.span)? else {
            return Ok(unknown(Type::Dynamic, marks));
        };
        let mut tuple = Vec::new();
        let mut obj: BTreeMap<String, Value> = BTreeMap::new();
        let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut any_unknown = false;
        let mut out_marks = marks;
        for (k, v) in pairs {
            let n = self.locals.len();
            if let Some(kv) = &fe.key_var {
                self.locals.push((kv.clone(), k));
            }
            self.locals.push((fe.value_var.clone(), v));
            let r = self.for_element(
                fe,
                &mut tuple,
                &mut obj,
                &mut groups,
                &mut any_unknown,
                &mut out_marks,
            );
            self.locals.truncate(n);
            r?;
        }
        if any_unknown {
            return Ok(unknown(Type::Dynamic, out_marks));
        }
        let _ = span;
        if fe.key.is_some() {
            if fe.grouping {
                let m = groups
                    .into_iter()
                    .map(|(k, vs)| (k, Value::tuple(vs)))
                    .collect();
                Ok(Value::object(m).with_marks(out_marks))
            } else {
                Ok(Value::object(obj).with_marks(out_marks))
            }
        } else {
            Ok(Value::tuple(tuple).with_marks(out_marks))
        }
    }

    fn for_element(
        &mut self,
        fe: &ForExpr,
        tuple: &mut Vec<Value>,
        obj: &mut BTreeMap<String, Value>,
        groups: &mut BTreeMap<String, Vec<Value>>,
        any_unknown: &mut bool,
        out_marks: &mut Marks,
    ) -> Result<(), ()> {
        if let Some(cond) = &fe.cond {
            let c = self.eval(cond)?;
            if !c.is_known() {
                *any_unknown = true;
                return Ok(());
            }
            *out_marks = out_marks.union(c.marks);
            match prim_to_bool(&c) {
                Some(true) => {}
                Some(false) => return Ok(()),
                None => {
                    return self.fail(error(
                        "invalid_condition",
                        "Invalid 'for' condition",
                        format!(
                            "The 'if' clause value must be a bool, not {}.",
                            if c.is_null() {
                                "null".into()
                            } else {
                                describe(&c.ty())
                            }
                        ),
                        cond.span,
                    ));
                }
            }
        }
        match &fe.key {
            None => {
                let v = self.eval(&fe.value)?;
                tuple.push(v);
            }
            Some(ke) => {
                let k = self.eval(ke)?;
                let v = self.eval(&fe.value)?;
                if !k.is_known() {
                    *any_unknown = true;
                    return Ok(());
                }
                *out_marks = out_marks.union(k.marks);
                let Some(ks) = (!k.is_null()).then(|| prim_to_string(&k)).flatten() else {
                    return self.fail(error(
                        "invalid_key",
                        "Invalid object key",
                        "The key expression produced a value that is null or not a string.",
                        ke.span,
                    ));
                };
                if fe.grouping {
                    groups.entry(ks).or_default().push(v);
                } else if let std::collections::btree_map::Entry::Vacant(slot) =
                    obj.entry(ks.clone())
                {
                    slot.insert(v);
                } else {
                    return self.fail(error(
                        "duplicate_key",
                        "Duplicate object key",
                        format!("Two different items produced the key \"{ks}\" in this 'for' expression. If duplicates are expected, use the ellipsis (...) after the value expression to enable grouping by key."),
                        ke.span,
                    ));
                }
            }
        }
        Ok(())
    }

    fn unary(&mut self, op: UnaryOp, x: &Expr, span: Span) -> R {
        let v = self.eval(x)?;
        let marks = v.marks;
        let want = match op {
            UnaryOp::Neg => Type::Number,
            UnaryOp::Not => Type::Bool,
        };
        let Some(v) = self.operand(&v, &want, Side::Unary, span)? else {
            return Ok(unknown(want, marks));
        };
        Ok(match op {
            UnaryOp::Neg => {
                Value::number(v.as_number().cloned().unwrap_or_else(Number::zero).neg())
            }
            UnaryOp::Not => Value::bool(!is_true(&v)),
        }
        .with_marks(marks))
    }

    fn binary(&mut self, op: BinaryOp, a: &Expr, b: &Expr, span: Span) -> R {
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            return self.logical(op, a, b, span);
        }
        let l = self.eval(a);
        let r = self.eval(b);
        let (l, r) = (l?, r?);
        self.binary_values(op, l, r, a, b, span)
    }

    /// `&&` and `||` as Terraform's (HCL's): an operand that decides the result (`true` for
    /// `||`, `false` for `&&`) makes the other operand's errors moot, on either side
    /// (`error || true` is true).
    fn logical(&mut self, op: BinaryOp, a: &Expr, b: &Expr, span: Span) -> R {
        let decisive = op == BinaryOp::Or;
        let before = self.diags.len();
        let l = self.eval(a);
        let l_diags = self.diags.split_off(before);
        let r = self.eval(b);
        let r_diags = self.diags.split_off(before);
        let decides = |v: &R, d: &[Diagnostic]| {
            !d.iter().any(Diagnostic::is_error)
                && matches!(v, Ok(x) if x.is_known() && !x.is_null()
                    && prim_to_bool(&x.unmarked()) == Some(decisive))
        };
        let failed = |v: &R, d: &[Diagnostic]| v.is_err() || d.iter().any(Diagnostic::is_error);
        let static_errors = l_diags
            .iter()
            .chain(&r_diags)
            .any(|d| is_static(d) && d.is_error());
        if decides(&l, &l_diags) && failed(&r, &r_diags) && !static_errors {
            self.diags.extend(l_diags);
            return l.map(|v| Value::bool(decisive).with_marks(v.marks));
        }
        if decides(&r, &r_diags) && failed(&l, &l_diags) && !static_errors {
            self.diags.extend(r_diags);
            return r.map(|v| Value::bool(decisive).with_marks(v.marks));
        }
        self.diags.extend(l_diags);
        self.diags.extend(r_diags);
        let (l, r) = (l?, r?);
        self.binary_values(op, l, r, a, b, span)
    }

    fn binary_values(
        &mut self,
        op: BinaryOp,
        l: Value,
        r: Value,
        a: &Expr,
        b: &Expr,
        span: Span,
    ) -> R {
        let marks = l.marks.union(r.marks);
        match op {
            BinaryOp::Eq | BinaryOp::NotEq => {
                let (lu, lm) = l.unmark_deep();
                let (ru, rm) = r.unmark_deep();
                let marks = lm.union(rm);
                if !lu.is_wholly_known() || !ru.is_wholly_known() {
                    // A known null never equals an unknown non-null… but the type may be
                    // anything, so the result is unknown.
                    return Ok(unknown(Type::Bool, marks));
                }
                let eq = lang_equal(&lu, &ru);
                Ok(Value::bool(if op == BinaryOp::Eq { eq } else { !eq }).with_marks(marks))
            }
            BinaryOp::And | BinaryOp::Or => {
                let decisive = op == BinaryOp::Or;
                // Operands must be bools (or null); then HCL short-circuits: `true || x` is
                // true, and `&&` with a false *or null* operand is false. Any other null is
                // an error.
                let lb = self.logical_operand(&l, Side::Left, a.span);
                let rb = self.logical_operand(&r, Side::Right, b.span);
                let (lb, rb) = (lb?, rb?);
                let short = |x: Logical| match x {
                    Logical::Known(v) => v == decisive,
                    Logical::Null => !decisive,
                    Logical::Unknown => false,
                };
                if short(lb) || short(rb) {
                    return Ok(Value::bool(decisive).with_marks(marks));
                }
                match (lb, rb) {
                    (Logical::Known(x), Logical::Known(y)) => {
                        Ok(Value::bool(if decisive { x || y } else { x && y }).with_marks(marks))
                    }
                    (Logical::Null, _) | (_, Logical::Null) => self.fail(error(
                        "operation_failed",
                        "Operation failed",
                        "Error during operation: argument must not be null.",
                        if lb == Logical::Null { a.span } else { b.span },
                    )),
                    _ => Ok(unknown(Type::Bool, marks)),
                }
            }
            _ => {
                let x = self.operand_number(&l, Side::Left, a.span);
                let y = self.operand_number(&r, Side::Right, b.span);
                let (x, y) = (x?, y?);
                let result_ty = match op {
                    BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq => Type::Bool,
                    _ => Type::Number,
                };
                let (Some(x), Some(y)) = (x, y) else {
                    return Ok(unknown(result_ty, marks));
                };
                let v = match op {
                    BinaryOp::Lt => Value::bool(x < y),
                    BinaryOp::LtEq => Value::bool(x <= y),
                    BinaryOp::Gt => Value::bool(x > y),
                    BinaryOp::GtEq => Value::bool(x >= y),
                    _ => match arithmetic(op, &x, &y) {
                        Ok(n) => Value::number(n),
                        Err(e) => {
                            return self.fail(error(
                                "operation_failed",
                                "Operation failed",
                                format!("Error during operation: {e}."),
                                span,
                            ));
                        }
                    },
                };
                Ok(v.with_marks(marks))
            }
        }
    }

    /// An operand converted to `want` (number or bool) as Terraform's operators convert
    /// them: `None` when unknown; a null or unsuitable operand is an error naming its side.
    fn operand(
        &mut self,
        v: &Value,
        want: &Type,
        side: Side,
        span: Span,
    ) -> Result<Option<Value>, ()> {
        if !v.is_known() {
            return Ok(None);
        }
        if v.is_null() {
            return self.fail(error(
                "operation_failed",
                "Operation failed",
                "Error during operation: argument must not be null.",
                span,
            ));
        }
        match convert_value(&v.unmarked(), want) {
            Ok(c) => Ok(Some(c)),
            Err(e) => self.fail(error(
                "invalid_operand",
                "Invalid operand",
                format!("Unsuitable value for {} operand: {}.", side.name(), e),
                span,
            )),
        }
    }

    /// An operand of `&&` or `||`: a bool, null or unknown; anything else is an error.
    fn logical_operand(&mut self, v: &Value, side: Side, span: Span) -> Result<Logical, ()> {
        if v.is_null() {
            return Ok(Logical::Null);
        }
        Ok(match self.operand(v, &Type::Bool, side, span)? {
            Some(b) => Logical::Known(is_true(&b)),
            None => Logical::Unknown,
        })
    }

    fn operand_number(&mut self, v: &Value, side: Side, span: Span) -> Result<Option<Number>, ()> {
        Ok(self
            .operand(v, &Type::Number, side, span)?
            .and_then(|n| n.as_number().cloned()))
    }

    /// A conditional as Terraform's (HCL's): both results are evaluated and their types
    /// unified before the condition is; the errors of the result not chosen are dropped (so
    /// `false ? tonumber("x") : 1` is 1); the result carries the marks of the condition and
    /// of both results (`true ? "a" : sensitive("b")` is sensitive).
    fn conditional(&mut self, c: &Expr, t: &Expr, f: &Expr) -> R {
        let before = self.diags.len();
        let tv = self.eval(t);
        let t_diags = self.diags.split_off(before);
        let fv = self.eval(f);
        let f_diags = self.diags.split_off(before);
        let failed = |r: &R, d: &[Diagnostic]| r.is_err() || d.iter().any(Diagnostic::is_error);
        let (t_failed, f_failed) = (failed(&tv, &t_diags), failed(&fv, &f_diags));
        // A result that failed is unknown of any type: it takes no part in unification.
        let tv = tv.unwrap_or_else(|()| Value::unknown(Type::Dynamic));
        let fv = fv.unwrap_or_else(|()| Value::unknown(Type::Dynamic));
        let ty = match unify_types(&[tv.ty(), fv.ty()]) {
            Some(ty) => ty,
            None => {
                return self.fail(error(
                    "inconsistent_types",
                    "Inconsistent conditional result types",
                    format!(
                        "The true and false result expressions must have consistent types: the true result is {} and the false result is {}.",
                        describe(&tv.ty()),
                        describe(&fv.ty())
                    ),
                    t.span.to(f.span),
                ));
            }
        };
        let cv = self.eval(c)?;
        let cond = if cv.is_known() {
            match prim_to_bool(&cv) {
                Some(b) => Some(b),
                None if cv.is_null() => return self.fail(null_condition(c.span)),
                None => {
                    return self.fail(error(
                        "invalid_condition",
                        "Incorrect condition type",
                        format!(
                            "The condition expression must be a bool, not {}.",
                            describe(&cv.ty())
                        ),
                        c.span,
                    ));
                }
            }
        } else {
            None
        };
        let marks = cv.marks.union(tv.marks).union(fv.marks);
        let (pick, other) = match cond {
            None => {
                self.diags
                    .extend(t_diags.into_iter().chain(f_diags).filter(is_static));
                if self.diags[before..].iter().any(Diagnostic::is_error) {
                    return Err(());
                }
                return Ok(unknown(ty, marks));
            }
            Some(true) => ((tv, t_diags, t_failed), f_diags),
            Some(false) => ((fv, f_diags, f_failed), t_diags),
        };
        // References to undeclared names are errors whichever result is chosen: Terraform
        // checks references before it evaluates.
        let static_errors = other.iter().any(|d| is_static(d) && d.is_error());
        self.diags.extend(other.into_iter().filter(is_static));
        if static_errors {
            return Err(());
        }
        self.diags.extend(pick.1);
        if pick.2 {
            return Err(());
        }
        let (span, side) = if cond == Some(true) {
            (t.span, "true")
        } else {
            (f.span, "false")
        };
        match convert_value(&pick.0, &ty) {
            Ok(v) => Ok(v.with_marks(marks)),
            // The unified type may need a conversion that fails for this value (Terraform
            // unifies allowing those), as `false ? toset([1]) : ["a"]`.
            Err(e) => self.fail(error(
                "inconsistent_types",
                "Inconsistent conditional result types",
                format!("The {side} result value has the wrong type: {e}."),
                span,
            )),
        }
    }

    fn call(&mut self, name: &str, name_span: Span, args: &[Expr], expand: bool, span: Span) -> R {
        match name {
            "try" => return self.call_try(args, span),
            "can" => return self.call_can(args, span),
            "type" => {
                let [a] = args else {
                    return self.arity(name, 1, args.len(), span);
                };
                let v = self.eval(a)?;
                // Terraform's console-only `type`: a type description smuggled to the console
                // by the TYPE mark; `type(type(x))` is `type`.
                let text = if v.marks.contains(Marks::TYPE) {
                    "type".to_string()
                } else {
                    type_expression(&v.ty())
                };
                return Ok(Value::string(text).with_marks(Marks::TYPE));
            }
            "templatefile" => return self.call_templatefile(args, span),
            _ => {}
        }
        let mut vals = Vec::with_capacity(args.len());
        let mut failed = false;
        for a in args {
            match self.eval(a) {
                Ok(v) => vals.push(v),
                Err(()) => failed = true,
            }
        }
        if failed {
            return Err(());
        }
        if expand {
            let last = vals.pop().unwrap_or_else(Value::null_dynamic);
            match last.as_sequence() {
                Some(items) => vals.extend(items.iter().map(|i| i.clone().with_marks(last.marks))),
                None if !last.is_known() => return Ok(unknown(Type::Dynamic, last.marks)),
                None => {
                    return self.fail(error(
                        "invalid_expansion",
                        "Invalid expanding argument value",
                        "The expanding argument (indicated by ...) must be of a tuple, list, or set type.",
                        args.last().map(|a| a.span).unwrap_or(span),
                    ));
                }
            }
        }
        match functions::call(name, vals, self.env) {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => {
                let at = e
                    .arg
                    .and_then(|i| args.get(i))
                    .map(|a| a.span)
                    .unwrap_or(span);
                // A wrong number of arguments has Terraform's own summaries.
                if e.message
                    .starts_with(&format!("Function \"{name}\" expects"))
                {
                    let summary = if e.message.contains("Missing value for") {
                        "Not enough function arguments"
                    } else {
                        "Too many function arguments"
                    };
                    return self.fail(error("wrong_arguments", summary, e.message, at));
                }
                // Terraform reports a bad argument (cty's ArgError) on its own, without the
                // "Call to function … failed" prefix.
                if e.arg.is_some() && e.message.starts_with("Invalid value for \"") {
                    return self.fail(error(
                        "invalid_function_argument",
                        "Invalid function argument",
                        e.message,
                        at,
                    ));
                }
                self.fail(error(
                    "function_error",
                    "Error in function call",
                    format!(
                        "Call to function \"{name}\" failed: {}.",
                        e.message.trim_end_matches('.')
                    ),
                    at,
                ))
            }
            None => {
                let mut names: Vec<&str> = functions::names().to_vec();
                names.extend(["try", "can", "type", "templatefile"]);
                let help = did_you_mean(name, names.iter().copied())
                    .map(|s| format!("Did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        "See the list of built-in functions in brick's documentation.".into()
                    });
                self.fail(
                    error(
                        "unknown_function",
                        "Call to unknown function",
                        format!("There is no function named \"{name}\"."),
                        name_span,
                    )
                    .help(help),
                )
            }
        }
    }

    fn arity(&mut self, name: &str, want: usize, got: usize, span: Span) -> R {
        self.fail(error(
            "wrong_arguments",
            "Wrong number of arguments",
            format!("Function \"{name}\" expects {want} argument(s), but {got} were given."),
            span,
        ))
    }

    fn call_try(&mut self, args: &[Expr], span: Span) -> R {
        if args.is_empty() {
            return self.fail(error(
                "wrong_arguments",
                "Wrong number of arguments",
                "Function \"try\" needs at least one argument.",
                span,
            ));
        }
        for a in args {
            let before = self.diags.len();
            let r = self.eval(a);
            let errored = r.is_err() || self.diags[before..].iter().any(Diagnostic::is_error);
            if !errored {
                let v = r.unwrap_or_else(|()| Value::null_dynamic());
                // An unknown result might still fail later: the whole try is unknown.
                if !v.is_known() {
                    return Ok(unknown(Type::Dynamic, v.marks));
                }
                return Ok(v);
            }
            self.diags.truncate(before);
        }
        self.fail(error(
            "function_error",
            "Error in function call",
            "Call to function \"try\" failed: no expression succeeded.",
            span,
        ))
    }

    fn call_can(&mut self, args: &[Expr], span: Span) -> R {
        let [a] = args else {
            return self.arity("can", 1, args.len(), span);
        };
        let before = self.diags.len();
        let r = self.eval(a);
        let errored = r.is_err() || self.diags[before..].iter().any(Diagnostic::is_error);
        self.diags.truncate(before);
        match r {
            Ok(v) if !errored && !v.is_wholly_known() => Ok(unknown(Type::Bool, Marks::NONE)),
            _ => Ok(Value::bool(!errored)),
        }
    }

    fn call_templatefile(&mut self, args: &[Expr], span: Span) -> R {
        let [p, vars] = args else {
            return self.arity("templatefile", 2, args.len(), span);
        };
        let pv = self.eval(p)?;
        let vv = self.eval(vars)?;
        if !pv.is_known() || !vv.is_wholly_known() {
            return Ok(unknown(Type::String, pv.marks.union(vv.marks)));
        }
        let Some(path) = pv.as_str() else {
            return self.fail(error(
                "function_error",
                "Error in function call",
                "Call to function \"templatefile\" failed: the path must be a string.",
                p.span,
            ));
        };
        let Some(map) = vv.as_mapping() else {
            return self.fail(error("function_error", "Error in function call", "Call to function \"templatefile\" failed: the variables must be given as a map or object.", vars.span));
        };
        if self.template_depth > 8 {
            return self.fail(error("function_error", "Error in function call", "Call to function \"templatefile\" failed: templates call templatefile recursively too deeply.", span));
        }
        let path_buf = match super::functions::filesystem::resolve(path, self.env) {
            Ok(p) => p,
            Err(e) => {
                return self.fail(error(
                    "function_error",
                    "Error in function call",
                    format!("Call to function \"templatefile\" failed: {}", e.message),
                    p.span,
                ));
            }
        };
        let bytes = match self.env.read_file(&path_buf) {
            Ok(b) => b,
            Err(e) => {
                return self.fail(error(
                    "function_error",
                    "Error in function call",
                    format!(
                        "Call to function \"templatefile\" failed: no file exists at {path}: {e}."
                    ),
                    p.span,
                ));
            }
        };
        let Ok(text) = String::from_utf8(bytes) else {
            return self.fail(error("function_error", "Error in function call", format!("Call to function \"templatefile\" failed: the file at {path} is not valid UTF-8."), p.span));
        };
        let (parts, diags) = crate::config::syntax::parse_template(&text, span.file);
        let Some(parts) = parts else {
            let detail = diags.first().map(|d| d.detail.clone()).unwrap_or_default();
            return self.fail(error(
                "function_error",
                "Error in function call",
                format!("Call to function \"templatefile\" failed: the template {path} has a syntax error: {detail}"),
                span,
            ));
        };
        let mut sub = Evaluator::new(&super::EmptyScope, self.env);
        sub.template_only = true;
        sub.template_depth = self.template_depth + 1;
        sub.locals = map
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().with_marks(vv.marks)))
            .collect();
        let r = sub.template(&parts);
        let inner = std::mem::take(&mut sub.diags);
        match r {
            Ok(v) => prim_to_string(&v)
                .map(|s| Value::string(s).with_marks(v.marks))
                .or_else(|| (!v.is_known()).then(|| unknown(Type::String, v.marks)))
                .ok_or(())
                .or_else(|()| {
                    self.fail(error("function_error", "Error in function call", "Call to function \"templatefile\" failed: the template did not produce a string.", span))
                }),
            Err(()) => {
                let detail = inner.first().map(|d| d.detail.clone()).unwrap_or_default();
                self.fail(error(
                    "function_error",
                    "Error in function call",
                    format!("Call to function \"templatefile\" failed: {path}: {detail}"),
                    span,
                ))
            }
        }
    }
}

/// Splits a value's own marks from it (template interpolation carries them to the result).
fn shallow_marks(v: &Value) -> (Value, Marks) {
    (v.unmarked(), v.marks)
}

/// How a reference is written: `var.nodes`, `brick_data.x`, `each.key`.
pub fn reference_text(r: &Reference) -> String {
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
