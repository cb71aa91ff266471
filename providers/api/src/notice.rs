//! Notices a provider gives while it works outside any one resource's progress — an endpoint
//! that does not answer yet ("still trying http://…: connection refused, attempt 3") during
//! configure or a refresh. The engine installs where they go ([`set_sink`], once per process);
//! without a sink they are dropped.

use std::sync::{Arc, RwLock};

/// Receives `(provider name, message)`.
pub type Sink = Arc<dyn Fn(&str, &str) + Send + Sync>;

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Sends the notices of every provider to `sink` from now on.
pub fn set_sink(sink: Sink) {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
}

/// Tells the user something about `provider`'s work in progress.
pub fn notice(provider: &str, message: &str) {
    let sink = SINK.read().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(sink) = sink {
        sink(provider, message);
    }
}
