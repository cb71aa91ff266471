//! Diagnostics a provider returns. The engine attaches source locations (it knows which
//! configuration produced an attribute) and renders them; providers only say what is wrong.

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem found by a provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable code, e.g. `brick::maas::no_machine_available`.
    pub code: String,
    /// A short, fixed summary ("No machine available").
    pub summary: String,
    /// A full sentence about this occurrence.
    pub detail: String,
    /// What the user can do about it.
    pub help: Option<String>,
    /// The attribute the problem is about, as a path of attribute names and keys.
    pub attribute: Vec<String>,
}

impl Diagnostic {
    pub fn error(
        code: impl Into<String>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code: code.into(),
            summary: summary.into(),
            detail: detail.into(),
            help: None,
            attribute: Vec::new(),
        }
    }
    pub fn warning(
        code: impl Into<String>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, summary, detail)
        }
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// The error for a type name a provider does not serve:
    /// `brick::<provider>::unknown_type`.
    pub fn unknown_type(provider: &str, type_name: &str) -> Self {
        Diagnostic::error(
            format!("brick::{provider}::unknown_type"),
            "Unknown resource type",
            format!(
                "The {provider} provider has no resource type or data source named {type_name}."
            ),
        )
    }
    pub fn at(mut self, path: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.attribute = path.into_iter().map(Into::into).collect();
        self
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.summary, self.detail)
    }
}

impl std::error::Error for Diagnostic {}

/// A collection of diagnostics: collect them all rather than stopping at the first.
pub type Diagnostics = Vec<Diagnostic>;

/// Whether any diagnostic in the list is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}
