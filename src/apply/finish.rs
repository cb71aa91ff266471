//! The end of an apply: outputs evaluated with the final values (and the `validation` and
//! output `precondition` blocks that waited for them), what a refresh-only or destroy plan
//! records, the sink finished, and the outcome with the run's timing.

use brick_provider_api::Value;
use brick_provider_api::schema::Block;

use super::values::Known;
use super::{ApplyOutcome, Executor, Recorded, StateSink, state_error};
use crate::diag::Diagnostic;
use crate::event::Event;
use crate::input::Configuration;
use crate::plan::model::{Action, Plan, PlanMode};

impl<'a> Executor<'a> {
    /// Records what is left to record, finishes the sink and returns the outcome.
    pub(super) fn finish(mut self) -> ApplyOutcome {
        let plan = self.plan;
        // Outputs, evaluated with the final values (only when everything they need was
        // applied).
        if plan.mode == PlanMode::Normal && !self.out.interrupted {
            let values = self.values.walk(&self.values.instances);
            let known = Known {
                values: &values,
                instances: &self.values.instances,
                shapes: &self.values.shapes,
            };
            check_late_validations(self.config, &known, &mut self.out.diagnostics);
            check_module_output_preconditions(self.config, &known, &mut self.out.diagnostics);
            record_root_outputs(self.config, plan, &known, &mut *self.sink, &mut self.out);
        }
        for oc in &plan.outputs {
            if oc.action == Action::Delete
                && let Err(e) = self.sink.record_output(&oc.name, None)
            {
                self.out.diagnostics.push(state_error(e));
            }
        }
        if plan.mode == PlanMode::RefreshOnly {
            self.record_refreshed();
        } else if plan.mode == PlanMode::Destroy {
            for name in self.prior.outputs.keys() {
                let _ = self.sink.record_output(name, None);
            }
        }
        if let Err(e) = self.sink.finish() {
            self.out.diagnostics.push(state_error(e));
        }
        if self.out.interrupted {
            self.out.diagnostics.push(
                Diagnostic::error(
                    "brick::apply::interrupted",
                    "Apply interrupted",
                    "The apply was interrupted; the operations that finished were recorded in state.",
                )
                .help("Run `brick plan` to see what remains to be done."),
            );
        }
        let mut op_times = std::mem::take(&mut self.queue.op_times);
        op_times.critical_path = Some(self.queue.longest);
        self.events
            .emit(Event::Timing(self.providers.clock().report(
                crate::timing::Phase::Apply,
                self.started,
                &op_times,
            )));
        self.out
    }

    /// A refresh-only plan: the root outputs the plan found from the refreshed objects,
    /// recorded as planned, and the refreshed objects.
    fn record_refreshed(&mut self) {
        let plan = self.plan;
        for oc in &plan.outputs {
            if matches!(oc.action, Action::Create | Action::Update) {
                if let Err(e) = self
                    .sink
                    .record_output(&oc.name, Some((oc.after.clone(), oc.sensitive)))
                {
                    self.out.diagnostics.push(state_error(e));
                }
                self.out
                    .outputs
                    .insert(oc.name.clone(), (oc.after.clone(), oc.sensitive));
            }
        }
        for d in &plan.drift {
            let r = if d.after.is_null() {
                self.sink.record(&d.addr, None)
            } else {
                let mut rec = self
                    .prior
                    .instances
                    .get(&d.addr)
                    .map(|i| Recorded {
                        provider: i.provider.clone(),
                        value: d.after.clone(),
                        depends_on: i.depends_on.clone(),
                        schema_version: i.schema_version,
                        tainted: i.tainted,
                        create_before_destroy: i.create_before_destroy,
                    })
                    .unwrap_or_else(|| Recorded {
                        provider: d.provider.clone(),
                        value: d.after.clone(),
                        depends_on: Vec::new(),
                        schema_version: 0,
                        tainted: false,
                        create_before_destroy: false,
                    });
                rec.value = d.after.clone();
                self.sink.record(&d.addr, Some(rec))
            };
            if let Err(e) = r {
                self.out.diagnostics.push(state_error(e));
            }
        }
    }
}

/// `validation` blocks whose condition was unknown at plan time, now that what they read is
/// known (one known at plan time gives the same answer again: no error).
fn check_late_validations(
    config: &Configuration,
    known: &Known,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for v in &config.validations {
        for m in known.values.instances_of(&v.module) {
            if let Some(ds) = (v.check)(&known.scope(&m)) {
                // Reported already when a resource waited for it.
                for d in ds {
                    if !diagnostics
                        .iter()
                        .any(|x| x.code == d.code && x.detail == d.detail && x.span == d.span)
                    {
                        diagnostics.push(d);
                    }
                }
            }
        }
    }
}

/// Child modules' output `precondition` blocks, now that what they read is known.
fn check_module_output_preconditions(
    config: &Configuration,
    known: &Known,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for o in config
        .outputs
        .iter()
        .filter(|o| !o.module.is_empty() && !o.preconditions.is_empty())
    {
        for m in known.values.instances_of(&o.module) {
            let mut ds = Vec::new();
            crate::plan::scope::check_output_preconditions(o, &known.scope(&m), &m, &mut ds);
            diagnostics.extend(ds.into_iter().filter(Diagnostic::is_error));
        }
    }
}

/// The root outputs the plan keeps, evaluated and recorded (`precondition` blocks unknown at
/// plan time decided first).
fn record_root_outputs(
    config: &Configuration,
    plan: &Plan,
    known: &Known,
    sink: &mut dyn StateSink,
    out: &mut ApplyOutcome,
) {
    let scope = known.scope("");
    let planned: std::collections::HashSet<&str> = plan
        .outputs
        .iter()
        .filter(|o| o.action != Action::Delete)
        .map(|o| o.name.as_str())
        .collect();
    for o in config
        .outputs
        .iter()
        .filter(|o| o.module.is_empty() && planned.contains(o.name.as_str()))
    {
        // `precondition` blocks unknown at plan time: a failing one leaves the output
        // unrecorded and fails the run.
        let mut pre = Vec::new();
        if crate::plan::scope::check_output_preconditions(o, &scope, "", &mut pre) {
            out.diagnostics
                .extend(pre.into_iter().filter(Diagnostic::is_error));
            continue;
        }
        let eval = o.at_apply.as_ref().unwrap_or(&o.expr);
        match eval(&scope, &Block::default()) {
            Ok(v) if !crate::plan::codec::infinity_paths(&v).is_empty() => {
                let mut d = crate::plan::codec::infinite_number(
                    &format!("output.{}", o.name),
                    &crate::plan::codec::infinity_paths(&v),
                );
                d.code = "brick::apply::infinite_number".into();
                out.diagnostics.push(d);
            }
            Ok(v) if v.is_wholly_known() => {
                let became_sensitive = !o.sensitive && v.contains_sensitive();
                if became_sensitive {
                    out.diagnostics.push(Diagnostic::warning(
                        "brick::apply::output_became_sensitive",
                        "Output recorded as sensitive",
                        format!(
                            "The value of output \"{}\" holds values that became sensitive only during apply (an attribute that repeats a sensitive input, or one its provider hides), so it was recorded as sensitive although the output is not declared so.",
                            o.name
                        ),
                    ).help("Add `sensitive = true` to the output block to say so, or output only values that are not secret."));
                }
                let sensitive = o.sensitive || became_sensitive;
                let v: Value = if sensitive { v.sensitive() } else { v };
                if let Err(e) = sink.record_output(&o.name, Some((v.clone(), sensitive))) {
                    out.diagnostics.push(state_error(e));
                }
                out.outputs.insert(o.name.clone(), (v, sensitive));
            }
            Ok(_) => {}
            Err(ds) => out.diagnostics.extend(ds),
        }
    }
}
