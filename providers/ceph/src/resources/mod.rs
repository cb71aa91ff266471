//! The resource types and data sources of the ceph and rook providers, one file each.

pub mod pool;
pub mod rook_block_pool;
pub mod rook_cluster;
pub mod rook_operator;
pub mod rook_storage_class;
pub mod status;
