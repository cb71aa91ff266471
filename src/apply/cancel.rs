//! Interruption: the first request stops new work from starting; the second aborts what is
//! running. The CLI wires Ctrl-C to [`Cancel::interrupt`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Cancel {
    level: Arc<AtomicU8>,
    notify: Arc<Notify>,
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }
    /// One more interruption; returns how many there have been.
    pub fn interrupt(&self) -> u8 {
        let n = self.level.fetch_add(1, Ordering::SeqCst) + 1;
        self.notify.notify_waiters();
        n
    }
    /// Stops starting new work (like a first Ctrl-C), e.g. after a state write failed.
    pub fn stop(&self) {
        let _ = self
            .level
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst);
    }
    pub fn stopping(&self) -> bool {
        self.level.load(Ordering::SeqCst) >= 1
    }
    /// Resolves once running work must be aborted (the second interruption).
    pub async fn aborted(&self) {
        loop {
            let n = self.notify.notified();
            if self.level.load(Ordering::SeqCst) >= 2 {
                return;
            }
            n.await;
        }
    }
}
