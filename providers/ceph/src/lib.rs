//! The Ceph provider: pools, through the monitors.
