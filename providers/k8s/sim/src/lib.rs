//! The lab's Kubernetes API: an in-process simulated kube-apiserver (store, discovery, CRUD,
//! server-side apply, watch, CRDs, namespaces, finalizers, garbage collection) served over TLS,
//! with a [`Controller`] plug-in trait so that simulated operators run inside it. See the
//! crate README for what it serves, the Controller trait, and the measured fidelity.

pub mod controllers;
mod crd;
mod defaults;
mod discovery;
pub mod error;
mod faults;
pub mod fields;
mod http;
mod openapi;
mod patch;
pub mod pki;
mod protobuf;
pub mod selector;
mod server;
pub mod store;
mod table;
pub mod types;
mod yaml;

pub use controllers::{Cluster, Controller, NodeSpec, VOLUMES_ANNOTATION};
pub use error::ApiError;
pub use faults::Faults;
pub use server::{SimError, SimOptions, SimServer, TlsMaterial};
pub use store::{Backend, Event, EventType, ProxyReply, Store};
