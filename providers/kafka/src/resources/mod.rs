//! The kafka provider's resource types, one module each.

pub mod acl;
pub mod topic;
