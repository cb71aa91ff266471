//! User-facing diagnostics: data with a stable code, a short fixed summary, a detail sentence,
//! a source location and a help line. Libraries collect them; only `cli` renders them.
