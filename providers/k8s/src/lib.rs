//! The Kubernetes provider `k8s`: any object by server-side apply (`k8s_manifest`), multi-
//! document YAML split for `for_each` (`k8s_documents`), and reads of live objects
//! (`k8s_object`, `k8s_objects`), through the `kube` crate.
//!
//! Other providers talk to a cluster through [`machinery`] (connection, apply, get, list,
//! wait, delete), the same code `k8s_manifest` runs on.
//!
//! Code map: [`config`] turns the provider block into a client configuration; [`client`]
//! holds the client, the discovery cache and the request count; [`retry`] is its one retry
//! policy; [`fields`] reads ownership from managedFields (drift, conflicts); [`ready`] says
//! whether an object is ready (kstatus); [`removed`] says what to write instead of an API
//! version a well-known operator no longer serves;
//! [`run`] keeps the implicit order of one run (CRD → custom resource, namespace → object);
//! [`resources`] has one module per resource type or data source.

// Diagnostics are rich data (detail, help, attribute); returning them by value is deliberate.
#![allow(clippy::result_large_err)]

pub mod client;
pub mod config;
pub mod convert;
pub mod drift;
pub mod fields;
pub mod machinery;
pub mod openapi;
pub mod provider;
pub mod ready;
pub mod removed;
pub mod resources;
pub mod retry;
pub mod run;

pub use provider::K8sProvider;
