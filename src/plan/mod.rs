//! Planning: prior state + refreshed state + configuration → one action per resource instance.
//! The plan is plain data and can be saved.
