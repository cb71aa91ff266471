//! The contract between brick's engine and its providers.
//!
//! This is the only crate a provider depends on. It defines:
//! - [`Value`], [`Type`] and [`Number`]: the values of the configuration language, which are
//!   also the values of resource attributes, with the *unknown* and *sensitive* marks;
//! - [`schema`]: what a provider declares about its resources and data sources;
//! - [`provider`]: the async [`Provider`](provider::Provider) trait and its requests and responses;
//! - [`diag`]: provider diagnostics, which the engine turns into user-facing ones.
//!
//! Architecture invariant: nothing here does I/O, and nothing here knows a concrete provider.

pub mod diag;
pub mod number;
pub mod provider;
pub mod schema;
pub mod types;
pub mod value;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use number::Number;
pub use provider::Provider;
pub use types::Type;
pub use value::{Marks, Value};
