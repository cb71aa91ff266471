//! One step's provider call, run as a tokio task: `apply_resource` (or `read_data_source`),
//! with progress reported while it runs, cut off at the step's timeout, and its answer
//! checked against the plan. The result goes back to the executor as a [`Done`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use brick_provider_api::lifecycle::{Violation, check_new_state};
use brick_provider_api::provider::{ApplyRequest, ApplyResponse, Progress};
use brick_provider_api::{Provider, Severity, Value};
use tokio::sync::mpsc;

use crate::addr::InstanceAddr;
use crate::diag::Diagnostic;
use crate::event::{Event, EventSink};
use crate::plan::model::Action;

/// A step's result, as the executor receives it.
pub(super) struct Done {
    pub step: usize,
    /// The planned value sent (with marks), to carry configuration marks into state.
    pub planned: Value,
    pub result: Result<Value, Vec<Diagnostic>>,
    /// The state to record on failure (what the provider said exists now).
    pub partial: Option<Value>,
    pub elapsed: Duration,
}

impl Done {
    /// A step settled without calling its provider: a trivial result, or the problems that
    /// kept it from starting.
    pub fn without_provider(step: usize, result: Result<Value, Vec<Diagnostic>>) -> Done {
        Done {
            step,
            planned: Value::null_dynamic(),
            result,
            partial: None,
            elapsed: Duration::ZERO,
        }
    }
}

/// Reports a provider's progress as [`Event::ApplyProgress`].
struct ProgressSink {
    addr: InstanceAddr,
    action: Action,
    destroying: bool,
    started: Instant,
    events: Arc<dyn EventSink>,
}

impl Progress for ProgressSink {
    fn report(&self, status: &str) {
        self.events.emit(Event::ApplyProgress {
            addr: self.addr.clone(),
            action: self.action,
            destroying: self.destroying,
            elapsed: self.started.elapsed(),
            status: Some(status.to_string()),
        });
    }
}

/// A provider call ready to run.
pub(super) struct Task {
    pub step: usize,
    pub addr: InstanceAddr,
    pub action: Action,
    pub destroying: bool,
    pub type_name: String,
    pub provider: Arc<dyn Provider>,
    pub prior: Value,
    pub planned: Value,
    pub planned_plain: Value,
    pub timeout: Option<Duration>,
    /// Where the resource block is, for the provider's diagnostics.
    pub spans: crate::input::ResourceSource,
    pub events: Arc<dyn EventSink>,
    pub interval: Duration,
    pub tx: mpsc::UnboundedSender<Done>,
}

impl Task {
    /// Calls the provider and sends the result.
    pub async fn run(self) {
        let started = Instant::now();
        let resp = self.call(started).await;
        let elapsed = started.elapsed();
        let done = match resp {
            None => self.timed_out(elapsed),
            Some(r) => self.answered(r, elapsed),
        };
        let _ = self.tx.send(done);
    }

    /// The provider's answer, or `None` when the timeout came first; a progress event every
    /// `interval` meanwhile.
    async fn call(&self, started: Instant) -> Option<ApplyResponse> {
        let progress = ProgressSink {
            addr: self.addr.clone(),
            action: self.action,
            destroying: self.destroying,
            started,
            events: self.events.clone(),
        };
        let call = async {
            if self.action == Action::Read {
                match self
                    .provider
                    .read_data_source(&self.type_name, &self.planned_plain)
                    .await
                {
                    Ok(v) => ApplyResponse {
                        new_state: v,
                        diagnostics: Vec::new(),
                    },
                    Err(d) => ApplyResponse {
                        new_state: Value::null_dynamic(),
                        diagnostics: d,
                    },
                }
            } else {
                self.provider
                    .apply_resource(ApplyRequest {
                        type_name: &self.type_name,
                        prior: &self.prior,
                        planned: &self.planned_plain,
                        progress: &progress,
                    })
                    .await
            }
        };
        tokio::pin!(call);
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + self.interval, self.interval);
        let deadline = self.timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            tokio::select! {
                r = &mut call => break Some(r),
                _ = ticker.tick() => {
                    self.events.emit(Event::ApplyProgress {
                        addr: self.addr.clone(),
                        action: self.action,
                        destroying: self.destroying,
                        elapsed: started.elapsed(),
                        status: None,
                    });
                }
                _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break None,
            }
        }
    }

    fn timed_out(&self, elapsed: Duration) -> Done {
        Done {
            step: self.step,
            planned: self.planned.clone(),
            result: Err(vec![Diagnostic::error(
                "brick::apply::timeout",
                "Operation timed out",
                format!(
                    "{} did not finish within {}s.",
                    self.addr,
                    self.timeout.unwrap_or_default().as_secs()
                ),
            )
            .help("Raise the limit in the resource's timeouts block, or check the object by hand.")]),
            partial: None,
            elapsed,
        }
    }

    /// The provider's answer: its errors (at the resource block or the argument they name),
    /// or the new state once it is checked against the plan.
    fn answered(&self, r: ApplyResponse, elapsed: Duration) -> Done {
        let errors = r.diagnostics.iter().any(|d| d.severity == Severity::Error);
        if errors {
            return Done {
                step: self.step,
                planned: self.planned.clone(),
                result: Err(r
                    .diagnostics
                    .into_iter()
                    .map(|d| {
                        let span = self.spans.span_of(&d.attribute);
                        let mut d = Diagnostic::from(d);
                        d.detail = format!("{}: {}", self.addr, d.detail);
                        if d.span.is_none() {
                            d.span = span;
                        }
                        d
                    })
                    .collect()),
                partial: Some(r.new_state),
                elapsed,
            };
        }
        // A destroy's result is null, whatever its type (a provider may answer an untyped
        // null).
        let mut violations = if self.destroying && r.new_state.is_null() {
            Vec::new()
        } else {
            check_new_state(&self.planned_plain, &r.new_state)
        };
        if self.destroying && !r.new_state.is_null() {
            violations.push(Violation {
                path: String::new(),
                message: "a destroy returned a non-null state".into(),
            });
        }
        if violations.is_empty() {
            return Done {
                step: self.step,
                planned: self.planned.clone(),
                result: Ok(r.new_state),
                partial: None,
                elapsed,
            };
        }
        Done {
            step: self.step,
            planned: self.planned.clone(),
            result: Err(violations
                .into_iter()
                .map(|v| {
                    Diagnostic::error(
                        "brick::apply::inconsistent_result",
                        "Provider produced inconsistent result after apply",
                        format!("When applying changes to {}, {v}.", self.addr),
                    )
                    .help("This is a bug in the provider; please report it.")
                })
                .collect()),
            partial: Some(r.new_state),
            elapsed,
        }
    }
}
