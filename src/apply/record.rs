//! Recording what a step did through the [`StateSink`](super::StateSink): the new state (with
//! the configuration's and the schema's sensitive marks) or its removal, create-time
//! provisioners and `postcondition` blocks after it, and on failure whatever the provider
//! says exists now, so that nothing is lost track of.

use std::time::Duration;

use brick_provider_api::Value;
use brick_provider_api::schema::Block;

use super::steps::StepKind;
use super::task::Done;
use super::{Executor, provisioner, recorded_of, state_error};
use crate::diag::Diagnostic;
use crate::event::Event;
use crate::input::ResourceConfig;
use crate::plan::marks::{copy_marks, mark_sensitive, propagate_sensitive};
use crate::plan::model::{Action, ResourceChange};

impl<'a> Executor<'a> {
    /// A step that needs no provider call (a no-op or a forget): what it records, and its
    /// result.
    pub(super) fn record_untouched(
        &mut self,
        c: &ResourceChange,
        kind: StepKind,
    ) -> Result<Value, Vec<Diagnostic>> {
        if kind == StepKind::Forget {
            if let Err(e) = self.sink.record(&c.addr, None) {
                self.out.diagnostics.push(state_error(e));
            }
            return Ok(Value::null_dynamic());
        }
        // Record a refreshed value that differs from the recorded one, or dependencies that
        // changed (as Terraform rewrites a no-op's list).
        let prior_inst = self.prior.instances.get(&c.addr);
        let recorded = prior_inst.map(|i| &i.value);
        let deps_changed = prior_inst
            .is_some_and(|i| !crate::plan::model::same_dependencies(&i.depends_on, &c.depends_on));
        if recorded != Some(&c.after) || c.previous_addr.is_some() || deps_changed {
            if let Some(prev) = &c.previous_addr {
                let _ = self.sink.record(prev, None);
            }
            if let Err(e) = self
                .sink
                .record(&c.addr, Some(recorded_of(c, c.after.clone(), false)))
            {
                self.out.diagnostics.push(state_error(e));
            }
        }
        Ok(c.after.clone())
    }

    /// A step's result arrived: recorded, and what waits for it released (or skipped, when
    /// it failed).
    pub(super) async fn finished(&mut self, done: Done) {
        let Done {
            step: si,
            planned,
            result,
            partial,
            elapsed,
        } = done;
        let plan = self.plan;
        let c = &plan.changes[self.queue.steps[si].change];
        self.queue.received(si, &c.provider);
        let failed = match result {
            Ok(new_state) => self.succeeded(si, &planned, new_state, elapsed).await,
            Err(ds) => {
                self.failed(si, ds, partial, elapsed);
                true
            }
        };
        self.queue.release(si, c, elapsed, failed);
    }

    /// The resource schema of `c`'s type, for a resource still configured.
    fn block_of(&self, c: &ResourceChange, rc: Option<&ResourceConfig>) -> Block {
        rc.and_then(|_| {
            self.providers
                .resource_schema(&c.provider, &c.addr.resource)
                .ok()
        })
        .map(|s| s.block.clone())
        .unwrap_or_default()
    }

    /// Step `si` succeeded with `new_state`: recorded, counted and announced, its
    /// create-time provisioners run and its postconditions checked. Whether it failed after
    /// all (a provisioner or a postcondition).
    async fn succeeded(
        &mut self,
        si: usize,
        planned: &Value,
        new_state: Value,
        elapsed: Duration,
    ) -> bool {
        let plan = self.plan;
        let kind = self.queue.steps[si].kind;
        let c = &plan.changes[self.queue.steps[si].change];
        let rc = self.resource_of(c);
        let block = self.block_of(c, rc);
        let trivial = kind == StepKind::Forget || c.action == Action::NoOp;
        if trivial {
            return self.postconditions(c, kind, rc, &new_state);
        }
        if let Err(e) = self.record_new_state(c, kind, planned, &new_state, &block) {
            self.out.diagnostics.push(state_error(e));
            self.cancel.stop();
        }
        let provision_failed = self.provision_created(c, kind, rc, &new_state).await;
        match (kind, c.action) {
            (StepKind::Apply, Action::Create) => self.out.added += 1,
            (StepKind::Apply, Action::Update) => self.out.changed += 1,
            (StepKind::Apply, a) if a.is_replace() => self.out.added += 1,
            (StepKind::Destroy | StepKind::DestroyDeposed, _) => self.out.destroyed += 1,
            _ => {}
        }
        let destroying = kind != StepKind::Apply && kind != StepKind::Forget;
        if provision_failed {
            self.events.emit(Event::ApplyFailed {
                addr: c.addr.clone(),
                action: c.action,
                destroying,
                elapsed,
            });
            return true;
        }
        self.events.emit(Event::ApplyDone {
            addr: c.addr.clone(),
            action: c.action,
            destroying,
            elapsed,
            id: new_state
                .get("id")
                // A sensitive id is never printed (as Terraform's UI).
                .filter(|v| !v.is_sensitive() && !new_state.is_sensitive())
                .and_then(Value::as_str)
                .map(String::from),
        });
        self.postconditions(c, kind, rc, &new_state)
    }

    /// Records the new state of a step that called its provider (`planned` as sent).
    fn record_new_state(
        &mut self,
        c: &ResourceChange,
        kind: StepKind,
        planned: &Value,
        new_state: &Value,
        block: &Block,
    ) -> Result<(), String> {
        match kind {
            StepKind::Apply => {
                let v = propagate_sensitive(
                    planned,
                    copy_marks(planned, mark_sensitive(new_state, block)),
                );
                self.values.set(&c.addr, v.clone());
                if let Some(prev) = &c.previous_addr {
                    let _ = self.sink.record(prev, None);
                }
                // The provider returned an infinity state cannot hold: record the object
                // (with null there) so it stays tracked, and say so.
                let (v, found) = crate::plan::codec::without_infinities(&v);
                if !found.is_empty() {
                    let mut d = crate::plan::codec::infinite_number(&c.addr.to_string(), &found);
                    d.code = "brick::apply::infinite_number".into();
                    d.detail
                        .push_str(" The object was recorded with null in its place.");
                    self.out.diagnostics.push(d);
                }
                self.sink.record(&c.addr, Some(recorded_of(c, v, false)))
            }
            StepKind::Destroy => {
                if c.action == Action::Delete {
                    self.values.remove(&c.addr);
                    if let Some(prev) = &c.previous_addr {
                        let _ = self.sink.record(prev, None);
                    }
                }
                self.sink.record(&c.addr, None)
            }
            StepKind::DestroyDeposed => self.sink.record_deposed(&c.addr, None),
            StepKind::Forget => Ok(()),
        }
    }

    /// Create-time `local-exec` provisioners, with `self` the new object: a failure (without
    /// `on_failure = continue`) taints it, as Terraform does. Whether one failed.
    async fn provision_created(
        &mut self,
        c: &ResourceChange,
        kind: StepKind,
        rc: Option<&ResourceConfig>,
        new_state: &Value,
    ) -> bool {
        let Some(rc) = rc.filter(|rc| {
            kind == StepKind::Apply
                && c.action.creates()
                && rc.lifecycle.provisioners.iter().any(|p| !p.when_destroy)
        }) else {
            return false;
        };
        let new = self.new_value(c, new_state);
        let (errors, warnings) = provisioner::provision(
            false,
            rc,
            c,
            &new,
            &mut self.values,
            &self.events,
            self.cancel,
        )
        .await;
        self.out.diagnostics.extend(warnings);
        if errors.is_empty() {
            return false;
        }
        let (v, _) = crate::plan::codec::without_infinities(&new);
        if let Err(e) = self.sink.record(&c.addr, Some(recorded_of(c, v, true))) {
            self.out.diagnostics.push(state_error(e));
        }
        self.out.diagnostics.extend(errors);
        true
    }

    /// The new object as what follows sees it: the value the executor holds for `c` (marks
    /// kept), else `new_state`.
    fn new_value(&self, c: &ResourceChange, new_state: &Value) -> Value {
        self.values
            .get(&c.addr)
            .cloned()
            .unwrap_or_else(|| new_state.clone())
    }

    /// `postcondition` blocks, with `self` the new object: a failure leaves the object
    /// recorded but fails the run and skips what depends on it. Whether one failed.
    fn postconditions(
        &mut self,
        c: &ResourceChange,
        kind: StepKind,
        rc: Option<&ResourceConfig>,
        new_state: &Value,
    ) -> bool {
        let Some(rc) =
            rc.filter(|rc| kind == StepKind::Apply && !rc.lifecycle.postconditions.is_empty())
        else {
            return false;
        };
        let new = self.new_value(c, new_state);
        let failed = super::prepare::conditions_at_apply(
            &rc.lifecycle.postconditions,
            c,
            rc,
            Some(&new),
            &mut self.values,
        );
        let any = !failed.is_empty();
        self.out.diagnostics.extend(failed);
        any
    }

    /// Step `si` failed with `ds`: announced, its errors reported, and what exists now
    /// (`partial`, as the provider said) recorded.
    fn failed(
        &mut self,
        si: usize,
        ds: Vec<Diagnostic>,
        partial: Option<Value>,
        elapsed: Duration,
    ) {
        let plan = self.plan;
        let kind = self.queue.steps[si].kind;
        let c = &plan.changes[self.queue.steps[si].change];
        self.events.emit(Event::ApplyFailed {
            addr: c.addr.clone(),
            action: c.action,
            destroying: kind != StepKind::Apply && kind != StepKind::Forget,
            elapsed,
        });
        self.out.diagnostics.extend(ds);
        // Record what exists now, so that nothing is lost track of.
        let Some(partial) = partial else {
            return;
        };
        let r = if partial.is_null() {
            if kind == StepKind::DestroyDeposed {
                self.sink.record_deposed(&c.addr, None)
            } else {
                self.sink.record(&c.addr, None)
            }
        } else {
            let v = mark_sensitive(&partial, &self.block_of(c, self.resource_of(c)));
            let tainted = kind == StepKind::Apply && c.action.creates();
            if kind == StepKind::DestroyDeposed {
                self.sink
                    .record_deposed(&c.addr, Some(recorded_of(c, v, false)))
            } else {
                self.sink.record(&c.addr, Some(recorded_of(c, v, tainted)))
            }
        };
        if let Err(e) = r {
            self.out.diagnostics.push(state_error(e));
        }
    }
}
