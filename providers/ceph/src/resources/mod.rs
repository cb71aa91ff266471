//! The resource types and data sources of the ceph provider, one file each.

pub mod pool;
pub mod status;
