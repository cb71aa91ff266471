//! The planner's view of addresses: the one address representation lives in
//! [`crate::addr`]; this module re-exports it so that `plan::address::…` keeps working.

pub use crate::addr::*;
