//! What the engine reports while it works: the engine owns these [`Event`]s and the
//! [`EventSink`] they go to (as OpenTofu's core owns its Hook interface). The planner and the
//! executor emit them; views (text, live terminal, JSON lines) implement the sink and render
//! them. The engine never prints.

use std::time::Duration;

use crate::diag::Diagnostic;

use crate::action::Action;
use crate::addr::InstanceAddr;

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Refresh of one instance started (`Refreshing state... [id=…]`).
    RefreshStart {
        addr: InstanceAddr,
        id: Option<String>,
    },
    /// An apply step started.
    ApplyStart {
        addr: InstanceAddr,
        action: Action,
        /// For a destroy half of a replacement, which half this is.
        destroying: bool,
        id: Option<String>,
    },
    /// A running step, reported periodically ("Still creating... [10s elapsed]").
    ApplyProgress {
        addr: InstanceAddr,
        action: Action,
        destroying: bool,
        elapsed: Duration,
        status: Option<String>,
    },
    ApplyDone {
        addr: InstanceAddr,
        action: Action,
        destroying: bool,
        elapsed: Duration,
        id: Option<String>,
    },
    ApplyFailed {
        addr: InstanceAddr,
        action: Action,
        destroying: bool,
        elapsed: Duration,
    },
    /// A running step abandoned by the second Ctrl-C; what it did is settled by the next run.
    Cancelled {
        addr: InstanceAddr,
        action: Action,
        destroying: bool,
        elapsed: Duration,
    },
    /// A step not started because something it depends on failed.
    Skipped {
        addr: InstanceAddr,
        because: InstanceAddr,
    },
    /// A line of a provisioner's output (or its `Executing: …` line).
    ProvisionerOutput {
        addr: InstanceAddr,
        provisioner: String,
        line: String,
    },
    /// A problem; the views render warnings and errors.
    Diagnostic(Diagnostic),
    /// The first Ctrl-C: no new work starts.
    Interrupted,
    /// A provider whose configuration was known only during apply was configured (what it
    /// reads having been applied); its changes follow.
    ProviderConfigured { name: String },
    /// Where a plan's or an apply's time went: waiting on each system, or brick's own (see
    /// [`crate::timing`]). Emitted once, at the end; the live and line views show nothing for
    /// it, `brick lab demo` renders it as a table.
    Timing(crate::timing::TimeReport),
}

/// Receives events. Implementations must be cheap: the executor calls this inline.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

/// Drops every event.
pub struct NoEvents;
impl EventSink for NoEvents {
    fn emit(&self, _event: Event) {}
}

/// Collects events in memory, for tests.
#[derive(Default)]
pub struct CollectEvents(pub std::sync::Mutex<Vec<Event>>);
impl EventSink for CollectEvents {
    fn emit(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

/// Sends every event to two sinks: a command's view and an observer (`brick lab demo` keeps
/// the timing reports of the commands it runs).
pub struct Tee<A: ?Sized, B: ?Sized>(pub Box<A>, pub std::sync::Arc<B>);
impl<A: EventSink + ?Sized, B: EventSink + ?Sized> EventSink for Tee<A, B> {
    fn emit(&self, event: Event) {
        self.1.emit(event.clone());
        self.0.emit(event);
    }
}
