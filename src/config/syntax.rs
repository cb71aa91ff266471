//! Parsing one file with hcl-edit and lowering its tree into brick's generic [`Body`] and
//! [`Expr`] (spans kept, strip markers applied, depth bounded).
//!
//! Parsing runs on a helper thread with a large stack, because hcl-edit's parser is recursive
//! and hostile input (10,000 nested brackets) must yield a diagnostic, not a stack overflow.

use hcl_edit::Span as _;
use hcl_edit::expr::{BinaryOperator, Expression, ObjectKey, TraversalOperator, UnaryOperator};
use hcl_edit::template::{Directive, Element, Template};

use brick_provider_api::{Number, Value};

use super::expr::{BinaryOp, Expr, ExprKind, ForExpr, MAX_DEPTH, Step, TemplatePart, UnaryOp};
use super::{FileId, Span};
use crate::diag::Diagnostic;

/// A generic block body: attributes and nested blocks in source order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Body {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<Block>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub name_span: Span,
    pub expr: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The block type: `resource`, `lifecycle`, `volume`…
    pub kind: String,
    pub kind_span: Span,
    pub labels: Vec<String>,
    pub label_spans: Vec<Span>,
    pub body: Body,
    pub span: Span,
}

impl Body {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
    pub fn blocks_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.kind == kind)
    }
}

impl Block {
    /// The span of the block header (`resource "a" "b"`), for labels in diagnostics.
    pub fn header_span(&self) -> Span {
        let end = self
            .label_spans
            .last()
            .map(|s| s.end)
            .unwrap_or(self.kind_span.end);
        Span {
            file: self.kind_span.file,
            start: self.kind_span.start,
            end,
        }
    }
}

/// The bracket nesting depth past which input is refused before hcl-edit sees it.
const MAX_BRACKET_DEPTH: usize = MAX_DEPTH;

/// Parses `text` as the file `file` into a body. Syntax errors become diagnostics.
pub fn parse_file(text: &str, file: FileId) -> (Option<Body>, Vec<Diagnostic>) {
    if let Some(d) = precheck(text, file) {
        return (None, vec![d]);
    }
    let patched = patch_big_integers(text);
    let work = || match parse_allowing_repeated_keys(patched, hcl_edit::parser::parse_body) {
        Ok((body, repeated)) => {
            let mut l = Lowerer {
                file,
                text,
                diags: repeated_key_warnings(&repeated, text, file),
            };
            let b = l.file_body(body);
            (Some(b), l.diags)
        }
        Err(e) => (None, vec![syntax_error(&e, text, file)]),
    };
    on_big_stack(work)
}

/// How many repeated object keys one file may have before the parse error stands (each one
/// costs a re-parse).
const MAX_REPEATED_KEYS: usize = 32;

/// Parses with `parse`, accepting an object constructor that repeats a key (`{a = 1, a = 2}`)
/// as Terraform does — the last value wins — although hcl-edit refuses it: the repeated key
/// (an identifier or a plain quoted string) is replaced in the parser's copy of the text by a
/// fresh identifier of the same length, and the parse retried. The lowering reads keys from
/// the original text, so values and spans are unaffected. Returns the byte ranges of the
/// repeated keys.
fn parse_allowing_repeated_keys<T>(
    patched: std::borrow::Cow<'_, str>,
    parse: impl Fn(&str) -> Result<T, hcl_edit::parser::Error>,
) -> Result<(T, Vec<std::ops::Range<usize>>), hcl_edit::parser::Error> {
    let mut patched = patched.into_owned();
    let mut repeated = Vec::new();
    loop {
        let e = match parse(&patched) {
            Ok(t) => return Ok((t, repeated)),
            Err(e) => e,
        };
        if !e.message().contains("redefined object key") || repeated.len() >= MAX_REPEATED_KEYS {
            return Err(e);
        }
        let start = e.location().offset();
        let Some(len) = object_key_len(&patched, start) else {
            return Err(e);
        };
        let Some(fresh) = fresh_identifier(&patched, len) else {
            return Err(e);
        };
        patched.replace_range(start..start + len, &fresh);
        repeated.push(start..start + len);
    }
}

/// The byte length of the object key at `at`: an identifier, or a quoted string without
/// escapes or interpolation; `None` for anything else.
fn object_key_len(text: &str, at: usize) -> Option<usize> {
    let rest = text.get(at..)?;
    if let Some(inner) = rest.strip_prefix('"') {
        let end = inner.find('"')?;
        let body = &inner[..end];
        return (!body.contains(['\\', '\n']) && !body.contains("${") && !body.contains("%{"))
            .then_some(end + 2);
    }
    let len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    (len > 0 && !rest.starts_with(|c: char| c.is_ascii_digit() || c == '-')).then_some(len)
}

/// An identifier of exactly `len` bytes that appears nowhere in `text` as a word.
fn fresh_identifier(text: &str, len: usize) -> Option<String> {
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
    let used = |w: &str| {
        text.match_indices(w).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            let after = text[i + w.len()..].chars().next();
            let word =
                |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
            !word(before) && !word(after)
        })
    };
    for n in 0..10_000usize {
        // `len` letters from the counter, first letter distinct per candidate.
        let mut k = n;
        let mut w = String::with_capacity(len);
        for _ in 0..len {
            w.push(letters[k % letters.len()]);
            k /= letters.len();
        }
        if k > 0 && len > 0 {
            break; // every word of this length was tried
        }
        if !used(&w) {
            return Some(w);
        }
    }
    None
}

/// Terraform accepts a repeated key silently (the last value wins); brick accepts it too,
/// with a warning, since the earlier value is almost always a mistake.
fn repeated_key_warnings(
    repeated: &[std::ops::Range<usize>],
    text: &str,
    file: FileId,
) -> Vec<Diagnostic> {
    repeated
        .iter()
        .map(|r| {
            let key = text[r.clone()].trim_matches('"');
            Diagnostic::warning(
                "brick::config::repeated_object_key",
                "Repeated object key",
                format!("The key \"{key}\" is given more than once in this object; the last value is used, as in Terraform."),
            )
            .at(Span { file, start: r.start, end: r.end })
            .label("given again here")
            .help("Remove the earlier entry, or rename one of the keys.")
        })
        .collect()
}

/// Parses a standalone expression (console, `--var` values, tests).
pub fn parse_expression(text: &str, file: FileId) -> (Option<Expr>, Vec<Diagnostic>) {
    if let Some(d) = precheck(text, file) {
        return (None, vec![d]);
    }
    let patched = patch_big_integers(text);
    let work = || match parse_allowing_repeated_keys(patched, hcl_edit::parser::parse_expr) {
        Ok((expr, repeated)) => {
            let mut l = Lowerer {
                file,
                text,
                diags: repeated_key_warnings(&repeated, text, file),
            };
            let e = l.expr(&expr, 0);
            (Some(e), l.diags)
        }
        Err(e) => (None, vec![syntax_error(&e, text, file)]),
    };
    on_big_stack(work)
}

/// Parses a template (for `templatefile`).
pub fn parse_template(text: &str, file: FileId) -> (Option<Vec<TemplatePart>>, Vec<Diagnostic>) {
    if let Some(d) = precheck(text, file) {
        return (None, vec![d]);
    }
    let work = || match hcl_edit::parser::parse_template(text) {
        Ok(t) => {
            let mut l = Lowerer {
                file,
                text,
                diags: Vec::new(),
            };
            let parts = l.template(&t, 0, Nested::File);
            (Some(parts), l.diags)
        }
        Err(e) => (None, vec![syntax_error(&e, text, file)]),
    };
    on_big_stack(work)
}

/// The end of the fraction and exponent of a number literal whose integer digits end at `j`
/// (`None` when there is neither).
fn float_literal_end(b: &[u8], j: usize) -> Option<usize> {
    let digits_from = |mut k: usize| {
        let start = k;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        (k > start).then_some(k)
    };
    let mut k = j;
    if b.get(k) == Some(&b'.') {
        k = digits_from(k + 1)?;
    }
    if matches!(b.get(k), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(k + 1), Some(b'+' | b'-')));
        k = digits_from(k + 1 + sign)?;
    }
    (k > j).then_some(k)
}

/// hcl-edit reads integer literals as `u64` and refuses longer ones, but the language has
/// arbitrary-precision numbers. Integer literals of 20 digits or more (in expressions,
/// including the `${ }` and `%{ }` of quoted strings; not in string text, heredocs or
/// comments) are rewritten to a float literal *of the same length* for the parser; spans stay
/// valid, and the lowering reads the exact digits from the original text.
fn patch_big_integers(text: &str) -> std::borrow::Cow<'_, str> {
    /// Where the scanner is: string text, or an expression inside a string's `${ }`/`%{ }`
    /// (with the braces opened in it so far). Outside any string is the empty stack.
    enum In {
        Text,
        Interpolation(usize),
    }
    let b = text.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    let mut heredoc: Option<String> = None;
    let mut stack: Vec<In> = Vec::new();
    while i < b.len() {
        if let Some(In::Text) = stack.last() {
            match b[i] {
                b'\\' => i += 2,
                b'"' | b'\n' => {
                    stack.pop();
                    i += 1;
                }
                // `$${` and `%%{` are literal text.
                b'$' | b'%' if b.get(i + 1) == Some(&b[i]) && b.get(i + 2) == Some(&b'{') => i += 3,
                b'$' | b'%' if b.get(i + 1) == Some(&b'{') => {
                    stack.push(In::Interpolation(0));
                    i += 2;
                }
                _ => i += 1,
            }
            continue;
        }
        if let Some(delim) = &heredoc {
            // Skip whole lines until the closing delimiter.
            let end = text[i..].find('\n').map(|n| i + n).unwrap_or(b.len());
            if text[i..end].trim() == delim {
                heredoc = None;
            }
            i = end + 1;
            continue;
        }
        let c = b[i];
        match c {
            b'#' => {
                i = text[i..].find('\n').map(|n| i + n).unwrap_or(b.len());
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map(|n| i + n).unwrap_or(b.len());
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..]
                    .find("*/")
                    .map(|n| i + 4 + n)
                    .unwrap_or(b.len());
                continue;
            }
            b'"' => {
                stack.push(In::Text);
                i += 1;
                continue;
            }
            b'{' => {
                if let Some(In::Interpolation(braces)) = stack.last_mut() {
                    *braces += 1;
                }
            }
            b'}' => match stack.last_mut() {
                Some(In::Interpolation(0)) => {
                    stack.pop();
                }
                Some(In::Interpolation(braces)) => *braces -= 1,
                _ => {}
            },
            b'<' if b.get(i + 1) == Some(&b'<') => {
                let mut j = i + 2;
                if b.get(j) == Some(&b'-') {
                    j += 1;
                }
                let ds = j;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j > ds {
                    let delim = text[ds..j].to_string();
                    let end = text[j..].find('\n').map(|n| j + n).unwrap_or(b.len());
                    heredoc = Some(delim);
                    i = end + 1;
                    continue;
                }
                i += 2;
                continue;
            }
            b'0'..=b'9' => {
                let prev_ident = i > 0
                    && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'.');
                let mut j = i;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                let next = b.get(j).copied().unwrap_or(b' ');
                let plain = !prev_ident
                    && !matches!(next, b'.' | b'e' | b'E')
                    && !next.is_ascii_alphabetic()
                    && next != b'_';
                if plain && j - i >= 20 {
                    let o = out.get_or_insert_with(|| b.to_vec());
                    o[j - 2] = b'.';
                    o[j - 1] = b'0';
                }
                // A float literal beyond f64's range (`1e400`, finite in Terraform) becomes
                // `0.000` of the same length; the lowering reads the digits from the text.
                if !prev_ident && let Some(end) = float_literal_end(b, j) {
                    if text[i..end].parse::<f64>().is_ok_and(f64::is_infinite) {
                        let o = out.get_or_insert_with(|| b.to_vec());
                        o[i..end].fill(b'0');
                        o[i + 1] = b'.';
                    }
                    i = end;
                    continue;
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    match out {
        // Only ASCII digits were replaced by ASCII, so the text stays valid UTF-8.
        Some(o) => {
            std::borrow::Cow::Owned(String::from_utf8(o).unwrap_or_else(|_| text.to_string()))
        }
        None => std::borrow::Cow::Borrowed(text),
    }
}

fn on_big_stack<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("brick-parse".into())
            .stack_size(256 << 20)
            .spawn_scoped(s, work)
            .expect("spawning the parser thread")
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Refuses input nested deeper than the evaluator will walk, counting brackets and runs of
/// unary operators, before the recursive parser sees it.
fn precheck(text: &str, file: FileId) -> Option<Diagnostic> {
    let mut depth = 0usize;
    let mut unary_run = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_BRACKET_DEPTH {
                    return Some(too_deep(file, i));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        match b {
            b'!' | b'-' => {
                unary_run += 1;
                if unary_run > MAX_BRACKET_DEPTH {
                    return Some(too_deep(file, i));
                }
            }
            b' ' | b'\t' => {}
            _ => unary_run = 0,
        }
    }
    None
}

fn too_deep(file: FileId, at: usize) -> Diagnostic {
    Diagnostic::error(
        "brick::config::nested_too_deeply",
        "Expression nested too deeply",
        format!("This expression is nested more than {MAX_DEPTH} levels deep, which brick does not accept."),
    )
    .at(Span { file, start: at, end: at + 1 })
    .help("Split the expression into locals.")
}

fn syntax_error(e: &hcl_edit::parser::Error, text: &str, file: FileId) -> Diagnostic {
    let loc = e.location();
    // The location's offset is a byte offset into the input.
    let start = loc.offset().min(text.len());
    let end = next_char_boundary(text, start);
    if e.message().contains("chained binary operators") {
        // hcl-edit builds one tree level per operator and refuses more than 128 on any path,
        // so that walking the tree cannot overflow the stack; Terraform has no such limit.
        return Diagnostic::error(
            "brick::config::too_many_operators",
            "Too many chained operators",
            format!(
                "The expression at line {}, column {} chains more than 128 binary operators (counting those inside its operands), more than brick's HCL parser accepts.",
                loc.line(),
                loc.column()
            ),
        )
        .at(Span { file, start, end })
        .label("the 129th operator")
        .help("Split the expression into locals (`local.first_half + local.second_half`), or use a function such as sum([...]) for a long sum.");
    }
    if let Some(n) = super::syntax_errors::name(text, start, e.message()) {
        let d = Diagnostic::error("brick::config::syntax", n.summary, n.detail).at(Span {
            file,
            start: n.start,
            end: n.end.max(n.start),
        });
        return match n.summary {
            "Unclosed configuration block" => d
                .label("this block is not closed")
                .help("Add its closing `}`, or look for a brace missing in a block inside it."),
            _ => d,
        };
    }
    Diagnostic::error(
        "brick::config::syntax",
        "Invalid HCL syntax",
        format!(
            "The file could not be parsed at line {}, column {}: {}.",
            loc.line(),
            loc.column(),
            e.message().trim_end_matches('.')
        ),
    )
    .at(Span { file, start, end })
    .label("here")
    .help("Check for unbalanced brackets, quotes or a missing `=`.")
}

fn next_char_boundary(text: &str, start: usize) -> usize {
    let mut end = (start + 1).min(text.len());
    while end < text.len() && !text.is_char_boundary(end) {
        end += 1;
    }
    end.max(start)
}

struct Lowerer<'a> {
    file: FileId,
    text: &'a str,
    diags: Vec<Diagnostic>,
}

impl Lowerer<'_> {
    fn span(&self, r: Option<std::ops::Range<usize>>) -> Span {
        let r = r.unwrap_or(0..0);
        Span {
            file: self.file,
            start: r.start,
            end: r.end,
        }
    }

    fn body(&mut self, body: &hcl_edit::structure::Body, depth: usize) -> Body {
        let mut out = Body {
            span: self.span(body.span()),
            attributes: Vec::new(),
            blocks: Vec::new(),
        };
        for s in body.iter() {
            self.structure(s, depth, &mut out);
        }
        out
    }

    /// A file's body, taking hcl-edit's tree and dropping each top-level structure as soon as
    /// it is lowered: the memory it held is reused for the lowered tree, so the two trees of
    /// a large file (100,000 resources: hundreds of MiB each) are never whole at once.
    fn file_body(&mut self, body: hcl_edit::structure::Body) -> Body {
        let (mut attributes, mut blocks) = (0, 0);
        for s in body.iter() {
            match s {
                hcl_edit::structure::Structure::Attribute(_) => attributes += 1,
                hcl_edit::structure::Structure::Block(_) => blocks += 1,
            }
        }
        let mut out = Body {
            span: self.span(body.span()),
            attributes: Vec::with_capacity(attributes),
            blocks: Vec::with_capacity(blocks),
        };
        for s in body {
            self.structure(&s, 0, &mut out);
        }
        out
    }

    fn structure(&mut self, s: &hcl_edit::structure::Structure, depth: usize, out: &mut Body) {
        match s {
            hcl_edit::structure::Structure::Attribute(a) => {
                let expr = self.expr(&a.value, depth + 1);
                out.attributes.push(Attribute {
                    name: a.key.as_str().to_string(),
                    name_span: self.span(a.key.span()),
                    expr,
                    span: self.span(a.span()),
                })
            }
            hcl_edit::structure::Structure::Block(b) => {
                let body = self.body(&b.body, depth + 1);
                out.blocks.push(Block {
                    kind: b.ident.as_str().to_string(),
                    kind_span: self.span(b.ident.span()),
                    labels: b.labels.iter().map(|l| l.as_str().to_string()).collect(),
                    label_spans: b.labels.iter().map(|l| self.span(l.span())).collect(),
                    body,
                    span: self.span(b.span()),
                })
            }
        }
    }

    fn deep(&mut self, span: Span) -> Expr {
        self.diags.push(too_deep(span.file, span.start));
        Expr::new(ExprKind::Literal(Value::null_dynamic()), span)
    }

    fn expr(&mut self, e: &Expression, depth: usize) -> Expr {
        let span = self.span(e.span());
        if depth > MAX_DEPTH {
            return self.deep(span);
        }
        let d = depth + 1;
        let kind = match e {
            Expression::Null(_) => ExprKind::Literal(Value::null_dynamic()),
            Expression::Bool(b) => ExprKind::Literal(Value::bool(*b.value())),
            Expression::Number(n) => {
                let raw = self.text.get(span.start..span.end).unwrap_or("");
                let num = Number::parse(raw)
                    .or_else(|| n.value().as_f64().and_then(Number::from_f64))
                    .unwrap_or_else(Number::zero);
                ExprKind::Literal(Value::number(num))
            }
            Expression::String(s) => ExprKind::Literal(Value::string(s.value().as_str())),
            Expression::Array(a) => ExprKind::Tuple(a.iter().map(|x| self.expr(x, d)).collect()),
            Expression::Object(o) => ExprKind::Object(
                o.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            // From the original text: a repeated key was renamed for the
                            // parser (see parse_allowing_repeated_keys).
                            ObjectKey::Ident(id) => {
                                let span = self.span(id.span());
                                let name = self
                                    .text
                                    .get(span.start..span.end)
                                    .map(|t| t.trim_matches('"'))
                                    .unwrap_or(id.as_str());
                                Expr::new(ExprKind::Literal(Value::string(name)), span)
                            }
                            ObjectKey::Expression(x) => self.expr(x, d),
                        };
                        (key, self.expr(v.expr(), d))
                    })
                    .collect(),
            ),
            Expression::StringTemplate(t) => {
                ExprKind::Template(self.template(t, d, Nested::QuotedTop))
            }
            Expression::HeredocTemplate(h) => {
                let mut parts = self.template(&h.template, d, Nested::Heredoc);
                if self.text[span.start.min(self.text.len())..].starts_with("<<-") {
                    flush_heredoc(&mut parts);
                }
                meld_literals(&mut parts);
                ExprKind::Template(parts)
            }
            Expression::Parenthesis(p) => ExprKind::Paren(Box::new(self.expr(p.inner(), d))),
            Expression::Variable(v) => ExprKind::Variable(v.as_str().to_string()),
            Expression::Conditional(c) => ExprKind::Conditional(
                Box::new(self.expr(&c.cond_expr, d)),
                Box::new(self.expr(&c.true_expr, d)),
                Box::new(self.expr(&c.false_expr, d)),
            ),
            Expression::FuncCall(f) => {
                let name = if f.name.is_namespaced() {
                    let mut parts: Vec<&str> =
                        f.name.namespace.iter().map(|n| n.as_str()).collect();
                    parts.push(f.name.name.as_str());
                    parts.join("::")
                } else {
                    f.name.name.as_str().to_string()
                };
                ExprKind::Call {
                    name,
                    name_span: self.span(f.name.name.span()),
                    args: f.args.iter().map(|a| self.expr(a, d)).collect(),
                    expand_final: f.args.expand_final(),
                }
            }
            Expression::Traversal(t) => {
                let root = self.expr(&t.expr, d);
                return self.traversal(root, &t.operators, span, d);
            }
            Expression::UnaryOp(u) => {
                let op = match *u.operator.value() {
                    UnaryOperator::Neg => UnaryOp::Neg,
                    UnaryOperator::Not => UnaryOp::Not,
                };
                ExprKind::Unary(op, Box::new(self.expr(&u.expr, d)))
            }
            Expression::BinaryOp(b) => {
                let op = match *b.operator.value() {
                    BinaryOperator::Eq => BinaryOp::Eq,
                    BinaryOperator::NotEq => BinaryOp::NotEq,
                    BinaryOperator::LessEq => BinaryOp::LtEq,
                    BinaryOperator::GreaterEq => BinaryOp::GtEq,
                    BinaryOperator::Less => BinaryOp::Lt,
                    BinaryOperator::Greater => BinaryOp::Gt,
                    BinaryOperator::Plus => BinaryOp::Add,
                    BinaryOperator::Minus => BinaryOp::Sub,
                    BinaryOperator::Mul => BinaryOp::Mul,
                    BinaryOperator::Div => BinaryOp::Div,
                    BinaryOperator::Mod => BinaryOp::Mod,
                    BinaryOperator::And => BinaryOp::And,
                    BinaryOperator::Or => BinaryOp::Or,
                };
                ExprKind::Binary(
                    op,
                    Box::new(self.expr(&b.lhs_expr, d)),
                    Box::new(self.expr(&b.rhs_expr, d)),
                )
            }
            Expression::ForExpr(f) => ExprKind::For(Box::new(ForExpr {
                key_var: f.intro.key_var.as_ref().map(|k| k.as_str().to_string()),
                value_var: f.intro.value_var.as_str().to_string(),
                collection: self.expr(&f.intro.collection_expr, d),
                key: f.key_expr.as_ref().map(|k| self.expr(k, d)),
                value: self.expr(&f.value_expr, d),
                grouping: f.grouping,
                cond: f.cond.as_ref().map(|c| self.expr(&c.expr, d)),
            })),
        };
        Expr::new(kind, span)
    }

    fn traversal(
        &mut self,
        root: Expr,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
        span: Span,
        depth: usize,
    ) -> Expr {
        let mut steps = Vec::with_capacity(ops.len());
        let mut i = 0;
        while i < ops.len() {
            match ops[i].value() {
                TraversalOperator::GetAttr(id) => steps.push(Step::Attr(
                    id.as_str().to_string(),
                    self.span(ops[i].span()),
                )),
                TraversalOperator::Index(e) => {
                    steps.push(Step::Index(Box::new(self.expr(e, depth))))
                }
                TraversalOperator::LegacyIndex(n) => steps.push(Step::Index(Box::new(Expr::new(
                    ExprKind::Literal(Value::number(*n.value())),
                    self.span(ops[i].span()),
                )))),
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    let full = matches!(ops[i].value(), TraversalOperator::FullSplat(_));
                    let source = wrap(root, steps, span);
                    // The steps applied to each element: everything after a full splat,
                    // only attribute steps after an attribute splat.
                    let mut j = if full { ops.len() } else { i + 1 };
                    if !full {
                        while j < ops.len()
                            && matches!(ops[j].value(), TraversalOperator::GetAttr(_))
                        {
                            j += 1;
                        }
                    }
                    let item = Expr::new(ExprKind::SplatItem, span);
                    let each = self.traversal(item, &ops[i + 1..j], span, depth + 1);
                    let splat = Expr::new(
                        ExprKind::Splat {
                            source: Box::new(source),
                            each: Box::new(each),
                        },
                        span,
                    );
                    return self.traversal(splat, &ops[j..], span, depth + 1);
                }
            }
            i += 1;
        }
        wrap(root, steps, span)
    }

    fn template(&mut self, t: &Template, depth: usize, nested: Nested) -> Vec<TemplatePart> {
        // Inside a quoted string's directives, hcl-edit leaves escape sequences undecoded.
        let inner = match nested {
            Nested::QuotedTop | Nested::QuotedInner => Nested::QuotedInner,
            other => other,
        };
        if depth > MAX_DEPTH {
            let span = self.span(t.span());
            self.deep(span);
            return Vec::new();
        }
        let d = depth + 1;
        // First lower, remembering strip markers around each non-literal element.
        let mut parts: Vec<(TemplatePart, bool, bool)> = Vec::new();
        for el in t.iter() {
            match el {
                Element::Literal(s) if nested == Nested::Heredoc => {
                    // Terraform's scanner gives a heredoc's text one token per line, and its
                    // strip markers and `<<-` rules work on those tokens: the lines are kept
                    // apart until `meld_literals`. The text is read from the source, since
                    // hcl-edit's own `<<-` dedent is not Terraform's (`flush_heredoc`).
                    let raw = s
                        .span()
                        .and_then(|r| self.text.get(r))
                        .map(|t| t.replace("$${", "${").replace("%%{", "%{"))
                        .unwrap_or_else(|| s.value().to_string());
                    for line in raw.split_inclusive('\n') {
                        parts.push((TemplatePart::Literal(line.to_string()), false, false));
                    }
                }
                Element::Literal(s) => {
                    let text = if nested == Nested::QuotedInner {
                        unescape(s.value())
                    } else {
                        s.value().to_string()
                    };
                    parts.push((TemplatePart::Literal(text), false, false))
                }
                Element::Interpolation(i) => parts.push((
                    TemplatePart::Interpolation(self.expr(&i.expr, d)),
                    i.strip.strip_start(),
                    i.strip.strip_end(),
                )),
                Element::Directive(dir) => match dir.as_ref() {
                    Directive::If(ifd) => {
                        let mut then = self.template(&ifd.if_expr.template, d, inner);
                        let mut otherwise = Vec::new();
                        // Strip markers inside the directive trim the inner templates.
                        let end_strip = ifd.endif_expr.strip;
                        if ifd.if_expr.strip.strip_end() {
                            trim_start(&mut then);
                        }
                        if let Some(e) = &ifd.else_expr {
                            otherwise = self.template(&e.template, d, inner);
                            if e.strip.strip_start() {
                                trim_end(&mut then);
                            }
                            if e.strip.strip_end() {
                                trim_start(&mut otherwise);
                            }
                            if end_strip.strip_start() {
                                trim_end(&mut otherwise);
                            }
                        } else if end_strip.strip_start() {
                            trim_end(&mut then);
                        }
                        parts.push((
                            TemplatePart::If {
                                cond: Box::new(self.expr(&ifd.if_expr.cond_expr, d)),
                                then,
                                otherwise,
                            },
                            ifd.if_expr.strip.strip_start(),
                            end_strip.strip_end(),
                        ))
                    }
                    Directive::For(ford) => {
                        let mut body = self.template(&ford.for_expr.template, d, inner);
                        if ford.for_expr.strip.strip_end() {
                            trim_start(&mut body);
                        }
                        if ford.endfor_expr.strip.strip_start() {
                            trim_end(&mut body);
                        }
                        parts.push((
                            TemplatePart::For {
                                key_var: ford
                                    .for_expr
                                    .key_var
                                    .as_ref()
                                    .map(|k| k.as_str().to_string()),
                                value_var: ford.for_expr.value_var.as_str().to_string(),
                                collection: Box::new(self.expr(&ford.for_expr.collection_expr, d)),
                                body,
                            },
                            ford.for_expr.strip.strip_start(),
                            ford.endfor_expr.strip.strip_end(),
                        ))
                    }
                },
            }
        }
        // Apply the outer strip markers to the neighbouring literals.
        for i in 0..parts.len() {
            let (strip_before, strip_after) = (parts[i].1, parts[i].2);
            if strip_before
                && i > 0
                && let TemplatePart::Literal(s) = &mut parts[i - 1].0
            {
                *s = s.trim_end().to_string();
            }
            if strip_after
                && i + 1 < parts.len()
                && let TemplatePart::Literal(s) = &mut parts[i + 1].0
            {
                *s = s.trim_start().to_string();
            }
        }
        parts
            .into_iter()
            .map(|(p, _, _)| p)
            .filter(|p| !matches!(p, TemplatePart::Literal(s) if s.is_empty()))
            .collect()
    }
}

/// Where a template is: the top of a quoted string, a directive body inside one, a heredoc,
/// or a template file (`templatefile`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nested {
    QuotedTop,
    QuotedInner,
    Heredoc,
    File,
}

/// Calls `f` for each token of a template in source order, as Terraform's template parser
/// sees them: `Some(text)` for a literal, `None` for an interpolation or a directive marker
/// (`%{ if }`, `%{ else }`, `%{ endif }`, `%{ for }`, `%{ endfor }`).
fn each_token(parts: &mut [TemplatePart], f: &mut dyn FnMut(Option<&mut String>)) {
    for part in parts {
        match part {
            TemplatePart::Literal(s) => f(Some(s)),
            TemplatePart::Interpolation(_) => f(None),
            TemplatePart::If {
                then, otherwise, ..
            } => {
                f(None);
                each_token(then, f);
                if !otherwise.is_empty() {
                    f(None);
                }
                each_token(otherwise, f);
                f(None);
            }
            TemplatePart::For { body, .. } => {
                f(None);
                each_token(body, f);
                f(None);
            }
        }
    }
}

/// Terraform's flush heredoc rule (`<<-EOT`), applied to the tokens after the strip markers
/// (hclsyntax's `flushHeredocTemplateParts`): of the tokens that begin a line, a literal counts
/// its leading whitespace (a line of whitespace only counts not at all) and an interpolation or
/// directive counts zero; that smallest count is removed from each literal that begins a line.
/// Lines inside `%{ for }` and `%{ if }` bodies count and are trimmed like the others.
fn flush_heredoc(parts: &mut [TemplatePart]) {
    fn leading(s: &str) -> Option<usize> {
        let trimmed = s.trim_start();
        (!(trimmed.is_empty() && s.ends_with('\n')))
            .then(|| s[..s.len() - trimmed.len()].chars().count())
    }
    let mut min = usize::MAX;
    let mut line_start = true;
    each_token(parts, &mut |t| {
        if std::mem::take(&mut line_start) {
            let spaces = match &t {
                Some(s) => leading(s).unwrap_or(usize::MAX),
                None => 0,
            };
            min = min.min(spaces);
        }
        line_start = t.is_some_and(|s| s.ends_with('\n'));
    });
    if min == 0 || min == usize::MAX {
        return;
    }
    let mut line_start = true;
    each_token(parts, &mut |t| {
        let begins = std::mem::take(&mut line_start);
        if let Some(s) = t {
            if begins && leading(s).is_some() {
                let cut = s.char_indices().nth(min).map_or(s.len(), |(i, _)| i);
                s.drain(..cut);
            }
            line_start = s.ends_with('\n');
        }
    });
}

/// Joins neighbouring literals (a heredoc's lines), at every depth, and drops empty ones.
fn meld_literals(parts: &mut Vec<TemplatePart>) {
    let mut out: Vec<TemplatePart> = Vec::with_capacity(parts.len());
    for mut part in parts.drain(..) {
        match &mut part {
            TemplatePart::If {
                then, otherwise, ..
            } => {
                meld_literals(then);
                meld_literals(otherwise);
            }
            TemplatePart::For { body, .. } => meld_literals(body),
            _ => {}
        }
        match (out.last_mut(), part) {
            (_, TemplatePart::Literal(s)) if s.is_empty() => {}
            (Some(TemplatePart::Literal(prev)), TemplatePart::Literal(s)) => prev.push_str(&s),
            (_, part) => out.push(part),
        }
    }
    *parts = out;
}

/// Decodes the escapes of a quoted string (`\n`, `\"`, `\u00e9`, `$${`, `%%{`…).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some(u @ ('u' | 'U')) => {
                    let n = if u == 'u' { 4 } else { 8 };
                    let hex: String = (0..n).filter_map(|_| chars.next()).collect();
                    match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        Some(ch) => out.push(ch),
                        None => {
                            out.push('\\');
                            out.push(u);
                            out.push_str(&hex);
                        }
                    }
                }
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '$' | '%' if chars.peek() == Some(&c) => {
                // `$${` → `${`, `%%{` → `%{`
                let mut look = chars.clone();
                look.next();
                if look.peek() == Some(&'{') {
                    chars.next();
                }
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn trim_start(parts: &mut [TemplatePart]) {
    if let Some(TemplatePart::Literal(s)) = parts.first_mut() {
        *s = s.trim_start().to_string();
    }
}

fn trim_end(parts: &mut [TemplatePart]) {
    if let Some(TemplatePart::Literal(s)) = parts.last_mut() {
        *s = s.trim_end().to_string();
    }
}

fn wrap(root: Expr, steps: Vec<Step>, span: Span) -> Expr {
    if steps.is_empty() {
        root
    } else {
        Expr::new(ExprKind::Traversal(Box::new(root), steps), span)
    }
}
