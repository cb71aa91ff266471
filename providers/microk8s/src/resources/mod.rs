//! The resource types of the microk8s provider, one module each, and the checks over a whole
//! plan (`checks`).

pub mod checks;
pub mod cluster;
pub mod node;
