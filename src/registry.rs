//! The one place that names the concrete providers: which provider types this build of brick
//! has, and how to make an instance of one.

use std::collections::BTreeSet;
use std::sync::Arc;

use brick_provider_api::Provider;
use brick_provider_api::schema::ProviderSchema;

use crate::builtin::{BrickProvider, IdSource};
use crate::plan::providers::ProviderSet;

/// The MAAS provider's embedded lab (its simulator), which `brick lab` serves.
pub use brick_provider_maas::lab as maas_lab;

/// The provider types this build includes.
pub fn available() -> &'static [&'static str] {
    &["brick", "ceph", "k8s", "kafka", "maas"]
}

/// The provider type brick uses for the last part of a registry source address: Terraform's
/// built-in `terraform` provider (`terraform_data`, `terraform_remote_state`) is brick's
/// `brick`; every other name is its own.
pub fn provider_type(source_type: &str) -> &str {
    match source_type {
        "terraform" => "brick",
        other => other,
    }
}

/// The schema of the built-in provider `brick`, which every configuration may use without
/// declaring it (offline validation adds it when a caller's schemas lack it).
pub fn builtin_schema() -> ProviderSchema {
    BrickProvider::with_sequential_ids().schema()
}

/// A new, unconfigured instance of provider type `type_name`.
pub fn instantiate(type_name: &str, ids: &IdSource) -> Option<Arc<dyn Provider>> {
    match provider_type(type_name) {
        "brick" => Some(Arc::new(BrickProvider::new(ids.clone()))),
        "maas" => Some(Arc::new(brick_provider_maas::MaasProvider::default())),
        "ceph" => Some(Arc::new(brick_provider_ceph::CephProvider::default())),
        "kafka" => Some(Arc::new(brick_provider_kafka::KafkaProvider::default())),
        "k8s" => Some(Arc::new(brick_provider_k8s::K8sProvider::default())),
        _ => None,
    }
}

/// One instance per provider configuration name (`maas`, `maas.east`) among `names`; names
/// whose type this build lacks are left out (the planner reports them where they are used).
pub fn provider_set<'a>(names: impl IntoIterator<Item = &'a str>, ids: &IdSource) -> ProviderSet {
    let mut set = ProviderSet::new();
    let names: BTreeSet<&str> = names.into_iter().chain(["brick"]).collect();
    for name in names {
        // `module.a.maas.east` (a child module's own configuration) is of type `maas`.
        let key = crate::plan::input::provider_module(name).1;
        let ty = key.split('.').next().unwrap_or(key);
        if let Some(p) = instantiate(ty, ids) {
            set.insert(name, p);
        }
    }
    set
}
