//! The Ceph provider: pools and cluster status through the monitors (librados loaded at run
//! time), and plans that refuse pools the cluster's failure domains cannot hold.
//!
//! - [`rados`]: the FFI to librados (monitor commands only);
//! - [`placement`]: failure domains counted from a CRUSH map or a planned cluster, reusable by
//!   any provider that makes Ceph pools;
//! - [`provider`]: [`CephProvider`], dispatching to [`resources`] (`ceph_pool`, data source
//!   `ceph_status`);
//! - [`rook`]: [`RookProvider`], Ceph on Kubernetes through Rook (`rook_operator`,
//!   `rook_cluster`, `rook_block_pool`, `rook_storage_class`), talking to the API server with
//!   [`kube`], refusing impossible plans with [`rook_checks`] and explaining drift with
//!   [`rook_drift`], and waiting for PGs to be active+clean with [`pg_metrics`] (the mgr's
//!   Prometheus metrics through the API server's service proxy);
//! - [`sim`]: the simulated Rook operator the lab's Kubernetes API runs.

// Diagnostics are rich data (detail, help, attribute); returning them by value is deliberate.
#![allow(clippy::result_large_err)]

pub mod convert;
pub mod kube;
pub mod pg_metrics;
pub mod placement;
pub mod provider;
pub mod rados;
pub mod resources;
pub mod rook;
pub mod rook_checks;
pub mod rook_drift;
pub mod sim;

pub use provider::CephProvider;
pub use rook::RookProvider;
