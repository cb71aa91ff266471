//! The Ceph provider: pools, through the monitors.

pub mod rados;
