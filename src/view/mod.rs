//! Rendering for people and machines: the engine's [`crate::event::Event`]s and plans become text
//! (Terraform-like), a live terminal view, or JSON. Nothing here decides anything.

pub mod diff;
pub mod drift;
pub mod json;
pub mod lines;
pub mod provider_schema;
pub mod text;
pub mod timing;

#[cfg(test)]
mod drift_tests;
#[cfg(test)]
mod tests;
