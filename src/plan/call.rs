//! The provider calls of planning, with their answers checked against the contract:
//! `plan_resource` ([`plan_call`]), an import ([`import_one`]) and a provider's check of the
//! plan as a whole ([`plan_check`]). Shared by the planner and the executor, which plans a
//! change again during apply once the values it waited for are known.

// Diagnostics are rich data (spans, help); returning them by value is deliberate.
#![allow(clippy::result_large_err)]

use std::borrow::Cow;

use brick_provider_api::lifecycle::{check_planned, proposed_new_state};
use brick_provider_api::provider::{AttrPath, ChangeAction, PlanRequest, PlannedChange};
use brick_provider_api::schema::Block;
use brick_provider_api::{Severity, Value};

use super::marks::mark_sensitive;
use super::model::{Action, ResourceChange};
use crate::addr::{InstanceAddr, ResourceAddr};
use crate::diag::Diagnostic;

/// `d` with the instance address in front of its detail (once).
pub(crate) fn diag_at(d: impl Into<Diagnostic>, addr: &dyn std::fmt::Display) -> Diagnostic {
    let mut d: Diagnostic = d.into();
    if !d.detail.contains(&addr.to_string()) {
        d.detail = format!("{addr}: {}", d.detail);
    }
    d
}

/// Calls `plan_resource` and checks the answer against the contract.
pub async fn plan_call(
    provider: &dyn brick_provider_api::Provider,
    addr: &InstanceAddr,
    block: &Block,
    prior: &Value,
    config: &Value,
) -> Result<(Value, Vec<AttrPath>), Vec<Diagnostic>> {
    // Providers see plain values; most priors carry no mark, and are not copied.
    let plain_prior = if prior.contains_any_mark() {
        Cow::Owned(prior.unmark_deep().0)
    } else {
        Cow::Borrowed(prior)
    };
    let proposed = proposed_new_state(block, &plain_prior, config);
    let resp = provider
        .plan_resource(PlanRequest {
            type_name: &addr.resource.type_name,
            prior: &plain_prior,
            proposed: &proposed,
        })
        .await;
    let mut errs: Vec<Diagnostic> = Vec::new();
    for d in resp.diagnostics {
        errs.push(diag_at(d, addr));
    }
    for v in check_planned(block, prior, config, &resp.planned) {
        errs.push(
            Diagnostic::error(
                "brick::plan::invalid_plan",
                "Provider produced invalid plan",
                format!("The provider's plan for {addr} is invalid: {v}."),
            )
            .help("This is a bug in the provider; please report it."),
        );
    }
    if errs.iter().any(|d| d.severity == Severity::Error) {
        return Err(errs);
    }
    Ok((resp.planned, resp.requires_replace))
}

pub async fn import_one(
    provider: &dyn brick_provider_api::Provider,
    addr: &InstanceAddr,
    id: &str,
    block: &Block,
) -> Result<Value, Diagnostic> {
    let found = provider
        .import_resource(&addr.resource.type_name, id)
        .await
        .map_err(|ds| {
            ds.into_iter()
                .next()
                .map(|d| diag_at(d, addr))
                .unwrap_or_else(|| {
                    Diagnostic::error(
                        "brick::plan::import_failed",
                        "Import failed",
                        format!("Importing {addr} failed."),
                    )
                })
        })?;
    let Some(obj) = found
        .into_iter()
        .find(|f| f.type_name == addr.resource.type_name)
    else {
        return Err(Diagnostic::error(
            "brick::plan::import_empty",
            "Import returned no object",
            format!(
                "Importing {id:?} as {addr} found no object of type {}.",
                addr.resource.type_name
            ),
        ));
    };
    let read = provider
        .read_resource(brick_provider_api::provider::ReadRequest {
            type_name: &addr.resource.type_name,
            current: &obj.state,
        })
        .await
        .map_err(|ds| {
            ds.into_iter()
                .next()
                .map(Diagnostic::from)
                .unwrap_or_else(|| {
                    Diagnostic::error(
                        "brick::plan::import_failed",
                        "Import failed",
                        format!("Reading {addr} failed."),
                    )
                })
        })?;
    match read {
        Some(v) => Ok(mark_sensitive(&v, block)),
        None => Err(Diagnostic::error(
            "brick::plan::import_missing",
            "Cannot import non-existent remote object",
            format!(
                "While attempting to import {id:?} as {addr}, the provider found no such object."
            ),
        )
        .help("Check the id and that the object exists.")),
    }
}

/// One provider's plan check ([`brick_provider_api::Provider::check_plan`]) over `changes`
/// (a plan's, in its order; forgotten instances left out): its findings as diagnostics, each
/// prefixed with the instance address and placed at the resource block or the argument it
/// names (`source_of` gives a configuration resource's source). An index outside the slice
/// is reported as a provider bug. The planner runs it for every provider configured at plan
/// time; the executor for a provider configured during apply, before its first change.
pub async fn plan_check<'s>(
    name: &str,
    provider: &dyn brick_provider_api::Provider,
    changes: &[ResourceChange],
    source_of: impl Fn(&ResourceAddr) -> Option<&'s crate::input::ResourceSource>,
) -> Vec<Diagnostic> {
    let seen: Vec<(String, &ResourceChange)> = changes
        .iter()
        .filter(|c| c.action != Action::Forget)
        .map(|c| (c.addr.to_string(), c))
        .collect();
    // Providers see values without marks: a copy only of the values that carry some (a
    // copy of every object at the end of planning was the plan's peak of memory).
    let values: Vec<(Cow<'_, Value>, Cow<'_, Value>)> = seen
        .iter()
        .map(|(_, c)| (without_marks(&c.before), without_marks(&c.after)))
        .collect();
    let planned: Vec<PlannedChange<'_>> = seen
        .iter()
        .zip(&values)
        .map(|((address, c), (prior, planned))| PlannedChange {
            address,
            type_name: &c.addr.resource.type_name,
            action: match c.action {
                Action::NoOp | Action::Forget => ChangeAction::NoOp,
                Action::Create => ChangeAction::Create,
                Action::Read => ChangeAction::Read,
                Action::Update => ChangeAction::Update,
                Action::DeleteThenCreate | Action::CreateThenDelete => ChangeAction::Replace,
                Action::Delete => ChangeAction::Delete,
            },
            prior: prior.as_ref(),
            planned: planned.as_ref(),
        })
        .collect();
    let mut found = Vec::new();
    for cd in provider.check_plan(&planned).await {
        let Some((address, c)) = seen.get(cd.change) else {
            found.push(
                Diagnostic::error(
                    "brick::plan::invalid_plan_check",
                    "Provider produced an invalid plan check",
                    format!(
                        "The provider {name} reported a problem with change {} of a plan that has {}: {}",
                        cd.change,
                        planned.len(),
                        Diagnostic::from(cd.diagnostic).detail
                    ),
                )
                .help("This is a bug in the provider; please report it."),
            );
            continue;
        };
        let span = source_of(&c.addr.resource.config_addr())
            .and_then(|source| source.span_of(&cd.diagnostic.attribute));
        found.push(diag_at(cd.diagnostic, address).at_opt(span));
    }
    found
}

/// `v` with every mark removed: borrowed when it carries none, at any depth.
fn without_marks(v: &Value) -> Cow<'_, Value> {
    fn marked(v: &Value) -> bool {
        !v.marks.is_empty() || v.children().any(marked)
    }
    if marked(v) {
        Cow::Owned(v.unmark_deep().0)
    } else {
        Cow::Borrowed(v)
    }
}
