//! Configuring the providers of an apply: those known at plan time before the first step
//! (their configurations see the recorded values of what the plan destroys), and those the
//! plan configures during apply (`Plan::configured_during_apply`) before their first change,
//! followed by the plan check they could not run at plan time.

use brick_provider_api::{Provider, Value};

use super::Executor;
use super::values::Known;
use crate::addr::InstanceAddr;
use crate::diag::Diagnostic;
use crate::event::Event;
use crate::plan::call::plan_check;
use crate::plan::model::{Action, LateProvider, ResourceChange};
use crate::plan::scope::Working;

impl<'a> Executor<'a> {
    /// Configures every provider the plan uses, but those configured during apply; their
    /// problems go to the outcome.
    pub(super) async fn configure_providers(&mut self) {
        let (plan, config, providers) = (self.plan, self.config, self.providers);
        let mut used: Vec<&str> = plan.changes.iter().map(|c| c.provider.as_str()).collect();
        used.sort_unstable();
        used.dedup();
        // Provider configurations read what exists while their provider works: an object this
        // plan destroys still exists then (a destroy plan of a cluster and the objects in it
        // configures the objects' provider from the cluster's recorded values).
        let destroyed: Vec<&ResourceChange> = plan
            .changes
            .iter()
            .filter(|c| matches!(c.action, Action::Delete | Action::Forget) && !c.before.is_null())
            .collect();
        let with_destroyed = if config.providers.is_empty() || destroyed.is_empty() {
            None
        } else {
            let mut m = self.values.instances.clone();
            for c in destroyed {
                m.entry(c.addr.resource.clone())
                    .or_default()
                    .insert(c.addr.key.clone(), c.before.clone());
            }
            Some(m)
        };
        let instances = with_destroyed.as_ref().unwrap_or(&self.values.instances);
        // Provider configurations may read locals and module outputs.
        let root_values = if config.providers.is_empty() {
            Working::default()
        } else {
            self.values.walk(instances)
        };
        let known = Known {
            values: &root_values,
            instances,
            shapes: &self.values.shapes,
        };
        for name in used {
            if self.late.contains_key(name) {
                continue;
            }
            let Some(p) = providers.get(name) else {
                self.out.diagnostics.push(Diagnostic::error(
                    "brick::apply::unknown_provider",
                    "Provider not available",
                    format!("The plan uses the provider {name:?}, which brick does not have."),
                ));
                continue;
            };
            let block = providers
                .schema(name)
                .map(|s| s.provider.clone())
                .unwrap_or_default();
            let cfg = match config.providers.iter().find(|pc| pc.name == name) {
                None => Value::empty_object(),
                Some(pc) => {
                    let module = crate::addr::module_text(&crate::addr::provider_module(name).0);
                    match (pc.body)(&known.scope(&module), &block) {
                        Ok(v) => v,
                        Err(ds) => {
                            self.out.diagnostics.extend(ds);
                            continue;
                        }
                    }
                }
            };
            self.out
                .diagnostics
                .extend(p.configure(&cfg).await.into_iter().map(Diagnostic::from));
        }
    }

    /// Before a change of a provider configured during apply: the provider configured, now
    /// that what its configuration reads has been applied, then given the plan check it could
    /// not run at plan time — before its first change, once; its other changes reuse the
    /// result. Its warnings join the run's, as those of providers configured at plan. `Err`:
    /// why the change is not started.
    pub(super) async fn late_provider_ready(
        &mut self,
        c: &'a ResourceChange,
        provider: &dyn Provider,
    ) -> Result<(), Vec<Diagnostic>> {
        let Some(&l) = self.late.get(c.provider.as_str()) else {
            return Ok(());
        };
        let first = !self.late_configured.contains_key(&c.provider);
        if first {
            let r = match self.configure_late(l, provider).await {
                Err(ds) => Err(LateFailure::NotConfigured(ds)),
                Ok(warnings) => {
                    self.out.diagnostics.extend(warnings);
                    let resources = &self.resources;
                    let found = plan_check(&c.provider, provider, &self.plan.changes, |a| {
                        resources.get(a).copied().map(|rc| &rc.source)
                    })
                    .await;
                    let (errors, warnings): (Vec<_>, Vec<_>) =
                        found.into_iter().partition(Diagnostic::is_error);
                    self.out.diagnostics.extend(warnings);
                    if errors.is_empty() {
                        Ok(())
                    } else {
                        Err(LateFailure::PlanRefused(errors))
                    }
                }
            };
            if r.is_ok() {
                self.events.emit(Event::ProviderConfigured {
                    name: c.provider.clone(),
                });
            }
            self.late_configured.insert(c.provider.clone(), r);
        }
        match &self.late_configured[&c.provider] {
            Err(failure) => Err(failure.diagnostics_for(first, &c.addr, &c.provider)),
            Ok(()) => Ok(()),
        }
    }

    /// Configures a provider whose configuration was known only during apply: evaluated with
    /// the values applied so far, it must now be wholly known. Returns the provider's
    /// warnings.
    async fn configure_late(
        &mut self,
        late: &LateProvider,
        provider: &dyn Provider,
    ) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
        let Some(pc) = self.config.providers.iter().find(|pc| pc.name == late.name) else {
            return Err(vec![Diagnostic::error(
                "brick::apply::config_missing",
                "Configuration changed since the plan",
                format!(
                    "The provider \"{}\" block is no longer in the configuration.",
                    late.name
                ),
            )]);
        };
        let block = self
            .providers
            .schema(&late.name)
            .map(|s| s.provider.clone())
            .unwrap_or_default();
        let module = crate::addr::module_text(&crate::addr::provider_module(&late.name).0);
        let cfg = (pc.body)(&self.values.known().scope(&module), &block)?;
        if !cfg.is_wholly_known() {
            return Err(vec![Diagnostic::error(
                "brick::apply::provider_config_unknown",
                "Provider configuration still unknown",
                format!(
                    "The configuration of provider \"{}\" is still not known after what it reads was applied; none of its changes were started.",
                    late.name
                ),
            )
            .help("Make the provider block read only values that are known once the resources it names are applied.")]);
        }
        let diags: Vec<Diagnostic> = provider
            .configure(&cfg)
            .await
            .into_iter()
            .map(Diagnostic::from)
            .collect();
        if diags.iter().any(Diagnostic::is_error) {
            return Err(diags);
        }
        Ok(diags)
    }
}

/// Why the changes of a provider configured during apply are not started.
pub(super) enum LateFailure {
    /// Its configuration could not be evaluated, or `configure` failed.
    NotConfigured(Vec<Diagnostic>),
    /// Configured, its plan check refused the plan (its errors).
    PlanRefused(Vec<Diagnostic>),
}

impl LateFailure {
    /// The errors of one of the provider's changes: the first carries the cause, every one
    /// says that it was not started and why.
    fn diagnostics_for(&self, first: bool, addr: &InstanceAddr, provider: &str) -> Vec<Diagnostic> {
        match self {
            LateFailure::NotConfigured(ds) if first => ds.clone(),
            LateFailure::NotConfigured(_) => vec![Diagnostic::error(
                "brick::apply::provider_not_configured",
                "Provider not configured",
                format!(
                    "{addr} was not started: provider \"{provider}\" could not be configured (see above)."
                ),
            )],
            LateFailure::PlanRefused(ds) => {
                let mut out = if first { ds.clone() } else { Vec::new() };
                out.push(
                    Diagnostic::error(
                        "brick::apply::plan_refused_after_configure",
                        "Provider refused the plan once configured",
                        format!(
                            "{addr} was not started: provider \"{provider}\", configured during apply, refused the plan in its plan check{}. Nothing was sent to it.",
                            if first { "" } else { " (see above)" }
                        ),
                    )
                    .help("Its configuration was unknown when the plan was made, so its plan check ran only now. Fix what it reports and run `brick plan` again."),
                );
                out
            }
        }
    }
}
