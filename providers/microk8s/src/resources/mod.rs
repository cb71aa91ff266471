//! The resource types of the microk8s provider, one module each.

pub mod cluster;
