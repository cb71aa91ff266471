//! The kafka provider's resource types, one module each.

pub mod acl;
pub mod quota;
pub mod strimzi_kafka;
pub mod strimzi_operator;
pub mod strimzi_topic;
pub mod topic;
