//! The `kafka` provider: any Kafka cluster through the Admin API (rdkafka with its bundled
//! librdkafka). Resources `kafka_topic` and `kafka_acl`; provider-level plan checks.
//!
//! Unsafe code is denied except in [`ffi`], the small wrapper of the librdkafka calls rdkafka
//! has no safe API for (its header says why it is allowed there).
#![deny(unsafe_code)]

pub mod batch;
pub mod checks;
pub mod client;
pub mod ffi;
pub mod provider;
pub mod resources;
pub mod value;

pub use provider::KafkaProvider;
