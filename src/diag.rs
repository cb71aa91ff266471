//! User-facing diagnostics: data with a stable code, a short fixed summary, a detail sentence,
//! a source location and a help line. Libraries collect them; only `cli` renders them.
//!
//! - [`Diagnostic`] is plain data (cloneable, comparable, serialisable by the views).
//! - [`Diagnostic::to_json`] is Terraform's machine-readable form; the CLI renders the text
//!   form (`cli::common::render_diagnostic`).
//! - [`Span`] and [`SourceFile`]: where in the configuration a diagnostic points (the loader
//!   puts a span on every node; `config` re-exports them).
//! - [`did_you_mean`] picks the closest name for "did you mean" help lines.
//! - `From<brick_provider_api::Diagnostic>` turns provider diagnostics into these.

use std::fmt;

use std::path::PathBuf;

pub use brick_provider_api::Severity;

/// Index of a source file in `config::Config::files`.
pub type FileId = usize;

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// The smallest span covering both (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// One loaded source file, kept for rendering diagnostics. The text is shared: the
/// configuration's copies of its files (and the JSON plan's descriptions, made when asked)
/// hold the same text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: std::sync::Arc<str>,
}

/// One problem (or warning) found in a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable code, e.g. `brick::config::undeclared_reference`.
    pub code: String,
    /// A short fixed summary ("Reference to undeclared input variable").
    pub summary: String,
    /// A full sentence about this occurrence.
    pub detail: String,
    /// Where in the configuration the problem is.
    pub span: Option<Span>,
    /// The text drawn under the span.
    pub label: Option<String>,
    /// What the user can do ("did you mean `var.nodes`?").
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(
        code: impl Into<String>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code: code.into(),
            summary: summary.into(),
            detail: detail.into(),
            span: None,
            label: None,
            help: None,
        }
    }
    pub fn warning(
        code: impl Into<String>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, summary, detail)
        }
    }
    pub fn at(mut self, span: Span) -> Diagnostic {
        self.span = Some(span);
        self
    }
    pub fn at_opt(mut self, span: Option<Span>) -> Diagnostic {
        if self.span.is_none() {
            self.span = span;
        }
        self
    }
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
    pub fn help_opt(mut self, help: Option<String>) -> Diagnostic {
        if help.is_some() {
            self.help = help;
        }
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// This diagnostic in Terraform's machine-readable form (`terraform validate -json`,
    /// `views/json/diagnostic.go`): `severity`, `summary`, `detail`, and where there is a source
    /// location a `range` (file name relative to the configuration, 1-based line and column,
    /// byte offset) and a `snippet` (the enclosing block's header as `context`, the source lines
    /// of the range as `code`, the highlight's byte offsets within them). brick adds its stable
    /// `code` and the `help` line.
    pub fn to_json(&self, files: &[SourceFile]) -> serde_json::Value {
        let mut o = serde_json::Map::new();
        o.insert(
            "severity".into(),
            (if self.is_error() { "error" } else { "warning" }).into(),
        );
        o.insert("summary".into(), self.summary.clone().into());
        o.insert("detail".into(), self.detail.clone().into());
        if let Some(span) = self.span
            && let Some(f) = files.get(span.file)
        {
            let text: &str = &f.text;
            let (start, end) = (span.start.min(text.len()), span.end.min(text.len()));
            let pos = |offset: usize| {
                let (line, column) = line_col(text, offset);
                serde_json::json!({ "line": line, "column": column, "byte": offset })
            };
            let name = display_name(f);
            o.insert(
                "range".into(),
                serde_json::json!({ "filename": name, "start": pos(start), "end": pos(end) }),
            );
            let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[end.max(start)..]
                .find('\n')
                .map_or(text.len(), |i| end.max(start) + i);
            o.insert(
                "snippet".into(),
                serde_json::json!({
                    "context": block_context(text, line_start),
                    "code": &text[line_start..line_end],
                    "start_line": line_col(text, start).0,
                    "highlight_start_offset": start - line_start,
                    "highlight_end_offset": end.max(start) - line_start,
                    "values": [],
                }),
            );
        }
        o.insert("code".into(), self.code.clone().into());
        if let Some(h) = &self.help {
            o.insert("help".into(), h.clone().into());
        }
        serde_json::Value::Object(o)
    }

    /// "file:line:col" of the span, when there is one.
    pub fn location(&self, files: &[SourceFile]) -> Option<String> {
        let span = self.span?;
        let f = files.get(span.file)?;
        let (line, col) = line_col(&f.text, span.start);
        Some(format!("{}:{line}:{col}", f.path.display()))
    }
}

/// A source file's name as diagnostics show it: relative to the configuration, without `./`
/// (`main.hcl`, `node/main.hcl`), as Terraform names `main.tf`.
pub fn display_name(f: &SourceFile) -> String {
    let name = f.path.to_string_lossy();
    name.strip_prefix("./").unwrap_or(&name).to_string()
}

/// The header of the top-level block that contains the line starting at `line_start`
/// (`resource "brick_data" "a"`), as Terraform's snippets name their context; `None` outside
/// any block.
pub(crate) fn block_context(text: &str, line_start: usize) -> Option<String> {
    let mut depth = 0i32;
    for line in text[..line_start].lines().rev() {
        let trimmed = line.trim_end();
        if line.starts_with(|c: char| !c.is_whitespace()) {
            if trimmed == "}" {
                depth += 1;
                continue;
            }
            if let Some(header) = trimmed.strip_suffix('{') {
                if depth == 0 {
                    return Some(header.trim_end().to_string());
                }
                depth -= 1;
            }
        }
    }
    None
}

/// Whether any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

impl std::error::Error for Diagnostic {}

impl From<brick_provider_api::Diagnostic> for Diagnostic {
    fn from(d: brick_provider_api::Diagnostic) -> Diagnostic {
        let detail = if d.attribute.is_empty() {
            d.detail
        } else {
            format!("{} (attribute `{}`)", d.detail, d.attribute.join("."))
        };
        Diagnostic {
            severity: d.severity,
            code: d.code,
            summary: d.summary,
            detail,
            span: None,
            label: None,
            help: d.help,
        }
    }
}

/// The candidate closest to `name`, when it is close enough to be a plausible typo.
pub fn did_you_mean<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(f64, &'a str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let score = strsim::jaro_winkler(name, c);
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_a_near_miss_and_ignores_unrelated_names() {
        assert_eq!(did_you_mean("node", ["nodes", "cluster"]), Some("nodes"));
        assert_eq!(did_you_mean("zzz", ["nodes", "cluster"]), None);
    }

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
    }
}
