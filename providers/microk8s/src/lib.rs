//! The MicroK8s provider: a MicroK8s cluster as data brick generates (join token, CA, admin
//! certificate, each node's cloud-init), formed by the machines themselves when they boot.
//!
//! - [`pki`] — the cluster's RSA CA, the admin client certificate and the join token;
//! - [`render`] — the launch configurations, cloud-init documents and kubeconfig;
//! - [`resources`] — `microk8s_cluster`, `microk8s_node`, and the checks over a whole plan;
//! - [`lab`] — what the lab reads from a machine's user_data to play its MicroK8s, and the
//!   first node's cluster agent (the datastore's voters, `dqlite/remove`);
//! - [`provider`] — [`Microk8sProvider`], the `Provider` implementation.

pub mod lab;
pub mod pki;
pub mod provider;
pub mod render;
pub mod resources;

pub use provider::Microk8sProvider;
