//! The provider instances a run uses, keyed by provider configuration name, with their
//! schemas fetched once.

// Diagnostics are rich data (spans, help); returning them by value is deliberate.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;

use brick_provider_api::Provider;
use brick_provider_api::schema::{ProviderSchema, ResourceSchema};

use crate::diag::Diagnostic;
use crate::timing::{Clock, Timed};

use super::address::{ResourceAddr, ResourceMode};

#[derive(Clone, Default)]
pub struct ProviderSet {
    providers: BTreeMap<String, Arc<dyn Provider>>,
    schemas: BTreeMap<String, Arc<ProviderSchema>>,
    /// Every call of these providers, timed (see [`crate::timing`]).
    clock: Arc<Clock>,
}

impl ProviderSet {
    pub fn new() -> ProviderSet {
        ProviderSet::default()
    }

    pub fn insert(&mut self, name: impl Into<String>, provider: Arc<dyn Provider>) {
        let name = name.into();
        self.schemas
            .insert(name.clone(), Arc::new(provider.schema()));
        let timed = Timed {
            inner: provider,
            key: name.clone(),
            clock: self.clock.clone(),
        };
        self.providers.insert(name, Arc::new(timed));
    }

    /// The intervals of every provider call made through this set.
    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.providers.keys()
    }

    pub fn schema(&self, name: &str) -> Option<&Arc<ProviderSchema>> {
        self.schemas.get(name)
    }

    /// The schema of a resource type or data source, or a diagnostic saying what is missing.
    pub fn resource_schema(
        &self,
        provider: &str,
        addr: &ResourceAddr,
    ) -> Result<&ResourceSchema, Diagnostic> {
        let Some(s) = self.schemas.get(provider) else {
            return Err(Diagnostic::error(
                "brick::plan::unknown_provider",
                "Provider not available",
                format!("{addr} needs the provider {provider:?}, which brick does not have."),
            )
            .help("Run `brick init` to see the providers this build includes."));
        };
        let table = match addr.mode {
            ResourceMode::Managed => &s.resources,
            ResourceMode::Data => &s.data_sources,
        };
        table.get(&addr.type_name).ok_or_else(|| {
            Diagnostic::error(
                "brick::plan::unknown_resource_type",
                "Unsupported resource type",
                format!(
                    "The provider {provider} does not support the {} type {}.",
                    if addr.mode == ResourceMode::Data {
                        "data source"
                    } else {
                        "resource"
                    },
                    addr.type_name
                ),
            )
        })
    }
}
