//! brick: a declarative desired-state engine.
//!
//! A run flows through the modules in this order (see ARCHITECTURE.md):
//! `cli` reads argv → `config` loads the `*.hcl` files → `eval` evaluates expressions →
//! `plan` diffs desired against recorded state → `graph` orders the work → `apply` executes
//! it → `view` renders the engine's events for people or machines.

pub mod action;
pub mod addr;
pub mod apply;
pub mod builtin;
pub mod cli;
pub mod config;
pub mod diag;
pub mod drift;
pub mod eval;
pub mod event;
pub mod graph;
pub mod input;
pub mod lab;
pub mod plan;
pub mod registry;
pub mod statefile;
pub mod timing;
pub mod validate;
pub mod view;
