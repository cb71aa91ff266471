//! What a step does before its provider call: the checks that could not be decided at plan
//! time (`validation` blocks of what the resource reads, its `precondition` blocks,
//! destroy-time provisioners), and what to send — the plan as shown, or, where values were
//! unknown then, a final plan made again with the values now known and checked against the
//! plan that was shown.

// Diagnostics are rich data (spans, help); returning them by value is deliberate.
#![allow(clippy::result_large_err)]

use brick_provider_api::lifecycle::check_new_state;
use brick_provider_api::schema::Block;
use brick_provider_api::{Provider, Value};

use super::steps::StepKind;
use super::values::Values;
use super::{Executor, provisioner};
use crate::diag::Diagnostic;
use crate::input::{Condition, ResourceConfig};
use crate::plan::call::plan_call;
use crate::plan::marks::mark_sensitive;
use crate::plan::model::{Action, ResourceChange};
use crate::plan::scope::{InstanceScope, SelfScope};

impl<'a> Executor<'a> {
    /// The checks before a step's provider call; `Err`: the errors that keep it from
    /// starting.
    pub(super) async fn check_before_call(
        &mut self,
        c: &ResourceChange,
        kind: StepKind,
    ) -> Result<(), Vec<Diagnostic>> {
        let destroying = kind != StepKind::Apply;
        if !destroying {
            self.late_validations(c)?;
        }
        let rc = self.resource_of(c);
        // `precondition` blocks, checked again now that what they read is known: a failure
        // skips the operation and everything that depends on it.
        if !destroying
            && let Some(rc) = rc
            && !rc.lifecycle.preconditions.is_empty()
        {
            let failed =
                conditions_at_apply(&rc.lifecycle.preconditions, c, rc, None, &mut self.values);
            if !failed.is_empty() {
                return Err(failed);
            }
        }
        // Destroy-time `local-exec` provisioners, with `self` the object to destroy: a
        // failure (without `on_failure = continue`) keeps the object and fails the step.
        if kind == StepKind::Destroy
            && let Some(rc) = rc
            && rc.lifecycle.provisioners.iter().any(|p| p.when_destroy)
        {
            let (errors, warnings) = provisioner::provision(
                true,
                rc,
                c,
                &c.before,
                &mut self.values,
                &self.events,
                self.cancel,
            )
            .await;
            self.out.diagnostics.extend(warnings);
            if !errors.is_empty() {
                return Err(errors);
            }
        }
        Ok(())
    }

    /// The `validation` checks of the variables the resource of `c` reads that were not
    /// decided at plan time: decided now, before the value is used (Terraform ≥ 1.9).
    fn late_validations(&mut self, c: &ResourceChange) -> Result<(), Vec<Diagnostic>> {
        let config = self.config;
        let Some(g) = &self.validation_graph else {
            return Ok(());
        };
        let Some(ri) = g.by_resource.get(&c.addr.resource.config_addr()) else {
            return Ok(());
        };
        let checks = g.upstream_validations(*ri);
        let mut failed = Vec::new();
        if !checks.is_empty() {
            let known = self.values.known();
            for vi in checks {
                let v = &config.validations[vi];
                for m in known.values.instances_of(&v.module) {
                    if let Some(ds) = (v.check)(&known.scope(&m)) {
                        failed.extend(ds.into_iter().filter(Diagnostic::is_error));
                    }
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed)
        }
    }

    /// What to send to the provider for `c`: the prior value and the planned one.
    pub(super) async fn values_to_send(
        &mut self,
        c: &ResourceChange,
        destroying: bool,
        provider: &dyn Provider,
    ) -> Result<(Value, Value), Vec<Diagnostic>> {
        if destroying {
            return Ok((c.before.clone(), Value::null(c.before.ty())));
        }
        let prior = if c.action.is_replace() {
            Value::null(c.after.ty())
        } else {
            c.before.clone()
        };
        // A change of a provider configured during apply was planned without its
        // connection: planned again now, and checked against what was shown.
        let configured_late = self.late.contains_key(c.provider.as_str());
        let planned = if !configured_late
            && (c.after.is_wholly_known()
                || (c.action != Action::Read
                    && self
                        .providers
                        .resource_schema(&c.provider, &c.addr.resource)
                        .is_ok_and(|s| only_computed_unknown(&c.after, &s.block))))
        {
            c.after.clone()
        } else {
            self.final_plan(c, provider, &prior, configured_late)
                .await?
        };
        Ok((prior, planned))
    }

    /// Evaluates the configuration again with the values now known, plans once more, and
    /// checks that every value known when the plan was shown is unchanged.
    async fn final_plan(
        &mut self,
        c: &ResourceChange,
        provider: &dyn Provider,
        prior: &Value,
        configured_late: bool,
    ) -> Result<Value, Vec<Diagnostic>> {
        let Some(rc) = self.resource_of(c) else {
            return Err(vec![Diagnostic::error(
                "brick::apply::config_missing",
                "Configuration changed since the plan",
                format!("{} is no longer in the configuration.", c.addr),
            )]);
        };
        let schema = self
            .providers
            .resource_schema(&c.provider, &c.addr.resource)
            .map_err(|d| vec![d])?;
        let block = &schema.block;
        let cfg = {
            let known = self.values.known();
            let base = known.scope(&c.addr.resource.module);
            let each = rc.expansion.each_value(&base, &c.addr.key)?;
            let scope = InstanceScope {
                base: &base,
                key: &c.addr.key,
                each_value: each.as_ref(),
            };
            (rc.body)(&scope, block)?
        };
        let cfg = mark_sensitive(&fill(cfg, block), block);
        if c.action == Action::Read {
            // Data sources have no provider plan: the configuration, now known, is read as it
            // is and what the read computes stays unknown until then.
            let mut m = cfg.as_mapping().cloned().unwrap_or_default();
            for (name, a) in &block.attributes {
                if !a.settable() {
                    m.insert(name.clone(), Value::unknown(a.ty.clone()));
                }
            }
            return Ok(Value::object(m));
        }
        let (planned, _) = plan_call(provider, &c.addr, block, prior, &cfg).await?;
        let violations = check_new_state(&c.after, &planned)
            .into_iter()
            .filter(|v| !v.message.contains("unknown"))
            .collect::<Vec<_>>();
        if violations.is_empty() {
            return Ok(planned);
        }
        if configured_late {
            return Err(violations
                .into_iter()
                .map(|v| {
                    Diagnostic::error(
                        "brick::apply::plan_changed_after_configure",
                        "Plan changed once the provider was configured",
                        format!(
                            "The plan for {}, made again once provider \"{}\" was configured during apply, differs from the plan that was shown: {v}. Nothing was sent for {}.",
                            c.addr, c.provider, c.addr
                        ),
                    )
                    .help("Run `brick plan` again: the provider's configuration is known now, so the next plan is made with the provider configured.")
                })
                .collect());
        }
        Err(violations
            .into_iter()
            .map(|v| {
                Diagnostic::error(
                    "brick::apply::inconsistent_final_plan",
                    "Provider produced inconsistent final plan",
                    format!(
                        "When expanding the plan for {} to include new values learned so far during apply, {v}.",
                        c.addr
                    ),
                )
                .help("This is a bug in the provider; please report it.")
            })
            .collect())
    }
}

/// Whether the only unknowns of a planned value are attributes the provider alone computes
/// (an id, a uid): the configuration was then wholly known at plan time, and planning again
/// with it (same prior, same configuration, a pure `plan_resource`) gives the same value, so
/// the engine sends the plan as it is instead of evaluating the configuration again — which,
/// for a `for_each` over a large collection, costs as much as the collection for every
/// instance.
fn only_computed_unknown(after: &Value, block: &Block) -> bool {
    let Some(m) = after.as_mapping().filter(|_| after.is_known()) else {
        return false;
    };
    m.iter()
        .all(|(k, v)| v.is_wholly_known() || block.attributes.get(k).is_some_and(|a| !a.settable()))
}

/// Fills attributes the body left out with nulls of their types.
fn fill(v: Value, block: &Block) -> Value {
    let Some(m) = v.as_mapping() else { return v };
    let mut m = m.clone();
    for (name, a) in &block.attributes {
        m.entry(name.clone())
            .or_insert_with(|| Value::null(a.ty.clone()));
    }
    Value::object(m)
}

/// Checks custom conditions of the instance `c` during apply, in its instance scope (with
/// `self` when given): the error diagnostics, naming the instance. Conditions still unknown
/// are not errors.
pub(super) fn conditions_at_apply(
    conditions: &[Condition],
    c: &ResourceChange,
    rc: &ResourceConfig,
    self_value: Option<&Value>,
    values: &mut Values<'_>,
) -> Vec<Diagnostic> {
    let known = values.known();
    let base = known.scope(&c.addr.resource.module);
    let each = rc.expansion.each_value(&base, &c.addr.key).ok().flatten();
    let inst = InstanceScope {
        base: &base,
        key: &c.addr.key,
        each_value: each.as_ref(),
    };
    let mut out = Vec::new();
    for cond in conditions {
        let ds = match self_value {
            Some(v) => (cond.check)(&SelfScope {
                base: &inst,
                value: v,
            }),
            None => (cond.check)(&inst),
        };
        for mut d in ds
            .unwrap_or_default()
            .into_iter()
            .filter(Diagnostic::is_error)
        {
            let name = c.addr.to_string();
            if !d.detail.contains(&name) {
                d.detail = format!("{name}: {}", d.detail);
            }
            out.push(d);
        }
    }
    out
}
