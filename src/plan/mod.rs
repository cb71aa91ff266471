//! Planning: prior state + refreshed state + configuration → one action per resource instance.
//! The plan is plain data ([`model::Plan`]) and can be saved.
//!
//! Architecture invariant: the planner does no I/O except through the `Provider` trait.

pub mod address;
pub mod call;
pub mod codec;
pub mod from_config;
pub mod marks;
pub mod model;
pub mod planner;
pub mod providers;
pub mod provisioners;
pub mod relevant;
pub mod scope;

pub use planner::{Options, plan};
