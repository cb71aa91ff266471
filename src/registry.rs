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

/// The simulated operators the lab's Kubernetes API runs beside its built-in controllers
/// (`SimOptions::controllers` of `brick-k8s-sim`): Strimzi's, so that `strimzi_*` resources reach
/// Ready in the lab, offline.
pub fn lab_controllers() -> Vec<Arc<dyn brick_provider_kafka::lab::Controller>> {
    vec![Arc::new(
        brick_provider_kafka::lab::StrimziOperator::default(),
    )]
}

/// The provider types this build includes.
pub fn available() -> &'static [&'static str] {
    &[
        "brick", "ceph", "k8s", "kafka", "maas", "microk8s", "strimzi",
    ]
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
        "microk8s" => Some(Arc::new(brick_provider_microk8s::Microk8sProvider)),
        "strimzi" => Some(Arc::new(brick_provider_kafka::StrimziProvider::default())),
        _ => None,
    }
}

/// One instance per provider configuration name (`maas`, `maas.east`) among `names`; names
/// whose type this build lacks are left out (the planner reports them where they are used).
pub fn provider_set<'a>(names: impl IntoIterator<Item = &'a str>, ids: &IdSource) -> ProviderSet {
    let mut set = ProviderSet::new();
    let names: BTreeSet<&str> = names.into_iter().chain(["brick"]).collect();
    add(&mut set, names, ids);
    set
}

/// Adds to `set` an instance for each of `names` it lacks (providers of objects recorded in
/// state whose configuration no longer names them).
pub fn add_missing(set: &mut ProviderSet, names: impl IntoIterator<Item = String>, ids: &IdSource) {
    let names: BTreeSet<String> = names.into_iter().filter(|n| set.get(n).is_none()).collect();
    add(set, names.iter().map(String::as_str), ids);
}

fn add<'a>(set: &mut ProviderSet, names: impl IntoIterator<Item = &'a str>, ids: &IdSource) {
    for name in names {
        // `module.a.maas.east` (a child module's own configuration) is of type `maas`.
        let key = crate::addr::provider_module(name).1;
        let ty = key.split('.').next().unwrap_or(key);
        if let Some(p) = instantiate(ty, ids) {
            set.insert(name, p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_available_type_is_instantiated_under_its_own_name_and_nothing_else_is() {
        let ids: IdSource = Arc::new(|| "id".to_string());
        for ty in available() {
            let p = instantiate(ty, &ids)
                .unwrap_or_else(|| panic!("{ty} is available but instantiate() does not know it"));
            assert_eq!(p.name(), *ty, "the provider's own name");
        }
        assert!(instantiate("no_such_provider", &ids).is_none());
        let set = provider_set(available().iter().copied(), &ids);
        assert_eq!(
            set.names().map(String::as_str).collect::<Vec<_>>(),
            available(),
            "provider_set has one instance per available type"
        );
    }
}
