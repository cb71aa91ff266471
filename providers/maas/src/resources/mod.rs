//! The resource types and data sources of the maas provider, one file each.

pub mod machine;
pub mod machines_data;
pub mod tag;
