//! The MAAS provider: machines deployed from bare metal, and a simulator of the MAAS 2.0 API.
//!
//! - [`sim`]: the MAAS simulator (an HTTP server on 127.0.0.1) and [`lab`], its `brick lab` face;
//! - [`client`]: a small MAAS API client (OAuth PLAINTEXT, retries, clear errors);
//! - [`provider`]: [`MaasProvider`], the `Provider` implementation, dispatching to
//!   [`resources`] (`maas_machine`, `maas_tag`, data source `maas_machines`).

#![recursion_limit = "256"]

pub mod client;
pub mod convert;
pub mod drift;
pub mod lab;
pub mod provider;
pub mod resources;
pub mod sim;

pub use provider::{MaasProvider, Settings};
