//! The Ceph provider: pools and cluster status through the monitors (librados loaded at run
//! time), and plans that refuse pools the cluster's failure domains cannot hold.
//!
//! - [`rados`]: the FFI to librados (monitor commands only);
//! - [`placement`]: failure domains counted from a CRUSH map or a planned cluster, reusable by
//!   any provider that makes Ceph pools;
//! - [`provider`]: [`CephProvider`], dispatching to [`resources`] (`ceph_pool`, data source
//!   `ceph_status`).

pub mod convert;
pub mod placement;
pub mod provider;
pub mod rados;
pub mod resources;

pub use provider::CephProvider;
