//! The `k8s` provider's resource types and data sources, one module each.

pub mod check;
pub mod documents;
pub mod manifest;
pub mod object;
