//! `brick fmt`: canonical formatting of `*.hcl` files, keeping comments, like `terraform fmt`.
//!
//! [`format_source`] is pure and works on tokens, as Terraform's formatter does: two-space
//! indentation by bracket nesting, one space around binary operators and `=`, none inside
//! brackets or before commas, `=` aligned across consecutive single-line attributes, trailing
//! whitespace removed, one final newline. Strings, heredoc bodies and comments are kept as
//! written. Formatting is idempotent. [`run`] is the CLI entry (`--check` exits 3 when a file
//! would change, `--diff` prints a unified diff).

// Diagnostics are plain data returned by value; boxing them would only add noise.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::Span;
use crate::diag::Diagnostic;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Number(String),
    Str(String),
    /// `<<EOT` / `<<-EOT`; the body lines follow verbatim.
    Heredoc(String),
    Comment(String),
    Punct(String),
}

impl Tok {
    fn text(&self) -> &str {
        match self {
            Tok::Ident(s)
            | Tok::Number(s)
            | Tok::Str(s)
            | Tok::Heredoc(s)
            | Tok::Comment(s)
            | Tok::Punct(s) => s,
        }
    }
    fn is(&self, p: &str) -> bool {
        matches!(self, Tok::Punct(s) if s == p)
    }
    fn opens(&self) -> bool {
        self.is("{") || self.is("[") || self.is("(")
    }
    fn closes(&self) -> bool {
        self.is("}") || self.is("]") || self.is(")")
    }
}

/// A line of tokens, or verbatim text (heredoc bodies, continuation of block comments).
#[derive(Debug)]
enum Line {
    Tokens(Vec<Tok>),
    Verbatim(String),
}

struct Lexer<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

fn fmt_error(detail: String, at: usize) -> Diagnostic {
    Diagnostic::error("brick::fmt::syntax", "Cannot format invalid HCL", detail).at(Span {
        file: 0,
        start: at,
        end: at + 1,
    })
}

impl Lexer<'_> {
    fn peek(&self, o: usize) -> u8 {
        *self.s.get(self.i + o).unwrap_or(&0)
    }

    /// Scans a quoted string starting at `"`; returns its end (exclusive).
    fn quoted_end(&self, mut i: usize) -> Result<usize, Diagnostic> {
        let start = i;
        i += 1;
        while i < self.s.len() {
            match self.s[i] {
                b'\\' => i += 2,
                b'"' => return Ok(i + 1),
                b'\n' => break,
                b'$' | b'%' if self.s.get(i + 1) == Some(&b'{') => {
                    if self.s.get(i.wrapping_sub(1)) == Some(&self.s[i]) {
                        i += 2;
                        continue;
                    }
                    i = self.template_end(i + 2)?;
                }
                _ => i += 1,
            }
        }
        Err(fmt_error(
            "A quoted string is not closed on its line.".into(),
            start,
        ))
    }

    /// From just inside `${`, the index after its matching `}`.
    fn template_end(&self, mut i: usize) -> Result<usize, Diagnostic> {
        let mut depth = 1usize;
        while i < self.s.len() {
            match self.s[i] {
                b'"' => i = self.quoted_end(i)?,
                b'{' => {
                    depth += 1;
                    i += 1
                }
                b'}' => {
                    depth -= 1;
                    i += 1;
                    if depth == 0 {
                        return Ok(i);
                    }
                }
                _ => i += 1,
            }
        }
        Err(fmt_error(
            "A template interpolation is not closed.".into(),
            i,
        ))
    }

    fn lines(mut self) -> Result<Vec<Line>, Diagnostic> {
        let mut lines = Vec::new();
        let mut cur: Vec<Tok> = Vec::new();
        let mut pending_heredocs: Vec<String> = Vec::new();
        let mut after_verbatim = false;
        while self.i < self.s.len() {
            let c = self.peek(0);
            let start = self.i;
            match c {
                b'\n' => {
                    self.i += 1;
                    if !(after_verbatim && cur.is_empty()) {
                        lines.push(Line::Tokens(std::mem::take(&mut cur)));
                    }
                    after_verbatim = false;
                    for delim in std::mem::take(&mut pending_heredocs) {
                        // Body lines verbatim up to and including the closing delimiter.
                        loop {
                            if self.i >= self.s.len() {
                                return Err(fmt_error(
                                    format!("The heredoc {delim} is not closed."),
                                    start,
                                ));
                            }
                            let end = self.text[self.i..]
                                .find('\n')
                                .map(|n| self.i + n)
                                .unwrap_or(self.s.len());
                            let line = &self.text[self.i..end];
                            self.i = (end + 1).min(self.s.len());
                            let closing = line.trim() == delim;
                            lines.push(Line::Verbatim(line.trim_end_matches('\r').to_string()));
                            if closing {
                                break;
                            }
                        }
                    }
                }
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'#' => {
                    let end = self.text[self.i..]
                        .find('\n')
                        .map(|n| self.i + n)
                        .unwrap_or(self.s.len());
                    cur.push(Tok::Comment(self.text[self.i..end].trim_end().to_string()));
                    self.i = end;
                }
                b'/' if self.peek(1) == b'/' => {
                    let end = self.text[self.i..]
                        .find('\n')
                        .map(|n| self.i + n)
                        .unwrap_or(self.s.len());
                    cur.push(Tok::Comment(self.text[self.i..end].trim_end().to_string()));
                    self.i = end;
                }
                b'/' if self.peek(1) == b'*' => {
                    let end = self.text[self.i + 2..]
                        .find("*/")
                        .map(|n| self.i + 2 + n + 2)
                        .ok_or_else(|| fmt_error("A /* comment is not closed.".into(), start))?;
                    let body = &self.text[self.i..end];
                    let mut parts = body.split('\n');
                    cur.push(Tok::Comment(
                        parts.next().unwrap_or("").trim_end().to_string(),
                    ));
                    let rest: Vec<&str> = parts.collect();
                    if !rest.is_empty() {
                        lines.push(Line::Tokens(std::mem::take(&mut cur)));
                        for p in rest {
                            lines.push(Line::Verbatim(p.trim_end().to_string()));
                        }
                        after_verbatim = true;
                    }
                    self.i = end;
                }
                b'"' => {
                    let end = self.quoted_end(self.i)?;
                    cur.push(Tok::Str(format_quoted(&self.text[self.i..end])?));
                    self.i = end;
                }
                b'<' if self.peek(1) == b'<'
                    && (self.peek(2).is_ascii_alphabetic() || self.peek(2) == b'-') =>
                {
                    let mut j = self.i + 2;
                    if self.s[j] == b'-' {
                        j += 1;
                    }
                    let ds = j;
                    while j < self.s.len()
                        && (self.s[j].is_ascii_alphanumeric() || self.s[j] == b'_')
                    {
                        j += 1;
                    }
                    pending_heredocs.push(self.text[ds..j].to_string());
                    cur.push(Tok::Heredoc(self.text[self.i..j].to_string()));
                    self.i = j;
                }
                c if c.is_ascii_digit() => {
                    let mut j = self.i;
                    while j < self.s.len() {
                        let d = self.s[j];
                        let exp_sign =
                            (d == b'+' || d == b'-') && matches!(self.s[j - 1], b'e' | b'E');
                        if d.is_ascii_digit()
                            || d == b'e'
                            || d == b'E'
                            || exp_sign
                            || (d == b'.' && self.s.get(j + 1).is_some_and(u8::is_ascii_digit))
                        {
                            j += 1;
                        } else {
                            break;
                        }
                    }
                    cur.push(Tok::Number(self.text[self.i..j].to_string()));
                    self.i = j;
                }
                c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                    let mut j = self.i;
                    while j < self.s.len() {
                        let d = self.s[j];
                        if d.is_ascii_alphanumeric() || d == b'_' || d == b'-' || d >= 0x80 {
                            j += 1;
                        } else {
                            break;
                        }
                    }
                    cur.push(Tok::Ident(self.text[self.i..j].to_string()));
                    self.i = j;
                }
                _ => {
                    const MULTI: &[&str] = &["...", "==", "!=", "<=", ">=", "&&", "||", "=>", "::"];
                    let rest = &self.text[self.i..];
                    let p = MULTI.iter().find(|m| rest.starts_with(**m)).copied();
                    let p = match p {
                        Some(p) => p.to_string(),
                        None => {
                            let ch = rest.chars().next().unwrap_or(' ');
                            if !"{}[]()=,.:?+-*/%!<>~".contains(ch) {
                                return Err(fmt_error(
                                    format!("Unexpected character {ch:?}."),
                                    self.i,
                                ));
                            }
                            ch.to_string()
                        }
                    };
                    self.i += p.len();
                    cur.push(Tok::Punct(p));
                }
            }
        }
        if !pending_heredocs.is_empty() {
            return Err(fmt_error("A heredoc is not closed.".into(), self.s.len()));
        }
        lines.push(Line::Tokens(cur));
        Ok(lines)
    }
}

/// A quoted string with the expressions inside `${ }` and `%{ }` formatted (literal text
/// kept as written), as Terraform does.
fn format_quoted(q: &str) -> Result<String, Diagnostic> {
    let b = q.as_bytes();
    let lx = Lexer {
        s: b,
        text: q,
        i: 0,
    };
    let mut out = String::with_capacity(q.len());
    let mut i = 0;
    let mut lit_start = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'$' | b'%' if b.get(i + 1) == Some(&b'{') => {
                if b.get(i + 2).is_some_and(|c| *c == b[i]) || i > 0 && b[i - 1] == b[i] {
                    i += 2;
                    continue;
                }
                let end = lx.template_end(i + 2)?;
                out.push_str(&q[lit_start..i + 2]);
                let mut inner = &q[i + 2..end - 1];
                let (mut ls, mut rs) = (false, false);
                if let Some(x) = inner.strip_prefix('~') {
                    ls = true;
                    inner = x;
                }
                if let Some(x) = inner.trim_end().strip_suffix('~') {
                    rs = true;
                    inner = x;
                }
                let lines = Lexer {
                    s: inner.as_bytes(),
                    text: inner,
                    i: 0,
                }
                .lines()?;
                let toks: Vec<Tok> = lines
                    .into_iter()
                    .flat_map(|l| match l {
                        Line::Tokens(t) => t,
                        Line::Verbatim(_) => Vec::new(),
                    })
                    .collect();
                if ls {
                    out.push('~');
                }
                out.push_str(&render_tokens(&toks));
                if rs {
                    out.push('~');
                }
                out.push('}');
                i = end;
                lit_start = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&q[lit_start.min(q.len())..]);
    Ok(out)
}

/// Whether a `-` or `*` at position `i` of `toks` is unary / a splat (no space after).
fn is_prefix(toks: &[Tok], i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let prev = &toks[i - 1];
    match prev {
        Tok::Punct(p) => !matches!(p.as_str(), ")" | "]" | "}"),
        Tok::Ident(w) => matches!(w.as_str(), "in" | "if" | "for"),
        _ => false,
    }
}

fn space_between(toks: &[Tok], i: usize) -> bool {
    let a = &toks[i - 1];
    let b = &toks[i];
    if matches!(b, Tok::Comment(_)) {
        return true;
    }
    if b.is(",") || b.is(")") || b.is("]") || b.is("...") || b.is(":") && a.is("?") {
        return false;
    }
    if b.is(":") {
        return true;
    }
    if a.is("(") || a.is("[") || a.is("!") || a.is(".") || b.is(".") || a.is("::") || b.is("::") {
        return false;
    }
    if a.is("{") {
        return !b.is("}");
    }
    if b.is("[") || b.is("(") {
        // Index and call: `a[0]`, `f(x)`, `x[*]`; otherwise a space (`= [`).
        return !matches!(a, Tok::Ident(_) | Tok::Str(_)) && !a.is("]") && !a.is(")") && !a.is("}")
            || matches!(a, Tok::Ident(w) if matches!(w.as_str(), "in" | "if" | "for"));
    }
    if b.is("*") && a.is("[") || a.is("*") && b.is("]") {
        return false;
    }
    if (a.is("-") || a.is("*")) && is_prefix(toks, i - 1) {
        return false;
    }
    if a.is("~") || b.is("~") {
        return false;
    }
    true
}

fn render_tokens(toks: &[Tok]) -> String {
    let mut s = String::new();
    for (i, t) in toks.iter().enumerate() {
        if i > 0 && space_between(toks, i) {
            s.push(' ');
        }
        s.push_str(t.text());
    }
    s
}

/// Formats HCL source canonically. Errors when the text is not valid HCL.
pub fn format_source(text: &str) -> Result<String, Diagnostic> {
    let (_, diags) = crate::config::syntax::parse_file(text, 0);
    if let Some(d) = diags.into_iter().find(Diagnostic::is_error) {
        return Err(d);
    }
    let lines = Lexer {
        s: text.as_bytes(),
        text,
        i: 0,
    }
    .lines()?;

    // Indentation by bracket nesting, one level per line that opens brackets (as Terraform).
    let mut stack: Vec<i32> = Vec::new();
    let mut rendered: Vec<(usize, Option<String>, String, bool)> = Vec::new(); // (indent, attr key, text, multi-line opener)
    for line in &lines {
        let toks = match line {
            Line::Verbatim(v) => {
                rendered.push((usize::MAX, None, v.clone(), false));
                continue;
            }
            Line::Tokens(t) => t,
        };
        if toks.is_empty() {
            rendered.push((0, None, String::new(), false));
            continue;
        }
        // Terraform's rule: a line that opens more than it closes is indented at the current
        // level and pushes one level; a line that closes more pops first.
        let net: i32 = toks
            .iter()
            .map(|t| i32::from(t.opens()) - i32::from(t.closes()))
            .sum();
        let indent;
        if net > 0 {
            indent = stack.len();
            stack.push(net);
        } else {
            let mut closed = -net;
            while closed > 0 {
                let Some(top) = stack.last_mut() else { break };
                if closed >= *top {
                    closed -= *top;
                    stack.pop();
                } else {
                    *top -= closed;
                    closed = 0;
                }
            }
            indent = stack.len();
        }
        let key = match (toks.first(), toks.get(1)) {
            (Some(Tok::Ident(k) | Tok::Str(k)), Some(eq)) if eq.is("=") => Some(k.clone()),
            _ => None,
        };
        let text = render_tokens(toks);
        rendered.push((
            indent,
            key,
            text,
            net > 0 || toks.iter().any(|t| matches!(t, Tok::Heredoc(_))),
        ));
    }

    // Align `=` in runs of consecutive attribute lines at the same indent.
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < rendered.len() {
        if rendered[i].1.is_some() {
            let indent = rendered[i].0;
            let mut j = i;
            // A line opening a multi-line value stands alone, as in Terraform.
            if rendered[i].3 {
                j = i + 1;
            } else {
                while j < rendered.len()
                    && rendered[j].1.is_some()
                    && rendered[j].0 == indent
                    && !rendered[j].3
                {
                    j += 1;
                }
            }
            let width = rendered[i..j]
                .iter()
                .map(|r| r.1.as_ref().map(|k| k.chars().count()).unwrap_or(0))
                .max()
                .unwrap_or(0);
            for r in &rendered[i..j] {
                let key = r.1.as_deref().unwrap_or("");
                let after = r.2[key.len()..].trim_start();
                let after = after.strip_prefix('=').unwrap_or(after).trim_start();
                out.push_str(&"  ".repeat(r.0));
                out.push_str(key);
                out.push_str(&" ".repeat(width - key.chars().count()));
                out.push_str(" =");
                if !after.is_empty() {
                    out.push(' ');
                    out.push_str(after);
                }
                out.push('\n');
            }
            i = j;
            continue;
        }
        let (indent, _, text, _) = &rendered[i];
        if *indent == usize::MAX {
            out.push_str(text);
        } else if !text.is_empty() {
            out.push_str(&"  ".repeat(*indent));
            out.push_str(text);
        }
        out.push('\n');
        i += 1;
    }
    // Exactly one trailing newline; no leading blank lines.
    let trimmed = out.trim_end_matches('\n').trim_start_matches('\n');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("{trimmed}\n"))
}

/// The outcome for one file.
#[derive(Debug, PartialEq, Eq)]
pub enum FileResult {
    Unchanged,
    Changed { formatted: String },
}

/// Formats each file (or each `*.hcl` directly inside each directory; `-` for standard input
/// to standard output), writing changes unless `check`; prints changed names (or diffs). Exit 0, 3 when `check` and some file would change,
/// 1 on errors.
pub fn run(paths: &[PathBuf], check: bool, diff: bool) -> ExitCode {
    if paths.len() == 1 && paths[0] == Path::new("-") {
        // `brick fmt -`: standard input to standard output.
        let mut text = String::new();
        let limit = crate::config::MAX_FILE_BYTES as u64 + 1;
        let mut input = std::io::Read::take(std::io::stdin(), limit);
        if let Err(e) = std::io::Read::read_to_string(&mut input, &mut text) {
            eprintln!("Error: cannot read standard input: {e}");
            return ExitCode::from(1);
        }
        if text.len() as u64 >= limit {
            eprintln!(
                "Error: standard input is larger than {} MiB, the most brick reads of a configuration file",
                crate::config::MAX_FILE_BYTES >> 20
            );
            return ExitCode::from(1);
        }
        return match format_source(&text) {
            Ok(f) => {
                if diff && f != text {
                    print!("{}", unified_diff(Path::new("<stdin>"), &text, &f));
                } else if !check {
                    print!("{f}");
                }
                if check && f != text {
                    ExitCode::from(3)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(d) => {
                let files = [crate::config::SourceFile {
                    path: "<stdin>".into(),
                    text: text.into(),
                }];
                super::common::render(&[d], &files);
                ExitCode::from(1)
            }
        };
    }
    let mut files = Vec::new();
    let paths = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    };
    for p in &paths {
        if p.is_dir() {
            match crate::config::FileSystem::list_hcl_files(&crate::config::RealFs, p) {
                Ok(l) => files.extend(l),
                Err(e) => {
                    eprintln!("Error: cannot read {}: {e}", p.display());
                    return ExitCode::from(1);
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    let mut failed = false;
    let mut changed = false;
    for f in files {
        let text = match super::files::read_bounded(&f, crate::config::MAX_FILE_BYTES as u64)
            .map(String::from_utf8)
        {
            Ok(Ok(t)) => t,
            Ok(Err(_)) => {
                eprintln!("Error: {} is not valid UTF-8", f.display());
                failed = true;
                continue;
            }
            Err(e) => {
                eprintln!("Error: cannot read {}: {e}", f.display());
                failed = true;
                continue;
            }
        };
        match format_source(&text) {
            Err(d) => {
                let files = [crate::config::SourceFile {
                    path: f.clone(),
                    text: text.into(),
                }];
                super::common::render(&[d], &files);
                failed = true;
            }
            Ok(formatted) if formatted != text => {
                changed = true;
                println!("{}", f.display());
                if diff {
                    print!("{}", unified_diff(&f, &text, &formatted));
                }
                if !check && let Err(e) = write_atomically(&f, &formatted) {
                    eprintln!("Error: cannot write {}: {e}", f.display());
                    failed = true;
                }
            }
            Ok(_) => {}
        }
    }
    if failed {
        ExitCode::from(1)
    } else if check && changed {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

/// A unified diff of `old` → `new` for `path`.
pub fn unified_diff(path: &Path, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .header(
            &format!("{} (old)", path.display()),
            &format!("{} (formatted)", path.display()),
        )
        .to_string()
}

/// Replaces `path` through a new temporary file beside it (created exclusively, so a link
/// planted at the temporary name is never followed), keeping the file's permissions.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path)?.permissions());
    let tmp = path.with_extension(format!("hcl.brick-fmt.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode & 0o7777)
        .open(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_indents_aligns_and_spaces_like_terraform() {
        let src = "resource \"brick_data\" \"x\" {\ninput=[1,2,{a=1}]\n  # keep me\n    triggers_replace   =   var.x+1   # trailing\nlifecycle{\ncreate_before_destroy=true\n}\n}\n";
        let want = "resource \"brick_data\" \"x\" {\n  input = [1, 2, { a = 1 }]\n  # keep me\n  triggers_replace = var.x + 1 # trailing\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n";
        assert_eq!(format_source(src).unwrap(), want);
    }

    #[test]
    fn consecutive_attributes_align_their_equals_signs() {
        let src = "locals {\na=1\nlonger_name=2\n\nc=3\n}\n";
        let want = "locals {\n  a           = 1\n  longer_name = 2\n\n  c = 3\n}\n";
        assert_eq!(format_source(src).unwrap(), want);
    }

    #[test]
    fn heredocs_and_strings_are_kept_verbatim() {
        let src = "locals {\n  s = \"a  ${ x }  b\"\n  h = <<EOT\n   keep   this\nEOT\n  n = -1\n  m = a[*].b\n  f = [for x in y: x if !x]\n}\n";
        let out = format_source(src).unwrap();
        assert!(out.contains("\"a  ${x}  b\""), "{out}");
        assert!(out.contains("   keep   this\nEOT\n"), "{out}");
        assert!(out.contains("n = -1"), "{out}");
        assert!(out.contains("a[*].b"), "{out}");
        assert!(out.contains("[for x in y : x if !x]"), "{out}");
    }

    #[test]
    fn formatting_twice_changes_nothing_more() {
        let src = "variable \"x\" {\ntype=object({a=string,b=optional(number,1)})\ndefault={\na=\"x\"\n}\n}\noutput \"o\" { value = var.x.a == \"x\" ? 1 : 2 }\n";
        let once = format_source(src).unwrap();
        assert_eq!(format_source(&once).unwrap(), once);
    }

    /// `tests/lang/fmt/NAME.in.hcl` formats to `NAME.out.hcl`, which was produced by
    /// `terraform fmt` (Terraform 1.15) from the same input.
    #[test]
    fn fixtures_format_exactly_as_terraform_fmt_does() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lang/fmt");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".in.hcl") else {
                continue;
            };
            let input = std::fs::read_to_string(&p).unwrap();
            let want = std::fs::read_to_string(dir.join(format!("{stem}.out.hcl"))).unwrap();
            let got = format_source(&input).unwrap();
            assert_eq!(got, want, "{stem}:\n{}", unified_diff(&p, &want, &got));
            assert_eq!(
                format_source(&got).unwrap(),
                got,
                "{stem} is not idempotent"
            );
            n += 1;
        }
        assert!(n > 0);
    }

    #[test]
    fn invalid_hcl_is_a_diagnostic_not_a_panic() {
        let d = format_source("resource \"a\" {\n  x = [1,\n").unwrap_err();
        assert_eq!(d.code, "brick::config::syntax");
    }
}
