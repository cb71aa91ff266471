//! Two providers of Kafka. `kafka`: any Kafka cluster through the Admin API (rdkafka with its
//! bundled librdkafka); resources `kafka_topic`, `kafka_acl` and `kafka_quota`; provider-level
//! plan checks. What librdkafka lacks (client quotas, partition reassignments) goes over
//! [`wire`]. `strimzi` ([`strimzi`]): Kafka on Kubernetes through Strimzi's resources
//! (`strimzi_operator`, `strimzi_kafka`, `strimzi_topic`), via the k8s provider's machinery;
//! [`lab`] is its simulated operator for the lab's Kubernetes API.
//!
//! Unsafe code is denied except in [`ffi`], the small wrapper of the librdkafka calls rdkafka
//! has no safe API for (its header says why it is allowed there).
#![deny(unsafe_code)]
// Diagnostics are rich data (detail, help, attribute); returning them by value is deliberate.
#![allow(clippy::result_large_err)]

pub mod batch;
pub mod checks;
pub mod client;
pub mod drift;
pub mod ffi;
pub mod lab;
pub mod provider;
pub mod reassign;
pub mod resources;
pub mod strimzi;
pub mod value;
pub mod wire;

pub use provider::KafkaProvider;
pub use strimzi::StrimziProvider;
