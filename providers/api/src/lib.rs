//! The contract between brick's engine and its providers.
//!
//! This is the only crate a provider depends on. It defines:
//! - [`Value`], [`Type`] and [`Number`]: the values of the configuration language, which are
//!   also the values of resource attributes, with the *unknown* and *sensitive* marks;
//! - [`schema`]: what a provider declares about its resources and data sources;
//! - [`provider`]: the async [`Provider`](provider::Provider) trait and its requests and responses;
//! - [`diag`]: provider diagnostics, which the engine turns into user-facing ones;
//! - [`lifecycle`]: the proposed new state and the checks of planned and new states;
//! - [`conformance`]: the suite every provider's tests run (the contract is in `CONTRACT.md`);
//! - [`fake`]: an in-memory provider for engine tests;
//! - [`notice`]: progress notices outside any one resource (retries of an unreachable endpoint).
//!
//! Architecture invariant: nothing here does I/O, and nothing here knows a concrete provider.

pub mod conformance;
pub mod diag;
pub mod fake;
pub mod lifecycle;
pub mod notice;
pub mod number;
pub mod provider;
pub mod schema;
pub mod testing;
pub mod types;
pub mod value;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use number::{Arithmetic, ArithmeticError, Number};
pub use provider::{
    ChangeAction, ChangeDiagnostic, DriftExplanation, DriftNote, DriftRequest, DriftSeverity,
    PlannedChange, Provider,
};
pub use types::Type;
pub use value::{Marks, Value};
